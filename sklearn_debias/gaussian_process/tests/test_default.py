"""The default surrogate beyond the exact Gaussian process's size."""

import pickle

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_debias.gaussian_process import default_surrogate
from sklearn_debias.gaussian_process._default import (
    GP_MAX_SAMPLES,
    SubsampledWarpedGaussianProcess,
)


def _product(X):
    return np.exp(np.sin(4 * X[:, 0]) - X[:, 1] ** 2) * (1.0 + 0.3 * X[:, 2])


def test_large_default_is_the_scalable_gaussian_process():
    small = default_surrogate("functional", n_samples=GP_MAX_SAMPLES)
    large = default_surrogate("functional", n_samples=GP_MAX_SAMPLES + 1)
    assert type(small).__name__ == "WarpedGaussianProcessRegressor"
    assert isinstance(large, SubsampledWarpedGaussianProcess)


def test_conditioning_on_all_labels_beats_the_subsample_and_boosting():
    rng = np.random.default_rng(0)
    X, X_test = rng.uniform(size=(600, 3)), rng.uniform(size=(2000, 3))
    y, y_test = _product(X), _product(X_test)
    gp = SubsampledWarpedGaussianProcess(n_subsample=40, random_state=0).fit(X, y)
    assert gp.warp_ == "log"
    assert gp.gaussian_process_.solver_ == "pcg"
    assert gp.gaussian_process_.X_train_.shape[0] == 600

    def rmse(model):
        return np.sqrt(np.mean((model.predict(X_test) - y_test) ** 2))

    hgb = HistGradientBoostingRegressor(random_state=0).fit(X, y)
    assert rmse(gp) < rmse(gp.subsample_model_)
    assert 10 * rmse(gp) < rmse(hgb)
    again = pickle.loads(pickle.dumps(gp))
    np.testing.assert_array_equal(again.predict(X_test[:9]), gp.predict(X_test[:9]))


def test_identity_warp_for_signed_targets():
    rng = np.random.default_rng(1)
    X = rng.uniform(size=(300, 2))
    y = np.sin(3 * X[:, 0]) - X[:, 1]
    gp = SubsampledWarpedGaussianProcess(n_subsample=30, random_state=0).fit(X, y)
    assert gp.warp_ == "identity"
    assert np.sqrt(np.mean((gp.predict(X) - y) ** 2)) < 1e-2


def test_bad_parameters():
    X = np.random.default_rng(0).uniform(size=(20, 2))
    with pytest.raises(ValueError, match="n_subsample"):
        SubsampledWarpedGaussianProcess(n_subsample=1).fit(X, X[:, 0])
    with pytest.raises(ValueError, match="alpha"):
        SubsampledWarpedGaussianProcess(alpha=0.0).fit(X, X[:, 0])


@parametrize_with_checks(
    [SubsampledWarpedGaussianProcess(n_subsample=10, random_state=0)]
)
def test_sklearn_checks(estimator, check):
    check(estimator)
