"""Full-history multilevel Picard (MLP) for semilinear parabolic PDEs.

For ``∂_t u + μ·∇u + (σ²/2)Δu + F(t, x, u, σ∇u) = 0``, ``u(T) = g``, with the
forward process ``X_s = x + μ(s - t) + σ(W_s - W_t)`` (sampled exactly), the
pair ``(u, z) = (u, σ∇u)`` satisfies the fixed-point equation

    (u, z)(t, x) = E[g(X_T) (1, ΔW_{t,T}/(T - t))]
                   + E ∫_t^T F(s, X_s, u, z)(1, ΔW_{t,s}/(s - t)) ds,

the gradient part by the Bismut-Elworthy-Li formula. MLP (Hutzenthaler,
Jentzen, Kruse, Nguyen, von Wurstemberger) telescopes the Picard iterations:
``U_0 = 0`` and

    U_n = mean over M^n paths of g(X_T)(1, ΔW/(T - t))
          + Σ_{l<n} mean over M^{n-l} draws of
            w(R) (1, ΔW_{t,R}/(R - t)) [F(U_l) - 1[l>0] F(U_{l-1})](R, X_R),

every recursive ``U_l``, ``U_{l-1}`` with its own independent random stream
(spawned ``SeedSequence``). The time ``R = t + (T - t)τ`` is drawn with density
``∝ τ^{-1/2}`` (``τ = V²``, weight ``w = 2√τ (T - t)``): with uniform ``τ`` the
gradient weight ``ΔW/(R - t)`` has infinite variance. The gradient of the
terminal term uses ``g(X_T) - g(x)`` (``E[ΔW] = 0``), a free control variate.
"""

import numpy as np

from ..utils import check_seed_sequence

__all__ = ["multilevel_picard"]


def _mean_and_variance(terms):
    """Mean over axis 1 and the variance of that mean (NaN from one sample)."""
    k = terms.shape[1]
    if k == 1:
        return terms[:, 0], np.full(terms[:, 0].shape, np.nan)
    return terms.mean(axis=1), terms.var(axis=1, ddof=1) / k


def _noise_bias(F, u, z, u_var, z_var, rng):
    """``E F(u + δu, z + δz) - F(u, z)`` for noise of variances ``u_var, z_var``.

    To second order this is half the Hessian of ``F`` weighted by the
    variances; one Rademacher probe ``v`` per point estimates it without
    bias: ``(F(w + s v) + F(w - s v) - 2 F(w)) / 2`` with ``s`` the standard
    deviations (exact for ``F`` quadratic, as ``-|z|²/2``).
    """
    su = np.sqrt(np.nan_to_num(u_var))
    sz = np.sqrt(np.nan_to_num(z_var))
    v0 = rng.choice(np.array([-1.0, 1.0]), size=u.shape)
    v = rng.choice(np.array([-1.0, 1.0]), size=z.shape)
    return 0.5 * (F(u + su * v0, z + sz * v) + F(u - su * v0, z - sz * v)) - F(u, z)


def _gradient_mean(terms, dW, with_variance):
    """Mean over axis 1 of ``terms * dW`` and, if asked, its variance (else None)."""
    if with_variance:
        return _mean_and_variance(terms[:, :, None] * dW)
    return np.einsum("nk,nkd->nd", terms, dW) / terms.shape[1], None


