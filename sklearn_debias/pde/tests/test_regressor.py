import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import config_context
from sklearn.base import clone
from sklearn.dummy import DummyRegressor
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.exceptions import UnsetMetadataPassedError
from sklearn.frozen import FrozenEstimator
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import get_tags

from sklearn_debias import SurrogateError
from sklearn_debias.pde import (
    Ball,
    Box,
    PoissonEquation,
    SemilinearParabolicPDE,
    SimulationCalibratedRegressor,
    linear_convection_diffusion,
    viscous_burgers,
)
from sklearn_debias.pde._testing import FunctionRegressor


# --- problems with a synthetic surrogate u + δφ (a fixed smooth error) -------
def _poisson(d=5):
    def exact(X):
        return (X**2).sum(axis=1) + np.exp(X[:, 0]) * np.cos(X[:, 1])

    return PoissonEquation(lambda X: np.full(len(X), 2.0 * d), exact, Ball(d), exact)


def _phi_poisson(X):
    return np.sin(np.pi * X[:, 0]) * np.cos(X[:, 1]) + X[:, 1] * X[:, -1] + 0.5


def _phi_parabolic(X):
    d = X.shape[1] - 1
    return np.sin(X[:, 1:].sum(axis=1) / np.sqrt(d) + X[:, 0]) + 0.5 * np.cos(
        2 * X[:, 1]
    )


def _perturbed(pde, phi, delta):
    return FunctionRegressor(lambda X: pde.exact_solution(X) + delta * phi(X))


def _errors(pde, phi, delta, Xq, **params):
    """RMS error of the surrogate and of the debiased prediction."""
    reg = SimulationCalibratedRegressor(_perturbed(pde, phi, delta), pde, **params)
    reg.fit(Xq, pde.exact_solution(Xq))
    exact = pde.exact_solution(Xq)
    rms = lambda v: np.sqrt(np.mean((v - exact) ** 2))  # noqa: E731
    return rms(reg.estimator_.predict(Xq)), rms(reg.predict(Xq))


def test_poisson_ball_5d_debiasing_target_and_product_law():
    pde = _poisson(5)
    Xq = pde.sample(12, random_state=0)
    params = dict(n_paths=1000, random_state=0)
    sur, deb = _errors(pde, _phi_poisson, 0.1, Xq, **params)
    assert deb <= 0.1 * sur, (deb, sur)
    sur_half, deb_half = _errors(pde, _phi_poisson, 0.05, Xq, **params)
    assert sur_half == pytest.approx(sur / 2)
    assert 0.4 < deb_half / deb < 0.6


def test_burgers_20d_debiasing_target_and_product_law():
    pde = viscous_burgers(20)
    Xq = pde.sample(40, random_state=0)
    params = dict(method="mlp", levels=2, n_paths=10, random_state=0)
    sur, deb = _errors(pde, _phi_parabolic, 0.02, Xq, **params)
    assert deb <= 0.6 * sur, (deb, sur)
    sur_half, deb_half = _errors(pde, _phi_parabolic, 0.01, Xq, **params)
    assert 0.4 < deb_half / deb < 0.6


def test_perfect_surrogate_gets_no_correction():
    pde = viscous_burgers(4)
    Xq = pde.sample(5, random_state=0)
    reg = SimulationCalibratedRegressor(
        FunctionRegressor(pde.exact_solution), pde, random_state=0
    ).fit(Xq, pde.exact_solution(Xq))
    y, std = reg.predict(Xq, return_std=True)
    np.testing.assert_allclose(y, pde.exact_solution(Xq), atol=1e-8)
    np.testing.assert_allclose(std, 0.0, atol=1e-8)


def _seed_study(reg, Xq, n_seeds):
    runs = [
        reg.set_params(random_state=s).predict(Xq, return_std=True)
        for s in range(n_seeds)
    ]
    preds = np.array([r[0] for r in runs])
    stds = np.array([r[1] for r in runs])
    return preds.mean(axis=0), preds.std(axis=0, ddof=1), stds.mean(axis=0)


