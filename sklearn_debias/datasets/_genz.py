"""Genz test integrands on the unit cube, with their exact integrals."""

from __future__ import annotations

import numbers

import numpy as np
from scipy.special import erf

from ..utils import check_generator
from ..utils._typing import ArrayLike, RandomStateLike

__all__ = ["GenzFunction", "GENZ_FAMILIES"]

GENZ_FAMILIES = ("oscillatory", "product_peak", "gaussian", "continuous")

# Difficulty ||a||_1 of each family, as in Genz (1984) and later test suites.
_DEFAULT_DIFFICULTY = {
    "oscillatory": 9.0,
    "product_peak": 7.25,
    "gaussian": 7.03,
    "continuous": 20.4,
}


def _check_difficulty(difficulty, family):
    """``difficulty`` as a float, or ``ValueError`` naming the problem.

    It must be finite and non-negative (it is ``sum(a)`` with ``a >= 0``).
    Zero makes ``a = 0``: the oscillatory, Gaussian and continuous integrands
    become constants (``cos(2 pi u_1)``, 1 and 1), whose integrals are the
    limits of the closed forms; the product peak's factors
    ``1 / (a^-2 + (x - u)^2)`` all vanish, a degenerate integrand that is
    refused.
    """
    if isinstance(difficulty, bool | np.bool_) or not isinstance(
        difficulty, numbers.Real
    ):
        raise TypeError(f"difficulty must be a real number, got {difficulty!r}")
    difficulty = float(difficulty)
    if not np.isfinite(difficulty) or difficulty < 0:
        raise ValueError(
            f"difficulty must be a finite number >= 0 (it is sum(a)), got "
            f"{difficulty!r}"
        )
    if difficulty == 0 and family == "product_peak":
        raise ValueError(
            "difficulty=0 makes the product_peak integrand vanish identically "
            "(its peak width 1/a is infinite); use difficulty > 0"
        )
    return difficulty


class GenzFunction:
    """A Genz test integrand on ``[0, 1]^d`` with a closed-form integral.

    The four smooth-to-continuous families of Genz (1984), each with random
    shape parameters ``a`` (drawn from U(0.2, 1), then scaled so that
    ``sum(a) = difficulty``) and shift ``u``:

    * ``"oscillatory"``: ``cos(2 pi u_1 + sum_i a_i x_i)``;
    * ``"product_peak"``: ``prod_i 1 / (a_i^-2 + (x_i - u_i)^2)``;
    * ``"gaussian"``: ``exp(-sum_i a_i^2 (x_i - u_i)^2)``;
    * ``"continuous"``: ``exp(-sum_i a_i |x_i - u_i|)`` (a kink at u).

    Parameters
    ----------
    family : {"oscillatory", "product_peak", "gaussian", "continuous"}
        The integrand family.
    n_features : int, default=5
        Dimension ``d``.
    difficulty : float, default=None
        ``sum(a)``, finite and ``>= 0``; ``None`` uses the family's classical
        value scaled with ``d`` relative to ``d = 10``. ``0`` gives the
        constant integrand of the oscillatory, Gaussian and continuous
        families (and is refused for ``"product_peak"``, which vanishes).
    random_state : int, Generator, RandomState instance or None, default=None
        Draws ``a`` and ``u`` (through
        :func:`sklearn_debias.utils.check_generator`: an int gives the stream
        of ``numpy.random.default_rng(int)``).

    Attributes
    ----------
    a : ndarray of shape (n_features,)
        Shape parameters.
    u : ndarray of shape (n_features,)
        Shift parameters.
    integral : float
        The exact integral over the unit cube (the mean under the uniform P).

    References
    ----------
    Genz, A. (1984). Testing multidimensional integration routines. In *Tools,
    Methods and Languages for Scientific and Engineering Computation*, 81-94.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias.datasets import GenzFunction
    >>> f = GenzFunction("gaussian", n_features=3, random_state=0)
    >>> X = np.random.default_rng(0).uniform(size=(200_000, 3))
    >>> bool(abs(f(X).mean() - f.integral) < 5e-3)
    True
    """

    def __init__(
        self,
        family: str,
        n_features: int = 5,
        difficulty: float | None = None,
        random_state: RandomStateLike = None,
    ) -> None:
        if family not in GENZ_FAMILIES:
            raise ValueError(f"family must be one of {GENZ_FAMILIES}, got {family!r}")
        if int(n_features) != n_features or n_features < 1:
            raise ValueError(
                f"n_features must be a positive integer, got {n_features!r}"
            )
        rng = check_generator(random_state)
        d = int(n_features)
        if difficulty is None:
            difficulty = _DEFAULT_DIFFICULTY[family] * d / 10.0
        difficulty = _check_difficulty(difficulty, family)
        # Bounded away from 0 so that no coordinate is nearly inert.
        a = rng.uniform(0.2, 1.0, size=d)
        self.family = family
        self.n_features = d
        self.a = a * difficulty / a.sum()
        self.u = rng.uniform(size=d)
        self.integral = float(self._integral())

    def __call__(self, X: ArrayLike) -> np.ndarray:
        """Evaluate the integrand at the rows of ``X`` of shape ``(n, d)``."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"X must have shape (n, {self.n_features}), got {X.shape}")
        a, u = self.a, self.u
        if self.family == "oscillatory":
            return np.cos(2 * np.pi * u[0] + X @ a)
        if self.family == "product_peak":
            return np.prod(1.0 / (a**-2 + (X - u) ** 2), axis=1)
        if self.family == "gaussian":
            return np.exp(-np.sum(a**2 * (X - u) ** 2, axis=1))
        return np.exp(-np.sum(a * np.abs(X - u), axis=1))

    def _integral(self):
        a, u = self.a, self.u
        if self.family == "oscillatory":
            # Re[exp(2 pi i u_1) prod_j (exp(i a_j) - 1) / (i a_j)], with
            # (exp(i a) - 1) / (i a) = exp(i a / 2) sinc(a / (2 pi)): 1 at a = 0.
            factors = np.exp(0.5j * a) * np.sinc(a / (2 * np.pi))
            return (np.exp(2j * np.pi * u[0]) * np.prod(factors)).real
        if self.family == "product_peak":
            return np.prod(a * (np.arctan(a * (1 - u)) + np.arctan(a * u)))
        if self.family == "gaussian":
            # sqrt(pi) / (2 a) (erf(a (1 - u)) + erf(a u)) -> 1 as a -> 0.
            with np.errstate(divide="ignore", invalid="ignore"):
                factors = np.sqrt(np.pi) / (2 * a) * (erf(a * (1 - u)) + erf(a * u))
            return np.prod(np.where(a > 0, factors, 1.0))
        # (2 - exp(-a u) - exp(-a (1 - u))) / a, by expm1 (accurate for small
        # a, and 1 at a = 0).
        with np.errstate(divide="ignore", invalid="ignore"):
            factors = -(np.expm1(-a * u) + np.expm1(-a * (1 - u))) / a
        return np.prod(np.where(a > 0, factors, 1.0))

    def __repr__(self) -> str:
        return f"GenzFunction({self.family!r}, n_features={self.n_features})"
