"""The cheap side: samplers of every kind, and their failures named."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import stats
from scipy.stats import qmc
from sklearn.linear_model import LinearRegression

from sklearn_debias import DebiasedFunctionalEstimator
from sklearn_debias.functional.tests._data import (
    genz_data,
    quadratic_surrogate,
    uniform_sampler,
)

# --- samplers -----------------------------------------------------------------------


def test_sampler_kinds_agree():
    f, X, y = genz_data(5, n=200)
    kinds = {
        "callable": uniform_sampler,
        "univariate": stats.uniform(),
        "qmc": qmc.Sobol(3, seed=0),
        "pool": np.random.default_rng(9).uniform(size=(20_000, 3)),
    }
    estimates = {}
    for name, sampler in kinds.items():
        est = DebiasedFunctionalEstimator(
            quadratic_surrogate(), sampler=sampler, n_samples=4096, random_state=0
        ).fit(X, y)
        estimates[name] = est.estimate_
        assert abs(est.estimate_ - f.integral) < 4 * est.standard_error_, name
    # Every sampler integrates the same surrogates over the same P.
    assert np.ptp(list(estimates.values())) < 0.01


def test_qmc_engine_of_the_user_is_not_advanced():
    engine = qmc.Sobol(3, seed=0)
    first = qmc.Sobol(3, seed=0).random(4)
    f, X, y = genz_data(0)
    DebiasedFunctionalEstimator(LinearRegression(), sampler=engine, n_samples=256).fit(
        X, y
    )
    assert_allclose(engine.random(4), first)


def test_qmc_engine_shares_one_point_set_like_a_pool():
    f, X, y = genz_data(3)
    pool = qmc.Sobol(3, seed=3).random(1024)
    kw = dict(coef=1.0, random_state=0)
    # 1000 rounds up to the 1024 points of a balanced Sobol' set.
    a = DebiasedFunctionalEstimator(
        quadratic_surrogate(), sampler=qmc.Sobol(3, seed=3), n_samples=1000, **kw
    ).fit(X, y)
    b = DebiasedFunctionalEstimator(quadratic_surrogate(), sampler=pool, **kw).fit(X, y)
    assert_allclose(a.estimate_, b.estimate_, rtol=1e-13)
    # Low-discrepancy draws are not traded against labels: no (1 + n/N) shrink.
    c = DebiasedFunctionalEstimator(
        quadratic_surrogate(),
        sampler=qmc.Sobol(3, seed=3),
        n_samples=1024,
        random_state=0,
    ).fit(X, y)
    d = DebiasedFunctionalEstimator(
        quadratic_surrogate(), sampler=pool, random_state=0
    ).fit(X, y)
    assert_allclose(c.coef_ / d.coef_, 1 + len(y) / 1024, rtol=1e-12)


def test_multivariate_distribution_sampler():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 2))
    y = X[:, 0] ** 2 + X[:, 1]
    est = DebiasedFunctionalEstimator(
        quadratic_surrogate(),
        sampler=stats.multivariate_normal(np.zeros(2)),
        n_samples=50_000,
        random_state=0,
    ).fit(X, y)
    assert abs(est.estimate_ - 1.0) < 3 * est.standard_error_


def test_sampler_none_is_plain_monte_carlo_with_warning():
    f, X, y = genz_data(0)
    with pytest.warns(UserWarning, match="plain Monte Carlo"):
        est = DebiasedFunctionalEstimator(LinearRegression()).fit(X, y)
    assert_allclose(est.estimate_, y.mean())
    assert np.isnan(est.plugin_estimate_)
    assert est.variance_reduction_ == 1.0
    est.predict(X)  # the cross-fitted surrogate still predicts


@pytest.mark.parametrize(
    "sampler, match",
    [
        (
            lambda n, rng: rng.uniform(size=(n, 2)),
            r"shape \(50, 2\).*expected \(50, 3\)",
        ),
        (lambda n, rng: rng.uniform(size=(n + 1, 3)), r"shape \(51, 3\)"),
        (lambda n, rng: np.full((n, 3), np.nan), "non-finite"),
        (np.zeros((10, 4)), r"shape \(10, 4\)"),
    ],
)
def test_bad_sampler_output_names_the_sampler(sampler, match):
    f, X, y = genz_data(0)
    est = DebiasedFunctionalEstimator(LinearRegression(), sampler=sampler, n_samples=50)
    with pytest.raises(ValueError, match="sampler|pool") as info:
        est.fit(X, y)
    assert info.match(match)


def test_sampler_that_raises_and_wrong_type():
    f, X, y = genz_data(0)

    def broken(n, rng):
        raise KeyError("boom")

    with pytest.raises(RuntimeError, match="sampler broken raised"):
        DebiasedFunctionalEstimator(LinearRegression(), sampler=broken).fit(X, y)
    with pytest.raises(TypeError, match="sampler must be"):
        DebiasedFunctionalEstimator(LinearRegression(), sampler="uniform").fit(X, y)
