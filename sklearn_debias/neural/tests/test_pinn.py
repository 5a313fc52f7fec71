"""PINNRegressor: the residual it minimises, accuracy, seeds, bad input."""

import pickle

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator

from sklearn_debias.pde import (
    Ball,
    Box,
    PoissonEquation,
    SemilinearParabolicPDE,
    SimulationCalibratedRegressor,
    linear_convection_diffusion,
    viscous_burgers,
)

pytest.importorskip("torch")
pytest.importorskip("skorch")

from sklearn_debias.neural import PINNRegressor, supports_autograd  # noqa: E402
from sklearn_debias.pde.tests.test_equations import _fd_derivatives  # noqa: E402

FAST = dict(
    hidden_layer_sizes=(16, 16),
    n_collocation=128,
    max_epochs=40,
    lr=1e-2,
    lbfgs_max_iter=10,
    random_state=0,
)


def _poisson_disk():
    """Δu = 2 on the unit disk, u = exp(x₀) cos(x₁) + x₀² (not a polynomial)."""

    def exact(X):
        return np.exp(X[:, 0]) * np.cos(X[:, 1]) + X[:, 0] ** 2

    return PoissonEquation(
        lambda X: np.full(len(X), 2.0), exact, Ball(2), exact_solution=exact
    )


def test_residual_is_the_equation_residual_computed_independently():
    # Viscous Burgers in 3-d: μ = -(1/d + σ²/2), F = σ u Σ z_i with z = σ∇u.
    d, sigma = 3, 0.25
    pde = viscous_burgers(d, sigma=sigma)
    pinn = PINNRegressor(pde, **FAST).fit()
    X = pde.sample(50, random_state=3)
    u, grad, lap = _fd_derivatives(pinn.predict, X, h=1e-4)
    mu = -(1.0 / d + sigma**2 / 2)
    expected = (
        grad[:, 0]
        + mu * grad[:, 1:].sum(axis=1)
        + 0.5 * sigma**2 * lap
        + sigma * u * (sigma * grad[:, 1:]).sum(axis=1)
    )
    np.testing.assert_allclose(pinn.pde_residual(X), expected, rtol=1e-5, atol=1e-6)
    # The training loss is the mean square of that residual, over the scale².
    assert pinn.residual_loss_ > 0 and np.isfinite(pinn.boundary_loss_)
    assert np.isnan(pinn.data_loss_)


def test_poisson_residual_and_boundary():
    pde = _poisson_disk()
    pinn = PINNRegressor(pde, **FAST).fit()
    X = pde.sample(40, random_state=1)
    _, _, lap = _fd_derivatives(pinn.predict, X, h=1e-4, laplacian_from=0)
    np.testing.assert_allclose(pinn.pde_residual(X), lap - 2.0, rtol=1e-5, atol=1e-5)


def test_poisson_2d_reaches_one_percent():
    pde = _poisson_disk()
    pinn = PINNRegressor(
        pde,
        hidden_layer_sizes=(32, 32),
        n_collocation=256,
        max_epochs=500,
        lr=1e-2,
        lbfgs_max_iter=300,
        random_state=0,
    ).fit()
    X = pde.sample(2000, random_state=5)
    u = pde.exact_solution(X)
    error = np.linalg.norm(pinn.predict(X) - u) / np.linalg.norm(u)
    assert error <= 1e-2, error
    assert pinn.n_iter_ > 500
    assert supports_autograd(pinn)


def test_seeds_make_it_reproducible():
    pde = linear_convection_diffusion(2)
    X = pde.sample(20, random_state=0)
    a = PINNRegressor(pde, **FAST).fit().predict(X)
    b = PINNRegressor(pde, **FAST).fit().predict(X)
    c = PINNRegressor(pde, **{**FAST, "random_state": 1}).fit().predict(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_float64_and_data_loss():
    pde = linear_convection_diffusion(2)
    X = pde.sample(64, random_state=0)
    pinn = PINNRegressor(pde, dtype="float64", **FAST).fit(X, pde.exact_solution(X))
    assert next(pinn.module_.parameters()).dtype.is_floating_point
    assert str(next(pinn.module_.parameters()).dtype) == "torch.float64"
    assert np.isfinite(pinn.data_loss_)


def test_data_only_without_pde():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(200, 2))
    y = np.sin(X[:, 0]) + X[:, 1]
    pinn = PINNRegressor(**{**FAST, "max_epochs": 200}).fit(X, y)
    assert pinn.score(X, y) > 0.9
    with pytest.raises(ValueError, match="pde=None"):
        pinn.pde_residual(X)
    with pytest.raises(ValueError, match="no equation to train on"):
        PINNRegressor().fit(X)


