"""Readers of the region files: municipality code lists and changes, population, centrality, maps.

Every function here reads files and returns plain frames with **codes as strings**; the pure
harmonisation, centrality and boundary logic lives in :mod:`regionstats.regions`.

Offline inputs (the snapshot, see its ``PROVENANCE.md``):

* ``municipal_changes/gardenberg_kommunekoder/bakgrunnsdata/ssb_kommunekoder_<year>.csv``:
  SSB KLASS 131 code lists (2013, 2017-2020), ISO-8859-1, ``;``, quoted (columns ``code;
  parentCode;level;name;shortName;notes;validFrom;validTo``, the last two empty);
* ``.../kommuner_med_endringer_fra<a>_til<b>.csv``: SSB's change lists ``"0706 - Sandefjord;0710 -
  Sandefjord"`` (ISO-8859-1, ``;``, CRLF; the 2019-2020 list has a third column ``splittes``);
* ``municipal_changes/norway_municip_merging_b2020.csv``: FHI's weights for the 2020 splits;
* ``population/befolkning_2024_357kommuner_1986_2026.csv``: population 1 January on 2024 boundaries;
* ``klass/klass128_sentralitet_codes_with_index.csv``: a KLASS 128 codes export;
* ``geo/*.geojson``: Kartverket boundaries (the 2020 files store codes as integers).

The package's own ``data/kommune_endringer_2024.csv`` (hand-written from KLASS 131's changes of
2024-01-01, not in the snapshot) is read by :func:`read_changes_2024`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from regionstats import config

#: Years of the SSB KLASS 131 code lists in the snapshot.
SNAPSHOT_CODE_LIST_YEARS: tuple[int, ...] = (2013, 2017, 2018, 2019, 2020)

#: The snapshot's SSB change lists: (from year, to year) -> file name.
SNAPSHOT_CHANGE_LISTS: dict[tuple[int, int], str] = {
    (2013, 2017): "kommuner_med_endringer_fra2013_til2017.csv",
    (2017, 2018): "kommuner_med_endringer_fra2017_til2018.csv",
    (2018, 2019): "kommuner_med_endringer_fra2018_til2019.csv",
    (2019, 2020): "kommuner_med_endringer_fra2019_til2020.csv",
}

_KLASS_DIR = Path("municipal_changes") / "gardenberg_kommunekoder" / "bakgrunnsdata"
_CENTRALITY_FILE = Path("klass") / "klass128_sentralitet_codes_with_index.csv"
_POPULATION_FILE = Path("population") / "befolkning_2024_357kommuner_1986_2026.csv"
_FHI_WEIGHTS_FILE = Path("municipal_changes") / "norway_municip_merging_b2020.csv"
_HISTORIC_2024_FILE = Path("municipal_changes") / "kom_mapping_historisk_til_2024.csv"

#: Boundary files of the snapshot: (level, vintage) -> (file, code column).
SNAPSHOT_BOUNDARIES: dict[tuple[str, int], tuple[str, str]] = {
    ("municipality", 2024): ("kommuner_2024_S.geojson", "kommunenummer"),
    ("county", 2024): ("fylker_2024_S.geojson", "fylkesnummer"),
    ("municipality", 2020): ("kommuner_2020_small.geojson", "kommunenummer"),
    ("county", 2020): ("fylker_2020_small.geojson", "fylkesnummer"),
}

_CODE_WIDTH = {"municipality": 4, "county": 2}


class SnapshotNotFoundError(FileNotFoundError):
    """The offline snapshot folder (or one of its files) is not where it was looked for."""


def locate_snapshot(snapshot_dir: Path | str | None = None) -> Path:
    """The snapshot folder: ``snapshot_dir`` if given, else the first of
    :func:`regionstats.config.snapshot_candidates` holding ``PROVENANCE.md``.

    Raises :class:`SnapshotNotFoundError` naming every folder tried.
    """
    if snapshot_dir is not None:
        path = Path(snapshot_dir)
        if not path.is_dir():
            raise SnapshotNotFoundError(f"snapshot folder {path} does not exist")
        return path
    tried = config.snapshot_candidates()
    for candidate in tried:
        if (candidate / "PROVENANCE.md").is_file():
            return candidate.resolve()
    raise SnapshotNotFoundError(
        "offline snapshot not found (tried "
        + ", ".join(str(p) for p in tried)
        + "); set REGIONSTATS_SNAPSHOT or pass snapshot_dir"
    )


def _file(snapshot_dir: Path | str | None, relative: Path | str) -> Path:
    path = locate_snapshot(snapshot_dir) / relative
    if not path.is_file():
        raise SnapshotNotFoundError(f"expected snapshot file {path} is missing")
    return path


# --- KLASS 131: code lists and changes -------------------------------------------------------


def read_klass131_codes(year: int, snapshot_dir: Path | str | None = None) -> pd.DataFrame:
    """The snapshot's KLASS 131 code list valid on 1 January ``year``.

    Returns columns ``code`` (4-char string), ``name``, ``year``; the ``9999 Uoppgitt`` code is
    dropped (it is not a municipality).
    """
    if year not in SNAPSHOT_CODE_LIST_YEARS:
        raise ValueError(
            f"no KLASS 131 code list for {year} in the snapshot; it has {SNAPSHOT_CODE_LIST_YEARS}"
        )
    path = _file(snapshot_dir, _KLASS_DIR / f"ssb_kommunekoder_{year}.csv")
    raw = pd.read_csv(path, sep=";", dtype=str, encoding="iso-8859-1", keep_default_na=False)
    for col in ("code", "name", "level"):
        if col not in raw.columns:
            raise ValueError(
                f"{path}: expected a KLASS codes column {col!r}, got {list(raw.columns)}"
            )
    codes = raw.loc[raw["level"] == "1", ["code", "name"]]
    codes = codes[codes["code"] != "9999"].reset_index(drop=True)
    bad = ~codes["code"].str.fullmatch(r"\d{4}")
    if bad.any():
        raise ValueError(f"{path}: non 4-digit codes {codes.loc[bad, 'code'].tolist()[:5]}")
    codes["year"] = year
    return codes


def read_snapshot_code_lists(snapshot_dir: Path | str | None = None) -> pd.DataFrame:
    """All KLASS 131 code lists of the snapshot stacked: ``code``, ``name``, ``year``."""
    return pd.concat(
        [read_klass131_codes(y, snapshot_dir) for y in SNAPSHOT_CODE_LIST_YEARS], ignore_index=True
    )


_CODE_NAME = re.compile(r"^\s*(\d{4})\s+-\s+(.*?)\s*$")


def _split_code_name(cell: str, path: Path) -> tuple[str, str]:
    match = _CODE_NAME.match(cell)
    if match is None:
        raise ValueError(f"{path}: expected 'NNNN - name', got {cell!r}")
    return match.group(1), match.group(2)


def read_snapshot_changes(snapshot_dir: Path | str | None = None) -> pd.DataFrame:
    """The snapshot's SSB municipality change lists 2013-2020 as KLASS ``codeChanges`` rows.

    Each list pairs a municipality of year *a* with its successor(s) in year *b*; the change is
    dated 1 January of *b* (all changes of 2013-2020 took effect on 1 January of *b*). Returns
    columns ``oldCode``, ``oldName``, ``newCode``, ``newName``, ``changeOccurred`` (ISO date).
    Name-only changes (same code) are kept; the crosswalk builder treats them as identities.
    """
    rows: list[dict[str, str]] = []
    for (_, to_year), name in SNAPSHOT_CHANGE_LISTS.items():
        path = _file(snapshot_dir, _KLASS_DIR / name)
        raw = pd.read_csv(path, sep=";", dtype=str, encoding="iso-8859-1", keep_default_na=False)
        if raw.shape[1] < 2:
            raise ValueError(f"{path}: expected at least two ';'-separated columns")
        for old_cell, new_cell in zip(raw.iloc[:, 0], raw.iloc[:, 1], strict=True):
            old_code, old_name = _split_code_name(old_cell, path)
            new_code, new_name = _split_code_name(new_cell, path)
            rows.append(
                {
                    "oldCode": old_code,
                    "oldName": old_name,
                    "newCode": new_code,
                    "newName": new_name,
                    "changeOccurred": f"{to_year}-01-01",
                }
            )
    return pd.DataFrame(rows, dtype="str")


def read_changes_2024() -> pd.DataFrame:
    """The package's hand-written KLASS 131 changes of 2024-01-01.

    Read from ``regionstats/data/kommune_endringer_2024.csv``.

    Same columns as :func:`read_snapshot_changes`.
    """
    ref = resources.files("regionstats") / "data" / "kommune_endringer_2024.csv"
    with resources.as_file(ref) as path:
        frame = pd.read_csv(path, dtype=str, comment="#", keep_default_na=False)
    expected = ["oldCode", "oldName", "newCode", "newName", "changeOccurred"]
    if list(frame.columns) != expected:
        raise ValueError(f"{ref}: expected columns {expected}, got {list(frame.columns)}")
    return frame


def offline_history_inputs(
    snapshot_dir: Path | str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Changes (2013-2024) and code lists (2013-2020) for building the offline code history."""
    changes = pd.concat(
        [read_snapshot_changes(snapshot_dir), read_changes_2024()], ignore_index=True
    )
    return changes, read_snapshot_code_lists(snapshot_dir)


