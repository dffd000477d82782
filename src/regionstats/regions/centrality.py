"""Municipality centrality (*sentralitet*, KLASS 128), version-aware.

SSB's centrality index (0-1000, Oslo = 1000) groups municipalities into six classes, 1 most
central ... 6 least central (Høydahl, *Ny sentralitetsindeks for kommunene*, SSB notater 2017/40;
updated to the 2020 municipalities in SSB notater 2020/4). Editions: **2018**, **2020**, **2024**,
each defined on the municipalities of its year. The older four-class standard (0-3, 1994) is a
different classification and is never mixed in.

How an edition is cut from a KLASS 128 codes export (``code``, ``parentCode``, ``level``,
``name``, ``notes``): level 2 rows are municipalities with ``parentCode`` = class ("01"-"06")
and ``notes`` = index. The snapshot's export has no ``validFrom``/``validTo`` columns (they were
empty and dropped); expired codes carry KLASS's year suffix in the name (``"Halden (-2019)"``,
``"Snillfjord (2018-2019)"``) but 2020-2023 codes (``3001 Halden``) carry none. An edition is
therefore the export's rows for the municipality codes valid on 1 January of the edition year,
taken from the KLASS 131 history. Each code appears once in that export, and former municipalities
carry their successor's score (1001, 1017 and 1018 all have 4204 Kristiansand's 832): the export
holds the 2020/2024 index, not SSB's 2018 edition, so edition 2018 needs a KLASS 128 export of
that version (``codes=``); from the snapshot it raises.
"""

from __future__ import annotations

import re
import warnings
from typing import Literal

import pandas as pd

from regionstats.regions.crosswalk import CodeHistory, require_history
from regionstats.regions.errors import (
    CentralityVintageWarning,
    UnknownCodeError,
    UnknownEditionError,
)

#: Centrality editions published by SSB (KLASS 128 versions on the six-class index).
EDITIONS: tuple[int, ...] = (2018, 2020, 2024)

#: Class labels: Norwegian as in government reports (Regionale utviklingstrekk), English.
CLASS_LABELS_NO: dict[int, str] = {
    1: "1 – mest sentrale kommuner",
    **{k: f"{k} – sentralitetsklasse {k}" for k in (2, 3, 4, 5)},
    6: "6 – minst sentrale kommuner",
}
CLASS_LABELS_EN: dict[int, str] = {
    1: "1 most central",
    **{k: f"{k} centrality class {k}" for k in (2, 3, 4, 5)},
    6: "6 least central",
}

_YEARS_SUFFIX = re.compile(r"\((\d{4})?-(\d{4})?\)\s*$")


def _check_edition(edition: int) -> int:
    later = isinstance(edition, int) and not isinstance(edition, bool) and edition > EDITIONS[-1]
    if edition not in EDITIONS and not later:
        raise UnknownEditionError(
            f"centrality edition {edition!r} does not exist; editions are {list(EDITIONS)} "
            "(the older four-class standard 0-3 is a different classification)"
        )
    return int(edition)


def edition_in_force(year: int) -> int:
    """The edition in force on 1 January ``year`` (2018 for years before 2018)."""
    return max([e for e in EDITIONS if e <= year] or [EDITIONS[0]])


