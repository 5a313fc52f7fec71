"""Gaussian processes and kernels for surrogates of simulators."""

from ._kernels import TensorProductMatern
from ._warped import WarpedGaussianProcessRegressor

__all__ = ["TensorProductMatern", "WarpedGaussianProcessRegressor"]
