"""The one operator interface of the package, and wrappers that implement it.

Every randomized algorithm here touches its matrix only through
:class:`BlockOperator`: ``matmat`` / ``rmatmat`` on blocks of vectors, with a
count of the products. :class:`LeastSquaresOperator` adds a right-hand side
``b`` and the fused passes the preconditioned least-squares solvers need.
:func:`as_block_operator` turns a matrix, a sparse matrix, a scipy
``LinearOperator``, a torch tensor or a callable into a checked
:class:`BlockOperator`.
"""

import numbers

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator

from ..utils import check_returned

__all__ = [
    "BlockOperator",
    "FunctionOperator",
    "LeastSquaresOperator",
    "as_block_operator",
    "exact_columns",
]


class BlockOperator:
    """Interface: an ``(m, n)`` matrix ``A`` applied to blocks of vectors.

    Subclasses implement ``_matmat(X)`` (``A @ X`` for ``X`` of shape
    ``(n, k)``) and, where products with ``A.T`` are needed, ``_rmatmat(Y)``
    (``A.T @ Y`` for ``Y`` of shape ``(m, k)``). The public ``matmat`` and
    ``rmatmat`` count the vectors multiplied.

    Parameters
    ----------
    shape : tuple of int
        ``(m, n)``.
    symmetric : bool or None, default=None
        Whether ``A`` is known to be symmetric (``None``: unknown).

    Attributes
    ----------
    shape : tuple of int
    symmetric : bool or None
    n_matvecs : int
        Number of vectors multiplied so far by ``A`` or ``A.T`` through
        ``matmat`` and ``rmatmat``.
    """

    def __init__(self, shape, symmetric=None):
        self.shape = tuple(int(s) for s in shape)
        self.symmetric = symmetric
        self.n_matvecs = 0

    @property
    def n(self):
        """Number of columns of ``A`` (its order when ``A`` is square)."""
        return self.shape[1]

    def matmat(self, X):
        """Return ``A @ X`` for ``X`` of shape ``(n, k)``; counts ``k`` products."""
        Y = self._matmat(X)
        self.n_matvecs += X.shape[1]
        return Y

    def rmatmat(self, Y):
        """Return ``A.T @ Y`` for ``Y`` of shape ``(m, k)``; counts ``k`` products."""
        X = self._rmatmat(Y)
        self.n_matvecs += Y.shape[1]
        return X

    def _matmat(self, X):
        raise NotImplementedError

    def _rmatmat(self, Y):
        raise NotImplementedError


class LeastSquaresOperator(BlockOperator):
    """Interface: a tall ``A`` with a right-hand side ``b``, for least squares.

    ``m`` may be huge, so the solvers touch ``m``-sized vectors only through
    these methods; vectors in the unknown space have shape ``(n, k)`` (``k``
    right-hand sides). Besides ``_matmat`` and ``_rmatmat``, subclasses
    implement ``residual``; the fused passes have defaults built on them and
    are overridden when one read of the data can do the work of two.
    """

    def residual(self, z):
        """``b - A z`` of shape ``(m, k)``."""
        raise NotImplementedError

    def gram(self, w):
        """``(A^T A w, ||A w||^2 per column)``, by default from two products."""
        q = self.matmat(w)
        return self.rmatmat(q), np.sum(q**2, axis=0)

    def residual_gradient(self, z):
        """``(A^T (b - A z), ||b - A z||^2 per column)``, the residual afresh."""
        r = self.residual(z)
        return self.rmatmat(r), np.sum(r**2, axis=0)

    def residual_gradient_accurate(self, z):
        """``A^T (b - A z)`` summed more accurately than by BLAS, or ``None``.

        Near the solution of a large-residual problem ``A^T r`` is a sum of
        large terms that cancel, and the rounding of an ordinary product sets
        a floor on the forward error. An operator that can sum it pairwise
        returns it here and the solver finishes with a correction from it.
        The default, ``None``, means no such gradient: the solver skips that
        correction.
        """
        return None


def _is_torch_tensor(A):
    # Checked by type name so that torch is imported only when a tensor is given.
    return type(A).__module__.split(".")[0] == "torch" and hasattr(A, "detach")


def _as_numpy(Y):
    """A callable's output as a float64 array.

    A callable built on torch may return a tensor (possibly on a GPU or
    attached to an autograd graph).
    """
    if _is_torch_tensor(Y):
        Y = Y.detach().cpu().numpy()
    return np.asarray(Y, dtype=np.float64)


