"""Multilevel Picard's noise bias: estimated, corrected, or warned about."""

import warnings

import numpy as np
import pytest

from sklearn_debias.pde import SimulationCalibratedRegressor, lqg
from sklearn_debias.pde._picard import _noise_bias
from sklearn_debias.pde._testing import FunctionRegressor


def test_probe_is_exact_for_a_quadratic_nonlinearity():
    rng = np.random.default_rng(0)
    u, z = rng.normal(size=50), rng.normal(size=(50, 7))
    u_var, z_var = rng.uniform(size=50), rng.uniform(size=(50, 7))

    def F(u, z):
        return -0.5 * (z**2).sum(axis=1) + 3.0 * u

    # E F(u + δu, z + δz) - F(u, z) = -Σ Var(δz_j) / 2, for every probe.
    np.testing.assert_allclose(
        _noise_bias(F, u, z, u_var, z_var, rng), -0.5 * z_var.sum(axis=1)
    )


class _Jensen:
    """A crude LQG surrogate: log((1 + |x|² + 2dτ) / 2) (Jensen's bound)."""

    def __init__(self, d, T):
        self.d, self.T = d, T

    def __call__(self, X):
        tau = self.T - X[:, 0]
        return np.log((1 + (X[:, 1:] ** 2).sum(axis=1) + 2 * self.d * tau) / 2)


def _lqg_errors(noise_bias, seed):
    d = 20
    pde = lqg(d)
    X = pde.sample(40, random_state=seed)
    u = pde.exact_solution(X)
    surrogate = FunctionRegressor(_Jensen(d, pde.T)).fit(X)
    reg = SimulationCalibratedRegressor(
        surrogate,
        pde,
        method="mlp",
        levels=2,
        n_paths=10,
        noise_bias=noise_bias,
        random_state=seed,
    ).fit(X, u)
    pred, std = reg.predict(X, return_std=True)
    rel = np.linalg.norm(pred - u) / np.linalg.norm(u)
    sur = np.linalg.norm(surrogate.predict(X) - u) / np.linalg.norm(u)
    return rel, sur, np.mean(np.abs(pred - u) <= 1.96 * std)


@pytest.mark.parametrize("seed", [0, 1])
def test_lqg_gradient_noise_is_corrected_or_reported(seed):
    # -|z|²/2 squares the noise of the Bismut-Elworthy-Li gradients (20-d,
    # 10 paths per level): uncorrected, the estimate is biased by several
    # standard errors and its intervals under-cover, with a warning.
    with pytest.warns(UserWarning, match="turns their noise into a bias"):
        raw, sur, raw_cover = _lqg_errors("warn", seed)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # corrected: no warning at this size
        fixed, _, fixed_cover = _lqg_errors("correct", seed)
    assert raw_cover < 0.8
    assert fixed < 0.6 * raw and fixed < 0.25 * sur
    assert fixed_cover >= 0.9


def test_one_level_on_a_nonlinear_pde_warns():
    pde = lqg(3)
    X = pde.sample(3, random_state=0)
    reg = SimulationCalibratedRegressor(
        FunctionRegressor(_Jensen(3, pde.T)), pde, levels=1, n_paths=10, random_state=0
    ).fit(X, pde.exact_solution(X))
    with pytest.warns(UserWarning, match="levels=1 evaluates the nonlinearity"):
        reg.predict(X)
