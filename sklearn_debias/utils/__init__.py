"""Shared helpers, one implementation each.

Random streams, checked surrogate calls, the walker through meta-estimators,
result objects, the thread pool and every import of a private scikit-learn
helper. ``utils`` imports no estimator family.
"""

from ._optional import import_extra
from ._parallel import n_threads, prediction_threads, run_blocks, threaded_sum
from ._progress import progress
from ._random import (
    check_generator,
    check_seed_sequence,
    child_int_seed,
    child_seed,
    spawn_generators,
    spawn_seeds,
)
from ._results import (
    BinomialBoundResult,
    ConfidenceInterval,
    EstimateResult,
    check_confidence_level,
    clopper_pearson,
    format_table,
    normal_interval,
)
from ._surrogate import SurrogateError, checked_fit, checked_predict
from ._tensors import is_tensor
from ._unwrap import final_estimator, unwrap_once
from ._validation import check_returned

__all__ = [
    "import_extra",
    "is_tensor",
    "BinomialBoundResult",
    "ConfidenceInterval",
    "EstimateResult",
    "SurrogateError",
    "check_confidence_level",
    "clopper_pearson",
    "check_generator",
    "check_returned",
    "check_seed_sequence",
    "checked_fit",
    "child_int_seed",
    "child_seed",
    "checked_predict",
    "final_estimator",
    "format_table",
    "n_threads",
    "normal_interval",
    "prediction_threads",
    "progress",
    "run_blocks",
    "spawn_generators",
    "spawn_seeds",
    "threaded_sum",
    "unwrap_once",
]