@pytest.mark.parametrize("delta", [0.0, 0.3])
def test_walk_on_spheres_unbiased_over_seeds(delta):
    # delta = 0 with a zero surrogate: plain walk-on-spheres on u itself.
    pde = _poisson(3)
    Xq = pde.sample(4, random_state=1)
    est = (
        FunctionRegressor(lambda X: np.zeros(len(X)))
        if delta == 0
        else _perturbed(pde, _phi_poisson, delta)
    )
    reg = SimulationCalibratedRegressor(est, pde, n_paths=100).fit(Xq, np.zeros(4))
    mean, spread, reported = _seed_study(reg, Xq, 40)
    se = spread / np.sqrt(40)
    assert np.all(np.abs(mean - pde.exact_solution(Xq)) < 3 * se + 1e-12)
    # The reported standard error matches the spread over seeds.
    assert np.all((0.6 < reported / spread) & (reported / spread < 1.6))


def test_feynman_kac_linear_pde_unbiased_over_seeds():
    pde = linear_convection_diffusion(10)
    Xq = pde.sample(4, random_state=1)
    reg = SimulationCalibratedRegressor(
        _perturbed(pde, _phi_parabolic, 0.2), pde, n_paths=100
    ).fit(Xq, np.zeros(4))
    assert reg.method_ == "feynman_kac"
    mean, spread, reported = _seed_study(reg, Xq, 40)
    se = spread / np.sqrt(40)
    assert np.all(np.abs(mean - pde.exact_solution(Xq)) < 3 * se)
    assert np.all((0.6 < reported / spread) & (reported / spread < 1.6))


def test_mlp_standard_error_is_calibrated():
    pde = viscous_burgers(10)
    Xq = pde.sample(5, random_state=1)
    reg = SimulationCalibratedRegressor(
        _perturbed(pde, _phi_parabolic, 0.1), pde, levels=2, n_paths=10
    ).fit(Xq, np.zeros(5))
    mean, spread, reported = _seed_study(reg, Xq, 40)
    assert np.all((0.6 < reported / spread) & (reported / spread < 1.6))
    # level-2 Picard bias on the defect is far below the surrogate's error
    assert np.all(np.abs(mean - pde.exact_solution(Xq)) < 5 * spread / np.sqrt(40))


@pytest.mark.slow
def test_mlp_burgers_bias_over_seeds():
    pde = viscous_burgers(10)
    Xq = pde.sample(4, random_state=1)
    reg = SimulationCalibratedRegressor(
        _perturbed(pde, _phi_parabolic, 0.1), pde, levels=3, n_paths=5
    ).fit(Xq, np.zeros(4))
    mean, spread, _ = _seed_study(reg, Xq, 200)
    se = spread / np.sqrt(200)
    assert np.all(np.abs(mean - pde.exact_solution(Xq)) < 3 * se)


# --- the estimator's API ------------------------------------------------------
def test_pde_none_returns_surrogate_with_warning():
    X = np.random.default_rng(0).normal(size=(30, 3))
    y = X.sum(axis=1)
    reg = SimulationCalibratedRegressor(Ridge()).fit(X, y)
    with pytest.warns(UserWarning, match="pde=None"):
        pred, std = reg.predict(X, return_std=True)
    np.testing.assert_allclose(pred, Ridge().fit(X, y).predict(X))
    np.testing.assert_array_equal(std, 0.0)
    assert reg.method_ is None


def test_prefit_surrogate_through_frozen_estimator():
    pde = _poisson(3)
    X = pde.sample(100, random_state=0)
    y = pde.exact_solution(X)
    kr = KernelRidge(kernel="rbf", alpha=1e-3).fit(X, y)
    dual = kr.dual_coef_.copy()
    reg = SimulationCalibratedRegressor(
        FrozenEstimator(kr), pde, n_paths=20, random_state=0
    )
    reg.fit(X[:5], np.zeros(5))  # data ignored by the frozen surrogate
    np.testing.assert_array_equal(reg.estimator_.estimator.dual_coef_, dual)
    assert reg.estimator_.estimator is kr
    assert reg.predict(X[:3]).shape == (3,)


