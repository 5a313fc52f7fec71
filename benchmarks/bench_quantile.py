"""Benchmark: debiased quantiles of Genz functions against plain MC, QMC and ppi_py.

For Genz integrands in d = 5 with n = 128 random design points, and the
levels p = 0.05, 0.5 and 0.95 of the distribution of f(X), X uniform, it
reports over many seeds the RMSE of

* the empirical quantile of the n labels (plain Monte Carlo),
* the empirical quantile of f at n scrambled-Sobol points (QMC),
* the surrogate alone (plug-in, biased),
* ppi_py's prediction-powered quantile (weight 1), on the same labels, the
  same cross-fitted surrogates and the same pool of cheap draws,
* DebiasedFunctionalEstimator with Quantile(p) (cross-fitted optimal weight),

the ratios of plain Monte Carlo's and ppi_py's RMSE to ours, and how often
the 95% intervals of ppi_py and ours covered the truth, with their mean
widths. The truth is the quantile of f over 2^22 scrambled-Sobol points.

Run ``python benchmarks/bench_quantile.py`` (about 25 minutes on one core;
``--families`` and ``--levels`` split the work) or ``--quick``.
"""

import argparse
import time
import warnings

import numpy as np
from _genz_design import seed_design
from scipy.stats import qmc
from threadpoolctl import threadpool_limits

from sklearn_debias import DebiasedFunctionalEstimator, Quantile
from sklearn_debias.datasets import GENZ_FAMILIES, GenzFunction

try:
    import ppi_py
except ImportError:  # the anchor is optional
    ppi_py = None

METHODS = ("mc", "qmc", "plugin", "ppi", "ours")


def true_quantiles(f, d, levels):
    points = qmc.Sobol(d, scramble=True, seed=0).random_base2(22)
    return np.quantile(f(points), levels)


def run(family, level, truth, seeds, n, d, n_pool, coef="optimal"):
    f = GenzFunction(family, n_features=d, random_state=12345)
    errors = {k: [] for k in METHODS}
    covered = {"ppi": [], "ours": []}
    widths = {"ppi": [], "ours": []}
    for seed in seeds:
        X, y, pool, engine, sobol = seed_design(f, seed, n, d, n_pool)
        est = DebiasedFunctionalEstimator(
            functional=Quantile(level),
            sampler=engine,
            n_samples=n_pool,
            coef=coef,
            random_state=seed,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X, y)
        low, high = est.confidence_interval(0.95)
        covered["ours"].append(low <= truth <= high)
        widths["ours"].append(high - low)
        errors["mc"].append(np.quantile(y, level, method="inverted_cdf") - truth)
        errors["qmc"].append(
            np.quantile(f(sobol), level, method="inverted_cdf") - truth
        )
        errors["plugin"].append(est.plugin_estimate_ - truth)
        errors["ours"].append(est.estimate_ - truth)
        if ppi_py is not None:
            oof = est.oof_predictions_
            pool_pred = np.mean([m.predict(pool) for m in est.estimators_], axis=0)
            errors["ppi"].append(
                ppi_py.ppi_quantile_pointestimate(y, oof, pool_pred, level) - truth
            )
            ci = ppi_py.ppi_quantile_ci(y, oof, pool_pred, level, alpha=0.05)
            covered["ppi"].append(ci[0] <= truth <= ci[1])
            widths["ppi"].append(ci[1] - ci[0])
    rmse = {
        k: np.sqrt(np.mean(np.square(v))) if v else np.nan for k, v in errors.items()
    }
    coverage = {k: np.mean(v) if v else np.nan for k, v in covered.items()}
    width = {k: np.mean(v) if v else np.nan for k, v in widths.items()}
    return rmse, coverage, width


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 seeds instead of 20")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--families", nargs="+", default=list(GENZ_FAMILIES))
    parser.add_argument("--levels", nargs="+", type=float, default=[0.05, 0.5, 0.95])
    parser.add_argument("--n", type=int, default=128)
    parser.add_argument("--n-pool", type=int, default=2**13)
    parser.add_argument(
        "--coef", default="optimal", type=lambda c: c if c == "optimal" else float(c)
    )
    args = parser.parse_args()
    seeds = range(5 if args.quick else args.seeds)
    d = 5
    if ppi_py is None:
        print("ppi_py is not installed: its columns are NaN")
    header = (
        f"{'family':<13} {'p':>5} {'MC':>9} {'QMC':>9} {'plug-in':>9} {'ppi_py':>9} "
        f"{'ours':>9} {'MC/ours':>8} {'ppi/ours':>8} {'cover ppi':>9} "
        f"{'cover ours':>10} {'width ppi':>9} {'width ours':>10} {'time':>6}"
    )
    print(
        f"d={d}, n={args.n}, {len(seeds)} seeds, cheap pool {args.n_pool} "
        "scrambled Sobol points; RMSE of the p-quantile of f(X), X ~ U[0,1]^d"
    )
    print(header)
    with threadpool_limits(1):
        for family in args.families:
            f = GenzFunction(family, n_features=d, random_state=12345)
            truths = true_quantiles(f, d, args.levels)
            for level, truth in zip(args.levels, truths):
                start = time.perf_counter()
                rmse, cover, width = run(
                    family, level, truth, seeds, args.n, d, args.n_pool, args.coef
                )
                print(
                    f"{family:<13} {level:>5.2f} "
                    + " ".join(f"{rmse[k]:>9.3g}" for k in METHODS)
                    + f" {rmse['mc'] / rmse['ours']:>8.2f}"
                    + f" {rmse['ppi'] / rmse['ours']:>8.2f}"
                    + f" {cover['ppi']:>9.2f} {cover['ours']:>10.2f}"
                    + f" {width['ppi']:>9.3g} {width['ours']:>10.3g}"
                    + f" {time.perf_counter() - start:>5.0f}s",
                    flush=True,
                )


if __name__ == "__main__":
    main()
