"""How the cheap side is drawn: fresh points from the distribution P.

The ``sampler`` parameter of the debiased estimators accepts

* a callable ``sampler(n, rng) -> X`` returning a dense array of shape
  ``(n, n_features)``;
* a ``scipy.stats`` distribution, frozen or multivariate (anything with
  ``rvs``). A univariate one with scalar parameters is drawn independently in
  each coordinate (every column alike); one with vector parameters of length
  ``n_features``, such as ``stats.uniform(loc=lower, scale=upper - lower)``,
  one distribution per column, independent columns;
* a list or tuple of ``n_features`` univariate distributions, one per column,
  drawn independently (``[stats.norm(0, 1), stats.uniform(2, 3)]``);

  univariate distributions whose class has its own quantile function (every
  named ``scipy.stats`` distribution) are drawn by randomized QMC, like a
  qmc engine below: scrambled Sobol' points mapped through each column's
  ``ppf`` (each point is a draw from P; the points are spread more evenly
  than independent draws). A multivariate distribution, or a univariate one
  whose quantile function is only numerical, is drawn with ``rvs``: plain
  Monte Carlo, fresh draws for every fold;
* a ``scipy.stats.qmc`` engine, whose points lie in the unit cube (P is then
  the uniform distribution on ``[0, 1)^d``, or on the box ``bounds=(lower,
  upper)``, to which the points are scaled with ``qmc.scale``; compose with a
  ``ppf`` in a callable for other distributions). It draws one
  low-discrepancy point set, shared by every fold like a pool, made of
  ``R = min(16, n)`` independent randomizations of ``ceil(n / R)`` points
  each (randomized QMC; for Sobol' each rounded up to a power of 2), so that
  the spread of their means gives an honest standard error (see
  :meth:`Sampler.freeze`);
* an array of shape ``(N, n_features)``, ``N >= 2``: a fixed pool of draws
  from P, used in full by every fold.

Draws must be dense and finite: a sparse matrix, a NaN or an infinity, a
wrong shape or a sampler that raises gives an error naming the sampler.
``bounds`` applies to a qmc engine only: with any other sampler it is an error.
"""

import copy
import warnings

import numpy as np
from scipy import sparse

from ..utils import check_returned, child_seed

__all__ = ["Sampler", "check_sampler", "QMC_REPLICATES", "default_n_samples"]

# Independent randomizations of a qmc engine's point set. Their number trades
# accuracy (one scrambled Sobol' set of N points integrates a smooth function
# with a variance near O(N^-3), R sets of N / R with R^2 times more) against
# the standard error's degrees of freedom (R - 1); 8-32 is the usual range
# (L'Ecuyer and Lemieux, 2002), and 16 gives a t quantile within 9% of the
# normal one at 95%.
QMC_REPLICATES = 16

# Default sizes of the cheap side (``n_samples="auto"``): fresh Monte Carlo
# draws per fold, or the points of the shared randomized QMC set (16
# scrambled Sobol' sets of 1024). The README's integral (d = 5, n = 256,
# default surrogate) had a standard error of 5.3e-4 with 5 x 100 000 Monte
# Carlo draws in 3.7 s, and 9.7e-5 with 2**14 randomized QMC points in 2.1 s.
MC_SAMPLES = 100_000
QMC_SAMPLES = 2**14

# Unit-cube coordinates fed to a quantile function stay inside (0, 1): a
# scrambled Sobol' coordinate is exactly 0 with probability 2**-30, and
# ppf(0) is -inf for an unbounded distribution.
_UNIT_CLIP = (2.0**-53, 1.0 - 2.0**-53)

_SAMPLER_KINDS = (
    "sampler must be a callable (n, rng) -> X, a scipy.stats distribution, a list "
    "of univariate scipy.stats distributions (one per column), a scipy.stats.qmc "
    "engine or an array of draws"
)


