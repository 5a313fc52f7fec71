"""``SketchedTruncatedSVD``: a ``TruncatedSVD`` drop-in with implicit centring
and warm-started online updates (``partial_fit``)."""

from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)
from sklearn.utils.extmath import svd_flip
from sklearn.utils.sparsefuncs import mean_variance_axis
from sklearn.utils.validation import check_is_fitted, validate_data

from .._randnla._chunked import (
    ChunkedOperator,
    check_fitted_columns,
    check_row_chunked,
    is_dask_array,
)
from .._randnla._eigen import NystromSketch, lazy_epsi
from .._randnla._lowrank import random_test_matrix
from ..utils import check_generator, child_seed
from ..utils._compat import Interval, StrOptions, _fit_context
from ..utils._typing import ArrayLike, MatrixLike, RandomStateLike
from ._data import ChunkedDataOperator, _DataOperator, column_statistics
from ._gram_svd import gram_svd
from ._sketched_svd import _Gram, _Transposed, svd_operator

__all__ = ["SketchedTruncatedSVD"]


def _gram_change(added, dropped, V):
    """``added^T added V - dropped^T dropped V``: the change of ``X^T X V``."""
    out = np.zeros((V.shape[0], V.shape[1]))
    for rows, sign in ((added, 1.0), (dropped, -1.0)):
        if rows.shape[0]:
            out += sign * np.asarray(rows.T @ np.asarray(rows @ V))
    return out


def _flip_signs(Vt):
    """Signs making the largest entry of each row of ``Vt`` positive (svd_flip)."""
    idx = np.argmax(np.abs(Vt), axis=1)
    signs = np.sign(Vt[np.arange(Vt.shape[0]), idx])
    return np.where(signs == 0, 1.0, signs)


def _dense_svd(X, mean, k):
    Xd = X.toarray() if sp.issparse(X) else np.asarray(X)
    if mean is not None:
        Xd = Xd - mean
    U, s, Vt = np.linalg.svd(Xd, full_matrices=False)
    resid = np.zeros(k)
    return U[:, :k], s[:k], Vt[:k], dict(n_iter=1, residuals=resid, converged=True)


