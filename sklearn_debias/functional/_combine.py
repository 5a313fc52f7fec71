"""The numerics of cross-fitting: control-variate weights, the combination of
the folds into estimates with a covariance, the delta method, the heavy-tail
check and the rare-event bounds of indicator functionals.

Shared by every target of :class:`~sklearn_debias.DebiasedFunctionalEstimator`.
"""

import warnings

import numpy as np
from scipy import stats

from ..utils._results import clopper_pearson

__all__ = [
    "HeavyTailWarning",
    "RareEventWarning",
    "control_variate_weight",
    "optimal_weights",
    "replicate_covariance",
    "effective_n_cheap",
    "welch_df",
    "combine_folds",
    "delta_method",
    "tail_share",
    "tail_index",
    "moment_index",
    "check_tails",
    "indicator_counts",
    "binomial_floor",
    "indicator_floor",
    "rare_event",
    "check_rare",
]


class HeavyTailWarning(UserWarning):
    """The residuals look heavy-tailed: the normal interval may under-cover.

    Issued by :class:`~sklearn_debias.DebiasedFunctionalEstimator` when the
    Hill estimate of the tail index of the control-variate residuals is
    below 2 (infinite variance), a threshold raised for small samples so
    that light-tailed residuals rarely trigger it. See the user guide,
    "Rare events and heavy tails", for its measured rates.

    Examples
    --------
    >>> import warnings
    >>> from sklearn_debias.functional import HeavyTailWarning
    >>> issubclass(HeavyTailWarning, UserWarning)
    True
    """


class RareEventWarning(UserWarning):
    """Fewer than 5 labels show the event: the interval is an exact bound.

    Issued by :class:`~sklearn_debias.DebiasedFunctionalEstimator` for an
    indicator-valued functional (such as
    :class:`~sklearn_debias.ExceedanceProbability`) when fewer than 5
    labels lie beyond the threshold (or fewer than 5 below it): no
    surrogate can then be checked, and the estimator reports the one-sided
    Clopper-Pearson bound from the labels instead of a normal interval.

    Examples
    --------
    >>> from sklearn_debias.functional import RareEventWarning
    >>> issubclass(RareEventWarning, UserWarning)
    True
    """


def control_variate_weight(gy, gf, n, n_cheap):
    """Variance-minimising weight ``Cov(gy, gf) / (Var(gf) (1 + n / N))``.

    ``gy`` and ``gf`` are paired held-out statistics of the labels and of the
    surrogate, ``n`` the number of labels and ``N = n_cheap`` the number of
    cheap draws (``inf`` for low-discrepancy points). 0 when ``gf`` is
    constant (the surrogate then carries no information).
    """
    if len(gy) < 2:
        return 0.0
    var = np.var(gf, ddof=1)
    if var <= 1e-14 * max(np.var(gy, ddof=1), 1e-300):
        return 0.0
    cov = np.cov(gy, gf, ddof=1)[0, 1]
    return float(cov / (var * (1.0 + n / n_cheap)))


def optimal_weights(
    Ty, Tf, fold_of, n_folds, n_cheap, gradient, cheap=None, replicates=1
):
    """Cross-fitted variance-minimising weights, one per fold, not clipped.

    The weight of fold k is estimated on the other folds only, from the
    held-out pairs of statistics (T(y), T(f_hat(x))) projected on the
    functional's gradient ``G`` (its influence function; ``G = 1`` for a
    pointwise functional). One weight for all statistics keeps the estimate
    equivariant under the transformations ``g`` is invariant to. With
    randomized QMC (``replicates > 1``) the number of cheap draws is the
    effective one of the other folds' projected statistics ``cheap``
    (:func:`effective_n_cheap`), in place of ``n_cheap``.
    """
    n = len(Ty)
    weights = np.zeros(n_folds)
    for k in range(n_folds):
        out = fold_of != k
        if out.sum() < 2:
            continue
        G = gradient(Ty[out].mean(axis=0))
        n_k = n_cheap
        if replicates > 1 and cheap is not None:
            others = [c @ G for j, c in enumerate(cheap) if j != k]
            n_k = effective_n_cheap(others, replicates)
        weights[k] = control_variate_weight(Ty[out] @ G, Tf[out] @ G, n, n_k)
    return weights


