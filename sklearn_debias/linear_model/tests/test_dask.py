"""SketchPreconditionedRegressor on dask arrays: the in-memory answer by chunks."""

import os
import signal

import numpy as np
import pytest
import scipy.linalg

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from sklearn_debias.linear_model import SketchPreconditionedRegressor  # noqa: E402

M, N = 20_000, 10


def _problem(cond, seed=0, k=1, weights=False, residual=1e-10):
    """Weighted least squares with a known solution (as in the in-memory tests).

    ``X`` has condition number ~cond (a random rotation, so equilibration
    cannot remove it) and the residual is orthogonal to ``W^{1/2} [1, X]``, of
    norm ``residual * ||X beta||``.
    """
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.2, 3.0, M) if weights else np.ones(M)
    G = rng.standard_normal((M, N))
    G -= w @ G / w.sum()
    V = np.linalg.qr(rng.standard_normal((N, N)))[0]
    X = (G * np.logspace(0, -np.log10(cond), N)) @ V.T + rng.uniform(-2, 2, N)
    beta = rng.standard_normal((N, k))
    c = rng.standard_normal(k)
    sw = np.sqrt(w)[:, None]
    Q = np.linalg.qr(np.column_stack([np.ones(M), X]) * sw)[0]
    r = rng.standard_normal((M, k))
    for _ in range(2):
        r -= Q @ (Q.T @ r)
    signal = X @ beta
    r *= residual * np.linalg.norm(signal - signal.mean(0), axis=0)
    r /= np.linalg.norm(r, axis=0)
    return X, c + signal + r / sw, w if weights else None, beta, c


def _gelsd_error(X, Y, w, beta):
    """Forward error of LAPACK's gelsd on the explicitly centred, weighted data."""
    w = np.ones(M) if w is None else w
    sw = np.sqrt(w)[:, None]
    xm, ym = w @ X / w.sum(), w @ Y / w.sum()
    sol = scipy.linalg.lstsq((X - xm) * sw, (Y - ym) * sw, lapack_driver="gelsd")[0]
    return np.linalg.norm(sol - beta) / np.linalg.norm(beta)


def _dask(A, rows):
    return da.from_array(A, chunks=(rows,) + A.shape[1:])


@pytest.mark.parametrize(
    "cond, residual", [(1e0, 1e-10), (1e4, 1e-10), (1e8, 1e-10), (1e4, 1.0)]
)
@pytest.mark.parametrize("weights", [False, True])
def test_same_accuracy_as_in_memory_and_gelsd(cond, residual, weights):
    # Large residuals exercise the final pairwise-summed correction.
    X, Y, w, beta, c = _problem(cond, weights=weights, k=2, residual=residual)
    kw = dict(sketch_size=10 * N, random_state=0)
    ref = SketchPreconditionedRegressor(**kw).fit(X, Y, sample_weight=w)
    wd = None if w is None else _dask(w, 6_000)
    est = SketchPreconditionedRegressor(**kw).fit(
        _dask(X, 7_000), _dask(Y, 5_000), sample_weight=wd
    )
    assert isinstance(est.coef_, np.ndarray) and est.coef_.shape == (2, N)
    assert est.solver_ == "cg" and est.sketch_size_ == 10 * N
    lapack = _gelsd_error(X, Y, w, beta)
    err = np.linalg.norm(est.coef_.T - beta) / np.linalg.norm(beta)
    err_ref = np.linalg.norm(ref.coef_.T - beta) / np.linalg.norm(beta)
    assert err <= 10 * lapack + 1e-14, (err, lapack, err_ref)
    diff = np.linalg.norm(est.coef_ - ref.coef_) / np.linalg.norm(beta)
    assert diff <= max(1e-10, 20 * lapack)
    # The intercept inherits the coefficients' error along the column means.
    xm = np.ones(M) @ X / M if w is None else w @ X / w.sum()
    bound = np.linalg.norm(xm) * (err + lapack) * np.linalg.norm(beta) + 1e-12
    assert np.all(abs(est.intercept_ - ref.intercept_) <= 10 * bound)


def test_chunkings_agree():
    X, Y, _, beta, _ = _problem(1e6, seed=1)
    y = Y[:, 0]
    fits = [
        SketchPreconditionedRegressor(sketch_size=100, random_state=3).fit(
            _dask(X, rows), _dask(y, rows)
        )
        for rows in (M, 9_999, 4_000)
    ]
    lapack = _gelsd_error(X, Y, None, beta)
    # The sketch is the same bit for bit (see _randnla/tests/test_chunked.py);
    # the passes round differently, so the answers agree to LAPACK's accuracy.
    for f in fits[1:]:
        diff = np.linalg.norm(f.coef_ - fits[0].coef_) / np.linalg.norm(beta)
        assert diff <= max(1e-10, 20 * lapack)


