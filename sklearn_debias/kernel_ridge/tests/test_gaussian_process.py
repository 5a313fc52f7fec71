"""ScalableGaussianProcessRegressor against scikit-learn's exact Gaussian process."""

import pickle

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, Kernel, WhiteKernel

from sklearn_debias.kernel_ridge import _gaussian_process as gpmod
from sklearn_debias.kernel_ridge._gaussian_process import (
    ScalableGaussianProcessRegressor,
)


def _data(n=150, d=2, noise=0.1, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-3, 3, size=(n, d))
    y = np.sin(X[:, 0]) * np.cos(X[:, 1]) + noise * rng.standard_normal(n)
    return X, y


def _kernel(d=2):
    return ConstantKernel(1.0) * RBF(np.ones(d)) + WhiteKernel(0.1)


def test_likelihood_optimum_and_std_match_sklearn():
    # Done-when: the exact log marginal likelihood at our optimum is within
    # 1% of sklearn's exact optimum, and at our hyperparameters the
    # predictive standard deviations agree within 2%.
    X, y = _data()
    ref = GaussianProcessRegressor(_kernel(), normalize_y=True).fit(X, y)
    ours = ScalableGaussianProcessRegressor(
        _kernel(), normalize_y=True, solver="pcg", random_state=0
    ).fit(X, y)
    assert ours.solver_ == "pcg"
    best = ref.log_marginal_likelihood_value_
    at_ours = ref.log_marginal_likelihood(ours.kernel_.theta)
    assert abs(at_ours - best) <= 0.01 * abs(best)
    # The stochastic estimate itself is close to the exact value there.
    assert ours.log_marginal_likelihood_value_ == pytest.approx(at_ours, rel=0.01)
    exact = GaussianProcessRegressor(ours.kernel_, normalize_y=True, optimizer=None)
    exact.fit(X, y)
    Xq = np.random.default_rng(1).uniform(-4, 4, size=(60, 2))
    m0, s0 = exact.predict(Xq, return_std=True)
    m1, s1 = ours.predict(Xq, return_std=True)
    np.testing.assert_allclose(s1, s0, rtol=0.02)
    np.testing.assert_allclose(m1, m0, rtol=1e-5, atol=1e-6)


