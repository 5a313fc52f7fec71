"""Tests of the chunked operators and sketches over dask arrays."""

import subprocess
import sys

import numpy as np
import pytest

da = pytest.importorskip("dask.array")

from sklearn_debias._randnla import _chunked, make_embedding  # noqa: E402
from sklearn_debias._randnla._chunked import (  # noqa: E402
    ChunkedOperator,
    check_row_chunked,
    chunked_sketch,
    is_dask_array,
)

# More rows than 4 sparse-sign blocks of 65,536: several groups of the
# threaded sum, and chunk boundaries that straddle blocks.
_M = 4 * 65_536 + 1_234


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((_M, 4)) * [1.0, 1e3, 1e-3, 7.0] + 5.0
    b = rng.standard_normal(_M)
    w = rng.uniform(0.1, 3.0, _M)
    return A, b, w


@pytest.mark.parametrize("chunks", [_M, 100_000, 65_536, 47_111])
def test_sparse_sign_sketch_identical_whatever_the_chunking(data, chunks):
    A, b, w = data
    S = make_embedding("sparse_sign", 40, _M, random_state=3)
    expected = S.apply_many([A, b, np.ones(_M)], row_scale=np.sqrt(w))
    got = chunked_sketch(
        S,
        [da.from_array(A, chunks=(chunks, 2)), da.from_array(b, chunks=chunks // 3)],
        row_scale=da.from_array(np.sqrt(w), chunks=chunks),
    )
    got.append(chunked_sketch(S, [da.ones(_M, chunks=chunks)], np.sqrt(w))[0])
    for e, g in zip(expected, got, strict=True):
        assert g.shape == e.shape and g.dtype == e.dtype
        assert np.array_equal(g, e)


def test_shifted_and_float32_sketches_identical(data):
    A, _, w = data
    S = make_embedding("sparse_sign", 30, _M, random_state=1)
    shift = A.mean(axis=0)
    from sklearn_debias._randnla import ShiftedRows

    expected = S.apply(ShiftedRows(A, shift), row_scale=w)
    (got,) = chunked_sketch(
        S, [da.from_array(A, chunks=(70_001, 4))], row_scale=w, shifts=[shift]
    )
    assert np.array_equal(got, expected)
    A32 = A.astype(np.float32)
    (got32,) = chunked_sketch(S, [da.from_array(A32, chunks=(90_000, 4))])
    assert got32.dtype == np.float32
    assert np.array_equal(got32, S @ A32)


def test_gaussian_sketch_matches(data):
    A, _, _ = data
    m = 50_000
    S = make_embedding("gaussian", 20, m, random_state=2)
    (got,) = chunked_sketch(S, [da.from_array(A[:m], chunks=(7_000, 4))])
    np.testing.assert_allclose(got, S @ A[:m], rtol=1e-12, atol=1e-9)


def test_extra_statistics_in_the_same_pass(data):
    A, _, _ = data

    def column_sums(c, arrays, row_scale, extra_blocks):
        return [arrays[0].sum(axis=0)]

    S = make_embedding("sparse_sign", 10, _M, random_state=0)
    _, sums = chunked_sketch(
        S, [da.from_array(A, chunks=(50_000, 4))], extra=column_sums
    )
    np.testing.assert_allclose(sums, A.sum(axis=0), rtol=1e-12)


def test_srtt_is_refused(data):
    A, _, _ = data
    S = make_embedding("srtt", 10, 1000, random_state=0)
    with pytest.raises(ValueError, match="mixes all rows"):
        chunked_sketch(S, [da.from_array(A[:1000], chunks=(300, 4))])


def test_chunked_operator_products():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((1000, 6))
    op = ChunkedOperator(da.from_array(X, chunks=(137, 6)))
    V = rng.standard_normal((6, 2))
    R = rng.standard_normal((1000, 2))
    MV = op.matmat(V)
    assert is_dask_array(MV) and MV.chunks[0] == op.X.chunks[0]
    np.testing.assert_allclose(MV.compute(), X @ V, rtol=1e-13)
    np.testing.assert_allclose(op.rmatmat(R), X.T @ R, rtol=1e-12)
    np.testing.assert_allclose(op.rmatmat(da.from_array(R, chunks=(400, 1))), X.T @ R)
    np.testing.assert_allclose(op.gram(V), X.T @ (X @ V), rtol=1e-12)
    assert op.n_passes == 3 and op.n_matvecs == 2 + 2 + 2 + 4


def test_map_reduce_is_a_fixed_tree():
    # The same result, bit for bit, whatever the scheduler.
    import dask

    rng = np.random.default_rng(2)
    X = da.from_array(rng.standard_normal((5000, 3)), chunks=(333, 3))
    op = ChunkedOperator(X)
    V = rng.standard_normal((3, 1))
    with dask.config.set(scheduler="threads"):
        a = op.gram(V)
    with dask.config.set(scheduler="sync"):
        b = op.gram(V)
    assert np.array_equal(a, b)


def test_check_row_chunked():
    X = da.from_array(np.ones((100, 6)), chunks=(30, 2))
    assert check_row_chunked(X).chunks[1] == (6,)
    assert check_row_chunked(X.astype(int)).dtype == np.float64
    unknown = X[X[:, 0] > 0]
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        check_row_chunked(unknown)
    with pytest.raises(ValueError, match="dimensions"):
        check_row_chunked(X[:, 0])
    with pytest.raises(TypeError, match="real numeric"):
        check_row_chunked(X.astype(complex))


def test_column_chunks_of_huge_rows_are_refused(monkeypatch):
    monkeypatch.setattr(_chunked, "_MAX_CHUNK_BYTES", 1000)
    X = da.from_array(np.ones((100, 6)), chunks=(100, 2))
    with pytest.raises(ValueError, match="chunked along its columns"):
        check_row_chunked(X)


@pytest.mark.slow  # a fresh interpreter importing the package: ~15 s when loaded
def test_core_does_not_import_dask():
    code = (
        "import sys, numpy as np\n"
        "from sklearn_debias.linear_model import SketchPreconditionedRegressor\n"
        "from sklearn_debias._randnla._chunked import is_dask_array\n"
        "X = np.random.default_rng(0).standard_normal((3000, 3))\n"
        "SketchPreconditionedRegressor(sketch_size=30).fit(X, X[:, 0])\n"
        "assert not is_dask_array(X)\n"
        "assert 'dask' not in sys.modules, 'dask was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
