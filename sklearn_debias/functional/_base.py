"""The one strategy interface of everything DebiasedFunctionalEstimator estimates.

A target (a :class:`~sklearn_debias.Functional` of means, a
:class:`~sklearn_debias.Quantile`) says how to estimate itself in two ways:

* :meth:`Estimand.plain`: from the labels alone (plain Monte Carlo);
* :meth:`Estimand.debias`: from one cross-fitting repeat, a :class:`CrossFit`
  (labels, held-out predictions, each fold's predictions on its cheap draws).

Both return an :class:`Estimate`. The estimator never asks which kind of
target it holds: it calls these two methods and aggregates the results.
The two records leave room for what comes next (a vector ``y`` with a joint
covariance, several fidelities) without changing the calls, as they did for
randomized-QMC replicates (``CrossFit.replicates``, ``Estimate.df``).
"""

from typing import NamedTuple

import numpy as np

__all__ = ["CrossFit", "Estimate", "Estimand"]


class CrossFit(NamedTuple):
    """One cross-fitting repeat: what a strategy debiases.

    Attributes
    ----------
    y : ndarray of shape (n,)
        The labels.
    oof : ndarray of shape (n,)
        Out-of-fold (held-out) surrogate predictions at the labelled points.
    fold_of : ndarray of shape (n,)
        The fold of each labelled point, in ``0 .. n_folds - 1``.
    cheap : list of ndarray
        Each fold's surrogate predictions on its cheap draws from P.
    n_cheap : float
        Number of independent cheap draws (``inf`` for low-discrepancy
        points, which carry no Monte Carlo noise to trade labels against;
        with randomized QMC the weights use the effective number the
        replicates show instead).
    pooled : bool
        Whether the folds share their cheap draws (an array pool or a
        low-discrepancy set), which correlates their integrals.
    replicates : int, default=1
        Independent randomizations the shared cheap draws come in
        (randomized QMC: ``len(cheap[k]) / replicates`` consecutive points
        each). When above 1 the cheap part of the variance is that of the
        replicates' means, with ``replicates - 1`` degrees of freedom.
    """

    y: np.ndarray
    oof: np.ndarray
    fold_of: np.ndarray
    cheap: list
    n_cheap: float
    pooled: bool
    replicates: int = 1

    @property
    def n_folds(self):
        """Number of folds."""
        return len(self.cheap)


class Estimate(NamedTuple):
    """What a strategy returns: one estimate with its uncertainty.

    Attributes
    ----------
    estimate : float
        The point estimate.
    standard_error : float
        Its standard error.
    plugin : float, default=nan
        The surrogates' plug-in estimate ``Phi(f_hat)`` (NaN from the labels
        alone).
    weights : ndarray of shape (n_folds,) or None, default=None
        The control-variate weight of each fold.
    residuals : ndarray of shape (n,) or None, default=None
        Linearised residuals for the heavy-tail check; ``None`` when the
        strategy checks its own tails.
    scale : float or None, default=None
        Scale of the statistic, below which residuals are rounding noise.
    covariance : ndarray or None, default=None
        Joint covariance of a vector estimate (``None`` for a scalar).
    df : float, default=inf
        Degrees of freedom of the standard error (``inf``: a normal
        interval; finite: Student's t, for replicated estimates).
    counts : tuple of (int, int) or None, default=None
        ``(events, n)`` for an indicator-valued functional (a probability):
        how many of the ``n`` labels show the event. The estimator then
        skips the heavy-tail check and, when either side has fewer than 5
        labels, reports an exact Clopper-Pearson bound.
    """

    estimate: float
    standard_error: float
    plugin: float = float("nan")
    weights: np.ndarray = None
    residuals: np.ndarray = None
    scale: float = None
    covariance: np.ndarray = None
    df: float = float("inf")
    counts: tuple = None


class Estimand:
    """Base of the targets of :class:`DebiasedFunctionalEstimator`.

    Subclasses implement :meth:`plain` and :meth:`debias`. Parameters go in
    ``__init__`` and are stored unchanged, as for estimators, so that a
    target can be cloned, compared and printed.
    """

    def plain(self, y, level):
        """Plain Monte Carlo from the labels alone.

        Parameters
        ----------
        y : ndarray of shape (n,)
            The labels.
        level : float
            Confidence level of the estimator (strategies whose standard
            error depends on it, such as Woodruff's, use it).

        Returns
        -------
        estimate : Estimate
        """
        raise NotImplementedError

    def debias(self, folds, coef, level):
        """The debiased estimate of one cross-fitting repeat.

        Parameters
        ----------
        folds : CrossFit
            The repeat's labels, held-out predictions and cheap predictions.
        coef : "optimal" or float
            The control-variate weight, or ``"optimal"`` for the cross-fitted
            variance-minimising one.
        level : float
            Confidence level of the estimator.

        Returns
        -------
        estimate : Estimate
        """
        raise NotImplementedError

    def _params(self):
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other):
        return type(self) is type(other) and self._params() == other._params()

    def __hash__(self):
        return hash((type(self).__name__, tuple(sorted(self._params().items()))))
