"""Sketch-preconditioned iterative least-squares solvers with iterative refinement.

The one place where the preconditioned Krylov and iterative sketching solvers
live. They work on any :class:`~sklearn_debias._randnla.LeastSquaresOperator`,
preconditioned by ``P = V diag(1/s)`` from the SVD ``S A = U diag(s) V^T`` of
a random sketch (:class:`SketchPreconditioner`), and are wrapped in iterative
refinement with a freshly computed residual (:func:`refined_lstsq`), which is
what makes them as accurate as LAPACK and not only as fast as a sketch.

References
----------
Rokhlin, V. and Tygert, M. (2008). A fast randomized algorithm for overdetermined
linear least-squares regression. *PNAS* 105(36), 13212-13217.

Avron, H., Maymounkov, P. and Toledo, S. (2010). Blendenpik: supercharging
LAPACK's least-squares solver. *SIAM J. Sci. Comput.* 32(3), 1217-1236.

Epperly, E. N. (2024). Fast and forward stable randomized algorithms for linear
least-squares problems. *SIAM J. Matrix Anal. Appl.* 45(4).

Epperly, E. N., Meier, M. and Nakatsukasa, Y. (2024). Fast randomized
least-squares solvers can be just as accurate and stable as classical direct
solvers. arXiv:2406.03468.

Xu, R. and Lu, Y. (2024). Randomized iterative solver as iterative refinement:
a simple fix towards backward stability. arXiv:2410.11115.

Karlson, R. and Waldén, B. (1997). Estimation of optimal backward perturbation
bounds for the linear least squares problem. *BIT* 37(4), 862-869.
"""

import numpy as np
import scipy.linalg
import scipy.sparse.linalg as spla
from threadpoolctl import threadpool_limits

__all__ = [
    "ITERATIVE_SKETCHING_MIN_RATIO",
    "SOLVERS",
    "SketchPreconditioner",
    "check_sketch_rows",
    "karlson_walden_estimate",
    "refined_lstsq",
]

SOLVERS = ("cg", "iterative_sketching", "lsqr", "lsmr")

_EPS = np.finfo(np.float64).eps


class SketchPreconditioner:
    """Preconditioner ``P = V_r diag(1 / s_r)`` from the SVD of a sketch ``S A``.

    Singular values below ``rcond * s[0]`` are dropped, so ``P`` maps onto the
    numerical row space of ``A`` and a rank-deficient ``A`` gives the
    minimum-norm solution. ``A P`` has singular values in
    ``[1 / (1 + eps), 1 / (1 - eps)]`` when ``S`` is an ``eps``-subspace
    embedding of ``range(A)``.

    Parameters
    ----------
    SA : ndarray of shape (d, n)
        The sketch of the operator.
    rcond : float
        Relative threshold on the singular values.

    Attributes
    ----------
    U : ndarray of shape (d, rank)
    s : ndarray of shape (rank,)
    V : ndarray of shape (n, rank)
    rank : int
    null_space : ndarray of shape (n, n - rank)
        Orthonormal basis of the dropped right singular vectors.
    cond : float
        ``s[0] / s[rank - 1]``, an estimate of the condition number of ``A``.
    dropped : float
        The largest singular value of the sketch below the threshold (``0``
        when none is dropped).
    """

    def __init__(self, SA, rcond):
        # Small SVDs run faster on one thread than with multithreaded LAPACK's
        # synchronisations (dramatically so on a busy machine).
        d, n = SA.shape
        limit = 1 if d * n * n < 1e10 else None
        with threadpool_limits(limits=limit, user_api="blas"):
            U, s, Vt = scipy.linalg.svd(
                SA, full_matrices=False, check_finite=False, lapack_driver="gesdd"
            )
        if s.size == 0 or s[0] == 0.0:
            rank = 0
        else:
            rank = int(np.count_nonzero(s > rcond * s[0]))
        self.U, self.s, self.V = U[:, :rank], s[:rank], Vt[:rank].T
        n = SA.shape[1]
        if rank < n:
            if Vt.shape[0] < n:  # fewer sketch rows than columns: complete V
                full = scipy.linalg.null_space(Vt[:rank]) if rank else np.eye(n)
                self.null_space = full
            else:
                self.null_space = Vt[rank:].T
        else:
            self.null_space = np.zeros((n, 0))
        self.rank = rank
        self.cond = float(s[0] / s[rank - 1]) if rank else np.inf
        # Largest dropped singular value: the truncation perturbs A by about
        # this much, a floor on the backward error of the minimum-norm answer.
        self.dropped = float(s[rank]) if rank < s.size else 0.0

    def apply(self, y):
        """``P @ y``: from preconditioned coordinates to the unknowns."""
        return self.V @ (y / self.s[:, None])

    def apply_transpose(self, g):
        """``P.T @ g``."""
        return (self.V.T @ g) / self.s[:, None]

    def sketch_solve(self, Sb):
        """Sketch-and-solve ``argmin ||S A z - S b||`` (minimum norm)."""
        return self.apply(self.U.T @ Sb)


