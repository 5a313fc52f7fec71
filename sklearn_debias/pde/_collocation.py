"""Collocation points for physics-informed training: where the simulation goes.

A surrogate that :class:`~sklearn_debias.pde.SimulationCalibratedRegressor`
debiases is evaluated (with its derivatives) wherever the simulation of the
defect equation goes, not only at the query points: walks stay inside a
Poisson problem's domain, but the forward process ``X_s = x + μ(s - t) +
σ(W_s - W_t)`` of a parabolic problem leaves the query region (in 100
dimensions a Brownian path from the unit ball ends near radius
``σ√(d(T - t))``). :func:`collocation_points` draws interior points with that
law and boundary (or terminal) points with their data.
"""

from __future__ import annotations

import numpy as np

from ._equations import PoissonEquation

__all__ = ["collocation_points", "input_dimension"]


def input_dimension(pde):
    """Number of input columns of the solution (``d`` or ``d + 1``), or None."""
    if isinstance(pde, PoissonEquation):
        return pde.n_dims
    return None if pde.n_dims is None else pde.n_dims + 1


def _starts(pde, X, n, rng):
    """``n`` query points: from the PDE's query domain and the rows of ``X``.

    With both, half come from each (rows of ``X`` drawn with replacement).
    """
    if X is None or len(X) == 0:
        return pde.sample(n, rng)
    if pde.domain is None:
        return X[rng.integers(len(X), size=n)]
    m = n // 2
    return np.vstack([pde.sample(n - m, rng), X[rng.integers(len(X), size=m)]])


def collocation_points(pde, X, n_interior, n_boundary, rng):
    """Draw interior and boundary points and the boundary data.

    Poisson problem: interior points are the query points themselves (uniform
    on the domain, and the rows of ``X``), boundary points are uniform on the
    boundary. Parabolic problem: from a query point ``(t, x)``, an interior
    point is ``(t + (T - t)τ, X_{t + (T - t)τ})`` with ``τ ~ U[0, 1]`` and the
    forward process sampled exactly, a terminal point is ``(T, X_T)``: the
    points multilevel Picard and Feynman-Kac evaluate the surrogate at.

    Parameters
    ----------
    pde : PoissonEquation or SemilinearParabolicPDE
        The equation (with a domain unless ``X`` is given).
    X : ndarray of shape (m, p) or None
        Extra query points (checked by the caller).
    n_interior, n_boundary : int
        Numbers of points.
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    interior : ndarray of shape (n_interior, p)
    boundary : ndarray of shape (n_boundary, p)
    values : ndarray of shape (n_boundary,)
        Boundary data ``g`` (Poisson) or terminal data ``g(X_T)`` (parabolic).
    """
    if isinstance(pde, PoissonEquation):
        interior = _starts(pde, X, n_interior, rng)
        boundary = pde.domain.sample_boundary(n_boundary, rng)
        return interior, boundary, pde.evaluate_boundary(boundary)
    T = pde.T
    starts = _starts(pde, X, n_interior + n_boundary, rng)
    p = starts.shape[1]
    drift = pde.drift_vector(p - 1)
    fraction = np.concatenate([rng.random(n_interior), np.ones(n_boundary)])
    t = starts[:, 0] + (T - starts[:, 0]) * fraction
    elapsed = (t - starts[:, 0])[:, None]
    noise = rng.standard_normal((len(t), p - 1))
    x = starts[:, 1:] + drift * elapsed + pde.sigma * np.sqrt(elapsed) * noise
    points = np.column_stack([t, x])
    boundary = points[n_interior:]
    boundary[:, 0] = T  # exactly
    return points[:n_interior], boundary, pde.evaluate_terminal(boundary[:, 1:])
