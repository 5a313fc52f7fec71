"""Benchmark: least squares on a dask LocalCluster, ours against TSQR and dask-ml.

A problem with a known solution is generated chunk by chunk on the workers
(``y = c + X beta + r``, ``r`` orthogonal to ``[1, X]``, condition number
``1e4``, residual 1% of the signal; chunks of 250,000 rows) and persisted
there. In one run, on the same cluster:

* ours: ``SketchPreconditionedRegressor`` (sparse-sign sketch accumulated
  chunkwise, CG with refinement as map-reduce passes);
* ``dask.array.linalg.lstsq`` on ``[1, X]`` (TSQR, ``O(m n^2)``);
* ``dask_ml.linear_model.LinearRegression`` (dask-glm, default solver ADMM)
  set to the same problem: ``C=1e12``, practically no penalty;
* the in-memory anchors, in their own process after the cluster is closed
  (the same chunks concatenated): ours in memory and, where memory allows,
  ``sklearn.linear_model.LinearRegression`` (LAPACK gelsd).

Printed per solver: wall time, ratio to ours, passes over the data (ours:
sketches plus map-reduce passes; TSQR reads ``X`` once; dask-ml: not
counted), forward error ``||coef - beta|| / ||beta||`` against the exact
solution, and the peak memory allocated on the client during the fit
(tracemalloc; numpy's allocations are traced), beside the size of the data.

    python benchmarks/bench_distributed.py --quick   # 2e5 x 100, a minute
    python benchmarks/bench_distributed.py           # 2e6 x 200
    python benchmarks/bench_distributed.py --large   # and 1e7 x 100 (~8 GB)
"""

import argparse
import json
import subprocess
import sys
import time
import tracemalloc
import warnings

import numpy as np

COND, SEED = 1e4, 0
CHUNK_ROWS = 250_000  # --quick: 50,000


def parameters(n, cond, seed):
    """The rotation, scales, column means, solution and intercept."""
    rng = np.random.default_rng(seed)
    V = np.linalg.qr(rng.standard_normal((n, n)))[0]
    sigma = np.logspace(0, -np.log10(cond), n)
    return V, sigma, rng.uniform(-2, 2, n), rng.standard_normal(n), 1.5


def make_chunk(c, rows, n, cond, seed):
    """Chunk ``c``: its rows of ``X`` and ``y``, from its own stream.

    The chunk's residual is orthogonal to the constant and to the chunk's
    ``H`` (hence to ``[1, X]`` over all chunks), so ``(c, beta)`` is exactly
    the least-squares solution.
    """
    V, sigma, mu, beta, intercept = parameters(n, cond, seed)
    rng = np.random.default_rng([seed, c])
    H = rng.standard_normal((rows, n))
    r = rng.standard_normal(rows)
    r -= r.mean()
    H -= np.outer(r, (r @ H) / (r @ r))
    X = (H * sigma) @ V.T + mu
    noise = 0.01 * np.linalg.norm(sigma * (V.T @ beta))
    return X, intercept + X @ beta + noise * r


def chunk_bounds(m, chunk_rows):
    return [
        (c, s, min(chunk_rows, m - s)) for c, s in enumerate(range(0, m, chunk_rows))
    ]


def forward_error(coef, n):
    beta = parameters(n, COND, SEED)[3]
    return float(np.linalg.norm(np.ravel(coef) - beta) / np.linalg.norm(beta))


def measured(func):
    """``(result, seconds, peak client MiB)`` of ``func()``."""
    tracemalloc.start()
    t = time.perf_counter()
    out = func()
    seconds = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return out, seconds, peak


def print_header():
    print(
        f"{'solver':<36}{'time s':>8}{'passes':>8}{'fwd error':>11}"
        f"{'client MiB':>12}  note",
        flush=True,
    )


def print_row(name, sec, passes, err, peak, note):
    p = "-" if passes is None else str(passes)
    pk = "-" if peak is None else f"{peak:.1f}"
    print(f"{name:<36}{sec:>8.2f}{p:>8}{err:>11.1e}{pk:>12}  {note}", flush=True)


