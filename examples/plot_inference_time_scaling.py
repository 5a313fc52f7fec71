"""
Inference-time scaling: the debiased error falls with the simulation budget
===========================================================================

A surrogate's error is fixed once it is trained: more compute at inference
time does not improve it. SCaSML (Fan, Sun, Yang, Lu, arXiv:2504.16172)
spends inference-time compute on a Monte Carlo simulation of the surrogate's
*defect*, so the error keeps falling as the simulation budget grows, from the
surrogate's error downwards, and it falls further with a better surrogate.

Here, on the 20-dimensional viscous Burgers equation, with physics-informed
networks trained by :class:`~sklearn_debias.neural.PINNRegressor` on the PDE
alone (the SCaSML paper's 5 x 50 tanh network; the weights are shipped with
the example and made by ``examples/data/make_vb20_pinns.py``):

1. the relative L2 error against the number of simulated paths per point,
   for multilevel Picard at levels 1, 2 and 3, with a fitted slope;
2. the surrogate's and the debiased errors against the surrogate's training
   size (its number of collocation points), at the paper's setting (2 levels,
   10 paths per level).

Each debiased prediction comes with a standard error, and the fraction of
points whose interval covers the exact solution is printed.
"""

# %%
import os
import time
import warnings
from pathlib import Path

import joblib
import matplotlib.pyplot as plt
import numpy as np
from sklearn.frozen import FrozenEstimator

from sklearn_debias.pde import SimulationCalibratedRegressor, viscous_burgers

start = time.perf_counter()
pde = viscous_burgers(20)
try:
    here = Path(__file__).resolve().parent
except NameError:  # run cell by cell
    here = Path("examples").resolve()
SIZES = (16, 64, 256, 1024)
pinns = {n: joblib.load(here / "data" / f"pinn_vb20_n{n}.joblib") for n in SIZES}

X = pde.sample(40, random_state=0)  # query points (t, x_1, ..., x_20)
u = pde.exact_solution(X)


def rel_l2(pred):
    return np.linalg.norm(pred - u) / np.linalg.norm(u)


def debiased(pinn, levels, n_paths, seed=0):
    reg = SimulationCalibratedRegressor(
        FrozenEstimator(pinn),
        pde,
        method="mlp",
        levels=levels,
        n_paths=n_paths,
        random_state=seed,
    ).fit(X)  # no labels: the frozen PINN is the surrogate
    with warnings.catch_warnings():
        # At one level the estimator warns that the nonlinearity is frozen
        # at the surrogate: the floor of that curve below is what it means.
        warnings.filterwarnings("ignore", message="levels=1 evaluates")
        return reg.predict(X, return_std=True)


# %%
# 1. Error against the simulation budget
# --------------------------------------
# The budget is the number of terminal paths per point, ``M**levels``. At
# level 1 the nonlinearity is evaluated at the surrogate only, so the error
# stops at a floor set by the surrogate's error squared; levels 2 and 3 keep
# falling.
pinn = pinns[1024]
surrogate_error = rel_l2(pinn.predict(X))
budgets = {1: (4, 16, 64, 256, 1024), 2: (2, 4, 8, 16, 32), 3: (2, 3, 4, 6)}
curves = {}
for levels, paths in budgets.items():
    errors, covered = [], []
    for M in paths:
        pred, std = debiased(pinn, levels, M)
        errors.append(rel_l2(pred))
        covered.append(np.mean(np.abs(pred - u) <= 1.96 * std))
    curves[levels] = (np.array(paths) ** levels, np.array(errors))
    print(
        f"levels={levels}: errors {np.round(errors, 6)}, interval coverage "
        f"{np.round(covered, 2)}"
    )

budget, errors = curves[2]
slope, intercept = np.polyfit(np.log(budget), np.log(errors), 1)
print(f"surrogate error {surrogate_error:.2e}; level-2 slope {slope:.2f}")

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
for levels, (b, e) in curves.items():
    ax1.loglog(b, e, "o-", label=f"SCaSML, {levels} level{'s' * (levels > 1)}")
ax1.loglog(
    budget,
    np.exp(intercept) * budget**slope,
    "k:",
    label=f"fit, level 2: slope {slope:.2f}",
)
ax1.axhline(surrogate_error, color="gray", ls="--", label="PINN alone")
ax1.set_xlabel("simulated paths per point (M ** levels)")
ax1.set_ylabel("relative L2 error")
ax1.set_title("Viscous Burgers 20-d: inference-time scaling")
ax1.legend(fontsize=8)

# %%
# 2. Error against the surrogate's training size
# ----------------------------------------------
# Better surrogates leave smaller defects, and the simulation's error is
# proportional to the defect: the debiased error falls with the training
# size at least as fast as the surrogate's, about an order of magnitude below
# it at the paper's 2 levels and 10 paths.
sur, deb = [], []
for n in SIZES:
    sur.append(rel_l2(pinns[n].predict(X)))
    deb.append(rel_l2(debiased(pinns[n], 2, 10)[0]))
sizes = np.array(SIZES)
s_slope = np.polyfit(np.log(sizes), np.log(sur), 1)[0]
d_slope = np.polyfit(np.log(sizes), np.log(deb), 1)[0]
print(f"surrogate errors {np.round(sur, 5)} (slope {s_slope:.2f})")
print(f"debiased errors  {np.round(deb, 5)} (slope {d_slope:.2f})")
ax2.loglog(sizes, sur, "s--", color="gray", label=f"PINN alone: slope {s_slope:.2f}")
ax2.loglog(sizes, deb, "o-", label=f"SCaSML (2 levels, M=10): slope {d_slope:.2f}")
ax2.set_xlabel("PINN collocation points")
ax2.set_ylabel("relative L2 error")
ax2.set_title("... and with the surrogate's training size")
ax2.legend(fontsize=8)
fig.tight_layout()

# %%
# Run as a script, the figure is saved in ``examples/figures/`` (or in
# ``$SKLEARN_DEBIAS_FIGURE_DIR``).
figure_dir = Path(os.environ.get("SKLEARN_DEBIAS_FIGURE_DIR", here / "figures"))
figure_dir.mkdir(parents=True, exist_ok=True)
fig.savefig(figure_dir / "plot_inference_time_scaling.png", dpi=100)
print(f"total time {time.perf_counter() - start:.1f} s")