class Sampler:
    """Validated access to draws from P.

    Parameters
    ----------
    source : callable, distribution, list of distributions, qmc engine or ndarray
        See the module docstring.
    n_features : int
        Number of columns the draws must have (that of the labelled ``X``).
    bounds : pair of array-like, default=None
        ``(lower, upper)`` of the box a qmc engine's points are scaled to.
    """

    def __init__(self, source, n_features, bounds=None):
        self.source = source
        self.n_features = n_features
        if sparse.issparse(source):
            raise TypeError(
                f"sampler is a sparse {type(source).__name__} of shape "
                f"{source.shape}: a pool of draws must be a dense array; pass "
                "sampler.toarray()"
            )
        self.is_pool = isinstance(source, np.ndarray) or (
            hasattr(source, "__array__") and not callable(source)
        )
        # Low-discrepancy draws integrate smooth functions with an error far
        # below Monte Carlo's: estimators need not trade labels for them.
        self.low_discrepancy = False
        # Independent randomizations the rows come in (contiguous blocks of
        # equal size): > 1 for a randomized qmc set, 1 for anything else.
        self.replicates = 1
        self._engine = None
        self._columns = None
        self._vector_params = False
        self._bounds = None
        # Whether the draws are the quantiles of randomized QMC points (the
        # distributions all have their own ppf), see ``_quantiles``.
        self._by_quantiles = False
        if self.is_pool:
            self._pool = self._check_pool(source)
        elif _is_qmc_engine(source):
            # Work on a copy: fitting must not advance the user's engine.
            self._engine = copy.deepcopy(source)
        elif isinstance(source, list | tuple):
            self._columns = self._check_columns(source)
            self._by_quantiles = all(map(_has_quantile_function, self._columns))
        elif hasattr(source, "rvs"):
            self._vector_params = self._check_parameters(source)
            self._by_quantiles = _has_quantile_function(source)
        elif not callable(source):
            raise TypeError(f"{_SAMPLER_KINDS}; got {type(source).__name__}")
        if bounds is not None:
            if self._engine is None:
                raise ValueError(
                    f"bounds={bounds!r} applies to a scipy.stats.qmc engine only "
                    "(its unit-cube points are scaled to the box (lower, upper)); "
                    f"the {self.describe()} must draw in the units of X itself"
                )
            self._bounds = _check_bounds(bounds, n_features)

    def _check_pool(self, source):
        try:
            pool = np.asarray(source, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"the {self.describe()} could not be read as a numeric array: {exc}"
            ) from exc
        if pool.ndim == 1 and self.n_features == 1:
            pool = pool.reshape(-1, 1)
        pool = self._check(pool, len(pool))
        if len(pool) < 2:
            raise ValueError(
                f"sampler is an array pool of {len(pool)} rows: a pool of draws "
                "from P needs at least 2 (and many more for a precise integral)"
            )
        return pool

    def _check_columns(self, dists):
        for j, dist in enumerate(dists):
            if not hasattr(dist, "rvs"):
                raise TypeError(
                    f"{_SAMPLER_KINDS}; got a {type(dists).__name__} whose entry "
                    f"{j} is a {type(dist).__name__}, not a distribution with rvs"
                )
        if len(dists) != self.n_features:
            raise ValueError(
                f"sampler is a {type(dists).__name__} of {len(dists)} "
                "distributions, one per column, but X has "
                f"{self.n_features} features"
            )
        return list(dists)

    def _check_parameters(self, dist):
        """Whether a frozen distribution has vector parameters (one per column)."""
        if not (hasattr(dist, "dist") and hasattr(dist, "kwds")):
            return False  # not a frozen univariate distribution
        params = (*getattr(dist, "args", ()), *dist.kwds.values())
        try:
            shape = np.broadcast_shapes(*(np.shape(p) for p in params))
        except ValueError as exc:
            raise ValueError(
                f"the {self.describe()} has parameters of shapes "
                f"{[np.shape(p) for p in params]} that do not broadcast"
            ) from exc
        if shape == ():
            return False
        if shape not in ((self.n_features,), (1,)):
            raise ValueError(
                f"the {self.describe()} has parameters of shape {shape}; expected "
                f"scalars or vectors of length n_features={self.n_features} (one "
                "entry per column of X)"
            )
        return True

    def describe(self):
        if getattr(self, "source_name", None):
            return self.source_name
        src = self.source
        if self.is_pool:
            return f"sampler array pool of {len(src)} draws"
        if isinstance(src, list | tuple):
            return f"sampler {type(src).__name__} of {len(src)} distributions"
        if hasattr(src, "dist") and hasattr(src, "kwds"):
            return f"sampler scipy.stats.{getattr(src.dist, 'name', 'rv')} distribution"
        name = getattr(src, "__name__", None) or type(src).__name__
        return f"sampler {name}"

    @property
    def randomized_qmc(self):
        """Whether ``freeze`` draws a randomized QMC set (an engine, or
        distributions drawn through their quantile functions)."""
        return self._engine is not None or self._by_quantiles

    def default_size(self):
        """The cheap side's size for ``n_samples="auto"``."""
        return QMC_SAMPLES if self.randomized_qmc else MC_SAMPLES

    def freeze(self, n, seed=None):
        """For a qmc engine: draw its shared point set of about ``n`` points.

        Distributions drawn through their quantile functions (see the module
        docstring) are frozen the same way, from scrambled Sobol' engines,
        then mapped through the ``ppf`` of each column.

        The set is ``R = min(16, n)`` independent randomizations of the
        engine (randomized QMC), ``m = ceil(n / R)`` points each (for Sobol'
        ``m`` is rounded up to a power of 2, so that each randomization is a
        balanced set), stacked in order: ``R m >= n`` rows, ``replicates =
        R``. Replicate ``r`` is a fresh engine of the same kind and
        parameters, scrambled from ``child_seed(seed, r)``: the set depends on
        ``seed`` only, never on the engine's own seed, and the user's engine
        is not advanced. A Sobol' or Halton engine with ``scramble=False``
        (or any engine whose randomizations come out identical) cannot be
        randomized: a :class:`UserWarning` says so, and the set is ``n``
        points of the engine itself (rounded up to a power of 2 for Sobol'),
        with ``replicates = 1`` (its standard error is then Monte Carlo's, as
        if the points were independent).

        Parameters
        ----------
        n : int
            Requested number of points.
        seed : numpy.random.SeedSequence, default=None
            Seeds the randomizations (``None``: fresh entropy).

        Returns
        -------
        sampler : Sampler
            A pool-backed sampler with ``low_discrepancy = True``; other
            samplers are returned unchanged.
        """
        if not self.randomized_qmc:
            return self
        from scipy.stats import qmc

        template = self._engine
        if template is None:
            template = qmc.Sobol(self.n_features, scramble=True)
        sobol = isinstance(template, qmc.Sobol)
        replicates = min(QMC_REPLICATES, int(n))
        size = -(-int(n) // replicates)
        if sobol:
            size = 1 << int(np.ceil(np.log2(size)))
        if seed is None:
            seed = np.random.SeedSequence()
        engines = _randomizations(template, replicates, seed)
        points = None
        if engines is not None:
            sets = [self._draw_from(engine, size) for engine in engines]
            if not np.array_equal(sets[0], sets[1]):
                points = np.concatenate(sets)
        if points is None:
            warnings.warn(
                f"The {self.describe()} cannot be randomized (scramble=False, or "
                "its randomizations are identical): its standard error charges "
                "the cheap side the Monte Carlo variance var / N of its points, as "
                "if they were independent, which is not a guaranteed bound. Pass "
                "a scrambled engine (scipy.stats.qmc.Sobol(d, scramble=True)) "
                "for randomized QMC with an honest standard error.",
                UserWarning,
                stacklevel=4,  # freeze < fit < _fit_context < user
            )
            if sobol:
                n = 1 << int(np.ceil(np.log2(n)))
            points = self._draw_from(copy.deepcopy(template), n)
            replicates = 1
        frozen = Sampler(points, self.n_features)
        frozen.low_discrepancy = True
        frozen.replicates = replicates
        frozen.source_name = self.describe()
        return frozen

    def _draw_from(self, engine, n):
        """``n`` points of a qmc ``engine``, validated and scaled to ``bounds``."""
        saved = self._engine
        self._engine = engine
        try:
            return self.draw(n, None)
        finally:
            self._engine = saved

    def draw(self, n, rng):
        """Draw ``n`` points (the whole pool for an array), validated."""
        if self.is_pool:
            return self._pool
        src = self.source
        d = self.n_features
        try:
            if self._engine is not None and self._by_quantiles:
                X = self._quantiles(self._engine.random(n))
            elif self._engine is not None:
                X = self._engine.random(n)
            elif self._columns is not None:
                X = [np.asarray(c.rvs(size=n, random_state=rng)) for c in self._columns]
            elif self._vector_params:
                X = src.rvs(size=(n, d), random_state=rng)
            elif hasattr(src, "rvs"):
                X = np.asarray(src.rvs(size=n, random_state=rng))
                if X.ndim <= 1 and d > 1:
                    # A univariate distribution: independent coordinates.
                    X = np.asarray(src.rvs(size=(n, d), random_state=rng))
            else:
                X = src(n, rng)
        except Exception as exc:
            raise RuntimeError(
                f"the {self.describe()} raised while drawing {n} points: {exc}"
            ) from exc
        if self._columns is not None:  # one column per distribution
            bad = [j for j, c in enumerate(X) if c.shape != (n,)]
            if bad:
                raise ValueError(
                    f"the {self.describe()} returned draws of shape "
                    f"{X[bad[0]].shape} from its entry {bad[0]}; expected ({n},): "
                    "each entry must be a univariate distribution"
                )
            X = np.column_stack(X)
        if sparse.issparse(X):
            raise ValueError(
                f"the {self.describe()} returned a sparse {type(X).__name__}: "
                "draws must be a dense array of shape (n, n_features); return "
                "X.toarray()"
            )
        try:
            X = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"the {self.describe()} returned {type(X).__name__}, which is not "
                f"a numeric array of shape ({n}, {d}): {exc}"
            ) from exc
        if X.ndim == 1 and d == 1:
            X = X.reshape(-1, 1)
        X = self._check(X, n)
        if self._bounds is not None:
            from scipy.stats import qmc

            X = qmc.scale(X, *self._bounds)
        return X

    def _quantiles(self, U):
        """The unit-cube points ``U`` mapped through each column's ``ppf``."""
        U = np.clip(U, *_UNIT_CLIP)
        if self._columns is not None:
            return [np.asarray(c.ppf(U[:, j])) for j, c in enumerate(self._columns)]
        return np.asarray(self.source.ppf(U))

    def _check(self, X, n):
        return check_returned(
            X,
            X.ndim == 2 and X.shape == (n, self.n_features),
            lambda: f"the {self.describe()}",
            f"draws of shape {X.shape}; expected ({n}, {self.n_features}): {n} rows "
            "and as many columns as X has features",
            " (NaN or inf)",
        )


