"""sketched_svd and SketchedTruncatedSVD on row-chunked dask arrays."""

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from sklearn_debias.decomposition import (  # noqa: E402
    SketchedTruncatedSVD,
    sketched_svd,
)

M, N, K = 2_000, 60, 4


def _known(seed=0, decay=0.8, offset=0.0):
    """``U diag(s) V^T + offset`` with a well-separated, decaying spectrum."""
    rng = np.random.default_rng(seed)
    U = np.linalg.qr(rng.standard_normal((M, N)))[0]
    V = np.linalg.qr(rng.standard_normal((N, N)))[0]
    return (U * 10 * decay ** np.arange(N)) @ V.T + offset


def _data(seed=0):
    """Low rank plus noise, with column means well away from zero."""
    rng = np.random.default_rng(seed)
    r = 8
    G = rng.standard_normal((M, r)) * np.linspace(6, 1.5, r)
    noise = 0.05 * rng.standard_normal((M, N))
    return G @ rng.standard_normal((r, N)) + noise + rng.uniform(1, 4, N)


def _dask(A, rows):
    return da.from_array(A, chunks=(rows,) + A.shape[1:])


def _sin(Vt, Wt):
    """Sine of the largest angle between the row spaces of ``Vt`` and ``Wt``."""
    return np.linalg.norm(Vt.T - Wt.T @ (Wt @ Vt.T), 2)


@pytest.mark.parametrize("method", ["auto", "block_krylov", "epsi", "randomized"])
def test_sketched_svd_agrees_with_in_memory(method):
    A = _known(offset=1.0)
    kw = dict(tol=1e-12, random_state=0)
    ref = sketched_svd(A, K, method, **kw)
    res = sketched_svd(_dask(A, 700), K, method, **kw)
    assert isinstance(res.U, da.Array) and res.U.chunks[0] == (700, 700, 600)
    assert isinstance(res.s, np.ndarray) and isinstance(res.Vt, np.ndarray)
    assert res.method == ref.method
    assert res.n_passes >= res.n_iter and ref.n_passes is None
    np.testing.assert_allclose(res.s, ref.s, rtol=1e-12)
    # Randomized SVD stops after 4 subspace iterations, short of the tolerance.
    atol = 1e-8 if method == "randomized" else 1e-10
    assert _sin(res.Vt, ref.Vt) < atol
    U = res.U.compute()
    np.testing.assert_allclose(U * res.s, A @ res.Vt.T, atol=1e-12)
    assert _sin(U.T, ref.U.T) < atol
    if method == "randomized":
        # One more power of A^T A than the in-memory Q^T A: never less accurate.
        assert res.residuals.max() <= ref.residuals.max()
    else:
        assert res.converged and ref.converged
        assert res.residuals.max() <= 1e-12 * res.s[0]


@pytest.mark.parametrize("centering", [False, True])
@pytest.mark.parametrize("algorithm", ["auto", "epsi", "randomized"])
def test_estimator_agrees_with_in_memory(algorithm, centering):
    X = _data()
    kw = dict(algorithm=algorithm, centering=centering, tol=1e-12, random_state=0)
    ref = SketchedTruncatedSVD(K, **kw)
    Z_ref = ref.fit_transform(X)
    est = SketchedTruncatedSVD(K, **kw)
    Z = est.fit_transform(_dask(X, 600))
    assert isinstance(Z, da.Array) and Z.chunks[0] == (600, 600, 600, 200)
    for name in (
        "components_",
        "singular_values_",
        "explained_variance_",
        "explained_variance_ratio_",
    ):
        got, want = getattr(est, name), getattr(ref, name)
        assert isinstance(got, np.ndarray)
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, err_msg=name)
    if centering:
        np.testing.assert_allclose(est.mean_, X.mean(axis=0), rtol=1e-13)
    else:
        assert est.mean_ is None
    assert est.n_features_in_ == N and est.n_samples_seen_ == M
    assert est.n_iter_ == ref.n_iter_
    scale = np.abs(Z_ref).max()
    np.testing.assert_allclose(Z.compute(), Z_ref, atol=1e-11 * scale)
    T = est.transform(_dask(X, 450))
    assert isinstance(T, da.Array)
    np.testing.assert_allclose(T.compute(), Z_ref, atol=1e-11 * scale)
    back = est.inverse_transform(T)
    assert isinstance(back, da.Array)
    np.testing.assert_allclose(back.compute(), ref.inverse_transform(Z_ref), atol=1e-9)


@pytest.mark.parametrize(
    "chunks",
    [(M,), (250,) * 8, (1, 999, 300, 700), (700, 0, 1300)],
    ids=["one", "even", "uneven", "empty"],
)
def test_chunkings_agree(chunks):
    X = _data(seed=1)
    kw = dict(centering=True, tol=1e-12, random_state=0)
    ref = SketchedTruncatedSVD(K, **kw).fit(X)
    est = SketchedTruncatedSVD(K, **kw).fit(da.from_array(X, chunks=(chunks, N)))
    np.testing.assert_allclose(est.singular_values_, ref.singular_values_, rtol=1e-12)
    assert _sin(est.components_, ref.components_) < 1e-10


