"""Least squares and ridge regression by sketch-and-precondition."""

from __future__ import annotations

import sys
import time
import warnings
from functools import partial
from numbers import Integral, Real
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted, validate_data

from .._randnla import (
    EMBEDDINGS,
    SOLVERS,
    ShiftedRows,
    SketchPreconditioner,
    make_embedding,
    refined_lstsq,
)
from .._randnla._chunked import is_dask_array
from .._randnla._solvers import ITERATIVE_SKETCHING_MIN_RATIO
from ..utils._compat import Interval, StrOptions, _check_sample_weight, _fit_context
from ..utils._typing import ArrayLike, MatrixLike, RandomStateLike
from ._design import (
    ChunkedRegressionOperator,
    RegressionOperator,
    block_statistics,
    dask_design,
    raise_for_bad_blocks,
)

_EPS = np.finfo(np.float64).eps
# Below this many flops (m n^2) LAPACK is fast enough that sketching cannot pay.
_DIRECT_FLOPS = 1e9
# A dask X of at most this many bytes that the cost model sends to LAPACK is
# gathered on the client and solved directly; a larger one is sketched.
_DASK_DIRECT_BYTES = 2**28


class _pass_reporter:
    """Progress of a dask fit on stderr: the plan, then a line per pass."""

    def __init__(self, X, sketch_size):
        self.start = time.perf_counter()
        link = ""
        try:
            from distributed import get_client

            link = f"; dashboard: {get_client().dashboard_link}"
        except Exception:  # no distributed, no client, or no dashboard
            pass
        self._say(
            f"{X.shape[0]} x {X.shape[1]} dask array in {X.numblocks[0]} row "
            f"chunks, sketch size {sketch_size}{link}"
        )

    def _say(self, text):
        elapsed = time.perf_counter() - self.start
        print(
            f"SketchPreconditionedRegressor [{elapsed:7.1f} s] {text}",
            file=sys.stderr,
            flush=True,
        )

    def __call__(self, n_passes):
        self._say(f"map-reduce pass {n_passes}")

    def done(self, n_passes):
        self._say(f"done: {n_passes} passes over the data (sketches included)")


def _auto_sketch_size(m, n, solver):
    """Rows ``d`` of the sketch by a rough cost model (seconds on a laptop core).

    The SVD of the ``d x n`` sketch costs ``~6 d n^2`` flops; each iteration
    reduces the error by ``~sqrt(n / d)`` and costs one or two passes over the
    ``m x n`` data, read at memory speed. Twelve digits are budgeted.
    """
    passes = 2 if solver in ("lsqr", "lsmr") else 1
    best, best_cost = None, np.inf
    for gamma in (3, 4, 6, 8, 12, 16, 24, 32):
        d = int(gamma * n)
        if d > m // 2:
            break
        n_iter = np.log(1e-12) / np.log(np.sqrt(1.0 / gamma))
        cost = 6.0 * d * n * n / 2e10 + n_iter * passes * m * n * 6e-10
        if cost < best_cost:
            best, best_cost = d, cost
    return best


