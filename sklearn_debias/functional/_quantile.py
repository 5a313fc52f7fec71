"""Quantiles of f under P from a debiased distribution function.

A quantile is not the mean of a pointwise statistic, but it solves
``F(t) = p`` for the distribution function ``F(t) = P(f(X) <= t)``, which is
one: the mean of the indicator ``1{f(X) <= t}``. Cross-fitting debiases
``F`` at every ``t`` at once: with fold weights ``lambda_k``,

    F_hat(t) = sum_k w_k lambda_k C_k(t)
               + mean_i [1{y_i <= t} - lambda_k(i) 1{f_k(i)(x_i) <= t}],

``k(i)`` the fold of label ``i``, ``C_k`` the distribution function of
fold ``k``'s surrogate over its cheap draws and ``w_k`` the fold's share of
the labels (prediction-powered
inference's rectified distribution function, Angelopoulos et al. 2023,
cross-fitted and with the variance-minimising weight). ``F_hat`` is a step
function, exact at every point where it jumps; the estimate is the inverse
at ``p`` of its monotone rearrangement. The standard error is Woodruff's (1952): the
spread of the inverse over ``p -+ z s(q)``, ``s(q)`` the standard error of
``F_hat`` at the estimate, divided by ``2 z``. It needs no density estimate,
and the normal interval it gives is consistent (Francisco and Fuller, 1991).
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from scipy import stats

from ._base import Estimand, Estimate
from ._combine import (
    combine_folds,
    control_variate_weight,
    effective_n_cheap,
    welch_df,
)

__all__ = ["Quantile"]

# F_hat sums many jumps of +-1/n: values within this of p count as equal to it.
_TOLERANCE = 1e-10


def _step_function(points, jumps):
    """Distinct jump points, sorted, and the step function's value at each."""
    order = np.argsort(points, kind="stable")
    x = points[order]
    values = np.cumsum(jumps[order])
    last = np.r_[x[1:] != x[:-1], True]  # right-continuous: after all equal jumps
    return x[last], values[last]


def _inverse(x, values, p):
    """Generalised inverse at level ``p`` of the rearranged step function.

    ``x[0]`` plus the length of ``{t >= x[0] : F(t) < p}``: the inverse of
    the monotone rearrangement of ``F`` (Chernozhukov, Fernandez-Val and
    Galichon, 2010). For a non-decreasing ``F`` it is the usual quantile,
    ``inf{t : F(t) >= p}`` (an empirical distribution function gives
    numpy's ``"inverted_cdf"`` quantile). A debiased ``F`` may dip below
    ``p`` after it first crosses it, where a surrogate's jump is
    subtracted; each dip then moves the estimate by its width, no more.
    """
    below = values < p - _TOLERANCE
    first = len(x) - 1 if below.all() else int(np.argmin(below))
    # x[first] exactly, plus the width of every later dip.
    return float(x[first] + np.sum(np.diff(x)[first:][below[first:-1]]))


def _woodruff(x, values, p, cdf_se, level, df=np.inf):
    """Woodruff's standard error of the inverse of ``(x, values)`` at ``p``.

    The spacing is ``z s``, ``z`` the normal quantile at ``level`` (Student's
    t with ``df`` degrees of freedom when finite), so that ``estimate -+ z
    se`` is the interval ``[F^-1(p - z s), F^-1(p + z s)]`` in width.
    """
    dist = stats.norm if np.isinf(df) else stats.t(df)
    z = dist.ppf(0.5 + level / 2.0)
    low = _inverse(x, values, max(p - z * cdf_se, 0.0))
    high = _inverse(x, values, min(p + z * cdf_se, 1.0))
    return (high - low) / (2.0 * z)


def _cheap_jumps(preds, fold_weights):
    """Jumps ``fold_weights[k] / N_k`` at each fold's cheap predictions."""
    return [np.full(len(c), wk / len(c)) for c, wk in zip(preds, fold_weights)]


# Fewer labels than this expected beyond the quantile: too few to check it.
_MIN_LABELS_BEYOND = 5