def replicate_covariance(values, replicates):
    """Covariance of the mean of ``values`` from its independent randomizations.

    ``values`` (``(N,)`` or ``(N, s)``) come in ``replicates`` consecutive
    blocks of ``N / replicates`` rows, each an independent randomization of
    a QMC point set: the mean over all rows is the mean of the blocks'
    means, whose covariance is estimated (unbiasedly, with ``replicates -
    1`` degrees of freedom) by their sample covariance (``ddof=1``) divided
    by ``replicates`` (Owen, 1997; L'Ecuyer and Lemieux, 2002). Returns an
    ``(s, s)`` array.
    """
    values = np.asarray(values, dtype=float)
    values = values.reshape(len(values), -1)
    means = values.reshape(replicates, -1, values.shape[1]).mean(axis=1)
    return np.atleast_2d(np.cov(means, rowvar=False, ddof=1)) / replicates


def effective_n_cheap(values, replicates):
    """Independent draws whose Monte Carlo variance equals randomized QMC's.

    ``values`` is a list of ``(N,)`` statistics on the shared randomized
    point set (one per fold): ``var(values) / v``, with ``v`` the variance of
    their mean estimated from the ``replicates`` randomizations
    (:func:`replicate_covariance`), averaged over the list. ``inf`` when the
    replicates agree exactly (a constant or exactly integrated statistic).
    """
    if not values:
        return np.inf
    var_mean = np.mean([replicate_covariance(v, replicates)[0, 0] for v in values])
    var_point = np.mean([np.var(v, ddof=1) for v in values])
    if var_mean <= 0:
        return np.inf
    return float(max(var_point / var_mean, 1.0))


def welch_df(var_labelled, var_cheap, df_cheap):
    """Welch-Satterthwaite degrees of freedom of a sum of two variance estimates.

    The labelled part ``var_labelled`` is estimated from many residuals
    (infinite degrees of freedom, as for the normal interval); the cheap
    part ``var_cheap`` from ``df_cheap + 1`` randomized-QMC replicates. The
    sum then has about ``df_cheap (1 + var_labelled / var_cheap)**2``
    degrees of freedom: ``df_cheap`` when the cheap part dominates (a
    Student-t interval), ``inf`` when it is 0 or has no replicates to count
    (``df_cheap < 1``: Monte Carlo or a pool, charged a known variance).
    """
    if not var_cheap > 0 or not 1 <= df_cheap < np.inf:
        return float("inf")
    return float(df_cheap * (1.0 + max(var_labelled, 0.0) / var_cheap) ** 2)


def combine_folds(Ty, Tf, fold_of, cheap, weights, pooled_draws, replicates=1):
    """Estimated means, their covariance and plug-in of one cross-fitting repeat.

    For every statistic (column of ``Ty``)
    m = sum_k w_k [lambda_k mean_Z T(f_k(Z)) + mean_{i in k} (T(y_i) - lambda_k
    T(f_k(x_i)))] with w_k = n_k / n, unbiased given the fold models.
    Returns ``m``, the labelled and the cheap parts of its covariance, the
    plug-in means and the labelled deviations. Shared draws (``pooled_draws``)
    are charged the covariance of the per-point combination ``g = sum_k w_k
    lambda_k T(f_k(Z))``: Monte Carlo's ``cov(g) / N``, or with randomized
    QMC (``replicates > 1``) that of the replicates' means of ``g``
    (:func:`replicate_covariance`).
    """
    n = len(Ty)
    n_folds = len(cheap)
    sizes = np.bincount(fold_of, minlength=n_folds)
    w = sizes / n
    psi = Ty - weights[fold_of, None] * Tf
    fold_sums = np.zeros((n_folds, psi.shape[1]))
    np.add.at(fold_sums, fold_of, psi)
    fold_means = fold_sums / np.maximum(sizes, 1)[:, None]
    cheap_means = np.stack([c.mean(axis=0) for c in cheap])
    wl = w * weights
    means = psi.mean(axis=0) + wl @ cheap_means
    # Labelled part: pooled within-fold covariance of the corrected residuals.
    deviations = psi - fold_means[fold_of]
    cov_labelled = deviations.T @ deviations / max(n - n_folds, 1) / n
    # Cheap part: a shared pool correlates the folds' integrals.
    if pooled_draws:
        g = sum(c * lk for lk, c in zip(wl, cheap))
        if replicates > 1:
            cov_cheap = replicate_covariance(g, replicates)
        else:
            cov_cheap = np.atleast_2d(np.cov(g, rowvar=False, ddof=1)) / len(g)
    else:
        cov_cheap = sum(
            lk**2 * np.atleast_2d(np.cov(c, rowvar=False, ddof=1)) / len(c)
            for lk, c in zip(wl, cheap)
        )
    plugin = w @ cheap_means
    return means, cov_labelled, cov_cheap, plugin, deviations


