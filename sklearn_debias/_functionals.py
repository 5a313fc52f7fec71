"""Functionals of a function f under a distribution P.

A :class:`Functional` describes what the user wants to know about f. The ones
here are *pointwise*: ``Phi(f) = E_P[T(f(X))]`` for a transform ``T`` applied to
function values, so the control-variate correction ``T(y) - T(f_hat(x))`` on
held-out points is exact (unbiased given the surrogate), with no linearisation.
"""

import numbers

import numpy as np

__all__ = ["Functional", "Mean", "Moment", "ExceedanceProbability", "check_functional"]


class Functional:
    """Base class for pointwise functionals ``Phi(f) = E_P[T(f(X))]``.

    Subclasses define :meth:`transform`, the pointwise transform ``T`` applied
    to an array of function values. Parameters go in ``__init__`` and are
    stored unchanged, as for estimators, so that a functional can be cloned,
    compared and printed.

    Examples
    --------
    The expected absolute value ``E_P |f(X)|``:

    >>> import numpy as np
    >>> from sklearn_debias import Functional
    >>> class AbsoluteMean(Functional):
    ...     def transform(self, values):
    ...         return np.abs(values)
    >>> AbsoluteMean().transform(np.array([-1.0, 2.0]))
    array([1., 2.])
    """

    def transform(self, values):
        """Apply the pointwise transform ``T`` to function values.

        Parameters
        ----------
        values : ndarray of shape (n,)
            Function values ``f(x_i)`` (labels or surrogate predictions).

        Returns
        -------
        transformed : ndarray of shape (n,)
        """
        raise NotImplementedError(
            f"{type(self).__name__} must define transform(values), the pointwise "
            "transform T of Phi(f) = E_P[T(f(X))]"
        )

    def _params(self):
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other):
        return type(self) is type(other) and self._params() == other._params()

    def __hash__(self):
        return hash((type(self).__name__, tuple(sorted(self._params().items()))))


class Mean(Functional):
    """The mean ``E_P f(X)`` (the integral of f against P).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias import Mean
    >>> Mean().transform(np.array([1.0, 2.0]))
    array([1., 2.])
    """

    def transform(self, values):
        return np.asarray(values, dtype=np.float64)


class Moment(Functional):
    """The moment ``E_P f(X)^q`` (the integral of ``f^q`` against P).

    Parameters
    ----------
    q : float
        The power. A non-integer power needs non-negative function values.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias import Moment
    >>> Moment(2).transform(np.array([1.0, -3.0]))
    array([1., 9.])
    """

    def __init__(self, q):
        self.q = q

    def transform(self, values):
        q = self.q
        if not isinstance(q, numbers.Real) or not np.isfinite(q) or q <= 0:
            raise ValueError(f"Moment(q) needs a finite q > 0, got q={q!r}")
        values = np.asarray(values, dtype=np.float64)
        if float(q) != int(q) and np.any(values < 0):
            raise ValueError(
                f"Moment(q={q}) with a non-integer power needs non-negative "
                f"function values; got a minimum of {values.min():.6g}"
            )
        return values**q


class ExceedanceProbability(Functional):
    """The probability ``P(f(X) > threshold)``.

    Parameters
    ----------
    threshold : float
        The level that f has to exceed.

    Notes
    -----
    Rare events (a probability close to 0 or 1 compared with ``1/n``) defeat
    control variates: the estimator then warns that its interval may be too
    narrow.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias import ExceedanceProbability
    >>> ExceedanceProbability(1.5).transform(np.array([1.0, 2.0]))
    array([0., 1.])
    """

    def __init__(self, threshold):
        self.threshold = threshold

    def transform(self, values):
        t = self.threshold
        if not isinstance(t, numbers.Real) or not np.isfinite(t):
            raise ValueError(f"threshold must be a finite number, got {t!r}")
        return (np.asarray(values, dtype=np.float64) > t).astype(np.float64)


class _CallableFunctional(Functional):
    """Wrap a user callable ``T`` as a pointwise functional."""

    def __init__(self, func):
        self.func = func

    def transform(self, values):
        return np.asarray(self.func(np.asarray(values, dtype=np.float64)), dtype=float)


_BY_NAME = {"mean": Mean}


def check_functional(functional):
    """Resolve the ``functional`` parameter into a :class:`Functional`.

    Parameters
    ----------
    functional : {"mean"}, Functional or callable
        A name, a :class:`Functional` instance, or a callable ``T`` applied
        pointwise to function values.

    Returns
    -------
    functional : Functional
    """
    if isinstance(functional, Functional):
        return functional
    if isinstance(functional, str):
        if functional in _BY_NAME:
            return _BY_NAME[functional]()
        raise ValueError(
            f"functional must be one of {sorted(_BY_NAME)}, a Functional "
            f"(Moment(q), ExceedanceProbability(threshold), ...) or a callable; "
            f"got {functional!r}"
        )
    if callable(functional):
        return _CallableFunctional(functional)
    raise TypeError(
        "functional must be a string, a Functional instance or a callable, got "
        f"{type(functional).__name__}"
    )


def apply_functional(functional, values, what):
    """``functional.transform(values)``, checked for shape and finiteness."""
    values = np.asarray(values, dtype=np.float64).ravel()
    out = np.asarray(functional.transform(values), dtype=np.float64)
    if out.shape != values.shape:
        raise ValueError(
            f"{functional!r}.transform returned shape {out.shape} for {what} of "
            f"shape {values.shape}; a pointwise transform must keep the shape"
        )
    if not np.all(np.isfinite(out)):
        raise ValueError(
            f"{functional!r}.transform returned non-finite values on {what}"
        )
    return out
