"""sketched_svd / sketched_eigsh: every method and input kind, and bad input."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, aslinearoperator
from sklearn.exceptions import ConvergenceWarning

from sklearn_debias.decomposition import (
    SketchedEigshResult,
    SketchedSVDResult,
    sketched_eigsh,
    sketched_svd,
)


def _known(m, n, s, seed=0):
    rng = np.random.default_rng(seed)
    U = np.linalg.qr(rng.standard_normal((m, min(m, n))))[0]
    V = np.linalg.qr(rng.standard_normal((n, min(m, n))))[0]
    return (U * s) @ V.T, U, V


def _sin(W, P):
    W = np.linalg.qr(W)[0]
    return np.linalg.norm(W - P @ (P.T @ W), 2)


@pytest.mark.parametrize("method", ["auto", "block_krylov", "epsi", "randomized"])
@pytest.mark.parametrize("shape", [(200, 60), (60, 200)])
def test_methods_recover_known_triplets(method, shape):
    m, n = shape
    s0 = 0.7 ** np.arange(min(m, n))
    A, U0, V0 = _known(m, n, s0)
    k = 5
    tol = 1e-12 if method != "randomized" else 1e-6
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        res = sketched_svd(A, k, method=method, tol=tol, random_state=0)
    assert isinstance(res, SketchedSVDResult)
    U, s, Vt = res
    assert U.shape == (m, k) and s.shape == (k,) and Vt.shape == (k, n)
    rtol = 1e-10 if method != "randomized" else 1e-6
    np.testing.assert_allclose(s, s0[:k], rtol=rtol)
    assert _sin(Vt.T, V0[:, :k]) < 1e3 * rtol
    assert _sin(U, U0[:, :k]) < 1e3 * rtol
    # The error estimate is the true residual.
    true = np.maximum(
        np.linalg.norm(A @ Vt.T - U * s, axis=0),
        np.linalg.norm(A.T @ U - Vt.T * s, axis=0),
    )
    np.testing.assert_allclose(res.residuals, true, atol=1e-12 + 1e-3 * true.max())
    assert res.n_matvecs > 0 and res.n_iter >= 1
    if method != "randomized":
        assert res.converged


def test_default_beats_randomized_at_equal_products():
    # 1/i decay: the default stopping rule gives a far better subspace than a
    # randomized SVD that uses more products.
    s0 = 1.0 / np.arange(1, 201)
    A, _, V0 = _known(600, 200, s0, seed=1)
    k = 10
    res = sketched_svd(A, k, random_state=0)
    rnd = sketched_svd(A, k, method="randomized", random_state=0)
    assert res.n_matvecs <= 1.5 * rnd.n_matvecs
    assert _sin(res.Vt.T, V0[:, :k]) < 1e-2 * _sin(rnd.Vt.T, V0[:, :k])


def test_sparse_and_linear_operator_inputs_agree_with_dense():
    rng = np.random.default_rng(2)
    A = sp.random(300, 80, density=0.1, random_state=3, format="csr")
    dense = sketched_svd(A.toarray(), 4, tol=1e-12, random_state=0)
    sparse = sketched_svd(A, 4, tol=1e-12, random_state=0)
    count = {"n": 0}

    def mv(x):
        count["n"] += 1
        return A @ x

    def rmv(y):
        count["n"] += 1
        return A.T @ y

    linop = LinearOperator(A.shape, matvec=mv, rmatvec=rmv, dtype=np.float64)
    lo = sketched_svd(linop, 4, tol=1e-12, random_state=0)
    np.testing.assert_allclose(sparse.s, dense.s, rtol=1e-12)
    np.testing.assert_allclose(lo.s, dense.s, rtol=1e-12)
    # Products are counted as scipy sees them.
    assert lo.n_matvecs == count["n"]
    assert rng is not None


def test_eigsh_methods_match_closed_form():
    n = 150
    rng = np.random.default_rng(4)
    Q = np.linalg.qr(rng.standard_normal((n, n)))[0]
    lam = np.arange(1, n + 1) ** -1.5
    A = (Q * lam) @ Q.T
    for method in ("auto", "lanczos", "epsi"):
        res = sketched_eigsh(A, 4, method=method, tol=1e-12, random_state=0)
        assert isinstance(res, SketchedEigshResult)
        w, V = res
        np.testing.assert_allclose(w, lam[:4], rtol=1e-10)
        assert _sin(V, Q[:, :4]) < 1e-8
    lo = sketched_eigsh(aslinearoperator(A), 4, tol=1e-12, random_state=0)
    np.testing.assert_allclose(lo.eigenvalues, lam[:4], rtol=1e-10)


def test_convergence_warning():
    A, _, _ = _known(200, 100, 1.0 / np.sqrt(np.arange(1, 101)))
    with pytest.warns(ConvergenceWarning, match="did not reach"):
        res = sketched_svd(A, 10, tol=1e-14, max_iter=1, random_state=0)
    assert not res.converged


def test_results_depend_on_random_state_only():
    A, _, _ = _known(120, 50, 0.8 ** np.arange(50))
    a = sketched_svd(A, 3, method="epsi", random_state=5)
    np.random.seed(0)
    b = sketched_svd(A, 3, method="epsi", random_state=5)
    np.testing.assert_array_equal(a.s, b.s)


@pytest.mark.parametrize("k", [0, 30, 40])
def test_k_out_of_range(k):
    A = np.ones((40, 30))
    with pytest.raises(ValueError, match="k must satisfy"):
        sketched_svd(A, k)


def test_bad_inputs_raise_clear_errors():
    A = np.random.default_rng(0).standard_normal((40, 30))
    B = A.copy()
    B[3, 4] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        sketched_svd(B, 3)
    S = sp.csr_array(B)
    with pytest.raises(ValueError, match="NaN"):
        sketched_svd(S, 3)
    with pytest.raises(ValueError, match="NaN"):
        sketched_eigsh(sp.csr_array(np.where(np.isnan(B[:30]), np.nan, 1.0)), 3)
    with pytest.raises(TypeError, match="integer"):
        sketched_svd(A, 2.5)
    with pytest.raises(ValueError, match="method"):
        sketched_svd(A, 3, method="lanczos")
    with pytest.raises(ValueError, match="tol"):
        sketched_svd(A, 3, tol=0)
    no_rmatvec = LinearOperator(A.shape, matvec=lambda x: A @ x, dtype=np.float64)
    with pytest.raises(ValueError, match="rmatvec"):
        sketched_svd(no_rmatvec, 3)
    nan_op = LinearOperator(
        A.shape,
        matvec=lambda x: np.full(40, np.nan),
        rmatvec=lambda y: A.T @ y,
        dtype=np.float64,
    )
    with pytest.raises(ValueError, match="NaN"):
        sketched_svd(nan_op, 3)


def test_eigsh_rejects_non_symmetric_input():
    A = np.random.default_rng(0).standard_normal((30, 30))
    with pytest.raises(ValueError, match="symmetric"):
        sketched_eigsh(A, 3)
    with pytest.raises(ValueError, match="symmetric"):
        sketched_eigsh(sp.csr_array(A), 3)
    with pytest.raises(ValueError, match="symmetric"):
        sketched_eigsh(aslinearoperator(A), 3)
    with pytest.raises(ValueError, match="square"):
        sketched_eigsh(A[:, :20], 3)
    with pytest.raises(ValueError, match="which"):
        sketched_eigsh(A @ A.T, 3, which="SA")
    with pytest.raises(ValueError, match="k must satisfy"):
        sketched_eigsh(A @ A.T, 30)