def delta_method(functional, means, cov):
    """``g(m) - tr(H Sigma) / 2`` and the delta-method standard error."""
    grad = np.asarray(functional.gradient(means), dtype=float)
    hess = np.asarray(functional.hessian(means), dtype=float)
    estimate = functional.combine(means) - 0.5 * np.sum(hess * cov)
    return float(estimate), float(np.sqrt(max(grad @ cov @ grad, 0.0))), grad


def tail_share(deviations):
    """Share of the residual sum of squares carried by the largest residual."""
    ss = np.sum(deviations**2)
    return 0.0 if ss <= 0 else float(np.max(deviations**2) / ss)


# Hill's estimate of 1/alpha from the top k = ceil(2 sqrt(n)) of n |residuals|
# warns above _HILL_GAMMA = 1/2 (tail index below 2) from n = 500 on. Below,
# the statistic is too noisy for 1/2 to catch most infinite-variance tails
# (with 1/2, Student-t(1.5) label noise went unflagged in 14% of the runs of
# n = 200 of test_tails.py, 7% with 0.45): the
# threshold decreases, linearly in log n, to _HILL_GAMMA_SMALL = 0.45 at
# n = 200 and below, but never below the 99% quantile of the statistic for n
# standard normal residuals (20000 simulations, seed 0; interpolated in log n),
# which is the larger below n = 100.
_HILL_GAMMA = 0.5
_HILL_GAMMA_SMALL = 0.45
_HILL_N_SMALL, _HILL_N_LARGE = 200, 500
_HILL_N = (10, 12, 15, 20, 25, 30, 40, 50, 60, 70, 80, 100, 150, 200, 300, 500)
_HILL_N += (1000, 2000)
_HILL_Q99 = (3.36, 2.01, 1.56, 1.13, 0.95, 0.84, 0.70, 0.63, 0.57, 0.53, 0.494, 0.45)
_HILL_Q99 += (0.39, 0.355, 0.312, 0.271, 0.229, 0.197)
_MIN_TAIL_N = 10
# The labels' values pass the "heavier than a normal" test of check_tails only
# when the moment estimator's xi_hat of their tail exceeds _MOMENT_Z null
# standard deviations, _MOMENT_Z / sqrt(k) (xi_hat's asymptotic s.d. at xi = 0
# is 1 / sqrt(k)). Bounded and exponential-type tails have xi <= 0; values
# whose squares have tail index 1.5 have xi = 1/3. Set by the measured trade-off
# (see check_tails): the piston's bounded, skewed cycle times show
# xi_hat ~ 0.05 at n = 400, and Student-t(3) noise xi_hat ~ 0.27 (biased low)
# at n = 1000. At 0.4 the piston's Moment(2) and variance warn in 2-4% of
# runs; at 1.645 (a 5% test) Moment(2) of t(3)-noise labels would go
# unflagged in 28% of runs at n = 1000; at 0 the piston would warn in 4.5-9.5%.
_MOMENT_Z = 0.4


