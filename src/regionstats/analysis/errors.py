"""Typed errors of the analysis stage (pure)."""

from __future__ import annotations


class InsufficientData(ValueError):
    """The data cannot support the method: too few regions, years, municipalities or cells.

    The message says what was needed and what the data had, so a caller can widen the window,
    pool classes or choose another method instead of getting a silent number.
    """


__all__ = ["InsufficientData"]
