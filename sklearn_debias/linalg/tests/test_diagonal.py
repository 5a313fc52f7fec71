import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import aslinearoperator

from sklearn_debias._randnla import as_block_operator, random_test_matrix
from sklearn_debias.linalg import DiagonalResult, diagonal
from sklearn_debias.linalg._diagonal import _xdiag
from sklearn_debias.utils import EstimateResult, spawn_generators


def poly_matrix(n, power, seed=0):
    rng = np.random.default_rng(seed)
    V = np.linalg.qr(rng.standard_normal((n, n)))[0]
    return (V * np.arange(1, n + 1) ** -float(power)) @ V.T


def test_xdiag_matches_brute_force_leave_one_out():
    n, k = 30, 6
    A = np.random.default_rng(1).standard_normal((n, n))
    est, se, df = _xdiag(as_block_operator(A), 2 * k, "rademacher", 5)
    assert df == k - 1
    rng = spawn_generators(5, 1)[0]
    Omega = random_test_matrix(n, k, rng, kind="rademacher")
    ests = []
    for i in range(k):
        Qi = np.linalg.qr(np.delete(A @ Omega, i, axis=1))[0]
        P = Qi @ Qi.T
        w = Omega[:, i]
        ests.append(np.diag(P @ A) + w * ((A - P @ A) @ w))
    ests = np.array(ests)
    np.testing.assert_allclose(est, ests.mean(axis=0), atol=1e-12)
    np.testing.assert_allclose(se, ests.std(axis=0, ddof=1) / np.sqrt(k), atol=1e-12)


@pytest.mark.parametrize("method", ["xdiag", "hutchinson"])
@pytest.mark.parametrize("probe", ["rademacher", "gaussian"])
def test_unbiased_entrywise(method, probe):
    rng = np.random.default_rng(0)
    A = rng.standard_normal((25, 25)) + np.diag(np.arange(25.0))
    ests = np.array(
        [
            diagonal(A, 10, method=method, probe=probe, random_state=s).estimate
            for s in range(1500)
        ]
    )
    z = (ests.mean(axis=0) - np.diag(A)) / (ests.std(axis=0) / np.sqrt(len(ests)))
    # 25 entries: the largest |z| of 25 standard normals stays below 4.
    assert np.max(np.abs(z)) < 4.0, z


def test_xdiag_accurate_on_decaying_spectrum():
    A = poly_matrix(400, 2)
    d = np.diag(A)
    err = {
        m: np.median(
            [
                np.linalg.norm(diagonal(A, 100, method=m, random_state=s).estimate - d)
                / np.linalg.norm(d)
                for s in range(10)
            ]
        )
        for m in ("xdiag", "hutchinson")
    }
    assert err["xdiag"] < 0.02
    assert err["xdiag"] < err["hutchinson"] / 50


def test_standard_error_covers():
    A = poly_matrix(200, 1.5)
    res = diagonal(A, 80, random_state=0)
    low, high = res.confidence_interval(0.95)
    assert isinstance(res, DiagonalResult) and isinstance(res, EstimateResult)
    est, se = res
    assert est is res.estimate and se is res.standard_error
    assert res.estimate.shape == res.standard_error.shape == (200,)
    assert np.mean((low <= np.diag(A)) & (np.diag(A) <= high)) > 0.8


def test_exact_when_budget_covers_n_and_input_types():
    A = np.random.default_rng(0).standard_normal((20, 20))
    res = diagonal(sp.csr_matrix(A), 30)
    np.testing.assert_allclose(res.estimate, np.diag(A))
    assert res.n_matvecs == 20
    B = poly_matrix(60, 1)
    ref = diagonal(B, 20, random_state=0).estimate
    for inp in (aslinearoperator(B), lambda X: B @ X):
        out = diagonal(inp, 20, size=60, random_state=0)
        np.testing.assert_allclose(out.estimate, ref, rtol=1e-12)
        assert out.n_matvecs == 20


def test_invalid_input():
    with pytest.raises(ValueError, match="method must be"):
        diagonal(np.eye(10), 4, method="bekas")
    with pytest.raises(ValueError, match="n_matvecs >= 4"):
        diagonal(np.eye(10), 3)
    with pytest.raises(ValueError, match="square"):
        diagonal(np.ones((3, 2)), 4)


@pytest.mark.parametrize("method", ["xdiag", "hutchinson"])
def test_random_stream_rule(method):
    # Same int, same estimate; numpy's global state plays no part.
    A = poly_matrix(40, 1)
    results = []
    for seed in (0, 1):
        np.random.seed(seed)
        results.append(diagonal(A, 12, method=method, random_state=7).estimate)
    np.testing.assert_array_equal(*results)
    other = diagonal(A, 12, method=method, random_state=8).estimate
    assert not np.array_equal(other, results[0])
