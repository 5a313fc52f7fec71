"""Benchmark semilinear parabolic equations with known solutions.

The four test problems of the SCaSML paper (Fan, Sun, Yang, Lu,
arXiv:2504.16172), each re-derived here against its PDE
``∂_t u + μ·∇u + (σ²/2)Δu + F(t, x, u, σ∇u) = 0``; the test suite checks every
exact solution's residual by finite differences. Three have closed-form
solutions; the paper's LQG problem (terminal cost ``log((1 + |x|²)/2)``) is
solved through the Cole-Hopf transform by a deterministic quadrature accurate
to about ``1e-13`` (:func:`lqg`, which also offers a closed-form quadratic
cost).

Every terminal value, nonlinearity and closed-form solution accepts torch
tensors as well as numpy arrays and returns the same kind (a tensor keeps its
autograd graph), so that a physics-informed network trains through them; torch
is imported only when a tensor is passed. The callables are small module-level
classes, not closures, so that every benchmark equation (and an estimator
holding one) pickles.
"""

from __future__ import annotations

import numbers
from functools import lru_cache

import numpy as np
from scipy.special import expit, gammainccinv, gammaincinv, gammaln

from ..utils import check_generator, is_tensor
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


class _NumpyOps:
    """The few array operations the callables use, on numpy arrays."""

    expit = staticmethod(expit)
    exp = staticmethod(np.exp)
    log = staticmethod(np.log)
    sin = staticmethod(np.sin)

    @staticmethod
    def rowsum(v):
        return v.sum(axis=1)

    @staticmethod
    def clip_above_one(v):
        return np.minimum(1.0, v)

    @staticmethod
    def full(rows, value):
        return np.full(len(rows), value)

    @staticmethod
    def asarray(v):
        return v


class _TorchOps:
    """The same operations on torch tensors, like the reference tensor ``ref``."""

    def __init__(self, ref):
        import torch  # optional dependency: only reached with a tensor input

        self.torch, self.ref = torch, ref
        self.expit, self.exp = torch.sigmoid, torch.exp
        self.log, self.sin = torch.log, torch.sin

    @staticmethod
    def rowsum(v):
        return v.sum(dim=1)

    def clip_above_one(self, v):
        return self.torch.clamp(v, max=1.0)

    def full(self, rows, value):
        return self.torch.full(
            (len(rows),), value, dtype=self.ref.dtype, device=self.ref.device
        )

    def asarray(self, v):
        if is_tensor(v):
            return v
        return self.torch.as_tensor(v, dtype=self.ref.dtype, device=self.ref.device)


def _ops(*arrays):
    """numpy's operations, or torch's when any argument is a torch tensor."""
    for a in arrays:
        if is_tensor(a):
            return _TorchOps(a)
    return _NumpyOps


class _Callable:
    """Base of the benchmarks' callables: keyword parameters stored as attributes."""

    def __init__(self, **params):
        self.__dict__.update(params)

    def __repr__(self):
        params = ", ".join(f"{k}={v!r}" for k, v in sorted(self.__dict__.items()))
        return f"{type(self).__name__}({params})"


class _BurgersNonlinearity(_Callable):
    def __call__(self, t, x, u, z):
        return self.sigma * u * _ops(z).rowsum(z)


class _ShiftedLogistic(_Callable):
    """``expit(shift + Σ x_i)`` (the terminal value) or ``expit(t + Σ x_i)``."""

    def __call__(self, x):
        ops = _ops(x)
        if self.shift is None:  # rows (t, x): the exact solution
            return ops.expit(ops.rowsum(x))
        return ops.expit(self.shift + ops.rowsum(x))


class _ShiftedSum(_Callable):
    """``shift + Σ x_i`` (the terminal value) or ``t + Σ x_i`` (``shift=None``)."""

    def __call__(self, x):
        ops = _ops(x)
        if self.shift is None:
            return ops.rowsum(x)
        return self.shift + ops.rowsum(x)


class _HalfSquaredNorm(_Callable):
    def __call__(self, t, x, u, z):
        return -0.5 * _ops(z).rowsum(z**2)


class _QuadraticTerminal(_Callable):
    def __call__(self, x):
        return self.a * _ops(x).rowsum(x**2)


