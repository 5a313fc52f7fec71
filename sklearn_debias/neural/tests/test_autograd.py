"""Tests of supports_autograd and autograd_derivatives."""

import warnings

import numpy as np
import pytest
from sklearn.compose import TransformedTargetRegressor
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MaxAbsScaler,
    MinMaxScaler,
    PolynomialFeatures,
    StandardScaler,
)

from sklearn_debias.neural import (
    MLPSurrogate,
    autograd_derivatives,
    supports_autograd,
    to_float32,
)

torch = pytest.importorskip("torch")
skorch = pytest.importorskip("skorch")

FAST = dict(hidden_layer_sizes=(16, 16), max_epochs=10, lr=1e-2, random_state=0)


class SumSin(torch.nn.Module):
    def forward(self, x):
        return torch.sin(x).sum(dim=1, keepdim=True)


class Quadratic(torch.nn.Module):
    """f(x) = x^T A x / 2 + b^T x with float32 parameters."""

    def __init__(self, A, b):
        super().__init__()
        self.A = torch.nn.Parameter(torch.as_tensor(A, dtype=torch.float32))
        self.b = torch.nn.Parameter(torch.as_tensor(b, dtype=torch.float32))

    def forward(self, x):
        return 0.5 * ((x @ self.A) * x).sum(dim=1) + x @ self.b


class Net(torch.nn.Module):
    def __init__(self, n_features=3):
        super().__init__()
        self.layers = torch.nn.Sequential(
            torch.nn.Linear(n_features, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1)
        )

    def forward(self, x):
        return self.layers(x)


def central_differences(f, X, cols, h1=1e-5, h2=1e-4):
    """Gradient (all columns) and Laplacian (cols) by central differences."""
    n, p = X.shape
    h1, h2 = np.broadcast_to(h1, (p,)), np.broadcast_to(h2, (p,))
    f0 = f(X)
    gradient, laplacian = np.empty((n, p)), np.zeros(n)
    for j in range(p):
        E = np.zeros(p)
        E[j] = h1[j]
        gradient[:, j] = (f(X + E) - f(X - E)) / (2 * h1[j])
    for j in cols:
        E = np.zeros(p)
        E[j] = h2[j]
        laplacian += (f(X + E) - 2 * f0 + f(X - E)) / h2[j] ** 2
    return f0, gradient, laplacian


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(300, 3))
    y = np.exp(-np.sum(X**2, axis=1)) + X[:, 0]
    return X, y


