"""Benchmark: top-k SVD by block Krylov and EPSI against the anchors, in one run.

Matrices (k = 20): a dense 20 000 x 1 000 matrix with (a) a gap after k
(s_i = 1 - 0.02 (i - 1) for i <= k, then 0.5 / (1 + 0.01 (i - k))) and
(b) 1/i decay, both with exactly known singular vectors (random orthogonal
factors applied by fast transforms); and a sparse 100 000 x 10 000 matrix
(about 10 non-zeros per row) whose reference is ARPACK at machine precision.

Methods: ``sketched_svd`` at its default tolerance and with ``tol=1e-12`` and
``tol=1e-14`` (block Krylov, the default method), EPSI at the default and at
``tol=1e-14``, ``randomized_svd`` at its
defaults and with the subspace iterations that match the default method's
products, ``TruncatedSVD``, ``svds`` (arpack, lobpcg, propack) and the full SVD.
Runs are paired: each repeat runs every method once, in turn, so that the
varying load of a shared machine affects all alike. EPSI at ``tol=1e-14`` is
left out on the sparse matrix (its flat spectrum makes it very slow).
Reported: median time of the repeats (the full SVD runs once), ratio to
``randomized_svd`` at its defaults, sine of the largest angle between the
computed and exact top-k right singular subspaces, largest relative
singular-value error, and the number of products of ``A`` (or ``A.T``) with
a vector.

Run ``python benchmarks/bench_lowrank.py`` (``--quick``: 4 000 x 400 dense and
20 000 x 2 000 sparse, one repeat). BLAS is limited to one thread so that
timings are comparable on a shared machine.
"""

import argparse
import time
import warnings

import numpy as np
import scipy.fft
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, aslinearoperator, svds
from sklearn.decomposition import TruncatedSVD
from sklearn.utils.extmath import randomized_svd
from threadpoolctl import threadpool_limits

from sklearn_debias.decomposition import sketched_svd
from sklearn_debias.utils import format_table


def known_svd_matrix(m, n, s, seed=0):
    """``A = T [diag(s) V^T; 0]`` with ``T`` orthogonal (signs, permutations, DCTs)."""
    rng = np.random.default_rng(seed)
    V = np.linalg.qr(rng.standard_normal((n, n)))[0]
    A = np.zeros((m, n))
    A[:n] = s[:, None] * V.T
    for _ in range(2):
        A = A[rng.permutation(m)] * rng.choice([-1.0, 1.0], m)[:, None]
        A = scipy.fft.dct(A, axis=0, norm="ortho")
    return A, V


def sparse_matrix(m, n, nnz_per_row=10, seed=0):
    rng = np.random.default_rng(seed)
    rows = np.repeat(np.arange(m), nnz_per_row)
    cols = rng.integers(0, n, m * nnz_per_row)
    # Column weights make the spectrum decay (otherwise it is nearly flat).
    vals = rng.standard_normal(m * nnz_per_row) / (1.0 + cols / 50.0)
    return sp.csr_array((vals, (rows, cols)), shape=(m, n))


class Counted:
    """Wrap ``A`` as a LinearOperator counting products with vectors."""

    def __init__(self, A):
        self.A = A
        self.count = 0

    def op(self):
        A = self.A

        def matmat(X):
            X = X.reshape(A.shape[1], -1)
            self.count += X.shape[1]
            return A @ X

        def rmatmat(Y):
            Y = Y.reshape(A.shape[0], -1)
            self.count += Y.shape[1]
            return A.T @ Y

        return LinearOperator(
            A.shape,
            matvec=matmat,
            rmatvec=rmatmat,
            matmat=matmat,
            rmatmat=rmatmat,
            dtype=np.float64,
        )


def subspace_sin(Vt, V_ref, k):
    P = V_ref[:, :k]
    W = np.linalg.qr(Vt[:k].T)[0]
    return np.linalg.norm(W - P @ (P.T @ W), 2)


