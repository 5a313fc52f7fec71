"""Tests of the engineering simulators and their reference values."""

import math

import numpy as np
import pytest
from scipy.stats import truncnorm

from sklearn_debias.datasets import (
    SIMULATORS,
    BoreholeFunction,
    OTLCircuitFunction,
    PistonFunction,
    WingWeightFunction,
)

ALL = list(SIMULATORS.values())


# Independent scalar implementations (math module, written from the formulas).
def piston_scalar(M, S, V0, k, P0, Ta, T0):
    A = P0 * S + 19.62 * M - k * V0 / S
    V = S / (2 * k) * (math.sqrt(A * A + 4 * k * P0 * V0 * Ta / T0) - A)
    return 2 * math.pi * math.sqrt(M / (k + S * S * P0 * V0 * Ta / T0 / (V * V)))


def wing_scalar(Sw, Wfw, A, Lam, q, lam, tc, Nz, Wdg, Wp):
    c = math.cos(Lam * math.pi / 180)
    w = 0.036 * Sw**0.758 * Wfw**0.0035 * (A / c / c) ** 0.6 * q**0.006
    w *= lam**0.04 * (100 * tc / c) ** -0.3 * (Nz * Wdg) ** 0.49
    return w + Sw * Wp


def otl_scalar(Rb1, Rb2, Rf, Rc1, Rc2, beta):
    vb1 = 12 * Rb2 / (Rb1 + Rb2)
    g = beta * (Rc2 + 9)
    return (
        (vb1 + 0.74) * g / (g + Rf)
        + 11.35 * Rf / (g + Rf)
        + 0.74 * Rf * g / ((g + Rf) * Rc1)
    )


def borehole_scalar(rw, r, Tu, Hu, Tl, Hl, L, Kw):
    lr = math.log(r / rw)
    return (
        2
        * math.pi
        * Tu
        * (Hu - Hl)
        / (lr * (1 + 2 * L * Tu / (lr * rw**2 * Kw) + Tu / Tl))
    )


SCALAR = {PistonFunction: piston_scalar, WingWeightFunction: wing_scalar}
SCALAR[OTLCircuitFunction] = otl_scalar
SCALAR[BoreholeFunction] = borehole_scalar


@pytest.mark.parametrize("cls", ALL)
def test_matches_scalar_formula(cls):
    f = cls()
    X = f.sample(20, rng=1)
    lower, upper = f.bounds
    X = np.vstack([X, lower, upper, (lower + upper) / 2])
    expected = [SCALAR[cls](*row) for row in X]
    np.testing.assert_allclose(f(X), expected, rtol=1e-12)


def test_hand_values():
    # Hand computations (calculator) at the box centre / the Cessna baseline.
    # OTL at the centre: Vb1 = 12*47.5/147.5 = 3.86441, g = 175*9.725 = 1701.875,
    # D = 1703.625: 4.60441*g/D + 11.35*1.75/D + 0.74*1.75*g/(D*1.85).
    assert OTLCircuitFunction()(np.array([[100, 47.5, 1.75, 1.85, 0.725, 175]]))[
        0
    ] == pytest.approx(4.59968 + 0.011659 + 0.699281, rel=1e-5)
    # Wing weight at the Cessna C172 baseline (Forrester et al., 2008) ~ 245 lb.
    baseline = np.array([[174, 252, 7.52, 0, 34, 0.672, 0.12, 3.8, 2000, 0.064]])
    assert WingWeightFunction()(baseline)[0] == pytest.approx(244.967, abs=1e-2)


def test_monotonicity():
    w = WingWeightFunction()
    lower, upper = w.bounds
    centre = (lower + upper) / 2
    increasing = ["Sw", "Wfw", "A", "q", "lambda", "Nz", "Wdg", "Wp"]
    for j, name in enumerate(w.feature_names):
        lo, hi = centre.copy(), centre.copy()
        lo[j], hi[j] = lower[j], upper[j]
        vlo, vhi = w(np.vstack([lo, hi]))
        if name in increasing:
            assert vhi > vlo, name
        elif name == "tc":
            assert vhi < vlo
        else:  # the sweep enters through cos: even in Lambda
            assert vhi == pytest.approx(vlo, rel=1e-12)
    o = OTLCircuitFunction()
    lower, upper = o.bounds
    centre = (lower + upper) / 2
    for j, sign in [(0, -1), (1, +1)]:  # Vb1 falls with Rb1, rises with Rb2
        lo, hi = centre.copy(), centre.copy()
        lo[j], hi[j] = lower[j], upper[j]
        vlo, vhi = o(np.vstack([lo, hi]))
        assert sign * (vhi - vlo) > 0


@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize("distribution", ["uniform", "normal"])
def test_sample_law_and_range(cls, distribution):
    f = cls(distribution)
    X = f.sample(40_000, rng=np.random.default_rng(0))
    lower, upper = f.bounds
    assert X.shape == (40_000, f.n_features) == (40_000, len(f.feature_names))
    assert np.all((X >= lower) & (X <= upper))
    U = (X - lower) / (upper - lower)
    if distribution == "uniform":
        np.testing.assert_allclose(U.mean(0), 0.5, atol=0.01)
        np.testing.assert_allclose(U.var(0), 1 / 12, rtol=0.03)
    else:  # truncated normal at +-3 sd, sd = width / 6
        np.testing.assert_allclose(U.mean(0), 0.5, atol=0.005)
        np.testing.assert_allclose(U.var(0), truncnorm.var(-3, 3) / 36, rtol=0.03)
    y = f(X)
    assert np.all(np.isfinite(y)) and np.all(y > 0)


@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize("distribution", ["uniform", "normal"])
def test_reference_values_match_fresh_monte_carlo(cls, distribution):
    f = cls(distribution)
    ref = f.reference
    y = f(f.sample(200_000, rng=123))
    n = len(y)
    sd = y.std()
    assert abs(y.mean() - ref["mean"][0]) < 4 * sd / math.sqrt(n)
    assert abs(np.mean(y**2) - ref["moment2"][0]) < 4 * np.std(y**2) / math.sqrt(n)
    assert ref["variance"][0] == pytest.approx(
        ref["moment2"][0] - ref["mean"][0] ** 2, rel=1e-6
    )
    assert y.var() == pytest.approx(ref["variance"][0], rel=0.03)
    q90, q95 = ref["quantile_0.9"][0], ref["quantile_0.95"][0]
    assert abs(np.mean(y <= q90) - 0.9) < 4 * math.sqrt(0.09 / n)
    assert abs(np.mean(y > q95) - 0.05) < 4 * math.sqrt(0.0475 / n)
    assert ref["exceedance_0.95"][0] == pytest.approx(0.05, abs=1e-4)
    for value, se in ref.values():  # the stored accuracy is far below the studies'
        assert se <= 1e-3 * abs(value)


def test_validation():
    with pytest.raises(ValueError, match="distribution must be one of"):
        PistonFunction("lognormal")
    f = PistonFunction()
    with pytest.raises(ValueError, match="shape"):
        f(np.ones((3, 6)))
    lower, _ = f.bounds
    with pytest.raises(ValueError, match=r"outside the input box.*\['M'\]"):
        f((lower - np.r_[1.0, np.zeros(6)])[None])
    with pytest.raises(ValueError, match="NaN"):
        f(np.full((1, 7), np.nan))
    with pytest.raises(ValueError, match="non-negative integer"):
        f.sample(2.5)
    with pytest.raises(ValueError, match="shape"):
        f.transform(np.ones((2, 3)))
    assert repr(OTLCircuitFunction("normal")) == (
        "OTLCircuitFunction(distribution='normal')"
    )
