"""Test functions with known answers, for tests, benchmarks and examples."""

from ._genz import GENZ_FAMILIES, GenzFunction
from ._simulators import (
    SIMULATORS,
    BoreholeFunction,
    OTLCircuitFunction,
    PistonFunction,
    WingWeightFunction,
)

__all__ = [
    "BoreholeFunction",
    "GENZ_FAMILIES",
    "GenzFunction",
    "OTLCircuitFunction",
    "PistonFunction",
    "SIMULATORS",
    "WingWeightFunction",
]
