"""Rare events: exceedance probabilities with a handful of labelled events.

With p of order 1/n, the labels beyond the threshold are few or none; no
surrogate can be checked there (Blanchet, Chen, Lu and Ying, 2023). The
estimator then warns and reports the exact Clopper-Pearson bound from the
labels; at moderate p with rare disagreements it floors the labelled variance
with pseudo-disagreements. The truths are closed forms (a one-dimensional
integral of normal tails, by quadrature).
"""

import warnings

import numpy as np
import pytest
from scipy import integrate, optimize, stats
from sklearn.linear_model import LinearRegression

from sklearn_debias import (
    DebiasedFunctionalEstimator,
    ExceedanceProbability,
    HeavyTailWarning,
    RareEventWarning,
)
from sklearn_debias.functional._combine import binomial_floor, rare_event
from sklearn_debias.utils._results import BinomialBoundResult, clopper_pearson


def _f(X):
    return X[:, 0] + X[:, 1] + 0.5 * np.sin(3 * X[:, 0])


def _probability(t):
    """P(f(X) > t) for X ~ N(0, I_2): integrate the normal tail in x_2."""

    def integrand(x):
        return stats.norm.pdf(x) * stats.norm.sf(t - x - 0.5 * np.sin(3 * x))

    return integrate.quad(integrand, -12, 12, limit=200, epsabs=1e-14)[0]


def _threshold(p):
    return optimize.brentq(lambda t: _probability(t) - p, -10, 12, xtol=1e-12)


def _normal2(n, rng):
    return rng.standard_normal((n, 2))


