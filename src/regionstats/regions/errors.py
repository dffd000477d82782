"""Errors and warnings raised by the region modules (harmonisation, counties, centrality)."""

from __future__ import annotations


class RegionError(ValueError):
    """Base class of the region errors."""


class UnknownCodeError(RegionError, KeyError):
    """A region code is not valid in the year of its row (unknown, expired or not yet valid).

    The message names the code, the year and the code's validity period.
    """

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class MissingWeightsError(RegionError):
    """A split needs weights (population, employment or a user frame) and none cover it."""


class DuplicateRegionError(RegionError):
    """Duplicate region identities, in the input or after harmonisation."""


class UnknownEditionError(RegionError):
    """A centrality edition that does not exist; the message lists those that do."""


class CentralityVintageWarning(UserWarning):
    """The centrality edition and the data's municipality vintage differ."""
