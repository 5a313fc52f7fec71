"""The cheap side: samplers of every kind, and their failures named."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats
from scipy.stats import qmc
from sklearn.linear_model import LinearRegression

from sklearn_debias import DebiasedFunctionalEstimator
from sklearn_debias.functional._sampling import check_sampler
from sklearn_debias.functional.tests._data import (
    genz_data,
    quadratic_surrogate,
    uniform_sampler,
)
from sklearn_debias.utils import spawn_seeds

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


def _qmc_set(engine, n, random_state=0, bounds=None):
    """The randomized point set the estimator draws from ``engine``."""
    sampler = check_sampler(engine, engine.d, bounds)
    return sampler.freeze(n, spawn_seeds(random_state, 1)[0])


def test_qmc_engine_shares_one_point_set_like_a_pool():
    f, X, y = genz_data(3)
    frozen = _qmc_set(qmc.Sobol(3, seed=3), 1000)
    # 1000 points: 16 randomizations of 63, each rounded up to the 64 of a
    # balanced Sobol' set.
    pool = frozen.draw(None, None)
    assert pool.shape == (1024, 3) and frozen.replicates == 16
    for block in pool.reshape(16, 64, 3):
        assert_array_equal(np.sort(np.floor(64 * block[:, 0])), np.arange(64))
    assert not np.array_equal(pool[:64], pool[64:128])  # independent scrambles
    kw = dict(coef=1.0, random_state=0)
    a = DebiasedFunctionalEstimator(
        quadratic_surrogate(), sampler=qmc.Sobol(3, seed=3), n_samples=1000, **kw
    ).fit(X, y)
    b = DebiasedFunctionalEstimator(quadratic_surrogate(), sampler=pool, **kw).fit(X, y)
    assert_allclose(a.estimate_, b.estimate_, rtol=1e-13)
    # Randomized QMC is charged the spread of its replicates, not var / N.
    assert a.standard_error_ < b.standard_error_
    assert a.result_.df < np.inf and b.result_.df == np.inf
    # The engine is a template: its own seed does not matter, random_state does.
    c = DebiasedFunctionalEstimator(
        quadratic_surrogate(), sampler=qmc.Sobol(3, seed=4), n_samples=1000, **kw
    ).fit(X, y)
    assert c.estimate_ == a.estimate_
    # Low-discrepancy draws are traded against labels at their effective
    # number (here far above N): the (1 + n/N) shrink of a pool of N is gone.
    c = DebiasedFunctionalEstimator(
        quadratic_surrogate(),
        sampler=qmc.Sobol(3, seed=3),
        n_samples=1024,
        random_state=0,
    ).fit(X, y)
    d = DebiasedFunctionalEstimator(
        quadratic_surrogate(), sampler=pool, random_state=0
    ).fit(X, y)
    assert_allclose(c.coef_ / d.coef_, 1 + len(y) / 1024, rtol=1e-3)


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


# --- samplers in physical units -------------------------------------------------------

_LOWER, _UPPER = np.array([100.0, 0.5, -2.0]), np.array([200.0, 1.5, 2.0])


def _physical(seed=0, n=200):
    X = _LOWER + (_UPPER - _LOWER) * np.random.default_rng(seed).uniform(size=(n, 3))
    return X, X[:, 0] / 100 + X[:, 1] * X[:, 2] ** 2  # E y = 1.5 + 4 / 3


def _fit(sampler, X, y, **kw):
    kw = {"n_samples": 4096, "random_state": 0, **kw}
    return DebiasedFunctionalEstimator(
        quadratic_surrogate(), sampler=sampler, **kw
    ).fit(X, y)


def _draws(sampler, n_features, n=2**10, random_state=0):
    """The cheap side's draws for ``sampler``, as the estimator freezes them."""
    frozen = check_sampler(sampler, n_features).freeze(
        n, spawn_seeds(random_state, 1)[0]
    )
    return frozen, (frozen.draw(None, None) if frozen.is_pool else None)


def test_vector_parameters_draw_one_distribution_per_column():
    X, y = _physical()
    scale = _UPPER - _LOWER
    est = _fit(stats.uniform(loc=_LOWER, scale=scale), X, y)
    assert abs(est.estimate_ - (1.5 + 4 / 3)) < 3 * est.standard_error_
    assert est.variance_reduction_ > 10
    # Randomized QMC through the quantile function: the points of a Sobol'
    # engine scaled to the box, and the same estimate.
    frozen, draws = _draws(stats.uniform(loc=_LOWER, scale=scale), 3)
    assert frozen.low_discrepancy and frozen.replicates == 16
    assert_allclose(draws, _qmc_set(qmc.Sobol(3), 2**10, bounds=(_LOWER, _UPPER))._pool)
    ref = _fit(qmc.Sobol(3), X, y, bounds=(_LOWER, _UPPER))
    assert_allclose(est.estimate_, ref.estimate_, rtol=1e-12)

    # Independent draws in a callable: plain Monte Carlo, the same integral.
    def callable_sampler(n, rng):
        return stats.uniform.rvs(_LOWER, scale, size=(n, 3), random_state=rng)

    mc = _fit(callable_sampler, X, y)
    assert abs(mc.estimate_ - est.estimate_) < 3 * mc.standard_error_
    # Broadcasting: a scalar and a vector parameter.
    X1 = np.random.default_rng(1).normal([0.0, 10.0, -5.0], 2.0, size=(200, 3))
    y1 = X1.sum(axis=1)
    est = _fit(stats.norm(loc=[0.0, 10.0, -5.0], scale=2.0), X1, y1)
    assert abs(est.estimate_ - 5.0) < 3 * est.standard_error_


