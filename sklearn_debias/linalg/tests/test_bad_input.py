"""Bad and extreme inputs: a clear error or a correct answer, never NaN."""

import warnings

import numpy as np
import pytest
from scipy.sparse.linalg import LinearOperator, aslinearoperator

from sklearn_debias.linalg import diagonal, logdet, trace
from sklearn_debias.linalg._trace import TRACE_METHODS


def spectrum_matrix(n, eigvals, seed=0):
    rng = np.random.default_rng(seed)
    V = np.linalg.qr(rng.standard_normal((n, n)))[0]
    return (V * np.asarray(eigvals, dtype=float)) @ V.T


def matvec_only(A):
    return LinearOperator(A.shape, matvec=lambda x: A @ x, matmat=lambda X: A @ X)


# --- the zero matrix ----------------------------------------------------------


@pytest.mark.parametrize("method", TRACE_METHODS)
@pytest.mark.parametrize("as_operator", [False, True])
def test_trace_of_zero_matrix_is_zero(method, as_operator):
    A = np.zeros((40, 40))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = trace(aslinearoperator(A) if as_operator else A, 20, method=method)
    assert res.estimate == 0.0 and res.standard_error == 0.0
    assert res.confidence_interval() == (0.0, 0.0)


@pytest.mark.parametrize("method", ["xdiag", "hutchinson"])
def test_diagonal_of_zero_matrix_is_zero(method):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = diagonal(np.zeros((40, 40)), 20, method=method)
    assert np.all(res.estimate == 0.0) and np.all(res.standard_error == 0.0)


@pytest.mark.parametrize("method", ["auto", "slq"])
def test_logdet_of_zero_matrix_is_a_clear_error(method):
    with pytest.raises(np.linalg.LinAlgError, match="not positive definite"):
        logdet(np.zeros((40, 40)), 30, method=method, random_state=0)
    with pytest.raises(ValueError, match="not positive definite"):
        logdet(matvec_only(np.zeros((40, 40))), 30, random_state=0)


# --- huge entries: rescaled internally -----------------------------------------


