"""The neural subpackage without torch: importable, and clear errors."""

import subprocess
import sys
import textwrap

import numpy as np
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_debias.neural import MLPSurrogate, supports_autograd

BLOCK_TORCH = """
import sys

class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "skorch"):
            raise ModuleNotFoundError(f"No module named {name!r}")

sys.meta_path.insert(0, Blocker())
"""


def run_python(code):
    subprocess.run([sys.executable, "-c", textwrap.dedent(code)], check=True)


def test_unsupported_without_torch_objects():
    X = np.arange(12.0).reshape(6, 2)
    assert not supports_autograd(Ridge().fit(X, X[:, 0]))
    assert not supports_autograd(make_pipeline(StandardScaler(), MLPSurrogate()))
    assert not supports_autograd(MLPSurrogate())
    assert not supports_autograd(None)


def test_supports_autograd_does_not_import_torch():
    run_python("""
        import sys
        import numpy as np
        from sklearn.linear_model import Ridge
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn_debias.neural import MLPSurrogate, supports_autograd
        X = np.arange(12.0).reshape(6, 2)
        est = make_pipeline(StandardScaler(), Ridge()).fit(X, X[:, 0])
        assert not supports_autograd(est)
        assert not supports_autograd(MLPSurrogate())
        assert "torch" not in sys.modules and "skorch" not in sys.modules
    """)


def test_clear_errors_when_torch_is_missing():
    run_python(
        BLOCK_TORCH
        + """
import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn_debias.neural import (
    MLPSurrogate, autograd_derivatives, make_mlp_regressor, supports_autograd)

X = np.arange(12.0).reshape(6, 2)
reg = make_mlp_regressor((4,), random_state=0)
with pytest.raises(ImportError, match="sklearn-debias\\\\[torch\\\\]"):
    reg.fit(X, X[:, 0])
ridge = Ridge().fit(X, X[:, 0])
assert not supports_autograd(ridge)
with pytest.raises(ValueError, match="does not support Ridge"):
    autograd_derivatives(ridge, X)
"""
    )
