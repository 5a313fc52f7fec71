"""DebiasedFunctionalEstimator: any regressor as a cross-fitted control variate."""

import numbers
import warnings
from functools import partial

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.model_selection import KFold, check_cv
from sklearn.utils import check_random_state, get_tags
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted, validate_data

from ._cross_fitting import check_tails, debias_means, labels_only
from ._functionals import Quantile, check_functional
from ._inference import format_table, normal_interval
from ._quantile import debias_quantile, quantile_labels_only
from ._sampling import check_sampler

__all__ = ["DebiasedFunctionalEstimator", "SurrogateError"]

# Beyond this many training points per fold the default Gaussian process (cubic
# cost) gives way to gradient boosting.
_GP_MAX_SAMPLES = 2000


class SurrogateError(RuntimeError):
    """A wrapped surrogate regressor raised while fitting or predicting."""


def default_surrogate(n_samples, random_state=None):
    """The default control variate: a Gaussian process for simulators.

    A :class:`~sklearn_debias.gaussian_process.WarpedGaussianProcessRegressor`:
    on standardised features, a Gaussian process whose kernel is the sum of

    * a squared-exponential (RBF) kernel, for the smooth part of ``f``;
    * a :class:`~sklearn_debias.gaussian_process.TensorProductMatern` kernel
      with ``nu=1.5``, a product of one-dimensional Matérn-3/2 factors, for
      kinks along coordinate hyperplanes (a threshold, a max or an absolute
      value in one input), which a kernel of the Euclidean distance fits
      poorly;

    each with one length scale per feature, plus a small learned noise
    level. The marginal likelihood weighs the two kernels. When every label
    is positive, a second Gaussian process models ``log f`` and the one with
    the smaller leave-one-out error in the units of ``f`` is kept: products,
    exponential decays and peaks, common in simulators, are much simpler in
    the log.

    Chosen by ``benchmarks/bench_functional.py`` on the Genz integrands in
    d = 5 with n = 256 labels and 20 seeds. The two-kernel sum's debiased
    RMSE against the RBF kernel alone was 1.8x lower on the product peak,
    1.1x on the Gaussian, 1.5x on the kinked "continuous" family and equal
    on the oscillatory one, at about three times the fitting cost; the log
    warp lowered it a further 15x on the continuous family (see the
    benchmark for the other families), at twice the fitting cost when the
    labels are positive. Beyond ``2000`` training points, whose cubic cost
    a Gaussian process cannot afford, it is histogram gradient boosting.

    Parameters
    ----------
    n_samples : int
        Number of training points the surrogate will see.
    random_state : int or None, default=None
        Seed of the optimizer restarts.

    Returns
    -------
    estimator : sklearn regressor (unfitted)
    """
    from sklearn.ensemble import HistGradientBoostingRegressor

    from .gaussian_process import WarpedGaussianProcessRegressor

    if n_samples > _GP_MAX_SAMPLES:
        return HistGradientBoostingRegressor(random_state=random_state)
    return WarpedGaussianProcessRegressor(random_state=random_state)


def _predict(estimator, X, what):
    try:
        pred = estimator.predict(X)
    except Exception as exc:
        raise SurrogateError(
            f"the surrogate {estimator!r} raised while predicting {what}"
        ) from exc
    pred = np.asarray(pred, dtype=np.float64)
    if pred.ndim == 2 and pred.shape[1] == 1:
        pred = pred.ravel()
    if pred.shape != (X.shape[0],):
        raise SurrogateError(
            f"the surrogate returned predictions of shape {pred.shape} on {what}; "
            f"expected ({X.shape[0]},)"
        )
    if not np.all(np.isfinite(pred)):
        raise SurrogateError(f"the surrogate returned non-finite predictions on {what}")
    return pred


