"""
============================================================
Top-k SVD: block Krylov, EPSI, and tracking a drifting basis
============================================================

A randomized SVD (sketch-and-solve) takes the SVD of a sketch of ``A``; its
error is set by the sketch and shrinks only through power iterations. Two
iterative alternatives reach any accuracy, stopping on the residual of each
singular triplet:

* **block Krylov** (block Lanczos with Rayleigh-Ritz), the default of
  :func:`~sklearn_debias.decomposition.sketched_svd`;
* **EPSI**, Error-Powered Sketched Inverse Iteration (Xu and Lu, 2025):
  inverse iteration on the *error* of a Nyström sketch ``Ahat`` of ``A^T A``,
  ``u <- normalize((Ahat - lambda)^{-1} (Ahat - A^T A) u)``. Its fixed point
  is exact for every sketch and it contracts faster as the sketch grows.

Part 1 plots the subspace error against the number of products with ``A``
for ``randomized_svd``, block Krylov, ARPACK and EPSI, on a matrix with a gap
after ``k`` and on one with slow (``1/i``) decay. Part 2 measures EPSI's
contraction against the sketch size. Part 3 tracks the leading modes of a
drifting snapshot matrix with ``partial_fit`` (warm-started EPSI on a
sliding window) against a cold refit on the same window.
"""

import os
import time
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import scipy.linalg
from scipy.sparse.linalg import LinearOperator, svds
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from sklearn_debias._randnla._eigen import lazy_epsi
from sklearn_debias.decomposition import SketchedTruncatedSVD, sketched_svd
from sklearn_debias.decomposition._sketched_svd import _Gram, _RectangularOperator

t_start = time.perf_counter()
threadpool_limits(1)
# The convergence curves below are traced by capping the iterations of runs
# whose tolerance (1e-15) is out of reach on purpose: each capped run warns
# that it did not converge, which is expected here. Nothing else is silenced.
warnings.filterwarnings("ignore", category=ConvergenceWarning)
rng = np.random.default_rng(0)
m, n, k = 2000, 300, 10
U0 = np.linalg.qr(rng.standard_normal((m, n)))[0]
V0 = np.linalg.qr(rng.standard_normal((n, n)))[0]
i = np.arange(1, n + 1, dtype=float)
spectra = {
    "gap after k": np.where(i <= k, 1.0 - 0.03 * (i - 1), 0.5 / (1 + 0.01 * (i - k))),
    "slow decay, $s_i = 1/i$": 1.0 / i,
}


def sin_angle(Vt):
    P = V0[:, :k]
    W = np.linalg.qr(Vt[:k].T)[0]
    return max(np.linalg.norm(W - P @ (P.T @ W), 2), 1e-16)


def counted(A):
    count = [0]

    def mv(X):
        X = X.reshape(A.shape[1], -1)
        count[0] += X.shape[1]
        return A @ X

    def rmv(Y):
        Y = Y.reshape(A.shape[0], -1)
        count[0] += Y.shape[1]
        return A.T @ Y

    op = LinearOperator(
        A.shape, matvec=mv, rmatvec=rmv, matmat=mv, rmatmat=rmv, dtype=float
    )
    return op, count


# %%
# Part 1: subspace error against products with A
# -----------------------------------------------
fig1, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
for ax, (label, s) in zip(axes, spectra.items()):
    A = (U0 * s) @ V0.T
    curves = {}
    curves["randomized_svd"] = [
        (
            (2 * q + 2) * (k + 10),
            sin_angle(
                sketched_svd(A, k, method="randomized", max_iter=q, random_state=0).Vt
            ),
        )
        for q in range(1, 16, 2)
    ]
    curves["block Krylov (default)"] = [
        (r.n_matvecs, sin_angle(r.Vt))
        for r in (
            sketched_svd(A, k, tol=1e-15, max_iter=q, random_state=0)
            for q in range(1, 14)
        )
    ]
    curves["EPSI (sketch 4k)"] = [
        (r.n_matvecs, sin_angle(r.Vt))
        for r in (
            sketched_svd(
                A,
                k,
                method="epsi",
                tol=1e-15,
                max_iter=q,
                sketch_size=4 * k,
                random_state=0,
            )
            for q in range(1, 40, 3)
        )
    ]
    arpack = []
    for tol in [1e-1, 1e-2, 1e-4, 1e-6, 1e-8, 1e-10, 0]:
        op, count = counted(A)
        _, _, Vt = svds(op, k, tol=tol, random_state=0)
        arpack.append((count[0], sin_angle(Vt)))
    curves["ARPACK (svds)"] = sorted(arpack)
    for name, pts in curves.items():
        x, y = zip(*pts)
        ax.semilogy(x, y, "o-", ms=3, label=name)
    ax.set_title(f"{m} x {n}, {label}, k = {k}")
    ax.set_xlabel("products with A or A.T")
    ax.set_xlim(0, 1000)
axes[0].set_ylabel("sin of top-k subspace angle")
axes[0].legend()
fig1.tight_layout()

