"""A regressor defined by a function, for tests, benchmarks and examples."""

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["FunctionRegressor"]


class FunctionRegressor(RegressorMixin, BaseEstimator):
    """A "surrogate" that predicts ``func(X)``; ``fit`` only records the shape.

    Used to build synthetic surrogates ``û = u + δφ`` with a known, smooth
    error, so that the debiasing can be checked against exact solutions.

    Parameters
    ----------
    func : callable
        ``func(X) -> ndarray of shape (n,)``.

    Attributes
    ----------
    n_features_in_ : int
        Number of input columns seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias.pde._testing import FunctionRegressor
    >>> reg = FunctionRegressor(lambda X: X.sum(axis=1)).fit(np.ones((2, 3)), [0, 0])
    >>> reg.predict(np.ones((1, 3)))
    array([3.])
    """

    def __init__(self, func=None):
        self.func = func

    def fit(self, X, y=None):
        """Record the number of features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.
        y : ignored
            Not used.

        Returns
        -------
        self : FunctionRegressor
        """
        validate_data(self, X)
        return self

    def predict(self, X):
        """Evaluate the function.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Inputs.

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return np.asarray(self.func(X), dtype=np.float64)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "n_features_in_")
