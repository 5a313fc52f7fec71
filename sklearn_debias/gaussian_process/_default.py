"""The one factory of default surrogates, for every estimator that needs one."""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted, validate_data

from ..utils import check_seed_sequence, child_int_seed, child_seed
from ..utils._compat import Interval, _fit_context

__all__ = ["default_surrogate", "DEFAULT_KINDS"]

DEFAULT_KINDS = ("functional", "pde")

# Beyond this many training points the exact default Gaussian process (cubic
# cost) gives way to the scalable one, whose warp and hyperparameters come
# from a subsample of HYPERPARAMETER_SAMPLES labels.
GP_MAX_SAMPLES = 2000
HYPERPARAMETER_SAMPLES = 300
# Jitter (in units of the standardised target) added in the scalable solve,
# as sklearn's default alpha. A larger floor bounds the condition number
# (fewer CG iterations) but costs accuracy on noise-free labels: on the
# borehole function (kernel from 300 labels) the test RMSE was 0.0144 at
# 1e-6, 0.0073 at 1e-8 and 0.00635 at 1e-10 (= the exact Cholesky solution)
# for n = 3000; for n = 20 000 0.012 at 1e-6 (56 s of CPU time, rank 400,
# 10 CG iterations) and 0.0043 at 1e-10 (161 s, rank 268, 136 iterations),
# measured before the tiled kernel products; now 0.0027 at 1e-10 in 49 s on
# 2 cores (rank 272, 129 iterations), and 0.0027 at 1e-9 (122 iterations).
SCALABLE_ALPHA = 1e-10
# Most conjugate-gradient iterations of the scalable solve.
SCALABLE_MAX_ITER = 1000


class SubsampledWarpedGaussianProcess(RegressorMixin, BaseEstimator):
    """The default Gaussian process for many labels: chosen on a subsample,
    conditioned on all.

    A :class:`~sklearn_debias.gaussian_process.WarpedGaussianProcessRegressor`
    (the exact default) is fitted to ``n_subsample`` labels drawn without
    replacement: it chooses the warp (``log`` or none, by leave-one-out) and
    the kernel hyperparameters by the marginal likelihood. A
    :class:`~sklearn_debias.kernel_ridge._gaussian_process.ScalableGaussianProcessRegressor`
    with that kernel, fixed, is then conditioned on every label by
    Nyström-preconditioned conjugate gradients: no ``n x n`` factorisation.

    Under the log warp the prediction is ``exp(mu)``, the median of the
    log-normal predictive distribution (its mean ``exp(mu + sigma^2 / 2)``
    would need one conjugate-gradient solve per query point; ``sigma`` is
    tiny where a surrogate of many labels is accurate).

    Parameters
    ----------
    n_subsample : int, default=300
        Labels on which the warp and the hyperparameters are chosen. More
        labels choose a better kernel, but on smooth noise-free simulators
        also a smaller noise level, and the full solve then needs many more
        conjugate-gradient iterations. With 20 000 borehole labels (2 cores):
        300 gave a test RMSE of 0.00266 in 54 s (152 iterations), 600 gave
        0.00106 in 140 s (597 iterations; the exact default Gaussian process
        on 2000 labels: 0.00191 in 190-280 s). To trade time for accuracy,
        pass ``default_surrogate("functional", n_samples=n).set_params(
        n_subsample=600)`` as the estimator.
    alpha : float, default=1e-10
        Added to the diagonal of the standardised covariance in the full
        solve (on top of the learned noise and of the subsample model's own
        ``alpha``): it bounds the condition number that conjugate gradients
        meet.
    random_state : int, RandomState instance or None, default=None
        Seeds the subsample, the subsample model and the solver's sketch.

    Attributes
    ----------
    warp_ : {"identity", "log"}
        The warp chosen on the subsample.
    subsample_model_ : WarpedGaussianProcessRegressor
        The exact model fitted to the subsample.
    gaussian_process_ : ScalableGaussianProcessRegressor
        The model conditioned on all labels.
    n_features_in_ : int
        Number of features seen during fit.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias.gaussian_process._default import (
    ...     SubsampledWarpedGaussianProcess,
    ... )
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(size=(400, 2))
    >>> y = np.exp(X[:, 0] - 2 * X[:, 1])
    >>> gp = SubsampledWarpedGaussianProcess(n_subsample=60, random_state=0)
    >>> gp = gp.fit(X, y)
    >>> gp.warp_
    'log'
    >>> X_test = rng.uniform(size=(1000, 2))
    >>> error = gp.predict(X_test) - np.exp(X_test[:, 0] - 2 * X_test[:, 1])
    >>> bool(np.sqrt(np.mean(error**2)) < 1e-3)
    True
    """

    _parameter_constraints: dict = {
        "n_subsample": [Interval(numbers.Integral, 2, None, closed="left")],
        "alpha": [Interval(numbers.Real, 0, None, closed="neither")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_subsample=HYPERPARAMETER_SAMPLES,
        alpha=SCALABLE_ALPHA,
        random_state=None,
    ):
        self.n_subsample = n_subsample
        self.alpha = alpha
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Choose warp and kernel on a subsample, then condition on all labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,)
            Training targets.

        Returns
        -------
        self : object
            The fitted regressor.
        """
        from ..kernel_ridge._gaussian_process import ScalableGaussianProcessRegressor
        from ._warped import WarpedGaussianProcessRegressor

        X, y = validate_data(self, X, y, y_numeric=True, dtype=np.float64)
        root = check_seed_sequence(self.random_state)

        n = X.shape[0]
        m = min(n, self.n_subsample)
        idx = np.random.default_rng(child_seed(root, 0)).choice(n, m, replace=False)
        sub = WarpedGaussianProcessRegressor(random_state=child_int_seed(root, 1))
        sub.fit(X[idx], y[idx])
        self.subsample_model_ = sub
        self.warp_ = sub.warp_
        model = sub.gaussian_process_
        gp = model[-1] if isinstance(model, Pipeline) else model
        self._transform = model[:-1] if isinstance(model, Pipeline) else None
        w = np.log(y) if self.warp_ == "log" else y
        self.gaussian_process_ = ScalableGaussianProcessRegressor(
            gp.kernel_,
            alpha=float(np.sum(gp.alpha)) + self.alpha,
            optimizer=None,
            normalize_y=True,
            solver="pcg",
            tol=1e-6,
            max_iter=SCALABLE_MAX_ITER,
            random_state=child_int_seed(root, 2),
        )
        with warnings.catch_warnings():
            # The likelihood of the fixed kernel is a by-product, unused here.
            warnings.filterwarnings(
                "ignore", message="the log marginal likelihood could not"
            )
            self.gaussian_process_.fit(self._features(X), w)
        return self

    def _features(self, X):
        return X if self._transform is None else self._transform.transform(X)

    def predict(self, X):
        """Predict ``y`` (the median of the predictive law under the log warp).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query points.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        mu = self.gaussian_process_.predict(self._features(X))
        if self.warp_ == "log":
            return np.exp(np.minimum(mu, np.log(np.finfo(float).max)))
        return mu


