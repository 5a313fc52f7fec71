"""
===================================================
Least squares on a dask cluster, to LAPACK accuracy
===================================================

A tall least-squares problem -- a million rows, a hundred columns by default
-- is generated chunk by chunk *on the workers* of a
:class:`distributed.LocalCluster` and never gathered on the client. Two
solvers take the same dask arrays:

* :class:`~sklearn_debias.linear_model.SketchPreconditionedRegressor`
  sketches the rows chunk by chunk (one pass, each fixed block of rows with
  its own seeded sparse-sign block), factors the small sketch on the client
  and runs preconditioned conjugate gradients with iterative refinement,
  every iteration one map-reduce pass over the persisted chunks: ``O(m n)``
  work per pass, about 30 passes, backward stable.
* ``dask.array.linalg.lstsq`` is a tall-skinny QR (TSQR): exact, but
  ``O(m n^2)`` work, the same as LAPACK's.

With ``--dask-ml`` a third joins them, ``dask_ml.linear_model.LinearRegression``
(dask-glm's ADMM, set to the same problem with ``C=1e12``: practically no
penalty). It is left out by default because it is much slower than the other
two; ``benchmarks/bench_distributed.py`` measures all three.

The problem has a known solution: ``y = c + X beta + r`` with ``r``
orthogonal to ``[1, X]``, condition number ``1e4`` and a residual of 1% of
the signal, so the forward error of each answer can be measured exactly.
Run with ``--large`` for ten million rows (without the in-memory anchors).
"""

import multiprocessing
import os
import sys
import time
from pathlib import Path

import dask
import dask.array as da
import matplotlib.pyplot as plt
import numpy as np
import scipy.linalg
from distributed import Client, LocalCluster, wait

from sklearn_debias.linear_model import SketchPreconditionedRegressor

LARGE = "--large" in sys.argv
m, n = (10_000_000, 100) if LARGE else (1_000_000, 100)
chunk_rows, cond, seed = 250_000, 1e4, 0
t_start = time.perf_counter()

# %%
# A problem generated on the workers
# ----------------------------------
# Every chunk draws its rows from its own stream. ``X = H diag(sigma) V^T + mu``
# with a random rotation ``V`` (so that scaling the columns cannot remove the
# conditioning), and the residual ``r`` of each chunk is made orthogonal to
# that chunk's ``H`` and to the constant: so ``r`` is orthogonal to ``[1, X]``
# and ``(c, beta)`` is exactly the least-squares solution.


def parameters(n, cond, seed):
    """The rotation, scales, column means and the solution, shared by all chunks."""
    rng = np.random.default_rng(seed)
    V = np.linalg.qr(rng.standard_normal((n, n)))[0]
    sigma = np.logspace(0, -np.log10(cond), n)
    return V, sigma, rng.uniform(-2, 2, n), rng.standard_normal(n), 1.5


def make_chunk(c, rows, n, cond, seed):
    V, sigma, mu, beta, intercept = parameters(n, cond, seed)
    rng = np.random.default_rng([seed, c])
    H = rng.standard_normal((rows, n))
    r = rng.standard_normal(rows)
    r -= r.mean()
    H -= np.outer(r, (r @ H) / (r @ r))  # columns orthogonal to r
    X = (H * sigma) @ V.T + mu
    noise = 0.01 * np.linalg.norm(sigma * (V.T @ beta))  # 1% of the signal
    return X, intercept + X @ beta + noise * r


def make_problem(m, n, chunk_rows, cond, seed):
    """Lazy dask arrays ``X, y``: each chunk is computed where it lives."""
    Xs, ys = [], []
    for c, start in enumerate(range(0, m, chunk_rows)):
        rows = min(chunk_rows, m - start)
        part = dask.delayed(make_chunk, nout=2)(c, rows, n, cond, seed)
        Xs.append(da.from_delayed(part[0], (rows, n), dtype=np.float64))
        ys.append(da.from_delayed(part[1], (rows,), dtype=np.float64))
    return da.concatenate(Xs), da.concatenate(ys)


t_start = time.perf_counter()
# %%
# The cluster
# -----------
# Two workers with one thread each. For the documentation build they run as
# threads of this process (``processes=False``; on a real cluster they are
# other machines): the chunks are still created, held and processed by the
# workers, and only ``n``-sized results travel to the client.
cluster = LocalCluster(
    n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
)
client = Client(cluster)
X, y = make_problem(m, n, chunk_rows, cond, seed)
X, y = client.persist([X, y])
wait([X, y])
_, _, _, beta, intercept = parameters(n, cond, seed)
print(f"X: {m} x {n} in {X.numblocks[0]} chunks, on {len(client.nthreads())} workers")


def forward_error(coef):
    return np.linalg.norm(coef - beta) / np.linalg.norm(beta)


