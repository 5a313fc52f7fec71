"""Bounded domains for walk-on-spheres: a ball and an axis-aligned box.

A domain answers four questions about a batch of points ``X`` of shape
``(n, d)``: the distance to its boundary (:meth:`distance`, positive inside),
the nearest boundary point (:meth:`project`), membership (:meth:`contains`) and
uniform sampling of its interior (:meth:`sample`).
"""

from __future__ import annotations

import numbers

import numpy as np

from ..utils import check_generator
from ..utils._typing import ArrayLike, RandomStateLike

__all__ = ["Ball", "Box"]


def _check_dim(d):
    if not isinstance(d, numbers.Integral) or d < 1:
        raise ValueError(f"d must be a positive integer, got {d!r}")
    return int(d)


def _uniform_directions(rng, n, d):
    """``n`` points drawn uniformly from the unit sphere of ``R^d``."""
    v = rng.standard_normal((n, d))
    norm = np.linalg.norm(v, axis=1, keepdims=True)
    bad = norm[:, 0] == 0
    if np.any(bad):  # probability zero; keep the draw well defined
        v[bad, 0], norm[bad, 0] = 1.0, 1.0
    return v / norm


class _Domain:
    """Common validation for the domains."""

    def _check_points(self, X):
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_dims:
            raise ValueError(
                f"{type(self).__name__} of dimension {self.n_dims} expects points "
                f"of shape (n, {self.n_dims}), got {X.shape}"
            )
        return X

    def contains(self, X: ArrayLike) -> np.ndarray:
        """Whether each point lies in the closed domain.

        Parameters
        ----------
        X : array-like of shape (n_points, n_dims)
            Points.

        Returns
        -------
        inside : ndarray of shape (n_points,), dtype bool
        """
        return self.distance(X) >= 0.0


class Ball(_Domain):
    """The closed ball of radius ``radius`` around ``center`` in ``R^d``.

    Parameters
    ----------
    d : int
        Dimension of the space.
    center : float or array-like of shape (d,), default=0.0
        Centre of the ball.
    radius : float, default=1.0
        Radius of the ball, positive.

    Attributes
    ----------
    n_dims : int
        The dimension ``d``.

    See Also
    --------
    Box : An axis-aligned box.
    PoissonEquation : A Poisson problem on such a domain.

    Examples
    --------
    >>> from sklearn_debias.pde import Ball
    >>> ball = Ball(3, radius=2.0)
    >>> ball.distance([[0.0, 0.0, 0.5]]).round(3)
    array([1.5])
    >>> ball.project([[0.0, 0.0, 0.5]]).round(3)
    array([[0., 0., 2.]])
    """

    def __init__(
        self, d: int, center: float | ArrayLike = 0.0, radius: float = 1.0
    ) -> None:
        self.n_dims = _check_dim(d)
        center = np.asarray(center, dtype=np.float64)
        if center.ndim == 0:
            center = np.full(self.n_dims, float(center))
        if center.shape != (self.n_dims,) or not np.all(np.isfinite(center)):
            raise ValueError(
                f"center must be a finite scalar or an array of shape ({d},), "
                f"got {center!r}"
            )
        if not (np.isscalar(radius) and np.isfinite(radius) and radius > 0):
            raise ValueError(f"radius must be a positive number, got {radius!r}")
        self.center = center
        self.radius = float(radius)

    def __repr__(self) -> str:
        return f"Ball(d={self.n_dims}, radius={self.radius:g})"

    def distance(self, X: ArrayLike) -> np.ndarray:
        """Signed distance to the sphere: ``radius - |x - center|``.

        Parameters
        ----------
        X : array-like of shape (n_points, n_dims)
            Points.

        Returns
        -------
        distance : ndarray of shape (n_points,)
            Positive inside, zero on the boundary, negative outside.
        """
        X = self._check_points(X)
        return self.radius - np.linalg.norm(X - self.center, axis=1)

    def project(self, X: ArrayLike) -> np.ndarray:
        """Nearest point of the sphere to each point.

        Parameters
        ----------
        X : array-like of shape (n_points, n_dims)
            Points (the centre itself is sent to an arbitrary pole).

        Returns
        -------
        Y : ndarray of shape (n_points, n_dims)
        """
        X = self._check_points(X)
        diff = X - self.center
        norm = np.linalg.norm(diff, axis=1, keepdims=True)
        pole = np.zeros_like(diff)
        pole[:, 0] = 1.0
        direction = np.where(norm > 0, diff / np.where(norm > 0, norm, 1.0), pole)
        return self.center + self.radius * direction

    def sample(
        self, n_samples: int, random_state: RandomStateLike = None
    ) -> np.ndarray:
        """Draw points uniformly from the ball.

        Parameters
        ----------
        n_samples : int
            Number of points.
        random_state : int, Generator, RandomState instance or None, \
                default=None
            Seed of the draw (see :func:`sklearn_debias.utils.check_generator`):
            an int gives the stream of ``numpy.random.default_rng(int)``, a
            ``Generator`` is drawn from (and advances), ``None`` draws fresh
            entropy.

        Returns
        -------
        X : ndarray of shape (n_samples, n_dims)
        """
        rng = check_generator(random_state)
        direction = _uniform_directions(rng, n_samples, self.n_dims)
        radius = self.radius * rng.random((n_samples, 1)) ** (1.0 / self.n_dims)
        return self.center + radius * direction

    def sample_boundary(
        self, n_samples: int, random_state: RandomStateLike = None
    ) -> np.ndarray:
        """Draw points uniformly from the sphere (the ball's boundary).

        Parameters
        ----------
        n_samples : int
            Number of points.
        random_state : int, Generator, RandomState instance or None, \
                default=None
            Seed of the draw (see :func:`sklearn_debias.utils.check_generator`).

        Returns
        -------
        X : ndarray of shape (n_samples, n_dims)
        """
        rng = check_generator(random_state)
        return self.center + self.radius * _uniform_directions(
            rng, n_samples, self.n_dims
        )


