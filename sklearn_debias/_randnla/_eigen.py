"""Iterative top-k eigen- and singular-value solvers on block operators.

* :func:`block_krylov_svd` -- block Golub-Kahan-Lanczos (block Krylov,
  Musco and Musco, 2015) with full reorthogonalisation, thick restarts, a
  Rayleigh-Ritz step every iteration and a stop on the per-triplet residual
  ``||A^T u - sigma v||`` (``A v = sigma u`` holds exactly in the basis);
* :func:`block_lanczos_eigsh` -- the symmetric counterpart for the largest
  eigenpairs;
* :func:`lazy_epsi` and :func:`epsi_step` -- Error-Powered Sketched Inverse
  Iteration (Xu and Lu, 2025): inverse iteration on the error of a Nyström
  sketch ``Ahat`` of a positive semi-definite ``A``,
  ``u <- normalize((Ahat - lambda I)^{-1} (Ahat - A) u)``, whose fixed point is
  an exact eigenvector for any sketch. The shifted inverse of the (projected)
  sketch is applied through its eigendecomposition (the Woodbury identity)
  at ``O(n r)`` cost per vector.

Every operator is a :class:`~._operators.BlockOperator`; products are
counted by the operator.

References
----------
Musco, C. and Musco, C. (2015). Randomized block Krylov methods for stronger
and faster approximate singular value decomposition. *NeurIPS*.

Xu and Lu (2025). Error-Powered Sketched Inverse Iteration (EPSI).
arXiv:2502.07993.
"""

import warnings

import numpy as np
import scipy.linalg
from sklearn.exceptions import ConvergenceWarning

from ._lowrank import nystrom_approximation, random_test_matrix

__all__ = [
    "KrylovState",
    "NystromSketch",
    "block_krylov_svd",
    "block_lanczos_eigsh",
    "epsi_step",
    "lazy_epsi",
]

_EPS = np.finfo(np.float64).eps


def _orthogonalize(Q, W):
    """``W - Q (Q^T W)`` by classical Gram-Schmidt, repeated when needed."""
    if Q.shape[1] == 0:
        return W, np.zeros((0, W.shape[1]))
    norm0 = np.linalg.norm(W, axis=0)
    C = Q.T @ W
    W = W - Q @ C
    # "Twice is enough" (Kahan-Parlett): a second pass only when a column
    # lost most of its norm, i.e. when cancellation may have left rounding
    # errors along range(Q).
    if np.any(np.linalg.norm(W, axis=0) < 0.7071 * norm0):
        C2 = Q.T @ W
        W -= Q @ C2
        C = C + C2
    return W, C


def _extend(Q, W, rng, scale):
    """New orthonormal block ``Qn`` with ``W = Q C + Qn R``, ``Qn`` orthogonal to ``Q``.

    Columns of ``W`` (nearly) inside ``range(Q)`` give rows of ``R`` below
    ``1e-13 * scale``; they are zeroed and their basis vectors replaced by
    random ones (the Krylov space was exhausted: an invariant subspace).
    At most ``dim - Q.shape[1]`` new columns are returned.
    """
    dim = W.shape[0]
    room = dim - Q.shape[1]
    W, C = _orthogonalize(Q, W)
    b = min(W.shape[1], room)
    if b <= 0:
        return np.zeros((dim, 0)), C, np.zeros((0, W.shape[1]))
    Qn, R, piv = scipy.linalg.qr(W, mode="economic", pivoting=True, check_finite=False)
    Qn, R = Qn[:, :b], R[:b]
    R_full = np.empty_like(R)
    R_full[:, piv] = R
    bad = np.abs(np.diag(R)[:b]) <= 1e-13 * max(scale, np.abs(R).max(initial=0.0))
    if bad.any():
        R_full[bad] = 0.0
        Z = random_test_matrix(dim, int(bad.sum()), rng)
        Z, _ = _orthogonalize(np.hstack([Q, Qn[:, ~bad]]), Z)
        Qn[:, bad] = scipy.linalg.qr(Z, mode="economic", check_finite=False)[0]
    # Guard against rounding: the block must be orthogonal to Q.
    Qn, _ = _orthogonalize(Q, Qn)
    return Qn, C, R_full


class KrylovState:
    """Basis of a block Krylov solver, kept to warm-start a later call.

    Attributes
    ----------
    V : ndarray of shape (n, k)
        Right (or eigen-) Ritz vectors of the last call.
    """

    def __init__(self, V):
        self.V = V


