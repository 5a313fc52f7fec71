"""The public API is typed (the package ships ``py.typed``): every annotation of
a public function, constructor, ``fit``, ``predict`` and ``transform`` resolves
with :func:`typing.get_type_hints`, and functions and constructors declare what
they return."""

import importlib
import inspect
import typing

import pytest

PACKAGES = [
    "sklearn_debias",
    "sklearn_debias.functional",
    "sklearn_debias.linalg",
    "sklearn_debias.decomposition",
    "sklearn_debias.linear_model",
    "sklearn_debias.kernel_ridge",
    "sklearn_debias.pde",
    "sklearn_debias.gaussian_process",
    "sklearn_debias.datasets",
]
METHODS = ("fit", "predict", "transform")


def _targets(package):
    """``(id, callable, needs_return)`` for the public API of ``package``.

    A function, the ``__init__`` of a class (unless it is inherited from a
    builtin, as for warnings and exceptions), and the class's own ``fit``,
    ``predict`` and ``transform``. Other names (constants, dicts) are skipped.
    """
    module = importlib.import_module(package)
    targets = []
    for name in module.__all__:
        obj = getattr(module, name)
        if inspect.isfunction(obj):
            targets.append((f"{package}.{name}", obj, True))
        elif inspect.isclass(obj):
            if inspect.isfunction(obj.__init__):
                targets.append((f"{package}.{name}.__init__", obj.__init__, True))
            for method in METHODS:
                if method in vars(obj):
                    func = getattr(obj, method)
                    targets.append((f"{package}.{name}.{method}", func, False))
    return targets


def _params(packages):
    return [
        pytest.param(func, needs_return, id=target_id)
        for package in packages
        for target_id, func, needs_return in _targets(package)
    ]


def _check_hints(func, needs_return, localns=None):
    hints = typing.get_type_hints(func, localns=localns)
    if needs_return:
        assert "return" in hints, f"{func.__qualname__} has no return annotation"


@pytest.mark.parametrize("func, needs_return", _params(PACKAGES))
def test_public_annotations_resolve(func, needs_return):
    _check_hints(func, needs_return)


@pytest.mark.parametrize("func, needs_return", _params(["sklearn_debias.neural"]))
def test_neural_annotations_resolve(func, needs_return):
    # torch appears in the annotations only under TYPE_CHECKING.
    torch = pytest.importorskip("torch")
    _check_hints(func, needs_return, localns={"torch": torch})
