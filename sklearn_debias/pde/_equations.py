"""Equation specifications: a Poisson problem and a semilinear parabolic PDE.

An equation object holds the user's callables and checks every value they
return (shape ``(n,)``, finite), so that a mistake in a callable gives a clear
error instead of a silently broadcast answer.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable

import numpy as np

from ..utils import check_generator, is_tensor
from ..utils._typing import ArrayLike, RandomStateLike
from ._domains import _Domain

__all__ = ["PoissonEquation", "SemilinearParabolicPDE"]


def _like(array, ref):
    """``array`` (numpy) as ``ref``'s kind: a tensor of its dtype and device."""
    return ref.new_tensor(np.asarray(array)) if is_tensor(ref) else array


def _numpy(x):
    """A float64 numpy copy of a tensor (unchanged for anything else)."""
    return x.detach().cpu().double().numpy() if is_tensor(x) else x


def _checked_call(func, name, n, *args):
    """Call ``func(*args)`` and check that it returns ``n`` finite numbers.

    With torch tensors among ``args`` (a physics-informed network trains
    through the call) the result must be a tensor, so that gradients flow.
    """
    if any(is_tensor(a) for a in args):
        return _checked_tensor_call(func, name, n, *args)
    out = np.asarray(func(*args), dtype=np.float64)
    if out.shape != (n,):
        raise ValueError(
            f"{name} must return an array of shape ({n},) for {n} points, "
            f"got shape {out.shape}"
        )
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{name} returned non-finite values")
    return out


def _checked_tensor_call(func, name, n, *args):
    hint = (
        f"{name} ({func!r}) must accept torch tensors as well as numpy arrays to "
        "train a physics-informed network through it: use the array's own "
        "methods and operators, or torch functions for tensor inputs"
    )
    try:
        out = func(*args)
    except Exception as exc:  # numpy-only code fails on tensors in many ways
        raise TypeError(f"{hint}; on tensors it raised {exc!r}") from exc
    if not is_tensor(out):
        raise TypeError(f"{hint}; on tensors it returned {type(out).__name__}")
    if tuple(out.shape) != (n,):
        raise ValueError(
            f"{name} must return an array of shape ({n},) for {n} points, "
            f"got shape {tuple(out.shape)}"
        )
    if not bool(out.isfinite().all()):
        raise ValueError(f"{name} returned non-finite values")
    return out


def _exact_values(func, owner, X):
    """``func(X)`` checked, or ``AttributeError`` when ``owner`` has no solution."""
    if func is None:
        raise AttributeError(f"this {owner} has no exact_solution")
    X = np.asarray(X, dtype=np.float64)
    return _checked_call(func, "exact_solution", len(X), X)


def _reject_rows(bad, what):
    """Raise ``ValueError`` naming the first row flagged in the mask ``bad``."""
    if np.any(bad):
        raise ValueError(
            f"{int(bad.sum())} query point(s) {what}, "
            f"e.g. row {int(np.flatnonzero(bad)[0])}"
        )