def test_grid_search_over_surrogate_parameters():
    pde = _poisson(3)
    X = pde.sample(60, random_state=0)
    y = pde.exact_solution(X)
    reg = SimulationCalibratedRegressor(
        KernelRidge(kernel="rbf"), pde, n_paths=10, random_state=0
    )
    search = GridSearchCV(reg, {"estimator__alpha": [1e-3, 10.0]}, cv=2).fit(X, y)
    assert search.best_params_ == {"estimator__alpha": 1e-3}


def test_reproducible_and_independent_of_n_jobs():
    pde = viscous_burgers(3)
    Xq = pde.sample(50, random_state=0)  # 1000 paths per point: 2 chunks
    # (a surrogate from an importable module: workers unpickle it by reference)
    est = KernelRidge(kernel="rbf", alpha=1e-2)
    reg = SimulationCalibratedRegressor(
        est, pde, n_paths=1000, levels=1, random_state=3
    )
    reg.fit(Xq, pde.exact_solution(Xq))
    a = reg.predict(Xq)
    np.testing.assert_array_equal(a, reg.predict(Xq))
    np.testing.assert_array_equal(a, reg.set_params(n_jobs=2).predict(Xq))
    assert not np.array_equal(a, reg.set_params(random_state=4).predict(Xq))


def test_clip_limits_the_correction():
    pde = _poisson(3)
    Xq = pde.sample(5, random_state=0)
    est = _perturbed(pde, _phi_poisson, 1.0)
    reg = SimulationCalibratedRegressor(est, pde, n_paths=50, clip=0.01, random_state=0)
    reg.fit(Xq, np.zeros(5))
    surrogate = reg.estimator_.predict(Xq)
    assert np.all(np.abs(reg.predict(Xq) - surrogate) <= 0.01 + 1e-15)


def test_single_path_gives_nan_std():
    pde = _poisson(2)
    Xq = pde.sample(3, random_state=0)
    reg = SimulationCalibratedRegressor(
        _perturbed(pde, _phi_poisson_2d, 0.1), pde, n_paths=1
    )
    _, std = reg.fit(Xq, np.zeros(3)).predict(Xq, return_std=True)
    assert np.all(np.isnan(std))


def _phi_poisson_2d(X):
    return np.sin(X[:, 0]) + X[:, 1] ** 2


# --- bad input ------------------------------------------------------------------
def test_points_outside_the_domain():
    pde = _poisson(2)
    reg = SimulationCalibratedRegressor(Ridge(), pde).fit(np.zeros((3, 2)), [0, 1, 2])
    with pytest.raises(ValueError, match="outside the domain"):
        reg.predict(np.array([[0.0, 0.0], [1.5, 0.0]]))
    burgers = viscous_burgers(2)
    reg = SimulationCalibratedRegressor(Ridge(), burgers).fit(
        np.zeros((3, 3)), [0, 1, 2]
    )
    with pytest.raises(ValueError, match="t > T"):
        reg.predict(np.array([[1.0, 0.0, 0.0]]))


def test_wrong_number_of_columns():
    with pytest.raises(ValueError, match="PDE expects 3"):
        SimulationCalibratedRegressor(Ridge(), viscous_burgers(2)).fit(
            np.zeros((3, 2)), [0, 1, 2]
        )
    with pytest.raises(ValueError, match="PDE expects 2"):
        SimulationCalibratedRegressor(Ridge(), _poisson(2)).fit(
            np.zeros((3, 3)), [0, 1, 2]
        )


