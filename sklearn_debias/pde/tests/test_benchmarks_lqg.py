"""The paper's LQG problem: the Cole-Hopf solution of the log terminal cost.

``u(t, x) = -log E[2 / (1 + |x + √2 W_{T-t}|²)]`` is computed by a 2-d
quadrature; it is checked here against plain Monte Carlo in all 100
dimensions, against an independent 1-d integral, against the quadratic cost's
closed form (same quadrature, another ``h``), and against the PDE itself.
"""

import pickle

import numpy as np
import pytest
from scipy.integrate import quad

from sklearn_debias.pde import lqg
from sklearn_debias.pde._benchmarks import (
    _cole_hopf_monte_carlo,
    _exp_minus_log_cost,
    _gaussian_norm_expectation,
    _norm_rule,
)
from sklearn_debias.pde.tests.test_equations import (
    _fd_derivatives,
    _textbook_residual,
)


def _points(d, t, radii, seed=0):
    """Rows ``(t, x)`` with ``|x|`` = ``radii`` in random directions."""
    v = np.random.default_rng(seed).standard_normal((len(radii), d))
    x = v / np.linalg.norm(v, axis=1, keepdims=True) * np.asarray(radii)[:, None]
    return np.column_stack([t, x])


def _laplace_integral(r, s, d):
    """``E[1/(1 + |x + sZ|²)] = ∫ e^-λ E[e^{-λ|x + sZ|²}] dλ``, by scipy.quad.

    The inner expectation is the noncentral chi-square transform
    ``(1 + 2λs²)^{-d/2} exp(-λr²/(1 + 2λs²))``: a 1-d integral that shares
    nothing with the 2-d quadrature under test.
    """

    def f(lam):
        q = 1.0 + 2.0 * lam * s**2
        return np.exp(-lam - lam * r**2 / q - 0.5 * d * np.log(q))

    return quad(f, 0.0, np.inf, epsabs=0.0, epsrel=1e-13, limit=200)[0]


def test_quadrature_agrees_with_plain_monte_carlo_in_100d():
    d, T = 100, 1.0
    X = _points(d, [0.0, 0.25, 0.5, 0.75, 0.9], [0.0, 0.3, 0.6, 0.9, 1.0])
    u = lqg(d).exact_solution(X)
    u_mc, se = _cole_hopf_monte_carlo(X, T, 250_000, random_state=0)
    # Standard errors 2.6e-4 to 2.9e-4, 0.6e-4 to 1.2e-4 of u (2.4 to 4.6):
    # a 1e-4-relative check.
    assert np.all(se < 1.25e-4 * np.abs(u))
    np.testing.assert_array_less(np.abs(u_mc - u), 4 * se)
    # At t = T the estimator is exact.
    XT = X.copy()
    XT[:, 0] = T
    u_T, se_T = _cole_hopf_monte_carlo(XT, T, 10, random_state=0)
    g = lqg(d).evaluate_terminal(X[:, 1:])
    np.testing.assert_allclose(u_T, g, rtol=1e-14, atol=1e-15)
    np.testing.assert_array_equal(se_T, 0.0)


@pytest.mark.parametrize("d", [1, 2, 3, 10, 100])
def test_quadrature_agrees_with_a_1d_integral(d):
    r = np.array([0.0, 0.5, 1.0, 1.0, 2.0, 0.3])
    s = np.array([np.sqrt(2.0), np.sqrt(2.0), np.sqrt(2.0), 0.3, 1.0, 0.01])
    v = _gaussian_norm_expectation(_exp_minus_log_cost, r, s, d, np.sqrt(2.0))
    ref = [2.0 * _laplace_integral(ri, si, d) for ri, si in zip(r, s)]
    np.testing.assert_allclose(v, ref, rtol=1e-11)


@pytest.mark.parametrize("a", [0.5, 1.0])
@pytest.mark.parametrize("d", [1, 2, 5, 20, 100])
def test_quadrature_reproduces_the_quadratic_closed_form(d, a):
    # E[exp(-a|x + sZ|²)] by the same rule gives u for g = a|x|² exactly.
    pde = lqg(d, cost="quadratic", a=a)
    X = pde.sample(20, random_state=d)
    X[:3, 0] = [0.0, 0.5, 0.999]
    r = np.linalg.norm(X[:, 1:], axis=1)
    s = np.sqrt(2.0 * (pde.T - X[:, 0]))
    v = _gaussian_norm_expectation(lambda y: np.exp(-a * y), r, s, d, np.sqrt(2.0))
    np.testing.assert_allclose(-np.log(v), pde.exact_solution(X), rtol=1e-10)


