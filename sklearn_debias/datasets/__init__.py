"""Test functions with known answers, for tests, benchmarks and examples."""

from ._genz import GENZ_FAMILIES, GenzFunction

__all__ = ["GENZ_FAMILIES", "GenzFunction"]