def test_debiased_by_simulation_without_labels():
    # A PINN handed to SimulationCalibratedRegressor without solution data:
    # as a template (fitted on the PDE with X as collocation) or frozen.
    pde = linear_convection_diffusion(3)
    Xq = pde.sample(30, random_state=2)
    u = pde.exact_solution(Xq)
    reg = SimulationCalibratedRegressor(
        PINNRegressor(pde, **FAST), pde, n_paths=4000, random_state=0
    ).fit(Xq)
    surrogate = reg.estimator_.predict(Xq)
    debiased = reg.predict(Xq)
    assert np.sqrt(np.mean((debiased - u) ** 2)) < 0.3 * np.sqrt(
        np.mean((surrogate - u) ** 2)
    )
    frozen = SimulationCalibratedRegressor(
        FrozenEstimator(reg.estimator_), pde, n_paths=4000, random_state=0
    ).fit(Xq)
    np.testing.assert_allclose(frozen.predict(Xq), debiased)
    with pytest.raises(ValueError, match="requires y to be passed"):
        SimulationCalibratedRegressor(None, pde).fit(Xq)


def test_pickle_round_trip():
    pde = viscous_burgers(2)
    pinn = PINNRegressor(pde, **FAST).fit()
    X = pde.sample(5, random_state=0)
    again = pickle.loads(pickle.dumps(pinn))
    np.testing.assert_array_equal(again.predict(X), pinn.predict(X))


def _heat(terminal, nonlinearity=None, domain=None):
    return SemilinearParabolicPDE(
        drift=0.0,
        sigma=1.0,
        nonlinearity=nonlinearity,
        terminal=terminal,
        T=1.0,
        domain=Box([-1, -1], [1, 1]) if domain is None else domain,
    )


def test_bad_input_gets_clear_errors():
    def wrong_shape(x):
        return np.zeros((len(x), 2))

    with pytest.raises(ValueError, match=r"terminal must return an array of shape"):
        PINNRegressor(_heat(wrong_shape), **FAST).fit()

    def numpy_only(t, x, u, z):
        return np.tanh(np.asarray(u))

    with pytest.raises(TypeError, match="numpy_only.*must accept torch tensors"):
        PINNRegressor(_heat(lambda x: x[:, 0], numpy_only), **FAST).fit()

    def bad_rows(t, x, u, z):
        return u[:1]

    with pytest.raises(ValueError, match="nonlinearity must return an array"):
        PINNRegressor(_heat(lambda x: x[:, 0], bad_rows), **FAST).fit()

    pde = _poisson_disk()
    X = pde.sample(10, random_state=0)
    X_nan = X.copy()
    X_nan[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        PINNRegressor(pde, **FAST).fit(X_nan)
    with pytest.raises(ValueError, match="outside the domain"):
        PINNRegressor(pde, **FAST).fit(X + 5.0)
    with pytest.raises(ValueError, match="expects 2"):
        PINNRegressor(pde, **FAST).fit(np.zeros((4, 3)))
    late = linear_convection_diffusion(2).sample(4, random_state=0)
    late[0, 0] = 2.0
    with pytest.raises(ValueError, match="t > T"):
        PINNRegressor(linear_convection_diffusion(2), **FAST).fit(late)
    no_domain = SemilinearParabolicPDE(0.0, 1.0, None, lambda x: x[:, 0], T=1.0)
    with pytest.raises(ValueError, match="needs a PDE with a domain"):
        PINNRegressor(no_domain, **FAST).fit()


def test_verbose_reports_without_changing_the_fit(capsys):
    pde = linear_convection_diffusion(2)
    X = pde.sample(5, random_state=0)
    quiet = PINNRegressor(pde, **FAST).fit().predict(X)
    capsys.readouterr()
    loud = PINNRegressor(pde, verbose=1, **FAST).fit().predict(X)
    out = capsys.readouterr()
    assert "PINN" in out.err + out.out and "residual loss" in out.out
    np.testing.assert_array_equal(quiet, loud)


def test_no_better_than_a_constant_warns():
    pde = viscous_burgers(2)
    with pytest.warns(ConvergenceWarning, match="hardly better than a constant"):
        pinn = PINNRegressor(
            pde, **{**FAST, "max_epochs": 1, "lr": 1e-6, "optimizer": "adam"}
        ).fit()
    assert pinn.boundary_loss_ > 0.1
