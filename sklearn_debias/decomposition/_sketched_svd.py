"""Top-k SVD and eigendecomposition of operators known through products.

:func:`sketched_svd` and :func:`sketched_eigsh` dispatch to a block Krylov
(Golub-Kahan / Lanczos) solver, Lazy-EPSI (inverse iteration on the error of
a Nyström sketch) or a plain randomized SVD; the numerics live in
:mod:`sklearn_debias._randnla._eigen`.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator

from .._randnla._chunked import is_dask_array
from .._randnla._eigen import block_krylov_svd, block_lanczos_eigsh, lazy_epsi
from .._randnla._lowrank import random_test_matrix, randomized_range_finder
from .._randnla._operators import BlockOperator, as_block_operator
from ..utils import check_generator
from ..utils._typing import OperatorLike, RandomStateLike

__all__ = [
    "SketchedEigshResult",
    "SketchedSVDResult",
    "sketched_eigsh",
    "sketched_svd",
]

SVD_METHODS = ("auto", "block_krylov", "epsi", "randomized")
EIGSH_METHODS = ("auto", "lanczos", "epsi")


@dataclass
class SketchedSVDResult:
    """Top-``k`` singular triplets with diagnostics; unpacks as ``U, s, Vt``.

    Attributes
    ----------
    U : ndarray or dask.array.Array of shape (m, k)
        Left singular vectors; for a dask ``A``, the lazy ``A V / s`` (with
        ``A``'s row chunks).
    s : ndarray of shape (k,)
        Singular values, decreasing.
    Vt : ndarray of shape (k, n)
        Right singular vectors (rows).
    n_iter : int
        Iterations of the solver.
    n_matvecs : int
        Products of ``A`` or ``A.T`` with a vector.
    residuals : ndarray of shape (k,)
        ``max(||A v_i - s_i u_i||, ||A^T u_i - s_i v_i||)`` per triplet: an
        error estimate (the sine of the angle between ``v_i`` and the exact
        singular vector is at most ``residual / gap``).
    converged : bool
        Whether every residual met the tolerance.
    method : str
        The method used.
    sketch_size : int or None
        Columns of the Nyström sketch (EPSI), else ``None``.
    n_passes : int or None
        Map-reduce passes over a dask ``A`` (``None`` for in-memory input).
    """

    U: np.ndarray
    s: np.ndarray
    Vt: np.ndarray
    n_iter: int
    n_matvecs: int
    residuals: np.ndarray
    converged: bool
    method: str
    sketch_size: int = field(default=None)
    n_passes: int = field(default=None)

    def __iter__(self):
        return iter((self.U, self.s, self.Vt))


@dataclass
class SketchedEigshResult:
    """Top-``k`` eigenpairs with diagnostics; unpacks as ``eigenvalues, eigenvectors``.

    Attributes
    ----------
    eigenvalues : ndarray of shape (k,)
        Largest eigenvalues, decreasing.
    eigenvectors : ndarray of shape (n, k)
    n_iter : int
    n_matvecs : int
    residuals : ndarray of shape (k,)
        ``||A v_i - w_i v_i||`` per pair.
    converged : bool
    method : str
    sketch_size : int or None
    """

    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    n_iter: int
    n_matvecs: int
    residuals: np.ndarray
    converged: bool
    method: str
    sketch_size: int = field(default=None)

    def __iter__(self):
        return iter((self.eigenvalues, self.eigenvectors))


class _RectangularOperator(BlockOperator):
    """A dense, sparse or LinearOperator ``(m, n)`` matrix, products checked."""

    def __init__(self, A):
        if isinstance(A, LinearOperator):
            super().__init__(A.shape)
            self._A = A
            self._kind = "linop"
        elif sp.issparse(A):
            A = sp.csr_array(A)
            if not np.issubdtype(A.dtype, np.number) or np.iscomplexobj(A.data):
                raise ValueError(f"A must be real, got dtype {A.dtype}")
            A = A.astype(np.float64)
            if not np.all(np.isfinite(A.data)):
                raise ValueError("A contains NaN or infinite values")
            super().__init__(A.shape)
            self._A = A
            self._kind = "sparse"
        else:
            A = np.asarray(A)
            if not np.issubdtype(A.dtype, np.number) or np.iscomplexobj(A):
                raise ValueError(f"A must be a real numeric array, got dtype {A.dtype}")
            if A.ndim != 2:
                raise ValueError(f"A must be 2-dimensional, got shape {A.shape}")
            A = A.astype(np.float64, copy=False)
            if not np.all(np.isfinite(A)):
                raise ValueError("A contains NaN or infinite values")
            super().__init__(A.shape)
            self._A = A
            self._kind = "dense"

    def _check(self, Y, shape):
        Y = np.asarray(Y, dtype=np.float64).reshape(shape)
        if not np.all(np.isfinite(Y)):
            raise ValueError("the operator A returned NaN or infinite values")
        return Y

    def _matmat(self, X):
        Y = self._A @ X if self._kind != "linop" else self._A.matmat(X)
        return self._check(Y, (self.shape[0], X.shape[1]))

    def _rmatmat(self, Y):
        if self._kind != "linop":
            return self._A.T @ Y
        try:
            X = self._A.rmatmat(Y)
        except (NotImplementedError, TypeError) as exc:
            raise ValueError(
                "this computation needs products with A.T, but the LinearOperator "
                f"could not provide them ({exc}); give it an rmatvec"
            ) from exc
        return self._check(X, (self.shape[1], Y.shape[1]))


class _Transposed(BlockOperator):
    """``A.T`` of an operator; products counted on the wrapped one."""

    def __init__(self, op):
        super().__init__(op.shape[::-1])
        self._op = op

    def matmat(self, X):
        return self._op.rmatmat(X)

    def rmatmat(self, Y):
        return self._op.matmat(Y)

    @property
    def n_matvecs(self):
        return self._op.n_matvecs

    @n_matvecs.setter
    def n_matvecs(self, value):
        pass


class _Gram(BlockOperator):
    """``A^T A`` of an ``(m, n)`` operator; products counted on ``A``.

    An operator with a fused ``normal_matmat`` (``A^T A X`` in one pass over
    chunked data) is applied through it.
    """

    def __init__(self, op):
        super().__init__((op.shape[1], op.shape[1]), symmetric=True)
        self._op = op

    def matmat(self, X):
        fused = getattr(self._op, "normal_matmat", None)
        if fused is not None:
            return fused(X)
        return self._op.rmatmat(self._op.matmat(X))

    rmatmat = matmat

    @property
    def n_matvecs(self):
        return self._op.n_matvecs

    @n_matvecs.setter
    def n_matvecs(self, value):
        pass


def _check_k(k, m, n):
    if not isinstance(k, numbers.Integral) or isinstance(k, bool):
        raise TypeError(f"k must be an integer, got {k!r}")
    if not 1 <= k < min(m, n):
        raise ValueError(
            f"k must satisfy 1 <= k < min(m, n) = {min(m, n)}, got k={k}; "
            "use a full SVD (numpy.linalg.svd) for k >= min(m, n)"
        )


def _check_common(tol, max_iter, method, methods):
    if method not in methods:
        raise ValueError(f"method must be one of {methods}, got {method!r}")
    if not isinstance(tol, numbers.Real) or not tol > 0:
        raise ValueError(f"tol must be a positive number, got {tol!r}")
    if max_iter is not None and (
        not isinstance(max_iter, numbers.Integral) or max_iter < 1
    ):
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")


def svd_operator(
    op,
    k,
    *,
    method,
    tol,
    max_iter,
    sketch_size,
    block_size,
    rng,
    V0=None,
    sketch=None,
    warn=True,
):
    """Dispatch on a :class:`BlockOperator` with ``m >= n``; see :func:`sketched_svd`.

    Returns ``(U, s, Vt, info)`` with ``info`` holding ``n_iter``,
    ``residuals``, ``converged``, ``sketch`` and ``sketch_size``.
    """
    if method in ("auto", "block_krylov"):
        U, s, Vt, info = block_krylov_svd(
            op,
            k,
            block_size=block_size,
            tol=tol,
            max_iter=200 if max_iter is None else max_iter,
            rng=rng,
            V0=V0,
            warn=warn,
        )
        info.update(sketch=None, sketch_size=None)
        return U, s, Vt, info
    if method == "epsi":
        gram = _Gram(op)
        theta, V, info = lazy_epsi(
            gram,
            k,
            sketch=sketch,
            sketch_size=sketch_size,
            tol=tol,
            max_iter=100 if max_iter is None else max_iter,
            rng=rng,
            X0=V0,
            residual_scale="svd",
            warn=warn,
        )
        s = np.sqrt(np.maximum(theta, 0.0))
        AV = op.matmat(V)
        U = AV / np.where(s > 0, s, 1.0)
        return U, s, V.T, info
    # "randomized": range finder with subspace iterations, then the exact
    # residual of the triplets (k more products).
    n_iter = 4 if max_iter is None else max_iter
    p = min(k + 10, op.shape[1])
    Q = randomized_range_finder(op.matmat, op.shape[1], p, rng, n_iter, op.rmatmat)
    B = op.rmatmat(Q).T
    Ub, s, Vt = np.linalg.svd(B, full_matrices=False)
    U, s, Vt = Q @ Ub[:, :k], s[:k], Vt[:k]
    resid = np.linalg.norm(op.matmat(Vt.T) - U * s, axis=0)
    info = dict(
        n_iter=n_iter,
        residuals=resid,
        converged=bool(np.all(resid <= tol * s[0])),
        sketch=None,
        sketch_size=None,
    )
    return U, s, Vt, info


def sketched_svd(
    A: OperatorLike,
    k: int,
    method: str = "auto",
    *,
    tol: float = 1e-6,
    max_iter: int | None = None,
    sketch_size: int | None = None,
    block_size: int | None = None,
    random_state: RandomStateLike = None,
) -> SketchedSVDResult:
    """Top-``k`` singular triplets of a matrix or operator.

    Parameters
    ----------
    A : ndarray, sparse matrix, LinearOperator or dask array of shape (m, n)
        A ``LinearOperator`` needs ``matvec`` and ``rmatvec``; nothing else
        is used. A ``dask.array`` chunked along rows (column chunks are
        joined; ``m >> n``) is persisted and used only through map-reduce
        passes ``A^T (A V)``, one per block of products: the client holds
        ``n x O(k)`` arrays, ``U`` is returned as the lazy dask array
        ``A V / s``, and the singular values come from the Ritz values of
        ``A^T A`` (relative error up to ``eps (s_1 / s_i)^2``: values below
        ``1e-8 s_1`` may not be resolved).
    k : int
        Number of triplets, ``1 <= k < min(m, n)``.
    method : {"auto", "block_krylov", "epsi", "randomized"}, default="auto"
        ``"block_krylov"``: block Golub-Kahan-Lanczos with Rayleigh-Ritz and a
        stop on the per-triplet residual; ``"epsi"``: Lazy-EPSI on
        ``A^T A`` (or ``A A^T`` when ``m < n``) with a Nyström sketch;
        ``"randomized"``: randomized SVD with ``max_iter`` (default 4)
        subspace iterations and 10 oversamples, no stopping rule. ``"auto"``
        is ``"block_krylov"``: on dense matrices it matched
        ``randomized_svd``'s time with a 1000x smaller subspace error and
        came within 1.3x of ARPACK at ``tol=1e-12``
        (``benchmarks/bench_lowrank.py``). EPSI pays off when products are
        expensive and a sketch or a warm start is at hand (see
        :class:`SketchedTruncatedSVD.partial_fit`); on sparse matrices with
        cheap products, ARPACK (``scipy.sparse.linalg.svds``) was faster.
    tol : float, default=1e-6
        Stop when every residual ``||A^T u_i - s_i v_i||`` is at most
        ``tol * s_1``. The sine of the angle to the exact singular vector is
        at most the residual over the gap ``s_i - s_{k+1}``.
    max_iter : int, default=None
        Iterations (200 for block Krylov, 100 for EPSI, 4 subspace
        iterations for randomized).
    sketch_size : int, default=None
        Initial columns of EPSI's Nyström sketch, ``max(2 k, k + 10)``
        by default (doubled adaptively).
    block_size : int, default=None
        Block Krylov's block size, ``k + 10`` by default.
    random_state : int, RandomState, Generator or None, default=None

    Returns
    -------
    result : SketchedSVDResult
        Unpacks as ``U, s, Vt``; also ``n_iter``, ``n_matvecs``,
        ``residuals`` (per triplet), ``converged`` and, for a dask ``A``,
        ``n_passes``.

    Warns
    -----
    ConvergenceWarning
        When the tolerance is not met within ``max_iter``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias.decomposition import sketched_svd
    >>> rng = np.random.default_rng(0)
    >>> A = rng.standard_normal((200, 40)) * (0.8 ** np.arange(40))
    >>> res = sketched_svd(A, 5, tol=1e-12, random_state=0)
    >>> U, s, Vt = res
    >>> bool(np.allclose(s, np.linalg.svd(A, compute_uv=False)[:5]))
    True
    >>> bool(res.residuals.max() < 1e-10)
    True

    A row-chunked dask array gives the same triplets, with a lazy ``U``:

    >>> import pytest
    >>> da = pytest.importorskip("dask.array")
    >>> res_d = sketched_svd(da.from_array(A, chunks=(60, 40)), 5, tol=1e-12,
    ...                      random_state=0)
    >>> bool(np.allclose(res_d.s, s, rtol=1e-12)), type(res_d.U).__name__
    (True, 'Array')
    >>> bool(np.allclose(abs(res_d.U.compute()), abs(U)))
    True
    """
    _check_common(tol, max_iter, method, SVD_METHODS)
    if is_dask_array(A):
        from ._gram_svd import sketched_svd_dask

        return sketched_svd_dask(
            A,
            k,
            method=method,
            tol=tol,
            max_iter=max_iter,
            sketch_size=sketch_size,
            block_size=block_size,
            random_state=random_state,
        )
    op = _RectangularOperator(A)
    m, n = op.shape
    _check_k(k, m, n)
    rng = check_generator(random_state)
    work = op if m >= n else _Transposed(op)
    U, s, Vt, info = svd_operator(
        work,
        k,
        method=method,
        tol=tol,
        max_iter=max_iter,
        sketch_size=sketch_size,
        block_size=block_size,
        rng=rng,
    )
    if m < n:
        U, Vt = Vt.T, U.T
    return svd_result(U, s, Vt, info, op, method)


def svd_result(U, s, Vt, info, op, method, n_passes=None):
    """The :class:`SketchedSVDResult` of a solver's output and its operator."""
    return SketchedSVDResult(
        U=U,
        s=s,
        Vt=Vt,
        n_iter=info["n_iter"],
        n_matvecs=op.n_matvecs,
        residuals=np.asarray(info["residuals"]),
        converged=info["converged"],
        method="block_krylov" if method == "auto" else method,
        sketch_size=info.get("sketch_size"),
        n_passes=n_passes,
    )


def _check_symmetric_probe(op, rng):
    x = random_test_matrix(op.n, 1, rng)
    y = random_test_matrix(op.n, 1, rng)
    Ax, Ay = op.matmat(x), op.matmat(y)
    lhs, rhs = float((y.T @ Ax).item()), float((x.T @ Ay).item())
    scale = np.linalg.norm(Ax) * np.linalg.norm(y) + np.linalg.norm(
        Ay
    ) * np.linalg.norm(x)
    if abs(lhs - rhs) > 1e-8 * max(scale, 1e-300):
        raise ValueError(
            "sketched_eigsh needs a symmetric A, but y^T A x != x^T A y for "
            f"random x, y ({lhs:.6g} vs {rhs:.6g})"
        )


def sketched_eigsh(
    A: OperatorLike,
    k: int,
    which: str = "LA",
    method: str = "auto",
    *,
    tol: float = 1e-6,
    max_iter: int | None = None,
    sketch_size: int | None = None,
    block_size: int | None = None,
    random_state: RandomStateLike = None,
) -> SketchedEigshResult:
    """Largest ``k`` eigenpairs of a symmetric (PSD for EPSI) matrix or operator.

    Parameters
    ----------
    A : ndarray, sparse matrix or LinearOperator of shape (n, n)
        Symmetric; checked exactly for arrays and with one random probe
        pair for a ``LinearOperator`` (only ``matvec`` is used).
    k : int
        Number of eigenpairs, ``1 <= k < n``.
    which : {"LA"}, default="LA"
        Largest algebraic eigenvalues.
    method : {"auto", "lanczos", "epsi"}, default="auto"
        ``"lanczos"``: block Lanczos with full reorthogonalisation, thick
        restarts and residual-based stopping; ``"epsi"``: Lazy-EPSI with a
        Nyström sketch (``A`` must be positive semi-definite). ``"auto"``
        is ``"lanczos"``.
    tol : float, default=1e-6
        Stop when every ``||A v_i - w_i v_i||`` is at most ``tol * |w_1|``.
    max_iter : int, default=None
    sketch_size : int, default=None
        Initial columns of EPSI's sketch.
    block_size : int, default=None
        Lanczos block size, ``k + 10`` by default.
    random_state : int, RandomState, Generator or None, default=None

    Returns
    -------
    result : SketchedEigshResult
        Unpacks as ``eigenvalues, eigenvectors``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias.decomposition import sketched_eigsh
    >>> rng = np.random.default_rng(0)
    >>> Q = np.linalg.qr(rng.standard_normal((100, 100)))[0]
    >>> A = (Q * 0.7 ** np.arange(100)) @ Q.T
    >>> w, V = sketched_eigsh(A, 3, method="epsi", tol=1e-12, random_state=0)
    >>> np.round(w, 10)
    array([1.  , 0.7 , 0.49])
    """
    _check_common(tol, max_iter, method, EIGSH_METHODS)
    if which != "LA":
        raise ValueError(f"which must be 'LA' (largest algebraic), got {which!r}")
    if sp.issparse(A):
        data = sp.csr_array(A).data
        if np.issubdtype(data.dtype, np.number) and not np.all(np.isfinite(data)):
            raise ValueError("A contains NaN or infinite values")
    if not isinstance(A, (np.ndarray, LinearOperator)) and not sp.issparse(A):
        A = np.asarray(A)
    op = as_block_operator(A)
    n = op.n
    _check_k(k, n, n)
    rng = check_generator(random_state)
    if op.symmetric is False:
        raise ValueError("sketched_eigsh needs a symmetric A (A != A.T)")
    if op.symmetric is None:
        _check_symmetric_probe(op, rng)
    max_iter_ = max_iter
    if method == "epsi":
        w, V, info = lazy_epsi(
            op,
            k,
            sketch_size=sketch_size,
            tol=tol,
            max_iter=100 if max_iter_ is None else max_iter_,
            rng=rng,
        )
    else:
        w, V, info = block_lanczos_eigsh(
            op,
            k,
            block_size=block_size,
            tol=tol,
            max_iter=200 if max_iter_ is None else max_iter_,
            rng=rng,
        )
    return SketchedEigshResult(
        eigenvalues=w,
        eigenvectors=V,
        n_iter=info["n_iter"],
        n_matvecs=op.n_matvecs,
        residuals=np.asarray(info["residuals"]),
        converged=info["converged"],
        method="lanczos" if method == "auto" else method,
        sketch_size=info.get("sketch_size"),
    )
