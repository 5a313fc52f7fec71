"""GenzFunction: exact integrals and the random-stream rule."""

import numpy as np
import pytest

from sklearn_debias.datasets import GENZ_FAMILIES, GenzFunction


@pytest.mark.parametrize("family", GENZ_FAMILIES)
def test_integral_matches_monte_carlo(family):
    f = GenzFunction(family, n_features=3, random_state=0)
    X = np.random.default_rng(1).uniform(size=(400_000, 3))
    values = f(X)
    assert abs(values.mean() - f.integral) < 5 * values.std() / np.sqrt(len(X))
    assert f.a.sum() == pytest.approx(_difficulty(family) * 3 / 10)


def _difficulty(family):
    return {
        "oscillatory": 9.0,
        "product_peak": 7.25,
        "gaussian": 7.03,
        "continuous": 20.4,
    }[family]


def test_parameters_follow_the_random_stream_rule():
    np.random.seed(0)  # noqa: NPY002
    f = GenzFunction("gaussian", n_features=4, random_state=5)
    np.random.seed(1)  # noqa: NPY002
    g = GenzFunction("gaussian", n_features=4, random_state=5)
    np.testing.assert_array_equal(f.a, g.a)
    np.testing.assert_array_equal(f.u, g.u)
    # An int gives the stream of numpy.random.default_rng(int).
    h = GenzFunction("gaussian", n_features=4, random_state=np.random.default_rng(5))
    np.testing.assert_array_equal(f.u, h.u)
    np.random.seed(0)  # noqa: NPY002
    first = GenzFunction("gaussian", n_features=4).u
    np.random.seed(0)  # noqa: NPY002
    assert not np.array_equal(first, GenzFunction("gaussian", n_features=4).u)


def test_bad_arguments():
    with pytest.raises(ValueError, match="family"):
        GenzFunction("smooth")
    with pytest.raises(ValueError, match="n_features"):
        GenzFunction("gaussian", n_features=0)
    with pytest.raises(ValueError, match="shape"):
        GenzFunction("gaussian", n_features=2)(np.zeros((3, 3)))
