"""The result depends on random_state only: not on n_jobs, nor numpy's global state."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from scipy import stats
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures

from sklearn_debias import DebiasedFunctionalEstimator, Quantile


def data():
    X = np.random.default_rng(0).uniform(size=(80, 3))
    return X, np.exp(X.sum(axis=1) / 3)


def fit(random_state=0, **kw):
    X, y = data()
    kw = dict(sampler=stats.uniform(), n_samples=300, random_state=random_state, **kw)
    surrogate = make_pipeline(PolynomialFeatures(2), LinearRegression())
    return DebiasedFunctionalEstimator(surrogate, **kw).fit(X, y)


def assert_same_fit(a, b):
    assert a.estimate_ == b.estimate_
    assert a.standard_error_ == b.standard_error_
    assert_array_equal(a.repeat_estimates_, b.repeat_estimates_)
    assert_array_equal(a.fold_coefs_, b.fold_coefs_)
    assert_array_equal(a.oof_predictions_, b.oof_predictions_)


@pytest.mark.parametrize("functional", ["mean", Quantile(0.3)])
def test_same_result_for_any_n_jobs(functional):
    a = fit(n_repeats=2, functional=functional)
    b = fit(n_repeats=2, functional=functional, n_jobs=2)
    assert_same_fit(a, b)


def test_same_int_seed_same_result_whatever_numpys_global_state():
    np.random.seed(1)
    a = fit(7)
    np.random.seed(2)
    b = fit(7)
    assert_same_fit(a, b)
    c = fit(8)
    assert c.estimate_ != a.estimate_


def test_random_state_none_does_not_touch_numpys_global_state():
    state = np.random.get_state()
    a, b = fit(None), fit(None)
    after = np.random.get_state()
    assert all(np.array_equal(s, t) for s, t in zip(state, after))
    assert a.estimate_ != b.estimate_  # fresh entropy each time


def test_random_state_instance_is_a_seed_source():
    a = fit(np.random.RandomState(3))
    b = fit(np.random.RandomState(3))
    assert_same_fit(a, b)


def test_more_repeats_keep_the_first_repeats():
    # Each repeat draws from its own child stream: a third repeat does not
    # change the first two.
    two, three = fit(n_repeats=2), fit(n_repeats=3)
    assert_array_equal(three.repeat_estimates_[:2], two.repeat_estimates_)
    assert_array_equal(three.fold_coefs_[:2], two.fold_coefs_)
