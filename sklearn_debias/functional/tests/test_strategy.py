"""The one strategy interface of the means and the quantile, and the result."""

import numpy as np
from numpy.testing import assert_allclose
from scipy import stats
from sklearn.linear_model import LinearRegression

from sklearn_debias import (
    DebiasedFunctionalEstimator,
    Functional,
    Mean,
    Quantile,
    Variance,
)
from sklearn_debias.functional._base import CrossFit, Estimand, Estimate
from sklearn_debias.utils import EstimateResult


def test_plain_returns_an_estimate_for_every_target():
    y = np.random.default_rng(0).standard_normal(50)
    for target in (Mean(), Variance(), Quantile(0.4)):
        assert isinstance(target, Estimand)
        result = target.plain(y, 0.95)
        assert isinstance(result, Estimate)
        assert np.isnan(result.plugin) and result.df == np.inf
    assert_allclose(Mean().plain(y, 0.95).estimate, y.mean())
    assert_allclose(Variance().plain(y, 0.95).estimate, np.var(y, ddof=1))
    quantile = Quantile(0.4).plain(y, 0.95)
    assert quantile.estimate == np.quantile(y, 0.4, method="inverted_cdf")
    assert quantile.residuals is None  # the quantile checks its own tails


def test_debias_of_a_hand_made_cross_fit():
    rng = np.random.default_rng(1)
    n, n_folds = 60, 3
    y = rng.standard_normal(n)
    folds = CrossFit(
        y=y,
        oof=y + 0.1 * rng.standard_normal(n),
        fold_of=np.arange(n) % n_folds,
        cheap=[rng.standard_normal(1000) for _ in range(n_folds)],
        n_cheap=3000,
        pooled=False,
    )
    assert folds.n_folds == n_folds
    for target in (Mean(), Quantile(0.5)):
        result = target.debias(folds, 1.0, 0.95)
        assert_allclose(result.weights, np.ones(n_folds))
        assert result.standard_error > 0 and np.isfinite(result.plugin)
    # coef=0: plain Monte Carlo of the labels, whatever the surrogate.
    assert_allclose(Mean().debias(folds, 0.0, 0.95).estimate, y.mean())


def test_user_functional_of_several_means_keeps_working():
    class CoefficientOfVariation(Functional):
        def transform(self, values):
            return np.column_stack([values, values**2])

        def combine(self, means):
            m1, m2 = means
            return np.sqrt(m2 - m1**2) / m1

        def gradient(self, means):
            m1, m2 = means
            sd = np.sqrt(m2 - m1**2)
            return np.array([-m2 / (m1**2 * sd), 0.5 / (m1 * sd)])

    X = np.random.default_rng(2).uniform(size=(300, 1))
    y = 1.0 + X[:, 0]  # uniform on [1, 2]: sd / mean = (1 / sqrt(12)) / 1.5
    est = DebiasedFunctionalEstimator(
        LinearRegression(),
        functional=CoefficientOfVariation(),
        sampler=stats.uniform(),
        n_samples=20_000,
        random_state=0,
    ).fit(X, y)
    truth = 1 / np.sqrt(12) / 1.5
    assert abs(est.estimate_ - truth) < 3 * est.standard_error_
    assert est.variance_reduction_ > 100


def test_result_is_an_estimate_result_and_the_interval_delegates_to_it():
    X = np.random.default_rng(3).uniform(size=(100, 2))
    est = DebiasedFunctionalEstimator(
        LinearRegression(), sampler=stats.uniform(), n_samples=500, random_state=0
    ).fit(X, X.sum(axis=1) ** 2)
    assert isinstance(est.result_, EstimateResult)
    assert tuple(est.result_) == (est.estimate_, est.standard_error_)
    assert est.confidence_interval(0.9) == est.result_.confidence_interval(0.9)
    assert est.confidence_interval() == est.result_.confidence_interval(0.95)
