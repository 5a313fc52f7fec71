"""Oblivious subspace embeddings: random maps that compress the rows of a matrix.

An embedding ``S`` of shape ``(d, m)`` is applied as ``S @ A`` to a dense or
sparse ``A`` with ``m`` rows (sketch-and-precondition least squares): sparse
sign, Gaussian and the subsampled randomized trigonometric transform.

Random streams follow the package's one rule (:mod:`sklearn_debias.utils`):
the sparse sign and Gaussian embeddings cut the rows into fixed global blocks
and draw block ``c`` from the ``c``-th child spawned from ``random_state``, so
a computation that sees the rows in other chunks reproduces the same ``S``.
Block contributions are added by :func:`~sklearn_debias.utils.threaded_sum`,
whose fixed grouping makes ``S @ A`` independent of the thread count.

References
----------
Martinsson, P.-G. and Tropp, J. A. (2020). Randomized numerical linear algebra:
foundations and algorithms. *Acta Numerica* 29, 403-572.
"""

import numbers

import numpy as np
import scipy.fft
import scipy.sparse as sp

from ..utils import _parallel, check_generator, spawn_seeds

__all__ = [
    "EMBEDDINGS",
    "GaussianEmbedding",
    "SRTTEmbedding",
    "ShiftedRows",
    "SparseSignEmbedding",
    "make_embedding",
]

EMBEDDINGS = ("sparse_sign", "gaussian", "srtt")

# Rows of A processed at a time by the Gaussian embedding and by the sparse sign
# embedding, so that their extra memory stays O(d * chunk) rather than O(d * m).
# These are the fixed global row blocks that the seeds are attached to.
_CHUNK_ROWS = 16_384
_SPARSE_CHUNK_ROWS = 65_536
# Columns of A transformed at a time by the SRTT (extra memory O(m * block)).
_SRTT_COLUMN_BLOCK = 16


def _sketch_dtype(A):
    """Floating dtype of ``S @ A``: float32 stays float32, all else is float64."""
    return np.float32 if A.dtype == np.float32 else np.float64


