"""Every shipped equation and every public estimator pickles.

The estimators are discovered and built with cheap parameters by
``_estimators.py``, as for ``test_common.py``; each is fitted, round-tripped
through :mod:`pickle` and through ``joblib.dump``/``joblib.load``, and must
predict exactly as before. Torch-backed estimators are skipped only when
torch is missing.
"""

import io
import pickle
import warnings

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.kernel_ridge import KernelRidge

from sklearn_debias.pde import (
    SimulationCalibratedRegressor,
    diffusion_reaction,
    linear_convection_diffusion,
    lqg,
    viscous_burgers,
)
from sklearn_debias.tests._estimators import fast_estimators

EQUATIONS = [viscous_burgers, linear_convection_diffusion, lqg, diffusion_reaction]


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
    "estimator", list(fast_estimators()), ids=lambda e: repr(e).replace("\n", "")
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
