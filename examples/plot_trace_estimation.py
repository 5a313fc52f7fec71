"""
=====================================================
Trace estimation: error versus matrix-vector products
=====================================================

The trace of a matrix known only through products ``A @ x`` (a Hessian, a
kernel matrix, a PDE operator) can be estimated without ever forming ``A``.
Hutchinson's estimator averages ``x^T A x`` over random probes: unbiased, but
its error decays like ``1 / sqrt(m)`` in the number ``m`` of products.

The debiased estimators spend part of the budget on a randomized low-rank
sketch ``A_hat`` that captures the top of the spectrum exactly, and use the
rest for Hutchinson on ``A - A_hat``, whose variance is tiny when the spectrum
decays: the sketch is a control variate. Their error decays like ``1 / m``
(Hutch++, Nyström++) or faster (XTrace, XNysTrace, which reuse every probe
for both parts by leave-one-out).

We plot the median relative error of every method of
:func:`sklearn_debias.linalg.trace` against the budget, for matrices with
polynomial (``i^-2``) and exponential (``exp(-i / 10)``) spectral decay.
"""

import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from threadpoolctl import threadpool_limits

from sklearn_debias.linalg import trace

n = 400
rng = np.random.default_rng(0)
V = np.linalg.qr(rng.standard_normal((n, n)))[0]
i = np.arange(1, n + 1)
spectra = {
    "polynomial decay, $\\lambda_i = i^{-2}$": i**-2.0,
    "exponential decay, $\\lambda_i = e^{-i/10}$": np.exp(-i / 10),
}
methods = ["hutchinson", "hutch++", "na-hutch++", "nystrom++", "xtrace", "xnystrace"]
budgets = [12, 24, 48, 96, 192]
n_seeds = 12

fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
# The products are small (400 x 400): one BLAS thread is fastest and avoids
# oversubscribing a busy machine.
with threadpool_limits(limits=1):
    for ax, (title, eigvals) in zip(axes, spectra.items()):
        A = (V * eigvals) @ V.T
        truth = np.trace(A)
        for method in methods:
            errors = [
                np.median(
                    [
                        abs(trace(A, m, method=method, random_state=s).estimate - truth)
                        / truth
                        for s in range(n_seeds)
                    ]
                )
                for m in budgets
            ]
            ax.loglog(budgets, errors, "o-", label=method)
        ax.set_title(title)
        ax.set_xlabel("matrix-vector products")
        ax.set_xticks(budgets, [str(b) for b in budgets])
        ax.minorticks_off()
        ax.grid(True, which="both", alpha=0.3)
axes[0].set_ylabel("median relative error")
axes[1].legend(loc="lower left")
fig.suptitle(f"Trace estimation, n = {n}, median over {n_seeds} seeds")
fig.tight_layout()

# %%
# Every method is unbiased, and each returns a standard error: the sample
# standard error of its Hutchinson part, or the leave-one-out error estimate
# of XTrace, which gives a confidence interval.

A = (V * i**-2.0) @ V.T
result = trace(A, n_matvecs=100, method="xtrace", random_state=0)
low, high = result.confidence_interval(0.95)
print(f"tr(A) = {np.trace(A):.6f}")
print(
    f"XTrace: {result.estimate:.6f} +- {result.standard_error:.1e} "
    f"({result.n_matvecs} products), 95% CI [{low:.6f}, {high:.6f}]"
)

# %%
# Run as a script, the figure is saved in ``examples/figures/`` (or in
# ``$SKLEARN_DEBIAS_FIGURE_DIR``).
try:
    figure_dir = Path(__file__).resolve().parent / "figures"
except NameError:  # sphinx-gallery runs examples from their folder, without __file__
    figure_dir = Path("figures")
figure_dir = Path(os.environ.get("SKLEARN_DEBIAS_FIGURE_DIR", figure_dir))
figure_dir.mkdir(parents=True, exist_ok=True)
fig.savefig(figure_dir / "plot_trace_estimation.png", dpi=100)
print(f"figure saved to {figure_dir / 'plot_trace_estimation.png'}")
