"""The weighted, centred, equilibrated (and ridge-augmented) design operator.

A least-squares or ridge problem with sample weights ``w``, an intercept and
column scaling ``D`` is the plain least-squares problem

    min_z || [W^{1/2} (X - 1 mu^T) D ; sqrt(alpha) D] z
             - [W^{1/2} (Y - 1 ybar^T) ; 0] ||

with ``coef = D z`` and ``intercept = ybar - mu . coef``. :class:`RegressionOperator`
applies this operator without forming it: the centring is a rank-one
correction, the weights and scales are applied to vectors, and every pass over
a dense ``X`` goes through row blocks that stay in cache, so ``A^T (b - A z)``
costs one read of ``X`` and no copy of it.
"""

import numpy as np
import scipy.sparse as sp

from .._randnla import LeastSquaresOperator
from ..utils import _parallel

# Bytes of X per row block of a fused pass (fits in a typical L2/L3 cache).
_BLOCK_BYTES = 2 * 2**20


class _PairwiseSum:
    """Sum of many arrays by pairwise (binary-tree) accumulation.

    ``X^T r`` summed over thousands of row blocks cancels to a small vector
    near the solution; pairwise accumulation keeps its rounding error
    ``O(log(n_blocks) eps)`` instead of ``O(n_blocks eps)``.
    """

    def __init__(self):
        self._stack = []  # (level, partial sum), levels strictly decreasing

    def add(self, value):
        level, value = 0, np.array(value, dtype=np.float64)
        while self._stack and self._stack[-1][0] == level:
            value += self._stack.pop()[1]
            level += 1
        self._stack.append((level, value))

    def total(self, shape):
        out = np.zeros(shape)
        for _, value in reversed(self._stack):
            out += value.reshape(shape)
        return out


def _tree_sum(P):
    """Sum of the rows of ``P`` as a balanced binary tree (rounding O(log m))."""
    while P.shape[0] > 1:
        h = P.shape[0] // 2
        Q = P[:h] + P[h : 2 * h]
        if P.shape[0] % 2:
            Q[-1] += P[-1]
        P = Q
    return P[0]


