"""Checks of the arguments of the trace, diagonal and log-determinant estimators."""

import numbers

import numpy as np

from .._randnla import BlockOperator

__all__ = [
    "ScaledOperator",
    "check_budget",
    "check_probe",
    "check_psd_core",
    "check_symmetric",
]


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


class ScaledOperator(BlockOperator):
    """``A / c`` for a power of two ``c`` fixed by the first product.

    Products of a matrix with entries near the overflow threshold (say
    ``1e300``) are finite, but the squares and norms the estimators form are
    not. The first product sets ``c`` to the power of two nearest to its
    largest entry when that entry is outside ``[2^-300, 2^300]``
    (``c = 1`` otherwise, so that ordinary inputs are untouched), and every
    product, the first included, is divided by ``c``: the estimators see a
    matrix of moderate size and the caller multiplies back (exactly, ``c``
    being a power of two).
    """

    def __init__(self, op):
        super().__init__(op.shape, symmetric=op.symmetric)
        self.op = op
        self.scale = None

    def _rescale(self, Y):
        if self.scale is None:
            top = float(np.max(np.abs(Y), initial=0.0))
            exponent = int(np.round(np.log2(top))) if top > 0 else 0
            self.scale = 2.0**exponent if abs(exponent) > 300 else 1.0
        return Y if self.scale == 1.0 else Y / self.scale

    def _matmat(self, X):
        return self._rescale(self.op._matmat(X))

    def _rmatmat(self, Y):
        return self._rescale(self.op._rmatmat(Y))