def test_fixed_kernel_solves_to_tolerance():
    X, y = _data(n=300, noise=0.05)
    kernel = 2.0 * RBF([1.3, 0.7]) + WhiteKernel(1e-3)
    exact = GaussianProcessRegressor(kernel, optimizer=None, alpha=1e-8).fit(X, y)
    ours = ScalableGaussianProcessRegressor(
        kernel, optimizer=None, alpha=1e-8, solver="pcg", tol=1e-10, random_state=0
    ).fit(X, y)
    np.testing.assert_allclose(ours.alpha_, exact.alpha_, rtol=1e-6, atol=1e-8)
    Xq = np.random.default_rng(2).uniform(-3, 3, size=(50, 2))
    m0, s0 = exact.predict(Xq, return_std=True)
    m1, s1 = ours.predict(Xq, return_std=True)
    np.testing.assert_allclose(m1, m0, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(s1, s0, rtol=1e-6)
    # A fixed kernel's likelihood waits for its first read, then is kept.
    assert ours._lml is None
    value = ours.log_marginal_likelihood_value_
    assert value == pytest.approx(exact.log_marginal_likelihood_value_, rel=1e-3)
    assert ours._lml == value and ours.log_marginal_likelihood() == value
    # The stochastic likelihood and its gradient against the exact ones.
    theta = kernel.theta + 0.3
    lml, grad = ours.log_marginal_likelihood(theta, eval_gradient=True)
    lml0, grad0 = exact.log_marginal_likelihood(theta, eval_gradient=True)
    assert lml == pytest.approx(lml0, rel=1e-3)
    np.testing.assert_allclose(grad, grad0, rtol=0.02, atol=0.01 * np.abs(grad0).max())


def test_blockwise_gradient_and_kernel_matrix(monkeypatch):
    X, _ = _data(n=70)
    kernel = _kernel()
    K, G = kernel(X, eval_gradient=True)
    shifted = K + 0.5 * np.eye(70)
    np.testing.assert_allclose(gpmod._kernel_matrix(kernel, X, 0.5), shifted)
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((70, 3)), rng.standard_normal((70, 3))
    dense = gpmod._gradient_contraction(kernel, X, A, B, 0.7, G)
    expected = np.einsum("ijh,ij->h", G, A @ B.T + 0.7 * np.eye(70))
    np.testing.assert_allclose(dense, expected, rtol=1e-12)
    monkeypatch.setattr(gpmod, "_GRADIENT_BYTES", 8 * 4 * kernel.n_dims * 20**2)
    monkeypatch.setattr(gpmod, "_BLOCK_BYTES", 8 * 70 * 16)
    blocks = gpmod._gradient_contraction(kernel, X, A, B, 0.7)
    np.testing.assert_allclose(blocks, expected, rtol=1e-10)
    np.testing.assert_allclose(gpmod._kernel_matrix(kernel, X, 0.5), shifted)


def test_auto_solver_is_exact_on_small_data():
    X, y = _data(n=80)
    ours = ScalableGaussianProcessRegressor(_kernel(), random_state=0).fit(X, y)
    ref = GaussianProcessRegressor(_kernel(), random_state=0).fit(X, y)
    assert ours.solver_ == "cholesky"
    assert ours.log_marginal_likelihood_value_ == pytest.approx(
        ref.log_marginal_likelihood_value_
    )
    np.testing.assert_allclose(ours.predict(X[:5]), ref.predict(X[:5]))


def test_pickle_and_refit_reproducible():
    X, y = _data(n=120)
    gp = ScalableGaussianProcessRegressor(_kernel(), solver="pcg", random_state=3).fit(
        X, y
    )
    again = pickle.loads(pickle.dumps(gp))
    np.testing.assert_array_equal(again.predict(X[:7]), gp.predict(X[:7]))
    np.testing.assert_allclose(
        again.predict(X[:7], return_std=True)[1], gp.predict(X[:7], return_std=True)[1]
    )
    refit = ScalableGaussianProcessRegressor(
        _kernel(), solver="pcg", random_state=3
    ).fit(X, y)
    np.testing.assert_array_equal(refit.kernel_.theta, gp.kernel_.theta)


def test_bad_inputs():
    X, y = _data(n=50)
    X_nan = X.copy()
    X_nan[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ScalableGaussianProcessRegressor(solver="pcg").fit(X_nan, y)
    for alpha in (0.0, -1.0):
        with pytest.raises(ValueError, match="alpha"):
            ScalableGaussianProcessRegressor(alpha=alpha, solver="pcg").fit(X, y)


def test_non_convergence_warns():
    X, y = _data(n=200, noise=0.0)
    gp = ScalableGaussianProcessRegressor(
        RBF(3.0), optimizer=None, alpha=1e-10, solver="pcg", rank=2, max_iter=2
    )
    with pytest.warns(ConvergenceWarning, match="conjugate gradients"):
        gp.fit(X, y)


class _Indefinite(Kernel):
    """``-RBF``: a symmetric kernel that is not positive definite."""

    def __init__(self):
        pass

    def __call__(self, X, Y=None, eval_gradient=False):
        K = -RBF(1.0)(X, Y)
        return (K, np.empty(K.shape + (0,))) if eval_gradient else K

    def diag(self, X):
        return -np.ones(X.shape[0])

    def is_stationary(self):
        return True


def test_non_positive_definite_kernel_is_an_error():
    X, y = _data(n=60)
    with pytest.raises(ValueError, match="positive"):
        ScalableGaussianProcessRegressor(
            _Indefinite(), alpha=1e-2, solver="pcg", random_state=0
        ).fit(X, y)


def test_kernel_recomputed_by_blocks_past_the_memory_budget(monkeypatch):
    X, y = _data(n=120)
    kernel = 1.5 * RBF([1.0, 0.8]) + WhiteKernel(1e-2)
    params = dict(optimizer=None, solver="pcg", tol=1e-10, random_state=0)
    stored = ScalableGaussianProcessRegressor(kernel, **params).fit(X, y)
    monkeypatch.setattr(gpmod, "_STORED_BYTES", 8 * 100**2)
    blocks = ScalableGaussianProcessRegressor(kernel, **params).fit(X, y)
    np.testing.assert_allclose(blocks.alpha_, stored.alpha_, rtol=1e-7, atol=1e-9)
    assert blocks.log_marginal_likelihood_value_ == pytest.approx(
        stored.log_marginal_likelihood_value_, rel=1e-6
    )
    np.testing.assert_allclose(
        blocks.predict(X[:5], return_std=True)[1],
        stored.predict(X[:5], return_std=True)[1],
        rtol=1e-6,
    )
    nested = 1.5 * (RBF(1.0) + WhiteKernel(1e-2))
    with pytest.raises(ValueError, match="top-level term"):
        ScalableGaussianProcessRegressor(nested, **params).fit(X, y)