class PoissonEquation:
    """The Poisson problem ``Δu = f`` in a domain, ``u = g`` on its boundary.

    Parameters
    ----------
    source : callable or None
        ``source(X) -> ndarray of shape (n,)``, the right-hand side ``f`` at the
        rows of ``X`` (shape ``(n, d)``). ``None`` means ``f = 0`` (Laplace).
    boundary : callable
        ``boundary(X) -> ndarray of shape (n,)``, the Dirichlet data ``g`` at
        boundary points.
    domain : Ball or Box
        The domain.
    exact_solution : callable or None, default=None
        ``exact_solution(X) -> ndarray of shape (n,)`` if known (for tests and
        benchmarks).

    Attributes
    ----------
    n_dims : int
        Dimension of the domain; the inputs of the solution have this many
        columns.

    See Also
    --------
    SemilinearParabolicPDE : Time-dependent semilinear problems.
    SimulationCalibratedRegressor : Debias a surrogate of the solution.

    Notes
    -----
    With ``W`` a Brownian motion (generator ``Δ/2``) started at ``x`` and ``τ``
    its exit time, ``u(x) = E[g(W_τ)] - E ∫_0^τ f(W_s) ds / 2``, which
    walk-on-spheres samples.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias.pde import Ball, PoissonEquation
    >>> pde = PoissonEquation(
    ...     source=lambda X: np.full(len(X), 6.0),            # Δ|x|² = 2d
    ...     boundary=lambda X: (X**2).sum(axis=1),
    ...     domain=Ball(3),
    ...     exact_solution=lambda X: (X**2).sum(axis=1),
    ... )
    >>> pde.exact_solution(np.array([[0.5, 0.0, 0.0]]))
    array([0.25])
    """

    def __init__(
        self,
        source: Callable | None,
        boundary: Callable,
        domain: _Domain,
        exact_solution: Callable | None = None,
    ) -> None:
        if source is not None and not callable(source):
            raise ValueError("source must be a callable or None")
        if not callable(boundary):
            raise ValueError("boundary must be a callable")
        if not isinstance(domain, _Domain):
            raise ValueError(f"domain must be a Ball or a Box, got {domain!r}")
        if exact_solution is not None and not callable(exact_solution):
            raise ValueError("exact_solution must be a callable or None")
        self.source = source
        self.boundary = boundary
        self.domain = domain
        self._exact_solution = exact_solution

    @property
    def n_dims(self) -> int:
        return self.domain.n_dims

    def exact_solution(self, X: ArrayLike) -> np.ndarray:
        """The exact solution at the rows of ``X``, when it was given.

        Parameters
        ----------
        X : array-like of shape (n_points, n_dims)
            Points.

        Returns
        -------
        u : ndarray of shape (n_points,)
        """
        return _exact_values(self._exact_solution, "PoissonEquation", X)

    def check_points(self, X):
        """Raise ``ValueError`` unless every row of ``X`` lies in the domain."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_dims:
            raise ValueError(
                f"the PDE is posed in {self.n_dims} dimensions: expected inputs "
                f"of shape (n, {self.n_dims}), got {X.shape}"
            )
        _reject_rows(
            ~self.domain.contains(X), f"lie outside the domain {self.domain!r}"
        )
        return X

    def evaluate_source(self, X):
        """``f`` at the rows of ``X`` (zeros for ``source=None``).

        For a tensor ``X`` the source is evaluated in numpy (it does not
        depend on the network) and returned as a tensor like ``X``.
        """
        if self.source is None:
            return _like(np.zeros(len(X)), X)
        values = _checked_call(self.source, "PoissonEquation.source", len(X), _numpy(X))
        return _like(values, X)

    def residual(self, X, value, gradient, laplacian):
        """PDE residual ``Δv - f`` of a function given its derivatives.

        The single implementation used both to train a physics-informed
        network (torch tensors) and to simulate a surrogate's defect (numpy).

        Parameters
        ----------
        X : ndarray or torch.Tensor of shape (n, d)
            Points.
        value, gradient : ndarray or torch.Tensor or None
            The function and its gradient at ``X`` (unused: the Poisson
            residual needs the Laplacian only).
        laplacian : ndarray or torch.Tensor of shape (n,)
            Its Laplacian.

        Returns
        -------
        residual : ndarray or torch.Tensor of shape (n,)
            ``Δv - f``, of the kind of ``laplacian``.
        """
        return laplacian - self.evaluate_source(X)

    def evaluate_boundary(self, X):
        """``g`` at the rows of ``X``."""
        return _checked_call(self.boundary, "PoissonEquation.boundary", len(X), X)

    def sample(
        self, n_samples: int, random_state: RandomStateLike = None
    ) -> np.ndarray:
        """Draw query points uniformly from the domain.

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
        return self.domain.sample(n_samples, random_state)


