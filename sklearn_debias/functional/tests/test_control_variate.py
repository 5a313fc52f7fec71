"""DebiasedFunctionalEstimator against closed forms, ppi_py and plain Monte Carlo."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import stats
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler
from sklearn.utils.validation import check_is_fitted

from sklearn_debias import (
    DebiasedFunctionalEstimator,
    ExceedanceProbability,
    Functional,
    Moment,
    SurrogateError,
    Variance,
)
from sklearn_debias.datasets import GenzFunction
from sklearn_debias.functional.tests._data import (
    fit_quiet,
    genz_data,
    quadratic_surrogate,
    uniform_sampler,
)
from sklearn_debias.gaussian_process import WarpedGaussianProcessRegressor

# --- references: ppi_py, plain Monte Carlo, closed forms ---------------------------


def test_coef_one_with_pool_equals_ppi_py_crossppi():
    ppi_py = pytest.importorskip("ppi_py")
    f, X, y = genz_data(0, n=100)
    pool = np.random.default_rng(1).uniform(size=(5000, 3))
    est = DebiasedFunctionalEstimator(
        quadratic_surrogate(), sampler=pool, coef=1.0, cv=5, random_state=0
    ).fit(X, y)
    Yhat_unlabeled = np.column_stack([m.predict(pool) for m in est.estimators_])
    expected = ppi_py.crossppi_mean_pointestimate(
        y, est.oof_predictions_, Yhat_unlabeled
    )
    assert_allclose(est.estimate_, expected, rtol=1e-12)
    assert_allclose(est.plugin_estimate_, Yhat_unlabeled.mean(), rtol=1e-12)


def test_fixed_weight_equals_ppi_py_with_same_weight():
    ppi_py = pytest.importorskip("ppi_py")
    f, X, y = genz_data(2, n=100)
    pool = np.random.default_rng(3).uniform(size=(4000, 3))
    est = DebiasedFunctionalEstimator(
        quadratic_surrogate(), sampler=pool, coef=0.7, random_state=0
    ).fit(X, y)
    Yhat_unlabeled = np.mean([m.predict(pool) for m in est.estimators_], axis=0)
    expected = ppi_py.ppi_mean_pointestimate(
        y, est.oof_predictions_, Yhat_unlabeled, lam=0.7
    )
    assert_allclose(est.estimate_, np.squeeze(expected), rtol=1e-12)


def test_coef_zero_is_plain_monte_carlo():
    f, X, y = genz_data(4)
    est = DebiasedFunctionalEstimator(
        quadratic_surrogate(), sampler=uniform_sampler, coef=0.0, n_samples=100
    ).fit(X, y)
    assert_allclose(est.estimate_, y.mean(), rtol=1e-12)
    assert_allclose(est.naive_estimate_, y.mean(), rtol=1e-12)
    assert_allclose(est.naive_standard_error_, y.std(ddof=1) / np.sqrt(len(y)))
    # Within-fold centring changes the variance estimate only slightly.
    assert_allclose(est.standard_error_, est.naive_standard_error_, rtol=0.1)
    assert est.coef_ == 0.0


def test_optimal_weight_matches_regression_coefficient():
    """With a huge pool the weight is Cov(y, f_hat) / Var(f_hat) on other folds."""
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(400, 3))
    y = 0.5 * X.sum(axis=1) + 0.1 * rng.standard_normal(400)
    est = DebiasedFunctionalEstimator(
        LinearRegression(), sampler=uniform_sampler, n_samples=200_000, random_state=0
    ).fit(X, y)
    assert_allclose(est.coef_, 1.0, atol=0.05)
    assert est.fold_coefs_.shape == (1, 5)


def test_pointwise_functionals_closed_forms():
    """E (x1 + x2 + x3)^2 = d/12 + d^2/4 and P(x1 > 0.3) = 0.7 under U[0, 1]^3."""
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(300, 3))
    y = X.sum(axis=1)
    moment = DebiasedFunctionalEstimator(
        quadratic_surrogate(),
        functional=Moment(2),
        sampler=uniform_sampler,
        n_samples=50_000,
        random_state=0,
    ).fit(X, y)
    assert abs(moment.estimate_ - (3 / 12 + 9 / 4)) < 3 * moment.standard_error_
    assert moment.standard_error_ < 1e-2  # exact surrogate: only the cheap side is left

    y1 = X[:, 0]
    prob = DebiasedFunctionalEstimator(
        LinearRegression(),
        functional=ExceedanceProbability(0.3),
        sampler=stats.uniform(),
        n_samples=50_000,
        random_state=0,
    ).fit(X, y1)
    assert abs(prob.estimate_ - 0.7) < 3 * prob.standard_error_
    assert prob.variance_reduction_ > 10


def test_user_functional_and_callable():
    class Cube(Functional):
        def transform(self, values):
            return values**3

    rng = np.random.default_rng(1)
    X = rng.uniform(size=(200, 3))
    y = X[:, 0]
    for functional in (Cube(), lambda v: v**3):
        est = DebiasedFunctionalEstimator(
            LinearRegression(),
            functional=functional,
            sampler=uniform_sampler,
            n_samples=20_000,
            random_state=0,
        ).fit(X, y)
        assert abs(est.estimate_ - 0.25) < 3 * est.standard_error_


def exp_sum(X):
    return np.exp(X.sum(axis=1) / 3)


# Under U[0, 1]^3: E f = (3 (e^(1/3) - 1))^3 and E f^2 = (3 (e^(2/3) - 1) / 2)^3.
EXP_SUM_VARIANCE = (1.5 * (np.exp(2 / 3) - 1)) ** 3 - (3 * (np.exp(1 / 3) - 1)) ** 6


def test_variance_closed_form_and_invariant_to_a_shift():
    X = np.random.default_rng(0).uniform(size=(300, 3))
    y = exp_sum(X)
    fits = [
        fit_quiet(
            DebiasedFunctionalEstimator(
                quadratic_surrogate(),
                functional=functional,
                sampler=uniform_sampler,
                n_samples=20_000,
                random_state=0,
            ),
            X,
            y + shift,
        )
        for functional, shift in (("variance", 0.0), (Variance(), 1e3))
    ]
    est = fits[0]
    assert abs(est.estimate_ - EXP_SUM_VARIANCE) < 3 * est.standard_error_
    assert est.variance_reduction_ > 10
    assert abs(est.plugin_estimate_ - EXP_SUM_VARIANCE) < 0.05 * EXP_SUM_VARIANCE
    # One weight for both moments, chosen for the centred square: adding a
    # constant to f changes neither the estimate nor its standard error.
    assert_allclose(fits[1].estimate_, est.estimate_, rtol=1e-7)
    assert_allclose(fits[1].standard_error_, est.standard_error_, rtol=1e-5)
    assert_allclose(fits[1].fold_coefs_, est.fold_coefs_, rtol=1e-7)


def test_variance_plain_monte_carlo_is_the_sample_variance():
    X = np.random.default_rng(1).uniform(size=(100, 3))
    y = exp_sum(X)
    est = DebiasedFunctionalEstimator(
        quadratic_surrogate(),
        functional=Variance(),
        sampler=uniform_sampler,
        n_samples=100,
        coef=0.0,
    ).fit(X, y)
    # The second-order correction turns m2 - m1^2 into the unbiased variance.
    assert_allclose(est.naive_estimate_, np.var(y, ddof=1), rtol=1e-12)
    # Delta method: the spread of the centred squares.
    se = np.std((y - y.mean()) ** 2, ddof=1) / np.sqrt(len(y))
    assert_allclose(est.naive_standard_error_, se, rtol=1e-12)
    # With coef=0 only the within-fold centring differs from plain Monte Carlo.
    assert_allclose(est.estimate_, est.naive_estimate_, rtol=1e-2)
    assert_allclose(est.standard_error_, est.naive_standard_error_, rtol=0.1)


def test_variance_unbiased_and_covers_over_seeds():
    # Measured: 94.3% over 300 seeds (88% with a linear surrogate, whose
    # residuals (y - m)^2 - (f_hat - m)^2 are skewed enough at n = 64 to make
    # the standard error and the error correlated; 92% at n = 256).
    estimates, covered = [], []
    for seed in range(200):
        X = np.random.default_rng(seed).uniform(size=(64, 3))
        est = DebiasedFunctionalEstimator(
            quadratic_surrogate(),
            functional=Variance(),
            sampler=uniform_sampler,
            n_samples=2000,
            random_state=seed,
        )
        fit_quiet(est, X, exp_sum(X))
        low, high = est.confidence_interval(0.95)
        estimates.append(est.estimate_)
        covered.append(low <= EXP_SUM_VARIANCE <= high)
    estimates = np.array(estimates)
    sem = estimates.std(ddof=1) / np.sqrt(len(estimates))
    assert abs(estimates.mean() - EXP_SUM_VARIANCE) < 3 * sem
    assert 0.92 <= np.mean(covered) <= 0.98, np.mean(covered)


def test_functional_of_several_means_needs_combine_and_shapes_are_checked():
    X = np.random.default_rng(2).uniform(size=(50, 3))
    y = exp_sum(X)

    class TwoStatistics(Functional):
        def transform(self, values):
            return np.column_stack([values, values**2])

    class WrongLength(Functional):
        def transform(self, values):
            return values[:-1]

    def fit(functional):
        return DebiasedFunctionalEstimator(
            LinearRegression(), functional=functional, sampler=uniform_sampler
        ).fit(X, y)

    with pytest.raises(NotImplementedError, match="define combine"):
        fit(TwoStatistics())
    with pytest.raises(ValueError, match="one value .* per function value"):
        fit(WrongLength())
    with pytest.raises(ValueError, match="non-finite"):
        fit(lambda v: np.log(v - 10))


# --- statistics over seeds ---------------------------------------------------------


def _replicate(n_seeds, coef="optimal", n=128):
    f = GenzFunction("gaussian", n_features=3, random_state=1)
    out = []
    for seed in range(n_seeds):
        X = np.random.default_rng(seed).uniform(size=(n, 3))
        est = DebiasedFunctionalEstimator(
            quadratic_surrogate(),
            sampler=uniform_sampler,
            n_samples=2000,
            coef=coef,
            random_state=seed,
        )
        fit_quiet(est, X, f(X))
        low, high = est.confidence_interval(0.95)
        out.append((est.estimate_, est.standard_error_, low <= f.integral <= high))
    return f.integral, np.array(out)


@pytest.mark.parametrize("coef", ["optimal", 1.0])
def test_unbiased_and_standard_error_honest(coef):
    truth, res = _replicate(100, coef=coef)
    estimates, ses = res[:, 0], res[:, 1]
    # Bias within 3 standard errors of the mean over seeds.
    assert abs(estimates.mean() - truth) < 3 * estimates.std(ddof=1) / np.sqrt(len(res))
    # The reported standard error matches the spread across seeds.
    ratio = estimates.std(ddof=1) / np.sqrt(np.mean(ses**2))
    assert 0.75 < ratio < 1.3, ratio


def test_debiased_beats_plain_monte_carlo():
    truth, res = _replicate(40)
    f = GenzFunction("gaussian", n_features=3, random_state=1)
    naive = [
        f(np.random.default_rng(s).uniform(size=(128, 3))).mean() for s in range(40)
    ]
    rmse_naive = np.sqrt(np.mean((np.array(naive) - truth) ** 2))
    rmse = np.sqrt(np.mean((res[:, 0] - truth) ** 2))
    assert rmse < rmse_naive / 6


def test_coverage_200_seeds():
    truth, res = _replicate(200)
    coverage = res[:, 2].mean()
    assert 0.92 <= coverage <= 0.98, coverage


@pytest.mark.slow
def test_coverage_gaussian_process_slow():
    """The default surrogate, 300 seeds over three families: 95% intervals cover
    92-98% (the 99% binomial band at 300 seeds).

    Seed ``s`` integrates the family ``s % 3`` (oscillatory, Gaussian, product
    peak) at n = 64. Run with 400 seeds per family, each family passed a 93-97%
    band; 100 per family keep the slow suite within its CI budget. Smooth
    integrands only: on the kinked "continuous" family at n = 64 the
    intervals covered 89.5% (92% at n = 128) with the old RBF-only default,
    90.0% over 200 seeds with the current log-warped one (see the user guide,
    "When it cannot help").
    """
    functions = [
        GenzFunction(family, n_features=3, random_state=2)
        for family in ("oscillatory", "gaussian", "product_peak")
    ]
    hits = []
    for seed in range(300):
        f = functions[seed % 3]
        X = np.random.default_rng(seed).uniform(size=(64, 3))
        est = fit_quiet(
            DebiasedFunctionalEstimator(
                sampler=uniform_sampler, n_samples=5000, random_state=seed
            ),
            X,
            f(X),
        )
        low, high = est.confidence_interval()
        hits.append(low <= f.integral <= high)
    assert 0.92 <= np.mean(hits) <= 0.98, np.mean(hits)


# --- sklearn integration -------------------------------------------------------------


def test_grid_search_selects_the_better_control_variate():
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(200, 3))
    y = np.sin(3 * X[:, 0]) + X[:, 1] ** 2
    pipe = make_pipeline(StandardScaler(), PolynomialFeatures(), Ridge(alpha=1e-6))
    search = GridSearchCV(
        DebiasedFunctionalEstimator(pipe, sampler=uniform_sampler, n_samples=2000),
        {"estimator__polynomialfeatures__degree": [1, 4]},
        scoring="neg_mean_squared_error",
        cv=3,
    ).fit(X, y)
    assert search.best_params_ == {"estimator__polynomialfeatures__degree": 4}
    best = search.best_estimator_
    assert best.variance_reduction_ > 20
    assert cross_val_score(best, X, y, cv=3).mean() > 0.99


def test_user_estimator_is_never_fitted_and_predict_averages_folds():
    f, X, y = genz_data(0)
    surrogate = quadratic_surrogate()
    est = DebiasedFunctionalEstimator(surrogate, sampler=uniform_sampler, n_samples=100)
    est.fit(X, y)
    with pytest.raises(NotFittedError):
        check_is_fitted(surrogate)
    expected = np.mean([m.predict(X) for m in est.estimators_], axis=0)
    assert_allclose(est.predict(X), expected)
    assert est.score(X, y) > 0.99
    assert len(est.estimators_) == 5


def test_repeats_and_parallel_jobs_are_reproducible():
    f, X, y = genz_data(0)
    # A picklable sampler: the workers of n_jobs=2 receive it.
    kw = dict(sampler=stats.uniform(), n_samples=500, n_repeats=3, random_state=7)
    a = DebiasedFunctionalEstimator(quadratic_surrogate(), **kw).fit(X, y)
    b = DebiasedFunctionalEstimator(quadratic_surrogate(), n_jobs=2, **kw).fit(X, y)
    assert_allclose(a.estimate_, b.estimate_, rtol=1e-13)
    assert a.repeat_estimates_.shape == (3,) and len(a.estimators_) == 15
    assert_allclose(a.estimate_, a.repeat_estimates_.mean())
    c = clone(a).fit(X, y)
    assert_allclose(a.estimate_, c.estimate_)


def test_cv_splitter_and_summary():
    f, X, y = genz_data(0)
    est = DebiasedFunctionalEstimator(
        quadratic_surrogate(),
        sampler=uniform_sampler,
        n_samples=500,
        cv=KFold(4, shuffle=True, random_state=0),
    ).fit(X, y)
    assert est.fold_coefs_.shape == (1, 4)
    text = est.summary(confidence_level=0.9)
    assert "debiased" in text and "plain Monte Carlo" in text and "90% CI" in text
    low, high = est.confidence_interval()
    assert low < est.estimate_ < high


# --- bad input --------------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_inputs_raise(bad):
    f, X, y = genz_data(0)
    Xb = X.copy()
    Xb[3, 1] = bad
    yb = y.copy()
    yb[5] = bad
    est = DebiasedFunctionalEstimator(LinearRegression(), sampler=uniform_sampler)
    with pytest.raises(ValueError, match="NaN|infinity"):
        est.fit(Xb, y)
    with pytest.raises(ValueError, match="NaN|infinity"):
        est.fit(X, yb)


def test_too_few_samples_for_cv():
    X = np.random.default_rng(0).uniform(size=(7, 3))
    with pytest.raises(ValueError, match="n_samples=7"):
        DebiasedFunctionalEstimator(LinearRegression(), sampler=uniform_sampler).fit(
            X, X[:, 0]
        )


class _Exploding(RegressorMixin, BaseEstimator):
    def __init__(self, when="fit"):
        self.when = when

    def fit(self, X, y):
        if self.when == "fit":
            raise np.linalg.LinAlgError("singular")
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X):
        if self.when == "nan":
            return np.full(len(X), np.nan)
        raise ZeroDivisionError("bad")


@pytest.mark.parametrize(
    "when, match",
    [
        ("fit", "raised while fitting fold 1/5"),
        ("predict", "raised while predicting"),
        ("nan", "non-finite predictions"),
    ],
)
def test_surrogate_failures_are_reraised_with_context(when, match):
    f, X, y = genz_data(0)
    est = DebiasedFunctionalEstimator(_Exploding(when), sampler=uniform_sampler)
    with pytest.raises(SurrogateError, match=match):
        est.fit(X, y)


@pytest.mark.parametrize(
    "params, match",
    [
        # sklearn's InvalidParameterError (a ValueError) names the parameter.
        ({"coef": "best"}, "'coef' parameter"),
        ({"coef": np.nan}, "'coef' parameter"),
        ({"coef": np.inf}, "'coef' parameter"),
        ({"n_samples": 1}, "'n_samples' parameter"),
        ({"n_repeats": 0}, "'n_repeats' parameter"),
        ({"cv": 1}, "'cv' parameter"),
        ({"confidence_level": 1.5}, "confidence_level"),
        ({"functional": "median"}, "'functional' parameter"),
        ({"functional": Moment(-1)}, "q > 0"),
    ],
)
def test_invalid_parameters(params, match):
    f, X, y = genz_data(0)
    est = DebiasedFunctionalEstimator(
        LinearRegression(), sampler=uniform_sampler, n_samples=100
    ).set_params(**params)
    with pytest.raises(ValueError, match=match):
        est.fit(X, y)


def test_heavy_tails_warn_with_the_statistic():
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(300, 3))
    y = X[:, 0] + stats.t(df=1.2).rvs(size=300, random_state=1)
    with pytest.warns(UserWarning, match=r"largest one carries \d+% of their sum"):
        DebiasedFunctionalEstimator(
            LinearRegression(), sampler=uniform_sampler, n_samples=1000
        ).fit(X, y)


def test_light_tails_do_not_warn():
    f, X, y = genz_data(0, n=300)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        DebiasedFunctionalEstimator(
            quadratic_surrogate(), sampler=uniform_sampler, n_samples=1000
        ).fit(X, y + 0.01 * np.random.default_rng(0).standard_normal(len(y)))


def test_default_surrogate_is_a_gaussian_process_and_debiases():
    f, X, y = genz_data(0, n=100, family="oscillatory")
    est = DebiasedFunctionalEstimator(
        sampler=uniform_sampler, n_samples=5000, random_state=0
    ).fit(X, y)
    assert isinstance(est.estimators_[0], WarpedGaussianProcessRegressor)
    # The smooth and the axis-aligned rough kernel, weighed by the likelihood.
    kernel = est.estimators_[0].gaussian_process_[-1].kernel_
    assert "RBF" in repr(kernel) and "TensorProductMatern" in repr(kernel)
    assert abs(est.estimate_ - f.integral) < 4 * est.standard_error_
    assert est.variance_reduction_ > 50


def test_default_surrogate_models_log_f_when_it_predicts_better():
    # The kinked Genz family is exp(-sum a_i |x_i - u_i|): additive in the log.
    # (With the Genz parameters of genz_seed=1, drawn since issue 12 from a
    # Generator, the unwarped process already gains 60-140x and the ratio is
    # 2-4x; with genz_seed=2 it is 5-8x.)
    f, X, y = genz_data(0, n=100, family="continuous", genz_seed=2)
    est = DebiasedFunctionalEstimator(
        sampler=uniform_sampler, n_samples=5000, random_state=0
    ).fit(X, y)
    assert [m.warp_ for m in est.estimators_] == ["log"] * 5
    unwarped = DebiasedFunctionalEstimator(
        WarpedGaussianProcessRegressor(warp="identity"),
        sampler=uniform_sampler,
        n_samples=5000,
        random_state=0,
    ).fit(X, y)
    assert est.variance_reduction_ > 4 * unwarped.variance_reduction_
    assert abs(est.estimate_ - f.integral) < 4 * est.standard_error_
