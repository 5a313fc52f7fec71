"""Doctest setup: skip without torch/skorch; one torch thread while testing."""

import importlib.util

import pytest


def _importable(name):
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


HAS_TORCH = _importable("torch") and _importable("skorch")
collect_ignore = (
    []
    if HAS_TORCH
    else ["_autograd.py", "_mlp.py", "_torch_modules.py", "_forward_laplacian.py"]
)


@pytest.fixture(autouse=True)
def _single_torch_thread():
    """torch's intra-op threads thrash on a small shared machine: use one."""
    if not HAS_TORCH:
        yield
        return
    import torch

    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n_threads)