def _randomizations(engine, replicates, seed):
    """``replicates`` independently randomized copies of a qmc ``engine``.

    Copy ``r`` is seeded from ``child_seed(seed, r)``. A Sobol' or Halton
    engine is built afresh with the same dimension and parameters (its
    scrambling happens at construction); any other engine (Latin hypercube,
    Poisson disk, a subclass) is copied and given the new generator
    as its ``rng``, from which the documented engines draw. ``None`` for a
    Sobol' or Halton engine with ``scramble=False``: its points are fixed.
    """
    from scipy.stats import qmc

    rngs = [np.random.default_rng(child_seed(seed, r)) for r in range(replicates)]
    if type(engine) in (qmc.Sobol, qmc.Halton):
        if not engine.scramble:
            return None
        kwargs = {"scramble": True}
        if isinstance(engine, qmc.Sobol):
            kwargs["bits"] = engine.bits
        optimization = getattr(engine, "_optimization", None)
        if optimization is not None:
            kwargs["optimization"] = optimization
        return [type(engine)(engine.d, seed=rng, **kwargs) for rng in rngs]
    copies = []
    for rng in rngs:
        copy_ = copy.deepcopy(engine)
        copy_.rng = rng
        copies.append(copy_)
    return copies


def _has_quantile_function(dist):
    """Whether ``dist`` is a frozen univariate distribution whose class has
    its own quantile function (not scipy's generic numerical inversion of the
    distribution function, far too slow for thousands of points)."""
    from scipy import stats

    if not (hasattr(dist, "dist") and hasattr(dist, "kwds") and hasattr(dist, "ppf")):
        return False
    for generic in (stats.rv_continuous, stats.rv_discrete):
        if isinstance(dist.dist, generic):
            return type(dist.dist)._ppf is not generic._ppf
    return False