def centrality_from_klass(
    codes: pd.DataFrame, municipalities: set[str] | frozenset[str], edition: int
) -> pd.DataFrame:
    """Cut one edition from a KLASS 128 codes frame for the given municipality codes.

    Returns ``region``, ``centrality_class`` (int 1-6), ``centrality_index`` (float 0-1000, NaN
    when the export has no score), ``centrality_label_no``, ``centrality_label_en``,
    ``region_label``. Raises :class:`UnknownCodeError` naming municipalities missing from it.
    """
    codes = codes.rename(columns={"parent_code": "parentCode"})
    level2 = codes[codes["level"].astype("str") == "2"]
    if level2["code"].duplicated().any():
        dups = level2.loc[level2["code"].duplicated(), "code"].tolist()[:5]
        raise ValueError(f"KLASS 128 export lists codes twice ({dups}); pass one version")
    rows = level2[level2["code"].isin(municipalities)]
    missing = sorted(set(municipalities) - set(rows["code"]))
    if missing:
        raise UnknownCodeError(
            f"centrality edition {edition}: municipalities {missing[:10]} are not in the KLASS "
            f"128 export ({len(missing)} missing)"
        )
    cls = pd.to_numeric(rows["parentCode"], errors="raise").astype(int)
    if not cls.between(1, 6).all():
        raise ValueError("KLASS 128 parentCode must be a class 01-06")
    notes = rows["notes"].astype("str").str.strip() if "notes" in rows.columns else ""
    index = pd.to_numeric(notes, errors="coerce").astype(float)
    out = pd.DataFrame(
        {
            "region": rows["code"].astype("str").to_numpy(),
            "centrality_class": cls.to_numpy(),
            "centrality_index": index.to_numpy(),
            "centrality_label_no": cls.map(CLASS_LABELS_NO).to_numpy(),
            "centrality_label_en": cls.map(CLASS_LABELS_EN).to_numpy(),
            "region_label": rows["name"]
            .astype("str")
            .str.replace(_YEARS_SUFFIX, "", regex=True)
            .str.strip()
            .to_numpy(),
        }
    )
    out["region"] = out["region"].astype("str")
    return out.sort_values("region").reset_index(drop=True)


def centrality_table(
    edition: int,
    vintage: int | None = None,
    *,
    codes: pd.DataFrame,
    history: CodeHistory,
) -> pd.DataFrame:
    """Centrality classes and index of ``edition`` for the municipalities of ``vintage`` (pure).

    Parameters
    ----------
    edition
        A KLASS 128 edition: 2018, 2020, 2024 or a later one present in ``codes`` (others raise
        :class:`UnknownEditionError` listing the known ones).
    vintage
        Municipality structure of the result (default: the edition's own year). A vintage other
        than the edition warns (:class:`CentralityVintageWarning`) and uses the export's scores
        for that vintage's codes (KLASS scores former/later codes by their successor).
    codes
        The KLASS 128 codes of the edition (``code``, ``parentCode``, ``level``, ``name``,
        ``notes``), as served by :func:`regionstats.centrality_codes`.
    history
        The municipality code history (:func:`regionstats.municipality_history`).

    Examples
    --------
    >>> codes = pd.DataFrame({
    ...     "code": ["1", "6", "0301", "5061"], "parentCode": ["", "", "1", "6"],
    ...     "level": ["1", "1", "2", "2"], "name": ["1", "6", "Oslo", "Rindal"],
    ...     "notes": ["", "", "1000", "350"]})
    >>> from regionstats.regions.crosswalk import build_history
    >>> lists = pd.DataFrame({"code": ["0301", "5061"], "name": ["Oslo", "Rindal"],
    ...                       "year": [2024, 2024]})
    >>> history = build_history(pd.DataFrame(columns=["oldCode", "oldName", "newCode",
    ...     "newName", "changeOccurred"]), lists, last_year=2024)
    >>> centrality_table(2024, codes=codes, history=history)[["region", "centrality_class"]]
      region  centrality_class
    0   0301                 1
    1   5061                 6
    """
    require_history(history, "centrality_table")
    if codes is None:
        raise TypeError("centrality_table needs codes= (regionstats.centrality_codes(edition))")
    edition = _check_edition(edition)
    vintage = edition if vintage is None else int(vintage)
    if vintage != edition:
        warnings.warn(
            f"centrality edition {edition} applied to municipality vintage {vintage}",
            CentralityVintageWarning,
            stacklevel=2,
        )
    if vintage not in history.codes:
        raise UnknownCodeError(
            f"vintage {vintage} is outside the municipality history "
            f"{history.first_year}-{history.last_year}"
        )
    out = centrality_from_klass(codes, history.codes[vintage], edition)
    out.attrs.update(
        {"classification": "KLASS 128", "edition": edition, "region_vintage": vintage,
         "source": codes.attrs.get("source", ""),
         "provenance": codes.attrs.get("provenance")}
    )  # fmt: skip
    return out


