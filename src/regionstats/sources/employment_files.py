"""Readers of employed persons by place of work (*sysselsatte etter arbeidssted*, SSB 13470).

Offline inputs (the snapshot's ``employment/`` folder, see its ``PROVENANCE.md``), as seen
2026-11:

* ``ssb13470_telemark_kommuner_sysselsatte_arbeidssted.csv``: **UTF-8**, ``,``, one header line
  ``region,næring (SN2007),statistikkvariabel,år,value`` and no title line; regions are
  municipality **names only** (the 17 municipalities of Telemark on 2024 boundaries, e.g.
  ``Midt-Telemark``), industries are 13470's 17 labels (``"Jordbruk, skogbruk og fiske"`` ...
  ``"Uoppgitt"``), years 2016-2025 (4th quarter), plain integer counts;
* ``akvakultur_syss_2017_ssb13470_kom2024.csv``: UTF-8, ``,``, columns ``kom2024``,
  ``syss_total_2017``, ``syss_akvakultur_2017`` for all 357 municipalities of 2024 (Q4 2017); an
  empty cell means no number.

Statbank CSV exports of 13470 proper are ISO-8859-1, ``;``, with a title line and labels such as
``"4001 Porsgrunn"`` / ``"01-03 Jordbruk, skogbruk og fiske"``: :func:`read_13470_csv` reads
either layout. The result is tidy: ``region`` (4-char municipality code), ``industry`` (13470
group code, e.g. ``"01-03"``; ``"00"`` unknown industry; ``"TOTAL"``), ``year``, ``value``
(persons), ``status``, with ``attrs["region_vintage"]``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from regionstats.sources.snapshot import snapshot_file

TABLE_13470 = "13470"
TELEMARK_FILE = "employment/ssb13470_telemark_kommuner_sysselsatte_arbeidssted.csv"
AQUACULTURE_FILE = "employment/akvakultur_syss_2017_ssb13470_kom2024.csv"

#: 13470 industry groups (SN2007/NACE rev. 2 groups): label -> code. Labels as in the snapshot's
#: Telemark file (2026-11) and 13470's statbank labels (``"Off.adm., forsvar,
#: sosialforsikring"``); the code of "Uoppgitt" (unknown industry) is ``"00"``.
INDUSTRY_LABELS_13470: dict[str, str] = {
    "Jordbruk, skogbruk og fiske": "01-03",
    "Bergverksdrift og utvinning": "05-09",
    "Industri": "10-33",
    "Elektrisitet, vann og renovasjon": "35-39",
    "Bygge- og anleggsvirksomhet": "41-43",
    "Varehandel, reparasjon av motorvogner": "45-47",
    "Transport og lagring": "49-53",
    "Overnattings- og serveringsvirksomhet": "55-56",
    "Informasjon og kommunikasjon": "58-63",
    "Finansiering og forsikring": "64-66",
    "Teknisk tjenesteyting, eiendomsdrift": "68-75",
    "Forretningsmessig tjenesteyting": "77-82",
    "Off.adm., forsvar, sosialforsikring": "84",
    "Undervisning": "85",
    "Helse- og sosialtjenester": "86-88",
    "Personlig tjenesteyting": "90-99",
    "Uoppgitt": "00",
    "Alle næringer": "TOTAL",
}

#: Municipalities of Telemark county on 2024 boundaries (KLASS 131, 1 January 2024).
TELEMARK_2024: dict[str, str] = {
    "Porsgrunn": "4001", "Skien": "4003", "Notodden": "4005", "Siljan": "4010",
    "Bamble": "4012", "Kragerø": "4014", "Drangedal": "4016", "Nome": "4018",
    "Midt-Telemark": "4020", "Seljord": "4022", "Hjartdal": "4024", "Tinn": "4026",
    "Kviteseid": "4028", "Nissedal": "4030", "Fyresdal": "4032", "Tokke": "4034",
    "Vinje": "4036",
}  # fmt: skip

_CODE_LABEL = re.compile(r"^\s*(?:K[-.])?(?P<code>\d{4})\s+(?P<label>.+?)\s*$")
_INDUSTRY_CODE_LABEL = re.compile(r"^\s*(?P<code>\d{2}(?:-\d{2})?|00)\.?\s+(?P<label>.+?)\s*$")


class EmploymentFileError(ValueError):
    """A 13470 file does not have the layout regionstats expects."""


def _decode(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("iso-8859-1")


def _parse_count(text: str) -> tuple[float, object]:
    t = str(text).strip().replace("\u00a0", "").replace(" ", "")
    if t in {":", "..", "...", "."}:
        return np.nan, t
    if t == "":
        return np.nan, ".."
    if t == "-":
        return 0.0, "-"
    try:
        return float(t), pd.NA
    except ValueError:
        raise EmploymentFileError(f"cell {text!r} is neither a number nor an SSB symbol") from None


def _industry_code(label: str, path: Path) -> str:
    key = label.strip()
    if key in INDUSTRY_LABELS_13470:
        return INDUSTRY_LABELS_13470[key]
    match = _INDUSTRY_CODE_LABEL.match(key)
    if match and match["label"] in INDUSTRY_LABELS_13470:
        return INDUSTRY_LABELS_13470[match["label"]]
    if match:
        return match["code"]
    raise EmploymentFileError(
        f"{path}: industry {label!r} is not a 13470 group; known: {sorted(INDUSTRY_LABELS_13470)}"
    )


def _region_code(label: str, names: Mapping[str, str], path: Path) -> tuple[str, str]:
    match = _CODE_LABEL.match(label)
    if match:
        return match["code"], match["label"]
    key = label.strip()
    if key in names:
        return names[key], key
    raise EmploymentFileError(
        f"{path}: region {label!r} has no municipality code and is not among the names given "
        f"({sorted(names)[:20]}...); pass names={{name: code}}"
    )


def read_13470_csv(
    path: str | Path,
    *,
    names: Mapping[str, str] | None = None,
    region_vintage: int | None = None,
) -> pd.DataFrame:
    """A 13470 CSV (statbank export or the snapshot's conversion) in the tidy model.

    Handles UTF-8 or ISO-8859-1, ``,`` or ``;``, an optional title line, region labels with or
    without a code (``"4001 Porsgrunn"``, ``"K-4001 Porsgrunn"`` or ``"Porsgrunn"`` looked up in
    ``names``), industry labels with or without a code, a year column (``år``) or quarter labels
    (``"2017K4"``), and wide year columns.
    """
    path = Path(path)
    text = _decode(path)
    lines = text.splitlines()
    if not lines:
        raise EmploymentFileError(f"{path}: empty file")
    start = next(
        (i for i, line in enumerate(lines) if line.strip().strip('"').lower().startswith("region")),
        None,
    )
    if start is None:
        raise EmploymentFileError(f"{path}: no header line starting with 'region'")
    lines = lines[start:]  # drops a statbank title line and blank lines
    sep = ";" if lines[0].count(";") > lines[0].count(",") else ","
    reader = csv.reader(io.StringIO("\n".join(lines)), delimiter=sep)
    header = [h.strip() for h in next(reader)]
    rows = [r for r in reader if any(c.strip() for c in r)]
    names = dict(names or {})
    lower = [h.lower() for h in header]
    try:
        i_region = lower.index("region")
        i_industry = next(i for i, h in enumerate(lower) if h.startswith("næring"))
    except (ValueError, StopIteration):
        raise EmploymentFileError(
            f"{path}: expected columns 'region' and 'næring (SN2007)', got {header}"
        ) from None
    i_var = next((i for i, h in enumerate(lower) if h.startswith("statistikkvariabel")), None)
    i_year = next((i for i, h in enumerate(lower) if h in ("år", "kvartal", "tid")), None)
    records = []
    for r in rows:
        if len(r) != len(header):
            raise EmploymentFileError(f"{path}: row {r} has {len(r)} fields, header {len(header)}")
        code, label = _region_code(r[i_region], names, path)
        industry = _industry_code(r[i_industry], path)
        if i_year is not None:
            cells = [(r[i_year], r[-1])]
        else:
            skip = {i_region, i_industry, *(() if i_var is None else (i_var,))}
            cells = [(header[i], r[i]) for i in range(len(header)) if i not in skip]
        for period, cell in cells:
            m = re.match(r"^\s*(\d{4})", period)
            if m is None:
                raise EmploymentFileError(f"{path}: period {period!r} does not start with a year")
            value, status = _parse_count(cell)
            records.append((code, industry, int(m.group(1)), value, status, label))
    frame = pd.DataFrame(
        records, columns=["region", "industry", "year", "value", "status", "region_label"]
    )
    return _finish(frame, str(path), region_vintage)


def _finish(frame: pd.DataFrame, source: str, region_vintage: int | None) -> pd.DataFrame:
    for col in ("region", "industry", "region_label"):
        frame[col] = frame[col].astype("str")
    frame["year"] = frame["year"].astype("int64")
    frame["value"] = frame["value"].astype(float)
    frame["status"] = pd.array(
        [s if isinstance(s, str) else pd.NA for s in frame["status"]], dtype="string"
    )
    if not frame["region"].str.fullmatch(r"\d{4}").all():
        bad = frame.loc[~frame["region"].str.fullmatch(r"\d{4}"), "region"].iloc[0]
        raise EmploymentFileError(f"{source}: municipality code {bad!r} is not 4 digits")
    dup = frame.duplicated(["region", "industry", "year"])
    if dup.any():
        raise EmploymentFileError(
            f"{source}: duplicate cells, e.g. {frame.loc[dup].iloc[0].to_dict()}"
        )
    frame = frame.sort_values(["region", "industry", "year"], ignore_index=True)
    frame.attrs = {
        "table": TABLE_13470,
        "source": source,
        "measure": "employed persons by place of work (4th quarter)",
        "units": "persons",
        "region_vintage": region_vintage,
    }
    return frame


def read_13470_telemark(snapshot: str | Path | None = None) -> pd.DataFrame:
    """The snapshot's 13470 extract: Telemark's 17 municipalities (2024 codes), 17 groups,
    2016-2025. **Telemark only** -- the live API has every municipality."""
    path = snapshot_file(TELEMARK_FILE, snapshot)
    frame = read_13470_csv(path, names=TELEMARK_2024, region_vintage=2024)
    expected = set(TELEMARK_2024.values())
    if set(frame["region"]) != expected:
        raise EmploymentFileError(
            f"{path}: expected the 17 Telemark municipalities of 2024, got "
            f"{sorted(set(frame['region']))}"
        )
    frame.attrs["coverage"] = "Telemark (county 40 of 2024 = 08 of 2008-2019) only"
    return frame


def read_13470_aquaculture_2017(snapshot: str | Path | None = None) -> pd.DataFrame:
    """The snapshot's Q4-2017 file: every municipality (2024 codes), total employed by place of
    work (``industry="TOTAL"``) and aquaculture (``industry="03.2"``, NACE 03.2)."""
    path = snapshot_file(AQUACULTURE_FILE, snapshot)
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    expected = {"kom2024", "syss_total_2017", "syss_akvakultur_2017"}
    if not expected <= set(raw.columns):
        raise EmploymentFileError(
            f"{path}: expected columns {sorted(expected)}, got {list(raw.columns)}"
        )
    records = []
    for _, r in raw.iterrows():
        for col, industry in (("syss_total_2017", "TOTAL"), ("syss_akvakultur_2017", "03.2")):
            value, status = _parse_count(r[col])
            records.append((r["kom2024"].strip().zfill(4), industry, 2017, value, status, ""))
    frame = pd.DataFrame(
        records, columns=["region", "industry", "year", "value", "status", "region_label"]
    )
    frame = _finish(frame, str(path), 2024).drop(columns="region_label")
    frame.attrs["coverage"] = "all municipalities, 4th quarter 2017 only"
    return frame


__all__ = [
    "INDUSTRY_LABELS_13470",
    "TELEMARK_2024",
    "EmploymentFileError",
    "read_13470_aquaculture_2017",
    "read_13470_csv",
    "read_13470_telemark",
]
