"""A Gaussian process on f or on log f, whichever predicts f better.

Simulator outputs are often positive with multiplicative structure: a
concentration, a rate, a flux that is a product of factors, a density that
decays exponentially in each input. On such an f a Gaussian process for
log f is a far better surrogate than one for f itself: a product becomes a
sum, an exponential decay a linear function, a sharp peak a smooth bump
(the Genz integrands exp(-sum a_i |x_i - u_i|) and exp(-sum a_i^2 (x_i -
u_i)^2) become additive). On other functions the log does harm, so the
choice is made from the data.

The choice is by leave-one-out error in the units of f, the error that
sets a control variate's variance. For a Gaussian process the leave-one-out
predictions have a closed form given the fitted hyperparameters (Rasmussen
and Williams, 2006, eq. 5.12): with ``K`` the training covariance and
``alpha = K^-1 z``, the prediction of ``z_i`` from the other points is
``z_i - alpha_i / [K^-1]_ii``, so the comparison costs one fit per warp and
no refits. (The marginal likelihood with the Jacobian of the warp, Snelson,
Rasmussen and Ghahramani 2004, is the Bayesian alternative; it scores the
model of log f rather than the error in f.)
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from ..utils import unwrap_once
from ..utils._compat import StrOptions, _fit_context
from ..utils._typing import ArrayLike, RandomStateLike
from ._kernels import _kernel_value_and_vjp, map_cross_blocks

_WARPS = ("auto", "identity", "log")

# Below this many training points the dense algebra of a Gaussian process
# (n x n Cholesky factors, products with n columns) runs on one BLAS thread:
# threads only add synchronisation at these sizes, and thrash when other
# work shares the cores.
_ONE_THREAD_MAX_SAMPLES = 500


class _GaussianProcess(GaussianProcessRegressor):
    """sklearn's Gaussian process with a faster likelihood and prediction.

    The same model, parameters and fitted attributes as
    ``GaussianProcessRegressor``; two computations are organised for
    speed, with the same results up to rounding:

    * the gradient of the log marginal likelihood,
      ``0.5 tr((alpha alpha' - K^-1) dK / dtheta)``, contracts the kernel's
      gradient as it is formed (see ``_kernel_value_and_vjp``) instead of
      building the (n, n, n_dims) array and a three-index ``einsum``;
    * predictions are made in blocks of query points (bounded memory), the
      standard deviation from ``K(Z, X) L^-T`` by matrix products.

    Small problems run on one BLAS thread.
    """

    def _threads(self, n):
        return threadpool_limits(1, "blas") if n <= _ONE_THREAD_MAX_SAMPLES else None

    def fit(self, X, y):
        limits = self._threads(len(X))
        try:
            return super().fit(X, y)
        finally:
            if limits is not None:
                limits.restore_original_limits()

    def log_marginal_likelihood(
        self, theta=None, eval_gradient=False, clone_kernel=True
    ):
        """Log marginal likelihood of ``theta``; see ``GaussianProcessRegressor``."""
        if theta is None or not eval_gradient:
            return super().log_marginal_likelihood(theta, eval_gradient, clone_kernel)
        if clone_kernel:
            kernel = self.kernel_.clone_with_theta(theta)
        else:
            kernel = self.kernel_
            kernel.theta = theta
        K, vjp = _kernel_value_and_vjp(kernel, self.X_train_)
        K[np.diag_indices_from(K)] += self.alpha
        try:
            L = scipy.linalg.cholesky(K, lower=True, check_finite=False)
        except np.linalg.LinAlgError:
            return -np.inf, np.zeros_like(theta)
        y = self.y_train_.reshape(len(K), -1)
        alpha = scipy.linalg.cho_solve((L, True), y, check_finite=False)
        lml = (
            -0.5 * np.einsum("ik,ik->", y, alpha)
            - y.shape[1] * np.log(np.diag(L)).sum()
            - y.shape[1] * len(K) / 2 * np.log(2 * np.pi)
        )
        # Eq. 5.9 of Rasmussen and Williams, summed over the targets:
        # 0.5 tr((alpha alpha' - K^-1) dK / dtheta).
        # In place of L (one fresh n x n array fewer).
        K_inv, info = scipy.linalg.lapack.dpotri(L, lower=True, overwrite_c=True)
        if info != 0:  # pragma: no cover - L came from a successful Cholesky
            return -np.inf, np.zeros_like(theta)
        # dpotri fills the lower triangle of K^-1; the upper one of L is 0.
        W = alpha @ alpha.T
        if y.shape[1] > 1:
            K_inv *= y.shape[1]
        W -= K_inv
        W -= K_inv.T
        W[np.diag_indices_from(W)] += np.diag(K_inv)
        return lml, 0.5 * vjp(W)

    def predict(self, X, return_std=False, return_cov=False):
        """Predict in blocks; see ``GaussianProcessRegressor.predict``."""
        if return_cov or not hasattr(self, "X_train_") or self.alpha_.ndim != 1:
            return super().predict(X, return_std=return_std, return_cov=return_cov)
        if not self.kernel_.requires_vector_input:
            return super().predict(X, return_std=return_std)
        X = validate_data(self, X, reset=False)
        limits = self._threads(len(self.X_train_))
        try:
            return self._predict_blocks(X, return_std)
        finally:
            if limits is not None:
                limits.restore_original_limits()

    def _predict_blocks(self, X, return_std):
        n_train = len(self.X_train_)
        mean = np.empty(len(X))
        var = np.empty(len(X)) if return_std else None
        if return_std:
            L_inv_T = scipy.linalg.solve_triangular(
                self.L_, np.eye(n_train), lower=True, check_finite=False
            ).T

        def block(rows, K_trans):
            mean[rows] = K_trans @ self.alpha_
            if return_std:
                V = K_trans @ L_inv_T
                var[rows] = self.kernel_.diag(X[rows]) - np.einsum("ij,ij->i", V, V)

        map_cross_blocks(self.kernel_, X, self.X_train_, block)
        mean = self._y_train_std * mean + self._y_train_mean
        if not return_std:
            return mean
        if np.any(var < 0):
            warnings.warn(
                "Predicted variances smaller than 0. Setting those variances to 0.",
                stacklevel=3,
            )
            var = np.maximum(var, 0.0)
        return mean, np.sqrt(var) * self._y_train_std


def default_gaussian_process(n_features, random_state=None):
    """The package's default Gaussian process for simulators, unfitted.

    On standardised features, the sum of a squared-exponential (RBF) kernel
    and a :class:`TensorProductMatern` kernel with ``nu=1.5``, each with its
    own amplitude and one length scale per feature, plus a small learned
    noise level. The marginal likelihood weighs the smooth part against the
    part that is rough along coordinate hyperplanes.

    Parameters
    ----------
    n_features : int
        Number of input features.
    random_state : int or None, default=None
        The Gaussian process's ``random_state``. It makes one optimizer run,
        from the kernel's initial hyperparameters, and no random restarts:
        on the Genz integrands (d = 5, 205 points, 21 fits) a restart from
        log-uniform random hyperparameters reached a higher marginal
        likelihood in 4 fits, by at most 7 nats, fell to a noise-only model
        in others, and doubled the fitting cost.

    Returns
    -------
    pipeline : Pipeline
        ``StandardScaler`` followed by a ``GaussianProcessRegressor`` (a
        subclass that computes the same model faster: an analytic gradient of
        the marginal likelihood contracted without the (n, n, n_dims) kernel
        gradient, predictions in blocks, one BLAS thread for small n).
    """
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from ._kernels import TensorProductMatern

    ones = np.ones(n_features)
    kernel = (
        ConstantKernel(1.0, (1e-4, 1e4)) * RBF(ones, (1e-2, 1e3))
        + ConstantKernel(1e-2, (1e-6, 1e4))
        * TensorProductMatern(ones, (1e-2, 1e3), nu=1.5)
        + WhiteKernel(1e-4, (1e-10, 1e-1))
    )
    gp = _GaussianProcess(
        kernel=kernel,
        normalize_y=True,
        n_restarts_optimizer=0,
        random_state=random_state,
    )
    return make_pipeline(StandardScaler(), gp)


def _power_of_two(w):
    """A power of two near ``max|w|`` (``1.0`` for an empty or zero ``w``)."""
    largest = float(np.max(np.abs(w))) if w.size else 0.0
    if not (largest > 0 and np.isfinite(largest)):
        return 1.0
    return float(np.ldexp(1.0, int(np.frexp(largest)[1])))


def _standardise(w):
    """``(center, scale, (w - center) / scale)`` without overflow.

    ``np.std`` squares the values and overflows beyond ``|w| ~ 1e154``
    (then every prediction is NaN): the moments are taken of ``w / 2^k``
    with ``2^k ~ max|w|``, a power of two, so that the scaling is exact and
    targets of ordinary size give the same bits as without it.
    """
    magnitude = _power_of_two(w)
    v = w / magnitude
    v_center, v_scale = np.mean(v), np.std(v)
    v_scale = v_scale if v_scale > 0 else 1.0
    return magnitude * v_center, magnitude * v_scale, (v - v_center) / v_scale


def _root_mean_square_difference(y, y_hat):
    """``sqrt(mean((y - y_hat)^2))`` without overflow; ``inf`` if not finite."""
    magnitude = _power_of_two(y)
    with np.errstate(over="ignore", invalid="ignore"):
        d = y / magnitude - y_hat / magnitude
        value = magnitude * float(np.sqrt(np.mean(d**2)))
    return value if np.isfinite(value) else np.inf


def _final_gaussian_process(estimator):
    """The ``GaussianProcessRegressor`` of ``estimator`` or of its last step.

    Only pipelines are looked through: they transform the inputs alone, so
    the leave-one-out closed form of the final process holds for the target.
    """
    final = estimator
    while isinstance(final, Pipeline):
        final = unwrap_once(final)
    if not isinstance(final, GaussianProcessRegressor):
        raise TypeError(
            "gaussian_process must be a GaussianProcessRegressor or a Pipeline "
            f"ending in one, got {estimator!r}"
        )
    return final


def _leave_one_out(gp, z):
    """Closed-form leave-one-out predictions of the training targets ``z``."""
    L_inv = scipy.linalg.solve_triangular(
        gp.L_, np.eye(gp.L_.shape[0]), lower=True, check_finite=False
    )
    K_inv_diag = np.einsum("ij,ij->j", L_inv, L_inv)
    # sklearn fits alpha_ to its own normalisation of z (an identity map for
    # the standardised z given here unless normalize_y=False, when it is z).
    scale = np.ravel(getattr(gp, "_y_train_std", 1.0))[0]
    return z - scale * np.ravel(gp.alpha_) / K_inv_diag


class WarpedGaussianProcessRegressor(RegressorMixin, BaseEstimator):
    """A Gaussian process for ``y`` or for ``log y``, chosen by leave-one-out.

    The target is warped (``log`` or not) and standardised, a clone of
    ``gaussian_process`` is fitted to it, and predictions are mapped back to
    the units of ``y``. With ``warp="auto"`` and positive targets both warps
    are fitted and the one with the smaller closed-form leave-one-out error
    in the units of ``y`` is kept; with any target ``<= 0`` it is the
    identity. This is the default surrogate of
    :class:`~sklearn_debias.DebiasedFunctionalEstimator`.

    Under the log warp the prediction is the mean of the log-normal
    predictive distribution, ``exp(mu + sigma^2 / 2)``, with ``mu`` and
    ``sigma`` the Gaussian process's predictive mean and standard deviation
    of ``log y``.

    Parameters
    ----------
    gaussian_process : GaussianProcessRegressor or Pipeline, default=None
        The model of the warped target: a ``GaussianProcessRegressor`` or a
        ``Pipeline`` ending in one. Cloned, never fitted. ``None`` is the
        package's default, a Gaussian process on standardised features with
        a squared-exponential plus tensor-product Matérn-3/2 kernel.
    warp : {"auto", "identity", "log"}, default="auto"
        The transform of the target. ``"log"`` requires ``y > 0``.
    random_state : int, RandomState instance or None, default=None
        The default Gaussian process's ``random_state`` (unused when
        ``gaussian_process`` is given).

    Attributes
    ----------
    warp_ : {"identity", "log"}
        The warp used.
    gaussian_process_ : estimator
        The fitted clone of ``gaussian_process`` for the chosen warp.
    loo_errors_ : dict
        Root-mean-square leave-one-out error in the units of ``y`` of each
        warp that was fitted.
    n_features_in_ : int
        Number of features seen during fit.

    See Also
    --------
    sklearn.compose.TransformedTargetRegressor : a fixed target transform.

    References
    ----------
    .. [1] C. E. Rasmussen and C. K. I. Williams, "Gaussian Processes for
       Machine Learning", MIT Press, 2006, section 5.4.2.
    .. [2] E. Snelson, C. E. Rasmussen and Z. Ghahramani, "Warped Gaussian
       processes", NeurIPS 2004.

    Examples
    --------
    A product of exponential decays is additive, and piecewise linear, in
    the log; the relative error falls from 13% to 1%:

    >>> import numpy as np
    >>> from sklearn_debias.gaussian_process import WarpedGaussianProcessRegressor
    >>> def f(X):
    ...     return np.exp(-4 * np.abs(X[:, 0] - 0.3) - 3 * np.abs(X[:, 1] - 0.6))
    >>> rng = np.random.default_rng(0)
    >>> X, X_test = rng.uniform(size=(80, 2)), rng.uniform(size=(2000, 2))
    >>> gp = WarpedGaussianProcessRegressor(random_state=0).fit(X, f(X))
    >>> gp.warp_
    'log'
    >>> error = gp.predict(X_test) - f(X_test)
    >>> print(f"{np.sqrt(np.mean(error**2)) / np.std(f(X_test)):.2f}")
    0.01
    >>> unwarped = WarpedGaussianProcessRegressor(warp="identity", random_state=0)
    >>> error = unwarped.fit(X, f(X)).predict(X_test) - f(X_test)
    >>> print(f"{np.sqrt(np.mean(error**2)) / np.std(f(X_test)):.2f}")
    0.13
    """

    _parameter_constraints: dict = {
        "gaussian_process": [GaussianProcessRegressor, Pipeline, None],
        "warp": [StrOptions(set(_WARPS))],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        gaussian_process: GaussianProcessRegressor | Pipeline | None = None,
        warp: str = "auto",
        random_state: RandomStateLike = None,
    ) -> None:
        self.gaussian_process = gaussian_process
        self.warp = warp
        self.random_state = random_state

    def _fit_warp(self, X, y, warp):
        w = np.log(y) if warp == "log" else y
        center, scale, z = _standardise(w)
        if self.gaussian_process is None:
            model = default_gaussian_process(X.shape[1], self.random_state)
        else:
            model = clone(self.gaussian_process)
        gp = _final_gaussian_process(model)  # fitted in place with the pipeline
        model.fit(X, z)
        w_loo = center + scale * _leave_one_out(gp, z)
        y_loo = np.exp(w_loo) if warp == "log" else w_loo
        return model, center, scale, _root_mean_square_difference(y, y_loo)

    @_fit_context(
        # the Gaussian process's own parameters are validated when it is fitted
        prefer_skip_nested_validation=False
    )
    def fit(self, X: ArrayLike, y: ArrayLike) -> WarpedGaussianProcessRegressor:
        """Fit the Gaussian process to the warped, standardised target.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,)
            Training targets; positive for ``warp="log"``.

        Returns
        -------
        self : object
            The fitted regressor.
        """
        X, y = validate_data(self, X, y, y_numeric=True)
        positive = bool(np.all(y > 0))
        if self.warp == "log" and not positive:
            raise ValueError(
                "warp='log' needs positive targets; got min(y) = "
                f"{np.min(y):.6g}. Use warp='auto' or 'identity'."
            )
        if self.warp == "auto":
            warps = ("identity", "log") if positive else ("identity",)
        else:
            warps = (self.warp,)
        fits = {warp: self._fit_warp(X, y, warp) for warp in warps}
        self.loo_errors_ = {warp: fit[3] for warp, fit in fits.items()}
        if not any(np.isfinite(e) for e in self.loo_errors_.values()):
            raise ValueError(
                "the leave-one-out predictions of every warp overflow (targets "
                f"up to {np.max(np.abs(y)):.3g}); rescale y before fitting"
            )
        self.warp_ = min(self.loo_errors_, key=self.loo_errors_.get)
        self.gaussian_process_, self._center, self._scale, _ = fits[self.warp_]
        return self

    def predict(
        self, X: ArrayLike, return_std: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Predict ``y``: the mean of the predictive distribution.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query points.
        return_std : bool, default=False
            Also return the standard deviation of the predictive
            distribution (normal, or log-normal under the log warp).

        Returns
        -------
        y_mean : ndarray of shape (n_samples,)
        y_std : ndarray of shape (n_samples,)
            Only when ``return_std`` is True.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        if self.warp_ == "identity" and not return_std:
            return self._center + self._scale * self.gaussian_process_.predict(X)
        mu, sd = self.gaussian_process_.predict(X, return_std=True)
        mu, sd = self._center + self._scale * mu, self._scale * sd
        if self.warp_ == "identity":
            return mu, sd
        mean = np.exp(np.minimum(mu + 0.5 * sd**2, np.log(np.finfo(float).max)))
        if not return_std:
            return mean
        return mean, mean * np.sqrt(np.expm1(np.minimum(sd**2, 700.0)))
