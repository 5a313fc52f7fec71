"""Tests of MLPSurrogate and make_mlp_regressor."""

import copy
import pickle
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skorch")

from sklearn.base import clone  # noqa: E402
from sklearn.metrics import r2_score  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402

from sklearn_debias.neural import (  # noqa: E402
    MLPSurrogate,
    make_mlp_regressor,
    supports_autograd,
)

FAST = dict(hidden_layer_sizes=(16,), max_epochs=20, lr=3e-2, batch_size=256)


def smooth_5d(X):
    return np.sin(X[:, 0]) + X[:, 1] * X[:, 2] + 0.5 * X[:, 3] ** 2 - X[:, 4]


@pytest.fixture(scope="module")
def data_5d():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(1200, 5))
    return X[:800], smooth_5d(X[:800]), X[800:], smooth_5d(X[800:])


def test_learns_smooth_function_in_5d(data_5d):
    X, y, X_test, y_test = data_5d
    reg = make_mlp_regressor(
        (32, 32), max_epochs=60, lr=1e-2, batch_size=64, random_state=0
    ).fit(X, y)
    pred = reg.predict(X_test)
    assert pred.dtype == np.float64 and pred.shape == (400,)
    assert r2_score(y_test, pred) > 0.95
    assert len(reg.loss_curve_) == reg.n_iter_ == 60
    assert reg.loss_curve_[-1] < 0.1 * reg.loss_curve_[0]


def test_reproducible_and_global_rng_untouched(data_5d):
    X, y, X_test, _ = data_5d
    torch_state = torch.get_rng_state()
    np_state = np.random.get_state()[1].copy()  # noqa: NPY002
    first = MLPSurrogate(**FAST, random_state=3).fit(X, y).predict(X_test)
    assert torch.equal(torch.get_rng_state(), torch_state)
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)  # noqa: NPY002
    second = MLPSurrogate(**FAST, random_state=3).fit(X, y).predict(X_test)
    np.testing.assert_array_equal(first, second)
    other = MLPSurrogate(**FAST, random_state=4).fit(X, y).predict(X_test)
    assert np.abs(other - first).max() > 1e-6
    # A later torch draw is what it would have been without our fits.
    torch.set_rng_state(torch_state)
    expected = torch.rand(3)
    torch.set_rng_state(torch_state)
    MLPSurrogate(**FAST, random_state=3).fit(X, y)
    assert torch.equal(torch.rand(3), expected)


def test_clone_pickle_and_model_selection(data_5d):
    X, y, X_test, _ = data_5d
    reg = MLPSurrogate(**FAST, random_state=0)
    fitted = clone(reg).fit(X, y)
    assert not hasattr(reg, "net_")
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_allclose(restored.predict(X_test), fitted.predict(X_test))
    scores = cross_val_score(reg, X[:300], y[:300], cv=3)
    assert scores.shape == (3,) and np.all(scores > 0.5)
    search = GridSearchCV(reg, {"hidden_layer_sizes": [(4,), (16,)]}, cv=2)
    search.fit(X[:300], y[:300])
    assert search.best_params_["hidden_layer_sizes"] in [(4,), (16,)]
    assert supports_autograd(search.best_estimator_)


def test_predict_is_float64_and_batch_invariant(data_5d):
    X, y, X_test, _ = data_5d
    reg = MLPSurrogate(**FAST, random_state=0).fit(X, y)
    full = reg.predict(X_test)
    np.testing.assert_allclose(full[:7], reg.predict(X_test[:7]), rtol=1e-13)
    # The float64 evaluation agrees with skorch's float32 predict.
    skorch_pred = reg.net_.predict(X_test.astype(np.float32)).ravel()
    np.testing.assert_allclose(full, skorch_pred, rtol=1e-4, atol=1e-5)


def test_make_mlp_regressor_routes_kwargs():
    reg = make_mlp_regressor(
        (8,),
        standardize=False,
        net_params={"optimizer__weight_decay": 1e-3},
        optimizer__momentum=0.9,
        optimizer="sgd",
    )
    assert isinstance(reg, MLPSurrogate)
    assert reg.standardize is False and reg.optimizer == "sgd"
    assert reg.net_params == {
        "optimizer__weight_decay": 1e-3,
        "optimizer__momentum": 0.9,
    }
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 2))
    reg.set_params(max_epochs=2).fit(X, X[:, 0])
    assert reg.net_.optimizer_.param_groups[0]["momentum"] == 0.9


