"""GenzFunction: invalid and degenerate difficulties."""

import numpy as np
import pytest
from scipy import integrate

from sklearn_debias.datasets import GENZ_FAMILIES, GenzFunction


@pytest.mark.parametrize("family", GENZ_FAMILIES)
@pytest.mark.parametrize("difficulty", [np.nan, np.inf, -np.inf, -1.0])
def test_non_finite_or_negative_difficulty_is_rejected(family, difficulty):
    # NaN and inf used to give NaN integrals without complaint.
    with pytest.raises(ValueError, match="difficulty must be a finite number >= 0"):
        GenzFunction(family, n_features=3, difficulty=difficulty, random_state=0)


@pytest.mark.parametrize("difficulty", ["5", None.__class__, [1.0], True])
def test_non_number_difficulty_is_rejected(difficulty):
    with pytest.raises(TypeError, match="difficulty must be a real number"):
        GenzFunction("gaussian", n_features=3, difficulty=difficulty)


def test_zero_difficulty_product_peak_is_refused():
    with pytest.raises(ValueError, match="product_peak integrand vanish"):
        GenzFunction("product_peak", n_features=3, difficulty=0)


@pytest.mark.parametrize("family", ["oscillatory", "gaussian", "continuous"])
def test_zero_difficulty_is_the_constant_limit(family):
    f = GenzFunction(family, n_features=3, difficulty=0.0, random_state=0)
    X = np.random.default_rng(1).uniform(size=(5, 3))
    values = f(X)
    # a = 0: the integrand is constant and its integral is that constant.
    np.testing.assert_allclose(values, values[0], rtol=0, atol=0)
    assert f.integral == pytest.approx(values[0], rel=1e-15)
    expected = np.cos(2 * np.pi * f.u[0]) if family == "oscillatory" else 1.0
    assert f.integral == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("family", GENZ_FAMILIES)
@pytest.mark.parametrize("difficulty", [1e-12, 1e-6, 0.3])
def test_small_difficulty_integral_is_accurate(family, difficulty):
    # Against scipy's adaptive quadrature in one dimension (split at the kink
    # u): the closed forms must not lose digits to cancellation as a -> 0.
    f = GenzFunction(family, n_features=1, difficulty=difficulty, random_state=0)
    ref, _ = integrate.quad(
        lambda x: f(np.array([[x]]))[0], 0, 1, points=[f.u[0]], epsabs=0, epsrel=1e-13
    )
    assert np.isfinite(f.integral)
    assert f.integral == pytest.approx(ref, rel=1e-10)
