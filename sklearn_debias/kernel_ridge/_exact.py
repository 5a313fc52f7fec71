"""Exact kernel ridge regression by Nyström-preconditioned conjugate gradients."""

from __future__ import annotations

from collections.abc import Callable
from numbers import Integral, Real
from typing import Any

import numpy as np

from .._randnla import KernelOperator, pcg, rpcholesky_preconditioner
from ..utils import check_generator
from ..utils._compat import Interval, _fit_context
from ..utils._typing import ArrayLike, RandomStateLike
from ._base import _BaseKernelRidge

__all__ = ["SketchPreconditionedKernelRidge"]


class SketchPreconditionedKernelRidge(_BaseKernelRidge):
    """Kernel ridge regression solved by Nyström-preconditioned CG.

    The same model, parameters and fitted attributes as
    :class:`sklearn.kernel_ridge.KernelRidge` -- ``dual_coef_`` solves
    ``(K + alpha I) dual_coef_ = y`` -- but solved without factorising the
    ``n x n`` kernel matrix: conjugate gradients preconditioned by a
    randomized Nyström approximation of ``K`` from randomly pivoted Cholesky
    (its rank doubled until the preconditioned system is well conditioned),
    with ``K`` kept in memory when it fits ``max_memory`` and evaluated by
    blocks of rows in every product otherwise.

    Parameters
    ----------
    alpha : float or array-like of shape (n_targets,), default=1.0
        Regularisation strength, positive; one per target allowed.
    kernel : str or callable, default="rbf"
        As in ``KernelRidge``: a name of
        :data:`~sklearn.metrics.pairwise.PAIRWISE_KERNEL_FUNCTIONS` (not
        ``"precomputed"``), a callable, or a
        :class:`sklearn.gaussian_process.kernels.Kernel`. It must be positive
        semi-definite.
    gamma : float, default=None
        Parameter of the RBF, laplacian, polynomial, exponential chi2 and
        sigmoid kernels (``None``: their default, ``1 / n_features``).
    degree : float, default=3
        Degree of the polynomial kernel.
    coef0 : float, default=1
        Zero coefficient of the polynomial and sigmoid kernels.
    kernel_params : dict, default=None
        Parameters of a callable kernel.
    rank : int, default=None
        Starting rank of the preconditioner; it doubles until the estimated
        condition number is at most 10 (``None``: start at 64).
    max_rank : int, default=2000
        Largest rank (memory ``O(n max_rank)``).
    tol : float, default=1e-8
        Relative residual at which CG stops.
    max_iter : int, default=None
        Most CG iterations (``None``: 1000).
    max_memory : float, default=2048
        MiB allowed for keeping ``K``; above it ``K`` is recomputed by
        blocks of rows in every product (memory ``O(n block)``).
    n_jobs : int, default=None
        Threads evaluating kernel blocks (``None``: one; ``-1``: all cores).
    random_state : int, RandomState instance or None, default=None
        Seeds the pivots of the preconditioner.

    Attributes
    ----------
    dual_coef_ : ndarray of shape (n_samples,) or (n_samples, n_targets)
        The solution of ``(K + alpha I) dual_coef_ = y`` (with sample weights
        as in ``KernelRidge``).
    X_fit_ : ndarray of shape (n_samples, n_features)
        The training points.
    n_iter_ : int
        CG iterations (the most over groups of targets sharing an alpha).
    rank_ : int
        Rank of the preconditioner.
    condition_estimate_ : float
        Estimated condition number of the preconditioned system (for the
        smallest alpha).
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Defined only when ``X`` has feature names that are all strings.

    See Also
    --------
    NystromKernelRidge : Falkon-style solver on ``M`` centres, for ``n`` past
        ``10^5``.
    sklearn.kernel_ridge.KernelRidge : The dense ``O(n^3)`` solver.

    References
    ----------
    Frangella, Z., Tropp, J. A. and Udell, M. (2023). Randomized Nyström
    preconditioning. *SIAM J. Matrix Anal. Appl.* 44(2), 718-752.

    Díaz, M., Epperly, E. N., Frangella, Z., Tropp, J. A. and Webber, R. J.
    (2023). Robust, randomized preconditioning for kernel ridge regression.
    arXiv:2304.12465.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.kernel_ridge import KernelRidge
    >>> from sklearn_debias.kernel_ridge import SketchPreconditionedKernelRidge
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(size=(300, 3))
    >>> y = np.sin(X.sum(axis=1))
    >>> ours = SketchPreconditionedKernelRidge(alpha=1e-3, random_state=0).fit(X, y)
    >>> dense = KernelRidge(alpha=1e-3, kernel="rbf").fit(X, y)
    >>> bool(np.allclose(ours.predict(X), dense.predict(X), rtol=1e-6))
    True
    """

    _parameter_constraints: dict = {
        **_BaseKernelRidge._parameter_constraints,
        "rank": [Interval(Integral, 1, None, closed="left"), None],
        "max_rank": [Interval(Integral, 1, None, closed="left")],
        "max_memory": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        alpha: float | ArrayLike = 1.0,
        *,
        kernel: str | Callable = "rbf",
        gamma: float | None = None,
        degree: float = 3,
        coef0: float = 1,
        kernel_params: dict[str, Any] | None = None,
        rank: int | None = None,
        max_rank: int = 2000,
        tol: float = 1e-8,
        max_iter: int | None = None,
        max_memory: float = 2048,
        n_jobs: int | None = None,
        random_state: RandomStateLike = None,
    ) -> None:
        self.alpha = alpha
        self.kernel = kernel
        self.gamma = gamma
        self.degree = degree
        self.coef0 = coef0
        self.kernel_params = kernel_params
        self.rank = rank
        self.max_rank = max_rank
        self.tol = tol
        self.max_iter = max_iter
        self.max_memory = max_memory
        self.n_jobs = n_jobs
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self, X: ArrayLike, y: ArrayLike, sample_weight: float | ArrayLike | None = None
    ) -> SketchPreconditionedKernelRidge:
        """Fit the kernel ridge model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Target values.
        sample_weight : float or array-like of shape (n_samples,), default=None
            Individual weights, as in ``KernelRidge``.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        X, Y, sw, alphas, ravel = self._validate_fit_data(X, y, sample_weight)
        op = KernelOperator(
            X.astype(np.float64, copy=False),
            self._kernel(),
            sample_weight=sw,
            max_memory=self.max_memory,
            n_jobs=self.n_jobs,
        )
        rng = check_generator(self.random_state)
        start = self.rank if self.rank is not None else 64
        precond, _ = rpcholesky_preconditioner(
            op.diag(),
            op.columns,
            float(alphas.min()),
            rank=start,
            max_rank=max(start, self.max_rank),
            random_state=rng,
        )
        B = Y * np.sqrt(sw)[:, None] if sw is not None else Y
        max_iter = 1000 if self.max_iter is None else self.max_iter

        def solve(alpha, B):
            op.shift = precond.mu = alpha
            return pcg(op.matmat, B, precond=precond, tol=self.tol, max_iter=max_iter)

        dual = self._solve_each_alpha(B, alphas, solve, "the kernel system")
        if sw is not None:
            dual *= np.sqrt(sw)[:, None]
        self.dual_coef_ = dual.ravel() if ravel else dual
        self.X_fit_ = X
        self.rank_ = precond.rank
        self.condition_estimate_ = precond.condition_estimate
        return self

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predict with the kernel ridge model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        C : ndarray of shape (n_samples,) or (n_samples, n_targets)
            Predicted values.
        """
        return self._predict_from(X, "X_fit_")
