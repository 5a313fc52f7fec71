"""Kernel matrices applied in row blocks: ``K(X, X)`` without storing it.

:class:`PairwiseKernel` evaluates a kernel given as
:class:`sklearn.kernel_ridge.KernelRidge` takes it (a
:func:`~sklearn.metrics.pairwise.pairwise_kernels` name or callable with
``gamma``, ``degree``, ``coef0`` and ``kernel_params``, or a
:class:`sklearn.gaussian_process.kernels.Kernel`), on blocks and on the
diagonal. :class:`KernelOperator` is the :class:`BlockOperator` of
``D K D + shift I`` (``D = diag(sqrt(sample_weight))``, the weighting of
``KernelRidge``): it keeps ``K`` when it fits a memory budget and otherwise
recomputes it one block of rows at a time in every product, so that memory
stays ``O(block n)``; the blocks are shared among threads, each writing its
own rows, so results do not depend on the number of threads.
"""

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from sklearn.gaussian_process.kernels import Kernel as GPKernel
from sklearn.metrics.pairwise import PAIRWISE_KERNEL_FUNCTIONS, pairwise_kernels
from threadpoolctl import threadpool_limits

from ._operators import BlockOperator

__all__ = [
    "KernelOperator",
    "PairwiseKernel",
    "block_rows",
    "cross_matmat",
    "run_blocks",
]

# Bytes of kernel entries one thread evaluates at a time.
_BLOCK_BYTES = 32 * 2**20


def _n_workers(n_jobs):
    if n_jobs is None:
        return 1
    n_cpu = os.cpu_count() or 1
    return max(1, n_cpu + 1 + n_jobs if n_jobs < 0 else min(n_jobs, n_cpu))


