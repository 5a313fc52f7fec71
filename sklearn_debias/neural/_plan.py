"""How to evaluate a fitted estimator as a torch function of its raw inputs.

A *plan* reads a supported estimator (a torch module, a skorch net, an
:class:`MLPSurrogate`, and the wrappers around them that
:func:`sklearn_debias.utils.unwrap_once` looks through: pipelines of affine
steps, affine target transforms, frozen estimators, fitted searches) as
``prediction = c * module(a * x + b) + e``. Never imports torch.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any, NamedTuple

import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MaxAbsScaler,
    MinMaxScaler,
    StandardScaler,
)

from ..utils import unwrap_once
from ..utils._compat import BaseSearchCV
from ._mlp import MLPSurrogate, to_float32
from ._pinn import PINNRegressor

__all__ = ["supports_autograd"]


class _Plan(NamedTuple):
    """How to evaluate an estimator as a torch function of its raw inputs."""

    transforms: list  # fitted sklearn steps applied before the module
    affines: list  # their (a, b) pairs: z = a * x + b, elementwise per column
    module: object  # torch.nn.Module
    nonlinearity: object  # callable applied to the module output, or None
    out_affine: tuple  # (c, e): prediction = c * output + e
    predictor: object  # estimator whose predict the function must reproduce


def _is_torch_object(obj):
    """True if obj's class comes from torch or skorch, without importing them."""
    if "torch" not in sys.modules:
        return False
    return any(
        (getattr(cls, "__module__", "") or "").split(".")[0] in ("torch", "skorch")
        for cls in type(obj).__mro__
    )


def _is_cast(func, n_features):
    """True if func is (numerically) a dtype cast to float32 or float64."""
    if func is None or func is to_float32:
        return True
    probe = np.linspace(-1e3, 1e3, 5 * n_features).reshape(5, n_features) ** 3 / 7
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = np.asarray(func(probe.copy()), dtype=np.float64)
    except Exception:
        return False
    if out.shape != probe.shape:
        return False
    as32 = probe.astype(np.float32).astype(np.float64)
    return bool(np.array_equal(out, probe) or np.array_equal(out, as32))


def _affine_of(step):
    """List of (a, b) pairs for a fitted affine transformer, None if not one."""
    if step is None or (isinstance(step, str) and step == "passthrough"):
        return []
    if isinstance(step, Pipeline):
        pairs = []
        for _, sub in step.steps:
            sub_pairs = _affine_of(sub)
            if sub_pairs is None:
                return None
            pairs += sub_pairs
        return pairs
    if isinstance(step, StandardScaler):
        if not hasattr(step, "n_features_in_"):
            return None
        a = 1.0 / step.scale_ if step.scale_ is not None else 1.0
        b = -step.mean_ * a if step.mean_ is not None else 0.0
        return [(a, b)]
    if isinstance(step, MinMaxScaler):
        if not hasattr(step, "scale_") or step.clip:
            return None
        return [(step.scale_, step.min_)]
    if isinstance(step, MaxAbsScaler):
        if not hasattr(step, "scale_"):
            return None
        return [(1.0 / step.scale_, 0.0)]
    if isinstance(step, FunctionTransformer):
        n_features = getattr(step, "n_features_in_", 4)
        return [] if _is_cast(step.func, n_features) else None
    return None


def _wrapper_layer(estimator):
    """What a supported wrapper adds around the estimator it wraps.

    Returns ``(transforms, affines, target_pairs)``: the fitted input steps
    applied before the inner estimator, their affine maps, and the affine maps
    ``z = a y + b`` of a target transform; ``None`` for a wrapper that cannot
    be followed (unfitted, non-affine steps, an ensemble).
    """
    if isinstance(estimator, FrozenEstimator):
        return [], [], []
    if isinstance(estimator, BaseSearchCV):
        return ([], [], []) if hasattr(estimator, "best_estimator_") else None
    if isinstance(estimator, Pipeline):
        transforms, affines = [], []
        for _, step in estimator.steps[:-1]:
            pairs = _affine_of(step)
            if pairs is None:
                return None
            if step is not None and step != "passthrough":
                transforms.append(step)
            affines += pairs
        return transforms, affines, []
    if isinstance(estimator, TransformedTargetRegressor):
        if not hasattr(estimator, "regressor_"):
            return None
        pairs = _affine_of(estimator.transformer_)
        if pairs is None or any(np.size(a) != 1 or np.size(b) != 1 for a, b in pairs):
            return None
        return [], [], pairs
    return None  # AdaBoost, bagging: an average of fitted copies


