"""The design shared by the Genz benchmarks: labels and the cheap side."""

import numpy as np
from scipy.stats import qmc


def seed_design(f, seed, n, d, n_pool):
    """For one seed: labelled points and values, the cheap side, a QMC design.

    The cheap side is one scrambled Sobol' point set of ``n_pool`` points,
    the same for ppi_py (as the returned ``pool``) and for ours (as the
    returned ``engine``, which draws it), so that the comparison is about how
    each estimator uses the ``n`` labels. ``sobol`` is a scrambled Sobol'
    design of ``n`` points for the QMC anchor.

    Returns ``X, y, pool, engine, sobol``.
    """
    X = np.random.default_rng(seed).uniform(size=(n, d))
    pool = qmc.Sobol(d, scramble=True, seed=10_000 + seed).random(n_pool)
    engine = qmc.Sobol(d, scramble=True, seed=10_000 + seed)
    sobol = qmc.Sobol(d, scramble=True, seed=seed).random(n)
    return X, f(X), pool, engine, sobol
