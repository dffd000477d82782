"""Pure indicators from the regional accounts: scopes, value added, volume, productivity, growth.

DataFrames in, DataFrames out (no I/O). See :mod:`regionstats.indicators.scopes` for the industry
scopes, :mod:`~regionstats.indicators.accounts` for value added and productivity,
:mod:`~regionstats.indicators.volume` for chain indices and :mod:`~regionstats.indicators.growth`
for CAGR and the growth decomposition.
"""

from regionstats.indicators.accounts import (
    compensation_share,
    employment,
    productivity,
    value_added,
)
from regionstats.indicators.allocation import (
    GROUPS_13470_TO_11713,
    allocate_by_employment,
    mapping_table,
    municipal_totals,
    municipality_counties,
)
from regionstats.indicators.growth import cagr, growth_decomposition, growth_index
from regionstats.indicators.peripherality import by_centrality_class, peripherality
from regionstats.indicators.scopes import (
    KNOWN_INDUSTRIES,
    SCOPES,
    Scope,
    UnknownIndustryError,
    UnknownScopeError,
    apply_scope,
    list_scopes,
    scope,
)
from regionstats.indicators.volume import (
    chain_index,
    constant_prices,
    scope_volume_change,
    volume_index,
)

__all__ = [
    "GROUPS_13470_TO_11713",
    "allocate_by_employment",
    "by_centrality_class",
    "mapping_table",
    "municipal_totals",
    "municipality_counties",
    "peripherality",
    "KNOWN_INDUSTRIES",
    "SCOPES",
    "Scope",
    "UnknownIndustryError",
    "UnknownScopeError",
    "apply_scope",
    "cagr",
    "chain_index",
    "compensation_share",
    "constant_prices",
    "employment",
    "growth_decomposition",
    "growth_index",
    "productivity",
    "scope",
    "scope_volume_change",
    "list_scopes",
    "value_added",
    "volume_index",
]
