"""SimulationCalibratedRegressor: a learned PDE solution debiased by simulation."""

import numbers
import warnings
from functools import partial

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.kernel_ridge import KernelRidge
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted, validate_data

from ._derivatives import (
    _check_derivative_method,
    _predict_checked,
    randomized_laplacian,
    resolve_derivative_method,
    surrogate_derivatives,
)
from ._domains import Ball
from ._equations import PoissonEquation, SemilinearParabolicPDE
from ._picard import multilevel_picard
from ._walk_on_spheres import walk_on_spheres

__all__ = ["SimulationCalibratedRegressor"]

_METHODS = ("auto", "walk_on_spheres", "feynman_kac", "mlp")
_DEFAULT_PATHS = {"walk_on_spheres": 1000, "feynman_kac": 1000, "mlp": 10}
# Random samples (walks or terminal paths) simulated per chunk of query points.
_SAMPLES_PER_CHUNK = 1 << 15


def _resolve_method(pde, method):
    if isinstance(pde, PoissonEquation):
        if method not in ("auto", "walk_on_spheres"):
            raise ValueError(
                f"method={method!r} does not apply to a PoissonEquation; use "
                "'walk_on_spheres' (or 'auto')"
            )
        return "walk_on_spheres"
    if isinstance(pde, SemilinearParabolicPDE):
        if method == "walk_on_spheres":
            raise ValueError(
                "walk_on_spheres solves a PoissonEquation; for a "
                "SemilinearParabolicPDE use 'mlp' or 'feynman_kac'"
            )
        if method == "feynman_kac" and pde.nonlinearity is not None:
            raise ValueError(
                "method='feynman_kac' is exact only for a linear PDE "
                "(nonlinearity=None); use method='mlp'"
            )
        if method == "auto":
            return "feynman_kac" if pde.nonlinearity is None else "mlp"
        return method
    raise ValueError(
        "pde must be a PoissonEquation, a SemilinearParabolicPDE or None, got "
        f"{type(pde).__name__}"
    )


def _walk_chunk(estimator, pde, X, derivatives, n_paths, epsilon, seed):
    domain = pde.domain
    all_columns = np.arange(X.shape[1])

    def boundary(Y):
        return pde.evaluate_boundary(Y) - _predict_checked(estimator, Y)

    rng = np.random.default_rng(seed)  # walks and Laplacian probes share it

    def source(Y):
        if derivatives == "randomized":
            _, lap = randomized_laplacian(
                lambda Z: _predict_checked(estimator, Z), Y, rng
            )
            if not np.all(np.isfinite(lap)):
                raise ValueError(
                    "the surrogate's Laplacian is not finite at some points"
                )
        else:
            _, _, lap = surrogate_derivatives(estimator, Y, all_columns, derivatives)
        return pde.evaluate_source(Y) - lap

    scale = (
        domain.radius
        if isinstance(domain, Ball)
        else np.min(domain.high - domain.low) / 2.0
    )
    return walk_on_spheres(X, domain, boundary, source, n_paths, epsilon * scale, rng)


def _picard_chunk(estimator, pde, X, derivatives, n_paths, levels, seed):
    d = X.shape[1] - 1
    if derivatives == "randomized":  # the full gradient gives the Laplacian too
        derivatives = "finite_difference"
    drift, sigma, T = pde.drift_vector(d), pde.sigma, pde.T
    space_columns = np.arange(1, d + 1)

    def terminal(x):
        rows = np.column_stack([np.full(len(x), T), x])
        return pde.evaluate_terminal(x) - _predict_checked(estimator, rows)

    def generator(t, x):
        rows = np.column_stack([t, x])
        value, grad, lap = surrogate_derivatives(
            estimator, rows, space_columns, derivatives
        )
        z_hat = sigma * grad[:, 1:]
        base = pde.evaluate_nonlinearity(t, x, value, z_hat)
        residual = grad[:, 0] + grad[:, 1:] @ drift + 0.5 * sigma**2 * lap + base
        if pde.nonlinearity is None:
            return lambda u, z: residual
        return lambda u, z: (
            pde.evaluate_nonlinearity(t, x, value + u, z_hat + z) - base + residual
        )

    u, _, stderr = multilevel_picard(
        X[:, 0],
        X[:, 1:],
        drift=drift,
        sigma=sigma,
        T=T,
        terminal=terminal,
        generator=generator,
        levels=levels,
        n_paths=n_paths,
        seed=seed,
    )
    return u, stderr


