"""Tests of the randomized low-rank part of sklearn_debias._randnla."""

import numpy as np
import pytest
import scipy.linalg

from sklearn_debias._randnla import (
    nystrom_approximation,
    nystrom_factor,
    orthonormal_basis,
    psd_eigenpairs,
    random_test_matrix,
    randomized_range_finder,
    shifted_qr,
    stabilising_shift,
)


def psd_matrix(n, eigvals, seed=0):
    rng = np.random.default_rng(seed)
    V = np.linalg.qr(rng.standard_normal((n, n)))[0]
    return (V * eigvals) @ V.T


@pytest.mark.parametrize("kind", ["gaussian", "rademacher"])
def test_random_test_matrix(kind):
    rng = np.random.default_rng(0)
    Omega = random_test_matrix(2000, 50, rng, kind=kind)
    assert Omega.shape == (2000, 50) and Omega.dtype == np.float64
    # Isotropic: E[omega omega^T] = I, checked on the Gram matrix.
    gram = Omega.T @ Omega / 2000
    np.testing.assert_allclose(np.diag(gram), 1.0, atol=0.1)
    assert np.max(np.abs(gram - np.diag(np.diag(gram)))) < 0.15
    if kind == "rademacher":
        assert set(np.unique(Omega)) == {-1.0, 1.0}
    again = random_test_matrix(2000, 50, np.random.default_rng(0), kind=kind)
    np.testing.assert_array_equal(Omega, again)
    assert random_test_matrix(10, 3, rng, dtype=np.float32).dtype == np.float32


def test_random_test_matrix_rejects_unknown_kind():
    with pytest.raises(ValueError, match="probe kind"):
        random_test_matrix(5, 2, np.random.default_rng(0), kind="uniform")


def test_orthonormal_basis_spans_input():
    Y = np.random.default_rng(0).standard_normal((100, 7))
    Q = orthonormal_basis(Y)
    np.testing.assert_allclose(Q.T @ Q, np.eye(7), atol=1e-12)
    np.testing.assert_allclose(Q @ (Q.T @ Y), Y, atol=1e-12)


def test_range_finder_captures_exact_low_rank():
    rng = np.random.default_rng(0)
    B = rng.standard_normal((200, 6))
    A = B @ rng.standard_normal((6, 200))
    Q = randomized_range_finder(
        lambda X: A @ X, 200, 10, rng, rmatmat=lambda X: A.T @ X
    )
    assert Q.shape == (200, 10)
    np.testing.assert_allclose(Q @ (Q.T @ A), A, atol=1e-10 * np.linalg.norm(A))


def test_range_finder_error_near_optimal_and_power_iterations_help():
    n, k = 300, 20
    eigvals = np.arange(1, n + 1) ** -1.0
    A = psd_matrix(n, eigvals)
    optimal = np.sqrt(np.sum(eigvals[k:] ** 2))  # best rank-k Frobenius error
    errs = []
    for q in (0, 2):
        e = [
            np.linalg.norm(
                A
                - (
                    Q := randomized_range_finder(
                        lambda X: A @ X, n, k, np.random.default_rng(s), n_power_iter=q
                    )
                )
                @ (Q.T @ A)
            )
            for s in range(5)
        ]
        errs.append(np.mean(e))
    # Halko, Martinsson and Tropp: with oversampling the error is a modest
    # multiple of the optimal one; subspace iteration brings it closer.
    assert errs[0] < 3 * optimal
    assert errs[1] < errs[0]
    assert errs[1] < 1.2 * optimal


def test_nystrom_exact_for_low_rank_psd():
    rng = np.random.default_rng(0)
    eigvals = np.zeros(80)
    eigvals[:4] = [5.0, 3.0, 2.0, 1.0]
    A = psd_matrix(80, eigvals)
    Omega = rng.standard_normal((80, 10))
    U, lam = nystrom_approximation(Omega, A @ Omega)
    assert U.shape == (80, 10) and lam.shape == (10,)
    np.testing.assert_allclose(U.T @ U, np.eye(10), atol=1e-10)
    np.testing.assert_allclose(lam[:4], [5.0, 3.0, 2.0, 1.0], rtol=1e-8)
    np.testing.assert_allclose(lam[4:], 0.0, atol=1e-8)
    np.testing.assert_allclose((U * lam) @ U.T, A, atol=1e-8)