def _start_block(n, b, rng, V0):
    if V0 is None or V0.shape[1] == 0:
        return scipy.linalg.qr(random_test_matrix(n, b, rng), mode="economic")[0]
    V0 = np.asarray(V0, dtype=np.float64)[:, :b]
    Z = np.hstack([V0, random_test_matrix(n, b - V0.shape[1], rng)])
    return scipy.linalg.qr(Z, mode="economic", check_finite=False)[0]


def block_krylov_svd(
    op,
    k,
    *,
    block_size=None,
    tol=1e-8,
    max_iter=100,
    max_basis=None,
    rng=None,
    V0=None,
    warn=True,
):
    """Top-``k`` singular triplets by block Krylov (block Lanczos on ``A^T A``).

    Builds an orthonormal basis ``V`` of ``span{V0, A^T A V0, ...}`` (Musco
    and Musco, 2015) with full reorthogonalisation on the ``n`` side only
    (``n <= m``: pass a transposed operator otherwise), keeping the products
    ``P = A V``. Every iteration takes the Rayleigh-Ritz step of ``A^T A`` on
    ``V`` (its projection ``T`` is a by-product of the orthogonalisation),
    and the residual ``||A^T u_i - sigma_i v_i|| = ||S y_i|| / sigma_i`` of
    each Ritz triplet (``u_i = A v_i / sigma_i``) is read off without
    products. On exit a two-sided Rayleigh-Ritz step (the SVD of ``A V Z``
    for the leading Ritz vectors ``Z``) gives triplets with the accuracy of
    an SVD of ``A`` rather than of ``A^T A``. The basis is restarted thickly
    when it would exceed ``max_basis`` columns.

    Parameters
    ----------
    op : BlockOperator
        ``(m, n)`` operator with ``matmat`` and ``rmatmat``, ``n <= m``.
    k : int
        Number of triplets.
    block_size : int, default=None
        Columns per block; ``min(n, k + 10)`` by default.
    tol : float, default=1e-8
        Stop when every one of the ``k`` residuals is at most ``tol`` times
        the largest singular value.
    max_iter : int, default=100
        Maximum number of block iterations (each is ``2 * block_size``
        products).
    max_basis : int, default=None
        Largest number of basis columns before a thick restart;
        ``max(2 k + 2 b, 6 b)`` by default, at most ``n``.
    rng : Generator or seed, default=None
    V0 : ndarray of shape (n, j), default=None
        Starting vectors (a warm start); completed with random ones.
    warn : bool, default=True
        Warn with :class:`~sklearn.exceptions.ConvergenceWarning` when the
        tolerance is not met.

    Returns
    -------
    U : ndarray of shape (m, k)
    s : ndarray of shape (k,)
    Vt : ndarray of shape (k, n)
    info : dict
        ``n_iter``, ``residuals`` (``||A^T u_i - sigma_i v_i||``),
        ``converged`` (bool).
    """
    m, n = op.shape
    b = min(n, k + 10) if block_size is None else min(int(block_size), n)
    b = max(b, 1)
    if max_basis is None:
        max_basis = max(2 * k + 2 * b, 6 * b)
    max_basis = min(max(max_basis, k + b), n)
    Vb = np.empty((n, max_basis))
    Pb = np.empty((m, max_basis))
    T = np.zeros((0, 0))
    sv = 0
    Vnext = _start_block(n, b, rng, V0)
    scale = 0.0
    converged = False
    n_iter = 0
    while True:
        n_iter += 1
        bv = Vnext.shape[1]
        P = op.matmat(Vnext)
        W = op.rmatmat(P)
        Vb[:, sv : sv + bv] = Vnext
        Pb[:, sv : sv + bv] = P
        Vn, C, S = _extend(Vb[:, : sv + bv], W, rng, scale)
        T2 = np.zeros((sv + bv, sv + bv))
        T2[:sv, :sv] = T
        T2[:, sv:] = C
        T2[sv:, :sv] = C[:sv].T
        T = 0.5 * (T2 + T2.T)
        theta, Y = np.linalg.eigh(T)
        theta, Y = theta[::-1], Y[:, ::-1]
        scale = max(scale, theta[0] if theta.size else 0.0)
        kk = min(k, theta.size)
        sig = np.sqrt(np.maximum(theta[:kk], 1e-300))
        last = S @ Y[sv:, :kk] if S.size else np.zeros((0, kk))
        resid = np.linalg.norm(last, axis=0) / sig
        sv += bv
        Vnext = Vn
        thr = tol * np.sqrt(max(scale, 1e-300))
        converged = kk == k and bool(np.all(resid <= thr))
        if converged or Vnext.shape[1] == 0 or n_iter >= max_iter:
            break
        if sv + Vnext.shape[1] > max_basis:
            # Thick restart on the leading Ritz vectors: A^T A V Y = V Y Theta
            # + V_next S Y_last, recovered by the next orthogonalisation.
            p = min(max(k, max_basis - 2 * b), theta.size)
            Vb[:, :p] = Vb[:, :sv] @ Y[:, :p]
            Pb[:, :p] = Pb[:, :sv] @ Y[:, :p]
            T = np.diag(theta[:p])
            sv = p
    # Two-sided Rayleigh-Ritz on the leading Ritz vectors.
    q = min(sv, k + b)
    Z = Y[:, :q]
    Qc, Rc = scipy.linalg.qr(Pb[:, :sv] @ Z, mode="economic", check_finite=False)
    Ur, s, Wt = scipy.linalg.svd(Rc, check_finite=False)
    U = Qc @ Ur[:, :k]
    coef = Z @ Wt[:k].T
    Vt = (Vb[:, :sv] @ coef).T
    s = s[:k]
    # ||A^T A v - s^2 v||^2 = ||T y - s^2 y||^2 + ||S y_last||^2 for v = V y.
    inner = np.linalg.norm(T @ coef - coef * s**2, axis=0)
    outer = np.linalg.norm(S @ coef[sv - S.shape[1] :], axis=0) if S.size else 0.0
    resid = np.sqrt(inner**2 + outer**2) / np.maximum(s, 1e-300)
    if warn and not converged:
        warnings.warn(
            f"block Krylov SVD did not reach tol={tol:g} in {n_iter} iterations "
            f"(largest relative residual {resid.max() / max(s[0], 1e-300):.2e}); "
            "increase max_iter or tol",
            ConvergenceWarning,
            stacklevel=3,
        )
    info = dict(n_iter=n_iter, residuals=resid, converged=converged)
    return U, s, Vt, info


