"""Debias learned PDE solutions by simulation (SCaSML).

:class:`SimulationCalibratedRegressor` wraps any regressor fitted to a PDE
solution and corrects its predictions point by point with an unbiased Monte
Carlo simulation of the defect equation: walk-on-spheres for a
:class:`PoissonEquation` on a :class:`Ball` or :class:`Box`, Feynman-Kac or
full-history multilevel Picard for a :class:`SemilinearParabolicPDE`. The
factories :func:`viscous_burgers`, :func:`linear_convection_diffusion`,
:func:`lqg` and :func:`diffusion_reaction` build benchmark equations with exact
solutions.
"""

from ._benchmarks import (
    diffusion_reaction,
    linear_convection_diffusion,
    lqg,
    viscous_burgers,
)
from ._domains import Ball, Box
from ._equations import PoissonEquation, SemilinearParabolicPDE
from ._regressor import SimulationCalibratedRegressor

__all__ = [
    "Ball",
    "Box",
    "PoissonEquation",
    "SemilinearParabolicPDE",
    "SimulationCalibratedRegressor",
    "diffusion_reaction",
    "linear_convection_diffusion",
    "lqg",
    "viscous_burgers",
]
