"""Operators over row-chunked dask arrays: map-reduce passes and chunkwise sketches.

A tall matrix that lives on a dask cluster, chunked along its rows, is used
here only through passes over its (persisted) chunks:

* :class:`ChunkedOperator` is a :class:`~sklearn_debias._randnla.BlockOperator`
  whose ``matmat`` is ``X_c V`` per chunk (a dask array with ``X``'s row
  chunks) and whose ``rmatmat`` sums ``X_c^T R_c``; :meth:`ChunkedOperator.map_reduce`
  runs any per-chunk function and sums its results as a fixed binary tree on
  the workers, so only the ``n``-sized totals reach the client.
* :func:`chunked_sketch` applies a block embedding (sparse sign, Gaussian) to
  dask arrays: every fixed global block of rows of the embedding (not a dask
  chunk) is sketched by one task, and the blocks are added in the order of
  :func:`~sklearn_debias.utils.threaded_sum`, so the sketch equals the
  in-memory ``S.apply_many`` for the same ``random_state`` whatever the
  chunking.

dask is imported only when one of these is used: the rest of the package
works without it.
"""

import numpy as np

from ..utils import _parallel, import_extra
from ._embeddings import ShiftedRows, _sketch_dtype
from ._operators import BlockOperator

__all__ = [
    "ChunkedOperator",
    "check_fitted_columns",
    "check_row_chunked",
    "chunked_sketch",
    "is_dask_array",
]

# A row chunk larger than this (with all its columns) is not assembled from
# column chunks automatically.
_MAX_CHUNK_BYTES = 2**30


def is_dask_array(X):
    """Whether ``X`` is a ``dask.array.Array`` (checked without importing dask).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias._randnla._chunked import is_dask_array
    >>> is_dask_array(np.ones(3))
    False
    """
    return (
        type(X).__module__.split(".")[0] == "dask"
        and hasattr(X, "chunks")
        and hasattr(X, "to_delayed")
    )


def _import_dask():
    return import_extra(("dask", "dask.array"), "dask", "dask arrays need")


def check_row_chunked(X, name="X", ndim=(2,), rows=None):
    """Check a dask array chunked along rows; put all its columns in one chunk.

    Parameters
    ----------
    X : dask.array.Array
    name : str, default="X"
        Name used in error messages.
    ndim : tuple of int, default=(2,)
        Allowed numbers of dimensions.
    rows : int, default=None
        Required number of rows.

    Returns
    -------
    X : dask.array.Array
        Float32 or float64, with one chunk along the columns.

    Raises
    ------
    ValueError
        Unknown chunk sizes, a wrong shape, or column chunks that cannot be
        joined into row chunks of reasonable size.
    TypeError
        A non-numeric, complex or non-numpy (e.g. sparse) chunk type.
    """
    if X.ndim not in ndim:
        raise ValueError(
            f"{name} must have {' or '.join(map(str, ndim))} dimensions, "
            f"got shape {X.shape}"
        )
    if any(np.isnan(c) for axis in X.chunks for c in axis):
        raise ValueError(
            f"{name} has unknown chunk sizes (NaN in {name}.chunks, e.g. after "
            f"boolean indexing or from a dataframe's .values): call "
            f"{name}.compute_chunk_sizes() or pass lengths= to to_dask_array() first"
        )
    if rows is not None and X.shape[0] != rows:
        raise ValueError(f"{name} has {X.shape[0]} rows, expected {rows}")
    meta = getattr(X, "_meta", None)
    if meta is not None and not isinstance(meta, np.ndarray):
        raise TypeError(
            f"{name} must have numpy chunks, got chunks of type {type(meta).__name__}"
        )
    if not np.issubdtype(X.dtype, np.number) or np.issubdtype(
        X.dtype, np.complexfloating
    ):
        raise TypeError(f"{name} must be a real numeric array, got dtype {X.dtype}")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if X.ndim == 2 and len(X.chunks[1]) > 1:
        biggest = max(X.chunks[0]) * X.shape[1] * X.dtype.itemsize
        if biggest > _MAX_CHUNK_BYTES:
            raise ValueError(
                f"{name} is chunked along its columns (column chunks "
                f"{X.chunks[1][:5]}...) and its row chunks hold "
                f"{biggest / 2**20:.0f} MiB with all columns: chunk it along rows "
                f"only, e.g. {name}.rechunk({{0: 100_000, 1: -1}})"
            )
        X = X.rechunk({1: -1})
    return X


