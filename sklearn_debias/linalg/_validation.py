"""Checks of the arguments of the trace, diagonal and log-determinant estimators."""

import numbers

import numpy as np

__all__ = ["check_budget", "check_probe", "check_psd_core", "check_symmetric"]


def check_symmetric(op, method):
    """Raise a ValueError if ``op`` is known not to be symmetric."""
    if op.symmetric is False:
        raise ValueError(
            f"method {method!r} needs a symmetric positive semi-definite A, but A "
            "is not symmetric"
        )


def check_budget(n_matvecs, minimum, method):
    """Validate a matvec budget against the smallest one a method can use."""
    if isinstance(n_matvecs, bool) or not isinstance(n_matvecs, numbers.Integral):
        raise ValueError(f"n_matvecs must be an integer, got {n_matvecs!r}")
    if n_matvecs < minimum:
        raise ValueError(
            f"method {method!r} needs n_matvecs >= {minimum}, got {n_matvecs}"
        )
    return int(n_matvecs)


def check_probe(probe, default):
    """The probe distribution: ``default`` for ``None``, else checked."""
    probe = default if probe is None else probe
    if probe not in ("gaussian", "rademacher"):
        raise ValueError(f"probe must be 'gaussian' or 'rademacher', got {probe!r}")
    return probe


def check_psd_core(Omega, Y, method):
    """Raise a ValueError if ``Omega.T @ A @ Omega`` shows ``A`` is not PSD.

    A cheap (``k x k``) test that catches indefinite matrices passed to the
    Nyström-based methods, whatever form ``A`` takes.
    """
    core = Omega.T @ Y
    scale = np.max(np.abs(core), initial=0.0)
    if np.max(np.abs(core - core.T), initial=0.0) > 1e-6 * max(scale, 1e-300):
        raise ValueError(
            f"method {method!r} needs a symmetric positive semi-definite A, but "
            "the products show that A is not symmetric"
        )
    w = np.linalg.eigvalsh(0.5 * (core + core.T))
    if w.size and w[0] < -1e-6 * max(abs(w[-1]), 1e-300):
        raise ValueError(
            f"method {method!r} needs a symmetric positive semi-definite A, but "
            f"the products show a negative curvature ({w[0]:.3g})"
        )