def test_node_counts_stay_moderate():
    # Product rule sizes for T = 1 (s = √2): about 10^4 nodes per point at
    # most, whatever the dimension.
    sizes = {d: len(_norm_rule(d, np.sqrt(2.0))[2]) for d in (1, 2, 5, 20, 100)}
    assert sizes[1] < 200
    assert max(sizes.values()) < 12_000


@pytest.mark.parametrize("d", [5, 100])
def test_exact_solution_solves_the_pde(d):
    # Near T the solution changes on the time scale 1/(4d) (u_t ≈ 2d at t = T
    # for small |x|), where central differences lose their accuracy in
    # d = 100 (the error is the differences', O(h²)): stay at t <= 0.7 there.
    pde = lqg(d)
    t = [0.1, 0.4, 0.7, 0.9] if d < 20 else [0.0, 0.3, 0.5, 0.7]
    X = _points(d, t, [0.2, 0.5, 0.8, 1.0], seed=d)
    u, grad, lap = _fd_derivatives(pde.exact_solution, X, h=5e-4)
    scale = 1.0 + np.abs(u).max() + np.abs(lap).max()
    textbook = _textbook_residual("lqg", d, X, u, grad[:, 0], grad[:, 1:], lap)
    np.testing.assert_allclose(textbook, 0.0, atol=1e-6 * scale)
    np.testing.assert_allclose(pde.residual(X, u, grad, lap), 0.0, atol=1e-6 * scale)


def test_terminal_value_and_times_near_T():
    d = 5
    pde = lqg(d)
    X = pde.sample(30, random_state=0)
    x = X[:, 1:]
    g = np.log((1.0 + (x**2).sum(axis=1)) / 2.0)
    np.testing.assert_array_equal(pde.evaluate_terminal(x), g)
    X[:, 0] = pde.T
    np.testing.assert_array_equal(pde.exact_solution(X), g)
    # Continuous at T from both sides (past T: the analytic continuation,
    # u ≈ g - (T - t)(Δg - |∇g|²) to first order).
    r2 = (x**2).sum(axis=1)
    u_tau = 2 * d / (1 + r2) - 4 * r2 / (1 + r2) ** 2 - 4 * r2 / (1 + r2) ** 2
    for eps in (1e-6, -1e-6):
        X[:, 0] = pde.T - eps
        np.testing.assert_allclose(pde.exact_solution(X), g + eps * u_tau, atol=1e-9)
    X[0, 0] = pde.T + 0.1
    with pytest.raises(ValueError, match="t <= T"):
        pde.exact_solution(X)


def test_api():
    assert type(lqg(3).terminal).__name__ == "_LogTerminal"
    quadratic = lqg(3, a=0.5)
    assert quadratic.terminal.a == 0.5
    assert lqg(3, cost="quadratic").terminal.a == 1.0
    for pde in (lqg(4), quadratic):
        assert pde.T == 1.0
        assert pde.sigma == np.sqrt(2.0)
        assert pde.domain.n_dims == pde.n_dims
    with pytest.raises(ValueError, match="cost must be 'log' or 'quadratic'"):
        lqg(3, cost="cubic")
    with pytest.raises(ValueError, match="cost='quadratic'"):
        lqg(3, cost="log", a=1.0)
    with pytest.raises(ValueError, match="T > 0"):
        lqg(3, T=0.0)
    with pytest.raises(ValueError, match="1 \\+ 4 a T"):
        lqg(3, cost="quadratic", a=-1.0)


@pytest.mark.parametrize("cost", ["log", "quadratic"])
def test_pickles(cost):
    pde = lqg(4, cost=cost)
    X = pde.sample(10, random_state=1)
    copy = pickle.loads(pickle.dumps(pde))
    np.testing.assert_array_equal(copy.exact_solution(X), pde.exact_solution(X))
    np.testing.assert_array_equal(
        copy.evaluate_terminal(X[:, 1:]), pde.evaluate_terminal(X[:, 1:])
    )
    assert repr(copy.terminal) == repr(pde.terminal)
