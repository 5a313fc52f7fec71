"""Every shipped equation and every public estimator pickles.

The estimators are discovered as in ``test_common.py`` and built with its
cheap ``FAST_PARAMS``; each is fitted, round-tripped through :mod:`pickle`
and through ``joblib.dump``/``joblib.load``, and must predict exactly as
before. Torch-backed estimators are skipped only when torch is missing.
"""

import importlib
import importlib.util
import inspect
import io
import pickle
import pkgutil
import warnings

import joblib
import numpy as np
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import Ridge

import sklearn_debias
from sklearn_debias import Quantile
from sklearn_debias.pde import (
    SimulationCalibratedRegressor,
    diffusion_reaction,
    linear_convection_diffusion,
    lqg,
    viscous_burgers,
)

HAS_TORCH = bool(
    importlib.util.find_spec("torch") and importlib.util.find_spec("skorch")
)
NEEDS_TORCH = {"sklearn_debias.neural"}
EQUATIONS = [viscous_burgers, linear_convection_diffusion, lqg, diffusion_reaction]


def _public_estimator_classes():
    """``{name: class}`` of every exported estimator, as ``test_common`` finds them."""
    modules = [sklearn_debias] + [
        importlib.import_module(f"sklearn_debias.{info.name}")
        for info in pkgutil.iter_modules(sklearn_debias.__path__)
        if info.ispkg and not info.name.startswith("_") and info.name != "tests"
    ]
    found = {}
    for module in modules:
        if module.__name__ in NEEDS_TORCH and not HAS_TORCH:
            continue
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if inspect.isclass(obj) and issubclass(obj, BaseEstimator):
                found[obj.__name__] = obj
    return found


def _standard_normal(size, random_state):
    return random_state.standard_normal(size)


class _StandardNormal:
    """A sampler defined at module level, so that it pickles."""

    def rvs(self, size, random_state):
        return _standard_normal(size, random_state)

    def __repr__(self):
        return "StandardNormal()"


# Cheap parameters, as test_common's FAST_PARAMS.
FAST_PARAMS = {
    "DebiasedFunctionalEstimator": [
        dict(estimator=Ridge()),
        dict(
            estimator=Ridge(alpha=1e-3),
            sampler=_StandardNormal(),
            n_samples=200,
            random_state=0,
        ),
        dict(
            estimator=Ridge(),
            functional=Quantile(0.5),
            sampler=_StandardNormal(),
            n_samples=200,
            random_state=0,
        ),
    ],
    "SketchPreconditionedRegressor": [
        dict(),
        dict(alpha=1.0, solver="iterative_sketching"),
        dict(sketch_size=30, random_state=0),
    ],
    "WarpedGaussianProcessRegressor": [
        dict(gaussian_process=GaussianProcessRegressor(normalize_y=True)),
        dict(gaussian_process=GaussianProcessRegressor(), warp="identity"),
    ],
    "SimulationCalibratedRegressor": [dict(), dict(estimator=Ridge())],
    "MLPSurrogate": [
        dict(hidden_layer_sizes=(16,), max_epochs=20, lr=3e-2, batch_size=256)
    ],
}


def _estimators():
    for name, cls in sorted(_public_estimator_classes().items()):
        for params in FAST_PARAMS.get(name, [dict()]):
            yield cls(**params)


def _round_trips(obj):
    """``obj`` through pickle and through joblib (both to a file-like)."""
    yield "pickle", pickle.loads(pickle.dumps(obj))
    buffer = io.BytesIO()
    joblib.dump(obj, buffer)
    buffer.seek(0)
    yield "joblib", joblib.load(buffer)


_OUTPUT_METHODS = ("predict", "transform", "decision_function", "predict_proba")


def _outputs(estimator, X):
    """The outputs of every method among ``_OUTPUT_METHODS`` it offers."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pde=None, by design
        return {
            method: np.asarray(getattr(estimator, method)(X))
            for method in _OUTPUT_METHODS
            if hasattr(estimator, method)
        }


@pytest.mark.parametrize("factory", EQUATIONS, ids=lambda f: f.__name__)
def test_every_shipped_equation_pickles(factory):
    pde = factory(3)
    X = pde.sample(20, random_state=0)
    t, x = X[:, 0], X[:, 1:]
    u = pde.exact_solution(X)
    z = np.random.default_rng(0).standard_normal(x.shape)
    for how, copy in _round_trips(pde):
        np.testing.assert_array_equal(copy.exact_solution(X), u, err_msg=how)
        np.testing.assert_array_equal(
            copy.evaluate_terminal(x), pde.evaluate_terminal(x), err_msg=how
        )
        np.testing.assert_array_equal(
            copy.evaluate_nonlinearity(t, x, u, z),
            pde.evaluate_nonlinearity(t, x, u, z),
            err_msg=how,
        )
        np.testing.assert_array_equal(copy.drift, pde.drift)
        assert (copy.sigma, copy.T, copy.n_dims) == (pde.sigma, pde.T, pde.n_dims)


@pytest.mark.parametrize(
    "estimator", list(_estimators()), ids=lambda e: repr(e).replace("\n", "")
)
def test_every_public_estimator_pickles_fitted(estimator):
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(60, 3))
    y = np.sin(3 * X[:, 0]) + X[:, 1] ** 2 + 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = clone(estimator).fit(X, y)
    before = _outputs(fitted, X[:10])
    assert before, f"{type(estimator).__name__} has no method to compare"
    for how, copy in _round_trips(fitted):
        after = _outputs(copy, X[:10])
        assert after.keys() == before.keys()
        for method, values in before.items():
            np.testing.assert_array_equal(
                after[method], values, err_msg=f"{how}: {method}"
            )


@pytest.mark.parametrize("factory", EQUATIONS, ids=lambda f: f.__name__)
def test_simulation_calibrated_regressor_on_every_benchmark_pickles(factory):
    # It used to fail: the benchmark equations held local closures.
    pde = factory(2)
    X = pde.sample(30, random_state=0)
    reg = SimulationCalibratedRegressor(
        KernelRidge(kernel="rbf", alpha=1e-2),
        pde,
        n_paths=20,
        levels=1,
        random_state=0,
    ).fit(X, pde.exact_solution(X))
    before = reg.predict(X[:5], return_std=True)
    for how, copy in _round_trips(reg):
        after = copy.predict(X[:5], return_std=True)
        np.testing.assert_array_equal(after[0], before[0], err_msg=how)
        np.testing.assert_array_equal(after[1], before[1], err_msg=how)
