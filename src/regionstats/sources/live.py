"""Live readers: employment, population and KLASS inputs from the APIs, in the snapshot shapes.

Each function returns **the same frame shape as the offline reader** of the same input, so the
seam (:mod:`regionstats.sources.inputs`) can put it first in its source order (live API ->
newest stored vintage -> snapshot -> embedded default):

=====================================  ===================================================
live reader                            shape of
=====================================  ===================================================
:func:`employment_from_api`            :func:`.employment_files.read_13470_csv`
:func:`population_from_api`            :func:`.regions_files.read_population_2024_boundaries`
:func:`centrality_codes_from_klass`    :func:`.regions_files.read_centrality_codes`
:func:`history_inputs_from_klass`      :func:`.regions_files.offline_history_inputs`
:func:`county_history_from_klass`      the same, for KLASS 104 (counties)
=====================================  ===================================================

Statbank tables (13470, 07984, 07459) come through a :class:`~regionstats.sources.fetch.Fetcher`
with **symbolic queries** (``@geo``, ``@industry``, ``@metric``, ``@time``; every other dimension
eliminated, i.e. summed by the API): the dimension ids are read from the table's metadata only
when data are fetched, and the vintage is stored under the symbolic query, so an offline
fetcher (``REGIONSTATS_OFFLINE=1``) serves the newest stored vintage of the same query. Years
and contents are selected with ``"*"`` and filtered here, so the stored query does not depend on
``first_year``.

KLASS bodies are stored byte for byte as raw vintages (:class:`~regionstats.sources.store.RawStore`,
source ``"klass"``, table ids such as ``"131-changes"``, ``"131-codesAt"``, ``"128-codes"``,
``"131-corresponds-128"``, ``"128-classification"``); a body identical to the newest stored one
of the same query is not stored again. With ``offline=True`` (default: the client's offline
setting, else ``REGIONSTATS_OFFLINE``) the newest valid stored vintage covering the request is
read instead, and :class:`~regionstats.sources.fetch.OfflineDataMissing` is raised when none is.

Every frame carries ``attrs["provenance"]``: ``source`` (``"api"`` when the call went to the
network, ``"raw store"`` when served from a stored vintage offline), ``location`` (URL(s)),
``vintage`` (the table's ``updated`` / KLASS ``lastModified`` for ``"api"``, the stored vintage
id(s) for ``"raw store"``), ``sha256`` (of the raw bodies read, joined in order) and ``as_of``
(ISO date they were fetched).

Facts about the tables (API-NOTES §3; the metadata is checked at run time, never assumed):
13470 is employed persons by place of work (*arbeidssted*), 4th quarter, from 2015 (a-ordningen);
07984 is described by some sources as by residence (*bosted*): a table whose contents are not by
workplace is refused (:class:`NotByWorkplace`). The join of the two is a series break (register
change in 2015 and a different industry grouping), recorded in ``attrs["breaks"]`` and in the
``source_table`` column.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson
import pandas as pd

from regionstats import config
from regionstats.model import aggregate
from regionstats.sources.employment_files import INDUSTRY_LABELS_13470
from regionstats.sources.fetch import OfflineDataMissing, resolve_dimension
from regionstats.sources.http import SourceError
from regionstats.sources.store import CorruptVintage, CorruptVintageWarning, RawStore, Vintage

__all__ = [
    "CENTRALITY_FIRST_EDITION",
    "EARLIER_EMPLOYMENT_TABLES",
    "EMPLOYMENT_QUERY",
    "POPULATION_QUERY",
    "CoverageWarning",
    "NotByWorkplace",
    "available_editions",
    "centrality_codes_from_klass",
    "county_history_from_klass",
    "employment_from_api",
    "history_inputs_from_klass",
    "population_from_api",
]

TABLE_13470 = "13470"
TABLE_07459 = "07459"

#: Tables tried, in order, for the years 13470 does not cover (checked against their metadata).
EARLIER_EMPLOYMENT_TABLES: tuple[str, ...] = ("07984",)

#: Symbolic queries (every other dimension eliminated); years and contents filtered here.
EMPLOYMENT_QUERY: dict[str, str] = {"@geo": "*", "@industry": "*", "@metric": "*", "@time": "*"}
POPULATION_QUERY: dict[str, str] = {"@geo": "*", "@metric": "*", "@time": "*"}

#: The six-class centrality index starts with the 2018 edition (KLASS 128 versions before it,
#: if any, are the older four-class standard and are never offered).
CENTRALITY_FIRST_EDITION = 2018

KLASS_SOURCE = "klass"

_PREFIX = re.compile(r"^K[-.]")
_MUNICIPALITY = re.compile(r"^\d{4}$")
_WORKPLACE = re.compile(r"arbeidssted", re.IGNORECASE)
_RESIDENCE = re.compile(r"\bbo(?:sted|stad)|\bbustad", re.IGNORECASE)
_TOTAL_LABELS = {"alle næringer", "i alt", "total", "totalt", "næringer i alt"}


class NotByWorkplace(SourceError, ValueError):
    """A table offered as employment by place of work (*arbeidssted*) is not: its contents
    (statistikkvariabel) labels do not say so (or say *bosted*, by residence)."""


class CoverageWarning(UserWarning):
    """A live reader could not cover every year asked for (the frame's ``attrs`` say which)."""


# ---------------------------------------------------------------------------------------------
# helpers: decoded statbank frames
# ---------------------------------------------------------------------------------------------


def _pseudo_metadata(decoded: pd.DataFrame) -> dict[str, Any]:
    """A metadata-like document from a decoded frame's attrs (for :func:`resolve_dimension`)."""
    labels = dict(decoded.attrs.get("dimension_labels") or {})
    ext = decoded.attrs.get("extension") or {}
    px = ext.get("px") if isinstance(ext, Mapping) else None
    return {
        "id": list(labels),
        "dimension": {d: {"label": lab} for d, lab in labels.items()},
        "role": dict(decoded.attrs.get("role") or {}),
        "label": decoded.attrs.get("label"),
        "extension": {"px": dict(px)} if isinstance(px, Mapping) else {},
    }


def _dimension(decoded: pd.DataFrame, key: str, table_id: str) -> str:
    dim = resolve_dimension(key, _pseudo_metadata(decoded), table_id=table_id)
    if dim not in decoded.columns:
        raise SourceError(f"table {table_id}: decoded data lack dimension {dim} ({key})")
    return dim


def _check_only(decoded: pd.DataFrame, dims: Iterable[str], table_id: str) -> None:
    extra = [d for d in (decoded.attrs.get("dimension_labels") or {}) if d not in set(dims)]
    if extra:
        raise SourceError(
            f"table {table_id}: the data still have dimension(s) {extra} that should have been "
            "eliminated (summed) by the API"
        )


def _strip_region(codes: pd.Series) -> pd.Series:
    return codes.astype("str").str.strip().str.replace(_PREFIX, "", regex=True)


def _years(codes: pd.Series, table_id: str) -> pd.Series:
    """Year of each time code: ``"2015"`` -> 2015; quarterly codes keep the 4th quarter only
    (others -> ``-1``, dropped by the caller)."""
    text = codes.astype("str").str.strip()
    plain = text.str.fullmatch(r"\d{4}")
    if plain.all():
        return text.astype("int64")
    quarter4 = text.str.fullmatch(r"\d{4}[KQ]4")
    if not (plain | text.str.fullmatch(r"\d{4}[KQ][1-4]")).all():
        odd = text[~(plain | text.str.fullmatch(r"\d{4}[KQ][1-4]"))].iloc[0]
        raise SourceError(f"table {table_id}: time code {odd!r} is neither a year nor a quarter")
    return text.str[:4].astype("int64").where(plain | quarter4, -1)


def _stores_of(fetcher: Any) -> list[RawStore]:
    stores = [fetcher.store]
    if getattr(fetcher, "snapshot", None) is not None:
        stores.append(fetcher.snapshot)
    return stores


def _bodies_of(fetcher: Any, decoded: pd.DataFrame, table_id: str) -> list[bytes]:
    """The raw bodies of the vintage a decoded frame came from (verified by the store)."""
    wanted = decoded.attrs.get("vintage")
    for store in _stores_of(fetcher):
        for vintage in store.vintages(table_id, source=getattr(fetcher, "source", None)):
            if vintage.vintage_id == wanted:
                return store.read_bytes(vintage)
    raise SourceError(f"table {table_id}: stored vintage {wanted!r} not found for its checksum")


def _fetched_provenance(fetcher: Any, parts: Sequence[tuple[str, pd.DataFrame]]) -> dict[str, Any]:
    offline = bool(getattr(fetcher, "offline", False))
    bodies: list[bytes] = []
    for table_id, decoded in parts:
        bodies.extend(_bodies_of(fetcher, decoded, table_id))
    fetched = [str(d.attrs.get("fetched_at") or "") for _, d in parts]
    if offline:
        vintage = "; ".join(f"{t}: {d.attrs.get('vintage')}" for t, d in parts)
    else:
        vintage = "; ".join(f"{t}: {d.attrs.get('updated')}" for t, d in parts)
    return {
        "source": "raw store" if offline else "api",
        "location": "; ".join(str(d.attrs.get("source") or "") for _, d in parts),
        "vintage": vintage,
        "sha256": hashlib.sha256(b"".join(bodies)).hexdigest(),
        "as_of": max(fetched)[:10] if any(fetched) else None,
    }


# ---------------------------------------------------------------------------------------------
# employment by place of work (13470, earlier table)
# ---------------------------------------------------------------------------------------------


def _contents_by_workplace(codes_labels: Mapping[str, str], table_label: str, table_id: str) -> str:
    """The one contents code counting employed persons by place of work, or raise."""
    hits = [
        c
        for c, lab in codes_labels.items()
        if _WORKPLACE.search(lab or "") and not _RESIDENCE.search(lab or "")
    ]
    if not hits and len(codes_labels) == 1:
        (code, label), *_ = codes_labels.items()
        if _WORKPLACE.search(table_label or "") and not _RESIDENCE.search(label or ""):
            hits = [code]
    if len(hits) == 1:
        return hits[0]
    shown = "; ".join(f"{c} {lab!r}" for c, lab in codes_labels.items())
    if not hits:
        raise NotByWorkplace(
            f"table {table_id} ({table_label!r}) is not employment by place of work "
            f"(arbeidssted): its contents are {shown}; refusing to use it as such"
        )
    raise NotByWorkplace(
        f"table {table_id}: several contents look like employment by place of work ({shown}); "
        "cannot tell which to use"
    )


def _metadata_check(client: Any, table_id: str) -> tuple[str, list[int], list[str]]:
    """From a table's metadata: its workplace contents code, its years and industry codes."""
    meta = client.metadata(table_id)
    metric = resolve_dimension("@metric", meta, table_id=table_id)
    time = resolve_dimension("@time", meta, table_id=table_id)
    industry = resolve_dimension("@industry", meta, table_id=table_id)
    dims = meta.get("dimension") or {}

    def labels(dim: str) -> dict[str, str]:
        cat = (dims.get(dim) or {}).get("category") or {}
        index = cat.get("index") or {}
        names = cat.get("label") or {}
        codes = (
            [c for c, _ in sorted(index.items(), key=lambda kv: kv[1])]
            if isinstance(index, Mapping)
            else list(index or names)
        )
        return {str(c): str(names.get(c, c)) for c in codes}

    contents = _contents_by_workplace(labels(metric), str(meta.get("label") or ""), table_id)
    years = sorted({int(y) for y in _years(pd.Series(list(labels(time))), table_id) if int(y) > 0})
    return contents, years, list(labels(industry))


def _industry_codes(codes: pd.Series, labels: pd.Series) -> pd.Series:
    clean = labels.astype("str").str.lstrip("¬").str.strip()
    mapped = clean.map(INDUSTRY_LABELS_13470)
    total = clean.str.lower().isin(_TOTAL_LABELS) | codes.astype("str").isin(["00-99", "TOTAL"])
    out = mapped.where(mapped.notna(), codes.astype("str").str.strip())
    return out.where(~total, "TOTAL").astype("str")


def _employment_part(decoded: pd.DataFrame, table_id: str) -> pd.DataFrame:
    """One table's decoded data -> tidy rows (all years; municipalities only)."""
    geo = _dimension(decoded, "@geo", table_id)
    industry = _dimension(decoded, "@industry", table_id)
    metric = _dimension(decoded, "@metric", table_id)
    time = _dimension(decoded, "@time", table_id)
    _check_only(decoded, (geo, industry, metric, time), table_id)
    contents_labels = dict(
        zip(decoded[metric].astype("str"), decoded[f"{metric}_label"].astype("str"), strict=True)
    )
    contents = _contents_by_workplace(
        contents_labels, str(decoded.attrs.get("label") or ""), table_id
    )
    rows = decoded[decoded[metric].astype("str") == contents]
    region = _strip_region(rows[geo])
    frame = pd.DataFrame(
        {
            "region": region.to_numpy(),
            "industry": _industry_codes(rows[industry], rows[f"{industry}_label"]).to_numpy(),
            "year": _years(rows[time], table_id).to_numpy(),
            "value": rows["value"].astype("float64").to_numpy(),
            "status": rows["status"].astype("string").to_numpy(),
            "region_label": rows[f"{geo}_label"].astype("str").to_numpy(),
            "industry_label": rows[f"{industry}_label"].astype("str").str.strip().to_numpy(),
        }
    )
    keep = frame["region"].str.fullmatch(_MUNICIPALITY) & (frame["region"] != "9999")
    frame = frame[keep.to_numpy(dtype=bool) & (frame["year"] > 0).to_numpy()]
    frame = frame.reset_index(drop=True)
    frame["source_table"] = table_id
    dup = frame.duplicated(["region", "industry", "year"])
    if dup.any():
        raise SourceError(
            f"table {table_id}: duplicate cells after stripping K-/K. prefixes, e.g. "
            f"{frame.loc[dup].iloc[0][['region', 'industry', 'year']].to_dict()}"
        )
    frame.attrs["contents"] = {contents: contents_labels[contents]}
    frame.attrs["title"] = decoded.attrs.get("label")
    return frame


def _with_totals(frame: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Add ``TOTAL`` rows (sum over the groups, symbols propagated) unless published."""
    if (frame["industry"] == "TOTAL").any():
        return frame, "published by the table"
    keys = ["source_table", "region", "year"]
    totals = aggregate(frame, keys)
    labels = frame.drop_duplicates(keys)[[*keys, "region_label"]]
    totals = totals.merge(labels, on=keys, how="left", validate="one_to_one")
    totals["industry"] = "TOTAL"
    totals["industry_label"] = "Alle næringer (sum of the groups)"
    out = pd.concat([frame, totals[frame.columns]], ignore_index=True)
    return out, "summed by regionstats over the table's industry groups (symbols propagated)"


def employment_from_api(
    fetcher: Any,
    *,
    first_year: int = 2008,
    earlier_tables: Sequence[str] = EARLIER_EMPLOYMENT_TABLES,
) -> pd.DataFrame:
    """Employed persons by place of work x industry group x municipality x year, every
    municipality, from 13470 (4th quarter, 2015-) and an earlier table for the years before.

    Parameters
    ----------
    fetcher : Fetcher
        :class:`~regionstats.sources.fetch.Fetcher`; offline it serves stored vintages.
    first_year : int
        First year kept (the queries fetch every year and are filtered here).
    earlier_tables : sequence of str
        Tables tried, in order, for the years 13470 does not cover. Online their metadata is
        read first: a table whose contents are not by workplace is refused, one that covers none
        of the missing years is not fetched. Offline a table with no stored vintage is skipped
        with a :class:`CoverageWarning`.

    Returns
    -------
    DataFrame
        ``region`` (4-digit municipality code of each year: country, counties, ``9999`` and
        other aggregates dropped, ``K-``/``K.`` prefixes stripped), ``industry`` (group code as
        13470 names it, ``"00"`` unknown, ``"TOTAL"`` all industries), ``year`` (int),
        ``value`` (persons), ``status``, ``region_label``, ``industry_label`` and
        ``source_table``. ``attrs``: ``table`` (``"13470"``), ``tables`` (those used),
        ``units``, ``region_vintage=None`` (each year's own codes), ``breaks`` (the join:
        years, tables, whether the grouping changed), ``industry_total`` (how ``TOTAL`` was
        made), ``provenance``.

    Raises
    ------
    NotByWorkplace
        13470 (or an earlier table needed for the years asked) is not by workplace.
    OfflineDataMissing
        Offline and 13470 was never stored.
    """
    first_year = int(first_year)
    covered: dict[str, list[int]] = {}
    skipped: dict[str, str] = {}
    plans: list[str] = [TABLE_13470]
    offline = bool(getattr(fetcher, "offline", False))
    if not offline:
        _, primary_years, _ = _metadata_check(fetcher.client, TABLE_13470)
        missing = {y for y in range(first_year, min(primary_years, default=first_year))}
        for table_id in earlier_tables:
            if not missing:
                break
            _, years, _ = _metadata_check(fetcher.client, table_id)  # raises NotByWorkplace
            if missing & set(years):
                plans.append(table_id)
                missing -= set(years)
            else:
                span = f"{years[0]}-{years[-1]}" if years else "none"
                skipped[table_id] = f"its years ({span}) cover none of the missing ones"
    else:
        plans.extend(earlier_tables)

    parts: list[pd.DataFrame] = []
    fetched: list[tuple[str, pd.DataFrame]] = []
    taken: set[int] = set()
    for i, table_id in enumerate(plans):
        if i > 0 and (not taken or first_year >= min(taken)):
            skipped.setdefault(table_id, "not needed for the years asked")
            continue
        try:
            decoded = fetcher.fetch(table_id, EMPLOYMENT_QUERY)
        except OfflineDataMissing as exc:
            if i == 0:
                raise
            skipped[table_id] = f"offline and not stored ({exc})"
            continue
        part = _employment_part(decoded, table_id)
        part = part[(part["year"] >= first_year) & ~part["year"].isin(sorted(taken))]
        years = sorted(int(y) for y in part["year"].unique())
        if i > 0 and not years:
            skipped[table_id] = "covers none of the missing years"
            continue
        covered[table_id] = years
        taken |= set(years)
        parts.append(part)
        fetched.append((table_id, decoded))
    frame = pd.concat(parts, ignore_index=True)
    frame, total_how = _with_totals(frame)
    frame["status"] = frame["status"].astype("string")
    for col in ("region", "industry", "region_label", "industry_label", "source_table"):
        frame[col] = frame[col].astype("str")
    frame["year"] = frame["year"].astype("int64")
    frame = frame.sort_values(["region", "industry", "year"], ignore_index=True)

    breaks = []
    for (before, ybefore), (after, yafter) in zip(
        list(covered.items())[1:], list(covered.items())[:-1], strict=True
    ):
        groups_before = set(parts[list(covered).index(before)]["industry"]) - {"TOTAL"}
        groups_after = set(parts[list(covered).index(after)]["industry"]) - {"TOTAL"}
        breaks.append(
            {
                "year": min(yafter),
                "from_table": before,
                "to_table": after,
                "years_from_table": ybefore,
                "years_to_table": yafter,
                "grouping_changed": groups_before != groups_after,
                "industries_only_before": sorted(groups_before - groups_after),
                "industries_only_after": sorted(groups_after - groups_before),
                "note": (
                    f"series break: {before} for {min(ybefore)}-{max(ybefore)}, {after} from "
                    f"{min(yafter)} (different register basis"
                    + (" and industry grouping" if groups_before != groups_after else "")
                    + "); compare TOTAL across the break, groups only within one table"
                ),
            }
        )
    wanted_first = min(taken) if taken else None
    if wanted_first is not None and wanted_first > first_year:
        msg = (
            f"employment by workplace covers {wanted_first}- only (asked from {first_year}); "
            f"earlier tables: {skipped or 'none tried'}"
        )
        warnings.warn(msg, CoverageWarning, stacklevel=2)
    frame.attrs = {
        "table": TABLE_13470,
        "tables": list(covered),
        "source": "; ".join(str(d.attrs.get("source") or "") for _, d in fetched),
        "measure": "employed persons by place of work (4th quarter)",
        "units": "persons",
        "region_vintage": None,
        "years_by_table": covered,
        "skipped_tables": skipped,
        "breaks": breaks,
        "industry_total": total_how,
        "contents": {t: p.attrs.get("contents") for t, p in zip(covered, parts, strict=True)},
        "coverage": "every municipality of each year (its own codes)",
        "provenance": _fetched_provenance(fetcher, fetched),
    }
    return frame


# ---------------------------------------------------------------------------------------------
# population (07459)
# ---------------------------------------------------------------------------------------------


def population_from_api(fetcher: Any, *, first_year: int = 1986) -> pd.DataFrame:
    """Population on 1 January per municipality and year from 07459, as published each year.

    Sexes and ages are eliminated (summed by the API); municipality codes are each year's own
    (not harmonised; no third-party file). Country, counties and ``9999`` are dropped, ``K-``
    prefixes stripped. A 0 with no symbol is not data (a municipality does not have 0
    inhabitants; SSB shows 0 for codes not in use that year) and becomes NaN with status ``".."``;
    other symbols (``"."``, ``":"``) are kept.

    Returns
    -------
    DataFrame
        ``region``, ``year``, ``value``, ``status``, ``region_label``, as
        :func:`regionstats.sources.regions_files.read_population_2024_boundaries`, with
        ``attrs["region_vintage"] = None``, ``attrs["zeros_not_data"]`` (cells turned to NaN,
        also described in ``attrs["notes"]``) and ``attrs["provenance"]``.
    """
    decoded = fetcher.fetch(TABLE_07459, POPULATION_QUERY)
    geo = _dimension(decoded, "@geo", TABLE_07459)
    metric = _dimension(decoded, "@metric", TABLE_07459)
    time = _dimension(decoded, "@time", TABLE_07459)
    _check_only(decoded, (geo, metric, time), TABLE_07459)
    contents = sorted(set(decoded[metric].astype("str")))
    if len(contents) > 1:
        if "Personer1" not in contents:
            raise SourceError(
                f"table {TABLE_07459}: several contents {contents} and no 'Personer1' (persons)"
            )
        decoded = decoded[decoded[metric].astype("str") == "Personer1"]
    frame = pd.DataFrame(
        {
            "region": _strip_region(decoded[geo]).to_numpy(),
            "year": _years(decoded[time], TABLE_07459).to_numpy(),
            "value": decoded["value"].astype("float64").to_numpy(),
            "status": decoded["status"].astype("string").to_numpy(),
            "region_label": decoded[f"{geo}_label"].astype("str").to_numpy(),
        }
    )
    keep = frame["region"].str.fullmatch(_MUNICIPALITY) & (frame["region"] != "9999")
    frame = frame[keep.to_numpy(dtype=bool) & (frame["year"] >= int(first_year)).to_numpy()]
    frame = frame.reset_index(drop=True)
    zero = (frame["value"] == 0) & frame["status"].isna()
    frame.loc[zero, "value"] = float("nan")
    frame.loc[zero, "status"] = ".."
    frame["status"] = frame["status"].astype("string")
    frame["region"] = frame["region"].astype("str")
    frame["region_label"] = frame["region_label"].astype("str")
    frame["year"] = frame["year"].astype("int64")
    if frame.duplicated(["region", "year"]).any():
        raise SourceError(f"table {TABLE_07459}: duplicate (region, year) after stripping K-")
    frame = frame.sort_values(["region", "year"], ignore_index=True)
    frame.attrs.update(
        {
            "table": TABLE_07459,
            "source": decoded.attrs.get("source"),
            "measure": "population 1 January",
            "units": {"population": "persons"},
            "region_vintage": None,
            "zeros_not_data": int(zero.sum()),
            "notes": (
                [
                    f"{int(zero.sum())} cells of population 0 (codes not in use that year) were "
                    "set to missing (NaN, status '..'): a population of 0 is never data for a "
                    "Norwegian municipality"
                ]
                if zero.any()
                else []
            ),
            "provenance": _fetched_provenance(fetcher, [(TABLE_07459, decoded)]),
        }
    )
    return frame


# ---------------------------------------------------------------------------------------------
# KLASS: raw bodies through the store
# ---------------------------------------------------------------------------------------------


def _is_offline(client: Any, offline: bool | None) -> bool:
    if offline is not None:
        return bool(offline)
    if client is not None and hasattr(client, "offline"):
        return bool(client.offline)
    return config.offline()


class _Klass:
    """KLASS bodies: from the API (stored as raw vintages) or, offline, from the store."""

    def __init__(self, client: Any, store: RawStore | None, offline: bool | None) -> None:
        self.offline = _is_offline(client, offline)
        if not self.offline and client is None:
            raise ValueError("a KlassClient is needed online (or pass offline=True)")
        self.client = client
        self.store = store if store is not None else RawStore()
        self.used: list[tuple[str, list[bytes], str, str]] = []  # (url, bodies, vintage, date)

    def _newest(self, table_id: str, accept: Any) -> tuple[Vintage, list[bytes]] | None:
        for vintage in reversed(self.store.vintages(table_id, source=KLASS_SOURCE)):
            if not accept(vintage.query.get("selection") or {}):
                continue
            try:
                return vintage, self.store.read_bytes(vintage)
            except CorruptVintage as exc:
                warnings.warn(f"skipped: {exc}", CorruptVintageWarning, stacklevel=3)
        return None

    def get(
        self,
        table_id: str,
        requests: Sequence[tuple[str, Mapping[str, str]]],
        selection: Mapping[str, list[str]],
        *,
        accept: Any = None,
        updated: str | None = None,
    ) -> tuple[list[Any], dict[str, list[str]]]:
        """Parsed bodies of ``requests`` (endpoint, params) and the selection they answer.

        Offline: the newest valid vintage of ``table_id`` whose stored selection ``accept``
        takes (default: exactly ``selection``).
        """
        if accept is None:

            def accept(sel: Mapping[str, Any]) -> bool:
                return {k: list(v) for k, v in sel.items()} == dict(selection)

        if self.offline:
            found = self._newest(table_id, accept)
            if found is None:
                raise OfflineDataMissing(
                    table_id, {"selection": dict(selection), "codelists": {}}, [self.store.root]
                )
            vintage, bodies = found
            self.used.append((vintage.url, bodies, vintage.vintage_id, vintage.fetched_at[:10]))
            stored = {k: list(v) for k, v in (vintage.query.get("selection") or {}).items()}
            return [orjson.loads(b) for b in bodies], stored
        bodies = [self.client.get_bytes(endpoint, params) for endpoint, params in requests]
        urls = [self.client.url(endpoint, params) for endpoint, params in requests]
        url = urls[0] if len(urls) == 1 else f"{urls[0]} (+{len(urls) - 1} more)"
        latest = self.store.latest(table_id, {"selection": dict(selection)}, source=KLASS_SOURCE)
        same = latest is not None and [f["sha256"] for f in latest.meta["files"]] == [
            hashlib.sha256(b).hexdigest() for b in bodies
        ]
        if not same:
            self.store.write(
                table_id,
                bodies,
                selection=selection,
                updated=updated,
                url=url,
                base_url=self.client.base_url,
                source=KLASS_SOURCE,
            )
        self.used.append((url, bodies, updated or "", dt.date.today().isoformat()))
        return [orjson.loads(b) for b in bodies], dict(selection)

    def provenance(self, start: int = 0) -> dict[str, Any]:
        used = self.used[start:]
        return {
            "source": "raw store" if self.offline else "api",
            "location": "; ".join(u for u, _, _, _ in used),
            "vintage": "; ".join(v for _, _, v, _ in used if v) or None,
            "sha256": hashlib.sha256(b"".join(b"".join(b) for _, b, _, _ in used)).hexdigest(),
            "as_of": max(d for _, _, _, d in used) if used else None,
        }


def _classification(klass: _Klass, cid: str) -> dict[str, Any]:
    docs, _ = klass.get(f"{cid}-classification", [(f"classifications/{cid}", {})], {})
    return dict(docs[0])


def _first(selection: Mapping[str, Any], key: str) -> str | None:
    values = list(selection.get(key) or [])
    return str(values[0]) if values else None


def _codes_rows(doc: Mapping[str, Any], what: str) -> list[Mapping[str, Any]]:
    if not isinstance(doc, Mapping) or "codes" not in doc:
        raise SourceError(f"KLASS {what}: the answer lacks 'codes'")
    return list(doc["codes"])


def _text(value: object) -> str:
    return "" if value is None else str(value)


# ---------------------------------------------------------------------------------------------
# KLASS 128: centrality
# ---------------------------------------------------------------------------------------------


def _editions(doc: Mapping[str, Any]) -> dict[int, tuple[str, str | None]]:
    """``edition year -> (validFrom, validTo)`` of the six-class versions (2018 on)."""
    out: dict[int, tuple[str, str | None]] = {}
    for version in doc.get("versions") or []:
        start = version.get("validFrom")
        if not start:
            continue
        year = int(str(start)[:4])
        if year >= CENTRALITY_FIRST_EDITION:
            out[year] = (str(start)[:10], version.get("validTo") and str(version["validTo"])[:10])
    return dict(sorted(out.items()))


def available_editions(
    client: Any, *, store: RawStore | None = None, offline: bool | None = None
) -> list[int]:
    """The KLASS 128 editions (``validFrom`` years of its versions, 2018 on) KLASS lists.

    >>> available_editions(None, offline=True)  # doctest: +SKIP
    [2018, 2020, 2024]
    """
    klass = _Klass(client, store, offline)
    return list(_editions(_classification(klass, "128")))


def centrality_codes_from_klass(
    client: Any,
    edition: int,
    *,
    store: RawStore | None = None,
    offline: bool | None = None,
) -> pd.DataFrame:
    """KLASS 128 (*sentralitet*) codes of one edition, shaped like the snapshot's export.

    The edition's version (``validFrom`` year = ``edition``) gives the date range
    ``[validFrom, validTo)``; ``classifications/128/codes`` over it gives the six classes (level
    1) and, where KLASS serves them, the municipalities (level 2: ``parentCode`` = class,
    ``notes`` = index 0-1000). When KLASS serves no level 2 rows, the municipality mapping is
    built from the 131 -> 128 correspondence over the same range (``notes`` then empty: the
    correspondence carries no index).

    Parameters
    ----------
    client : KlassClient or None
        None only offline.
    edition : int
        2018, 2020, 2024 or any later edition in ``classification(128)["versions"]``.
    store, offline
        Raw store (default ``RawStore()``) and offline mode (see the module docstring).

    Returns
    -------
    DataFrame
        ``code``, ``parentCode``, ``level``, ``name``, ``notes`` (all strings, ``""`` for none),
        sorted by code. ``attrs``: ``edition``, ``valid_from``, ``valid_to``,
        ``municipality_level`` (``"codes"`` or ``"correspondence 131->128"``), ``source``,
        ``provenance``.

    Raises
    ------
    LookupError
        The edition is not a version KLASS lists (the message lists those it does).
    """
    from regionstats.regions.errors import UnknownEditionError

    klass = _Klass(client, store, offline)
    doc = _classification(klass, "128")
    editions = _editions(doc)
    updated = None if klass.offline else doc.get("lastModified")
    edition = int(edition)
    if edition not in editions:
        raise UnknownEditionError(
            f"centrality edition {edition} is not a KLASS 128 version; KLASS lists {list(editions)}"
        )
    start, end = editions[edition]
    start_used = len(klass.used)
    params = {"from": start} | ({"to": end} if end else {})
    selection = {k: [v] for k, v in params.items()}
    docs, _ = klass.get(
        "128-codes", [("classifications/128/codes", params)], selection, updated=updated
    )
    rows = _codes_rows(docs[0], f"128 codes {params}")
    level1 = [r for r in rows if _text(r.get("level")) == "1"]
    level2 = [r for r in rows if _text(r.get("level")) == "2"]
    records = [
        {
            "code": _text(r.get("code")),
            "parentCode": _text(r.get("parentCode")),
            "level": "1",
            "name": _text(r.get("name")),
            "notes": _text(r.get("notes")),
        }
        for r in level1
    ]
    how = "codes"
    if level2:
        records += [
            {
                "code": _text(r.get("code")),
                "parentCode": _text(r.get("parentCode")),
                "level": "2",
                "name": _text(r.get("name")),
                "notes": _text(r.get("notes")).strip(),
            }
            for r in level2
        ]
    else:
        how = "correspondence 131->128"
        corr_params = {"targetClassificationId": "128", **params}
        docs, _ = klass.get(
            "131-corresponds-128",
            [("classifications/131/corresponds", corr_params)],
            {k: [v] for k, v in corr_params.items()},
            updated=updated,
        )
        items = docs[0].get("correspondenceItems") if isinstance(docs[0], Mapping) else None
        if items is None:
            raise SourceError("KLASS 131 -> 128 correspondence: the answer lacks items")
        seen: dict[str, str] = {}
        for item in items:
            code, target = _text(item.get("sourceCode")), _text(item.get("targetCode"))
            target = target.zfill(2) if target.isdigit() else target
            if code in seen:
                if seen[code] != target:
                    raise SourceError(
                        f"KLASS 131 -> 128 {params}: municipality {code} has two classes "
                        f"({seen[code]}, {target}) within edition {edition}"
                    )
                continue
            seen[code] = target
            records.append(
                {
                    "code": code,
                    "parentCode": target,
                    "level": "2",
                    "name": _text(item.get("sourceName")),
                    "notes": "",
                }
            )
    if not records:
        raise SourceError(f"KLASS 128 edition {edition}: no codes served")
    frame = pd.DataFrame(records, columns=["code", "parentCode", "level", "name", "notes"])
    frame = frame.astype("str").sort_values(["code", "level"], ignore_index=True)
    dup = frame.duplicated(["code", "level"])
    if dup.any():
        raise SourceError(
            f"KLASS 128 edition {edition}: codes listed twice: {frame.loc[dup, 'code'].tolist()}"
        )
    prov = klass.provenance(start_used)
    frame.attrs.update(
        {
            "classification": "KLASS 128",
            "edition": edition,
            "valid_from": start,
            "valid_to": end,
            "municipality_level": how,
            "source": prov["location"],
            "provenance": prov,
        }
    )
    return frame


# ---------------------------------------------------------------------------------------------
# KLASS 131 / 104: changes and code lists
# ---------------------------------------------------------------------------------------------


def _dates(first_year: int, last_year: int) -> list[str]:
    return [f"{y}-01-01" for y in range(first_year, last_year + 1)]


def _history(
    cid: str,
    client: Any,
    first_year: int,
    last_year: int | None,
    store: RawStore | None,
    offline: bool | None,
    width: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    klass = _Klass(client, store, offline)
    first_year = int(first_year)
    first_date = f"{first_year}-01-01"
    updated: str | None = None
    start_codes = len(klass.used)
    if klass.offline:
        wanted = set(_dates(first_year, int(last_year))) if last_year is not None else set()

        def covers_codes(sel: Mapping[str, Any]) -> bool:
            dates = set(sel.get("date") or [])
            return first_date in dates and wanted <= dates

        shown = {"date": sorted(wanted) if wanted else [first_date, "..."]}
        docs, stored = klass.get(f"{cid}-codesAt", [], shown, accept=covers_codes)
        dates = list(stored["date"])
        if last_year is None:
            years = {int(d[:4]) for d in dates}
            last = first_year
            while last + 1 in years:
                last += 1
        else:
            last = int(last_year)
    else:
        updated = _classification(klass, cid).get("lastModified")
        start_codes = len(klass.used)
        last = int(last_year) if last_year is not None else dt.date.today().year
        if last < first_year:
            raise ValueError(f"last_year {last} is before first_year {first_year}")
        dates = _dates(first_year, last)
        requests = [(f"classifications/{cid}/codesAt", {"date": d}) for d in dates]
        docs, _ = klass.get(f"{cid}-codesAt", requests, {"date": dates}, updated=updated)
    codes_prov = klass.provenance(start_codes)
    unknown = "9" * width
    lists = []
    for date, doc in zip(dates, docs, strict=True):
        year = int(date[:4])
        if not first_year <= year <= last:
            continue
        for row in _codes_rows(doc, f"{cid} codesAt {date}"):
            code = _text(row.get("code"))
            if code == unknown or _text(row.get("level") or "1") != "1":
                continue
            lists.append({"code": code, "name": _text(row.get("name")), "year": year})
    code_lists = pd.DataFrame(lists, columns=["code", "name", "year"])
    code_lists = code_lists.astype({"code": "str", "name": "str", "year": "int64"})
    bad = ~code_lists["code"].str.fullmatch(rf"\d{{{width}}}")
    if bad.any():
        raise SourceError(
            f"KLASS {cid}: codes not {width} digits: {code_lists.loc[bad, 'code'].tolist()[:5]}"
        )
    code_lists = code_lists.sort_values(["year", "code"], ignore_index=True)

    lo, hi = f"{first_year}-01-01", f"{last + 1}-01-01"
    params = {"from": lo, "to": hi}

    def covers_changes(sel: Mapping[str, Any]) -> bool:
        frm, to = _first(sel, "from"), _first(sel, "to")
        return frm is not None and frm <= lo and (to is None or to >= hi)

    start_changes = len(klass.used)
    docs, _ = klass.get(
        f"{cid}-changes",
        [(f"classifications/{cid}/changes", params)],
        {k: [v] for k, v in params.items()},
        accept=covers_changes if klass.offline else None,
        updated=updated,
    )
    doc = docs[0]
    if not isinstance(doc, Mapping) or "codeChanges" not in doc:
        raise SourceError(f"KLASS {cid} changes {params}: the answer lacks 'codeChanges'")
    rows = [
        {
            "oldCode": _text(r.get("oldCode")),
            "oldName": _text(r.get("oldName")),
            "newCode": _text(r.get("newCode")),
            "newName": _text(r.get("newName")),
            "changeOccurred": _text(r.get("changeOccurred"))[:10],
        }
        for r in doc["codeChanges"]
        if lo <= _text(r.get("changeOccurred"))[:10] < hi
    ]
    columns = ["oldCode", "oldName", "newCode", "newName", "changeOccurred"]
    changes = pd.DataFrame(rows, columns=columns).astype("str")
    changes = changes.sort_values(["changeOccurred", "oldCode", "newCode"], ignore_index=True)
    changes.attrs.update(
        {
            "classification": f"KLASS {cid}",
            "first_year": first_year,
            "last_year": last,
            "provenance": klass.provenance(start_changes),
        }
    )
    changes.attrs["source"] = changes.attrs["provenance"]["location"]
    code_lists.attrs.update(
        {
            "classification": f"KLASS {cid}",
            "first_year": first_year,
            "last_year": last,
            "source": codes_prov["location"],
            "provenance": codes_prov,
        }
    )
    return changes, code_lists


def history_inputs_from_klass(
    client: Any,
    first_year: int = 2008,
    last_year: int | None = None,
    *,
    store: RawStore | None = None,
    offline: bool | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """KLASS 131 changes and code lists, shaped like
    :func:`regionstats.sources.regions_files.offline_history_inputs`.

    Parameters
    ----------
    client : KlassClient or None
        None only offline.
    first_year, last_year : int
        Code lists for 1 January of each year ``first_year..last_year`` (``codesAt``, one call
        per year, ``9999`` dropped); changes dated in ``[first_year-01-01, last_year+1-01-01)``.
        ``last_year`` defaults to this year online and, offline, to the last consecutive year of
        the newest stored code lists that start by ``first_year``.
    store, offline
        Raw store (default ``RawStore()``) and offline mode: offline, the newest valid stored
        vintage covering the years is read (a wider one is cut down), else
        :class:`~regionstats.sources.fetch.OfflineDataMissing`.

    Returns
    -------
    (changes, code_lists)
        ``oldCode, oldName, newCode, newName, changeOccurred`` (strings, ``""`` where KLASS has
        no code: a code appearing or ceasing) and ``code, name, year``; each with
        ``attrs["provenance"]``.
    """
    return _history("131", client, first_year, last_year, store, offline, width=4)


def county_history_from_klass(
    client: Any,
    first_year: int = 2008,
    last_year: int | None = None,
    *,
    store: RawStore | None = None,
    offline: bool | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """As :func:`history_inputs_from_klass` for KLASS 104 (counties, 2-digit codes; ``99``
    unknown dropped)."""
    return _history("104", client, first_year, last_year, store, offline, width=2)
