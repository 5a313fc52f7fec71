"""SketchedTruncatedSVD: drop-in behaviour, centring, partial_fit."""

import numpy as np
import pytest
import scipy.linalg
import scipy.sparse as sp
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_debias.decomposition import SketchedTruncatedSVD


def _low_rank(m=400, n=80, r=6, noise=0.01, seed=0):
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((m, r)) * np.linspace(5, 1, r)) @ rng.standard_normal(
        (r, n)
    )
    return X + noise * rng.standard_normal((m, n)) + 3.0


def _sin(Vt, Wt):
    P = np.linalg.qr(Wt.T)[0]
    return np.linalg.norm(Vt.T - P @ (P.T @ Vt.T), 2)


@pytest.mark.parametrize("algorithm", ["auto", "block_krylov", "epsi"])
def test_matches_truncated_svd_arpack(algorithm):
    X = _low_rank()
    ref = TruncatedSVD(5, algorithm="arpack", tol=0, random_state=0).fit(X)
    est = SketchedTruncatedSVD(5, algorithm=algorithm, tol=1e-12, random_state=0)
    Z = est.fit_transform(X)
    np.testing.assert_allclose(est.singular_values_, ref.singular_values_, rtol=1e-9)
    np.testing.assert_allclose(
        np.abs(est.components_), np.abs(ref.components_), atol=1e-8
    )
    np.testing.assert_allclose(
        est.explained_variance_ratio_, ref.explained_variance_ratio_, rtol=1e-8
    )
    np.testing.assert_allclose(np.abs(Z), np.abs(ref.transform(X)), atol=1e-7)
    np.testing.assert_allclose(est.transform(X), Z, atol=1e-8)
    assert est.inverse_transform(Z).shape == X.shape
    assert np.all(est.residuals_ <= 1e-12 * est.singular_values_[0] * 10)


def test_centering_is_pca_and_sparse_stays_sparse():
    X = _low_rank(noise=0.1)
    pca = PCA(4, svd_solver="full").fit(X)
    est = SketchedTruncatedSVD(4, centering=True, tol=1e-12, random_state=0).fit(X)
    np.testing.assert_allclose(est.singular_values_, pca.singular_values_, rtol=1e-9)
    np.testing.assert_allclose(est.mean_, pca.mean_, atol=1e-12)
    np.testing.assert_allclose(
        est.explained_variance_ratio_, pca.explained_variance_ratio_, rtol=1e-8
    )
    np.testing.assert_allclose(
        np.abs(est.transform(X)), np.abs(pca.transform(X)), atol=1e-7
    )
    Xs = sp.random(500, 120, density=0.05, random_state=1, format="csr") * 5
    dense = SketchedTruncatedSVD(3, centering=True, tol=1e-12, random_state=0)
    dense.fit(Xs.toarray())
    sparse = SketchedTruncatedSVD(3, centering=True, tol=1e-12, random_state=0)
    sparse.fit(Xs)
    assert sp.issparse(sparse._window_data())
    np.testing.assert_allclose(
        sparse.singular_values_, dense.singular_values_, rtol=1e-10
    )
    np.testing.assert_allclose(sparse.transform(Xs), dense.transform(Xs), atol=1e-8)


def test_pipeline_gridsearch_and_pandas_output():
    pd = pytest.importorskip("pandas")
    X = _low_rank(200, 60)
    y = X[:, 0] - X[:, 1]
    pipe = make_pipeline(SketchedTruncatedSVD(random_state=0), Ridge())
    search = GridSearchCV(pipe, {"sketchedtruncatedsvd__n_components": [2, 5]}, cv=3)
    search.fit(X, y)
    assert search.best_params_["sketchedtruncatedsvd__n_components"] in (2, 5)
    est = SketchedTruncatedSVD(3, random_state=0).set_output(transform="pandas")
    out = est.fit_transform(pd.DataFrame(X))
    assert list(out.columns) == [f"sketchedtruncatedsvd{i}" for i in range(3)]


def _rotating_stream(n_blocks, rows, n_features, k, seed=0, angle=0.05, noise=0.05):
    rng = np.random.default_rng(seed)
    B = np.linalg.qr(rng.standard_normal((n_features, n_features)))[0][:, :k]
    S = rng.standard_normal((n_features, n_features))
    S = (S - S.T) / 2
    R = scipy.linalg.expm(angle * S / np.linalg.norm(S, 2))
    scales = np.linspace(3, 1, k)
    for _ in range(n_blocks):
        Z = rng.standard_normal((rows, k)) * scales
        yield Z @ B.T + noise * rng.standard_normal((rows, n_features)), B.copy()
        B = R @ B


def test_partial_fit_tracks_rotating_subspace():
    k, window = 5, 1000
    est = SketchedTruncatedSVD(k, window=window, random_state=0)
    win = None
    warm_mv = cold_mv = 0
    for t, (X, basis) in enumerate(_rotating_stream(10, 200, 80, k)):
        est.partial_fit(X)
        win = X if win is None else np.vstack([win, X])[-window:]
        assert est.n_samples_seen_ == win.shape[0]
        cold = SketchedTruncatedSVD(k, random_state=t).fit(win)
        if t > 0:
            warm_mv += est.n_matvecs_
            cold_mv += cold.n_matvecs_
            # Against the generating subspace: within 2x of a refit.
            assert _sin(est.components_, basis.T) <= 2 * _sin(cold.components_, basis.T)
            # Against the window's exact SVD: within the update tolerance.
            exact = np.linalg.svd(win, full_matrices=False)[2][:k]
            assert _sin(est.components_, exact) < 1e-2
    assert warm_mv <= cold_mv / 3
    # Explained variance from running sums equals the direct computation.
    ev = np.var(win @ est.components_.T, axis=0)
    np.testing.assert_allclose(est.explained_variance_, ev, rtol=1e-6)
    total = np.var(win, axis=0).sum()
    np.testing.assert_allclose(est.explained_variance_ratio_, ev / total, rtol=1e-6)


def test_partial_fit_centering_sparse_and_no_window():
    Xs = sp.csr_array(_low_rank(300, 100, noise=0.3))
    est = SketchedTruncatedSVD(3, centering=True, update_tol=1e-12, random_state=0)
    est.fit(Xs[:200])
    est.partial_fit(Xs[200:])
    ref = SketchedTruncatedSVD(3, centering=True, tol=1e-12, random_state=0).fit(Xs)
    assert est.n_samples_seen_ == 300
    np.testing.assert_allclose(est.singular_values_, ref.singular_values_, rtol=1e-8)
    np.testing.assert_allclose(est.mean_, ref.mean_, atol=1e-12)
    assert _sin(est.components_, ref.components_) < 1e-6


def test_partial_fit_first_call_fits_and_checks_features():
    X = _low_rank()
    est = SketchedTruncatedSVD(3, random_state=0).partial_fit(X)
    assert est.components_.shape == (3, X.shape[1])
    with pytest.raises(ValueError, match="features"):
        est.partial_fit(X[:, :10])


def test_bad_input():
    X = _low_rank(50, 10)
    with pytest.raises(ValueError, match="n_features"):
        SketchedTruncatedSVD(11).fit(X)
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        SketchedTruncatedSVD(2).fit(X)


@parametrize_with_checks(
    [
        SketchedTruncatedSVD(random_state=0),
        SketchedTruncatedSVD(algorithm="epsi", centering=True, random_state=0),
    ]
)
def test_sklearn_checks(estimator, check):
    check(estimator)
