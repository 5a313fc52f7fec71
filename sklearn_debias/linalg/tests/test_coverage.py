"""Coverage of the 95% intervals over 200 seeds (slow).

Matrices of order 300 with random orthogonal eigenvectors and eigenvalues
flat, ``i^-2``, ``exp(-i/10)`` and ``logspace(0, -6)``, and an RBF kernel
matrix. At 200 seeds a 95% interval covers between 90.5% and 98.5% of the
time except with probability about 1% (binomial band); the methods aim for
93-97%. The measured coverages are in the user guide.
"""

import warnings

import numpy as np
import pytest
from scipy.sparse.linalg import LinearOperator

from sklearn_debias.linalg import diagonal, logdet, trace

N, SEEDS = 300, 200
BAND = (0.905, 0.985)


def _matrices():
    rng = np.random.default_rng(0)
    V = np.linalg.qr(rng.standard_normal((N, N)))[0]
    i = np.arange(1, N + 1)
    spectra = {
        "flat": np.ones(N),
        "i^-2": i**-2.0,
        "exp(-i/10)": np.exp(-i / 10),
        "logspace(0,-6)": np.logspace(0, -6, N),
    }
    out = {name: (V * e) @ V.T for name, e in spectra.items()}
    X = rng.standard_normal((N, 3))
    sq = np.sum((X[:, None, :] - X[None, :, :]) ** 2, axis=-1)
    out["rbf"] = np.exp(-sq / 2) + 1e-2 * np.eye(N)
    return out


MATRICES = _matrices()


def _covers(res, truth):
    # An estimate within rounding of the truth counts as covered: on A = I
    # XNysTrace is exact to 2e-16 relative and its jackknife s.e. is of the
    # same size, so the interval can miss by one ulp (87% "coverage" at 40
    # products without this tolerance).
    low, high = res.confidence_interval(0.95)
    slack = 64 * np.finfo(float).eps * abs(truth)
    return (low - slack <= truth) & (truth <= high + slack)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(MATRICES))
@pytest.mark.parametrize("method", [None, "nystrom++", "na-hutch++"])
@pytest.mark.parametrize("n_matvecs", [30, 90])
def test_trace_coverage(name, method, n_matvecs):
    A = MATRICES[name]
    kwargs = {} if method is None else {"method": method}
    truth = np.trace(A)
    cover = np.mean(
        [
            _covers(trace(A, n_matvecs, random_state=s, **kwargs), truth)
            for s in range(SEEDS)
        ]
    )
    # A = I: plain Rademacher quadratic forms are exact (coverage 1).
    assert BAND[0] <= cover <= BAND[1] or (name == "flat" and cover == 1.0), cover


@pytest.mark.slow
@pytest.mark.parametrize("name", list(MATRICES))
@pytest.mark.parametrize("method", ["xtrace", "xnystrace"])
def test_x_methods_are_conservative(name, method):
    # The jackknife standard error of XTrace/XNysTrace is conservative: its
    # intervals cover at least 95% (measured 98.5-100%), at about twice the
    # actual error.
    A = MATRICES[name]
    truth = np.trace(A)
    cover = np.mean(
        [
            _covers(trace(A, 40, method=method, random_state=s), truth)
            for s in range(SEEDS)
        ]
    )
    assert cover >= 0.95


@pytest.mark.slow
@pytest.mark.parametrize("name", list(MATRICES))
@pytest.mark.parametrize("method", [None, "hutchinson"])
def test_diagonal_coverage(name, method):
    if method is None and name == "flat":
        pytest.xfail(
            "XDiag's leave-one-out spread under-covers without low-rank "
            "structure (83.5% measured on A = I)"
        )
    A = MATRICES[name]
    truth = np.diag(A)
    kwargs = {} if method is None else {"method": method}
    cover = np.mean(
        [
            np.mean(_covers(diagonal(A, 40, random_state=s, **kwargs), truth))
            for s in range(SEEDS)
        ]
    )
    assert BAND[0] <= cover <= BAND[1] or (name == "flat" and cover == 1.0), cover


def test_logdet_warns_where_it_cannot_resolve_the_spectrum():
    # exp(-i/10), n = 300: condition 1e13; the preconditioned matrix still
    # spans 1e9 and Lanczos does not converge within max_lanczos. The
    # estimate must not pass for converged: both warnings, and an interval
    # that still covers (measured: -4376 +- 87 against -4515).
    from sklearn.exceptions import ConvergenceWarning

    from sklearn_debias.linalg import QuadratureErrorWarning

    A = MATRICES["exp(-i/10)"]
    truth = np.linalg.slogdet(A)[1]
    op = LinearOperator(A.shape, matvec=lambda x: A @ x, matmat=lambda X: A @ X)
    with pytest.warns(ConvergenceWarning, match="max_lanczos"):
        with pytest.warns(QuadratureErrorWarning):
            res = logdet(op, random_state=0)
    assert _covers(res, truth)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["i^-2", "logspace(0,-6)", "rbf"])
def test_logdet_coverage_at_defaults(name):
    A = MATRICES[name]
    truth = np.linalg.slogdet(A)[1]
    op = LinearOperator(A.shape, matvec=lambda x: A @ x, matmat=lambda X: A @ X)
    covers = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no step-cap or quadrature warnings
        for s in range(SEEDS):
            res = logdet(op, random_state=s)
            assert res.method == "nystrom-slq"
            covers.append(_covers(res, truth))
    assert BAND[0] <= np.mean(covers) <= BAND[1], np.mean(covers)