@pytest.mark.parametrize("alpha", [1e-2, 10.0])
def test_ridge_matches_in_memory(alpha):
    X, Y, w, _, _ = _problem(1e5, seed=2, weights=True)
    kw = dict(alpha=alpha, sketch_size=8 * N, random_state=1)
    ref = SketchPreconditionedRegressor(**kw).fit(X, Y[:, 0], sample_weight=w)
    est = SketchPreconditionedRegressor(**kw).fit(
        _dask(X, 8_000), Y[:, 0], sample_weight=w
    )
    # Ridge is well conditioned: agreement to rounding level.
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-10, atol=1e-12)
    assert abs(est.intercept_ - ref.intercept_) <= 1e-9


def test_no_intercept_and_float32():
    X, Y, _, _, _ = _problem(1e3, seed=3)
    kw = dict(fit_intercept=False, sketch_size=6 * N, random_state=0)
    ref = SketchPreconditionedRegressor(**kw).fit(X, Y)
    est = SketchPreconditionedRegressor(**kw).fit(_dask(X, 10_000), _dask(Y, 10_000))
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-9)
    assert est.intercept_.shape == (1,) and est.intercept_[0] == 0.0
    X32 = X.astype(np.float32)
    ref = SketchPreconditionedRegressor(**kw).fit(X32, Y[:, 0])
    est = SketchPreconditionedRegressor(**kw).fit(_dask(X32, 10_000), Y[:, 0])
    assert est.coef_.dtype == np.float32
    np.testing.assert_allclose(est.coef_, ref.coef_, rtol=1e-5)


def test_explicit_centring_when_means_dwarf_the_spread():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((30_000, 5)) + 1e6
    beta = rng.standard_normal(5)
    y = (X - 1e6) @ beta + 1.0
    est = SketchPreconditionedRegressor(sketch_size=60, random_state=0).fit(
        _dask(X, 7_000), y
    )
    np.testing.assert_allclose(est.coef_, beta, rtol=1e-8)
    assert est._n_passes >= 3  # the sketch, its centred repeat, the passes


def test_predict_returns_dask_and_matches():
    X, Y, _, _, _ = _problem(10.0, seed=5)
    est = SketchPreconditionedRegressor(sketch_size=60, random_state=0)
    est.fit(_dask(X, 10_000), _dask(Y[:, 0], 10_000))
    pred = est.predict(_dask(X, 9_000))
    assert isinstance(pred, da.Array) and pred.shape == (M,)
    np.testing.assert_allclose(pred.compute(), X @ est.coef_ + est.intercept_)
    with pytest.raises(ValueError, match="expecting 10 features"):
        est.predict(_dask(X[:, :3], 9_000))
    assert isinstance(est.predict(X), np.ndarray)
    assert est.score(X, Y[:, 0]) > 0.99


def test_small_dask_problem_is_solved_directly():
    rng = np.random.default_rng(6)
    X = rng.standard_normal((500, 4))
    y = X @ np.arange(4.0) + 1.0
    est = SketchPreconditionedRegressor().fit(_dask(X, 100), _dask(y, 100))
    assert est.solver_ == "lapack"
    np.testing.assert_allclose(est.coef_, np.arange(4.0), atol=1e-12)


def test_column_chunks_are_joined():
    X, Y, _, _, _ = _problem(10.0, seed=7)
    kw = dict(sketch_size=60, random_state=0)
    a = SketchPreconditionedRegressor(**kw).fit(_dask(X, 8_000), Y[:, 0])
    b = SketchPreconditionedRegressor(**kw).fit(
        da.from_array(X, chunks=(8_000, 5)), Y[:, 0]
    )
    assert np.array_equal(a.coef_, b.coef_)


