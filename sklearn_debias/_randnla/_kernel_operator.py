"""Kernel matrices applied in row blocks: ``K(X, X)`` without storing it.

:class:`PairwiseKernel` evaluates a kernel given as
:class:`sklearn.kernel_ridge.KernelRidge` takes it (a
:func:`~sklearn.metrics.pairwise.pairwise_kernels` name or callable with
``gamma``, ``degree``, ``coef0`` and ``kernel_params``, or a
:class:`sklearn.gaussian_process.kernels.Kernel`), on blocks and on the
diagonal. :class:`KernelOperator` is the :class:`BlockOperator` of
``D K D + shift I`` (``D = diag(sqrt(sample_weight))``, the weighting of
``KernelRidge``): it keeps ``K`` when it fits a memory budget and otherwise
recomputes it in every product, each entry of its upper triangle once, so
that memory stays ``O(n)`` per column of the product.

Every product with a kernel that is not stored is computed tile by tile
(:class:`KernelTiles`): a tile of ``2**17`` entries is evaluated and
multiplied while it is still in the L2 cache, which on this project's
machines made the blockwise products about three times faster than rows of
32 MiB; the RBF kernel is one matrix product of augmented inputs and one
exponential per tile. Work is split among threads in fixed blocks whose
results are summed in a fixed order, so results do not depend on the number
of threads.
"""

import numpy as np
from sklearn.gaussian_process.kernels import Kernel as GPKernel
from sklearn.metrics.pairwise import PAIRWISE_KERNEL_FUNCTIONS, pairwise_kernels
from sklearn.utils import assert_all_finite

from ..utils import run_blocks
from ._operators import BlockOperator

__all__ = [
    "KernelOperator",
    "KernelTiles",
    "PairwiseKernel",
    "block_rows",
    "cross_matmat",
]

# Bytes of kernel entries one thread evaluates at a time.
_BLOCK_BYTES = 32 * 2**20
# Kernel entries of one tile (1 MiB in float64: it stays in the L2 cache
# between its evaluation and its product) and columns of a tile. Kernels
# evaluated by sklearn take tiles 8 times larger: its per-call checks cost
# more than the cache saves on small tiles.
_TILE_ENTRIES = 2**17
_TILE_ENTRIES_GENERIC = 2**20
_TILE_COLUMNS = 1024
# Bytes of the partial sums of the symmetric pass (one per band of rows).
_PARTS_BYTES = 256 * 2**20


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
    evaluate : callable or None, default=None
        ``evaluate(kernel, A, B)`` computes the blocks instead of
        ``kernel(A, B)`` (the Gaussian-process code passes its faster
        evaluation of sums and products of kernels between distinct points).

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
        evaluate=None,
    ):
        self.kernel = kernel
        self.dtype = np.dtype(dtype)
        self.evaluate = evaluate
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
        if self.evaluate is not None:
            K = self.evaluate(self.kernel, A, B)
        elif isinstance(self.kernel, GPKernel):
            K = self.kernel(A, B)
        else:
            K = pairwise_kernels(
                A, B, metric=self.kernel, filter_params=True, **self.params
            )
        return np.asarray(K, dtype=self.dtype)

    def rbf_gamma(self, n_features):
        """``gamma`` when the kernel is the named RBF in float64, else ``None``."""
        if not (isinstance(self.kernel, str) and self.kernel == "rbf"):
            return None
        if self.dtype != np.float64:
            return None
        gamma = self.params["gamma"]
        return 1.0 / n_features if gamma is None else float(gamma)

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


