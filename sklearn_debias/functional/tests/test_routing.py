"""Fit parameters of the surrogate: metadata routing and the legacy path."""

import numpy as np
import pytest
import sklearn
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import UnsetMetadataPassedError
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_debias import DebiasedFunctionalEstimator


def uniform_sampler(n, rng):
    return rng.uniform(size=(n, 3))


def data(n=60):
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(n, 3))
    y = X @ [1.0, -2.0, 0.5] + 0.3 * rng.standard_normal(n) * (X[:, 0] > 0.5)
    weights = rng.uniform(0.1, 5.0, size=n)
    return X, y, weights


class WeightRecorder(RegressorMixin, BaseEstimator):
    """A ridge regression that keeps the rows and weights it was fitted on."""

    def fit(self, X, y, sample_weight=None):
        self.X_fit_ = X
        self.sample_weight_ = sample_weight
        self.ridge_ = Ridge().fit(X, y, sample_weight=sample_weight)
        return self

    def predict(self, X):
        return self.ridge_.predict(X)


def estimator(surrogate, **kw):
    kw = dict(sampler=uniform_sampler, n_samples=200, random_state=0, **kw)
    return DebiasedFunctionalEstimator(surrogate, **kw)


def check_weighted_folds(est, X, y, weights, cv):
    """Every fold's Ridge equals one fitted on its train rows with their weights."""
    assert len(est.estimators_) == cv.get_n_splits()
    for model, (train, _) in zip(est.estimators_, cv.split(X)):
        model = model.steps[-1][1] if hasattr(model, "steps") else model
        expected = Ridge().fit(X[train], y[train], sample_weight=weights[train])
        unweighted = Ridge().fit(X[train], y[train])
        assert_allclose(model.coef_, expected.coef_, rtol=1e-12)
        assert not np.allclose(model.coef_, unweighted.coef_, rtol=1e-3)


def test_routed_sample_weight_reaches_every_fold():
    X, y, weights = data()
    cv = KFold(5, shuffle=True, random_state=0)
    with sklearn.config_context(enable_metadata_routing=True):
        est = estimator(Ridge().set_fit_request(sample_weight=True), cv=cv)
        est.fit(X, y, sample_weight=weights)
    check_weighted_folds(est, X, y, weights, cv)
    # The surrogate is weighted, the estimate of the mean is not.
    assert_allclose(est.naive_estimate_, y.mean(), rtol=1e-12)


def test_routed_weights_are_sliced_to_each_folds_training_rows():
    X, y, weights = data()
    with sklearn.config_context(enable_metadata_routing=True):
        recorder = WeightRecorder().set_fit_request(sample_weight=True)
        est = estimator(recorder, n_repeats=2).fit(X, y, sample_weight=weights)
    assert len(est.estimators_) == 10
    for model in est.estimators_:
        # The rows of X are distinct: find each training row's index.
        rows = [np.flatnonzero((X == x).all(axis=1))[0] for x in model.X_fit_]
        assert_array_equal(model.sample_weight_, weights[rows])
    assert not hasattr(recorder, "X_fit_")  # the user's object is never fitted


def test_routed_pipeline_with_a_request_on_its_final_step():
    X, y, weights = data()
    cv = KFold(5, shuffle=True, random_state=1)
    with sklearn.config_context(enable_metadata_routing=True):
        surrogate = make_pipeline(
            StandardScaler(with_mean=False, with_std=False).set_fit_request(
                sample_weight=False
            ),
            Ridge().set_fit_request(sample_weight=True),
        )
        est = estimator(surrogate, cv=cv).fit(X, y, sample_weight=weights)
    check_weighted_folds(est, X, y, weights, cv)


def test_unrequested_metadata_raises_sklearns_error():
    X, y, weights = data()
    with sklearn.config_context(enable_metadata_routing=True):
        with pytest.raises(UnsetMetadataPassedError, match="sample_weight"):
            estimator(Ridge()).fit(X, y, sample_weight=weights)
        # Nothing to route: routing enabled changes nothing.
        routed = estimator(Ridge()).fit(X, y)
    assert_allclose(routed.estimate_, estimator(Ridge()).fit(X, y).estimate_)


def test_metadata_routing_maps_fit_to_the_surrogates_fit():
    with sklearn.config_context(enable_metadata_routing=True):
        est = estimator(Ridge().set_fit_request(sample_weight=True))
        routing = est.get_metadata_routing()
        params = routing.route_params(params={"sample_weight": 1}, caller="fit")
    assert params.estimator.fit == {"sample_weight": 1}
    # The default surrogate is a consumer too (it requests nothing).
    assert DebiasedFunctionalEstimator().get_metadata_routing() is not None


def test_legacy_sample_weight_is_passed_to_the_surrogate():
    X, y, weights = data()
    cv = KFold(5, shuffle=True, random_state=2)
    est = estimator(Ridge(), cv=cv).fit(X, y, sample_weight=weights)
    check_weighted_folds(est, X, y, weights, cv)
    # A Pipeline takes fit parameters by step name.
    pipe = make_pipeline(StandardScaler(with_mean=False, with_std=False), Ridge())
    est = estimator(pipe, cv=cv).fit(X, y, ridge__sample_weight=weights)
    check_weighted_folds(est, X, y, weights, cv)


def test_legacy_surrogate_that_cannot_take_weights_is_named():
    X, y, weights = data()
    with pytest.raises(ValueError, match="KNeighborsRegressor.*sample_weight"):
        estimator(KNeighborsRegressor()).fit(X, y, sample_weight=weights)
    pipe = make_pipeline(StandardScaler(), Ridge())
    with pytest.raises(ValueError, match="Pipeline.*set_fit_request") as info:
        estimator(pipe).fit(X, y, sample_weight=weights)
    assert info.match("enable_metadata_routing=True")