def block_lanczos_eigsh(
    op,
    k,
    *,
    block_size=None,
    tol=1e-8,
    max_iter=100,
    max_basis=None,
    rng=None,
    V0=None,
    warn=True,
):
    """Largest ``k`` eigenpairs of a symmetric operator by block Lanczos.

    Full reorthogonalisation, thick restarts and a Rayleigh-Ritz step every
    iteration; the residual ``||A v_i - theta_i v_i|| = ||S y_i||`` needs no
    products. Parameters as in :func:`block_krylov_svd`; ``tol`` is relative
    to the largest Ritz value in absolute value.

    Returns
    -------
    w : ndarray of shape (k,)
        Eigenvalues, decreasing.
    V : ndarray of shape (n, k)
    info : dict
        ``n_iter``, ``residuals``, ``converged``.
    """
    n = op.shape[0]
    b = min(n, k + 10) if block_size is None else min(int(block_size), n)
    b = max(b, 1)
    if max_basis is None:
        max_basis = max(2 * k + 2 * b, 6 * b)
    max_basis = min(max(max_basis, k + b), n)
    Vb = np.zeros((n, 0))
    T = np.zeros((0, 0))
    Vnext = _start_block(n, b, rng, V0)
    scale = 0.0
    resid = np.full(k, np.inf)
    converged = False
    n_iter = 0
    while True:
        n_iter += 1
        W = op.matmat(Vnext)
        sv, bv = Vb.shape[1], Vnext.shape[1]
        Vb = np.hstack([Vb, Vnext])
        Vn, C, S = _extend(Vb, W, rng, scale)
        T2 = np.zeros((sv + bv, sv + bv))
        T2[:sv, :sv] = T
        T2[:, sv:] = C
        T2[sv:, :sv] = C[:sv].T
        T = 0.5 * (T2 + T2.T)
        theta, Yv = np.linalg.eigh(T)
        theta, Yv = theta[::-1], Yv[:, ::-1]
        scale = max(scale, np.abs(theta).max(initial=0.0))
        kk = min(k, theta.size)
        resid = np.linalg.norm(S @ Yv[sv:, :kk], axis=0) if S.size else np.zeros(kk)
        Vnext = Vn
        if kk == k and np.all(resid <= tol * max(scale, 1e-300)):
            converged = True
            break
        if Vnext.shape[1] == 0 or n_iter >= max_iter:
            converged = kk == k and bool(np.all(resid <= tol * max(scale, 1e-300)))
            break
        if Vb.shape[1] + Vnext.shape[1] > max_basis:
            p = min(max(k, max_basis - 2 * b), theta.size)
            Vb = Vb @ Yv[:, :p]
            T = np.diag(theta[:p])
    if warn and not converged:
        warnings.warn(
            f"block Lanczos did not reach tol={tol:g} in {n_iter} iterations "
            f"(largest relative residual {resid.max() / max(scale, 1e-300):.2e}); "
            "increase max_iter or tol",
            ConvergenceWarning,
            stacklevel=3,
        )
    return (
        theta[:k],
        Vb @ Yv[:, :k],
        dict(n_iter=n_iter, residuals=resid, converged=converged),
    )