def attach_centrality(
    frame: pd.DataFrame,
    edition: int | None = None,
    mode: Literal["fixed", "time-varying"] = "fixed",
    *,
    codes: pd.DataFrame,
    history: CodeHistory,
) -> pd.DataFrame:
    """Add ``centrality_class``, ``centrality_index``, labels and ``centrality_edition`` to a frame.

    ``mode="fixed"``: one ``edition`` for every year (the frame's codes must be that edition's
    municipalities or be in the export). ``mode="time-varying"``: each year gets the edition in
    force then (:func:`edition_in_force`). Warns with :class:`CentralityVintageWarning` when the
    edition differs from the data's municipality vintage (``frame.attrs["region_vintage"]``, or
    each row's year); codes without a score raise :class:`UnknownCodeError`.
    """
    if mode not in ("fixed", "time-varying"):
        raise ValueError(f"mode must be 'fixed' or 'time-varying', got {mode!r}")
    if "region" not in frame.columns:
        raise ValueError("attach_centrality needs a 'region' column")
    history = require_history(history, "attach_centrality")
    if codes is None:
        raise TypeError("attach_centrality needs codes= (regionstats.centrality_codes(edition))")
    vintage = frame.attrs.get("region_vintage")
    parts = []
    if mode == "fixed":
        if edition is None:
            raise ValueError("mode='fixed' needs an edition")
        _check_edition(edition)
        data_vintages = {int(vintage)} if vintage is not None else set(frame["year"].astype(int))
        if data_vintages != {edition}:
            warnings.warn(
                f"centrality edition {edition} attached to data of municipality vintage(s) "
                f"{sorted(data_vintages)[:5]}{' ...' if len(data_vintages) > 5 else ''}",
                CentralityVintageWarning,
                stacklevel=2,
            )
        groups = [(edition, frame)]
    else:
        years = frame["year"].astype(int)
        groups = [(edition_in_force(y), frame[years == y]) for y in sorted(set(years))]
        if vintage is not None:
            eds = sorted({e for e, _ in groups})
            if eds != [int(vintage)]:
                warnings.warn(
                    f"time-varying centrality editions {eds} attached to data on municipality "
                    f"vintage {vintage}",
                    CentralityVintageWarning,
                    stacklevel=2,
                )
    tables: dict[int, pd.DataFrame] = {}
    for ed, part in groups:
        if ed not in tables:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", CentralityVintageWarning)
                table = centrality_table(ed, ed, codes=codes, history=history)
                raw = codes
                # every scored code of the export, so data on another vintage can be matched
                full = centrality_from_klass(
                    raw, set(raw.loc[raw["level"].astype("str") == "2", "code"]), ed
                )
                tables[ed] = pd.concat(
                    [table, full[~full["region"].isin(table["region"])]], ignore_index=True
                )
        table = tables[ed].drop(columns="region_label")
        unknown = sorted(set(part["region"]) - set(table["region"]) - {"0"})
        if unknown:
            raise UnknownCodeError(
                f"no centrality (edition {ed}) for municipality codes {unknown[:10]}"
            )
        merged = part.merge(table, on="region", how="left", validate="many_to_one")
        merged["centrality_edition"] = ed
        parts.append(merged)
    out = pd.concat(parts, ignore_index=True) if parts else frame.copy()
    out["centrality_class"] = out["centrality_class"].astype("Int64")
    out.attrs = dict(frame.attrs)
    out.attrs["centrality"] = {"mode": mode, "edition": edition}
    return out
