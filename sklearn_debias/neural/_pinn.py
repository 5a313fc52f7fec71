"""PINNRegressor: a network trained on the PDE itself (physics-informed).

torch is imported inside ``fit`` and ``predict`` only, so that importing this
module (and the package) does not need it.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted, validate_data

from ..pde._collocation import collocation_points, input_dimension
from ..pde._equations import PoissonEquation, SemilinearParabolicPDE
from ..utils import import_extra, progress, spawn_seeds
from ..utils._compat import Interval, StrOptions, _fit_context
from ..utils._typing import ArrayLike, MatrixLike, RandomStateLike
from ._mlp import (
    ACTIVATION_NAMES,
    _checked_sizes,
    evaluation_copy,
    predict_module,
)

if TYPE_CHECKING:
    import torch

__all__ = ["PINNRegressor"]

_OPTIMIZERS = ("adam", "lbfgs", "adam+lbfgs")
# Points drawn once to set the network's input and output scaling.
_SCALING_SAMPLE = 4096
# Held-out boundary loss (over the data's variance) above which the fit is
# reported as no better than a constant (which scores about 1).
_CONSTANT_FIT = 0.1


def _import_torch():
    """torch (skorch is not needed: the training loop is plain torch)."""
    return import_extra("torch", "torch", "PINNRegressor needs")


def _residual(pde, layers, cols, x):
    """The equation's residual of a network (its forward-Laplacian layers) at x."""
    from ._forward_laplacian import forward_derivatives

    z, J, L = forward_derivatives(layers, x, cols)
    b = x.shape[0]
    return pde.residual(x, z[:, 0], J.expand(b, -1, -1)[:, :, 0], L.expand(b, -1)[:, 0])