def check_fitted_columns(estimator, X):
    """A dask ``X`` checked for a fitted estimator's ``predict``/``transform``.

    Row-chunked (:func:`check_row_chunked`) with ``estimator.n_features_in_``
    columns, or a ``ValueError`` worded as scikit-learn's.
    """
    X = check_row_chunked(X)
    if X.shape[1] != estimator.n_features_in_:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(estimator).__name__} is "
            f"expecting {estimator.n_features_in_} features as input."
        )
    return X


def _delayed_blocks(A):
    """Per-row-chunk delayed objects of a dask array (one column chunk)."""
    return list(A.to_delayed().ravel())


def _sum_lists(*parts):
    """Elementwise sum of lists of arrays, in the order given."""
    total = [
        np.array(p, dtype=np.result_type(p, np.float64), copy=True) for p in parts[0]
    ]
    for part in parts[1:]:
        for acc, p in zip(total, part, strict=True):
            acc += p
    return total


def _tree_reduce(dask, parts):
    """Sum a list of delayed lists as a fixed balanced binary tree."""
    summed = dask.delayed(_sum_lists, pure=True)
    while len(parts) > 1:
        parts = [
            summed(*parts[i : i + 2]) if i + 1 < len(parts) else parts[i]
            for i in range(0, len(parts), 2)
        ]
    return parts[0]


def _apply_chunk(func, args, *blocks):
    return list(func(*blocks, *args))


