"""Exact derivatives of torch-backed regressors by automatic differentiation.

``supports_autograd`` never imports torch: an estimator can only hold a torch
module if torch is already imported, so the check looks at class modules and
``sys.modules``. ``autograd_derivatives`` imports torch only for estimators that
pass that check.
"""

import copy
import sys
import warnings
from typing import NamedTuple

import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MaxAbsScaler,
    MinMaxScaler,
    StandardScaler,
)
from sklearn.utils.validation import check_array

from ._mlp import MLPSurrogate, to_float32


class Derivatives(NamedTuple):
    """Value, gradient and Laplacian of a surrogate at query points.

    Unpacks like a tuple: ``value, gradient, laplacian = autograd_derivatives(...)``.
    """

    value: np.ndarray
    gradient: np.ndarray
    laplacian: np.ndarray


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


def _resolve(estimator):
    """Return a _Plan for a supported fitted estimator, else None."""
    if isinstance(estimator, MLPSurrogate):
        if not hasattr(estimator, "net_"):
            return None
        plan = _resolve(estimator.net_)
        return None if plan is None else plan._replace(predictor=estimator)
    if isinstance(estimator, Pipeline):
        if not estimator.steps:
            return None
        transforms, affines = [], []
        for _, step in estimator.steps[:-1]:
            pairs = _affine_of(step)
            if pairs is None:
                return None
            if step is not None and step != "passthrough":
                transforms.append(step)
            affines += pairs
        plan = _resolve(estimator.steps[-1][1])
        if plan is None:
            return None
        return plan._replace(
            transforms=transforms + plan.transforms,
            affines=affines + plan.affines,
            predictor=estimator,
        )
    if isinstance(estimator, FrozenEstimator):
        plan = _resolve(estimator.estimator)
        return None if plan is None else plan._replace(predictor=estimator)
    if isinstance(estimator, GridSearchCV | RandomizedSearchCV):
        if not hasattr(estimator, "best_estimator_"):
            return None
        plan = _resolve(estimator.best_estimator_)
        return None if plan is None else plan._replace(predictor=estimator)
    if isinstance(estimator, TransformedTargetRegressor):
        if not hasattr(estimator, "regressor_"):
            return None
        pairs = _affine_of(estimator.transformer_)
        if pairs is None or any(np.size(a) != 1 or np.size(b) != 1 for a, b in pairs):
            return None
        plan = _resolve(estimator.regressor_)
        if plan is None:
            return None
        c, e = plan.out_affine
        for a, b in reversed(pairs):  # invert z = a y + b, last step first
            c, e = c / a, (e - b) / a
        c, e = float(np.ravel(c)[0]), float(np.ravel(e)[0])
        return plan._replace(out_affine=(c, e), predictor=estimator)
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


def supports_autograd(estimator):
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


def _module_device(torch, module):
    for tensor in list(module.parameters()) + list(module.buffers()):
        return tensor.device
    return torch.device("cpu")