def karlson_walden_estimate(precond, gradient, z, residual_norm):
    """Karlson–Waldén estimate of the backward error of a least-squares solution.

    ``||(A^T A + theta^2 I)^{-1/2} A^T r|| / ||z||`` with ``theta = ||r|| / ||z||``,
    evaluated with the sketch's SVD in place of ``A``'s (Epperly, Meier and
    Nakatsukasa, 2024), so it costs ``O(n^2)`` given the gradient ``A^T r``.

    Parameters
    ----------
    precond : SketchPreconditioner
    gradient : ndarray of shape (n, k)
        ``A^T r`` for the residual ``r = b - A z``.
    z : ndarray of shape (n, k)
    residual_norm : ndarray of shape (k,)

    Returns
    -------
    eta : ndarray of shape (k,)
        Absolute estimate (divide by ``||A||_F`` for a relative one).
    """
    znorm = np.linalg.norm(z, axis=0)
    safe = np.where(znorm > 0, znorm, 1.0)
    theta2 = (residual_norm / safe) ** 2
    proj = precond.V.T @ gradient
    # Components outside the row space of the sketch are handled by theta alone.
    # They are projected on the stored basis of that complement, never taken
    # as ||g||^2 - ||V^T g||^2: that difference cancels to ~eps ||g||^2, which
    # divided by a tiny theta^2 (a near-zero residual) reads as a backward
    # error of ~sqrt(eps) on a solution that is exact.
    outside = np.linalg.norm(precond.null_space.T @ gradient, axis=0) ** 2
    scaled = proj / np.sqrt(precond.s[:, None] ** 2 + theta2[None, :])
    with np.errstate(divide="ignore", invalid="ignore"):
        out_term = np.where(theta2 > 0, outside / theta2, 0.0)
    eta = np.sqrt(np.sum(scaled**2, axis=0) + out_term) / safe
    return np.where(znorm > 0, eta, np.linalg.norm(gradient, axis=0) > 0)


def _cg_correction(op, precond, g0, scale, tol, max_iter, kw_stop=None):
    """CGLS on ``min ||A P y - r0||`` from ``y = 0``, one fused pass per step.

    ``g0 = A^T r0``. Returns ``(y, n_iter, converged)``; ``converged`` is a
    boolean array over the right-hand sides. ``kw_stop(s)``, if given,
    replaces the test on the update: it gets the preconditioned gradient
    ``P^T A^T r`` and says which columns are backward stable.
    """
    s = precond.apply_transpose(g0)
    y = np.zeros_like(s)
    p = s.copy()
    gamma = np.sum(s**2, axis=0)
    done = gamma == 0.0
    history = []
    it = 0
    while it < max_iter and not done.all():
        it += 1
        t, qnorm2 = op.gram(precond.apply(p))
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(done | (qnorm2 == 0), 0.0, gamma / qnorm2)
        y += step * p
        s -= step * precond.apply_transpose(t)
        gamma_new = np.sum(s**2, axis=0)
        history.append(np.abs(step) * np.linalg.norm(p, axis=0))
        small = None if kw_stop is None else kw_stop(s)
        done |= _stop(history, scale, tol, small)
        with np.errstate(divide="ignore", invalid="ignore"):
            beta = np.where(gamma > 0, gamma_new / gamma, 0.0)
        p = s + beta * p
        gamma = gamma_new
    return y, it, done