class ChunkedOperator(BlockOperator):
    """``A`` given by a dask array chunked along rows, applied chunk by chunk.

    ``X`` is persisted (on the cluster when a ``distributed`` client is the
    default scheduler) once; every product is one pass over its chunks, and
    only ``n``-sized results come back to the client.

    Parameters
    ----------
    X : dask.array.Array of shape (m, n)
        Chunked along rows (column chunks are joined).
    persist : bool, default=True
        Whether to persist ``X`` (it is then computed once, not per pass).

    Attributes
    ----------
    X : dask.array.Array
        The checked, persisted array.
    n_passes : int
        Passes over ``X`` so far.

    Examples
    --------
    >>> import numpy as np
    >>> import pytest
    >>> da = pytest.importorskip("dask.array")
    >>> from sklearn_debias._randnla._chunked import ChunkedOperator
    >>> X = da.from_array(np.arange(12.0).reshape(6, 2), chunks=(2, 2))
    >>> op = ChunkedOperator(X)
    >>> op.rmatmat(np.ones((6, 1)))[:, 0], op.n_passes
    (array([30., 36.]), 1)
    >>> op.matmat(np.ones((2, 1))).compute()[:, 0]
    array([ 1.,  5.,  9., 13., 17., 21.])
    """

    def __init__(self, X, persist=True):
        self._dask = _import_dask()
        X = check_row_chunked(X)
        if persist:
            X = X.persist()
        super().__init__(X.shape)
        self.X = X
        self.n_passes = 0
        # Called with the number of passes after each one (progress reports).
        self.on_pass = None
        self._blocks = _delayed_blocks(X)

    def align(self, A, name="array"):
        """``A`` (numpy or dask, ``m`` rows) as a dask array with ``X``'s row chunks."""
        import dask.array as da

        chunks = {0: self.X.chunks[0]}
        if is_dask_array(A):
            if any(np.isnan(c) for c in A.chunks[0]):
                raise ValueError(f"{name} has unknown chunk sizes")
            if A.ndim == 2:
                chunks[1] = -1
            if A.chunks[0] == self.X.chunks[0] and (
                A.ndim == 1 or len(A.chunks[1]) == 1
            ):
                return A
            return A.rechunk(chunks)
        A = np.asarray(A)
        return da.from_array(A, chunks=(self.X.chunks[0],) + A.shape[1:])

    def map_reduce(self, func, *arrays, args=()):
        """``sum_c func(X_c, *arrays_c, *args)``: one pass, summed on the workers.

        Parameters
        ----------
        func : callable
            ``func(X_c, *blocks, *args)`` returns a list of arrays; it must be
            picklable (a module-level function or a ``functools.partial``).
        *arrays : dask arrays or None
            Arrays with ``X``'s row chunks (see :meth:`align`); ``None`` is
            passed as ``None`` for every chunk.
        args : tuple
            Small arguments (shipped to every task).

        Returns
        -------
        total : list of ndarray
            Summed over the chunks as a fixed binary tree (the same for every
            scheduler and number of workers).
        """
        dask = self._dask
        n_chunks = len(self._blocks)
        columns = [
            [None] * n_chunks if A is None else _delayed_blocks(A) for A in arrays
        ]
        task = dask.delayed(_apply_chunk, pure=True)
        args_d = dask.delayed(tuple(args), pure=True) if args else ()
        parts = [
            task(func, args_d, self._blocks[c], *(col[c] for col in columns))
            for c in range(n_chunks)
        ]
        (total,) = dask.compute(_tree_reduce(dask, parts))
        self.n_passes += 1
        if self.on_pass is not None:
            self.on_pass(self.n_passes)
        return total

    def _matmat(self, V):
        """``X @ V`` as a lazy dask array with ``X``'s row chunks."""
        V = np.asarray(V, dtype=np.float64)
        return self.X.map_blocks(
            _right_product,
            V,
            chunks=(self.X.chunks[0], (V.shape[1],)),
            dtype=np.float64,
        )

    def _rmatmat(self, R):
        """``X.T @ R`` for ``R`` with ``m`` rows (numpy or dask), one pass."""
        return self.map_reduce(_left_product, self.align(R, "R"))[0]

    def gram(self, V):
        """``X^T X V`` in one pass."""
        self.n_matvecs += 2 * V.shape[1]
        return self.map_reduce(_gram_chunk, args=(np.asarray(V, dtype=np.float64),))[0]


def _right_product(Xc, V):
    return Xc @ V


def _left_product(Xc, Rc):
    return [Xc.T @ Rc]


def _gram_chunk(Xc, V):
    return [Xc.T @ (Xc @ V)]


def _sketch_block(S, c, shifts, extra, n_arrays, *blocks):
    """Block ``c``'s contribution: ``S.block_part`` (+ ``extra``'s statistics)."""
    arrays, rest = list(blocks[:n_arrays]), blocks[n_arrays:]
    row_scale, extra_blocks = rest[0], rest[1:]
    sketched = [
        A if shift is None else ShiftedRows(A, shift)
        for A, shift in zip(arrays, shifts, strict=True)
    ]
    parts = S.block_part(c, sketched, row_scale)
    if extra is not None:
        parts += list(extra(c, arrays, row_scale, extra_blocks))
    return parts


def _group_total(*items):
    """One task of :func:`~sklearn_debias.utils.threaded_sum` (first copied)."""
    total = [np.array(part, copy=True) for part in items[0]]
    for parts in items[1:]:
        for acc, part in zip(total, parts, strict=True):
            acc += part
    return total


def _add_in_place(total, parts):
    total = [np.array(t, copy=True) for t in total]
    for acc, part in zip(total, parts, strict=True):
        acc += part
    return total


