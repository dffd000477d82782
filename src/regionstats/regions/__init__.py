"""Pure region logic: harmonisation across reforms, counties, centrality editions, boundaries.

Nothing here reads a file: the code history, centrality codes and boundaries come as arguments
(from :func:`regionstats.load_inputs` or the data functions of :mod:`regionstats.sources`).
"""

from regionstats.regions.boundaries import dissolve_to
from regionstats.regions.centrality import EDITIONS, attach_centrality, centrality_table
from regionstats.regions.counties import COUNTY_STRUCTURES, parse_region_label
from regionstats.regions.crosswalk import (
    CodeHistory,
    SplitWeights,
    build_crosswalks,
    build_history,
    crosswalk,
    require_history,
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
    "build_crosswalks",
    "build_history",
    "centrality_table",
    "crosswalk",
    "require_history",
    "dissolve_to",
    "harmonise",
    "parse_region_label",
]
