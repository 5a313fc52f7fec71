"""The data matrix ``X - 1 mean^T`` as an operator, in memory or chunked by rows.

:class:`_DataOperator` applies the (implicitly centred) matrix to blocks of
vectors without forming it. :class:`ChunkedDataOperator` does the same for a
row-chunked ``dask.array`` through the package's one chunked abstraction,
:class:`~sklearn_debias._randnla._chunked.ChunkedOperator`: every chunk is a
:class:`_DataOperator` on the workers, products ``X V`` stay lazy dask
arrays, and only ``n``-sized sums reach the client.
"""

import numpy as np

from .._randnla._operators import BlockOperator

__all__ = ["ChunkedDataOperator", "column_statistics"]


class _DataOperator(BlockOperator):
    """``X - 1 mean^T`` (``mean=None``: ``X``) applied without forming it."""

    def __init__(self, X, mean=None):
        super().__init__(X.shape)
        self.X = X
        self.mean = mean

    def _matmat(self, V):
        Y = self.X @ V
        if self.mean is not None:
            Y = Y - (self.mean @ V)[None, :]
        return np.asarray(Y)

    def _rmatmat(self, W):
        Z = self.X.T @ W
        if self.mean is not None:
            Z = Z - np.outer(self.mean, W.sum(axis=0))
        return np.asarray(Z)


def _chunk_rmatmat(Xc, Rc, mean):
    return [_DataOperator(Xc, mean).rmatmat(np.asarray(Rc, dtype=np.float64))]


def _chunk_normal(Xc, V, mean):
    """The chunk's part of ``(X - 1 mean^T)^T (X - 1 mean^T) V``, as in memory.

    NaN or infinity in the chunk is reported by the client (which raises),
    not warned about by every worker.
    """
    op = _DataOperator(Xc, mean)
    with np.errstate(invalid="ignore", over="ignore"):
        return [op.rmatmat(op.matmat(V))]


def _chunk_statistics(Xc, shift):
    """Sums of ``X_c - shift`` and of its squares, and the non-finite entries."""
    D = np.asarray(Xc, dtype=np.float64) - shift
    bad = np.count_nonzero(~np.isfinite(D))
    return [D.sum(axis=0), np.einsum("ij,ij->j", D, D), np.array([float(bad)])]


def raise_nonfinite(X, name="X"):
    """``ValueError`` naming the count and the first row of non-finite entries.

    One extra pass over ``X``, taken only on this error path. When ``X`` is
    finite, the non-finite products came from overflow and say so.
    """
    import dask
    import dask.array as da

    finite = da.isfinite(X)
    count, first = dask.compute((~finite).sum(), da.argmin(finite.all(axis=1)))
    if count:
        raise ValueError(
            f"Input {name} contains NaN or infinity: {int(count)} entries, first "
            f"in row {int(first)}."
        )
    raise ValueError(
        f"products with {name} overflowed to infinity: its values are too large "
        "for float64 arithmetic; scale it down"
    )


class ChunkedDataOperator(BlockOperator):
    """``X - 1 mean^T`` for a row-chunked dask ``X``, applied chunk by chunk.

    Parameters
    ----------
    chunked : ChunkedOperator
        Over ``X`` (checked and persisted).
    mean : ndarray of shape (n,), default=None
        Column means subtracted implicitly (``None``: ``X`` itself).
    name : str, default="X"
        Name of the data in error messages.

    Notes
    -----
    ``matmat`` returns a lazy dask array with ``X``'s row chunks (``m``-sized
    results never reach the client); ``rmatmat`` and :meth:`normal_matmat`
    are one map-reduce pass each, whose sum over the chunks is the in-memory
    ``_DataOperator``'s product, so results agree with an in-memory fit to
    rounding.

    Examples
    --------
    >>> import numpy as np
    >>> import pytest
    >>> da = pytest.importorskip("dask.array")
    >>> from sklearn_debias._randnla._chunked import ChunkedOperator
    >>> from sklearn_debias.decomposition._data import ChunkedDataOperator
    >>> X = np.arange(12.0).reshape(6, 2)
    >>> op = ChunkedDataOperator(ChunkedOperator(da.from_array(X, chunks=(4, 2))))
    >>> op.normal_matmat(np.eye(2))
    array([[220., 250.],
           [250., 286.]])
    >>> op.matmat(np.ones((2, 1))).compute()[:, 0]
    array([ 1.,  5.,  9., 13., 17., 21.])
    """

    def __init__(self, chunked, mean=None, name="X"):
        super().__init__(chunked.shape)
        self.chunked = chunked
        self.name = name
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float64)

    @property
    def n_passes(self):
        """Passes over ``X`` so far (of the wrapped :class:`ChunkedOperator`)."""
        return self.chunked.n_passes

    def _checked(self, Z):
        if not np.all(np.isfinite(Z)):
            raise_nonfinite(self.chunked.X, self.name)
        return Z

    def _matmat(self, V):
        """``(X - 1 mean^T) V``: a lazy dask array with ``X``'s row chunks."""
        V = np.asarray(V, dtype=np.float64)
        Y = self.chunked.matmat(V)
        return Y if self.mean is None else Y - self.mean @ V

    def _rmatmat(self, R):
        """``(X - 1 mean^T)^T R`` for ``R`` with ``m`` rows, one pass."""
        R = self.chunked.align(R, "R")
        (Z,) = self.chunked.map_reduce(_chunk_rmatmat, R, args=(self.mean,))
        return self._checked(Z)

    def normal_matmat(self, V):
        """``(X - 1 mean^T)^T (X - 1 mean^T) V`` in one pass; counts ``2 k``."""
        V = np.asarray(V, dtype=np.float64)
        (Z,) = self.chunked.map_reduce(_chunk_normal, args=(V, self.mean))
        self.n_matvecs += 2 * V.shape[1]
        return self._checked(Z)


def column_statistics(chunked):
    """Column means and total variance of a chunked ``X`` in one pass.

    The sums are of ``X - x_0`` (``x_0`` its first row), so the variance is
    free of the cancellation of ``E[x^2] - E[x]^2`` when the means are large.

    Parameters
    ----------
    chunked : ChunkedOperator

    Returns
    -------
    mean : ndarray of shape (n,)
    total_variance : float
        Sum of the column variances (``ddof=0``).

    Raises
    ------
    ValueError
        When ``X`` contains NaN or infinity (naming the first such row).
    """
    X = chunked.X
    m = X.shape[0]
    shift = np.asarray(X[:1].compute(), dtype=np.float64).ravel()
    if not np.all(np.isfinite(shift)):
        raise_nonfinite(X)
    S1, S2, bad = chunked.map_reduce(_chunk_statistics, args=(shift,))
    if bad[0] > 0:
        raise_nonfinite(X)
    d = S1 / m
    variance = np.maximum(S2 / m - d**2, 0.0)
    return shift + d, float(variance.sum())
