"""The cross-fitting loop: fit parameters, splits, one fold's work, the repeats.

Every random stream comes from ``random_state`` through one spawned tree:
a child for the default surrogate's seed, then one child per repeat, which
spawns one child for its KFold split and then one per fold for the fold's
cheap draws. The result depends on ``random_state`` only, never on
``n_jobs`` or numpy's global state.
"""

import numbers
import warnings
from contextlib import contextmanager

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import KFold, check_cv

from ..utils import checked_fit, checked_predict
from ..utils._compat import _check_method_params
from ._base import CrossFit

__all__ = ["split_repeat", "fit_fold", "cross_fits"]


def split_repeat(cv, X, y, seed):
    """One repeat's ``(train, test)`` splits and each fold's draw seed.

    ``seed`` is the repeat's :class:`~numpy.random.SeedSequence`: its first
    child seeds the shuffled ``KFold`` of an integer ``cv``, the next ones
    (one per fold) the folds' cheap draws.
    """
    (split_seed,) = seed.spawn(1)
    if isinstance(cv, numbers.Integral):
        shuffle_seed = int(split_seed.generate_state(1)[0])
        splitter = KFold(cv, shuffle=True, random_state=shuffle_seed)
    else:
        splitter = check_cv(cv)
    splits = list(splitter.split(X, y))
    return splits, seed.spawn(len(splits))


@contextmanager
def _quiet(default_surrogate):
    with warnings.catch_warnings():
        if default_surrogate:
            # The default Gaussian process reaches its noise floor on exact
            # labels, and its marginal-likelihood search often ends on an
            # "ABNORMAL" line search: benign for a control variate (its
            # quality shows in the variance reduction), and about internals
            # the user did not choose.
            warnings.filterwarnings(
                "ignore", message=".*close to the specified (lower|upper) bound"
            )
            warnings.filterwarnings("ignore", message="lbfgs failed to converge")
        yield


def fit_fold(estimator, X, y, train, test, params, sampler, n_draws, seed, name, quiet):
    """Fit one fold's surrogate; predict the held-out labels and the fresh draws.

    ``params`` are the surrogate's fit parameters; those aligned with the
    samples are sliced to the fold's training rows. ``seed`` seeds the
    fold's cheap draws; ``quiet`` silences the default surrogate's benign
    optimizer warnings.
    """
    est = clone(estimator)
    fold_params = _check_method_params(X, params, indices=train)
    with _quiet(quiet):
        checked_fit(est, X[train], y[train], name, **fold_params)
    oof = checked_predict(est, X[test], f"the held-out points of {name}")
    cheap = None
    if sampler is not None:
        Z = sampler.draw(n_draws, np.random.default_rng(seed))
        cheap = checked_predict(est, Z, f"the fresh draws of {name}")
    return est, oof, cheap


def cross_fits(y, splits, results, sampler):
    """One :class:`CrossFit` per repeat from the folds' results, in order.

    ``splits`` holds each repeat's ``(folds, draw_seeds)``, as returned by
    :func:`split_repeat`; ``results`` each fold's ``(estimator, held-out
    predictions, cheap predictions)``, repeat after repeat.
    """
    n = len(y)
    start = 0
    for folds, _ in splits:
        fold_res = results[start : start + len(folds)]
        start += len(folds)
        fold_of = np.empty(n, dtype=np.intp)
        oof = np.empty(n)
        for k, ((_, test), (_, pred, _)) in enumerate(zip(folds, fold_res)):
            fold_of[test] = k
            oof[test] = pred
        cheap = [res[2] for res in fold_res]
        if sampler is None:
            n_cheap, pooled = 0, False
        elif sampler.low_discrepancy:
            n_cheap, pooled = np.inf, True  # no Monte Carlo noise to trade
        else:
            pooled = sampler.is_pool
            n_cheap = len(cheap[0]) if pooled else sum(len(c) for c in cheap)
        yield CrossFit(y, oof, fold_of, cheap, n_cheap, pooled)
