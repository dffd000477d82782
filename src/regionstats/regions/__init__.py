"""Pure region logic: harmonisation across reforms, counties, centrality editions, boundaries."""

from regionstats.regions.boundaries import boundaries, dissolve_to
from regionstats.regions.centrality import EDITIONS, attach_centrality, centrality
from regionstats.regions.counties import COUNTY_STRUCTURES, parse_region_label
from regionstats.regions.crosswalk import (
    CodeHistory,
    SplitWeights,
    build_crosswalks,
    build_history,
    crosswalk,
    default_history,
)
from regionstats.regions.errors import (
    CentralityVintageWarning,
    DuplicateRegionError,
    MissingWeightsError,
    RegionError,
    UnknownCodeError,
    UnknownEditionError,
)
from regionstats.regions.harmonise import harmonise

__all__ = [
    "COUNTY_STRUCTURES",
    "EDITIONS",
    "CentralityVintageWarning",
    "CodeHistory",
    "DuplicateRegionError",
    "MissingWeightsError",
    "RegionError",
    "SplitWeights",
    "UnknownCodeError",
    "UnknownEditionError",
    "attach_centrality",
    "boundaries",
    "build_crosswalks",
    "build_history",
    "centrality",
    "crosswalk",
    "default_history",
    "dissolve_to",
    "harmonise",
    "parse_region_label",
]
