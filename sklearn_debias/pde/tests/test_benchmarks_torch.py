"""The benchmark equations' callables on torch tensors (and numpy unchanged).

A physics-informed network trains through the terminal value, the
nonlinearity and a closed-form solution: on tensors they must return tensors
that keep the autograd graph, equal to the numpy values, while numpy inputs
never import torch (an optional dependency).
"""

import sys

import numpy as np
import pytest
from scipy.special import expit

from sklearn_debias.pde import (
    diffusion_reaction,
    linear_convection_diffusion,
    lqg,
    viscous_burgers,
)

try:
    import torch
except ImportError:  # the numpy tests still run
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="needs torch")

EQUATIONS = {
    "vb": lambda: viscous_burgers(5),
    "lcd": lambda: linear_convection_diffusion(5),
    "lqg_log": lambda: lqg(5),
    "lqg_quadratic": lambda: lqg(5, cost="quadratic", a=0.5),
    "dr": lambda: diffusion_reaction(5),
}


def _inputs(pde, n=16):
    rng = np.random.default_rng(0)
    X = pde.sample(n, random_state=0)
    return X, rng.standard_normal(n), rng.standard_normal((n, pde.n_dims))


def _tensor(a):
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


def _check_tensor_call(func, numpy_args):
    """``func`` on tensors equals ``func`` on arrays, and differentiates."""
    expected = func(*numpy_args)
    tensors = [_tensor(a) for a in numpy_args]
    out = func(*tensors)
    assert isinstance(out, torch.Tensor)
    assert out.dtype == torch.float64 and tuple(out.shape) == expected.shape
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-12, atol=1e-12)
    grads = torch.autograd.grad(out.sum(), tensors, allow_unused=True)
    assert any(g is not None for g in grads)
    for g, a in zip(grads, tensors):
        if g is not None:
            assert g.shape == a.shape and bool(torch.isfinite(g).all())
    return grads


@needs_torch
@pytest.mark.parametrize("name", sorted(EQUATIONS))
def test_callables_accept_tensors_and_keep_the_graph(name):
    pde = EQUATIONS[name]()
    X, u, z = _inputs(pde)
    t, x = X[:, 0], X[:, 1:]

    _check_tensor_call(pde.terminal, [x])
    if pde.nonlinearity is not None:
        _check_tensor_call(pde.nonlinearity, [t, x, u, z])
    if name == "lqg_log":  # a numerical reference, not a closed form
        with pytest.raises(TypeError, match="numpy array"):
            pde._exact_solution(torch.as_tensor(X))
    else:
        (grad,) = _check_tensor_call(pde._exact_solution, [X])
        assert bool(grad[:, 0].abs().max() > 0)  # ∂_t u flows back


@needs_torch
def test_nonlinearity_takes_mixed_numpy_and_tensor_arguments():
    pde = diffusion_reaction(5)
    X, u, z = _inputs(pde)
    t, x = X[:, 0], X[:, 1:]
    u_t = _tensor(u)
    out = pde.nonlinearity(t, x, u_t, z)  # time and space as numpy arrays
    np.testing.assert_allclose(
        out.detach().numpy(), pde.nonlinearity(t, x, u, z), rtol=1e-12
    )
    (grad,) = torch.autograd.grad(out.sum(), [u_t])
    assert grad.shape == u_t.shape


@needs_torch
def test_float32_tensors_stay_float32():
    pde = diffusion_reaction(3)
    x = torch.zeros((4, 3), dtype=torch.float32)
    assert pde.terminal(x).dtype == torch.float32
    assert lqg(3).terminal(x).dtype == torch.float32


def test_numpy_values_are_unchanged():
    # The numpy path is the same arithmetic as before tensors were supported.
    pde = viscous_burgers(5)
    X, u, z = _inputs(pde)
    t, x = X[:, 0], X[:, 1:]
    np.testing.assert_array_equal(pde.terminal(x), expit(pde.T + x.sum(axis=1)))
    np.testing.assert_array_equal(pde._exact_solution(X), expit(X.sum(axis=1)))
    np.testing.assert_array_equal(
        pde.nonlinearity(t, x, u, z), pde.nonlinearity.sigma * u * z.sum(axis=1)
    )
    pde = diffusion_reaction(5)
    target = 1.6 + np.sin(0.1 * x.sum(axis=1)) * np.exp(0.005 * 5 * (t - pde.T))
    np.testing.assert_array_equal(
        pde.nonlinearity(t, x, u, z), np.minimum(1.0, (u - target) ** 2)
    )
    np.testing.assert_array_equal(pde._exact_solution(X), target)
    pde = lqg(5, cost="quadratic", a=0.5)
    np.testing.assert_array_equal(pde.terminal(x), 0.5 * (x**2).sum(axis=1))
    np.testing.assert_array_equal(
        pde.nonlinearity(t, x, u, z), -0.5 * (z**2).sum(axis=1)
    )
    for func in (pde.terminal, lqg(5).terminal):
        assert isinstance(func(x), np.ndarray)


@pytest.mark.parametrize("name", sorted(EQUATIONS))
def test_numpy_inputs_never_import_torch(name, monkeypatch):
    pde = EQUATIONS[name]()
    X, u, z = _inputs(pde)
    t, x = X[:, 0], X[:, 1:]
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails
    pde.exact_solution(X)
    pde.evaluate_terminal(x)
    pde.evaluate_nonlinearity(t, x, u, z)
