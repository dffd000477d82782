"""Regional accounts (SSB table 11713) from the configured source, in the tidy model.

Sources, chosen by ``source=``:

* ``"snapshot"``: the offline snapshot's five-variable workbook (5 statistics variables x 42
  industries x 21 regions, 2008-2019), with SSB's symbols taken from the statbank xlsx export of the
  same release wherever the two share a cell (they agree on every shared value; see tests);
* ``"api"``: the live PxWebApi 2.0 via :class:`regionstats.sources.fetch.Fetcher` (raw responses
  kept as vintages in the raw store; ``REGIONSTATS_OFFLINE=1`` serves the newest stored vintage);
* ``"processed"``: ``data/processed/regional_accounts.parquet`` as built by ``regionstats update``
  (checksum verified); the notebooks run by ``update`` read this (``REGIONSTATS_SOURCE=processed``);
* ``"auto"`` (default): ``$REGIONSTATS_SOURCE`` if set; else ``"snapshot"`` when offline, else
  ``"api"``, falling back to the snapshot with a warning when the API cannot be reached.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from regionstats import config
from regionstats.model import STATUS, VALUE, validate_tidy
from regionstats.sources import ssb_quirks as q
from regionstats.sources.snapshot import snapshot_file
from regionstats.sources.statbank_files import (
    KEYS_11713,
    read_11713_statbank_xlsx,
    read_11713_workbook,
)

TABLE_11713 = "11713"
EXPORT_11713 = "ssb_11713/ssb11713_statbank_export_bp_syss_2008-2019_FNB_SSB_11713.xlsx"
WORKBOOK_11713 = "ssb_11713/ssb11713_5vars_2008-2019_SSB_11713_Deling_av_nettsider.xlsx"
NEW_VINTAGE_11713 = "ssb_11713/ssb11713_new_vintage_extract_2011-2023.csv"

Source = Literal["auto", "snapshot", "api", "processed"]


class SourceMismatch(ValueError):
    """Two files of the same release disagree on a value."""


def regional_accounts(
    source: Source = "auto",
    *,
    snapshot: str | Path | None = None,
    fetcher: object | None = None,
) -> pd.DataFrame:
    """Table 11713 (*fylkesfordelt nasjonalregnskap*) in the tidy model.

    Identity columns ``region`` (county code as the accounts publish it, ``"0"`` for the whole
    country), ``industry`` (see :data:`regionstats.sources.ssb_quirks.INDUSTRIES_11713`),
    ``measure`` (``value_added``, ``value_added_volume_change``, ``gross_investment``,
    ``employed_persons``, ``compensation``) and ``year``; units as published in
    ``attrs["units"]`` (NOK million, percent, 1000 persons).

    Counties do not sum to the whole country: the continental shelf (*sokkelen*) and Svalbard are
    in "Hele landet" only.
    """
    if source == "auto":
        source = os.environ.get("REGIONSTATS_SOURCE", "auto").strip().lower() or "auto"  # type: ignore[assignment]
    if source == "processed":
        from regionstats.sources.processed import read_processed

        frame = read_processed("regional_accounts")
        built_from = frame.attrs.get("source_kind", "unknown source")
        frame.attrs["source_kind"] = (
            f"processed dataset built by 'regionstats update' from {built_from}"
        )
        return frame
    if source == "auto":
        if config.offline():
            return _from_snapshot(snapshot)
        from regionstats.sources.http import SourceError
        from regionstats.sources.pxwebapi import PxWebApiError

        try:
            return _from_api(fetcher)
        except (SourceError, PxWebApiError, OSError) as exc:
            _warn_fallback(exc)
            return _from_snapshot(snapshot)
    if source == "snapshot":
        return _from_snapshot(snapshot)
    if source == "api":
        return _from_api(fetcher)
    raise ValueError(f"unknown source {source!r}; use 'auto', 'snapshot', 'api' or 'processed'")


def _from_snapshot(snapshot: str | Path | None) -> pd.DataFrame:
    export = read_11713_statbank_xlsx(snapshot_file(EXPORT_11713, snapshot))
    book = read_11713_workbook(snapshot_file(WORKBOOK_11713, snapshot))
    merged = book.merge(
        export[[*KEYS_11713, VALUE, STATUS]],
        on=KEYS_11713,
        how="left",
        suffixes=("", "_export"),
        indicator=True,
    )
    shared = merged["_merge"] == "both"
    a, b = merged.loc[shared, VALUE], merged.loc[shared, f"{VALUE}_export"]
    differs = ~(np.isclose(a, b, rtol=0, atol=1e-9) | (a.isna() & b.isna()))
    if differs.any():
        row = merged.loc[shared].loc[differs].iloc[0]
        raise SourceMismatch(
            f"workbook and statbank export disagree for {row[KEYS_11713].to_dict()}: "
            f"{row[VALUE]} vs {row[f'{VALUE}_export']}"
        )
    merged.loc[shared, STATUS] = merged.loc[shared, f"{STATUS}_export"]
    frame = merged.drop(columns=[f"{VALUE}_export", f"{STATUS}_export", "_merge"])
    frame[STATUS] = frame[STATUS].astype("string")
    validate_tidy(frame, KEYS_11713)
    frame.attrs = dict(book.attrs)
    frame.attrs.update(
        {
            "source": f"{book.attrs['source']} (symbols from {export.attrs['source']})",
            "source_kind": "offline snapshot",
            "vintage": "statbank release of 2021-12-13 08:00 (Sist endret)",
            "footnotes": export.attrs["footnotes"],
            "title": export.attrs["title"],
        }
    )
    return frame


def normalise_11713(decoded: pd.DataFrame) -> pd.DataFrame:
    """Turn a decoded PxWebApi JSON-stat response of 11713 into the tidy model.

    The dimensions are found by role and label, not by fixed ids (SSB has called the industry
    ``NACE2007`` and ``Naering``): region ``@geo`` (role ``geo``, else the dimension labelled
    "region"), industry ``@industry`` (label mentions *næring*, or id ``NACE…``/``Naering…``),
    measure ``@metric`` and year ``@time``
    (:func:`regionstats.sources.fetch.resolve_dimension`).
    Industry and measure codes are mapped by their labels (the same as in statbank exports), so
    the identity codes are the same whichever source was used; region codes lose a ``K-``/``F-``
    prefix. County-years that did not exist become ``"."`` with no value by the same rule as the
    file readers (:func:`regionstats.sources.ssb_quirks.mark_nonexistent_region_years`).
    """
    from regionstats.sources.fetch import resolve_dimension

    dims = [c for c in decoded.columns if c not in (VALUE, STATUS) and not c.endswith("_label")]
    dim_labels = decoded.attrs.get("dimension_labels") or {}
    metadata = {
        "id": dims,
        "role": dict(decoded.attrs.get("role") or {}),
        "dimension": {d: {"label": str(dim_labels.get(d, d))} for d in dims},
        "label": decoded.attrs.get("label") or TABLE_11713,
    }
    found = {
        key: resolve_dimension(key, metadata, table_id=TABLE_11713)
        for key in ("@geo", "@industry", "@metric", "@time")
    }
    if len(set(found.values())) != 4 or len(dims) != 4:
        raise ValueError(
            f"11713 response has unexpected dimensions {dims} (labels {dim_labels}); resolved "
            f"{found}"
        )
    region_dim, industry_dim = found["@geo"], found["@industry"]
    metric_dim, time_dim = found["@metric"], found["@time"]
    codes = decoded[region_dim].astype(str).str.replace(r"^[KF][-.]", "", regex=True)
    frame = pd.DataFrame(
        {
            "region": codes.astype("str"),
            "industry": decoded[f"{industry_dim}_label"].map(q.industry_code).astype("str"),
            "measure": decoded[f"{metric_dim}_label"].map(q.measure_code).astype("str"),
            "year": decoded[time_dim].astype(str).str[:4].astype("int64"),
            VALUE: decoded[VALUE].astype("float64"),
            STATUS: decoded[STATUS].astype("string"),
            "region_label": decoded[f"{region_dim}_label"].astype("str").str.strip(),
            "industry_label": decoded[f"{industry_dim}_label"]
            .astype("str")
            .str.lstrip("¬")
            .str.strip(),
        }
    )
    frame = q.mark_nonexistent_region_years(frame)
    validate_tidy(frame, KEYS_11713)
    frame = frame.sort_values(KEYS_11713, ignore_index=True)
    frame.attrs = {
        "table": TABLE_11713,
        "title": decoded.attrs.get("label", "11713"),
        "source": decoded.attrs.get("source_url", decoded.attrs.get("source", "PxWebApi")),
        "vintage": decoded.attrs.get("updated"),
        "units": {m: q.UNITS_11713[m] for m in sorted(frame["measure"].unique())},
        "footnotes": list(decoded.attrs.get("note") or []),
        "licence": "CC BY 4.0, Statistisk sentralbyrå",
    }
    return frame


def _from_api(fetcher: object | None) -> pd.DataFrame:
    from regionstats.sources.fetch import Fetcher

    fetch = fetcher if fetcher is not None else Fetcher()
    assert isinstance(fetch, Fetcher)
    # The same symbolic query online and offline: the stored vintage is found by it, and the
    # table's own dimension ids are read from its metadata only when data are fetched.
    decoded = fetch.fetch(TABLE_11713, _all_selection())
    frame = normalise_11713(decoded)
    if decoded.attrs.get("vintage"):
        frame.attrs["raw_vintage"] = decoded.attrs["vintage"]
    return frame


def _all_selection(client: object | None = None) -> dict[str, str]:
    """Every value of every variable of 11713 (time included, which v2 cannot eliminate).

    Symbolic (``{"@all": "*"}``, resolved from the table's metadata by
    :class:`~regionstats.sources.fetch.Fetcher`), so no dimension id is hard-coded. ``client``
    is not used (kept for callers of the earlier signature).
    """
    return {"@all": "*"}


def regional_accounts_revised_extract(snapshot: str | Path | None = None) -> pd.DataFrame:
    """Cells of a newer 11713 release (2011-2023) kept in the snapshot, for revision handling."""
    from regionstats.sources.statbank_files import read_11713_csv

    frame = read_11713_csv(snapshot_file(NEW_VINTAGE_11713, snapshot))
    frame.attrs["vintage"] = "newer 11713 release (extract, 2011-2023)"
    return frame


class ApiFallbackWarning(UserWarning):
    """The live API could not be reached and the offline snapshot was used instead."""


def _warn_fallback(exc: Exception) -> None:
    warnings.warn(
        f"SSB's API could not be reached ({type(exc).__name__}: {str(exc)[:200]}); "
        "using the offline snapshot instead",
        ApiFallbackWarning,
        stacklevel=3,
    )
