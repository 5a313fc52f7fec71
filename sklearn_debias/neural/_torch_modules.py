"""torch modules behind :class:`~sklearn_debias.neural.MLPSurrogate`.

This private module imports torch at import time; the rest of
``sklearn_debias.neural`` imports it lazily, only when a network is built, so
that the package stays importable without torch.
"""

import numpy as np
import torch
from torch import nn

ACTIVATIONS = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "softplus": nn.Softplus,
    "sigmoid": nn.Sigmoid,
}


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
    ):
        super().__init__()
        layers = []
        width = int(n_features)
        for size in hidden_layer_sizes:
            linear = nn.Linear(width, int(size))
            layers += [linear, ACTIVATIONS[activation]()]
            width = int(size)
        layers.append(nn.Linear(width, 1))
        for layer in layers:
            if isinstance(layer, nn.Linear):
                # Glorot initialisation: the standard choice for smooth
                # activations, and harmless for the others.
                nn.init.xavier_uniform_(layer.weight)
                nn.init.zeros_(layer.bias)
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
