"""sklearn-debias: physics-informed inference-time scaling for scikit-learn.

Debias a cheap surrogate of an expensive ground truth with a cheap unbiased
simulation at inference time, and precondition solvers with random sketches.
"""

from .decomposition import SketchedTruncatedSVD, sketched_eigsh, sketched_svd
from .functional import (
    DebiasedFunctionalEstimator,
    ExceedanceProbability,
    Functional,
    HeavyTailWarning,
    Mean,
    Moment,
    Quantile,
    RareEventWarning,
    SamplerMismatchWarning,
    Variance,
)
from .kernel_ridge import (
    NystromKernelRidge,
    ScalableGaussianProcessRegressor,
    SketchPreconditionedKernelRidge,
)
from .linear_model import SketchPreconditionedRegressor
from .pde import SimulationCalibratedRegressor
from .utils import ConfidenceInterval, SurrogateError

__version__ = "0.1.0.dev0"

__all__ = [
    "ConfidenceInterval",
    "DebiasedFunctionalEstimator",
    "ExceedanceProbability",
    "Functional",
    "HeavyTailWarning",
    "Mean",
    "Moment",
    "NystromKernelRidge",
    "Quantile",
    "RareEventWarning",
    "SamplerMismatchWarning",
    "ScalableGaussianProcessRegressor",
    "SimulationCalibratedRegressor",
    "SketchPreconditionedKernelRidge",
    "SketchPreconditionedRegressor",
    "SketchedTruncatedSVD",
    "SurrogateError",
    "Variance",
    "sketched_eigsh",
    "sketched_svd",
]