# --- weights ---------------------------------------------------------------------------------


def read_population_2024_boundaries(snapshot_dir: Path | str | None = None) -> pd.DataFrame:
    """Population on 1 January per municipality on **2024 boundaries**, 1986-2026 (tidy).

    Columns ``region`` (4-char 2024 code), ``year``, ``value``, ``status``, ``region_label``;
    ``attrs["region_vintage"] = 2024`` tells :func:`regionstats.harmonise` that the codes are
    2024 codes in every year (the file was harmonised by a third party from SSB 07459).

    A population of 0 is never data for a Norwegian municipality: the file's zeros (the snapshot's
    known defect: 1806 Narvik, 1875 Hamarøy, 5055 Heim, 5056 Hitra, 5059 Orkland for 1986-2019,
    which received parts of municipalities split in 2020, and 1580 Haram for 2020-2023, when it
    was part of Ålesund) become NaN with status ``".."``; ``attrs["notes"]`` says which.
    """
    path = _file(snapshot_dir, _POPULATION_FILE)
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    expected = {"kom2024", "navn", "aar", "befolkning"}
    if not expected <= set(raw.columns):
        raise ValueError(f"{path}: expected columns {sorted(expected)}, got {list(raw.columns)}")
    values = pd.to_numeric(raw["befolkning"].replace("", np.nan), errors="raise").astype(float)
    zero = (values == 0).to_numpy()
    values[zero] = np.nan
    status = pd.array([pd.NA] * len(raw), dtype="string")
    status[values.isna().to_numpy()] = ".."
    frame = pd.DataFrame(
        {
            "region": raw["kom2024"].astype("str"),
            "year": raw["aar"].astype(int),
            "value": values.to_numpy(),
            "status": status,
            "region_label": raw["navn"].astype("str"),
        }
    )
    if not frame["region"].str.fullmatch(r"\d{4}").all():
        raise ValueError(f"{path}: 'kom2024' must hold 4-digit codes")

    def year_span(years: pd.Series) -> str:  # "1986-2019", or the years listed if not a run
        ys = sorted(int(y) for y in years)
        if ys == list(range(ys[0], ys[-1] + 1)):
            return str(ys[0]) if len(ys) == 1 else f"{ys[0]}-{ys[-1]}"
        return ", ".join(str(y) for y in ys)

    notes = []
    if zero.any():
        spans = [
            f"{code} {group['region_label'].iloc[0]} {year_span(group['year'])}"
            for code, group in frame[zero].groupby("region", sort=True)
        ]
        notes.append(
            f"{int(zero.sum())} cells of population 0 were set to missing (NaN, status '..'), "
            "since a population of 0 is never data for a Norwegian municipality (in this "
            "third-party file a 0 marks a cell its harmonisation to 2024 boundaries could not "
            "fill): " + "; ".join(spans) + "."
        )
    frame.attrs.update(
        {
            "table": "07459",
            "source": str(path),
            "measure": "population 1 January",
            "units": {"population": "persons"},
            "region_vintage": 2024,
            "notes": notes,
        }
    )
    return frame


