import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process.kernels import Matern
from sklearn.kernel_ridge import KernelRidge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from sklearn_debias.kernel_ridge import (
    NystromKernelRidge,
    SketchPreconditionedKernelRidge,
)


def _data(n, d=8, seed=0, n_test=300):
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(n + n_test, d))
    y = np.sin(3 * X).sum(axis=1) + 0.1 * rng.standard_normal(n + n_test)
    return X[:n], y[:n], X[n:], y[n:]


def _reference(X, y, X_test, **params):
    with threadpool_limits(limits=1, user_api="blas"):  # dense LAPACK anchor
        return KernelRidge(**params).fit(X, y).predict(X_test)


def _rel(a, b):
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


def _check_matches_kernel_ridge(n):
    X, y, X_test, _ = _data(n)
    iters, ranks = [], []
    for alpha in [1.0, 1e-3, 1e-6]:
        est = SketchPreconditionedKernelRidge(alpha=alpha, random_state=0).fit(X, y)
        expected = _reference(X, y, X_test, alpha=alpha, kernel="rbf")
        assert _rel(est.predict(X_test), expected) < 1e-6
        iters.append(est.n_iter_)
        ranks.append(est.rank_)
    # The rank follows alpha and the iterations do not grow with 1 / alpha.
    assert ranks[0] <= ranks[1] <= ranks[2]
    assert max(iters) <= 40
    assert iters[2] <= iters[0] + 30


def test_exact_matches_kernel_ridge_and_iterations_stay_flat():
    _check_matches_kernel_ridge(1000)


@pytest.mark.slow
def test_exact_matches_kernel_ridge_n5000():
    _check_matches_kernel_ridge(5000)


def test_blockwise_products_equal_stored_kernel():
    X, y, X_test, _ = _data(400)
    stored = SketchPreconditionedKernelRidge(alpha=1e-2, random_state=0).fit(X, y)
    blocks = SketchPreconditionedKernelRidge(
        alpha=1e-2, max_memory=0, n_jobs=2, random_state=0
    ).fit(X, y)
    np.testing.assert_allclose(blocks.dual_coef_, stored.dual_coef_, rtol=1e-7)
    np.testing.assert_allclose(
        blocks.predict(X_test), stored.predict(X_test), rtol=1e-9
    )


def test_sample_weight_multi_target_and_alpha_per_target():
    X, y, X_test, _ = _data(300, d=3)
    Y = np.c_[y, np.cos(X.sum(axis=1))]
    w = np.random.default_rng(1).uniform(0.5, 2.0, size=300)
    alpha = np.array([1e-2, 1e-4])
    est = SketchPreconditionedKernelRidge(alpha=alpha, random_state=0)
    est.fit(X, Y, sample_weight=w)
    with threadpool_limits(limits=1, user_api="blas"):
        ref = KernelRidge(alpha=alpha, kernel="rbf").fit(X, Y, sample_weight=w)
    assert est.dual_coef_.shape == (300, 2)
    np.testing.assert_allclose(est.dual_coef_, ref.dual_coef_, rtol=1e-5, atol=1e-8)
    assert _rel(est.predict(X_test), ref.predict(X_test)) < 1e-7


@pytest.mark.parametrize(
    "params",
    [
        dict(kernel=Matern(length_scale=0.7, nu=1.5)),
        dict(kernel="laplacian", gamma=0.5),
        dict(kernel="polynomial", degree=2, coef0=1.0),
        dict(kernel=lambda a, b: np.exp(-np.sum((a - b) ** 2))),
    ],
    ids=["matern", "laplacian", "polynomial", "callable"],
)
def test_other_kernels_match_kernel_ridge(params):
    X, y, X_test, _ = _data(150 if not callable(params["kernel"]) else 50, d=3)
    est = SketchPreconditionedKernelRidge(alpha=1e-3, random_state=0, **params)
    expected = _reference(X, y, X_test, alpha=1e-3, **params)
    assert _rel(est.fit(X, y).predict(X_test), expected) < 1e-6