def block_rows(n_cols, itemsize, n_rows):
    """Rows per block so that a block of ``n_cols`` entries stays near 32 MiB."""
    return int(max(1, min(n_rows, _BLOCK_BYTES // max(1, n_cols * itemsize))))


class PairwiseKernel:
    """A kernel as ``KernelRidge`` takes it, evaluated on blocks and diagonals.

    Parameters
    ----------
    kernel : str, callable or sklearn.gaussian_process.kernels.Kernel
        A name in :data:`~sklearn.metrics.pairwise.PAIRWISE_KERNEL_FUNCTIONS`,
        a callable ``k(x, y)`` of two 1-D arrays, or a Gaussian-process kernel.
    gamma, degree, coef0 : float
        Parameters of the named kernels (ignored by those without them).
    kernel_params : dict or None
        Parameters of a callable kernel.
    dtype : dtype, default=np.float64
        Dtype of the blocks.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias._randnla import PairwiseKernel
    >>> k = PairwiseKernel("rbf", gamma=0.5)
    >>> X = np.array([[0.0], [1.0]])
    >>> np.round(k(X, X), 4)
    array([[1.    , 0.6065],
           [0.6065, 1.    ]])
    >>> k.diag(X)
    array([1., 1.])
    """

    def __init__(
        self,
        kernel="rbf",
        gamma=None,
        degree=3,
        coef0=1,
        kernel_params=None,
        dtype=np.float64,
    ):
        self.kernel = kernel
        self.dtype = np.dtype(dtype)
        if isinstance(kernel, GPKernel):
            self.params = {}
        elif callable(kernel):
            self.params = dict(kernel_params or {})
        elif kernel in PAIRWISE_KERNEL_FUNCTIONS and kernel != "precomputed":
            self.params = {"gamma": gamma, "degree": degree, "coef0": coef0}
        else:
            names = sorted(k for k in PAIRWISE_KERNEL_FUNCTIONS if k != "precomputed")
            raise ValueError(
                f"kernel must be one of {names}, a callable or a "
                f"sklearn.gaussian_process.kernels.Kernel; got {kernel!r}"
            )

    def __call__(self, A, B):
        """The block ``K(A, B)`` of shape ``(len(A), len(B))``."""
        if isinstance(self.kernel, GPKernel):
            K = self.kernel(A, B)
        else:
            K = pairwise_kernels(
                A, B, metric=self.kernel, filter_params=True, **self.params
            )
        return np.asarray(K, dtype=self.dtype)

    def diag(self, X):
        """The diagonal ``k(x_i, x_i)``, shape ``(n,)``."""
        if isinstance(self.kernel, GPKernel):
            return np.asarray(self.kernel.diag(X), dtype=self.dtype)
        if self.kernel in ("rbf", "laplacian"):
            return np.ones(X.shape[0], dtype=self.dtype)
        step = 256
        return np.concatenate(
            [
                np.diagonal(self(X[i : i + step], X[i : i + step]))
                for i in range(0, X.shape[0], step)
            ]
        ).astype(self.dtype, copy=False)


class KernelOperator(BlockOperator):
    """``D K(X, X) D + shift I`` applied by blocks of rows (K kept if it fits).

    Parameters
    ----------
    X : ndarray of shape (n, d)
        The points.
    kernel : PairwiseKernel
        The kernel.
    shift : float, default=0.0
        Added multiple of the identity.
    sample_weight : ndarray of shape (n,) or None, default=None
        Non-negative weights; ``D = diag(sqrt(sample_weight))``.
    max_memory : float, default=1024
        MiB allowed for storing ``K``; above it ``K`` is recomputed by blocks
        in every product.
    n_jobs : int or None, default=None
        Threads evaluating blocks (``None``: one; ``-1``: all cores).

    Attributes
    ----------
    stored : bool
        Whether ``K`` is kept in memory.
    n_passes : int
        Products computed (each a pass over ``K``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias._randnla import KernelOperator, PairwiseKernel
    >>> X = np.random.default_rng(0).standard_normal((500, 3))
    >>> k = PairwiseKernel("rbf", gamma=0.1)
    >>> op = KernelOperator(X, k, shift=1.0, max_memory=0)
    >>> V = np.ones((500, 2))
    >>> op.stored, bool(np.allclose(op.matmat(V), k(X, X) @ V + V))
    (False, True)
    """

    def __init__(
        self, X, kernel, shift=0.0, sample_weight=None, max_memory=1024, n_jobs=None
    ):
        n = X.shape[0]
        super().__init__((n, n), symmetric=True)
        self.X = X
        self.kernel = kernel
        self.shift = float(shift)
        self.n_jobs = n_jobs
        self.n_passes = 0
        self.sw = None if sample_weight is None else np.sqrt(sample_weight)
        self._rows = block_rows(n, kernel.dtype.itemsize, n)
        self.stored = n * n * kernel.dtype.itemsize <= max_memory * 2**20
        self._K = None
        if self.stored:
            self._K = np.empty((n, n), dtype=kernel.dtype)
            self._map(self._fill_rows, n)

    def _weighted(self, K, rows, cols=None):
        if self.sw is not None:
            K *= self.sw[rows, None]
            K *= self.sw[None, slice(None) if cols is None else cols]
        return K

    def _fill_rows(self, start, stop):
        self._K[start:stop] = self._weighted(
            self.kernel(self.X[start:stop], self.X), slice(start, stop)
        )

    def _map(self, func, n_rows):
        run_blocks(func, n_rows, self._rows, self.n_jobs)

    def _matmat(self, V):
        V = np.asarray(V)
        out = np.empty(V.shape, dtype=np.result_type(V.dtype, self.kernel.dtype))
        if self.stored:
            out[:] = self._K @ V
        else:
            Vk = V.astype(self.kernel.dtype, copy=False)

            def rows(start, stop):
                K = self._weighted(
                    self.kernel(self.X[start:stop], self.X), slice(start, stop)
                )
                out[start:stop] = K @ Vk

            self._map(rows, self.n)
        self.n_passes += 1
        if self.shift:
            out += self.shift * V
        return out

    def _rmatmat(self, V):
        return self._matmat(V)

    def diag(self):
        """Diagonal of ``D K D`` (without the shift)."""
        d = self.kernel.diag(self.X).astype(np.float64)
        return d if self.sw is None else d * self.sw**2

    def columns(self, idx):
        """Columns ``(D K D)[:, idx]`` (without the shift)."""
        idx = np.asarray(idx)
        if self.stored:
            return self._K[:, idx]
        return self._weighted(self.kernel(self.X, self.X[idx]).copy(), slice(None), idx)

    def cross_matmat(self, Z, V):
        """``K(Z, X) @ V`` (unweighted) in blocks of rows of ``Z``."""
        return cross_matmat(self.kernel, Z, self.X, V, n_jobs=self.n_jobs)


def cross_matmat(kernel, Z, X, V, n_jobs=None):
    """``K(Z, X) @ V`` computed in blocks of rows of ``Z``.

    Parameters
    ----------
    kernel : PairwiseKernel
    Z : ndarray of shape (m, d)
    X : ndarray of shape (n, d)
    V : ndarray of shape (n,) or (n, k)
    n_jobs : int or None, default=None

    Returns
    -------
    out : ndarray of shape (m,) or (m, k)
    """
    V = np.asarray(V)
    V2 = V.reshape(V.shape[0], -1)
    m = Z.shape[0]
    out = np.empty((m, V2.shape[1]), dtype=np.result_type(V2.dtype, kernel.dtype))
    rows = block_rows(X.shape[0], kernel.dtype.itemsize, m)

    def work(start, stop):
        out[start:stop] = kernel(Z[start:stop], X) @ V2

    run_blocks(work, m, rows, n_jobs)
    return out.reshape((m,) + V.shape[1:])


def run_blocks(func, n_rows, rows, n_jobs=None):
    """Call ``func(start, stop)`` on consecutive blocks of ``rows`` rows, threaded.

    The calls must write disjoint outputs; BLAS runs on one thread inside
    the workers (they share the cores).
    """
    jobs = [(s, min(s + rows, n_rows)) for s in range(0, n_rows, rows)]
    workers = min(_n_workers(n_jobs), len(jobs))
    if workers <= 1:
        for job in jobs:
            func(*job)
        return
    with threadpool_limits(limits=1, user_api="blas"):
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(lambda job: func(*job), jobs))