def _torch_plan(estimator):
    """A _Plan for a torch module or a fitted skorch net, else None."""
    if not _is_torch_object(estimator):
        return None
    torch = sys.modules["torch"]
    if isinstance(estimator, torch.nn.Module):
        module = getattr(estimator, "_orig_mod", estimator)  # torch.compile
        return _Plan([], [], module, None, (1.0, 0.0), None)
    skorch = sys.modules.get("skorch")
    if skorch is not None and isinstance(estimator, skorch.NeuralNet):
        module = getattr(estimator, "module_", None)
        if not getattr(estimator, "initialized_", False) or not isinstance(
            module, torch.nn.Module
        ):
            return None
        module = getattr(module, "_orig_mod", module)
        try:
            nonlinearity = estimator._get_predict_nonlinearity()
        except Exception:
            return None
        return _Plan([], [], module, nonlinearity, (1.0, 0.0), estimator)
    return None


def _resolve(estimator):
    """Return a _Plan for a supported fitted estimator, else None.

    Wrappers are looked through with :func:`sklearn_debias.utils.unwrap_once`;
    each supported one adds its layer (input transforms, target transform).
    """
    if isinstance(estimator, MLPSurrogate):
        if not hasattr(estimator, "net_"):
            return None
        plan = _resolve(estimator.net_)
        if plan is None:
            return None
        # The float64 copy made at fit: autograd need not copy it again.
        module = getattr(estimator, "_eval_module", plan.module)
        return plan._replace(module=module, predictor=estimator)
    if isinstance(estimator, PINNRegressor):
        module = getattr(estimator, "_eval_module", None)
        return (
            None
            if module is None
            else _Plan([], [], module, None, (1.0, 0.0), estimator)
        )
    inner = unwrap_once(estimator)
    if inner is None:
        return _torch_plan(estimator)
    layer = _wrapper_layer(estimator)
    plan = None if layer is None else _resolve(inner)
    if plan is None:
        return None
    transforms, affines, target_pairs = layer
    out_affine = plan.out_affine
    if target_pairs:
        c, e = out_affine
        for a, b in reversed(target_pairs):  # invert z = a y + b, last step first
            c, e = c / a, (e - b) / a
        out_affine = (float(np.ravel(c)[0]), float(np.ravel(e)[0]))
    return plan._replace(
        transforms=transforms + plan.transforms,
        affines=affines + plan.affines,
        out_affine=out_affine,
        predictor=estimator,
    )


def supports_autograd(estimator: Any) -> bool:
    """Whether :func:`autograd_derivatives` can differentiate ``estimator``.

    Parameters
    ----------
    estimator : object
        A fitted :class:`MLPSurrogate`, a fitted skorch ``NeuralNet``, a torch
        ``nn.Module``, a fitted :class:`~sklearn.pipeline.Pipeline` whose last
        step is one of those and whose other steps are affine or casts
        (``StandardScaler``, ``MinMaxScaler(clip=False)``, ``MaxAbsScaler``,
        ``FunctionTransformer`` with ``func=None`` or a dtype cast such as
        :func:`to_float32`, ``"passthrough"``), or a fitted
        :class:`~sklearn.compose.TransformedTargetRegressor` with such a
        regressor and an affine target transformer, or a fitted
        ``GridSearchCV``/``RandomizedSearchCV`` whose ``best_estimator_`` is one,
        or a :class:`~sklearn.frozen.FrozenEstimator` around any of these.

    Returns
    -------
    supported : bool
        True if exact autograd derivatives are available. Never imports torch.

    See Also
    --------
    autograd_derivatives : The derivatives themselves.

    Examples
    --------
    >>> from sklearn.linear_model import Ridge
    >>> from sklearn_debias.neural import MLPSurrogate, supports_autograd
    >>> supports_autograd(Ridge())
    False
    >>> supports_autograd(MLPSurrogate())  # not fitted yet
    False
    """
    try:
        return _resolve(estimator) is not None
    except Exception:
        return False