def test_column_chunks_float32_and_integers():
    X = _data(seed=2)
    kw = dict(tol=1e-12, random_state=0)
    ref = SketchedTruncatedSVD(K, **kw).fit(X)
    est = SketchedTruncatedSVD(K, **kw).fit(da.from_array(X, chunks=(500, 25)))
    np.testing.assert_allclose(est.singular_values_, ref.singular_values_, rtol=1e-12)
    for Xi in (X.astype(np.float32), np.round(10 * X).astype(np.int64)):
        ref = SketchedTruncatedSVD(K, **kw).fit(Xi)
        est = SketchedTruncatedSVD(K, **kw).fit(_dask(Xi, 500))
        np.testing.assert_allclose(
            est.singular_values_, ref.singular_values_, rtol=1e-10
        )


def test_small_problems_take_the_dense_paths():
    X = _data(seed=3)
    # n_features < 2 k + 20: the full Gram matrix in one pass.
    ref = SketchedTruncatedSVD(K, centering=True).fit(X[:, :20])
    est = SketchedTruncatedSVD(K, centering=True).fit(_dask(X[:, :20], 500))
    np.testing.assert_allclose(est.singular_values_, ref.singular_values_, rtol=1e-12)
    assert _sin(est.components_, ref.components_) < 1e-10
    assert est.n_iter_ == 1
    # Fewer rows than 2 k + 20: gathered and fitted in memory.
    ref = SketchedTruncatedSVD(K).fit(X[:20])
    est = SketchedTruncatedSVD(K)
    Z = est.fit_transform(_dask(X[:20], 7))
    assert isinstance(Z, da.Array)
    np.testing.assert_allclose(est.singular_values_, ref.singular_values_)


# Overflowing products meet as inf - inf in the chunks' sum (then reported).
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_bad_input():
    X = _data(seed=4)
    Xd = _dask(X, 500)
    est = SketchedTruncatedSVD(K, random_state=0)
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        est.fit(Xd[Xd[:, 0] > -np.inf])
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        sketched_svd(Xd[Xd[:, 0] > -np.inf], K)
    Xnan = X.copy()
    Xnan[1_234, 5] = np.nan
    Xnan[1_500, 7] = np.inf
    msg = r"{} contains NaN or infinity: 2 entries, first in row 1234"
    with pytest.raises(ValueError, match=msg.format("Input X")):
        est.fit(_dask(Xnan, 500))
    for method in ("auto", "epsi"):  # found by the first product
        with pytest.raises(ValueError, match=msg.format("Input A")):
            sketched_svd(_dask(Xnan, 500), K, method, random_state=0)
    Xnan[0, 0] = np.nan  # the shift of the statistics pass
    with pytest.raises(ValueError, match="3 entries, first in row 0"):
        SketchedTruncatedSVD(K, centering=True).fit(_dask(Xnan, 500))
    with pytest.raises(ValueError, match="overflowed to infinity"):
        sketched_svd(Xd * 1e160, K, random_state=0)
    big = da.zeros((200_000, 1_000), chunks=(200_000, 100))  # never computed
    with pytest.raises(ValueError, match="chunked along its columns"):
        est.fit(big)
    with pytest.raises(ValueError, match="2 dimensions"):
        est.fit(Xd[:, 0])
    with pytest.raises(TypeError, match="real numeric"):
        est.fit(Xd.astype(np.complex128))
    with pytest.raises(ValueError, match="k must satisfy"):
        sketched_svd(Xd, N)
    with pytest.raises(ValueError, match="n_components=61 must be at most"):
        SketchedTruncatedSVD(N + 1).fit(Xd)
    est.fit(Xd)
    with pytest.raises(ValueError, match="expecting 60 features"):
        est.transform(Xd[:, :10])
    with pytest.raises(ValueError, match="fitted on a dask array"):
        est.partial_fit(X[:10])
    with pytest.raises(ValueError, match="does not take dask arrays"):
        est.partial_fit(Xd)


def test_max_iter_warns_on_dask():
    Xd = _dask(_known(decay=0.99), 500)
    with pytest.warns(ConvergenceWarning, match="did not reach tol"):
        res = sketched_svd(Xd, K, tol=1e-14, max_iter=1, random_state=0)
    assert not res.converged


def test_distributed_is_bit_identical_to_threads(client):
    Xd = _dask(_data(seed=5), 500)
    kw = dict(centering=True, tol=1e-10, random_state=0)
    with dask.config.set(scheduler="threads"):
        local = SketchedTruncatedSVD(K, **kw).fit(Xd)
    on_cluster = SketchedTruncatedSVD(K, **kw)
    Z = on_cluster.fit_transform(Xd)
    assert np.array_equal(local.components_, on_cluster.components_)
    assert np.array_equal(local.singular_values_, on_cluster.singular_values_)
    assert np.array_equal(local.mean_, on_cluster.mean_)
    assert isinstance(Z, da.Array)
    np.testing.assert_allclose(
        Z.compute(), local.transform(Xd).compute(), rtol=0, atol=1e-12
    )