def read_fhi_split_weights(snapshot_dir: Path | str | None = None) -> pd.DataFrame:
    """FHI's weights for municipalities split in the 2020 reform (``fhidata``).

    Returns ``source_region``, ``region`` (the 2020 municipality), ``weight``, one row per split
    part (5012 Snillfjord -> 5055/5056/5059, 1850 Tysfjord -> 1806/1875), with
    ``attrs["weight_basis"]``. FHI documents them as population weights; they are rounded shares
    (0.35/0.35/0.30 and 0.5/0.5), so treat them as approximate.
    """
    path = _file(snapshot_dir, _FHI_WEIGHTS_FILE)
    raw = pd.read_csv(path, dtype=str)
    cols = {"municip_code_current", "municip_code_original", "year", "weighting"}
    if not cols <= set(raw.columns):
        raise ValueError(f"{path}: expected columns {sorted(cols)}, got {list(raw.columns)}")
    raw["weight"] = raw["weighting"].astype(float)
    split = raw[raw["weight"] < 1.0].copy()
    split["source_region"] = split["municip_code_original"].str.removeprefix("municip")
    split["region"] = split["municip_code_current"].str.removeprefix("municip")
    # The file lists Snillfjord under its pre-2018 code 1613 too; keep the 2018-2019 code rows.
    out = (
        split[split["year"].astype(int) == 2019][["source_region", "region", "weight"]]
        .drop_duplicates()
        .reset_index(drop=True)
    )
    out.attrs["weight_basis"] = "FHI fhidata split weights (approximate population shares)"
    out.attrs["source"] = str(path)
    return out