def default_n_samples(n_samples, sampler):
    """``n_samples``, or the sampler's default size for ``"auto"``."""
    if n_samples != "auto":
        return n_samples
    return sampler.default_size() if sampler is not None else MC_SAMPLES


def _is_qmc_engine(obj):
    from scipy.stats import qmc

    return isinstance(obj, qmc.QMCEngine)


def _check_bounds(bounds, n_features):
    """``(lower, upper)`` as two float vectors of length ``n_features``."""
    try:
        lower, upper = bounds
        lower, upper = (
            np.broadcast_to(np.asarray(b, dtype=np.float64), (n_features,)).copy()
            for b in (lower, upper)
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(
            "bounds must be a pair (lower, upper) of scalars or arrays of length "
            f"n_features={n_features}; got {bounds!r}"
        ) from exc
    if not (np.all(np.isfinite(lower)) and np.all(np.isfinite(upper))):
        raise ValueError(f"bounds must be finite; got {bounds!r}")
    if np.any(lower >= upper):
        j = int(np.flatnonzero(lower >= upper)[0])
        raise ValueError(
            f"bounds must have lower < upper in every column; column {j} has "
            f"lower={lower[j]:g} >= upper={upper[j]:g}"
        )
    return lower, upper


def check_sampler(sampler, n_features, bounds=None):
    """Wrap the ``sampler`` parameter; ``None`` stays ``None``.

    ``bounds`` without a sampler is an error: there is nothing to scale.
    """
    if sampler is None:
        if bounds is not None:
            raise ValueError(
                "bounds is set but sampler is None: bounds scale the points of a "
                "scipy.stats.qmc engine passed as sampler"
            )
        return None
    return Sampler(sampler, n_features, bounds)