def _heavy_ball_correction(op, precond, g0, scale, tol, max_iter, d, kw_stop=None):
    """Iterative sketching with momentum on ``min ||A P y - r0||`` from ``y = 0``.

    ``y <- y + a P^T A^T (r0 - A P y) + b (y - y_prev)`` with ``a = (1 - r/d)^2``
    and ``b = r/d`` (Epperly, 2024), one fused pass per step. Falls back to CG
    if the iteration stops contracting (the sketch embeds worse than assumed).
    """
    r = precond.rank
    a, b = (1.0 - r / d) ** 2, r / d
    g0p = precond.apply_transpose(g0)
    y = np.zeros_like(g0p)
    y_prev = y.copy()
    k = g0.shape[1]
    done = np.zeros(k, dtype=bool)
    history = []
    best = np.full(k, np.inf)
    it = 0
    while it < max_iter and not done.all():
        it += 1
        if it == 1:  # y = 0: no pass needed
            grad = g0p
        else:
            grad = g0p - precond.apply_transpose(op.gram(precond.apply(y))[0])
        y_new = y + a * grad + b * (y - y_prev)
        y_new[:, done] = y[:, done]
        update = np.linalg.norm(y_new - y, axis=0)
        y_prev, y = y, y_new
        if it > 5 and np.any((update > 4 * best) & ~done):
            # Diverging: finish this correction with CG from the current point.
            g_now = g0 - op.gram(precond.apply(y))[0]
            dy, more, conv = _cg_correction(
                op, precond, g_now, scale, tol, max_iter - it, kw_stop
            )
            return y + dy, it + more + 1, conv
        best = np.minimum(best, update)
        history.append(update)
        small = None if kw_stop is None else kw_stop(grad)
        done |= _stop(history, scale, tol, small)
    return y, it, done


def _stop(history, scale, tol, small=None):
    """Stop on a small update, or when rounding errors stall the iteration.

    ``history`` lists the update norms so far (arrays over the right-hand
    sides). Stalling -- no decrease by 0.7 over three steps -- counts as
    convergence only below ``sqrt(tol) * scale``: there the iteration has hit
    the floor set by rounding errors, and going on would only drift.
    """
    update = history[-1]
    if small is None:
        small = update <= tol * scale
    small = small | (update == 0)
    if len(history) < 4:
        return small
    stalled = (update >= 0.7 * history[-4]) & (update <= np.sqrt(tol) * scale)
    return small | stalled


def _krylov_correction(op, precond, r0, scale, tol, max_iter, method):
    """scipy's LSQR or LSMR on ``min ||A P y - r0||``, one right-hand side at a time.

    Two passes over ``A`` per iteration (``A v`` and ``A^T u``).
    """
    m = op.shape[0]
    rank = precond.rank

    def mv(v):
        return op.matmat(precond.apply(v.reshape(rank, 1)))[:, 0]

    def rmv(u):
        return precond.apply_transpose(op.rmatmat(u.reshape(m, 1)))[:, 0]

    M = spla.LinearOperator((m, rank), matvec=mv, rmatvec=rmv, dtype=np.float64)
    solve = spla.lsqr if method == "lsqr" else spla.lsmr
    k = r0.shape[1]
    y = np.zeros((rank, k))
    n_iter, done = 0, np.zeros(k, dtype=bool)
    for j in range(k):
        bnorm = np.linalg.norm(r0[:, j])
        if bnorm == 0:
            done[j] = True
            continue
        # ||A P|| ~ 1: atol bounds ||(AP)^T r|| / ||r||, the optimality.
        atol = max(tol * scale[j] / bnorm, 1e-3 * _EPS)
        limit = {"iter_lim" if method == "lsqr" else "maxiter": max_iter}
        out = solve(M, r0[:, j], atol=atol, btol=atol, **limit)
        y[:, j], istop, itn = out[0], out[1], out[2]
        n_iter = max(n_iter, itn)
        done[j] = istop not in (3, 7)  # 3: ill-conditioned, 7: iteration limit
    return y, n_iter, done


def _kw_stopper(precond, z, rnorm, fro, factor=1.0):
    """A test ``s -> eta(s) <= factor * eps * ||A||_F`` per column."""
    znorm = np.linalg.norm(z, axis=0)
    safe = np.where(znorm > 0, znorm, 1.0)
    theta2 = (rnorm / safe) ** 2
    weight = precond.s[:, None] / np.sqrt(precond.s[:, None] ** 2 + theta2)

    def stop(s):
        eta = np.linalg.norm(weight * s, axis=0) / safe
        return eta <= factor * _EPS * fro

    return stop


