"""Kernel ridge regression on ``M`` Nyström centres: the Falkon solver."""

from __future__ import annotations

from collections.abc import Callable
from numbers import Integral, Real
from typing import Any

import numpy as np
import scipy.linalg
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from .._randnla import RPCholesky, cross_matmat, pcg
from .._randnla._chunked import is_dask_array
from .._randnla._kernel_operator import (
    KernelTiles,
    block_rows,
    tile_buffer,
)
from ..linear_model._design import raise_for_bad_blocks
from ..utils import check_generator, run_blocks
from ..utils._compat import Interval, StrOptions, _fit_context
from ..utils._typing import ArrayLike, RandomStateLike
from ._base import _BaseKernelRidge

__all__ = ["NystromKernelRidge"]

_EPS = np.finfo(np.float64).eps


class _FalkonSystem:
    """``H = K_nM^T W K_nM + alpha K_MM`` applied by tiles of rows of ``X``.

    Each tile of ``K_nM`` (about ``2**17`` entries) is evaluated, or read
    when ``K_nM`` is stored, and used twice while it is in cache. The tiles
    are grouped in fixed blocks of rows whose contributions are summed in
    block order, so the result does not depend on the number of threads.
    """

    def __init__(self, X, centers, kernel, w, n_jobs, max_memory):
        self.X, self.C, self.kernel, self.w, self.n_jobs = X, centers, kernel, w, n_jobs
        n, M = X.shape[0], centers.shape[0]
        self.tiles = KernelTiles(kernel, X, centers)
        self.tile = max(1, self.tiles.entries // M)
        self.rows = self.tile * max(
            1, block_rows(M, kernel.dtype.itemsize, n) // self.tile
        )
        self.n_passes = 0
        self.K = None
        if n * M * kernel.dtype.itemsize <= max_memory * 2**20:
            self.K = np.empty((n, M), dtype=kernel.dtype)

            def fill(start, stop):
                self.tiles(slice(start, stop), slice(None), out=self.K[start:stop])

            run_blocks(fill, n, self.rows, n_jobs)

    def _pass(self, left):
        """``sum_b K_bM^T left(b, K_bM)`` over the tiles of rows ``b``."""
        n, M = self.X.shape[0], self.C.shape[0]
        if n == 0:  # an empty dask chunk
            k = left(slice(0, 0), np.empty((0, M), self.kernel.dtype)).shape[1]
            return np.zeros((M, k))
        parts = {}

        def work(start, stop):
            buffer = tile_buffer(self.tile, M, self.kernel.dtype)
            total = 0.0
            for i in range(start, stop, self.tile):
                rows = slice(i, min(i + self.tile, stop))
                if self.K is not None:
                    Kb = self.K[rows]
                else:
                    Kb = self.tiles(rows, slice(None), buffer(rows.stop - i, M))
                total = total + Kb.T @ left(rows, Kb)
            parts[start] = total

        run_blocks(work, n, self.rows, self.n_jobs)
        self.n_passes += 1
        total = np.zeros((M, parts[0].shape[1]))
        for start in sorted(parts):
            total += parts[start]
        return total

    def rhs(self, Y):
        return self._pass(
            lambda rows, Kb: (self.w[rows, None] * Y[rows]).astype(Kb.dtype)
        )

    def normal(self, V):
        """``K_nM^T W K_nM V``."""
        Vk = V.astype(self.kernel.dtype, copy=False)
        return self._pass(lambda rows, Kb: self.w[rows, None] * (Kb @ Vk))


class _ChunkedFalkonSystem:
    """:class:`_FalkonSystem`'s passes over a row-chunked dask ``X``.

    Every pass is one ``ChunkedOperator.map_reduce``: each chunk applies an
    in-memory :class:`_FalkonSystem` (its kernel blocks recomputed by blocks
    of rows, never stored) to its rows, and only the
    ``M``-sized sums reach the client. The centres are persisted once (on the
    cluster under a ``distributed`` client) and shared by every task.

    Parameters
    ----------
    chunked : ChunkedOperator
        Over the persisted ``X``.
    Y : dask.array.Array of shape (n, k)
        float64, with ``X``'s row chunks.
    w : dask.array.Array of shape (n,) or None
        Sample weights with ``X``'s row chunks (``None``: ones).
    """

    def __init__(self, chunked, Y, w):
        import dask.array as da

        self.chunked, self.Y, self.w = chunked, Y, w
        X = chunked.X
        self._rows = da.arange(X.shape[0], chunks=X.chunks[0])
        self._starts = np.concatenate([[0], np.cumsum(X.chunks[0])])
        self.kernel = self.C = None

    @property
    def n_passes(self):
        return self.chunked.n_passes

    def gather(self, idx):
        """Rows ``idx`` (sorted) of ``X`` on the client; only they are moved."""
        rows = self.chunked.X[idx].compute()
        if not np.all(np.isfinite(rows)):
            self._checked_pass(None)  # raises, naming the first bad row
        return rows

    def set_centers(self, C, kernel):
        import dask

        self.kernel = kernel
        (self.C,) = dask.persist(dask.delayed(C, pure=True))

    def rhs(self):
        """``(K_nM^T W Y, sum(w))``, the data checked in the same pass."""
        rhs, w_sum = self._checked_pass(self.C)
        return rhs, w_sum

    def _checked_pass(self, C):
        counts, first, w_sum, *rhs = self.chunked.map_reduce(
            _rhs_chunk,
            self.Y,
            self.w,
            self._rows,
            args=(self.kernel, C, self._starts),
        )
        raise_for_bad_blocks(counts, self._starts, first)
        if not w_sum[0] > 0:
            raise ValueError("sample_weight must have at least one positive value")
        return (rhs[0] if rhs else None), float(w_sum[0])

    def normal(self, V):
        """``K_nM^T W K_nM V``."""
        return self.chunked.map_reduce(
            _normal_chunk, self.w, args=(self.kernel, self.C, V)
        )[0]


def _chunk_system(Xc, wc, kernel, C):
    """:class:`_FalkonSystem` of one chunk, its kernel blocks not stored."""
    w = np.ones(Xc.shape[0]) if wc is None else wc
    return _FalkonSystem(Xc, C, kernel, w, n_jobs=None, max_memory=0)


def _normal_chunk(Xc, wc, kernel, C, V):
    return [_chunk_system(Xc, wc, kernel, C).normal(V)]


def _rhs_chunk(Xc, Yc, wc, rows, kernel, C, starts):
    """One chunk's invalid entries (count, first row), ``sum(w)`` and rhs."""
    counts, first = np.zeros((3, starts.size - 1)), np.zeros((3, starts.size - 1))
    masks = [~np.isfinite(Xc).all(axis=1), ~np.isfinite(Yc).all(axis=1)]
    masks.append(
        np.zeros(len(Xc), bool) if wc is None else ~(np.isfinite(wc) & (wc >= 0))
    )
    if len(Xc):
        c = int(np.searchsorted(starts, rows[0], side="right")) - 1
        for j, (mask, A) in enumerate(zip(masks, (Xc, Yc, wc), strict=True)):
            if mask.any():
                counts[j, c] = np.count_nonzero(~np.isfinite(A) if j < 2 else mask)
                first[j, c] = rows[np.argmax(mask)]
    w_sum = np.array([float(len(Xc)) if wc is None else wc.sum()])
    if C is None:
        return [counts, first, w_sum]
    if masks[0].any():  # the kernel refuses NaN: the pass raises anyway
        rhs = np.zeros((C.shape[0], Yc.shape[1]))
    else:
        rhs = _chunk_system(Xc, wc, kernel, C).rhs(Yc)
    return [counts, first, w_sum, rhs]


def _predict_chunk(Xc, kernel, C, dual):
    return cross_matmat(kernel, Xc.astype(np.float64, copy=False), C, dual)


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

    A ``dask.array`` ``X`` chunked along rows is fitted on its cluster: each
    iteration is one map-reduce pass in which every chunk forms its kernel
    block against the centres, and only ``M``-sized sums and the centres'
    rows reach the client (see :meth:`fit`); :meth:`predict` then returns a
    dask array.

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

    The same fit from a dask array chunked along rows (same centres):

    >>> import pytest
    >>> da = pytest.importorskip("dask.array")
    >>> est_dask = NystromKernelRidge(alpha=1e-3, n_centers=100, random_state=0)
    >>> est_dask.fit(da.from_array(X, chunks=(500, 3)), y)
    NystromKernelRidge(alpha=0.001, n_centers=100, random_state=0)
    >>> bool(np.array_equal(est_dask.center_indices_, est.center_indices_))
    True
    >>> bool(np.abs(est_dask.predict(X) - y).max() < 1e-2)
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
        X : array-like or dask array of shape (n_samples, n_features)
            Training data (float32 data gives float32 kernel blocks). A
            ``dask.array`` chunked along rows (column chunks are joined) is
            persisted and used chunk by chunk: only the centres (or, for
            "rpcholesky", the ``min(n, 20 M)`` rows of the candidate pool)
            are gathered on the client -- the same rows as in memory for the
            same ``random_state`` -- and every conjugate-gradient iteration is
            one pass in which each chunk forms its kernel block ``K_cM`` and
            returns ``K_cM^T W_c K_cM V``, summed on the workers, so that only
            ``M``-sized results reach the client. The fit is the in-memory one
            up to rounding, whatever the chunking; ``max_memory`` and
            ``n_jobs`` then do not apply (``K_cM`` is recomputed in blocks of
            rows in every pass; the workers' threads run the chunks).
        y : array-like or dask array of shape (n_samples,) or (n_samples, n_targets)
            Target values.
        sample_weight : float or array-like of shape (n_samples,), default=None
            Individual weights, as in ``KernelRidge``; a dask array is allowed
            with a dask ``X`` (the weights must then be non-negative).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        if is_dask_array(X):
            system, Y, alphas, ravel = self._validate_dask_data(X, y, sample_weight)
            X, rows = system.chunked.X, system.gather
        else:
            X, Y, sw, alphas, ravel = self._validate_fit_data(X, y, sample_weight)
            w = np.ones(X.shape[0]) if sw is None else sw
            rows = X.__getitem__
        n = X.shape[0]
        kernel = self._kernel()
        kernel.dtype = X.dtype
        rng = check_generator(self.random_state)
        idx, C = self._select_centers(rows, n, min(self.n_centers, n), rng)
        if is_dask_array(X):
            system.set_centers(C, kernel)
            B, w_sum = system.rhs()
        else:
            system = _FalkonSystem(X, C, kernel, w, self.n_jobs, self.max_memory)
            B, w_sum = system.rhs(Y), w.sum()
        # K_MM in the dtype of the blocks, so that it matches the rows of K_nM
        # at the centres (a float64 K_MM against float32 blocks makes the
        # preconditioner inconsistent in K_MM's near-null space).
        K_MM = np.asarray(kernel(C, C), dtype=np.float64)
        K_MM = 0.5 * (K_MM + K_MM.T)
        max_iter = 200 if self.max_iter is None else self.max_iter

        def solve(alpha, B):
            precond = _FalkonPreconditioner(
                K_MM, alpha, w_sum / C.shape[0], np.finfo(X.dtype).eps
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

    def _validate_dask_data(self, X, y, sample_weight):
        """Checked, persisted, row-aligned dask data in a ``_ChunkedFalkonSystem``."""
        from ..linear_model._design import dask_design

        chunked, Y, ravel, w, _ = dask_design(X, y, sample_weight)
        n, d = chunked.shape
        if n < 1 or d < 1:
            raise ValueError(
                f"X must have at least one sample and one feature, got shape {X.shape}"
            )
        if hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.n_features_in_ = d
        alphas = self._check_alphas(Y.shape[1])
        return _ChunkedFalkonSystem(chunked, Y, w), Y, alphas, ravel

    def _select_centers(self, rows, n, M, rng):
        """Indices of the centres (sorted) and their rows, ``rows(idx)``."""
        if self.center_selection == "uniform" or M == n:
            idx = np.sort(rng.choice(n, size=M, replace=False))
            return idx, rows(idx)
        pool = np.sort(rng.choice(n, size=min(n, 20 * M), replace=False))
        X_pool = rows(pool)
        Xp = X_pool.astype(np.float64, copy=False)
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
        chosen = np.sort(chosen)
        return pool[chosen], X_pool[chosen]

    def predict(self, X: ArrayLike) -> np.ndarray | Any:
        """Predict with the model.

        Parameters
        ----------
        X : array-like or dask array of shape (n_samples, n_features)
            Samples; a ``dask.array`` chunked along rows is predicted chunk by
            chunk on the workers.

        Returns
        -------
        C : ndarray or dask array of shape (n_samples,) or (n_samples, n_targets)
            Predicted values; a (lazy) dask array for a dask ``X``.
        """
        if not is_dask_array(X):
            return self._predict_from(X, "centers_")
        from .._randnla._chunked import check_fitted_columns

        check_is_fitted(self)
        X = check_fitted_columns(self, X)
        dual = self.dual_coef_
        return X.map_blocks(
            _predict_chunk,
            self._kernel(),
            self.centers_.astype(np.float64, copy=False),
            dual,
            chunks=(X.chunks[0],) + dual.shape[1:],
            drop_axis=None if dual.ndim == 2 else 1,
            dtype=np.float64,
            meta=np.empty((0,) * dual.ndim),
        )
