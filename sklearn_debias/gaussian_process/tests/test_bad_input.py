"""WarpedGaussianProcessRegressor on extreme and invalid targets."""

import warnings

import numpy as np
import pytest
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

from sklearn_debias.gaussian_process import WarpedGaussianProcessRegressor, _warped


def _gp():
    # A fixed kernel: the fit does not depend on the optimiser's path.
    kernel = ConstantKernel(1.0) * RBF([0.5, 0.5]) + WhiteKernel(1e-6)
    return GaussianProcessRegressor(kernel, optimizer=None)


def _f(X):
    return np.exp(X.sum(axis=1))


def _fit(y_scale, warp="auto"):
    rng = np.random.default_rng(0)
    X, Xq = rng.uniform(size=(30, 2)), rng.uniform(size=(5, 2))
    reg = WarpedGaussianProcessRegressor(_gp(), warp=warp)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no overflow inside
        reg.fit(X, y_scale * _f(X))
        mean, std = reg.predict(Xq, return_std=True)
    return reg, mean, std, y_scale * _f(Xq)


@pytest.mark.parametrize("y_scale", [1e155, 1e200, 1e300, -1e200, 1e-200, 1e-300])
@pytest.mark.parametrize("warp", ["auto", "identity"])
def test_extreme_magnitudes_give_the_scaled_answer(y_scale, warp):
    # |y| > 1e154 used to overflow np.std: NaN leave-one-out errors, NaN
    # predictions. The answer must be y_scale times the answer at scale 1.
    # Negative targets leave only the identity warp.
    reg1, mean1, std1, _ = _fit(1.0, warp if y_scale > 0 else "identity")
    reg, mean, std, truth = _fit(y_scale, warp)
    assert np.all(np.isfinite(mean)) and np.all(np.isfinite(std))
    assert reg.warp_ == reg1.warp_
    if reg.warp_ == "identity":
        np.testing.assert_allclose(mean / y_scale, mean1, rtol=1e-9)
        np.testing.assert_allclose(std / abs(y_scale), std1, rtol=1e-6)
    np.testing.assert_allclose(mean / truth, 1.0, rtol=5e-2)
    errors = np.array(list(reg.loo_errors_.values())) / abs(y_scale)
    errors1 = np.array(list(reg1.loo_errors_.values()))
    np.testing.assert_allclose(errors, errors1, rtol=1e-6)


def test_ordinary_targets_are_bit_identical_to_unscaled_moments():
    w = np.random.default_rng(1).normal(3.0, 2.0, size=50)
    center, scale, z = _warped._standardise(w)
    assert center == np.mean(w) and scale == np.std(w)
    np.testing.assert_array_equal(z, (w - np.mean(w)) / np.std(w))


def test_constant_target():
    X = np.random.default_rng(0).uniform(size=(10, 2))
    reg = WarpedGaussianProcessRegressor(_gp()).fit(X, np.full(10, 1e200))
    np.testing.assert_allclose(reg.predict(X[:3]), 1e200, rtol=1e-12)


def test_every_warp_overflowing_is_an_error(monkeypatch):
    monkeypatch.setattr(
        _warped, "_leave_one_out", lambda gp, z: np.full_like(z, np.inf)
    )
    X = np.random.default_rng(0).uniform(size=(10, 2))
    with pytest.raises(ValueError, match="leave-one-out predictions of every warp"):
        WarpedGaussianProcessRegressor(_gp()).fit(X, _f(X))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_targets_are_rejected(bad):
    X = np.random.default_rng(0).uniform(size=(10, 2))
    y = _f(X)
    y[4] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        WarpedGaussianProcessRegressor(_gp()).fit(X, y)


def test_log_warp_needs_positive_targets():
    X = np.random.default_rng(0).uniform(size=(10, 2))
    y = _f(X)
    y[0] = 0.0
    with pytest.raises(ValueError, match="warp='log' needs positive targets"):
        WarpedGaussianProcessRegressor(_gp(), warp="log").fit(X, y)
