"""DebiasedFunctionalEstimator: any regressor as a cross-fitted control variate."""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
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
    spawn_seeds,
)
from ..utils._compat import HasMethods, Interval, StrOptions, _fit_context
from ..utils._routing import surrogate_fit_params, surrogate_router
from ._combine import check_tails
from ._folds import cross_fits, fit_fold, split_repeat
from ._functionals import FUNCTIONAL_NAMES, Functional, check_functional
from ._quantile import Quantile
from ._sampling import check_sampler

__all__ = ["DebiasedFunctionalEstimator"]

_NO_SAMPLER = (
    "sampler=None: the distribution P is known only through X, so there "
    "are no fresh draws to integrate the surrogate over and the estimate "
    "is plain Monte Carlo of the labels. Pass a sampler (a callable, a "
    "scipy.stats distribution, a qmc engine or an array of draws from P) "
    "to debias."
)


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
        histogram gradient boosting beyond 2000 points), the best control
        variate for simulators in our benchmarks (see the user guide).
        Fit parameters such as ``sample_weight`` reach it: see :meth:`fit`.
    functional : {"mean", "variance"}, Functional or callable, default="mean"
        What to estimate: ``"mean"``, ``Moment(q)``,
        ``ExceedanceProbability(threshold)``, ``"variance"`` (``Variance()``),
        ``Quantile(p)`` (solved from the debiased distribution function, with
        Woodruff's standard error), a :class:`Functional` subclass
        (pointwise, or a smooth function of several means) or a callable
        ``T`` applied pointwise to function values.
    sampler : callable, scipy.stats distribution, qmc engine or ndarray, default=None
        Draws from P for the cheap side: a callable ``(n, rng) -> X``, anything
        with ``rvs`` (a univariate distribution is drawn per coordinate), a
        ``scipy.stats.qmc`` engine (P uniform on the unit cube; one
        low-discrepancy set of ``n_samples`` points, shared by the folds, whose
        standard error is reported as if the draws were independent, which is
        conservative), or an array of shape ``(N, n_features)``, a fixed pool
        used in full by every fold.
        ``None``: P is known only through X, so the estimate is plain Monte
        Carlo of the labels, with a warning.
    n_samples : int, default=100_000
        Fresh draws per fold (surrogate evaluations); for a qmc engine the size
        of the shared point set (a Sobol' set is rounded up to a power of 2);
        ignored for a pool.
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
        seed of the default surrogate and one child per repeat (its KFold
        split, then one stream per fold for the fold's fresh draws). ``None``
        uses fresh entropy from the operating system, never numpy's global
        state. The result depends on ``random_state`` only, not on
        ``n_jobs``.
    verbose : int, default=0
        Progress messages of the parallel fold loop.

    Attributes
    ----------
    result_ : EstimateResult
        The debiased estimate with its standard error, as one object:
        :meth:`confidence_interval` delegates to it.
    estimate_ : float
        The debiased estimate of ``Phi(f)``.
    standard_error_ : float
        Its standard error.
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
    are heavy-tailed or dominated by rare events a warning names the measured
    statistic: there control variates cannot help and normal intervals
    under-cover.

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
        "n_samples": [Interval(Integral, 2, None, closed="left")],
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
        estimator=None,
        functional="mean",
        sampler=None,
        n_samples=100_000,
        cv=5,
        n_repeats=1,
        coef="optimal",
        confidence_level=0.95,
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if self.estimator is not None:
            inner = get_tags(self.estimator)
            tags.target_tags.single_output = inner.target_tags.single_output
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
    def fit(self, X, y, **fit_params):
        """Cross-fit the surrogates and compute the debiased estimate.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points drawn from P.
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
        X, y = validate_data(self, X, y, y_numeric=True)
        target = check_functional(self.functional)
        sampler = check_sampler(self.sampler, X.shape[1])
        if sampler is not None:
            sampler = sampler.freeze(self.n_samples)
        n, n_folds = X.shape[0], self._n_folds(X, y)
        # Plain Monte Carlo first: it validates the functional on the labels
        # before any surrogate is fitted.
        naive = target.plain(y, self.confidence_level)
        surrogate_seed, *repeat_seeds = spawn_seeds(
            self.random_state, 1 + self.n_repeats
        )
        estimator = self._surrogate(n - n // n_folds, surrogate_seed)
        params = surrogate_fit_params(self, estimator, fit_params)
        splits = [split_repeat(self.cv, X, y, seed) for seed in repeat_seeds]
        results = self._fit_folds(estimator, X, y, params, sampler, splits)
        self.estimators_ = [res[0] for res in results]
        repeats = list(cross_fits(y, splits, results, sampler))
        self.oof_predictions_ = np.mean([folds.oof for folds in repeats], axis=0)
        self._aggregate(naive, self._debias(target, naive, repeats, sampler), n)
        return self

    def _fit_folds(self, estimator, X, y, params, sampler, splits):
        """Every fold of every repeat, through joblib, in a fixed order."""
        jobs = (
            delayed(fit_fold)(
                estimator,
                X,
                y,
                train,
                test,
                params,
                sampler,
                self.n_samples,
                seeds[k],
                f"fold {k + 1}/{len(folds)} of repeat {r + 1}",
                self.estimator is None,
            )
            for r, (folds, seeds) in enumerate(splits)
            for k, (train, test) in enumerate(folds)
        )
        return Parallel(n_jobs=self.n_jobs, verbose=self.verbose)(jobs)

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
        if first.residuals is not None:
            check_tails(first.residuals, what, first.scale)
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

    def confidence_interval(self, confidence_level=None):
        """Normal confidence interval for the debiased estimate.

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

    def summary(self, confidence_level=None):
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
        rows = [
            ["debiased", *self.result_, *self.confidence_interval(level)],
            ["plug-in (surrogate)", self.plugin_estimate_, nan, nan, nan],
            ["plain Monte Carlo", *naive, *normal_interval(*naive, level)],
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
        return format_table(title, header, rows) + "\n" + footer

    def predict(self, X):
        """Predict with the cross-fitted surrogates, averaged over folds.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input points.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return np.mean(
            [checked_predict(est, X, "X") for est in self.estimators_], axis=0
        )
