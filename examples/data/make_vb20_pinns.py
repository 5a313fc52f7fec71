"""Train the viscous-Burgers (20-d) PINNs shipped with the scaling example.

``python examples/data/make_vb20_pinns.py`` rewrites ``pinn_vb20_n*.joblib``
beside this file: one :class:`~sklearn_debias.neural.PINNRegressor` (the SCaSML
paper's 5 x 50 tanh network) per training size, i.e. per number of fixed
collocation points (``resample=False``; half as many terminal points), trained
by 1000 Adam steps and 300 L-BFGS iterations. About 5 minutes on 2 CPU cores.
"""

import time
from pathlib import Path

import joblib

from sklearn_debias.neural import PINNRegressor
from sklearn_debias.pde import viscous_burgers

SIZES = (16, 64, 256, 1024)


def main():
    pde = viscous_burgers(20)
    here = Path(__file__).parent
    for n in SIZES:
        start = time.perf_counter()
        pinn = PINNRegressor(
            pde,
            n_collocation=n,
            resample=False,
            max_epochs=1000,
            lbfgs_max_iter=300,
            random_state=0,
        ).fit()
        pinn.loss_curve_ = pinn.loss_curve_[-1:]  # keep the files small
        joblib.dump(pinn, here / f"pinn_vb20_n{n}.joblib", compress=3)
        print(f"n = {n}: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
