"""Benchmark semilinear parabolic equations with closed-form solutions.

The four test problems of the SCaSML paper (Fan, Sun, Yang, Lu), each re-derived
here against its PDE ``∂_t u + μ·∇u + (σ²/2)Δu + F(t, x, u, σ∇u) = 0``; the test
suite checks every exact solution's residual by finite differences.
"""

from __future__ import annotations

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


# The equations' callables are small module-level classes, not closures, so
# that every benchmark equation (and an estimator holding one) pickles.


class _Callable:
    """Base of the benchmarks' callables: keyword parameters stored as attributes."""

    def __init__(self, **params):
        self.__dict__.update(params)

    def __repr__(self):
        params = ", ".join(f"{k}={v!r}" for k, v in sorted(self.__dict__.items()))
        return f"{type(self).__name__}({params})"


class _BurgersNonlinearity(_Callable):
    def __call__(self, t, x, u, z):
        return self.sigma * u * z.sum(axis=1)


class _ShiftedLogistic(_Callable):
    """``expit(shift + Σ x_i)`` (the terminal value) or ``expit(t + Σ x_i)``."""

    def __call__(self, x):
        if self.shift is None:  # rows (t, x): the exact solution
            return expit(x.sum(axis=1))
        return expit(self.shift + x.sum(axis=1))


class _ShiftedSum(_Callable):
    """``shift + Σ x_i`` (the terminal value) or ``t + Σ x_i`` (``shift=None``)."""

    def __call__(self, x):
        if self.shift is None:
            return x.sum(axis=1)
        return self.shift + x.sum(axis=1)


class _HalfSquaredNorm(_Callable):
    def __call__(self, t, x, u, z):
        return -0.5 * (z**2).sum(axis=1)


class _QuadraticTerminal(_Callable):
    def __call__(self, x):
        return self.a * (x**2).sum(axis=1)


class _LQGSolution(_Callable):
    def __call__(self, X):
        scale = 1.0 + 4.0 * self.a * (self.T - X[:, 0])
        return (
            0.5 * self.d * np.log(scale) + self.a * (X[:, 1:] ** 2).sum(axis=1) / scale
        )


class _ReactionTarget(_Callable):
    """``u*(t, x) = 1.6 + sin(0.1 Σ x_i) exp(0.005 d (t - T))``."""

    def __call__(self, t, x):
        return 1.6 + np.sin(0.1 * x.sum(axis=1)) * np.exp(0.005 * self.d * (t - self.T))


class _ReactionNonlinearity(_Callable):
    def __call__(self, t, x, u, z):
        return np.minimum(1.0, (u - self.target(t, x)) ** 2)


class _ReactionTerminal(_Callable):
    def __call__(self, x):
        return self.target(np.full(len(x), self.target.T), x)


class _ReactionSolution(_Callable):
    def __call__(self, X):
        return self.target(X[:, 0], X[:, 1:])


def viscous_burgers(
    d: int, sigma: float = 0.25, T: float = 0.5
) -> SemilinearParabolicPDE:
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

    return SemilinearParabolicPDE(
        drift=np.full(d, -(1.0 / d + sigma**2 / 2)),
        sigma=sigma,
        nonlinearity=_BurgersNonlinearity(sigma=sigma),
        terminal=_ShiftedLogistic(shift=T),
        T=T,
        domain=_unit_box(d),
        exact_solution=_ShiftedLogistic(shift=None),
    )


def linear_convection_diffusion(d: int, T: float = 0.5) -> SemilinearParabolicPDE:
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

    return SemilinearParabolicPDE(
        drift=np.full(d, -1.0 / d),
        sigma=np.sqrt(2.0),
        nonlinearity=None,
        terminal=_ShiftedSum(shift=T),
        T=T,
        domain=_unit_box(d),
        exact_solution=_ShiftedSum(shift=None),
    )


def lqg(d: int, a: float = 1.0, T: float = 1.0) -> SemilinearParabolicPDE:
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

    return SemilinearParabolicPDE(
        drift=np.zeros(d),
        sigma=np.sqrt(2.0),
        nonlinearity=_HalfSquaredNorm(),
        terminal=_QuadraticTerminal(a=a),
        T=T,
        domain=Ball(d),
        exact_solution=_LQGSolution(a=a, T=float(T), d=d),
    )


def diffusion_reaction(d: int, T: float = 0.5) -> SemilinearParabolicPDE:
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

    target = _ReactionTarget(d=d, T=float(T))
    return SemilinearParabolicPDE(
        drift=np.zeros(d),
        sigma=1.0,
        nonlinearity=_ReactionNonlinearity(target=target),
        terminal=_ReactionTerminal(target=target),
        T=T,
        domain=_unit_box(d),
        exact_solution=_ReactionSolution(target=target),
    )
