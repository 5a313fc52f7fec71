"""Benchmark semilinear parabolic equations with closed-form solutions.

The four test problems of the SCaSML paper (Fan, Sun, Yang, Lu), each re-derived
here against its PDE ``∂_t u + μ·∇u + (σ²/2)Δu + F(t, x, u, σ∇u) = 0``; the test
suite checks every exact solution's residual by finite differences.
"""

import numpy as np
from scipy.special import expit

from ._domains import Ball, Box, _check_dim
from ._equations import SemilinearParabolicPDE

__all__ = [
    "viscous_burgers",
    "linear_convection_diffusion",
    "lqg",
    "diffusion_reaction",
]


def _unit_box(d):
    return Box(np.full(d, -0.5), np.full(d, 0.5))


def viscous_burgers(d, sigma=0.25, T=0.5):
    """Viscous Burgers-type equation with a logistic travelling-wave solution.

    ``∂_t u + (σ²u - 1/d - σ²/2) Σ_i ∂_i u + (σ²/2) Δu = 0``, i.e. drift
    ``μ = -(1/d + σ²/2)``, ``F(t, x, u, z) = σ u Σ_i z_i``, with exact solution
    ``u(t, x) = 1 / (1 + exp(-(t + Σ_i x_i)))``.

    Parameters
    ----------
    d : int
        Spatial dimension.
    sigma : float, default=0.25
        Diffusion coefficient.
    T : float, default=0.5
        Terminal time.

    Returns
    -------
    pde : SemilinearParabolicPDE
        With ``exact_solution`` and query domain ``[-0.5, 0.5]^d``.

    See Also
    --------
    linear_convection_diffusion, lqg, diffusion_reaction

    Notes
    -----
    With ``s = t + Σx_i`` and ``u = expit(s)``: ``u' = u(1 - u)``,
    ``u'' = u'(1 - 2u)``, so the left side is
    ``u'[1 + d(σ²u - 1/d - σ²/2)] + (σ²/2) d u'(1 - 2u) = 0``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias.pde import viscous_burgers
    >>> pde = viscous_burgers(20)
    >>> pde.exact_solution(np.zeros((1, 21)))
    array([0.5])
    """
    d = _check_dim(d)
    sigma = float(sigma)

    def nonlinearity(t, x, u, z):
        return sigma * u * z.sum(axis=1)

    def terminal(x):
        return expit(T + x.sum(axis=1))

    def exact(X):
        return expit(X.sum(axis=1))

    return SemilinearParabolicPDE(
        drift=np.full(d, -(1.0 / d + sigma**2 / 2)),
        sigma=sigma,
        nonlinearity=nonlinearity,
        terminal=terminal,
        T=T,
        domain=_unit_box(d),
        exact_solution=exact,
    )


def linear_convection_diffusion(d, T=0.5):
    """Linear convection-diffusion ``∂_t u - (1/d) Σ_i ∂_i u + Δu = 0``.

    Drift ``μ = -1/d``, ``σ = √2``, ``F = 0``; exact solution
    ``u(t, x) = t + Σ_i x_i``.

    Parameters
    ----------
    d : int
        Spatial dimension.
    T : float, default=0.5
        Terminal time.

    Returns
    -------
    pde : SemilinearParabolicPDE
        With ``exact_solution`` and query domain ``[-0.5, 0.5]^d``.

    See Also
    --------
    viscous_burgers, lqg, diffusion_reaction

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias.pde import linear_convection_diffusion
    >>> pde = linear_convection_diffusion(10)
    >>> pde.exact_solution(np.full((1, 11), 0.1)).round(6)
    array([1.1])
    """
    d = _check_dim(d)

    def terminal(x):
        return T + x.sum(axis=1)

    def exact(X):
        return X.sum(axis=1)

    return SemilinearParabolicPDE(
        drift=np.full(d, -1.0 / d),
        sigma=np.sqrt(2.0),
        nonlinearity=None,
        terminal=terminal,
        T=T,
        domain=_unit_box(d),
        exact_solution=exact,
    )


