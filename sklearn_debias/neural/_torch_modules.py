"""torch modules behind :class:`~sklearn_debias.neural.MLPSurrogate`.

This private module imports torch at import time; the rest of
``sklearn_debias.neural`` imports it lazily, only when a network is built, so
that the package stays importable without torch.
"""

import math

import numpy as np
import torch
from torch import nn

# The keys are MLPSurrogate's ACTIVATION_NAMES (checked by the tests).
ACTIVATIONS = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "softplus": nn.Softplus,
    "sigmoid": nn.Sigmoid,
}


def _glorot_linear(n_in, n_out, generator):
    """``nn.Linear`` with Glorot-uniform weights and zero biases.

    The layer is built without torch's default initialisation (which would
    draw from the global generator); its weights are drawn from ``generator``
    (the global one when ``None``), exactly as ``nn.init.xavier_uniform_``
    draws them.
    """
    linear = nn.utils.skip_init(nn.Linear, n_in, n_out)
    bound = math.sqrt(6.0 / (n_in + n_out))
    with torch.no_grad():
        linear.weight.uniform_(-bound, bound, generator=generator)
        linear.bias.zero_()
    return linear


def _as_buffer(value, size):
    """Float32 tensor of shape ``(size,)`` from a scalar, an array or None."""
    if value is None:
        value = 0.0
    array = np.broadcast_to(np.asarray(value, dtype=np.float64), (size,))
    return torch.as_tensor(np.array(array, dtype=np.float32))


class ScaledMLP(nn.Module):
    """Fully connected network with affine input and output scaling.

    Computes ``y_shift + y_scale * mlp((x - x_shift) / x_scale)``, with the
    shifts and scales held as buffers, so that the module maps raw inputs to
    raw targets: autograd through it gives derivatives in the user's units, and
    ``.double()`` converts the scaling along with the weights.

    Parameters
    ----------
    n_features : int, default=1
        Number of input columns.
    hidden_layer_sizes : tuple of int, default=(64, 64)
        Width of each hidden layer; ``()`` gives an affine model.
    activation : str, default="tanh"
        A key of ``ACTIVATIONS``.
    x_shift, x_scale : array-like of shape (n_features,) or float, default=None
        Input standardisation (``None`` means 0 and 1).
    y_shift, y_scale : float, default=0.0 and 1.0
        Output de-standardisation.
    random_state : int or None, default=None
        Seed of a local ``torch.Generator`` for the initial weights; ``None``
        draws them from torch's global generator.
    """

    def __init__(
        self,
        n_features=1,
        hidden_layer_sizes=(64, 64),
        activation="tanh",
        x_shift=None,
        x_scale=None,
        y_shift=0.0,
        y_scale=1.0,
        random_state=None,
    ):
        super().__init__()
        generator = None
        if random_state is not None:
            generator = torch.Generator().manual_seed(int(random_state))
        # Glorot initialisation: the standard choice for smooth activations,
        # and harmless for the others.
        layers = []
        width = int(n_features)
        for size in hidden_layer_sizes:
            layers += [
                _glorot_linear(width, int(size), generator),
                ACTIVATIONS[activation](),
            ]
            width = int(size)
        layers.append(_glorot_linear(width, 1, generator))
        self.mlp = nn.Sequential(*layers)
        self.register_buffer("x_shift", _as_buffer(x_shift, n_features))
        self.register_buffer(
            "x_scale", _as_buffer(1.0 if x_scale is None else x_scale, n_features)
        )
        self.register_buffer("y_shift", _as_buffer(y_shift, 1))
        self.register_buffer("y_scale", _as_buffer(y_scale, 1))

    def forward(self, X):
        """Return predictions of shape ``(n, 1)`` for inputs of shape ``(n, p)``."""
        return self.y_shift + self.y_scale * self.mlp((X - self.x_shift) / self.x_scale)