# %%
# On a fixed matrix whose products are cheap, Lanczos-type methods (ARPACK,
# block Krylov) need the fewest products; block Krylov does them in blocks,
# which a BLAS runs several times faster per vector than ARPACK's one at a
# time. EPSI pays for its sketch up front and then contracts linearly.
#
# Part 2: EPSI's contraction against the sketch size
# --------------------------------------------------
# The rate per iteration (geometric mean of successive residual ratios)
# against the sketch size ``r`` on the ``1/i`` matrix: it improves at least
# linearly, as the paper claims.
A = (U0 * spectra["slow decay, $s_i = 1/i$"]) @ V0.T
sizes = [2 * k, 4 * k, 8 * k, 16 * k]
fig2, (ax_h, ax_r) = plt.subplots(1, 2, figsize=(11, 4))
rates = []
for r in sizes:
    _, _, info = lazy_epsi(
        _Gram(_RectangularOperator(A)),
        k,
        sketch_size=r,
        tol=1e-13,
        max_iter=60,
        rng=0,
        adaptive=False,
        residual_scale="svd",
        warn=False,
    )
    h = info["residual_history"]
    ax_h.semilogy(h, label=f"r = {r}")
    rates.append((h[-1] / h[0]) ** (1 / (len(h) - 1)))
ax_h.set_xlabel("iteration")
ax_h.set_ylabel("largest residual")
ax_h.legend()
ax_r.loglog(sizes, rates, "o-", label="measured rate")
ax_r.loglog(sizes, rates[0] * sizes[0] / np.array(sizes), "k--", label="1 / r")
ax_r.set_xlabel("sketch size r")
ax_r.set_ylabel("contraction per iteration")
ax_r.legend()
fig2.tight_layout()
print(
    "EPSI contraction per iteration:",
    ", ".join(f"r={r}: {q:.3f}" for r, q in zip(sizes, rates)),
)

# %%
# Part 3: tracking a drifting snapshot matrix
# -------------------------------------------
# 20 blocks of 2000 rows from a rank-20 subspace that rotates slowly, plus
# noise; a window of the last 10 000 rows. ``partial_fit`` updates the basis
# by warm-started EPSI (its products with the old basis updated from the
# changed rows only); the reference is a cold refit on the same window. The
# error is measured against the subspace that generated the current block.
n_feat, k2, rows, window = 300, 20, 2000, 10_000
B = np.linalg.qr(rng.standard_normal((n_feat, n_feat)))[0][:, :k2]
S = rng.standard_normal((n_feat, n_feat))
R = scipy.linalg.expm(0.02 * (S - S.T) / np.linalg.norm(S - S.T, 2))
scales = np.linspace(3, 1, k2)


def sub_err(Vt, P):
    return np.linalg.norm(Vt.T - P @ (P.T @ Vt.T), 2)


online = SketchedTruncatedSVD(k2, window=window, random_state=0)
win = None
t_warm = t_cold = 0.0
err_warm, err_cold = [], []
for t in range(20):
    X = (rng.standard_normal((rows, k2)) * scales) @ B.T
    X += 0.05 * rng.standard_normal((rows, n_feat))
    t0 = time.perf_counter()
    online.partial_fit(X)
    dt_warm = time.perf_counter() - t0
    win = X if win is None else np.vstack([win, X])[-window:]
    t0 = time.perf_counter()
    cold = SketchedTruncatedSVD(k2, random_state=t).fit(win)
    dt_cold = time.perf_counter() - t0
    if t > 0:  # the first call is a fit in both cases
        t_warm += dt_warm
        t_cold += dt_cold
    err_warm.append(sub_err(online.components_, B))
    err_cold.append(sub_err(cold.components_, B))
    B = R @ B
exact = np.linalg.svd(win, full_matrices=False)[2][:k2]
print(
    f"partial_fit: {t_warm:.2f} s in total, cold refits {t_cold:.2f} s "
    f"(ratio {t_warm / t_cold:.2f})"
)
print(
    f"error vs generating subspace, last block: warm {err_warm[-1]:.2e}, "
    f"cold {err_cold[-1]:.2e}; worst ratio "
    f"{max(w / c for w, c in zip(err_warm, err_cold)):.2f}"
)
print(
    f"error vs the window's exact SVD, last block: warm "
    f"{sub_err(online.components_, exact.T):.1e}, cold "
    f"{sub_err(cold.components_, exact.T):.1e}"
)
fig3, ax = plt.subplots(figsize=(6, 4))
ax.semilogy(err_warm, "o-", label=f"partial_fit (warm EPSI), {t_warm:.1f} s")
ax.semilogy(err_cold, "s--", label=f"cold refit on the window, {t_cold:.1f} s")
ax.set_xlabel("block")
ax.set_ylabel("sin angle to generating subspace")
ax.legend()
fig3.tight_layout()

# %%
# Saving the figures
# ------------------
# Run as a script, the figures are saved in ``examples/figures/`` (or in
# ``$SKLEARN_DEBIAS_FIGURE_DIR``).
try:
    figure_dir = Path(__file__).resolve().parent / "figures"
except NameError:  # sphinx-gallery runs examples from their folder, without __file__
    figure_dir = Path("figures")
figure_dir = Path(os.environ.get("SKLEARN_DEBIAS_FIGURE_DIR", figure_dir))
figure_dir.mkdir(parents=True, exist_ok=True)
for name, fig in [("matvecs", fig1), ("sketch_size", fig2), ("online", fig3)]:
    fig.savefig(figure_dir / f"plot_lowrank_epsi_{name}.png", dpi=100)
print(f"figures saved to {figure_dir}")
print(f"done in {time.perf_counter() - t_start:.1f} s")
