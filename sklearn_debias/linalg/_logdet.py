"""Log-determinant of a symmetric positive definite matrix by stochastic Lanczos
quadrature, plain or debiased by a Nyström preconditioner."""

import numbers

import numpy as np
import scipy.linalg

from .._randnla import (
    as_block_operator,
    nystrom_approximation,
    psd_eigenpairs,
    random_test_matrix,
    symmetric_part,
)
from ..utils import spawn_generators
from ._results import LogdetResult
from ._trace import _mean_and_se
from ._validation import check_budget, check_probe, check_psd_core, check_symmetric

__all__ = ["logdet", "lanczos_quadrature"]


def _block_lanczos_runs(matmat, V, n_steps):
    """Independent Lanczos runs from each column of ``V``, batched.

    Every run takes ``n_steps`` steps with full reorthogonalisation; the
    products of all still-active runs are done as one block product. A run
    that finds an invariant subspace stops early.

    Returns
    -------
    alpha : ndarray of shape (n_steps, p)
    beta : ndarray of shape (n_steps - 1, p)
    lengths : ndarray of shape (p,)
        Number of steps each run took.
    asymmetry : float
        Largest relative mismatch ``|q_{j-1}^T M q_j - beta_{j-1}|``, zero up
        to rounding when ``M`` is symmetric.
    """
    n, p = V.shape
    basis = np.zeros((n_steps, n, p))
    alpha = np.zeros((n_steps, p))
    beta = np.zeros((max(n_steps - 1, 0), p))
    lengths = np.full(p, n_steps)
    active = np.ones(p, dtype=bool)
    q = V / np.linalg.norm(V, axis=0)
    asymmetry = 0.0
    for j in range(n_steps):
        basis[j] = q
        w = np.zeros((n, p))
        w[:, active] = matmat(q[:, active])
        a = np.einsum("ij,ij->j", q, w)
        alpha[j] = np.where(active, a, 0.0)
        if j == n_steps - 1:
            break
        # Full reorthogonalisation against all previous vectors, twice.
        for sweep in range(2):
            coef = np.einsum("kij,ij->kj", basis[: j + 1], w)
            w -= np.einsum("kij,kj->ij", basis[: j + 1], coef)
            if sweep == 0 and j > 0:
                # For a symmetric M, q_{j-1}^T M q_j = beta_{j-1}: a free check.
                gap = np.abs(coef[j - 1] - beta[j - 1])[active]
                size = (np.abs(alpha[j]) + beta[j - 1])[active]
                if gap.size:
                    asymmetry = max(asymmetry, float(np.max(gap / (size + 1e-300))))
        b = np.linalg.norm(w, axis=0)
        scale = np.abs(alpha[: j + 1]).max(axis=0) + (beta[:j].max(axis=0) if j else 0)
        stop = active & (b <= 1e-10 * np.maximum(scale, 1e-300))
        lengths[stop] = j + 1
        active &= ~stop
        beta[j] = np.where(active, b, 0.0)
        q = np.where(active, w / np.where(b > 0, b, 1.0), 0.0)
        if not active.any():
            break
    return alpha, beta, lengths, asymmetry


def lanczos_quadrature(matmat, V, n_steps, fun=np.log):
    """Gauss quadrature estimates ``v_j^T f(M) v_j`` for each column of ``V``.

    Parameters
    ----------
    matmat : callable
        ``matmat(X)`` returns ``M @ X`` for a symmetric ``M``.
    V : ndarray of shape (n, p)
        Start vectors.
    n_steps : int
        Lanczos steps per start vector (products with ``M`` per column).
    fun : callable, default=numpy.log
        The matrix function, applied to the Ritz values.

    Returns
    -------
    values : ndarray of shape (p,)
    ritz_min : float
        The smallest Ritz value met (``<= 0`` means ``M`` is not positive
        definite).

    Raises
    ------
    ValueError
        If the Lanczos recurrence shows that ``M`` is not symmetric.
    """
    alpha, beta, lengths, asymmetry = _block_lanczos_runs(matmat, V, n_steps)
    if asymmetry > 1e-5:
        raise ValueError(
            "A is not symmetric: Lanczos found q_i^T A q_j != q_j^T A q_i "
            f"(relative mismatch {asymmetry:.2g})"
        )
    norms2 = np.sum(V**2, axis=0)
    values = np.empty(V.shape[1])
    ritz_min = np.inf
    for j, k in enumerate(lengths):
        theta, vecs = scipy.linalg.eigh_tridiagonal(alpha[:k, j], beta[: k - 1, j])
        ritz_min = min(ritz_min, theta[0])
        if theta[0] <= 0:
            return values, ritz_min
        values[j] = norms2[j] * np.sum(vecs[0] ** 2 * fun(theta))
    return values, ritz_min


