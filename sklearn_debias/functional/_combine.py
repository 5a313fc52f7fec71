"""The numerics of cross-fitting: control-variate weights, the combination of
the folds into estimates with a covariance, the delta method and the
heavy-tail check.

Shared by every target of :class:`~sklearn_debias.DebiasedFunctionalEstimator`.
"""

import warnings

import numpy as np

__all__ = [
    "control_variate_weight",
    "optimal_weights",
    "combine_folds",
    "delta_method",
    "tail_share",
    "check_tails",
]


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


def optimal_weights(Ty, Tf, fold_of, n_folds, n_cheap, gradient):
    """Cross-fitted variance-minimising weights, one per fold, not clipped.

    The weight of fold k is estimated on the other folds only, from the
    held-out pairs of statistics (T(y), T(f_hat(x))) projected on the
    functional's gradient ``G`` (its influence function; ``G = 1`` for a
    pointwise functional). One weight for all statistics keeps the estimate
    equivariant under the transformations ``g`` is invariant to.
    """
    n = len(Ty)
    weights = np.zeros(n_folds)
    for k in range(n_folds):
        out = fold_of != k
        if out.sum() < 2:
            continue
        G = gradient(Ty[out].mean(axis=0))
        weights[k] = control_variate_weight(Ty[out] @ G, Tf[out] @ G, n, n_cheap)
    return weights


def combine_folds(Ty, Tf, fold_of, cheap, weights, pooled_draws):
    """Estimated means, their covariance and plug-in of one cross-fitting repeat.

    For every statistic (column of ``Ty``)
    m = sum_k w_k [lambda_k mean_Z T(f_k(Z)) + mean_{i in k} (T(y_i) - lambda_k
    T(f_k(x_i)))] with w_k = n_k / n, unbiased given the fold models.
    Returns ``m``, the labelled and the cheap parts of its covariance, the
    plug-in means and the labelled deviations.
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


def check_tails(deviations, what, scale):
    """Warn when one residual carries a macroscopic share of their squares.

    ``deviations`` are the linearised residuals, ``what`` names them in the
    warning and ``scale`` is the statistic's scale: residuals below
    ``1e-8 * scale`` are the rounding noise of an exact surrogate.
    """
    n = len(deviations)
    if np.sqrt(np.mean(deviations**2)) <= 1e-8 * scale:
        return  # rounding noise of an exact surrogate, not a tail
    share = tail_share(deviations)
    # For light tails the largest of n squared residuals carries ~2 log(n) / n
    # of their sum; heavy tails or rare events put a macroscopic share on one.
    threshold = max(0.3, 8.0 * np.log(n) / n)
    if share > threshold:
        warnings.warn(
            f"The {what} look heavy-tailed or dominated by rare events: the largest "
            f"one carries {share:.0%} of their sum of squares (expected below "
            f"{threshold:.0%} for light tails with n={n}). Control variates cannot "
            "help there (Blanchet, Chen, Lu and Ying, 2023) and the normal confidence "
            "interval may under-cover.",
            UserWarning,
            stacklevel=5,  # check_tails < _debias < fit < _fit_context < user
        )