class SketchPreconditionedRegressor(RegressorMixin, BaseEstimator):
    """Least squares and ridge regression by sketch-and-precondition.

    A drop-in for :class:`~sklearn.linear_model.LinearRegression` and
    :class:`~sklearn.linear_model.Ridge` on tall problems (many more samples
    than features). One pass over ``X`` forms a random sketch ``S X`` with
    ``sketch_size`` rows; its SVD gives a preconditioner ``P`` that makes
    ``X P`` well conditioned whatever the conditioning of ``X``; a few passes of
    an iterative solver on the preconditioned problem, wrapped in iterative
    refinement with a freshly computed residual, reach the accuracy of LAPACK's
    SVD-based solver at a fraction of its ``O(m n^2)`` cost.

    Read more in the :ref:`User Guide <sketch_least_squares>`.

    Parameters
    ----------
    alpha : float, default=0.0
        Ridge penalty ``alpha * ||coef||^2``; ``0`` is ordinary least squares.
    fit_intercept : bool, default=True
        Whether to fit an intercept. ``X`` is centred implicitly (a rank-one
        correction inside the operator), never copied.
    sketch : {"sparse_sign", "gaussian", "srtt"}, default="sparse_sign"
        The random embedding: sparse sign (8 nonzeros per column, the fastest),
        Gaussian (for sparse ``X`` or small problems), or the subsampled
        randomized trigonometric transform (DCT with random signs).
    sketch_size : int, default=None
        Rows of the sketch, at least ``n_features`` (at least
        ``3 * n_features`` for ``solver="iterative_sketching"``, whose step
        vanishes as the sketch size approaches ``n_features``). ``None``
        chooses it from the shape by a cost model (between ``3 n`` and
        ``32 n``) and solves small or nearly square problems
        (``n_samples * n_features**2 < 1e9`` or ``n_samples < 20 n_features``)
        directly with LAPACK. Setting it forces the sketched solver whenever
        it is smaller than ``n_samples``.
    solver : {"cg", "iterative_sketching", "lsqr", "lsmr"}, default="cg"
        Iterative solver on the preconditioned problem. "cg" (conjugate
        gradients on the preconditioned normal equations) and
        "iterative_sketching" (heavy-ball momentum, Epperly 2024) need one
        pass over ``X`` per iteration; "lsqr" and "lsmr" (scipy) two.
    refine : bool, default=True
        Whether to run a second round of iterative refinement with a freshly
        computed residual; it makes the solution backward stable (Epperly,
        Meier and Nakatsukasa, 2024) at the cost of a few passes, and is
        skipped when the backward error is already at rounding level. For
        dense ``X`` and a large residual it ends with a correction from a
        gradient whose products are summed pairwise, which brings the forward
        error to LAPACK's level.
    tol : float, default=None
        Relative accuracy: a round stops when the update in preconditioned
        coordinates is below ``tol * (||X|| ||coef|| + 0.04 cond(X) ||r||)``.
        ``None`` means the unit roundoff ``eps / 2``: the forward error of
        LAPACK. Larger values trade accuracy for fewer passes over ``X``.
    max_iter : int, default=None
        Iterations per refinement round; ``None`` means 100. Whatever the
        iterations' own stopping tests say, a
        :class:`~sklearn.exceptions.ConvergenceWarning` is raised when the
        backward error of the final solution (Karlson–Waldén estimate from a
        freshly computed residual) does not meet ``tol``.
    random_state : int, RandomState instance or None, default=None
        Seeds the random embedding: an int seeds one
        :class:`~numpy.random.SeedSequence` and each fixed block of rows of
        the sketch takes a child spawned from it, so the fit depends on
        ``random_state`` only (not on the number of threads or numpy's global
        state); ``None`` draws fresh entropy.
    copy_X : bool, default=True
        Only used when the problem is solved directly with LAPACK: if False,
        a dense float64 ``X`` may be centred and scaled in place. The sketched
        solver never modifies or copies ``X``.
    verbose : int, default=0
        ``> 0``: a fit on a dask array reports on stderr its plan (chunks,
        sketch size, the dashboard link of an active ``distributed`` client)
        and a line per pass over the data with the elapsed time. The
        coefficients do not depend on it. (In-memory fits are silent: they
        take seconds.)

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Coefficients.
    intercept_ : float or ndarray of shape (n_targets,)
        Intercept; ``0.0`` when ``fit_intercept=False``.
    n_iter_ : int
        Total iterations of the iterative solver over all refinement rounds
        (the direct LAPACK solve counts as one).
    rank_ : int
        Numerical rank of the (weighted, centred) ``X``, or of the ridge
        augmented matrix when ``alpha > 0``.
    solver_ : str
        The solver used: ``solver``, or ``"lapack"`` for the direct path.
    sketch_size_ : int or None
        Rows of the sketch used (``None`` for the direct path).
    backward_error_ : ndarray of shape (n_targets,) or None
        Karlson–Waldén estimate of the normwise relative backward error of
        the solution of the scaled problem (``None`` for the direct path);
        values near ``1e-16`` mean backward stable.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    sklearn.linear_model.LinearRegression : Dense least squares by LAPACK.
    sklearn.linear_model.Ridge : Ridge regression with direct and iterative solvers.

    Notes
    -----
    The columns of the centred, weighted ``X`` are scaled to unit norm
    (estimated from the sketch) before the sketch is factorised. Singular
    values of the sketch below ``max(n_samples, n_features) * eps`` times the
    largest are dropped (numpy's ``lstsq`` default; ``LinearRegression``
    truncates at ``1e-6``, so it loses accuracy beyond condition ``1e6``): a
    rank-deficient ``X`` then gives the minimum-norm solution, with a warning.
    Ridge uses the sketch of ``[S X; sqrt(alpha) I]``. With ``sample_weight``
    the rows are scaled by the square roots of the weights, again without a
    copy of ``X``. Extra memory is ``O(sketch_size * n_features)`` plus a few
    vectors of length ``n_samples``; float32 ``X`` is promoted to float64 one
    row block at a time.

    A ``dask.array`` ``X`` (chunked along rows; column chunks are joined) is
    never gathered: the client holds the sketch and ``O(n_features^2)``
    numbers, the workers do one pass over their persisted chunks per
    iteration. A small one, that the cost model would solve with LAPACK, is
    gathered and solved directly.

    References
    ----------
    Rokhlin, V. and Tygert, M. (2008). A fast randomized algorithm for
    overdetermined linear least-squares regression. *PNAS* 105(36).

    Meng, X., Saunders, M. A. and Mahoney, M. W. (2014). LSRN: a parallel
    iterative solver for strongly over- or underdetermined systems. *SIAM J.
    Sci. Comput.* 36(2).

    Epperly, E. N. (2024). Fast and forward stable randomized algorithms for
    linear least-squares problems. *SIAM J. Matrix Anal. Appl.* 45(4).

    Epperly, E. N., Meier, M. and Nakatsukasa, Y. (2024). Fast randomized
    least-squares solvers can be just as accurate and stable as classical
    direct solvers. arXiv:2406.03468.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias.linear_model import SketchPreconditionedRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((5000, 20))
    >>> y = X @ np.arange(20.0) + 3.0
    >>> reg = SketchPreconditionedRegressor(sketch_size=200, random_state=0)
    >>> reg = reg.fit(X, y)
    >>> np.round(reg.coef_[:4], 8) + 0.0, round(float(reg.intercept_), 8)
    (array([0., 1., 2., 3.]), 3.0)
    """

    _parameter_constraints: dict = {
        "alpha": [Interval(Real, 0, None, closed="left")],
        "fit_intercept": ["boolean"],
        "sketch": [StrOptions(set(EMBEDDINGS))],
        "sketch_size": [Interval(Integral, 1, None, closed="left"), None],
        "solver": [StrOptions(set(SOLVERS))],
        "refine": ["boolean"],
        "tol": [Interval(Real, 0, None, closed="neither"), None],
        "max_iter": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "copy_X": ["boolean"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        alpha: float = 0.0,
        *,
        fit_intercept: bool = True,
        sketch: str = "sparse_sign",
        sketch_size: int | None = None,
        solver: str = "cg",
        refine: bool = True,
        tol: float | None = None,
        max_iter: int | None = None,
        random_state: RandomStateLike = None,
        copy_X: bool = True,
        verbose: int = 0,
    ) -> None:
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.sketch = sketch
        self.sketch_size = sketch_size
        self.solver = solver
        self.refine = refine
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state
        self.copy_X = copy_X
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self, X: MatrixLike, y: ArrayLike, sample_weight: ArrayLike | None = None
    ) -> SketchPreconditionedRegressor:
        """Fit the linear model.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Training data; CSR and CSC matrices are used without densifying.
            A ``dask.array`` chunked along rows is persisted and used chunk by
            chunk: the sketch is accumulated on the workers (each fixed block
            of rows seeded by its index, so the fit is the in-memory one's for
            the same ``random_state`` whatever the chunking), the
            preconditioner is formed on the client and every iteration is a
            map-reduce pass; ``solver`` must then be "cg" or
            "iterative_sketching" and ``sketch`` "sparse_sign" or "gaussian".
        y : array-like or dask array of shape (n_samples,) or (n_samples, n_targets)
            Targets.
        sample_weight : array-like or dask array of shape (n_samples,), default=None
            Non-negative weights of the samples.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        solved = None
        if is_dask_array(X):
            X, Y, single, sample_weight, solved = self._fit_dask(X, y, sample_weight)
        else:
            X, Y, single, sample_weight = self._validate_fit_data(X, y, sample_weight)
        m, n = X.shape
        alpha = float(self.alpha)
        if solved is not None:
            coef, rank, x_mean, y_mean = solved
        else:
            x_mean, y_mean = self._means(X, Y, sample_weight)
            sw = None if sample_weight is None else np.sqrt(sample_weight)
            rcond = max(m, n) * _EPS
            d = self._sketch_rows(m, n)
            if d is None:
                coef, rank = self._fit_direct(X, Y, sw, x_mean, y_mean, alpha, rcond)
                self.n_iter_, self.sketch_size_, self.backward_error_ = 1, None, None
                self.solver_ = "lapack"
            else:
                coef, rank = self._fit_sketched(
                    X, Y, sw, x_mean, y_mean, alpha, rcond, d
                )
                self.solver_, self.sketch_size_ = self.solver, d
        if rank < n and alpha == 0:
            warnings.warn(
                f"X is rank deficient (numerical rank {rank} < {n} features after "
                "centring and weighting): returning the minimum-norm solution.",
                UserWarning,
                stacklevel=3,
            )
        self.rank_ = int(rank)
        self._set_coefficients(coef, x_mean, y_mean, X.dtype, single)
        return self

    def _fit_dask(self, X, y, sample_weight):
        """Fit on a row-chunked dask ``X``: sketch chunkwise, iterate by map-reduce.

        Returns ``(X, Y, single, sample_weight, solved)`` as :meth:`fit` needs
        them: ``solved = (coef, rank, x_mean, y_mean)``, or ``None`` with
        gathered numpy data when the problem is small enough for LAPACK.
        """
        import dask
        import dask.array as da

        from .._randnla._chunked import check_row_chunked, chunked_sketch

        X = check_row_chunked(X)
        m, n = X.shape
        if m < 1 or n < 1:
            raise ValueError(
                f"X must have at least one sample and one feature, got shape {X.shape}"
            )
        d = self._sketch_rows(m, n)
        if d is None and self.sketch_size is None and X.nbytes > _DASK_DIRECT_BYTES:
            d = _auto_sketch_size(m, n, self.solver)
        if d is None:
            # Small enough to gather: LAPACK on the client, as in memory.
            X, y, sample_weight = dask.compute(X, y, sample_weight)
            return (*self._validate_fit_data(X, y, sample_weight), None)
        if self.solver in ("lsqr", "lsmr"):
            raise ValueError(
                f"solver={self.solver!r} needs vectors of length n_samples on the "
                "client; with a dask X use solver='cg' or 'iterative_sketching'"
            )
        if self.sketch == "srtt":
            raise ValueError(
                "sketch='srtt' mixes all rows and cannot be applied chunk by chunk: "
                "with a dask X use sketch='sparse_sign' or 'gaussian'"
            )
        if hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.n_features_in_ = n
        chunked, Y, single, w, sw = dask_design(X, y, sample_weight)
        if self.verbose:
            chunked.on_pass = _pass_reporter(X, d)
        X, alpha, rcond = chunked.X, float(self.alpha), max(m, n) * _EPS
        S = make_embedding(self.sketch, d, m, self.random_state)
        n_blocks = -(-m // S.block_rows)
        *sketches, xs, ys, ws, bad = chunked_sketch(
            S,
            [X, Y, da.ones(m, chunks=X.chunks[0])],
            row_scale=sw,
            extra=partial(block_statistics, n_blocks=n_blocks),
            extra_arrays=[] if w is None else [w],
        )
        raise_for_bad_blocks(bad, np.minimum(np.arange(n_blocks + 1) * S.block_rows, m))
        if not ws[0] > 0:
            raise ValueError("sample_weight must have at least one positive value")
        if self.fit_intercept:
            x_mean, y_mean = xs / ws[0], ys / ws[0]
        else:
            x_mean, y_mean = np.zeros(n), np.zeros(Y.shape[1])
        n_sketches = [1]

        def resketch(shift):
            n_sketches[0] += 1
            return chunked_sketch(S, [X], row_scale=sw, shifts=[shift])[0]

        def operator(scale, explicit):
            return ChunkedRegressionOperator(
                chunked, Y, sw, x_mean, y_mean, scale, alpha, center_blocks=explicit
            )

        coef, rank = self._solve_sketched(
            sketches, resketch, operator, x_mean, y_mean, alpha, rcond, d, True
        )
        self.solver_, self.sketch_size_ = self.solver, d
        # Passes over the data (sketches and map-reduce passes), for benchmarks.
        self._n_passes = n_sketches[0] + chunked.n_passes
        if self.verbose:
            chunked.on_pass.done(self._n_passes)
        return X, None, single, None, (coef, rank, x_mean, y_mean)

    def _validate_fit_data(self, X, y, sample_weight):
        """Validated ``X``, ``Y`` of shape ``(m, k)``, ``y.ndim == 1``, weights."""
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse=["csr", "csc"],
            dtype=[np.float64, np.float32],
            multi_output=True,
            y_numeric=True,
        )
        if sp.issparse(X) and X.dtype != np.float64:
            X = X.astype(np.float64)
        Y = np.asarray(y, dtype=np.float64)
        single = Y.ndim == 1
        Y = Y.reshape(X.shape[0], -1)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
            if not np.any(sample_weight > 0):
                raise ValueError("sample_weight must have at least one positive value")
        return X, Y, single, sample_weight

    def _means(self, X, Y, sample_weight):
        """(Weighted) column means of ``X`` and ``Y``; zeros without an intercept."""
        if not self.fit_intercept:
            return np.zeros(X.shape[1]), np.zeros(Y.shape[1])
        if sample_weight is None:
            x_mean = np.asarray(X.mean(axis=0, dtype=np.float64), dtype=np.float64)
            return x_mean.ravel(), Y.mean(axis=0)
        w_sum = sample_weight.sum()
        x_mean = np.asarray(X.T @ sample_weight, dtype=np.float64).ravel()
        x_mean /= w_sum
        return x_mean, sample_weight @ Y / w_sum

    def _sketch_rows(self, m, n):
        """Rows of the sketch, or ``None`` to solve directly with LAPACK."""
        if self.sketch_size is None:
            if m * n * n < _DIRECT_FLOPS or m < 20 * n:
                return None
            return _auto_sketch_size(m, n, self.solver)
        d = int(self.sketch_size)
        if d >= m:
            return None
        if d < n:
            raise ValueError(
                f"sketch_size={d} must be at least n_features={n} (or at least "
                f"n_samples={m} to solve directly)"
            )
        need = ITERATIVE_SKETCHING_MIN_RATIO * n
        if self.solver == "iterative_sketching" and d < need:
            raise ValueError(
                f"solver='iterative_sketching' needs sketch_size >= "
                f"{ITERATIVE_SKETCHING_MIN_RATIO} * n_features = {need}, got "
                f"sketch_size={d}: its step (1 - n/d)^2 vanishes and its "
                "contraction sqrt(n/d) tends to 1 as sketch_size approaches "
                "n_features (or use solver='cg', which only needs "
                "sketch_size >= n_features)"
            )
        return d

    def _set_coefficients(self, coef, x_mean, y_mean, dtype, single):
        """``coef_`` and ``intercept_`` from the solution of the centred problem."""
        k = coef.shape[1]
        intercept = y_mean - x_mean @ coef if self.fit_intercept else np.zeros(k)
        coef = coef.T.astype(dtype, copy=False)
        intercept = intercept.astype(dtype, copy=False)
        if single:
            self.coef_, self.intercept_ = coef[0], float(intercept[0])
        else:
            self.coef_, self.intercept_ = coef, intercept
        if not self.fit_intercept:
            self.intercept_ = 0.0 if single else np.zeros(k, dtype=dtype)

    def _fit_direct(self, X, Y, sw, x_mean, y_mean, alpha, rcond):
        """LAPACK on the explicitly centred and weighted data (small problems)."""
        if sp.issparse(X):
            A = X.toarray()
        elif (
            not self.copy_X
            and X.dtype == np.float64
            and X.flags.writeable
            and X.flags.c_contiguous
        ):
            A = X
        else:
            A = np.array(X, dtype=np.float64)
        A -= x_mean
        b = Y - y_mean
        if sw is not None:
            A *= sw[:, None]
            b = b * sw[:, None]
        if alpha > 0:
            # Ridge by the SVD, as Ridge(solver="svd").
            U, s, Vt = scipy.linalg.svd(A, full_matrices=False, check_finite=False)
            keep = s > rcond * s[0] if s.size and s[0] > 0 else np.zeros(0, bool)
            U, s, Vt = U[:, keep], s[keep], Vt[keep]
            coef = Vt.T @ ((s / (s**2 + alpha))[:, None] * (U.T @ b))
            return coef, X.shape[1]
        if A.shape[0] == 0 or not np.any(A):
            return np.zeros((X.shape[1], Y.shape[1])), 0
        coef, _, rank, _ = scipy.linalg.lstsq(
            A, b, cond=rcond, lapack_driver="gelsd", check_finite=False
        )
        return coef, rank

    def _fit_sketched(self, X, Y, sw, x_mean, y_mean, alpha, rcond, d):
        """Sketch, precondition, iterate and refine."""
        m, n = X.shape
        S = make_embedding(self.sketch, d, m, self.random_state)
        sketches = S.apply_many([X, Y, np.ones(m)], row_scale=sw)

        def resketch(shift):
            return S.apply(ShiftedRows(X, shift), row_scale=sw)

        def operator(scale, explicit):
            return RegressionOperator(
                X, Y, sw, x_mean, y_mean, scale, alpha, center_blocks=explicit
            )

        return self._solve_sketched(
            sketches,
            resketch,
            operator,
            x_mean,
            y_mean,
            alpha,
            rcond,
            d,
            can_centre=not sp.issparse(X),
        )

    def _solve_sketched(
        self, sketches, resketch, operator, x_mean, y_mean, alpha, rcond, d, can_centre
    ):
        """From the sketches ``S W^{1/2} [X, Y, 1]``: precondition, iterate, refine.

        ``resketch(x_mean)`` sketches the explicitly centred ``X`` and
        ``operator(col_scale, explicit)`` builds the least-squares operator.
        """
        SX, SY, S1 = sketches
        n = SX.shape[1]
        SX = np.asarray(SX, dtype=np.float64)
        # Centring: S W^{1/2} (X - 1 mu^T) = S W^{1/2} X - (S w^{1/2}) mu^T.
        SX -= np.outer(S1, x_mean)
        SY = SY - np.outer(S1, y_mean)
        norms = np.linalg.norm(SX, axis=0)
        # A column that centring cancels down to rounding error is zero: it
        # must not be blown up to unit norm by the equilibration.
        magnitude = np.linalg.norm(SX + np.outer(S1, x_mean), axis=0)
        zero = norms <= 1e3 * _EPS * (magnitude + np.linalg.norm(S1) * abs(x_mean))
        # When the means dwarf the spread, implicit centring loses digits to
        # cancellation: centre row blocks of a dense X explicitly instead, in
        # the sketch and in every pass (block-sized temporaries, no copy).
        spread = np.where(zero, np.inf, norms) / np.sqrt(max(np.sum(S1**2), 1e-300))
        explicit = can_centre and bool(np.any(abs(x_mean) > 1e2 * spread))
        if explicit:
            SX = resketch(x_mean)
            norms = np.linalg.norm(SX, axis=0)
            zero = norms <= 1e3 * _EPS * magnitude
        scale = 1.0 / np.where(zero, 1.0, norms)
        B = SX * scale
        B[:, zero] = 0.0
        if alpha > 0:
            B = np.vstack([B, np.diag(np.sqrt(alpha) * scale)])
            SY = np.vstack([SY, np.zeros((n, SY.shape[1]))])
        precond = SketchPreconditioner(B, rcond)
        op = operator(scale, explicit)
        z0 = precond.sketch_solve(SY)
        max_iter = 100 if self.max_iter is None else int(self.max_iter)
        z, info = refined_lstsq(
            op,
            precond,
            z0,
            solver=self.solver,
            tol=self.tol,
            max_iter=max_iter,
            refine=self.refine,
            d=B.shape[0],
        )
        if not np.all(info["converged"]):
            worst = int(
                np.argmax(info["backward_error"] / info["allowed_backward_error"])
            )
            warnings.warn(
                f"solver={self.solver!r} did not reach tol: the backward error of "
                f"the solution is {info['backward_error'][worst]:.1e}, above the "
                f"{info['allowed_backward_error'][worst]:.1e} that tol allows "
                f"(max_iter={max_iter} iterations per round, sketch_size={d}); "
                "increase max_iter or sketch_size.",
                ConvergenceWarning,
                stacklevel=5,
            )
        coef = scale[:, None] * z
        if precond.rank < n:
            # Minimum norm in the original coordinates: remove the component
            # in null(X_c) = D null(X_c D).
            Q, _ = np.linalg.qr(scale[:, None] * precond.null_space)
            coef -= Q @ (Q.T @ coef)
        self.n_iter_ = int(info["n_iter"])
        self.backward_error_ = info["backward_error"]
        return coef, precond.rank

    def predict(self, X: MatrixLike) -> np.ndarray | Any:
        """Predict with the linear model.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y_pred : ndarray or dask array of shape (n_samples,) or (n_samples, n_targets)
            Predicted values; a (lazy) dask array for a dask ``X``.
        """
        check_is_fitted(self)
        if is_dask_array(X):
            from .._randnla._chunked import check_fitted_columns

            X = check_fitted_columns(self, X)
            return X @ np.asarray(self.coef_).T + self.intercept_
        X = validate_data(
            self,
            X,
            accept_sparse=["csr", "csc"],
            dtype=[np.float64, np.float32],
            reset=False,
        )
        return np.asarray(X @ np.asarray(self.coef_).T) + self.intercept_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