class PINNRegressor(RegressorMixin, BaseEstimator):
    """Physics-informed neural network: a surrogate trained on the PDE itself.

    A tanh multilayer perceptron ``û`` trained to make the PDE residual vanish
    at collocation points and to match the boundary (Poisson) or terminal
    (parabolic) data, and optionally solution data ``(X, y)``; the solution
    data a surrogate regressor such as :class:`MLPSurrogate` needs are then
    not needed. The residual is the equation's own
    (:meth:`SemilinearParabolicPDE.residual`, :meth:`PoissonEquation.residual`),
    the one :class:`~sklearn_debias.pde.SimulationCalibratedRegressor`
    simulates, and its derivatives are the exact forward-Laplacian ones of
    :func:`autograd_derivatives`: a fitted PINN can be handed to
    :class:`~sklearn_debias.pde.SimulationCalibratedRegressor` (wrapped in
    :class:`sklearn.frozen.FrozenEstimator`) and is differentiated exactly.

    Parameters
    ----------
    pde : PoissonEquation, SemilinearParabolicPDE or None, default=None
        The equation. Its ``nonlinearity`` receives torch tensors during
        training and must handle them (the shipped benchmark equations do);
        sources, boundary and terminal data are evaluated in numpy. ``None``
        trains on the data ``(X, y)`` alone (a plain network regressor).
    hidden_layer_sizes : tuple of int, default=(50, 50, 50, 50, 50)
        Width of each hidden layer (the SCaSML paper's 5 x 50).
    activation : {"tanh", "gelu", "silu", "softplus", "sigmoid", "relu"}, \
            default="tanh"
        Hidden-layer activation; a PDE residual needs a smooth one.
    n_collocation : int, default=1000
        Interior collocation points per step.
    n_boundary : int or None, default=None
        Boundary (Poisson) or terminal (parabolic) points per step; ``None``
        means ``n_collocation // 2``.
    resample : bool, default=True
        Draw fresh collocation points at every Adam step (a stochastic
        estimate of the residual's mean square over the region, which avoids
        fitting the residual at a fixed set only). ``False`` draws them once.
        The L-BFGS phase always uses one fixed draw.
    optimizer : {"adam+lbfgs", "adam", "lbfgs"}, default="adam+lbfgs"
        ``"adam+lbfgs"``: ``max_epochs`` Adam steps, then ``lbfgs_max_iter``
        L-BFGS iterations (with a strong-Wolfe line search) on a fixed draw.
    max_epochs : int, default=2000
        Adam steps (ignored by ``optimizer="lbfgs"``).
    lr : float, default=1e-3
        Adam's initial learning rate, decayed to ``lr / 100`` along a cosine.
    lbfgs_max_iter : int, default=500
        L-BFGS iterations (ignored by ``optimizer="adam"``).
    boundary_weight : float, default=1.0
        Weight of the boundary/terminal loss.
    data_weight : float, default=1.0
        Weight of the data loss (when ``y`` is given).
    dtype : {"float32", "float64"}, default="float32"
        Precision of training (predictions and derivatives are evaluated in
        float64 on a copy of the trained network).
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights and the collocation draws (numpy streams
        spawned from one ``SeedSequence``; torch's global generator is not
        used). On a CPU, an int makes ``fit`` reproducible.
    device : str or torch.device, default="cpu"
        Device of training, e.g. ``"cuda"``.
    verbose : int, default=0
        ``> 0``: a progress bar over the Adam steps and a line per phase.

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network (in ``dtype``), mapping raw inputs of shape
        ``(n, n_features_in_)`` to ``(n, 1)``.
    n_features_in_ : int
        Number of input columns: ``d`` (Poisson) or ``d + 1`` (rows ``(t, x)``).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names of ``X`` in :meth:`fit`, when it had string column names.
    n_iter_ : int
        Adam steps plus L-BFGS iterations run.
    loss_curve_ : list of float
        Total loss after each Adam step and each L-BFGS evaluation.
    residual_loss_, boundary_loss_, data_loss_ : float
        The final losses (mean squares, divided by the squared output scale)
        on a fresh, held-out collocation draw; ``data_loss_`` is NaN without
        ``y``. A ``boundary_loss_`` above 0.1 (a constant scores about 1)
        raises a ``ConvergenceWarning``.

    See Also
    --------
    MLPSurrogate : A network regressor on solution data.
    sklearn_debias.pde.SimulationCalibratedRegressor : Debias the trained
        network by simulation.

    Notes
    -----
    The loss is ``mean(r²) + boundary_weight·mean((û - g)²) +
    data_weight·mean((û - y)²)``, each divided by the square of the output
    scale (the standard deviation of the boundary data and of ``y``), so
    that the weights are dimensionless. Collocation points follow the
    simulation (see :func:`sklearn_debias.pde._collocation.collocation_points`):
    uniform on a Poisson problem's domain; for a parabolic one, points
    ``(s, X_s)`` of the forward process started at query points drawn from the
    PDE's domain and from the rows of ``X``, and terminal points ``(T, X_T)``.
    The network's inputs and outputs are standardised inside the module, so
    predictions and derivatives are in the user's units.

    References
    ----------
    Raissi, M., Perdikaris, P., Karniadakis, G. E. (2019). Physics-informed
    neural networks. *Journal of Computational Physics* 378, 686-707.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias.neural import PINNRegressor
    >>> from sklearn_debias.pde import Box, PoissonEquation
    >>> exact = lambda X: X[:, 0] ** 2 + X[:, 1] ** 2     # Δu = 4 on [0, 1]²
    >>> pde = PoissonEquation(lambda X: np.full(len(X), 4.0), exact,
    ...                       Box([0, 0], [1, 1]), exact_solution=exact)
    >>> pinn = PINNRegressor(pde, hidden_layer_sizes=(16, 16), n_collocation=200,
    ...                      max_epochs=300, lr=1e-2, lbfgs_max_iter=100,
    ...                      random_state=0).fit()
    >>> X = pde.sample(500, random_state=1)
    >>> error = np.linalg.norm(pinn.predict(X) - exact(X)) / np.linalg.norm(exact(X))
    >>> bool(error < 1e-2)
    True
    """

    _parameter_constraints: dict = {
        "pde": [PoissonEquation, SemilinearParabolicPDE, None],
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions(set(ACTIVATION_NAMES))],
        "n_collocation": [Interval(Integral, 1, None, closed="left")],
        "n_boundary": [Interval(Integral, 1, None, closed="left"), None],
        "resample": ["boolean"],
        "optimizer": [StrOptions(set(_OPTIMIZERS))],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "lbfgs_max_iter": [Interval(Integral, 1, None, closed="left")],
        "boundary_weight": [Interval(Real, 0, None, closed="left")],
        "data_weight": [Interval(Real, 0, None, closed="left")],
        "dtype": [StrOptions({"float32", "float64"})],
        "random_state": ["random_state"],
        "device": "no_validation",  # a str or a torch.device: checked by torch
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        pde: PoissonEquation | SemilinearParabolicPDE | None = None,
        *,
        hidden_layer_sizes: tuple[int, ...] = (50, 50, 50, 50, 50),
        activation: str = "tanh",
        n_collocation: int = 1000,
        n_boundary: int | None = None,
        resample: bool = True,
        optimizer: str = "adam+lbfgs",
        max_epochs: int = 2000,
        lr: float = 1e-3,
        lbfgs_max_iter: int = 500,
        boundary_weight: float = 1.0,
        data_weight: float = 1.0,
        dtype: str = "float32",
        random_state: RandomStateLike = None,
        device: str | torch.device = "cpu",
        verbose: int = 0,
    ) -> None:
        self.pde = pde
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.n_collocation = n_collocation
        self.n_boundary = n_boundary
        self.resample = resample
        self.optimizer = optimizer
        self.max_epochs = max_epochs
        self.lr = lr
        self.lbfgs_max_iter = lbfgs_max_iter
        self.boundary_weight = boundary_weight
        self.data_weight = data_weight
        self.dtype = dtype
        self.random_state = random_state
        self.device = device
        self.verbose = verbose

    def _validated_inputs(self, X, y):
        """Checked ``(X, y)`` (either may be None); sets ``n_features_in_``."""
        pde = self.pde
        if pde is None and (X is None or y is None):
            raise ValueError(
                "PINNRegressor(pde=None) has no equation to train on: it "
                "requires y to be passed, but the target y is None. Pass "
                "solution data (X, y), or a PoissonEquation or "
                "SemilinearParabolicPDE."
            )
        expected = None if pde is None else input_dimension(pde)
        if X is None:
            if expected is None or pde.domain is None:
                raise ValueError(
                    "fit() without X needs a PDE with a domain to draw collocation "
                    "points from; pass query points X."
                )
            if y is not None:
                raise ValueError("y was given without X.")
            self.n_features_in_ = expected
            return None, None
        if y is None:
            X = validate_data(self, X, dtype=np.float64)
        else:
            X, y = validate_data(self, X, y, y_numeric=True, dtype=np.float64)
        if expected is not None and X.shape[1] != expected:
            kind = "points x" if isinstance(pde, PoissonEquation) else "rows (t, x)"
            raise ValueError(
                f"X has {X.shape[1]} columns but the PDE expects {expected} ({kind})."
            )
        if pde is not None:
            pde.check_points(X)  # inside the domain, or t <= T
        return X, y

    def _draw(self, X, y, rng, n_interior, n_boundary, to_tensor):
        """One batch of tensors: interior, boundary, boundary data, X, y."""
        batch = dict(interior=None, boundary=None, values=None, X=None, y=None)
        if self.pde is not None:
            interior, boundary, values = collocation_points(
                self.pde, X, n_interior, n_boundary, rng
            )
            batch.update(interior=interior, boundary=boundary, values=values)
        if y is not None:
            rows = np.arange(len(y))
            if len(y) > n_interior:
                rows = rng.choice(len(y), size=n_interior, replace=False)
            batch.update(X=X[rows], y=y[rows])
        return {k: None if v is None else to_tensor(v) for k, v in batch.items()}

    def _scaling(self, X, y, rng):
        """Input shift/scale and output shift/scale for the module."""
        inputs, outputs = [], []
        if self.pde is not None:
            interior, boundary, values = collocation_points(
                self.pde, X, _SCALING_SAMPLE, _SCALING_SAMPLE, rng
            )
            inputs += [interior, boundary]
            outputs.append(values)
        if y is not None:
            inputs.append(X)
            outputs.append(y)
        inputs, outputs = np.vstack(inputs), np.concatenate(outputs)
        x_scale = inputs.std(axis=0)
        x_scale[x_scale == 0] = 1.0
        y_scale = outputs.std()
        y_scale = y_scale if y_scale > 0 else max(1.0, np.abs(outputs).max())
        return inputs.mean(axis=0), x_scale, outputs.mean(), y_scale

    def _losses(self, torch, module, layers, cols, batch):
        """Residual, boundary and data mean squares (unscaled tensors)."""
        zero = torch.zeros((), dtype=module.y_scale.dtype, device=module.y_scale.device)
        residual = boundary = data = zero
        x = batch["interior"]
        if x is not None:
            r = _residual(self.pde, layers, cols, x)
            residual = (r * r).mean()
            boundary = ((module(batch["boundary"])[:, 0] - batch["values"]) ** 2).mean()
        if batch["y"] is not None:
            data = ((module(batch["X"])[:, 0] - batch["y"]) ** 2).mean()
        return residual, boundary, data

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: MatrixLike | None = None, y: ArrayLike | None = None) -> Any:
        """Train the network on the PDE (and on data, when ``y`` is given).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or None, default=None
            Extra query points (inside the domain, or rows ``(t, x)`` with
            ``t <= T``): collocation is drawn from them as from the PDE's
            domain (needed when the PDE has no domain).
        y : array-like of shape (n_samples,) or None, default=None
            Solution values at ``X``: adds the data loss (a hybrid fit).

        Returns
        -------
        self : PINNRegressor
            The fitted estimator.
        """
        X, y = self._validated_inputs(X, y)
        torch = _import_torch()
        from ._forward_laplacian import mlp_layers
        from ._torch_modules import ScaledMLP

        sizes = _checked_sizes(self.hidden_layer_sizes)
        try:
            device = torch.device(self.device)
        except (RuntimeError, TypeError) as exc:
            raise ValueError(f"device={self.device!r} is not a torch device.") from exc
        dtype = getattr(torch, self.dtype)
        init_seed, draw_seed = spawn_seeds(self.random_state, 2)
        rng = np.random.default_rng(draw_seed)
        x_shift, x_scale, y_shift, y_scale = self._scaling(X, y, rng)
        module = ScaledMLP(
            self.n_features_in_,
            sizes,
            self.activation,
            x_shift,
            x_scale,
            y_shift,
            y_scale,
            random_state=int(init_seed.generate_state(1)[0]),
        ).to(device=device, dtype=dtype)
        layers = mlp_layers(module)
        first = 1 if isinstance(self.pde, SemilinearParabolicPDE) else 0
        cols = torch.arange(first, self.n_features_in_, device=device)
        weights = (1.0, float(self.boundary_weight), float(self.data_weight))
        norm = float(y_scale) ** 2
        n_interior = int(self.n_collocation)
        n_boundary = (
            max(1, n_interior // 2) if self.n_boundary is None else self.n_boundary
        )

        def to_tensor(a):
            return torch.as_tensor(np.asarray(a), dtype=dtype, device=device)

        def draw():
            return self._draw(X, y, rng, n_interior, n_boundary, to_tensor)

        curve = []

        def total(batch):
            parts = self._losses(torch, module, layers, cols, batch)
            loss = sum(w * p for w, p in zip(weights, parts)) / norm
            curve.append(float(loss.detach()))
            if not np.isfinite(curve[-1]):
                raise ValueError(
                    "PINN training diverged (non-finite loss); lower lr or check "
                    "the equation's scale."
                )
            return loss

        n_iter = 0
        batch = None
        if self.optimizer != "lbfgs":
            optimizer = torch.optim.Adam(module.parameters(), lr=float(self.lr))
            schedule = torch.optim.lr_scheduler.CosineAnnealingLR(
                optimizer, T_max=int(self.max_epochs), eta_min=float(self.lr) / 100
            )
            steps = progress(
                range(int(self.max_epochs)), desc="PINN: Adam", verbose=self.verbose
            )
            for _ in steps:
                if batch is None or self.resample:
                    batch = draw()
                optimizer.zero_grad()
                total(batch).backward()
                optimizer.step()
                schedule.step()
            n_iter += int(self.max_epochs)
        if self.optimizer != "adam":
            batch = draw()
            optimizer = torch.optim.LBFGS(
                module.parameters(),
                lr=1.0,
                max_iter=int(self.lbfgs_max_iter),
                max_eval=int(self.lbfgs_max_iter) * 5 // 4,
                history_size=50,
                tolerance_grad=1e-12,
                tolerance_change=1e-15,
                line_search_fn="strong_wolfe",
            )

            def closure():
                optimizer.zero_grad()
                loss = total(batch)
                loss.backward()
                return loss

            optimizer.step(closure)
            state = optimizer.state[next(iter(module.parameters()))]
            n_iter += int(state.get("n_iter", 0))
        # The final losses on a fresh draw: an honest (held-out) measure even
        # when the last phase fitted one fixed set of points.
        with torch.no_grad():
            parts = self._losses(torch, module, layers, cols, draw())
        self.residual_loss_, self.boundary_loss_, self.data_loss_ = (
            float(p) / norm for p in parts
        )
        if y is None:
            self.data_loss_ = float("nan")
        if self.pde is None:
            self.residual_loss_ = self.boundary_loss_ = float("nan")
        elif self.boundary_loss_ > _CONSTANT_FIT:
            warnings.warn(
                f"The PINN fits the {'boundary' if first == 0 else 'terminal'} "
                f"data hardly better than a constant (held-out loss "
                f"{self.boundary_loss_:.2g}, about 1 for a constant): a residual "
                "that a flat function satisfies can trap training. Raise "
                "boundary_weight, lr or max_epochs.",
                ConvergenceWarning,
                stacklevel=3,  # fit's caller (fit is wrapped by _fit_context)
            )
        if self.verbose:
            print(
                f"PINN: {n_iter} iterations, residual loss {self.residual_loss_:.3e}, "
                f"boundary loss {self.boundary_loss_:.3e}, data loss "
                f"{self.data_loss_:.3e}"
            )
        self.module_ = module.eval()
        self._eval_module = evaluation_copy(module)
        self.n_iter_ = n_iter
        self.loss_curve_ = curve
        return self

    def predict(self, X: MatrixLike) -> np.ndarray:
        """Evaluate the trained network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points ``x`` (Poisson) or rows ``(t, x)`` (parabolic).

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predictions, float64.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        _import_torch()  # a clear error without torch
        return predict_module(self._eval_module, X)

    def pde_residual(self, X: MatrixLike) -> np.ndarray:
        """The PDE residual of the trained network at the rows of ``X``.

        Computed as in training (the equation's own ``residual`` of the
        network's exact forward-Laplacian derivatives), in float64.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Points ``x`` (Poisson) or rows ``(t, x)`` (parabolic).

        Returns
        -------
        residual : ndarray of shape (n_samples,)
            ``Δû - f`` (Poisson) or ``∂_t û + μ·∇û + (σ²/2)Δû + F(û, σ∇û)``.
        """
        check_is_fitted(self)
        if self.pde is None:
            raise ValueError("pde=None: there is no PDE residual.")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        torch = _import_torch()
        from ._forward_laplacian import mlp_layers

        module = self._eval_module
        weight = next(module.parameters())
        first = 1 if isinstance(self.pde, SemilinearParabolicPDE) else 0
        cols = torch.arange(first, X.shape[1], device=weight.device)
        x = torch.as_tensor(X, dtype=weight.dtype, device=weight.device)
        with torch.no_grad():
            r = _residual(self.pde, mlp_layers(module), cols, x)
        return r.double().cpu().numpy()

    def __getstate__(self):
        # The float64 evaluation copy is rebuilt on unpickling: pickles (and
        # the weights shipped with the examples) hold the trained network once.
        state = dict(super().__getstate__())  # a copy: not self.__dict__
        state.pop("_eval_module", None)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if "module_" in state:
            self._eval_module = evaluation_copy(self.module_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = self.pde is None
        return tags
