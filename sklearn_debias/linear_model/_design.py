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
