"""Monte Carlo simulation of the defect equation ``u - û`` of a surrogate ``û``.

Each function simulates one chunk of query points from its own spawned
``SeedSequence``; :class:`~sklearn_debias.pde.SimulationCalibratedRegressor`
cuts the query points into chunks and runs them through joblib.
"""

from functools import partial

import numpy as np
from sklearn.utils.parallel import Parallel, delayed

from ..utils import checked_predict, progress, spawn_seeds
from ._derivatives import (
    _check_finite,
    _surrogate_predict,
    randomized_laplacian,
    surrogate_derivatives,
)
from ._domains import Ball
from ._equations import PoissonEquation
from ._picard import multilevel_picard
from ._walk_on_spheres import walk_on_spheres

__all__ = ["METHODS", "resolve_method", "simulate_defect"]

METHODS = ("auto", "walk_on_spheres", "feynman_kac", "mlp")
_DEFAULT_PATHS = {"walk_on_spheres": 1000, "feynman_kac": 1000, "mlp": 10}
# Random samples (walks or terminal paths) simulated per chunk of query points.
_SAMPLES_PER_CHUNK = 1 << 15


def resolve_method(pde, method):
    """The simulator for ``pde``: ``method``, or the default for ``"auto"``.

    Parameters
    ----------
    pde : PoissonEquation or SemilinearParabolicPDE
        The equation.
    method : {"auto", "walk_on_spheres", "feynman_kac", "mlp"}
        The requested simulator.

    Returns
    -------
    method : {"walk_on_spheres", "feynman_kac", "mlp"}

    Raises
    ------
    ValueError
        If ``method`` does not apply to ``pde``.
    """
    if isinstance(pde, PoissonEquation):
        if method not in ("auto", "walk_on_spheres"):
            raise ValueError(
                f"method={method!r} does not apply to a PoissonEquation; use "
                "'walk_on_spheres' (or 'auto')"
            )
        return "walk_on_spheres"
    if method == "walk_on_spheres":
        raise ValueError(
            "walk_on_spheres solves a PoissonEquation; for a "
            "SemilinearParabolicPDE use 'mlp' or 'feynman_kac'"
        )
    if method == "feynman_kac" and pde.nonlinearity is not None:
        raise ValueError(
            "method='feynman_kac' is exact only for a linear PDE "
            "(nonlinearity=None); use method='mlp'"
        )
    if method == "auto":
        return "feynman_kac" if pde.nonlinearity is None else "mlp"
    return method


def _walk_chunk(estimator, pde, X, derivatives, n_paths, epsilon, seed):
    domain = pde.domain
    all_columns = np.arange(X.shape[1])
    predict = _surrogate_predict(estimator, "the points of the walks")

    def boundary(Y):
        return pde.evaluate_boundary(Y) - checked_predict(
            estimator, Y, "the boundary points of the walks"
        )

    rng = np.random.default_rng(seed)  # walks and Laplacian probes share it

    def source(Y):
        if derivatives == "randomized":
            _, lap = randomized_laplacian(predict, Y, rng)
            _check_finite(lap, "Laplacian")
        else:
            _, _, lap = surrogate_derivatives(estimator, Y, all_columns, derivatives)
        return -pde.residual(Y, None, None, lap)

    scale = (
        domain.radius
        if isinstance(domain, Ball)
        else np.min(domain.high - domain.low) / 2.0
    )
    u, stderr = walk_on_spheres(
        X, domain, boundary, source, n_paths, epsilon * scale, rng
    )
    return u, stderr, np.zeros_like(u)  # linear: no noise bias