def test_falkon_tends_to_exact_solution_as_centres_grow():
    X, y, X_test, _ = _data(1000)
    exact = _reference(X, y, X_test, alpha=1e-3, kernel="rbf")
    errors = []
    for M in [50, 200, 1000]:
        est = NystromKernelRidge(alpha=1e-3, n_centers=M, tol=1e-10, random_state=0)
        errors.append(_rel(est.fit(X, y).predict(X_test), exact))
        assert est.centers_.shape == (M, 8) and est.dual_coef_.shape == (M,)
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 1e-6


def test_falkon_rpcholesky_centres_beat_uniform():
    X, y, X_test, _ = _data(2000, d=2, seed=3)
    exact = _reference(X, y, X_test, alpha=1e-4, kernel="rbf", gamma=5.0)
    err = {}
    for sel in ["uniform", "rpcholesky"]:
        est = NystromKernelRidge(
            alpha=1e-4, gamma=5.0, n_centers=40, center_selection=sel, random_state=0
        )
        err[sel] = _rel(est.fit(X, y).predict(X_test), exact)
        assert len(np.unique(est.center_indices_)) == 40
    assert err["rpcholesky"] < err["uniform"]


@pytest.mark.parametrize("Est", [SketchPreconditionedKernelRidge, NystromKernelRidge])
def test_float32_pipeline_and_grid_search(Est):
    X, y, X_test, y_test = _data(300, d=3)
    est = Est(random_state=0).fit(X.astype(np.float32), y)
    assert est.predict(X_test.astype(np.float32)).dtype == np.float64
    search = GridSearchCV(
        make_pipeline(StandardScaler(), Est(random_state=0)),
        {f"{Est.__name__.lower()}__alpha": [1e-3, 1e-1]},
        cv=3,
    ).fit(X, y)
    assert search.score(X_test, y_test) > 0.9


@pytest.mark.parametrize("Est", [SketchPreconditionedKernelRidge, NystromKernelRidge])
def test_bad_inputs(Est):
    X, y, _, _ = _data(100, d=2)
    with pytest.raises(ValueError, match="alpha"):
        Est(alpha=0.0).fit(X, y)
    with pytest.raises(ValueError, match="alpha must be positive"):
        Est(alpha=[1.0, -1.0]).fit(X, np.c_[y, y])
    with pytest.raises(ValueError, match="one entry per target"):
        Est(alpha=[1.0, 2.0, 3.0]).fit(X, np.c_[y, y])
    X_nan = X.copy()
    X_nan[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        Est().fit(X_nan, y)
    with pytest.raises(ValueError, match="kernel"):
        Est(kernel="precomputed").fit(X, y)


def _negative_rbf(a, b):
    return -np.exp(-np.sum((a - b) ** 2))


@pytest.mark.parametrize("Est", [SketchPreconditionedKernelRidge, NystromKernelRidge])
def test_non_psd_kernel_is_refused(Est):
    X, y, _, _ = _data(60, d=2)
    with pytest.raises(ValueError, match="positive"):
        Est(alpha=1e-3, kernel=_negative_rbf, random_state=0).fit(X, y)


def test_unmet_tolerance_warns():
    X, y, _, _ = _data(300, d=3)
    with pytest.warns(ConvergenceWarning, match="did not reach"):
        SketchPreconditionedKernelRidge(
            alpha=1e-6, rank=2, max_rank=2, max_iter=2, random_state=0
        ).fit(X, y)
    with pytest.warns(ConvergenceWarning, match="did not reach"):
        NystromKernelRidge(alpha=1e-6, n_centers=100, max_iter=1, random_state=0).fit(
            X, y
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        SketchPreconditionedKernelRidge(alpha=1e-3, random_state=0).fit(X, y)
