"""Kernel ridge regression past ``n^3``: Nyström-preconditioned solvers.

* :class:`SketchPreconditionedKernelRidge` -- the exact ``KernelRidge``
  solution by conjugate gradients with a randomized Nyström preconditioner,
  the kernel matrix applied by blocks when it does not fit in memory;
* :class:`NystromKernelRidge` -- Falkon: ``M`` Nyström centres, a two-Cholesky
  preconditioner and conjugate gradients, for ``10^5``-``10^6`` points;
* :class:`ScalableGaussianProcessRegressor` -- a Gaussian process whose
  posterior mean is solved by preconditioned conjugate gradients past the
  size where a Cholesky factorisation is affordable.
"""

from ._exact import SketchPreconditionedKernelRidge
from ._falkon import NystromKernelRidge
from ._gaussian_process import ScalableGaussianProcessRegressor

__all__ = [
    "NystromKernelRidge",
    "ScalableGaussianProcessRegressor",
    "SketchPreconditionedKernelRidge",
]