def test_nystrom_is_below_a_and_matches_definition():
    # A_hat = Y (Omega^T Y)^+ Y^T satisfies 0 <= A_hat <= A (Loewner order).
    n = 120
    A = psd_matrix(n, np.arange(1, n + 1) ** -2.0, seed=1)
    Omega = np.random.default_rng(2).standard_normal((n, 15))
    Y = A @ Omega
    U, lam = nystrom_approximation(Omega, Y)
    A_hat = (U * lam) @ U.T
    reference = Y @ np.linalg.solve(Omega.T @ Y, Y.T)
    np.testing.assert_allclose(A_hat, reference, atol=1e-10)
    assert np.all(np.diff(lam) <= 1e-14) and np.all(lam >= 0)
    assert np.linalg.eigvalsh(A - A_hat).min() > -1e-10


def _failing_cholesky(n_failures, monkeypatch):
    """Make the first ``n_failures`` Cholesky factorisations raise."""
    real = scipy.linalg.cholesky
    calls = []

    def cholesky(*args, **kwargs):
        calls.append(1)
        if len(calls) <= n_failures:
            raise np.linalg.LinAlgError("forced")
        return real(*args, **kwargs)

    monkeypatch.setattr(scipy.linalg, "cholesky", cholesky)


def test_nystrom_factor_shift_and_cholesky():
    n = 60
    A = psd_matrix(n, np.arange(1, n + 1) ** -2.0, seed=3)
    Omega = np.random.default_rng(4).standard_normal((n, 8))
    Y = A @ Omega
    factor = nystrom_factor(Omega, Y)
    nu = stabilising_shift(Y)
    assert factor.nu == nu == np.sqrt(n) * np.finfo(float).eps * np.linalg.norm(Y)
    np.testing.assert_array_equal(factor.Y, Y + nu * Omega)
    C = factor.cholesky
    np.testing.assert_allclose(C.T @ C, Omega.T @ factor.Y, rtol=1e-12)
    np.testing.assert_allclose(factor.B @ C, factor.Y, atol=1e-12)


@pytest.mark.parametrize("fallback", ["eigh", "shift"])
def test_nystrom_factor_fallbacks(fallback, monkeypatch):
    # Whichever fallback runs, B B^T is still the Nyström approximation of
    # A (+ the shift, which is at rounding level).
    n = 60
    A = psd_matrix(n, np.arange(1, n + 1) ** -2.0, seed=3)
    Omega = np.random.default_rng(4).standard_normal((n, 8))
    Y = A @ Omega
    reference = Y @ np.linalg.solve(Omega.T @ Y, Y.T)
    _failing_cholesky(1, monkeypatch)
    factor = nystrom_factor(Omega, Y, fallback=fallback)
    np.testing.assert_allclose(factor.B @ factor.B.T, reference, atol=1e-9)
    if fallback == "eigh":
        assert factor.cholesky is None
        assert factor.nu == stabilising_shift(Y)
    else:
        assert factor.nu > 1e3 * stabilising_shift(Y)
        np.testing.assert_allclose(factor.B @ factor.cholesky, factor.Y, atol=1e-12)


def test_nystrom_approximation_with_eigh_fallback(monkeypatch):
    rng = np.random.default_rng(0)
    eigvals = np.zeros(80)
    eigvals[:4] = [5.0, 3.0, 2.0, 1.0]
    A = psd_matrix(80, eigvals)
    Omega = rng.standard_normal((80, 10))
    _failing_cholesky(1, monkeypatch)
    U, lam = nystrom_approximation(Omega, A @ Omega)
    np.testing.assert_allclose(lam[:4], [5.0, 3.0, 2.0, 1.0], rtol=1e-8)
    np.testing.assert_allclose((U * lam) @ U.T, A, atol=1e-8)


def test_psd_eigenpairs_drops_small_and_negative():
    core = np.diag([-1e-3, 1e-15, 0.5, 2.0])
    w, V = psd_eigenpairs(core, 1e-12)
    np.testing.assert_array_equal(w, [0.5, 2.0])
    np.testing.assert_array_equal(np.abs(V), np.eye(4)[:, 2:])


def test_shifted_qr_shifts_only_rank_deficient_sketches():
    rng = np.random.default_rng(0)
    Omega = rng.standard_normal((50, 6))
    full = psd_matrix(50, np.arange(1, 51) ** -1.0)
    Y, Q, R, nu = shifted_qr(Omega, full @ Omega)
    assert nu == 0.0
    np.testing.assert_array_equal(Y, full @ Omega)
    B = rng.standard_normal((50, 3))
    low = B @ B.T  # rank 3 < 6 probes: R is singular
    Y, Q, R, nu = shifted_qr(Omega, low @ Omega)
    assert nu == stabilising_shift(low @ Omega, factor=1e3) > 0
    np.testing.assert_allclose(Q @ R, low @ Omega + nu * Omega, atol=1e-12)
    # R is no longer numerically singular.
    assert np.min(np.abs(np.diag(R))) > 1e3 * np.finfo(float).eps * np.abs(R[0, 0])
