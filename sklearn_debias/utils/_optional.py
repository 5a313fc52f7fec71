"""Optional extras (torch, dask), imported when first needed."""

import importlib

__all__ = ["import_extra"]


def import_extra(modules, extra, who):
    """Import ``modules`` (the first is returned) or say which extra to install.

    Parameters
    ----------
    modules : str or sequence of str
        Module names, e.g. ``("dask", "dask.array")``.
    extra : str
        The package extra that provides them (``"torch"``, ``"dask"``).
    who : str
        What needs them, as the error message's subject (``"PINNRegressor
        needs"``).

    Returns
    -------
    module : module
        The first of ``modules``.

    Examples
    --------
    >>> from sklearn_debias.utils import import_extra
    >>> import_extra("math", "none", "this example needs").__name__
    'math'
    """
    names = (modules,) if isinstance(modules, str) else tuple(modules)
    try:
        loaded = [importlib.import_module(name) for name in names]
    except ImportError as exc:
        raise ImportError(
            f"{who} {names[0]}: pip install 'sklearn-debias[{extra}]'"
        ) from exc
    return loaded[0]
