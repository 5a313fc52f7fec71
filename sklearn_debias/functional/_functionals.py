"""Functionals of a function f under a distribution P.

A :class:`Functional` describes what the user wants to know about f:
``Phi(f) = g(E_P[T(f(X))])``, a smooth map ``g`` of the means of pointwise
statistics ``T``. Most are *pointwise* (one statistic and ``g`` the
identity: the mean, a moment, a probability): the control-variate correction
``T(y) - T(f_hat(x))`` on held-out points is then exact (unbiased given the
surrogate), with no linearisation. The others (:class:`Variance`, ratios)
debias each mean exactly and linearise only ``g`` (the delta method), with a
second-order bias correction. :class:`~sklearn_debias.Quantile` is not a
function of means: it has its own strategy (``_quantile.py``).
"""

from __future__ import annotations

import numbers

import numpy as np

from ..utils import check_returned
from ..utils._typing import ArrayLike
from ._base import Estimand, Estimate
from ._combine import (
    combine_folds,
    delta_method,
    indicator_counts,
    indicator_floor,
    optimal_weights,
    welch_df,
)

__all__ = [
    "Functional",
    "Mean",
    "Moment",
    "ExceedanceProbability",
    "Variance",
    "check_functional",
    "apply_functional",
]


class Functional(Estimand):
    """Base class for functionals ``Phi(f) = g(E_P[T(f(X))])``.

    Subclasses define :meth:`transform`, the pointwise statistics ``T``
    applied to an array of function values. A pointwise functional returns
    one statistic per value and needs nothing else (``g`` is the identity).
    A functional of several means (a variance, a ratio) returns one column
    per statistic and also defines :meth:`combine` (``g``), :meth:`gradient`
    and, for the second-order bias correction, :meth:`hessian`. Parameters
    go in ``__init__`` and are stored unchanged, as for estimators, so that a
    functional can be cloned, compared and printed. The estimator calls
    :meth:`plain` and :meth:`debias`, which debias every mean exactly and
    linearise only ``g``; subclasses need not touch them.

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

    def transform(self, values: np.ndarray) -> np.ndarray:
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

    def combine(self, means: np.ndarray) -> float:
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

    def gradient(self, means: np.ndarray) -> np.ndarray:
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

    def hessian(self, means: np.ndarray) -> np.ndarray:
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

    def plain(self, y, level=None):
        """Plain Monte Carlo of the labels: ``g`` of the labels' means.

        Parameters
        ----------
        y : ndarray of shape (n,)
            The labels.
        level : float, default=None
            Unused (the delta method's standard error does not depend on it).

        Returns
        -------
        estimate : Estimate
            With the labels' linearised deviations as ``residuals`` (for the
            heavy-tail check) and their ``scale``; for an indicator (0/1
            statistics), the count of events as ``counts`` instead.
        """
        Ty = apply_functional(self, y, "the labels y")
        cov = np.atleast_2d(np.cov(Ty, rowvar=False, ddof=1)) / len(Ty)
        estimate, se, grad = delta_method(self, Ty.mean(axis=0), cov)
        counts = indicator_counts(Ty)
        return Estimate(
            estimate,
            se,
            residuals=None if counts else (Ty - Ty.mean(axis=0)) @ grad,
            scale=_scale(Ty, grad),
            counts=counts,
        )

    def debias(self, folds, coef, level=None):
        """One cross-fitting repeat: every mean debiased, then ``g``.

        Parameters
        ----------
        folds : CrossFit
            Labels, held-out predictions and each fold's cheap predictions.
        coef : "optimal" or float
            The control-variate weight; ``"optimal"`` estimates each fold's
            on the other folds, for the statistics projected on the
            gradient of ``g`` (their influence function).
        level : float, default=None
            Confidence level: for an indicator (0/1 statistics of labels and
            predictions) the labelled variance is floored (see
            :class:`ExceedanceProbability`); ``None`` skips the floor.
            Otherwise unused.

        Returns
        -------
        estimate : Estimate
            With the linearised control-variate residuals for the heavy-tail
            check; for an indicator, the count of events as ``counts``
            instead. With randomized QMC draws (``folds.replicates > 1``) the
            cheap part of the variance comes from the replicates, and ``df``
            is the Welch-Satterthwaite degrees of freedom of the sum.
        """
        Ty = apply_functional(self, folds.y, "the labels y")
        Tf = apply_functional(self, folds.oof, "the held-out predictions")
        cheap = [
            apply_functional(self, c, "the surrogate's predictions")
            for c in folds.cheap
        ]
        replicates = folds.replicates
        if coef == "optimal":
            weights = optimal_weights(
                Ty,
                Tf,
                folds.fold_of,
                folds.n_folds,
                folds.n_cheap,
                self.gradient,
                cheap,
                replicates,
            )
        else:
            weights = np.full(folds.n_folds, float(coef))
        means, cov_labelled, cov_cheap, plugin, _ = combine_folds(
            Ty, Tf, folds.fold_of, cheap, weights, folds.pooled, replicates
        )
        counts = indicator_counts(Ty)
        if counts and indicator_counts(Tf) and level is not None:
            # Residuals of two indicators: rare disagreements, whose rate the
            # surrogate's residual model estimates on the cheap side.
            floor = indicator_floor(
                lambda v: apply_functional(self, v, "shifted predictions"),
                folds,
                weights,
                level,
            )
            cov_labelled = np.maximum(cov_labelled, floor)
        estimate, se, grad = delta_method(self, means, cov_labelled + cov_cheap)
        # Randomized QMC: the cheap part has replicates - 1 degrees of freedom.
        df = welch_df(
            grad @ cov_labelled @ grad, grad @ cov_cheap @ grad, replicates - 1
        )
        return Estimate(
            estimate,
            se,
            plugin=self.combine(plugin),
            weights=weights,
            # Not centred within folds: one huge residual would shift every
            # other residual of its fold and hide the tail it comes from.
            residuals=None
            if counts
            else (Ty - weights[folds.fold_of, None] * Tf) @ grad,
            scale=_scale(Ty, grad),
            df=df,
            counts=counts,
        )


def _scale(Ty, grad):
    """Scale of the linearised statistic, for the heavy-tail check."""
    return (np.std(Ty, axis=0) + np.abs(Ty.mean(axis=0))) @ np.abs(grad)


class Mean(Functional):
    """The mean ``E_P f(X)`` (the integral of f against P).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias import Mean
    >>> Mean().transform(np.array([1.0, 2.0]))
    array([1., 2.])
    """

    def transform(self, values: ArrayLike) -> np.ndarray:
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

    def __init__(self, q: float) -> None:
        self.q = q

    def transform(self, values: ArrayLike) -> np.ndarray:
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
    control variates: with ``p`` small the residual indicator
    ``1{y > t} - lambda 1{f_hat > t}`` has variance of order ``p`` and no
    surrogate can beat the ``n p`` labels beyond the threshold (Blanchet,
    Chen, Lu and Ying, 2023). :class:`DebiasedFunctionalEstimator` treats
    this functional (and any pointwise functional whose values on the labels
    are all 0 or 1) as an indicator:

    * With fewer than 5 labels beyond the threshold it issues a
      :class:`~sklearn_debias.RareEventWarning`, and
      ``confidence_interval()`` is the exact one-sided Clopper-Pearson
      bound from the labels, ``(0, upper)`` at the confidence level
      (``result_`` is a ``BinomialBoundResult`` with ``alternative="less"``);
      fewer than 5 labels *not* beyond it give ``(lower, 1)`` and
      ``"greater"``. ``estimate_`` stays the debiased estimate (it can be 0);
      ``standard_error_`` and ``naive_standard_error_`` are at least the
      binomial standard error ``sqrt(b (1 - b) / n)`` at that bound ``b``, a
      conservative stand-in, never 0; ``summary()`` shows the bound for the
      debiased and plain rows and says so in a footer line.
    * Otherwise the interval is normal, but the labelled variance is floored
      by an estimate of the rate at which label and surrogate disagree, made
      on the cheap side: each cheap prediction ``f_hat(z)`` is perturbed by
      the out-of-fold residuals ``y_i - f_hat(x_i)``, and the variance of
      ``1{f_hat(z) + e > t} - lambda 1{f_hat(z) > t}`` over the pairs is the
      floor (the larger of that with all residuals and with those of the
      labels predicted nearest the threshold). A good surrogate disagrees
      with fewer than one label in ``n``, so the labels' own count of
      disagreements (often 0) cannot give the variance. With such a
      surrogate the estimate's error is then mostly the cheap side's, with
      an occasional jump of ``1/n``: the interval with the right standard
      error covers more than the nominal level (about 99-100% at 95% in
      our simulator studies, standard error within 15% of the spread).
    * The heavy-tail check is skipped: indicators are bounded.

    See the user guide, "Rare events and heavy tails", for measured coverage.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias import ExceedanceProbability
    >>> ExceedanceProbability(1.5).transform(np.array([1.0, 2.0]))
    array([0., 1.])
    """

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    def transform(self, values: ArrayLike) -> np.ndarray:
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

    def transform(self, values: ArrayLike) -> np.ndarray:
        values = np.asarray(values, dtype=np.float64)
        return np.column_stack([values, values**2])

    def combine(self, means: np.ndarray) -> float:
        return float(means[1] - means[0] ** 2)

    def gradient(self, means: np.ndarray) -> np.ndarray:
        return np.array([-2.0 * means[0], 1.0])

    def hessian(self, means: np.ndarray) -> np.ndarray:
        return np.array([[-2.0, 0.0], [0.0, 0.0]])


