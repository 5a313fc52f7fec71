"""EPSI and the block Krylov kernels against closed forms (known spectra)."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from sklearn_debias._randnla._eigen import (
    NystromSketch,
    block_krylov_svd,
    block_lanczos_eigsh,
    epsi_step,
    lazy_epsi,
)
from sklearn_debias._randnla._operators import BlockOperator


class _Dense(BlockOperator):
    def __init__(self, A, symmetric=None):
        super().__init__(A.shape, symmetric=symmetric)
        self.A = A

    def _matmat(self, X):
        return self.A @ X

    def _rmatmat(self, Y):
        return self.A.T @ Y


def _psd(n, eigvals, seed=0):
    rng = np.random.default_rng(seed)
    Q = np.linalg.qr(rng.standard_normal((n, n)))[0]
    return (Q * eigvals) @ Q.T, Q


def _sin(X, Q, k):
    P = Q[:, :k]
    W = np.linalg.qr(X)[0]
    return np.linalg.norm(W - P @ (P.T @ W), 2)


def _sketch(A, r, seed):
    Omega = np.random.default_rng(seed).standard_normal((A.shape[0], r))
    return NystromSketch(Omega, A @ Omega)


def test_lazy_epsi_converges_to_1e_12():
    n, k = 300, 5
    lam = np.arange(1, n + 1) ** -1.2
    A, Q = _psd(n, lam)
    theta, X, info = lazy_epsi(_Dense(A, True), k, sketch_size=40, tol=1e-12, rng=0)
    assert info["converged"]
    np.testing.assert_allclose(theta, lam[:k], rtol=1e-12)
    assert _sin(X, Q, k) < 1e-10
    assert np.all(info["residuals"] <= 1e-12 * lam[0])
    true_res = np.linalg.norm(A @ X - X * theta, axis=0)
    np.testing.assert_allclose(info["residuals"], true_res, atol=1e-14)


@pytest.mark.parametrize("r", [1, 3, 10, 60])
def test_exact_eigenvector_is_a_fixed_point_whatever_the_sketch(r):
    n = 120
    lam = np.exp(-np.arange(n) / 10)
    A, Q = _psd(n, lam, seed=1)
    sketch = _sketch(A, r, seed=r)
    for i in (0, 3, 7):
        v = Q[:, i]
        u, rq = epsi_step(sketch, lambda x: A @ x, v)
        assert abs(rq - lam[i]) < 1e-13
        np.testing.assert_allclose(u, v, atol=1e-10)


def test_single_vector_epsi_converges_to_top_eigenvector():
    n = 200
    lam = np.arange(1, n + 1) ** -1.0
    A, Q = _psd(n, lam, seed=2)
    sketch = _sketch(A, 20, seed=0)
    u = sketch.Q[:, 0]
    for _ in range(60):
        u, rq = epsi_step(sketch, lambda x: A @ x, u)
    assert abs(abs(u @ Q[:, 0]) - 1) < 1e-12
    assert abs(rq - 1.0) < 1e-12


def _contraction(r, seeds=(0, 1, 2)):
    n, k = 400, 5
    lam = np.arange(1, n + 1) ** -1.2
    A, _ = _psd(n, lam, seed=3)
    rates = []
    for seed in seeds:
        _, _, info = lazy_epsi(
            _Dense(A, True),
            k,
            sketch_size=r,
            tol=1e-13,
            max_iter=6,
            rng=seed,
            adaptive=False,
            warn=False,
        )
        h = info["residual_history"]
        rates.append((h[-1] / h[0]) ** (1 / (len(h) - 1)))
    return float(np.exp(np.mean(np.log(rates))))


def test_contraction_improves_with_sketch_size():
    rates = [_contraction(r) for r in (20, 40, 80, 160)]
    assert all(a > b for a, b in zip(rates, rates[1:])), rates
    # At least linear improvement (paper): doubling r roughly halves the
    # rate or better, measured over a factor 8 in r.
    assert rates[-1] < rates[0] / 4, rates


def test_guard_prevents_divergence_on_slow_decay():
    n, k = 300, 8
    lam = np.arange(1, n + 1) ** -0.3
    A, Q = _psd(n, lam, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theta, X, info = lazy_epsi(
            _Dense(A, True),
            k,
            sketch_size=k + 2,
            tol=1e-10,
            max_iter=100,
            rng=0,
            adaptive=False,
            guard=True,
        )
    h = info["residual_history"]
    # A tiny sketch of a nearly flat spectrum: slow, but never worse than the
    # start, steadily decreasing and at the right eigenvalues.
    assert h.max() <= h[0] * (1 + 1e-12)
    assert np.all(h[1:] <= h[:-1] * (1 + 1e-12))
    assert h[-1] < 1e-3 * h[0]
    np.testing.assert_allclose(theta, lam[:k], rtol=1e-6)


def test_adaptive_sketch_grows_when_contraction_is_slow():
    n, k = 300, 8
    lam = np.arange(1, n + 1) ** -0.5
    A, _ = _psd(n, lam, seed=5)
    _, _, info = lazy_epsi(
        _Dense(A, True), k, sketch_size=k + 2, tol=1e-10, max_iter=200, rng=0
    )
    assert info["converged"]
    assert info["sketch_size"] > k + 2


def test_warm_start_at_the_solution_needs_no_iteration():
    n, k = 150, 4
    lam = np.exp(-np.arange(n) / 5)
    A, Q = _psd(n, lam, seed=6)
    X0 = Q[:, :k]
    theta, X, info = lazy_epsi(
        _Dense(A, True), k, sketch=_sketch(A, 3, 0), X0=X0, GX0=A @ X0, tol=1e-10
    )
    assert info["n_iter"] == 0
    np.testing.assert_allclose(theta, lam[:k], rtol=1e-12)


def test_lazy_epsi_warns_when_not_converged():
    n, k = 200, 5
    A, _ = _psd(n, np.arange(1, n + 1) ** -0.5)
    with pytest.warns(ConvergenceWarning, match="EPSI did not reach"):
        lazy_epsi(_Dense(A, True), k, tol=1e-14, max_iter=2, rng=0)


@pytest.mark.parametrize("shape", [(300, 80), (80, 80)])
def test_block_krylov_svd_matches_lapack(shape):
    m, n = shape
    rng = np.random.default_rng(7)
    U0 = np.linalg.qr(rng.standard_normal((m, n)))[0]
    V0 = np.linalg.qr(rng.standard_normal((n, n)))[0]
    s0 = 1.0 / np.arange(1, n + 1)
    A = (U0 * s0) @ V0.T
    k = 6
    U, s, Vt, info = block_krylov_svd(_Dense(A), k, tol=1e-13, rng=0, max_basis=40)
    assert info["converged"]
    np.testing.assert_allclose(s, s0[:k], rtol=1e-12)
    assert _sin(Vt.T, V0, k) < 1e-11
    assert _sin(U, U0, k) < 1e-11
    res = np.linalg.norm(A.T @ U - Vt.T * s, axis=0)
    np.testing.assert_allclose(info["residuals"], res, atol=1e-13)


def test_block_krylov_handles_exact_low_rank():
    rng = np.random.default_rng(8)
    A = rng.standard_normal((100, 3)) @ rng.standard_normal((3, 50))
    U, s, Vt, info = block_krylov_svd(_Dense(A), 3, tol=1e-12, rng=0)
    np.testing.assert_allclose(s, np.linalg.svd(A, compute_uv=False)[:3], rtol=1e-12)
    assert info["converged"]


def test_block_lanczos_eigsh_matches_lapack():
    n, k = 150, 5
    lam = np.exp(-np.arange(n) / 8)
    A, Q = _psd(n, lam, seed=9)
    w, V, info = block_lanczos_eigsh(_Dense(A, True), k, tol=1e-13, rng=0, max_basis=45)
    assert info["converged"]
    np.testing.assert_allclose(w, lam[:k], rtol=1e-12)
    assert _sin(V, Q, k) < 1e-11