def lqg(d, a=1.0, T=1.0):
    """Hamilton-Jacobi-Bellman equation of a linear-quadratic control problem.

    ``∂_t u + Δu - |∇u|² = 0``, ``u(T, x) = a|x|²``: drift 0, ``σ = √2``,
    ``F(t, x, u, z) = -|z|²/2``. With ``τ = T - t`` the exact solution is
    ``u = (d/2) log(1 + 4aτ) + a|x|² / (1 + 4aτ)``.

    Parameters
    ----------
    d : int
        Spatial dimension.
    a : float, default=1.0
        Weight of the quadratic terminal cost, ``a > -1/(4T)``.
    T : float, default=1.0
        Terminal time.

    Returns
    -------
    pde : SemilinearParabolicPDE
        With ``exact_solution`` and query domain the unit ball.

    See Also
    --------
    viscous_burgers, linear_convection_diffusion, diffusion_reaction

    Notes
    -----
    With ``c = a / (1 + 4aτ)``: ``∂_t u = -2dc + 4c²|x|²``, ``∇u = 2cx``,
    ``Δu = 2dc``, so ``∂_t u + Δu - |∇u|² = 0``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias.pde import lqg
    >>> pde = lqg(100)
    >>> pde.exact_solution(np.zeros((1, 101))).round(4)   # 50 log 5
    array([80.4719])
    """
    d = _check_dim(d)
    a = float(a)
    if not 1.0 + 4.0 * a * T > 0:
        raise ValueError(f"lqg needs 1 + 4 a T > 0, got a={a}, T={T}")

    def nonlinearity(t, x, u, z):
        return -0.5 * (z**2).sum(axis=1)

    def terminal(x):
        return a * (x**2).sum(axis=1)

    def exact(X):
        scale = 1.0 + 4.0 * a * (T - X[:, 0])
        return 0.5 * d * np.log(scale) + a * (X[:, 1:] ** 2).sum(axis=1) / scale

    return SemilinearParabolicPDE(
        drift=np.zeros(d),
        sigma=np.sqrt(2.0),
        nonlinearity=nonlinearity,
        terminal=terminal,
        T=T,
        domain=Ball(d),
        exact_solution=exact,
    )


def diffusion_reaction(d, T=0.5):
    """Diffusion-reaction ``∂_t u + Δu/2 + min{1, (u - u*)²} = 0``.

    Drift 0, ``σ = 1``, ``F(t, x, u, z) = min{1, (u - u*(t, x))²}`` with
    ``u*(t, x) = 1.6 + sin(0.1 Σ_i x_i) exp(0.01 d (t - T)/2)``, which is also
    the exact solution (``F`` vanishes on it and ``∂_t u* + Δu*/2 = 0``).

    Parameters
    ----------
    d : int
        Spatial dimension.
    T : float, default=0.5
        Terminal time.

    Returns
    -------
    pde : SemilinearParabolicPDE
        With ``exact_solution`` and query domain ``[-0.5, 0.5]^d``.

    See Also
    --------
    viscous_burgers, linear_convection_diffusion, lqg

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias.pde import diffusion_reaction
    >>> pde = diffusion_reaction(100)
    >>> pde.exact_solution(np.zeros((1, 101)))
    array([1.6])
    """
    d = _check_dim(d)

    def target(t, x):
        return 1.6 + np.sin(0.1 * x.sum(axis=1)) * np.exp(0.005 * d * (t - T))

    def nonlinearity(t, x, u, z):
        return np.minimum(1.0, (u - target(t, x)) ** 2)

    def terminal(x):
        return target(np.full(len(x), T), x)

    def exact(X):
        return target(X[:, 0], X[:, 1:])

    return SemilinearParabolicPDE(
        drift=np.zeros(d),
        sigma=1.0,
        nonlinearity=nonlinearity,
        terminal=terminal,
        T=T,
        domain=_unit_box(d),
        exact_solution=exact,
    )
