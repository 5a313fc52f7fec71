"""Tests of the shared preconditioned solvers (sklearn_debias._precond_solvers)."""

import numpy as np
import pytest
import scipy.linalg

from sklearn_debias._precond_solvers import (
    SketchPreconditioner,
    TallOperator,
    karlson_walden_estimate,
    preconditioned_cg,
    refined_lstsq,
)
from sklearn_debias._sketch import make_embedding


class DenseOperator(TallOperator):
    """A plain dense matrix and right-hand side, for testing the solvers."""

    def __init__(self, A, B):
        self.A, self.B, self.shape = A, B, A.shape

    def matvec(self, z):
        return self.A @ z

    def rmatvec(self, r):
        return self.A.T @ r

    def gram(self, w):
        q = self.A @ w
        return self.A.T @ q, np.sum(q**2, axis=0)

    def residual(self, z):
        return self.B - self.A @ z

    def residual_gradient(self, z):
        r = self.residual(z)
        return self.A.T @ r, np.sum(r**2, axis=0)


def _problem(m=3000, n=25, cond=1e6, seed=0, k=2):
    rng = np.random.default_rng(seed)
    U = np.linalg.qr(rng.standard_normal((m, n)))[0]
    V = np.linalg.qr(rng.standard_normal((n, n)))[0]
    A = (U * np.logspace(0, -np.log10(cond), n)) @ V.T
    B = A @ rng.standard_normal((n, k)) + 1e-3 * rng.standard_normal((m, k))
    return A, B


@pytest.mark.parametrize("solver", ["cg", "iterative_sketching", "lsqr", "lsmr"])
def test_refined_lstsq_matches_lapack(solver):
    A, B = _problem()
    S = make_embedding("sparse_sign", 250, A.shape[0], np.random.default_rng(0))
    precond = SketchPreconditioner(S @ A, rcond=1e-13)
    z0 = precond.sketch_solve(S @ B)
    z, info = refined_lstsq(DenseOperator(A, B), precond, z0, solver=solver, d=250)
    ref = scipy.linalg.lstsq(A, B)[0]
    # cond 1e6 with a non-zero residual: both are accurate to ~cond^2 u |r|.
    np.testing.assert_allclose(z, ref, rtol=1e-6)
    assert info["converged"].all() and info["rounds"] >= 1
    assert np.all(info["backward_error"] < 1e-14)


def test_preconditioner_conditions_the_operator():
    A, _ = _problem(cond=1e10)
    S = make_embedding("gaussian", 200, A.shape[0], np.random.default_rng(1))
    precond = SketchPreconditioner(S @ A, rcond=1e-14)
    AP = A @ precond.apply(np.eye(precond.rank))
    s = np.linalg.svd(AP, compute_uv=False)
    # d = 8 n: singular values within 1 / (1 -+ sqrt(1/8)) roughly.
    assert s.max() / s.min() < 4
    assert precond.cond == pytest.approx(1e10, rel=0.5)


def test_preconditioner_detects_rank():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((500, 6)) @ rng.standard_normal((6, 10))
    S = make_embedding("sparse_sign", 60, 500, rng)
    precond = SketchPreconditioner(S @ A, rcond=1e-12)
    assert precond.rank == 6
    assert precond.null_space.shape == (10, 4)
    np.testing.assert_allclose(A @ precond.null_space, 0, atol=1e-10)


def test_karlson_walden_matches_exact_formula():
    # With S = I (the "sketch" is A itself) the estimate is the exact formula.
    A, B = _problem(m=200, n=8, cond=1e3, k=1)
    z = scipy.linalg.lstsq(A, B)[0] + 1e-6
    r = B - A @ z
    theta2 = np.sum(r**2) / np.sum(z**2)
    M = A.T @ A + theta2 * np.eye(8)
    w, Q = np.linalg.eigh(M)
    exact = np.linalg.norm(Q @ ((Q.T @ (A.T @ r)) / np.sqrt(w)[:, None]))
    exact /= np.linalg.norm(z)
    precond = SketchPreconditioner(A, rcond=0.0)
    est = karlson_walden_estimate(precond, A.T @ r, z, np.linalg.norm(r, axis=0))
    assert est[0] == pytest.approx(exact, rel=1e-8)


def test_preconditioned_cg_solves_spd_systems():
    rng = np.random.default_rng(0)
    Q = np.linalg.qr(rng.standard_normal((60, 60)))[0]
    A = (Q * np.logspace(0, 4, 60)) @ Q.T
    B = rng.standard_normal((60, 3))
    x, it, ok = preconditioned_cg(lambda v: A @ v, B, tol=1e-12, max_iter=500)
    assert ok
    np.testing.assert_allclose(A @ x, B, atol=1e-9 * np.abs(B).max())
    # An exact preconditioner converges in one step.
    Ainv = np.linalg.inv(A)
    x1, it1, ok1 = preconditioned_cg(lambda v: A @ v, B, precond=lambda r: Ainv @ r)
    assert ok1 and it1 <= 2
    np.testing.assert_allclose(x1, x, rtol=1e-6)
