import numpy as np
import pytest

from sklearn_debias.pde import viscous_burgers
from sklearn_debias.pde._picard import multilevel_picard


def _run(X, drift, sigma, T, g, F, levels, n_paths, seed=0):
    return multilevel_picard(
        X[:, 0],
        X[:, 1:],
        drift=drift,
        sigma=sigma,
        T=T,
        terminal=g,
        generator=lambda t, x: lambda u, z: F(t, x, u, z),
        levels=levels,
        n_paths=n_paths,
        seed=np.random.SeedSequence(seed),
    )


def _points(n, d, T, seed=0):
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(0, T, n), rng.uniform(-1, 1, (n, d))])


def test_feynman_kac_value_and_gradient():
    # Heat equation with drift: u = |x + μ(T - t)|² + dσ²(T - t), σ∇u = 2σ(x + μτ).
    d, sigma, T = 3, 0.7, 1.0
    mu = np.array([0.3, -0.2, 0.1])
    X = _points(10, d, T)
    tau = T - X[:, 0]
    shifted = X[:, 1:] + mu * tau[:, None]
    exact = (shifted**2).sum(axis=1) + d * sigma**2 * tau

    def g(x):
        return (x**2).sum(axis=1)

    def F(t, x, u, z):
        return np.zeros(len(t))

    u, z, se = _run(X, mu, sigma, T, g, F, levels=1, n_paths=20_000)
    assert np.all(np.abs(u - exact) < 4 * se)
    # Gradient: repeat to get its spread, then a z-test on the mean.
    zs = np.stack([_run(X, mu, sigma, T, g, F, 1, 2000, seed=s)[1] for s in range(20)])
    z_mean, z_se = zs.mean(axis=0), zs.std(axis=0, ddof=1) / np.sqrt(len(zs))
    score = (z_mean - 2 * sigma * shifted) / z_se
    assert np.all(np.abs(score) < 4.5), score


def test_source_only_nonlinearity_is_exact_at_level_one():
    # u = sin(t) + Σx, μ = 0: ∂_t u + F = 0 gives F(t) = -cos(t).
    d, sigma, T = 4, 1.3, 1.0
    X = _points(8, d, T, seed=1)
    exact = np.sin(X[:, 0]) + X[:, 1:].sum(axis=1)
    u, _, se = _run(
        X,
        np.zeros(d),
        sigma,
        T,
        lambda x: np.sin(T) + x.sum(axis=1),
        lambda t, x, u, z: -np.cos(t),
        levels=1,
        n_paths=5000,
    )
    assert np.all(np.abs(u - exact) < 4 * se)


def test_gradient_dependent_linear_nonlinearity():
    # F = β Σ z_i shifts the drift by βσ: u = |x + βσ τ 1|² + dσ² τ.
    d, sigma, T, beta = 3, 1.0, 0.5, 0.4
    X = _points(10, d, T, seed=2)
    tau = T - X[:, 0]
    exact = ((X[:, 1:] + beta * sigma * tau[:, None]) ** 2).sum(axis=1)
    exact += d * sigma**2 * tau
    estimates = [
        _run(
            X,
            np.zeros(d),
            sigma,
            T,
            lambda x: (x**2).sum(axis=1),
            lambda t, x, u, z: beta * z.sum(axis=1),
            levels=4,
            n_paths=5,
            seed=s,
        )[0]
        for s in range(20)
    ]
    mean = np.mean(estimates, axis=0)
    se = np.std(estimates, axis=0, ddof=1) / np.sqrt(len(estimates))
    # Level-4 Picard truncation leaves a bias of order (βσ√d T)^4/4! ≈ 1e-3.
    assert np.all(np.abs(mean - exact) < 4 * se + 5e-3)


def test_mlp_error_decreases_with_level_on_burgers():
    pde = viscous_burgers(5)
    X = pde.sample(20, random_state=0)
    exact = pde.exact_solution(X)

    def error(levels, n_paths):
        u, _, _ = _run(
            X,
            pde.drift_vector(5),
            pde.sigma,
            pde.T,
            pde.evaluate_terminal,
            pde.evaluate_nonlinearity,
            levels,
            n_paths,
        )
        return np.linalg.norm(u - exact) / np.linalg.norm(exact)

    errors = [error(1, 5), error(2, 5), error(4, 5)]
    assert errors[2] < errors[1] < errors[0]
    assert errors[2] < 0.01


def test_terminal_time_points_return_terminal_value():
    X = np.array([[1.0, 0.3, 0.4], [0.5, 0.0, 0.0]])
    u, z, se = _run(
        X,
        np.zeros(2),
        1.0,
        1.0,
        lambda x: x.sum(axis=1),
        lambda t, x, u, z: np.zeros(len(t)),
        levels=2,
        n_paths=4,
    )
    assert u[0] == pytest.approx(0.7)
    assert se[0] == 0 and np.all(z[0] == 0)
    assert np.isfinite(u[1])


def test_seed_accepts_any_random_state():
    # An int seeds one SeedSequence; the result is that of SeedSequence(int).
    X = _points(3, 2, 1.0, seed=0)

    def g(x):
        return np.sin(x).sum(axis=1)

    def F(t, x):
        return lambda u, z: np.zeros(len(t))

    common = dict(
        drift=np.zeros(2), sigma=1.0, T=1.0, terminal=g, generator=F, levels=2
    )
    a = multilevel_picard(X[:, 0], X[:, 1:], n_paths=4, seed=7, **common)
    b = multilevel_picard(
        X[:, 0], X[:, 1:], n_paths=4, seed=np.random.SeedSequence(7), **common
    )
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