class _LQGSolution(_Callable):
    """The quadratic cost's closed form ``(d/2) log(1 + 4aτ) + a|x|²/(1 + 4aτ)``."""

    def __call__(self, X):
        ops = _ops(X)
        scale = 1.0 + 4.0 * self.a * (self.T - X[:, 0])
        return (
            0.5 * self.d * ops.log(scale) + self.a * ops.rowsum(X[:, 1:] ** 2) / scale
        )


class _LogTerminal(_Callable):
    """The paper's terminal cost ``g(x) = log((1 + |x|²)/2)``."""

    def __call__(self, x):
        ops = _ops(x)
        return ops.log((1.0 + ops.rowsum(x**2)) / 2.0)


def _exp_minus_log_cost(sq_norm):
    """``exp(-g(y)) = 2 / (1 + |y|²)`` as a function of ``|y|²``."""
    return 2.0 / (1.0 + sq_norm)


class _LogCostSolution(_Callable):
    """``u = -log E[2 / (1 + |x + √2 W_{T-t}|²)]`` by quadrature (numpy only).

    Slightly past ``T`` (finite differences at ``t`` near ``T`` step there)
    the quadrature is continued analytically in ``τ = T - t``: ``s = √(2τ)``
    turns imaginary and the symmetric rule stays real. The continuation is
    kept to ``t - T <= 1/(4 max(z² + C))`` over the nodes (``2e-3`` for
    ``d = 5``, ``8e-4`` for ``d = 100``), where ``Re |x + sZ|² >= -1/2`` on
    every node, far from the pole of ``2/(1 + y)`` at ``-1``.
    """

    def __call__(self, X):
        if is_tensor(X):
            raise TypeError(
                "the exact solution of lqg(cost='log') is a numerical reference "
                "computed in numpy, not a differentiable closed form; pass a numpy "
                "array (e.g. X.detach().cpu().numpy())"
            )
        X = np.asarray(X, dtype=np.float64)
        tau = self.T - X[:, 0]
        # Nodes for the horizon T (for every t in [0, T]): u stays one smooth
        # function of (t, x), whatever the other rows of X.
        s_max = max(np.sqrt(2.0 * self.T), np.sqrt(2.0 * np.max(tau, initial=0.0)))
        z, C, _ = _norm_rule(self.d, s_max)
        past = 1.0 / (4.0 * (np.max(z**2) + np.max(C)))
        if not np.all(tau >= -past):
            raise ValueError(
                f"the exact solution of lqg needs finite times t <= T + {past:.1e} "
                f"(T = {self.T}; past T it is an analytic continuation)"
            )
        x = X[:, 1:]
        u = _LogTerminal()(x)  # exact at t = T, where the expectation is g
        r = np.sqrt((x**2).sum(axis=1))
        for rows, s in (
            (tau > 0, np.sqrt(2.0 * tau.clip(min=0.0))),
            (tau < 0, 1j * np.sqrt(-2.0 * tau.clip(max=0.0))),
        ):
            if np.any(rows):
                v = _gaussian_norm_expectation(
                    _exp_minus_log_cost, r[rows], s[rows], self.d, s_max
                )
                u[rows] = -np.log(v)
        return u


class _ReactionTarget(_Callable):
    """``u*(t, x) = 1.6 + sin(0.1 Σ x_i) exp(0.005 d (t - T))``."""

    def __call__(self, t, x):
        ops = _ops(t, x)
        t, x = ops.asarray(t), ops.asarray(x)
        return 1.6 + ops.sin(0.1 * ops.rowsum(x)) * ops.exp(
            0.005 * self.d * (t - self.T)
        )


class _ReactionNonlinearity(_Callable):
    def __call__(self, t, x, u, z):
        ops = _ops(t, x, u)
        t, x, u = ops.asarray(t), ops.asarray(x), ops.asarray(u)
        return ops.clip_above_one((u - self.target(t, x)) ** 2)


class _ReactionTerminal(_Callable):
    def __call__(self, x):
        return self.target(_ops(x).full(x, self.target.T), x)


class _ReactionSolution(_Callable):
    def __call__(self, X):
        return self.target(X[:, 0], X[:, 1:])