class SimulationCalibratedRegressor(RegressorMixin, BaseEstimator):
    """Debias a learned PDE solution point by point with Monte Carlo simulation.

    SCaSML (simulation-calibrated scientific machine learning): the error
    ``ŭ = u - û`` of a surrogate ``û`` of the solution ``u`` solves a PDE of the
    same kind, the *defect equation*, whose source is the surrogate's PDE
    residual. ``predict`` returns ``û(x)`` plus a Monte Carlo estimate of
    ``ŭ(x)``: walk-on-spheres for a :class:`PoissonEquation` and Feynman-Kac
    for a linear :class:`SemilinearParabolicPDE` (both unbiased up to the
    ``epsilon``-shell), full-history multilevel Picard for a semilinear one
    (consistent; its bias falls quickly with ``levels``). The Monte Carlo
    error is proportional to the size of the defect, so the result is more
    accurate than either the surrogate or the plain simulation.

    Parameters
    ----------
    estimator : regressor or None, default=None
        The surrogate, fitted on ``(x, u)`` data in :meth:`fit` (a clone is
        fitted). Pass a prefit surrogate wrapped in
        :class:`sklearn.frozen.FrozenEstimator` to skip refitting. ``None`` means
        ``KernelRidge(kernel="rbf", alpha=1e-3)`` (smooth and cheap on small data;
        a tuned network or kernel model is usually better). It should be
        smooth: trees and nearest neighbours (zero derivatives) trigger a
        warning.
    pde : PoissonEquation, SemilinearParabolicPDE or None, default=None
        The equation ``u`` solves. Inputs are points ``x`` (Poisson) or rows
        ``(t, x_1, ..., x_d)`` (parabolic). ``None`` leaves nothing to simulate:
        predictions are the surrogate's, with a warning.
    method : {"auto", "walk_on_spheres", "feynman_kac", "mlp"}, default="auto"
        Simulator of the defect equation. ``"auto"``: walk-on-spheres for a
        Poisson problem, Feynman-Kac for a parabolic one without nonlinearity,
        multilevel Picard otherwise.
    n_paths : int or None, default=None
        Walks per point (walk-on-spheres), paths per point (Feynman-Kac), or
        samples per level ``M`` (multilevel Picard, which uses ``M^levels``
        terminal paths). ``None``: 1000, 1000 and 10 respectively.
    levels : int, default=2
        Picard level ``n`` of multilevel Picard (the SCaSML paper uses 2);
        ignored by the other methods.
    derivatives : {"auto", "autograd", "finite_difference", "randomized"}, \
            default="auto"
        How the surrogate's derivatives are computed: autograd for torch-backed
        surrogates (see :func:`sklearn_debias.neural.supports_autograd`),
        central finite differences otherwise (``2p + 1`` evaluations per
        point). ``"randomized"``: for a Poisson problem, an unbiased one-probe
        (Rademacher) estimate of the Laplacian from three evaluations per
        point, for high dimension; a parabolic problem needs the full gradient,
        so it falls back to finite differences.
    epsilon : float, default=1e-4
        Width of walk-on-spheres' stopping shell relative to the domain's size
        (radius of a ball, half the shortest side of a box); bias ``O(epsilon)``.
    clip : float or None, default=None
        If set, corrections are clipped to ``[-clip, clip]`` (a safeguard that
        makes the estimate biased; off by default).
    n_jobs : int or None, default=None
        Chunks of query points simulated in parallel through joblib (threads by
        default, since the work is in numpy and the surrogate's ``predict``;
        choose another backend with ``joblib.parallel_config``). Results do not
        depend on ``n_jobs``.
    random_state : int, RandomState instance or None, default=None
        Seeds the simulation; with an int, repeated
        calls to :meth:`predict` return the same values. Every chunk and every
        recursive call draws from its own spawned ``numpy.random.SeedSequence``.

    Attributes
    ----------
    estimator_ : regressor
        The fitted surrogate.
    method_ : str or None
        The simulator used (None when ``pde`` is None).
    n_features_in_ : int
        Number of input columns seen in :meth:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names seen in :meth:`fit`, when ``X`` had string column names.

    See Also
    --------
    PoissonEquation, SemilinearParabolicPDE : The equations.
    sklearn_debias.neural.make_mlp_regressor : A smooth skorch surrogate whose
        derivatives are exact (autograd).

    Notes
    -----
    Defect equation (parabolic case): with the residual
    ``ε = ∂_t û + μ·∇û + (σ²/2)Δû + F(û, σ∇û)``, ``ŭ`` solves the same PDE with
    ``F̆(ŭ, z̆) = F(û + ŭ, σ∇û + z̆) - F(û, σ∇û) + ε`` and terminal value
    ``g - û(T)``. Poisson case: ``Δŭ = f - Δû``, ``ŭ = g - û`` on the boundary.
    A perfect surrogate gives a zero correction; the error of the prediction is
    about the surrogate's error times the relative Monte Carlo error.

    Multilevel Picard draws the intermediate time ``R = t + (T - t)τ`` with
    density ``∝ τ^{-1/2}`` rather than uniformly: with uniform ``τ`` the
    Bismut-Elworthy-Li weight ``ΔW/(R - t)`` of the gradient has infinite
    variance. Unlike the reference implementation, the simulation runs in
    float64, every recursive call has an independent random stream, and
    corrections are not clipped unless asked.

    References
    ----------
    Fan, Z., Sun, Z., Yang, H., Lu, Y. Physics-informed inference time scaling
    via simulation-calibrated scientific machine learning. arXiv:2504.16172.

    Hutzenthaler, M., Jentzen, A., Kruse, T., Nguyen, T. A. (2020). Multilevel
    Picard approximations for high-dimensional semilinear second-order PDEs with
    Lipschitz nonlinearities. *SN Partial Differential Equations and
    Applications* 1.

    Muller, M. E. (1956). Some continuous Monte Carlo methods for the Dirichlet
    problem. *Annals of Mathematical Statistics* 27(3), 569-589.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.kernel_ridge import KernelRidge
    >>> from sklearn_debias.pde import Ball, PoissonEquation
    >>> from sklearn_debias.pde import SimulationCalibratedRegressor
    >>> def exact(X):                       # Δu = 2d = 6 in the unit ball of R^3
    ...     return (X**2).sum(axis=1) + X[:, 0] * X[:, 1]
    >>> pde = PoissonEquation(source=lambda X: np.full(len(X), 6.0),
    ...                       boundary=exact, domain=Ball(3), exact_solution=exact)
    >>> X = pde.sample(100, random_state=0)
    >>> reg = SimulationCalibratedRegressor(
    ...     KernelRidge(kernel="rbf", alpha=1e-2), pde, n_paths=100, random_state=0
    ... ).fit(X, exact(X))
    >>> Xq = pde.sample(4, random_state=1)
    >>> surrogate_error = np.abs(reg.estimator_.predict(Xq) - exact(Xq)).max()
    >>> debiased_error = np.abs(reg.predict(Xq) - exact(Xq)).max()
    >>> bool(debiased_error < surrogate_error / 3)
    True
    """

    def __init__(
        self,
        estimator=None,
        pde=None,
        *,
        method="auto",
        n_paths=None,
        levels=2,
        derivatives="auto",
        epsilon=1e-4,
        clip=None,
        n_jobs=None,
        random_state=None,
    ):
        self.estimator = estimator
        self.pde = pde
        self.method = method
        self.n_paths = n_paths
        self.levels = levels
        self.derivatives = derivatives
        self.epsilon = epsilon
        self.clip = clip
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _check_params(self):
        if self.method not in _METHODS:
            raise ValueError(f"method must be one of {_METHODS}, got {self.method!r}")
        method = None if self.pde is None else _resolve_method(self.pde, self.method)
        _check_derivative_method(self.derivatives)
        if self.n_paths is not None and not (
            isinstance(self.n_paths, numbers.Integral) and self.n_paths >= 1
        ):
            raise ValueError(
                f"n_paths must be a positive integer or None, got {self.n_paths!r}"
            )
        if not (isinstance(self.levels, numbers.Integral) and self.levels >= 1):
            raise ValueError(f"levels must be a positive integer, got {self.levels!r}")
        if not (isinstance(self.epsilon, numbers.Real) and 0 < self.epsilon < 1):
            raise ValueError(f"epsilon must be in (0, 1), got {self.epsilon!r}")
        if self.clip is not None and not (
            isinstance(self.clip, numbers.Real) and self.clip > 0
        ):
            raise ValueError(
                f"clip must be a positive number or None, got {self.clip!r}"
            )
        return method

    def fit(self, X, y, sample_weight=None):
        """Fit the surrogate on solution data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points ``x`` (Poisson) or rows ``(t, x)`` (parabolic).
        y : array-like of shape (n_samples,)
            Solution values (from a solver, data, or a PINN's own predictions).
        sample_weight : array-like of shape (n_samples,), default=None
            Passed to the surrogate's ``fit``.

        Returns
        -------
        self : SimulationCalibratedRegressor
            Fitted estimator.
        """
        self.method_ = self._check_params()
        X, y = validate_data(self, X, y, y_numeric=True)
        if self.pde is not None:
            expected = self._expected_features()
            if expected is not None and X.shape[1] != expected:
                raise ValueError(
                    f"X has {X.shape[1]} columns but the PDE expects {expected} "
                    f"({'rows (t, x)' if expected != self.pde.n_dims else 'points x'})"
                )
        if self.estimator is None:
            estimator = KernelRidge(kernel="rbf", alpha=1e-3)
        else:
            estimator = clone(self.estimator)
        if sample_weight is None:
            estimator.fit(X, y)
        elif isinstance(estimator, Pipeline):  # route to the final step
            estimator.fit(
                X, y, **{f"{estimator.steps[-1][0]}__sample_weight": sample_weight}
            )
        else:
            estimator.fit(X, y, sample_weight=sample_weight)
        self.estimator_ = estimator
        return self

    def _expected_features(self):
        if isinstance(self.pde, PoissonEquation):
            return self.pde.n_dims
        if isinstance(self.pde, SemilinearParabolicPDE) and self.pde.n_dims is not None:
            return self.pde.n_dims + 1
        return None

    def predict(self, X, return_std=False):
        """Surrogate plus simulated correction at the query points.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)
            Query points, inside the domain (Poisson) or with ``t <= T``.
        return_std : bool, default=False
            Also return the Monte Carlo standard error of each prediction.

        Returns
        -------
        y_pred : ndarray of shape (n_queries,)
            Debiased predictions.
        y_std : ndarray of shape (n_queries,)
            Standard errors (only if ``return_std``; zeros when ``pde`` is None,
            NaN when a single path leaves it unestimable).
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        surrogate = _predict_checked(self.estimator_, X)
        if self.pde is None:
            warnings.warn(
                "pde=None: there is no equation to simulate, so predictions are the "
                "surrogate's. Pass a PoissonEquation or SemilinearParabolicPDE.",
                UserWarning,
                stacklevel=2,
            )
            std = np.zeros_like(surrogate)
            return (surrogate, std) if return_std else surrogate
        method = self._check_params()
        X = self.pde.check_points(X)
        derivatives = resolve_derivative_method(self.estimator_, self.derivatives)
        n_paths = self.n_paths if self.n_paths is not None else _DEFAULT_PATHS[method]
        samples = n_paths**self.levels if method == "mlp" else n_paths
        chunk = max(1, _SAMPLES_PER_CHUNK // samples)
        starts = range(0, X.shape[0], chunk)
        rng = check_random_state(self.random_state)
        root = np.random.SeedSequence(rng.randint(np.iinfo(np.int32).max, size=4))
        seeds = root.spawn(len(starts))
        if method == "walk_on_spheres":
            simulate = partial(_walk_chunk, epsilon=self.epsilon)
        else:
            levels = self.levels if method == "mlp" else 1
            simulate = partial(_picard_chunk, levels=levels)
        jobs = (
            delayed(simulate)(
                self.estimator_,
                self.pde,
                X[s : s + chunk],
                derivatives,
                n_paths,
                seed=seed,
            )
            for s, seed in zip(starts, seeds, strict=True)
        )
        results = Parallel(n_jobs=self.n_jobs, prefer="threads")(jobs)
        correction = np.concatenate([r[0] for r in results])
        std = np.concatenate([r[1] for r in results])
        if self.clip is not None:
            correction = np.clip(correction, -self.clip, self.clip)
        y_pred = surrogate + correction
        return (y_pred, std) if return_std else y_pred

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.pde is not None and self.random_state is None
        return tags
