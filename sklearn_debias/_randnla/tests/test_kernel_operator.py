import numpy as np
import pytest
from sklearn.gaussian_process.kernels import RBF, WhiteKernel
from sklearn.metrics.pairwise import pairwise_kernels

from sklearn_debias._randnla import (
    KernelOperator,
    KernelTiles,
    PairwiseKernel,
    RPCholesky,
    _kernel_operator,
    cross_matmat,
    rpcholesky_preconditioner,
)
from sklearn_debias._randnla._kernel_operator import symmetric_matmat


@pytest.fixture
def X():
    return np.random.default_rng(0).standard_normal((300, 4))


@pytest.mark.parametrize(
    "kernel, params",
    [
        ("rbf", dict(gamma=0.3)),
        ("polynomial", dict(degree=2, coef0=1.0, gamma=0.5)),
        ("linear", dict()),
        ("sigmoid", dict(gamma=0.1, coef0=0.0)),
    ],
)
def test_named_kernels_and_diagonal(X, kernel, params):
    k = PairwiseKernel(kernel, **params)
    K = pairwise_kernels(X, X, metric=kernel, filter_params=True, **params)
    np.testing.assert_allclose(k(X, X), K, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(k.diag(X), np.diag(K), rtol=1e-12)


def test_gp_kernel_and_float32(X):
    gp = RBF(0.7) + WhiteKernel(0.1)
    k = PairwiseKernel(gp)
    np.testing.assert_allclose(k.diag(X), gp.diag(X))
    k32 = PairwiseKernel("rbf", gamma=0.2, dtype=np.float32)
    assert k32(X, X[:5]).dtype == np.float32


@pytest.mark.parametrize("max_memory", [0, 100])
@pytest.mark.parametrize("n_jobs", [None, 2])
def test_operator_blockwise_equals_dense_with_weights(X, max_memory, n_jobs):
    k = PairwiseKernel("rbf", gamma=0.3)
    w = np.random.default_rng(1).uniform(0.1, 3.0, 300)
    op = KernelOperator(
        X, k, shift=0.5, sample_weight=w, max_memory=max_memory, n_jobs=n_jobs
    )
    assert op.stored == (max_memory > 0)
    D = np.sqrt(w)
    A = D[:, None] * k(X, X) * D[None, :]
    V = np.random.default_rng(2).standard_normal((300, 3))
    np.testing.assert_allclose(op.matmat(V), A @ V + 0.5 * V, rtol=1e-12)
    np.testing.assert_allclose(op.diag(), np.diag(A))
    np.testing.assert_allclose(op.columns([3, 7]), A[:, [3, 7]])
    Z = X[:17] + 0.1
    np.testing.assert_allclose(op.cross_matmat(Z, V), k(Z, X) @ V, rtol=1e-12)
    assert op.n_matvecs == 3


def test_blocks_do_not_depend_on_threads(X):
    k = PairwiseKernel("rbf", gamma=0.3)
    Xb = np.tile(X, (10, 1))  # several blocks of rows
    V = np.ones((Xb.shape[0], 1))
    one = cross_matmat(k, Xb, Xb[:1500], V[:1500], n_jobs=1)
    two = cross_matmat(k, Xb, Xb[:1500], V[:1500], n_jobs=-1)
    np.testing.assert_array_equal(one, two)


def test_unknown_kernel():
    with pytest.raises(ValueError, match="kernel must be one of"):
        PairwiseKernel("precomputed")


def test_rpcholesky_exact_on_low_rank_and_residual_diag():
    rng = np.random.default_rng(0)
    G = rng.standard_normal((200, 7))
    A = G @ G.T
    rpc = RPCholesky(np.diag(A), lambda i: A[:, i], random_state=0, block_size=4)
    rpc.extend(50)
    assert rpc.rank == 7 and rpc.exhausted
    assert len(np.unique(rpc.pivots)) == 7
    np.testing.assert_allclose(rpc.F @ rpc.F.T, A, atol=1e-8 * np.abs(A).max())


def test_rpcholesky_partial_factor_is_a_nystrom_approximation(X):
    A = PairwiseKernel("rbf", gamma=0.5)(X, X)
    rpc = RPCholesky(np.ones(300), lambda i: A[:, i], random_state=1).extend(40)
    S = rpc.pivots
    nys = A[:, S] @ np.linalg.solve(A[np.ix_(S, S)], A[S])
    np.testing.assert_allclose(rpc.F @ rpc.F.T, nys, atol=1e-7)
    np.testing.assert_allclose(rpc.residual_diag, np.diag(A - nys), atol=1e-7)
    # Extending continues the same factorisation.
    before = rpc.F.copy()
    rpc.extend(10)
    np.testing.assert_array_equal(rpc.F[:, :40], before)


def test_rpcholesky_refuses_indefinite_and_negative_diagonal():
    A = np.diag([1.0, 1.0]) - 2.0 * np.ones((2, 2)) + np.eye(2) * 2.5
    A[0, 1] = A[1, 0] = 3.0  # diag 1.5, off-diagonal 3: indefinite
    with pytest.raises(ValueError, match="positive semi-definite"):
        RPCholesky(np.diag(A), lambda i: A[:, i], random_state=0).extend(2)
    with pytest.raises(ValueError, match="non-negative"):
        RPCholesky(np.array([1.0, -1.0]), lambda i: None)


def test_rpcholesky_preconditioner_adapts_rank(X):
    A = PairwiseKernel("rbf", gamma=0.2)(X, X)
    ranks = []
    for mu in [1.0, 1e-3, 1e-5]:
        P, rpc = rpcholesky_preconditioner(
            np.ones(300), lambda i: A[:, i], mu, rank=8, max_rank=300, random_state=0
        )
        assert P.rank == rpc.rank <= 150  # never past n / 2
        M = P.solve(A + mu * np.eye(300))
        ev = np.linalg.eigvals(M).real
        if P.condition_estimate <= 10:
            assert ev.max() / ev.min() < 30
        else:  # the rank stopped at its cap
            assert rpc.rank == 150
        ranks.append(rpc.rank)
    assert ranks[0] < 150
    assert ranks[0] <= ranks[1] <= ranks[2]


@pytest.mark.parametrize("offset", [0.0, 1e3])
def test_rbf_tiles_match_sklearn_far_from_the_origin(offset):
    # The augmented product moves both sets to B's mean, so points far from
    # the origin lose no more accuracy than sklearn's own expansion.
    rng = np.random.default_rng(1)
    A, B = offset + rng.standard_normal((70, 5)), offset + rng.standard_normal((90, 5))
    k = PairwiseKernel("rbf", gamma=0.4)
    tiles = KernelTiles(k, A, B)
    np.testing.assert_allclose(tiles(slice(None), slice(None)), k(A, B), atol=1e-12)
    out = np.empty((10, 30))
    assert tiles(slice(5, 15), slice(60, 90), out) is out
    np.testing.assert_allclose(out, k(A[5:15], B[60:90]), atol=1e-12)
    # Self-similarity is 1 up to rounding, never above.
    diag = np.diagonal(KernelTiles(k, A, A)(slice(None), slice(None)))
    assert np.all(diag <= 1.0) and np.all(diag > 1 - 1e-12)


def test_rbf_tiles_refuse_nan():
    X = np.ones((5, 2))
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        KernelTiles(PairwiseKernel("rbf"), X, np.ones((4, 2)))


@pytest.mark.parametrize("kernel", ["rbf", "laplacian", RBF([0.5, 1.0, 2.0])])
def test_symmetric_pass_equals_dense_and_ignores_threads(kernel, monkeypatch):
    # 2600 points: three bands of 1024 rows with ragged tiles; a small parts
    # budget makes the bands taller for many columns.
    rng = np.random.default_rng(2)
    X = rng.uniform(size=(2600, 3))
    V = rng.standard_normal((2600, 3))
    k = PairwiseKernel(kernel, gamma=0.7)
    dense = k(X, X) @ V
    tiles = KernelTiles(k, X, X)
    one = symmetric_matmat(tiles, V, n_jobs=1)
    np.testing.assert_allclose(one, dense, rtol=1e-12, atol=1e-10)
    np.testing.assert_array_equal(symmetric_matmat(tiles, V, n_jobs=2), one)
    monkeypatch.setattr(_kernel_operator, "_PARTS_BYTES", 2**16)
    np.testing.assert_allclose(symmetric_matmat(tiles, V), dense, atol=1e-10)
