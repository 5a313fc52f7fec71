"""A scikit-learn regressor around a skorch multilayer perceptron.

torch and skorch are imported inside ``fit`` only, so that importing this module
(and the package) does not need them.
"""

from __future__ import annotations

import copy
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ..utils import spawn_seeds
from ..utils._compat import Interval, StrOptions, _fit_context
from ..utils._typing import ArrayLike, RandomStateLike

if TYPE_CHECKING:
    import torch

_OPTIMIZERS = ("adam", "adamw", "sgd", "lbfgs")
ACTIVATION_NAMES = ("tanh", "relu", "gelu", "silu", "softplus", "sigmoid")
_PREDICT_BATCH = 4096


def to_float32(X: ArrayLike) -> np.ndarray:
    """Cast an array to float32, the dtype a default torch network expects.

    A module-level function, so that ``FunctionTransformer(to_float32)`` pickles;
    :func:`~sklearn_debias.neural.autograd_derivatives` treats that step as the
    identity (it differentiates in float64).

    Parameters
    ----------
    X : array-like
        Input data.

    Returns
    -------
    X32 : ndarray of dtype float32
        ``X`` as a float32 array.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias.neural import to_float32
    >>> to_float32(np.array([[1.0, 2.0]])).dtype
    dtype('float32')
    """
    return np.asarray(X, dtype=np.float32)


def _import_torch():
    try:
        import skorch
        import torch
    except ImportError as exc:  # pragma: no cover - exercised without torch
        raise ImportError(
            "The neural surrogates need torch and skorch: pip install "
            "'sklearn-debias[torch]'"
        ) from exc
    return torch, skorch


def _checked_sizes(hidden_layer_sizes):
    """``hidden_layer_sizes`` as a tuple of positive ints, or ``ValueError``."""
    sizes = hidden_layer_sizes
    sizes = (sizes,) if isinstance(sizes, Integral) else tuple(sizes)
    if not all(
        isinstance(s, Integral) and not isinstance(s, bool) and s > 0 for s in sizes
    ):
        raise ValueError(
            "hidden_layer_sizes must be a tuple of positive integers, got "
            f"{hidden_layer_sizes!r}."
        )
    return sizes


def evaluation_copy(module):
    """A float64, eval-mode, gradient-free copy of a trained module.

    Made once at the end of ``fit``: ``predict`` never copies nor mutates a
    module, so concurrent calls are safe, and predictions agree with
    :func:`autograd_derivatives` (which differentiates this copy) to float64
    rounding.
    """
    module = copy.deepcopy(module).eval().requires_grad_(False)
    try:
        module = module.double()
    except (RuntimeError, TypeError):  # pragma: no cover - no float64 (MPS)
        pass
    return module


def predict_module(module, X):
    """Predictions of shape ``(n,)``, float64, of a module on ``X``, in batches."""
    import torch

    weight = next(module.parameters())
    pred = np.empty(X.shape[0])
    with torch.no_grad():
        for start in range(0, X.shape[0], _PREDICT_BATCH):
            batch = torch.tensor(
                X[start : start + _PREDICT_BATCH],
                dtype=weight.dtype,
                device=weight.device,
            )
            out = module(batch).reshape(-1)
            pred[start : start + _PREDICT_BATCH] = out.double().cpu().numpy()
    return pred


def _loss_curve(history):
    """Mean training loss per epoch from a skorch history (empty if not logged)."""
    try:
        return [float(v) for v in history[:, "train_loss"]]
    except KeyError:
        pass
    try:
        return [float(np.mean(v)) for v in history[:, "batches", :, "train_loss"]]
    except (KeyError, ValueError):
        return []