def test_standardize_handles_scale(data_5d):
    X, y, X_test, y_test = data_5d
    scale = 1e4
    reg = MLPSurrogate((32, 32), max_epochs=40, lr=1e-2, batch_size=64, random_state=0)
    reg.fit(X * scale, y * scale + 5e4)
    assert r2_score(y_test * scale + 5e4, reg.predict(X_test * scale)) > 0.9


@pytest.mark.parametrize(
    "params, match",
    [
        ({"hidden_layer_sizes": (8, 0)}, "hidden_layer_sizes"),
        ({"hidden_layer_sizes": "big"}, "hidden_layer_sizes"),
        ({"activation": "swishy"}, "activation"),
        ({"max_epochs": 0}, "max_epochs"),
        ({"batch_size": 2.5}, "batch_size"),
        ({"lr": -1.0}, "lr"),
        ({"optimizer": "rmsprop"}, "optimizer"),
        ({"net_params": {"module__n_features": 3}}, "net_params"),
        ({"net_params": [1]}, "net_params"),
        ({"device": "gpu9"}, "device"),
    ],
)
def test_bad_parameters_raise(params, match):
    X = np.zeros((10, 2))
    with pytest.raises(ValueError, match=match):
        MLPSurrogate(**params).fit(X, X[:, 0])


def test_diverging_training_raises():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 2))
    reg = MLPSurrogate((8,), optimizer="sgd", lr=1e30, max_epochs=5, random_state=0)
    with pytest.raises(ValueError, match="non-finite"):
        reg.fit(X, X[:, 0] * 1e3)


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd", "lbfgs", "RMSprop"])
def test_optimizers(optimizer):
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(300, 3))
    y = np.sin(X).sum(axis=1)
    if optimizer == "RMSprop":
        optimizer = torch.optim.RMSprop
    full_batch = optimizer == "lbfgs"
    reg = MLPSurrogate(
        (16,),
        optimizer=optimizer,
        lr=0.5 if full_batch else 1e-2,
        batch_size=300 if full_batch else 64,
        max_epochs=20,
        random_state=0,
    ).fit(X, y)
    assert reg.score(X, y) > 0.95


def test_loss_curve_without_default_callbacks():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(100, 2))
    reg = MLPSurrogate((8,), max_epochs=4, net_params={"callbacks": "disable"})
    reg.fit(X, X[:, 0])
    assert len(reg.loss_curve_) == reg.n_iter_ == 4


def test_predict_does_not_copy_the_network(data_5d, monkeypatch):
    X, y, X_test, _ = data_5d
    reg = MLPSurrogate(**FAST, random_state=0).fit(X, y)
    # What predict computed before: a float64 copy of the module per call.
    module = copy.deepcopy(reg.net_.module_).double().eval()
    with torch.no_grad():
        expected = module(torch.tensor(X_test)).reshape(-1).numpy()

    def no_deepcopy(*args, **kwargs):
        raise AssertionError("predict deep-copied something")

    monkeypatch.setattr(copy, "deepcopy", no_deepcopy)
    np.testing.assert_array_equal(reg.predict(X_test), expected)
    # Concurrent calls share the fitted copy safely.
    with ThreadPoolExecutor(4) as pool:
        for pred in pool.map(lambda _: reg.predict(X_test), range(8)):
            np.testing.assert_array_equal(pred, expected)
    assert reg.net_.module_.mlp[0].weight.dtype == torch.float32  # untouched


def test_random_streams_ignore_global_state(data_5d):
    X, y, X_test, _ = data_5d
    torch.manual_seed(0)
    np.random.seed(0)  # noqa: NPY002
    first = MLPSurrogate(**FAST, random_state=3).fit(X, y).predict(X_test)
    torch.manual_seed(1)
    np.random.seed(1)  # noqa: NPY002
    second = MLPSurrogate(**FAST, random_state=3).fit(X, y).predict(X_test)
    np.testing.assert_array_equal(first, second)
    # random_state=None: fresh entropy, not torch's or numpy's global stream.
    fits = []
    for _ in range(2):
        torch.manual_seed(0)
        np.random.seed(0)  # noqa: NPY002
        fits.append(MLPSurrogate(**FAST).fit(X, y).predict(X_test))
    assert np.abs(fits[0] - fits[1]).max() > 1e-6


def test_activation_names_match_the_torch_modules():
    from sklearn_debias.neural._mlp import ACTIVATION_NAMES
    from sklearn_debias.neural._torch_modules import ACTIVATIONS

    assert tuple(ACTIVATIONS) == ACTIVATION_NAMES