# -- E[h(|x + sZ|²)], Z ~ N(0, I_d), by a deterministic 2-d quadrature ---------
#
# Only r = |x| and s matter: |x + sZ|² = (r + s z)² + s² C with z ~ N(0, 1) and
# C = 2c, c ~ Gamma((d - 1)/2), independent. Both 1-d rules are trapezoidal
# rules on the real line, which converge geometrically with the width of the
# strip where the integrand is analytic (Trefethen & Weideman, SIAM Review
# 2014): in z for the Gaussian, in v = log c for the gamma law. Gauss-Hermite
# and Gauss-Laguerre rules were tried first; for d <= 6 and s = √2 (T = 1)
# they need 200-300+ nodes each for 1e-11, because h = 2/(1 + y) has poles at
# a distance 1/s from the real z-axis and at c = -(1 + ...)/(2s²), close to
# the origin. The rules below assume h analytic off (-∞, -1], with the scale
# of 2/(1 + y) or exp(-a y); their error is about exp(-_LOG_EPS) relative.

_LOG_EPS = 30.0  # target relative error exp(-30) ≈ 1e-13 of each 1-d rule
# Extra depth of the gamma rule's lower window (in log c): the rule also
# integrates exp(-λc) f to full relative accuracy for tilts 1 + λ <= e³ (the
# quadratic cost exp(-a|y|²) with λ = 2as² = 4aτ <= 19), so that a closed
# form checks the machinery.
_TILT = 3.0


@lru_cache(maxsize=16)
def _normal_rule(s_max):
    """Nodes and weights for ``E f(z)``, ``z ~ N(0, 1)``, ``f`` analytic in
    ``|Im z| < 1/s_max`` (trapezoidal rule on ``[-√(2·30), √(2·30)]``)."""
    half_width = np.sqrt(2.0 * _LOG_EPS)  # the Gaussian's own strip optimum
    tau = min(1.0 / s_max, half_width) if s_max > 0 else half_width
    # error ≈ exp(τ²/2 - 2πτ/step): the weight grows as exp(τ²/2) off the axis
    step = 2.0 * np.pi * tau / (_LOG_EPS + tau**2 / 2.0)
    z = step * np.arange(-np.ceil(half_width / step), np.ceil(half_width / step) + 1)
    w = np.exp(-(z**2) / 2.0)
    return z, w / w.sum()


@lru_cache(maxsize=16)
def _gamma_rule(k):
    """Nodes and weights for ``E f(c)``, ``c ~ Gamma(k)``, ``f`` analytic off
    ``(-∞, 0)``: trapezoidal rule in ``v = log c``."""
    if k == 0:  # d = 1: no C
        return np.zeros(1), np.ones(1)
    # In the strip |Im v| < β the gamma weight grows by at most cos(β)^-k.
    beta = np.geomspace(1e-3, 1.5, 200)
    step = np.max(2.0 * np.pi * beta / (_LOG_EPS - k * np.log(np.cos(beta))))
    # For small k the density's left tail c^k decays slowly in v; integrating
    # f - f(0) = O(c) instead (f(0) on a node at c = 0) shortens the window
    # 2-3 times. For larger k that would cost relative accuracy when
    # E f << f(0).
    shift_f0 = k <= 1.0
    v_hi = np.log(gammainccinv(k, np.exp(-_LOG_EPS)))
    v_lo = np.log(gammaincinv(k + shift_f0, np.exp(-_LOG_EPS))) - _TILT
    v = v_hi - step * np.arange(int(np.ceil((v_hi - v_lo) / step)) + 1)
    c = np.exp(v)
    w = step * np.exp(k * v - c - gammaln(k))
    if shift_f0:
        return np.concatenate([[0.0], c]), np.concatenate([[1.0 - w.sum()], w])
    return c, w / w.sum()


@lru_cache(maxsize=16)
def _norm_rule(d, s_max):
    """Flat nodes ``(z, C)`` and weights of the product rule (read-only)."""
    z, wz = _normal_rule(s_max)
    c, wc = _gamma_rule((d - 1) / 2.0)
    nodes = (np.repeat(z, len(c)), np.tile(2.0 * c, len(z)), np.outer(wz, wc).ravel())
    for a in nodes:
        a.setflags(write=False)
    return nodes