def test_callables_with_wrong_shapes():
    ball = Ball(2)
    pde = PoissonEquation(lambda X: np.ones((len(X), 2)), lambda X: X[:, 0], ball)
    reg = SimulationCalibratedRegressor(Ridge(), pde, n_paths=5).fit(
        np.zeros((3, 2)), [0, 1, 2]
    )
    with pytest.raises(ValueError, match="source must return an array of shape"):
        reg.predict(np.zeros((2, 2)))
    bad = SemilinearParabolicPDE(
        0.0, 1.0, lambda t, x, u, z: 0.0, lambda x: x[:, 0], 1.0
    )
    reg = SimulationCalibratedRegressor(Ridge(), bad, n_paths=3).fit(
        np.zeros((3, 3)), [0, 1, 2]
    )
    with pytest.raises(ValueError, match="nonlinearity must return"):
        reg.predict(np.zeros((2, 3)))
    bad = SemilinearParabolicPDE(0.0, 1.0, None, lambda x: x, 1.0)
    reg = SimulationCalibratedRegressor(Ridge(), bad, n_paths=3).fit(
        np.zeros((3, 3)), [0, 1, 2]
    )
    with pytest.raises(ValueError, match="terminal must return"):
        reg.predict(np.zeros((2, 3)))


def test_non_finite_surrogate_output():
    pde = _poisson(2)
    est = FunctionRegressor(lambda X: np.where(X[:, 0] > 0, np.inf, 0.0))
    reg = SimulationCalibratedRegressor(est, pde, n_paths=5).fit(
        np.zeros((3, 2)), [0, 1, 2]
    )
    with pytest.raises(SurrogateError, match="non-finite"):
        reg.predict(np.array([[0.5, 0.0]]))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"method": "mlp"}, "does not apply to a PoissonEquation"),
        ({"method": "nope"}, "'method' parameter"),
        ({"n_paths": 0}, "n_paths"),
        ({"levels": 0}, "levels"),
        ({"epsilon": 2.0}, "epsilon"),
        ({"clip": -1.0}, "clip"),
        ({"derivatives": "exact"}, "'derivatives' parameter"),
        ({"pde": "poisson"}, "'pde' parameter"),
    ],
)
def test_bad_parameters(params, match):
    reg = SimulationCalibratedRegressor(Ridge(), _poisson(2)).set_params(**params)
    with pytest.raises(ValueError, match=match):
        reg.fit(np.zeros((3, 2)), [0, 1, 2])


def test_method_pde_mismatch_for_parabolic():
    for method, match in [
        ("walk_on_spheres", "solves a PoissonEquation"),
        ("feynman_kac", "exact only for a linear PDE"),
    ]:
        reg = SimulationCalibratedRegressor(Ridge(), viscous_burgers(2), method=method)
        with pytest.raises(ValueError, match=match):
            reg.fit(np.zeros((3, 3)), [0, 1, 2])


def test_tree_surrogate_warns_at_predict():
    from sklearn.tree import DecisionTreeRegressor

    pde = _poisson(2)
    X = pde.sample(30, random_state=0)
    reg = SimulationCalibratedRegressor(DecisionTreeRegressor(), pde, n_paths=5)
    reg.fit(X, pde.exact_solution(X))
    with pytest.warns(UserWarning, match="piecewise constant"):
        reg.predict(X[:2])


def test_box_domain_end_to_end():
    def exact(X):
        return np.exp(X[:, 0]) * np.cos(X[:, 1]) + X[:, 2] ** 2

    pde = PoissonEquation(
        lambda X: np.full(len(X), 2.0), exact, Box([0, 0, 0], [1, 1, 1]), exact
    )
    Xq = pde.sample(5, random_state=0)
    est = FunctionRegressor(lambda X: exact(X) + 0.1 * np.sin(3 * X[:, 0]))
    reg = SimulationCalibratedRegressor(est, pde, n_paths=400, random_state=0).fit(
        Xq, exact(Xq)
    )
    y, std = reg.predict(Xq, return_std=True)
    assert np.all(np.abs(y - exact(Xq)) < 4 * std)


def test_torch_surrogate_end_to_end():
    pytest.importorskip("torch")
    pytest.importorskip("skorch")
    from sklearn_debias.neural import MLPSurrogate

    pde = viscous_burgers(3)
    X = pde.sample(300, random_state=0)
    y = pde.exact_solution(X)
    net = MLPSurrogate(
        hidden_layer_sizes=(16,),
        optimizer="lbfgs",
        lr=1.0,
        max_epochs=3,
        batch_size=300,
        random_state=0,
    )
    reg = SimulationCalibratedRegressor(net, pde, n_paths=10, random_state=0)
    reg.fit(X, y)
    Xq = pde.sample(30, random_state=1)
    exact = pde.exact_solution(Xq)
    sur = np.linalg.norm(reg.estimator_.predict(Xq) - exact)
    deb = np.linalg.norm(reg.predict(Xq) - exact)
    assert deb < 0.6 * sur, (deb, sur)