def _fit(t, n, seed, n_samples=5000):
    rng = np.random.default_rng([seed, 17])
    X = rng.standard_normal((n, 2))
    est = DebiasedFunctionalEstimator(
        LinearRegression(),
        functional=ExceedanceProbability(t),
        sampler=_normal2,
        n_samples=n_samples,
        random_state=seed,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.fit(X, _f(X))
    return est, {w.category for w in caught}


# --- the exact bound --------------------------------------------------------------


def test_clopper_pearson_closed_forms():
    # 0 events: upper bound 1 - alpha**(1/n); n events: lower bound alpha**(1/n).
    assert clopper_pearson(0, 200, 0.95, "less") == pytest.approx(
        (0.0, 1 - 0.05 ** (1 / 200))
    )
    assert clopper_pearson(50, 50, 0.9, "greater") == pytest.approx(
        (0.1 ** (1 / 50), 1)
    )
    # Two-sided: beta quantiles.
    low, high = clopper_pearson(3, 40, 0.95)
    assert low == pytest.approx(stats.beta(3, 38).ppf(0.025))
    assert high == pytest.approx(stats.beta(4, 37).ppf(0.975))


@pytest.mark.parametrize(
    "args, match",
    [
        ((-1, 10), "successes"),
        ((11, 10), "successes"),
        ((0, 0), "n_trials"),
        ((1.5, 10), "successes"),
    ],
)
def test_clopper_pearson_rejects_bad_counts(args, match):
    with pytest.raises(ValueError, match=match):
        clopper_pearson(*args)


def test_rare_event_only_below_5_events_on_either_side():
    assert rare_event(None, 0.95) is None
    assert rare_event((5, 200), 0.95) is None
    assert rare_event((195, 200), 0.95) is None
    alternative, (low, high), se = rare_event((0, 200), 0.95)
    assert alternative == "less" and low == 0.0
    assert se == pytest.approx(np.sqrt(high * (1 - high) / 200))
    alternative, (low, high), _ = rare_event((198, 200), 0.95)
    assert alternative == "greater" and high == 1.0 and low < 0.99


def test_binomial_floor_counts_pseudo_disagreements():
    # No disagreement, weight 1: z^2/2 pseudo-observations of size 1 and -1
    # among n + z^2/2, variance (z^2/2) / (n + z^2/2), divided by n.
    n = 200
    Ty = np.r_[np.ones(10), np.zeros(n - 10)][:, None]
    z2 = stats.norm.isf(0.025) ** 2
    floor = binomial_floor(Ty, Ty, np.arange(n) % 5, np.ones(5), 0.95)
    assert floor == pytest.approx(z2 / 2 / (n + z2 / 2) / n)


# --- through the estimator --------------------------------------------------------


def test_no_label_beyond_threshold_gives_the_exact_bound_and_warns():
    t = _threshold(0.001)
    est, kinds = _fit(t, 200, seed=0)
    assert RareEventWarning in kinds and HeavyTailWarning not in kinds
    assert isinstance(est.result_, BinomialBoundResult)
    assert est.result_.alternative == "less" and est.result_.successes == 0
    low, high = est.confidence_interval()
    assert low == 0.0 and high == pytest.approx(1 - 0.05 ** (1 / 200))
    assert est.confidence_interval(0.99).high == pytest.approx(1 - 0.01 ** (1 / 200))
    # Never 0 +- 0: the standard error is the binomial one at the bound.
    assert est.standard_error_ == pytest.approx(np.sqrt(high * (1 - high) / 200))
    assert est.naive_standard_error_ == est.standard_error_
    table = est.summary()
    assert "rare event: 0 of 200 labels beyond" in table
    assert "Clopper-Pearson upper bound" in table


def test_near_one_probability_gives_a_lower_bound():
    t = _threshold(0.999)
    est, kinds = _fit(t, 200, seed=0)
    assert RareEventWarning in kinds
    assert est.result_.alternative == "greater"
    low, high = est.confidence_interval()
    assert high == 1.0 and low == pytest.approx(0.05 ** (1 / 200))


def test_enough_events_keep_the_normal_interval():
    t = _threshold(0.1)
    est, kinds = _fit(t, 300, seed=0)
    assert RareEventWarning not in kinds
    assert type(est.result_).__name__ == "EstimateResult"
    low, high = est.confidence_interval()
    assert low < est.estimate_ < high and high - low > 0


def test_indicator_callable_is_recognised():
    # A callable returning 0/1 is an indicator functional too.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 2))
    est = DebiasedFunctionalEstimator(
        LinearRegression(),
        functional=lambda v: (v > 50.0).astype(float),
        sampler=_normal2,
        n_samples=1000,
        random_state=0,
    )
    with pytest.warns(RareEventWarning, match="only 0 of the n=200 labels show"):
        est.fit(X, _f(X))
    assert est.confidence_interval().high > 0


def test_moderate_p_with_rare_disagreements_has_a_positive_width():
    # p = 0.05 and an exact surrogate: no disagreement, yet the interval is
    # not the cheap side's alone.
    t = _threshold(0.05)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 2))
    est = DebiasedFunctionalEstimator(
        _Exact(),
        functional=ExceedanceProbability(t),
        sampler=_normal2,
        n_samples=100_000,
        random_state=0,
    ).fit(X, _f(X))
    z2 = stats.norm.isf(0.025) ** 2
    assert est.standard_error_**2 >= z2 / 2 / (300 + z2 / 2) / 300 * 0.99


class _Exact(LinearRegression):
    """The exact f as a 'surrogate'."""

    def fit(self, X, y):
        self.coef_ = np.zeros(2)
        self.intercept_ = 0.0
        return self

    def predict(self, X):
        return _f(np.asarray(X))


# --- coverage (slow) --------------------------------------------------------------


def _coverage(p, n, n_runs, n_samples=20_000):
    t = _threshold(p)
    covered = bound_missed = 0
    for seed in range(n_runs):
        est, kinds = _fit(t, n, seed, n_samples)
        low, high = est.confidence_interval()
        covered += low <= p <= high
        bound_missed += RareEventWarning in kinds and not low <= p <= high
    return covered / n_runs, bound_missed / n_runs


@pytest.mark.slow
@pytest.mark.parametrize("p, n", [(0.001, 200), (0.003, 500), (0.01, 200), (0.01, 500)])
def test_coverage_of_rare_exceedance(p, n):
    # The exact bound misses with probability at most 5% over all samples
    # (not given that the sample is rare: at p=0.01, n=500, 0 or 1 events
    # give a bound below p, 4% of samples, 9% of the rare ones).
    coverage, bound_missed = _coverage(p, n, 400)
    assert coverage >= 0.93
    assert bound_missed <= 0.05 + 0.02


@pytest.mark.slow
@pytest.mark.parametrize("n", [200, 500])
def test_coverage_at_moderate_p_with_rare_residuals(n):
    coverage, _ = _coverage(0.05, n, 400)
    assert coverage >= 0.93
