"""WarpedGaussianProcessRegressor: leave-one-out closed form, warp choice, errors."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sklearn.base import clone
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_debias.gaussian_process import WarpedGaussianProcessRegressor
from sklearn_debias.gaussian_process._warped import _leave_one_out


def _gp(normalize_y=True, optimizer="fmin_l_bfgs_b"):
    kernel = ConstantKernel(1.0) * RBF([0.5, 0.5]) + WhiteKernel(1e-3)
    return GaussianProcessRegressor(
        kernel, normalize_y=normalize_y, optimizer=optimizer, random_state=0
    )


def _peaks(X):
    # Positive, a product of exponential decays: additive in the log.
    return np.exp(-4 * np.abs(X[:, 0] - 0.3) - 3 * np.abs(X[:, 1] - 0.6))


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.uniform(size=(40, 2)), rng.uniform(size=(500, 2))


def fit_quiet(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X, y)


@pytest.mark.parametrize("normalize_y", [True, False])
def test_leave_one_out_closed_form_equals_refits(data, normalize_y):
    X, _ = data
    y = np.sin(4 * X[:, 0]) + X[:, 1] ** 2
    z = (y - y.mean()) / y.std() * (1.0 if normalize_y else 2.5)
    gp = fit_quiet(_gp(normalize_y), X, z)
    loo = _leave_one_out(gp, z)
    # Refit without point i, hyperparameters fixed at the full-data optimum.
    fixed = GaussianProcessRegressor(gp.kernel_, normalize_y=False, optimizer=None)
    for i in range(len(z)):
        keep = np.arange(len(z)) != i
        # With normalize_y, sklearn fitted alpha_ to z standardised over all
        # the points; the closed form is in the units of z either way.
        mean, std = (z.mean(), z.std()) if normalize_y else (0.0, 1.0)
        ref = fixed.fit(X[keep], (z[keep] - mean) / std).predict(X[[i]])[0]
        assert_allclose(loo[i], mean + std * ref, rtol=1e-6, atol=1e-8)


def test_auto_chooses_log_for_multiplicative_structure(data):
    X, X_test = data
    model = fit_quiet(WarpedGaussianProcessRegressor(_gp()), X, _peaks(X))
    assert model.warp_ == "log"
    assert set(model.loo_errors_) == {"identity", "log"}
    assert model.loo_errors_["log"] < model.loo_errors_["identity"]
    # The choice is the better predictor out of sample too.
    errors = {}
    for warp in ("identity", "log"):
        fitted = fit_quiet(
            WarpedGaussianProcessRegressor(_gp(), warp=warp), X, _peaks(X)
        )
        errors[warp] = np.sqrt(np.mean((fitted.predict(X_test) - _peaks(X_test)) ** 2))
    assert errors["log"] < 0.5 * errors["identity"]
    assert_allclose(
        model.predict(X_test),
        fit_quiet(
            WarpedGaussianProcessRegressor(_gp(), warp="log"), X, _peaks(X)
        ).predict(X_test),
    )


def test_auto_keeps_identity_where_the_log_hurts(data):
    # Positive but with a log singularity near x = 0: smooth in y, not in log y.
    X, X_test = data

    def f(X):
        return X[:, 0] + 1e-4 + 0.3 * X[:, 1]

    model = fit_quiet(WarpedGaussianProcessRegressor(_gp()), X, f(X))
    assert model.warp_ == "identity"
    assert model.loo_errors_["identity"] < model.loo_errors_["log"]


def test_non_positive_targets_use_identity_only(data):
    X, _ = data
    y = np.sin(6 * X[:, 0])
    model = fit_quiet(WarpedGaussianProcessRegressor(_gp()), X, y)
    assert model.warp_ == "identity" and list(model.loo_errors_) == ["identity"]
    with pytest.raises(ValueError, match="warp='log' needs positive targets"):
        WarpedGaussianProcessRegressor(_gp(), warp="log").fit(X, y)


def test_identity_warp_is_sklearns_gaussian_process(data):
    # Standardising y is what normalize_y does: the same model.
    X, X_test = data
    y = np.sin(4 * X[:, 0]) + X[:, 1]
    ours = fit_quiet(
        WarpedGaussianProcessRegressor(_gp(normalize_y=False), warp="identity"), X, y
    )
    theirs = fit_quiet(_gp(normalize_y=True), X, y)
    mean, std = ours.predict(X_test, return_std=True)
    ref_mean, ref_std = theirs.predict(X_test, return_std=True)
    assert_allclose(mean, ref_mean, rtol=1e-5, atol=1e-7)
    assert_allclose(std, ref_std, rtol=1e-5, atol=1e-7)
    assert_allclose(ours.predict(X_test), mean)


def test_log_warp_predicts_the_log_normal_mean(data):
    X, X_test = data
    y = _peaks(X)
    model = fit_quiet(WarpedGaussianProcessRegressor(_gp(), warp="log"), X, y)
    logs = fit_quiet(_gp(), X, np.log(y))
    mu, sd = logs.predict(X_test, return_std=True)
    mean, std = model.predict(X_test, return_std=True)
    assert_allclose(mean, np.exp(mu + sd**2 / 2), rtol=1e-5)
    assert_allclose(std, mean * np.sqrt(np.expm1(sd**2)), rtol=1e-5)
    assert np.all(mean > 0)


def test_pipeline_and_default_gaussian_process(data):
    X, X_test = data
    pipe = make_pipeline(StandardScaler(), _gp())
    model = fit_quiet(WarpedGaussianProcessRegressor(pipe), X, _peaks(X))
    assert model.warp_ == "log"
    assert model.gaussian_process_ is not pipe  # cloned, the user's object unfitted
    assert not hasattr(pipe[-1], "alpha_")
    default = fit_quiet(WarpedGaussianProcessRegressor(random_state=0), X, _peaks(X))
    kernel = repr(default.gaussian_process_[-1].kernel_)
    assert "RBF" in kernel and "TensorProductMatern" in kernel
    error = default.predict(X_test) - _peaks(X_test)
    assert np.sqrt(np.mean(error**2)) < 0.1 * np.std(_peaks(X_test))
    # Clones refit to the same model.
    again = fit_quiet(clone(default), X, _peaks(X))
    assert_allclose(again.predict(X_test), default.predict(X_test))


def test_bad_parameters(data):
    X, _ = data
    y = _peaks(X)
    with pytest.raises(ValueError, match="'warp' parameter"):
        WarpedGaussianProcessRegressor(_gp(), warp="sqrt").fit(X, y)
    with pytest.raises(ValueError, match="'gaussian_process' parameter"):
        WarpedGaussianProcessRegressor(Ridge()).fit(X, y)
    with pytest.raises(TypeError, match="GaussianProcessRegressor or a Pipeline"):
        WarpedGaussianProcessRegressor(make_pipeline(StandardScaler(), Ridge())).fit(
            X, y
        )
    with pytest.raises(ValueError, match="NaN"):
        WarpedGaussianProcessRegressor(_gp()).fit(X, np.where(y > 0.5, np.nan, y))


# --- the default's Gaussian process: sklearn's model, computed faster -------------


def _default_and_sklearn(X, y):
    """The default's fitted Gaussian process and sklearn's, same kernel, unfitted."""
    from sklearn_debias.gaussian_process._warped import default_gaussian_process

    ours = fit_quiet(default_gaussian_process(X.shape[1], random_state=0)[-1], X, y)
    theirs = GaussianProcessRegressor(ours.kernel_, normalize_y=True, optimizer=None)
    return ours, fit_quiet(theirs, X, y)


@pytest.mark.parametrize("two_targets", [False, True])
def test_likelihood_and_gradient_equal_sklearns(data, two_targets):
    X, _ = data
    y = _peaks(X)
    if two_targets:
        y = np.column_stack([y, np.sin(5 * X[:, 0])])
    ours, theirs = _default_and_sklearn(X, y)
    rng = np.random.default_rng(1)
    bounds = ours.kernel_.bounds
    for _ in range(3):
        theta = rng.uniform(bounds[:, 0], bounds[:, 1] * 0.3)
        lml, grad = ours.log_marginal_likelihood(theta, eval_gradient=True)
        lml_ref, grad_ref = theirs.log_marginal_likelihood(theta, eval_gradient=True)
        assert_allclose(lml, lml_ref, rtol=1e-10)
        assert_allclose(grad, grad_ref, rtol=1e-7, atol=1e-7 * np.abs(grad_ref).max())
    # Without the gradient it is sklearn's own computation.
    assert ours.log_marginal_likelihood(theta) == pytest.approx(lml_ref, rel=1e-10)


def test_likelihood_gradient_matches_finite_differences(data):
    X, _ = data
    ours, _ = _default_and_sklearn(X, _peaks(X))
    theta = ours.kernel_.theta
    _, grad = ours.log_marginal_likelihood(theta, eval_gradient=True)
    eps = 1e-6
    for j in range(len(theta)):
        step = np.zeros_like(theta)
        step[j] = eps
        numeric = (
            ours.log_marginal_likelihood(theta + step)
            - ours.log_marginal_likelihood(theta - step)
        ) / (2 * eps)
        assert numeric == pytest.approx(grad[j], rel=1e-4, abs=1e-4)


def test_non_positive_definite_kernel_gives_minus_infinity(data):
    X, _ = data
    ours, _ = _default_and_sklearn(X, _peaks(X))
    ours.alpha = -10.0  # K - 10 I is indefinite
    lml, grad = ours.log_marginal_likelihood(ours.kernel_.theta, eval_gradient=True)
    assert lml == -np.inf and np.all(grad == 0)


@pytest.mark.parametrize("return_std", [False, True])
def test_blocked_predictions_equal_sklearns(monkeypatch, data, return_std):
    from sklearn_debias.gaussian_process import _kernels

    monkeypatch.setattr(_kernels, "_CROSS_BLOCK_ELEMENTS", 7 * 40)  # 7 rows a block
    X, X_test = data
    ours, theirs = _default_and_sklearn(X, _peaks(X))
    got = ours.predict(X_test, return_std=return_std)
    expected = theirs.predict(X_test, return_std=return_std)
    assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
    # The covariance is sklearn's own computation.
    assert_allclose(
        ours.predict(X_test[:5], return_cov=True)[1],
        theirs.predict(X_test[:5], return_cov=True)[1],
    )


def test_threaded_predictions_equal_one_thread(data):
    # 40 labels x 60 000 queries is above utils.prediction_threads' bar: the
    # blocks run on several threads, each writing its own rows.
    X, _ = data
    ours, _ = _default_and_sklearn(X, _peaks(X))
    Z = np.random.default_rng(5).uniform(size=(60_000, 2))
    mean, std = ours.predict(Z, return_std=True)
    parts = [
        ours.predict(Z[i : i + 5000], return_std=True) for i in range(0, 60_000, 5000)
    ]
    assert_allclose(mean, np.concatenate([p[0] for p in parts]), rtol=0, atol=0)
    assert_allclose(std, np.concatenate([p[1] for p in parts]), rtol=0, atol=0)


def test_one_blas_thread_during_fit_then_restored(monkeypatch, data):
    from threadpoolctl import threadpool_info

    from sklearn_debias.gaussian_process import _warped

    before = [lib["num_threads"] for lib in threadpool_info()]
    seen = []
    original = _warped._GaussianProcess.log_marginal_likelihood

    def spy(self, *args, **kwargs):
        seen.append(
            max(
                lib["num_threads"]
                for lib in threadpool_info()
                if lib["user_api"] == "blas"
            )
        )
        return original(self, *args, **kwargs)

    monkeypatch.setattr(_warped._GaussianProcess, "log_marginal_likelihood", spy)
    X, _ = data
    _default_and_sklearn(X, _peaks(X))
    assert seen and set(seen) == {1}
    assert [lib["num_threads"] for lib in threadpool_info()] == before