def tile_rows(n_cols, entries=_TILE_ENTRIES):
    """Rows of a tile of ``min(n_cols, 1024)`` columns and about ``entries``."""
    return max(1, entries // max(1, min(n_cols, _TILE_COLUMNS)))


class KernelTiles:
    """Tiles ``K(A[rows], B[cols])`` of one kernel matrix, evaluated on demand.

    For the named RBF kernel in float64, ``exp(-gamma |a - b|^2)`` is
    ``exp(min(a' . b', 0))`` with the augmented, centred inputs
    ``a' = [2 gamma a, -gamma |a|^2, -1]`` and ``b' = [b, 1, gamma |b|^2]``:
    one matrix product and one exponential per tile, written into the
    caller's buffer (the expansion of the squared distance that
    :func:`sklearn.metrics.pairwise.euclidean_distances` uses, after moving
    both sets to ``B``'s mean). Any other kernel is evaluated by
    :class:`PairwiseKernel`.

    Parameters
    ----------
    kernel : PairwiseKernel
    A : ndarray of shape (n_A, d)
    B : ndarray of shape (n_B, d)

    Attributes
    ----------
    entries : int
        Kernel entries per tile that suit this evaluation: ``2**17`` for the
        RBF path and an ``evaluate`` function, ``2**20`` for sklearn's
        pairwise kernels, whose per-call checks cost more than the cache
        saves on smaller tiles.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias._randnla import KernelTiles, PairwiseKernel
    >>> X = np.random.default_rng(0).uniform(size=(50, 3))
    >>> k = PairwiseKernel("rbf", gamma=2.0)
    >>> tile = KernelTiles(k, X, X)(slice(0, 10), slice(20, 50))
    >>> bool(np.allclose(tile, k(X[:10], X[20:])))
    True
    """

    def __init__(self, kernel, A, B):
        self.kernel, self.A, self.B = kernel, A, B
        self._left = self._right = None
        self.entries = _TILE_ENTRIES if kernel.evaluate else _TILE_ENTRIES_GENERIC
        gamma = kernel.rbf_gamma(A.shape[1])
        if gamma is not None and A.dtype == B.dtype == np.float64:
            assert_all_finite(A, input_name="X")
            assert_all_finite(B, input_name="Y")
            center = B.mean(axis=0) if len(B) else 0.0
            Ac, Bc = A - center, B - center
            sq_a = np.einsum("ij,ij->i", Ac, Ac)[:, None]
            sq_b = np.einsum("ij,ij->i", Bc, Bc)[:, None]
            self._left = np.hstack(
                [2.0 * gamma * Ac, -gamma * sq_a, -np.ones_like(sq_a)]
            )
            self._right = np.hstack([Bc, np.ones_like(sq_b), gamma * sq_b])
            self.entries = _TILE_ENTRIES

    def __call__(self, rows, cols, out=None):
        """The tile ``K(A[rows], B[cols])``, in ``out`` when given."""
        if self._left is None:
            K = self.kernel(self.A[rows], self.B[cols])
            if out is None:
                return K
            out[...] = K
            return out
        left, right = self._left[rows], self._right[cols]
        if out is None:
            out = np.empty((left.shape[0], right.shape[0]))
        np.matmul(left, right.T, out=out)
        np.minimum(out, 0.0, out=out)
        return np.exp(out, out=out)


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
        self._tiles = KernelTiles(kernel, X, X)
        self.stored = n * n * kernel.dtype.itemsize <= max_memory * 2**20
        self._K = None
        if self.stored:
            self._K = np.empty((n, n), dtype=kernel.dtype)
            run_blocks(self._fill_rows, n, self._rows, self.n_jobs)

    def _weighted(self, K, rows, cols=None):
        if self.sw is not None:
            K *= self.sw[rows, None]
            K *= self.sw[None, slice(None) if cols is None else cols]
        return K

    def _fill_rows(self, start, stop):
        rows = slice(start, stop)
        self._weighted(self._tiles(rows, slice(None), out=self._K[rows]), rows)

    def _matmat(self, V):
        V = np.asarray(V)
        dtype = np.result_type(V.dtype, self.kernel.dtype)
        if self.stored:
            out = np.asarray(self._K @ V, dtype=dtype)
        else:
            W = V if self.sw is None else self.sw[:, None] * V
            out = symmetric_matmat(
                self._tiles, W.astype(self.kernel.dtype, copy=False), self.n_jobs
            ).astype(dtype, copy=False)
            if self.sw is not None:
                out *= self.sw[:, None]
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
        K = np.array(self._tiles(slice(None), idx), dtype=self.kernel.dtype)
        return self._weighted(K, slice(None), idx)

    def cross_matmat(self, Z, V):
        """``K(Z, X) @ V`` (unweighted) in blocks of rows of ``Z``."""
        return cross_matmat(self.kernel, Z, self.X, V, n_jobs=self.n_jobs)


def tile_buffer(rows, cols, dtype):
    """A flat buffer from which contiguous tiles of up to ``rows x cols`` are cut."""
    buf = np.empty(rows * cols, dtype=dtype)
    return lambda r, c: buf[: r * c].reshape(r, c)


def column_tiles(start, stop):
    """Consecutive ``(j, j_end)`` of at most 1024 columns covering ``[start, stop)``."""
    return [
        (j, min(j + _TILE_COLUMNS, stop)) for j in range(start, stop, _TILE_COLUMNS)
    ]


def symmetric_matmat(tiles, V, n_jobs=None):
    """``K @ V`` for a symmetric ``K``, each tile of its upper triangle evaluated once.

    The rows are cut into bands; a band's tiles right of its diagonal block
    serve its own rows and, transposed, the rows below it, whose partial sums
    are kept per band (at most 256 MiB in all, which sets the band height)
    and added in band order: the result does not depend on ``n_jobs``.

    Parameters
    ----------
    tiles : KernelTiles
        Over ``(X, X)``.
    V : ndarray of shape (n, k)
        In the kernel's dtype.
    n_jobs : int or None, default=None

    Returns
    -------
    out : ndarray of shape (n, k)
    """
    n, k = V.shape
    r = tile_rows(n, tiles.entries)
    band = max(1024, -(-n * n * k * V.itemsize // (2 * _PARTS_BYTES)))
    band = min(n, r * -(-band // r))
    out = np.empty((n, k), dtype=V.dtype)
    below = {}

    def work(start, stop):
        tile = tile_buffer(r, min(n, _TILE_COLUMNS), V.dtype)
        part = np.zeros((n - stop, k), dtype=V.dtype)
        cols = column_tiles(start, stop) + column_tiles(stop, n)
        for i in range(start, stop, r):
            i_end = min(i + r, stop)
            acc = np.zeros((i_end - i, k), dtype=V.dtype)
            for j, j_end in cols:
                K = tiles(slice(i, i_end), slice(j, j_end), tile(i_end - i, j_end - j))
                acc += K @ V[j:j_end]
                if j >= stop:
                    part[j - stop : j_end - stop] += K.T @ V[i:i_end]
            out[i:i_end] = acc
        below[start] = part

    run_blocks(work, n, band, n_jobs)
    for start in range(0, n, band):
        stop = min(start + band, n)
        out[stop:] += below.pop(start)
    return out


def cross_matmat(kernel, Z, X, V, n_jobs=None):
    """``K(Z, X) @ V`` computed tile by tile.

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
    m, n = Z.shape[0], X.shape[0]
    dtype = np.result_type(V2.dtype, kernel.dtype)
    out = np.empty((m, V2.shape[1]), dtype=dtype)
    tiles = KernelTiles(kernel, Z, X)
    r = tile_rows(n, tiles.entries)
    cols = column_tiles(0, n)

    def work(start, stop):
        tile = tile_buffer(r, min(n, _TILE_COLUMNS), kernel.dtype)
        for i in range(start, stop, r):
            i_end = min(i + r, stop)
            acc = np.zeros((i_end - i, V2.shape[1]), dtype=dtype)
            for j, j_end in cols:
                K = tiles(slice(i, i_end), slice(j, j_end), tile(i_end - i, j_end - j))
                acc += K @ V2[j:j_end]
            out[i:i_end] = acc

    rows = r * max(1, block_rows(n, kernel.dtype.itemsize, m) // r)
    run_blocks(work, m, rows, n_jobs)
    return out.reshape((m,) + V.shape[1:])
