"""The one check of a surrogate's output, and the one meta-estimator walker."""

import numpy as np
import pytest
from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import BaggingRegressor
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeRegressor

from sklearn_debias.utils import (
    SurrogateError,
    checked_fit,
    checked_predict,
    final_estimator,
    unwrap_once,
)

X = np.arange(12.0).reshape(6, 2)
y = X[:, 0] - X[:, 1] ** 2


class _Returns:
    def __init__(self, value):
        self.value = value

    def predict(self, X):
        return self.value

    def __repr__(self):
        return "Returns()"


def test_checked_predict_accepts_column_and_casts():
    out = checked_predict(_Returns(np.ones((6, 1), dtype=np.float32)), X)
    assert out.shape == (6,) and out.dtype == np.float64
    kept = checked_predict(_Returns(np.ones(6, dtype=np.float32)), X, dtype=None)
    assert kept.dtype == np.float32


@pytest.mark.parametrize(
    "value, match",
    [
        (np.ones(5), r"shape \(5,\).*expected \(6,\)"),
        (np.ones((6, 2)), r"shape \(6, 2\)"),
        (np.r_[np.ones(5), np.nan], "non-finite"),
        (np.r_[np.ones(5), np.inf], "non-finite"),
    ],
)
def test_checked_predict_rejects_bad_output(value, match):
    with pytest.raises(SurrogateError, match=match):
        checked_predict(_Returns(value), X, "the test points")


def test_checked_calls_chain_the_surrogates_exception():
    class Broken(LinearRegression):
        def predict(self, X):
            raise ZeroDivisionError("boom")

    with pytest.raises(SurrogateError, match="raised while predicting") as info:
        checked_predict(Broken(), X)
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    with pytest.raises(SurrogateError, match="raised while fitting") as info:
        checked_fit(Ridge(alpha="bad"), X, y)
    assert info.value.__cause__ is not None
    assert isinstance(SurrogateError("x"), RuntimeError)


def test_final_estimator_through_wrappers():
    ridge = Ridge()
    pipe = make_pipeline(StandardScaler(), ridge)
    assert final_estimator(pipe) is ridge
    assert final_estimator(FrozenEstimator(pipe)) is ridge
    ttr = TransformedTargetRegressor(regressor=pipe)
    assert final_estimator(ttr) is ridge
    fitted = TransformedTargetRegressor(regressor=Ridge()).fit(X, y)
    assert final_estimator(fitted) is fitted.regressor_
    search = GridSearchCV(Ridge(), {"alpha": [1.0]}, cv=2).fit(X, y)
    assert final_estimator(search) is search.best_estimator_
    assert isinstance(final_estimator(BaggingRegressor()), DecisionTreeRegressor)
    assert final_estimator(ridge) is ridge
    assert unwrap_once(ridge) is None
