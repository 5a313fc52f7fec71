"""Turn a matrix, a sparse matrix, an operator, a tensor or a callable into one
block-matvec interface that counts its products."""

import numbers

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator

__all__ = ["BlockOperator", "as_block_operator"]


def _is_torch_tensor(A):
    # Checked by type name so that torch is imported only when a tensor is given.
    return type(A).__module__.split(".")[0] == "torch" and hasattr(A, "detach")


class BlockOperator:
    """A square operator applied to blocks of vectors, with a product counter.

    Parameters
    ----------
    matmat : callable
        ``matmat(X)`` returns ``A @ X`` for ``X`` of shape ``(n, k)``.
    n : int
        Order of ``A``.
    rmatmat : callable or None
        ``rmatmat(X)`` returns ``A.T @ X``; ``None`` means ``A`` is assumed
        symmetric and ``matmat`` is used.
    symmetric : bool or None
        Whether ``A`` is known to be symmetric (``None``: unknown).

    Attributes
    ----------
    n_matvecs : int
        Number of vectors multiplied so far, by ``A`` or ``A.T``.
    """

    def __init__(self, matmat, n, rmatmat=None, symmetric=None):
        self._matmat = matmat
        self._rmatmat = rmatmat
        self.n = n
        self.shape = (n, n)
        self.symmetric = symmetric
        self.n_matvecs = 0

    def _apply(self, fun, X):
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] != self.n:
            raise ValueError(f"expected a block of shape ({self.n}, k), got {X.shape}")
        if X.shape[1] == 0:
            return np.zeros((self.n, 0))
        Y = fun(X)
        if _is_torch_tensor(Y):
            # A callable built on torch may return a tensor (possibly on a GPU
            # or attached to an autograd graph).
            Y = Y.detach().cpu().numpy()
        Y = np.asarray(Y, dtype=np.float64)
        if Y.ndim == 1 and X.shape[1] == 1:
            Y = Y[:, None]
        if Y.shape != X.shape:
            raise ValueError(
                f"the operator returned an array of shape {Y.shape} for a block of "
                f"shape {X.shape}; it must map (n, k) blocks to (n, k) blocks"
            )
        if not np.all(np.isfinite(Y)):
            raise ValueError("the operator returned non-finite values (NaN or inf)")
        self.n_matvecs += X.shape[1]
        return Y

    def matmat(self, X):
        """Return ``A @ X`` for ``X`` of shape ``(n, k)``; counts ``k`` products."""
        return self._apply(self._matmat, X)

    def rmatmat(self, X):
        """Return ``A.T @ X``; counts ``k`` products (``A @ X`` if symmetric)."""
        fun = self._matmat if self._rmatmat is None else self._rmatmat
        return self._apply(fun, X)


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


def as_block_operator(A, size=None):
    """Wrap ``A`` as a :class:`BlockOperator`.

    Parameters
    ----------
    A : ndarray, sparse matrix, LinearOperator, torch.Tensor or callable
        A square matrix. A callable must map a block ``X`` of shape ``(n, k)``
        to ``A @ X``; it is assumed symmetric wherever ``A.T`` is needed.
    size : int, default=None
        Order ``n`` of ``A``; required (and only used) for a callable.

    Returns
    -------
    op : BlockOperator
    """
    op = _as_block_operator(A, size)
    if size is not None and op.n != size:
        raise ValueError(f"size={size!r} does not match the order {op.n} of A")
    return op