def tail_index(deviations):
    """Hill's estimate of the tail index of ``|deviations - median|``.

    Uses the top ``k = ceil(2 sqrt(n))`` order statistics: returns
    ``(1 / gamma_hat, k)`` with ``gamma_hat`` the mean log-excess of the
    ``k`` largest absolute deviations over the ``(k + 1)``-th. A tail index
    ``alpha`` means ``P(|d| > x) ~ x**-alpha``: below 2 the variance is
    infinite. ``inf`` when the ``(k + 1)``-th largest is 0.
    """
    logs, k = _top_log_excesses(deviations)
    if logs is None:
        return float("inf"), k
    gamma = float(np.mean(logs))
    return (1.0 / gamma if gamma > 0 else float("inf")), k


def _top_log_excesses(deviations):
    """``(log(a_(i) / a_(k+1)) for the k largest a = |d - median|, k)``.

    ``k = ceil(2 sqrt(n))``; ``None`` instead of the excesses when there
    are too few values or the ``(k + 1)``-th largest is 0.
    """
    d = np.asarray(deviations, dtype=float)
    n = len(d)
    k = min(int(np.ceil(2.0 * np.sqrt(n))), n - 1)
    a = np.sort(np.abs(d - np.median(d)))[::-1]
    if k < 1 or a[k] <= 0:
        return None, k
    return np.log(a[:k]) - np.log(a[k]), k


def moment_index(deviations):
    """The moment estimator of the extreme-value index of ``|deviations - median|``.

    Dekkers, Einmahl and de Haan (1989), from the same top ``k = ceil(2
    sqrt(n))`` order statistics as :func:`tail_index`: with ``M_j`` the mean
    ``j``-th power of the log-excesses of the ``k`` largest absolute
    deviations over the ``(k + 1)``-th, returns ``(xi_hat, k)`` with
    ``xi_hat = M_1 + 1 - 1 / (2 (1 - M_1**2 / M_2))``. Unlike Hill's estimate
    it can be negative: ``xi = 1 / alpha > 0`` for a tail of index ``alpha``,
    ``xi = 0`` for exponential-type tails (normal, exponential), ``xi < 0``
    for a bounded one. Its asymptotic standard deviation is
    ``sqrt(1 + xi**2) / sqrt(k)`` for ``xi >= 0``. ``-inf`` when the top
    ``k`` are all equal (crowded against a bound), ``nan`` when the
    ``(k + 1)``-th largest is 0.
    """
    logs, k = _top_log_excesses(deviations)
    if logs is None:
        return float("nan"), k
    m1, m2 = float(np.mean(logs)), float(np.mean(logs**2))
    spread = 1.0 - m1**2 / m2 if m2 > 0 else 0.0
    if spread <= 1e-12:
        return float("-inf"), k
    return m1 + 1.0 - 0.5 / spread, k


def _values_look_heavy(values, n):
    """The values' tail is heavier than a normal's, by Hill and the moment estimator.

    Hill's estimate above its 99% quantile for normal values, and the moment
    estimator's ``xi_hat`` above ``_MOMENT_Z`` of its null standard deviation:
    Hill's alone cannot tell a bounded but skewed tail (the piston's cycle
    time) from one of index 3 at a few hundred values.
    """
    if tail_index(values)[0] >= 1.0 / _normal_q99(n):
        return False
    xi, k = moment_index(values)
    return bool(xi * np.sqrt(k) > _MOMENT_Z)


def _normal_q99(n):
    """The 99% quantile of ``gamma_hat`` for ``n`` standard normal values."""
    return float(np.interp(np.log(n), np.log(_HILL_N), _HILL_Q99))


def _hill_threshold(n):
    """The smallest ``gamma_hat`` that warns with ``n`` residuals."""
    q99 = _normal_q99(n)
    base = np.interp(
        np.log(n),
        np.log([_HILL_N_SMALL, _HILL_N_LARGE]),
        [_HILL_GAMMA_SMALL, _HILL_GAMMA],
    )
    return max(float(base), float(q99))


