"""Collocation points follow the simulation; domains sample their boundary."""

import numpy as np
import pytest

from sklearn_debias.pde import Ball, Box, PoissonEquation, viscous_burgers
from sklearn_debias.pde._collocation import collocation_points, input_dimension


@pytest.mark.parametrize(
    "domain", [Ball(3, center=1.0, radius=2.0), Box([0, -1], [1, 3])]
)
def test_sample_boundary_lies_on_the_boundary(domain):
    X = domain.sample_boundary(500, random_state=0)
    assert X.shape == (500, domain.n_dims)
    np.testing.assert_allclose(domain.distance(X), 0.0, atol=1e-12)


def test_box_boundary_is_uniform_by_area():
    # Faces normal to axis 0 have length 4, those normal to axis 1 length 1.
    X = Box([0, -1], [1, 3]).sample_boundary(20000, random_state=1)
    on_vertical = np.isclose(X[:, 0], 0) | np.isclose(X[:, 0], 1)
    assert abs(on_vertical.mean() - 0.8) < 0.02


def test_parabolic_points_follow_the_forward_process():
    pde = viscous_burgers(4)
    rng = np.random.default_rng(0)
    interior, terminal, values = collocation_points(pde, None, 4000, 3000, rng)
    assert interior.shape == (4000, 5) and terminal.shape == (3000, 5)
    assert np.all((interior[:, 0] >= 0) & (interior[:, 0] <= pde.T))
    np.testing.assert_array_equal(terminal[:, 0], pde.T)
    np.testing.assert_allclose(values, pde.evaluate_terminal(terminal[:, 1:]))
    # Started uniformly on [-0.5, 0.5]^4 at t ~ U[0, T): X_T has variance
    # 1/12 + σ² E[T - t] = 1/12 + σ² T / 2 per coordinate and mean μ E[T - t].
    mu = -(1 / 4 + pde.sigma**2 / 2)
    np.testing.assert_allclose(terminal[:, 1:].mean(), mu * pde.T / 2, atol=0.01)
    var = 1 / 12 + pde.sigma**2 * pde.T / 2 + mu**2 * pde.T**2 / 12
    np.testing.assert_allclose(terminal[:, 1:].var(), var, rtol=0.05)


def test_poisson_points_and_extra_rows():
    pde = PoissonEquation(None, lambda X: X[:, 0], Ball(2))
    X = np.array([[0.1, 0.2], [0.3, -0.4]])
    rng = np.random.default_rng(0)
    interior, boundary, values = collocation_points(pde, X, 100, 50, rng)
    assert np.all(pde.domain.contains(interior))
    # Half of the interior points are rows of X.
    assert np.isin(interior[:, 0], X[:, 0]).sum() == 50
    np.testing.assert_allclose(values, boundary[:, 0])
    assert input_dimension(pde) == 2 and input_dimension(viscous_burgers(3)) == 4