def run_methods(A, k, s_ref, V_ref, repeats, full_svd, tight_epsi=True):
    m, n = A.shape
    b = k + 10
    methods = {}

    def rsvd(n_iter):
        def f(seed):
            kw = {} if n_iter is None else dict(n_iter=n_iter)
            U, s, Vt = randomized_svd(A, k, random_state=seed, **kw)
            it = (7 if k < 0.1 * min(m, n) else 4) if n_iter is None else n_iter
            return s, Vt, (2 * it + 2) * b

        return f

    def ours(method, tol, block_size=None):
        def f(seed):
            res = sketched_svd(
                A,
                k,
                method=method,
                tol=tol,
                block_size=block_size,
                random_state=seed,
            )
            return res.s, res.Vt, res.n_matvecs

        return f

    def tsvd(seed):
        est = TruncatedSVD(k, random_state=seed).fit(A)
        return est.singular_values_, est.components_, (2 * 5 + 2) * b

    def scipy_svds(solver):
        def f(seed):
            c = Counted(A)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                U, s, Vt = svds(c.op(), k, solver=solver, random_state=seed)
            order = np.argsort(s)[::-1]
            return s[order], Vt[order], c.count

        return f

    methods["randomized_svd (defaults)"] = rsvd(None)
    methods["sketched_svd (default)"] = ours("auto", 1e-6)
    methods["sketched_svd tol=1e-14"] = ours("block_krylov", 1e-14)
    methods["sketched_svd tol=1e-12"] = ours("block_krylov", 1e-12)
    methods["epsi (default tol)"] = ours("epsi", 1e-6)
    if tight_epsi:
        methods["epsi tol=1e-14"] = ours("epsi", 1e-14)
    methods["TruncatedSVD"] = tsvd
    methods["svds arpack"] = scipy_svds("arpack")
    methods["svds lobpcg"] = scipy_svds("lobpcg")
    methods["svds propack"] = scipy_svds("propack")
    if full_svd:

        def full(seed):
            U, s, Vt = np.linalg.svd(A, full_matrices=False)
            return s[:k], Vt[:k], 0

        methods["full SVD (LAPACK)"] = full

    # Paired, interleaved runs: every repeat runs every method once, so that
    # the load of a shared machine affects all methods alike.
    times = {name: [] for name in methods}
    outs = {}
    eq_name = None
    for seed in range(repeats):
        for name, f in list(methods.items()):
            if name == eq_name:
                continue
            if name.startswith("full") and seed > 0:
                continue
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                outs[name] = f(seed)
            times[name].append(time.perf_counter() - t0)
            if seed == 0 and name == "sketched_svd (default)":
                # randomized_svd with as many products as the default method
                # (block products of the same width: about equal time; a
                # calibration on time is unreliable on a loaded machine).
                it = max(1, round(outs[name][2] / (2 * b)) - 1)
                eq_name = f"randomized_svd n_iter={it} (equal products)"
                methods[eq_name] = rsvd(it)
                times[eq_name] = []
                for rep in range(repeats):
                    t0 = time.perf_counter()
                    outs[eq_name] = rsvd(it)(rep)
                    times[eq_name].append(time.perf_counter() - t0)
    results = {name: (float(np.median(times[name])), *outs[name]) for name in methods}
    t0 = results["randomized_svd (defaults)"][0]
    rows = []
    for name, (t, s, Vt, nmv) in results.items():
        rows.append(
            [
                name,
                f"{t:.3f}",
                f"{t / t0:.2f}",
                f"{subspace_sin(Vt, V_ref, k):.1e}",
                f"{np.max(np.abs(s[:k] - s_ref[:k]) / s_ref[:k]):.1e}",
                str(nmv),
            ]
        )
    return rows


HEADER = ["method", "time s", "t/rsvd", "sin angle", "max rel s err", "products"]


def main(quick=False):
    k = 20
    repeats = 1 if quick else 3
    m, n = (4000, 400) if quick else (20_000, 1_000)
    i = np.arange(1, n + 1, dtype=float)
    spectra = {
        "gap after k": np.where(
            i <= k, 1.0 - 0.02 * (i - 1), 0.5 / (1 + 0.01 * (i - k))
        ),
        "1/i decay": 1.0 / i,
    }
    with threadpool_limits(1):
        for label, s in spectra.items():
            A, V = known_svd_matrix(m, n, s)
            rows = run_methods(A, k, s, V, repeats, True)
            print(format_table(f"dense {m} x {n}, {label}, k = {k}", HEADER, rows))
            print(flush=True)
        ms, ns = (20_000, 2_000) if quick else (100_000, 10_000)
        A = sparse_matrix(ms, ns)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, s_ref, Vt_ref = svds(aslinearoperator(A), k + 5, tol=0, random_state=0)
        order = np.argsort(s_ref)[::-1]
        s_ref, V_ref = s_ref[order], Vt_ref[order].T
        rows = run_methods(A, k, s_ref, V_ref, repeats, False, tight_epsi=False)
        print(
            format_table(
                f"sparse {ms} x {ns} ({A.nnz} non-zeros), k = {k}, "
                "reference ARPACK tol=0",
                HEADER,
                rows,
            )
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small, fast run")
    main(parser.parse_args().quick)
