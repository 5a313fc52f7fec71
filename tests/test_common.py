"""scikit-learn's own estimator checks over every public estimator."""

import importlib.util
import warnings

import pytest
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.linear_model import Ridge
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_debias import (
    DebiasedFunctionalEstimator,
    Quantile,
    SimulationCalibratedRegressor,
    SketchPreconditionedRegressor,
)
from sklearn_debias.gaussian_process import WarpedGaussianProcessRegressor


class _StandardNormal:
    """Like ``scipy.stats.norm()`` but with a repr stable across xdist workers."""

    def rvs(self, size, random_state):
        return random_state.standard_normal(size)

    def __repr__(self):
        return "StandardNormal()"


def _estimators():
    # A fast surrogate: the default Gaussian process is exercised in
    # tests/test_control_variate.py, and every check here fits many times.
    yield DebiasedFunctionalEstimator(Ridge())
    yield DebiasedFunctionalEstimator(
        Ridge(alpha=1e-3), sampler=_StandardNormal(), n_samples=200, random_state=0
    )
    yield DebiasedFunctionalEstimator(
        Ridge(),
        functional=Quantile(0.5),
        sampler=_StandardNormal(),
        n_samples=200,
        random_state=0,
    )
    yield SketchPreconditionedRegressor()
    # A one-kernel Gaussian process: the default two-kernel one is exercised in
    # tests/gaussian_process/test_warped.py and is slow to fit many times.
    yield WarpedGaussianProcessRegressor(GaussianProcessRegressor(normalize_y=True))
    yield WarpedGaussianProcessRegressor(GaussianProcessRegressor(), warp="identity")
    yield SketchPreconditionedRegressor(alpha=1.0, solver="iterative_sketching")
    # pde=None, as the checks build it: surrogate predictions, with a warning.
    yield SimulationCalibratedRegressor()
    if importlib.util.find_spec("skorch") and importlib.util.find_spec("torch"):
        from sklearn_debias.neural import MLPSurrogate

        yield MLPSurrogate(
            hidden_layer_sizes=(16,), max_epochs=20, lr=3e-2, batch_size=256
        )


# Expected failures, each with its reason: {estimator class name: {check: reason}}.
# None so far.
EXPECTED_FAILED_CHECKS = {}


def _expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


@parametrize_with_checks(
    list(_estimators()), expected_failed_checks=_expected_failed_checks
)
def test_sklearn_compatible_estimator(estimator, check):
    with warnings.catch_warnings():
        # Warned about by design: sampler=None / pde=None (nothing to simulate),
        # and heavy-tailed random labels in the checks' data.
        warnings.simplefilter("ignore", UserWarning)
        check(estimator)


@pytest.mark.parametrize("estimator", list(_estimators()), ids=repr)
def test_parameters_documented(estimator):
    """Every constructor parameter appears in the class docstring."""
    doc = type(estimator).__doc__
    for name in estimator.get_params(deep=False):
        assert f"{name} :" in doc, f"parameter {name} is not documented"
