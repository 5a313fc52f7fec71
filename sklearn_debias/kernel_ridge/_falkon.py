"""Kernel ridge regression on ``M`` Nyström centres: the Falkon solver."""

from __future__ import annotations

from collections.abc import Callable
from numbers import Integral, Real
from typing import Any

import numpy as np
import scipy.linalg
from threadpoolctl import threadpool_limits

from .._randnla import RPCholesky, pcg, run_blocks
from .._randnla._kernel_operator import block_rows
from ..utils import check_generator
from ..utils._compat import Interval, StrOptions, _fit_context
from ..utils._typing import ArrayLike, RandomStateLike
from ._base import _BaseKernelRidge

__all__ = ["NystromKernelRidge"]

_EPS = np.finfo(np.float64).eps


class _FalkonSystem:
    """``H = K_nM^T W K_nM + alpha K_MM`` applied by blocks of rows of ``X``.

    The blocks' contributions are stored and summed in block order, so the
    result does not depend on the number of threads.
    """

    def __init__(self, X, centers, kernel, w, n_jobs, max_memory):
        self.X, self.C, self.kernel, self.w, self.n_jobs = X, centers, kernel, w, n_jobs
        n, M = X.shape[0], centers.shape[0]
        self.rows = block_rows(M, kernel.dtype.itemsize, n)
        self.n_passes = 0
        self.K = None
        if n * M * kernel.dtype.itemsize <= max_memory * 2**20:
            self.K = np.empty((n, M), dtype=kernel.dtype)

            def fill(start, stop):
                self.K[start:stop] = kernel(X[start:stop], centers)

            run_blocks(fill, n, self.rows, n_jobs)

    def _pass(self, left):
        """``sum_b K_bM^T left(b, K_bM)`` over the row blocks ``b``."""
        n, M = self.X.shape[0], self.C.shape[0]
        if self.K is not None:
            self.n_passes += 1
            return (self.K.T @ left(slice(None), self.K)).astype(np.float64)
        starts = list(range(0, n, self.rows))
        parts = [None] * len(starts)

        def work(start, stop):
            Kb = self.kernel(self.X[start:stop], self.C)
            parts[start // self.rows] = Kb.T @ left(slice(start, stop), Kb)

        run_blocks(work, n, self.rows, self.n_jobs)
        self.n_passes += 1
        total = np.zeros((M, parts[0].shape[1]))
        for part in parts:
            total += part
        return total

    def rhs(self, Y):
        return self._pass(
            lambda rows, Kb: (self.w[rows, None] * Y[rows]).astype(Kb.dtype)
        )

    def normal(self, V):
        """``K_nM^T W K_nM V``."""
        Vk = V.astype(self.kernel.dtype, copy=False)
        return self._pass(lambda rows, Kb: self.w[rows, None] * (Kb @ Vk))


class _FalkonPreconditioner:
    """``P^{-1}``, ``P = T^T A^T A T``, ``K_MM = T^T T``, ``A^T A = s T T^T + alpha I``.

    ``s = sum(w) / M`` makes ``s K_MM^2`` the subsampling estimate of
    ``K_nM^T W K_nM``: ``P`` approximates ``H`` (Rudi, Carratino and Rosasco,
    2017). Both ``M x M`` Cholesky factorisations run on one BLAS thread
    (threaded OpenBLAS ``potrf`` crashes on some CPUs from ``M = 16000``).
    """

    def __init__(self, K_MM, alpha, scale, eps=_EPS):
        M = K_MM.shape[0]
        with threadpool_limits(limits=1, user_api="blas"):
            self.T = _jittered_cholesky(K_MM, M * eps * np.max(np.diag(K_MM)))
            inner = scale * (self.T @ self.T.T) + alpha * np.eye(M)
            self.A = _jittered_cholesky(inner, 0.0)

    def solve(self, R):
        tri = scipy.linalg.solve_triangular
        Z = tri(self.T, R, trans="T", check_finite=False)
        Z = tri(self.A, Z, trans="T", check_finite=False)
        Z = tri(self.A, Z, check_finite=False)
        return tri(self.T, Z, check_finite=False)


def _jittered_cholesky(S, jitter):
    """Upper Cholesky factor of ``S + jitter I``, the jitter grown on failure."""
    scale = max(float(np.max(np.abs(np.diag(S)))), 1e-300)
    for _ in range(8):
        try:
            return scipy.linalg.cholesky(
                S + jitter * np.eye(S.shape[0]), lower=False, check_finite=False
            )
        except np.linalg.LinAlgError:
            jitter = max(10 * jitter, S.shape[0] * _EPS * scale)
    raise ValueError(
        "the centres' kernel matrix is not positive definite even with a jitter "
        f"of {jitter:.3g}: is the kernel positive semi-definite?"
    )


class NystromKernelRidge(_BaseKernelRidge):
    """Kernel ridge regression on ``M`` Nyström centres (Falkon).

    Restricts the kernel ridge solution to combinations of the kernel at
    ``M`` centres, ``f(x) = sum_j dual_coef_j k(x, c_j)``, minimising
    ``||y - K_nM b||_W^2 + alpha b^T K_MM b`` -- for ``M = n`` this is
    :class:`sklearn.kernel_ridge.KernelRidge`'s solution, with the same
    ``alpha`` (``K_MM`` gets a jitter of ``M eps max k(c, c)``, more if it is
    needed to factorise it). The ``M x M`` normal equations are solved by conjugate
    gradients with Falkon's two-Cholesky preconditioner; ``K_nM`` is kept
    when it fits ``max_memory`` and otherwise recomputed by blocks of rows in
    every iteration: ``O(n M)`` time per iteration, ``O(M^2 + block M)``
    memory.

    Parameters
    ----------
    alpha : float or array-like of shape (n_targets,), default=1.0
        Regularisation strength, positive; one per target allowed.
    kernel : str or callable, default="rbf"
        As in ``KernelRidge`` (not ``"precomputed"``), or a
        :class:`sklearn.gaussian_process.kernels.Kernel`; positive
        semi-definite.
    gamma : float, default=None
        Parameter of the RBF, laplacian, polynomial, exponential chi2 and
        sigmoid kernels (``None``: ``1 / n_features``).
    degree : float, default=3
        Degree of the polynomial kernel.
    coef0 : float, default=1
        Zero coefficient of the polynomial and sigmoid kernels.
    kernel_params : dict, default=None
        Parameters of a callable kernel.
    n_centers : int, default=1000
        Number ``M`` of centres (at most ``n_samples``).
    center_selection : {"uniform", "rpcholesky"}, default="uniform"
        Uniform sampling without replacement, or randomly pivoted Cholesky
        (on a uniform subsample of ``min(n, 20 M)`` points), which spreads
        the centres and needs fewer of them for the same accuracy.
    tol : float, default=1e-6
        Relative residual of the normal equations at which CG stops.
    max_iter : int, default=None
        Most CG iterations (``None``: 200).
    max_memory : float, default=2048
        MiB allowed for keeping ``K_nM``; above it ``K_nM`` is recomputed by
        blocks of rows in every iteration (memory ``O(M^2 + block M)``).
    n_jobs : int, default=None
        Threads evaluating kernel blocks (``None``: one; ``-1``: all cores).
    random_state : int, RandomState instance or None, default=None
        Seeds the choice of the centres.

    Attributes
    ----------
    centers_ : ndarray of shape (n_centers, n_features)
        The centres.
    center_indices_ : ndarray of shape (n_centers,)
        Their rows in the training data.
    dual_coef_ : ndarray of shape (n_centers,) or (n_centers, n_targets)
        Coefficients of the kernel at the centres.
    n_iter_ : int
        CG iterations (the most over groups of targets sharing an alpha).
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Defined only when ``X`` has feature names that are all strings.

    See Also
    --------
    SketchPreconditionedKernelRidge : The exact solution, for ``n`` up to
        about ``10^5``.
    sklearn.kernel_approximation.Nystroem : Nyström features for a linear model.

    References
    ----------
    Rudi, A., Carratino, L. and Rosasco, L. (2017). FALKON: an optimal large
    scale kernel method. *NeurIPS*.

    Meanti, G., Carratino, L., Rosasco, L. and Rudi, A. (2020). Kernel methods
    through the roof: handling billions of points efficiently. *NeurIPS*.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias.kernel_ridge import NystromKernelRidge
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(size=(2000, 3))
    >>> y = np.sin(X.sum(axis=1))
    >>> est = NystromKernelRidge(alpha=1e-3, n_centers=100, random_state=0)
    >>> est.fit(X, y).centers_.shape
    (100, 3)
    >>> bool(np.abs(est.predict(X) - y).max() < 1e-2)
    True
    """

    _parameter_constraints: dict = {
        **_BaseKernelRidge._parameter_constraints,
        "n_centers": [Interval(Integral, 1, None, closed="left")],
        "center_selection": [StrOptions({"uniform", "rpcholesky"})],
        "max_memory": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        alpha: float | ArrayLike = 1.0,
        *,
        kernel: str | Callable = "rbf",
        gamma: float | None = None,
        degree: float = 3,
        coef0: float = 1,
        kernel_params: dict[str, Any] | None = None,
        n_centers: int = 1000,
        center_selection: str = "uniform",
        tol: float = 1e-6,
        max_iter: int | None = None,
        max_memory: float = 2048,
        n_jobs: int | None = None,
        random_state: RandomStateLike = None,
    ) -> None:
        self.alpha = alpha
        self.kernel = kernel
        self.gamma = gamma
        self.degree = degree
        self.coef0 = coef0
        self.kernel_params = kernel_params
        self.n_centers = n_centers
        self.center_selection = center_selection
        self.tol = tol
        self.max_iter = max_iter
        self.max_memory = max_memory
        self.n_jobs = n_jobs
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self, X: ArrayLike, y: ArrayLike, sample_weight: float | ArrayLike | None = None
    ) -> NystromKernelRidge:
        """Fit the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data (float32 data gives float32 kernel blocks).
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Target values.
        sample_weight : float or array-like of shape (n_samples,), default=None
            Individual weights, as in ``KernelRidge``.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        X, Y, sw, alphas, ravel = self._validate_fit_data(X, y, sample_weight)
        n = X.shape[0]
        w = np.ones(n) if sw is None else sw
        kernel = self._kernel()
        kernel.dtype = X.dtype
        rng = check_generator(self.random_state)
        idx = self._select_centers(X, kernel, min(self.n_centers, n), rng)
        C = X[idx]
        system = _FalkonSystem(X, C, kernel, w, self.n_jobs, self.max_memory)
        B = system.rhs(Y)
        # K_MM in the dtype of the blocks, so that it matches the rows of K_nM
        # at the centres (a float64 K_MM against float32 blocks makes the
        # preconditioner inconsistent in K_MM's near-null space).
        K_MM = np.asarray(kernel(C, C), dtype=np.float64)
        K_MM = 0.5 * (K_MM + K_MM.T)
        max_iter = 200 if self.max_iter is None else self.max_iter

        def solve(alpha, B):
            precond = _FalkonPreconditioner(
                K_MM, alpha, w.sum() / C.shape[0], np.finfo(X.dtype).eps
            )
            T = precond.T  # K_MM + jitter = T^T T: keeps the regulariser PSD

            def matmat(V):
                return system.normal(V) + alpha * (T.T @ (T @ V))

            return pcg(matmat, B, precond=precond, tol=self.tol, max_iter=max_iter)

        dual = self._solve_each_alpha(B, alphas, solve, "the centres' normal equations")
        self.dual_coef_ = dual.ravel() if ravel else dual
        self.centers_ = C
        self.center_indices_ = idx
        return self

    def _select_centers(self, X, kernel, M, rng):
        n = X.shape[0]
        if self.center_selection == "uniform" or M == n:
            return np.sort(rng.choice(n, size=M, replace=False))
        pool = np.sort(rng.choice(n, size=min(n, 20 * M), replace=False))
        Xp = X[pool].astype(np.float64, copy=False)
        kernel64 = self._kernel()
        rpc = RPCholesky(
            kernel64.diag(Xp), lambda i: kernel64(Xp, Xp[i]), random_state=rng
        )
        rpc.extend(M)
        chosen = rpc.pivots
        if chosen.size < M:  # the kernel has low rank: fill up uniformly
            rest = np.setdiff1d(np.arange(pool.size), chosen)
            chosen = np.concatenate(
                [chosen, rng.choice(rest, M - chosen.size, replace=False)]
            )
        return np.sort(pool[chosen])

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predict with the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        C : ndarray of shape (n_samples,) or (n_samples, n_targets)
            Predicted values.
        """
        return self._predict_from(X, "centers_")
