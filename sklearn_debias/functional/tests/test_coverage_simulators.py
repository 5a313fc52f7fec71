"""Coverage of the 95% intervals on a simulator the rest of the suite never sees.

A subset of the study in ``benchmarks/bench_coverage.py`` (which runs the full
grid: three simulators, uniform and normal inputs, 400 seeds per cell, whose
figures the user guide and issue 13's note carry): the OTL circuit (6-d,
uniform inputs, n = 400 labels), the five functionals (mean, ``Moment(2)``,
``Variance()``, ``ExceedanceProbability`` at the true 0.95 quantile,
``Quantile(0.9)``), with a polynomial ridge over 200 seeds and gradient
boosting over 100 seeds (CI time: about 1.5 and 2 minutes on one idle core).
Each cell's coverage must pass a two-sided binomial test of "coverage = 95%"
at the 1% level (for the quantile and the exceedance probability, coverage
above 95% also passes), the exceedance's standard error must not be far
wider than the spread of its estimates (the disagreement-rate floor, not the
old pseudo-count one, whose ratio was 2.3), and the heavy-tail warning, a
false alarm on this bounded smooth simulator, must fire on fewer than 5% of
the seeds.
"""

import importlib.util
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

_BENCH = Path(__file__).resolve().parents[3] / "benchmarks" / "bench_coverage.py"


def _load_bench():
    if not _BENCH.exists():
        pytest.skip(f"the study harness {_BENCH} is not in this checkout")
    spec = importlib.util.spec_from_file_location("bench_coverage", _BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Cells known to under-cover, measured and documented (the user guide's
# "Which surrogates give honest intervals": a limit of the cross-fitted
# standard error with unstable surrogates, random forests too, 90%):
# cross-fitted gradient-boosting surrogates at n = 400 report
# standard errors about 18% below the spread of the estimates (mean, 150
# seeds: 88% coverage, s.e./sd 0.82). Not a missing within-fold term: the
# folds' estimates are positively correlated (mean pairwise correlation 0.08,
# against 0.02 with the polynomial ridge), through the labels each fold's
# surrogate shares with the others, so neither the spread of the fold
# estimates (s.e./sd 0.83) nor a test of their disagreement (chi-square
# ratio 1.04) can see it. They are still run and must cover at least 85%; the
# test fails if any OTHER cell fails.
KNOWN_UNDER_COVERAGE = {("hgb", "mean"), ("hgb", "moment2"), ("hgb", "variance")}


@pytest.mark.slow
@pytest.mark.parametrize("surrogate, n_seeds", [("poly", 200), ("hgb", 100)])
def test_coverage_otl_circuit_slow(surrogate, n_seeds):
    bench = _load_bench()
    with threadpool_limits(1):
        summary, seconds = bench.study(
            "otl_circuit", "uniform", surrogate, range(n_seeds)
        )
    bench.print_table("otl_circuit", "uniform", surrogate, summary, seconds)  # -s
    failures, known = [], []
    for name, s in summary.items():
        assert s["n_seeds"] == n_seeds
        if not s["verdict"].startswith("ok"):
            message = f"{name}: coverage {s['coverage']:.1%} {s['verdict']}"
            if (surrogate, name) in KNOWN_UNDER_COVERAGE:
                assert s["coverage"] >= 0.85, message
                known.append(message)
            else:
                failures.append(message)
        if name == "exceedance" and not 0.8 < s["se_ratio"] < 1.6:
            failures.append(f"{name}: s.e./sd {s['se_ratio']:.2f}")
        if s["heavy_tail_rate"] >= 0.05:
            failures.append(
                f"{name}: heavy-tail warning on {s['heavy_tail_rate']:.1%} of seeds"
            )
    assert not failures, "; ".join(failures)
    if known:
        pytest.xfail("known under-coverage: " + "; ".join(known))
