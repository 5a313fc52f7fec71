"""Result objects of the trace, diagonal and log-determinant estimators."""

from dataclasses import dataclass

from .._inference import normal_interval

__all__ = ["TraceResult", "DiagonalResult", "LogdetResult"]


@dataclass(frozen=True)
class _EstimateResult:
    """Common part: a point estimate, its standard error and the work spent."""

    estimate: float
    standard_error: float
    n_matvecs: int
    method: str

    def confidence_interval(self, confidence_level=0.95):
        """Normal (CLT) confidence interval ``estimate +- z * standard_error``.

        Parameters
        ----------
        confidence_level : float, default=0.95
            Coverage probability of the interval, in (0, 1).

        Returns
        -------
        interval : ConfidenceInterval
            Named tuple ``(low, high)`` (arrays for :func:`diagonal`).
        """
        return normal_interval(self.estimate, self.standard_error, confidence_level)

    def __iter__(self):
        # Unpacks like scipy's results: ``estimate, standard_error = result``.
        return iter((self.estimate, self.standard_error))


@dataclass(frozen=True)
class TraceResult(_EstimateResult):
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
    """


@dataclass(frozen=True)
class DiagonalResult(_EstimateResult):
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
    """


@dataclass(frozen=True)
class LogdetResult(_EstimateResult):
    """Result of :func:`~sklearn_debias.linalg.logdet`.

    Unpacks as ``estimate, standard_error = result``.

    Attributes
    ----------
    estimate : float
        Estimate of ``log det A``.
    standard_error : float
        Sample standard error over the probe vectors of the stochastic Lanczos
        quadrature part (it does not include the quadrature bias, which decays
        quickly with ``n_lanczos``).
    n_matvecs : int
        Number of products with ``A`` actually used (sketch plus Lanczos).
    method : str
        ``"slq"`` or ``"nystrom-slq"``.
    logdet_preconditioner : float
        ``log det P`` of the Nyström preconditioner (``0.0`` without one).
    n_probes : int
        Number of probe vectors of the Lanczos part.
    n_lanczos : int
        Lanczos steps per probe.
    """

    logdet_preconditioner: float = 0.0
    n_probes: int = 0
    n_lanczos: int = 0