def test_randomized_laplacian_poisson_high_dimension():
    pde = _poisson(12)
    Xq = pde.sample(6, random_state=0)
    est = _perturbed(pde, _phi_poisson, 0.1)
    reg = SimulationCalibratedRegressor(
        est, pde, n_paths=400, derivatives="randomized", random_state=0
    ).fit(Xq, np.zeros(6))
    y, std = reg.predict(Xq, return_std=True)
    exact = pde.exact_solution(Xq)
    assert np.all(np.abs(y - exact) < 4 * std)
    sur = np.sqrt(np.mean((reg.estimator_.predict(Xq) - exact) ** 2))
    assert np.sqrt(np.mean((y - exact) ** 2)) < 0.1 * sur


# --- metadata routing and tags --------------------------------------------------
def _weighted_data():
    pde = _poisson(3)
    X = pde.sample(50, random_state=0)
    w = np.random.default_rng(0).uniform(0.5, 2, 50)
    return pde, X, pde.exact_solution(X), w


def test_routed_sample_weight_reaches_the_surrogate():
    pde, X, y, w = _weighted_data()
    expected = Ridge().fit(X, y, sample_weight=w)
    with config_context(enable_metadata_routing=True):
        inner = Ridge().set_fit_request(sample_weight=True)
        reg = SimulationCalibratedRegressor(inner, pde).fit(X, y, sample_weight=w)
        assert not hasattr(inner, "coef_")  # a clone is fitted
        np.testing.assert_allclose(reg.estimator_.coef_, expected.coef_)
        # Through a pipeline: each step says what it wants.
        pipe = make_pipeline(
            StandardScaler().set_fit_request(sample_weight=False),
            Ridge().set_fit_request(sample_weight=True),
        )
        reg = SimulationCalibratedRegressor(pipe, pde).fit(X, y, sample_weight=w)
    expected = make_pipeline(StandardScaler(), Ridge()).fit(
        X, y, ridge__sample_weight=w
    )
    np.testing.assert_allclose(reg.estimator_[-1].coef_, expected[-1].coef_)


def test_routing_default_surrogate_requests_sample_weight():
    pde, X, y, w = _weighted_data()
    with config_context(enable_metadata_routing=True):
        reg = SimulationCalibratedRegressor(pde=pde).fit(X, y, sample_weight=w)
    expected = KernelRidge(kernel="rbf", alpha=1e-3).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(reg.estimator_.dual_coef_, expected.dual_coef_)


def test_unrequested_metadata_raises_sklearns_error():
    pde, X, y, w = _weighted_data()
    with config_context(enable_metadata_routing=True):
        reg = SimulationCalibratedRegressor(Ridge(), pde)
        with pytest.raises(UnsetMetadataPassedError, match="sample_weight"):
            reg.fit(X, y, sample_weight=w)
        with pytest.raises(TypeError, match="not routed to any object"):
            reg.fit(X, y, groups=np.zeros(len(y)))
        routing = reg.get_metadata_routing()
    assert "estimator" in str(routing)


def test_without_routing_fit_params_go_to_the_surrogate():
    pde, X, y, w = _weighted_data()
    reg = SimulationCalibratedRegressor(Ridge(), pde).fit(X, y, sample_weight=w)
    expected = Ridge().fit(X, y, sample_weight=w)
    np.testing.assert_allclose(reg.estimator_.coef_, expected.coef_)
    pipe = make_pipeline(StandardScaler(), Ridge())
    reg = SimulationCalibratedRegressor(pipe, pde).fit(X, y, ridge__sample_weight=w)
    expected = clone(pipe).fit(X, y, ridge__sample_weight=w)
    np.testing.assert_allclose(reg.estimator_[-1].coef_, expected[-1].coef_)
    # A frozen surrogate takes (and ignores) any fit parameter.
    frozen = FrozenEstimator(Ridge().fit(X, y))
    SimulationCalibratedRegressor(frozen, pde).fit(X, y, sample_weight=w)


