"""Looking inside meta-estimators: the one walker through wrapped regressors."""

from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import AdaBoostRegressor, BaggingRegressor
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeRegressor

from ._compat import BaseSearchCV

__all__ = ["unwrap_once", "final_estimator"]

# Deeper nesting than this is taken for a cycle.
_MAX_DEPTH = 32


def unwrap_once(estimator):
    """The regressor one wrapper deep inside ``estimator``, or ``None``.

    Looks through a ``FrozenEstimator``, a ``Pipeline`` (its last step), a
    ``TransformedTargetRegressor`` and a search (``GridSearchCV`` and the
    like; the fitted inner model when there is one, else the unfitted one),
    and an AdaBoost or bagging ensemble (its base regressor, a decision tree
    by default).

    Parameters
    ----------
    estimator : estimator

    Returns
    -------
    inner : estimator or None
        ``None`` when ``estimator`` wraps nothing.
    """
    if isinstance(estimator, FrozenEstimator):
        return estimator.estimator
    if isinstance(estimator, Pipeline):
        return estimator.steps[-1][1] if estimator.steps else None
    if isinstance(estimator, TransformedTargetRegressor):
        return getattr(estimator, "regressor_", estimator.regressor)
    if isinstance(estimator, BaseSearchCV):
        return getattr(estimator, "best_estimator_", estimator.estimator)
    if isinstance(estimator, (AdaBoostRegressor, BaggingRegressor)):
        base = estimator.estimator
        return DecisionTreeRegressor() if base is None else base
    return None


def final_estimator(estimator):
    """The estimator that actually predicts, through every wrapper.

    Parameters
    ----------
    estimator : estimator

    Returns
    -------
    final : estimator
        The innermost regressor (``estimator`` itself when it wraps nothing).

    Examples
    --------
    >>> from sklearn.frozen import FrozenEstimator
    >>> from sklearn.linear_model import Ridge
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_debias.utils import final_estimator
    >>> final_estimator(FrozenEstimator(make_pipeline(StandardScaler(), Ridge())))
    Ridge()
    """
    for _ in range(_MAX_DEPTH):
        inner = unwrap_once(estimator)
        if inner is None or inner is estimator:
            return estimator
        estimator = inner
    raise ValueError(f"estimator nesting deeper than {_MAX_DEPTH} levels")