class NystromSketch:
    """Nyström sketch ``Ahat = Q diag(lam) Q^T`` of a PSD operator, kept updatable.

    The sketch ``Y = A Omega`` is linear in ``A``: when ``A`` changes by
    ``D`` it is updated by ``D Omega`` (:meth:`update`), without products
    with the whole ``A`` (Tropp, Yurtsever, Udell and Cevher, 2017).

    Parameters
    ----------
    Omega : ndarray of shape (n, r)
        Test matrix.
    Y : ndarray of shape (n, r)
        ``A @ Omega``.
    """

    def __init__(self, Omega, Y):
        self.Omega = Omega
        self.Y = Y
        self._factor()

    def _factor(self):
        self.Q, self.lam = nystrom_approximation(self.Omega, self.Y)

    @property
    def rank(self):
        """Number of columns of the test matrix."""
        return self.Omega.shape[1]

    def update(self, dY):
        """Add ``dY = D @ Omega`` (the change ``D`` of ``A`` times the test matrix)."""
        self.Y = self.Y + dY
        self._factor()

    def extend(self, Omega, Y):
        """Append test vectors ``Omega`` with their products ``Y = A @ Omega``."""
        self.Omega = np.hstack([self.Omega, Omega])
        self.Y = np.hstack([self.Y, Y])
        self._factor()

    def projected(self, X):
        """Eigendecomposition ``(Q_P, lam_P)`` of ``P Ahat P``, ``P = I - X X^T``."""
        if X is None or X.shape[1] == 0:
            return self.Q, self.lam
        B = self.Q * np.sqrt(self.lam)
        B = B - X @ (X.T @ B)
        Q, s, _ = scipy.linalg.svd(B, full_matrices=False, check_finite=False)
        return Q, s**2


def _shifted_solve(Q, lam, shifts, R):
    """``(Q diag(lam) Q^T - shift_j I)^{-1} r_j`` per column (Woodbury, O(n r))."""
    shifts = np.asarray(shifts, dtype=np.float64)
    tiny = 1e-300
    Z = Q.T @ R
    denom = lam[:, None] - shifts[None, :]
    small = np.abs(denom) < 1e3 * _EPS * np.maximum(np.abs(shifts)[None, :], tiny)
    denom = np.where(
        small, np.copysign(1e3 * _EPS, denom) * np.maximum(np.abs(shifts), tiny), denom
    )
    safe = np.where(np.abs(shifts) > tiny, shifts, tiny)
    return Q @ (Z / denom) - (R - Q @ Z) / safe[None, :]


