"""Tests of the shared preconditioned solvers and the operator interface."""

import numpy as np
import pytest
import scipy.linalg

from sklearn_debias._randnla import (
    LeastSquaresOperator,
    SketchPreconditioner,
    karlson_walden_estimate,
    make_embedding,
    refined_lstsq,
)


class DenseOperator(LeastSquaresOperator):
    """A plain dense matrix and right-hand side, for testing the solvers.

    Implements only what the interface requires; ``gram``,
    ``residual_gradient`` and ``residual_gradient_accurate`` are the defaults.
    """

    def __init__(self, A, B):
        super().__init__(A.shape)
        self.A, self.B = A, B

    def _matmat(self, z):
        return self.A @ z

    def _rmatmat(self, r):
        return self.A.T @ r

    def residual(self, z):
        return self.B - self.A @ z


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


def test_interface_defaults():
    A = np.arange(12.0).reshape(4, 3)
    B = np.ones((4, 2))
    op = DenseOperator(A, B)
    z = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, -1.0]])
    t, nrm2 = op.gram(z)
    np.testing.assert_allclose(t, A.T @ A @ z)
    np.testing.assert_allclose(nrm2, np.sum((A @ z) ** 2, axis=0))
    g, rnorm2 = op.residual_gradient(z)
    np.testing.assert_allclose(g, A.T @ (B - A @ z))
    np.testing.assert_allclose(rnorm2, np.sum((B - A @ z) ** 2, axis=0))
    assert op.residual_gradient_accurate(z) is None
    # gram: A z and A^T (A z); residual_gradient: A^T r (residual is uncounted).
    assert op.n_matvecs == 6
    with pytest.raises(NotImplementedError):
        LeastSquaresOperator((3, 2)).residual(z)


def test_accurate_gradient_is_used_when_provided():
    # A large-residual problem: the solver finishes with a correction from the
    # declared residual_gradient_accurate when the operator provides one.
    A, B = _problem(m=2000, n=10, cond=1e5, k=1)
    B = B + 10.0 * np.random.default_rng(1).standard_normal(B.shape)
    calls = []

    class Accurate(DenseOperator):
        def residual_gradient_accurate(self, z):
            calls.append(1)
            return self.A.T @ (self.B - self.A @ z)

    S = make_embedding("gaussian", 100, A.shape[0], random_state=0)
    precond = SketchPreconditioner(S @ A, rcond=1e-13)
    z0 = precond.sketch_solve(S @ B)
    z, _ = refined_lstsq(Accurate(A, B), precond, z0, solver="cg")
    assert calls == [1]
    np.testing.assert_allclose(z, scipy.linalg.lstsq(A, B)[0], rtol=1e-7)
    calls.clear()
    refined_lstsq(Accurate(A, B), precond, z0, solver="cg", refine=False)
    assert calls == []


def test_unknown_solver():
    A, B = _problem(m=200, n=5, k=1)
    precond = SketchPreconditioner(A, rcond=0.0)
    with pytest.raises(ValueError, match="solver must be one of"):
        refined_lstsq(DenseOperator(A, B), precond, np.zeros((5, 1)), solver="qr")
