"""Results with uncertainty: normal confidence intervals and summary tables."""

from collections import namedtuple

import numpy as np
from scipy import stats

__all__ = ["ConfidenceInterval", "normal_interval", "format_table"]

ConfidenceInterval = namedtuple("ConfidenceInterval", ["low", "high"])
ConfidenceInterval.__doc__ = (
    """Two-sided confidence interval ``(low, high)``, as in scipy."""
)


def _check_confidence_level(confidence_level):
    if not (
        isinstance(confidence_level, (int, float, np.floating))
        and 0.0 < float(confidence_level) < 1.0
    ):
        raise ValueError(
            f"confidence_level must be a number in (0, 1), got {confidence_level!r}"
        )
    return float(confidence_level)


def normal_interval(estimate, standard_error, confidence_level=0.95):
    """Two-sided normal (CLT) confidence interval.

    Parameters
    ----------
    estimate : float or ndarray
        Point estimate(s).
    standard_error : float or ndarray
        Standard error(s) of the estimate, same shape as ``estimate``.
    confidence_level : float, default=0.95
        Coverage probability of the interval, in (0, 1).

    Returns
    -------
    interval : ConfidenceInterval
        Named tuple ``(low, high)``.

    Examples
    --------
    >>> from sklearn_debias._inference import normal_interval
    >>> low, high = normal_interval(1.0, 0.1, confidence_level=0.95)
    >>> round(low, 4), round(high, 4)
    (0.804, 1.196)
    """
    level = _check_confidence_level(confidence_level)
    z = stats.norm.ppf(0.5 + level / 2.0)
    half = z * np.asarray(standard_error, dtype=float)
    low = np.asarray(estimate, dtype=float) - half
    high = np.asarray(estimate, dtype=float) + half
    if low.ndim == 0:
        return ConfidenceInterval(float(low), float(high))
    return ConfidenceInterval(low, high)


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
    first = widths[0]
    lines = [title, "-" * (sum(widths) + 2 * (len(widths) - 1))]
    lines.append(
        "  ".join(
            [str(header[0]).ljust(first)]
            + [str(h).rjust(w) for h, w in zip(header[1:], widths[1:])]
        )
    )
    for r in cells:
        lines.append(
            "  ".join(
                [r[0].ljust(first)] + [c.rjust(w) for c, w in zip(r[1:], widths[1:])]
            )
        )
    return "\n".join(lines)