def _cross_fit_fold(
    estimator,
    X,
    y,
    train,
    test,
    sampler,
    n_draws,
    seed,
    name,
    quiet_default,
):
    """Fit one fold's surrogate; predict the held-out labels and the fresh draws."""
    est = clone(estimator)
    try:
        with warnings.catch_warnings():
            if quiet_default:
                # The default Gaussian process reaches its noise floor on exact
                # labels, and its marginal-likelihood search often ends on an
                # "ABNORMAL" line search: benign for a control variate (its
                # quality shows in the variance reduction), and about internals
                # the user did not choose.
                warnings.filterwarnings(
                    "ignore", message=".*close to the specified (lower|upper) bound"
                )
                warnings.filterwarnings("ignore", message="lbfgs failed to converge")
            est.fit(X[train], y[train])
    except Exception as exc:
        raise SurrogateError(
            f"the surrogate {estimator!r} raised while fitting {name}"
        ) from exc
    oof = _predict(est, X[test], f"the held-out points of {name}")
    cheap = None
    if sampler is not None:
        Z = sampler.draw(n_draws, np.random.default_rng(seed))
        cheap = _predict(est, Z, f"the fresh draws of {name}")
    return est, oof, cheap


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
        Seeds the fold splits and the fresh draws.
    verbose : int, default=0
        Progress messages of the parallel fold loop.

    Attributes
    ----------
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

    def _check_params(self, n):
        for name, low in (("n_samples", 2), ("n_repeats", 1)):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        coef = self.coef
        if not (
            (isinstance(coef, str) and coef == "optimal")
            or (isinstance(coef, numbers.Real) and np.isfinite(coef))
        ):
            raise ValueError(f"coef must be 'optimal' or a finite number, got {coef!r}")
        normal_interval(0.0, 1.0, self.confidence_level)  # validates the level

    def _splits(self, X, y, rng):
        """Yield the (train, test) splits of every repeat."""
        cv = self.cv
        for _ in range(self.n_repeats):
            if isinstance(cv, numbers.Integral):
                splitter = KFold(cv, shuffle=True, random_state=rng.randint(2**31 - 1))
            else:
                splitter = check_cv(cv)
            yield list(splitter.split(X, y))

    def fit(self, X, y):
        """Cross-fit the surrogates and compute the debiased estimate.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points drawn from P.
        y : array-like of shape (n_samples,)
            Values of f at X, exact or with zero-mean noise.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        X, y = validate_data(self, X, y, y_numeric=True)
        n = X.shape[0]
        self._check_params(n)
        functional = check_functional(self.functional)
        sampler = check_sampler(self.sampler, X.shape[1])
        if sampler is not None:
            sampler = sampler.freeze(self.n_samples)
        n_folds = (
            self.cv
            if isinstance(self.cv, numbers.Integral)
            else check_cv(self.cv).get_n_splits(X, y)
        )
        if isinstance(self.cv, numbers.Integral) and self.cv < 2:
            raise ValueError(f"cv must be at least 2 folds, got cv={self.cv}")
        if n < 2 * n_folds:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 samples per fold: "
                f"{2 * n_folds} for {n_folds} folds, got n_samples={n}."
            )
        if isinstance(functional, Quantile):
            level = self.confidence_level
            labels_only_, debias = (
                partial(quantile_labels_only, level=level),
                partial(debias_quantile, level=level),
            )
        else:
            labels_only_, debias = labels_only, debias_means
        # Plain Monte Carlo first: it validates the functional on the labels
        # before any surrogate is fitted.
        (
            self.naive_estimate_,
            self.naive_standard_error_,
            naive_residuals,
            naive_scale,
        ) = labels_only_(functional, y)
        rng = check_random_state(self.random_state)
        estimator = self.estimator
        if estimator is None:
            estimator = default_surrogate(
                n - n // n_folds, random_state=int(rng.randint(2**31 - 1))
            )
        splits = list(self._splits(X, y, rng))
        seeds = rng.randint(2**31 - 1, size=(self.n_repeats, n_folds))
        jobs = (
            delayed(_cross_fit_fold)(
                estimator,
                X,
                y,
                train,
                test,
                sampler,
                self.n_samples,
                seeds[r, k],
                f"fold {k + 1}/{n_folds} of repeat {r + 1}",
                self.estimator is None,
            )
            for r, folds in enumerate(splits)
            for k, (train, test) in enumerate(folds)
        )
        results = Parallel(n_jobs=self.n_jobs, verbose=self.verbose)(jobs)

        self.estimators_ = [res[0] for res in results]
        estimates, variances, plugins, coefs, oofs = [], [], [], [], []
        for r, folds in enumerate(splits):
            fold_res = results[r * n_folds : (r + 1) * n_folds]
            fold_of = np.empty(n, dtype=np.intp)
            oof = np.empty(n)
            for k, ((_, test), (_, pred, _)) in enumerate(zip(folds, fold_res)):
                fold_of[test] = k
                oof[test] = pred
            oofs.append(oof)
            if sampler is None:
                continue
            preds = [res[2] for res in fold_res]
            if sampler.low_discrepancy:
                n_cheap = np.inf  # no Monte Carlo noise to trade labels against
            elif sampler.is_pool:
                n_cheap = len(preds[0])
            else:
                n_cheap = sum(len(c) for c in preds)
            est, se, plugin, weights, residuals, scale = debias(
                functional, y, oof, fold_of, preds, n_cheap, sampler.is_pool, self.coef
            )
            if r == 0 and residuals is not None:
                check_tails(
                    residuals,
                    "control-variate residuals T(y) - coef * T(f_hat(x))",
                    scale,
                )
            estimates.append(est)
            variances.append(se**2)
            plugins.append(plugin)
            coefs.append(weights)
        self.oof_predictions_ = np.mean(oofs, axis=0)
        if sampler is None:
            warnings.warn(
                "sampler=None: the distribution P is known only through X, so there "
                "are no fresh draws to integrate the surrogate over and the estimate "
                "is plain Monte Carlo of the labels. Pass a sampler (a callable, a "
                "scipy.stats distribution, a qmc engine or an array of draws from P) "
                "to debias.",
                UserWarning,
                stacklevel=2,
            )
            if naive_residuals is not None:
                check_tails(naive_residuals, "labels", naive_scale)
            estimates = [self.naive_estimate_] * self.n_repeats
            variances = [self.naive_standard_error_**2] * self.n_repeats
            plugins = [np.nan]
            coefs = [np.zeros(n_folds)] * self.n_repeats
        self.repeat_estimates_ = np.asarray(estimates, dtype=float)
        self.estimate_ = float(np.mean(estimates))
        # Repeats share the labels: their average is at least as precise as one
        # repeat, so the root mean of the repeats' variances is conservative.
        self.standard_error_ = float(np.sqrt(np.mean(variances)))
        self.plugin_estimate_ = float(np.mean(plugins))
        self.fold_coefs_ = np.asarray(coefs, dtype=float)
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
        return self

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
        return normal_interval(self.estimate_, self.standard_error_, level)

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
        debiased = self.confidence_interval(level)
        naive = normal_interval(self.naive_estimate_, self.naive_standard_error_, level)
        nan = float("nan")
        rows = [
            [
                "debiased",
                self.estimate_,
                self.standard_error_,
                debiased.low,
                debiased.high,
            ],
            ["plug-in (surrogate)", self.plugin_estimate_, nan, nan, nan],
            [
                "plain Monte Carlo",
                self.naive_estimate_,
                self.naive_standard_error_,
                naive.low,
                naive.high,
            ],
        ]
        header = [
            "",
            "estimate",
            "std. error",
            f"{level:.0%} CI low",
            f"{level:.0%} CI high",
        ]
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
        return np.mean([_predict(est, X, "X") for est in self.estimators_], axis=0)