results = {}

# %%
# Ours: a sketch, then one map-reduce pass per iteration
# ------------------------------------------------------
t = time.perf_counter()
reg = SketchPreconditionedRegressor(random_state=0).fit(X, y)
results["sketch-preconditioned CG (ours)"] = (
    time.perf_counter() - t,
    forward_error(reg.coef_),
)
print(f"ours: sketch of {reg.sketch_size_} rows, {reg.n_iter_} iterations")

# %%
# TSQR: ``dask.array.linalg.lstsq`` on ``[1, X]``
# -------------------------------------------------
t = time.perf_counter()
A = da.concatenate([da.ones((m, 1), chunks=(X.chunks[0], 1)), X], axis=1)
A = A.rechunk({1: -1})  # TSQR needs one column chunk
sol = da.linalg.lstsq(A, y[:, None])[0].compute()[:, 0]
results["TSQR (da.linalg.lstsq)"] = (time.perf_counter() - t, forward_error(sol[1:]))

# %%
# With ``--dask-ml``: dask-ml's LinearRegression (dask-glm ADMM), no penalty
# --------------------------------------------------------------------------
if "--dask-ml" in sys.argv:
    from dask_ml.linear_model import LinearRegression  # an optional extra

    t = time.perf_counter()
    lr = LinearRegression(C=1e12).fit(X, y)
    results["dask-ml LinearRegression (ADMM)"] = (
        time.perf_counter() - t,
        forward_error(lr.coef_),
    )

client.close()
cluster.close()

# %%
# The in-memory anchors, in a process of their own
# ------------------------------------------------
# The same rows, regenerated chunk by chunk in a forked process once the
# cluster is gone (so that they never compete with it for memory): LAPACK's
# ``gelsd`` on ``[1, X]`` and our solver on the in-memory array.


def in_memory_anchors(queue):
    parts = [
        make_chunk(c, min(chunk_rows, m - s), n, cond, seed)
        for c, s in enumerate(range(0, m, chunk_rows))
    ]
    Xm, ym = np.vstack([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    out = {}
    t = time.perf_counter()
    ours = SketchPreconditionedRegressor(random_state=0).fit(Xm, ym)
    out["ours, in memory"] = (time.perf_counter() - t, forward_error(ours.coef_))
    t = time.perf_counter()
    A = np.column_stack([np.ones(m), Xm])
    del Xm
    sol = scipy.linalg.lstsq(A, ym, lapack_driver="gelsd")[0]
    out["LAPACK gelsd, in memory"] = (time.perf_counter() - t, forward_error(sol[1:]))
    queue.put(out)


if not LARGE:  # 10^7 rows (8 GB, twice for LAPACK) would not fit beside us
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    process = context.Process(target=in_memory_anchors, args=(queue,))
    process.start()
    results.update(queue.get())
    process.join()

print(f"\n{'solver':<34}{'time (s)':>10}{'forward error':>15}")
for name, (seconds, err) in results.items():
    print(f"{name:<34}{seconds:>10.2f}{err:>15.1e}")

# %%
# Time and accuracy
# -----------------
# Ours reads the data ~30 times at ``O(m n)`` each and reaches LAPACK's
# forward error (about ``cond * eps`` plus ``cond^2 eps ||r|| / ...`` for
# this large residual); TSQR does ``O(m n^2)`` work for the same
# accuracy; a first-order method (``--dask-ml``) stops at its tolerance,
# orders of magnitude less accurate.
names = list(results)
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5), layout="constrained")
colors = [f"C{i}" for i in range(len(names))]
ax1.barh(names, [results[k][0] for k in names], color=colors)
ax1.set_xlabel("wall time (s)")
ax1.invert_yaxis()
ax2.barh(names, [results[k][1] for k in names], color=colors)
ax2.set_xscale("log")
ax2.set_xlabel("forward error ||coef - coef*|| / ||coef*||")
ax2.invert_yaxis()
ax2.set_yticks([])
fig.suptitle(f"least squares, {m:,} x {n}, condition number {cond:.0e}")

# %%
# Saving the figure
# -----------------
# Run as a script, the figure is saved in ``examples/figures/`` (or in
# ``$SKLEARN_DEBIAS_FIGURE_DIR``).
try:
    figure_dir = Path(__file__).resolve().parent / "figures"
except NameError:  # sphinx-gallery runs examples from their folder, without __file__
    figure_dir = Path("figures")
figure_dir = Path(os.environ.get("SKLEARN_DEBIAS_FIGURE_DIR", figure_dir))
figure_dir.mkdir(parents=True, exist_ok=True)
fig.savefig(figure_dir / "plot_distributed_least_squares.png", dpi=100)
print(f"total {time.perf_counter() - t_start:.1f} s")
