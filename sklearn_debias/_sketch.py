"""Random embeddings and randomized low-rank approximation.

This is the one place in the package where random sketches are made. Two families
of tools live here:

* **Oblivious subspace embeddings** ``S`` of shape ``(d, m)`` that compress the
  rows of a tall matrix, ``S @ A`` (sketch-and-precondition least squares):
  sparse sign, Gaussian and the subsampled randomized trigonometric transform.
* **Randomized low-rank approximation** of an operator known through products
  (trace and log-determinant estimation, Nyström preconditioners): test
  matrices, the randomized range finder and the stable Nyström approximation.

References
----------
Martinsson, P.-G. and Tropp, J. A. (2020). Randomized numerical linear algebra:
foundations and algorithms. *Acta Numerica* 29, 403-572.

Tropp, J. A., Yurtsever, A., Udell, M. and Cevher, V. (2017). Fixed-rank
approximation of a positive-semidefinite matrix from streaming data. *NeurIPS*.
"""

import numbers
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.fft
import scipy.linalg
import scipy.sparse as sp

__all__ = [
    "EMBEDDINGS",
    "ShiftedRows",
    "make_embedding",
    "random_test_matrix",
    "orthonormal_basis",
    "randomized_range_finder",
    "nystrom_approximation",
]

EMBEDDINGS = ("sparse_sign", "gaussian", "srtt")

# Rows of A processed at a time by the Gaussian embedding and by the sparse sign
# embedding, so that their extra memory stays O(d * chunk) rather than O(d * m).
_CHUNK_ROWS = 16_384
_SPARSE_CHUNK_ROWS = 65_536
# Columns of A transformed at a time by the SRTT (extra memory O(m * block)).
_SRTT_COLUMN_BLOCK = 16


def _n_threads():
    """Threads used to apply an embedding (scipy's sparse products are serial)."""
    return max(1, min(4, os.cpu_count() or 1))


def _threaded_sum(func, n_items):
    """Return ``sum(func(i) for i in range(n_items))`` with the items in threads.

    ``func`` returns a list of arrays, summed elementwise. Each thread
    accumulates its share into its own arrays, so the result does not depend on
    scheduling (only on the fixed split of the items).
    """
    n_threads = min(_n_threads(), n_items)

    def worker(t):
        total = None
        for i in range(t, n_items, n_threads):
            parts = func(i)
            if total is None:
                total = [np.array(part, copy=True) for part in parts]
            else:
                for acc, part in zip(total, parts, strict=True):
                    acc += part
        return total

    if n_threads <= 1:
        return worker(0)
    with ThreadPoolExecutor(max_workers=n_threads) as pool:
        results = list(pool.map(worker, range(n_threads)))
    total = results[0]
    for result in results[1:]:
        for acc, part in zip(total, result, strict=True):
            acc += part
    return total


