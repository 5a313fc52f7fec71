"""Neural-network surrogates (skorch/torch) and their exact derivatives.

Importing this subpackage does not import torch: torch and skorch are needed
only to fit :class:`MLPSurrogate` or to differentiate a torch-backed estimator.

The contract used by :mod:`sklearn_debias.pde` for the surrogate's PDE residual::

    if supports_autograd(surrogate):            # never imports torch
        u, grad, lap = autograd_derivatives(surrogate, X, slice(1, None))
        # u (n,), grad (n, p) w.r.t. all columns (grad[:, 0] = du/dt for rows
        # (t, x_1..x_d)), lap (n,) = sum of d2u/dx_j2 over the given columns;
        # float64, exact, computed on the module's device in batches.
"""

from ._autograd import Derivatives, autograd_derivatives, supports_autograd
from ._mlp import MLPSurrogate, make_mlp_regressor, to_float32
from ._pinn import PINNRegressor

__all__ = [
    "Derivatives",
    "MLPSurrogate",
    "PINNRegressor",
    "autograd_derivatives",
    "make_mlp_regressor",
    "supports_autograd",
    "to_float32",
]
