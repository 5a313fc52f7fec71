"""Randomly pivoted Cholesky: a column Nyström approximation from few entries.

A positive semi-definite ``A`` (typically a kernel matrix) is approximated by
``F F^T`` with ``F = A[:, S] L^{-T}``, ``A[S, S] = L L^T``, for pivots ``S``
drawn one block at a time with probabilities proportional to the diagonal
of the current residual ``A - F F^T``. It reads only the diagonal of ``A``
and the ``k`` pivot columns: ``O(n k)`` entries and ``O(n k^2)`` operations.
The pivots serve as Nyström centres (``NystromKernelRidge``) and the factor
as a preconditioner (:meth:`NystromPreconditioner.from_factor`).

Each block of ``b`` candidate pivots is drawn without replacement; the
candidates' residual block is factorised by a Cholesky with complete
pivoting (LAPACK ``?pstrf``) that stops at residuals of ``sqrt(eps)`` times
the largest diagonal entry, so nearly repeated candidates are rejected
rather than making the factor singular (the approximation error is then at
that level, far below any useful ridge).

References
----------
Chen, Y., Epperly, E. N., Tropp, J. A. and Webber, R. J. (2025). Randomly
pivoted Cholesky: practical approximation of a kernel matrix with few entry
evaluations. *Comm. Pure Appl. Math.* 78(5), 995-1041.

Díaz, M., Epperly, E. N., Frangella, Z., Tropp, J. A. and Webber, R. J.
(2023). Robust, randomized preconditioning for kernel ridge regression.
arXiv:2304.12465.
"""

import numpy as np
import scipy.linalg
from scipy.linalg import lapack

from ..utils import check_generator
from ._pcg import FactorPreconditioner

__all__ = ["RPCholesky", "rpcholesky_preconditioner"]


class RPCholesky:
    """Randomly pivoted (block) Cholesky of a PSD matrix, extendable.

    Parameters
    ----------
    diag : ndarray of shape (n,)
        Diagonal of ``A``.
    columns : callable
        ``columns(idx)`` returns ``A[:, idx]`` of shape ``(n, len(idx))``.
    random_state : int, None, Generator, ...
        Source of the pivots.
    block_size : int, default=64
        Candidate pivots drawn at a time.
    dtype : dtype, default=np.float64
        Dtype of the factor.

    Attributes
    ----------
    F : ndarray of shape (n, k)
        The factor, ``A ~ F F^T``.
    pivots : ndarray of shape (k,)
        The pivot indices, in the order chosen.
    residual_diag : ndarray of shape (n,)
        Diagonal of ``A - F F^T`` (non-negative).
    rank : int
        ``k``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias._randnla import RPCholesky
    >>> rng = np.random.default_rng(0)
    >>> G = rng.standard_normal((100, 5))
    >>> A = G @ G.T
    >>> rpc = RPCholesky(np.diag(A), lambda idx: A[:, idx], random_state=0)
    >>> rpc.extend(10).rank
    5
    >>> bool(np.allclose(rpc.F @ rpc.F.T, A))
    True
    """

    def __init__(self, diag, columns, random_state=None, block_size=64, dtype=None):
        diag = np.asarray(diag)
        self.dtype = np.dtype(diag.dtype if dtype is None else dtype)
        if np.any(diag < 0) or not np.all(np.isfinite(diag)):
            raise ValueError(
                "the diagonal of a positive semi-definite matrix must be finite "
                "and non-negative"
            )
        self.columns = columns
        self.block_size = int(block_size)
        self._rng = check_generator(random_state)
        n = diag.shape[0]
        self.residual_diag = diag.astype(np.float64, copy=True)
        self._scale = float(self.residual_diag.max(initial=0.0))
        self.F = np.zeros((n, 0), dtype=self.dtype)
        self.pivots = np.zeros(0, dtype=np.intp)

    @property
    def rank(self):
        return int(self.pivots.size)

    @property
    def exhausted(self):
        """Whether the residual is zero up to rounding (no pivot is left)."""
        tol = self._rounding()
        return not np.any(self.residual_diag > tol)

    def _rounding(self):
        # Residuals below sqrt(eps) times the largest diagonal entry are taken
        # as rounding: kernel entries computed from distances carry errors of
        # order eps ||x||^2, and a pivot that small would amplify them.
        return np.sqrt(np.finfo(self.dtype).eps) * max(self._scale, 1e-300)

    def extend(self, n_new):
        """Add up to ``n_new`` pivots; fewer when the residual vanishes.

        Returns ``self``.
        """
        target = self.rank + int(n_new)
        rejected_rounds = 0
        while self.rank < target and not self.exhausted:
            b = min(self.block_size, target - self.rank)
            if not self._step(b):
                rejected_rounds += 1
                if rejected_rounds > 3:
                    break
        return self

    def _step(self, b):
        d = np.where(self.residual_diag > self._rounding(), self.residual_diag, 0.0)
        b = min(b, int(np.count_nonzero(d)))
        S = self._rng.choice(d.size, size=b, replace=False, p=d / d.sum())
        G = np.asarray(self.columns(S), dtype=np.float64)
        G -= self.F @ self.F[S].T
        core = 0.5 * (G[S] + G[S].T)
        C, piv, r = _pstrf(core, self._rounding())
        if r == 0:
            self.residual_diag[S] = 0.0  # residual there is rounding only
            return False
        keep = piv[:r] - 1
        L = C[:r, :r]  # core[keep][:, keep] = L L^T, L lower triangular
        F_new = scipy.linalg.solve_triangular(
            L, G[:, keep].T, lower=True, check_finite=False
        ).T
        self.F = np.hstack([self.F, F_new.astype(self.dtype, copy=False)])
        self.pivots = np.concatenate([self.pivots, S[keep]])
        self.residual_diag -= np.einsum("ij,ij->i", F_new, F_new)
        worst = self.residual_diag.min()
        if worst < -1e-4 * max(self._scale, 1e-300):
            raise ValueError(
                "the matrix must be positive semi-definite, but a residual "
                f"diagonal entry of its pivoted Cholesky is negative ({worst:.3g} "
                f"against a largest diagonal entry {self._scale:.3g}): is the "
                "kernel positive definite?"
            )
        np.maximum(self.residual_diag, 0.0, out=self.residual_diag)
        self.residual_diag[self.pivots] = 0.0
        return True


