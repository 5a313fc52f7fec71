"""SimulationCalibratedRegressor: a learned PDE solution debiased by simulation."""

from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.frozen import FrozenEstimator
from sklearn.utils import get_tags
from sklearn.utils.validation import check_is_fitted, validate_data

from ..gaussian_process import default_surrogate
from ..utils import checked_predict
from ..utils._compat import (
    HasMethods,
    Interval,
    StrOptions,
    _fit_context,
    _routing_enabled,
)
from ..utils._routing import surrogate_fit_params, surrogate_router
from ..utils._typing import ArrayLike, MatrixLike, RandomStateLike
from ._defect import METHODS, resolve_method, simulate_defect
from ._derivatives import DERIVATIVE_METHODS, resolve_derivative_method
from ._equations import PoissonEquation, SemilinearParabolicPDE

__all__ = ["SimulationCalibratedRegressor"]


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
        ignored by the other methods. ``levels=1`` evaluates the nonlinearity
        at the surrogate only: for a nonlinear equation its error has a part
        of first order in the defect that ``return_std`` does not include (it
        stops falling with ``n_paths``), and ``predict`` warns; use it only
        where the nonlinearity is insensitive to the defect.
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
    noise_bias : {"correct", "warn"}, default="correct"
        Multilevel Picard feeds its noisy inner estimates of ``(ŭ, σ∇ŭ)`` into
        the nonlinearity, and a nonlinear ``F`` turns their noise into a bias
        (``E F(U + noise) ≠ F(U)``) that ``return_std`` does not include; with a
        nonlinearity quadratic in the gradient in high dimension (LQG) it is
        many standard errors. Both options estimate it (second order in the
        noise, one random probe per sample). ``"correct"`` subtracts it
        (exact for ``F`` quadratic in ``(u, z)``) and warns when it exceeded 3
        standard errors; ``"warn"`` keeps the uncorrected estimate and warns
        when it exceeds 2 standard errors at more than 5% of the points.
    n_jobs : int or None, default=None
        Chunks of query points simulated in parallel through joblib (threads by
        default, since the work is in numpy and the surrogate's ``predict``;
        choose another backend with ``joblib.parallel_config``). Results do not
        depend on ``n_jobs``.
    random_state : int, RandomState instance or None, default=None
        Seeds the simulation; with an int, repeated
        calls to :meth:`predict` return the same values. Every chunk and every
        recursive call draws from its own spawned ``numpy.random.SeedSequence``.
    verbose : int, default=0
        ``0``: silent. ``> 0``: :meth:`predict` reports the chunks of query
        points as their simulations finish (a ``tqdm`` bar on stderr when
        tqdm is installed, plain lines otherwise). The predictions do not
        depend on it.

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
    ...     KernelRidge(kernel="rbf", alpha=1e-2), pde, n_paths=400, random_state=0
    ... ).fit(X, exact(X))
    >>> Xq = pde.sample(4, random_state=1)
    >>> surrogate_error = np.abs(reg.estimator_.predict(Xq) - exact(Xq)).max()
    >>> debiased_error = np.abs(reg.predict(Xq) - exact(Xq)).max()
    >>> bool(debiased_error < surrogate_error / 2)
    True
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict"]), None],
        "pde": [PoissonEquation, SemilinearParabolicPDE, None],
        "method": [StrOptions(set(METHODS))],
        "n_paths": [Interval(Integral, 1, None, closed="left"), None],
        "levels": [Interval(Integral, 1, None, closed="left")],
        "derivatives": [StrOptions(set(DERIVATIVE_METHODS))],
        "epsilon": [Interval(Real, 0, 1, closed="neither")],
        "clip": [Interval(Real, 0, None, closed="neither"), None],
        "noise_bias": [StrOptions({"correct", "warn"})],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimator: BaseEstimator | None = None,
        pde: Any = None,
        *,
        method: str = "auto",
        n_paths: int | None = None,
        levels: int = 2,
        derivatives: str = "auto",
        epsilon: float = 1e-4,
        clip: float | None = None,
        noise_bias: str = "correct",
        n_jobs: int | None = None,
        random_state: RandomStateLike = None,
        verbose: int = 0,
    ) -> None:
        self.estimator = estimator
        self.pde = pde
        self.method = method
        self.n_paths = n_paths
        self.levels = levels
        self.derivatives = derivatives
        self.epsilon = epsilon
        self.clip = clip
        self.noise_bias = noise_bias
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    def _surrogate(self):
        """The unfitted surrogate: ``estimator``, or the default one."""
        if self.estimator is not None:
            return self.estimator
        default = default_surrogate("pde")
        if _routing_enabled():  # as TransformedTargetRegressor's default
            default.set_fit_request(sample_weight=True)
        return default

    @_fit_context(
        # the surrogate's own parameters are validated when it is fitted
        prefer_skip_nested_validation=False
    )
    def fit(
        self,
        X: MatrixLike,
        y: ArrayLike | None = None,
        sample_weight: ArrayLike | None = None,
        **fit_params: Any,
    ) -> SimulationCalibratedRegressor:
        """Fit the surrogate on solution data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Points ``x`` (Poisson) or rows ``(t, x)`` (parabolic). Sparse only
            when the surrogate accepts it.
        y : array-like of shape (n_samples,) or None, default=None
            Solution values (from a solver or data). ``None`` for a surrogate
            that fits without them: a prefit one wrapped in
            :class:`~sklearn.frozen.FrozenEstimator`, or a
            :class:`~sklearn_debias.neural.PINNRegressor`, which trains on the
            PDE with ``X`` among its collocation points.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the surrogate's fit; the simulation is not reweighted.
            Without metadata routing (scikit-learn's default) they are passed
            to the surrogate's ``fit`` (a ``Pipeline`` cannot take them so:
            enable routing and call ``set_fit_request(sample_weight=True)`` on
            its final step). With routing, they go where the surrogate
            requested them.
        **fit_params : dict
            Other parameters of the surrogate's ``fit``, passed on in the same
            way (with routing, only those it requested).

        Returns
        -------
        self : SimulationCalibratedRegressor
            Fitted estimator.
        """
        self.method_ = (
            None if self.pde is None else resolve_method(self.pde, self.method)
        )
        estimator = self._surrogate()
        if y is None:
            if not (
                isinstance(estimator, FrozenEstimator)
                or not get_tags(estimator).target_tags.required
            ):
                raise ValueError(
                    f"{type(self).__name__} requires y to be passed, but the "
                    f"target y is None: {type(estimator).__name__} fits on "
                    "solution data (only a FrozenEstimator or a PINNRegressor "
                    "fits without it)."
                )
            X = validate_data(self, X, **self._input_options())
        else:
            X, y = validate_data(self, X, y, y_numeric=True, **self._input_options())
        self._check_n_features_for_pde(X)
        if sample_weight is not None:
            fit_params["sample_weight"] = sample_weight
        fit_params = surrogate_fit_params(self, estimator, fit_params)
        self.estimator_ = clone(estimator).fit(X, y, **fit_params)
        return self

    def _input_options(self):
        """``validate_data`` options that follow the forwarded input tags."""
        input_tags = self.__sklearn_tags__().input_tags
        return dict(
            accept_sparse=["csr", "csc"] if input_tags.sparse else False,
            ensure_all_finite="allow-nan" if input_tags.allow_nan else True,
        )

    def _check_n_features_for_pde(self, X):
        if isinstance(self.pde, PoissonEquation):
            expected = self.pde.n_dims
        elif self.pde is not None and self.pde.n_dims is not None:
            expected = self.pde.n_dims + 1
        else:
            return
        if X.shape[1] != expected:
            raise ValueError(
                f"X has {X.shape[1]} columns but the PDE expects {expected} "
                f"({'rows (t, x)' if expected != self.pde.n_dims else 'points x'})"
            )

    def predict(
        self, X: MatrixLike, return_std: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Surrogate plus simulated correction at the query points.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_queries, n_features)
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

        Raises
        ------
        SurrogateError
            If the surrogate's predictions or derivatives are unusable (wrong
            shape or not finite).
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, **self._input_options())
        surrogate = checked_predict(self.estimator_, X, "the query points")
        if self.pde is None:
            warnings.warn(
                "pde=None: there is no equation to simulate, so predictions are the "
                "surrogate's. Pass a PoissonEquation or SemilinearParabolicPDE.",
                UserWarning,
                stacklevel=2,
            )
            std = np.zeros_like(surrogate)
            return (surrogate, std) if return_std else surrogate
        # Parameters may have been set since fit (e.g. a new random_state).
        self._validate_params()
        method = resolve_method(self.pde, self.method)
        X = self.pde.check_points(X.toarray() if sp.issparse(X) else X)
        correction, std, noise_bias = simulate_defect(
            self.estimator_,
            self.pde,
            X,
            method=method,
            derivatives=resolve_derivative_method(self.estimator_, self.derivatives),
            n_paths=self.n_paths,
            levels=self.levels if method == "mlp" else 1,
            epsilon=self.epsilon,
            n_jobs=self.n_jobs,
            random_state=self.random_state,
            verbose=self.verbose,
        )
        if method == "mlp" and self.levels == 1 and self.pde.nonlinearity is not None:
            warnings.warn(
                "levels=1 evaluates the nonlinearity at the surrogate only: the "
                "part of the error that depends on the defect through the "
                "nonlinearity is not simulated and not in return_std (it does not "
                "fall with n_paths). Use levels >= 2, or check against them.",
                UserWarning,
                stacklevel=2,
            )
        self._report_noise_bias(noise_bias, std)
        if self.noise_bias == "correct":
            correction = correction - noise_bias
        if self.clip is not None:
            correction = np.clip(correction, -self.clip, self.clip)
        y_pred = surrogate + correction
        return (y_pred, std) if return_std else y_pred

    def _report_noise_bias(self, noise_bias, std):
        """Warn when multilevel Picard's inner noise biases the answer."""
        ratio = np.abs(noise_bias) / np.where(std > 0, std, np.inf)
        if not np.any(ratio > 2.0):
            return
        frac, median = np.mean(ratio > 2.0), np.median(ratio)
        if self.noise_bias == "correct":
            if median <= 3.0:
                return
            what = (
                "It was subtracted to second order in the noise (exactly for a "
                "nonlinearity quadratic in u and z, such as -|z|²/2); for another "
                "nonlinearity the remainder may not be covered by return_std."
            )
        elif frac <= 0.05:
            return
        else:
            what = (
                "It was not corrected (noise_bias='warn'): the predictions are "
                "off by about that much, which return_std does not include; use "
                "noise_bias='correct'."
            )
        warnings.warn(
            f"Multilevel Picard's inner estimates are noisy and the nonlinearity "
            f"turns their noise into a bias: estimated at {median:.1f} standard "
            f"errors (median), above 2 at {frac:.0%} of the points. {what} More "
            "n_paths, or a better surrogate (a smaller defect), make it smaller.",
            UserWarning,
            stacklevel=3,
        )

    def get_metadata_routing(self):
        """Get metadata routing of this object.

        Please check :ref:`User Guide <metadata_routing>` on how the routing
        mechanism works. The surrogate's ``fit`` receives the metadata it
        requested.

        Returns
        -------
        routing : MetadataRouter
            A :class:`~sklearn.utils.metadata_routing.MetadataRouter`
            encapsulating routing information.
        """
        return surrogate_router(self, self._surrogate())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self._surrogate())
        tags.input_tags.sparse = inner.input_tags.sparse
        # NaN inputs only reach the surrogate: no equation is simulated at them.
        tags.input_tags.allow_nan = inner.input_tags.allow_nan and self.pde is None
        tags.regressor_tags.poor_score = inner.regressor_tags.poor_score
        tags.non_deterministic = self.pde is not None and self.random_state is None
        return tags