def _gaussian_norm_expectation(h, r, s, d, s_max=None):
    """``E[h(|x + sZ|²)]`` for ``Z ~ N(0, I_d)`` and ``|x| = r``, row by row.

    Parameters
    ----------
    h : callable
        Vectorised function of the squared norm; analytic off ``(-∞, -1]``.
    r, s : ndarray of shape (n,)
        Norms ``|x|`` and noise scales ``s >= 0`` (or ``s = i·σ``, the
        analytic continuation to ``s² < 0``; ``h`` must then take complex
        arguments).
    d : int
        Dimension.
    s_max : float, optional
        Largest ``s`` the nodes are built for (default ``max(s)``); fixed
        nodes make the result a smooth function of ``(r, s)``.

    Returns
    -------
    expectation : ndarray of shape (n,)
    """
    r, s = np.asarray(r, dtype=np.float64), np.asarray(s)
    if s_max is None:
        s_max = np.max(np.abs(s), initial=0.0)
    z, C, w = _norm_rule(int(d), float(s_max))
    out = np.empty(len(r))
    block = max(1, 2**20 // len(w))  # about 8 MB of nodes x points
    for i in range(0, len(r), block):
        rb, sb = r[i : i + block, None], s[i : i + block, None]
        # For imaginary s the rule, symmetric in z, sums to a real number.
        out[i : i + block] = (h((rb + sb * z) ** 2 + sb**2 * C) @ w).real
    return out


def _cole_hopf_monte_carlo(X, T, n_samples, random_state=None, *, block_size=2**14):
    """Plain Monte Carlo of the log-cost solution, with its standard error.

    ``u(t, x) = -log E[exp(-g(x + √2 W_{T-t}))]`` with ``Z ~ N(0, I_d)``
    sampled in blocks, in all ``d`` dimensions (independent of the
    quadrature's reduction to two variables); the same draws serve every row
    of ``X`` (common random numbers).

    Returns
    -------
    u, stderr : ndarray of shape (n,)
        The estimate and its standard error (delta method through the log).
    """
    X = np.asarray(X, dtype=np.float64)
    x = X[:, 1:]
    s = np.sqrt(2.0 * (T - X[:, 0]))
    rng = check_generator(random_state)
    r2 = (x**2).sum(axis=1)
    total, total_sq, done, shift = np.zeros(len(X)), np.zeros(len(X)), 0, None
    while done < n_samples:
        Z = rng.standard_normal((min(block_size, n_samples - done), x.shape[1]))
        # |x + sZ|² for every row of X at once.
        sq = r2 + 2.0 * s * (Z @ x.T) + s**2 * np.einsum("ij,ij->i", Z, Z)[:, None]
        v = _exp_minus_log_cost(sq)
        if shift is None:  # sums of v - (first block's mean): no cancellation
            shift = v.mean(axis=0)
        total += (v - shift).sum(axis=0)
        total_sq += ((v - shift) ** 2).sum(axis=0)
        done += len(Z)
    mean = total / done
    var = np.maximum(total_sq / done - mean**2, 0.0) * done / (done - 1)
    mean += shift
    return -np.log(mean), np.sqrt(var / done) / mean


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


def lqg(
    d: int, cost: str | None = None, a: float | None = None, T: float = 1.0
) -> SemilinearParabolicPDE:
    """Hamilton-Jacobi-Bellman equation of a linear-quadratic-Gaussian control.

    ``∂_t u + Δu - |∇u|² = 0``, ``u(T, x) = g(x)``: drift 0, ``σ = √2``,
    ``F(t, x, u, z) = -|z|²/2``, on the unit ball with ``T = 1`` as in the
    SCaSML paper. Two terminal costs:

    - ``cost="log"`` (the paper's): ``g(x) = log((1 + |x|²)/2)``; the exact
      solution ``u = -log E[2 / (1 + |x + √2 W_{T-t}|²)]`` (Cole-Hopf) is
      computed by a deterministic quadrature, to about ``1e-13``.
    - ``cost="quadratic"``: ``g(x) = a|x|²``, with the closed form
      ``u = (d/2) log(1 + 4aτ) + a|x|² / (1 + 4aτ)``, ``τ = T - t``.

    Parameters
    ----------
    d : int
        Spatial dimension.
    cost : {"log", "quadratic"} or None, default=None
        Terminal cost; ``None`` selects ``"quadratic"`` when ``a`` is given
        and ``"log"`` otherwise.
    a : float or None, default=None
        Weight of the quadratic cost (``1.0`` when ``None``), ``a > -1/(4T)``;
        only for ``cost="quadratic"``.
    T : float, default=1.0
        Terminal time, positive.

    Returns
    -------
    pde : SemilinearParabolicPDE
        With ``exact_solution`` and query domain the unit ball.

    Raises
    ------
    ValueError
        For an unknown ``cost``, ``a`` with ``cost="log"``, ``T <= 0`` or
        ``1 + 4aT <= 0``.

    See Also
    --------
    viscous_burgers, linear_convection_diffusion, diffusion_reaction

    Notes
    -----
    *Cole-Hopf.* With ``v = exp(-u)``: ``∂_t v = -v ∂_t u``, ``∇v = -v∇u``,
    ``Δv = v(|∇u|² - Δu)``, so ``∂_t v + Δv = -v(∂_t u + Δu - |∇u|²) = 0``
    with ``v(T, ·) = exp(-g)``; by Feynman-Kac,
    ``v(t, x) = E[exp(-g(x + √2 W_τ))]`` and ``u = -log v``.

    *Log cost.* ``exp(-g(y)) = 2/(1 + |y|²)`` and, with ``s = √(2τ)``,
    ``|x + sZ|² = (r + s z)² + s² C`` where ``r = |x|``, ``z ~ N(0, 1)`` and
    ``C ~ χ²_{d-1}`` are independent: ``v`` is a 2-d integral, computed with
    trapezoidal rules in ``z`` and in ``log(C/2)``, which converge
    geometrically (at most about ``10^4`` nodes, 0.3 ms, per point for
    ``T = 1``), and checked in the test suite against plain Monte Carlo in
    100 dimensions, an independent 1-d integral and the quadratic closed
    form. It is exact at ``t = T`` and continued analytically a little past
    ``T`` (about ``1e-3``), where finite differences step. Near ``T`` the
    solution varies on the time scale ``1/(4d)``. The exact solution takes
    numpy arrays only (a tensor raises ``TypeError``); the terminal value
    and the nonlinearity also take torch tensors.

    *Quadratic cost.* With ``c = a / (1 + 4aτ)``: ``∂_t u = -2dc + 4c²|x|²``,
    ``∇u = 2cx``, ``Δu = 2dc``, so ``∂_t u + Δu - |∇u|² = 0``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias.pde import lqg
    >>> pde = lqg(100)                            # the paper's log cost
    >>> X = np.zeros((2, 101))
    >>> X[1, 0] = 1.0                             # t = T: u = g(0) = log(1/2)
    >>> pde.exact_solution(X).round(6)
    array([ 4.590162, -0.693147])
    >>> lqg(100, cost="quadratic").exact_solution(np.zeros((1, 101))).round(4)
    array([80.4719])
    """
    d = _check_dim(d)
    if cost is None:
        cost = "log" if a is None else "quadratic"
    if cost not in ("log", "quadratic"):
        raise ValueError(f"cost must be 'log' or 'quadratic', got {cost!r}")
    if not (isinstance(T, numbers.Real) and np.isfinite(T) and T > 0):
        raise ValueError(f"lqg needs a finite terminal time T > 0, got T={T!r}")
    T = float(T)
    if cost == "log":
        if a is not None:
            raise ValueError(
                "a weighs the quadratic cost; pass cost='quadratic' with it "
                "(lqg(d, cost='log') takes no a)"
            )
        terminal = _LogTerminal()
        exact = _LogCostSolution(T=T, d=d)
    else:
        a = 1.0 if a is None else float(a)
        if not 1.0 + 4.0 * a * T > 0:
            raise ValueError(f"lqg needs 1 + 4 a T > 0, got a={a}, T={T}")
        terminal = _QuadraticTerminal(a=a)
        exact = _LQGSolution(a=a, T=T, d=d)

    return SemilinearParabolicPDE(
        drift=np.zeros(d),
        sigma=np.sqrt(2.0),
        nonlinearity=_HalfSquaredNorm(),
        terminal=terminal,
        T=T,
        domain=Ball(d),
        exact_solution=exact,
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