def _pstrf(core, tol):
    """Lower pivoted Cholesky of ``core`` stopping at ``tol``: ``(L, piv, rank)``."""
    L, piv, rank, info = lapack.dpstrf(core, tol=tol, lower=1)
    if info < 0:
        raise ValueError(f"LAPACK dpstrf failed (info={info})")
    return np.tril(L), piv, int(rank)


def rpcholesky_preconditioner(
    diag,
    columns,
    mu,
    *,
    rank=None,
    max_rank=None,
    random_state=None,
    target_condition=10.0,
    block_size=64,
):
    """Preconditioner ``F F^T + mu I`` of ``A + mu I`` from randomly pivoted Cholesky.

    The rank doubles (continuing the same pivoted Cholesky) until the
    estimated condition number ``(mu + 2 max diag(A - F F^T)) / mu`` of the
    preconditioned matrix is at most ``target_condition`` or the rank
    reaches ``max_rank``. The condition number is at most
    ``(lambda_k + mu + ||A - F F^T||) / mu``; the largest residual diagonal
    entry is a lower bound on ``||A - F F^T||`` and, for pivots drawn from
    the residual diagonal, about the size of ``lambda_k`` (a heuristic that
    needs no eigendecomposition per doubling).

    Parameters
    ----------
    diag : ndarray of shape (n,)
        Diagonal of the PSD ``A``.
    columns : callable
        ``columns(idx)`` returns ``A[:, idx]``.
    mu : float
        The positive shift.
    rank : int or None, default=None
        Starting rank; ``None`` means ``min(n, 64)``. With ``max_rank=None``
        a given rank is used as it is.
    max_rank : int or None, default=None
        Largest rank; ``None`` means ``rank`` when given, else
        ``min(n // 2, 2000)``. Never more than ``n // 2``: past that a
        direct solve is cheaper than a preconditioner.
    random_state : int, None, Generator, ...
    target_condition : float, default=10.0
    block_size : int, default=64
        Pivots drawn at a time.

    Returns
    -------
    precond : FactorPreconditioner
        With ``condition_estimate`` set to the estimate above.
    rpc : RPCholesky
        The factorisation (its ``pivots`` are the Nyström centres).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias._randnla import rpcholesky_preconditioner
    >>> X = np.linspace(0, 1, 400)[:, None]
    >>> A = np.exp(-10 * (X - X.T) ** 2)
    >>> P, rpc = rpcholesky_preconditioner(
    ...     np.ones(400), lambda i: A[:, i], 1e-6, rank=8, max_rank=400, random_state=0
    ... )
    >>> P.rank < 40, bool(P.condition_estimate <= 10)
    (True, True)
    """
    if not mu > 0:
        raise ValueError(f"the shift mu must be positive, got {mu!r}")
    n = np.shape(diag)[0]
    if max_rank is None:
        max_rank = rank if rank is not None else 2000
    rank = 64 if rank is None else rank
    max_rank = int(max(1, min(max_rank, n // 2)))
    rpc = RPCholesky(diag, columns, random_state, block_size=block_size)
    rpc.extend(max(1, min(rank, max_rank)))
    while True:
        estimate = (mu + 2.0 * rpc.residual_diag.max(initial=0.0)) / mu
        if estimate <= target_condition or rpc.rank >= max_rank or rpc.exhausted:
            break
        before = rpc.rank
        rpc.extend(min(rpc.rank, max_rank - rpc.rank))
        if rpc.rank == before:
            break
    precond = FactorPreconditioner(rpc.F, mu)
    precond.condition_estimate = estimate
    return precond, rpc
