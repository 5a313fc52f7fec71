import numpy as np
import pytest
from scipy import stats

from sklearn_debias.pde import Ball, Box
from sklearn_debias.pde._walk_on_spheres import green_radius, walk_on_spheres


def _green_cdf(t, d):
    if d == 1:
        return 2 * t - t**2
    if d == 2:
        return t**2 * (1 - 2 * np.log(np.where(t > 0, t, 1.0)))
    return (t**2 / 2 - t**d / d) / (0.5 - 1.0 / d)


@pytest.mark.parametrize("d", [1, 2, 3, 5, 20])
def test_green_radius_law(d):
    rng = np.random.default_rng(d)
    t = green_radius(rng, 20_000, d)
    assert stats.kstest(t, lambda s: _green_cdf(s, d)).pvalue > 1e-3


@pytest.mark.parametrize("d", [2, 3, 6])
def test_green_second_moment(d):
    # Brownian motion (generator Δ/2) from the centre of the unit ball: Dynkin
    # on |x|² and |x|⁴ gives E[τ] = 1/d and E ∫_0^τ |W_s|² ds = 1/(2(d + 2)),
    # so the occupation law Y has E|Y|² = d / (2(d + 2)).
    r = green_radius(np.random.default_rng(0), 200_000, d)
    expected = d / (2 * (d + 2))
    assert abs(np.mean(r**2) - expected) < 4 * np.std(r**2) / np.sqrt(len(r))


def _run(domain, x0, boundary, source, n_walks, seed=0, epsilon=1e-5):
    rng = np.random.default_rng(seed)
    return walk_on_spheres(x0, domain, boundary, source, n_walks, epsilon, rng)


def test_laplace_harmonic_on_box():
    # exp(x1) cos(x2) is harmonic.
    def u(X):
        return np.exp(X[:, 0]) * np.cos(X[:, 1])

    box = Box([-0.5, -0.5, -0.5], [0.5, 1.0, 0.5])
    x0 = box.sample(8, random_state=0)
    mean, se = _run(box, x0, u, None, 4000)
    z = (mean - u(x0)) / se
    assert np.all(np.abs(z) < 4), z


@pytest.mark.parametrize("d", [2, 3, 5])
def test_poisson_with_varying_source_on_ball(d):
    # u = x1³ + |x|²: Δu = 6 x1 + 2d, a source that varies in space, so the
    # Green-function sampling of the source term matters.
    def u(X):
        return X[:, 0] ** 3 + (X**2).sum(axis=1)

    def f(X):
        return 6 * X[:, 0] + 2 * d

    ball = Ball(d, radius=1.5)
    x0 = ball.sample(6, random_state=1)
    mean, se = _run(ball, x0, u, f, 4000)
    z = (mean - u(x0)) / se
    assert np.all(np.abs(z) < 4), z
    assert np.abs(z.sum()) / np.sqrt(len(z)) < 3


def test_start_on_boundary_returns_boundary_value():
    ball = Ball(3)
    x0 = np.array([[1.0, 0.0, 0.0]])
    mean, se = _run(ball, x0, lambda X: X[:, 0] + 2.0, lambda X: np.ones(len(X)), 10)
    np.testing.assert_allclose(mean, 3.0)
    np.testing.assert_allclose(se, 0.0)


def test_max_steps_warns():
    from sklearn.exceptions import ConvergenceWarning

    box = Box([-1, -1, -1], [1, 1, 1])
    rng = np.random.default_rng(0)
    with pytest.warns(ConvergenceWarning, match="did not reach"):
        mean, _ = walk_on_spheres(
            np.zeros((2, 3)), box, lambda X: X[:, 0], None, 5, 1e-8, rng, max_steps=2
        )
    assert np.all(np.abs(mean) <= 1)
