"""Block preconditioned conjugate gradients and the randomized Nyström preconditioner.

:func:`pcg` solves ``A X = B`` for a symmetric positive-definite ``A`` known
through block products, one independent CG run per column of ``B``, with one
product per iteration for all the columns still running.
:class:`NystromPreconditioner` is the preconditioner of Frangella, Tropp and
Udell for ``A + mu I`` built from a low-rank Nyström approximation of a
positive semi-definite ``A`` (a Gaussian sketch, :meth:`~NystromPreconditioner.
from_operator`, or any factor ``A ~ F F^T``, :meth:`~NystromPreconditioner.
from_factor`, e.g. from randomly pivoted Cholesky);
:func:`adaptive_nystrom_preconditioner` doubles the sketch until the estimated
preconditioned condition number is small.

References
----------
Frangella, Z., Tropp, J. A. and Udell, M. (2023). Randomized Nyström
preconditioning. *SIAM J. Matrix Anal. Appl.* 44(2), 718-752.

Hestenes, M. R. and Stiefel, E. (1952). Methods of conjugate gradients for
solving linear systems. *J. Res. Nat. Bur. Standards* 49(6), 409-436.
"""

from collections import namedtuple

import numpy as np
import scipy.linalg
from threadpoolctl import threadpool_limits

from ..utils import check_generator
from ._lowrank import nystrom_factor, random_test_matrix, symmetric_part

__all__ = [
    "FactorPreconditioner",
    "NystromPreconditioner",
    "PCGResult",
    "adaptive_nystrom_preconditioner",
    "pcg",
]

PCGResult = namedtuple(
    "PCGResult", ["x", "n_iter", "residuals", "converged", "history", "breakdown"]
)
PCGResult.__doc__ = """Result of :func:`pcg`.

x : ndarray, same shape as ``B``
    The approximate solution.
n_iter : int
    Iterations run (products with ``A``, not counting one for ``x0``).
residuals : ndarray of shape (k,)
    Final relative residual ``||b - A x|| / ||b||`` of each column (as
    updated by the recurrence).
converged : bool
    Whether every column reached ``tol``.
history : list of float
    The largest relative residual over the columns after each iteration.
breakdown : bool
    Whether a column met ``p^T A p <= 0`` or ``r^T P^{-1} r <= 0``: ``A`` or
    the preconditioner is not positive definite (that column is stopped)."""


def pcg(matmat, B, *, precond=None, tol=1e-8, max_iter=None, x0=None):
    """Block preconditioned conjugate gradients for an SPD ``A``.

    Each column of ``B`` is an independent CG run; the runs share one call
    of ``matmat`` per iteration (on the columns still running). A column
    stops when its relative residual ``||b - A x|| / ||b||`` is at most
    ``tol``. No warning is raised: the caller inspects ``converged`` and
    ``breakdown``.

    Parameters
    ----------
    matmat : callable
        ``matmat(X)`` returns ``A @ X`` for ``X`` of shape ``(n, k)``.
    B : ndarray of shape (n,) or (n, k)
        Right-hand sides. The iteration runs in ``B``'s floating dtype.
    precond : object or None, default=None
        Has ``solve(R)`` returning ``P^{-1} R`` for a block ``R``;
        ``None`` for no preconditioner.
    tol : float, default=1e-8
        Relative residual at which a column stops.
    max_iter : int or None, default=None
        Most iterations; ``None`` means ``10 * n``.
    x0 : ndarray of the shape of ``B`` or None, default=None
        Starting guess (costs one more product); ``None`` starts from zero.

    Returns
    -------
    result : PCGResult

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias._randnla import pcg
    >>> A = np.array([[4.0, 1.0], [1.0, 3.0]])
    >>> res = pcg(lambda X: A @ X, np.array([1.0, 2.0]))
    >>> np.allclose(A @ res.x, [1.0, 2.0]), res.n_iter, res.converged
    (True, 2, True)
    """
    B = np.asarray(B)
    vector = B.ndim == 1
    dtype = B.dtype if np.issubdtype(B.dtype, np.floating) else np.float64
    B2 = np.array(B.reshape(B.shape[0], -1), dtype=dtype)
    n, k = B2.shape
    max_iter = 10 * n if max_iter is None else int(max_iter)
    bnorm = np.linalg.norm(B2, axis=0)
    scale = np.where(bnorm > 0, bnorm, 1.0)
    if x0 is None:
        X = np.zeros_like(B2)
        R = B2.copy()
    else:
        X = np.array(np.asarray(x0).reshape(n, k), dtype=dtype)
        R = B2 - _apply(matmat, X, dtype)
    res = np.linalg.norm(R, axis=0) / scale
    active = np.flatnonzero(res > tol)
    Z = _precondition(precond, R[:, active], dtype)
    P = Z.copy()
    rz = np.einsum("ij,ij->j", R[:, active], Z)
    history = []
    breakdown = bool(np.any(rz <= 0))
    keep = rz > 0
    active, P, rz = active[keep], P[:, keep], rz[keep]
    n_iter = 0
    while active.size and n_iter < max_iter:
        Q = _apply(matmat, P, dtype)
        pq = np.einsum("ij,ij->j", P, Q)
        ok = pq > 0
        if not np.all(ok):
            breakdown = True
            active, P, Q, rz, pq = active[ok], P[:, ok], Q[:, ok], rz[ok], pq[ok]
        step = rz / pq
        X[:, active] += P * step
        R[:, active] -= Q * step
        res[active] = np.linalg.norm(R[:, active], axis=0) / scale[active]
        n_iter += 1
        history.append(float(res.max()))
        running = res[active] > tol
        active, P, rz = active[running], P[:, running], rz[running]
        if not active.size:
            break
        Z = _precondition(precond, R[:, active], dtype)
        rz_new = np.einsum("ij,ij->j", R[:, active], Z)
        ok = rz_new > 0
        if not np.all(ok):
            breakdown = True
            active, Z, rz_new = active[ok], Z[:, ok], rz_new[ok]
            P, rz = P[:, ok], rz[ok]
        P = Z + P * (rz_new / rz)
        rz = rz_new
    converged = bool(np.all(res <= tol))
    X = X[:, 0] if vector else X
    return PCGResult(X, n_iter, res, converged, history, breakdown)