def check_tails(deviations, what, scale, labels=None, values=None):
    """Warn when the residuals look heavy-tailed (tail index below 2).

    ``deviations`` are the linearised residuals (centred here at their
    median), ``what`` names them in the warning and ``scale`` is the
    statistic's scale: residuals below ``1e-8 * scale`` are the rounding
    noise of an exact surrogate. ``labels`` and ``values``, when given, are
    the labels' linearised deviations ``T(y) - mean`` and the labels' values
    ``y`` themselves: the warning then also needs the labels to look
    heavy-tailed. A heavy tail of ``f`` is what a surrogate cannot remove;
    residuals that look heavy while the labels do not come from the
    surrogate's errors or predictions (the peaked residuals of a polynomial
    fit, the squared predictions of a linear one on normal inputs), which
    have finite variance when the labels do. The labels look heavy when
    their values do (tail index below the threshold), or when their
    statistics do *and* their values have a tail heavier than a normal's:
    Hill's estimate above its 99% quantile for normal values, and the moment
    estimator's ``xi_hat`` (:func:`moment_index`, which is 0 for
    exponential-type and negative for bounded tails) above 0.4 of its null
    standard deviation ``1 / sqrt(k)``. The statistics of the variance or of
    ``Moment(2)`` are squares, which for a bounded or normal ``f`` look as
    heavy as a tail index of 2 at a few hundred labels, yet have every
    moment; and Hill's estimate alone calls the values of a bounded but
    skewed ``f`` (the piston's cycle time) heavier than a normal's in
    7-33% of runs. A statistic that makes a heavy tail of values no heavier
    than a normal's (``1 / f`` near a zero of ``f``) is not flagged.

    The statistic is Hill's estimate of the tail index from the top
    ``k = ceil(2 sqrt(n))`` absolute residuals (:func:`tail_index`). It
    warns when the estimate is below 2 (infinite variance) from n = 500 on,
    below 2.22 for n <= 200 (in between, the threshold on ``1 / alpha``
    goes linearly in log n), and, for n < 100, below the 1st percentile of
    its value for normal residuals. Measured on the statistic alone (no
    labels gate; 1000 samples each; see ``test_tails.py``): normal and
    uniform residuals warn in less than 1% of samples from n = 100 on;
    Student-t(1.5) residuals in 97-99% of samples of n = 100-1000, Pareto(1.5)
    in all. Exponential tails look heavy at small n: Laplace residuals warn
    in 38% of samples at n = 100, 11% at n = 200, 1% at n = 300 and never
    from n = 500 on. Near a tail index of 2 no test can tell at these n:
    Student-t residuals with 2 degrees of freedom warn in 65-90%.

    Through the estimator (``test_tails.py``; 200-600 seeds): the piston
    with a cubic polynomial surrogate (n = 400) warns in 2.2% of runs for
    ``Moment(2)`` and 3.5% for the variance (7.5% and 10% with Hill's test
    of the values alone; 3% and 33% for the variance at n = 1000); label
    noise of Student-t(1.5), t(1.2) or Pareto(1.5) in 92-100% at n = 200 and
    1000. The price is ``Moment(2)`` of labels with Student-t(3) noise
    (squares of index 1.5, values of index 3): 54%, 79% and 92% at n = 200,
    400 and 1000 (65%, 92% and 99.5% before), as values of index 3 are hard
    to tell from a bounded skewed ``f`` at these n.
    """
    deviations = np.asarray(deviations, dtype=float)
    n = len(deviations)
    if n < _MIN_TAIL_N:
        return
    deviations = deviations - np.median(deviations)
    if np.sqrt(np.mean(deviations**2)) <= 1e-8 * scale:
        return  # rounding noise of an exact surrogate, not a tail
    alpha, k = tail_index(deviations)
    threshold = 1.0 / _hill_threshold(n)
    if labels is not None or values is not None:
        heavy = values is not None and tail_index(values)[0] < threshold
        heavy = heavy or (
            labels is not None
            and tail_index(labels)[0] < threshold
            and (values is None or _values_look_heavy(values, n))
        )
        if not heavy:
            return  # light-tailed labels: the residuals' tail is the surrogate's
    if alpha < threshold:
        share = tail_share(deviations)
        warnings.warn(
            f"The {what} look heavy-tailed: their estimated tail index is "
            f"{alpha:.2f} (Hill estimator on the largest k={k} of n={n}; below "
            f"{threshold:.2f} warns, and below 2 the variance is infinite), and the "
            f"largest one carries {share:.0%} of their sum of squares. Control "
            "variates cannot help with heavy tails (Blanchet, Chen, Lu and Ying, "
            "2023) and the normal confidence interval may under-cover. Near a tail "
            "index of 2 no test can tell at this n, so the warning can also fire "
            "on exponential tails (such as squared normal values).",
            HeavyTailWarning,
            stacklevel=5,  # check_tails < _debias < fit < _fit_context < user
        )


