"""Benchmark: ``logdet`` at its defaults on a large matvec-only kernel operator.

The matrix is an RBF kernel plus noise, ``K + 1e-2 I`` with
``K_ij = exp(-|x_i - x_j|^2 / (2 l^2))`` for ``n`` points ``x_i`` drawn from a
standard normal in ``d`` dimensions. ``K`` is formed densely once and wrapped
in a :class:`scipy.sparse.linalg.LinearOperator` that offers only ``matvec``
and ``matmat``, so :func:`~sklearn_debias.linalg.logdet` sees products only.

The anchor is the exact log-determinant from ``scipy.linalg.cholesky`` with one
BLAS thread (OpenBLAS's threaded Cholesky crashed at n >= 16000 on the
development machine). It takes about a minute or more at n = 20000, so its
value and time are cached under ``/tmp`` (delete the file to re-time it); at
``--n`` below 16000 it is recomputed in the same run. Printed: for each seed the
relative error, whether the 95% interval covers, the products and the time,
then the summary with the time as a ratio to the Cholesky anchor. On a shared
machine the wall times depend on the load; the CPU seconds of the process
(all BLAS threads) are printed beside them. At n >= 16000 the matrix itself
is cached too (``*_matrix.npy``, 3.2 GB at n = 20000) so that reruns skip
building it.

Run ``python benchmarks/bench_logdet.py`` (n = 20000, needs ~7 GB of memory),
or ``--n 3000`` for a quick version.
"""

import argparse
import os
import time

import numpy as np
import scipy.linalg
from scipy.sparse.linalg import LinearOperator
from threadpoolctl import threadpool_limits

from sklearn_debias.linalg import logdet
from sklearn_debias.utils import format_table


def rbf_kernel_plus_noise(n, dim, lengthscale, noise, seed=0, block=2000):
    """Dense ``K + noise I``, built in row blocks (one n x n array in memory)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, dim)) / lengthscale
    sq = np.sum(X**2, axis=1)
    K = np.empty((n, n))
    for start in range(0, n, block):
        stop = min(start + block, n)
        out = K[start:stop]
        np.matmul(X[start:stop], X.T, out=out)
        out *= 2.0
        out -= sq[start:stop, None]
        out -= sq[None, :]
        np.minimum(out, 0.0, out=out)
        np.exp(0.5 * out, out=out)
    K[np.diag_indices(n)] += noise
    return K


def exact_logdet(K, cache):
    """(log det K, seconds) from a one-thread Cholesky, cached in ``cache``."""
    if cache and os.path.exists(cache):
        value, seconds = np.load(cache)
        return float(value), float(seconds)
    t0 = time.perf_counter()
    with threadpool_limits(limits=1):
        L = scipy.linalg.cholesky(K, lower=True, check_finite=False)
    seconds = time.perf_counter() - t0
    value = 2.0 * float(np.sum(np.log(np.diag(L))))
    del L
    if cache:
        np.save(cache, np.array([value, seconds]))
    return value, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--dim", type=int, default=5)
    parser.add_argument("--lengthscale", type=float, default=1.0)
    parser.add_argument("--noise", type=float, default=1e-2)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None, help="BLAS threads")
    args = parser.parse_args()
    n = args.n
    cache = None
    if n >= 16000:
        cache = (
            f"/tmp/sklearn_debias_logdet_rbf_n{n}_d{args.dim}_"
            f"l{args.lengthscale:g}_s{args.noise:g}.npy"
        )
    K = None
    if cache and os.path.exists(cache[:-4] + "_matrix.npy"):
        K = np.load(cache[:-4] + "_matrix.npy")
    if K is None:
        K = rbf_kernel_plus_noise(n, args.dim, args.lengthscale, args.noise)
        if cache:
            np.save(cache[:-4] + "_matrix.npy", K)
    exact, t_exact = exact_logdet(K, cache)
    cached = " (cached)" if cache else ""
    op = LinearOperator(K.shape, matvec=lambda x: K @ x, matmat=lambda X: K @ X)
    rows, errs, covers, times = [], [], [], []
    with threadpool_limits(limits=args.threads):
        for seed in range(args.seeds):
            t0, c0 = time.perf_counter(), time.process_time()
            res = logdet(op, random_state=seed)
            elapsed = time.perf_counter() - t0
            cpu = time.process_time() - c0
            low, high = res.confidence_interval(0.95)
            rel = (res.estimate - exact) / abs(exact)
            errs.append(abs(rel))
            covers.append(low <= exact <= high)
            times.append(elapsed)
            print(
                f"seed {seed}: rel. err {rel:.2e}, covers {bool(covers[-1])}, "
                f"rank {res.rank}, probes {res.n_probes}, steps {res.n_lanczos}, "
                f"matvecs {res.n_matvecs}, {elapsed:.1f} s, {cpu:.1f} CPU s",
                flush=True,
            )
            rows.append(
                [
                    seed,
                    res.estimate,
                    rel,
                    res.standard_error / abs(exact),
                    bool(covers[-1]),
                    res.n_matvecs,
                    res.rank,
                    res.n_probes,
                    res.n_lanczos,
                    elapsed,
                    cpu,
                ]
            )
    print(
        format_table(
            f"logdet defaults, RBF kernel + {args.noise:g} I, n = {n}, d = "
            f"{args.dim}, lengthscale {args.lengthscale:g}; exact = {exact:.8g}",
            [
                "seed",
                "estimate",
                "rel. err",
                "s.e./|ld|",
                "95% covers",
                "matvecs",
                "rank",
                "probes",
                "max steps",
                "time (s)",
                "CPU (s)",
            ],
            rows,
        )
    )
    print(
        format_table(
            "\nsummary (same run; Cholesky with one BLAS thread" + cached + ")",
            ["method", "max rel. err", "coverage", "median time (s)", "time / chol"],
            [
                ["scipy cholesky (anchor)", 0.0, "exact", t_exact, 1.0],
                [
                    "logdet defaults",
                    float(np.max(errs)),
                    f"{int(np.sum(covers))}/{len(covers)}",
                    float(np.median(times)),
                    float(np.median(times) / t_exact),
                ],
            ],
        )
    )


if __name__ == "__main__":
    main()