def default_surrogate(
    kind: str = "functional",
    n_samples: int | None = None,
    random_state: int | None = None,
) -> BaseEstimator:
    """The default control variate of an estimator family (unfitted).

    ``kind="functional"`` (:class:`~sklearn_debias.DebiasedFunctionalEstimator`):
    a :class:`~sklearn_debias.gaussian_process.WarpedGaussianProcessRegressor`.
    On standardised features it is a Gaussian process whose kernel is the
    sum of

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
    the exact Gaussian process cannot afford, it is a
    :class:`SubsampledWarpedGaussianProcess`: warp and hyperparameters
    chosen on 300 labels, the posterior conditioned on all of them by
    Nyström-preconditioned conjugate gradients. With 20 000 labels of the
    borehole function (uniform inputs, 5000 test points) it fitted in 49 s
    on 2 cores (Nyström rank 272, 129 CG iterations) to a test RMSE of
    0.0027, 760 times lower than gradient boosting's 2.0 on the same labels
    (``benchmarks/bench_default_surrogate.py``).

    ``kind="pde"`` (:class:`~sklearn_debias.pde.SimulationCalibratedRegressor`):
    ``KernelRidge(kernel="rbf", alpha=1e-3)``, smooth (its derivatives enter
    the defect equation) and cheap on the small data sets of solution values.

    Parameters
    ----------
    kind : {"functional", "pde"}, default="functional"
        The estimator family.
    n_samples : int, default=None
        Number of training points the surrogate will see (``"functional"``
        only; ``None`` counts as few).
    random_state : int or None, default=None
        Seed of the surrogate's own randomness (the subsample and the
        Nyström sketch beyond 2000 points).

    Returns
    -------
    estimator : sklearn regressor (unfitted)

    Examples
    --------
    >>> from sklearn_debias.gaussian_process import default_surrogate
    >>> type(default_surrogate("functional", n_samples=200)).__name__
    'WarpedGaussianProcessRegressor'
    >>> default_surrogate("pde")
    KernelRidge(alpha=0.001, kernel='rbf')
    """
    if kind == "pde":
        from sklearn.kernel_ridge import KernelRidge

        return KernelRidge(kernel="rbf", alpha=1e-3)
    if kind != "functional":
        raise ValueError(f"kind must be one of {DEFAULT_KINDS}, got {kind!r}")
    if n_samples is not None and n_samples > GP_MAX_SAMPLES:
        return SubsampledWarpedGaussianProcess(random_state=random_state)
    from ._warped import WarpedGaussianProcessRegressor

    return WarpedGaussianProcessRegressor(random_state=random_state)
