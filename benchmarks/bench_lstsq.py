"""Benchmark: SketchPreconditionedRegressor against LAPACK and sklearn.

For each shape and condition number, one dense float64 design ``X`` (condition
number ~``cond``, columns mixed by an orthogonal DCT so column scaling cannot
remove it, non-zero column means) and two targets with known solutions: a
small residual (``||r|| = 1e-10 ||X_c coef||``) and a large one
(``||r|| = ||X_c coef||``), with ``r`` orthogonal to ``[1, X]``. Every solver
fits an intercept and both targets at once. Printed per solver: wall time,
speed-up of ours (anchor time / our time), forward error
``||coef - coef*|| / ||coef*||`` per target, its ratio to LAPACK gelsd's, and
the Karlson–Waldén backward-error estimate (relative to ``||X_c||_F``).

    python benchmarks/bench_lstsq.py --quick     # small shapes, seconds
    python benchmarks/bench_lstsq.py             # the issue's shapes, minutes

The full run needs ~6 GB of memory. At condition 1e8 the slow anchors that
cannot reach accuracy there (gelsy is as slow as gelsd; unpreconditioned LSQR
does not converge) are skipped to bound the runtime.
"""

import argparse
import time
import warnings

import numpy as np
import scipy.fft
import scipy.linalg
import scipy.sparse.linalg as spla
from sklearn.linear_model import LinearRegression, Ridge

from sklearn_debias._randnla import (
    SketchPreconditioner,
    karlson_walden_estimate,
    make_embedding,
)
from sklearn_debias.linear_model import SketchPreconditionedRegressor

FULL = [(200_000, 500), (1_000_000, 200), (100_000, 2000)]
QUICK = [(20_000, 100), (100_000, 40), (10_000, 400)]


def _project_out(G, z, n_iter=30):
    """``z`` minus its projection on ``range([1, G])``; ``G`` well conditioned.

    CGLS on ``[1, G]`` (condition ~1 for m >> n), so no factorisation of the
    big matrix is needed.
    """
    m = G.shape[0]
    scale = 1.0 / np.linalg.norm(G, axis=0)

    def mv(c):
        return c[0] / np.sqrt(m) + G @ (scale * c[1:])

    def rmv(r):
        return np.r_[r.sum() / np.sqrt(m), scale * (G.T @ r)]

    c = np.zeros(G.shape[1] + 1)
    r = z.copy()
    s = rmv(r)
    p, gamma = s.copy(), s @ s
    for _ in range(n_iter):
        q = mv(p)
        step = gamma / (q @ q)
        c += step * p
        r -= step * q
        s = rmv(r)
        gamma_new = s @ s
        if gamma_new < 1e-30 * (z @ z):
            break
        p = s + gamma_new / gamma * p
        gamma = gamma_new
    return z - mv(c)


def make_problem(m, n, cond, seed=0):
    rng = np.random.default_rng(seed)
    G = rng.standard_normal((m, n))
    r = np.column_stack([_project_out(G, rng.standard_normal(m)) for _ in range(2)])
    sigma = np.logspace(0, -np.log10(cond), n)
    G *= sigma
    X = scipy.fft.dct(G, type=2, norm="ortho", axis=1, overwrite_x=True, workers=-1)
    del G
    X += rng.uniform(-1, 1, size=n)
    coef = rng.standard_normal(n)
    signal = X @ coef
    signal -= signal.mean()
    norm = np.linalg.norm(signal)
    r *= np.array([1e-10, 1.0]) * norm / np.linalg.norm(r, axis=0)
    Y = signal[:, None] + 0.5 + r
    return X, Y, coef


def kw_estimate(X, Y, coefs, intercepts, rng):
    """Karlson–Waldén estimate for each target, relative to ||X_c||_F."""
    m, n = X.shape
    mean = X.mean(axis=0)
    S = make_embedding("sparse_sign", 4 * n, m, rng)
    SX, S1 = S.apply_many([X, np.ones(m)])
    precond = SketchPreconditioner(SX - np.outer(S1, mean), rcond=0.0)
    fro = np.sqrt(np.sum(precond.s**2))
    R = Y - X @ coefs.T - intercepts
    G = X.T @ R - np.outer(mean, R.sum(axis=0))
    eta = karlson_walden_estimate(precond, G, coefs.T, np.linalg.norm(R, axis=0))
    return eta / fro


