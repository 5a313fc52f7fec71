"""Result objects of the trace, diagonal and log-determinant estimators.

Subclasses of the package's one result type,
:class:`sklearn_debias.utils.EstimateResult`: they unpack as
``estimate, standard_error = result`` and give
``result.confidence_interval(confidence_level)``.
"""

from dataclasses import dataclass

from ..utils import EstimateResult

__all__ = ["TraceResult", "DiagonalResult", "LogdetResult"]


@dataclass(frozen=True)
class TraceResult(EstimateResult):
    """Result of :func:`~sklearn_debias.linalg.trace`.

    Unpacks as ``estimate, standard_error = result``.

    Attributes
    ----------
    estimate : float
        Estimate of ``tr(A)``.
    standard_error : float
        Estimated standard error of ``estimate``: the sample standard error of
        the Hutchinson part, or the leave-one-out (jackknife-type) error
        estimate of XTrace / XNysTrace. ``0.0`` when the trace was computed
        exactly.
    n_matvecs : int
        Number of products with ``A`` (or ``A.T``) actually used.
    method : str
        The method that produced the estimate.
    df : float
        Degrees of freedom of the standard error (``inf``: normal intervals).
    """

    n_matvecs: int
    method: str


@dataclass(frozen=True)
class DiagonalResult(EstimateResult):
    """Result of :func:`~sklearn_debias.linalg.diagonal`.

    Unpacks as ``estimate, standard_error = result``.

    Attributes
    ----------
    estimate : ndarray of shape (n,)
        Estimate of ``diag(A)``.
    standard_error : ndarray of shape (n,)
        Entrywise estimated standard errors.
    n_matvecs : int
        Number of products with ``A`` (or ``A.T``) actually used.
    method : str
        The method that produced the estimate.
    df : float
        Degrees of freedom of the standard error (``inf``: normal intervals).
    """

    n_matvecs: int
    method: str


@dataclass(frozen=True)
class LogdetResult(EstimateResult):
    """Result of :func:`~sklearn_debias.linalg.logdet`.

    Unpacks as ``estimate, standard_error = result``.

    Attributes
    ----------
    estimate : float
        Estimate of ``log det A``.
    standard_error : float
        Sample standard error over the probe vectors of the stochastic Lanczos
        quadrature part, combined (in quadrature) with the estimated Lanczos
        quadrature error ``quadrature_error``; ``0.0`` for ``"cholesky"``.
    n_matvecs : int
        Number of products with ``A`` actually used (sketch plus Lanczos).
    method : str
        ``"cholesky"`` (exact), ``"slq"`` or ``"nystrom-slq"``.
    logdet_preconditioner : float
        ``log det P`` of the Nyström preconditioner (``0.0`` without one).
    rank : int
        Rank of the Nyström preconditioner (``0`` without one): the products
        spent on its sketch, chosen adaptively unless given.
    n_probes : int
        Number of probe vectors of the Lanczos part.
    n_lanczos : int
        The most Lanczos steps a probe took.
    quadrature_error : float
        Estimated Lanczos quadrature error of the estimate (a bias: Gauss
        quadrature overestimates ``tr log``).
    df : float
        Degrees of freedom of the standard error (``n_probes - 1``: Student's
        t intervals; ``inf`` when exact).
    """

    n_matvecs: int
    method: str
    logdet_preconditioner: float = 0.0
    n_probes: int = 0
    n_lanczos: int = 0
    quadrature_error: float = 0.0
    rank: int = 0
