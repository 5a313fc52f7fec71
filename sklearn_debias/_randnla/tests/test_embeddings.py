"""Tests of the random embeddings in sklearn_debias._randnla."""

import numpy as np
import pytest
import scipy.sparse as sp

from sklearn_debias._randnla import (
    EMBEDDINGS,
    ShiftedRows,
    SparseSignEmbedding,
    make_embedding,
)
from sklearn_debias.utils import _parallel


def _orthonormal(m, n, seed, coherent=False):
    rng = np.random.default_rng(seed)
    if coherent:
        # A subspace spanned by coordinate vectors: the hardest case for
        # sampling-based sketches, fine for mixing ones.
        Q = np.zeros((m, n))
        Q[rng.choice(m, n, replace=False), np.arange(n)] = 1.0
        return Q
    return np.linalg.qr(rng.standard_normal((m, n)))[0]


@pytest.mark.parametrize("method", EMBEDDINGS)
@pytest.mark.parametrize("coherent", [False, True])
def test_subspace_embedding_distortion(method, coherent):
    # For an orthonormal Q, the singular values of S Q lie in [1 - eps, 1 + eps]
    # with eps ~ sqrt(n / d) (Gaussian) -- here d = 20 n, eps ~ 0.22.
    m, n, d = 5000, 10, 200
    Q = _orthonormal(m, n, seed=1, coherent=coherent)
    for seed in range(3):
        S = make_embedding(method, d, m, np.random.default_rng(seed))
        s = np.linalg.svd(S @ Q, compute_uv=False)
        assert 0.55 < s.min() <= s.max() < 1.45, (method, s.min(), s.max())


@pytest.mark.parametrize("method", EMBEDDINGS)
def test_unbiased_norm(method):
    # E ||S x||^2 = ||x||^2: average over independent embeddings.
    m, d = 3000, 30
    x = np.random.default_rng(0).standard_normal(m)
    vals = [
        np.sum((make_embedding(method, d, m, np.random.default_rng(s)) @ x) ** 2)
        for s in range(200)
    ]
    ratio = np.mean(vals) / np.sum(x**2)
    # Relative standard deviation of one draw is ~sqrt(2 / d) = 0.26.
    assert abs(ratio - 1) < 4 * 0.26 / np.sqrt(200)


