"""Exact derivatives of torch-backed regressors by automatic differentiation.

``supports_autograd`` never imports torch: an estimator can only hold a torch
module if torch is already imported, so the check looks at class modules and
``sys.modules``. ``autograd_derivatives`` imports torch only for estimators that
pass that check.
"""

from __future__ import annotations

import copy
import warnings
from typing import Any, NamedTuple

import numpy as np
from sklearn.utils.validation import check_array

from ..utils import checked_predict
from ..utils._typing import ArrayLike
from ._plan import _resolve, supports_autograd

__all__ = ["Derivatives", "autograd_derivatives", "supports_autograd"]


class Derivatives(NamedTuple):
    """Value, gradient and Laplacian of a surrogate at query points.

    Unpacks like a tuple: ``value, gradient, laplacian = autograd_derivatives(...)``.
    """

    value: np.ndarray
    gradient: np.ndarray
    laplacian: np.ndarray


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


def _checked_columns(laplacian_columns, p):
    """The Laplacian's column indices, checked."""
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
    return cols


def _check_affine_reading(plan, X, X_in):
    """Raise unless the preprocessing acts on ``X`` as the affine maps read."""
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


def _float64_module(torch, module):
    """A float64, eval-mode, gradient-free version of ``module``, or None.

    The module itself when it is one already (the copy
    :class:`MLPSurrogate` makes at fit), else a deep copy; ``None`` when the
    device has no float64 or the copy fails.
    """
    tensors = list(module.parameters()) + list(module.buffers())
    if (
        not module.training
        and all(t.dtype == torch.float64 for t in tensors if t.is_floating_point())
        and not any(t.requires_grad for t in tensors)
    ):
        return module
    if _module_device(torch, module).type == "mps":  # MPS has no float64
        return None
    try:
        return copy.deepcopy(module).double().eval().requires_grad_(False)
    except Exception:
        return None


def _derivatives(torch, plan, X, cols, method, batch_size):
    """Value, gradient and Laplacian, in float64 when the module allows it."""
    module = _float64_module(torch, plan.module)
    if module is not None:
        try:
            return _derivative_pass(
                torch, plan, module, X, cols, torch.float64, method, batch_size
            )
        except (RuntimeError, TypeError):
            pass
    module, was_training = plan.module, plan.module.training
    module.eval()
    try:
        dtype = _module_dtype(torch, module)
        return _derivative_pass(torch, plan, module, X, cols, dtype, method, batch_size)
    finally:
        module.train(was_training)


def _check_reproduces_predict(plan, value, X, X_in):
    """Raise unless ``value`` matches ``predict`` on the first points."""
    m = min(X.shape[0], 64)
    head = X[:m] if X_in is None else X_in.iloc[:m]
    pred = checked_predict(plan.predictor, head, "the first query points")
    scale = max(np.abs(pred).max(), 1e-12)
    if not np.allclose(value[:m], pred, rtol=1e-3, atol=1e-3 * scale):
        raise ValueError(
            "The differentiated network does not reproduce estimator.predict "
            "(a custom forward, infer or predict in the net?); pass "
            "check_predict=False only if the difference is expected."
        )


def autograd_derivatives(
    estimator: Any,
    X: ArrayLike,
    laplacian_columns: slice | int | ArrayLike | None = None,
    *,
    method: str = "auto",
    batch_size: int = 1024,
    check_predict: bool = True,
) -> Derivatives:
    """Exact value, gradient and Laplacian of a torch-backed regressor.

    Differentiates the fitted network (and any affine preprocessing, see
    :func:`supports_autograd`) exactly, in batches of points to bound memory.
    Multilayer perceptrons (``nn.Sequential`` of ``nn.Linear`` layers and
    elementwise activations, as built by :class:`MLPSurrogate`) get value,
    gradient and Laplacian in one forward-mode pass (the "forward Laplacian");
    any other module gets its gradient by one backward pass and each second
    derivative ∂²f/∂x_j² by one double-backward pass. The pass runs on the
    module's device, in float64 on a copy of the module when it allows it
    (:class:`MLPSurrogate` keeps one from ``fit``; in the module's own
    precision, with a warning, otherwise), in eval mode.

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
    SurrogateError
        If ``estimator.predict`` (called by ``check_predict``) returns a
        wrong shape or non-finite values.

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
    cols = _checked_columns(laplacian_columns, p)
    if method not in ("auto", "forward", "backward"):
        raise ValueError(
            f"method must be 'auto', 'forward' or 'backward', got {method!r}."
        )
    if not isinstance(batch_size, int | np.integer) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    if plan.transforms:  # the affine reading of the preprocessing must be exact
        _check_affine_reading(plan, X, X_in)

    result, out_dtype = _derivatives(torch, plan, X, cols, method, batch_size)
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
        _check_reproduces_predict(plan, result.value, X, X_in)
    return result
