"""Top-k SVD from products with ``A^T A`` only: the path of row-chunked dask arrays.

A tall matrix on a dask cluster is used only through map-reduce passes
``A^T (A V)`` (:class:`~._data.ChunkedDataOperator`), so the solvers of
:func:`~._sketched_svd.sketched_svd` run on the ``n`` side: block Lanczos
on ``A^T A`` (the Krylov space of block Krylov SVD), Lazy-EPSI (which needs
only ``A^T A``) and subspace iteration, and ``U = A V / s`` stays lazy.
"""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from .._randnla._chunked import ChunkedOperator, check_row_chunked
from .._randnla._eigen import _rayleigh_ritz, block_lanczos_eigsh
from .._randnla._lowrank import orthonormal_basis, randomized_range_finder
from ..utils import check_generator
from ._data import ChunkedDataOperator
from ._sketched_svd import _check_k, _Gram, svd_operator, svd_result

__all__ = ["gram_svd", "sketched_svd_dask"]


def _block_lanczos_svd(gram, k, *, tol, max_iter, block_size, rng, V0=None):
    """Block Lanczos on ``A^T A``: the Krylov space of ``block_krylov_svd``.

    ``block_lanczos_eigsh`` stops on ``||A^T A v - s^2 v|| <= tol_e s_1^2``,
    the SVD residual on ``||A^T A v - s^2 v|| / s <= tol s_1``: run with
    ``tol_e = tol``, then, if the smaller triplets miss the SVD test, continue
    from the Ritz vectors with ``tol_e = tol s_k / s_1``.
    """
    tol_e, n_iter = tol, 0
    for _ in range(3):
        theta, V, info = block_lanczos_eigsh(
            gram,
            k,
            block_size=block_size,
            tol=tol_e,
            max_iter=max_iter - n_iter,
            rng=rng,
            V0=V0,
            warn=False,
        )
        n_iter += info["n_iter"]
        s = np.sqrt(np.maximum(theta, 0.0))
        resid = info["residuals"] / np.maximum(s, 1e-300)
        converged = bool(np.all(resid <= tol * s[0]))
        if converged or not info["converged"] or n_iter >= max_iter:
            break
        tol_e, V0 = 0.9 * tol * s[-1] / max(s[0], 1e-300), V
    return theta, V, dict(n_iter=n_iter, residuals=resid, converged=converged)


def gram_svd(op, k, *, method, tol, max_iter, sketch_size, block_size, rng, warn=True):
    """Top-``k`` triplets from products with ``A^T A`` only (see ``sketched_svd``).

    For an operator (a row-chunked dask array) whose ``m``-sized products
    must stay off the client: the right factor is computed on the ``n`` side,
    each product ``A^T A V`` is one pass (``op.normal_matmat``), and
    ``U = op.matmat(V) / s`` is left as ``op.matmat`` returns it (lazy).
    ``"block_krylov"`` runs block Lanczos on ``A^T A`` (the Krylov space of
    ``block_krylov_svd``), ``"epsi"`` is ``svd_operator``'s (which needs
    only ``A^T A``), ``"randomized"`` takes ``max_iter`` subspace
    iterations on ``A^T A`` (the row space of the in-memory ``Q^T A``) and a
    Rayleigh-Ritz step. The singular values come from the Ritz values of
    ``A^T A``: their relative error is at worst ``eps (s_1 / s_i)^2``
    rather than ``eps s_1 / s_i``.

    Returns ``(U, s, Vt, info)`` as :func:`~._sketched_svd.svd_operator`.
    """
    if method == "epsi":
        return svd_operator(
            op,
            k,
            method=method,
            tol=tol,
            max_iter=max_iter,
            sketch_size=sketch_size,
            block_size=block_size,
            rng=rng,
            warn=warn,
        )
    gram, n = _Gram(op), op.shape[1]
    if method == "randomized":
        n_iter = 4 if max_iter is None else max_iter
        # orth(A^T A Omega), then subspace iterations: the row space of the
        # in-memory Q^T A, range((A^T A)^(n_iter + 1) Omega).
        V = randomized_range_finder(gram.matmat, n, min(k + 10, n), rng)
        for _ in range(n_iter):
            V = orthonormal_basis(gram.matmat(V))
        V, GV, theta = _rayleigh_ritz(V, gram.matmat(V), k)
        s = np.sqrt(np.maximum(theta, 0.0))
        resid = np.linalg.norm(GV - V * theta, axis=0) / np.maximum(s, 1e-300)
        info = dict(
            n_iter=n_iter,
            residuals=resid,
            converged=bool(np.all(resid <= tol * s[0])),
        )
    else:
        theta, V, info = _block_lanczos_svd(
            gram,
            k,
            tol=tol,
            max_iter=200 if max_iter is None else max_iter,
            block_size=block_size,
            rng=rng,
        )
        s = np.sqrt(np.maximum(theta, 0.0))
        if warn and not info["converged"]:
            warnings.warn(
                f"block Krylov SVD did not reach tol={tol:g} in {info['n_iter']} "
                "iterations (largest relative residual "
                f"{info['residuals'].max() / max(s[0], 1e-300):.2e}); increase "
                "max_iter or tol",
                ConvergenceWarning,
                stacklevel=3,
            )
    info.update(sketch=None, sketch_size=None)
    U = op.matmat(V) / np.where(s > 0, s, 1.0)
    return U, s, V.T, info


def sketched_svd_dask(A, k, *, random_state, **kwargs):
    """:func:`~._sketched_svd.sketched_svd` of a row-chunked dask array."""
    A = check_row_chunked(A, "A")
    _check_k(k, *A.shape)
    op = ChunkedDataOperator(ChunkedOperator(A), name="A")
    U, s, Vt, info = gram_svd(op, k, rng=check_generator(random_state), **kwargs)
    return svd_result(U, s, Vt, info, op, kwargs["method"], n_passes=op.n_passes)
