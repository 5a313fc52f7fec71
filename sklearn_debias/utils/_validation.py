"""Checks of what user code hands back: a functional, a sampler, an operator."""

import numpy as np

__all__ = ["check_returned"]


def check_returned(
    values, shape_ok, source, shape_detail, finite_detail="", error=ValueError
):
    """Return ``values`` if its shape is right and every entry is finite.

    The one check of an array that user code returned (a functional's
    transform, a sampler's draws, a matrix-free operator's products): the
    shape first, then NaN and infinity, each with an error that says
    ``"<source> returned ..."``.

    Parameters
    ----------
    values : ndarray
        The returned array.
    shape_ok : bool
        Whether ``values`` has the shape the caller expects.
    source : callable
        ``source()`` names what returned ``values``; called only to build an
        error message, so user code (a ``repr``) runs only on failure.
    shape_detail : str
        End of the message of a wrong shape: ``"<source> returned
        <shape_detail>"``.
    finite_detail : str, default=""
        End of the message of a non-finite value: ``"<source> returned
        non-finite values<finite_detail>"``.
    error : type, default=ValueError
        The exception class raised.

    Returns
    -------
    values : ndarray
        ``values`` itself.

    Raises
    ------
    error
        If ``shape_ok`` is false or ``values`` holds a NaN or an infinity.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias.utils import check_returned
    >>> check_returned(np.ones(2), True, lambda: "f", "a wrong shape")
    array([1., 1.])
    >>> check_returned(np.array([np.nan]), True, lambda: "f", "", " on x")
    Traceback (most recent call last):
        ...
    ValueError: f returned non-finite values on x
    """
    if not shape_ok:
        raise error(f"{source()} returned {shape_detail}")
    if not np.all(np.isfinite(values)):
        raise error(f"{source()} returned non-finite values{finite_detail}")
    return values
