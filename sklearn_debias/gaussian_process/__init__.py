"""Gaussian processes and kernels for surrogates of simulators."""

from ._default import default_surrogate
from ._kernels import TensorProductMatern
from ._warped import WarpedGaussianProcessRegressor

__all__ = ["TensorProductMatern", "WarpedGaussianProcessRegressor", "default_surrogate"]
