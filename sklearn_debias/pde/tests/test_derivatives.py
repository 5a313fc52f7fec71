import warnings

import numpy as np
import pytest
from sklearn.ensemble import RandomForestRegressor
from sklearn.frozen import FrozenEstimator
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import Ridge
from sklearn.neighbors import KNeighborsRegressor
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeRegressor

from sklearn_debias import SurrogateError
from sklearn_debias.pde._derivatives import (
    finite_difference_derivatives,
    resolve_derivative_method,
    surrogate_derivatives,
)
from sklearn_debias.pde._testing import FunctionRegressor


def _f(X):
    return np.sin(X[:, 0]) * np.exp(X[:, 1]) + X[:, 2] ** 3 + 50.0 * X[:, 0] * X[:, 2]


def _grad(X):
    return np.column_stack(
        [
            np.cos(X[:, 0]) * np.exp(X[:, 1]) + 50.0 * X[:, 2],
            np.sin(X[:, 0]) * np.exp(X[:, 1]),
            3 * X[:, 2] ** 2 + 50.0 * X[:, 0],
        ]
    )


def _second(X):
    return np.column_stack(
        [
            -np.sin(X[:, 0]) * np.exp(X[:, 1]),
            np.sin(X[:, 0]) * np.exp(X[:, 1]),
            6 * X[:, 2],
        ]
    )


@pytest.mark.parametrize("scale", [1e-2, 1.0, 30.0])
def test_finite_differences_match_analytic(scale):
    X = np.random.default_rng(0).uniform(-1, 1, (50, 3)) * scale
    X[:, 1] = np.clip(X[:, 1], -3, 3)
    value, grad, lap = finite_difference_derivatives(_f, X, [1, 2])
    np.testing.assert_allclose(value, _f(X))
    np.testing.assert_allclose(
        grad, _grad(X), rtol=1e-6, atol=1e-6 * np.abs(_f(X)).max()
    )
    expected = _second(X)[:, 1:].sum(axis=1)
    atol = 1e-4 * (1 + np.abs(_f(X)).max() / np.maximum(1, np.abs(X).max()) ** 2)
    np.testing.assert_allclose(lap, expected, rtol=1e-4, atol=atol)


def test_finite_differences_float32_output_uses_a_larger_step():
    X = np.random.default_rng(1).uniform(-1, 1, (20, 3))
    _, grad, lap = finite_difference_derivatives(
        lambda Z: _f(Z).astype(np.float32), X, [0, 1, 2]
    )
    # with a float64 step (1e-4) the float32 rounding would give errors ~10.
    np.testing.assert_allclose(lap, _second(X).sum(axis=1), atol=0.5)
    np.testing.assert_allclose(grad, _grad(X), atol=0.05)


def test_surrogate_derivatives_through_a_regressor():
    X = np.random.default_rng(2).uniform(-1, 1, (30, 3))
    reg = FunctionRegressor(_f).fit(X)
    value, grad, lap = surrogate_derivatives(reg, X, [0, 1, 2], "finite_difference")
    np.testing.assert_allclose(grad, _grad(X), rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(lap, _second(X).sum(axis=1), atol=1e-3)


def test_non_finite_surrogate_raises():
    X = np.zeros((4, 2))
    reg = FunctionRegressor(lambda Z: np.full(len(Z), np.nan)).fit(X)
    with pytest.raises(SurrogateError, match="non-finite"):
        surrogate_derivatives(reg, X, [0, 1], "finite_difference")


@pytest.mark.parametrize(
    "estimator",
    [
        DecisionTreeRegressor(),
        RandomForestRegressor(n_estimators=3),
        KNeighborsRegressor(n_neighbors=2),
        make_pipeline(StandardScaler(), KNeighborsRegressor(n_neighbors=2)),
        MLPRegressor(hidden_layer_sizes=(4,), max_iter=5),
    ],
)
def test_piecewise_surrogates_warn(estimator):
    X = np.random.default_rng(0).normal(size=(20, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator.fit(X, X[:, 0])
    with pytest.warns(UserWarning, match="piecewise"):
        assert resolve_derivative_method(estimator, "auto") == "finite_difference"
    with pytest.warns(UserWarning, match="piecewise"):
        resolve_derivative_method(FrozenEstimator(estimator), "auto")


def test_smooth_surrogates_do_not_warn():
    X = np.random.default_rng(0).normal(size=(20, 2))
    for est in [KernelRidge(kernel="rbf"), Ridge()]:
        est.fit(X, X[:, 0])
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert resolve_derivative_method(est, "auto") == "finite_difference"


def test_autograd_requested_for_unsupported_estimator():
    X = np.random.default_rng(0).normal(size=(20, 2))
    est = Ridge().fit(X, X[:, 0])
    with pytest.raises(ValueError, match="torch-backed"):
        resolve_derivative_method(est, "autograd")
    with pytest.raises(ValueError, match="derivatives must be one of"):
        resolve_derivative_method(est, "exact")


def test_autograd_dispatch_for_torch_surrogates():
    pytest.importorskip("torch")
    pytest.importorskip("skorch")
    from sklearn_debias.neural import MLPSurrogate

    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (200, 3))
    net = MLPSurrogate(
        hidden_layer_sizes=(16,), max_epochs=20, lr=1e-2, random_state=0
    ).fit(X, np.sin(X).sum(axis=1))
    assert resolve_derivative_method(net, "auto") == "autograd"
    assert resolve_derivative_method(FrozenEstimator(net), "auto") == "autograd"
    Xq = X[:10]
    value, grad, lap = surrogate_derivatives(net, Xq, [1, 2], "autograd")
    # Independent check: finite differences of the (float32) predictions with a
    # float32-sized step agree with the exact derivatives to float32 accuracy.
    _, grad_fd, lap_fd = finite_difference_derivatives(
        lambda Z: net.predict(Z).astype(np.float32), Xq, [1, 2]
    )
    np.testing.assert_allclose(value, net.predict(Xq), atol=1e-5)
    np.testing.assert_allclose(grad, grad_fd, atol=2e-2)
    np.testing.assert_allclose(lap, lap_fd, atol=0.5)


def test_float32_predictions_cast_to_float64_are_detected():
    X = np.random.default_rng(1).uniform(-1, 1, (20, 3))
    _, grad, lap = finite_difference_derivatives(
        lambda Z: _f(Z).astype(np.float32).astype(np.float64), X, [0, 1, 2]
    )
    np.testing.assert_allclose(lap, _second(X).sum(axis=1), atol=0.5)
    np.testing.assert_allclose(grad, _grad(X), atol=0.05)


def test_randomized_laplacian_is_unbiased():
    from sklearn_debias.pde._derivatives import randomized_laplacian

    X = np.repeat(np.random.default_rng(3).uniform(-1, 1, (4, 3)), 4000, axis=0)
    value, lap = randomized_laplacian(_f, X, np.random.default_rng(0))
    np.testing.assert_allclose(value, _f(X))
    lap = lap.reshape(4, 4000)
    exact = _second(X[::4000]).sum(axis=1)
    se = lap.std(axis=1, ddof=1) / np.sqrt(4000)
    assert np.all(np.abs(lap.mean(axis=1) - exact) < 4 * se + 1e-6)
    assert np.all(se > 0)  # the probe is genuinely random here (mixed partials)