@pytest.mark.parametrize("method", EMBEDDINGS)
def test_same_embedding_for_every_array(method):
    rng = np.random.default_rng(0)
    m = 70_000  # more than one chunk of the sparse sign embedding
    A = rng.standard_normal((m, 3))
    b = rng.standard_normal(m)
    S = make_embedding(method, 40, m, np.random.default_rng(5))
    SAb = S @ np.column_stack([A, b])
    np.testing.assert_allclose(S @ A, SAb[:, :3], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(S @ b, SAb[:, 3], rtol=1e-12, atol=1e-12)
    many = S.apply_many([A, b])
    np.testing.assert_allclose(many[0], SAb[:, :3], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(many[1], SAb[:, 3], rtol=1e-12, atol=1e-12)
    # Same seed, same embedding.
    S2 = make_embedding(method, 40, m, np.random.default_rng(5))
    np.testing.assert_array_equal(S2 @ b, S @ b)


@pytest.mark.parametrize("method", EMBEDDINGS)
@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_input_and_row_scale(method, fmt):
    rng = np.random.default_rng(0)
    m = 2000
    A = sp.random(m, 15, density=0.05, format=fmt, random_state=1)
    w = rng.uniform(0.5, 2.0, size=m)
    S = make_embedding(method, 50, m, np.random.default_rng(2))
    dense = A.toarray()
    np.testing.assert_allclose(S @ A, S @ dense, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        S.apply(A, row_scale=w), S @ (w[:, None] * dense), rtol=1e-12, atol=1e-12
    )


def test_sparse_sign_structure():
    m, d = 1000, 64
    S = SparseSignEmbedding(d, m, np.random.default_rng(0), zeta=8)
    M = S @ np.eye(m)
    nnz = (M != 0).sum(axis=0)
    np.testing.assert_array_equal(nnz, 8)
    np.testing.assert_allclose(np.abs(M[M != 0]), 1 / np.sqrt(8))
    # One nonzero per group of d / zeta rows.
    groups = (M != 0).reshape(8, d // 8, m).sum(axis=1)
    np.testing.assert_array_equal(groups, 1)
    # Signs balanced and rows used evenly.
    assert abs(np.mean(M[M != 0] > 0) - 0.5) < 0.03
    counts = (M != 0).sum(axis=1)
    assert counts.min() > 0.6 * counts.mean()
    # The columns are those of the sparse matrix applied to each row.
    np.testing.assert_array_equal(S @ np.eye(m)[:, :5], M[:, :5])


def test_float32_preserved():
    A = np.random.default_rng(0).standard_normal((500, 4)).astype(np.float32)
    for method in EMBEDDINGS:
        SA = make_embedding(method, 20, 500, np.random.default_rng(0)) @ A
        assert SA.dtype == np.float32


def test_bad_arguments():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="sketch must be one of"):
        make_embedding("fourier", 10, 100, rng)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="sketch_size"):
            make_embedding("gaussian", bad, 100, rng)
    with pytest.raises(ValueError, match="cannot be larger"):
        make_embedding("srtt", 200, 100, rng)
    S = make_embedding("sparse_sign", 10, 100, rng)
    with pytest.raises(ValueError, match="cannot be applied"):
        S @ np.ones((99, 2))
    with pytest.raises(ValueError, match="row_scale"):
        S.apply(np.ones((100, 2)), row_scale=np.ones(5))


@pytest.mark.parametrize("method", EMBEDDINGS)
def test_shifted_rows_sketch(method):
    # S (A - 1 shift^T) formed block by block, without cancellation.
    rng = np.random.default_rng(0)
    m = 70_000
    shift = np.array([1e8, -3.0, 0.0])
    A = rng.standard_normal((m, 3)) + shift
    w = rng.uniform(0.5, 1.5, m)
    S = make_embedding(method, 30, m, np.random.default_rng(1))
    got = S.apply(ShiftedRows(A, shift), row_scale=w)
    want = S.apply(A - shift, row_scale=w)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-8)


@pytest.mark.parametrize("method", ["sparse_sign", "gaussian"])
def test_row_blocks_seeded_by_global_block_index(method):
    # Block c of rows is drawn from the c-th child of random_state, whatever
    # the total number of rows: embeddings for 70,000 and 140,000 rows with
    # the same seed agree on the rows of the blocks they share.
    rng = np.random.default_rng(0)
    short, long_ = 70_000, 140_000
    A = np.zeros((long_, 2))
    A[:65_536] = rng.standard_normal((65_536, 2))
    S_short = make_embedding(method, 30, short, random_state=7)
    S_long = make_embedding(method, 30, long_, random_state=7)
    np.testing.assert_array_equal(S_short @ A[:short], S_long @ A)
    other = make_embedding(method, 30, long_, random_state=8)
    assert not np.allclose(other @ A, S_long @ A)


@pytest.mark.parametrize("method", EMBEDDINGS)
def test_sketch_independent_of_thread_count(method, monkeypatch):
    # Blocks are summed in fixed groups, in order: the same bits on every
    # machine, whatever its number of cores.
    rng = np.random.default_rng(0)
    m = 300_000
    A = rng.standard_normal((m, 3))
    w = rng.uniform(0.5, 2.0, m)
    results = []
    for threads in (1, 4):
        monkeypatch.setattr(_parallel, "n_threads", lambda threads=threads: threads)
        S = make_embedding(method, 40, m, random_state=3)
        results.append(S.apply_many([A, A[:, 0]], row_scale=w))
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)


def test_random_state_rule():
    # An int seeds one SeedSequence: same embedding for the same int, and
    # numpy's global state plays no part.
    m = 1000
    x = np.random.default_rng(0).standard_normal(m)
    for method in EMBEDDINGS:
        np.random.seed(0)
        a = make_embedding(method, 20, m, random_state=5) @ x
        np.random.seed(1)
        b = make_embedding(method, 20, m, random_state=5) @ x
        np.testing.assert_array_equal(a, b)