class RegressionOperator(LeastSquaresOperator):
    """The operator ``[W^{1/2} (X - 1 mu^T) D ; sqrt(alpha) D]`` and its target.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (m, n)
        float32 or float64; each block is promoted to float64 on the fly.
    Y : ndarray of shape (m, k)
        Targets (float64).
    sqrt_weights : ndarray of shape (m,) or None
    x_mean : ndarray of shape (n,)
        Weighted column means (zeros without an intercept).
    y_mean : ndarray of shape (k,)
    col_scale : ndarray of shape (n,)
        The diagonal of ``D``.
    alpha : float
        Ridge penalty; ``0`` means no augmentation rows.
    center_blocks : bool, default=False
        Subtract the means from each row block of a dense ``X`` (a block-sized
        temporary) instead of through the rank-one correction: slower, but
        free of cancellation when the means are much larger than the spread.
    """

    def __init__(
        self, X, Y, sqrt_weights, x_mean, y_mean, col_scale, alpha, center_blocks=False
    ):
        m, n = X.shape
        super().__init__((m + n if alpha > 0 else m, n))
        self.X, self.Y, self.sw = X, Y, sqrt_weights
        self.center_blocks = bool(center_blocks) and not sp.issparse(X)
        self.x_mean, self.y_mean = x_mean, y_mean
        self.col_scale, self.alpha = col_scale, float(alpha)
        self.m = m
        if sp.issparse(X):
            self._block_rows = max(m, 1)
        else:
            self._block_rows = max(64, _BLOCK_BYTES // (8 * max(n, 1)))

    def _block(self, start, stop):
        """Rows ``[start, stop)`` of ``X`` (centred, float64) and of ``sqrt(w)``."""
        Xb = self.X[start:stop]
        if self.center_blocks:
            Xb = Xb - self.x_mean
        elif not sp.issparse(Xb) and Xb.dtype != np.float64:
            Xb = Xb.astype(np.float64)
        sw = None if self.sw is None else self.sw[start:stop, None]
        return Xb, sw

    def _finish(self, G, S1, w, nrm2):
        """``D (G - mu S1^T)`` plus the ridge rows' contribution ``alpha D^2 w``."""
        D = self.col_scale[:, None]
        out = D * (G - np.outer(self.x_mean, S1))
        if self.alpha > 0:
            Dw = D * w
            out += self.alpha * D * Dw
            nrm2 = nrm2 + self.alpha * np.sum(Dw**2, axis=0)
        return out, nrm2

    def gram(self, w):
        """``(A^T A w, ||A w||^2)`` in one pass over ``X``."""
        return self._pass(w, residual=False)

    def residual_gradient(self, z):
        """``(A^T (b - A z), ||b - A z||^2)`` in one pass, the residual afresh."""
        g, nrm2 = self._pass(z, residual=True)
        if self.alpha > 0:
            # The ridge rows' residual is -sqrt(alpha) D z: flip the sign of
            # their contribution, which _finish added as +alpha D^2 z.
            g -= 2 * self.alpha * self.col_scale[:, None] ** 2 * z
        return g, nrm2

    def _pass(self, w, residual):
        """One read of ``X``: ``t = W^{1/2}(X x - c)`` (or the residual) per block,
        accumulating ``X^T W^{1/2} t``, its column sums and ``||t||^2``.

        The row blocks are cache-sized and summed by
        :func:`~sklearn_debias.utils.threaded_sum` in fixed groups, in a few
        threads each calling single-threaded BLAS (many small multithreaded
        BLAS calls would each pay a thread synchronisation, slow on a busy
        machine); the sum does not depend on the number of threads.
        """
        k = w.shape[1]
        x = self.col_scale[:, None] * w
        c = np.zeros(k) if self.center_blocks else self.x_mean @ x
        if k == 1:  # matrix-vector products (gemv) are faster than gemm here
            x, c = x[:, 0], c[0]

        def block(b):
            start = b * self._block_rows
            Xb, sw = self._block(start, min(start + self._block_rows, self.m))
            v = Xb @ x
            v -= c
            if residual:
                yb = self.Y[start : start + Xb.shape[0]] - self.y_mean
                v = (yb[:, 0] if k == 1 else yb) - v
            if sw is not None:
                v *= sw if k > 1 else sw[:, 0]
            nrm2 = np.einsum("i...,i...->...", v, v)
            if sw is not None:
                v *= sw if k > 1 else sw[:, 0]
            G = np.reshape(Xb.T @ v, (-1, k))
            return [G, np.reshape(v.sum(axis=0), k), np.reshape(nrm2, k)]

        n_blocks = -(-self.m // self._block_rows)
        G, S1, nrm2 = _parallel.threaded_sum(block, n_blocks, single_threaded_blas=True)
        if self.center_blocks:
            S1[:] = 0.0
        return self._finish(G, S1, w, nrm2)

    def residual_gradient_accurate(self, z):
        """``A^T (b - A z)`` with ``X^T r`` summed pairwise, or ``None``.

        Near the solution ``X^T r`` is a sum of large terms that cancel. BLAS
        sums each block's products one after another, and that rounding sets
        a floor on the forward error of large-residual problems several times
        above LAPACK's; the products themselves and the residual are fine in
        float64. Here the products of each block are summed as a balanced
        tree (and the blocks pairwise), which removes the floor. Dense ``X``
        only (``None`` for sparse ``X``).
        """
        if sp.issparse(self.X):
            return None
        x = self.col_scale[:, None] * z
        # Blocks centred explicitly (center_blocks) need no rank-one correction.
        c = np.zeros(z.shape[1]) if self.center_blocks else self.x_mean @ x
        k = x.shape[1]
        G, S1 = _PairwiseSum(), _PairwiseSum()
        for start in range(0, self.m, self._block_rows):
            stop = min(start + self._block_rows, self.m)
            Xb, sw = self._block(start, stop)
            v = (self.Y[start:stop] - self.y_mean) - (Xb @ x - c)
            if sw is not None:
                v *= sw**2
            G.add(np.stack([_tree_sum(Xb * v[:, [j]]) for j in range(k)], axis=1))
            S1.add(_tree_sum(v))
        G, S1 = G.total(x.shape), S1.total((k,))
        if self.center_blocks:
            S1[:] = 0.0
        g = self.col_scale[:, None] * (G - np.outer(self.x_mean, S1))
        if self.alpha > 0:
            g -= self.alpha * self.col_scale[:, None] ** 2 * z
        return g

    def _matmat(self, z):
        """``A @ z`` of shape ``(m [+ n], k)``."""
        x = self.col_scale[:, None] * z
        t = np.asarray(self.X @ x) - self.x_mean @ x
        if self.sw is not None:
            t *= self.sw[:, None]
        if self.alpha > 0:
            t = np.vstack([t, np.sqrt(self.alpha) * x])
        return t

    def _rmatmat(self, r):
        """``A.T @ r``."""
        top = r[: self.m]
        u = top * self.sw[:, None] if self.sw is not None else top
        g = np.asarray(self.X.T @ u) - np.outer(self.x_mean, u.sum(axis=0))
        g = self.col_scale[:, None] * g
        if self.alpha > 0:
            g += np.sqrt(self.alpha) * self.col_scale[:, None] * r[self.m :]
        return g

    def residual(self, z):
        """``b - A z``."""
        b = self.Y - self.y_mean
        if self.sw is not None:
            b = b * self.sw[:, None]
        if self.alpha > 0:
            b = np.vstack([b, np.zeros((self.shape[1], b.shape[1]))])
        return b - self.matmat(z)


def _chunk_operator(Xc, Yc, swc, params):
    """The chunk's rows of the (unaugmented) operator, as a RegressionOperator."""
    x_mean, y_mean, col_scale, center_blocks = params
    return RegressionOperator(
        Xc, Yc, swc, x_mean, y_mean, col_scale, 0.0, center_blocks=center_blocks
    )


def _chunk_pass(Xc, Yc, swc, w, residual, params):
    if Xc.shape[0] == 0:
        return [np.zeros(w.shape), np.zeros(w.shape[1])]
    op = _chunk_operator(Xc, Yc, swc, params)
    return list(op._pass(w, residual=residual))


def _chunk_accurate(Xc, Yc, swc, z, params):
    return [_chunk_operator(Xc, Yc, swc, params).residual_gradient_accurate(z)]


class ChunkedRegressionOperator(LeastSquaresOperator):
    """:class:`RegressionOperator` over row-chunked dask ``X``, ``Y`` and weights.

    Every fused pass runs :class:`RegressionOperator`'s pass on each
    (persisted) chunk on the workers and sums the ``n``-sized results by
    :meth:`~sklearn_debias._randnla._chunked.ChunkedOperator.map_reduce`; the
    ridge rows are added on the client. ``m``-sized vectors never reach the
    client, so only the fused passes are offered (CG and iterative
    sketching, not LSQR/LSMR).

    Parameters
    ----------
    chunked : ChunkedOperator
        Over ``X``.
    Y : dask.array.Array of shape (m, k)
        With ``X``'s row chunks.
    sqrt_weights : dask.array.Array of shape (m,) or None
        With ``X``'s row chunks.
    x_mean, y_mean, col_scale, alpha, center_blocks
        As for :class:`RegressionOperator`.
    """

    def __init__(
        self,
        chunked,
        Y,
        sqrt_weights,
        x_mean,
        y_mean,
        col_scale,
        alpha,
        center_blocks=False,
    ):
        m, n = chunked.shape
        super().__init__((m + n if alpha > 0 else m, n))
        self.chunked, self.Y, self.sw = chunked, Y, sqrt_weights
        self.col_scale, self.alpha = col_scale, float(alpha)
        self._params = (x_mean, y_mean, col_scale, bool(center_blocks))

    def _reduce(self, func, *args):
        return self.chunked.map_reduce(
            func, self.Y, self.sw, args=(*args, self._params)
        )

    def gram(self, w):
        """``(A^T A w, ||A w||^2)`` in one pass over the chunks."""
        g, nrm2 = self._reduce(_chunk_pass, w, False)
        if self.alpha > 0:
            Dw = self.col_scale[:, None] * w
            g = g + self.alpha * self.col_scale[:, None] * Dw
            nrm2 = nrm2 + self.alpha * np.sum(Dw**2, axis=0)
        self.n_matvecs += 2 * w.shape[1]
        return g, nrm2

    def residual_gradient(self, z):
        """``(A^T (b - A z), ||b - A z||^2)`` in one pass, the residual afresh."""
        g, nrm2 = self._reduce(_chunk_pass, z, True)
        if self.alpha > 0:
            Dz = self.col_scale[:, None] * z
            g = g - self.alpha * self.col_scale[:, None] * Dz
            nrm2 = nrm2 + self.alpha * np.sum(Dz**2, axis=0)
        self.n_matvecs += 2 * z.shape[1]
        return g, nrm2

    def residual_gradient_accurate(self, z):
        """``A^T (b - A z)``, each chunk summed pairwise and the chunks as a tree."""
        (g,) = self._reduce(_chunk_accurate, z)
        if self.alpha > 0:
            g = g - self.alpha * self.col_scale[:, None] ** 2 * z
        return g

    def _no_vectors(self, *args):
        raise NotImplementedError(
            "products returning m-vectors are not offered on dask arrays: "
            "use solver='cg' or 'iterative_sketching'"
        )

    _matmat = _rmatmat = residual = _no_vectors


def block_statistics(c, arrays, row_scale, extra_blocks, n_blocks):
    """Sums for the means and counts of invalid entries of sketch block ``c``.

    Computed in the sketch's pass over a dask ``X`` (``arrays`` are the
    block's rows of ``X``, ``Y`` and ones; ``extra_blocks`` holds its sample
    weights, if any): ``[X^T w, Y^T w, sum(w), bad]`` where ``bad[j, c]``
    counts the non-finite entries of ``X`` (``j = 0``), of ``Y`` (1) and the
    non-finite or negative weights (2).
    """
    Xb, Yb, _ = arrays
    bad = np.zeros((3, n_blocks))
    bad[0, c] = np.count_nonzero(~np.isfinite(Xb))
    bad[1, c] = np.count_nonzero(~np.isfinite(Yb))
    if not extra_blocks:
        xs = Xb.sum(axis=0, dtype=np.float64)
        return [xs, Yb.sum(axis=0), np.array([float(Xb.shape[0])]), bad]
    wb = extra_blocks[0]
    bad[2, c] = np.count_nonzero(~(np.isfinite(wb) & (wb >= 0)))
    xs = np.asarray(Xb.T @ wb, dtype=np.float64)
    return [xs, wb @ Yb, np.array([wb.sum()]), bad]


def dask_design(X, y, sample_weight):
    """Persisted, checked, row-aligned dask data for a chunked fit.

    Parameters
    ----------
    X : dask.array.Array of shape (m, n)
        Checked by :func:`~sklearn_debias._randnla._chunked.check_row_chunked`.
    y : dask or numpy array of shape (m,) or (m, k)
    sample_weight : dask or numpy array of shape (m,), scalar or None

    Returns
    -------
    chunked : ChunkedOperator
        Over the persisted ``X``.
    Y : dask.array.Array of shape (m, k)
        float64, with ``X``'s row chunks.
    single : bool
        Whether ``y`` is 1-D.
    weights, sqrt_weights : dask.array.Array of shape (m,) or None
    """
    import dask
    import dask.array as da

    from .._randnla._chunked import ChunkedOperator, check_row_chunked, is_dask_array

    chunked = ChunkedOperator(X)
    m = X.shape[0]
    if is_dask_array(y):
        y = check_row_chunked(y, "y", ndim=(1, 2), rows=m)
    else:
        y = np.asarray(y)
        if y.ndim not in (1, 2) or y.shape[0] != m:
            raise ValueError(
                f"y must have shape ({m},) or ({m}, n_targets), got {y.shape}"
            )
        if not np.issubdtype(y.dtype, np.number):
            raise ValueError(f"y must be numeric, got dtype {y.dtype}")
    single = y.ndim == 1
    Y = chunked.align(y[:, None] if single else y, "y").astype(np.float64)
    w = sw = None
    if sample_weight is not None:
        if is_dask_array(sample_weight):
            w = check_row_chunked(sample_weight, "sample_weight", ndim=(1,), rows=m)
        else:
            w = np.asarray(sample_weight, dtype=np.float64)
            if w.ndim == 0:
                w = np.full(m, float(w))
            if w.shape != (m,):
                raise ValueError(f"sample_weight must have shape ({m},), got {w.shape}")
            if not np.all(np.isfinite(w)) or np.any(w < 0):
                raise ValueError("sample_weight must be finite and non-negative")
            if not np.any(w > 0):
                raise ValueError("sample_weight must have at least one positive value")
        w = chunked.align(w, "sample_weight").astype(np.float64)
        sw = da.sqrt(da.maximum(w, 0.0))
        w, sw = dask.persist(w, sw)
    (Y,) = dask.persist(Y)
    return chunked, Y, single, w, sw


def raise_for_bad_blocks(bad, starts, first=None):
    """``ValueError`` naming the first row block with NaN/inf (or negative weights).

    Parameters
    ----------
    bad : ndarray of shape (3, n_blocks)
        Counts of invalid entries of ``X``, ``y`` and ``sample_weight`` per block.
    starts : ndarray of shape (n_blocks + 1,)
        Boundaries of the blocks of rows.
    first : ndarray of shape (3, n_blocks), default=None
        The first invalid row of each block, when known.
    """
    names = ("X", "y", "sample_weight")
    for j, name in enumerate(names):
        blocks = np.flatnonzero(bad[j])
        if blocks.size:
            c = int(blocks[0])
            what = "negative or non-finite values" if j == 2 else "NaN or infinity"
            where = f"in rows [{int(starts[c])}, {int(starts[c + 1])})."
            if first is not None:
                where = f"at row {int(first[j, c])}, {where}"
            raise ValueError(
                f"Input {name} contains {what}: {int(bad[j].sum())} entries, first "
                f"{where}"
            )
