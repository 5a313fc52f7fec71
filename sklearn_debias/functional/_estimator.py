"""DebiasedFunctionalEstimator: any regressor as a cross-fitted control variate."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, is_classifier
from sklearn.model_selection import check_cv
from sklearn.utils import get_tags
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted, validate_data

from ..gaussian_process import default_surrogate
from ..utils import (
    EstimateResult,
    checked_predict,
    format_table,
    normal_interval,
    progress,
    spawn_seeds,
)
from ..utils._compat import HasMethods, Interval, StrOptions, _fit_context
from ..utils._results import BinomialBoundResult, ConfidenceInterval
from ..utils._routing import surrogate_fit_params, surrogate_router
from ..utils._typing import ArrayLike, MatrixLike, RandomStateLike
from ._combine import check_rare, check_tails, rare_event
from ._folds import as_frame, cross_fits, fit_fold, split_repeat
from ._functionals import FUNCTIONAL_NAMES, Functional, check_functional
from ._quantile import Quantile
from ._sampler_check import compare_with_sampler
from ._sampling import check_sampler, default_n_samples

# Rows of the sampler's draws compared with X by the sampler check: a prefix
# of the first fold's draws, or of a pool or low-discrepancy set.
_N_COMPARED_DRAWS = 5_000
_N_COMPARED_POOL = 20_000

__all__ = ["DebiasedFunctionalEstimator"]

_NO_SAMPLER = (
    "sampler=None: the distribution P is known only through X, so there "
    "are no fresh draws to integrate the surrogate over and the estimate "
    "is plain Monte Carlo of the labels. Pass a sampler (a callable, a "
    "scipy.stats distribution, a qmc engine or an array of draws from P) "
    "to debias."
)


def _frame_of(X):
    """``(columns, dtypes)`` of a pandas DataFrame ``X``, else ``None``."""
    if hasattr(X, "iloc") and hasattr(X, "columns") and hasattr(X, "dtypes"):
        return X.columns, list(X.dtypes)
    return None


class DebiasedFunctionalEstimator(RegressorMixin, BaseEstimator):
    """Debiased estimate of a functional of f, with a regressor as control variate.

    A scientist has labels ``y_i = f(x_i)`` of an expensive function at points
    ``x_i ~ P`` and wants ``Phi(f) = E_P[T(f(X))]`` (the mean of f, a moment
    ``E f^q``, a probability ``P(f(X) > t)``, ..., or a smooth function of
    such means, such as the variance), or a quantile of ``f(X)``, which
    solves an equation in such means. Plain Monte Carlo of the
    labels is unbiased but slow; a surrogate ``f_hat`` integrated over many
    cheap fresh draws from P is precise but biased. This estimator uses the
    surrogate as a control variate: with K-fold cross-fitting, each fold's
    surrogate is trained on the other folds, integrated over fresh draws, and
    corrected by the exact held-out differences ``T(y_i) - T(f_hat(x_i))``::

        theta = lambda * mean_Z T(f_hat(Z)) + mean_i [T(y_i) - lambda * T(f_hat(x_i))]

    The result is unbiased given the surrogate, whatever its quality; a good
    surrogate only makes it more precise. The standard error is honest: it
    comes from the held-out residuals and the spread of the fresh draws.

    Parameters
    ----------
    estimator : regressor or Pipeline, default=None
        The surrogate, cloned for every fold (the object passed is never
        fitted). ``None`` uses a Gaussian process on standardised inputs whose
        kernel is a squared-exponential ARD kernel plus a tensor-product
        Matérn-3/2 kernel for kinks along coordinate hyperplanes, fitted to
        ``y`` or, when every label is positive and it predicts better, to
        ``log y``
        (:class:`~sklearn_debias.gaussian_process.WarpedGaussianProcessRegressor`;
        beyond 2000 points its kernel and warp are chosen on 300 labels and
        the posterior is conditioned on all by preconditioned conjugate
        gradients, see :func:`~sklearn_debias.gaussian_process.default_surrogate`),
        the best control variate for simulators in our benchmarks (see the
        user guide).
        Fit parameters such as ``sample_weight`` reach it: see :meth:`fit`.
    functional : {"mean", "variance"}, Functional or callable, default="mean"
        What to estimate: ``"mean"``, ``Moment(q)``,
        ``ExceedanceProbability(threshold)``, ``"variance"`` (``Variance()``),
        ``Quantile(p)`` (solved from the debiased distribution function, with
        Woodruff's standard error), a :class:`Functional` subclass
        (pointwise, or a smooth function of several means) or a callable
        ``T`` applied pointwise to function values.
    sampler : callable, scipy.stats distribution(s), qmc engine or ndarray, \
            default=None
        Draws from P for the cheap side, in the units of X:

        - a callable ``(n, rng) -> X`` returning a dense array of shape
          ``(n, n_features)``;
        - anything with ``rvs``: a multivariate distribution; a univariate
          one with scalar parameters, drawn independently in every
          coordinate (every column alike: ``stats.uniform()`` is the unit
          cube); or a univariate one with vector parameters of length
          ``n_features``, one per column, such as
          ``stats.uniform(loc=lower, scale=upper - lower)`` for the box
          ``[lower, upper]``;
        - a list or tuple of ``n_features`` univariate distributions, one per
          column, drawn independently.

          Univariate distributions whose class has its own quantile function
          (every named ``scipy.stats`` distribution) are drawn by randomized
          QMC, as a Sobol' engine below: scrambled Sobol' points mapped
          through each column's ``ppf``, so that every point is a draw from P
          and the set is spread more evenly than independent draws. Others
          (a multivariate distribution, a custom one with a numerical
          ``ppf``) draw ``rvs``: plain Monte Carlo, fresh for every fold.
          For independent draws from a named distribution, pass a callable
          such as ``lambda n, rng: dist.rvs(size=(n, d), random_state=rng)``;
        - a ``scipy.stats.qmc`` engine: P uniform on the unit cube, or on the
          box ``bounds``; one low-discrepancy set shared by the folds, made
          of ``R = min(16, n_samples)`` independent randomizations
          (randomized QMC) of ``ceil(n_samples / R)`` points each, for
          Sobol' rounded up to a power of 2 (so ``n_samples = 2**15`` gives
          16 scrambled Sobol' sets of 2048). The engine is a template: its
          kind and parameters are kept, but each randomization is a fresh
          scrambled engine seeded from ``random_state`` (the engine's own
          seed is not used, nor is it advanced). The estimate uses every
          point; the cheap side's variance is that of the R replicate means
          divided by R, far below Monte Carlo's for a smooth surrogate, and
          the interval is Student's t with the Welch-Satterthwaite degrees
          of freedom of the labelled and cheap parts (``result_.df``). An
          engine that cannot be randomized (``scramble=False``) gives one
          set of ``n_samples`` points (for Sobol' rounded up to a power of
          2) and a :class:`UserWarning`: its standard error
          then charges the Monte Carlo variance, as if the points were
          independent;
        - an array of shape ``(N, n_features)`` with ``N >= 2``: a fixed pool
          used in full by every fold.

        A sparse matrix, a NaN or an infinity, a wrong shape or a sampler
        that raises gives an error naming the sampler. ``None``: P is known
        only through X, so the estimate is plain Monte Carlo of the labels,
        with a warning.
    bounds : tuple (lower, upper) of float or array-like, default=None
        For a ``scipy.stats.qmc`` engine only: the box ``[lower, upper]``
        (scalars, or arrays of length ``n_features``, ``lower < upper``) its
        unit-cube points are scaled to with ``scipy.stats.qmc.scale``, so
        that P is uniform on the box. With any other sampler it is an error:
        such samplers draw in the units of X themselves.
    check_sampler : {"warn", "raise", "ignore"}, default="warn"
        Whether ``fit`` checks that the sampler draws from the distribution
        of X: each column of X is compared with the same column of draws the
        fit makes anyway (the first 5000 draws of the first fold, or the
        first 20000 points of a pool or qmc set, its first randomizations)
        by a two-sample Kolmogorov-Smirnov test and, from 100 labelled rows
        on, each pair of columns by its rank correlation in X and in the
        draws, with Holm's correction over all the tests at family-wise
        level 1% (a correct
        sampler raises a false alarm in about 1% of fits). ``"warn"``
        issues a :class:`SamplerMismatchWarning` naming the columns (and
        pairs) that disagree, with their p-values, ranges and correlations;
        ``"raise"`` raises a ``ValueError`` with the same message;
        ``"ignore"`` skips the check. A pool or qmc set is checked before
        any surrogate is fitted, other samplers after the folds. The check
        uses no random numbers: the estimate does not depend on it.
    n_samples : int or "auto", default="auto"
        Fresh Monte Carlo draws per fold (surrogate evaluations); for
        randomized QMC (a qmc engine, or distributions drawn through their
        quantile functions) the size of the shared point set, rounded up to
        ``R`` randomizations of equal size (for Sobol' each a power of 2; see
        ``sampler``); ignored for a pool. ``"auto"``: 100 000 Monte Carlo
        draws per fold, or ``2**14`` randomized QMC points (16 scrambled
        Sobol' sets of 1024). On the five-line example of the README (d = 5,
        256 labels, default surrogate) the standard error was 5.3e-4 with
        5 x 100 000 Monte Carlo draws and 9.7e-5 with the ``2**14`` QMC
        points, in 60% of the time. Raise it when ``summary()`` shows few
        degrees of freedom: the cheap side then dominates the variance.
    cv : int or cross-validation splitter, default=5
        Cross-fitting folds. An int gives shuffled ``KFold`` splits drawn
        afresh for each repeat.
    n_repeats : int, default=1
        Independent cross-fitting repeats; estimates are averaged and their
        spread reported in ``repeat_estimates_``.
    coef : "optimal" or float, default="optimal"
        Weight ``lambda`` of the control variate. ``"optimal"`` estimates the
        variance-minimising weight for each fold on the other folds (not
        clipped to [0, 1]); ``1.0`` is classical prediction-powered inference,
        ``0.0`` plain Monte Carlo.
    confidence_level : float, default=0.95
        Default level of :meth:`confidence_interval` and :meth:`summary`.
    n_jobs : int, default=None
        Folds fitted in parallel through joblib (``sklearn.utils.parallel``),
        so joblib's dask or ray backends can carry them to a cluster.
    random_state : int, RandomState instance or None, default=None
        Seeds every random stream: an int seeds one
        :class:`numpy.random.SeedSequence`, which spawns, in this order, the
        seed of the default surrogate (whose children also scramble the
        randomizations of a qmc engine) and one child per repeat (its KFold
        split, then one stream per fold for the fold's fresh draws). ``None``
        uses fresh entropy from the operating system, never numpy's global
        state. The result depends on ``random_state`` only, not on
        ``n_jobs``.
    verbose : int, default=0
        ``> 0``: a progress bar over the folds (``tqdm`` when installed, else
        plain lines on stderr); ``> 1`` also joblib's messages.

    Attributes
    ----------
    result_ : EstimateResult
        The debiased estimate with its standard error, as one object:
        :meth:`confidence_interval` delegates to it. Its ``df`` is infinite
        (a normal interval) except with a randomized qmc engine, whose
        cheap-side variance has ``R - 1`` degrees of freedom (see
        ``sampler``). For a rare event (an indicator functional with fewer
        than 5 labelled events, see :class:`ExceedanceProbability`) a
        ``BinomialBoundResult``: its
        interval is the one-sided Clopper-Pearson bound from the labels and
        its ``alternative`` is ``"less"`` (``(0, upper)``) or ``"greater"``
        (``(lower, 1)``).
    estimate_ : float
        The debiased estimate of ``Phi(f)``.
    standard_error_ : float
        Its standard error; for a rare event at least the binomial standard
        error at the Clopper-Pearson bound (a conservative stand-in, never 0).
    plugin_estimate_ : float
        ``Phi(f_hat)``: the surrogates alone, biased (NaN without a sampler).
    naive_estimate_ : float
        Plain Monte Carlo ``mean_i T(y_i)``.
    naive_standard_error_ : float
        Standard error of the plain Monte Carlo estimate.
    variance_reduction_ : float
        ``naive_standard_error_**2 / standard_error_**2``.
    effective_n_ : float
        Labelled points plain Monte Carlo would need for the same precision.
    coef_ : float
        The control-variate weight, averaged over folds and repeats.
    fold_coefs_ : ndarray of shape (n_repeats, n_folds)
        The weight of each fold.
    repeat_estimates_ : ndarray of shape (n_repeats,)
        The estimate of each cross-fitting repeat.
    oof_predictions_ : ndarray of shape (n_samples,)
        Cross-fitted (out-of-fold) surrogate predictions, averaged over repeats.
    estimators_ : list of regressors
        The fitted fold surrogates, ``n_repeats * n_folds`` of them.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    Mean, Moment, ExceedanceProbability, Variance, Quantile : the built-in
        functionals.

    Notes
    -----
    With a fixed surrogate the weight ``lambda* = Cov(f, f_hat) / ((1 + n/N)
    Var f_hat)`` gives the variance ``(Var f / n) (1 - rho^2 / (1 + n/N))``: a
    good surrogate turns ``n`` labels into about ``n / (1 - rho^2)``. For a
    pointwise functional the correction uses the exact difference
    ``T(y) - T(f_hat(x))``, so no linearisation bias enters. When the residuals
    are heavy-tailed a :class:`~sklearn_debias.HeavyTailWarning` names the
    measured statistic (Hill's tail index of the residuals, below 2): there
    control variates cannot help and normal intervals under-cover. Near a
    tail index of 2 no test can tell at a few hundred labels. For an
    indicator functional (an exceedance probability) with fewer than 5
    labelled events a :class:`~sklearn_debias.RareEventWarning` is issued and
    the interval is the exact Clopper-Pearson bound from the labels. See the
    user guide, "Rare events and heavy tails", for the measured rates.

    References
    ----------
    Angelopoulos, A. N., Bates, S., Fannjiang, C., Jordan, M. I. and Zrnic, T.
    (2023). Prediction-powered inference. *Science* 382, 669-674.

    Zrnic, T. and Candès, E. J. (2024). Cross-prediction-powered inference.
    *PNAS* 121(15).

    Blanchet, J., Chen, H., Lu, Y. and Ying, L. (2023). When can regression-
    adjusted control variates help? Rare events, Sobolev embedding and
    minimax optimality. *NeurIPS*.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import stats
    >>> from sklearn.linear_model import LinearRegression
    >>> from sklearn_debias import DebiasedFunctionalEstimator
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(size=(200, 3))
    >>> y = np.exp(X.sum(axis=1) / 3)            # E y = (3 (e^(1/3) - 1))^3
    >>> est = DebiasedFunctionalEstimator(
    ...     LinearRegression(), sampler=stats.uniform(), random_state=0
    ... ).fit(X, y)
    >>> truth = (3 * (np.exp(1 / 3) - 1)) ** 3
    >>> bool(abs(est.estimate_ - truth) < 3 * est.standard_error_)
    True
    >>> bool(est.variance_reduction_ > 50)
    True

    Inputs in physical units need a sampler in the same units: here a vector
    ``stats.uniform(loc, scale)`` draws each column on its own interval (a
    unit-cube ``stats.uniform()`` would give a :class:`SamplerMismatchWarning`).

    >>> lower, upper = np.array([100.0, 0.5, -2.0]), np.array([200.0, 1.5, 2.0])
    >>> X = lower + (upper - lower) * rng.uniform(size=(200, 3))
    >>> y = X[:, 0] / 100 + X[:, 1] * X[:, 2]        # E y = 1.5
    >>> est = DebiasedFunctionalEstimator(
    ...     LinearRegression(),
    ...     sampler=stats.uniform(loc=lower, scale=upper - lower),
    ...     random_state=0,
    ... ).fit(X, y)
    >>> bool(abs(est.estimate_ - 1.5) < 3 * est.standard_error_)
    True
    >>> bool(est.variance_reduction_ > 5)
    True
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict"]), None],
        "functional": [
            StrOptions(set(FUNCTIONAL_NAMES)),
            Functional,
            Quantile,
            callable,
        ],
        "sampler": "no_validation",
        "bounds": ["array-like", None],
        "check_sampler": [StrOptions({"warn", "raise", "ignore"})],
        "n_samples": [Interval(Integral, 2, None, closed="left"), StrOptions({"auto"})],
        "cv": ["cv_object"],
        "n_repeats": [Interval(Integral, 1, None, closed="left")],
        "coef": [StrOptions({"optimal"}), Interval(Real, None, None, closed="neither")],
        "confidence_level": [Interval(Real, 0, 1, closed="neither")],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimator: BaseEstimator | None = None,
        functional: str | Functional | Callable = "mean",
        sampler: Any = None,
        n_samples: int | str = "auto",
        cv: int | Any = 5,
        n_repeats: int = 1,
        coef: str | float = "optimal",
        confidence_level: float = 0.95,
        n_jobs: int | None = None,
        random_state: RandomStateLike = None,
        verbose: int = 0,
        bounds: ArrayLike | None = None,
        check_sampler: str = "warn",
    ) -> None:
        self.estimator = estimator
        self.functional = functional
        self.sampler = sampler
        self.n_samples = n_samples
        self.cv = cv
        self.n_repeats = n_repeats
        self.coef = coef
        self.confidence_level = confidence_level
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.bounds = bounds
        self.check_sampler = check_sampler

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if self.estimator is not None:
            inner = get_tags(self.estimator)
            tags.target_tags.single_output = inner.target_tags.single_output
            if inner.regressor_tags is not None:  # None for a classifier
                tags.regressor_tags.poor_score = inner.regressor_tags.poor_score
        return tags

    def get_metadata_routing(self):
        """Metadata routing: ``fit`` parameters go to the surrogate's ``fit``.

        Returns
        -------
        routing : MetadataRouter
            The surrogate (``estimator``, or the default one) as the only
            consumer, ``fit`` mapped to ``fit``.
        """
        estimator = self.estimator
        if estimator is None:
            estimator = default_surrogate("functional")
        return surrogate_router(self, estimator)

    @_fit_context(
        # The surrogate's parameters are validated when each fold fits it.
        prefer_skip_nested_validation=False
    )
    def fit(
        self, X: MatrixLike, y: ArrayLike, **fit_params: Any
    ) -> DebiasedFunctionalEstimator:
        """Cross-fit the surrogates and compute the debiased estimate.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Points drawn from P, numeric. A pandas DataFrame reaches the fold
            surrogates as DataFrame rows, and the sampler's draws as a
            DataFrame with its columns (and its dtypes: float columns, and
            integer columns whose draws are whole numbers), so a surrogate
            may select columns by name.
        y : array-like of shape (n_samples,)
            Values of f at X, exact or with zero-mean noise.
        **fit_params : dict
            Parameters of the surrogate's ``fit``, such as ``sample_weight``,
            passed to every fold's surrogate; arrays with one entry per
            sample are sliced to the fold's training rows. With metadata
            routing enabled (``sklearn.set_config(enable_metadata_routing=True)``),
            only what the surrogate requests with ``set_fit_request`` is
            passed, and metadata it did not request raise scikit-learn's
            usual error. With routing disabled (scikit-learn's default),
            everything is passed, and ``sample_weight`` raises an error
            naming the surrogate when its ``fit`` cannot take it. The
            weights fit the surrogate only: the estimate of ``Phi(f)`` is
            *not* reweighted (the labels still count as draws from P;
            importance weighting is a separate feature).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        X_in = X
        X, y = validate_data(self, X, y, y_numeric=True)
        self._check_regressor()
        target = check_functional(self.functional)
        sampler = check_sampler(self.sampler, X.shape[1], self.bounds)
        surrogate_seed, *repeat_seeds = spawn_seeds(
            self.random_state, 1 + self.n_repeats
        )
        n_samples = default_n_samples(self.n_samples, sampler)
        if sampler is not None:
            # A qmc engine's randomizations: children of the first child.
            sampler = sampler.freeze(n_samples, surrogate_seed)
            if sampler.is_pool:  # a pool or a qmc set: check before fitting
                self._compare_with_sampler(X, sampler.draw(None, None), sampler)
        self._qmc_replicates = (
            sampler.replicates if sampler is not None and sampler.low_discrepancy else 0
        )
        # DataFrames reach the surrogates as DataFrames (columns by name).
        self._X_frame = _frame_of(X_in)
        n, n_folds = X.shape[0], self._n_folds(X, y)
        # Plain Monte Carlo first: it validates the functional on the labels
        # before any surrogate is fitted.
        naive = target.plain(y, self.confidence_level)
        estimator = self._surrogate(n - n // n_folds, surrogate_seed)
        params = surrogate_fit_params(self, estimator, fit_params)
        splits = [split_repeat(self.cv, X, y, seed) for seed in repeat_seeds]
        X_fit = X if self._X_frame is None else X_in
        results = self._fit_folds(
            estimator, X_fit, y, params, sampler, splits, n_samples
        )
        if sampler is not None and not sampler.is_pool:
            self._compare_with_sampler(X, results[0][3], sampler)
        self.estimators_ = [res[0] for res in results]
        repeats = list(cross_fits(y, splits, results, sampler))
        self.oof_predictions_ = np.mean([folds.oof for folds in repeats], axis=0)
        self._aggregate(naive, self._debias(target, naive, repeats, sampler), n)
        return self

    def _check_regressor(self):
        """A classifier or a clusterer as ``estimator`` is an error."""
        est = self.estimator
        if est is None:
            return
        try:
            kind = get_tags(est).estimator_type
        except Exception:  # an object without tags: trust fit/predict
            return
        if is_classifier(est) or kind in ("classifier", "clusterer"):
            raise ValueError(
                "estimator must be a regressor (its predictions of f are the "
                f"control variate); got {est!r}, a {kind}"
            )

    def _compare_with_sampler(self, X, draws, sampler):
        """The sampler check (see ``check_sampler``) on draws already made."""
        if self.check_sampler == "ignore":
            return
        limit = _N_COMPARED_POOL if sampler.is_pool else _N_COMPARED_DRAWS
        compare_with_sampler(
            X,
            draws[:limit],
            self.check_sampler,
            sampler.describe(),
            getattr(self, "feature_names_in_", None),
        )

    def _fit_folds(self, estimator, X, y, params, sampler, splits, n_samples):
        """Every fold of every repeat, through joblib, in a fixed order.

        The first fold also returns a prefix of its draws for the sampler
        check; the results do not depend on ``n_jobs`` or ``verbose``.
        """
        keep = _N_COMPARED_DRAWS if self.check_sampler != "ignore" else 0
        jobs = [
            delayed(fit_fold)(
                estimator,
                X,
                y,
                train,
                test,
                params,
                sampler,
                n_samples,
                seeds[k],
                f"fold {k + 1}/{len(folds)} of repeat {r + 1}",
                self.estimator is None,
                keep if r == k == 0 else 0,
                self._X_frame,
            )
            for r, (folds, seeds) in enumerate(splits)
            for k, (train, test) in enumerate(folds)
        ]
        if not self.verbose:
            return Parallel(n_jobs=self.n_jobs)(jobs)
        parallel = Parallel(
            n_jobs=self.n_jobs,
            verbose=max(0, self.verbose - 1),
            return_as="generator",  # in order, as they finish
        )
        return list(progress(parallel(jobs), total=len(jobs), desc="folds", verbose=1))

    def _n_folds(self, X, y):
        """Number of folds, checked against the number of samples."""
        n = X.shape[0]
        cv = self.cv
        n_folds = cv if isinstance(cv, Integral) else check_cv(cv).get_n_splits(X, y)
        if n < 2 * n_folds:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 samples per fold: "
                f"{2 * n_folds} for {n_folds} folds, got n_samples={n}."
            )
        return n_folds

    def _surrogate(self, n_train, seed):
        """The estimator every fold clones: ``estimator`` or the default one."""
        if self.estimator is not None:
            return self.estimator
        return default_surrogate(
            "functional",
            n_samples=n_train,
            random_state=int(seed.generate_state(1)[0]),
        )

    def _debias(self, target, naive, repeats, sampler):
        """One :class:`Estimate` per repeat, and the heavy-tail check."""
        if sampler is None:
            warnings.warn(_NO_SAMPLER, UserWarning, stacklevel=4)
            weights = np.zeros(repeats[0].n_folds)
            estimates = [naive._replace(weights=weights)] * self.n_repeats
            what = "labels"
        else:
            estimates = [
                target.debias(folds, self.coef, self.confidence_level)
                for folds in repeats
            ]
            what = "control-variate residuals T(y) - coef * T(f_hat(x))"
        first = estimates[0]
        if first.counts is not None:
            # An indicator: bounded, so no tail check; rare events instead.
            check_rare(first.counts, self.confidence_level, repr(target))
        elif first.residuals is not None:
            # The labels must look heavy-tailed too (a heavy tail of f is what
            # no surrogate removes; the squares of a light f are not one).
            check_tails(
                first.residuals, what, first.scale, naive.residuals, repeats[0].y
            )
        return estimates

    def _aggregate(self, naive, estimates, n):
        """The fitted attributes from the repeats' estimates."""
        self.naive_estimate_ = naive.estimate
        self.naive_standard_error_ = naive.standard_error
        self.repeat_estimates_ = np.asarray([e.estimate for e in estimates], float)
        self.estimate_ = float(np.mean(self.repeat_estimates_))
        # Repeats share the labels: their average is at least as precise as one
        # repeat, so the root mean of the repeats' variances is conservative.
        self.standard_error_ = float(
            np.sqrt(np.mean([e.standard_error**2 for e in estimates]))
        )
        self.plugin_estimate_ = float(np.mean([e.plugin for e in estimates]))
        self.fold_coefs_ = np.asarray([e.weights for e in estimates], dtype=float)
        self.coef_ = float(self.fold_coefs_.mean())
        if self.standard_error_ > 0:
            self.variance_reduction_ = float(
                self.naive_standard_error_**2 / self.standard_error_**2
            )
        else:
            self.variance_reduction_ = (
                float("inf") if self.naive_standard_error_ > 0 else 1.0
            )
        self.effective_n_ = float(n * self.variance_reduction_)
        self.result_ = EstimateResult(
            self.estimate_, self.standard_error_, df=min(e.df for e in estimates)
        )
        rare = rare_event(naive.counts, self.confidence_level)
        if rare is not None:
            # Fewer than 5 labelled events: exact one-sided bound from the
            # labels, and no standard error below the binomial one at it.
            alternative, _, floor = rare
            events, _ = naive.counts
            self.standard_error_ = max(self.standard_error_, floor)
            self.naive_standard_error_ = max(self.naive_standard_error_, floor)
            self.variance_reduction_ = float(
                self.naive_standard_error_**2 / self.standard_error_**2
            )
            self.effective_n_ = float(n * self.variance_reduction_)
            self.result_ = BinomialBoundResult(
                self.estimate_,
                self.standard_error_,
                successes=events,
                n_trials=n,
                alternative=alternative,
            )

    def confidence_interval(
        self, confidence_level: float | None = None
    ) -> ConfidenceInterval:
        """Confidence interval for the debiased estimate.

        Normal (``estimate_ -+ z standard_error_``; Student's t with
        ``result_.df`` degrees of freedom for a randomized qmc engine),
        except for a rare event:
        when fewer than 5 labels show the event of an indicator-valued
        functional (see :class:`ExceedanceProbability`), the exact one-sided
        Clopper-Pearson bound from the labels, ``(0, upper)`` (or
        ``(lower, 1)`` when fewer than 5 labels miss it), with
        ``result_.alternative`` ``"less"`` (or ``"greater"``).

        Parameters
        ----------
        confidence_level : float, default=None
            Coverage probability in (0, 1); ``None`` uses ``self.confidence_level``.

        Returns
        -------
        interval : ConfidenceInterval
            Named tuple ``(low, high)``.
        """
        check_is_fitted(self)
        level = self.confidence_level if confidence_level is None else confidence_level
        return self.result_.confidence_interval(level)

    def summary(self, confidence_level: float | None = None) -> str:
        """Aligned text table of the debiased, plug-in and plain estimates.

        Parameters
        ----------
        confidence_level : float, default=None
            Level of the intervals; ``None`` uses ``self.confidence_level``.

        Returns
        -------
        table : str
        """
        check_is_fitted(self)
        level = self.confidence_level if confidence_level is None else confidence_level
        naive = (self.naive_estimate_, self.naive_standard_error_)
        nan = float("nan")
        interval = self.confidence_interval(level)
        rare = isinstance(self.result_, BinomialBoundResult)
        # A rare event: both rows get the labels' exact bound.
        naive_interval = interval if rare else normal_interval(*naive, level)
        rows = [
            ["debiased", *self.result_, *interval],
            ["plug-in (surrogate)", self.plugin_estimate_, nan, nan, nan],
            ["plain Monte Carlo", *naive, *naive_interval],
        ]
        header = ["", "estimate", "std. error"]
        header += [f"{level:.0%} CI low", f"{level:.0%} CI high"]
        title = f"{type(self).__name__}: {check_functional(self.functional)!r}"
        footer = (
            f"coef {self.coef_:.4g}   "
            f"variance reduction {self.variance_reduction_:.4g}x   "
            f"effective n {self.effective_n_:.4g} "
            f"(labelled n {len(self.oof_predictions_)})"
        )
        replicates = getattr(self, "_qmc_replicates", 0)
        if not rare and replicates > 1:
            df = self.result_.df
            interval = (
                f"Student-t interval with {df:.3g} degrees of freedom"
                if df < 1000
                else f"{df:.3g} degrees of freedom: a normal interval"
            )
            footer += (
                f"\ncheap side: randomized QMC, {replicates} independent "
                f"randomizations; {interval}"
            )
        elif not rare and replicates == 1:
            footer += (
                "\ncheap side: a QMC set that is not randomized; its standard "
                "error is Monte Carlo's, as if the points were independent"
            )
        if rare:
            result = self.result_
            side = "beyond" if result.alternative == "less" else "not beyond"
            events = result.successes
            if result.alternative != "less":
                events = result.n_trials - events
            bound = "upper" if result.alternative == "less" else "lower"
            footer += (
                f"\nrare event: {events} of {result.n_trials} labels {side} the "
                f"threshold (fewer than 5): the intervals are the exact one-sided "
                f"Clopper-Pearson {bound} bound from the labels; the standard "
                "errors are conservative stand-ins"
            )
        return format_table(title, header, rows) + "\n" + footer

    def predict(self, X: MatrixLike) -> np.ndarray:
        """Predict with the cross-fitted surrogates, averaged over folds.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Input points. If ``fit`` saw a DataFrame, the surrogates get a
            DataFrame (an array is given X's columns).

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X_in = X
        X = validate_data(self, X, reset=False)
        frame = getattr(self, "_X_frame", None)
        if frame is not None:  # the surrogates were fitted on DataFrames
            X = X_in if _frame_of(X_in) is not None else as_frame(X, frame)
        return np.mean(
            [checked_predict(est, X, "X") for est in self.estimators_], axis=0
        )