def _labels_only(p, y, level):
    """Plain Monte Carlo: the empirical quantile of the labels.

    Returns the estimate and Woodruff's standard error, with no residuals
    for the heavy-tail check: for a quantile, this warning about the labels
    expected beyond it takes its place. Warns when fewer than 5 labels are
    expected beyond the quantile: neither the labels nor the correction of a
    surrogate can then locate it, and no interval from them is reliable.
    """
    n = len(y)
    beyond = n * min(p, 1.0 - p)
    if beyond < _MIN_LABELS_BEYOND - 1e-9:
        warnings.warn(
            f"Quantile(p={p:g}) from n={n} labels: only {beyond:.2g} labels are "
            f"expected beyond it (fewer than {_MIN_LABELS_BEYOND}), a rare event "
            "for this sample. The labelled correction cannot check the surrogate "
            "there, and the interval may be too narrow.",
            UserWarning,
            stacklevel=5,  # _labels_only < plain < fit < _fit_context < user
        )
    x, values = _step_function(y, np.full(n, 1.0 / n))
    estimate = _inverse(x, values, p)
    indicator = (y <= estimate).astype(float)
    cdf_se = np.std(indicator, ddof=1) / np.sqrt(n)
    se = _woodruff(x, values, p, cdf_se, level)
    return Estimate(estimate, se)


def _ramp(values, low, high):
    """1 below ``low``, 0 above ``high``, linear between (the indicator of
    ``values <= low`` when ``high == low``)."""
    if high <= low:
        return (values <= low).astype(float)
    return np.clip((high - values) / (high - low), 0.0, 1.0)


def _weights(y, oof, fold_of, preds, n_cheap, p, replicates=1):
    """Cross-fitted weights, one per fold, for the quantile.

    The quantile's influence function is proportional to ``1{f <= q}``, but
    near p = 0 or 1 only a handful of labels fall on one side of it, and the
    weight of that indicator would rest on them alone (one mismatch in five
    moves it from 1 to 2/3). Fold ``k``'s weight is therefore the
    variance-minimising one for the indicator averaged over a window of
    levels, ``p -+ delta`` with ``delta = min(p, 1 - p, 1 / sqrt(n))``: a
    ramp from 1 to 0 between the fold surrogate's own quantiles at those
    levels (which do not depend on the fold's labels), estimated on the
    other folds. Any weight leaves the estimate unbiased; a steadier one
    makes it more precise. With randomized QMC (``replicates > 1``) the
    number of cheap draws is the effective one of the ramp over the other
    folds' cheap predictions.
    """
    n = len(y)
    delta = min(p, 1.0 - p, 1.0 / np.sqrt(n))
    weights = np.zeros(len(preds))
    for k, c in enumerate(preds):
        x, values = _step_function(c, np.full(len(c), 1.0 / len(c)))
        low, high = (_inverse(x, values, level) for level in (p - delta, p + delta))
        out = fold_of != k
        n_k = n_cheap
        if replicates > 1:
            others = [_ramp(c2, low, high) for j, c2 in enumerate(preds) if j != k]
            n_k = effective_n_cheap(others, replicates)
        weights[k] = control_variate_weight(
            _ramp(y[out], low, high), _ramp(oof[out], low, high), n, n_k
        )
    return weights


def _mismatch_probability(y, oof, q, surrogate_cdf):
    """Smoothed probability that ``q`` lies between a label and its prediction.

    For a label ``y = f_hat + e`` with a small error ``e``, ``q`` separates
    them with probability ``g(q) |e|``, ``g`` the density of the surrogate's
    predictions: the estimate is ``g(q)`` (from the cheap draws, over the
    levels ``G(q) -+ delta``) times the mean ``|y - f_hat|`` of the
    ``2 sqrt(n)`` labels predicted nearest ``q``. Unlike the count of labels
    that straddle ``q``, it does not vanish when that count happens to be 0.
    """
    n = len(y)
    x, values = surrogate_cdf
    level = values[np.searchsorted(x, q, side="right") - 1] if q >= x[0] else 0.0
    delta = min(level, 1.0 - level, 1.0 / np.sqrt(n))
    if delta <= 0:
        return 0.0
    low = _inverse(x, values, level - delta)
    high = _inverse(x, values, level + delta)
    if high <= low:
        return 0.0
    nearest = np.argsort(np.abs(oof - q))[: min(n, max(5, int(2 * np.sqrt(n))))]
    error = np.mean(np.abs(y[nearest] - oof[nearest]))
    return min(1.0, 2.0 * delta / (high - low) * error)


