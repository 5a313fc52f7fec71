"""How the cheap side is drawn: fresh points from the distribution P.

The ``sampler`` parameter of the debiased estimators accepts

* a callable ``sampler(n, rng) -> X`` of shape ``(n, n_features)``;
* a ``scipy.stats`` distribution, frozen or multivariate (anything with ``rvs``);
  a univariate one is drawn independently in each coordinate;
* a ``scipy.stats.qmc`` engine, whose points lie in the unit cube (P is then the
  uniform distribution on ``[0, 1)^d``; compose with a ``ppf`` in a callable for
  other distributions). It draws one low-discrepancy point set, shared by every
  fold like a pool (a Sobol' set is rounded up to a power of 2);
* an array of shape ``(N, n_features)``: a fixed pool of draws from P, used in
  full by every fold.
"""

import copy

import numpy as np

from ..utils import check_returned

__all__ = ["Sampler", "check_sampler"]


class Sampler:
    """Validated access to draws from P.

    Parameters
    ----------
    source : callable, distribution, qmc engine or ndarray
        See the module docstring.
    n_features : int
        Number of columns the draws must have (that of the labelled ``X``).
    """

    def __init__(self, source, n_features):
        self.source = source
        self.n_features = n_features
        self.is_pool = isinstance(source, np.ndarray) or (
            hasattr(source, "__array__") and not callable(source)
        )
        # Low-discrepancy draws integrate smooth functions with an error far
        # below Monte Carlo's: estimators need not trade labels for them.
        self.low_discrepancy = False
        self._engine = None
        if self.is_pool:
            pool = np.asarray(source)
            if pool.ndim == 1 and n_features == 1:
                pool = pool.reshape(-1, 1)
            self._pool = self._check(pool, len(pool))
        elif _is_qmc_engine(source):
            # Work on a copy: fitting must not advance the user's engine.
            self._engine = copy.deepcopy(source)
        elif not (hasattr(source, "rvs") or callable(source)):
            raise TypeError(
                "sampler must be a callable (n, rng) -> X, a scipy.stats distribution, "
                "a scipy.stats.qmc engine or an array of draws; got "
                f"{type(source).__name__}"
            )

    def describe(self):
        if getattr(self, "source_name", None):
            return self.source_name
        if self.is_pool:
            return f"sampler array pool of {len(self.source)} draws"
        name = getattr(self.source, "__name__", None) or type(self.source).__name__
        return f"sampler {name}"

    def freeze(self, n):
        """For a qmc engine: draw its shared point set of (at least) ``n`` points.

        Returns a pool-backed sampler; other samplers are returned unchanged.
        """
        if self._engine is None:
            return self
        from scipy.stats import qmc

        if isinstance(self._engine, qmc.Sobol):
            n = 1 << int(np.ceil(np.log2(n)))
        points = self.draw(n, None)
        frozen = Sampler(points, self.n_features)
        frozen.low_discrepancy = True
        frozen.source_name = self.describe()
        return frozen

    def draw(self, n, rng):
        """Draw ``n`` points (the whole pool for an array), validated."""
        if self.is_pool:
            return self._pool
        src = self.source
        try:
            if self._engine is not None:
                X = self._engine.random(n)
            elif hasattr(src, "rvs"):
                X = np.asarray(src.rvs(size=n, random_state=rng))
                if X.ndim <= 1 and self.n_features > 1:
                    # A univariate distribution: independent coordinates.
                    X = np.asarray(src.rvs(size=(n, self.n_features), random_state=rng))
            else:
                X = src(n, rng)
        except Exception as exc:
            raise RuntimeError(
                f"the {self.describe()} raised while drawing {n} points"
            ) from exc
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 1 and self.n_features == 1:
            X = X.reshape(-1, 1)
        return self._check(X, n)

    def _check(self, X, n):
        return check_returned(
            X,
            X.ndim == 2 and X.shape == (n, self.n_features),
            lambda: f"the {self.describe()}",
            f"draws of shape {X.shape}; expected ({n}, {self.n_features}): {n} rows "
            "and as many columns as X has features",
            " (NaN or inf)",
        )


def _is_qmc_engine(obj):
    from scipy.stats import qmc

    return isinstance(obj, qmc.QMCEngine)


def check_sampler(sampler, n_features):
    """Wrap the ``sampler`` parameter; ``None`` stays ``None``."""
    if sampler is None:
        return None
    return Sampler(sampler, n_features)