def _nystrom_preconditioner(op, rank, rng):
    """``P = U diag(lam) U^T + delta (I - U U^T)`` from a rank-``rank`` sketch.

    ``delta`` estimates the mean eigenvalue of ``A`` on the directions the
    sketch missed, for free, by leave-one-out (as in XNysTrace): with
    ``A_i`` the Nyström approximation without probe ``omega_i`` and ``v_i``
    the part of ``omega_i`` orthogonal to the other probes,
    ``omega_i^T (A - A_i) omega_i / ||v_i||^2 = 1 / ((G^{-1})_ii ||v_i||^2)``,
    ``G = Omega^T A Omega``, is an unbiased estimate of
    ``tr(A - A_i) / (n - rank + 1)`` for Gaussian probes. ``log det P`` is
    then close to ``log det A`` and ``P^{-1/2} A P^{-1/2}`` close to ``I``.
    Returns the product with ``P^{-1/2}`` and ``log det P``.
    """
    Omega = random_test_matrix(op.n, rank, rng)
    Y = op.matmat(Omega)
    check_psd_core(Omega, Y, "logdet")
    U, lam = nystrom_approximation(Omega, Y)
    if lam[0] <= 0:
        raise ValueError("A is not positive definite: its sketch is zero")
    # Diagonal of the pseudo-inverse of the (unshifted) core.
    w, V = psd_eigenpairs(symmetric_part(Omega.T @ Y), 1e-13)
    g_inv_diag = np.sum(V**2 / w, axis=1)
    R = scipy.linalg.qr(Omega, mode="r", check_finite=False)[0][:rank]
    Rinv = scipy.linalg.solve_triangular(R, np.eye(rank), check_finite=False)
    delta = float(np.mean(np.sum(Rinv**2, axis=1) / g_inv_diag))
    delta = max(delta, 1e-12 * lam[0])
    lam = np.maximum(lam, delta)
    logdet_p = float(np.sum(np.log(lam)) + (op.n - rank) * np.log(delta))
    coef = lam**-0.5 - delta**-0.5

    def inv_sqrt(X):
        return U @ (coef[:, None] * (U.T @ X)) + X / np.sqrt(delta)

    return inv_sqrt, logdet_p


