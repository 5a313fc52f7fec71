"""Top-k SVD and eigendecomposition: block Krylov and EPSI.

:func:`sketched_svd` and :func:`sketched_eigsh` compute the leading singular
triplets / eigenpairs of a matrix or ``LinearOperator`` to a residual
tolerance, by block Krylov (the default for a fixed matrix) or by Lazy-EPSI,
Error-Powered Sketched Inverse Iteration (inverse iteration on the error of
a Nyström sketch). :class:`SketchedTruncatedSVD` is a ``TruncatedSVD``
drop-in with implicit centring and warm-started online updates.
"""

from ._sketched_svd import (
    SketchedEigshResult,
    SketchedSVDResult,
    sketched_eigsh,
    sketched_svd,
)
from ._truncated_svd import SketchedTruncatedSVD

__all__ = [
    "SketchedEigshResult",
    "SketchedSVDResult",
    "SketchedTruncatedSVD",
    "sketched_eigsh",
    "sketched_svd",
]
