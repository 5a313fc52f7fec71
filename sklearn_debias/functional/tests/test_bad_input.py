"""Bad input to DebiasedFunctionalEstimator: each gets an error or a warning naming it.

Splits that do not partition the rows, estimators that are not regressors,
unusable pools and draws, a sampler that does not draw like X, and
DataFrames, which must reach the surrogates as DataFrames.
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import sparse, stats
from scipy.stats import qmc
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import KFold, ShuffleSplit, TimeSeriesSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_debias import DebiasedFunctionalEstimator, SamplerMismatchWarning
from sklearn_debias.functional._sampler_check import compare_with_sampler
from sklearn_debias.functional.tests._data import (
    genz_data,
    quadratic_surrogate,
    uniform_sampler,
)


def _est(**kw):
    kw = {"sampler": uniform_sampler, "n_samples": 200, "random_state": 0, **kw}
    return DebiasedFunctionalEstimator(LinearRegression(), **kw)


# --- splits ---------------------------------------------------------------------------


def test_shuffle_split_is_rejected_before_any_fit():
    f, X, y = genz_data(0, n=100)
    cv = ShuffleSplit(n_splits=5, test_size=0.2, random_state=0)
    with pytest.raises(ValueError, match=r"cv=ShuffleSplit\(.*does not partition"):
        _est(cv=cv).fit(X, y)
    with pytest.raises(ValueError, match="TimeSeriesSplit.*rows are in no test set"):
        _est(cv=TimeSeriesSplit(4)).fit(X, y)


def test_split_list_leaving_rows_out():
    f, X, y = genz_data(0, n=100)
    splits = list(KFold(4).split(X[:90]))  # rows 90..99 are never held out
    with pytest.raises(ValueError, match=r"10 of the 100 rows are in no test set"):
        _est(cv=splits).fit(X, y)


def test_split_list_with_overlapping_test_sets():
    f, X, y = genz_data(0, n=100)
    splits = list(KFold(2).split(X))
    test = np.arange(40, 60)  # in the first fold's test set too
    splits.append((np.setdiff1d(np.arange(100), test), test))
    with pytest.raises(ValueError, match="20 rows are in more than one test set"):
        _est(cv=splits).fit(X, y)


def test_split_whose_train_set_holds_its_test_rows():
    f, X, y = genz_data(0, n=100)
    splits = [(np.arange(100), test) for _, test in KFold(4).split(X)]
    with pytest.raises(ValueError, match="training set contains 25 of its own test"):
        _est(cv=splits).fit(X, y)


def test_split_indices_out_of_range_and_of_wrong_type():
    f, X, y = genz_data(0, n=100)
    bad = [(np.arange(50, 100), np.arange(50)), (np.arange(50), np.arange(50, 101))]
    with pytest.raises(ValueError, match=r"test indices outside \[0, 100\).*100"):
        _est(cv=bad).fit(X, y)
    floats = [(tr.astype(float), te) for tr, te in KFold(2).split(X)]
    with pytest.raises(ValueError, match="not a 1-D array of row indices"):
        _est(cv=floats).fit(X, y)


def test_a_valid_split_list_and_boolean_masks_equal_the_splitter():
    f, X, y = genz_data(0, n=100)
    kfold = KFold(4, shuffle=True, random_state=1)
    ref = _est(cv=kfold).fit(X, y).estimate_
    as_list = list(kfold.split(X))
    masks = [
        (np.isin(np.arange(100), tr), np.isin(np.arange(100), te)) for tr, te in as_list
    ]
    assert _est(cv=as_list).fit(X, y).estimate_ == ref
    assert _est(cv=masks).fit(X, y).estimate_ == ref


# --- the estimator --------------------------------------------------------------------


@pytest.mark.parametrize(
    "estimator",
    [LogisticRegression(), make_pipeline(StandardScaler(), LogisticRegression())],
)
def test_classifier_is_not_a_control_variate(estimator):
    f, X, y = genz_data(0, n=60)
    est = DebiasedFunctionalEstimator(estimator, sampler=uniform_sampler)
    with pytest.raises(
        ValueError, match="(?s)estimator must be a regressor.*classifier"
    ):
        est.fit(X, (y > np.median(y)).astype(float))


def test_string_estimator_names_the_parameter():
    f, X, y = genz_data(0, n=60)
    est = DebiasedFunctionalEstimator("ridge", sampler=uniform_sampler)
    with pytest.raises(ValueError, match="'estimator' parameter.*Got 'ridge'"):
        est.fit(X, y)


# --- pools and draws ------------------------------------------------------------------


@pytest.mark.parametrize(
    "pool, error, match",
    [
        (np.zeros((0, 3)), ValueError, "array pool of 0 rows.*at least 2"),
        (np.full((1, 3), 0.5), ValueError, "array pool of 1 rows.*at least 2"),
        (np.array([[0.1, 0.2, np.nan]] * 5), ValueError, "pool.*non-finite"),
        (sparse.random(50, 3, density=0.5, format="csr"), TypeError, "sparse"),
        (np.array([["a", "b", "c"]] * 5), TypeError, "pool.*not.*numeric|numeric"),
    ],
)
def test_unusable_pool_is_named(pool, error, match):
    f, X, y = genz_data(0, n=60)
    with pytest.raises(error, match=match):
        _est(sampler=pool).fit(X, y)


def test_sparse_draws_are_named():
    f, X, y = genz_data(0, n=60)

    def sparse_sampler(n, rng):
        return sparse.random(n, 3, density=0.5, format="csr", random_state=rng)

    with pytest.raises(ValueError, match="sampler sparse_sampler returned a sparse"):
        _est(sampler=sparse_sampler).fit(X, y)


def test_bounds_only_with_a_qmc_engine():
    f, X, y = genz_data(0, n=60)
    with pytest.raises(ValueError, match="bounds=.*qmc engine only"):
        _est(sampler=stats.uniform(), bounds=(0, 1)).fit(X, y)
    with pytest.raises(ValueError, match="sampler is None"):
        _est(sampler=None, bounds=(0, 1)).fit(X, y)
    sobol = qmc.Sobol(3, seed=0)
    with pytest.raises(ValueError, match="column 1 has lower=1 >= upper=1"):
        _est(sampler=sobol, bounds=([0, 1, 0], [1, 1, 1])).fit(X, y)
    with pytest.raises(ValueError, match="pair .*length n_features=3"):
        _est(sampler=sobol, bounds=([0, 0], [1, 1])).fit(X, y)
    with pytest.raises(ValueError, match="finite"):
        _est(sampler=sobol, bounds=(0, np.inf)).fit(X, y)


def test_vector_parameters_and_lists_of_the_wrong_length():
    f, X, y = genz_data(0, n=60)
    with pytest.raises(ValueError, match=r"parameters of shape \(2,\).*n_features=3"):
        _est(sampler=stats.uniform(loc=[0, 0], scale=1)).fit(X, y)
    with pytest.raises(ValueError, match="list of 2 distributions.*3 features"):
        _est(sampler=[stats.uniform(), stats.norm()]).fit(X, y)
    with pytest.raises(TypeError, match="entry 1 is a str"):
        _est(sampler=[stats.uniform(), "norm", stats.norm()]).fit(X, y)
    multi = [stats.uniform(), stats.multivariate_normal([0, 0]), stats.uniform()]
    with pytest.raises(ValueError, match=r"shape \(200, 2\) from its entry 1"):
        _est(sampler=multi).fit(X, y)


# --- the sampler check ----------------------------------------------------------------


def _physical_units(seed, n=300):
    lower, upper = np.array([100.0, 0.5, -2.0]), np.array([200.0, 1.5, 2.0])
    X = lower + (upper - lower) * np.random.default_rng(seed).uniform(size=(n, 3))
    return X, X[:, 0] / 100 + X[:, 1] * X[:, 2] ** 2, lower, upper


def test_unit_cube_sampler_on_physical_units_warns_and_names_columns():
    # README's stats.uniform() with inputs in physical units: 29 s.e. off.
    X, y, lower, upper = _physical_units(0)
    est = _est(sampler=stats.uniform(), n_samples=2000)
    with pytest.warns(SamplerMismatchWarning, match="does not draw like X") as record:
        est.fit(X, y)
    message = str(record[0].message)
    for part in ["column 0", "column 1", "column 2", "p<1e-16", "X in [100", "units"]:
        assert part in message
    assert "vector parameters" in message and "bounds=" in message
    # A qmc engine on the unit cube too; with the right bounds, no warning.
    with pytest.warns(SamplerMismatchWarning, match="sampler Sobol"):
        _est(sampler=qmc.Sobol(3, seed=0), n_samples=512).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SamplerMismatchWarning)
        _est(sampler=qmc.Sobol(3, seed=0), bounds=(lower, upper)).fit(X, y)
        _est(sampler=stats.uniform(lower, upper - lower)).fit(X, y)


def test_check_sampler_raise_and_ignore():
    X, y, _, _ = _physical_units(0)
    with pytest.raises(ValueError, match="does not draw like X"):
        _est(sampler=stats.uniform(), check_sampler="raise").fit(X, y)
    # A pool is checked before any surrogate is fitted.
    pool = np.random.default_rng(0).uniform(size=(500, 3))
    with pytest.raises(ValueError, match="array pool of 500 draws does not draw"):
        _est(sampler=pool, check_sampler="raise").fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SamplerMismatchWarning)
        ignored = _est(sampler=stats.uniform(), check_sampler="ignore").fit(X, y)
    with pytest.warns(SamplerMismatchWarning):
        warned = _est(sampler=stats.uniform()).fit(X, y)
    # The check draws nothing: the estimate does not depend on it.
    assert warned.estimate_ == ignored.estimate_


def test_column_names_in_the_message():
    pd = pytest.importorskip("pandas")
    X, y, _, _ = _physical_units(0)
    X = pd.DataFrame(X, columns=["temperature", "pressure", "angle"])
    with pytest.warns(SamplerMismatchWarning, match="column 'temperature'"):
        _est(sampler=stats.uniform()).fit(X, y)


def _false_alarms(draw_X, draw_Z, n_seeds=100):
    alarms = 0
    for seed in range(n_seeds):
        rng = np.random.default_rng(seed)
        X, Z = draw_X(rng), draw_Z(rng)
        assert compare_with_sampler(X, Z, action="ignore") is None
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            compare_with_sampler(X, Z)
        alarms += bool(record)
    return alarms / n_seeds


@pytest.mark.parametrize(
    "name",
    ["continuous", "discrete with ties", "constant column", "correlated", "qmc set"],
)
def test_false_alarm_rate_of_correct_samplers(name):
    # 100 independent comparisons of correct samplers: Holm at level 1% over
    # the columns; Kolmogorov-Smirnov is conservative with ties.
    def mixed(rng, n):
        return np.column_stack(
            [
                rng.poisson(2.0, n),  # discrete: many ties
                rng.integers(0, 2, n),  # binary
                rng.normal(size=n).round(1),  # rounded: ties
                rng.exponential(size=n),
            ]
        )

    draws = {
        "continuous": lambda rng, n: rng.normal(size=(n, 5)),
        "discrete with ties": mixed,
        "constant column": lambda rng, n: np.column_stack(
            [np.full(n, 3.0), rng.uniform(size=n)]
        ),
        "correlated": lambda rng, n: np.exp(
            rng.normal(size=(n, 4))
            @ [[1, 2, 0, 1], [0, 1, 1, 0], [0, 0, 1, 2], [0] * 4]
        ),
    }
    if name == "qmc set":
        sobol = qmc.Sobol(4, seed=0).random(1024)
        rate = _false_alarms(lambda rng: rng.uniform(size=(150, 4)), lambda rng: sobol)
    else:
        draw = draws[name]
        rate = _false_alarms(lambda rng: draw(rng, 150), lambda rng: draw(rng, 1000))
    assert rate <= 0.03, rate


def test_the_check_detects_a_shift_of_half_a_standard_deviation():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    Z = rng.normal(size=(5000, 4))
    Z[:, 2] += 0.5
    with pytest.warns(SamplerMismatchWarning, match=r"in column 2 \(Holm"):
        p = compare_with_sampler(X, Z)
    assert p[2] < 1e-6 and np.all(np.delete(p, 2) > 0.01)


def test_independent_columns_for_dependent_x_are_detected():
    # Right marginals, wrong dependence: a list of one distribution per column
    # for correlated inputs.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3)) @ [[1.0, 0.8, 0.0], [0.0, 0.6, 0.0], [0, 0, 1]]
    sampler = [stats.norm(0, 1), stats.norm(0, 1), stats.norm(0, 1)]
    y = X[:, 0] * X[:, 1]
    with pytest.warns(SamplerMismatchWarning) as record:
        est = DebiasedFunctionalEstimator(
            quadratic_surrogate(), sampler=sampler, n_samples=5000, random_state=0
        ).fit(X, y)
    message = str(record[0].message)
    assert "dependence of columns 0 and 1 (rank correlation 0.7" in message
    assert "column 2" not in message and "columns 0 and 2" not in message
    assert "multivariate distribution" in message
    # The surrogate is exact, the draws' E y is 0: the estimate is off.
    assert abs(est.estimate_ - 0.8) > 3 * est.standard_error_


def test_discrete_sampler_in_a_fit_does_not_warn():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.poisson(3, 200), rng.integers(0, 2, 200)]).astype(float)
    y = X[:, 0] + 2 * X[:, 1]
    sampler = [stats.poisson(3), stats.bernoulli(0.5)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", SamplerMismatchWarning)
        est = DebiasedFunctionalEstimator(
            LinearRegression(), sampler=sampler, n_samples=5000, random_state=0
        ).fit(X, y)
    assert abs(est.estimate_ - 4.0) < 3 * est.standard_error_


@pytest.mark.slow
def test_false_alarm_rate_over_600_fits():
    # Whole fits with correct samplers (a callable, a univariate distribution,
    # a Sobol' set), 200 seeds each: about 1% warn (measured 6, 3 and 1 of
    # 200); at most 3% overall.
    samplers = [
        lambda seed: {"sampler": uniform_sampler, "n_samples": 5000},
        lambda seed: {"sampler": stats.uniform(), "n_samples": 20_000},
        lambda seed: {"sampler": qmc.Sobol(3, seed=seed), "n_samples": 4096},
    ]
    alarms = 0
    for make in samplers:
        for seed in range(200):
            f, X, y = genz_data(seed, n=100)
            with warnings.catch_warnings(record=True) as record:
                warnings.simplefilter("always", SamplerMismatchWarning)
                _est(random_state=seed, **make(seed)).fit(X, y)
            alarms += any(r.category is SamplerMismatchWarning for r in record)
    assert alarms <= 18, alarms


# --- DataFrames -----------------------------------------------------------------------


class _RecordsInput(RegressorMixin, BaseEstimator):
    """Ridge that records the type and columns of what it is given."""

    def fit(self, X, y):
        self.fit_input_ = (type(X).__name__, list(getattr(X, "columns", [])))
        self.ridge_ = Ridge(alpha=1e-6).fit(np.asarray(X, dtype=float), y)
        return self

    def predict(self, X):
        self.predict_inputs_ = [
            *getattr(self, "predict_inputs_", []),
            (type(X).__name__, dict(getattr(X, "dtypes", {}))),
        ]
        return self.ridge_.predict(np.asarray(X, dtype=float))


def test_dataframe_reaches_the_surrogates_as_a_dataframe():
    pd = pytest.importorskip("pandas")
    from sklearn.compose import ColumnTransformer

    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "a": rng.uniform(size=200),
            "b": rng.integers(0, 5, 200),
            "c": rng.uniform(size=200),
        }
    )
    y = 2 * X["a"].to_numpy() + X["c"].to_numpy() ** 2 + rng.normal(0, 0.01, 200)

    def sampler(n, rng):
        return np.column_stack(
            [rng.uniform(size=n), rng.integers(0, 5, n), rng.uniform(size=n)]
        )

    # The columns are selected by name: this fails on an ndarray.
    select = ColumnTransformer([("keep", "passthrough", ["a", "c"])])
    pipe = make_pipeline(select, Ridge(alpha=1e-6))
    est = DebiasedFunctionalEstimator(pipe, sampler=sampler, n_samples=2000)
    est.set_params(random_state=0).fit(X, y)
    assert abs(est.estimate_ - (1 + 1 / 3)) < 3 * est.standard_error_
    assert_allclose(est.predict(X), est.oof_predictions_, atol=0.05)
    # The same fit on an ndarray with the columns selected by position.
    positional = ColumnTransformer([("keep", "passthrough", [0, 2])])
    ref = DebiasedFunctionalEstimator(
        make_pipeline(positional, Ridge(alpha=1e-6)),
        sampler=sampler,
        n_samples=2000,
        random_state=0,
    ).fit(X.to_numpy(), y)
    assert_allclose(est.estimate_, ref.estimate_, rtol=1e-12)
    assert_allclose(est.predict(X), ref.predict(X.to_numpy()), rtol=1e-12)
    # An ndarray at predict time is wrapped with the fitted column names.
    with pytest.warns(UserWarning, match="feature names"):
        assert_allclose(est.predict(X.to_numpy()), est.predict(X), rtol=1e-12)

    # What the surrogates see: DataFrame rows, and the draws as a DataFrame
    # with X's columns, an integer column kept integer.
    rec = DebiasedFunctionalEstimator(
        _RecordsInput(), sampler=sampler, n_samples=100, cv=2, random_state=0
    ).fit(X, y)
    fold = rec.estimators_[0]
    assert fold.fit_input_ == ("DataFrame", ["a", "b", "c"])
    kinds = [
        (name, {k: v.kind for k, v in dtypes.items()})
        for name, dtypes in fold.predict_inputs_
    ]
    assert kinds == [("DataFrame", {"a": "f", "b": "i", "c": "f"})] * 2
