"""Neural-network surrogates (skorch/torch) and their exact derivatives.

Importing this subpackage does not import torch: torch and skorch are needed
only to fit :class:`MLPSurrogate` or to differentiate a torch-backed estimator.
"""

from ._autograd import Derivatives, autograd_derivatives, supports_autograd
from ._mlp import MLPSurrogate, make_mlp_regressor, to_float32

__all__ = [
    "Derivatives",
    "MLPSurrogate",
    "autograd_derivatives",
    "make_mlp_regressor",
    "supports_autograd",
    "to_float32",
]