def centred_lstsq(driver):
    def fit(X, Y):
        mean, ymean = X.mean(axis=0), Y.mean(axis=0)
        coef = scipy.linalg.lstsq(
            X - mean, Y - ymean, lapack_driver=driver, check_finite=False
        )[0]
        return coef.T, ymean - mean @ coef

    return fit


def lsqr_fit(X, Y, iter_lim=30):
    mean, ymean = X.mean(axis=0), Y.mean(axis=0)
    op = spla.LinearOperator(
        X.shape,
        matvec=lambda v: X @ v - mean @ v,
        rmatvec=lambda u: X.T @ u - mean * u.sum(),
        dtype=np.float64,
    )
    coef = np.array(
        [
            spla.lsqr(
                op, Y[:, j] - ymean[j], atol=1e-14, btol=1e-14, iter_lim=iter_lim
            )[0]
            for j in range(Y.shape[1])
        ]
    )
    return coef, ymean - coef @ mean


def sklearn_fit(est):
    def fit(X, Y):
        est.fit(X, Y)
        return est.coef_, est.intercept_

    return fit


def run(shapes, conds, seed=0):
    rng = np.random.default_rng(seed)
    for m, n in shapes:
        for cond in conds:
            X, Y, coef = make_problem(m, n, cond, seed=seed)
            ours = SketchPreconditionedRegressor(random_state=0)
            methods = [
                ("SketchPreconditioned", sklearn_fit(ours)),
                ("LinearRegression", sklearn_fit(LinearRegression())),
                ("Ridge(cholesky, a=0)", sklearn_fit(Ridge(0.0, solver="cholesky"))),
                ("lstsq gelsd", centred_lstsq("gelsd")),
            ]
            if cond < 1e6:
                methods += [
                    ("lstsq gelsy", centred_lstsq("gelsy")),
                    ("lsqr (30 it, no precond)", lsqr_fit),
                ]
            rows = []
            for name, fit in methods:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    t0 = time.perf_counter()
                    c, b = fit(X, Y)
                    elapsed = time.perf_counter() - t0
                c = np.atleast_2d(c)
                err = np.linalg.norm(c - coef, axis=1) / np.linalg.norm(coef)
                kw = kw_estimate(X, Y, c, np.asarray(b), rng)
                rows.append((name, elapsed, err, kw))
            t_ours = rows[0][1]
            err_ref = dict((r[0], r[2]) for r in rows)["lstsq gelsd"]
            print(
                f"\n{m} x {n}, cond {cond:.0e}  (ours: {ours.solver_}, sketch_size "
                f"{ours.sketch_size_}, {ours.n_iter_} iterations)"
            )
            print(
                f"{'solver':26s} {'time s':>8s} {'t/t_ours':>9s} {'err small':>10s} "
                f"{'err large':>10s} {'/gelsd sm':>10s} {'/gelsd lg':>10s} "
                f"{'KW small':>9s} {'KW large':>9s}"
            )
            for name, elapsed, err, kw in rows:
                ratio = err / err_ref
                print(
                    f"{name:26s} {elapsed:8.2f} {elapsed / t_ours:9.2f} "
                    f"{err[0]:10.1e} {err[1]:10.1e} {ratio[0]:10.2f} "
                    f"{ratio[1]:10.2f} {kw[0]:9.1e} {kw[1]:9.1e}",
                    flush=True,
                )
            del X, Y


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small shapes")
    parser.add_argument(
        "--shape", action="append", default=None, help="MxN, may be repeated"
    )
    parser.add_argument("--cond", action="append", type=float, default=None)
    args = parser.parse_args()
    shapes = QUICK if args.quick else FULL
    if args.shape:
        shapes = [tuple(int(v) for v in s.lower().split("x")) for s in args.shape]
    conds = args.cond or [1e4, 1e8]
    run(shapes, conds)


if __name__ == "__main__":
    main()