@pytest.mark.parametrize("method", TRACE_METHODS)
def test_trace_near_overflow_is_rescaled(method):
    n = 60
    A = spectrum_matrix(n, np.arange(1, n + 1) ** -1.0)
    ref = trace(A, 30, method=method, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        big = trace(A * 1e300, 30, method=method, random_state=0)
    assert np.isfinite(big.estimate) and np.isfinite(big.standard_error)
    assert big.estimate == pytest.approx(1e300 * ref.estimate, rel=1e-9)
    assert big.standard_error == pytest.approx(1e300 * ref.standard_error, rel=1e-6)
    assert abs(big.estimate - 1e300 * np.trace(A)) < 5 * big.standard_error + 1e290


@pytest.mark.parametrize("method", ["xdiag", "hutchinson"])
def test_diagonal_near_overflow_is_rescaled(method):
    A = spectrum_matrix(60, np.arange(1, 61) ** -1.0)
    ref = diagonal(A, 30, method=method, random_state=0)
    big = diagonal(A * 1e300, 30, method=method, random_state=0)
    assert np.all(np.isfinite(big.estimate)) and np.all(np.isfinite(big.standard_error))
    np.testing.assert_allclose(big.estimate, 1e300 * ref.estimate, rtol=1e-8)


def test_logdet_near_overflow_is_rescaled():
    n = 300
    A = spectrum_matrix(n, np.linspace(1.0, 3.0, n))
    exact = np.linalg.slogdet(A)[1]
    # Exact path (Cholesky of the scaled matrix) and stochastic path.
    assert logdet(A * 1e300).estimate == pytest.approx(
        exact + n * np.log(1e300), rel=1e-12
    )
    res = logdet(matvec_only(A * 1e300), 100, random_state=0)
    ref = logdet(matvec_only(A), 100, random_state=0)
    assert np.isfinite(res.estimate) and np.isfinite(res.standard_error)
    assert res.estimate == pytest.approx(ref.estimate + n * np.log(1e300), rel=1e-9)
    assert res.standard_error == pytest.approx(ref.standard_error, rel=1e-6)


# --- NaN and inf ----------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nonfinite_matrix_is_rejected(bad):
    A = np.eye(30)
    A[3, 4] = A[4, 3] = bad
    for fun in (trace, diagonal, logdet):
        with pytest.raises(ValueError, match="NaN or infinite"):
            fun(A, 10)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nonfinite_products_are_rejected(bad):
    def matmat(X):
        Y = np.array(X, dtype=float)
        Y[0] = bad
        return Y

    op = LinearOperator(
        (30, 30), matvec=lambda x: matmat(x[:, None])[:, 0], matmat=matmat
    )
    for fun in (trace, diagonal):
        with pytest.raises(ValueError, match="NaN or inf"):
            fun(op, 10, random_state=0)
    for prec in ("nystrom", None):
        with pytest.raises(ValueError, match="NaN or inf"):
            logdet(
                op, 29, method="slq", preconditioner=prec, n_lanczos=5, random_state=0
            )


# --- logdet: small, singular and indefinite matrices ----------------------------


def test_logdet_one_by_one():
    res = logdet(np.array([[2.5]]))
    assert res.estimate == pytest.approx(np.log(2.5))
    assert res.standard_error == 0.0 and res.method == "cholesky"
    assert logdet(lambda X: 2.5 * X, size=1).estimate == pytest.approx(np.log(2.5))
    with pytest.raises(np.linalg.LinAlgError, match="not positive definite"):
        logdet(np.array([[-1.0]]))


def test_logdet_small_dense_is_exact_and_says_so():
    A = spectrum_matrix(200, np.linspace(0.5, 2.0, 200))
    res = logdet(A)
    assert res.method == "cholesky" and res.standard_error == 0.0
    assert res.estimate == pytest.approx(np.linalg.slogdet(A)[1], rel=1e-12)
    # An operator whose budget covers n is formed from n products.
    res = logdet(aslinearoperator(A), n_matvecs=200)
    assert res.method == "cholesky" and res.n_matvecs == 200


@pytest.mark.parametrize("rank", [20, 150])
@pytest.mark.parametrize("method", ["auto", "slq"])
def test_logdet_singular_psd_is_a_clear_error(rank, method):
    # Rank 20: the sketch (rank 50) captures the whole range; rank 150: it
    # does not, and Lanczos finds the zero eigenvalues.
    n = 300
    eigvals = np.r_[np.linspace(1.0, 2.0, rank), np.zeros(n - rank)]
    A = spectrum_matrix(n, eigvals)
    with pytest.raises(np.linalg.LinAlgError, match="singular|not positive definite"):
        logdet(
            A if method == "auto" else matvec_only(A),
            100,
            method=method,
            random_state=0,
        )


def test_logdet_indefinite_is_a_clear_error():
    A = spectrum_matrix(300, np.linspace(-1.0, 2.0, 300))
    for kwargs in ({}, {"method": "slq"}, {"method": "slq", "preconditioner": None}):
        with pytest.raises(ValueError, match="positive"):
            logdet(matvec_only(A), 100, random_state=0, **kwargs)


def test_logdet_step_cap_warns():
    # A hard spectrum with a tiny step cap: ConvergenceWarning, and the
    # quadrature error is in the standard error (with a named warning).
    from sklearn.exceptions import ConvergenceWarning

    from sklearn_debias.linalg import QuadratureErrorWarning

    A = spectrum_matrix(300, np.logspace(0, -4, 300))
    with pytest.warns(ConvergenceWarning, match="max_lanczos"):
        with pytest.warns(QuadratureErrorWarning, match="quadrature error"):
            res = logdet(
                matvec_only(A), 100, preconditioner=None, max_lanczos=4, random_state=0
            )
    assert res.quadrature_error > 0
    assert res.standard_error >= res.quadrature_error
