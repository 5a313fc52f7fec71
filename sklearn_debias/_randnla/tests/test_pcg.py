import numpy as np
import pytest
import scipy.linalg

from sklearn_debias._randnla import (
    NystromPreconditioner,
    adaptive_nystrom_preconditioner,
    pcg,
)


def _spd(n, decay, seed=0):
    rng = np.random.default_rng(seed)
    V = np.linalg.qr(rng.standard_normal((n, n)))[0]
    w = decay ** np.arange(n)
    return (V * w) @ V.T, V, w


def test_pcg_matches_direct_solve_per_column():
    A, _, _ = _spd(80, 0.9)
    A += 1e-2 * np.eye(80)
    B = np.random.default_rng(1).standard_normal((80, 3))
    B[:, 2] *= 1e6  # columns of very different scales stop independently
    res = pcg(lambda X: A @ X, B, tol=1e-10)
    expected = scipy.linalg.solve(A, B, assume_a="pos")
    assert res.converged and not res.breakdown
    np.testing.assert_allclose(res.x, expected, rtol=1e-7)
    true_res = np.linalg.norm(B - A @ res.x, axis=0) / np.linalg.norm(B, axis=0)
    assert np.all(true_res < 1e-9)
    assert np.all(res.residuals <= 1e-10)
    assert len(res.history) == res.n_iter
    assert res.history[-1] == pytest.approx(res.residuals.max())


def test_pcg_one_product_per_iteration_on_active_columns():
    A, _, _ = _spd(60, 0.8)
    A += np.eye(60)
    calls = []

    def matmat(X):
        calls.append(X.shape[1])
        return A @ X

    B = np.zeros((60, 3))
    B[0, 0] = 1.0  # one step: A e_0 ... not an eigenvector, several steps
    B[:, 1] = np.random.default_rng(0).standard_normal(60)
    # column 2 is zero: solved at once, never multiplied
    res = pcg(matmat, B, tol=1e-12)
    assert len(calls) == res.n_iter
    assert max(calls) <= 2 and res.converged
    np.testing.assert_array_equal(res.x[:, 2], 0.0)


def test_pcg_vector_shape_x0_and_max_iter():
    A, _, _ = _spd(50, 0.7)
    A += 1e-3 * np.eye(50)
    b = np.ones(50)
    res = pcg(lambda X: A @ X, b, tol=1e-12, max_iter=3)
    assert res.x.shape == (50,) and res.n_iter == 3 and not res.converged
    again = pcg(lambda X: A @ X, b, tol=1e-10, x0=res.x)
    assert again.converged
    np.testing.assert_allclose(A @ again.x, b, atol=1e-8)


def test_pcg_float32_stays_float32():
    A, _, _ = _spd(40, 0.9)
    A = (A + np.eye(40)).astype(np.float32)
    res = pcg(lambda X: A @ X, np.ones(40, dtype=np.float32), tol=1e-5)
    assert res.x.dtype == np.float32 and res.converged


def test_pcg_reports_breakdown_on_indefinite_matrix():
    A = np.diag([1.0, -1.0, 2.0])
    res = pcg(lambda X: A @ X, np.array([0.0, 1.0, 0.0]))
    assert res.breakdown and not res.converged


def test_nystrom_preconditioner_is_the_ftu_inverse():
    A, _, _ = _spd(60, 0.3)
    mu = 1e-4
    P = NystromPreconditioner.from_operator(lambda X: A @ X, 60, 10, mu, 0)
    U, lam = P.U, P.eigenvalues
    assert P.rank == 10 and P.mu == mu
    assert np.all(np.diff(lam) <= 0) and lam.min() >= 0
    Pmat = U @ np.diag(lam + mu) @ U.T + (lam[-1] + mu) * (np.eye(60) - U @ U.T)
    R = np.random.default_rng(2).standard_normal((60, 4))
    np.testing.assert_allclose(P.solve(R), np.linalg.solve(Pmat, R), rtol=1e-8)
    np.testing.assert_allclose(P.solve(R[:, 0]), np.linalg.solve(Pmat, R[:, 0]))
    # The leading eigenvalues of a fast-decaying spectrum are recovered.
    np.testing.assert_allclose(lam[:3], 0.3 ** np.arange(3), rtol=1e-4)


def test_preconditioning_cuts_iterations_independently_of_mu():
    A, _, _ = _spd(300, 0.9)
    b = np.random.default_rng(3).standard_normal(300)
    iters = []
    for mu in [1e-2, 1e-4, 1e-6]:

        def matmat(X, mu=mu):
            return A @ X + mu * X

        plain = pcg(matmat, b, tol=1e-8)
        P = adaptive_nystrom_preconditioner(
            lambda X: A @ X, 300, mu, rank=8, max_rank=300, random_state=0
        )
        pre = pcg(matmat, b, precond=P, tol=1e-8)
        assert pre.converged
        assert P.condition_estimate <= 30
        assert pre.n_iter < plain.n_iter
        iters.append(pre.n_iter)
        np.testing.assert_allclose(
            matmat(pre.x[:, None])[:, 0], b, atol=1e-7 * np.linalg.norm(b)
        )
    assert max(iters) <= 25


def test_adaptive_rank_respects_max_rank_and_fixed_rank():
    A, _, _ = _spd(100, 0.95)
    P = adaptive_nystrom_preconditioner(
        lambda X: A @ X, 100, 1e-8, rank=5, max_rank=23, random_state=0
    )
    assert P.rank <= 23 and P.condition_estimate > 30
    Q = adaptive_nystrom_preconditioner(
        lambda X: A @ X, 100, 1e-8, rank=7, random_state=0
    )
    assert Q.rank == 7


def test_from_factor_matches_eigendecomposition():
    rng = np.random.default_rng(4)
    F = rng.standard_normal((40, 5))
    P = NystromPreconditioner.from_factor(F, 0.5)
    np.testing.assert_allclose(
        P.eigenvalues, np.linalg.eigvalsh(F.T @ F)[::-1], rtol=1e-10
    )
    np.testing.assert_allclose(P.U @ np.diag(P.eigenvalues) @ P.U.T, F @ F.T)


def test_non_psd_sketch_is_refused():
    A = np.diag(np.r_[np.ones(10), -np.ones(10)])
    with pytest.raises(ValueError, match="positive semi-definite"):
        NystromPreconditioner.from_operator(lambda X: A @ X, 20, 10, 1.0, 0)
    with pytest.raises(ValueError, match="mu must be positive"):
        adaptive_nystrom_preconditioner(lambda X: X, 5, 0.0, random_state=0)


def test_adaptive_nystrom_stops_at_the_numerical_rank():
    # A rank-30 A with a shift far below rounding: the condition target is
    # out of reach, and doubling past the numerical rank would only cost
    # products. The sketch stops one doubling after it resolves all 30.
    G = np.random.default_rng(0).standard_normal((500, 30))
    A = G @ G.T
    columns = []

    def matmat(X):
        columns.append(X.shape[1])
        return A @ X

    P = adaptive_nystrom_preconditioner(
        matmat, 500, 1e-12, rank=16, max_rank=500, random_state=0
    )
    assert P.rank == 30
    assert sum(columns) == 64  # 16, then 16 and 32 more
