"""Randomized QMC: a qmc engine's point set as independent randomizations.

The cheap side's variance is the spread of the replicates' means, with
``R - 1`` degrees of freedom, instead of Monte Carlo's ``var / N``.
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats
from scipy.stats import qmc
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sklearn_debias import DebiasedFunctionalEstimator, Quantile, Variance
from sklearn_debias.functional._combine import (
    effective_n_cheap,
    replicate_covariance,
    welch_df,
)
from sklearn_debias.functional._sampling import QMC_REPLICATES, check_sampler
from sklearn_debias.functional.tests._data import quadratic_surrogate, uniform_sampler
from sklearn_debias.utils import spawn_seeds


def _kinks(X):
    return np.column_stack([np.abs(X[:, 0] - 0.3), np.abs(X[:, 1] - 0.6)])


# E|U - 0.3| + E|U - 0.6| for U uniform on [0, 1].
_KINK_MEAN = (0.3**2 + 0.7**2) / 2 + (0.6**2 + 0.4**2) / 2


def _exact_surrogate():
    """Fits f = |x_1 - 0.3| + |x_2 - 0.6| exactly: the labelled side is ~0."""
    return make_pipeline(FunctionTransformer(_kinks), LinearRegression())


def _kink_fit(seed, sigma=1e-4, n=200, n_samples=4096, **kw):
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(n, 2))
    y = _kinks(X).sum(axis=1) + sigma * rng.standard_normal(n)
    kw = {
        "sampler": qmc.Sobol(2),
        "n_samples": n_samples,
        "random_state": seed,
        "check_sampler": "ignore",
        **kw,
    }
    return DebiasedFunctionalEstimator(_exact_surrogate(), **kw).fit(X, y)


def _quadratic_data(n=300, seed=0):
    X = np.random.default_rng(seed).uniform(size=(n, 3))
    y = X[:, 0] ** 2 + X[:, 0] * X[:, 1] + X[:, 2]  # E y = 1/3 + 1/4 + 1/2
    return X, y


# --- the numerics -------------------------------------------------------------------


def test_replicate_covariance_is_the_spread_of_the_block_means():
    values = np.random.default_rng(0).standard_normal((64, 2))
    means = values.reshape(8, 8, 2).mean(axis=1)
    assert_allclose(replicate_covariance(values, 8), np.cov(means.T) / 8)
    assert_allclose(
        replicate_covariance(values[:, 0], 8), np.var(means[:, 0], ddof=1) / 8
    )
    # Independent draws: about var / N, as Monte Carlo.
    iid = np.random.default_rng(1).standard_normal(2**16)
    # (with 15 degrees of freedom: within a factor of 4 at 99.9%)
    ratio = replicate_covariance(iid, 16)[0, 0] * 2**16
    assert 0.2 < ratio < 2.5
    effective = np.var(iid, ddof=1) / replicate_covariance(iid, 16)[0, 0]
    assert_allclose(effective_n_cheap([iid], 16), effective)
    assert effective_n_cheap([np.ones(64)], 8) == np.inf


def test_welch_degrees_of_freedom():
    assert welch_df(0.0, 1.0, 15) == 15  # the cheap part alone
    assert welch_df(1.0, 1.0, 15) == 60  # (1 + 1)^2 * 15
    assert welch_df(1.0, 0.0, 15) == np.inf  # the labelled part alone
    assert welch_df(1.0, 1e-6, 15) > 1e12
    assert welch_df(1.0, 1.0, 0) == np.inf  # no replicates: Monte Carlo


# --- the point set --------------------------------------------------------------


@pytest.mark.parametrize(
    "engine, n, size",
    [
        (qmc.Sobol(3, seed=0), 1000, 64),  # 1000 / 16, up to a power of 2
        (qmc.Sobol(3, seed=0), 2**15, 2**11),
        (qmc.Halton(3, seed=0), 1000, 63),  # ceil(1000 / 16)
        (qmc.LatinHypercube(3, seed=0), 100, 7),
        (qmc.Sobol(3, seed=0), 5, 1),  # R = min(16, n_samples)
    ],
)
def test_point_set_is_independent_randomizations(engine, n, size):
    seed = spawn_seeds(0, 1)[0]
    frozen = check_sampler(engine, 3).freeze(n, seed)
    replicates = min(QMC_REPLICATES, n)
    points = frozen.draw(None, None)
    assert frozen.replicates == replicates and frozen.low_discrepancy
    assert points.shape == (replicates * size, 3)
    blocks = points.reshape(replicates, size, 3)
    assert not np.array_equal(blocks[0], blocks[1])
    # A function of the seed only: the engine's own seed is not used.
    again = check_sampler(type(engine)(3, seed=99), 3).freeze(n, seed)
    assert_array_equal(again.draw(None, None), points)


def test_unscrambled_engine_warns_and_is_charged_monte_carlo():
    X, y = _quadratic_data()
    kw = dict(coef=1.0, random_state=0)
    engine = qmc.Sobol(3, scramble=False)
    with pytest.warns(UserWarning, match="cannot be randomized"):
        est = DebiasedFunctionalEstimator(
            quadratic_surrogate(), sampler=engine, n_samples=1000, **kw
        ).fit(X, y)
    # The old charge: the engine's first 1024 points, var / N, a normal interval.
    pool = qmc.Sobol(3, scramble=False).random(1024)
    ref = DebiasedFunctionalEstimator(quadratic_surrogate(), sampler=pool, **kw)
    ref.fit(X, y)
    assert_allclose(est.estimate_, ref.estimate_, rtol=1e-13)
    assert_allclose(est.standard_error_, ref.standard_error_, rtol=1e-13)
    assert est.result_.df == np.inf
    assert "not randomized" in est.summary()


# --- the estimator --------------------------------------------------------------


def test_standard_error_far_below_the_monte_carlo_charge():
    # A nearly exact surrogate: the labelled residuals are tiny, and the old
    # charge var(f_hat) / N of the cheap side capped the variance reduction
    # near N / n. The replicates' spread is far smaller, and still honest.
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(300, 3))
    y = X[:, 0] ** 2 + X[:, 0] * X[:, 1] + X[:, 2] + 1e-4 * rng.standard_normal(300)
    est = DebiasedFunctionalEstimator(
        quadratic_surrogate(), sampler=qmc.Sobol(3), n_samples=2**12, random_state=0
    ).fit(X, y)
    points = check_sampler(qmc.Sobol(3), 3).freeze(2**12, spawn_seeds(0, 1)[0])
    monte_carlo = est.coef_ * np.std(est.predict(points.draw(None, None))) / 2**6
    assert est.standard_error_ < monte_carlo / 50
    assert est.variance_reduction_ > 50 * 2**12 / len(y)
    assert abs(est.estimate_ - (1 / 3 + 1 / 4 + 1 / 2)) < 4 * est.standard_error_
    assert np.isfinite(est.result_.df) and est.result_.df >= QMC_REPLICATES - 1
    assert "randomized QMC, 16 independent randomizations" in est.summary()


def test_cheap_dominated_variance_gets_a_t_interval():
    est = _kink_fit(0, sigma=0.0)
    # Only the cheap side has error: R - 1 degrees of freedom, Student's t.
    assert_allclose(est.result_.df, QMC_REPLICATES - 1, rtol=1e-3)
    low, high = est.confidence_interval(0.95)
    t = stats.t(QMC_REPLICATES - 1).isf(0.025)
    assert_allclose(high - low, 2 * t * est.standard_error_, rtol=1e-3)
    # The labels dominate: about normal.
    assert _kink_fit(0, sigma=1e-2).result_.df > 1000


def test_same_random_state_same_result_any_n_jobs():
    def fit(random_state, n_jobs=None, functional="mean"):
        return _kink_fit(
            3,
            random_state=random_state,
            n_jobs=n_jobs,
            n_repeats=2,
            functional=functional,
        )

    a, b = fit(5), fit(5, n_jobs=2)
    for attr in ("estimate_", "standard_error_", "fold_coefs_", "repeat_estimates_"):
        assert_array_equal(getattr(a, attr), getattr(b, attr))
    assert a.result_.df == b.result_.df
    assert fit(6).estimate_ != a.estimate_
    q1, q2 = fit(5, functional=Quantile(0.3)), fit(5, 2, Quantile(0.3))
    assert (q1.estimate_, q1.standard_error_) == (q2.estimate_, q2.standard_error_)


def test_variance_and_quantile_with_randomized_qmc():
    X, y = _quadratic_data(400)
    for functional in (Variance(), Quantile(0.5)):
        kw = dict(functional=functional, n_samples=2**13, random_state=0)
        est = DebiasedFunctionalEstimator(
            quadratic_surrogate(), sampler=qmc.Sobol(3), **kw
        ).fit(X, y)
        assert np.isfinite(est.result_.df) and est.result_.df >= QMC_REPLICATES - 1
        # The same functional from independent draws, for reference.
        ref = DebiasedFunctionalEstimator(
            quadratic_surrogate(), sampler=uniform_sampler, **kw
        ).fit(X, y)
        gap = abs(est.estimate_ - ref.estimate_)
        assert gap < 4 * np.hypot(est.standard_error_, ref.standard_error_)
        assert est.standard_error_ <= 1.2 * ref.standard_error_


@pytest.mark.slow
def test_coverage_when_the_cheap_side_dominates():
    # An exact surrogate of a function with kinks, labels with noise of s.d.
    # 1e-4: the replicates' spread is about 85% of the variance (the t
    # interval has a median of 21 degrees of freedom). Measured: coverage
    # 97.6% on these 250 seeds, with z-scores of s.d. 0.95; 96.8% on seeds
    # 0-499.
    covered = []
    z = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning expected
        for seed in range(250):
            est = _kink_fit(seed)
            low, high = est.confidence_interval(0.95)
            covered.append(low <= _KINK_MEAN <= high)
            z.append((est.estimate_ - _KINK_MEAN) / est.standard_error_)
    assert 0.92 <= np.mean(covered) <= 0.98
    assert 0.85 < np.std(z) < 1.2