def _level(level, t, x, problem, n_paths, seed, bias=False, z_variance=False):
    """``(U, Z)`` of a level at the points, their variances, and a bias estimate.

    Returns ``U``, ``Z``, the variance of ``U``, the (componentwise) variance of
    ``Z`` (only with ``z_variance=True``, else None: it costs an array of
    ``(points, samples, d)``) and, with ``bias=True``, an estimate of the bias
    that the noise of the level below puts into the nonlinearity (else zeros).
    """
    n, d = x.shape
    if level == 0:
        return np.zeros(n), np.zeros((n, d)), np.zeros(n), np.zeros((n, d)), 0.0
    drift, sigma, T = problem["drift"], problem["sigma"], problem["T"]
    horizon = T - t
    live = horizon > 0
    horizon = np.where(live, horizon, 1.0)
    # The last child seeds the bias probe, so the others are those of a run
    # without it.
    seeds = seed.spawn(2 + 3 * level)

    # Terminal term: M^level exact paths to T.
    rng = np.random.default_rng(seeds[0])
    k = n_paths**level
    dW = rng.standard_normal((n, k, d)) * np.sqrt(horizon)[:, None, None]
    xT = x[:, None, :] + drift * horizon[:, None, None] + sigma * dW
    gT = problem["terminal"](xT.reshape(-1, d)).reshape(n, k)
    g0 = problem["terminal"](x)
    U, variance = _mean_and_variance(gT)
    Z, z_var_total = _gradient_mean(
        (gT - g0[:, None]) / horizon[:, None], dW, z_variance
    )
    noise_bias = np.zeros(n)

    # Picard corrections, level by level.
    for l in range(level):
        rng = np.random.default_rng(seeds[1 + 3 * l])
        k = n_paths ** (level - l)
        tau = (1.0 - rng.random((n, k))) ** 2  # in (0, 1], density ∝ τ^{-1/2}
        ds = horizon[:, None] * tau
        dW = rng.standard_normal((n, k, d)) * np.sqrt(ds)[:, :, None]
        xR = x[:, None, :] + drift * ds[:, :, None] + sigma * dW
        tR = np.minimum((t[:, None] + ds).reshape(-1), T)
        xR = xR.reshape(-1, d)
        F = problem["generator"](tR, xR)
        weight = 2.0 * np.sqrt(tau) * horizon[:, None]
        if l == 0:
            diff = F(np.zeros(n * k), np.zeros((n * k, d)))
        else:
            probe_noise = bias and l == level - 1  # the top correction's
            u_hi, z_hi, u_var, z_var, _ = _level(
                l, tR, xR, problem, n_paths, seeds[2 + 3 * l], z_variance=probe_noise
            )
            u_lo, z_lo, *_ = _level(l - 1, tR, xR, problem, n_paths, seeds[3 + 3 * l])
            diff = F(u_hi, z_hi) - F(u_lo, z_lo)
            if probe_noise:
                rng = np.random.default_rng(seeds[-1])
                probe = _noise_bias(F, u_hi, z_hi, u_var, z_var, rng)
                noise_bias = (weight * probe.reshape(n, k)).mean(axis=1)
        terms = weight * diff.reshape(n, k)
        mean, var = _mean_and_variance(terms)
        U += mean
        variance += var
        z_mean, z_var = _gradient_mean(terms / ds, dW, z_variance)
        Z += z_mean
        if z_variance:
            z_var_total += z_var

    if not np.all(live):  # points at t = T: the terminal value itself
        U = np.where(live, U, g0)
        Z[~live] = 0.0
        variance[~live] = 0.0
        if z_variance:
            z_var_total[~live] = 0.0
        noise_bias[~live] = 0.0
    return U, Z, variance, z_var_total, noise_bias


def multilevel_picard(
    t,
    x,
    *,
    drift,
    sigma,
    T,
    terminal,
    generator,
    levels,
    n_paths,
    seed,
    return_bias=False,
):
    """Full-history multilevel Picard estimate of ``(u, σ∇u)`` at points.

    Parameters
    ----------
    t : ndarray of shape (n_points,)
        Times, ``t <= T``.
    x : ndarray of shape (n_points, d)
        Space points.
    drift : ndarray of shape (d,)
        Constant drift ``μ``.
    sigma : float
        Constant diffusion coefficient ``σ``.
    T : float
        Terminal time.
    terminal : callable
        ``terminal(x) -> (m,)``.
    generator : callable
        ``generator(t, x)`` returns a function ``F(u, z) -> (m,)`` of the value
        and ``z = σ∇u`` at those ``m`` points, so that work that does not depend
        on ``(u, z)`` (a surrogate's derivatives) is done once per point.
    levels : int
        Picard level ``n`` (``n = 1`` is plain Feynman-Kac, exact in law when
        ``F`` does not depend on ``(u, z)``).
    n_paths : int
        Samples per level ``M``.
    seed : numpy.random.SeedSequence, int or None
        Root of the independent random streams (any ``random_state`` that
        :func:`sklearn_debias.utils.check_seed_sequence` accepts); every
        level and recursive call spawns its own child.

    return_bias : bool, default=False
        Also return an estimate of the bias that the noise of the recursive
        estimates puts into a nonlinear ``F`` (``E F(U + noise) ≠ F(U)``): with
        a nonlinearity quadratic in the gradient in high dimension the
        Bismut-Elworthy-Li gradient estimates are noisy and their squares bias
        the result by far more than its standard error.

    Returns
    -------
    u : ndarray of shape (n_points,)
    z : ndarray of shape (n_points, d)
        Estimate of ``σ∇u``.
    stderr : ndarray of shape (n_points,)
        Standard error of ``u`` (the top-level terms are independent means).
    noise_bias : ndarray of shape (n_points,)
        Only with ``return_bias``: the estimated bias of ``u`` from the noise of
        the top correction's inner estimates (second order in that noise,
        one Rademacher probe per sample; zero for ``levels < 2``).
    """
    problem = {
        "drift": drift,
        "sigma": sigma,
        "T": T,
        "terminal": terminal,
        "generator": generator,
    }
    u, z, variance, _, noise_bias = _level(
        levels, t, x, problem, n_paths, check_seed_sequence(seed), bias=return_bias
    )
    if return_bias:
        return u, z, np.sqrt(variance), noise_bias
    return u, z, np.sqrt(variance)