def _picard_chunk(estimator, pde, X, derivatives, n_paths, levels, seed):
    d = X.shape[1] - 1
    if derivatives == "randomized":  # the full gradient gives the Laplacian too
        derivatives = "finite_difference"
    drift, sigma, T = pde.drift_vector(d), pde.sigma, pde.T
    space_columns = np.arange(1, d + 1)

    def terminal(x):
        rows = np.column_stack([np.full(len(x), T), x])
        return pde.evaluate_terminal(x) - checked_predict(
            estimator, rows, "the terminal points of the paths"
        )

    def generator(t, x):
        rows = np.column_stack([t, x])
        value, grad, lap = surrogate_derivatives(
            estimator, rows, space_columns, derivatives
        )
        residual = pde.residual(rows, value, grad, lap)
        if pde.nonlinearity is None:
            return lambda u, z: residual
        z_hat = sigma * grad[:, 1:]
        base = pde.evaluate_nonlinearity(t, x, value, z_hat)
        return lambda u, z: (
            pde.evaluate_nonlinearity(t, x, value + u, z_hat + z) - base + residual
        )

    u, _, stderr, noise_bias = multilevel_picard(
        X[:, 0],
        X[:, 1:],
        drift=drift,
        sigma=sigma,
        T=T,
        terminal=terminal,
        generator=generator,
        levels=levels,
        n_paths=n_paths,
        seed=seed,
        return_bias=True,
    )
    return u, stderr, noise_bias


def simulate_defect(
    estimator,
    pde,
    X,
    *,
    method,
    derivatives,
    n_paths,
    levels,
    epsilon,
    n_jobs,
    random_state,
    verbose=0,
):
    """Monte Carlo estimate of ``u - û`` at the query points, chunk by chunk.

    The points are cut into chunks of a fixed number of random samples (never
    by ``n_jobs``); chunk ``i`` draws from the ``i``-th child spawned from
    ``random_state``, so the result depends on ``random_state`` only.

    Parameters
    ----------
    estimator : fitted regressor
        The surrogate ``û``.
    pde : PoissonEquation or SemilinearParabolicPDE
        The equation.
    X : ndarray of shape (n_queries, n_features)
        Checked query points.
    method : {"walk_on_spheres", "feynman_kac", "mlp"}
        The simulator.
    derivatives : {"autograd", "finite_difference", "randomized"}
        How the surrogate is differentiated.
    n_paths : int or None
        Walks, paths or samples per level (``None``: the method's default).
    levels : int
        Picard level (``"mlp"`` only).
    epsilon : float
        Relative width of walk-on-spheres' stopping shell.
    n_jobs : int or None
        Chunks simulated in parallel (threads by default).
    random_state : int, RandomState, Generator, SeedSequence or None
        Root of the chunks' random streams.
    verbose : int, default=0
        ``> 0`` reports the chunks as they finish (see
        :func:`sklearn_debias.utils.progress`); the results do not change.

    Returns
    -------
    correction : ndarray of shape (n_queries,)
    stderr : ndarray of shape (n_queries,)
    noise_bias : ndarray of shape (n_queries,)
        Estimated bias of multilevel Picard from the noise of its inner
        estimates inside the nonlinearity (zeros for the linear simulators).
    """
    n_paths = n_paths if n_paths is not None else _DEFAULT_PATHS[method]
    samples = n_paths**levels if method == "mlp" else n_paths
    chunk = max(1, _SAMPLES_PER_CHUNK // samples)
    starts = range(0, X.shape[0], chunk)
    seeds = spawn_seeds(random_state, len(starts))
    if method == "walk_on_spheres":
        simulate = partial(_walk_chunk, epsilon=epsilon)
    else:
        simulate = partial(_picard_chunk, levels=levels if method == "mlp" else 1)
    jobs = (
        delayed(simulate)(
            estimator, pde, X[s : s + chunk], derivatives, n_paths, seed=seed
        )
        for s, seed in zip(starts, seeds, strict=True)
    )
    # Results come back in order as they finish, so the report follows the
    # work; the values are those of a plain list of the chunks.
    parallel = Parallel(n_jobs=n_jobs, prefer="threads", return_as="generator")
    results = list(
        progress(
            parallel(jobs),
            total=len(starts),
            desc=f"{method} ({X.shape[0]} points)",
            verbose=verbose,
        )
    )
    correction = np.concatenate([r[0] for r in results])
    stderr = np.concatenate([r[1] for r in results])
    noise_bias = np.concatenate([r[2] for r in results])
    return correction, stderr, noise_bias