def _module_dtype(torch, module):
    for tensor in list(module.parameters()) + list(module.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.float32


def _is_identity(fn):
    return fn is None or (
        getattr(fn, "__name__", "") == "_identity"
        and getattr(fn, "__module__", "").startswith("skorch")
    )


def _backward_batch(torch, plan, module, x, cols, affines):
    """Value, gradient, Laplacian of one batch by (double) backward passes."""
    x.requires_grad_(True)
    with torch.enable_grad():
        z = x
        for a, b in affines:
            z = z * a + b
        out = module(z)
        if isinstance(out, (tuple, list)):  # skorch convention: first output
            out = out[0]
        if plan.nonlinearity is not None:
            out = plan.nonlinearity(out)
        _check_output(out, x.shape[0])
        c, e = plan.out_affine
        u = c * out.reshape(-1) + e
        g = None
        if u.requires_grad:
            (g,) = torch.autograd.grad(
                u.sum(), x, create_graph=len(cols) > 0, allow_unused=True
            )
        if g is None:
            g = torch.zeros_like(x)
        lap = torch.zeros(x.shape[0], dtype=u.dtype, device=x.device)
        if g.requires_grad:
            for j in cols.tolist():
                (h,) = torch.autograd.grad(
                    g[:, j].sum(), x, retain_graph=True, allow_unused=True
                )
                if h is not None:
                    lap = lap + h[:, j]
    return u.detach(), g.detach(), lap.detach()


def _forward_batch(torch, plan, layers, x, cols, affines):
    """Value, gradient, Laplacian of one batch by the forward Laplacian."""
    from ._forward_laplacian import forward_derivatives

    c, e = plan.out_affine
    layers = [("scale", a, b) for a, b in affines] + layers + [("scale", c, e)]
    with torch.no_grad():
        z, J, L = forward_derivatives(layers, x, cols)
    _check_output(z, x.shape[0])
    b = x.shape[0]
    return z.reshape(-1), J.expand(b, -1, -1)[:, :, 0], L.expand(b, -1)[:, 0]


def _check_output(out, n_rows):
    if out.numel() != n_rows:
        raise ValueError(
            "The module must return one output per input row (shape (n,) or "
            f"(n, 1)); got shape {tuple(out.shape)} for {n_rows} rows."
        )


def _derivative_pass(torch, plan, module, X, cols, dtype, method, batch_size):
    """Value, gradient and Laplacian of the planned function, batch by batch."""
    n, p = X.shape
    device = _module_device(torch, module)
    affines = [
        tuple(
            torch.as_tensor(np.asarray(v, dtype=np.float64), dtype=dtype, device=device)
            for v in pair
        )
        for pair in plan.affines
    ]
    layers = None
    if method != "backward" and _is_identity(plan.nonlinearity):
        from ._forward_laplacian import mlp_layers

        layers = mlp_layers(module)
    if method == "forward" and layers is None:
        raise ValueError(
            "method='forward' needs a network of Linear layers and elementwise "
            "activations (tanh, sigmoid, relu, silu, gelu, softplus); use "
            "method='backward' or 'auto'."
        )
    if layers is not None:  # bound the (batch, p, width) Jacobian's size
        width = max([p] + [w[1].shape[0] for w in layers if w[0] == "linear"])
        batch_size = max(1, min(batch_size, 2**24 // (p * width)))
    cols_t = torch.as_tensor(cols, dtype=torch.long, device=device)
    value, gradient, laplacian = np.empty(n), np.empty((n, p)), np.zeros(n)
    out_dtype = dtype
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        x = torch.tensor(X[start:stop], dtype=dtype, device=device)
        if layers is None:
            u, g, lap = _backward_batch(torch, plan, module, x, cols_t, affines)
        else:
            u, g, lap = _forward_batch(torch, plan, layers, x, cols_t, affines)
        out_dtype = u.dtype if u.dtype != dtype else out_dtype
        value[start:stop] = u.cpu().double().numpy()
        gradient[start:stop] = g.cpu().double().numpy()
        laplacian[start:stop] = lap.cpu().double().numpy()
    return (value, gradient, laplacian), out_dtype


def autograd_derivatives(
    estimator,
    X,
    laplacian_columns=None,
    *,
    method="auto",
    batch_size=1024,
    check_predict=True,
):
    """Exact value, gradient and Laplacian of a torch-backed regressor.

    Differentiates the fitted network (and any affine preprocessing, see
    :func:`supports_autograd`) exactly, in batches of points to bound memory.
    Multilayer perceptrons (``nn.Sequential`` of ``nn.Linear`` layers and
    elementwise activations, as built by :class:`MLPSurrogate`) get value,
    gradient and Laplacian in one forward-mode pass (the "forward Laplacian");
    any other module gets its gradient by one backward pass and each second
    derivative ∂²f/∂x_j² by one double-backward pass. The pass runs on the
    module's device, in float64 on a copy of the module when it allows it (in
    the module's own precision, with a warning, otherwise), in eval mode.

    Parameters
    ----------
    estimator : object
        A fitted estimator for which :func:`supports_autograd` is True.
    X : array-like of shape (n_samples, n_features)
        Query points (raw inputs, as passed to ``estimator.predict``).
    laplacian_columns : slice, int or array-like of int or bool, default=None
        Columns whose second derivatives are summed into the Laplacian, e.g.
        ``slice(1, None)`` for inputs ``(t, x_1, ..., x_d)``; ``None`` means all
        columns. Duplicates are an error.
    method : {"auto", "forward", "backward"}, default="auto"
        ``"forward"``: the forward Laplacian (multilayer perceptrons only);
        ``"backward"``: double backward passes (any module); ``"auto"``: the
        forward Laplacian where it applies.
    batch_size : int, default=1024
        Points per batch (the forward Laplacian may use fewer, to keep its
        ``(batch, n_features, width)`` Jacobians under 2**24 numbers).
    check_predict : bool, default=True
        Check on the first points that the differentiated function reproduces
        ``estimator.predict`` (up to float32 rounding), and raise otherwise.

    Returns
    -------
    value : ndarray of shape (n_samples,)
        The estimator's prediction (computed in float64).
    gradient : ndarray of shape (n_samples, n_features)
        Derivatives with respect to every input column.
    laplacian : ndarray of shape (n_samples,)
        Sum of the second derivatives over ``laplacian_columns``. The three
        float64 arrays come as a :class:`Derivatives` named tuple.

    Raises
    ------
    ValueError
        If the estimator is not supported, ``X`` or ``laplacian_columns`` is
        invalid, the network does not reproduce ``predict``, or a derivative
        is not finite.

    See Also
    --------
    supports_autograd : Which estimators are supported.

    Notes
    -----
    Each output must depend on its own input row only, as for any network in
    eval mode without cross-sample layers. For PDE residuals use a smooth
    activation: a ReLU network's Laplacian is zero almost everywhere. The
    backward route costs about ``2 + len(laplacian_columns)`` backward passes
    per batch; the forward Laplacian costs about ``n_features`` forward passes
    done as one batched matrix product per layer, several times faster for
    high-dimensional inputs.

    References
    ----------
    .. [1] R. Li, H. Ye, D. Jiang, X. Wen, C. Wang, Z. Li, X. Li, D. He, J. Chen,
       W. Ren and L. Wang, "A computational framework for neural network-based
       variational Monte Carlo with Forward Laplacian", Nature Machine
       Intelligence 6, 209-219, 2024.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from sklearn_debias.neural import autograd_derivatives
    >>> class SumSin(torch.nn.Module):
    ...     def forward(self, x):
    ...         return torch.sin(x).sum(dim=1)
    >>> X = np.array([[0.0, 1.0, 2.0]])
    >>> value, gradient, laplacian = autograd_derivatives(SumSin(), X, slice(1, None))
    >>> bool(np.allclose(gradient, np.cos(X)))
    True
    >>> bool(np.isclose(laplacian[0], -np.sin(1.0) - np.sin(2.0)))
    True
    """
    plan = _resolve(estimator) if supports_autograd(estimator) else None
    if plan is None:
        raise ValueError(
            f"autograd_derivatives does not support {type(estimator).__name__}: "
            "expected a fitted MLPSurrogate, skorch NeuralNet, torch nn.Module, or "
            "a Pipeline/TransformedTargetRegressor of one with affine steps."
        )
    import torch

    X_in = X if hasattr(X, "iloc") else None  # keep feature names for sklearn
    X = check_array(X, dtype=np.float64)
    n, p = X.shape
    expected = getattr(estimator, "n_features_in_", p)
    if expected != p:
        raise ValueError(f"X has {p} features, but the estimator expects {expected}.")
    if laplacian_columns is None:
        laplacian_columns = slice(None)
    try:
        cols = np.atleast_1d(np.arange(p)[laplacian_columns]).astype(int)
    except (IndexError, TypeError, ValueError) as exc:
        raise ValueError(
            f"laplacian_columns={laplacian_columns!r} is not a valid column "
            f"selection for {p} columns: {exc}"
        ) from exc
    if np.unique(cols).size != cols.size:
        raise ValueError(f"laplacian_columns has duplicates: {cols.tolist()}.")
    if method not in ("auto", "forward", "backward"):
        raise ValueError(
            f"method must be 'auto', 'forward' or 'backward', got {method!r}."
        )
    if not isinstance(batch_size, int | np.integer) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")

    if plan.transforms:  # the affine reading of the preprocessing must be exact
        Z = X if X_in is None else X_in
        for step in plan.transforms:
            Z = step.transform(Z)
        Z_ours = X
        for a, b in plan.affines:
            Z_ours = Z_ours * a + b
        Z = np.asarray(Z, dtype=np.float64)
        if Z.shape != Z_ours.shape or not np.allclose(
            Z, Z_ours, rtol=1e-5, atol=1e-6 * (1.0 + np.abs(Z_ours).max(initial=0.0))
        ):
            raise ValueError(
                "The preprocessing steps do not act as the affine maps read from "
                "them; autograd_derivatives cannot differentiate this pipeline."
            )

    device = _module_device(torch, plan.module)
    module = None
    if device.type != "mps":  # MPS has no float64
        try:
            module = copy.deepcopy(plan.module).double().eval()
            module.requires_grad_(False)
        except Exception:
            module = None
    result = out_dtype = None
    if module is not None:
        try:
            result, out_dtype = _derivative_pass(
                torch, plan, module, X, cols, torch.float64, method, batch_size
            )
        except (RuntimeError, TypeError):
            result = None
    if result is None:
        module, was_training = plan.module, plan.module.training
        module.eval()
        try:
            result, out_dtype = _derivative_pass(
                torch,
                plan,
                module,
                X,
                cols,
                _module_dtype(torch, module),
                method,
                batch_size,
            )
        finally:
            module.train(was_training)
    if out_dtype != torch.float64:
        warnings.warn(
            f"The module computes in {out_dtype} (a float64 copy of it failed or "
            "casts internally): derivatives have that precision.",
            UserWarning,
            stacklevel=2,
        )
    result = Derivatives(*result)

    bad = ~(
        np.isfinite(result.value)
        & np.isfinite(result.gradient).all(axis=1)
        & np.isfinite(result.laplacian)
    )
    if bad.any():
        raise ValueError(
            f"The surrogate or its derivatives are not finite at {int(bad.sum())} "
            f"of {n} points (first: row {int(np.flatnonzero(bad)[0])})."
        )
    if check_predict and plan.predictor is not None and n > 0:
        m = min(n, 64)
        head = X[:m] if X_in is None else X_in.iloc[:m]
        pred = np.asarray(plan.predictor.predict(head), dtype=np.float64).ravel()
        scale = max(np.abs(pred).max(), 1e-12)
        if pred.shape != (m,) or not np.allclose(
            result.value[:m], pred, rtol=1e-3, atol=1e-3 * scale
        ):
            raise ValueError(
                "The differentiated network does not reproduce estimator.predict "
                "(a custom forward, infer or predict in the net?); pass "
                "check_predict=False only if the difference is expected."
            )
    return result
