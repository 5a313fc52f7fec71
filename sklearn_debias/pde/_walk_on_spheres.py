"""Walk-on-spheres for the Poisson problem ``Δu = f`` in Ω, ``u = g`` on ∂Ω.

With ``W`` a Brownian motion (generator ``Δ/2``) from ``x`` and ``τ`` its exit
time, ``u(x) = E[g(W_τ)] - E ∫_0^τ f(W_s) ds / 2``. Walk-on-spheres samples the
exit point by jumping, from ``x_k``, to a uniform point of the largest sphere
around ``x_k`` inside Ω (radius ``r_k``); it stops in the ``ε``-shell of ∂Ω and
reads ``g`` at the nearest boundary point (bias ``O(ε)``, ``O(log 1/ε)`` steps).
The time spent in each ball contributes ``E[τ_ball] E[f(Y)] = (r_k²/d) E[f(Y)]``
with ``Y`` drawn from the ball's normalised Green's function, whose radius
``r_k t`` has density ``∝ t - t^{d-1}`` on ``[0, 1]`` (``∝ t log(1/t)`` in
``d = 2``, ``∝ 1 - t`` in ``d = 1``). All three are the law of
``t = √U₁ · U₂^{1/d}`` for independent uniforms, which is how ``t`` is drawn.
"""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ._domains import _uniform_directions

__all__ = ["walk_on_spheres", "green_radius"]


def green_radius(rng, n, d):
    """Radii (as fractions of the ball's radius) drawn from the Green's function.

    For ``U₁, U₂`` independent uniforms, ``t = √U₁ U₂^{1/d}`` has density
    ``2d/(d - 2) (t - t^{d-1})`` (``4 t log(1/t)`` for ``d = 2``, ``2(1 - t)`` for
    ``d = 1``): the radial law of the occupation density of a Brownian motion
    started at the centre of the unit ball and killed on its sphere.
    """
    return np.sqrt(rng.random(n)) * rng.random(n) ** (1.0 / d)


def walk_on_spheres(
    x0, domain, boundary, source, n_walks, epsilon, rng, max_steps=10_000
):
    """Estimate the solution of a Poisson problem at points by walk-on-spheres.

    Parameters
    ----------
    x0 : ndarray of shape (n_points, d)
        Start points, inside the domain.
    domain : Ball or Box
        The domain.
    boundary : callable
        ``boundary(Y) -> (m,)``, Dirichlet data at boundary points.
    source : callable or None
        ``source(Y) -> (m,)``, the right-hand side ``f`` of ``Δu = f``.
    n_walks : int
        Walks per start point.
    epsilon : float
        Absolute width of the stopping shell.
    rng : numpy.random.Generator
        Random stream.
    max_steps : int, default=10_000
        Steps after which unfinished walks are stopped where they are (with a
        ``ConvergenceWarning``).

    Returns
    -------
    mean : ndarray of shape (n_points,)
        Average over the walks.
    stderr : ndarray of shape (n_points,)
        Monte Carlo standard error of ``mean``.
    """
    n, d = x0.shape
    pos = np.repeat(x0, n_walks, axis=0)
    total = np.zeros(n * n_walks)
    active = np.arange(n * n_walks)
    for _ in range(max_steps):
        p = pos[active]
        r = domain.distance(p)
        done = r < epsilon
        if np.any(done):
            total[active[done]] += boundary(domain.project(p[done]))
            keep = ~done
            active, p, r = active[keep], p[keep], r[keep]
        if active.size == 0:
            break
        m = active.size
        if source is not None:
            radius = r * green_radius(rng, m, d)
            y = p + radius[:, None] * _uniform_directions(rng, m, d)
            total[active] -= r**2 / (2.0 * d) * source(y)
        pos[active] = p + r[:, None] * _uniform_directions(rng, m, d)
    else:
        p = pos[active]
        if active.size:
            warnings.warn(
                f"{active.size} of {n * n_walks} walks did not reach the "
                f"epsilon-shell in {max_steps} steps; they were stopped at the "
                "nearest boundary point",
                ConvergenceWarning,
                stacklevel=3,
            )
            total[active] += boundary(domain.project(p))
    values = total.reshape(n, n_walks)
    mean = values.mean(axis=1)
    if n_walks > 1:
        stderr = values.std(axis=1, ddof=1) / np.sqrt(n_walks)
    else:
        stderr = np.full(n, np.nan)
    return mean, stderr
