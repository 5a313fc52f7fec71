"""Functionals of a function f under a distribution P.

A :class:`Functional` describes what the user wants to know about f:
``Phi(f) = g(E_P[T(f(X))])``, a smooth map ``g`` of the means of pointwise
statistics ``T``. Most are *pointwise* (one statistic and ``g`` the
identity: the mean, a moment, a probability): the control-variate correction
``T(y) - T(f_hat(x))`` on held-out points is then exact (unbiased given the
surrogate), with no linearisation. The others (:class:`Variance`, ratios)
debias each mean exactly and linearise only ``g`` (the delta method), with a
second-order bias correction. :class:`Quantile` is solved from a debiased
distribution function instead (``_quantile.py``).
"""

import numbers

import numpy as np

__all__ = [
    "Functional",
    "Mean",
    "Moment",
    "ExceedanceProbability",
    "Variance",
    "Quantile",
    "check_functional",
]


class Functional:
    """Base class for functionals ``Phi(f) = g(E_P[T(f(X))])``.

    Subclasses define :meth:`transform`, the pointwise statistics ``T``
    applied to an array of function values. A pointwise functional returns
    one statistic per value and needs nothing else (``g`` is the identity).
    A functional of several means (a variance, a ratio) returns one column
    per statistic and also defines :meth:`combine` (``g``), :meth:`gradient`
    and, for the second-order bias correction, :meth:`hessian`. Parameters
    go in ``__init__`` and are stored unchanged, as for estimators, so that a
    functional can be cloned, compared and printed.

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

    The coefficient of variation ``sd(f) / E f``, a function of two means:

    >>> class CoefficientOfVariation(Functional):
    ...     def transform(self, values):
    ...         return np.column_stack([values, values**2])
    ...     def combine(self, means):
    ...         m1, m2 = means
    ...         return np.sqrt(m2 - m1**2) / m1
    ...     def gradient(self, means):
    ...         m1, m2 = means
    ...         sd = np.sqrt(m2 - m1**2)
    ...         return np.array([-m2 / (m1**2 * sd), 0.5 / (m1 * sd)])
    >>> cv = CoefficientOfVariation()
    >>> float(cv.combine(cv.transform(np.array([1.0, 3.0])).mean(axis=0)))
    0.5
    """

    def transform(self, values):
        """Apply the pointwise statistics ``T`` to function values.

        Parameters
        ----------
        values : ndarray of shape (n,)
            Function values ``f(x_i)`` (labels or surrogate predictions).

        Returns
        -------
        transformed : ndarray of shape (n,) or (n, n_statistics)
        """
        raise NotImplementedError(
            f"{type(self).__name__} must define transform(values), the pointwise "
            "transform T of Phi(f) = E_P[T(f(X))]"
        )

    def combine(self, means):
        """The map ``g`` from the means of the statistics to ``Phi(f)``.

        Parameters
        ----------
        means : ndarray of shape (n_statistics,)
            Estimates of ``E_P[T(f(X))]``.

        Returns
        -------
        value : float
        """
        if len(means) != 1:
            raise NotImplementedError(self._several_statistics_message(len(means)))
        return float(means[0])

    def gradient(self, means):
        """Gradient of :meth:`combine`, for the delta-method standard error.

        Parameters
        ----------
        means : ndarray of shape (n_statistics,)

        Returns
        -------
        gradient : ndarray of shape (n_statistics,)
        """
        if len(means) != 1:
            raise NotImplementedError(self._several_statistics_message(len(means)))
        return np.ones(1)

    def hessian(self, means):
        """Hessian of :meth:`combine`, for the second-order bias correction.

        The estimate is ``g(m) - tr(H Sigma) / 2``, ``Sigma`` the covariance
        of the estimated means ``m``: this removes the bias of order ``1/n``
        that a curved ``g`` adds. Zero (no correction) unless overridden.

        Parameters
        ----------
        means : ndarray of shape (n_statistics,)

        Returns
        -------
        hessian : ndarray of shape (n_statistics, n_statistics)
        """
        return np.zeros((len(means), len(means)))

    def _several_statistics_message(self, n_statistics):
        return (
            f"{type(self).__name__}.transform returns {n_statistics} statistics: "
            "define combine(means) and gradient(means) to map their means to the "
            "functional"
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


class Variance(Functional):
    """The variance ``Var_P f(X) = E_P f^2 - (E_P f)^2``.

    Both moments are debiased with the same control-variate weight, chosen
    for the centred square ``(f - E f)^2`` (the variance's influence
    function), so the estimate does not change when a constant is added to
    f. The standard error is the delta method's, and the second-order
    correction ``+ Var(estimate of E f)`` removes the ``1/n`` bias of
    squaring the estimated mean: applied to plain Monte Carlo of the labels
    (the estimator's ``naive_estimate_``) it gives exactly the unbiased
    sample variance.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias import Variance
    >>> Variance().transform(np.array([1.0, -3.0]))
    array([[ 1.,  1.],
           [-3.,  9.]])
    >>> float(Variance().combine(np.array([1.0, 5.0])))
    4.0
    """

    def transform(self, values):
        values = np.asarray(values, dtype=np.float64)
        return np.column_stack([values, values**2])

    def combine(self, means):
        return float(means[1] - means[0] ** 2)

    def gradient(self, means):
        return np.array([-2.0 * means[0], 1.0])

    def hessian(self, means):
        return np.array([[-2.0, 0.0], [0.0, 0.0]])


class Quantile(Functional):
    """The ``p``-quantile of ``f(X)``: the smallest ``t`` with ``P(f(X) <= t) >= p``.

    Design margins, return levels and value at risk are quantiles of a
    simulator's output. A quantile is not the mean of a pointwise statistic,
    so the estimator debiases the distribution function ``F(t) = P(f(X) <=
    t)`` instead, every ``t`` at once (the mean of ``1{f(X) <= t}``, corrected
    on held-out points like any mean), and solves ``F(t) = p``. The standard
    error is Woodruff's, from the debiased ``F`` itself, with no density
    estimate.

    Parameters
    ----------
    p : float
        The level, in (0, 1): ``0.5`` is the median.

    Notes
    -----
    The estimate is the inverse of the monotone rearrangement of the
    debiased distribution function; each fold's control-variate weight
    minimises the variance of the indicator averaged over levels near
    ``p``. A surrogate helps as far as it puts points on the right side of
    the quantile: the labelled correction counts the points whose label and
    prediction fall on opposite sides. Their count is often 0 with a good
    surrogate, so its variance is floored with a smoothed estimate of their
    probability. When fewer than 5 labels are expected beyond the quantile
    (``n min(p, 1 - p) < 5``) the estimator warns that the interval may be
    too narrow. See the user guide for measured coverage.

    References
    ----------
    Woodruff, R. S. (1952). Confidence intervals for medians and other
    position measures. *JASA* 47, 635-646.

    Chernozhukov, V., Fernandez-Val, I. and Galichon, A. (2010). Quantile
    and probability curves without crossing. *Econometrica* 78, 1093-1125.

    Angelopoulos, A. N., Bates, S., Fannjiang, C., Jordan, M. I. and Zrnic, T.
    (2023). Prediction-powered inference. *Science* 382, 669-674.

    Examples
    --------
    The median of ``x_1 + x_2 + sin(x_1)`` over the unit square, with a
    linear surrogate:

    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> from sklearn_debias import DebiasedFunctionalEstimator, Quantile
    >>> def f(X):
    ...     return X.sum(axis=1) + np.sin(X[:, 0])
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(size=(200, 2))
    >>> est = DebiasedFunctionalEstimator(
    ...     LinearRegression(), functional=Quantile(0.5),
    ...     sampler=lambda n, rng: rng.uniform(size=(n, 2)), random_state=0,
    ... ).fit(X, f(X))
    >>> truth = np.median(f(rng.uniform(size=(1_000_000, 2))))
    >>> bool(abs(est.estimate_ - truth) < 3 * est.standard_error_)
    True
    >>> bool(est.standard_error_ < est.naive_standard_error_ / 2)
    True
    """

    def __init__(self, p):
        self.p = p

    def check_level(self):
        """The level ``p`` as a float, validated to lie in (0, 1)."""
        p = self.p
        if not isinstance(p, numbers.Real) or not 0.0 < p < 1.0:
            raise ValueError(f"Quantile(p) needs a level p in (0, 1), got p={p!r}")
        return float(p)

    def transform(self, values):
        raise TypeError(
            "Quantile(p) is not the mean of a pointwise transform: "
            "DebiasedFunctionalEstimator solves it from the debiased distribution "
            "function"
        )


class _CallableFunctional(Functional):
    """Wrap a user callable ``T`` as a pointwise functional."""

    def __init__(self, func):
        self.func = func

    def transform(self, values):
        return np.asarray(self.func(np.asarray(values, dtype=np.float64)), dtype=float)


_BY_NAME = {"mean": Mean, "variance": Variance}


def check_functional(functional):
    """Resolve the ``functional`` parameter into a :class:`Functional`.

    Parameters
    ----------
    functional : {"mean", "variance"}, Functional or callable
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
    """``functional.transform(values)`` as an ``(n, n_statistics)`` array.

    Checked for shape (one row per value) and finiteness.
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    out = np.asarray(functional.transform(values), dtype=np.float64)
    if out.ndim not in (1, 2) or out.shape[0] != values.shape[0] or out.size == 0:
        raise ValueError(
            f"{functional!r}.transform returned shape {out.shape} for {what} of "
            f"shape {values.shape}; a pointwise transform must return one value "
            "(or one row of statistics) per function value"
        )
    if not np.all(np.isfinite(out)):
        raise ValueError(
            f"{functional!r}.transform returned non-finite values on {what}"
        )
    return out.reshape(values.shape[0], -1)