def refined_lstsq(
    op, precond, z0, *, solver="cg", tol=None, max_iter=100, refine=True, d=None
):
    """Solve ``min ||b - A z||`` by preconditioned iterations and refinement.

    Round 1 starts from ``z0`` (typically the sketch-and-solve solution),
    computes the residual afresh and runs the chosen solver on the correction
    problem ``min ||A P y - r||`` until the update in preconditioned
    coordinates is below ``tol * (||A|| ||z|| + 0.04 cond(A) ||r||)`` (the
    first-round criterion of FOSSILS). With ``refine``, a second round does
    the same from a newly computed residual, unless the Karlson–Waldén
    estimate already shows backward stability (``<= ||A||_F * eps``).

    Parameters
    ----------
    op : LeastSquaresOperator
    precond : SketchPreconditioner
    z0 : ndarray of shape (n, k)
        Starting point.
    solver : {"cg", "iterative_sketching", "lsqr", "lsmr"}, default="cg"
        "cg" and "iterative_sketching" need one pass over ``A`` per iteration,
        "lsqr" and "lsmr" two.
    tol : float, default=None
        Relative accuracy; ``None`` means the unit roundoff ``eps / 2``
        (FOSSILS uses ``10 eps`` with the scale above; the smaller default
        buys LAPACK's forward error on ill-conditioned, small-residual
        problems for a few more iterations).
    max_iter : int, default=100
        Iterations per round.
    refine : bool, default=True
        Whether to run the second (refinement) round.
    d : int, default=None
        Number of rows of the sketch ("iterative_sketching" needs it).

    Returns
    -------
    z : ndarray of shape (n, k)
    info : dict
        ``n_iter`` (total iterations), ``converged`` (bool array over the
        right-hand sides: whether the final backward error meets ``tol``),
        ``backward_error`` (Karlson–Waldén estimate from a freshly computed
        gradient, relative to ``||A||_F`` estimated by the sketch),
        ``allowed_backward_error`` (the bound it is checked against) and
        ``rounds``.

    Raises
    ------
    ValueError
        If ``solver="iterative_sketching"`` and ``d < 3 * precond.rank``.
    """
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    if solver == "iterative_sketching":
        check_sketch_rows(d, precond.rank, solver)
    tol = 0.5 * _EPS if tol is None else float(tol)
    z = np.array(z0, dtype=np.float64, copy=True)
    fro = np.sqrt(np.sum(precond.s**2)) if precond.rank else 1.0
    norm_a = precond.s[0] if precond.rank else 1.0
    n_iter, rounds = 0, 0
    converged = np.zeros(z.shape[1], dtype=bool)
    n_rounds = 2 if refine else 1
    for _ in range(n_rounds):
        g, rnorm2 = op.residual_gradient(z)
        rnorm = np.sqrt(rnorm2)
        eta = karlson_walden_estimate(precond, g, z, rnorm) / fro
        if rounds and np.all(eta <= 2 * _EPS):
            break
        if precond.rank == 0:
            converged[:] = True
            break
        rounds += 1
        scale = norm_a * np.linalg.norm(z, axis=0) + 0.04 * precond.cond * rnorm
        scale = np.where(scale > 0, scale, 1.0)
        kw_stop = None
        if rounds == 2:
            # The refinement round runs until the Karlson-Waldén estimate,
            # evaluated on the preconditioned gradient s = P^T A^T r (so that
            # V^T A^T r = s * sigma), shows backward stability.
            kw_stop = _kw_stopper(precond, z, rnorm, fro)
        y, it, converged = _correction(
            op, precond, g, z, scale, tol, max_iter, solver, d, kw_stop
        )
        z += precond.apply(y)
        n_iter += it
    if refine and precond.rank and n_iter:
        n_iter += _accurate_correction(op, precond, z, rnorm, fro, max_iter)
    g, rnorm2 = op.residual_gradient(z)
    rnorm = np.sqrt(rnorm2)
    eta = karlson_walden_estimate(precond, g, z, rnorm) / fro
    allowed = _allowed_backward_error(precond, z, rnorm, fro, tol, refine)
    # The solvers' own stopping tests look at the size of the updates, which
    # is small also when the iteration merely crawls (a sketch that embeds
    # badly, a vanishing step): convergence is claimed only when the backward
    # error of the final iterate, from a freshly computed gradient, meets tol.
    converged = eta <= allowed
    return z, {
        "n_iter": n_iter,
        "converged": converged,
        "backward_error": eta,
        "allowed_backward_error": allowed,
        "rounds": rounds,
    }