def _apply(matmat, X, dtype):
    return np.asarray(matmat(X)).reshape(X.shape).astype(dtype, copy=False)


def _precondition(precond, R, dtype):
    if precond is None:
        return R.copy()
    return np.asarray(precond.solve(R)).reshape(R.shape).astype(dtype, copy=False)


class NystromPreconditioner:
    """Randomized Nyström preconditioner for ``A + mu I`` (Frangella-Tropp-Udell).

    With the Nyström approximation ``A ~ U diag(eigenvalues) U^T`` of rank
    ``l``, ``P = U (Lambda + mu I) U^T + (lambda_l + mu) (I - U U^T)`` and
    :meth:`solve` applies ``P^{-1}``. When ``l`` exceeds the effective
    dimension of ``A`` at ``mu``, ``P^{-1/2} (A + mu I) P^{-1/2}`` has a
    condition number of order one.

    Parameters
    ----------
    U : ndarray of shape (n, l)
        Orthonormal eigenvectors of the approximation.
    eigenvalues : ndarray of shape (l,)
        Its non-negative eigenvalues, decreasing.
    mu : float
        The positive shift.

    Attributes
    ----------
    U : ndarray of shape (n, l)
    eigenvalues : ndarray of shape (l,)
    mu : float
    rank : int
        ``l``.
    condition_estimate : float
        ``(lambda_{l/2} + mu) / mu``, an estimate of the preconditioned
        condition number, which is at most ``(lambda_l + mu + ||A - A_l||) /
        mu``: the error of a rank-``l`` sketch is about the eigenvalue at
        ``l / 2`` (Frangella, Tropp and Udell, 2023, Section 5.4).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias._randnla import NystromPreconditioner, pcg
    >>> rng = np.random.default_rng(0)
    >>> G = rng.standard_normal((200, 20))
    >>> A = G @ G.T
    >>> P = NystromPreconditioner.from_operator(lambda X: A @ X, 200, 30, 1e-3, 0)
    >>> res = pcg(lambda X: A @ X + 1e-3 * X, np.ones(200), precond=P, tol=1e-10)
    >>> res.converged, res.n_iter <= 5
    (True, True)
    """

    def __init__(self, U, eigenvalues, mu):
        if not mu > 0:
            raise ValueError(f"the shift mu must be positive, got {mu!r}")
        self.U = U
        self.eigenvalues = np.asarray(eigenvalues, dtype=np.float64)
        self.mu = float(mu)
        self.rank = int(self.eigenvalues.size)
        # The error of a rank-l sketch is about the eigenvalue at l / 2 (half
        # the sketch is oversampling): the condition number is about
        # (lambda_{l/2} + mu) / mu rather than (lambda_l + mu) / mu.
        half = self.eigenvalues[self.rank // 2] if self.rank else 0.0
        self.condition_estimate = (half + self.mu) / self.mu

    def solve(self, R):
        """``P^{-1} R`` for a block (or vector) ``R``."""
        R = np.asarray(R)
        tail = self.eigenvalues[-1] + self.mu if self.rank else self.mu
        if not self.rank:
            return R / tail
        C = self.U.T @ R
        d = tail / (self.eigenvalues + self.mu) - 1.0
        d = d.astype(C.dtype, copy=False)
        C *= d[:, None] if C.ndim == 2 else d
        return (R + self.U @ C) / tail

    @classmethod
    def from_sketch(cls, Omega, Y, mu, check_psd=True):
        """Build it from a test matrix ``Omega`` and the sketch ``Y = A Omega``.

        Parameters
        ----------
        Omega, Y : ndarray of shape (n, l)
        mu : float
        check_psd : bool, default=True
            Raise a ValueError when ``Omega^T A Omega`` has a clearly negative
            eigenvalue (``A`` is not positive semi-definite).

        Returns
        -------
        precond : NystromPreconditioner
        """
        if check_psd:
            _check_psd_core(Omega, Y)
        factor = nystrom_factor(Omega, Y)
        U, s2 = _factor_eigenpairs(factor.B)
        return cls(U, np.maximum(s2 - factor.nu, 0.0), mu)

    @classmethod
    def from_factor(cls, F, mu):
        """Build it from any factor ``F`` of shape ``(n, l)`` with ``A ~ F F^T``.

        For example the factor of a randomly pivoted Cholesky decomposition,
        whose columns cost ``n l`` entries of ``A`` and no product with it.
        """
        U, s2 = _factor_eigenpairs(F)
        return cls(U, s2, mu)

    @classmethod
    def from_operator(cls, matmat, n, rank, mu, random_state, dtype=np.float64):
        """Sketch ``A`` with ``rank`` Gaussian columns and build the preconditioner.

        Parameters
        ----------
        matmat : callable
            ``matmat(X)`` returns ``A @ X`` for the PSD ``A`` (without ``mu``).
        n : int
            Order of ``A``.
        rank : int
            Sketch size ``l`` (at most ``n``).
        mu : float
            The positive shift.
        random_state : int, None, Generator, ...
            Source of the test matrix.
        dtype : dtype, default=np.float64
            Dtype of the sketch.

        Returns
        -------
        precond : NystromPreconditioner
        """
        rank = int(min(rank, n))
        Omega = _test_matrix(n, rank, check_generator(random_state), dtype)
        return cls.from_sketch(Omega, np.asarray(matmat(Omega)), mu)


class FactorPreconditioner:
    """``P = F F^T + mu I`` for a factor ``F`` of shape ``(n, k)``, by Woodbury.

    ``P^{-1} R = (R - F (mu I + F^T F)^{-1} F^T R) / mu``: one ``k x k``
    Cholesky factorisation (on one BLAS thread), no eigendecomposition, and
    ``mu`` can be changed (the factorisation is redone for each new ``mu``).
    The preconditioner of Díaz, Epperly, Frangella, Tropp and Webber (2023)
    for a randomly pivoted Cholesky factor.

    Parameters
    ----------
    F : ndarray of shape (n, k)
    mu : float
        The positive shift.

    Attributes
    ----------
    F : ndarray of shape (n, k)
    mu : float
    rank : int
    condition_estimate : float or None
        Set by the caller that chose the rank.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias._randnla import FactorPreconditioner
    >>> F = np.random.default_rng(0).standard_normal((30, 4))
    >>> P = FactorPreconditioner(F, 0.1)
    >>> R = np.ones((30, 2))
    >>> bool(np.allclose((F @ F.T + 0.1 * np.eye(30)) @ P.solve(R), R))
    True
    """

    def __init__(self, F, mu):
        self.F = F
        self.mu = float(mu)
        self.rank = F.shape[1]
        self.condition_estimate = None
        self._gram = symmetric_part(F.T @ F).astype(np.float64, copy=False)
        self._factored = None

    def _cholesky(self):
        if self._factored is None or self._factored[0] != self.mu:
            if not self.mu > 0:
                raise ValueError(f"the shift mu must be positive, got {self.mu!r}")
            inner = self._gram + self.mu * np.eye(self.rank)
            with threadpool_limits(limits=1, user_api="blas"):
                c = scipy.linalg.cho_factor(inner, lower=False, check_finite=False)
            self._factored = (self.mu, c)
        return self._factored[1]

    def solve(self, R):
        """``P^{-1} R`` for a block (or vector) ``R``."""
        R = np.asarray(R)
        if not self.rank:
            return R / self.mu
        C = scipy.linalg.cho_solve(self._cholesky(), self.F.T @ R, check_finite=False)
        return (R - self.F @ C.astype(self.F.dtype, copy=False)) / self.mu


def _factor_eigenpairs(F):
    """Eigenpairs ``(U, s^2)`` of ``F F^T``, decreasing, from the Gram ``F^T F``.

    A product and a ``k x k`` eigendecomposition instead of an SVD of the
    ``n x k`` factor (several times faster). Eigenvalues below ``k eps``
    times the largest are dropped: the Gram squares the singular values, so
    their directions are rounding. The eigendecomposition runs on one BLAS
    thread, which is much faster than a threaded LAPACK on a busy machine.
    """
    if F.shape[1] == 0:
        return F[:, :0], np.zeros(0)
    gram = symmetric_part(F.T @ F).astype(np.float64, copy=False)
    with threadpool_limits(limits=1, user_api="blas"):
        w, V = scipy.linalg.eigh(gram, check_finite=False)
    w, V = w[::-1], V[:, ::-1]
    keep = w > max(w[0], 0.0) * F.shape[1] * np.finfo(F.dtype).eps
    w, V = w[keep], V[:, keep]
    U = F @ (V / np.sqrt(w)).astype(F.dtype, copy=False)
    return U, w


def _test_matrix(n, k, rng, dtype):
    # Orthonormal columns (Frangella, Tropp and Udell, Algorithm 2.1).
    Omega = random_test_matrix(n, k, rng, dtype=np.float64)
    return np.linalg.qr(Omega)[0].astype(dtype, copy=False)


def _check_psd_core(Omega, Y):
    w = np.linalg.eigvalsh(symmetric_part(Omega.T @ Y).astype(np.float64))
    tol = 100 * np.sqrt(Omega.shape[0]) * np.finfo(Y.dtype).eps
    if w.size and w[0] < -tol * max(abs(w[-1]), 1e-300):
        raise ValueError(
            "the matrix must be symmetric positive semi-definite, but a sketch "
            f"shows a negative eigenvalue ({w[0]:.3g} against the largest "
            f"{w[-1]:.3g}): is the kernel positive definite?"
        )


def adaptive_nystrom_preconditioner(
    matmat,
    n,
    mu,
    *,
    rank=None,
    max_rank=None,
    random_state=None,
    target_condition=30.0,
    dtype=np.float64,
):
    """Nyström preconditioner with a sketch doubled until it preconditions well.

    Starts from ``rank`` Gaussian columns and doubles the sketch, reusing the
    columns already multiplied, until the estimated condition number of the
    preconditioned ``A + mu I`` (``NystromPreconditioner.condition_estimate``)
    is at most ``target_condition``, the rank reaches ``max_rank``, or a
    doubling keeps no more eigenpairs than before (the numerical rank of
    ``A`` is reached: with a tiny ``mu`` the condition target can be out of
    reach, and further columns would only cost products).

    Parameters
    ----------
    matmat : callable
        ``matmat(X)`` returns ``A @ X`` for the PSD ``A`` (without ``mu``).
    n : int
        Order of ``A``.
    mu : float
        The positive shift.
    rank : int or None, default=None
        Starting sketch size; ``None`` means ``min(n, 50)``. With
        ``max_rank=None`` a given rank is used as it is (no doubling).
    max_rank : int or None, default=None
        Largest sketch size (the memory bound: three ``n x l`` arrays);
        ``None`` means ``rank`` when ``rank`` is given, else ``min(n, 1000)``.
    random_state : int, None, Generator, ...
        Source of the test matrices.
    target_condition : float, default=30.0
        Stop doubling at this estimated condition number.
    dtype : dtype, default=np.float64
        Dtype of the sketch.

    Returns
    -------
    precond : NystromPreconditioner
        With ``rank`` and ``condition_estimate``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias._randnla import adaptive_nystrom_preconditioner
    >>> A = np.diag(0.5 ** np.arange(300))
    >>> P = adaptive_nystrom_preconditioner(
    ...     lambda X: A @ X, 300, 1e-6, rank=4, max_rank=300, random_state=0
    ... )
    >>> P.rank, bool(P.condition_estimate <= 20)
    (32, True)
    """
    if not mu > 0:
        raise ValueError(f"the shift mu must be positive, got {mu!r}")
    if max_rank is None:
        max_rank = rank if rank is not None else min(n, 1000)
    rank = min(n, 50) if rank is None else rank
    max_rank = int(max(1, min(max_rank, n)))
    rank = int(max(1, min(rank, max_rank)))
    rng = check_generator(random_state)
    Omega = _test_matrix(n, rank, rng, dtype)
    Y = np.asarray(matmat(Omega))
    kept = -1
    while True:
        precond = NystromPreconditioner.from_sketch(Omega, Y, mu)
        ell = Omega.shape[1]
        if precond.condition_estimate <= target_condition or ell >= max_rank:
            return precond
        if precond.rank <= kept:
            # The sketch doubled without resolving one more eigenvalue above
            # rounding: A's numerical rank is reached, more columns cannot help.
            return precond
        kept = precond.rank
        extra = min(ell, max_rank - ell)
        new = _test_matrix(n, extra, rng, dtype)
        # Keep the test matrix orthonormal: project the new columns out.
        new -= Omega @ (Omega.T @ new)
        new = np.linalg.qr(new)[0].astype(dtype, copy=False)
        Omega = np.hstack([Omega, new])
        Y = np.hstack([Y, np.asarray(matmat(new))])
