"""Benchmark: Nyström-preconditioned kernel ridge against the dense anchors.

Two regression tasks on 8 inputs: a smooth function plus noise
(``sum_j sin(3 x_j)`` on the unit cube, noise s.d. 0.1) and the borehole
simulator of :mod:`sklearn_debias.datasets` (inputs scaled to the unit cube,
output standardised, no noise). One fixed RBF kernel and ridge per task;
every method fits the centred target. Printed per method: fit time, its
ratio to ``KernelRidge``'s (or to ours where ``KernelRidge`` is not run),
test R^2 and CG iterations.

* ours (exact): ``SketchPreconditionedKernelRidge``;
* ``KernelRidge`` and ``GaussianProcessRegressor`` (same kernel, fixed, no
  optimiser): dense ``n x n`` Cholesky, **run with one BLAS thread**
  (numpy's threaded OpenBLAS Cholesky crashes on this CPU from n = 16000, and
  threaded LAPACK is many times slower on a loaded machine); only up to
  ``--max-dense`` points;
* ours (Falkon): ``NystromKernelRidge`` with ``M`` centres;
* ``Nystroem`` + ``Ridge`` with the same ``M`` components (the same
  objective as Falkon, solved densely; needs ``n x M`` memory);
* ``HistGradientBoostingRegressor`` (defaults).

    python benchmarks/bench_kernel.py                 # n = 2000, 5000 (minutes)
    python benchmarks/bench_kernel.py --n 15000       # the issue's 4x check
    python benchmarks/bench_kernel.py --large         # Falkon up to 10^6

Everything runs with one BLAS thread by default (``--blas-threads``): on a
busy 2-core machine threaded BLAS is several times slower, for every method.
Timings are wall-clock on whatever else the machine runs: compare ratios
within one run.
"""

import argparse
import time
from contextlib import nullcontext

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF
from sklearn.kernel_approximation import Nystroem
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score
from threadpoolctl import threadpool_limits

from sklearn_debias.datasets import BoreholeFunction
from sklearn_debias.kernel_ridge import (
    NystromKernelRidge,
    SketchPreconditionedKernelRidge,
)

# Task: (gamma, alpha) of the fixed RBF kernel ridge.
TASKS = {"smooth": (0.5, 1e-2), "borehole": (0.5, 1e-5)}


def make_task(name, n, seed):
    rng = np.random.default_rng(seed)
    if name == "smooth":
        X = rng.uniform(size=(n, 8))
        return X, np.sin(3 * X).sum(axis=1) + 0.1 * rng.standard_normal(n)
    f = BoreholeFunction()
    X = f.sample(n, rng=rng)
    lo, hi = f.bounds
    y = f(X)
    return (X - lo) / (hi - lo), (y - 77.0) / 45.0


def run(label, make, X, y, X_test, y_test, dense=False):
    est = make()
    with threadpool_limits(1, "blas") if dense else nullcontext():
        t0 = time.perf_counter()
        est.fit(X, y)
        fit = time.perf_counter() - t0
        r2 = r2_score(y_test, est.predict(X_test))
    return dict(label=label, time=fit, r2=r2, iters=getattr(est, "n_iter_", ""))


def header(task, n):
    print(f"\n{task}, n = {n}")
    print(
        f"  {'method':34s} {'fit s':>8s} {'vs KRR':>7s} {'test R2':>9s} {'CG it':>6s}"
    )


def report(row, anchor):
    ratio = f"{anchor / row['time']:7.2f}" if anchor else "      -"
    print(
        f"  {row['label']:34s} {row['time']:8.2f} {ratio} {row['r2']:9.5f} "
        f"{row['iters']!s:>6s}",
        flush=True,
    )


def bench(task, n, args):
    gamma, alpha = TASKS[task]
    X, y = make_task(task, n + 5000, seed=n)
    X, X_test, y, y_test = X[:n], X[n:], y[:n], y[n:]
    mean = y.mean()
    y, y_test = y - mean, y_test - mean
    M = args.centers or int(min(n, max(500, 4 * np.sqrt(n))))
    header(task, n)
    anchor = None

    def add(label, make, dense=False, n_fit=n):
        nonlocal anchor
        row = run(label, make, X[:n_fit], y[:n_fit], X_test, y_test, dense=dense)
        anchor = row["time"] if label == "KernelRidge" else anchor
        report(row, anchor)

    def exact():
        return SketchPreconditionedKernelRidge(
            alpha,
            gamma=gamma,
            max_memory=args.max_memory,
            n_jobs=args.n_jobs,
            random_state=0,
        )

    if n <= args.max_dense:
        add("KernelRidge", lambda: KernelRidge(alpha, kernel="rbf", gamma=gamma), True)
    if n <= args.max_exact:
        add(f"ours exact (n_jobs={args.n_jobs})", exact)
    else:
        add("ours exact, 20000-point subsample", exact, n_fit=20_000)
    if n <= args.max_dense:
        kernel = RBF(np.sqrt(0.5 / gamma), length_scale_bounds="fixed")
        add(
            "GaussianProcessRegressor",
            lambda: GaussianProcessRegressor(kernel, alpha=alpha, optimizer=None),
            True,
        )
    add(
        f"ours Falkon (M={M}, rpcholesky)",
        lambda: NystromKernelRidge(
            alpha,
            gamma=gamma,
            n_centers=M,
            center_selection="rpcholesky",
            n_jobs=args.n_jobs,
            random_state=0,
        ),
    )
    if n * M * 8 <= args.nystroem_memory * 2**20:
        add(f"Nystroem+Ridge (M={M})", lambda: _nystroem(gamma, alpha, M))
    add("HistGradientBoosting", lambda: HistGradientBoostingRegressor(random_state=0))


def _nystroem(gamma, alpha, M):
    from sklearn.pipeline import make_pipeline

    return make_pipeline(
        Nystroem(gamma=gamma, n_components=M, random_state=0),
        Ridge(alpha=alpha, fit_intercept=False),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[2000, 5000])
    parser.add_argument("--task", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument(
        "--large",
        action="store_true",
        help="also Falkon (and HGB) at 2e5 and 1e6 points",
    )
    parser.add_argument("--centers", type=int, default=None)
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument(
        "--blas-threads", type=int, default=1, help="0: the library default"
    )
    parser.add_argument("--max-dense", type=int, default=15000)
    parser.add_argument("--max-exact", type=int, default=60000)
    parser.add_argument("--nystroem-memory", type=float, default=2048, help="MiB")
    parser.add_argument(
        "--max-memory", type=float, default=4096, help="MiB for K (ours exact)"
    )
    args = parser.parse_args()
    sizes = list(args.n) + ([200_000, 1_000_000] if args.large else [])
    threads = args.blas_threads
    print(
        f"BLAS threads: {threads or 'default'} (dense anchors: 1); n_jobs={args.n_jobs}"
    )
    with threadpool_limits(threads) if threads else nullcontext():
        for task in args.task:
            for n in sizes:
                bench(task, n, args)


if __name__ == "__main__":
    main()