def epsi_step(sketch, matvec, u):
    """One EPSI step ``normalize((Ahat - lambda I)^{-1} (Ahat - A) u)``.

    ``lambda = u^T A u / u^T u``. An exact eigenvector of ``A`` is a fixed
    point whatever the sketch ``Ahat``.

    Parameters
    ----------
    sketch : NystromSketch
        ``Ahat = Q diag(lam) Q^T``.
    matvec : callable
        ``matvec(x)`` returns ``A @ x`` for ``x`` of shape ``(n, 1)``.
    u : ndarray of shape (n,)
        Current vector.

    Returns
    -------
    u_new : ndarray of shape (n,)
        Unit vector, its sign aligned with ``u``.
    lam : float
        The Rayleigh quotient of ``u``.
    """
    u = np.asarray(u, dtype=np.float64).reshape(-1, 1)
    Au = matvec(u)
    lam = float((u.T @ Au).item() / (u.T @ u).item())
    Ahat_u = sketch.Q @ (sketch.lam[:, None] * (sketch.Q.T @ u))
    x = _shifted_solve(sketch.Q, sketch.lam, [lam], Ahat_u - Au)[:, 0]
    x /= np.linalg.norm(x)
    if x @ u[:, 0] < 0:
        x = -x
    return x, lam


def _rayleigh_ritz(S, GS, k):
    """Rayleigh-Ritz of ``G`` on ``range(S)`` given ``G S``; top ``k`` pairs.

    Returns ``(X, GX, theta)`` or ``None`` when ``S`` is too ill-conditioned
    for its products to be reused.
    """
    Q, R = scipy.linalg.qr(S, mode="economic", check_finite=False)
    d = np.abs(np.diag(R))
    if d.min(initial=np.inf) <= 1e-10 * d.max(initial=0.0):
        return None
    GQ = scipy.linalg.solve_triangular(R, GS.T, trans="T", check_finite=False).T
    H = Q.T @ GQ
    theta, Yv = np.linalg.eigh(0.5 * (H + H.T))
    theta, Yv = theta[::-1][:k], Yv[:, ::-1][:, :k]
    return Q @ Yv, GQ @ Yv, theta


