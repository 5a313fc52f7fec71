"""Gaussian process regression past n³: Nyström-preconditioned CG and a
stochastic marginal likelihood.

scikit-learn's :class:`~sklearn.gaussian_process.GaussianProcessRegressor`
factorises the ``n x n`` covariance at every step of its hyperparameter
search: O(n³) time, and on this project's development CPU a crash from
n ~ 16 000 (OpenBLAS's threaded Cholesky). Here nothing of order ``n`` is
ever factorised:

* solves ``(K + s I)^{-1} B`` run by block preconditioned conjugate
  gradients (:func:`~sklearn_debias._randnla.pcg`) with the randomized
  Nyström preconditioner of Frangella, Tropp and Udell, ``P``;
* ``log det (K + s I) = log det P + tr log(P^{-1/2} (K + s I) P^{-1/2})``,
  the first term exact and the second estimated by stochastic Lanczos
  quadrature (:func:`~sklearn_debias.linalg._logdet.lanczos_quadrature`) on
  a preconditioned, well-conditioned matrix;
* its gradient ``1/2 a^T (dK) a - 1/2 tr((K + s I)^{-1} dK)``, ``a`` the
  solution for ``y``, with the trace by Hutchinson's estimator.

The probe vectors and the sketch of the preconditioner are drawn once per
fit (from ``random_state``) and reused at every optimizer step, and the
Lanczos runs take a fixed number of steps, so the estimated likelihood is a
smooth deterministic function of the hyperparameters that L-BFGS-B can
minimise (the approach of Gardner et al., 2018, with the preconditioner of
Frangella et al. as the variance reducer of the log-determinant).
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Callable

import numpy as np
import scipy.optimize
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, Kernel, Sum, WhiteKernel
from sklearn.gaussian_process.kernels import ConstantKernel as C
from sklearn.utils.validation import check_is_fitted, validate_data

from .._randnla import (
    KernelOperator,
    KernelTiles,
    PairwiseKernel,
    cross_matmat,
    random_test_matrix,
)
from .._randnla._kernel_operator import column_tiles, tile_rows
from .._randnla._pcg import (
    NystromPreconditioner,
    adaptive_nystrom_preconditioner,
    pcg,
)
from ..gaussian_process._kernels import _kernel_cross
from ..linalg._logdet import lanczos_quadrature
from ..utils import (
    check_seed_sequence,
    child_int_seed,
    child_seed,
    prediction_threads,
    run_blocks,
)
from ..utils._compat import Interval, StrOptions, _fit_context
from ..utils._typing import ArrayLike, RandomStateLike

__all__ = ["ScalableGaussianProcessRegressor"]

# solver="auto" factorises exactly up to this many training points.
_CHOLESKY_MAX_SAMPLES = 2000
# Bytes of the kernel gradient (n, n, n_hyperparameters) formed at once; past
# it the gradient is contracted block pair by block pair.
_GRADIENT_BYTES = 2**28
# Bytes of one block of kernel rows (blockwise kernel matrix).
_BLOCK_BYTES = 2**26
# Bytes of the largest kernel matrix kept in memory; past it every product
# recomputes the kernel by blocks of rows (KernelOperator).
_STORED_BYTES = 2**32
# Most rank of the adaptive Nyström preconditioner when rank=None.
_MAX_RANK = 1000
# Fixed Lanczos steps per probe of the log-determinant.
_LANCZOS_STEPS = 20
# Most Lanczos steps of the final, adaptive, evaluation.
_MAX_LANCZOS_STEPS = 100
# Probes (the first columns of the trace probes) of the log-determinant: with
# the preconditioner its stochastic part is small, and the quadrature's cost
# per probe is independent of n.
_SLQ_PROBES = 8
# Quadrature error of the log-determinant, relative to n, below which it passes
# whatever the sampling error.
_QUADRATURE_RTOL = 1e-8


def _white_noise(kernel):
    """Noise level of the ``WhiteKernel`` terms at the top of a sum of kernels."""
    if isinstance(kernel, WhiteKernel):
        return float(kernel.noise_level)
    if isinstance(kernel, Sum):
        return _white_noise(kernel.k1) + _white_noise(kernel.k2)
    return 0.0


def _without_white(kernel):
    """``kernel`` without its top-level ``WhiteKernel`` terms (``None`` if all)."""
    if isinstance(kernel, WhiteKernel):
        return None
    if isinstance(kernel, Sum):
        k1, k2 = _without_white(kernel.k1), _without_white(kernel.k2)
        if k1 is None or k2 is None:
            return k2 if k1 is None else k1
        return Sum(k1, k2)
    return kernel


def _matmat(K):
    """``V -> K @ V`` for a stored matrix or a ``KernelOperator``."""
    return K.matmat if isinstance(K, KernelOperator) else K.__matmul__


def _diagonal(K):
    if isinstance(K, KernelOperator):
        return K.diag() + K.shift
    return np.diagonal(K)


def _row_block(n, n_columns=1):
    """Rows per block so that a block of ``n`` columns stays within budget."""
    return int(max(1, min(n, _BLOCK_BYTES // (8 * max(n, 1) * max(n_columns, 1)))))


def _pairwise(kernel):
    """``kernel`` for the blockwise code, evaluated by ``_kernel_cross``."""
    return PairwiseKernel(kernel, evaluate=_kernel_cross)


def _kernel_matrix(kernel, X, shift):
    """``kernel(X) + shift I``, each tile of its upper triangle evaluated once.

    Bands of rows are evaluated tile by tile on several threads from their
    diagonal to the right and mirrored; the diagonal is ``kernel.diag(X)``,
    so that ``WhiteKernel`` terms (zero between distinct points) reach it.
    """
    n = X.shape[0]
    K = np.empty((n, n))
    tiles = KernelTiles(_pairwise(kernel), X, X)
    rows = tile_rows(n, tiles.entries)

    def band(start, stop):
        for j, j_end in column_tiles(start, n):
            K[start:stop, j:j_end] = tiles(slice(start, stop), slice(j, j_end))
        K[stop:, start:stop] = K[start:stop, stop:].T

    run_blocks(band, n, rows, prediction_threads(n * n // 2))
    K[np.diag_indices_from(K)] = kernel.diag(X) + shift
    return K


def _gradient_contraction(kernel, X, A, B, diag=0.0, K_gradient=None):
    """``sum_ij W_ij dK_ij / dtheta_h`` for each log-hyperparameter ``theta_h``.

    The weights are ``W = A @ B.T + diag I``. scikit-learn kernels return
    gradients only for ``Y=None``, so past the memory budget (or without
    ``K_gradient``, the ``(n, n, n_hyper)`` gradient already formed) the
    gradient of each pair of row blocks ``(b, c)`` comes from
    ``kernel(vstack(X_b, X_c), eval_gradient=True)``: exact, at four times
    the work of the off-diagonal block itself.
    """
    if K_gradient is not None:
        out = np.einsum("ijh,ij->h", K_gradient, A @ B.T)
        return out + diag * np.einsum("iih->h", K_gradient)
    n_hyper = kernel.n_dims
    n = X.shape[0]
    step = int(max(1, np.sqrt(_GRADIENT_BYTES / (8 * 4 * max(n_hyper, 1)))))
    starts = list(range(0, n, step))
    out = np.zeros(n_hyper)
    for i, s in enumerate(starts):
        b = slice(s, min(s + step, n))
        _, G = kernel(X[b], eval_gradient=True)
        out += np.einsum("ijh,ij->h", G, A[b] @ B[b].T)
        out += diag * np.einsum("iih->h", G)
        for t in starts[i + 1 :]:
            c = slice(t, min(t + step, n))
            nb = b.stop - b.start
            _, G = kernel(np.vstack([X[b], X[c]]), eval_gradient=True)
            W = A[b] @ B[c].T + (A[c] @ B[b].T).T
            out += np.einsum("ijh,ij->h", G[:nb, nb:], W)
    return out


def _inverse_sqrt(precond):
    """``(P^{-1/2}, log det P)`` of a Nyström preconditioner.

    ``P = U (Lambda + mu) U^T + (lambda_l + mu) (I - U U^T)``.
    """
    U, lam, mu = precond.U, precond.eigenvalues, precond.mu
    tail = _tail(precond)
    n = U.shape[0]
    coef = (lam + mu) ** -0.5 - tail**-0.5
    logdet = float(np.sum(np.log(lam + mu)) + (n - lam.size) * np.log(tail))

    def apply(V):
        return V / np.sqrt(tail) + U @ (coef[:, None] * (U.T @ V))

    return apply, logdet


def _tail(precond):
    """``lambda_l + mu``: the eigenvalue of ``P`` off the sketched subspace."""
    lam = precond.eigenvalues
    return (float(lam[-1]) if lam.size else 0.0) + precond.mu


class _StochasticLikelihood:
    """The marginal likelihood and its gradient from PCG, SLQ and Hutchinson.

    The probes, the sketch and (after the first evaluation) the rank of the
    preconditioner are fixed, so the estimate is a deterministic smooth
    function of the hyperparameters.
    """

    def __init__(self, X, y, alpha, *, n_probes, rank, tol, max_iter, seed):
        self.X, self.y, self.alpha = X, y, alpha
        self.n = X.shape[0]
        self.n_probes = int(min(n_probes, max(self.n, 1)))
        self.tol, self.max_iter = tol, max_iter
        self.sketch_seed = child_seed(seed, 0)
        rng = np.random.default_rng(child_seed(seed, 1))
        self.Z = random_test_matrix(self.n, self.n_probes, rng, kind="rademacher")
        self.rank = rank
        self.dual_coef = None
        self.n_iter = 0
        self.converged = True
        self.quadrature_error = 0.0

    def system(self, kernel, eval_gradient):
        """``(K + alpha I, dK or None, shift mu of the preconditioner)``."""
        n = self.n
        G = None
        white = _white_noise(kernel)
        if eval_gradient and 8 * n * n * (kernel.n_dims + 1) <= _GRADIENT_BYTES:
            K, G = kernel(self.X, eval_gradient=True)
            K = np.array(K, dtype=np.float64)
            K[np.diag_indices_from(K)] += self.alpha
        elif 8 * n * n <= _STORED_BYTES:
            K = _kernel_matrix(kernel, self.X, self.alpha)
        else:
            signal = _without_white(kernel)
            if signal is None:
                raise ValueError("the kernel is only white noise: nothing to learn")
            K = KernelOperator(
                self.X, _pairwise(signal), shift=self.alpha + white, max_memory=0
            )
            Xd = self.X[: min(n, 64)]
            # Blocks K(X_b, X) drop WhiteKernel terms (zero between point sets):
            # only top-level ones are restored, as the shift.
            if not np.allclose(kernel.diag(Xd), np.diag(signal(Xd, Xd)) + white):
                raise ValueError(
                    "a WhiteKernel inside a product or another kernel is only "
                    f"supported up to n = {int(np.sqrt(_STORED_BYTES / 8))} "
                    "points; add it as a top-level term (k + WhiteKernel())"
                )
        return K, G, self.alpha + white

    def preconditioner(self, K, mu):
        n = self.n

        matmat = _matmat(K)

        def signal(V):  # the PSD part K - mu I that the sketch approximates
            return matmat(V) - mu * V

        rng = np.random.default_rng(self.sketch_seed)
        if self.rank is None:
            precond = adaptive_nystrom_preconditioner(
                signal, n, mu, max_rank=min(n, _MAX_RANK), random_state=rng
            )
            self.rank = precond.rank
            return precond
        return NystromPreconditioner.from_operator(
            signal, n, min(self.rank, n), mu, rng
        )

    def solve(self, K, B, precond):
        """``K^{-1} B`` by block PCG; warns once per fit if not converged."""
        res = pcg(_matmat(K), B, precond=precond, tol=self.tol, max_iter=self.max_iter)
        if res.breakdown:
            raise ValueError(
                "the covariance K + alpha I is not positive definite (conjugate "
                "gradients met a direction of non-positive curvature): is the "
                "kernel positive definite, and alpha > 0?"
            )
        self.n_iter = max(self.n_iter, res.n_iter)
        if not res.converged:
            self.converged = False
        return res.x

    def _solved(self, kernel, eval_gradient):
        """``(K, dK, preconditioner, K^{-1} [y, Z])`` (``Z`` only for a gradient)."""
        K, G, mu = self.system(kernel, eval_gradient)
        if not np.all(np.isfinite(_diagonal(K))):
            raise ValueError(f"the kernel {kernel} returned NaN or infinite values")
        precond = self.preconditioner(K, mu)
        B = np.column_stack([self.y, self.Z]) if eval_gradient else self.y[:, None]
        sol = self.solve(K, B, precond)
        self.dual_coef = sol[:, 0]
        return K, G, precond, sol

    def dual(self, kernel):
        """``K^{-1} y`` alone: the fit of a fixed kernel needs no likelihood."""
        self._solved(kernel, False)
        return self.dual_coef

    def __call__(self, kernel, eval_gradient=False, adaptive=False):
        K, G, precond, sol = self._solved(kernel, eval_gradient)
        a = sol[:, 0]
        # y^T K^{-1} y with an error quadratic in the residual r = y - K a.
        matmat = _matmat(K)
        quad = float(self.y @ a + a @ (self.y - matmat(a[:, None])[:, 0]))
        inv_sqrt, logdet_p = _inverse_sqrt(precond)
        values, errors, _, done = lanczos_quadrature(
            lambda V: inv_sqrt(matmat(inv_sqrt(V))),
            self.Z[:, :_SLQ_PROBES],
            _MAX_LANCZOS_STEPS if adaptive else _LANCZOS_STEPS,
            adaptive=adaptive,
        )
        # A fixed number of steps must leave a quadrature error small next to
        # the sampling error; an adaptive run must meet its own tolerance.
        error = float(np.mean(errors))
        se = (
            float(np.std(values, ddof=1) / np.sqrt(values.size))
            if values.size > 1
            else 0.0
        )
        if (adaptive and not done.all()) or (
            not adaptive and error > max(0.5 * se, _QUADRATURE_RTOL * self.n)
        ):
            self.quadrature_error = max(self.quadrature_error, error)
        logdet = logdet_p + float(np.mean(values))
        lml = -0.5 * quad - 0.5 * logdet - 0.5 * self.n * np.log(2 * np.pi)
        if not eval_gradient:
            return lml
        # tr(K^{-1} dK) = tr(P^{-1} dK) + tr((K^{-1} - P^{-1}) dK): the first
        # term exact (P^{-1} = I / tail + U diag(e) U^T), Hutchinson on the
        # second, whose variance is small when P is close to K.
        W = sol[:, 1:] - precond.solve(self.Z)
        p = self.Z.shape[1]
        tail = _tail(precond)
        e = 1.0 / (precond.eigenvalues + precond.mu) - 1.0 / tail
        A = np.column_stack([a, precond.U, W])
        Bw = np.column_stack([a, -precond.U * e, -self.Z / p])
        grad = 0.5 * _gradient_contraction(kernel, self.X, A, Bw, -1.0 / tail, G)
        return lml, grad


class ScalableGaussianProcessRegressor(RegressorMixin, BaseEstimator):
    """Gaussian process regression by Nyström-preconditioned conjugate gradients.

    The semantics of scikit-learn's
    :class:`~sklearn.gaussian_process.GaussianProcessRegressor` (kernel
    hyperparameters maximising the log marginal likelihood, ``kernel_``,
    ``log_marginal_likelihood_value_``, ``predict(X, return_std=True)``)
    without factorising the ``n x n`` covariance: solves by block
    preconditioned conjugate gradients with a randomized Nyström
    preconditioner, the log-determinant by preconditioned stochastic Lanczos
    quadrature and its gradient by Hutchinson's trace estimator, on probe
    vectors and a sketch fixed for the whole fit, so that the estimated
    likelihood is a smooth function that L-BFGS-B can maximise.

    With ``solver="auto"`` up to 2000 training points are handled exactly
    (a ``GaussianProcessRegressor`` fitted inside, Cholesky), where that is
    faster; ``solver_`` says which path was taken.

    Parameters
    ----------
    kernel : kernel instance, default=None
        The covariance function, as for ``GaussianProcessRegressor``; its
        hyperparameters are optimised during fitting unless their bounds are
        ``"fixed"``. ``None`` is ``ConstantKernel(1.0, "fixed") * RBF(1.0,
        "fixed")``. Noise is ``alpha`` plus any ``WhiteKernel`` term.
    alpha : float, default=1e-10
        Value added to the diagonal of the kernel matrix. Must be positive:
        it bounds the smallest eigenvalue that the solver meets.
    optimizer : "fmin_l_bfgs_b", callable or None, default="fmin_l_bfgs_b"
        As for ``GaussianProcessRegressor``: a callable is called as
        ``optimizer(obj_func, initial_theta, bounds)`` and returns
        ``(theta_opt, func_min)``; ``None`` keeps the kernel's
        hyperparameters.
    n_restarts_optimizer : int, default=0
        Further optimizer runs from log-uniform draws within the bounds.
    normalize_y : bool, default=False
        Standardise the target before fitting (undone in predictions).
    solver : {"auto", "pcg", "cholesky"}, default="auto"
        ``"pcg"``: the scalable path above. ``"cholesky"``: exact, through
        ``GaussianProcessRegressor``. ``"auto"``: Cholesky up to 2000
        training points, PCG beyond.
    n_probes : int, default=32
        Probe vectors of the stochastic log-determinant and trace estimates.
    rank : int or None, default=None
        Rank of the Nyström preconditioner; ``None`` doubles it (up to 1000)
        at the initial hyperparameters until the estimated preconditioned
        condition number is small, and keeps it for the rest of the fit.
    tol : float, default=1e-8
        Relative residual at which conjugate gradients stop.
    max_iter : int or None, default=None
        Most conjugate-gradient iterations per solve (``None``: ``10 n``).
    random_state : int, RandomState instance, Generator or None, default=None
        Seeds the probes, the sketch and the optimizer restarts.

    Attributes
    ----------
    kernel_ : kernel instance
        The kernel with the optimised hyperparameters.
    log_marginal_likelihood_value_ : float
        Log marginal likelihood at ``kernel_.theta`` (a stochastic estimate
        on the PCG path, exact on the Cholesky path).
    solver_ : {"pcg", "cholesky"}
        The path taken.
    alpha_ : ndarray of shape (n_samples,)
        Dual coefficients ``(K + alpha I)^{-1} y`` of the training points.
    X_train_ : ndarray of shape (n_samples, n_features)
        Training inputs.
    y_train_ : ndarray of shape (n_samples,)
        Training targets (standardised if ``normalize_y``).
    rank_ : int
        Rank of the Nyström preconditioner (``0`` on the Cholesky path).
    n_iter_ : int
        Most conjugate-gradient iterations of one solve in the final fit
        (``1`` on the Cholesky path: one direct solve, as scikit-learn's
        checks ask of every estimator with ``max_iter``).
    n_features_in_ : int
        Number of features seen during fit.

    See Also
    --------
    sklearn.gaussian_process.GaussianProcessRegressor : the exact version.

    Notes
    -----
    Cost per likelihood evaluation on the PCG path: the kernel matrix and its
    gradient (``n^2`` entries each), a sketch of ``rank`` products, about
    ten to thirty block products with ``n_probes + 1`` columns, and
    ``30 n_probes`` products for the Lanczos quadrature; memory ``n^2`` for
    the kernel matrix plus ``O(n (rank + n_probes))``. The predictive
    standard deviation costs one block PCG solve per batch of query points,
    with ``k_*^T (K + s I)^{-1} k_*`` evaluated as ``2 k_*^T v - v^T K v``,
    whose error is quadratic in the residual (and never makes the variance
    smaller than the exact one).

    References
    ----------
    Gardner, J., Pleiss, G., Weinberger, K. Q., Bindel, D. and Wilson, A. G.
    (2018). GPyTorch: blackbox matrix-matrix Gaussian process inference with
    GPU acceleration. *NeurIPS*.

    Frangella, Z., Tropp, J. A. and Udell, M. (2023). Randomized Nyström
    preconditioning. *SIAM J. Matrix Anal. Appl.* 44(2), 718-752.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.gaussian_process.kernels import RBF, WhiteKernel
    >>> from sklearn_debias.kernel_ridge._gaussian_process import (
    ...     ScalableGaussianProcessRegressor,
    ... )
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-3, 3, size=(300, 1))
    >>> y = np.sin(X[:, 0]) + 0.1 * rng.standard_normal(300)
    >>> gp = ScalableGaussianProcessRegressor(
    ...     RBF() + WhiteKernel(), solver="pcg", random_state=0
    ... ).fit(X, y)
    >>> gp.solver_
    'pcg'
    >>> mean, std = gp.predict(np.array([[0.5]]), return_std=True)
    >>> print(f"{mean[0]:.1f} {std[0]:.1f}")
    0.5 0.1
    """

    _parameter_constraints: dict = {
        "kernel": [None, Kernel],
        "alpha": [Interval(numbers.Real, 0, None, closed="neither")],
        "optimizer": [StrOptions({"fmin_l_bfgs_b"}), callable, None],
        "n_restarts_optimizer": [Interval(numbers.Integral, 0, None, closed="left")],
        "normalize_y": ["boolean"],
        "solver": [StrOptions({"auto", "pcg", "cholesky"})],
        "n_probes": [Interval(numbers.Integral, 1, None, closed="left")],
        "rank": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "tol": [Interval(numbers.Real, 0, None, closed="neither")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        kernel: Kernel | None = None,
        *,
        alpha: float = 1e-10,
        optimizer: str | Callable | None = "fmin_l_bfgs_b",
        n_restarts_optimizer: int = 0,
        normalize_y: bool = False,
        solver: str = "auto",
        n_probes: int = 32,
        rank: int | None = None,
        tol: float = 1e-8,
        max_iter: int | None = None,
        random_state: RandomStateLike = None,
    ) -> None:
        self.kernel = kernel
        self.alpha = alpha
        self.optimizer = optimizer
        self.n_restarts_optimizer = n_restarts_optimizer
        self.normalize_y = normalize_y
        self.solver = solver
        self.n_probes = n_probes
        self.rank = rank
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state

    def _default_kernel(self):
        if self.kernel is None:
            return C(1.0, constant_value_bounds="fixed") * RBF(
                1.0, length_scale_bounds="fixed"
            )
        return clone(self.kernel)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: ArrayLike, y: ArrayLike) -> ScalableGaussianProcessRegressor:
        """Fit the Gaussian process: hyperparameters, then dual coefficients.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,)
            Training targets.

        Returns
        -------
        self : object
            The fitted regressor.
        """
        X, y = validate_data(self, X, y, y_numeric=True, dtype=np.float64)
        n = X.shape[0]
        if hasattr(self, "_seed_sequence"):
            del self._seed_sequence  # a refit draws new probes
        if self.normalize_y:
            self._y_train_mean = float(np.mean(y))
            std = float(np.std(y))
            self._y_train_std = std if std > 0 else 1.0
        else:
            self._y_train_mean, self._y_train_std = 0.0, 1.0
        self.X_train_ = X
        self.y_train_ = (y - self._y_train_mean) / self._y_train_std
        use_cholesky = self.solver == "cholesky" or (
            self.solver == "auto" and n <= _CHOLESKY_MAX_SAMPLES
        )
        if use_cholesky:
            return self._fit_cholesky(X, y)
        return self._fit_pcg()

    def _fit_cholesky(self, X, y):
        gp = GaussianProcessRegressor(
            self._default_kernel(),
            alpha=self.alpha,
            optimizer=self.optimizer,
            n_restarts_optimizer=self.n_restarts_optimizer,
            normalize_y=self.normalize_y,
            random_state=self._restart_rng(),
        ).fit(X, y)
        self._exact = gp
        self.kernel_ = gp.kernel_
        self._lml = float(gp.log_marginal_likelihood_value_)
        self.alpha_ = np.ravel(gp.alpha_)
        self.solver_ = "cholesky"
        self.rank_, self.n_iter_ = 0, 1
        return self

    def _restart_rng(self):
        return np.random.RandomState(child_int_seed(self._seed(), 2))

    def _seed(self):
        if not hasattr(self, "_seed_sequence"):
            self._seed_sequence = check_seed_sequence(self.random_state)
        return self._seed_sequence

    def _likelihood_at(self, rank, n_probes):
        """The stochastic likelihood of the training data, probes from the seed."""
        return _StochasticLikelihood(
            self.X_train_,
            self.y_train_,
            float(self.alpha),
            n_probes=n_probes,
            rank=rank,
            tol=self.tol,
            max_iter=self.max_iter,
            seed=self._seed(),
        )

    def _fit_pcg(self):
        self._exact = None
        kernel = self._default_kernel()
        lik = self._likelihood_at(self.rank, self.n_probes)
        self._likelihood = lik
        optimized = self.optimizer is not None and kernel.n_dims > 0
        if optimized:

            def obj_func(theta, eval_gradient=True):
                k = kernel.clone_with_theta(theta)
                if eval_gradient:
                    lml, grad = lik(k, eval_gradient=True)
                    return -lml, -grad
                return -lik(k)

            optima = [self._optimize(obj_func, kernel.theta, kernel.bounds)]
            if self.n_restarts_optimizer > 0:
                bounds = kernel.bounds
                if not np.isfinite(bounds).all():
                    raise ValueError(
                        "Multiple optimizer restarts (n_restarts_optimizer>0) "
                        "requires that all bounds are finite."
                    )
                rng = self._restart_rng()
                for _ in range(self.n_restarts_optimizer):
                    theta0 = rng.uniform(bounds[:, 0], bounds[:, 1])
                    optima.append(self._optimize(obj_func, theta0, bounds))
            values = [f for _, f in optima]
            kernel.theta = optima[int(np.argmin(values))][0]
        self.kernel_ = kernel
        # Final solve (and likelihood) at the chosen hyperparameters.
        lik.n_iter, lik.converged, lik.quadrature_error = 0, True, 0.0
        if optimized:
            self._lml = self._final_likelihood(lik)
        else:  # a fixed kernel: the likelihood waits for its first use
            lik.dual(kernel)
            self._lml = None
        self.alpha_ = lik.dual_coef
        self.rank_ = int(lik.rank)
        self.n_iter_ = int(lik.n_iter)
        self.solver_ = "pcg"
        self._warn_convergence(lik)
        del self._likelihood
        return self

    def _final_likelihood(self, lik):
        """The adaptive likelihood estimate at ``kernel_`` (NaN if Lanczos fails)."""
        # (No smoothness needed here: the Lanczos runs stop when converged.)
        try:
            return float(lik(self.kernel_, adaptive=True))
        except ValueError as exc:
            if "not symmetric" not in str(exc) or lik.dual_coef is None:
                raise
            # Rounding in an ill-conditioned covariance (a tiny alpha against
            # a large kernel) defeats the Lanczos quadrature, not the solve.
            warnings.warn(
                "the log marginal likelihood could not be estimated (the "
                f"covariance is too ill-conditioned for Lanczos: {exc}); "
                "log_marginal_likelihood_value_ is NaN. Raise alpha.",
                ConvergenceWarning,
                stacklevel=4,
            )
            return float("nan")

    @property
    def log_marginal_likelihood_value_(self) -> float:
        """Log marginal likelihood of ``kernel_`` (see the class's Attributes)."""
        check_is_fitted(self)
        if self._lml is None:
            lik = self._likelihood_at(self.rank_, self.n_probes)
            self._lml = self._final_likelihood(lik)
            self._warn_convergence(lik)
        return self._lml

    def _warn_convergence(self, lik):
        if not lik.converged:
            warnings.warn(
                f"conjugate gradients did not reach tol={self.tol:g} within "
                f"max_iter={self.max_iter} iterations; the dual coefficients "
                "and the likelihood are inaccurate (raise max_iter or rank, or "
                "alpha)",
                ConvergenceWarning,
                stacklevel=3,
            )
        if lik.quadrature_error > 0:
            warnings.warn(
                "the Lanczos quadrature of the log-determinant did not converge "
                f"(estimated error {lik.quadrature_error:.3g}, not small next to "
                "the sampling error): raise rank for a better preconditioner",
                ConvergenceWarning,
                stacklevel=3,
            )

    def _optimize(self, obj_func, theta0, bounds):
        if self.optimizer == "fmin_l_bfgs_b":
            res = scipy.optimize.minimize(
                obj_func, theta0, method="L-BFGS-B", jac=True, bounds=bounds
            )
            # A line search that stops short is expected near the optimum of
            # a stochastic objective; running out of iterations is not.
            if res.status == 1:
                warnings.warn(
                    "lbfgs reached its iteration limit before converging: the "
                    "hyperparameters may be far from the optimum",
                    ConvergenceWarning,
                    stacklevel=4,
                )
            return res.x, float(res.fun)
        return self.optimizer(obj_func, theta0, bounds)

    def log_marginal_likelihood(
        self, theta: ArrayLike | None = None, eval_gradient: bool = False
    ) -> float | tuple[float, np.ndarray]:
        """Log marginal likelihood (and gradient) at ``theta``.

        On the PCG path a stochastic estimate with the probes of the fit; on
        the Cholesky path exact.

        Parameters
        ----------
        theta : array-like of shape (n_kernel_params,), default=None
            Log-transformed hyperparameters; ``None`` returns
            ``log_marginal_likelihood_value_``.
        eval_gradient : bool, default=False
            Also return the gradient with respect to ``theta``.

        Returns
        -------
        log_likelihood : float
        log_likelihood_gradient : ndarray of shape (n_kernel_params,)
            Only when ``eval_gradient`` is true.
        """
        check_is_fitted(self)
        if theta is None:
            if eval_gradient:
                raise ValueError("Gradient can only be evaluated for theta!=None")
            return self.log_marginal_likelihood_value_
        if self._exact is not None:
            return self._exact.log_marginal_likelihood(theta, eval_gradient)
        lik = self._likelihood_at(self.rank_, self.n_probes)
        kernel = self.kernel_.clone_with_theta(np.asarray(theta, dtype=float))
        return lik(kernel, eval_gradient=eval_gradient)

    def predict(
        self, X: ArrayLike, return_std: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Predictive mean (and standard deviation) at ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query points.
        return_std : bool, default=False
            Also return the predictive standard deviation (noise of any
            ``WhiteKernel`` term included, ``alpha`` not, as in scikit-learn).
            On the PCG path it costs one block PCG solve per batch of query
            points.

        Returns
        -------
        y_mean : ndarray of shape (n_samples,)
        y_std : ndarray of shape (n_samples,)
            Only when ``return_std`` is true.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        if self._exact is not None:
            return self._exact.predict(X, return_std=return_std)
        n_jobs = prediction_threads(X.shape[0] * self.X_train_.shape[0])
        mean = cross_matmat(
            _pairwise(self.kernel_), X, self.X_train_, self.alpha_, n_jobs=n_jobs
        )
        mean = self._y_train_mean + self._y_train_std * mean
        if not return_std:
            return mean
        return mean, self._predict_std(X)

    def _predict_std(self, X):
        lik = self._likelihood_at(self.rank_, 1)
        K, _, mu = lik.system(self.kernel_, False)
        precond = lik.preconditioner(K, mu)
        var = np.empty(X.shape[0])
        matmat = _matmat(K)
        step = max(1, min(1024, _row_block(X.shape[0] + self.X_train_.shape[0], 4)))
        for start in range(0, X.shape[0], step):
            Xq = X[start : start + step]
            Ks = self.kernel_(self.X_train_, Xq)
            V = lik.solve(K, Ks, precond)
            # 2 k^T v - v^T K v: error quadratic in the residual, never below.
            q = np.einsum("ij,ij->j", V, 2.0 * Ks - matmat(V))
            var[start : start + step] = self.kernel_.diag(Xq) - q
        self._warn_convergence(lik)
        negative = var < 0
        if np.any(negative):
            warnings.warn(
                "Predicted variances smaller than 0. Setting those variances to 0.",
                stacklevel=3,
            )
            var[negative] = 0.0
        return np.sqrt(var) * self._y_train_std
