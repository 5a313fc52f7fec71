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
from sklearn_debias._randnla._solvers import check_sketch_rows


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


def test_karlson_walden_no_cancellation_at_zero_residual():
    # An exact solution of a consistent problem has backward error ~eps. The
    # out-of-row-space term used to be ||g||^2 - ||V^T g||^2, which cancels
    # to ~eps ||g||^2 and, divided by a tiny theta^2, read as ~1e-9.
    A, _ = _problem(m=500, n=10, cond=1e2, k=1)
    z = np.random.default_rng(3).standard_normal((10, 1))
    B = A @ z
    r = B - A @ z
    precond = SketchPreconditioner(A, rcond=0.0)
    est = karlson_walden_estimate(precond, A.T @ r, z, np.linalg.norm(r, axis=0))
    assert est[0] <= 1e-14 * np.linalg.norm(A)


@pytest.mark.parametrize("solver", ["cg", "lsqr", "lsmr"])
def test_converged_means_backward_stable(solver):
    # A square sketch embeds badly: the solvers' update tests fire early.
    # ``converged`` is true only if the final backward error meets tol.
    A, B = _problem(m=2000, n=20, cond=1e4, k=1)
    B = B - 0.999 * (B - A @ scipy.linalg.lstsq(A, B)[0])  # small residual
    for d in (20, 21, 30, 80):
        S = make_embedding("sparse_sign", d, 2000, 0)
        precond = SketchPreconditioner(S @ A, rcond=1e-13)
        z0 = precond.sketch_solve(S @ B)
        z, info = refined_lstsq(DenseOperator(A, B), precond, z0, solver=solver, d=d)
        assert info["converged"][0] == (
            info["backward_error"][0] <= info["allowed_backward_error"][0]
        )
        ref = scipy.linalg.lstsq(A, B)[0]
        if info["converged"][0]:
            err = np.linalg.norm(z - ref) / np.linalg.norm(ref)
            assert err < 1e4 * 1e-12


@pytest.mark.parametrize("solver", ["cg", "iterative_sketching", "lsqr", "lsmr"])
def test_unmet_tolerance_is_not_converged(solver):
    A, B = _problem(m=2000, n=20, cond=1e8, k=2)
    S = make_embedding("gaussian", 80, 2000, 0)
    precond = SketchPreconditioner(S @ A, rcond=1e-13)
    z0 = precond.sketch_solve(S @ B)
    op = DenseOperator(A, B)
    _, info = refined_lstsq(op, precond, z0, solver=solver, d=80, max_iter=1)
    assert not info["converged"].any()
    _, info = refined_lstsq(op, precond, z0, solver=solver, d=80)
    assert info["converged"].all()


def test_iterative_sketching_needs_three_times_the_rank():
    A, B = _problem(m=1000, n=20, k=1)
    S = make_embedding("gaussian", 59, 1000, 0)
    precond = SketchPreconditioner(S @ A, rcond=1e-13)
    with pytest.raises(ValueError, match=r"at least 3 \* 20 = 60 rows, got d=59"):
        refined_lstsq(
            DenseOperator(A, B),
            precond,
            np.zeros((20, 1)),
            solver="iterative_sketching",
            d=59,
        )
    with pytest.raises(ValueError, match="got d=None"):
        check_sketch_rows(None, 20)
    check_sketch_rows(60, 20)
    check_sketch_rows(20, 20, solver="cg")


def test_heavy_ball_fallback_to_cg_is_checked(monkeypatch):
    # A sketch far worse than its declared size (20-30 rows declared as 1000)
    # makes the momentum iteration diverge; it falls back to CG. Whatever
    # comes out is claimed converged only if it is backward stable.
    from sklearn_debias._randnla import _solvers

    calls = []
    cg = _solvers._cg_correction

    def spy(*args, **kwargs):
        calls.append(1)
        return cg(*args, **kwargs)

    monkeypatch.setattr(_solvers, "_cg_correction", spy)
    A, B = _problem(m=2000, n=20, cond=1e4, k=1)
    ref = scipy.linalg.lstsq(A, B)[0]
    outcomes = []
    for d in (20, 30):
        S = make_embedding("sparse_sign", d, 2000, 0)
        precond = SketchPreconditioner(S @ A, rcond=1e-13)
        calls.clear()
        z, info = refined_lstsq(
            DenseOperator(A, B),
            precond,
            precond.sketch_solve(S @ B),
            solver="iterative_sketching",
            d=1000,
        )
        assert calls, "the fallback to CG did not run"
        err = np.linalg.norm(z - ref) / np.linalg.norm(ref)
        outcomes.append(bool(info["converged"][0]))
        if info["converged"][0]:
            assert err < 1e-10
        else:
            assert info["backward_error"][0] > info["allowed_backward_error"][0]
    assert outcomes == [False, True]
