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
from sklearn.ensemble import GradientBoostingRegressor, HistGradientBoostingRegressor
from sklearn.neighbors import KNeighborsRegressor, RadiusNeighborsRegressor
from sklearn.neural_network import MLPRegressor
from sklearn.tree import BaseDecisionTree

from ..utils import SurrogateError, checked_predict, final_estimator
from ..utils._compat import ForestRegressor

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


def _piecewise_reason(estimator):
    final = final_estimator(estimator)
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


def _surrogate_predict(estimator, what):
    """``X -> checked_predict(estimator, X, what)`` in the surrogate's own dtype.

    The dtype is kept so that :func:`finite_difference_derivatives` can size
    its steps to the surrogate's arithmetic.
    """
    return lambda X: checked_predict(estimator, X, what, dtype=None)


def _check_finite(values, name):
    """Raise :class:`~sklearn_debias.SurrogateError` unless ``values`` is finite."""
    if not np.all(np.isfinite(values)):
        raise SurrogateError(f"the surrogate's {name} is not finite at some points")
    return values


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
    if method not in DERIVATIVE_METHODS:
        raise ValueError(
            f"derivatives must be one of {DERIVATIVE_METHODS}, got {method!r}"
        )
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
    if _supports_autograd(estimator):
        return "autograd"
    if method == "autograd":
        name = type(final_estimator(estimator)).__name__
        raise ValueError(
            f"derivatives='autograd' needs a torch-backed surrogate (see "
            f"sklearn_debias.neural.supports_autograd); {name} is not one. Use "
            "derivatives='finite_difference'."
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

    Raises
    ------
    SurrogateError
        If the surrogate's predictions or derivatives are unusable (wrong
        shape, not finite, or a network that autograd cannot follow).
    """
    if method == "autograd":
        from sklearn_debias.neural import autograd_derivatives

        try:
            value, gradient, laplacian = autograd_derivatives(
                estimator, X, np.asarray(laplacian_columns, dtype=int)
            )
        except ValueError as exc:  # X is valid here: the network is at fault
            raise SurrogateError(
                f"autograd could not differentiate the surrogate: {exc}"
            ) from exc
    else:
        value, gradient, laplacian = finite_difference_derivatives(
            _surrogate_predict(estimator, "the points of the simulation"),
            X,
            laplacian_columns,
        )
    return tuple(
        np.asarray(_check_finite(arr, name), dtype=np.float64)
        for name, arr in (
            ("value", value),
            ("gradient", gradient),
            ("Laplacian", laplacian),
        )
    )