def read_historic_to_2024(snapshot_dir: Path | str | None = None) -> pd.DataFrame:
    """Third-party historic -> 2024 municipality numbers (for cross-checks only).

    Columns ``code``, ``name``, ``start_year`` (float, NaN if open), ``end_year``, ``code_2024``.
    """
    path = _file(snapshot_dir, _HISTORIC_2024_FILE)
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    return pd.DataFrame(
        {
            "code": raw["gammelt_nr"],
            "name": raw["navn"],
            "start_year": pd.to_numeric(raw["start_yr"].replace("", np.nan)),
            "end_year": pd.to_numeric(raw["end_yr"].replace("", np.nan)),
            "code_2024": raw["nr_2024"],
        }
    )


# --- KLASS 128 centrality --------------------------------------------------------------------


def read_centrality_codes(
    snapshot_dir: Path | str | None = None, path: Path | str | None = None
) -> pd.DataFrame:
    """A KLASS 128 (sentralitet) codes CSV export.

    Columns ``code``, ``parentCode``, ``level``, ``name``, ``notes``.

    The snapshot's export is UTF-8, ``,``-separated; its empty columns (``validFrom``/``validTo``
    among them) were dropped, so validity is only in the names' ``(-2019)`` / ``(2018-2019)``
    suffixes. All columns are read as strings.
    """
    file = Path(path) if path is not None else _file(snapshot_dir, _CENTRALITY_FILE)
    raw = pd.read_csv(file, dtype=str, keep_default_na=False, encoding="utf-8")
    need = {"code", "parentCode", "level", "name", "notes"}
    if not need <= set(raw.columns):
        raise ValueError(
            f"{file}: expected KLASS 128 columns {sorted(need)}, got {list(raw.columns)}"
        )
    raw.attrs["source"] = str(file)
    return raw


# --- boundaries ------------------------------------------------------------------------------


