"""What the kernel ridge estimators share: parameters, validation, prediction."""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, MultiOutputMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics.pairwise import PAIRWISE_KERNEL_FUNCTIONS
from sklearn.utils.validation import check_is_fitted, validate_data

from .._randnla import PairwiseKernel, cross_matmat
from ..utils._compat import Interval, StrOptions, _check_sample_weight

_KERNELS = set(PAIRWISE_KERNEL_FUNCTIONS) - {"precomputed"}


class _BaseKernelRidge(MultiOutputMixin, RegressorMixin, BaseEstimator):
    """Kernel parameters as in ``KernelRidge``, data checks and ``predict``."""

    _parameter_constraints: dict = {
        "alpha": [Interval(Real, 0, None, closed="neither"), "array-like"],
        "kernel": [StrOptions(_KERNELS), callable],
        "gamma": [Interval(Real, 0, None, closed="left"), None],
        "degree": [Interval(Real, 0, None, closed="left")],
        "coef0": [Interval(Real, None, None, closed="neither")],
        "kernel_params": [dict, None],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left"), None],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
    }

    def _kernel(self):
        return PairwiseKernel(
            self.kernel,
            gamma=self.gamma,
            degree=self.degree,
            coef0=self.coef0,
            kernel_params=self.kernel_params,
        )

    def _validate_fit_data(self, X, y, sample_weight):
        X, y = validate_data(
            self,
            X,
            y,
            multi_output=True,
            y_numeric=True,
            dtype=[np.float64, np.float32],
        )
        if sample_weight is not None and not isinstance(sample_weight, float):
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
        elif sample_weight is not None:
            sample_weight = np.full(X.shape[0], float(sample_weight))
        y = np.asarray(y, dtype=np.float64)
        ravel = y.ndim == 1
        Y = y.reshape(-1, 1) if ravel else y
        return X, Y, sample_weight, self._check_alphas(Y.shape[1]), ravel

    def _check_alphas(self, n_targets):
        """``alpha`` checked and broadcast to one entry per target."""
        alpha = np.atleast_1d(np.asarray(self.alpha, dtype=np.float64))
        if alpha.ndim != 1 or alpha.size not in (1, n_targets):
            raise ValueError(
                f"alpha must be a float or have one entry per target "
                f"({n_targets}), got shape {alpha.shape}"
            )
        if not np.all(np.isfinite(alpha) & (alpha > 0)):
            raise ValueError(
                f"alpha must be positive and finite (this solver needs K + alpha I "
                f"positive definite), got {self.alpha!r}"
            )
        return np.broadcast_to(alpha, n_targets)

    def _check_tolerance(self, result, what):
        if result.breakdown:
            raise ValueError(
                f"conjugate gradients broke down in {what} (p^T A p <= 0): the "
                "kernel matrix plus alpha is not positive definite; use a "
                "positive semi-definite kernel"
            )
        if not result.converged:
            warnings.warn(
                f"{type(self).__name__}: conjugate gradients did not reach "
                f"tol={self.tol:g} in {result.n_iter} iterations (relative "
                f"residual {np.max(result.residuals):.3g}); increase max_iter "
                "or the preconditioner's rank, or loosen tol",
                ConvergenceWarning,
                stacklevel=4,
            )

    def _solve_each_alpha(self, B, alphas, solve, what):
        """Dual coefficients: ``solve(alpha, B[:, cols])`` per distinct alpha.

        ``solve`` returns a :class:`~sklearn_debias._randnla.PCGResult`; a
        breakdown raises and an unmet tolerance warns (naming ``what``).
        Sets ``n_iter_`` to the most iterations of one solve.
        """
        dual = np.zeros(B.shape)
        self.n_iter_ = 0
        for alpha in np.unique(alphas):
            cols = np.flatnonzero(alphas == alpha)
            result = solve(float(alpha), B[:, cols])
            self._check_tolerance(result, what)
            dual[:, cols] = result.x
            self.n_iter_ = max(self.n_iter_, result.n_iter)
        return dual

    def _predict_from(self, X, attribute):
        check_is_fitted(self)
        points = getattr(self, attribute)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        kernel = self._kernel()
        return cross_matmat(
            kernel,
            X.astype(np.float64, copy=False),
            points.astype(np.float64, copy=False),
            self.dual_coef_,
            n_jobs=self.n_jobs,
        )
