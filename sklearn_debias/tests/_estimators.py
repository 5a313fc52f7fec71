"""The public estimators, discovered, and cheap parameters to fit them with.

Shared by ``test_common.py`` (scikit-learn's checks) and ``test_pickle.py``:
every class exported by the package or one of its subpackages that derives
from ``BaseEstimator``. ``FAST_PARAMS`` only makes some of them cheap to fit
many times.
"""

import importlib
import importlib.util
import inspect
import pkgutil

from sklearn.base import BaseEstimator
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.linear_model import Ridge

import sklearn_debias
from sklearn_debias import Quantile

HAS_TORCH = bool(
    importlib.util.find_spec("torch") and importlib.util.find_spec("skorch")
)
# Subpackages whose estimators need an optional extra.
NEEDS_TORCH = {"sklearn_debias.neural"}


def public_modules():
    yield sklearn_debias
    for info in pkgutil.iter_modules(sklearn_debias.__path__):
        if info.ispkg and not info.name.startswith("_") and info.name != "tests":
            yield importlib.import_module(f"sklearn_debias.{info.name}")


def public_estimator_classes():
    """``{name: class}`` of every exported estimator (torch ones only with torch)."""
    found = {}
    for module in public_modules():
        if module.__name__ in NEEDS_TORCH and not HAS_TORCH:
            continue
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if inspect.isclass(obj) and issubclass(obj, BaseEstimator):
                found[obj.__name__] = obj
    return found


class StandardNormal:
    """Like ``scipy.stats.norm()``, with a repr stable across xdist workers.

    Defined in an importable module so that estimators holding it pickle.
    """

    def rvs(self, size, random_state):
        return random_state.standard_normal(size)

    def __repr__(self):
        return "StandardNormal()"


# Constructor parameters that make an estimator cheap to fit many times, and
# extra configurations worth checking; a discovered class absent here is
# checked with its defaults. The default surrogates (slow Gaussian processes)
# are exercised by each subpackage's own tests.
FAST_PARAMS = {
    "DebiasedFunctionalEstimator": [
        dict(estimator=Ridge()),
        dict(
            estimator=Ridge(alpha=1e-3),
            sampler=StandardNormal(),
            n_samples=200,
            random_state=0,
        ),
        dict(
            estimator=Ridge(),
            functional=Quantile(0.5),
            sampler=StandardNormal(),
            n_samples=200,
            random_state=0,
        ),
    ],
    "SketchPreconditionedRegressor": [
        dict(),
        dict(alpha=1.0, solver="iterative_sketching"),
        dict(sketch_size=30, random_state=0),
    ],
    "WarpedGaussianProcessRegressor": [
        dict(gaussian_process=GaussianProcessRegressor(normalize_y=True)),
        dict(gaussian_process=GaussianProcessRegressor(), warp="identity"),
    ],
    "SketchedTruncatedSVD": [dict(), dict(algorithm="epsi", centering=True)],
    # solver="auto" is exact (Cholesky) on small data: check the PCG path too.
    "ScalableGaussianProcessRegressor": [dict(), dict(solver="pcg", random_state=0)],
    # Blockwise products (K not stored) and a tight tolerance for Falkon, whose
    # default (1e-6) is looser than the checks' equivalence tests.
    "SketchPreconditionedKernelRidge": [dict(), dict(max_memory=0, rank=4)],
    "NystromKernelRidge": [dict(tol=1e-10)],
    # pde=None, as the checks build it: surrogate predictions, with a warning.
    "SimulationCalibratedRegressor": [dict(), dict(estimator=Ridge())],
    "MLPSurrogate": [
        dict(hidden_layer_sizes=(16,), max_epochs=20, lr=3e-2, batch_size=256)
    ],
    # pde=None, as the checks build it: a network fitted on the data (X, y).
    "PINNRegressor": [
        dict(hidden_layer_sizes=(16,), max_epochs=30, lr=3e-2, lbfgs_max_iter=30)
    ],
}


def fast_estimators():
    """Every discovered estimator, once per entry of its ``FAST_PARAMS``."""
    for name, cls in sorted(public_estimator_classes().items()):
        for params in FAST_PARAMS.get(name, [dict()]):
            yield cls(**params)