def test_sum_sin_closed_form():
    X = np.random.default_rng(1).normal(size=(37, 6))
    value, gradient, laplacian = autograd_derivatives(SumSin(), X, slice(1, None))
    assert value.dtype == gradient.dtype == laplacian.dtype == np.float64
    assert value.shape == (37,) and gradient.shape == (37, 6)
    np.testing.assert_allclose(value, np.sin(X).sum(axis=1), atol=1e-14)
    np.testing.assert_allclose(gradient, np.cos(X), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(laplacian, -np.sin(X[:, 1:]).sum(axis=1), atol=1e-13)


def test_quadratic_form_closed_form():
    rng = np.random.default_rng(2)
    p = 5
    M = rng.normal(size=(p, p))
    module = Quadratic(M + M.T, rng.normal(size=p))
    A = module.A.detach().double().numpy()  # the float32-rounded parameters
    b = module.b.detach().double().numpy()
    X = rng.normal(size=(20, p))
    cols = np.array([0, 2, 3])
    value, gradient, laplacian = autograd_derivatives(module, X, cols, batch_size=7)
    np.testing.assert_allclose(value, 0.5 * np.einsum("ni,ij,nj->n", X, A, X) + X @ b)
    np.testing.assert_allclose(gradient, X @ A + b, rtol=1e-12)
    np.testing.assert_allclose(laplacian, np.trace(A[np.ix_(cols, cols)]), rtol=1e-12)


def test_mlp_surrogate_matches_finite_differences(data):
    X, y = data
    reg = MLPSurrogate(**FAST).fit(X, y)
    assert supports_autograd(reg)
    X_query = X[:25]
    value, gradient, laplacian = autograd_derivatives(reg, X_query, slice(1, None))
    f0, fd_gradient, fd_laplacian = central_differences(reg.predict, X_query, [1, 2])
    np.testing.assert_allclose(value, f0, rtol=1e-12)
    np.testing.assert_allclose(gradient, fd_gradient, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(laplacian, fd_laplacian, rtol=1e-4, atol=1e-5)


def test_pipeline_with_scaler_and_skorch_net(data):
    X, y = data
    X = X * [1.0, 10.0, 100.0] + [0.0, 5.0, -3.0]
    net = skorch.NeuralNetRegressor(
        Net, module__n_features=3, max_epochs=5, train_split=None, verbose=0
    )
    pipe = make_pipeline(StandardScaler(), FunctionTransformer(to_float32), net)
    pipe.fit(X, y.astype(np.float32).reshape(-1, 1))
    assert supports_autograd(pipe)
    value, gradient, laplacian = autograd_derivatives(pipe, X[:20])
    # predict runs the float32 net: agreement to float32 precision of O(1)
    # outputs, also where a value is near 0.
    np.testing.assert_allclose(
        value, pipe.predict(X[:20]).ravel(), rtol=1e-5, atol=1e-6
    )

    def f(Z):
        return autograd_derivatives(pipe, Z, []).value

    scale = np.array([1.0, 10.0, 100.0])
    _, fd_gradient, fd_laplacian = central_differences(
        f, X[:20], [0, 1, 2], 1e-5 * scale, 1e-3 * scale
    )
    np.testing.assert_allclose(gradient, fd_gradient, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(laplacian, fd_laplacian, rtol=1e-4, atol=1e-8)


@pytest.mark.parametrize(
    "steps",
    [
        [MinMaxScaler()],
        [MaxAbsScaler(), "passthrough"],
        [FunctionTransformer(lambda Z: np.asarray(Z, dtype=np.float32))],
        [make_pipeline(StandardScaler(), FunctionTransformer())],
    ],
)
def test_other_affine_steps(data, steps):
    X, y = data
    pipe = make_pipeline(*steps, MLPSurrogate(**FAST)).fit(X, y)
    assert supports_autograd(pipe)
    value, gradient, laplacian = autograd_derivatives(pipe, X[:10], [0, 1])
    # (a float32 cast makes predict a step function: differentiate the float64 value)
    np.testing.assert_allclose(value, pipe.predict(X[:10]), rtol=1e-5, atol=1e-6)

    def f(Z):
        return autograd_derivatives(pipe, Z, []).value

    _, fd_gradient, fd_laplacian = central_differences(f, X[:10], [0, 1])
    np.testing.assert_allclose(gradient, fd_gradient, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(laplacian, fd_laplacian, rtol=1e-4, atol=1e-5)


def test_transformed_target_regressor(data):
    X, y = data
    ttr = TransformedTargetRegressor(MLPSurrogate(**FAST), transformer=StandardScaler())
    ttr.fit(X, 30.0 * y + 7.0)
    assert supports_autograd(ttr)
    value, gradient, laplacian = autograd_derivatives(ttr, X[:10])
    f0, fd_gradient, fd_laplacian = central_differences(ttr.predict, X[:10], [0, 1, 2])
    np.testing.assert_allclose(value, f0, rtol=1e-10)
    np.testing.assert_allclose(gradient, fd_gradient, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(laplacian, fd_laplacian, rtol=1e-4, atol=1e-4)


def test_unsupported_estimators(data):
    X, y = data
    assert not supports_autograd(Ridge().fit(X, y))
    assert not supports_autograd(MLPSurrogate())
    assert not supports_autograd(make_pipeline(StandardScaler(), MLPSurrogate()))
    poly = make_pipeline(PolynomialFeatures(2), MLPSurrogate(**FAST)).fit(X, y)
    assert not supports_autograd(poly)
    log = make_pipeline(FunctionTransformer(np.log1p), MLPSurrogate(**FAST))
    assert not supports_autograd(log.fit(X + 2, y))
    clipped = make_pipeline(MinMaxScaler(clip=True), MLPSurrogate(**FAST)).fit(X, y)
    assert not supports_autograd(clipped)
    unfitted = skorch.NeuralNetRegressor(Net, module__n_features=3)
    assert not supports_autograd(unfitted)
    with pytest.raises(ValueError, match="does not support Ridge"):
        autograd_derivatives(Ridge().fit(X, y), X)


def test_laplacian_columns_variants():
    X = np.random.default_rng(3).normal(size=(5, 4))
    module = SumSin()
    expected = -np.sin(X)
    cases = {
        None: expected.sum(axis=1),
        2: expected[:, 2],
        -1: expected[:, 3],
        (0, 3): expected[:, [0, 3]].sum(axis=1),
        (False, True, True, False): expected[:, 1:3].sum(axis=1),
        (): np.zeros(5),
    }
    for cols, lap in cases.items():
        cols = list(cols) if isinstance(cols, tuple) else cols
        if isinstance(cols, list) and cols and isinstance(cols[0], bool):
            cols = np.array(cols)
        np.testing.assert_allclose(
            autograd_derivatives(module, X, cols).laplacian, lap, atol=1e-13
        )
    for bad in ([0, 0], [7], "x", 1.5):
        with pytest.raises(ValueError, match="laplacian_columns"):
            autograd_derivatives(module, X, bad)


def test_linear_and_constant_modules():
    X = np.random.default_rng(4).normal(size=(6, 3))
    linear = torch.nn.Linear(3, 1)
    value, gradient, laplacian = autograd_derivatives(linear, X)
    weight = linear.weight.detach().double().numpy().ravel()
    np.testing.assert_allclose(gradient, np.tile(weight, (6, 1)))
    np.testing.assert_array_equal(laplacian, 0.0)

    class Constant(torch.nn.Module):
        def forward(self, x):
            return torch.ones(x.shape[0], dtype=x.dtype)

    value, gradient, laplacian = autograd_derivatives(Constant(), X)
    np.testing.assert_array_equal(value, 1.0)
    np.testing.assert_array_equal(gradient, 0.0)
    np.testing.assert_array_equal(laplacian, 0.0)


def test_bad_inputs_raise():
    X = np.ones((4, 3))

    class TwoOutputs(torch.nn.Module):
        def forward(self, x):
            return torch.cat([x[:, :1], x[:, 1:2]], dim=1)

    class Log(torch.nn.Module):
        def forward(self, x):
            return torch.log(x[:, 0])

    with pytest.raises(ValueError, match="one output per input row"):
        autograd_derivatives(TwoOutputs(), X)
    with pytest.raises(ValueError, match="not finite at 2 of 4 points"):
        autograd_derivatives(Log(), X * [[1], [-1], [1], [-1]])
    with pytest.raises(ValueError, match="NaN"):
        autograd_derivatives(SumSin(), X * np.nan)
    with pytest.raises(ValueError, match="batch_size"):
        autograd_derivatives(SumSin(), X, batch_size=0)


def test_feature_count_is_checked(data):
    X, y = data
    reg = MLPSurrogate(**FAST).fit(X, y)
    with pytest.raises(ValueError, match="expects 3"):
        autograd_derivatives(reg, X[:, :2])


def test_predict_mismatch_is_detected(data):
    X, y = data

    class Shifted(MLPSurrogate):
        def predict(self, X):
            return super().predict(X) + 1.0

    reg = Shifted(**FAST).fit(X, y)
    with pytest.raises(ValueError, match="does not reproduce"):
        autograd_derivatives(reg, X[:5])
    assert autograd_derivatives(reg, X[:5], check_predict=False).value.shape == (5,)


class Float32Constant(torch.nn.Module):
    def forward(self, x):  # fails on float64 inputs
        return torch.sin(x @ torch.tensor([[1.0], [2.0]]))


class CastsToFloat32(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("w", torch.tensor([[1.0], [2.0]]))

    def forward(self, x):  # silently computes in float32
        return torch.sin(x.float() @ self.w.float())


@pytest.mark.parametrize("module", [Float32Constant(), CastsToFloat32()])
def test_float32_fallback_warns(module):
    X = np.array([[0.1, 0.2], [0.3, -0.4]])
    with pytest.warns(UserWarning, match="float32"):
        value, gradient, laplacian = autograd_derivatives(module, X)
    s = X @ [1.0, 2.0]
    np.testing.assert_allclose(value, np.sin(s), rtol=1e-6)
    np.testing.assert_allclose(gradient, np.cos(s)[:, None] * [1.0, 2.0], rtol=1e-6)
    np.testing.assert_allclose(laplacian, -np.sin(s) * 5.0, rtol=1e-5)


def test_eval_mode_and_module_untouched():
    module = torch.nn.Sequential(
        torch.nn.Linear(3, 8),
        torch.nn.Tanh(),
        torch.nn.Dropout(0.5),
        torch.nn.Linear(8, 1),
    )
    module.train()
    before = [p.detach().clone() for p in module.parameters()]
    X = np.random.default_rng(5).normal(size=(8, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        first = autograd_derivatives(module, X)
        second = autograd_derivatives(module, X)
    np.testing.assert_array_equal(first.gradient, second.gradient)  # no dropout
    assert module.training
    assert all(p.dtype == torch.float32 for p in module.parameters())
    assert all(
        torch.equal(a, b) for a, b in zip(before, module.parameters(), strict=True)
    )
    assert all(p.grad is None for p in module.parameters())


def test_works_under_no_grad():
    X = np.random.default_rng(6).normal(size=(4, 2))
    with torch.no_grad():
        _, gradient, _ = autograd_derivatives(SumSin(), X)
    np.testing.assert_allclose(gradient, np.cos(X), rtol=1e-14)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_module(data):
    X, y = data
    reg = MLPSurrogate(**{**FAST, "random_state": 0}, device="cuda").fit(X, y)
    assert next(reg.net_.module_.parameters()).is_cuda
    value, gradient, laplacian = autograd_derivatives(reg, X[:10], [1, 2])
    f0, fd_gradient, fd_laplacian = central_differences(reg.predict, X[:10], [1, 2])
    np.testing.assert_allclose(value, f0, rtol=1e-10)
    np.testing.assert_allclose(gradient, fd_gradient, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(laplacian, fd_laplacian, rtol=1e-4, atol=1e-5)
    module = SumSin().cuda()
    _, gradient, _ = autograd_derivatives(module, X[:5])
    np.testing.assert_allclose(gradient, np.cos(X[:5]), rtol=1e-12)


@pytest.mark.parametrize(
    "activation", ["tanh", "relu", "gelu", "silu", "softplus", "sigmoid"]
)
def test_forward_laplacian_matches_backward(data, activation):
    X, y = data
    reg = MLPSurrogate(**{**FAST, "activation": activation}).fit(X, y)
    cols = [0, 2]
    forward = autograd_derivatives(reg, X[:40], cols, method="forward", batch_size=16)
    backward = autograd_derivatives(reg, X[:40], cols, method="backward")
    for a, b in zip(forward, backward, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12)


def test_forward_laplacian_on_sequential_and_pipeline(data):
    X, y = data
    with torch.random.fork_rng(devices=[]):
        torch.random.default_generator.manual_seed(0)
        module = torch.nn.Sequential(
            torch.nn.Linear(3, 8),
            torch.nn.Softplus(beta=2.0, threshold=1.0),  # exercises the linear branch
            torch.nn.Dropout(0.1),
            torch.nn.Linear(8, 8, bias=False),
            torch.nn.GELU(),
            torch.nn.Identity(),
            torch.nn.Linear(8, 1),
        )
    Z = X * 3.0
    forward = autograd_derivatives(module, Z, [1, 2], method="forward")
    backward = autograd_derivatives(module, Z, [1, 2], method="backward")
    for a, b in zip(forward, backward, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12)
    ttr = TransformedTargetRegressor(
        make_pipeline(StandardScaler(), MLPSurrogate(**FAST)),
        transformer=StandardScaler(),
    ).fit(X, 5 * y - 1)
    forward = autograd_derivatives(ttr, X[:30], method="forward")
    backward = autograd_derivatives(ttr, X[:30], method="backward")
    for a, b in zip(forward, backward, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-12)


def test_forward_method_rejects_other_modules():
    with pytest.raises(ValueError, match="method='forward'"):
        autograd_derivatives(SumSin(), np.zeros((2, 2)), method="forward")
    approx = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.GELU("tanh"))
    with pytest.raises(ValueError, match="method='forward'"):
        autograd_derivatives(approx, np.zeros((2, 2)), method="forward")
    with pytest.raises(ValueError, match="method must be"):
        autograd_derivatives(SumSin(), np.zeros((2, 2)), method="exact")


def test_search_cv_and_dataframe_inputs(data):
    pd = pytest.importorskip("pandas")
    X, y = data
    frame = pd.DataFrame(X, columns=["t", "x1", "x2"])
    search = GridSearchCV(
        make_pipeline(StandardScaler(), MLPSurrogate(**FAST)),
        {"mlpsurrogate__hidden_layer_sizes": [(4,), (8,)]},
        cv=2,
    ).fit(frame, y)
    assert supports_autograd(search)
    assert supports_autograd(FrozenEstimator(search))
    assert not supports_autograd(FrozenEstimator(Ridge()))
    assert not supports_autograd(GridSearchCV(MLPSurrogate(), {"lr": [0.1]}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "feature names" warning
        value, gradient, _ = autograd_derivatives(
            FrozenEstimator(search), frame.iloc[:5], [1, 2]
        )
    np.testing.assert_allclose(value, search.predict(frame.iloc[:5]), rtol=1e-10)
    assert gradient.shape == (5, 3)


def test_wrappers_are_followed_through_the_shared_walker(data, monkeypatch):
    import copy

    from sklearn.ensemble import BaggingRegressor

    X, y = data
    net = MLPSurrogate(**FAST).fit(X, y)
    reference = autograd_derivatives(net, X[:5], [1, 2])
    # The float64 copy made at fit is reused: no copy per call.
    monkeypatch.setattr(copy, "deepcopy", lambda *a, **k: pytest.fail("copied"))
    for wrapped in [
        FrozenEstimator(net),
        FrozenEstimator(FrozenEstimator(make_pipeline(FunctionTransformer(), net))),
    ]:
        assert supports_autograd(wrapped)
        result = autograd_derivatives(wrapped, X[:5], [1, 2])
        np.testing.assert_allclose(result.gradient, reference.gradient, rtol=1e-12)
    monkeypatch.undo()
    # An ensemble averages fitted copies: its base estimator is not what predicts.
    bagging = BaggingRegressor(MLPSurrogate(**FAST), n_estimators=2, random_state=0)
    assert not supports_autograd(bagging.fit(X, y))