def run_cluster(m, n, workers, with_dask_ml=True):
    import dask
    import dask.array as da
    from distributed import Client, LocalCluster, wait

    from sklearn_debias.linear_model import SketchPreconditionedRegressor

    rows = []

    def add(*row):
        rows.append(row)
        print_row(*row)

    print_header()
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            memory_limit=0,
        ) as cluster,
        Client(cluster) as client,
    ):
        Xs, ys = [], []
        for c, _, r in chunk_bounds(m, CHUNK_ROWS):
            part = dask.delayed(make_chunk, nout=2)(c, r, n, COND, SEED)
            Xs.append(da.from_delayed(part[0], (r, n), dtype=np.float64))
            ys.append(da.from_delayed(part[1], (r,), dtype=np.float64))
        X, y = client.persist([da.concatenate(Xs), da.concatenate(ys)])
        wait([X, y])

        def ours():
            return SketchPreconditionedRegressor(random_state=0).fit(X, y)

        reg, sec, peak = measured(ours)
        add(
            "ours (sketch + CG, dask)",
            sec,
            getattr(reg, "_n_passes", None),
            forward_error(reg.coef_, n),
            peak,
            f"d={reg.sketch_size_}, {reg.n_iter_} CG iterations",
        )

        def tsqr():
            A = da.concatenate([da.ones((m, 1), chunks=(X.chunks[0], 1)), X], axis=1)
            A = A.rechunk({1: -1})
            return da.linalg.lstsq(A, y[:, None])[0].compute()[:, 0]

        sol, sec, peak = measured(tsqr)
        add("TSQR (da.linalg.lstsq)", sec, 1, forward_error(sol[1:], n), peak, "")

        try:
            from dask_ml.linear_model import LinearRegression
        except ImportError:
            print("dask-ml is not installed: its row is skipped")
        else:
            if not with_dask_ml:
                return rows

            def dask_ml():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", FutureWarning)
                    return LinearRegression(C=1e12).fit(X, y)

            lr, sec, peak = measured(dask_ml)
            add(
                "dask-ml LinearRegression (ADMM)",
                sec,
                None,
                forward_error(lr.coef_, n),
                peak,
                "C=1e12",
            )
    return rows


def run_in_memory(m, n, gelsd):
    """The in-memory anchors (run in a process of their own)."""
    from sklearn.linear_model import LinearRegression

    from sklearn_debias.linear_model import SketchPreconditionedRegressor

    X = np.empty((m, n))
    y = np.empty(m)
    for c, s, r in chunk_bounds(m, CHUNK_ROWS):
        X[s : s + r], y[s : s + r] = make_chunk(c, r, n, COND, SEED)
    rows = []
    t = time.perf_counter()
    reg = SketchPreconditionedRegressor(random_state=0).fit(X, y)
    rows.append(
        (
            "ours in memory (one process)",
            time.perf_counter() - t,
            None,
            forward_error(reg.coef_, n),
            None,
            f"d={reg.sketch_size_}",
        )
    )
    if gelsd:
        t = time.perf_counter()
        lr = LinearRegression().fit(X, y)
        rows.append(
            (
                "sklearn LinearRegression (gelsd)",
                time.perf_counter() - t,
                None,
                forward_error(lr.coef_, n),
                None,
                "in memory",
            )
        )
    print(json.dumps(rows))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--large", action="store_true")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-in-memory", action="store_true")
    parser.add_argument("--no-dask-ml", action="store_true")
    parser.add_argument("--in-memory", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    global CHUNK_ROWS
    if args.quick:
        CHUNK_ROWS = 50_000
    if args.in_memory:
        m, n, gelsd, CHUNK_ROWS = map(int, args.in_memory)
        return run_in_memory(m, n, gelsd == 1)
    shapes = [(200_000, 100)] if args.quick else [(2_000_000, 200)]
    if args.large:
        shapes.append((10_000_000, 100))
    import psutil

    for m, n in shapes:
        data_mib = m * n * 8 / 2**20
        print(
            f"\n== {m:,} x {n}: X is {data_mib:,.0f} MiB in "
            f"{-(-m // CHUNK_ROWS)} chunks on {args.workers} workers "
            f"(condition {COND:.0e}, residual 1%)"
        )
        rows = run_cluster(m, n, args.workers, not args.no_dask_ml)
        if not args.no_in_memory:
            # LinearRegression copies X to centre it: ~3 copies must fit.
            gelsd = 3.5 * m * n * 8 < psutil.virtual_memory().available
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--in-memory",
                    str(m),
                    str(n),
                    str(int(gelsd)),
                    str(CHUNK_ROWS),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            rows += [tuple(r) for r in json.loads(out.stdout.strip().splitlines()[-1])]
        ours = rows[0][1]
        print(
            f"{'solver':<36}{'time s':>8}{'/ ours':>8}{'passes':>8}{'fwd error':>11}"
            f"{'client MiB':>12}  note"
        )
        for name, sec, passes, err, peak, note in rows:
            p = "-" if passes is None else str(passes)
            pk = "-" if peak is None else f"{peak:.1f}"
            print(
                f"{name:<36}{sec:>8.2f}{sec / ours:>8.2f}{p:>8}{err:>11.1e}"
                f"{pk:>12}  {note}"
            )


if __name__ == "__main__":
    main()
