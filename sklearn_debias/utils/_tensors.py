"""Recognise torch tensors without importing torch (an optional extra)."""

__all__ = ["is_tensor"]


def is_tensor(x):
    """True for a torch tensor; never imports torch.

    Parameters
    ----------
    x : object
        Anything.

    Returns
    -------
    bool

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_debias.utils import is_tensor
    >>> is_tensor(np.zeros(2))
    False
    """
    return type(x).__module__.split(".")[0] == "torch"
