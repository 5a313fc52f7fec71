"""The design shared by the Genz benchmarks: labels and the cheap side."""

import numpy as np
from scipy.stats import qmc

from sklearn_debias.functional._sampling import check_sampler
from sklearn_debias.utils import spawn_seeds


def seed_design(f, seed, n, d, n_pool):
    """For one seed: labelled points and values, the cheap side, a QMC design.

    The cheap side is one randomized-QMC point set of about ``n_pool``
    points (16 independently scrambled Sobol' sets), the same for ppi_py (as
    the returned ``pool``) and for ours (as the returned ``engine``, from
    which ``DebiasedFunctionalEstimator(random_state=seed)`` draws it), so
    that the comparison is about how each estimator uses the ``n`` labels.
    ``sobol`` is a scrambled Sobol' design of ``n`` points for the QMC anchor.

    Returns ``X, y, pool, engine, sobol``.
    """
    X = np.random.default_rng(seed).uniform(size=(n, d))
    engine = qmc.Sobol(d, scramble=True, seed=10_000 + seed)
    # The set the estimator draws with random_state=seed (see its sampler).
    frozen = check_sampler(engine, d).freeze(n_pool, spawn_seeds(seed, 1)[0])
    pool = frozen.draw(None, None)
    sobol = qmc.Sobol(d, scramble=True, seed=seed).random(n)
    return X, f(X), pool, engine, sobol
