"""Every import of a private scikit-learn helper, in one place.

scikit-learn does not promise to keep these names; when one moves, this
module is the only one to change.
"""

from sklearn.base import _fit_context
from sklearn.ensemble._forest import ForestRegressor
from sklearn.model_selection._search import BaseSearchCV
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    Options,
    RealNotInt,
    StrOptions,
    validate_params,
)
from sklearn.utils.metadata_routing import _routing_enabled
from sklearn.utils.validation import _check_method_params, _check_sample_weight

__all__ = [
    "BaseSearchCV",
    "ForestRegressor",
    "HasMethods",
    "Interval",
    "Options",
    "RealNotInt",
    "StrOptions",
    "_check_method_params",
    "_check_sample_weight",
    "_fit_context",
    "_routing_enabled",
    "validate_params",
]
