"""Rare events: exceedance probabilities with a handful of labelled events.

With p of order 1/n, the labels beyond the threshold are few or none; no
surrogate can be checked there (Blanchet, Chen, Lu and Ying, 2023). The
estimator then warns and reports the exact Clopper-Pearson bound from the
labels; at moderate p with rare disagreements it floors the labelled variance
with the disagreement rate of the surrogate's residual model on the cheap
side. The truths are closed forms (a one-dimensional
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
from sklearn_debias.functional._base import CrossFit
from sklearn_debias.functional._combine import (
    _MODEL_BUDGET,
    _MODEL_RESIDUALS,
    binomial_floor,
    indicator_floor,
    rare_event,
)
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


def test_indicator_floor_is_exact_for_a_shifted_surrogate():
    # f_hat = f + delta: every residual is -delta, so f_hat(z) + e = f(z) and
    # the floor is the variance of 1{f > t} - lam 1{f + delta > t} under P:
    # with lam = 1, q (1 - q), q = P(t - delta < f <= t), a closed form.
    t, delta, n = _threshold(0.05), 0.3, 100
    q = _probability(t - delta) - _probability(t)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, 2))
    y = _f(X)
    cheap = [_f(rng.standard_normal((10_485, 2))) + delta for _ in range(5)]
    folds = CrossFit(y, y + delta, np.arange(n) % 5, cheap, 52_425, False)

    def transform(v):
        return (np.asarray(v) > t).astype(float)

    floor = indicator_floor(transform, folds, np.ones(5), 0.95)
    # The floor is the larger of two such variances, over the first
    # _MODEL_BUDGET // (number of residual values) cheap draws of each fold:
    # all n = 100 residuals (64 quantiles) and the 25 nearest the boundary.
    exact = []
    for n_values in (_MODEL_RESIDUALS, max(20, n // 4)):
        z = np.concatenate([c[: _MODEL_BUDGET // n_values] - delta for c in cheap])
        q_hat = np.mean((t - delta < z) & (z <= t))
        exact.append(q_hat * (1 - q_hat))
    assert floor * n == pytest.approx(max(exact), rel=1e-12)
    assert floor * n == pytest.approx(q * (1 - q), rel=0.1)  # and near the truth
    # A weight of 0: the variance of the label's indicator, p (1 - p).
    floor0 = indicator_floor(transform, folds, np.zeros(5), 0.95)
    assert floor0 * n == pytest.approx(0.05 * 0.95, rel=0.05)


def test_indicator_floor_falls_back_to_pseudo_disagreements():
    # A transform that rejects the shifted values: the z^2/2 floor.
    n = 200
    y = np.r_[np.ones(10), np.zeros(n - 10)]
    fold_of = np.arange(n) % 5
    folds = CrossFit(y, y, fold_of, [y] * 5, 5 * n, False)

    def picky(v):
        v = np.asarray(v)
        if v.size > n:
            raise ValueError("only the labels")
        return v

    floor = indicator_floor(picky, folds, np.ones(5), 0.95)
    expected = binomial_floor(y[:, None], y[:, None], fold_of, np.ones(5), 0.95)
    assert floor == expected > 0


def test_moderate_p_with_rare_disagreements_is_not_overwide():
    # p = 0.05 and a good surrogate (f up to a small smooth error): few or no
    # disagreements among the labels, but the floor estimates their rate
    # from the cheap side: the standard error is near the spread of the
    # estimate (not the ~1.4/n of z^2/2 pseudo-disagreements), and positive.
    t = _threshold(0.05)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 2))
    est = DebiasedFunctionalEstimator(
        _Exact(),
        functional=ExceedanceProbability(t),
        sampler=_normal2,
        n_samples=100_000,
        random_state=0,
    ).fit(X, _f(X) + 0.02 * np.sin(5 * X[:, 1]))
    z2 = stats.norm.isf(0.025) ** 2
    pseudo = np.sqrt(z2 / 2 / (300 + z2 / 2) / 300)
    assert 0 < est.standard_error_ < 0.6 * pseudo
    low, high = est.confidence_interval()
    assert low <= _probability(t) <= high


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
    coverage, bound_missed = _coverage(p, n, 200)
    assert coverage >= 0.93
    assert bound_missed <= 0.05 + 0.02


@pytest.mark.slow
@pytest.mark.parametrize("n", [200, 500])
def test_coverage_at_moderate_p_with_rare_residuals(n):
    # A misspecified surrogate (linear for a curved f): the disagreement-rate
    # floor must stay honest where the residual model is rough. Measured
    # (seeds 0-199): 94.0% at n = 200 (s.e./sd 1.09).
    coverage, _ = _coverage(0.05, n, 200)
    assert coverage >= 0.93
