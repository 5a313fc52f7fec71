"""
A design margin: the 90th percentile of a simulator's output
=============================================================

Engineers size a system for a high percentile of an uncertain output, not
for its mean. Here the simulator is the borehole model, a classic test
function for computer experiments: the flow of water through a borehole
between two aquifers, in m^3/yr, as a function of eight uncertain inputs
(radius of the borehole and of influence, transmissivities, heads, length,
conductivity). We want its 90th percentile under the inputs' distribution,
from a few dozen runs.

The empirical percentile of ``n`` runs is unbiased in the limit but noisy;
a surrogate's percentile is precise but biased.
:class:`~sklearn_debias.DebiasedFunctionalEstimator` with
:class:`~sklearn_debias.Quantile` debiases the surrogate's distribution
function with the runs, and reports a standard error.
"""

import time

import matplotlib.pyplot as plt
import numpy as np

from sklearn_debias import DebiasedFunctionalEstimator, Quantile


def sample_inputs(n, rng):
    """The borehole model's input distribution (Harper and Gupta, 1983)."""
    return np.column_stack(
        [
            rng.normal(0.10, 0.0161812, n),  # rw: borehole radius (m)
            rng.lognormal(7.71, 1.0056, n),  # r: radius of influence (m)
            rng.uniform(63_070, 115_600, n),  # Tu: upper transmissivity
            rng.uniform(990, 1110, n),  # Hu: upper head (m)
            rng.uniform(63.1, 116, n),  # Tl: lower transmissivity
            rng.uniform(700, 820, n),  # Hl: lower head (m)
            rng.uniform(1120, 1680, n),  # L: borehole length (m)
            rng.uniform(9855, 12_045, n),  # Kw: conductivity (m/yr)
        ]
    )


def borehole(X):
    rw, r, Tu, Hu, Tl, Hl, L, Kw = X.T
    log_ratio = np.log(r / rw)
    return (2 * np.pi * Tu * (Hu - Hl)) / (
        log_ratio * (1 + 2 * L * Tu / (log_ratio * rw**2 * Kw) + Tu / Tl)
    )


# %%
# The truth, from a million runs (affordable only because this simulator is
# a formula).
truth = np.quantile(borehole(sample_inputs(1_000_000, np.random.default_rng(0))), 0.9)
print(f"true 90th percentile: {truth:.6g}")

# %%
# Debiased and empirical 90th percentiles from n runs. The default surrogate
# is a Gaussian process; ``sampler`` draws the cheap inputs it is evaluated
# on.
rows = []
for n in (50, 100, 150):
    rng = np.random.default_rng(n)
    X = sample_inputs(n, rng)
    y = borehole(X)  # the expensive runs
    start = time.perf_counter()
    est = DebiasedFunctionalEstimator(
        functional=Quantile(0.9),
        sampler=sample_inputs,
        n_samples=20_000,
        random_state=0,
    ).fit(X, y)
    rows.append(
        (
            n,
            est.estimate_,
            est.standard_error_,
            est.naive_estimate_,
            est.naive_standard_error_,
        )
    )
    print(f"n = {n}: {time.perf_counter() - start:.1f} s")
    print(est.summary())

# %%
# The debiased percentile and its 95% interval against the empirical one.
rows = np.array(rows)
fig, ax = plt.subplots(figsize=(6, 4))
offset = 3
ax.errorbar(
    rows[:, 0] - offset,
    rows[:, 3],
    yerr=1.96 * rows[:, 4],
    fmt="o",
    capsize=3,
    label="empirical percentile of the runs",
)
ax.errorbar(
    rows[:, 0] + offset,
    rows[:, 1],
    yerr=1.96 * rows[:, 2],
    fmt="s",
    capsize=3,
    label="debiased (Gaussian process surrogate)",
)
ax.axhline(truth, color="k", lw=1, ls="--", label="truth (10^6 runs)")
ax.set_xlabel("simulator runs n")
ax.set_ylabel("90th percentile of the flow (m^3/yr)")
ax.set_xticks(rows[:, 0])
ax.legend()
fig.tight_layout()
plt.show()