def _n_blocks(m, rows):
    return max(-(-m // rows), 1)


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


def _block_product(S, A, start, stop):
    """``S @ A[start:stop]`` for a block ``S`` (dense or sparse) of columns."""
    if isinstance(A, ShiftedRows):
        prod = 0.0
        for off, block in A.row_blocks(start, stop):
            prod = prod + S[:, off : off + block.shape[0]] @ block
    elif sp.issparse(A) and not sp.issparse(S):
        prod = (A[start:stop].T @ S.T).T
    else:
        prod = S @ A[start:stop]
    return prod.toarray() if sp.issparse(prod) else prod


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

    ``S`` is never stored: its columns are generated for fixed global blocks
    of 65,536 rows of ``A``, block ``c`` from the ``c``-th child spawned from
    ``random_state``, so its extra memory is ``O(zeta * chunk + d * n)``.
    Blocks are applied as column-oriented sparse products, which stream ``A``
    once, in a few threads (scipy releases the GIL).

    Parameters
    ----------
    d, m : int
        Shape of ``S``.
    random_state : int, None, RandomState, Generator or SeedSequence
        Source of the per-block child streams.
    zeta : int, default=8
        Nonzeros per column.
    """

    def __init__(self, d, m, random_state, zeta=8):
        super().__init__(d, m)
        self.zeta = zeta = int(min(zeta, d))
        bounds = np.linspace(0, d, zeta + 1).astype(np.int64)
        self._lows = bounds[:-1].astype(np.int32)
        self._sizes = np.diff(bounds).astype(np.float64)
        self._seeds = spawn_seeds(random_state, _n_blocks(m, _SPARSE_CHUNK_ROWS))

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

    # Rows of A per fixed global block (the unit the seeds are attached to).
    block_rows = _SPARSE_CHUNK_ROWS

    def block_part(self, c, arrays, row_scale=None):
        """``S[:, block c] @ diag(row_scale) @ A`` for arrays holding block ``c``.

        The contribution of the fixed global row block ``c`` alone, computed
        exactly as :meth:`apply_many` computes it: summed in the order of
        :func:`~sklearn_debias.utils.threaded_sum`, the parts reproduce
        ``apply_many`` bit for bit (used by the chunked sketch of dask arrays).

        Parameters
        ----------
        c : int
            Block index.
        arrays : list of ndarray or ShiftedRows
            Rows ``[c * block_rows, (c + 1) * block_rows)`` of each matrix.
        row_scale : ndarray or None
            The same rows of the row scale.

        Returns
        -------
        parts : list of ndarray
        """
        chunks, out = {}, []
        for A in arrays:
            dtype = _sketch_dtype(A)
            if dtype not in chunks:
                C = self._chunk(c, dtype)
                if row_scale is not None:
                    C.data *= np.repeat(row_scale, self.zeta)
                chunks[dtype] = C
            out.append(
                _block_product(
                    chunks[dtype], A.astype(dtype, copy=False), 0, A.shape[0]
                )
            )
        return out

    def _apply_many(self, arrays, row_scale):
        dtypes = [_sketch_dtype(A) for A in arrays]
        blocks = []
        for A, dtype in zip(arrays, dtypes, strict=True):
            if sp.issparse(A) and A.format != "csr":
                # Row slices of CSC are slow; CSR row slices are cheap views.
                A = sp.csr_array(A)
            blocks.append(A.astype(dtype, copy=False))

        def part(c):
            chunks, out = {}, []
            for A, dtype in zip(blocks, dtypes, strict=True):
                if dtype not in chunks:
                    chunks[dtype] = self._chunk(c, dtype, row_scale)
                C = chunks[dtype]
                start = c * _SPARSE_CHUNK_ROWS
                out.append(_block_product(C, A, start, start + C.shape[1]))
            return out

        return _parallel.threaded_sum(part, len(self._seeds))


class GaussianEmbedding(_Embedding):
    """Dense Gaussian embedding with i.i.d. ``N(0, 1/d)`` entries, in row blocks.

    The matrix is never stored: the columns of ``S`` for fixed global blocks
    of 16,384 rows are regenerated from per-block child streams, so memory
    stays ``O(d * chunk)`` and ``S`` is the same for every array it is applied
    to. Costs ``2 d nnz(A)`` flops plus ``d m`` normal draws: for operators
    and sparse ``A`` rather than for tall dense ones.

    Parameters
    ----------
    d, m : int
        Shape of ``S``.
    random_state : int, None, RandomState, Generator or SeedSequence
        Source of the per-block child streams.
    """

    def __init__(self, d, m, random_state):
        super().__init__(d, m)
        self._seeds = spawn_seeds(random_state, _n_blocks(m, _CHUNK_ROWS))

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
            return [_block_product(S, A, start, stop)]

        return _parallel.threaded_sum(part, len(self._seeds))[0]

    # Rows of A per fixed global block (the unit the seeds are attached to).
    block_rows = _CHUNK_ROWS

    def block_part(self, c, arrays, row_scale=None):
        """``S[:, block c] @ diag(row_scale) @ A`` for arrays holding block ``c``.

        See :meth:`SparseSignEmbedding.block_part`.
        """
        d, out = self.shape[0], []
        for A in arrays:
            dtype = _sketch_dtype(A)
            count = A.shape[0]
            S = np.random.default_rng(self._seeds[c]).standard_normal(
                (d, count), dtype=dtype
            )
            S *= 1.0 / np.sqrt(d)
            if row_scale is not None:
                S *= row_scale.astype(dtype)
            out.append(_block_product(S, A.astype(dtype, copy=False), 0, count))
        return out


class SRTTEmbedding(_Embedding):
    """Subsampled randomized trigonometric transform ``sqrt(m/d) R F D``.

    ``D`` flips signs at random, ``F`` is the orthonormal DCT-II (``scipy.fft``)
    and ``R`` keeps ``d`` rows drawn without replacement. Costs
    ``O(m n log m)``; ``A`` is transformed a few columns at a time, so the
    extra memory is ``O(m * 16 + d * n)``. The transform mixes every row, so
    it is drawn from one stream (``check_generator(random_state)``).

    Parameters
    ----------
    d, m : int
        Shape of ``S``.
    random_state : int, None, RandomState, Generator or SeedSequence
        Source of the signs and of the kept rows.
    """

    def __init__(self, d, m, random_state):
        super().__init__(d, m)
        rng = check_generator(random_state)
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
            # Each column is transformed on its own: the result does not
            # depend on the number of workers.
            block = scipy.fft.dct(
                block,
                type=2,
                norm="ortho",
                axis=0,
                overwrite_x=True,
                workers=_parallel.n_threads(),
            )
            out[:, cols] = block[self._rows]
        out *= np.sqrt(m / d)
        return out


def make_embedding(method, sketch_size, n_rows, random_state):
    """Draw a random embedding from ``R^n_rows`` to ``R^sketch_size``.

    Parameters
    ----------
    method : {"sparse_sign", "gaussian", "srtt"}
        The family of the embedding.
    sketch_size : int
        Number of rows ``d`` of the embedding.
    n_rows : int
        Number of rows ``m`` of the matrices it will be applied to.
    random_state : int, None, RandomState, Generator or SeedSequence
        Source of randomness (see :mod:`sklearn_debias.utils`).

    Returns
    -------
    S : object
        Supports ``S @ A`` and ``S.apply(A, row_scale)`` for a dense or sparse
        ``A`` with ``n_rows`` rows, and returns a dense array with
        ``sketch_size`` rows. The same ``S`` is applied at every call.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias._randnla import make_embedding
    >>> A = np.random.default_rng(0).standard_normal((1000, 5))
    >>> S = make_embedding("sparse_sign", 40, 1000, random_state=0)
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
        return SparseSignEmbedding(sketch_size, n_rows, random_state)
    if method == "gaussian":
        return GaussianEmbedding(sketch_size, n_rows, random_state)
    if method == "srtt":
        if sketch_size > n_rows:
            raise ValueError(
                f"the srtt sketch keeps sketch_size={sketch_size} of {n_rows} rows; "
                "it cannot be larger than the number of rows"
            )
        return SRTTEmbedding(sketch_size, n_rows, random_state)
    raise ValueError(f"sketch must be one of {EMBEDDINGS}, got {method!r}")
