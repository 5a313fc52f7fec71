"""The exact solutions of the benchmark equations, checked against their PDEs."""

import numpy as np
import pytest
from scipy.special import expit

from sklearn_debias.pde import (
    Ball,
    PoissonEquation,
    SemilinearParabolicPDE,
    diffusion_reaction,
    linear_convection_diffusion,
    lqg,
    viscous_burgers,
)


def _fd_derivatives(u, X, h=1e-3, laplacian_from=1):
    """Independent central differences: value, gradient, Laplacian.

    The Laplacian sums the columns from ``laplacian_from`` on: 1 for rows
    ``(t, x)`` (the spatial Laplacian), 0 for points ``x``.
    """
    n, p = X.shape
    grad = np.empty((n, p))
    lap = np.zeros(n)
    u0 = u(X)
    for j in range(p):
        e = np.zeros(p)
        e[j] = h
        up, um = u(X + e), u(X - e)
        grad[:, j] = (up - um) / (2 * h)
        if j >= laplacian_from:
            lap += (up - 2 * u0 + um) / h**2
    return u0, grad, lap


def _textbook_residual(name, d, X, u, u_t, grad_x, lap):
    """Each PDE written out as in the paper (not through the PDE object)."""
    if name == "lcd":
        return u_t - grad_x.sum(axis=1) / d + lap
    if name == "vb":
        s = 0.25**2
        return u_t + (s * u - 1 / d - s / 2) * grad_x.sum(axis=1) + s / 2 * lap
    if name == "lqg":
        return u_t + lap - (grad_x**2).sum(axis=1)
    if name == "dr":
        t, x = X[:, 0], X[:, 1:]
        target = 1.6 + np.sin(0.1 * x.sum(axis=1)) * np.exp(0.01 * d * (t - 0.5) / 2)
        return u_t + 0.5 * lap + np.minimum(1.0, (u - target) ** 2)
    raise AssertionError(name)


FACTORIES = {
    "lcd": linear_convection_diffusion,
    "vb": viscous_burgers,
    "lqg": lqg,
    "dr": diffusion_reaction,
}


@pytest.mark.parametrize("name", sorted(FACTORIES))
@pytest.mark.parametrize("d", [1, 5, 20])
def test_exact_solution_solves_the_pde(name, d):
    pde = FACTORIES[name](d)
    X = pde.sample(50, random_state=d)
    h = 2.5e-4 if name == "lqg" else 1e-3  # the paper's LQG is steep near T
    u, grad, lap = _fd_derivatives(pde.exact_solution, X, h=h)
    scale = 1.0 + np.abs(u).max() + np.abs(lap).max()
    textbook = _textbook_residual(name, d, X, u, grad[:, 0], grad[:, 1:], lap)
    np.testing.assert_allclose(textbook, 0.0, atol=1e-5 * scale)
    # The PDE object (drift, sigma, nonlinearity) encodes the same equation.
    np.testing.assert_allclose(pde.residual(X, u, grad, lap), 0.0, atol=1e-5 * scale)
    # Terminal condition.
    XT = X.copy()
    XT[:, 0] = pde.T
    np.testing.assert_allclose(
        pde.evaluate_terminal(X[:, 1:]), pde.exact_solution(XT), rtol=1e-12
    )


def test_closed_forms_at_known_points():
    d = 20
    X = np.zeros((1, d + 1))
    assert viscous_burgers(d).exact_solution(X)[0] == pytest.approx(0.5)
    X[0, 1] = 1.0
    assert viscous_burgers(d).exact_solution(X)[0] == pytest.approx(expit(1.0))
    pde = lqg(3, a=0.5, T=1.0)
    # τ = 1: (3/2) log 3 + 0.5 |x|² / 3
    val = pde.exact_solution(np.array([[0.0, 1.0, 1.0, 0.0]]))[0]
    assert val == pytest.approx(1.5 * np.log(3.0) + 1.0 / 3.0)


def test_poisson_equation_checks_callables():
    ball = Ball(2)
    pde = PoissonEquation(lambda X: np.ones((len(X), 1)), lambda X: X[:, 0], ball)
    with pytest.raises(ValueError, match=r"source must return an array of shape"):
        pde.evaluate_source(np.zeros((3, 2)))
    pde = PoissonEquation(None, lambda X: np.full(len(X), np.inf), ball)
    with pytest.raises(ValueError, match="non-finite"):
        pde.evaluate_boundary(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="outside the domain"):
        pde.check_points(np.array([[0.0, 0.0], [2.0, 0.0]]))
    with pytest.raises(AttributeError, match="no exact_solution"):
        pde.exact_solution(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="domain must be"):
        PoissonEquation(None, lambda X: X[:, 0], domain="ball")
    with pytest.raises(ValueError, match="boundary must be a callable"):
        PoissonEquation(None, 1.0, ball)


def test_parabolic_pde_checks():
    pde = viscous_burgers(3)
    with pytest.raises(ValueError, match="t > T"):
        pde.check_points(np.array([[0.6, 0.0, 0.0, 0.0]]))
    with pytest.raises(ValueError, match="3 space dimensions"):
        pde.check_points(np.zeros((2, 3)))
    bad = SemilinearParabolicPDE(0.0, 1.0, lambda t, x, u, z: u[:, None], np.sin, 1.0)
    with pytest.raises(ValueError, match="nonlinearity must return"):
        bad.evaluate_nonlinearity(np.zeros(2), np.zeros((2, 1)), np.zeros(2), None)
    with pytest.raises(ValueError, match="sigma"):
        SemilinearParabolicPDE(0.0, -1.0, None, np.sin, 1.0)
    with pytest.raises(ValueError, match="constant coefficients"):
        SemilinearParabolicPDE(lambda x: x, 1.0, None, np.sin, 1.0)
    with pytest.raises(ValueError, match="disagree"):
        SemilinearParabolicPDE(np.zeros(3), 1.0, None, np.sin, 1.0, domain=Ball(2))
    with pytest.raises(ValueError, match="needs a domain"):
        SemilinearParabolicPDE(0.0, 1.0, None, np.sin, 1.0).sample(3)
    with pytest.raises(ValueError, match="1 \\+ 4 a T"):
        lqg(3, a=-1.0)
    with pytest.raises(ValueError, match="positive integer"):
        viscous_burgers(0)


def test_sample_follows_the_random_stream_rule():
    pde = viscous_burgers(3)
    np.random.seed(0)  # noqa: NPY002
    a = pde.sample(10, random_state=4)
    np.random.seed(1)  # noqa: NPY002
    np.testing.assert_array_equal(a, pde.sample(10, random_state=4))
    # One generator draws t, then hands itself on to the domain.
    rng = np.random.default_rng(4)
    t = rng.uniform(0.0, pde.T, size=(10, 1))
    np.testing.assert_array_equal(a, np.hstack([t, pde.domain.sample(10, rng)]))
    np.random.seed(0)  # noqa: NPY002
    b = pde.sample(10)
    np.random.seed(0)  # noqa: NPY002
    assert not np.array_equal(b, pde.sample(10))
    poisson = PoissonEquation(None, lambda X: X[:, 0], Ball(2))
    np.testing.assert_array_equal(
        poisson.sample(5, random_state=2), Ball(2).sample(5, random_state=2)
    )
