"""Trace, diagonal and log-determinant of matrices known only through products.

A randomized low-rank sketch captures the top of the spectrum and an unbiased
Hutchinson-type estimate corrects for the rest: Hutch++, Nyström++, XTrace and
XNysTrace for the trace, XDiag for the diagonal, and Nyström-preconditioned
stochastic Lanczos quadrature for the log-determinant.
"""

from ._diagonal import diagonal
from ._logdet import QuadratureErrorWarning, logdet
from ._results import DiagonalResult, LogdetResult, TraceResult
from ._trace import trace

__all__ = [
    "trace",
    "diagonal",
    "logdet",
    "TraceResult",
    "DiagonalResult",
    "LogdetResult",
    "QuadratureErrorWarning",
]
