"""Randomized low-rank approximation of an operator known through products.

Test matrices, the randomized range finder and the stable Nyström
approximation, and the one implementation of the *stabilising shift*: a
sketch ``Y = A Omega`` is factored after adding ``nu Omega`` with a tiny
``nu`` (:func:`stabilising_shift`), so that rounding cannot make the small
core matrix singular or indefinite. :func:`nystrom_factor` (shift, Cholesky,
and a fallback: an eigendecomposition or a larger shift) serves the Nyström
approximation, XNysTrace and the Nyström preconditioner of ``logdet``;
:func:`shifted_qr` (shift only when the range is captured exactly) serves
XTrace and XDiag.

References
----------
Halko, N., Martinsson, P.-G. and Tropp, J. A. (2011). Finding structure with
randomness. *SIAM Review* 53(2), 217-288.

Tropp, J. A., Yurtsever, A., Udell, M. and Cevher, V. (2017). Fixed-rank
approximation of a positive-semidefinite matrix from streaming data. *NeurIPS*.
"""

from collections import namedtuple

import numpy as np
import scipy.linalg

from ..utils import check_generator

__all__ = [
    "NystromFactor",
    "nystrom_approximation",
    "nystrom_factor",
    "orthonormal_basis",
    "psd_eigenpairs",
    "random_test_matrix",
    "randomized_range_finder",
    "shifted_qr",
    "stabilising_shift",
    "symmetric_part",
]

_EPS = np.finfo(np.float64).eps

NystromFactor = namedtuple("NystromFactor", ["B", "nu", "Y", "cholesky"])
NystromFactor.__doc__ = """Factor of a shifted Nyström approximation.

``B B^T = Y (Omega^T Y)^{-1} Y^T`` for the shifted sketch ``Y = Y0 + nu Omega``;
``cholesky`` is the upper factor ``C`` of ``Omega^T Y = C^T C`` (``B = Y C^{-1}``),
or ``None`` when the eigendecomposition fallback was used."""


def random_test_matrix(n, k, rng, kind="gaussian", dtype=np.float64):
    """Random test (probe) matrix of shape ``(n, k)``.

    Parameters
    ----------
    n, k : int
        Shape of the matrix.
    rng : int, None, RandomState, Generator or SeedSequence
        Source of randomness; a ``Generator`` is drawn from directly.
    kind : {"gaussian", "rademacher"}, default="gaussian"
        Standard normal entries, or independent random signs.
    dtype : dtype, default=np.float64
        Data type of the result.

    Returns
    -------
    Omega : ndarray of shape (n, k)
    """
    rng = check_generator(rng)
    if kind == "gaussian":
        return rng.standard_normal((n, k)).astype(dtype, copy=False)
    if kind == "rademacher":
        return (2.0 * rng.integers(0, 2, size=(n, k)) - 1.0).astype(dtype, copy=False)
    raise ValueError(f"probe kind must be 'gaussian' or 'rademacher', got {kind!r}")


def orthonormal_basis(Y):
    """Orthonormal basis of the range of ``Y`` by a Householder QR.

    Parameters
    ----------
    Y : ndarray of shape (n, k)
        Matrix whose range is wanted, ``k <= n``.

    Returns
    -------
    Q : ndarray of shape (n, k)
        Orthonormal columns spanning the range of ``Y`` (when ``Y`` has full
        column rank; otherwise a superset of it).
    """
    Q, _ = scipy.linalg.qr(Y, mode="economic", check_finite=False)
    return Q


def randomized_range_finder(matmat, n, rank, rng, n_power_iter=0, rmatmat=None):
    """Orthonormal ``Q`` of shape ``(n, rank)`` whose range approximates ``A``'s.

    Parameters
    ----------
    matmat : callable
        ``matmat(X)`` returns ``A @ X`` for ``X`` of shape ``(n, k)``.
    n : int
        Number of columns of ``A``.
    rank : int
        Number of columns of ``Q`` (include any oversampling).
    rng : int, None, RandomState, Generator or SeedSequence
        Source of the test matrix.
    n_power_iter : int, default=0
        Subspace iterations, each re-orthonormalised.
    rmatmat : callable, default=None
        ``rmatmat(X)`` returns ``A.T @ X``; defaults to ``matmat`` (symmetric A).

    Returns
    -------
    Q : ndarray of shape (n_rows_of_A, rank)
    """
    rmatmat = matmat if rmatmat is None else rmatmat
    Q = orthonormal_basis(matmat(random_test_matrix(n, rank, rng)))
    for _ in range(n_power_iter):
        Q = orthonormal_basis(rmatmat(Q))
        Q = orthonormal_basis(matmat(Q))
    return Q


def symmetric_part(M):
    """``(M + M^T) / 2``: a product such as ``Omega^T A Omega`` made symmetric."""
    return 0.5 * (M + M.T)


def stabilising_shift(Y, factor=1.0):
    """The shift ``nu = factor * sqrt(n) * eps * ||Y||_F`` of a sketch ``Y``.

    Small enough to change a Nyström approximation or a range only at the
    level of rounding errors, large enough to keep its core factorisable
    (Tropp, Yurtsever, Udell and Cevher, 2017, Algorithm 3, use ``factor=1``).

    Parameters
    ----------
    Y : ndarray of shape (n, k)
        The sketch ``A @ Omega``.
    factor : float, default=1.0
        Multiple of the standard shift.

    Returns
    -------
    nu : float
    """
    return factor * np.sqrt(Y.shape[0]) * _EPS * np.linalg.norm(Y)


