"""Debiased functionals of an expensive function: DebiasedFunctionalEstimator.

A cross-fitted regressor is the control variate of a Monte Carlo estimate of
a functional of ``f`` under a distribution P: a mean, a moment, a
probability, a variance, a quantile, or a user's :class:`Functional`.
"""

from ._combine import HeavyTailWarning, RareEventWarning
from ._estimator import DebiasedFunctionalEstimator
from ._functionals import (
    ExceedanceProbability,
    Functional,
    Mean,
    Moment,
    Variance,
)
from ._quantile import Quantile
from ._sampler_check import SamplerMismatchWarning

__all__ = [
    "DebiasedFunctionalEstimator",
    "ExceedanceProbability",
    "Functional",
    "HeavyTailWarning",
    "Mean",
    "Moment",
    "Quantile",
    "RareEventWarning",
    "SamplerMismatchWarning",
    "Variance",
]
