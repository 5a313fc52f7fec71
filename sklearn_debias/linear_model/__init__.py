"""Linear models solved by randomized sketch-and-precondition."""

from ._sketch_precondition import SketchPreconditionedRegressor

__all__ = ["SketchPreconditionedRegressor"]
