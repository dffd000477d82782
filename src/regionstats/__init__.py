"""regionstats: value creation and productivity by county and by centrality class (SSB).

Data model (:mod:`regionstats.model`): one row per observation; identity columns hold codes as
strings (``region``: municipality ``"0301"``, county ``"03"``, whole country ``"0"``), ``year`` is
an int, plus the table's own dimensions (``industry``, ``measure``, ...); ``value`` is a float;
``status`` holds SSB's symbols (``:`` suppressed, ``..`` missing, ``.`` not applicable) or is
missing; ``<column>_label`` columns are for display; ``DataFrame.attrs`` carries the source table,
vintage and units.

Stages: :mod:`~regionstats.sources` (all I/O) -> :mod:`~regionstats.regions` (harmonisation,
centrality) -> :mod:`~regionstats.indicators` and :mod:`~regionstats.analysis` (pure) ->
:mod:`~regionstats.figures` -> :mod:`~regionstats.report` / :mod:`~regionstats.cli`.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("regionstats")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0+unknown"

from regionstats.analysis.classes import class_estimates, class_findings  # noqa: E402
from regionstats.analysis.convergence import beta_convergence, sigma_convergence  # noqa: E402
from regionstats.analysis.errors import InsufficientData  # noqa: E402
from regionstats.analysis.nou import nou_check  # noqa: E402
from regionstats.analysis.shiftshare import shift_share  # noqa: E402
from regionstats.indicators import (  # noqa: E402
    SCOPES,
    Scope,
    cagr,
    chain_index,
    compensation_share,
    employment,
    growth_decomposition,
    growth_index,
    productivity,
    scope,
    value_added,
)
from regionstats.indicators.allocation import municipality_counties  # noqa: E402
from regionstats.indicators.peripherality import by_centrality_class, peripherality  # noqa: E402
from regionstats.indicators.scopes import list_scopes  # noqa: E402
from regionstats.model import aggregate, validate_tidy  # noqa: E402
from regionstats.pipeline import ParameterError, UpdateError, UpdateResult, update  # noqa: E402
from regionstats.regions import (  # noqa: E402
    CodeHistory,
    attach_centrality,
    build_crosswalks,
    centrality_table,
    dissolve_to,
    harmonise,
)
from regionstats.regions.accounts_counties import harmonise_accounts  # noqa: E402
from regionstats.revisions import RevisionReport  # noqa: E402
from regionstats.revisions import compare as compare_revisions  # noqa: E402
from regionstats.sources.fetch import CorruptVintage, Fetcher, OfflineDataMissing  # noqa: E402
from regionstats.sources.inputs import (  # noqa: E402
    InputFallbackWarning,
    Inputs,
    InputUnavailable,
    RunParameters,
    boundaries,
    centrality,
    centrality_codes,
    employment_by_workplace,
    load_inputs,
    municipality_history,
    municipality_history_inputs,
    population,
    regional_accounts,
    save_inputs,
    split_weights,
)
from regionstats.sources.jsonstat import (  # noqa: E402
    JsonStatError,
    read_jsonstat,
    read_jsonstat_collection,
)
from regionstats.sources.klass import KlassClient  # noqa: E402
from regionstats.sources.pxwebapi import (  # noqa: E402
    InvalidSelection,
    PxWebApi,
    PxWebApiError,
    RateLimited,
    ServiceUnavailable,
    TableNotFound,
)
from regionstats.sources.ratelimit import RateLimiter  # noqa: E402
from regionstats.sources.store import RawStore, Vintage  # noqa: E402
from regionstats.tables import (  # noqa: E402
    beta_sentence,
    class_table,
    convergence_table,
    inputs_table,
    label_groups,
    regression_sentence,
    regression_table,
    shift_share_sentence,
    sigma_sentence,
    variants_table,
)
from regionstats.tables import styled as table  # noqa: E402

__all__ = [
    "SCOPES",
    "CodeHistory",
    "InputFallbackWarning",
    "InputUnavailable",
    "Inputs",
    "InsufficientData",
    "RunParameters",
    "beta_convergence",
    "by_centrality_class",
    "centrality_codes",
    "centrality_table",
    "class_estimates",
    "class_findings",
    "beta_sentence",
    "class_table",
    "regression_sentence",
    "convergence_table",
    "inputs_table",
    "shift_share_sentence",
    "sigma_sentence",
    "table",
    "label_groups",
    "regression_table",
    "variants_table",
    "dissolve_to",
    "employment_by_workplace",
    "load_inputs",
    "municipality_counties",
    "municipality_history",
    "municipality_history_inputs",
    "nou_check",
    "peripherality",
    "population",
    "save_inputs",
    "shift_share",
    "sigma_convergence",
    "split_weights",
    "CorruptVintage",
    "Fetcher",
    "InvalidSelection",
    "JsonStatError",
    "KlassClient",
    "OfflineDataMissing",
    "ParameterError",
    "PxWebApi",
    "PxWebApiError",
    "RateLimited",
    "RateLimiter",
    "RawStore",
    "RevisionReport",
    "Scope",
    "ServiceUnavailable",
    "TableNotFound",
    "UpdateError",
    "UpdateResult",
    "Vintage",
    "__version__",
    "aggregate",
    "attach_centrality",
    "boundaries",
    "build_crosswalks",
    "cagr",
    "centrality",
    "chain_index",
    "compare_revisions",
    "compensation_share",
    "employment",
    "growth_decomposition",
    "growth_index",
    "harmonise",
    "harmonise_accounts",
    "productivity",
    "read_jsonstat",
    "read_jsonstat_collection",
    "regional_accounts",
    "scope",
    "list_scopes",
    "update",
    "validate_tidy",
    "value_added",
]
