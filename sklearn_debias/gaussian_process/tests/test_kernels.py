"""TensorProductMatern: closed forms, gradients and the sklearn kernel API."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.base import clone
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, Matern, WhiteKernel

from sklearn_debias.gaussian_process import TensorProductMatern

NUS = (0.5, 1.5, 2.5)


@pytest.fixture
def X():
    return np.random.default_rng(0).uniform(size=(9, 3))


@pytest.mark.parametrize("nu", NUS)
def test_one_feature_equals_sklearn_matern(nu):
    # In one dimension the product has a single factor: sklearn's Matérn.
    x = np.random.default_rng(1).uniform(size=(12, 1))
    ours = TensorProductMatern(0.37, nu=nu)(x)
    theirs = Matern(0.37, nu=nu)(x)
    assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("nu", NUS)
def test_product_of_one_dimensional_factors(X, nu):
    ls = np.array([0.3, 0.8, 2.0])
    K = TensorProductMatern(ls, nu=nu)(X)
    expected = np.ones_like(K)
    for i in range(X.shape[1]):
        expected *= Matern(ls[i], nu=nu)(X[:, [i]])
    assert_allclose(K, expected, rtol=1e-12)
    # Cross-covariance agrees with the symmetric call.
    assert_allclose(TensorProductMatern(ls, nu=nu)(X, X), K)


def test_laplace_closed_form(X):
    ls = np.array([0.5, 1.0, 4.0])
    K = TensorProductMatern(ls, nu=0.5)(X)
    L1 = np.abs(X[:, None, :] - X[None, :, :]) / ls
    assert_allclose(K, np.exp(-L1.sum(axis=-1)), rtol=1e-13)


@pytest.mark.parametrize("nu", NUS)
@pytest.mark.parametrize("length_scale", [[0.3, 0.7, 2.0], 0.6])
def test_gradient_matches_finite_differences(X, nu, length_scale):
    kernel = TensorProductMatern(length_scale, nu=nu)
    K, dK = kernel(X, eval_gradient=True)
    assert dK.shape == (X.shape[0], X.shape[0], len(kernel.theta))
    eps = 1e-6
    for j in range(len(kernel.theta)):
        up, down = kernel.theta.copy(), kernel.theta.copy()
        up[j] += eps
        down[j] -= eps
        numeric = kernel.clone_with_theta(up)(X) - kernel.clone_with_theta(down)(X)
        assert_allclose(dK[..., j], numeric / (2 * eps), atol=1e-8)


def test_fixed_length_scale_has_no_gradient(X):
    K, dK = TensorProductMatern([1.0, 2.0, 3.0], "fixed")(X, eval_gradient=True)
    assert dK.shape == (X.shape[0], X.shape[0], 0)


@pytest.mark.parametrize("nu", NUS)
def test_positive_definite_unit_diagonal(X, nu):
    kernel = TensorProductMatern([0.3, 0.7, 2.0], nu=nu)
    K = kernel(X)
    assert_allclose(np.diag(K), 1.0)
    assert_allclose(kernel.diag(X), 1.0)
    assert np.linalg.eigvalsh(K).min() > 0
    assert kernel.is_stationary()


def test_kernel_api():
    kernel = ConstantKernel(2.0) * TensorProductMatern([1.0, 2.0], (1e-2, 1e2))
    assert kernel.n_dims == 3
    assert_allclose(np.exp(kernel.bounds[1:]), [[1e-2, 1e2]] * 2)
    cloned = clone(kernel)
    assert cloned.get_params()["k2__length_scale"] == [1.0, 2.0]
    assert "TensorProductMatern(length_scale=[1, 2], nu=0.5)" in repr(kernel)
    assert repr(TensorProductMatern(1.5, nu=1.5)) == (
        "TensorProductMatern(length_scale=1.5, nu=1.5)"
    )


def test_gp_recovers_axis_aligned_kink():
    # exp(-sum a_i |x_i - u_i|) is a kernel section of the nu = 1/2 product
    # kernel with length scales 1/a: the fitted GP is far more accurate on it
    # than with sklearn's Euclidean-distance kernels.
    rng = np.random.default_rng(0)
    a, u = np.array([3.0, 1.5]), np.array([0.4, 0.7])

    def f(Z):
        return np.exp(-np.abs(Z - u) @ a)

    X, Xt = rng.uniform(size=(80, 2)), rng.uniform(size=(2000, 2))
    errors = {}
    for name, base in {
        "product": TensorProductMatern([1.0, 1.0], (1e-2, 1e2)),
        "euclidean": Matern([1.0, 1.0], (1e-2, 1e2), nu=0.5),
        "rbf": RBF([1.0, 1.0], (1e-2, 1e2)),
    }.items():
        gp = GaussianProcessRegressor(
            ConstantKernel() * base + WhiteKernel(1e-6, (1e-12, 1e-2)),
            normalize_y=True,
            random_state=0,
        ).fit(X, f(X))
        errors[name] = np.sqrt(np.mean((gp.predict(Xt) - f(Xt)) ** 2))
    assert errors["product"] < 0.8 * min(errors["euclidean"], errors["rbf"])


def test_bad_parameters(X):
    with pytest.raises(ValueError, match="nu must be one of"):
        TensorProductMatern(nu=1.0)(X)
    with pytest.raises(ValueError, match="3 features"):
        TensorProductMatern([1.0, 2.0])(X)
    with pytest.raises(ValueError, match="Y is None"):
        TensorProductMatern()(X, X, eval_gradient=True)


# --- the contracted gradient of the marginal likelihood ---------------------------


def _default_like_kernel(d, nu=1.5, tpm_length_scale=None):
    ls = np.linspace(0.4, 1.7, d)
    return (
        ConstantKernel(1.3) * RBF(ls)
        + ConstantKernel(0.2)
        * TensorProductMatern(
            ls[::-1] if tpm_length_scale is None else tpm_length_scale, nu=nu
        )
        + WhiteKernel(1e-3)
    )


@pytest.mark.parametrize("nu", NUS)
@pytest.mark.parametrize("tpm_length_scale", [None, 0.8])
@pytest.mark.parametrize("blocked", [False, True])
def test_contracted_gradient_equals_full_gradient(
    monkeypatch, nu, tpm_length_scale, blocked
):
    # vjp(W) = sum_ab W_ab dK_ab / dtheta, against the (n, n, n_dims) gradient
    # of sklearn's kernel algebra; "blocked" forces the bounded-memory path.
    from sklearn_debias.gaussian_process import _kernels

    if blocked:
        monkeypatch.setattr(_kernels, "_BLOCK_ELEMENTS", 50)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(25, 4))
    kernel = (
        _default_like_kernel(4, nu, tpm_length_scale)
        + ConstantKernel(0.5) * Matern(1.0, nu=2.5)  # no fast path: the fallback
        + RBF(0.7) * ConstantKernel(0.3)  # a constant on the right
        + RBF(1.3) * TensorProductMatern(0.9, nu=nu)  # a product of two kernels
    )
    K, dK = kernel(X, eval_gradient=True)
    K_fast, vjp = _kernels._kernel_value_and_vjp(kernel, X)
    W = rng.normal(size=(25, 25))
    W += W.T
    assert_allclose(K_fast, K, rtol=1e-13, atol=1e-15)
    assert_allclose(vjp(W), np.einsum("ij,ijk->k", W, dK), rtol=1e-10, atol=1e-12)


def test_contracted_gradient_of_fixed_hyperparameters_is_empty(X):
    from sklearn_debias.gaussian_process._kernels import _kernel_value_and_vjp

    kernel = (
        ConstantKernel(2.0, "fixed") * RBF(1.0, "fixed")
        + TensorProductMatern([1.0, 2.0, 3.0], "fixed")
        + WhiteKernel(1e-3, "fixed")
    )
    K, vjp = _kernel_value_and_vjp(kernel, X)
    assert_allclose(K, kernel(X))
    assert vjp(np.eye(len(X))).shape == (0,)


@pytest.mark.parametrize("nu", NUS)
def test_cross_kernel_equals_kernel_call(nu):
    from sklearn_debias.gaussian_process._kernels import _kernel_cross

    rng = np.random.default_rng(4)
    X, Y = rng.normal(size=(7, 3)), rng.normal(size=(11, 3))
    kernel = _default_like_kernel(3, nu) + ConstantKernel(0.5) * Matern(1.0)
    assert_allclose(_kernel_cross(kernel, X, Y), kernel(X, Y), rtol=1e-13)


@pytest.mark.parametrize("nu", NUS)
def test_far_apart_points_underflow_to_zero_not_nan(nu):
    # exp(-sum t) underflows before prod p(t) could overflow.
    X = np.array([[0.0] * 40, [1e4] * 40])
    K = TensorProductMatern(1.0, nu=nu)(X)
    assert_allclose(K, np.eye(2))
