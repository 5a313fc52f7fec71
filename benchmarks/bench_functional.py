"""Benchmark: debiased integrals of Genz functions against plain MC, QMC and ppi_py.

For each of the four Genz families in d = 5 with n = 256 random design points
and an exact integral, over many seeds, it reports the RMSE of

* plain Monte Carlo of the labels,
* scrambled-Sobol quasi-Monte Carlo with the same number n of evaluations,
* the surrogate alone (plug-in, biased),
* ppi_py's PPI++ (its clipped power-tuned weight) and cross-PPI, on the same
  data, the same cross-fitted surrogates and the same pool of fresh draws,
* DebiasedFunctionalEstimator (cross-fitted, unclipped optimal weight),

and prints the ratios of plain Monte Carlo's and ppi_py's RMSE to ours.

Run ``python benchmarks/bench_functional.py`` (measured at about 47 minutes on
one core before the default Gaussian process was made 2-3 times faster;
``--families`` splits the work across processes) or ``--quick``;
``--surrogate`` compares candidate default surrogates.
"""

import argparse
import time
import warnings

import numpy as np
from _genz_design import seed_design
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, Matern, WhiteKernel
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler
from threadpoolctl import threadpool_limits

from sklearn_debias import DebiasedFunctionalEstimator
from sklearn_debias.datasets import GENZ_FAMILIES, GenzFunction
from sklearn_debias.gaussian_process import (
    TensorProductMatern,
    WarpedGaussianProcessRegressor,
)


def _gp(kernel):
    return make_pipeline(
        StandardScaler(),
        GaussianProcessRegressor(
            kernel + WhiteKernel(1e-4, (1e-10, 1e-1)),
            normalize_y=True,
            n_restarts_optimizer=1,
            random_state=0,
        ),
    )


SURROGATES = {
    # The package default: RBF + tensor-product Matérn-3/2, on y or on log y.
    "gp": lambda: None,
    "gp-unwarped": lambda: WarpedGaussianProcessRegressor(warp="identity"),
    "gp-rbf": lambda: _gp(
        ConstantKernel(1.0, (1e-4, 1e4)) * RBF(np.ones(5), (1e-2, 1e3))
    ),
    "gp-matern": lambda: _gp(
        ConstantKernel(1.0, (1e-4, 1e4)) * Matern(np.ones(5), (1e-2, 1e3), nu=2.5)
    ),
    "gp-tpm12": lambda: _gp(
        ConstantKernel(1.0, (1e-4, 1e4)) * TensorProductMatern(np.ones(5), (1e-2, 1e3))
    ),
    "gp-tpm15": lambda: _gp(
        ConstantKernel(1.0, (1e-4, 1e4))
        * TensorProductMatern(np.ones(5), (1e-2, 1e3), nu=1.5)
    ),
    "hgb": lambda: HistGradientBoostingRegressor(random_state=0),
    "poly3": lambda: make_pipeline(
        StandardScaler(), PolynomialFeatures(3), RidgeCV(np.logspace(-8, 2, 11))
    ),
    "krr": lambda: make_pipeline(
        StandardScaler(),
        GridSearchCV(
            KernelRidge(kernel="rbf"),
            {"alpha": [1e-6, 1e-4, 1e-2], "gamma": [0.02, 0.1, 0.5]},
            cv=3,
        ),
    ),
}


def run_family(family, seeds, n, d, n_pool, surrogate):
    f = GenzFunction(family, n_features=d, random_state=12345)
    rows = {k: [] for k in ("mc", "qmc", "plugin", "ppi++", "crossppi", "ours")}
    for seed in seeds:
        X, y, pool, engine, sobol = seed_design(f, seed, n, d, n_pool)
        est = DebiasedFunctionalEstimator(
            SURROGATES[surrogate](), sampler=engine, n_samples=n_pool, random_state=seed
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X, y)
        Yhat_unlabeled = np.column_stack([m.predict(pool) for m in est.estimators_])
        oof = est.oof_predictions_
        rows["mc"].append(y.mean())
        rows["qmc"].append(f(sobol).mean())
        rows["plugin"].append(est.plugin_estimate_)
        rows["ours"].append(est.estimate_)
        if ppi_py is not None:
            rows["ppi++"].append(
                float(
                    np.squeeze(
                        ppi_py.ppi_mean_pointestimate(
                            y, oof, Yhat_unlabeled.mean(axis=1)
                        )
                    )
                )
            )
            rows["crossppi"].append(
                float(
                    np.squeeze(
                        ppi_py.crossppi_mean_pointestimate(y, oof, Yhat_unlabeled)
                    )
                )
            )
    rmse = {
        k: np.sqrt(np.mean((np.asarray(v) - f.integral) ** 2)) if v else np.nan
        for k, v in rows.items()
    }
    return f.integral, rmse


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 seeds instead of 20")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--surrogate", default="gp", choices=sorted(SURROGATES))
    parser.add_argument("--families", nargs="+", default=list(GENZ_FAMILIES))
    parser.add_argument("--n-pool", type=int, default=2**15)
    args = parser.parse_args()
    seeds = range(5 if args.quick else args.seeds)
    n, d = 256, 5
    print(
        f"Genz integrals, d={d}, n={n} labels, {len(seeds)} seeds, "
        f"Sobol pool of {args.n_pool} cheap draws, surrogate={args.surrogate}"
    )
    if ppi_py is None:
        print("(ppi_py not installed: its columns are NaN; pip install ppi_python)")
    header = (
        f"{'family':<13}{'integral':>10}{'MC':>10}{'QMC':>10}{'plug-in':>10}"
        f"{'PPI++':>10}{'crossPPI':>10}{'ours':>10}{'MC/ours':>9}{'PPI++/o':>9}"
        f"{'xPPI/o':>8}{'time s':>8}"
    )
    print(header)
    print("-" * len(header))
    for family in args.families:
        t0 = time.perf_counter()
        integral, r = run_family(family, seeds, n, d, args.n_pool, args.surrogate)
        elapsed = time.perf_counter() - t0
        print(
            f"{family:<13}{integral:>10.4g}{r['mc']:>10.2e}{r['qmc']:>10.2e}"
            f"{r['plugin']:>10.2e}{r['ppi++']:>10.2e}{r['crossppi']:>10.2e}"
            f"{r['ours']:>10.2e}{r['mc'] / r['ours']:>9.1f}"
            f"{r['ppi++'] / r['ours']:>9.2f}{r['crossppi'] / r['ours']:>8.2f}"
            f"{elapsed:>8.1f}"
        )
    print(
        "RMSE over seeds; ratios > 1 mean ours is more accurate "
        "(targets: MC/ours >= 6, PPI++/ours and xPPI/ours >= 0.95)."
    )


try:
    import ppi_py
except ImportError:  # pragma: no cover - optional anchor
    ppi_py = None

if __name__ == "__main__":
    # Small dense problems (a Gaussian process on 200 points): one BLAS thread is
    # faster, and immune to thrashing when other work shares the cores.
    with threadpool_limits(limits=1):
        main()