class Box(_Domain):
    """The closed axis-aligned box with lower corner ``low`` and upper corner ``high``.

    Parameters
    ----------
    low : array-like of shape (d,)
        Lower corner.
    high : array-like of shape (d,)
        Upper corner, with ``high > low`` in every coordinate.

    Attributes
    ----------
    n_dims : int
        The dimension ``d``.

    See Also
    --------
    Ball : A ball.
    PoissonEquation : A Poisson problem on such a domain.

    Examples
    --------
    >>> from sklearn_debias.pde import Box
    >>> box = Box([0, 0], [1, 2])
    >>> box.distance([[0.25, 1.0]]).round(3)
    array([0.25])
    >>> box.project([[0.25, 1.0]]).round(3)
    array([[0., 1.]])
    """

    def __init__(self, low: float | ArrayLike, high: float | ArrayLike) -> None:
        low = np.atleast_1d(np.asarray(low, dtype=np.float64))
        high = np.atleast_1d(np.asarray(high, dtype=np.float64))
        if low.ndim != 1 or low.shape != high.shape:
            raise ValueError(
                f"low and high must be 1-d arrays of the same length, got shapes "
                f"{low.shape} and {high.shape}"
            )
        if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
            raise ValueError("low and high must be finite")
        if np.any(high <= low):
            raise ValueError("high must exceed low in every coordinate")
        self.low = low
        self.high = high
        self.n_dims = low.shape[0]

    def __repr__(self) -> str:
        return f"Box(d={self.n_dims})"

    def distance(self, X: ArrayLike) -> np.ndarray:
        """Signed distance to the boundary (exact inside the box).

        Parameters
        ----------
        X : array-like of shape (n_points, n_dims)
            Points.

        Returns
        -------
        distance : ndarray of shape (n_points,)
            Positive inside, zero on the boundary, negative outside.
        """
        X = self._check_points(X)
        return np.minimum(X - self.low, self.high - X).min(axis=1)

    def project(self, X: ArrayLike) -> np.ndarray:
        """Nearest boundary point of each interior point (clip outside points).

        Parameters
        ----------
        X : array-like of shape (n_points, n_dims)
            Points.

        Returns
        -------
        Y : ndarray of shape (n_points, n_dims)
        """
        X = np.clip(self._check_points(X), self.low, self.high)
        to_low, to_high = X - self.low, self.high - X
        gap = np.minimum(to_low, to_high)
        j = gap.argmin(axis=1)
        rows = np.arange(X.shape[0])
        Y = X.copy()
        Y[rows, j] = np.where(
            to_low[rows, j] <= to_high[rows, j], self.low[j], self.high[j]
        )
        return Y

    def sample(
        self, n_samples: int, random_state: RandomStateLike = None
    ) -> np.ndarray:
        """Draw points uniformly from the box.

        Parameters
        ----------
        n_samples : int
            Number of points.
        random_state : int, Generator, RandomState instance or None, \
                default=None
            Seed of the draw (see :func:`sklearn_debias.utils.check_generator`):
            an int gives the stream of ``numpy.random.default_rng(int)``, a
            ``Generator`` is drawn from (and advances), ``None`` draws fresh
            entropy.

        Returns
        -------
        X : ndarray of shape (n_samples, n_dims)
        """
        rng = check_generator(random_state)
        return rng.uniform(self.low, self.high, size=(n_samples, self.n_dims))

    def sample_boundary(
        self, n_samples: int, random_state: RandomStateLike = None
    ) -> np.ndarray:
        """Draw points uniformly (by surface area) from the box's faces.

        Parameters
        ----------
        n_samples : int
            Number of points.
        random_state : int, Generator, RandomState instance or None, \
                default=None
            Seed of the draw (see :func:`sklearn_debias.utils.check_generator`).

        Returns
        -------
        X : ndarray of shape (n_samples, n_dims)
        """
        rng = check_generator(random_state)
        X = self.sample(n_samples, rng)
        sides = self.high - self.low
        # The two faces normal to axis j each have area prod(sides) / sides[j].
        area = np.prod(sides) / sides
        axis = rng.choice(self.n_dims, size=n_samples, p=area / area.sum())
        upper = rng.random(n_samples) < 0.5
        rows = np.arange(n_samples)
        X[rows, axis] = np.where(upper, self.high[axis], self.low[axis])
        return X
