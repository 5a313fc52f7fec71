"""NystromKernelRidge on dask arrays: the in-memory fit by map-reduce passes."""

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

from sklearn_debias._randnla import _chunked  # noqa: E402
from sklearn_debias.kernel_ridge import NystromKernelRidge  # noqa: E402

N, D, M = 2000, 3, 60
# Uneven chunks, an empty one among them; y and the weights chunked otherwise.
CHUNKS = (700, 0, 450, 850)
# CG to rounding level: at the default tol=1e-6 two fits that round differently
# (dask chunks, or in memory with other row blocks) agree only to ~tol.
KW = dict(alpha=1.0, gamma=1.0, n_centers=M, tol=1e-12, max_iter=500, random_state=0)


def _data(seed=0, n=N):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, D))
    y = np.sin(3 * X).sum(axis=1) + 0.1 * rng.standard_normal(n)
    return X, y, rng.uniform(0.2, 3.0, n), rng.uniform(-1, 1, size=(300, D))


def _dask(A, chunks=CHUNKS):
    return da.from_array(A, chunks=(chunks,) + A.shape[1:])


def _rel(a, b):
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


@pytest.mark.parametrize("selection", ["uniform", "rpcholesky"])
@pytest.mark.parametrize("weighted", [False, True])
def test_matches_in_memory(selection, weighted):
    X, y, w, X_test = _data()
    if weighted:  # 2-D y, dask weights
        y = np.c_[y, np.cos(2 * X[:, 0])]
    else:
        w = None
    kw = dict(KW, center_selection=selection)
    ref = NystromKernelRidge(**kw).fit(X, y, sample_weight=w)
    wd = None if w is None else _dask(w, 600)
    est = NystromKernelRidge(**kw).fit(_dask(X), _dask(y, 900), sample_weight=wd)
    # The same centres, gathered from the chunks.
    assert np.array_equal(est.center_indices_, ref.center_indices_)
    assert np.array_equal(est.centers_, ref.centers_)
    assert est.dual_coef_.shape == ref.dual_coef_.shape
    assert abs(est.n_iter_ - ref.n_iter_) <= 3
    assert _rel(est.predict(X_test), ref.predict(X_test)) < 1e-10


def test_predict_returns_dask():
    X, y, _, X_test = _data(1)
    Y = np.c_[y, -y]
    est = NystromKernelRidge(**dict(KW, tol=1e-8)).fit(_dask(X), Y)
    pred = est.predict(_dask(X_test, (100, 200)))
    assert isinstance(pred, da.Array) and pred.shape == (300, 2)
    np.testing.assert_allclose(pred.compute(), est.predict(X_test), rtol=1e-13)
    est.dual_coef_ = est.dual_coef_[:, 0]
    pred = est.predict(_dask(X_test, (100, 200)))
    assert pred.shape == (300,)
    np.testing.assert_allclose(pred.compute(), est.predict(X_test), rtol=1e-13)
    with pytest.raises(ValueError, match="expecting 3 features"):
        est.predict(_dask(X_test[:, :2], (300,)))
    X_nan = X_test.copy()
    X_nan[150, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        est.predict(_dask(X_nan, (100, 200))).compute()


def test_float32():
    X, y, _, X_test = _data(2)
    kw = dict(KW, tol=1e-5)
    ref64 = NystromKernelRidge(**kw).fit(X, y).predict(X_test)
    ref = NystromKernelRidge(**kw).fit(X.astype(np.float32), y).predict(X_test)
    est = NystromKernelRidge(**kw).fit(_dask(X.astype(np.float32)), y)
    assert est.centers_.dtype == np.float32
    # float32 kernel blocks round differently by chunk: the chunked fit is
    # closer to the in-memory float32 fit than that is to the float64 one.
    assert _rel(est.predict(X_test), ref) < 0.25 * _rel(ref, ref64)


@pytest.mark.parametrize("selection", ["uniform", "rpcholesky"])
def test_bad_input(selection, monkeypatch):
    X, y, w, _ = _data(3)
    est = NystromKernelRidge(**dict(KW, center_selection=selection, max_iter=2))
    Xd = _dask(X)
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        est.fit(Xd[Xd[:, 0] > -np.inf], y)
    X_nan = X.copy()
    X_nan[1150:2000, 0] = np.nan  # rows the centre pool cannot miss
    with pytest.raises(
        ValueError, match=r"X contains NaN.*850 entries.*row 1150.*rows \[1150, 2000\)"
    ):
        est.fit(_dask(X_nan), y)
    y_inf = y.copy()
    y_inf[5] = np.inf
    with pytest.raises(ValueError, match=r"y contains NaN or infinity.*row 5"):
        est.fit(Xd, _dask(y_inf, 900))
    with pytest.raises(ValueError, match="sample_weight contains negative"):
        est.fit(Xd, y, sample_weight=_dask(-w, 600))
    with pytest.raises(ValueError, match="at least one positive"):
        est.fit(Xd, y, sample_weight=_dask(0 * w, 600))
    with pytest.raises(ValueError, match="y must have shape"):
        est.fit(Xd, y[:-1])
    with pytest.raises(ValueError, match="y has 1999 rows, expected 2000"):
        est.fit(Xd, _dask(y[:-1], 900))
    with pytest.raises(ValueError, match="one entry per target"):
        NystromKernelRidge(alpha=[1.0, 2.0]).fit(Xd, y)
    monkeypatch.setattr(_chunked, "_MAX_CHUNK_BYTES", 1000)
    with pytest.raises(ValueError, match="chunked along its columns"):
        est.fit(da.from_array(X, chunks=(CHUNKS, 1)), y)


def test_distributed_is_bit_identical_to_threads(client):
    X, y, w, X_test = _data(4)
    kw = dict(KW, center_selection="rpcholesky", tol=1e-6)
    Xd, yd, wd = _dask(X), _dask(y, 900), _dask(w, 600)
    with dask.config.set(scheduler="threads"):
        local = NystromKernelRidge(**kw).fit(Xd, yd, sample_weight=wd)
    on_cluster = NystromKernelRidge(**kw).fit(Xd, yd, sample_weight=wd)
    assert np.array_equal(local.dual_coef_, on_cluster.dual_coef_)
    pred = on_cluster.predict(_dask(X_test, (100, 200)))
    assert isinstance(pred, da.Array)
    np.testing.assert_allclose(pred.compute(), local.predict(X_test), rtol=1e-13)