class _CallableFunctional(Functional):
    """Wrap a user callable ``T`` as a pointwise functional."""

    def __init__(self, func):
        self.func = func

    def transform(self, values):
        return np.asarray(self.func(np.asarray(values, dtype=np.float64)), dtype=float)


FUNCTIONAL_NAMES = {"mean": Mean, "variance": Variance}


def check_functional(functional):
    """Resolve the ``functional`` parameter into a target with a strategy.

    Parameters
    ----------
    functional : {"mean", "variance"}, Functional, Quantile or callable
        A name, a :class:`Functional` or :class:`~sklearn_debias.Quantile`
        instance, or a callable ``T`` applied pointwise to function values.

    Returns
    -------
    functional : Functional or Quantile
    """
    if isinstance(functional, Estimand):
        return functional
    if isinstance(functional, str):
        if functional in FUNCTIONAL_NAMES:
            return FUNCTIONAL_NAMES[functional]()
        raise ValueError(
            f"functional must be one of {sorted(FUNCTIONAL_NAMES)}, a Functional "
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
    check_returned(
        out,
        out.ndim in (1, 2) and out.shape[0] == values.shape[0] and out.size > 0,
        lambda: f"{functional!r}.transform",
        f"shape {out.shape} for {what} of shape {values.shape}; a pointwise "
        "transform must return one value (or one row of statistics) per function "
        "value",
        f" on {what}",
    )
    return out.reshape(values.shape[0], -1)
