"""Work sent through joblib to a dask cluster gives the local backend's results.

Cross-fitting folds (with their cheap-side draws), the simulation chunks of
the PDE correction and the probe blocks of ``linalg`` (with ``n_jobs``) go
through :class:`sklearn.utils.parallel.Parallel`, each task seeded by its
index: under ``joblib.parallel_backend("dask")`` they run
on the cluster's workers and the results are bit for bit those of the local
backend (BLAS pinned to one thread on both sides, as dask's nanny pins it).
"""

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from scipy import stats
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures
from threadpoolctl import threadpool_limits

distributed = pytest.importorskip("distributed")
joblib = pytest.importorskip("joblib")

from sklearn_debias import DebiasedFunctionalEstimator  # noqa: E402
from sklearn_debias.pde import (  # noqa: E402
    SimulationCalibratedRegressor,
    viscous_burgers,
)


def _on_cluster(client, func):
    """``func()`` under the dask joblib backend; asserts the cluster ran tasks."""
    with distributed.get_task_stream(client) as stream:
        with joblib.parallel_backend("dask"), threadpool_limits(1):
            out = func()
    assert len(stream.data) > 0, "no task reached the cluster"
    return out


def test_cross_fitting_on_dask_is_bit_identical(client):
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(80, 3))
    y = np.exp(X.sum(axis=1) / 3)

    def fit(n_jobs):
        surrogate = make_pipeline(PolynomialFeatures(2), LinearRegression())
        return DebiasedFunctionalEstimator(
            surrogate,
            sampler=stats.uniform(),
            n_samples=300,
            n_repeats=2,
            n_jobs=n_jobs,
            random_state=0,
        ).fit(X, y)

    # Locally in one process (n_jobs makes no difference there, as
    # functional/tests/test_random_streams.py checks), on the cluster with two.
    with threadpool_limits(1):
        local = fit(None)
    remote = _on_cluster(client, lambda: fit(2))
    assert remote.estimate_ == local.estimate_
    assert remote.standard_error_ == local.standard_error_
    assert_array_equal(remote.repeat_estimates_, local.repeat_estimates_)
    assert_array_equal(remote.oof_predictions_, local.oof_predictions_)


def test_simulation_chunks_on_dask_are_bit_identical(client):
    pde = viscous_burgers(3)
    Xq = pde.sample(30, random_state=0)
    # A surrogate whose predictions do not depend on the memory alignment of
    # its (unpickled) arrays: sklearn's rbf kernel (euclidean_distances) sums
    # with SIMD and can move by one ulp after a pickle round trip, backend or not.
    surrogate = make_pipeline(PolynomialFeatures(2), Ridge(alpha=1e-3))
    reg = SimulationCalibratedRegressor(
        surrogate,
        pde,
        n_paths=1000,
        levels=1,
        n_jobs=2,
        random_state=3,
    )
    reg.fit(Xq, pde.exact_solution(Xq))
    with threadpool_limits(1):
        local = reg.predict(Xq)
    remote = _on_cluster(client, lambda: reg.predict(Xq))
    assert_array_equal(remote, local)


class _KernelMatvec:
    """A picklable expensive product: ``K @ X`` with ``K`` an RBF kernel matrix."""

    def __init__(self, n, seed):
        Z = np.random.default_rng(seed).standard_normal((n, 3))
        sq = ((Z[:, None, :] - Z[None, :, :]) ** 2).sum(-1)
        self.K = np.exp(-sq / 2) + 1e-2 * np.eye(n)

    def __call__(self, X):
        return self.K @ X


@pytest.mark.parametrize("estimate", ["trace", "diagonal", "logdet"])
def test_probe_blocks_on_dask_are_bit_identical(client, estimate):
    from sklearn_debias import linalg

    A = _KernelMatvec(300, seed=0)
    kw = dict(size=300, random_state=0)

    budget = 200 if estimate == "logdet" else 60  # logdet: 10+ probes a block

    def run(n_jobs):
        out = getattr(linalg, estimate)(A, budget, n_jobs=n_jobs, **kw)
        return np.atleast_1d(out.estimate)

    with threadpool_limits(1):
        local, serial, whole = run(2), run(1), run(None)
    remote = _on_cluster(client, lambda: run(2))
    assert_array_equal(remote, local)
    assert_array_equal(serial, local)
    # Whole blocks differ from column groups by rounding only.
    np.testing.assert_allclose(whole, local, rtol=1e-10)