def _as_generator(rng):
    """A ``numpy.random.Generator`` from a Generator, RandomState, int or None."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, numbers.Integral):
        return np.random.default_rng(rng)
    if isinstance(rng, np.random.RandomState):
        return np.random.default_rng(rng.randint(0, 2**31 - 1, size=4))
    raise ValueError(
        f"rng must be a numpy Generator, RandomState, int or None, got {rng!r}"
    )


def _sketch_dtype(A):
    """Floating dtype of ``S @ A``: float32 stays float32, all else is float64."""
    return np.float32 if A.dtype == np.float32 else np.float64


class ShiftedRows:
    """The dense matrix ``A - 1 shift^T``, materialised one slice at a time.

    Embeddings accept it in place of an array, so that ``S (A - 1 shift^T)``
    is computed with the shift subtracted entry by entry (no cancellation when
    the shift dwarfs the spread of the columns) and without a centred copy of
    ``A``: only row blocks of a few megabytes are formed.

    Parameters
    ----------
    A : ndarray of shape (m, n)
    shift : ndarray of shape (n,)
    """

    def __init__(self, A, shift):
        self.A = np.asarray(A)
        self.shift = np.asarray(shift, dtype=np.float64)
        self.shape, self.ndim, self.dtype = self.A.shape, 2, np.dtype(np.float64)

    def __getitem__(self, key):
        cols = key[1] if isinstance(key, tuple) else slice(None)
        return self.A[key] - self.shift[cols]

    def astype(self, dtype, copy=False):
        return self

    def row_blocks(self, start, stop):
        """Yield ``(offset, block)`` for rows ``[start, stop)``, ~4 MB each."""
        step = max(1, (4 * 2**20) // (8 * max(self.shape[1], 1)))
        for a in range(start, stop, step):
            yield a - start, self[a : min(a + step, stop)]


class _Embedding:
    """A random linear map from R^m to R^d, applied to the rows of a matrix.

    ``S @ A`` and ``S.apply(A, row_scale)`` (which computes
    ``S @ diag(row_scale) @ A`` without forming the scaled copy of ``A``) accept
    a dense or scipy.sparse ``A`` with ``m`` rows, 1-D or 2-D, and return a dense
    array with ``d`` rows. Every call applies the same ``S``.
    """

    def __init__(self, d, m):
        self.shape = (d, m)

    def __matmul__(self, A):
        return self.apply(A)

    def apply(self, A, row_scale=None):
        """Return ``S @ diag(row_scale) @ A`` as a dense array.

        Parameters
        ----------
        A : ndarray or sparse matrix of shape (m,) or (m, n)
            The matrix to compress.
        row_scale : ndarray of shape (m,), default=None
            Scale of each row of ``A`` (for instance square roots of sample
            weights); ``None`` means no scaling.

        Returns
        -------
        SA : ndarray of shape (d,) or (d, n)
        """
        return self.apply_many([A], row_scale)[0]

    def apply_many(self, arrays, row_scale=None):
        """Apply the same ``S @ diag(row_scale)`` to several arrays in one pass.

        Parameters
        ----------
        arrays : list of ndarray or sparse matrix, each with m rows
            The matrices (or vectors) to compress.
        row_scale : ndarray of shape (m,), default=None
            Scale of each row; ``None`` means no scaling.

        Returns
        -------
        sketches : list of ndarray
            ``S @ diag(row_scale) @ A`` for each ``A``, dense.
        """
        checked = []
        for A in arrays:
            if not sp.issparse(A) and not isinstance(A, ShiftedRows):
                A = np.asarray(A)
            if A.ndim not in (1, 2) or A.shape[0] != self.shape[1]:
                raise ValueError(
                    f"embedding of shape {self.shape} cannot be applied to an "
                    f"array of shape {A.shape}"
                )
            checked.append(A)
        if row_scale is not None:
            row_scale = np.asarray(row_scale)
            if row_scale.shape != (self.shape[1],):
                raise ValueError(
                    f"row_scale must have shape ({self.shape[1]},), "
                    f"got {row_scale.shape}"
                )
        out = self._apply_many(checked, row_scale)
        return [
            np.asarray(o.toarray() if sp.issparse(o) else o, dtype=_sketch_dtype(A))
            for o, A in zip(out, checked, strict=True)
        ]

    def _apply_many(self, arrays, row_scale):
        return [
            self._apply(
                A, None if row_scale is None else row_scale.astype(_sketch_dtype(A))
            )
            for A in arrays
        ]


class SparseSignEmbedding(_Embedding):
    """Sparse sign embedding: ``zeta`` entries ``+-1/sqrt(zeta)`` per column.

    The rows of ``S`` are cut into ``zeta`` contiguous groups and each column
    of ``S`` holds one nonzero in every group, at a uniformly random row, with
    a random sign (the "block construction" of Kane and Nelson, 2014), so the
    ``zeta`` nonzeros of a column lie in distinct rows and ``S @ A`` costs
    ``zeta * nnz(A)`` operations.

    ``S`` is never stored: its columns are generated in chunks of rows of ``A``
    from per-chunk seeds, so its extra memory is ``O(zeta * chunk + d * n)``.
    Chunks are applied as column-oriented sparse products, which stream ``A``
    once, and are spread over a few threads (scipy releases the GIL).
    """

    def __init__(self, d, m, rng, zeta=8):
        super().__init__(d, m)
        rng = _as_generator(rng)
        self.zeta = zeta = int(min(zeta, d))
        bounds = np.linspace(0, d, zeta + 1).astype(np.int64)
        self._lows = bounds[:-1].astype(np.int32)
        self._sizes = np.diff(bounds).astype(np.float64)
        n_chunks = max(-(-m // _SPARSE_CHUNK_ROWS), 1)
        self._seeds = rng.integers(0, 2**63 - 1, size=n_chunks)

    def _chunk(self, c, dtype, row_scale=None):
        """Columns ``[c * chunk, (c + 1) * chunk)`` of ``S`` as a CSC array."""
        d, m = self.shape
        start = c * _SPARSE_CHUNK_ROWS
        stop = min(start + _SPARSE_CHUNK_ROWS, m)
        count, zeta = stop - start, self.zeta
        bits = np.random.default_rng(self._seeds[c]).integers(
            0, 2**32, size=(count, zeta), dtype=np.uint32
        )
        # The top 31 bits pick the row inside each group, the last bit the sign.
        rows = np.multiply(bits >> 1, self._sizes / 2.0**31).astype(np.int32)
        rows += self._lows
        value = 1.0 / np.sqrt(zeta)
        data = np.where(bits & 1, value, -value).astype(dtype, copy=False)
        if row_scale is not None:
            data *= row_scale[start:stop, None]
        indptr = np.arange(0, count * zeta + 1, zeta, dtype=np.int64)
        return sp.csc_array((data.ravel(), rows.ravel(), indptr), shape=(d, count))

    def matrix(self, dtype=np.float64):
        """The embedding as a scipy.sparse CSC array of shape ``(d, m)``."""
        chunks = [self._chunk(c, dtype) for c in range(len(self._seeds))]
        return sp.hstack(chunks, format="csc")

    def _apply_many(self, arrays, row_scale):
        dtypes = [_sketch_dtype(A) for A in arrays]
        blocks = []
        for A, dtype in zip(arrays, dtypes, strict=True):
            if sp.issparse(A) and A.format != "csr":
                # Row slices of CSC are slow; CSR row slices are cheap views.
                A = sp.csr_array(A)
            blocks.append(A.astype(dtype, copy=False))

        def part(c):
            start = c * _SPARSE_CHUNK_ROWS
            chunks, out = {}, []
            for A, dtype in zip(blocks, dtypes, strict=True):
                if dtype not in chunks:
                    chunks[dtype] = self._chunk(c, dtype, row_scale)
                C = chunks[dtype]
                if isinstance(A, ShiftedRows):
                    prod = 0.0
                    stop = start + C.shape[1]
                    for off, block in A.row_blocks(start, stop):
                        prod = prod + C[:, off : off + block.shape[0]] @ block
                else:
                    prod = C @ A[start : start + _SPARSE_CHUNK_ROWS]
                out.append(prod.toarray() if sp.issparse(prod) else prod)
            return out

        return _threaded_sum(part, len(self._seeds))


class GaussianEmbedding(_Embedding):
    """Dense Gaussian embedding with i.i.d. ``N(0, 1/d)`` entries, in row blocks.

    The matrix is never stored: blocks of ``S`` are regenerated from per-block
    seeds, so memory stays ``O(d * chunk)`` and ``S`` is the same for every
    array it is applied to. Costs ``2 d nnz(A)`` flops plus ``d m`` normal
    draws: for operators and sparse ``A`` rather than for tall dense ones.
    """

    def __init__(self, d, m, rng):
        super().__init__(d, m)
        rng = _as_generator(rng)
        n_blocks = max(-(-m // _CHUNK_ROWS), 1)
        self._seeds = rng.integers(0, 2**63 - 1, size=n_blocks)

    def _apply(self, A, row_scale):
        d, m = self.shape
        dtype = _sketch_dtype(A)
        if sp.issparse(A):
            A = sp.csr_array(A).astype(dtype, copy=False)
        else:
            A = A.astype(dtype, copy=False)

        def part(b):
            start = b * _CHUNK_ROWS
            stop = min(start + _CHUNK_ROWS, m)
            block_rng = np.random.default_rng(self._seeds[b])
            S = block_rng.standard_normal((d, stop - start), dtype=dtype)
            S *= 1.0 / np.sqrt(d)
            if row_scale is not None:
                S *= row_scale[start:stop]
            if sp.issparse(A):
                out = (A[start:stop].T @ S.T).T
            elif isinstance(A, ShiftedRows):
                out = sum(
                    S[:, off : off + block.shape[0]] @ block
                    for off, block in A.row_blocks(start, stop)
                )
            else:
                out = S @ A[start:stop]
            return [out.toarray() if sp.issparse(out) else out]

        return _threaded_sum(part, len(self._seeds))[0]


class SRTTEmbedding(_Embedding):
    """Subsampled randomized trigonometric transform ``sqrt(m/d) R F D``.

    ``D`` flips signs at random, ``F`` is the orthonormal DCT-II (``scipy.fft``)
    and ``R`` keeps ``d`` rows drawn without replacement. Costs
    ``O(m n log m)``; ``A`` is transformed a few columns at a time, so the
    extra memory is ``O(m * 16 + d * n)``.
    """

    def __init__(self, d, m, rng):
        super().__init__(d, m)
        rng = _as_generator(rng)
        self._signs = rng.choice([-1.0, 1.0], size=m)
        self._rows = np.sort(rng.choice(m, size=d, replace=False))

    def _apply(self, A, row_scale):
        d, m = self.shape
        dtype = _sketch_dtype(A)
        signs = self._signs.astype(dtype)
        if row_scale is not None:
            signs = signs * row_scale
        if A.ndim == 1:
            return self._apply(A.reshape(-1, 1), row_scale)[:, 0]
        if sp.issparse(A):
            A = sp.csc_array(A)
        n = A.shape[1]
        out = np.empty((d, n), dtype=dtype)
        for j in range(0, n, _SRTT_COLUMN_BLOCK):
            cols = slice(j, min(j + _SRTT_COLUMN_BLOCK, n))
            block = A[:, cols]
            block = block.toarray() if sp.issparse(block) else np.array(block)
            block = block.reshape(m, -1)
            block = block.astype(dtype, copy=False) * signs[:, None]
            block = scipy.fft.dct(
                block,
                type=2,
                norm="ortho",
                axis=0,
                overwrite_x=True,
                workers=_n_threads(),
            )
            out[:, cols] = block[self._rows]
        out *= np.sqrt(m / d)
        return out


def make_embedding(method, sketch_size, n_rows, rng):
    """Draw a random embedding from ``R^n_rows`` to ``R^sketch_size``.

    Parameters
    ----------
    method : {"sparse_sign", "gaussian", "srtt"}
        The family of the embedding.
    sketch_size : int
        Number of rows ``d`` of the embedding.
    n_rows : int
        Number of rows ``m`` of the matrices it will be applied to.
    rng : numpy.random.Generator, RandomState, int or None
        Source of randomness.

    Returns
    -------
    S : object
        Supports ``S @ A`` and ``S.apply(A, row_scale)`` for a dense or sparse
        ``A`` with ``n_rows`` rows, and returns a dense array with
        ``sketch_size`` rows. The same ``S`` is applied at every call.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias._sketch import make_embedding
    >>> rng = np.random.default_rng(0)
    >>> A = rng.standard_normal((1000, 5))
    >>> S = make_embedding("sparse_sign", 40, 1000, rng)
    >>> (S @ A).shape
    (40, 5)
    """
    if (
        isinstance(sketch_size, bool)
        or not isinstance(sketch_size, numbers.Integral)
        or sketch_size < 1
    ):
        raise ValueError(f"sketch_size must be a positive integer, got {sketch_size!r}")
    if not isinstance(n_rows, numbers.Integral) or n_rows < 1:
        raise ValueError(f"n_rows must be a positive integer, got {n_rows!r}")
    sketch_size, n_rows = int(sketch_size), int(n_rows)
    if method == "sparse_sign":
        return SparseSignEmbedding(sketch_size, n_rows, rng)
    if method == "gaussian":
        return GaussianEmbedding(sketch_size, n_rows, rng)
    if method == "srtt":
        if sketch_size > n_rows:
            raise ValueError(
                f"the srtt sketch keeps sketch_size={sketch_size} of {n_rows} rows; "
                "it cannot be larger than the number of rows"
            )
        return SRTTEmbedding(sketch_size, n_rows, rng)
    raise ValueError(f"sketch must be one of {EMBEDDINGS}, got {method!r}")


def random_test_matrix(n, k, rng, kind="gaussian", dtype=np.float64):
    """Random test (probe) matrix of shape ``(n, k)``.

    Parameters
    ----------
    n, k : int
        Shape of the matrix.
    rng : numpy.random.Generator
        Source of randomness.
    kind : {"gaussian", "rademacher"}, default="gaussian"
        Standard normal entries, or independent random signs.
    dtype : dtype, default=np.float64
        Data type of the result.

    Returns
    -------
    Omega : ndarray of shape (n, k)
    """
    if kind == "gaussian":
        return rng.standard_normal((n, k)).astype(dtype, copy=False)
    if kind == "rademacher":
        return (2.0 * rng.integers(0, 2, size=(n, k)) - 1.0).astype(dtype, copy=False)
    raise ValueError(f"probe kind must be 'gaussian' or 'rademacher', got {kind!r}")


def orthonormal_basis(Y):
    """Orthonormal basis of the range of ``Y`` by a Householder QR.

    Parameters
    ----------
    Y : ndarray of shape (n, k)
        Matrix whose range is wanted, ``k <= n``.

    Returns
    -------
    Q : ndarray of shape (n, k)
        Orthonormal columns spanning the range of ``Y`` (when ``Y`` has full
        column rank; otherwise a superset of it).
    """
    Q, _ = scipy.linalg.qr(Y, mode="economic", check_finite=False)
    return Q


def randomized_range_finder(matmat, n, rank, rng, n_power_iter=0, rmatmat=None):
    """Orthonormal ``Q`` of shape ``(n, rank)`` whose range approximates ``A``'s.

    Parameters
    ----------
    matmat : callable
        ``matmat(X)`` returns ``A @ X`` for ``X`` of shape ``(n, k)``.
    n : int
        Number of columns of ``A``.
    rank : int
        Number of columns of ``Q`` (include any oversampling).
    rng : numpy.random.Generator
        Source of randomness.
    n_power_iter : int, default=0
        Subspace iterations, each re-orthonormalised.
    rmatmat : callable, default=None
        ``rmatmat(X)`` returns ``A.T @ X``; defaults to ``matmat`` (symmetric A).

    Returns
    -------
    Q : ndarray of shape (n_rows_of_A, rank)
    """
    rmatmat = matmat if rmatmat is None else rmatmat
    Q = orthonormal_basis(matmat(random_test_matrix(n, rank, rng)))
    for _ in range(n_power_iter):
        Q = orthonormal_basis(rmatmat(Q))
        Q = orthonormal_basis(matmat(Q))
    return Q


def nystrom_approximation(Omega, Y):
    """Numerically stable Nyström approximation ``A ~ U diag(eigvals) U^T``.

    Given a test matrix ``Omega`` and the sketch ``Y = A @ Omega`` of a symmetric
    positive semi-definite ``A``, returns the eigendecomposition of
    ``Y (Omega^T Y)^+ Y^T``, computed with a small shift for stability
    (Tropp, Yurtsever, Udell and Cevher, 2017, Algorithm 3).

    Parameters
    ----------
    Omega : ndarray of shape (n, k)
        Test matrix.
    Y : ndarray of shape (n, k)
        ``A @ Omega``.

    Returns
    -------
    U : ndarray of shape (n, k)
        Orthonormal eigenvectors.
    eigvals : ndarray of shape (k,)
        Non-negative eigenvalues, in decreasing order.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias._sketch import nystrom_approximation
    >>> rng = np.random.default_rng(0)
    >>> V = np.linalg.qr(rng.standard_normal((50, 3)))[0]
    >>> A = V @ np.diag([3.0, 2.0, 1.0]) @ V.T
    >>> Omega = rng.standard_normal((50, 5))
    >>> U, lam = nystrom_approximation(Omega, A @ Omega)
    >>> np.round(lam[:3], 8)
    array([3., 2., 1.])
    """
    n = Y.shape[0]
    nu = np.sqrt(n) * np.finfo(np.float64).eps * np.linalg.norm(Y)
    Y_nu = Y + nu * Omega
    core = Omega.T @ Y_nu
    core = 0.5 * (core + core.T)
    try:
        C = scipy.linalg.cholesky(core, lower=False, check_finite=False)
        B = scipy.linalg.solve_triangular(C, Y_nu.T, trans="T", check_finite=False).T
    except np.linalg.LinAlgError:
        # Fall back to an eigendecomposition of the core when it is indefinite
        # in floating point (A only numerically PSD).
        w, V = scipy.linalg.eigh(core)
        keep = w > w.max() * 1e-12
        B = Y_nu @ (V[:, keep] / np.sqrt(w[keep]))
    U, s, _ = scipy.linalg.svd(B, full_matrices=False, check_finite=False)
    eigvals = np.maximum(s**2 - nu, 0.0)
    return U, eigvals
