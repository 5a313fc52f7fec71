"""Metadata routing of a meta-estimator's ``fit`` parameters to its surrogate.

One implementation for every estimator that wraps a surrogate: with
scikit-learn's metadata routing enabled, the surrogate receives what it
requested (anything else raises scikit-learn's usual error); disabled (the
default), fit parameters are passed to the surrogate's ``fit`` as they are,
as scikit-learn's legacy meta-estimators do, after checking that it takes
``sample_weight`` when weights are given.
"""

import inspect

from sklearn.pipeline import Pipeline
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    process_routing,
)
from sklearn.utils.validation import has_fit_parameter

from ._compat import _routing_enabled

__all__ = ["surrogate_router", "surrogate_fit_params"]


def surrogate_router(owner, surrogate):
    """The routing of ``owner``: its ``fit`` feeds the surrogate's ``fit``.

    Parameters
    ----------
    owner : estimator
        The meta-estimator.
    surrogate : estimator
        The (unfitted) surrogate it wraps.

    Returns
    -------
    router : sklearn.utils.metadata_routing.MetadataRouter
    """
    return MetadataRouter(owner=owner).add(
        estimator=surrogate,
        method_mapping=MethodMapping().add(caller="fit", callee="fit"),
    )


def surrogate_fit_params(owner, surrogate, fit_params):
    """The parameters of the surrogate's ``fit``.

    Parameters
    ----------
    owner : estimator
        The meta-estimator, whose ``get_metadata_routing`` names the surrogate.
    surrogate : estimator
        The surrogate that will be fitted (cloned) with these parameters.
    fit_params : dict
        The parameters given to ``owner.fit``.

    Returns
    -------
    params : dict
        With routing enabled, the metadata the surrogate requested; otherwise
        ``fit_params`` as they are.

    Raises
    ------
    ValueError
        Without routing, when ``sample_weight`` is given and the surrogate's
        ``fit`` cannot take it; the message names the surrogate and the fix.
    """
    if _routing_enabled():
        return process_routing(owner, "fit", **fit_params).estimator.fit
    if fit_params.get("sample_weight") is not None and not _takes_sample_weight(
        surrogate
    ):
        if isinstance(surrogate, Pipeline):
            hint = (
                "A Pipeline takes fit parameters by step name (for instance "
                "'ridge__sample_weight'); or enable metadata routing "
                "(sklearn.set_config(enable_metadata_routing=True)) and request "
                "the weights from its final step with "
                "set_fit_request(sample_weight=True)."
            )
        else:
            hint = "Use a surrogate whose fit takes sample_weight."
        raise ValueError(
            f"sample_weight was passed to fit, but the surrogate {surrogate!r} "
            f"does not take sample_weight in its fit. {hint}"
        )
    return fit_params


def _takes_sample_weight(estimator):
    if isinstance(estimator, Pipeline):
        return False
    if has_fit_parameter(estimator, "sample_weight"):
        return True
    # Meta-estimators (searches, TransformedTargetRegressor) pass **params on.
    parameters = inspect.signature(estimator.fit).parameters.values()
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)