class MLPSurrogate(RegressorMixin, BaseEstimator):
    """Multilayer-perceptron regressor trained with skorch, for use as a surrogate.

    A thin scikit-learn wrapper that builds a :class:`skorch.NeuralNetRegressor`
    in ``fit`` with the settings a surrogate needs inside cross-validation and
    debiasing: float32 casting of ``X``, a 1-D ``y`` reshaped to ``(n, 1)``
    (a 1-D target silently broadcasts skorch's loss), float64 predictions of
    shape ``(n,)``, no internal validation split, no printing, and seeding
    through ``random_state`` without touching torch's global random state. The
    fitted network maps raw inputs to raw targets (standardisation lives inside
    the module as buffers), so :func:`autograd_derivatives` differentiates it
    exactly.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(64, 64)
        Width of each hidden layer.
    activation : {"tanh", "relu", "gelu", "silu", "softplus", "sigmoid"}, \
            default="tanh"
        Hidden-layer activation. For PDE residuals use a smooth one: a ReLU
        network has a zero Laplacian almost everywhere.
    max_epochs : int, default=200
        Number of passes over the training data.
    lr : float, default=1e-3
        Learning rate.
    batch_size : int, default=128
        Mini-batch size.
    optimizer : {"adam", "adamw", "sgd", "lbfgs"} or torch optimizer class, \
            default="adam"
        Optimizer.
    standardize : bool, default=True
        Standardise inputs and target with their training mean and standard
        deviation (inside the module, so predictions and derivatives are in
        the original units).
    net_params : dict, default=None
        Extra keyword arguments for :class:`skorch.NeuralNetRegressor`, e.g.
        ``{"optimizer__weight_decay": 1e-4}`` or ``{"callbacks": [...]}``;
        they override the defaults above (``train_split``, ``verbose``, ...),
        except the module, which this class builds.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation and shuffling: an int seeds one
        ``numpy.random.SeedSequence`` whose two spawned children seed local
        ``torch.Generator`` objects (torch's global generator is neither
        drawn from nor reseeded). ``None`` draws fresh entropy.
    device : str or torch.device, default="cpu"
        Device the network trains and predicts on, e.g. ``"cuda"``.

    Attributes
    ----------
    net_ : skorch.NeuralNetRegressor
        The fitted network; ``net_.module_`` is a ``torch.nn.Module`` mapping
        float32 inputs of shape ``(n, n_features_in_)`` to ``(n, 1)``.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.
    n_iter_ : int
        Number of epochs run.
    loss_curve_ : list of float
        Training mean squared error (in the target's units squared) of each
        epoch; empty if skorch's default callbacks are disabled.

    See Also
    --------
    make_mlp_regressor : Build this estimator with keyword arguments.
    autograd_derivatives : Exact gradients and Laplacians of the fitted network.
    sklearn.neural_network.MLPRegressor : The numpy multilayer perceptron.

    Notes
    -----
    Training runs in float32 (torch's default). ``predict`` evaluates a float64
    copy of the trained network, made once at the end of :meth:`fit`, so
    predictions do not depend on how rows are batched and agree with
    :func:`autograd_derivatives` to float64 rounding. Training on a CPU with a
    fixed ``random_state`` is reproducible.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias.neural import MLPSurrogate
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-1, 1, size=(200, 2))
    >>> y = np.sin(X[:, 0]) + X[:, 1] ** 2
    >>> reg = MLPSurrogate(hidden_layer_sizes=(32,), max_epochs=50, lr=3e-2,
    ...                    random_state=0).fit(X, y)
    >>> reg.predict(X[:3]).shape
    (3,)
    >>> bool(reg.score(X, y) > 0.9)
    True
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions(set(ACTIVATION_NAMES))],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "optimizer": [StrOptions(set(_OPTIMIZERS)), type],
        "standardize": ["boolean"],
        "net_params": [dict, None],
        "random_state": ["random_state"],
        "device": "no_validation",  # a str or a torch.device: checked by torch
    }

    def __init__(
        self,
        hidden_layer_sizes: tuple[int, ...] = (64, 64),
        activation: str = "tanh",
        max_epochs: int = 200,
        lr: float = 1e-3,
        batch_size: int = 128,
        optimizer: str | type[torch.optim.Optimizer] = "adam",
        standardize: bool = True,
        net_params: dict[str, Any] | None = None,
        random_state: RandomStateLike = None,
        device: str | torch.device = "cpu",
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.standardize = standardize
        self.net_params = net_params
        self.random_state = random_state
        self.device = device

    def _checked_params(self, torch):
        """What the parameter constraints cannot check (some of it needs torch)."""
        sizes = _checked_sizes(self.hidden_layer_sizes)
        if isinstance(self.optimizer, str):
            optimizer = getattr(
                torch.optim,
                {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD", "lbfgs": "LBFGS"}[
                    self.optimizer
                ],
            )
        elif issubclass(self.optimizer, torch.optim.Optimizer):
            optimizer = self.optimizer
        else:
            raise ValueError(
                f"optimizer must be one of {_OPTIMIZERS} or a torch optimizer "
                f"class, got {self.optimizer!r}."
            )
        try:
            torch.device(self.device)
        except (RuntimeError, TypeError) as exc:
            raise ValueError(f"device={self.device!r} is not a torch device.") from exc
        net_params = {} if self.net_params is None else self.net_params
        reserved = [k for k in net_params if k == "module" or k.startswith("module__")]
        if reserved:
            raise ValueError(
                f"net_params may not set {reserved}: MLPSurrogate builds the module."
            )
        return sizes, optimizer, net_params

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: ArrayLike, y: ArrayLike) -> MLPSurrogate:
        """Fit the network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs.
        y : array-like of shape (n_samples,)
            Training targets.

        Returns
        -------
        self : MLPSurrogate
            The fitted estimator.
        """
        X, y = validate_data(self, X, y, y_numeric=True, dtype=np.float64)
        torch, skorch = _import_torch()
        from ._torch_modules import ScaledMLP

        sizes, optimizer, net_params = self._checked_params(torch)
        if self.standardize:
            x_shift, x_scale = X.mean(axis=0), X.std(axis=0)
            y_shift, y_scale = y.mean(), y.std()
            x_scale[x_scale == 0] = 1.0
            y_scale = y_scale if y_scale > 0 else 1.0
        else:
            x_shift, x_scale, y_shift, y_scale = None, None, 0.0, 1.0
        # Two child streams: initial weights and mini-batch shuffling, each in
        # a local torch.Generator (torch's global generator is never drawn).
        init_seed, shuffle_seed = (
            int(s.generate_state(1)[0]) for s in spawn_seeds(self.random_state, 2)
        )
        params = dict(
            module=ScaledMLP,
            module__n_features=X.shape[1],
            module__hidden_layer_sizes=sizes,
            module__activation=self.activation,
            module__x_shift=x_shift,
            module__x_scale=x_scale,
            module__y_shift=y_shift,
            module__y_scale=y_scale,
            module__random_state=init_seed,
            criterion=torch.nn.MSELoss,
            optimizer=optimizer,
            lr=float(self.lr),
            max_epochs=int(self.max_epochs),
            batch_size=int(self.batch_size),
            iterator_train__shuffle=True,
            iterator_train__generator=torch.Generator().manual_seed(shuffle_seed),
            train_split=None,
            verbose=0,
            device=self.device,
        )
        params.update(net_params)
        net = skorch.NeuralNetRegressor(**params)
        net.fit(X.astype(np.float32), y.astype(np.float32).reshape(-1, 1))
        self.net_ = net
        self.n_iter_ = len(net.history)
        self.loss_curve_ = _loss_curve(net.history)
        if not all(bool(torch.isfinite(w).all()) for w in net.module_.parameters()):
            raise ValueError(
                "Training produced non-finite weights; lower lr or check the data "
                "scale (standardize=True helps)."
            )
        self._eval_module = evaluation_copy(net.module_)
        return self

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predict with the fitted network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Query inputs.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predictions, float64.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return predict_module(self._eval_module, X)


def make_mlp_regressor(
    hidden_layer_sizes: tuple[int, ...] = (64, 64),
    activation: str = "tanh",
    max_epochs: int = 200,
    lr: float = 1e-3,
    batch_size: int = 128,
    optimizer: str | type[torch.optim.Optimizer] = "adam",
    random_state: RandomStateLike = None,
    device: str | torch.device = "cpu",
    **kwargs: Any,
) -> MLPSurrogate:
    """Build an unfitted skorch MLP regressor configured for surrogate work.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(64, 64)
        Width of each hidden layer.
    activation : str, default="tanh"
        Hidden-layer activation (smooth ones for PDE residuals).
    max_epochs : int, default=200
        Number of passes over the training data.
    lr : float, default=1e-3
        Learning rate.
    batch_size : int, default=128
        Mini-batch size.
    optimizer : str or torch optimizer class, default="adam"
        ``"adam"``, ``"adamw"``, ``"sgd"``, ``"lbfgs"`` or a class.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation and shuffling without touching global state.
    device : str, default="cpu"
        Device to train on.
    **kwargs : dict
        ``standardize`` and ``net_params`` go to :class:`MLPSurrogate`; any
        other keyword (e.g. ``optimizer__weight_decay=1e-4``, ``callbacks``)
        is passed on to :class:`skorch.NeuralNetRegressor` through
        ``net_params``.

    Returns
    -------
    regressor : MLPSurrogate
        An unfitted scikit-learn regressor: it clones, pickles and works in
        ``cross_val_score`` and ``GridSearchCV``.

    See Also
    --------
    MLPSurrogate : The estimator returned.

    Examples
    --------
    >>> from sklearn_debias.neural import make_mlp_regressor
    >>> reg = make_mlp_regressor((16, 16), max_epochs=5, random_state=0,
    ...                          optimizer__weight_decay=1e-4)
    >>> reg.net_params
    {'optimizer__weight_decay': 0.0001}
    """
    own = {k: kwargs.pop(k) for k in ("standardize", "net_params") if k in kwargs}
    net_params = dict(own.pop("net_params", None) or {})
    net_params.update(kwargs)
    return MLPSurrogate(
        hidden_layer_sizes=hidden_layer_sizes,
        activation=activation,
        max_epochs=max_epochs,
        lr=lr,
        batch_size=batch_size,
        optimizer=optimizer,
        net_params=net_params or None,
        random_state=random_state,
        device=device,
        **own,
    )