def _as_block_operator(A, size):
    if isinstance(A, LinearOperator):
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

        return BlockOperator(A.matmat, n, rmatmat=rmatmat, symmetric=None)
    if sp.issparse(A):
        n = _check_order(A.shape)
        tol = _symmetry_tol(A.dtype)
        A = sp.csr_array(A, dtype=np.float64)
        return BlockOperator(
            lambda X: A @ X,
            n,
            rmatmat=lambda X: A.T @ X,
            symmetric=_sparse_is_symmetric(A, tol),
        )
    if _is_torch_tensor(A):
        import torch

        n = _check_order(tuple(A.shape))
        At = A.detach()

        def apply(M, X):
            with torch.no_grad():
                out = M @ torch.as_tensor(X, dtype=M.dtype, device=M.device)
            return out.cpu().numpy()

        scale = float(At.abs().max()) if At.numel() else 0.0
        tol = (
            float(torch.finfo(At.dtype).eps) ** 0.5 if At.is_floating_point() else 1e-8
        )
        symmetric = float((At - At.mT).abs().max()) <= tol * max(scale, 1e-300)
        return BlockOperator(
            lambda X: apply(At, X),
            n,
            rmatmat=lambda X: apply(At.mT, X),
            symmetric=symmetric,
        )
    if isinstance(A, np.ndarray) or (
        hasattr(A, "__array__") and not callable(A) and not hasattr(A, "matmat")
    ):
        A = np.asarray(A)
        if not np.issubdtype(A.dtype, np.number) or np.iscomplexobj(A):
            raise ValueError(f"A must be a real numeric array, got dtype {A.dtype}")
        n = _check_order(A.shape)
        tol = _symmetry_tol(A.dtype)
        A = A.astype(np.float64, copy=False)
        if not np.all(np.isfinite(A)):
            raise ValueError("A contains NaN or infinite values")
        return BlockOperator(
            lambda X: A @ X,
            n,
            rmatmat=lambda X: A.T @ X,
            symmetric=_dense_is_symmetric(A, tol),
        )
    if callable(A):
        if size is None:
            raise ValueError(
                "A is a callable: pass its order with size=n (or wrap it in a "
                "scipy.sparse.linalg.LinearOperator)"
            )
        if not isinstance(size, numbers.Integral) or size < 1:
            raise ValueError(f"size must be a positive integer, got {size!r}")
        return BlockOperator(A, int(size))
    raise TypeError(
        "A must be a numpy array, a scipy sparse matrix, a LinearOperator, a "
        f"torch tensor or a callable, got {type(A).__name__}"
    )


def check_symmetric(op, method):
    """Raise a ValueError if ``op`` is known not to be symmetric."""
    if op.symmetric is False:
        raise ValueError(
            f"method {method!r} needs a symmetric positive semi-definite A, but A "
            "is not symmetric"
        )


def check_budget(n_matvecs, minimum, method):
    """Validate a matvec budget against the smallest one a method can use."""
    if isinstance(n_matvecs, bool) or not isinstance(n_matvecs, numbers.Integral):
        raise ValueError(f"n_matvecs must be an integer, got {n_matvecs!r}")
    if n_matvecs < minimum:
        raise ValueError(
            f"method {method!r} needs n_matvecs >= {minimum}, got {n_matvecs}"
        )
    return int(n_matvecs)


def check_probe(probe, default):
    probe = default if probe is None else probe
    if probe not in ("gaussian", "rademacher"):
        raise ValueError(f"probe must be 'gaussian' or 'rademacher', got {probe!r}")
    return probe


def check_psd_core(Omega, Y, method):
    """Raise a ValueError if ``Omega.T @ A @ Omega`` shows ``A`` is not PSD.

    A cheap (``k x k``) test that catches indefinite matrices passed to the
    Nyström-based methods, whatever form ``A`` takes.
    """
    core = Omega.T @ Y
    scale = np.max(np.abs(core), initial=0.0)
    if np.max(np.abs(core - core.T), initial=0.0) > 1e-6 * max(scale, 1e-300):
        raise ValueError(
            f"method {method!r} needs a symmetric positive semi-definite A, but "
            "the products show that A is not symmetric"
        )
    w = np.linalg.eigvalsh(0.5 * (core + core.T))
    if w.size and w[0] < -1e-6 * max(abs(w[-1]), 1e-300):
        raise ValueError(
            f"method {method!r} needs a symmetric positive semi-definite A, but "
            f"the products show a negative curvature ({w[0]:.3g})"
        )


def as_generator(random_state):
    """A numpy ``Generator`` from anything ``check_random_state`` accepts.

    A ``Generator`` is used as is; ``None``, an integer or a ``RandomState``
    go through :func:`sklearn.utils.check_random_state` and seed a new
    ``Generator`` from it, so global state is never reseeded.
    """
    if isinstance(random_state, np.random.Generator):
        return random_state
    from sklearn.utils import check_random_state

    rs = check_random_state(random_state)
    return np.random.default_rng(rs.randint(0, 2**31 - 1, size=4))


def exact_columns(op, block=256):
    """Yield ``(start, A[:, start:stop])`` column blocks from products with I."""
    n = op.n
    for start in range(0, n, block):
        stop = min(start + block, n)
        E = np.zeros((n, stop - start))
        E[np.arange(start, stop), np.arange(stop - start)] = 1.0
        yield start, op.matmat(E)