class FunctionOperator(BlockOperator):
    """A square operator given by callables, with checked products.

    Parameters
    ----------
    matmat : callable
        ``matmat(X)`` returns ``A @ X`` for ``X`` of shape ``(n, k)`` (a numpy
        array, or a torch tensor that is converted).
    n : int
        Order of ``A``.
    rmatmat : callable or None, default=None
        ``rmatmat(X)`` returns ``A.T @ X``; ``None`` means ``A`` is assumed
        symmetric and ``matmat`` is used.
    symmetric : bool or None, default=None
        Whether ``A`` is known to be symmetric (``None``: unknown).
    n_jobs : int or None, default=None
        ``None``: a block goes to the callable whole. Otherwise it is cut into
        fixed groups of ``COLUMNS_PER_TASK`` columns, run through joblib with
        this many workers on the active backend (``joblib.parallel_config``,
        e.g. ``"dask"``), and put back in order: the result is the same for
        every ``n_jobs`` and backend.
    """

    COLUMNS_PER_TASK = 8

    def __init__(self, matmat, n, rmatmat=None, symmetric=None, n_jobs=None):
        super().__init__((n, n), symmetric=symmetric)
        self._forward = matmat
        self._backward = matmat if rmatmat is None else rmatmat
        self.n_jobs = n_jobs

    def _call(self, fun, X):
        """``fun(X)``, by fixed column groups through joblib when ``n_jobs``."""
        if self.n_jobs is None or X.shape[1] <= self.COLUMNS_PER_TASK:
            return _as_numpy(fun(X))
        from sklearn.utils.parallel import Parallel, delayed

        step = self.COLUMNS_PER_TASK
        blocks = [X[:, s : s + step] for s in range(0, X.shape[1], step)]
        parts = Parallel(n_jobs=self.n_jobs)(delayed(fun)(B) for B in blocks)
        out = []
        for B, P in zip(blocks, parts, strict=True):
            P = _as_numpy(P)
            if P.ndim == 1 and B.shape[1] == 1:
                P = P[:, None]
            if P.shape != B.shape:  # never reshape a wrong answer into place
                raise ValueError(
                    f"the operator returned an array of shape {P.shape} for a "
                    f"block of shape {B.shape}; it must map (n, k) blocks to "
                    "(n, k) blocks"
                )
            out.append(P)
        return np.hstack(out)

    def _apply(self, fun, X):
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] != self.n:
            raise ValueError(f"expected a block of shape ({self.n}, k), got {X.shape}")
        if X.shape[1] == 0:
            return np.zeros((self.n, 0))
        Y = self._call(fun, X)
        if Y.ndim == 1 and X.shape[1] == 1:
            Y = Y[:, None]
        return check_returned(
            Y,
            Y.shape == X.shape,
            lambda: "the operator",
            f"an array of shape {Y.shape} for a block of shape {X.shape}; it must "
            "map (n, k) blocks to (n, k) blocks",
            " (NaN or inf)",
        )

    def _matmat(self, X):
        return self._apply(self._forward, X)

    def _rmatmat(self, X):
        return self._apply(self._backward, X)


def _check_order(shape):
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError(f"A must be a square matrix or operator, got shape {shape}")
    if shape[0] < 1:
        raise ValueError("A must have at least one row")
    return int(shape[0])


def _symmetry_tol(dtype):
    # Products such as X @ X.T are symmetric only up to rounding.
    dtype = dtype if np.issubdtype(dtype, np.floating) else np.float64
    return np.sqrt(np.finfo(dtype).eps)


def _dense_is_symmetric(A, tol):
    scale = np.max(np.abs(A)) if A.size else 0.0
    return bool(np.max(np.abs(A - A.T), initial=0.0) <= tol * max(scale, 1e-300))


def _sparse_is_symmetric(A, tol):
    diff = abs(A - A.T)
    scale = abs(A).max() if A.nnz else 0.0
    return bool(diff.max() <= tol * max(scale, 1e-300)) if diff.nnz else True


