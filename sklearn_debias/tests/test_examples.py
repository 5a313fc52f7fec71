"""Every example runs to the end and saves its figures (slow; sphinx-gallery runs them).

Each example saves its figures as ``<example name>*.png`` in
``examples/figures/``, or in ``$SKLEARN_DEBIAS_FIGURE_DIR`` when it is set, as
here, so that the test does not write into the source tree.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("plot_*.py"))
# Examples that need the optional torch extra (skipped only without it).
NEEDS_TORCH = {"plot_inference_time_scaling.py"}


def test_examples_found():
    # A moved examples folder must not turn the slow test into no test at all.
    assert len(EXAMPLES) >= 5, EXAMPLES


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_runs_and_saves_figures(path, tmp_path):
    if path.name in NEEDS_TORCH:
        pytest.importorskip("torch")  # the shipped networks are torch modules
        pytest.importorskip("skorch")
    figure_dir = tmp_path / "figures"
    env = dict(
        os.environ,
        # A non-interactive backend: plt.show() returns at once.
        MPLBACKEND="Agg",
        SKLEARN_DEBIAS_FIGURE_DIR=str(figure_dir),
        # One BLAS thread: pytest-xdist already runs a process per core.
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
    )
    proc = subprocess.run(
        [sys.executable, str(path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    figures = sorted(figure_dir.glob(f"{path.stem}*.png"))
    assert figures, f"{path.name} saved no figure {path.stem}*.png in {figure_dir}"
    for figure in figures:
        assert figure.stat().st_size > 1000, f"{figure.name} is (nearly) empty"
