"""The one result type and its intervals; the thread pool's fixed reduction."""

import numpy as np
import pytest
from scipy import stats

from sklearn_debias.utils import (
    EstimateResult,
    _parallel,
    normal_interval,
    threaded_sum,
)


def test_two_sided_interval_is_the_normal_one():
    low, high = EstimateResult(1.0, 0.2).confidence_interval(0.9)
    z = stats.norm.ppf(0.95)
    assert low == pytest.approx(1.0 - 0.2 * z) and high == pytest.approx(1.0 + 0.2 * z)


def test_student_t_and_one_sided_bounds():
    result = EstimateResult(0.0, 1.0, df=4)
    assert result.confidence_interval(0.95).high == pytest.approx(stats.t(4).ppf(0.975))
    upper = result.confidence_interval(0.95, alternative="less")
    assert upper.low == -np.inf and upper.high == pytest.approx(stats.t(4).ppf(0.95))
    lower = EstimateResult(0.0, 1.0).confidence_interval(0.95, alternative="greater")
    assert lower.high == np.inf and lower.low == pytest.approx(-stats.norm.ppf(0.95))


def test_array_estimates_and_unpacking():
    result = EstimateResult(np.zeros(3), np.ones(3))
    estimate, standard_error = result
    low, high = result.confidence_interval()
    assert low.shape == (3,) and np.all(high > 0)


@pytest.mark.parametrize("level", [0, 1, 1.5, "0.9", True])
def test_bad_level(level):
    with pytest.raises(ValueError, match="confidence_level"):
        normal_interval(0.0, 1.0, level)


def test_bad_alternative():
    with pytest.raises(ValueError, match="alternative"):
        normal_interval(0.0, 1.0, alternative="both")


@pytest.mark.parametrize("n_items", [1, 3, 17])
def test_threaded_sum_does_not_depend_on_threads(monkeypatch, n_items):
    rng = np.random.default_rng(0)
    parts = [
        rng.standard_normal(50) * 10.0 ** rng.integers(-8, 8) for _ in range(n_items)
    ]
    results = []
    for threads in (1, 2, 4):
        monkeypatch.setattr(_parallel, "n_threads", lambda t=threads: t)
        (total,) = threaded_sum(lambda i: [parts[i]], n_items)
        results.append(total)
    for total in results[1:]:
        np.testing.assert_array_equal(total, results[0])
    np.testing.assert_allclose(results[0], np.sum(parts, axis=0), rtol=1e-12)
