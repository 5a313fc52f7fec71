"""scikit-learn's own estimator checks, once, over every public estimator.

The estimators are discovered, not listed: every class exported by the
package or one of its subpackages that derives from ``BaseEstimator`` is
checked. ``FAST_PARAMS`` only makes some of them cheap to fit many times.
"""

import inspect
import re
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_debias.tests._estimators import (
    FAST_PARAMS,
    HAS_TORCH,
    fast_estimators,
    public_estimator_classes,
)

# Expected failures, each with its reason: {estimator class name: {check: reason}}.
# None so far.
EXPECTED_FAILED_CHECKS = {}


def _expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


def test_every_public_estimator_is_discovered():
    names = set(public_estimator_classes())
    expected = {
        "DebiasedFunctionalEstimator",
        "SimulationCalibratedRegressor",
        "SketchPreconditionedRegressor",
        "WarpedGaussianProcessRegressor",
        "SketchedTruncatedSVD",
    }
    if HAS_TORCH:
        expected |= {"MLPSurrogate", "PINNRegressor"}
    assert expected <= names
    # Every FAST_PARAMS entry names a discovered class (no stale entries).
    assert set(FAST_PARAMS) - {"MLPSurrogate", "PINNRegressor"} <= names


@parametrize_with_checks(
    list(fast_estimators()), expected_failed_checks=_expected_failed_checks
)
def test_sklearn_compatible_estimator(estimator, check):
    with warnings.catch_warnings():
        # Warned about by design: sampler=None / pde=None (nothing to simulate),
        # and heavy-tailed random labels in the checks' data.
        warnings.simplefilter("ignore", UserWarning)
        check(estimator)


def _documented(doc, section):
    """Names documented as ``name : type`` in a numpydoc section."""
    match = re.search(
        rf"\n\s*{section}\n\s*-+\n(.*?)(\n\s*\n\s*[A-Z][\w ]+\n\s*-+\n|$)", doc, re.S
    )
    body = match.group(1) if match else ""
    names = set()
    for line in body.splitlines():
        m = re.match(r"\s*([\w*, ]+?)\s*:", line)
        if m:
            names.update(n.strip() for n in m.group(1).split(","))
    return names


@pytest.mark.parametrize(
    "cls",
    sorted(public_estimator_classes().values(), key=lambda c: c.__name__),
    ids=lambda c: c.__name__,
)
def test_parameters_and_attributes_documented(cls):
    """Every constructor parameter and every fitted ``*_`` attribute is documented."""
    doc = inspect.getdoc(cls)
    params = _documented(doc, "Parameters")
    for estimator in (cls(**p) for p in FAST_PARAMS.get(cls.__name__, [dict()])):
        missing = set(estimator.get_params(deep=False)) - params
        assert not missing, f"{cls.__name__}: parameters not documented: {missing}"
        rng = np.random.default_rng(0)
        X = rng.uniform(size=(60, 3))
        y = np.sin(3 * X[:, 0]) + X[:, 1] ** 2 + 0.1
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitted = clone(estimator).fit(X, y)
        attributes = {
            name
            for name in vars(fitted)
            if name.endswith("_") and not name.startswith("_")
        }
        missing = attributes - _documented(doc, "Attributes")
        assert not missing, (
            f"{cls.__name__}: fitted attributes not documented: {missing}"
        )


@pytest.mark.parametrize(
    "estimator",
    [e for e in fast_estimators() if "random_state" in e.get_params()],
    ids=repr,
)
def test_results_depend_on_random_state_only(estimator):
    """The same integer seed gives the same fit, whatever numpy's global state."""
    rng = np.random.default_rng(1)
    X = rng.uniform(size=(60, 3))
    y = np.sin(3 * X[:, 0]) + X[:, 1] ** 2 + 0.1
    predictions = []
    for global_seed in (0, 1):
        np.random.seed(global_seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitted = clone(estimator).set_params(random_state=3).fit(X, y)
            apply = fitted.predict if hasattr(fitted, "predict") else fitted.transform
            predictions.append(apply(X[:10]))
    np.testing.assert_array_equal(predictions[0], predictions[1])
