"""Results with uncertainty: one result type, its intervals, summary tables.

:class:`EstimateResult` is the one shape of an estimate with a standard
error. The trace, diagonal and log-determinant results are its subclasses,
and the debiased estimators keep one as ``result_``. It is built for what
comes next, not only for today's normal intervals: ``df`` gives a Student-t
interval (randomized-QMC replicates, a few repeats), ``alternative`` gives
one-sided bounds, and array-valued estimates (a diagonal, a vector of
functionals) get elementwise intervals. :class:`BinomialBoundResult` is the
exact (Clopper-Pearson) bound on a probability from a count of events, for
the rare events where a normal interval would be ``0 +- 0``.
"""

from collections import namedtuple
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

__all__ = [
    "BinomialBoundResult",
    "ConfidenceInterval",
    "EstimateResult",
    "clopper_pearson",
    "check_confidence_level",
    "normal_interval",
    "format_table",
]

ConfidenceInterval = namedtuple("ConfidenceInterval", ["low", "high"])
ConfidenceInterval.__doc__ = """Confidence interval ``(low, high)``, as in scipy."""

_ALTERNATIVES = ("two-sided", "less", "greater")


def check_confidence_level(confidence_level):
    """Validate a confidence level: a number in (0, 1)."""
    if isinstance(confidence_level, bool) or not (
        isinstance(confidence_level, (int, float, np.floating))
        and 0.0 < float(confidence_level) < 1.0
    ):
        raise ValueError(
            f"confidence_level must be a number in (0, 1), got {confidence_level!r}"
        )
    return float(confidence_level)


def normal_interval(
    estimate, standard_error, confidence_level=0.95, df=np.inf, alternative="two-sided"
):
    """Normal (or Student-t) confidence interval, two-sided or one-sided.

    Parameters
    ----------
    estimate : float or ndarray
        Point estimate(s).
    standard_error : float or ndarray
        Standard error(s) of the estimate, same shape as ``estimate``.
    confidence_level : float, default=0.95
        Coverage probability of the interval, in (0, 1).
    df : float, default=inf
        Degrees of freedom of the standard error: ``inf`` gives the normal
        quantile, a finite value Student's t.
    alternative : {"two-sided", "less", "greater"}, default="two-sided"
        ``"less"`` gives ``(-inf, upper bound)``, ``"greater"``
        ``(lower bound, inf)``, as in scipy's tests.

    Returns
    -------
    interval : ConfidenceInterval
        Named tuple ``(low, high)``.

    Examples
    --------
    >>> from sklearn_debias.utils import normal_interval
    >>> low, high = normal_interval(1.0, 0.1, confidence_level=0.95)
    >>> round(low, 4), round(high, 4)
    (0.804, 1.196)
    >>> round(normal_interval(1.0, 0.1, alternative="less").high, 4)
    1.1645
    """
    level = check_confidence_level(confidence_level)
    if alternative not in _ALTERNATIVES:
        raise ValueError(
            f"alternative must be one of {_ALTERNATIVES}, got {alternative!r}"
        )
    tail = (1.0 - level) / 2.0 if alternative == "two-sided" else 1.0 - level
    dist = stats.norm if np.isinf(df) else stats.t(df)
    z = dist.isf(tail)
    estimate = np.asarray(estimate, dtype=float)
    half = z * np.asarray(standard_error, dtype=float)
    low, high = estimate - half, estimate + half
    if alternative == "less":
        low = np.full_like(high, -np.inf)
    elif alternative == "greater":
        high = np.full_like(low, np.inf)
    if low.ndim == 0:
        return ConfidenceInterval(float(low), float(high))
    return ConfidenceInterval(low, high)


@dataclass(frozen=True)
class EstimateResult:
    """A point estimate with its standard error.

    Unpacks as ``estimate, standard_error = result``, like scipy's results.

    Attributes
    ----------
    estimate : float or ndarray
        The point estimate.
    standard_error : float or ndarray
        Its standard error (same shape).
    df : float
        Degrees of freedom of the standard error (``inf``: a normal interval;
        finite: Student's t, for an error estimated from a few replicates).
    alternative : {"two-sided", "less", "greater"}
        The kind of interval :meth:`confidence_interval` gives by default:
        two-sided, or a one-sided upper (``"less"``) or lower (``"greater"``)
        bound.

    Examples
    --------
    >>> from sklearn_debias.utils import EstimateResult
    >>> result = EstimateResult(2.0, 0.5)
    >>> estimate, standard_error = result
    >>> tuple(round(v, 3) for v in result.confidence_interval(0.9))
    (1.178, 2.822)
    """

    estimate: float
    standard_error: float
    df: float = field(default=np.inf, kw_only=True)
    alternative: str = field(default="two-sided", kw_only=True)

    def confidence_interval(self, confidence_level=0.95, alternative=None):
        """Confidence interval ``estimate -+ q * standard_error``.

        Parameters
        ----------
        confidence_level : float, default=0.95
            Coverage probability of the interval, in (0, 1).
        alternative : {"two-sided", "less", "greater"}, default=None
            Two-sided interval, or a one-sided upper (``"less"``) or lower
            (``"greater"``) bound; ``None`` uses :attr:`alternative`.

        Returns
        -------
        interval : ConfidenceInterval
            Named tuple ``(low, high)`` (arrays for an array estimate).
        """
        return normal_interval(
            self.estimate,
            self.standard_error,
            confidence_level,
            df=self.df,
            alternative=self.alternative if alternative is None else alternative,
        )

    def __iter__(self):
        return iter((self.estimate, self.standard_error))