def test_bad_input():
    X, Y, w, _, _ = _problem(10.0, seed=8, weights=True)
    y = Y[:, 0]
    est = SketchPreconditionedRegressor(sketch_size=60, random_state=0)
    Xd = _dask(X, 8_000)
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        est.fit(Xd[Xd[:, 0] > -np.inf], y)
    Xnan = X.copy()
    Xnan[13_333, 2] = np.nan
    with pytest.raises(ValueError, match=r"X contains NaN.*rows \[0, 20000\)"):
        est.fit(_dask(Xnan, 8_000), y)
    ynan = y.copy()
    ynan[5] = np.inf
    with pytest.raises(ValueError, match="y contains NaN"):
        est.fit(Xd, _dask(ynan, 8_000))
    with pytest.raises(ValueError, match="sample_weight contains negative"):
        est.fit(Xd, y, sample_weight=_dask(-w, 8_000))
    with pytest.raises(ValueError, match="at least one positive"):
        est.fit(Xd, y, sample_weight=_dask(0 * w, 8_000))
    with pytest.raises(ValueError, match="non-negative"):
        est.fit(Xd, y, sample_weight=-w)
    with pytest.raises(ValueError, match="y must have shape"):
        est.fit(Xd, y[:-1])
    with pytest.raises(ValueError, match="solver='cg' or 'iterative_sketching'"):
        SketchPreconditionedRegressor(sketch_size=60, solver="lsqr").fit(Xd, y)
    with pytest.raises(ValueError, match="sketch='srtt'"):
        SketchPreconditionedRegressor(sketch_size=60, sketch="srtt").fit(Xd, y)


def test_max_iter_warns_on_dask():
    X, Y, _, _, _ = _problem(1e8, seed=9)
    est = SketchPreconditionedRegressor(sketch_size=2 * N, max_iter=1, random_state=0)
    with pytest.warns(ConvergenceWarning, match="did not reach tol"):
        est.fit(_dask(X, 10_000), Y[:, 0])


def test_iterative_sketching_on_dask():
    X, Y, _, beta, _ = _problem(1e4, seed=10)
    kw = dict(sketch_size=12 * N, solver="iterative_sketching", random_state=0)
    est = SketchPreconditionedRegressor(**kw).fit(_dask(X, 9_000), Y[:, 0])
    lapack = _gelsd_error(X, Y, None, beta)
    err = np.linalg.norm(est.coef_ - beta[:, 0]) / np.linalg.norm(beta)
    assert err <= 10 * lapack + 1e-14


def test_distributed_is_bit_identical_to_threads(client):
    X, Y, w, _, _ = _problem(1e6, seed=11, weights=True)
    kw = dict(sketch_size=100, random_state=0)
    Xd, yd, wd = _dask(X, 6_000), _dask(Y[:, 0], 6_000), _dask(w, 6_000)
    with dask.config.set(scheduler="threads"):
        local = SketchPreconditionedRegressor(**kw).fit(Xd, yd, sample_weight=wd)
    on_cluster = SketchPreconditionedRegressor(**kw).fit(Xd, yd, sample_weight=wd)
    assert np.array_equal(local.coef_, on_cluster.coef_)
    assert local.intercept_ == on_cluster.intercept_
    pred = on_cluster.predict(Xd)
    assert isinstance(pred, da.Array)


def test_verbose_reports_passes_without_changing_the_fit(client, capsys):
    X, Y, _, _, _ = _problem(1e4, seed=12)
    Xd, yd = _dask(X, 5_000), _dask(Y[:, 0], 5_000)
    kw = dict(sketch_size=100, random_state=0)
    quiet = SketchPreconditionedRegressor(**kw).fit(Xd, yd)
    capsys.readouterr()
    loud = SketchPreconditionedRegressor(verbose=1, **kw).fit(Xd, yd)
    err = capsys.readouterr().err
    assert "4 row chunks, sketch size 100" in err
    assert "map-reduce pass 1" in err and "passes over the data" in err
    assert np.array_equal(quiet.coef_, loud.coef_)


@pytest.mark.slow  # starts worker processes
def test_fit_survives_a_worker_dying_mid_fit(monkeypatch):
    distributed = pytest.importorskip("distributed")
    from sklearn_debias._randnla._chunked import ChunkedOperator

    X, Y, _, _, _ = _problem(1e4, seed=12)
    kw = dict(sketch_size=60, random_state=0)
    Xd, yd = _dask(X, 5_000), _dask(Y[:, 0], 5_000)
    expected = SketchPreconditionedRegressor(**kw).fit(Xd, yd)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        original = ChunkedOperator.map_reduce
        calls = []

        def map_reduce(self, *args, **kwargs):
            calls.append(1)
            if len(calls) == 3:  # mid-fit: after the sketch and two passes
                victim = sorted(client.scheduler_info()["workers"])[0]
                pid = client.run(os.getpid, workers=[victim])[victim]
                os.kill(pid, signal.SIGKILL)  # its nanny starts a new one
            return original(self, *args, **kwargs)

        monkeypatch.setattr(ChunkedOperator, "map_reduce", map_reduce)
        got = SketchPreconditionedRegressor(**kw).fit(Xd, yd)
    assert len(calls) > 3
    # Worker processes see unpickled chunks (other memory alignment, so SIMD
    # sums may round differently): the same answer to LAPACK's accuracy.
    np.testing.assert_allclose(got.coef_, expected.coef_, rtol=1e-9)