def test_list_of_distributions_one_per_column():
    rng = np.random.default_rng(0)
    X = np.column_stack(
        [rng.normal(1.0, 2.0, 300), rng.uniform(2, 5, 300), rng.exponential(3, 300)]
    )
    y = X[:, 0] * X[:, 1] + np.sqrt(X[:, 2])  # E y = 3.5 + sqrt(3 pi) / 2
    columns = [stats.norm(1, 2), stats.uniform(2, 3), stats.expon(scale=3)]
    est = _fit(columns, X, y)
    truth = 3.5 + np.sqrt(3 * np.pi) / 2
    assert abs(est.estimate_ - truth) < 3 * est.standard_error_
    # Each column is its distribution's quantiles of a scrambled Sobol' set.
    _, draws = _draws(columns, 3)
    unit = _qmc_set(qmc.Sobol(3), 2**10)._pool
    for j, column in enumerate(columns):
        assert_allclose(draws[:, j], column.ppf(unit[:, j]), rtol=1e-14)

    def callable_sampler(n, rng):
        return np.column_stack([c.rvs(size=n, random_state=rng) for c in columns])

    mc = _fit(callable_sampler, X, y)
    assert abs(mc.estimate_ - est.estimate_) < 3 * mc.standard_error_
    assert_allclose(_fit(tuple(columns), X, y).estimate_, est.estimate_, rtol=1e-13)


class _OnlyDensity(stats.rv_continuous):
    """A distribution with a density only: scipy inverts its cdf numerically."""

    def _pdf(self, x):
        return np.exp(-x) * (x >= 0)


def test_distributions_without_own_quantile_function_draw_by_monte_carlo():
    numerical = _OnlyDensity(a=0.0, name="only_density")()
    for sampler in (
        numerical,
        [stats.norm(), numerical],
        stats.multivariate_normal(np.zeros(2), np.eye(2)),
    ):
        frozen, _ = _draws(sampler, 2, n=64)
        assert not frozen.low_discrepancy, sampler
        assert check_sampler(sampler, 2).default_size() == 100_000
    frozen, _ = _draws([stats.norm(), stats.expon()], 2)
    assert frozen.low_discrepancy
    assert check_sampler([stats.norm(), stats.expon()], 2).default_size() == 2**14


def test_quantiles_of_unit_cube_edges_are_finite():
    # A scrambled Sobol' coordinate can be exactly 0; ppf(0) = -inf.
    sampler = check_sampler(stats.norm(), 2)
    draws = sampler._quantiles(np.array([[0.0, 0.5], [0.5, 1.0 - 2.0**-53]]))
    assert np.all(np.isfinite(draws))
    assert draws[0, 0] < -8 and draws[1, 1] > 8


@pytest.mark.parametrize(
    ("sampler", "size"),
    [(stats.uniform(), 2**14), (qmc.Sobol(2), 2**14), (uniform_sampler, 100_000)],
)
def test_auto_n_samples(sampler, size):
    from sklearn_debias.functional._sampling import default_n_samples

    assert default_n_samples("auto", check_sampler(sampler, 2)) == size
    assert default_n_samples(777, check_sampler(sampler, 2)) == 777
    assert default_n_samples("auto", None) == 100_000


def test_qmc_engine_with_bounds_is_a_scaled_point_set():
    X, y = _physical()
    bounds = (_LOWER, _UPPER)
    est = _fit(qmc.Sobol(3, seed=3), X, y, n_samples=1000, bounds=bounds, coef=1.0)
    assert abs(est.estimate_ - (1.5 + 4 / 3)) < 3 * est.standard_error_
    unit = _qmc_set(qmc.Sobol(3, seed=3), 1000).draw(None, None)
    pool = qmc.scale(unit, _LOWER, _UPPER)
    assert_allclose(_qmc_set(qmc.Sobol(3), 1000, bounds=bounds).draw(None, None), pool)
    ref = _fit(pool, X, y, coef=1.0)
    assert_allclose(est.estimate_, ref.estimate_, rtol=1e-13)
    # Scalar bounds are broadcast to every column.
    X01 = 2 + 3 * np.random.default_rng(0).uniform(size=(200, 3))
    est = _fit(qmc.Halton(3, seed=0), X01, X01.sum(axis=1), bounds=(2, 5))
    assert abs(est.estimate_ - 10.5) < 3 * est.standard_error_ + 1e-9


def test_progress_over_folds_does_not_change_the_result(capsys):
    f, X, y = genz_data(0)
    kw = dict(n_samples=256, n_repeats=2, random_state=0)
    quiet = DebiasedFunctionalEstimator(
        LinearRegression(), sampler=uniform_sampler, **kw
    ).fit(X, y)
    loud = DebiasedFunctionalEstimator(
        LinearRegression(), sampler=uniform_sampler, verbose=1, **kw
    ).fit(X, y)
    assert "folds" in capsys.readouterr().err
    assert_allclose(loud.repeat_estimates_, quiet.repeat_estimates_, rtol=0)
    assert_allclose(loud.oof_predictions_, quiet.oof_predictions_, rtol=0)