def as_block_operator(A, size=None, n_jobs=None):
    """Wrap ``A`` as a checked :class:`BlockOperator` (a :class:`FunctionOperator`).

    Parameters
    ----------
    A : ndarray, sparse matrix, LinearOperator, torch.Tensor or callable
        A square matrix. A callable must map a block ``X`` of shape ``(n, k)``
        to ``A @ X``; it is assumed symmetric wherever ``A.T`` is needed.
    size : int, default=None
        Order ``n`` of ``A``; required (and only used) for a callable.
    n_jobs : int or None, default=None
        For a callable or a ``LinearOperator`` (user code, possibly a
        simulation): apply blocks by fixed groups of columns on the active
        joblib backend (see :class:`FunctionOperator`). Matrices ignore it
        (BLAS threads do their work).

    Returns
    -------
    op : FunctionOperator

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias._randnla import as_block_operator
    >>> op = as_block_operator(np.diag([1.0, 2.0, 3.0]))
    >>> op.matmat(np.ones((3, 2)))[:, 0], op.n_matvecs, op.symmetric
    (array([1., 2., 3.]), 2, True)
    """
    op = _as_block_operator(A, size)
    if isinstance(A, LinearOperator) or callable(A):
        op.n_jobs = n_jobs
    if size is not None and op.n != size:
        raise ValueError(f"size={size!r} does not match the order {op.n} of A")
    return op


def _linear_operator(A):
    n = _check_order(A.shape)

    def rmatmat(X):
        try:
            return A.rmatmat(X)
        except (NotImplementedError, TypeError) as exc:
            # scipy raises either, depending on version, when the operator
            # was built without rmatvec.
            raise ValueError(
                "this method needs products with A.T, but the LinearOperator "
                f"could not provide them ({exc}); give it an rmatvec "
                "(rmatvec=matvec if A is symmetric)"
            ) from exc

    return FunctionOperator(A.matmat, n, rmatmat=rmatmat, symmetric=None)


def _sparse_operator(A):
    n = _check_order(A.shape)
    tol = _symmetry_tol(A.dtype)
    A = sp.csr_array(A, dtype=np.float64)
    symmetric = _sparse_is_symmetric(A, tol)
    return FunctionOperator(lambda X: A @ X, n, lambda X: A.T @ X, symmetric)


def _torch_operator(A):
    import torch

    n = _check_order(tuple(A.shape))
    At = A.detach()

    def apply(M, X):
        with torch.no_grad():
            out = M @ torch.as_tensor(X, dtype=M.dtype, device=M.device)
        return out.cpu().numpy()

    scale = float(At.abs().max()) if At.numel() else 0.0
    tol = float(torch.finfo(At.dtype).eps) ** 0.5 if At.is_floating_point() else 1e-8
    symmetric = float((At - At.mT).abs().max()) <= tol * max(scale, 1e-300)
    return FunctionOperator(
        lambda X: apply(At, X), n, lambda X: apply(At.mT, X), symmetric
    )


def _dense_operator(A):
    A = np.asarray(A)
    if not np.issubdtype(A.dtype, np.number) or np.iscomplexobj(A):
        raise ValueError(f"A must be a real numeric array, got dtype {A.dtype}")
    n = _check_order(A.shape)
    tol = _symmetry_tol(A.dtype)
    A = A.astype(np.float64, copy=False)
    if not np.all(np.isfinite(A)):
        raise ValueError("A contains NaN or infinite values")
    symmetric = _dense_is_symmetric(A, tol)
    return FunctionOperator(lambda X: A @ X, n, lambda X: A.T @ X, symmetric)


def _as_block_operator(A, size):
    if isinstance(A, LinearOperator):
        return _linear_operator(A)
    if sp.issparse(A):
        return _sparse_operator(A)
    if _is_torch_tensor(A):
        return _torch_operator(A)
    if isinstance(A, np.ndarray) or (
        hasattr(A, "__array__") and not callable(A) and not hasattr(A, "matmat")
    ):
        return _dense_operator(A)
    if callable(A):
        if size is None:
            raise ValueError(
                "A is a callable: pass its order with size=n (or wrap it in a "
                "scipy.sparse.linalg.LinearOperator)"
            )
        if not isinstance(size, numbers.Integral) or size < 1:
            raise ValueError(f"size must be a positive integer, got {size!r}")
        return FunctionOperator(A, int(size))
    raise TypeError(
        "A must be a numpy array, a scipy sparse matrix, a LinearOperator, a "
        f"torch tensor or a callable, got {type(A).__name__}"
    )


def exact_columns(op, block=256):
    """Yield ``(start, A[:, start:stop])`` column blocks from products with I.

    Parameters
    ----------
    op : BlockOperator
        A square operator.
    block : int, default=256
        Columns per product.

    Yields
    ------
    start : int
    columns : ndarray of shape (n, stop - start)
    """
    n = op.n
    for start in range(0, n, block):
        stop = min(start + block, n)
        E = np.zeros((n, stop - start))
        E[np.arange(start, stop), np.arange(stop - start)] = 1.0
        yield start, op.matmat(E)
