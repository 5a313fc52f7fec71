"""Test-suite setup shared by the doctests and tests/."""

import importlib.util
import sys

import pytest
from threadpoolctl import threadpool_limits


def _importable(name):
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


HAS_TORCH = _importable("torch") and _importable("skorch")

# The doctests of the torch-backed modules need torch and skorch (optional extras).
collect_ignore = (
    []
    if HAS_TORCH
    else [
        "sklearn_debias/neural/_autograd.py",
        "sklearn_debias/neural/_mlp.py",
        "sklearn_debias/neural/_pinn.py",
        "sklearn_debias/neural/_torch_modules.py",
        "sklearn_debias/neural/_forward_laplacian.py",
    ]
)


@pytest.fixture(autouse=True)
def _single_threaded_kernels():
    """One BLAS and one torch thread per test process.

    Under pytest-xdist every core already runs a test; multi-threaded BLAS or
    torch on top of that thrashes (small dense products ran 20-100x slower).
    """
    torch = sys.modules.get("torch")
    n_threads = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield
    if torch is not None:
        torch.set_num_threads(n_threads)


@pytest.fixture(scope="module")
def client():
    """A two-worker ``distributed.LocalCluster`` (threads) and its client.

    Skipped only when distributed (the optional ``dask`` extra) is missing.
    """
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client