def psd_eigenpairs(core, rtol):
    """Eigenpairs of a symmetric core above ``rtol`` times its largest eigenvalue.

    Parameters
    ----------
    core : ndarray of shape (k, k)
        Symmetric matrix.
    rtol : float
        Relative threshold; smaller (or negative) eigenvalues are dropped.

    Returns
    -------
    w : ndarray of shape (r,)
        The kept eigenvalues, increasing.
    V : ndarray of shape (k, r)
        Their eigenvectors.
    """
    w, V = np.linalg.eigh(core)
    keep = w > w[-1] * rtol
    return w[keep], V[:, keep]


def nystrom_factor(Omega, Y, fallback="eigh"):
    """Shift the sketch by ``nu Omega`` and factor its core ``Omega^T Y``.

    The one implementation of the stabilising shift with its fallback. The
    Cholesky factorisation of the shifted core can still fail when ``A`` is
    positive semi-definite only up to rounding; then ``fallback="eigh"``
    factors the core by its eigenvalues above ``1e-12`` times the largest,
    and ``fallback="shift"`` retries with the larger shift
    ``1e3 nu + eps max|core|`` (for callers that need the Cholesky factor).

    Parameters
    ----------
    Omega : ndarray of shape (n, k)
        Test matrix.
    Y : ndarray of shape (n, k)
        ``A @ Omega``.
    fallback : {"eigh", "shift"}, default="eigh"
        What to do when the Cholesky factorisation fails.

    Returns
    -------
    factor : NystromFactor
        ``B`` of shape ``(n, k')`` with ``B B^T`` the Nyström approximation of
        ``A + nu I``, the shift ``nu``, the shifted sketch ``Y`` and the
        Cholesky factor (``None`` after the eigendecomposition fallback).
    """
    nu = stabilising_shift(Y)
    Y = Y + nu * Omega
    core = symmetric_part(Omega.T @ Y)
    try:
        C = scipy.linalg.cholesky(core, lower=False, check_finite=False)
    except np.linalg.LinAlgError:
        if fallback == "eigh":
            w, V = psd_eigenpairs(core, 1e-12)
            return NystromFactor(Y @ (V / np.sqrt(w)), nu, Y, None)
        nu2 = 1e3 * nu + _EPS * np.abs(core).max()
        Y = Y + (nu2 - nu) * Omega
        nu = nu2
        core = symmetric_part(Omega.T @ Y)
        C = scipy.linalg.cholesky(core, lower=False, check_finite=False)
    B = scipy.linalg.solve_triangular(C, Y.T, trans="T", check_finite=False).T
    return NystromFactor(B, nu, Y, C)


def nystrom_approximation(Omega, Y):
    """Numerically stable Nyström approximation ``A ~ U diag(eigvals) U^T``.

    Given a test matrix ``Omega`` and the sketch ``Y = A @ Omega`` of a symmetric
    positive semi-definite ``A``, returns the eigendecomposition of
    ``Y (Omega^T Y)^+ Y^T``, computed with a small shift for stability
    (Tropp, Yurtsever, Udell and Cevher, 2017, Algorithm 3; see
    :func:`nystrom_factor`).

    Parameters
    ----------
    Omega : ndarray of shape (n, k)
        Test matrix.
    Y : ndarray of shape (n, k)
        ``A @ Omega``.

    Returns
    -------
    U : ndarray of shape (n, k)
        Orthonormal eigenvectors.
    eigvals : ndarray of shape (k,)
        Non-negative eigenvalues, in decreasing order.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias._randnla import nystrom_approximation
    >>> rng = np.random.default_rng(0)
    >>> V = np.linalg.qr(rng.standard_normal((50, 3)))[0]
    >>> A = V @ np.diag([3.0, 2.0, 1.0]) @ V.T
    >>> Omega = rng.standard_normal((50, 5))
    >>> U, lam = nystrom_approximation(Omega, A @ Omega)
    >>> np.round(lam[:3], 8)
    array([3., 2., 1.])
    """
    factor = nystrom_factor(Omega, Y)
    U, s, _ = scipy.linalg.svd(factor.B, full_matrices=False, check_finite=False)
    eigvals = np.maximum(s**2 - factor.nu, 0.0)
    return U, eigvals


def shifted_qr(Omega, Y):
    """QR of a range sketch, shifted when it captures the range exactly.

    When ``A`` has rank below the number ``k`` of probes, ``R`` of
    ``Y = A Omega = QR`` is numerically singular; the sketch is then
    replaced by ``(A + nu I) Omega`` with ``nu = 1e3 * sqrt(n) eps ||Y||``
    (:func:`stabilising_shift`), which keeps ``R`` invertible, and the caller
    removes the shift's contribution.

    Parameters
    ----------
    Omega : ndarray of shape (n, k)
        Test matrix.
    Y : ndarray of shape (n, k)
        ``A @ Omega``.

    Returns
    -------
    Y : ndarray of shape (n, k)
        The (possibly shifted) sketch.
    Q : ndarray of shape (n, k)
    R : ndarray of shape (k, k)
    nu : float
        The shift, ``0.0`` when none was needed.
    """
    Q, R = scipy.linalg.qr(Y, mode="economic", check_finite=False)
    if not np.min(np.abs(np.diag(R))) <= 1e3 * _EPS * np.abs(R[0, 0]):
        return Y, Q, R, 0.0
    nu = stabilising_shift(Y, factor=1e3)
    Y = Y + nu * Omega
    Q, R = scipy.linalg.qr(Y, mode="economic", check_finite=False)
    return Y, Q, R, nu
