import numpy as np
import pytest

from sklearn_debias.pde import Ball, Box


def test_ball_distance_project_contains():
    ball = Ball(3, center=[1.0, 0.0, 0.0], radius=2.0)
    X = np.array([[1.0, 0.0, 0.0], [2.0, 0.0, 0.0], [1.0, 3.0, 0.0]])
    np.testing.assert_allclose(ball.distance(X), [2.0, 1.0, -1.0])
    np.testing.assert_array_equal(ball.contains(X), [True, True, False])
    Y = ball.project(X[1:])
    np.testing.assert_allclose(Y, [[3.0, 0.0, 0.0], [1.0, 2.0, 0.0]])
    np.testing.assert_allclose(ball.distance(ball.project(X)), 0.0, atol=1e-15)


def test_box_distance_project_contains():
    box = Box([0.0, -1.0], [1.0, 1.0])
    X = np.array([[0.5, 0.0], [0.9, 0.5], [1.5, 0.0]])
    np.testing.assert_allclose(box.distance(X), [0.5, 0.1, -0.5])
    np.testing.assert_array_equal(box.contains(X), [True, True, False])
    np.testing.assert_allclose(box.project(X[:2]), [[0.0, 0.0], [1.0, 0.5]])


@pytest.mark.parametrize("domain", [Ball(4, radius=0.5), Box([0, 0, 0], [1, 2, 3])])
def test_sample_is_uniform_inside(domain):
    X = domain.sample(4000, random_state=0)
    assert X.shape == (4000, domain.n_dims)
    assert np.all(domain.contains(X))
    if isinstance(domain, Ball):
        # |x|/R is Beta(d, 1): mean d / (d + 1)
        r = np.linalg.norm(X, axis=1) / domain.radius
        assert abs(r.mean() - 4 / 5) < 4 * r.std() / np.sqrt(len(r))
    else:
        np.testing.assert_allclose(X.mean(axis=0), [0.5, 1.0, 1.5], atol=0.05)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Ball(0),
        lambda: Ball(2, radius=-1.0),
        lambda: Ball(2, center=[0, 0, 0]),
        lambda: Box([0, 0], [1]),
        lambda: Box([0, 1], [1, 1]),
        lambda: Box([0, np.nan], [1, 1]),
    ],
)
def test_bad_domains(make):
    with pytest.raises(ValueError):
        make()


def test_wrong_point_shape():
    with pytest.raises(ValueError, match="expects points of shape"):
        Ball(3).distance(np.zeros((2, 2)))


@pytest.mark.parametrize("domain", [Ball(3, radius=2.0), Box([0, -1], [1, 1])])
def test_sample_follows_the_random_stream_rule(domain):
    # An int seeds numpy.random.default_rng; numpy's global state is ignored.
    np.random.seed(0)  # noqa: NPY002
    a = domain.sample(20, random_state=3)
    np.random.seed(1)  # noqa: NPY002
    np.testing.assert_array_equal(a, domain.sample(20, random_state=3))
    rng = np.random.default_rng(3)
    np.testing.assert_array_equal(a, domain.sample(20, random_state=rng))
    # A Generator advances; None draws fresh entropy, not the global stream.
    assert not np.array_equal(a, domain.sample(20, random_state=rng))
    np.random.seed(0)  # noqa: NPY002
    b = domain.sample(20)
    np.random.seed(0)  # noqa: NPY002
    assert not np.array_equal(b, domain.sample(20))