def chunked_sketch(S, arrays, row_scale=None, shifts=None, extra=None, extra_arrays=()):
    """``S @ diag(row_scale) @ A`` for row-chunked dask arrays, one pass.

    Each fixed global block of rows of ``S`` (``S.block_rows`` rows, seeded by
    its index) is one task on the rows of that block, whatever the dask
    chunks are, and the blocks are added in the fixed groups of
    :func:`~sklearn_debias.utils.threaded_sum`: the result is bit for bit the
    in-memory ``S.apply_many(arrays, row_scale)``.

    Parameters
    ----------
    S : SparseSignEmbedding or GaussianEmbedding
        A block embedding (one with ``block_rows`` and ``block_part``).
    arrays : list of dask.array.Array
        Arrays with ``S.shape[1]`` rows (1-D or 2-D; numpy arrays are
        wrapped).
    row_scale : dask.array.Array or ndarray of shape (m,), default=None
    shifts : list of (ndarray of shape (n,) or None), default=None
        Per array, a row vector subtracted from every row before sketching
        (as :class:`~sklearn_debias._randnla.ShiftedRows`).
    extra : callable, default=None
        ``extra(c, blocks, row_scale_block, extra_blocks)`` returns a list of
        arrays computed in the same pass and summed like the sketches
        (statistics, validity checks).
    extra_arrays : sequence of dask.array.Array, default=()
        Further arrays whose blocks are passed to ``extra`` only.

    Returns
    -------
    sketches : list of ndarray
        The sketches, then ``extra``'s totals.

    Examples
    --------
    >>> import numpy as np
    >>> import pytest
    >>> da = pytest.importorskip("dask.array")
    >>> from sklearn_debias._randnla import make_embedding
    >>> from sklearn_debias._randnla._chunked import chunked_sketch
    >>> A = np.random.default_rng(0).standard_normal((70_000, 3))
    >>> S = make_embedding("sparse_sign", 12, 70_000, random_state=0)
    >>> (SA,) = chunked_sketch(S, [da.from_array(A, chunks=(9_000, 3))])
    >>> bool(np.array_equal(SA, S @ A))
    True
    """
    dask = _import_dask()
    if not hasattr(S, "block_part"):
        raise ValueError(
            f"{type(S).__name__} mixes all rows and cannot be applied chunk by "
            "chunk: use the sparse_sign or gaussian sketch with dask arrays"
        )
    m, B = S.shape[1], S.block_rows
    n_blocks = max(-(-m // B), 1)
    shifts = [None] * len(arrays) if shifts is None else list(shifts)

    def blocks_of(A):
        if not is_dask_array(A):
            A = np.asarray(A)
            A = dask.array.from_array(A, chunks=(B,) + A.shape[1:])
        A = check_row_chunked(A, "array", ndim=(1, 2), rows=m)
        return _delayed_blocks(A.rechunk({0: B, **({1: -1} if A.ndim == 2 else {})}))

    columns = [blocks_of(A) for A in arrays]
    columns.append([None] * n_blocks if row_scale is None else blocks_of(row_scale))
    columns += [blocks_of(A) for A in extra_arrays]
    S_d = dask.delayed(S, pure=True, traverse=False)
    task = dask.delayed(_sketch_block, pure=True)
    parts = [
        task(S_d, c, shifts, extra, len(arrays), *(col[c] for col in columns))
        for c in range(n_blocks)
    ]
    group = _parallel._ITEMS_PER_TASK
    grouped = dask.delayed(_group_total, pure=True)
    totals = [grouped(*parts[i : i + group]) for i in range(0, n_blocks, group)]
    add = dask.delayed(_add_in_place, pure=True)
    total = totals[0]
    for t in totals[1:]:
        total = add(total, t)
    (total,) = dask.compute(total)
    dtypes = [_sketch_dtype(A) for A in arrays]
    out = [np.asarray(o, dtype=dt) for o, dt in zip(total, dtypes, strict=False)]
    return out + list(total[len(arrays) :])
