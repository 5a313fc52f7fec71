"""Progress reporting for long loops, with no required dependency.

One helper, :func:`progress`, wraps an iterable and yields its items
unchanged. With ``verbose > 0`` it shows a ``tqdm`` bar on stderr when
``tqdm`` is installed (imported lazily: it is not a dependency) and plain
progress lines on stderr otherwise. With ``verbose == 0`` it is silent and
costs nothing beyond the generator. Results never depend on ``verbose``.
"""

import sys
import time

__all__ = ["progress"]

# Plain-text fallback: one line per this fraction of the work.
_STEP_FRACTION = 0.1


def _import_tqdm():
    """Return ``tqdm.tqdm`` or ``None`` when tqdm is not installed."""
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm


def _plain_progress(iterable, total, desc, stream):
    """Yield from ``iterable``, printing a line at every ~10% step."""
    prefix = f"{desc}: " if desc else ""
    start = time.perf_counter()
    if total is None:
        # Unknown length: report at powers of two.
        next_report = 1
    else:
        step = max(1, int(round(total * _STEP_FRACTION)))
        next_report = step
    done = 0
    for item in iterable:
        yield item
        done += 1
        if done >= next_report or (total is not None and done == total):
            elapsed = time.perf_counter() - start
            if total is None:
                print(f"{prefix}{done} done, {elapsed:.1f}s", file=stream, flush=True)
                next_report *= 2
            else:
                pct = 100.0 * done / total if total else 100.0
                print(
                    f"{prefix}{done}/{total} ({pct:3.0f}%), {elapsed:.1f}s",
                    file=stream,
                    flush=True,
                )
                next_report = done + step


def progress(iterable, *, total=None, desc="", verbose=0):
    """Yield the items of ``iterable`` unchanged, reporting progress if asked.

    Parameters
    ----------
    iterable : iterable
        The items to walk through.
    total : int, default=None
        Number of items; ``None`` uses ``len(iterable)`` when available.
    desc : str, default=""
        Short label printed before the progress.
    verbose : int, default=0
        ``0``: silent. ``> 0``: a ``tqdm`` bar on stderr when ``tqdm`` is
        installed, otherwise a plain line on stderr at about every 10% of
        the work, with the elapsed time.

    Yields
    ------
    item : object
        The items of ``iterable``, in order, unchanged.

    Examples
    --------
    >>> from sklearn_debias.utils import progress
    >>> [x * 2 for x in progress(range(3))]
    [0, 2, 4]
    """
    if total is None:
        try:
            total = len(iterable)
        except TypeError:
            total = None
    if not verbose or verbose <= 0:
        yield from iterable
        return
    tqdm = _import_tqdm()
    if tqdm is not None:
        with tqdm(iterable, total=total, desc=desc or None, file=sys.stderr) as bar:
            yield from bar
        return
    yield from _plain_progress(iterable, total, desc, sys.stderr)
