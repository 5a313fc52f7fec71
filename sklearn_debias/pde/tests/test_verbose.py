"""SimulationCalibratedRegressor(verbose=...): progress without changed results."""

import builtins
import sys

import numpy as np
import pytest
from sklearn.kernel_ridge import KernelRidge

from sklearn_debias.pde import (
    Ball,
    PoissonEquation,
    SimulationCalibratedRegressor,
    viscous_burgers,
)
from sklearn_debias.pde._testing import FunctionRegressor


def _hide_tqdm(monkeypatch):
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "tqdm" or name.startswith("tqdm."):
            raise ImportError("no tqdm")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "tqdm", raising=False)
    monkeypatch.setattr(builtins, "__import__", fake_import)


def _burgers_regressor(**params):
    pde = viscous_burgers(3)
    Xq = pde.sample(50, random_state=0)  # 1000 paths per point: 2 chunks
    reg = SimulationCalibratedRegressor(
        KernelRidge(kernel="rbf", alpha=1e-2),
        pde,
        n_paths=1000,
        levels=1,
        random_state=3,
        **params,
    )
    return reg.fit(Xq, pde.exact_solution(Xq)), Xq


@pytest.mark.parametrize("n_jobs", [None, 2])
def test_verbose_results_are_bit_identical(n_jobs, capsys, monkeypatch):
    reg, Xq = _burgers_regressor(n_jobs=n_jobs)
    silent, silent_std = reg.predict(Xq, return_std=True)
    assert capsys.readouterr().err == ""
    loud, loud_std = reg.set_params(verbose=1).predict(Xq, return_std=True)
    err = capsys.readouterr().err
    np.testing.assert_array_equal(silent, loud)
    np.testing.assert_array_equal(silent_std, loud_std)
    assert "mlp (50 points)" in err or "feynman_kac (50 points)" in err
    _hide_tqdm(monkeypatch)
    plain = reg.predict(Xq)
    lines = capsys.readouterr().err.strip().splitlines()
    np.testing.assert_array_equal(silent, plain)
    assert lines[-1].split(": ")[1].startswith("2/2 (100%)")


def test_verbose_walk_on_spheres(capsys, monkeypatch):
    _hide_tqdm(monkeypatch)

    def exact(X):
        return (X**2).sum(axis=1)

    pde = PoissonEquation(lambda X: np.full(len(X), 4.0), exact, Ball(2), exact)
    X = pde.sample(12, random_state=0)
    surrogate = FunctionRegressor(lambda X: exact(X) + 0.1 * X[:, 0])
    # 4096 walks per point: 8 points per chunk, 2 chunks.
    reg = SimulationCalibratedRegressor(
        surrogate, pde, n_paths=4096, epsilon=1e-2, random_state=0
    ).fit(X, exact(X))
    quiet = reg.predict(X)
    assert capsys.readouterr().err == ""
    loud = reg.set_params(verbose=1).predict(X)
    np.testing.assert_array_equal(quiet, loud)
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[-1].startswith("walk_on_spheres (12 points): ")
    assert "(100%)" in lines[-1]


def test_bad_verbose():
    reg = SimulationCalibratedRegressor(pde=viscous_burgers(2), verbose=-1)
    with pytest.raises(ValueError, match="verbose"):
        reg.fit(np.zeros((3, 3)), np.zeros(3))
