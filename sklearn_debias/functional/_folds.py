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

__all__ = ["as_frame", "split_repeat", "fit_fold", "cross_fits"]


def split_repeat(cv, X, y, seed):
    """One repeat's ``(train, test)`` splits and each fold's draw seed.

    ``seed`` is the repeat's :class:`~numpy.random.SeedSequence`: its first
    child seeds the shuffled ``KFold`` of an integer ``cv``, the next ones
    (one per fold) the folds' cheap draws. The splits must partition the
    rows: every row in exactly one test set, and no test row in its own
    training set; otherwise a ``ValueError`` names the splitter and the
    rows at fault.
    """
    (split_seed,) = seed.spawn(1)
    if isinstance(cv, numbers.Integral):
        shuffle_seed = int(split_seed.generate_state(1)[0])
        splitter = KFold(cv, shuffle=True, random_state=shuffle_seed)
    else:
        splitter = check_cv(cv)
    n = X.shape[0]
    splits = [_check_split(cv, train, test, n) for train, test in splitter.split(X, y)]
    if not splits:
        raise ValueError(f"cv={_describe_cv(cv)} gave no splits")
    counts = np.bincount(np.concatenate([test for _, test in splits]), minlength=n)
    if np.any(counts != 1):
        missing, repeated = np.flatnonzero(counts == 0), np.flatnonzero(counts > 1)
        problems = []
        if missing.size:
            problems.append(
                f"{missing.size} of the {n} rows are in no test set "
                f"(rows {_some(missing)})"
            )
        if repeated.size:
            problems.append(
                f"{repeated.size} rows are in more than one test set "
                f"(rows {_some(repeated)})"
            )
        raise ValueError(
            f"cv={_describe_cv(cv)} does not partition the rows: "
            + " and ".join(problems)
            + ". Cross-fitting holds every row out exactly once per repeat: use "
            "KFold, GroupKFold, StratifiedKFold or a list of (train, test) whose "
            "test sets partition the rows (ShuffleSplit and TimeSeriesSplit do not)"
        )
    return splits, seed.spawn(len(splits))


def _check_split(cv, train, test, n):
    """One split as two integer index arrays, test rows not in train."""
    out = []
    for name, rows in (("train", train), ("test", test)):
        rows = np.asarray(rows)
        if rows.dtype == bool and rows.shape == (n,):
            rows = np.flatnonzero(rows)
        if rows.ndim != 1 or (rows.size and rows.dtype.kind not in "iu"):
            raise ValueError(
                f"cv={_describe_cv(cv)} gave a {name} set that is not a 1-D array "
                f"of row indices (dtype {rows.dtype}, shape {rows.shape})"
            )
        rows = rows.astype(np.intp)
        if rows.size and (rows.min() < 0 or rows.max() >= n):
            raise ValueError(
                f"cv={_describe_cv(cv)} gave {name} indices outside [0, {n}) for "
                f"{n} rows: {_some(rows[(rows < 0) | (rows >= n)])}"
            )
        out.append(rows)
    train, test = out
    if test.size == 0 or train.size == 0:
        raise ValueError(f"cv={_describe_cv(cv)} gave an empty train or test set")
    both = np.intersect1d(train, test)
    if both.size:
        raise ValueError(
            f"cv={_describe_cv(cv)} gave a split whose training set contains "
            f"{both.size} of its own test rows (rows {_some(both)}): the held-out "
            "corrections would be fitted to, and the estimate biased"
        )
    return train, test


def _describe_cv(cv):
    if isinstance(cv, numbers.Integral) or hasattr(cv, "split"):
        return repr(cv)
    try:
        return f"<{type(cv).__name__} of {len(cv)} splits>"
    except TypeError:
        return f"<{type(cv).__name__}>"


def _some(rows, k=5):
    rows = [int(r) for r in rows]
    return ", ".join(map(str, rows[:k])) + (", ..." if len(rows) > k else "")


def _rows(X, index):
    """Rows of an ndarray or a pandas DataFrame (by position)."""
    return X.iloc[index] if hasattr(X, "iloc") else X[index]


def as_frame(Z, frame):
    """The draws ``Z`` as a DataFrame like X (``frame``), or unchanged.

    ``frame`` is ``None`` (X was an array) or ``(columns, dtypes)`` of the
    DataFrame X: each column takes X's floating dtype, or its integer dtype
    when every draw of the column is a whole number.
    """
    if frame is None:
        return Z
    import pandas as pd

    columns, dtypes = frame
    data = {}
    for j, dtype in enumerate(dtypes):
        col = Z[:, j]
        if isinstance(dtype, np.dtype) and (
            dtype.kind == "f" or (dtype.kind in "iu" and np.all(np.mod(col, 1) == 0))
        ):
            col = col.astype(dtype)
        data[j] = col
    df = pd.DataFrame(data)
    df.columns = columns
    return df


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


def fit_fold(
    estimator,
    X,
    y,
    train,
    test,
    params,
    sampler,
    n_draws,
    seed,
    name,
    quiet,
    keep=0,
    frame=None,
):
    """Fit one fold's surrogate; predict the held-out labels and the fresh draws.

    ``params`` are the surrogate's fit parameters; those aligned with the
    samples are sliced to the fold's training rows. ``seed`` seeds the
    fold's cheap draws; ``quiet`` silences the default surrogate's benign
    optimizer warnings. ``X`` may be a pandas DataFrame: the surrogate then
    sees DataFrame rows, and the draws as a DataFrame like X (``frame``, see
    :func:`as_frame`). Returns ``(estimator, held-out predictions, cheap
    predictions, kept draws)``, the last the first ``keep`` rows of the
    fresh draws (for the sampler check), or ``None``.
    """
    est = clone(estimator)
    fold_params = _check_method_params(X, params, indices=train)
    with _quiet(quiet):
        checked_fit(est, _rows(X, train), y[train], name, **fold_params)
    oof = checked_predict(est, _rows(X, test), f"the held-out points of {name}")
    cheap = kept = None
    if sampler is not None:
        Z = sampler.draw(n_draws, np.random.default_rng(seed))
        cheap = checked_predict(est, as_frame(Z, frame), f"the fresh draws of {name}")
        if keep and not sampler.is_pool:
            kept = Z[:keep].copy()
    return est, oof, cheap, kept


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
        for k, ((_, test), (_, pred, *_)) in enumerate(zip(folds, fold_res)):
            fold_of[test] = k
            oof[test] = pred
        cheap = [res[2] for res in fold_res]
        replicates = 1
        if sampler is None:
            n_cheap, pooled = 0, False
        elif sampler.low_discrepancy:
            n_cheap, pooled = np.inf, True  # no Monte Carlo noise to trade
            replicates = sampler.replicates  # randomized QMC: its own variance
        else:
            pooled = sampler.is_pool
            n_cheap = len(cheap[0]) if pooled else sum(len(c) for c in cheap)
        yield CrossFit(y, oof, fold_of, cheap, n_cheap, pooled, replicates)