class SemilinearParabolicPDE:
    """A semilinear parabolic PDE with constant coefficients and terminal data.

    ``∂_t u + μ·∇u + (σ²/2) Δu + F(t, x, u, σ∇u) = 0`` for ``t < T``,
    ``u(T, x) = g(x)``, on all of ``R^d``. Inputs of the solution are rows
    ``(t, x_1, ..., x_d)``.

    Parameters
    ----------
    drift : float or array-like of shape (d,)
        The constant drift ``μ``.
    sigma : float
        The constant (scalar) diffusion coefficient ``σ > 0``.
    nonlinearity : callable or None
        ``nonlinearity(t, x, u, z) -> ndarray of shape (n,)`` with ``t`` of shape
        ``(n,)``, ``x`` of shape ``(n, d)``, ``u`` of shape ``(n,)`` and ``z = σ∇u``
        of shape ``(n, d)``. ``None`` means ``F = 0`` (a linear equation, which
        Feynman-Kac solves directly).
    terminal : callable
        ``terminal(x) -> ndarray of shape (n,)``, the terminal value ``g``.
    T : float
        Terminal time.
    domain : Ball, Box or None, default=None
        Region of space from which :meth:`sample` draws query points (the PDE
        itself holds on all of ``R^d``).
    exact_solution : callable or None, default=None
        ``exact_solution(X) -> ndarray of shape (n,)`` for rows ``(t, x)``.

    Attributes
    ----------
    n_dims : int or None
        Spatial dimension when it is fixed by ``drift`` or ``domain``.

    See Also
    --------
    PoissonEquation : Elliptic problems on bounded domains.
    viscous_burgers, linear_convection_diffusion, lqg, diffusion_reaction :
        Benchmark equations with exact solutions.

    Notes
    -----
    The forward process ``X_s = x + μ(s - t) + σ(W_s - W_t)`` is sampled exactly,
    and ``u(t, x) = E[g(X_T)] + E ∫_t^T F(s, X_s, u, σ∇u) ds`` (Feynman-Kac).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias.pde import SemilinearParabolicPDE
    >>> heat = SemilinearParabolicPDE(               # u = |x|² + d σ² (T - t)
    ...     drift=0.0, sigma=1.0, nonlinearity=None,
    ...     terminal=lambda x: (x**2).sum(axis=1), T=1.0,
    ...     exact_solution=lambda X: (X[:, 1:]**2).sum(axis=1) + 2 * (1 - X[:, 0]))
    >>> heat.exact_solution(np.array([[0.5, 1.0, 0.0]]))
    array([2.])
    """

    def __init__(
        self,
        drift: float | ArrayLike,
        sigma: float,
        nonlinearity: Callable | None,
        terminal: Callable,
        T: float,
        domain: _Domain | None = None,
        exact_solution: Callable | None = None,
    ) -> None:
        try:
            drift = np.asarray(drift, dtype=np.float64)
        except (TypeError, ValueError):
            drift = np.full((1, 1), np.nan)  # rejected just below
        if drift.ndim > 1 or not np.all(np.isfinite(drift)):
            raise ValueError(
                "drift must be a finite scalar or a 1-d array (constant "
                "coefficients only)"
            )
        if not (isinstance(sigma, numbers.Real) and np.isfinite(sigma) and sigma > 0):
            raise ValueError(f"sigma must be a positive number, got {sigma!r}")
        if nonlinearity is not None and not callable(nonlinearity):
            raise ValueError("nonlinearity must be a callable or None")
        if not callable(terminal):
            raise ValueError("terminal must be a callable")
        if not (isinstance(T, numbers.Real) and np.isfinite(T)):
            raise ValueError(f"T must be a finite number, got {T!r}")
        if domain is not None and not isinstance(domain, _Domain):
            raise ValueError(f"domain must be a Ball, a Box or None, got {domain!r}")
        if exact_solution is not None and not callable(exact_solution):
            raise ValueError("exact_solution must be a callable or None")
        dims = {drift.shape[0]} if drift.ndim == 1 else set()
        if domain is not None:
            dims.add(domain.n_dims)
        if len(dims) > 1:
            raise ValueError(f"drift and domain disagree on the dimension: {dims}")
        self.drift = drift
        self.sigma = float(sigma)
        self.nonlinearity = nonlinearity
        self.terminal = terminal
        self.T = float(T)
        self.domain = domain
        self.n_dims = dims.pop() if dims else None
        self._exact_solution = exact_solution

    def exact_solution(self, X: ArrayLike) -> np.ndarray:
        """The exact solution at rows ``(t, x)`` of ``X``, when it was given.

        Parameters
        ----------
        X : array-like of shape (n_points, d + 1)
            Points ``(t, x)``.

        Returns
        -------
        u : ndarray of shape (n_points,)
        """
        return _exact_values(self._exact_solution, "SemilinearParabolicPDE", X)

    def check_points(self, X):
        """Raise ``ValueError`` unless the rows of ``X`` are valid ``(t, x)``."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] < 2:
            raise ValueError(
                f"inputs must be rows (t, x_1, ..., x_d) of shape (n, d + 1), got "
                f"{X.shape}"
            )
        if self.n_dims is not None and X.shape[1] != self.n_dims + 1:
            raise ValueError(
                f"the PDE is posed in {self.n_dims} space dimensions: expected "
                f"rows (t, x) of shape (n, {self.n_dims + 1}), got {X.shape}"
            )
        _reject_rows(X[:, 0] > self.T, f"have t > T = {self.T:g}")
        return X

    def drift_vector(self, d):
        """The drift as an array of shape ``(d,)``."""
        if self.drift.ndim == 0:
            return np.full(d, float(self.drift))
        return self.drift

    def evaluate_nonlinearity(self, t, x, u, z):
        """``F(t, x, u, z)``, checked (zeros for ``nonlinearity=None``)."""
        if self.nonlinearity is None:
            return _like(np.zeros(len(t)), u)
        return _checked_call(
            self.nonlinearity, "SemilinearParabolicPDE.nonlinearity", len(t), t, x, u, z
        )

    def evaluate_terminal(self, x):
        """``g(x)``, checked."""
        return _checked_call(
            self.terminal, "SemilinearParabolicPDE.terminal", len(x), x
        )

    def residual(self, X, value, gradient, laplacian):
        """PDE residual of a function given its derivatives at rows ``(t, x)``.

        The single implementation used both to train a physics-informed
        network (torch tensors, through which gradients flow; the
        ``nonlinearity`` then receives tensors) and to simulate a surrogate's
        defect (numpy arrays).

        Parameters
        ----------
        X : ndarray or torch.Tensor of shape (n, d + 1)
            Points ``(t, x)``.
        value, gradient, laplacian : ndarray or torch.Tensor
            The function at ``X`` (``(n,)``), its gradient with respect to all
            ``d + 1`` inputs (``(n, d + 1)``; column 0 is ``∂_t``) and its spatial
            Laplacian (``(n,)``).

        Returns
        -------
        residual : ndarray or torch.Tensor of shape (n,)
            ``∂_t v + μ·∇v + (σ²/2) Δv + F(t, x, v, σ∇v)``.
        """
        d = X.shape[1] - 1
        grad_x = gradient[:, 1:]
        return (
            gradient[:, 0]
            + grad_x @ _like(self.drift_vector(d), grad_x)
            + 0.5 * self.sigma**2 * laplacian
            + self.evaluate_nonlinearity(X[:, 0], X[:, 1:], value, self.sigma * grad_x)
        )

    def sample(
        self, n_samples: int, random_state: RandomStateLike = None
    ) -> np.ndarray:
        """Draw query points: ``t ~ U[0, T)``, ``x`` uniform on ``domain``.

        Parameters
        ----------
        n_samples : int
            Number of points.
        random_state : int, Generator, RandomState instance or None, \
                default=None
            Seed of the draw (see :func:`sklearn_debias.utils.check_generator`).

        Returns
        -------
        X : ndarray of shape (n_samples, d + 1)
        """
        if self.domain is None:
            raise ValueError("sample needs a domain; this PDE has none")
        rng = check_generator(random_state)
        t = rng.uniform(0.0, self.T, size=(n_samples, 1))
        return np.hstack([t, self.domain.sample(n_samples, rng)])