def _check_rank(rank, preconditioner, n_matvecs, n):
    """Rank of the Nyström sketch: 0 without a preconditioner, else checked
    (``None``: half the budget, below the order ``n`` of ``A``)."""
    if preconditioner is None:
        return 0
    if rank is None:
        rank = max(min(n_matvecs // 2, n - 1), 1)
    if isinstance(rank, bool) or not isinstance(rank, numbers.Integral) or rank < 0:
        raise ValueError(f"rank must be a non-negative integer, got {rank!r}")
    if not 1 <= rank < n:
        raise ValueError(
            f"rank must be at least 1 and smaller than the order of A ({n}), got {rank}"
        )
    return int(rank)


def logdet(
    A,
    n_matvecs=200,
    *,
    preconditioner="nystrom",
    rank=None,
    n_lanczos=None,
    probe="rademacher",
    size=None,
    random_state=None,
):
    """Estimate ``log det A`` for a symmetric positive definite ``A``.

    Stochastic Lanczos quadrature (SLQ) estimates ``log det A = tr(log A)``
    with Hutchinson probes and Gauss quadrature from ``n_lanczos`` Lanczos
    steps per probe. With ``preconditioner="nystrom"`` a rank-``rank``
    Nyström approximation gives ``P`` and

        log det A = log det P + tr log(P^{-1/2} A P^{-1/2}),

    the first term exact, the second, small and well conditioned, estimated
    by SLQ: the sketch is a control variate for the stochastic part.

    Parameters
    ----------
    A : ndarray, sparse matrix, LinearOperator, torch.Tensor or callable
        Symmetric positive definite matrix of order ``n``; a callable maps a
        block ``X`` of shape ``(n, k)`` to ``A @ X`` (pass ``size=n``).
    n_matvecs : int, default=200
        Budget: products with ``A`` (sketch plus Lanczos). The number of
        probes is ``(n_matvecs - rank) // n_lanczos``; at least 2.
    preconditioner : {"nystrom", None}, default="nystrom"
        ``"nystrom"`` for the preconditioned (debiased) form, ``None`` for
        plain SLQ.
    rank : int, default=None
        Rank of the Nyström sketch (products spent on it); ``None`` uses half
        of the budget. Ignored without a preconditioner.
    n_lanczos : int, default=None
        Lanczos steps per probe; ``None`` uses 8 with the preconditioner
        (the preconditioned matrix is well conditioned) and 30 without.
    probe : {"rademacher", "gaussian"}, default="rademacher"
        Distribution of the probe vectors.
    size : int, default=None
        Order ``n`` of ``A``; required only when ``A`` is a callable.
    random_state : int, RandomState instance, Generator or None, default=None
        Seeds the sketch and the probes: an int seeds one
        :class:`~numpy.random.SeedSequence`; the sketch and the probes come
        from two spawned children. ``None`` draws fresh entropy (numpy's
        global state is never used).

    Returns
    -------
    result : LogdetResult
        ``estimate``, ``standard_error`` (over the probes; it ignores the
        quadrature bias), ``n_matvecs``, ``method``,
        ``logdet_preconditioner``, ``n_probes`` and ``n_lanczos``.

    See Also
    --------
    trace : Stochastic trace estimation.

    Notes
    -----
    The Gauss quadrature error of ``k`` Lanczos steps on a matrix of
    condition number ``kappa`` decays like ``exp(-4 k / sqrt(kappa))``: SLQ is
    biased for small ``k``, and the preconditioner helps twice, by shrinking
    both the condition number and the variance of the probe estimates. A
    non-positive Ritz value raises a ``ValueError``.

    References
    ----------
    Ubaru, S., Chen, J. and Saad, Y. (2017). Fast estimation of tr(f(A)) via
    stochastic Lanczos quadrature. *SIAM J. Matrix Anal. Appl.* 38(4),
    1075-1099.

    Frangella, Z., Tropp, J. A. and Udell, M. (2023). Randomized Nyström
    preconditioning. *SIAM J. Matrix Anal. Appl.* 44(2), 718-752.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias.linalg import logdet
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((300, 3))
    >>> sq = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    >>> A = np.exp(-sq / 2) + 0.1 * np.eye(300)
    >>> res = logdet(A, n_matvecs=150, random_state=0)
    >>> exact = np.linalg.slogdet(A)[1]
    >>> bool(abs(res.estimate - exact) < 0.01 * abs(exact))
    True
    """
    if preconditioner not in (None, "nystrom"):
        raise ValueError(
            f"preconditioner must be None or 'nystrom', got {preconditioner!r}"
        )
    probe = check_probe(probe, "rademacher")
    if n_lanczos is None:
        n_lanczos = 8 if preconditioner else 30
    if (
        isinstance(n_lanczos, bool)
        or not isinstance(n_lanczos, numbers.Integral)
        or n_lanczos < 1
    ):
        raise ValueError(f"n_lanczos must be a positive integer, got {n_lanczos!r}")
    method = "nystrom-slq" if preconditioner else "slq"
    if isinstance(n_matvecs, bool) or not isinstance(n_matvecs, numbers.Integral):
        raise ValueError(f"n_matvecs must be an integer, got {n_matvecs!r}")
    op = as_block_operator(A, size=size)
    check_symmetric(op, "logdet")
    rank = _check_rank(rank, preconditioner, n_matvecs, op.n)
    n_lanczos = min(n_lanczos, op.n)
    m = check_budget(n_matvecs, rank + 2 * n_lanczos, method)
    rng_sketch, rng_probe = spawn_generators(random_state, 2)

    if preconditioner is None:
        matmat, logdet_p = op.matmat, 0.0
    else:
        inv_sqrt, logdet_p = _nystrom_preconditioner(op, rank, rng_sketch)

        def matmat(X):
            return inv_sqrt(op.matmat(inv_sqrt(X)))

    n_probes = (m - rank) // n_lanczos
    V = random_test_matrix(op.n, n_probes, rng_probe, kind=probe)
    values, ritz_min = lanczos_quadrature(matmat, V, n_lanczos)
    if ritz_min <= 0:
        raise ValueError(
            "A is not positive definite: Lanczos found a non-positive Ritz value "
            f"({ritz_min:.3g})"
        )
    mean, se = _mean_and_se(values)
    return LogdetResult(
        logdet_p + float(mean),
        float(se),
        op.n_matvecs,
        method,
        logdet_preconditioner=logdet_p,
        n_probes=int(n_probes),
        n_lanczos=int(n_lanczos),
    )
