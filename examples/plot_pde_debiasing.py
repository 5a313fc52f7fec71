"""
==========================================================
Debiasing a neural PDE surrogate by simulation (SCaSML)
==========================================================

A neural network fitted to the solution of a 20-dimensional viscous
Burgers-type equation is fast to evaluate but keeps an error that more compute
at inference does not remove. :class:`~sklearn_debias.pde.SimulationCalibratedRegressor`
corrects it point by point: the error ``u - û`` solves a *defect equation*
whose source is the network's PDE residual (computed exactly by autograd), and
multilevel Picard simulation of that equation is cheap because its solution is
small.

We compare three predictions at 100 query points ``(t, x)``:

* the surrogate alone,
* plain multilevel Picard (MLP) on the PDE itself (2 levels, 10 paths),
* SCaSML: the surrogate plus multilevel Picard on the defect equation (same
  budget).
"""

# %%
# The equation and a surrogate
# ----------------------------
# ``viscous_burgers(20)`` has the exact solution ``1 / (1 + exp(-(t + Σx)))``.
# The surrogate is trained on exact values at 1000 random points (standing in
# for a PDE solver's output or a PINN). With torch and skorch installed it is a
# skorch network (:class:`~sklearn_debias.neural.MLPSurrogate`); otherwise a
# scikit-learn ``MLPRegressor`` with a smooth activation.
import os
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.dummy import DummyRegressor
from sklearn.frozen import FrozenEstimator

from sklearn_debias.pde import SimulationCalibratedRegressor, viscous_burgers

pde = viscous_burgers(20)
X_train = pde.sample(1000, random_state=0)
y_train = pde.exact_solution(X_train)
X_query = pde.sample(100, random_state=1)
u_query = pde.exact_solution(X_query)

try:
    import skorch  # noqa: F401
    import torch  # noqa: F401

    from sklearn_debias.neural import MLPSurrogate

    surrogate = MLPSurrogate(
        hidden_layer_sizes=(32, 32),
        optimizer="lbfgs",
        lr=1.0,
        max_epochs=6,
        batch_size=1000,
        random_state=0,
    )
except ImportError:
    from sklearn.neural_network import MLPRegressor

    surrogate = MLPRegressor(
        hidden_layer_sizes=(32, 32),
        activation="tanh",
        solver="lbfgs",
        max_iter=300,
        random_state=0,
    )

start = time.perf_counter()
surrogate.fit(X_train, y_train)
print(f"{type(surrogate).__name__} trained in {time.perf_counter() - start:.1f} s")


def relative_l2(pred):
    return np.linalg.norm(pred - u_query) / np.linalg.norm(u_query)


# %%
# Debiasing at inference time
# ---------------------------
# The fitted network is passed through :class:`~sklearn.frozen.FrozenEstimator`
# so that ``fit`` does not train it again. Plain multilevel Picard is the same
# simulation with a zero surrogate.
scasml = SimulationCalibratedRegressor(
    FrozenEstimator(surrogate), pde, method="mlp", levels=2, n_paths=10, random_state=0
).fit(X_train, y_train)
start = time.perf_counter()
y_scasml, y_std = scasml.predict(X_query, return_std=True)
t_scasml = time.perf_counter() - start

plain = SimulationCalibratedRegressor(
    DummyRegressor(strategy="constant", constant=0.0),
    pde,
    method="mlp",
    levels=2,
    n_paths=10,
    random_state=0,
).fit(X_train, y_train)
y_plain = plain.predict(X_query)
y_surrogate = surrogate.predict(X_query)

errors = {
    "surrogate": relative_l2(y_surrogate),
    "plain MLP": relative_l2(y_plain),
    "SCaSML": relative_l2(y_scasml),
}
for name, err in errors.items():
    print(f"{name:>10}: relative L2 error {err:.2e}")
print(f"SCaSML: {t_scasml / len(X_query) * 1e3:.1f} ms per point")

# %%
# The debiased error is about the surrogate's error times the relative Monte
# Carlo error, and the reported standard errors track the actual errors.
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
err_sur = np.abs(y_surrogate - u_query)
err_deb = np.abs(y_scasml - u_query)
ax = axes[0]
ax.loglog(err_sur, err_deb, "o", alpha=0.6, label="query points")
lims = [min(err_sur.min(), err_deb.min()), max(err_sur.max(), err_deb.max())]
ax.loglog(lims, lims, "k--", lw=1, label="no improvement")
ax.set_xlabel("|surrogate error|")
ax.set_ylabel("|SCaSML error|")
ax.set_title("Per-point error")
ax.legend()

ax = axes[1]
ax.bar(list(errors), list(errors.values()), color=["C0", "C1", "C2"])
ax.set_yscale("log")
ax.set_ylabel("relative L2 error")
ax.set_title("Viscous Burgers, d = 20 (2 levels, 10 paths)")
fig.tight_layout()

# %%
# Coverage of the Monte Carlo standard error: the fraction of points whose
# error is within two reported standard errors (the surrogate's own error is
# not random, so this only checks the simulation).
print(f"within 2 s.e.: {np.mean(err_deb <= 2 * y_std):.0%}")

# %%
# Run as a script, the figure is saved in ``examples/figures/`` (or in
# ``$SKLEARN_DEBIAS_FIGURE_DIR``).
try:
    figure_dir = Path(__file__).resolve().parent / "figures"
except NameError:  # sphinx-gallery runs examples from their folder, without __file__
    figure_dir = Path("figures")
figure_dir = Path(os.environ.get("SKLEARN_DEBIAS_FIGURE_DIR", figure_dir))
figure_dir.mkdir(parents=True, exist_ok=True)
fig.savefig(figure_dir / "plot_pde_debiasing.png", dpi=100)
print(f"figure saved to {figure_dir / 'plot_pde_debiasing.png'}")