# Fewer labels than this on the rare side of an indicator: a rare event.
_MIN_EVENTS = 5


def indicator_counts(Ty):
    """``(events, n)`` when the statistics ``Ty`` are one 0/1 indicator.

    ``None`` for anything else (several statistics, or values other than 0
    and 1): only an indicator-valued pointwise functional (a probability)
    has labelled events to count.
    """
    Ty = np.asarray(Ty)
    if Ty.ndim == 2 and Ty.shape[1] != 1:
        return None
    values = Ty.ravel()
    if not np.all((values == 0.0) | (values == 1.0)):
        return None
    return int(values.sum()), len(values)


def binomial_floor(Ty, Tf, fold_of, weights, level):
    """Labelled variance of an indicator's residuals with pseudo-disagreements.

    With binary labels ``Ty`` and predictions ``Tf`` the residual
    ``Ty - lambda Tf`` is non-zero (or near 0 when ``lambda`` is near 1) only
    where they disagree. As in the Agresti-Coull and Wilson intervals for a
    binomial proportion, add ``z**2 / 2`` pseudo-observations, half a missed
    event (residual 1), half a false alarm (residual ``-lambda``), and return
    the variance of the mean of the residuals so smoothed. Far too wide when
    a good surrogate disagrees with fewer than one label in ``n`` (it then
    supposes about two disagreements); :func:`indicator_floor` uses it only
    where the surrogate's residual model cannot be evaluated.
    """
    n = len(Ty)
    z2 = stats.norm.isf((1.0 - level) / 2.0) ** 2
    psi = Ty.ravel() - weights[fold_of] * Tf.ravel()
    lam = float(np.mean(weights[fold_of]))
    values = np.r_[psi, 1.0, -lam]
    mass = np.r_[np.ones(n), z2 / 4.0, z2 / 4.0]
    mean = np.sum(mass * values) / mass.sum()
    var = np.sum(mass * (values - mean) ** 2) / mass.sum()
    return float(var / n)


# The residual model of indicator_floor: at most this many residual values
# (quantiles of the residuals beyond it) and this many values of T per fold.
_MODEL_RESIDUALS = 64
_MODEL_BUDGET = 2**18


def _residual_values(e):
    """The residuals, or ``_MODEL_RESIDUALS`` of their quantiles when more."""
    if len(e) <= _MODEL_RESIDUALS:
        return np.sort(e)
    return np.quantile(e, (np.arange(_MODEL_RESIDUALS) + 0.5) / _MODEL_RESIDUALS)


