"""Data and surrogates shared by the tests of DebiasedFunctionalEstimator."""

import warnings

import numpy as np
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures

from sklearn_debias.datasets import GenzFunction


def quadratic_surrogate():
    return make_pipeline(PolynomialFeatures(2), LinearRegression())


def uniform_sampler(n, rng):
    return rng.uniform(size=(n, 3))


def genz_data(seed, n=128, family="gaussian", d=3, genz_seed=1):
    f = GenzFunction(family, n_features=d, random_state=genz_seed)
    X = np.random.default_rng(seed).uniform(size=(n, d))
    return f, X, f(X)


def fit_quiet(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return est.fit(X, y)