def normalise_codes(values: Iterable[object], width: int) -> list[str]:
    """Codes as zero-padded strings: ``301 -> "0301"`` (width 4), ``3 -> "03"`` (width 2)."""
    out = []
    for value in values:
        text = str(value).strip()
        if text.endswith(".0"):
            text = text[:-2]
        if not text.isdigit():
            raise ValueError(f"region code {value!r} is not numeric")
        out.append(text.zfill(width))
    return out


def read_boundaries(
    level: Literal["municipality", "county"],
    vintage: int | None = None,
    *,
    path: Path | str | None = None,
    code_column: str | None = None,
    snapshot_dir: Path | str | None = None,
) -> pd.DataFrame:
    """Boundaries as a GeoDataFrame with ``region`` (string code), ``name`` and ``geometry``.

    Either the snapshot's file for (``level``, ``vintage``) (2020 or 2024) or any file geopandas
    reads (e.g. a Kartverket download) given by ``path`` with its ``code_column``.
    """
    import geopandas as gpd

    if level not in _CODE_WIDTH:
        raise ValueError(f"level must be 'municipality' or 'county', got {level!r}")
    if path is None:
        key = (level, int(vintage) if vintage is not None else -1)
        if key not in SNAPSHOT_BOUNDARIES:
            have = sorted(v for lvl, v in SNAPSHOT_BOUNDARIES if lvl == level)
            raise ValueError(
                f"no {level} boundaries for vintage {vintage} in the snapshot (it has {have}); "
                "pass path= to a Kartverket file"
            )
        name, default_col = SNAPSHOT_BOUNDARIES[key]
        file = _file(snapshot_dir, Path("geo") / name)
        code_column = code_column or default_col
    else:
        file = Path(path)
        if code_column is None:
            raise ValueError("code_column is required with path=")
    gdf = gpd.read_file(file)
    if code_column not in gdf.columns:
        raise ValueError(f"{file}: no code column {code_column!r}; has {list(gdf.columns)}")
    name_col = next(
        (c for c in ("kommunenavn", "fylkesnavn", "navn", "name") if c in gdf.columns), None
    )
    out = gpd.GeoDataFrame(
        {
            "region": pd.array(normalise_codes(gdf[code_column], _CODE_WIDTH[level]), dtype="str"),
            "name": gdf[name_col].astype("str") if name_col else pd.NA,
        },
        geometry=gdf.geometry.values,
        crs=gdf.crs,
    )
    out.attrs.update({"source": str(file), "level": level, "region_vintage": vintage})
    return out


def write_crosswalks(
    frames: Mapping[int, pd.DataFrame], directory: Path | str | None = None
) -> list[Path]:
    """Write crosswalks as ``municipality_crosswalk_<vintage>.csv`` into ``directory``
    (default: the processed store ``<data>/processed/regions``). Returns the paths written."""
    out_dir = Path(directory) if directory is not None else config.processed_dir() / "regions"
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for vintage, frame in frames.items():
        path = out_dir / f"municipality_crosswalk_{vintage}.csv"
        frame.to_csv(path, index=False)
        paths.append(path)
    return paths


def rebuild_crosswalks(
    out_dir: Path | str | None = None,
    *,
    snapshot_dir: Path | str | None = None,
    changes: pd.DataFrame | None = None,
    code_lists: pd.DataFrame | None = None,
    vintages: Iterable[int] = (2020, 2024),
) -> list[Path]:
    """Rebuild the municipality crosswalks and write them to the processed store.

    Offline (default) the inputs are the snapshot's KLASS 131 lists and changes plus the
    package's 2024 changes; online pass ``changes`` (``KlassClient.changes(131, ...)``) and
    ``code_lists`` (``code``, ``name``, ``year``; see
    :func:`regionstats.regions.crosswalk.code_lists_from_klass_codes`).
    """
    from regionstats.regions.crosswalk import OFFLINE_LAST_YEAR, build_crosswalks

    last_year = None
    if changes is None or code_lists is None:
        changes, code_lists = offline_history_inputs(snapshot_dir)
        last_year = OFFLINE_LAST_YEAR
    frames = build_crosswalks(changes, code_lists, vintages, last_year=last_year)
    return write_crosswalks(frames, out_dir)
