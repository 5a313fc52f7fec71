"""The package's thread pool: fixed blocks, a reduction order that never varies.

Sketches and design-matrix products split their rows into blocks and sum
the blocks' contributions. The blocks are grouped into a fixed number of
items per task, independent of the number of threads, and the task results
are added in task order: the floating-point result is the same on every
machine and for every thread count.
"""

import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext

import numpy as np
from threadpoolctl import threadpool_limits

__all__ = ["n_threads", "prediction_threads", "run_blocks", "threaded_sum"]

# Items accumulated by one task before its partial sum is handed back.
_ITEMS_PER_TASK = 4
# Kernel entries of a prediction below which threads cost more than they save
# (about 30 ms of work for a sum of kernels).
_THREADED_PREDICTION_ENTRIES = 2**21


def n_threads():
    """Threads used for block products (scipy's sparse products are serial)."""
    return max(1, min(4, os.cpu_count() or 1))


def prediction_threads(n_entries):
    """Threads for a prediction of ``n_entries`` kernel entries: ``n_threads()``
    when it is large enough to pay for them, else ``None`` (the caller's thread).
    """
    return n_threads() if n_entries >= _THREADED_PREDICTION_ENTRIES else None


def threaded_sum(func, n_items, single_threaded_blas=False):
    """``sum(func(i) for i in range(n_items))``, elementwise over list items.

    ``func(i)`` returns a list of arrays. Items are accumulated in order in
    fixed groups of consecutive items, and the groups' sums are added in
    order, so the result does not depend on scheduling or on the number of
    threads.

    Parameters
    ----------
    func : callable
        ``func(i) -> list of ndarray``.
    n_items : int
        Number of items.
    single_threaded_blas : bool, default=False
        Limit BLAS to one thread inside the workers (many small BLAS calls
        each paying a thread synchronisation are slow on a busy machine).

    Returns
    -------
    total : list of ndarray

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias.utils import threaded_sum
    >>> threaded_sum(lambda i: [np.array([i, 1.0])], 10)
    [array([45., 10.])]
    """
    groups = [
        range(start, min(start + _ITEMS_PER_TASK, n_items))
        for start in range(0, n_items, _ITEMS_PER_TASK)
    ]

    def task(items):
        total = None
        for i in items:
            parts = func(i)
            if total is None:
                total = [np.array(part, copy=True) for part in parts]
            else:
                for acc, part in zip(total, parts, strict=True):
                    acc += part
        return total

    workers = min(n_threads(), len(groups))
    limits = (
        threadpool_limits(limits=1, user_api="blas")
        if single_threaded_blas
        else nullcontext()
    )
    with limits:
        if workers <= 1:
            return _ordered_total(map(task, groups))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return _ordered_total(pool.map(task, groups))


def _ordered_total(results):
    total = None
    for result in results:
        if total is None:
            total = result
        else:
            for acc, part in zip(total, result, strict=True):
                acc += part
    return total


def _n_workers(n_jobs):
    """Threads for ``n_jobs`` as joblib counts them (``None``: 1, ``-1``: all)."""
    if n_jobs is None:
        return 1
    n_cpu = os.cpu_count() or 1
    return max(1, n_cpu + 1 + n_jobs if n_jobs < 0 else min(n_jobs, n_cpu))


def run_blocks(func, n_rows, rows, n_jobs=None):
    """Call ``func(start, stop)`` on consecutive blocks of ``rows`` rows, threaded.

    The calls must write disjoint outputs; BLAS runs on one thread inside
    the workers (they share the cores).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias.utils import run_blocks
    >>> out = np.zeros(10)
    >>> def work(start, stop):
    ...     out[start:stop] = np.arange(start, stop) ** 2
    >>> run_blocks(work, 10, 4, n_jobs=2)
    >>> out[-3:]
    array([49., 64., 81.])
    """
    jobs = [(s, min(s + rows, n_rows)) for s in range(0, n_rows, rows)]
    workers = min(_n_workers(n_jobs), len(jobs))
    if workers <= 1:
        for job in jobs:
            func(*job)
        return
    with threadpool_limits(limits=1, user_api="blas"):
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(lambda job: func(*job), jobs))