class SketchedTruncatedSVD(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Truncated SVD by block Krylov or EPSI, with centring and online updates.

    A drop-in for :class:`sklearn.decomposition.TruncatedSVD`: same
    ``fit``/``transform``/``fit_transform``/``inverse_transform`` and fitted
    attributes. The top ``n_components`` triplets are computed to a residual
    tolerance (block Golub-Kahan-Lanczos by default), so the basis is
    accurate, not only a good low-rank fit. ``centering=True`` subtracts the
    column means implicitly (a PCA of sparse data with no dense copy).
    ``partial_fit`` appends rows (keeping the last ``window`` rows when
    ``window`` is set) and updates the basis by warm-started Lazy-EPSI
    iterations, with the products of the old basis updated from the changed
    rows only and a Nyström sketch kept across updates.

    ``fit``, ``fit_transform`` and ``transform`` also take a ``dask.array``
    chunked along rows (``n_samples >> n_features``): it is persisted once
    and used only through map-reduce passes (the column statistics, then one
    pass ``X^T (X V)`` per block of products, centring included), so the
    client holds ``n_features x O(n_components)`` arrays; the fitted
    attributes are numpy arrays and the projections lazy dask arrays. The
    singular values come from the Ritz values of ``X^T X``, accurate to at
    worst ``eps (s_1 / s_i)^2`` relative (see :func:`sketched_svd`).
    ``partial_fit`` takes in-memory data only.

    Parameters
    ----------
    n_components : int, default=2
        Number of components, less than ``n_features``.
    algorithm : {"auto", "block_krylov", "epsi", "randomized"}, default="auto"
        Solver of ``fit`` (see :func:`sketched_svd`); ``"auto"`` is block
        Krylov (exact dense SVD for tiny problems). ``partial_fit`` always
        updates by warm-started EPSI.
    tol : float, default=1e-6
        Residual tolerance relative to the largest singular value.
    update_tol : float, default=1e-3
        Residual tolerance of the warm-started updates of ``partial_fit``
        (relative to the largest singular value). Tracking a drifting
        subspace through noisy data needs the basis only to well below its
        statistical error, which is far above ``tol``'s level; set it to
        ``tol`` to update to the accuracy of a refit.
    max_iter : int, default=None
        Iterations of the solver (its default when ``None``).
    centering : bool, default=False
        Subtract the column means (PCA); sparse input stays sparse.
    window : int, default=None
        Rows kept for ``partial_fit``: the last ``window`` rows seen
        (``None``: all rows).
    sketch_size : int, default=None
        Columns of EPSI's Nyström sketch (``max(2 k, k + 10)`` by default).
    random_state : int, RandomState instance or None, default=None

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
        Right singular vectors.
    singular_values_ : ndarray of shape (n_components,)
    explained_variance_ : ndarray of shape (n_components,)
        Variance of the training data projected on each component.
    explained_variance_ratio_ : ndarray of shape (n_components,)
        Fraction of the total variance.
    mean_ : ndarray of shape (n_features,) or None
        Column means (``centering=True``), else ``None``.
    residuals_ : ndarray of shape (n_components,)
        Residual ``||A^T u_i - s_i v_i||`` of each triplet (error estimate).
    n_iter_ : int
        Iterations of the last fit or update (1 for the direct dense SVD
        used when ``min(n_samples, n_features) < 2 n_components + 20``).
    n_matvecs_ : int
        Products of the whole (window) data matrix with a vector in the last
        fit or update; ``partial_fit``'s products of the added and dropped
        rows alone are not counted.
    n_samples_seen_ : int
        Rows the current basis was computed from (the window).
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Defined when ``X`` has string feature names.

    See Also
    --------
    sketched_svd : The function behind ``fit``.
    sklearn.decomposition.TruncatedSVD, sklearn.decomposition.IncrementalPCA

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias.decomposition import SketchedTruncatedSVD
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((300, 5)) @ rng.standard_normal((5, 60))
    >>> X += 0.01 * rng.standard_normal(X.shape)
    >>> svd = SketchedTruncatedSVD(n_components=5, random_state=0).fit(X)
    >>> svd.transform(X).shape
    (300, 5)
    >>> bool(svd.explained_variance_ratio_.sum() > 0.99)
    True
    >>> svd = svd.partial_fit(X[:50])
    >>> svd.n_samples_seen_
    350
    """

    _parameter_constraints = {
        "n_components": [Interval(numbers.Integral, 1, None, closed="left")],
        "algorithm": [StrOptions({"auto", "block_krylov", "epsi", "randomized"})],
        "tol": [Interval(numbers.Real, 0, None, closed="neither")],
        "update_tol": [Interval(numbers.Real, 0, None, closed="neither")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "centering": ["boolean"],
        "window": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "sketch_size": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        n_components: int = 2,
        *,
        algorithm: str = "auto",
        tol: float = 1e-6,
        update_tol: float = 1e-3,
        max_iter: int | None = None,
        centering: bool = False,
        window: int | None = None,
        sketch_size: int | None = None,
        random_state: RandomStateLike = None,
    ) -> None:
        self.n_components = n_components
        self.algorithm = algorithm
        self.tol = tol
        self.update_tol = update_tol
        self.max_iter = max_iter
        self.centering = centering
        self.window = window
        self.sketch_size = sketch_size
        self.random_state = random_state

    # -- helpers -----------------------------------------------------------
    def _validate(self, X, reset):
        return validate_data(
            self,
            X,
            accept_sparse=["csr", "csc"],
            dtype=[np.float64, np.float32],
            reset=reset,
        )

    def _check_shape(self, X):
        m, n = X.shape
        k = self.n_components
        if k > n:
            raise ValueError(f"n_components={k} must be at most n_features={n}")
        if k > m:
            raise ValueError(
                f"n_components={k} must be at most the number of rows; got "
                f"n_samples={m}"
            )

    def _mean(self, X):
        if not self.centering:
            return None
        return np.asarray(X.mean(axis=0), dtype=np.float64).ravel()

    def _finish(self, X, U, s, Vt, info, n_matvecs):
        U, Vt = svd_flip(U, Vt, u_based_decision=False)
        self.components_ = Vt
        self.singular_values_ = s
        X_t = U * s
        self.explained_variance_ = np.var(X_t, axis=0)
        if sp.issparse(X):
            total = mean_variance_axis(X.tocsr(), axis=0)[1].sum()
        else:
            total = np.var(X, axis=0).sum()
        self.explained_variance_ratio_ = self.explained_variance_ / max(total, 1e-300)
        self.residuals_ = np.asarray(info["residuals"])
        self.n_iter_ = info["n_iter"]
        self.n_matvecs_ = n_matvecs
        self.n_samples_seen_ = X.shape[0]
        self._n_features_out = self.n_components
        return X_t

    def _solve_cold(self, X, rng):
        mean = self._mean(X)
        self.mean_ = mean
        k = self.n_components
        m, n = X.shape
        if min(m, n) < 2 * k + 20:
            U, s, Vt, info = _dense_svd(X, mean, k)
            return U, s, Vt, info, 0
        op = _DataOperator(X, mean)
        transposed = m < n
        work = _Transposed(op) if transposed else op
        U, s, Vt, info = svd_operator(work, k, **self._solver_options(rng))
        if transposed:
            U, Vt = Vt.T, U.T
        return U, s, Vt, info, op.n_matvecs

    # -- public API ----------------------------------------------------------
    def _solver_options(self, rng):
        """Keyword arguments of the top-k solvers (in memory and on dask)."""
        return dict(
            method=self.algorithm,
            tol=self.tol,
            max_iter=self.max_iter,
            sketch_size=self.sketch_size,
            block_size=None,
            rng=rng,
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: MatrixLike, y: None = None) -> SketchedTruncatedSVD:
        """Fit the top components of ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            A ``dask.array`` chunked along rows (column chunks are joined) is
            persisted and used chunk by chunk through map-reduce passes.
        y : Ignored

        Returns
        -------
        self : object
        """
        self.fit_transform(X)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X: MatrixLike, y: None = None) -> np.ndarray:
        """Fit and return the projection ``U * s`` of ``X``.

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            A ``dask.array`` chunked along rows (column chunks are joined) is
            persisted and used chunk by chunk through map-reduce passes.
        y : Ignored

        Returns
        -------
        X_new : ndarray or dask array of shape (n_samples, n_components)
            A lazy dask array (with ``X``'s row chunks) for a dask ``X``.
        """
        if is_dask_array(X):
            return self._fit_transform_dask(X)
        return self._fit_transform_memory(X)

    def _fit_transform_memory(self, X):
        X = self._validate(X, reset=True)
        self._check_shape(X)
        self._n_updates = 0
        rng = check_generator(child_seed(self.random_state, 0))
        U, s, Vt, info, nmv = self._solve_cold(X, rng)
        X_t = self._finish(X, U, s, Vt, info, nmv)
        self._init_store(X)
        return X_t

    def _fit_transform_dask(self, X):
        """``fit_transform`` of a row-chunked dask ``X``: passes over its chunks.

        The column statistics take one pass; the solver then works on the
        ``n_features`` side with the Gram products of :func:`~._gram_svd.gram_svd` (the
        full ``X^T X`` in one pass when ``n_features < 2 k + 20``, as the
        in-memory fit takes a dense SVD there). ``X`` is not kept.
        """
        import dask.array as da

        X = check_row_chunked(X)
        m, n = X.shape
        k = self.n_components
        if m < 2 * k + 20:
            # Too few rows to be worth chunking: gather them, fit in memory.
            X_t = self._fit_transform_memory(X.compute())
            return da.from_array(X_t, chunks=(X.chunks[0], k))
        if hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.n_features_in_ = n
        self._check_shape(X)
        self._n_updates = 0
        self._buf = None  # the rows are not kept: no partial_fit after this
        rng = check_generator(child_seed(self.random_state, 0))
        chunked = ChunkedOperator(X)
        mean, total = column_statistics(chunked)
        self.mean_ = mean if self.centering else None
        op = ChunkedDataOperator(chunked, self.mean_)
        if n < 2 * k + 20:
            G = op.normal_matmat(np.eye(n))
            theta, W = np.linalg.eigh(0.5 * (G + G.T))
            s = np.sqrt(np.maximum(theta[::-1][:k], 0.0))
            Vt = W[:, ::-1][:, :k].T
            info = dict(n_iter=1, residuals=np.zeros(k))
        else:
            _, s, Vt, info = gram_svd(op, k, **self._solver_options(rng))
        self.components_ = Vt * _flip_signs(Vt)[:, None]
        self.singular_values_ = s
        # var(X_c v) = s^2 / m - (mean(X_c) . v)^2: no pass over the rows.
        shift = 0.0 if self.centering else (mean @ self.components_.T) ** 2
        self.explained_variance_ = s**2 / m - shift
        self.explained_variance_ratio_ = self.explained_variance_ / max(total, 1e-300)
        self.residuals_ = np.asarray(info["residuals"])
        self.n_iter_ = info["n_iter"]
        self.n_matvecs_ = op.n_matvecs
        self.n_samples_seen_ = m
        self._n_features_out = k
        return op.matmat(self.components_.T)

    def partial_fit(self, X: MatrixLike, y: None = None) -> SketchedTruncatedSVD:
        """Append rows and update the components by warm-started EPSI.

        The rows are appended to the stored data (the last ``window`` rows
        are kept when ``window`` is set, in a ring buffer for dense data:
        row order does not change an SVD's right factor). The products
        ``X^T X V`` of the current components are updated from the added and
        dropped rows only, so the warm start costs no pass over the window;
        Lazy-EPSI iterations then run to ``update_tol``. Their Nyström sketch
        of ``X^T X`` is kept from an earlier window (any sketch leaves the
        exact eigenvectors fixed) and rebuilt when an update needed more than
        two iterations.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_new, n_features)
        y : Ignored

        Returns
        -------
        self : object
        """
        if is_dask_array(X):
            raise ValueError(
                "partial_fit keeps its window of rows in memory and does not take "
                "dask arrays; fit a dask array with fit()"
            )
        if not hasattr(self, "components_"):
            return self.fit(X)
        if getattr(self, "_buf", None) is None:
            raise ValueError(
                f"this {type(self).__name__} was fitted on a dask array, whose rows "
                "it does not keep: partial_fit cannot update it; fit it on "
                "in-memory data first"
            )
        self._validate_params()
        X = self._validate(X, reset=False)
        dropped = self._append(X)
        window = self._window_data()
        self._check_shape(window)
        self._n_updates += 1
        rng = check_generator(child_seed(self.random_state, self._n_updates))
        k = self.n_components
        m, n = window.shape
        mean = self._colsum / m if self.centering else None
        if min(m, n) < 2 * k + 20:
            self.mean_ = mean
            U, s, Vt, info = _dense_svd(window, mean, k)
            self._GV_raw = None
            self._finish(window, U, s, Vt, info, 0)
            return self
        op = _DataOperator(window, mean)
        raw = _DataOperator(window)
        V = self.components_.T
        if self._GV_raw is None:
            self._GV_raw = raw.rmatmat(raw.matmat(V))
        else:
            self._GV_raw = self._GV_raw + _gram_change(X, dropped, V)
        GV = self._GV_raw
        if mean is not None:
            GV = GV - m * np.outer(mean, mean @ V)
        if self._sketch is None or self._sketch_stale:
            # EPSI's fixed point is an exact eigenvector for any sketch, so a
            # sketch of an older window stays a valid preconditioner; it is
            # rebuilt only when the last update contracted slowly.
            r = max(2 * k, k + 10) if self.sketch_size is None else self.sketch_size
            Om = random_test_matrix(n, min(r, n), rng)
            self._sketch = NystromSketch(Om, _Gram(op).matmat(Om))
        theta, V, info = lazy_epsi(
            _Gram(op),
            k,
            sketch=self._sketch,
            tol=self.update_tol,
            max_iter=100 if self.max_iter is None else self.max_iter,
            rng=rng,
            X0=V,
            GX0=GV,
            residual_scale="svd",
        )
        self._sketch_stale = info["n_iter"] > 2
        GV = info["GX"]
        if mean is not None:
            GV = GV + m * np.outer(mean, mean @ V)
        self._GV_raw = GV
        s = np.sqrt(np.maximum(theta, 0.0))
        Vt = V.T
        signs = _flip_signs(Vt)
        self.mean_ = mean
        self.components_ = Vt * signs[:, None]
        self._GV_raw = self._GV_raw * signs[None, :]
        self.singular_values_ = s
        # var(X_c v) = s^2 / m - (mean(X_c) . v)^2, and the column variances
        # come from the running sums: no pass over the window.
        mu = self._colsum / m
        shift = 0.0 if self.centering else (mu @ self.components_.T) ** 2
        self.explained_variance_ = s**2 / m - shift
        total = np.sum(self._colsq / m - mu**2)
        self.explained_variance_ratio_ = self.explained_variance_ / max(total, 1e-300)
        self.residuals_ = np.asarray(info["residuals"])
        self.n_iter_ = info["n_iter"]
        self.n_matvecs_ = op.n_matvecs
        self.n_samples_seen_ = m
        return self

    # -- stored rows -----------------------------------------------------------
    def _init_store(self, X):
        if self.window is not None and X.shape[0] > self.window:
            X = X[X.shape[0] - self.window :]
        if sp.issparse(X):
            self._buf = sp.csr_array(X, dtype=np.float64)
            sq = self._buf.multiply(self._buf)
        else:
            X = np.asarray(X, dtype=np.float64)
            if self.window is not None:
                self._buf = np.empty((self.window, X.shape[1]))
                self._buf[: X.shape[0]] = X
            else:
                self._buf = X.copy()
            sq = X**2
        self._filled = X.shape[0]
        self._pos = 0
        self._colsum = np.asarray(X.sum(axis=0), dtype=np.float64).ravel()
        self._colsq = np.asarray(sq.sum(axis=0), dtype=np.float64).ravel()
        self._GV_raw = None
        self._sketch = None
        self._sketch_stale = False

    def _window_data(self):
        if sp.issparse(self._buf):
            return self._buf
        return self._buf[: self._filled]

    def _append(self, X):
        """Append rows; return the dropped ones (same kind as ``X``)."""
        if sp.issparse(X) and not sp.issparse(self._buf):
            self._buf = sp.csr_array(self._window_data())
        if sp.issparse(self._buf):
            full = sp.vstack([self._buf, sp.csr_array(X, dtype=np.float64)]).tocsr()
            n_drop = 0
            if self.window is not None:
                n_drop = max(full.shape[0] - self.window, 0)
            dropped, self._buf = full[:n_drop], full[n_drop:]
            self._filled = self._buf.shape[0]
        else:
            X = np.asarray(X, dtype=np.float64)
            if self.window is None:
                self._buf = np.vstack([self._buf, X])
                self._filled = self._buf.shape[0]
                dropped = X[:0]
            else:
                w = self.window
                X = X[-w:]
                n_free = min(w - self._filled, X.shape[0])
                self._buf[self._filled : self._filled + n_free] = X[:n_free]
                self._filled += n_free
                rest = X[n_free:]
                idx = (self._pos + np.arange(rest.shape[0])) % w
                dropped = self._buf[idx].copy()
                self._buf[idx] = rest
                self._pos = (self._pos + rest.shape[0]) % w
        for rows, sign in ((X, 1.0), (dropped, -1.0)):
            if rows.shape[0]:
                sq = rows.multiply(rows) if sp.issparse(rows) else rows**2
                self._colsum += sign * np.asarray(rows.sum(axis=0)).ravel()
                self._colsq += sign * np.asarray(sq.sum(axis=0)).ravel()
        return dropped

    def transform(self, X: MatrixLike) -> np.ndarray:
        """Project ``X`` on the components (after centring, if fitted so).

        Parameters
        ----------
        X : {array-like, sparse matrix, dask array} of shape (n_samples, n_features)
            A ``dask.array`` chunked along rows is projected lazily.

        Returns
        -------
        X_new : ndarray or dask array of shape (n_samples, n_components)
            A lazy dask array (with ``X``'s row chunks) for a dask ``X``.
        """
        check_is_fitted(self)
        if is_dask_array(X):
            X = check_fitted_columns(self, X)
            Z = X @ self.components_.T
            if self.mean_ is not None:
                Z = Z - self.mean_ @ self.components_.T
            return Z
        X = self._validate(X, reset=False)
        Z = np.asarray(X @ self.components_.T)
        if self.mean_ is not None:
            Z = Z - self.mean_ @ self.components_.T
        return Z

    def inverse_transform(self, X: ArrayLike) -> np.ndarray:
        """Map projections back to feature space.

        Parameters
        ----------
        X : array-like or dask array of shape (n_samples, n_components)

        Returns
        -------
        X_original : ndarray or dask array of shape (n_samples, n_features)
            A lazy dask array for a dask ``X``.
        """
        check_is_fitted(self)
        if not is_dask_array(X):
            X = np.asarray(X, dtype=np.float64)
        out = X @ self.components_
        if self.mean_ is not None:
            out = out + self.mean_
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64"]
        return tags
