"""Gaussian-process kernels for surrogates of simulators."""

from ._kernels import TensorProductMatern

__all__ = ["TensorProductMatern"]