def clopper_pearson(
    successes, n_trials, confidence_level=0.95, alternative="two-sided"
):
    """Exact (Clopper-Pearson) confidence interval for a binomial probability.

    It covers with probability at least ``confidence_level`` whatever the
    probability, however small: with no successes in ``n`` trials the upper
    bound is ``1 - (1 - confidence_level)**(1 / n)``, about ``3 / n`` at 95%.

    Parameters
    ----------
    successes : int
        Number of successes, in ``0 .. n_trials``.
    n_trials : int
        Number of trials, at least 1.
    confidence_level : float, default=0.95
        Coverage probability of the interval, in (0, 1).
    alternative : {"two-sided", "less", "greater"}, default="two-sided"
        ``"less"`` gives ``(0, upper bound)``, ``"greater"`` ``(lower bound,
        1)``, as in :func:`scipy.stats.binomtest`.

    Returns
    -------
    interval : ConfidenceInterval
        Named tuple ``(low, high)``.

    Examples
    --------
    >>> from sklearn_debias.utils._results import clopper_pearson
    >>> low, high = clopper_pearson(0, 200, 0.95, alternative="less")
    >>> low, round(high, 5)
    (0.0, 0.01487)
    >>> round(high, 12) == round(1 - 0.05 ** (1 / 200), 12)
    True
    """
    level = check_confidence_level(confidence_level)
    if alternative not in _ALTERNATIVES:
        raise ValueError(
            f"alternative must be one of {_ALTERNATIVES}, got {alternative!r}"
        )
    k, n = int(successes), int(n_trials)
    if n < 1 or not 0 <= k <= n or k != successes or n != n_trials:
        raise ValueError(
            "clopper_pearson needs integers 0 <= successes <= n_trials with "
            f"n_trials >= 1, got successes={successes!r}, n_trials={n_trials!r}"
        )
    ci = stats.binomtest(k, n, alternative=alternative).proportion_ci(
        level, method="exact"
    )
    return ConfidenceInterval(float(ci.low), float(ci.high))


@dataclass(frozen=True)
class BinomialBoundResult(EstimateResult):
    """An estimate of a probability whose interval is exact (Clopper-Pearson).

    For rare events (a handful of labelled events), where a normal interval
    from the estimated standard error is ``0 +- 0``. The point estimate and
    the standard error are kept as given; :meth:`confidence_interval` is the
    Clopper-Pearson interval of ``successes`` in ``n_trials``, by default
    one-sided (``alternative``).

    Attributes
    ----------
    estimate : float
        The point estimate.
    standard_error : float
        Its standard error (a conservative stand-in: see where it is made).
    successes : int
        Number of events among the trials.
    n_trials : int
        Number of trials.
    alternative : {"two-sided", "less", "greater"}
        ``"less"``: an upper bound ``(0, high)``; ``"greater"``: a lower
        bound ``(low, 1)``.
    df : float
        Unused by the interval (kept for the shape of the result).

    Examples
    --------
    >>> from sklearn_debias.utils._results import BinomialBoundResult
    >>> result = BinomialBoundResult(
    ...     0.0, 0.0086, successes=0, n_trials=200, alternative="less"
    ... )
    >>> low, high = result.confidence_interval(0.95)
    >>> low, round(high, 4)
    (0.0, 0.0149)
    """

    successes: int = field(default=0, kw_only=True)
    n_trials: int = field(default=1, kw_only=True)

    def confidence_interval(self, confidence_level=0.95, alternative=None):
        """Clopper-Pearson interval of ``successes`` in ``n_trials``.

        Parameters
        ----------
        confidence_level : float, default=0.95
            Coverage probability of the interval, in (0, 1).
        alternative : {"two-sided", "less", "greater"}, default=None
            ``None`` uses :attr:`alternative`.

        Returns
        -------
        interval : ConfidenceInterval
            Named tuple ``(low, high)``.
        """
        return clopper_pearson(
            self.successes,
            self.n_trials,
            confidence_level,
            self.alternative if alternative is None else alternative,
        )


def format_table(title, header, rows):
    """Aligned plain-text table.

    Parameters
    ----------
    title : str
        A line printed above the table.
    header : sequence of str
        Column names.
    rows : sequence of sequence
        Cells; floats are printed with 6 significant digits.

    Returns
    -------
    table : str
    """

    def cell(value):
        if isinstance(value, (float, np.floating)):
            return f"{value:.6g}"
        return str(value)

    cells = [[cell(v) for v in row] for row in rows]
    widths = [
        max(len(str(h)), *(len(r[j]) for r in cells)) for j, h in enumerate(header)
    ]

    def line(row):
        first, *rest = row
        return "  ".join(
            [str(first).ljust(widths[0])]
            + [str(c).rjust(w) for c, w in zip(rest, widths[1:])]
        )

    rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
    return "\n".join([title, rule, line(header), *map(line, cells)])
