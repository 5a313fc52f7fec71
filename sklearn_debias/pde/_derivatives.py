"""Derivatives of a fitted surrogate: autograd when possible, else finite differences.

The PDE residual of a surrogate ``û`` needs its value, gradient and Laplacian.
Torch-backed regressors (skorch nets, :class:`~sklearn_debias.neural.MLPSurrogate`,
pipelines around them) are differentiated exactly by
:func:`sklearn_debias.neural.autograd_derivatives`; any other regressor by
central differences on its ``predict``. Piecewise-constant regressors (trees,
forests, boosting, nearest neighbours) and ReLU networks have a zero Laplacian
almost everywhere, which makes the residual meaningless: they get a warning.
"""

import warnings

import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import (
    AdaBoostRegressor,
    BaggingRegressor,
    GradientBoostingRegressor,
    HistGradientBoostingRegressor,
)
from sklearn.ensemble._forest import ForestRegressor
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection._search import BaseSearchCV
from sklearn.neighbors import KNeighborsRegressor, RadiusNeighborsRegressor
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.tree import BaseDecisionTree, DecisionTreeRegressor

__all__ = [
    "DERIVATIVE_METHODS",
    "resolve_derivative_method",
    "surrogate_derivatives",
    "finite_difference_derivatives",
    "randomized_laplacian",
]

DERIVATIVE_METHODS = ("auto", "autograd", "finite_difference", "randomized")

# Elements (rows x columns x evaluations) of one block of perturbed inputs.
_BLOCK_ELEMENTS = 1 << 22

_PIECEWISE_CONSTANT = (
    BaseDecisionTree,
    ForestRegressor,
    GradientBoostingRegressor,
    HistGradientBoostingRegressor,
    KNeighborsRegressor,
    RadiusNeighborsRegressor,
)


def _final_estimator(estimator):
    """The estimator that actually predicts, through common wrappers."""
    for _ in range(20):
        if isinstance(estimator, FrozenEstimator):
            estimator = estimator.estimator
        elif isinstance(estimator, Pipeline):
            estimator = estimator.steps[-1][1]
        elif isinstance(estimator, TransformedTargetRegressor):
            estimator = getattr(estimator, "regressor_", estimator.regressor)
        elif isinstance(estimator, BaseSearchCV):
            estimator = getattr(estimator, "best_estimator_", estimator.estimator)
        elif isinstance(estimator, (AdaBoostRegressor, BaggingRegressor)):
            base = estimator.estimator
            if base is None:  # both default to a decision tree
                return DecisionTreeRegressor()
            estimator = base
        else:
            break
    return estimator


def _piecewise_reason(estimator):
    final = _final_estimator(estimator)
    if isinstance(final, _PIECEWISE_CONSTANT):
        return (
            f"{type(final).__name__} is piecewise constant: its derivatives vanish "
            "almost everywhere (and finite differences across its jumps are "
            "arbitrary)"
        )
    if isinstance(final, MLPRegressor) and final.activation in ("relu", "identity"):
        return (
            f"MLPRegressor(activation={final.activation!r}) is piecewise linear: its "
            "Laplacian vanishes almost everywhere; use activation='tanh'"
        )
    return None


def _unfrozen(estimator):
    """The estimator inside a ``FrozenEstimator``, or ``estimator`` itself."""
    return estimator.estimator if isinstance(estimator, FrozenEstimator) else estimator


def _check_derivative_method(method):
    if method not in DERIVATIVE_METHODS:
        raise ValueError(
            f"derivatives must be one of {DERIVATIVE_METHODS}, got {method!r}"
        )


def _supports_autograd(estimator):
    try:
        from sklearn_debias.neural import supports_autograd
    except ImportError:  # pragma: no cover - neural is part of the package
        return False
    return bool(supports_autograd(estimator))


def resolve_derivative_method(estimator, method):
    """Choose how to differentiate a fitted surrogate, warning when it cannot work.

    Parameters
    ----------
    estimator : fitted regressor
        The surrogate.
    method : {"auto", "autograd", "finite_difference", "randomized"}
        ``"auto"`` picks autograd when the estimator supports it.

    Returns
    -------
    method : {"autograd", "finite_difference", "randomized"}
    """
    _check_derivative_method(method)
    reason = _piecewise_reason(estimator)
    if reason is not None:
        warnings.warn(
            f"{reason}. The PDE residual of this surrogate is unreliable and so is "
            "the simulated correction; prefer a smooth surrogate (a tanh network, "
            "kernel ridge with a smooth kernel, a Gaussian process).",
            UserWarning,
            stacklevel=3,
        )
    if method in ("finite_difference", "randomized"):
        return method
    unwrapped = _unfrozen(estimator)
    if _supports_autograd(unwrapped):
        return "autograd"
    if method == "autograd":
        raise ValueError(
            f"derivatives='autograd' needs a torch-backed surrogate (see "
            f"sklearn_debias.neural.supports_autograd); {type(unwrapped).__name__} "
            "is not one. Use derivatives='finite_difference'."
        )
    return "finite_difference"


def _output_precision(f0):
    """Machine epsilon of the surrogate's arithmetic, judged from its output.

    float32 outputs, and float64 outputs that are all exactly float32 numbers
    (a float32 network whose predictions were cast), get float32's epsilon.
    """
    if f0.dtype == np.float32 or (
        f0.dtype == np.float64 and np.array_equal(f0, f0.astype(np.float32))
    ):
        return float(np.finfo(np.float32).eps)
    return float(np.finfo(np.float64).eps)