# Slack of the final backward-error check: over ``tol`` (the error left after
# the update test, ``update * rho / (1 - rho)``, is below 1.5 updates when the
# contraction rho <= 0.6), and over eps (the Karlson-Waldén estimate uses the
# sketch's singular values, off by its distortion, and the gradient A^T r
# carries rounding errors of its own).
_TOL_SLACK = 4.0
_EPS_SLACK = 64.0


def _allowed_backward_error(precond, z, rnorm, fro, tol, refine):
    """Largest relative backward error that still meets ``tol``, per column.

    With ``refine`` the solution is to be backward stable: ``eta`` at most
    ``4 tol + 64 eps``. Without it the first round's test,
    an update below ``tol (||A|| ||z|| + 0.04 cond ||r||)``, is all that was
    asked, and the backward error it implies is allowed. A truncated
    (rank-deficient) sketch adds the size of the dropped singular values.
    """
    accuracy = _TOL_SLACK * tol + _EPS_SLACK * _EPS
    if refine:
        allowed = np.full(z.shape[1], accuracy)
    else:
        znorm = np.linalg.norm(z, axis=0)
        theta = rnorm / np.where(znorm > 0, znorm, 1.0)
        norm_a = precond.s[0] if precond.rank else 1.0
        cond = precond.cond if precond.rank else 1.0
        allowed = accuracy * (norm_a + 0.04 * cond * theta) / fro
    return allowed + 4.0 * precond.dropped / fro


# Iterative sketching contracts by about sqrt(r / d) per step with step
# (1 - r/d)^2 and momentum r/d: both degrade as d approaches r (the step
# vanishes at d = r), and below 3 r it needs more than 100 steps per round.
ITERATIVE_SKETCHING_MIN_RATIO = 3


def check_sketch_rows(d, rank, solver="iterative_sketching"):
    """Raise ``ValueError`` unless a sketch of ``d`` rows suits ``solver``.

    Parameters
    ----------
    d : int or None
        Rows of the sketch.
    rank : int
        Rank of the sketched matrix (its number of columns at most).
    solver : str, default="iterative_sketching"
        Only iterative sketching has a requirement beyond ``d >= rank``.
    """
    if solver != "iterative_sketching":
        return
    need = ITERATIVE_SKETCHING_MIN_RATIO * rank
    if d is None or d < need:
        raise ValueError(
            f"solver='iterative_sketching' needs a sketch of at least "
            f"{ITERATIVE_SKETCHING_MIN_RATIO} * {rank} = {need} rows, got d={d}: "
            "its step (1 - r/d)^2 vanishes and its contraction sqrt(r/d) tends "
            "to 1 as d approaches the rank r (Epperly, 2024, uses d ~ 12 r)"
        )


def _correction(op, precond, g, z, scale, tol, max_iter, solver, d, kw_stop):
    """One round of ``solver`` on ``min ||A P y - r||``, ``r = b - A z``.

    ``g = A^T r``. Returns ``(y, n_iter, converged)``.
    """
    if solver == "cg":
        return _cg_correction(op, precond, g, scale, tol, max_iter, kw_stop)
    if solver == "iterative_sketching":
        return _heavy_ball_correction(op, precond, g, scale, tol, max_iter, d, kw_stop)
    return _krylov_correction(op, precond, op.residual(z), scale, tol, max_iter, solver)


def _accurate_correction(op, precond, z, rnorm, fro, max_iter):
    """A last correction from an accurately summed gradient; updates ``z``.

    The float64 floor of ``A^T r`` matters only where the large-residual term
    ``cond^2 eps ||r|| / (||A|| ||z||)`` of the forward error exceeds
    ``cond eps``. For those columns, and when the operator provides
    :meth:`~sklearn_debias._randnla.LeastSquaresOperator.residual_gradient_accurate`,
    CG runs from that gradient until the Karlson–Waldén estimate shows
    backward stability. Returns the number of iterations.
    """
    need = precond.cond * rnorm > precond.s[0] * np.linalg.norm(z, axis=0)
    if not need.any():
        return 0
    g_acc = op.residual_gradient_accurate(z)
    if g_acc is None:
        return 0
    g_acc[:, ~need] = 0.0
    stop = _kw_stopper(precond, z, rnorm, fro)
    y, it, _ = _cg_correction(op, precond, g_acc, 1.0, 0.0, max_iter, stop)
    z += precond.apply(y)
    return it