def _model_variance(transform, cheap, weights, e):
    """Variance of ``T(f_hat(Z) + e) - lambda_k T(f_hat(Z))`` over draws and ``e``."""
    e = _residual_values(e)
    m = max(1, _MODEL_BUDGET // len(e))
    s1 = s2 = count = 0.0
    for lam, values in zip(weights, cheap):
        values = np.asarray(values, dtype=float)[:m]
        Tf = transform(values).ravel()
        Ty = transform((values[:, None] + e[None, :]).ravel()).reshape(len(values), -1)
        r = Ty - lam * Tf[:, None]
        s1 += r.sum()
        s2 += np.sum(r**2)
        count += r.size
    mean = s1 / count
    return max(s2 / count - mean**2, 0.0)


def indicator_floor(transform, folds, weights, level):
    """Floor of the labelled variance of an indicator's residuals, from the cheap side.

    With binary ``T`` (an exceedance ``1{f > t}``) the residual
    ``T(y) - lambda T(f_hat(x))`` is non-zero (or near 0) only where label and
    surrogate disagree, which a good surrogate does at fewer than one label
    in ``n``: the sample variance of the residuals is then 0 or 1/n, a
    lottery. The disagreement rate is estimated instead from the cheap side,
    with the surrogate's residual model: every cheap prediction ``f_hat(z)``
    of fold ``k`` is paired with every out-of-fold residual
    ``e_i = y_i - f_hat(x_i)`` (64 of their quantiles when ``n > 64``), and the
    variance of ``T(f_hat(z) + e) - lambda_k T(f_hat(z))`` over the pairs is
    the floor (divided by ``n``). This supposes residuals independent of
    ``x``; as a guard against residuals that grow near the boundary of the
    event, the same is computed with the residuals of the quarter of the
    labels (at least 20) whose predictions are nearest the boundary (most
    likely to change ``T`` when perturbed by a residual), and the larger of
    the two is returned. Exact for a surrogate off by a constant.

    ``transform`` maps function values to ``T`` (an ``(m,)`` or ``(m, 1)``
    array of 0/1), ``folds`` is the :class:`CrossFit` and ``weights`` the
    folds' control-variate weights. When ``transform`` fails on the shifted
    values (a callable that rejects them), the ``z**2 / 2``
    pseudo-disagreement floor of :func:`binomial_floor` at ``level``.
    """
    y, oof, fold_of = folds.y, folds.oof, folds.fold_of
    e = np.asarray(y, dtype=float) - np.asarray(oof, dtype=float)
    n = len(e)
    try:
        Tf = transform(oof).ravel()
        # How likely each label's prediction is to change T under a residual.
        reach = np.mean(
            transform((oof[:, None] + _residual_values(e)[None, :]).ravel()).reshape(
                n, -1
            )
            != Tf[:, None],
            axis=1,
        )
        near = np.argsort(-reach, kind="stable")[: max(20, n // 4)]
        variance = max(
            _model_variance(transform, folds.cheap, weights, e),
            _model_variance(transform, folds.cheap, weights, e[near]),
        )
    except (ValueError, TypeError, ArithmeticError):
        Ty, Tf = transform(y).reshape(n, -1), transform(oof).reshape(n, -1)
        return binomial_floor(Ty, Tf, fold_of, weights, level)
    return float(variance / n)


def rare_event(counts, level):
    """The exact bound of a rare indicator, or ``None`` when it is not rare.

    ``counts`` is ``(events, n)`` from :func:`indicator_counts`. Rare means
    fewer than 5 events, or fewer than 5 non-events. Returns ``(alternative,
    interval, standard_error)``: ``"less"`` and the one-sided upper
    Clopper-Pearson bound ``(0, high)`` when events are rare, ``"greater"``
    and ``(low, 1)`` when non-events are; the standard error is that of the
    labels' frequency were the probability at that bound,
    ``sqrt(b (1 - b) / n)``, a conservative stand-in.
    """
    if counts is None:
        return None
    k, n = counts
    if min(k, n - k) >= _MIN_EVENTS:
        return None
    alternative = "less" if k <= n - k else "greater"
    interval = clopper_pearson(k, n, level, alternative)
    bound = interval.high if alternative == "less" else interval.low
    return alternative, interval, float(np.sqrt(bound * (1.0 - bound) / n))


def check_rare(counts, level, what):
    """Warn (:class:`RareEventWarning`) when an indicator's events are rare."""
    rare = rare_event(counts, level)
    if rare is None:
        return
    alternative, (low, high), _ = rare
    k, n = counts
    side, bound = (
        ("show", f"upper bound {high:.3g}")
        if alternative == "less"
        else ("miss", f"lower bound {low:.3g}")
    )
    events = k if alternative == "less" else n - k
    warnings.warn(
        f"Rare event: only {events} of the n={n} labels {side} the event of {what} "
        f"(T(y) = 1, such as y beyond the threshold; fewer than {_MIN_EVENTS}). "
        "No surrogate can be checked there "
        "(Blanchet, Chen, Lu and Ying, 2023): the normal interval would be "
        f"meaningless, so the interval is the exact one-sided {level:.0%} "
        f"Clopper-Pearson {bound} from the labels, and the standard error is a "
        "conservative stand-in. More labels are needed to estimate it.",
        RareEventWarning,
        stacklevel=5,  # check_rare < _debias < fit < _fit_context < user
    )