def finite_difference_derivatives(predict, X, laplacian_columns):
    """Value, gradient and partial Laplacian of ``predict`` by central differences.

    The step in column ``j`` at a point is ``h = η^{1/4} max(1, |x_j|)``, made
    exactly representable, with ``η`` the machine epsilon of ``predict``'s
    arithmetic (float32 when its outputs are float32 numbers): it balances the
    ``O(h²)`` truncation error of the second difference against its
    ``O(η/h²)`` rounding error (the first difference shares the step; its
    error is ``O(h²) + O(η/h)``, smaller still).

    Parameters
    ----------
    predict : callable
        ``predict(X) -> (n,)``.
    X : ndarray of shape (n, p)
        Points.
    laplacian_columns : array-like of int
        Columns whose second derivatives are summed.

    Returns
    -------
    value : ndarray of shape (n,)
    gradient : ndarray of shape (n, p)
    laplacian : ndarray of shape (n,)
    """
    X = np.asarray(X, dtype=np.float64)
    n, p = X.shape
    cols = np.asarray(laplacian_columns, dtype=int)
    value = np.empty(n)
    gradient = np.empty((n, p))
    laplacian = np.empty(n)
    block = max(1, _BLOCK_ELEMENTS // ((2 * p + 1) * p))
    for start in range(0, n, block):
        x = X[start : start + block]
        m = x.shape[0]
        f0 = np.asarray(predict(x))
        eta = _output_precision(f0)
        h = eta**0.25 * np.maximum(1.0, np.abs(x))
        h = (x + h) - x  # exactly representable steps
        shifted = np.repeat(x[None], 2 * p, axis=0)  # (2p, m, p)
        idx = np.arange(p)
        shifted[idx, :, idx] += h.T
        shifted[p + idx, :, idx] -= h.T
        f = np.asarray(predict(shifted.reshape(-1, p)), dtype=np.float64)
        f = f.reshape(2 * p, m)
        fp, fm = f[:p].T, f[p:].T  # (m, p)
        f0 = f0.astype(np.float64).reshape(m)
        value[start : start + m] = f0
        gradient[start : start + m] = (fp - fm) / (2.0 * h)
        second = (fp - 2.0 * f0[:, None] + fm) / h**2
        laplacian[start : start + m] = second[:, cols].sum(axis=1)
    return value, gradient, laplacian


def randomized_laplacian(predict, X, rng):
    """Value and an unbiased one-probe estimate of the Laplacian of ``predict``.

    With a Rademacher vector ``v``, ``E[vᵀ H v] = tr H = Δf``; the second
    directional difference ``(f(x + hv) - 2f(x) + f(x - hv)) / h²`` estimates
    ``vᵀ H v`` to ``O(h²)`` with three evaluations per point, whatever the
    dimension (central differences need ``2d + 1``). Inside a Monte Carlo
    simulation the probe's noise averages out with the paths'.

    Parameters
    ----------
    predict : callable
        ``predict(X) -> (n,)``.
    X : ndarray of shape (n, p)
        Points.
    rng : numpy.random.Generator
        Source of the probes.

    Returns
    -------
    value : ndarray of shape (n,)
    laplacian : ndarray of shape (n,)
        One unbiased (up to ``O(h²)``) draw per point.
    """
    X = np.asarray(X, dtype=np.float64)
    n, p = X.shape
    f0 = np.asarray(predict(X))
    eta = _output_precision(f0)
    f0 = f0.astype(np.float64)
    h = eta**0.25 * np.maximum(1.0, np.abs(X).max(axis=1))
    v = rng.choice(np.array([-1.0, 1.0]), size=(n, p))
    f = np.asarray(predict(np.concatenate([X + h[:, None] * v, X - h[:, None] * v])))
    f = f.astype(np.float64)
    return f0, (f[:n] - 2.0 * f0 + f[n:]) / h**2


def _predict_checked(estimator, X):
    out = np.asarray(estimator.predict(X))
    if out.ndim == 2 and out.shape[1] == 1:
        out = out[:, 0]
    if out.shape != (X.shape[0],):
        raise ValueError(
            f"the surrogate must predict one value per row: expected shape "
            f"({X.shape[0]},), got {out.shape}"
        )
    if not np.all(np.isfinite(out)):
        raise ValueError("the surrogate predicted non-finite values")
    return out


def surrogate_derivatives(estimator, X, laplacian_columns, method):
    """Value, gradient and Laplacian of a fitted surrogate at the rows of ``X``.

    Parameters
    ----------
    estimator : fitted regressor
        The surrogate.
    X : ndarray of shape (n, p)
        Points.
    laplacian_columns : array-like of int
        Columns of the Laplacian (the spatial ones).
    method : {"autograd", "finite_difference"}
        As returned by :func:`resolve_derivative_method`.

    Returns
    -------
    value : ndarray of shape (n,)
    gradient : ndarray of shape (n, p)
    laplacian : ndarray of shape (n,)
    """
    if method == "autograd":
        from sklearn_debias.neural import autograd_derivatives

        value, gradient, laplacian = autograd_derivatives(
            _unfrozen(estimator), X, np.asarray(laplacian_columns, dtype=int)
        )
    else:
        value, gradient, laplacian = finite_difference_derivatives(
            lambda Z: _predict_checked(estimator, Z), X, laplacian_columns
        )
    for name, arr in (
        ("value", value),
        ("gradient", gradient),
        ("Laplacian", laplacian),
    ):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"the surrogate's {name} is not finite at some points")
    return (
        np.asarray(value, dtype=np.float64),
        np.asarray(gradient, dtype=np.float64),
        np.asarray(laplacian, dtype=np.float64),
    )
