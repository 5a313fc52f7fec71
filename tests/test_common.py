"""scikit-learn's own estimator checks over every public estimator."""

import warnings

import pytest
from scipy import stats
from sklearn.linear_model import Ridge
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_debias import DebiasedFunctionalEstimator


def _estimators():
    # A fast surrogate: the default Gaussian process is exercised in
    # tests/test_control_variate.py; here each check fits dozens of times.
    yield DebiasedFunctionalEstimator(Ridge())
    yield DebiasedFunctionalEstimator(
        Ridge(alpha=1e-3), sampler=stats.norm(), n_samples=200, random_state=0
    )


# Expected failures, each with its reason: {estimator class name: {check: reason}}.
EXPECTED_FAILED_CHECKS = {}


def _expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


@parametrize_with_checks(
    list(_estimators()), expected_failed_checks=_expected_failed_checks
)
def test_sklearn_compatible_estimator(estimator, check):
    with warnings.catch_warnings():
        # sampler=None and heavy-tailed random labels are warned about by design.
        warnings.simplefilter("ignore", UserWarning)
        check(estimator)


@pytest.mark.parametrize("estimator", list(_estimators()), ids=repr)
def test_parameters_and_attributes_documented(estimator):
    """Every parameter and fitted attribute appears in the class docstring."""
    doc = type(estimator).__doc__
    for name in estimator.get_params(deep=False):
        assert f"{name} :" in doc, f"parameter {name} is not documented"
