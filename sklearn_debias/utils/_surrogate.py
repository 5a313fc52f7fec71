"""Checked calls of a wrapped surrogate: one place that validates its output."""

import numpy as np
from sklearn.exceptions import UnsetMetadataPassedError

__all__ = ["SurrogateError", "checked_fit", "checked_predict"]


class SurrogateError(RuntimeError):
    """A wrapped surrogate regressor raised, or returned unusable predictions.

    Raised when the surrogate's ``fit`` or ``predict`` raises (the original
    exception is chained as ``__cause__``), or when its predictions have the
    wrong shape or are not finite.
    """


def checked_fit(estimator, X, y, what="the training data", **fit_params):
    """``estimator.fit(X, y, **fit_params)``, re-raised as :class:`SurrogateError`.

    Parameters
    ----------
    estimator : regressor
        Fitted in place.
    X, y : array-like
        Training data.
    what : str, default="the training data"
        Names the data in the error message.
    **fit_params : dict
        Passed to ``fit``.

    Returns
    -------
    estimator : regressor
        The fitted ``estimator``.
    """
    try:
        estimator.fit(X, y, **fit_params)
    except UnsetMetadataPassedError:
        raise  # scikit-learn's own routing error, about the user's request
    except Exception as exc:
        raise SurrogateError(
            f"the surrogate {estimator!r} raised while fitting {what}: {exc}"
        ) from exc
    return estimator


def checked_predict(estimator, X, what="the query points", dtype=np.float64):
    """One prediction per row of ``X``, finite, as a 1-D float array.

    Parameters
    ----------
    estimator : fitted regressor, or a callable ``X -> predictions``
        The surrogate.
    X : array-like of shape (n, n_features)
        Points.
    what : str, default="the query points"
        Names the points in error messages.
    dtype : numpy dtype or None, default=float64
        Dtype of the result; ``None`` keeps the surrogate's (used to measure
        its output precision).

    Returns
    -------
    predictions : ndarray of shape (n,)

    Raises
    ------
    SurrogateError
        If the surrogate raises, or returns a shape other than ``(n,)`` or
        ``(n, 1)``, or a non-finite value.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> from sklearn_debias.utils import checked_predict
    >>> X = np.arange(6.0).reshape(3, 2)
    >>> checked_predict(LinearRegression().fit(X, X[:, 0]), X).round(6)
    array([0., 2., 4.])
    """
    predict = (
        estimator
        if callable(estimator) and not hasattr(estimator, "predict")
        else estimator.predict
    )
    try:
        pred = predict(X)
    except SurrogateError:
        raise
    except Exception as exc:
        raise SurrogateError(
            f"the surrogate {estimator!r} raised while predicting {what}: {exc}"
        ) from exc
    pred = np.asarray(pred)
    if dtype is not None:
        pred = pred.astype(dtype, copy=False)
    if pred.ndim == 2 and pred.shape[1] == 1:
        pred = pred[:, 0]
    n = X.shape[0]
    if pred.shape != (n,):
        raise SurrogateError(
            f"the surrogate returned predictions of shape {pred.shape} on {what}; "
            f"expected ({n},): one value per row"
        )
    if not np.all(np.isfinite(pred)):
        raise SurrogateError(
            f"the surrogate returned non-finite predictions (NaN or inf) on {what}"
        )
    return pred