def _debias(p, folds, coef, level):
    """One cross-fitting repeat for ``Quantile(p)``.

    The confidence ``level`` sets Woodruff's spacing. The result carries no
    residuals for the heavy-tail check: the smoothed floor on the labelled
    variance deals with the rare straddling labels, and
    :func:`_labels_only` warns about extreme levels.
    """
    y, oof, fold_of, preds = folds.y, folds.oof, folds.fold_of, folds.cheap
    n = len(y)
    n_folds = folds.n_folds
    replicates = folds.replicates
    if coef == "optimal":
        weights = _weights(y, oof, fold_of, preds, folds.n_cheap, p, replicates)
    else:
        weights = np.full(n_folds, float(coef))
    share = np.bincount(fold_of, minlength=n_folds) / n
    x, values = _step_function(
        np.concatenate([y, oof, *preds]),
        np.concatenate(
            [np.full(n, 1.0 / n), -weights[fold_of] / n]
            + _cheap_jumps(preds, share * weights)
        ),
    )
    estimate = _inverse(x, values, p)
    surrogate_cdf = _step_function(
        np.concatenate(preds), np.concatenate(_cheap_jumps(preds, share))
    )
    _, labelled, cheap, _, _ = combine_folds(
        (y <= estimate).astype(float)[:, None],
        (oof <= estimate).astype(float)[:, None],
        fold_of,
        [(c <= estimate).astype(float)[:, None] for c in preds],
        weights,
        folds.pooled,
        replicates,
    )
    # The labelled variance counts the labels whose label and prediction
    # straddle the estimate: a rare event when the surrogate is good, whose
    # count is often 0 although its probability is not. Floor it with the
    # smoothed probability of a mismatch.
    mismatch = _mismatch_probability(y, oof, estimate, surrogate_cdf)
    labelled = max(labelled[0, 0], np.mean(weights**2) * mismatch / n)
    cdf_se = float(np.sqrt(labelled + cheap[0, 0]))
    # Randomized QMC: the cheap part has replicates - 1 degrees of freedom.
    df = welch_df(labelled, cheap[0, 0], replicates - 1)
    se = _woodruff(x, values, p, cdf_se, level, df)
    plugin = _inverse(*surrogate_cdf, p)
    return Estimate(estimate, se, plugin=plugin, weights=weights, df=df)


class Quantile(Estimand):
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

    def __init__(self, p: float) -> None:
        self.p = p

    def check_level(self):
        """The level ``p`` as a float, validated to lie in (0, 1)."""
        p = self.p
        if not isinstance(p, numbers.Real) or not 0.0 < p < 1.0:
            raise ValueError(f"Quantile(p) needs a level p in (0, 1), got p={p!r}")
        return float(p)

    def plain(self, y, level):
        """The empirical quantile of the labels, with Woodruff's standard error.

        Parameters
        ----------
        y : ndarray of shape (n,)
            The labels.
        level : float
            Confidence level that sets Woodruff's spacing.

        Returns
        -------
        estimate : Estimate
        """
        return _labels_only(self.check_level(), y, level)

    def debias(self, folds, coef, level):
        """The inverse at ``p`` of one repeat's debiased distribution function.

        Parameters
        ----------
        folds : CrossFit
            Labels, held-out predictions and each fold's cheap predictions.
        coef : "optimal" or float
            The control-variate weight; ``"optimal"`` minimises, for each
            fold on the other folds, the variance of the indicator averaged
            over levels near ``p``.
        level : float
            Confidence level that sets Woodruff's spacing.

        Returns
        -------
        estimate : Estimate
        """
        return _debias(self.check_level(), folds, coef, level)