def test_without_routing_clear_errors_for_sample_weight():
    pde, X, y, w = _weighted_data()
    pipe = make_pipeline(StandardScaler(), Ridge())
    reg = SimulationCalibratedRegressor(pipe, pde)
    with pytest.raises(ValueError, match="enable_metadata_routing.*set_fit_request"):
        reg.fit(X, y, sample_weight=w)
    reg = SimulationCalibratedRegressor(KNeighborsRegressor(), pde)
    with pytest.raises(
        ValueError, match="KNeighborsRegressor.*does not take sample_weight"
    ):
        reg.fit(X, y, sample_weight=w)


def test_tags_of_the_surrogate_are_forwarded():
    hgb = HistGradientBoostingRegressor(max_iter=5)
    tags = get_tags(SimulationCalibratedRegressor(hgb))
    assert tags.input_tags.allow_nan and not tags.input_tags.sparse
    # NaN points cannot be simulated.
    assert not get_tags(
        SimulationCalibratedRegressor(hgb, _poisson(2))
    ).input_tags.allow_nan
    tags = get_tags(SimulationCalibratedRegressor(Ridge()))
    assert tags.input_tags.sparse and not tags.input_tags.allow_nan
    assert get_tags(SimulationCalibratedRegressor()).input_tags.sparse  # KernelRidge
    dummy = get_tags(SimulationCalibratedRegressor(DummyRegressor()))
    assert dummy.regressor_tags.poor_score
    assert not tags.regressor_tags.poor_score
    assert not tags.target_tags.multi_output and tags.target_tags.single_output
    assert get_tags(SimulationCalibratedRegressor(pde=_poisson(2))).non_deterministic
    reg = SimulationCalibratedRegressor(pde=_poisson(2), random_state=0)
    assert not get_tags(reg).non_deterministic


def test_sparse_and_nan_inputs_reach_the_surrogate():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 2))
    y = X.sum(axis=1)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pde=None")
        reg = SimulationCalibratedRegressor(Ridge()).fit(sp.csr_matrix(X), y)
        np.testing.assert_allclose(
            reg.predict(sp.csr_matrix(X)), Ridge().fit(X, y).predict(X)
        )
        X[::5, 0] = np.nan
        hgb = HistGradientBoostingRegressor(max_iter=5, random_state=0)
        reg = SimulationCalibratedRegressor(hgb).fit(X, y)
        np.testing.assert_allclose(reg.predict(X), clone(hgb).fit(X, y).predict(X))
    pde = _poisson(2)
    Xq = pde.sample(4, random_state=0)
    reg = SimulationCalibratedRegressor(Ridge(), pde, n_paths=20, random_state=0)
    reg.fit(sp.csr_matrix(Xq), pde.exact_solution(Xq))
    np.testing.assert_array_equal(reg.predict(sp.csr_matrix(Xq)), reg.predict(Xq))


# --- random streams -----------------------------------------------------------
def test_predict_ignores_numpys_global_random_state():
    pde = viscous_burgers(3)
    Xq = pde.sample(6, random_state=0)
    est = _perturbed(pde, _phi_parabolic, 0.1)
    reg = SimulationCalibratedRegressor(est, pde, n_paths=5, random_state=7)
    reg.fit(Xq, np.zeros(6))
    np.random.seed(0)  # noqa: NPY002
    a = reg.predict(Xq)
    np.random.seed(1)  # noqa: NPY002
    np.testing.assert_array_equal(a, reg.predict(Xq))
    np.testing.assert_array_equal(a, reg.set_params(n_jobs=2).predict(Xq))
    # random_state=None: fresh entropy, not numpy's global stream.
    reg.set_params(random_state=None, n_jobs=None)
    np.random.seed(0)  # noqa: NPY002
    b = reg.predict(Xq)
    np.random.seed(0)  # noqa: NPY002
    assert not np.array_equal(b, reg.predict(Xq))