def lazy_epsi(
    op,
    k,
    *,
    sketch=None,
    sketch_size=None,
    tol=1e-8,
    max_iter=100,
    rng=None,
    X0=None,
    GX0=None,
    adaptive=True,
    rho_target=0.5,
    max_sketch_size=None,
    guard=True,
    residual_scale="eig",
    warn=True,
):
    """Top-``k`` eigenpairs of a PSD operator by Lazy-EPSI (Xu and Lu, Algorithm 2).

    Every iteration updates the active (unconverged) Ritz vectors by the
    EPSI correction against the projected sketch,
    ``u_i <- u_i - (P Ahat P - theta_i I)^{-1} P r_i`` with
    ``r_i = A u_i - theta_i u_i`` and ``P = I - X X^T`` (algebraically
    ``(Ahat_P - theta_i)^{-1} (Ahat_P - A) u_i``), then takes the
    Rayleigh-Ritz step on the span of the updated block. Safeguards:

    * divergence guard: when the largest residual grows, the step is
      replaced by the Rayleigh-Ritz step on ``span{X, corrections}``, which
      never increases the Ritz values (no products: ``A`` times both is known);
    * adaptive sketch: when the contraction ``res_t / res_{t-1}`` stays
      above ``rho_target`` for two iterations, the sketch size is doubled;
    * deflation: converged vectors are locked (no more products);
    * a :class:`~sklearn.exceptions.ConvergenceWarning` when ``tol`` is not met.

    Parameters
    ----------
    op : BlockOperator
        Symmetric positive semi-definite ``(n, n)`` operator.
    k : int
    sketch : NystromSketch, default=None
        A sketch to reuse (a warm start: it may be of an older ``A``).
    sketch_size : int, default=None
        Columns of a new sketch, ``max(2 k, k + 10)`` by default.
    tol : float, default=1e-8
        Stop when every residual is at most ``tol`` times the largest Ritz
        value (``residual_scale="svd"``: both in singular-value units).
    max_iter : int, default=100
    rng : Generator or seed, default=None
    X0 : ndarray of shape (n, j), default=None
        Starting vectors (warm start), completed with random ones.
    GX0 : ndarray of shape (n, k), default=None
        ``A @ X0`` when known (``X0`` orthonormal with ``k`` columns): the
        warm start then costs no products.
    adaptive : bool, default=True
    rho_target : float, default=0.5
    max_sketch_size : int, default=None
        Cap of the adaptive doubling, ``min(n // 2, 16 k)`` by default (each
        iteration costs ``O(n r^2)`` in the projected sketch).
    guard : bool, default=True
    residual_scale : {"eig", "svd"}, default="eig"
        ``"svd"`` when ``op`` is ``A^T A``: residuals are reported as
        ``||A^T A v - s^2 v|| / s = ||A^T u - s v||`` and compared with
        ``tol * s_1``.
    warn : bool, default=True

    Returns
    -------
    theta : ndarray of shape (k,)
        Eigenvalues, decreasing.
    X : ndarray of shape (n, k)
    info : dict
        ``n_iter``, ``residuals``, ``converged``, ``sketch`` (the sketch, for
        reuse), ``residual_history`` (largest residual per iteration),
        ``n_guard`` (guarded steps), ``sketch_size``, ``GX`` (``A @ X``).
    """
    n = op.shape[0]
    if sketch is None:
        r = max(2 * k, k + 10) if sketch_size is None else int(sketch_size)
        r = min(r, n)
        Omega = random_test_matrix(n, r, rng)
        sketch = NystromSketch(Omega, op.matmat(Omega))
    if max_sketch_size is None:
        max_sketch_size = max(min(n // 2, 16 * k), sketch.rank)
    if X0 is None:
        # Start from the sketch's own top eigenvectors (sketch-and-solve).
        X0 = sketch.Q[:, :k]
    if GX0 is not None and X0 is not None and X0.shape == (n, k):
        X, GX = np.asarray(X0, dtype=np.float64), np.asarray(GX0, dtype=np.float64)
    else:
        X = _start_block(n, k, rng, X0)
        GX = op.matmat(X)
    step = _rayleigh_ritz(X, GX, k)
    if step is None:
        X = _start_block(n, k, rng, X)
        step = _rayleigh_ritz(X, op.matmat(X), k)
    X, GX, theta = step

    def residuals(X, GX, theta):
        res = np.linalg.norm(GX - X * theta, axis=0)
        if residual_scale == "svd":
            res = res / np.sqrt(np.maximum(theta, 1e-300))
            return res, tol * np.sqrt(max(theta[0], 0.0))
        return res, tol * max(abs(theta[0]), 1e-300)

    res, thr = residuals(X, GX, theta)
    history = [res.max()]
    n_guard = 0
    slow = 0
    n_iter = 0
    converged = bool(np.all(res <= thr))
    while not converged and n_iter < max_iter:
        n_iter += 1
        active = res > thr
        Xa = X[:, active]
        Ra = GX[:, active] - Xa * theta[active]
        Ra -= X @ (X.T @ Ra)
        Qp, lamp = sketch.projected(X)
        T = _shifted_solve(Qp, lamp, theta[active], Ra)
        T -= X @ (X.T @ T)
        GT = op.matmat(T)
        # Lazy-EPSI: Rayleigh-Ritz on the updated block (locked vectors kept).
        S = X.copy()
        GS = GX.copy()
        S[:, active] = Xa - T
        GS[:, active] = GX[:, active] - GT
        step = _rayleigh_ritz(S, GS, k)
        new = None
        if step is not None:
            new_res, new_thr = residuals(*step)
            if not guard or new_res.max() <= history[-1]:
                new = step
        if new is None:
            # Divergence guard: Rayleigh-Ritz on span{X, T}.
            n_guard += 1
            big = _rayleigh_ritz(np.hstack([X, T]), np.hstack([GX, GT]), k)
            new = big if big is not None else step
            if new is None:
                break
        X, GX, theta = new
        res, thr = residuals(X, GX, theta)
        history.append(res.max())
        converged = bool(np.all(res <= thr))
        rho = history[-1] / max(history[-2], 1e-300)
        slow = slow + 1 if rho > rho_target else 0
        if adaptive and slow >= 2 and not converged and sketch.rank < max_sketch_size:
            r_new = min(sketch.rank, max_sketch_size - sketch.rank)
            Omega = random_test_matrix(n, r_new, rng)
            sketch.extend(Omega, op.matmat(Omega))
            slow = 0
    if warn and not converged:
        warnings.warn(
            f"EPSI did not reach tol={tol:g} in {n_iter} iterations (largest "
            f"relative residual {res.max() / max(thr / tol, 1e-300):.2e}); "
            "increase max_iter, tol or sketch_size",
            ConvergenceWarning,
            stacklevel=3,
        )
    info = dict(
        n_iter=n_iter,
        residuals=res,
        converged=converged,
        sketch=sketch,
        GX=GX,
        residual_history=np.asarray(history),
        n_guard=n_guard,
        sketch_size=sketch.rank,
    )
    return theta, X, info
