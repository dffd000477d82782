"""Readers for files staff download by hand from SSB's statbank (*statistikkbanken*).

Supported for table 11713 (regional accounts, *fylkesfordelt nasjonalregnskap*):

* the statbank **xlsx export** (title row, a row of statistics variables, labels only on the first
  row of each block, footnotes below the data): :func:`read_11713_statbank_xlsx`;
* a long **workbook** with one column per statistics variable (sheet ``BNPB``, as users share them):
  :func:`read_11713_workbook`;
* long **CSV** conversions, wide (one column per variable) or with ``statistikkvariabel``/``verdi``
  columns: :func:`read_11713_csv`.

Each returns the tidy model (:mod:`regionstats.model`) with identity columns ``region``,
``industry``, ``measure``, ``year``; values in the units SSB publishes (``attrs["units"]``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from regionstats.model import STATUS, VALUE, validate_tidy
from regionstats.sources import ssb_quirks as q

KEYS_11713 = ["region", "industry", "measure", "year"]


class StatbankFileError(ValueError):
    """A statbank file does not have the layout regionstats expects."""


def _read_excel(path: Path, sheet: str | int | None) -> pd.DataFrame:
    if not Path(path).is_file():
        raise FileNotFoundError(f"statbank file {path} does not exist")
    try:
        book = pd.ExcelFile(path, engine="openpyxl")
    except Exception as exc:  # openpyxl raises several types for non-xlsx input
        raise StatbankFileError(f"{path} is not a readable xlsx workbook: {exc}") from exc
    if sheet is None:
        sheet = book.sheet_names[0]
    if isinstance(sheet, str) and sheet not in book.sheet_names:
        raise StatbankFileError(f"{path} has no sheet {sheet!r}; sheets: {book.sheet_names}")
    return pd.read_excel(book, sheet_name=sheet, header=None, dtype=object)


def _tidy_from_long(
    long: pd.DataFrame, *, path: Path, kind: str, footnotes: list[str] | None = None
) -> pd.DataFrame:
    """Code the labels of a long frame (region, industry, year, measure label, raw cell)."""
    try:
        regions = {lab: q.split_region_label(lab) for lab in long["region_text"].unique()}
        industries = {lab: q.industry_code(lab) for lab in long["industry_text"].unique()}
        measures = {lab: q.measure_code(lab) for lab in long["measure_text"].unique()}
    except q.UnknownLabel as exc:
        raise StatbankFileError(f"{path}: {exc}") from exc
    years = pd.to_numeric(long["year_text"].astype(str).str.strip(), errors="coerce")
    if years.isna().any():
        bad = long.loc[years.isna(), "year_text"].iloc[0]
        raise StatbankFileError(f"{path}: year {bad!r} is not a four-digit year")
    cells = [q.parse_cell(v) for v in long["raw"].tolist()]
    frame = pd.DataFrame(
        {
            "region": long["region_text"].map(lambda s: regions[s][0]).astype("str"),
            "industry": long["industry_text"].map(industries).astype("str"),
            "measure": long["measure_text"].map(measures).astype("str"),
            "year": years.astype("int64"),
            VALUE: np.array([c[0] for c in cells], dtype="float64"),
            STATUS: pd.array([c[1] for c in cells], dtype="string"),
            "region_label": long["region_text"].map(lambda s: regions[s][1]).astype("str"),
            "industry_label": long["industry_text"].map(lambda s: str(s).lstrip("¬").strip()),
        }
    )
    frame = _mark_nonexistent_region_years(frame)
    validate_tidy(frame, KEYS_11713)
    frame = frame.sort_values(KEYS_11713, ignore_index=True)
    frame.attrs.update(
        {
            "table": "11713",
            "title": "Fylkesfordelt nasjonalregnskap (regional accounts)",
            "source": str(path),
            "source_kind": kind,
            "units": {m: q.UNITS_11713[m] for m in sorted(frame["measure"].unique())},
            "footnotes": list(footnotes or []),
            "licence": "CC BY 4.0, Statistisk sentralbyrå",
        }
    )
    return frame


#: The county-years that did not exist (one rule for files and the live API): see
#: :func:`regionstats.sources.ssb_quirks.mark_nonexistent_region_years`.
_mark_nonexistent_region_years = q.mark_nonexistent_region_years


def read_11713_statbank_xlsx(path: str | Path, sheet: str | int | None = None) -> pd.DataFrame:
    """Read a statbank xlsx export of table 11713 into the tidy model.

    Layout (as exported by ssb.no/statbank, seen 2021-12): row 1 title; a row naming the statistics
    variables from the fourth column on; data rows with region, industry and year labels given only
    on the first row of each block (forward-filled here); SSB's symbols ``:``/``..`` in cells; then
    footnotes, kept in ``attrs["footnotes"]``.
    """
    path = Path(path)
    grid = _read_excel(path, sheet)
    header_row = None
    for i in range(min(len(grid), 20)):
        cells = [str(v).strip() for v in grid.iloc[i, 3:].tolist() if isinstance(v, str)]
        if cells and all(c in q.MEASURES_11713 for c in cells):
            header_row = i
            break
    if header_row is None:
        raise StatbankFileError(
            f"{path}: no row of 11713 statistics variables (e.g. "
            f"{next(iter(q.MEASURES_11713))!r}) in the first 20 rows; is this a statbank export?"
        )
    measure_cols = [c for c in grid.columns[3:] if isinstance(grid.iat[header_row, c], str)]
    body = grid.iloc[header_row + 1 :]
    # The data block ends at the first row without a year and without any measure cell.
    filled = body[[2, *measure_cols]].notna().any(axis=1).to_numpy()
    end = int(np.argmin(filled)) if not filled.all() else len(body)
    data, rest = body.iloc[:end].copy(), body.iloc[end:]
    if data.empty:
        raise StatbankFileError(f"{path}: no data rows below the header row {header_row + 1}")
    data[[0, 1]] = data[[0, 1]].ffill()
    footnotes = [str(v).strip() for v in rest[0].tolist() if isinstance(v, str) and v.strip()]
    long = data.melt(id_vars=[0, 1, 2], value_vars=measure_cols, var_name="col", value_name="raw")
    long = long.rename(columns={0: "region_text", 1: "industry_text", 2: "year_text"})
    long["measure_text"] = long["col"].map(lambda c: str(grid.iat[header_row, c]).strip())
    frame = _tidy_from_long(long, path=path, kind="statbank xlsx export", footnotes=footnotes)
    title = grid.iat[0, 0]
    if isinstance(title, str):
        frame.attrs["title"] = title.strip()
    return frame


def read_11713_workbook(path: str | Path, sheet: str = "BNPB") -> pd.DataFrame:
    """Read a long 11713 workbook (columns Region, Næring, År, one per statistics variable).

    Quirks of such workbooks (seen in the five-variable workbook of the snapshot, 2026-11):

    * empty cells stand for suppressed figures: in every cell shared with the statbank export they
      are ``:`` there, so they are read as ``":"``;
    * the annual volume change is written as 0 for the first year (no previous year) and wherever
      value added is missing: those are read as missing (``".."``), not zero;
    * "Fastlands-Norge" (Mainland Norway) holds 0 in every cell although it is not published by
      county: read as ``".."``.
    """
    path = Path(path)
    grid = _read_excel(path, sheet)
    header = [str(v).strip() if isinstance(v, str) else v for v in grid.iloc[0].tolist()]
    expected = ["Region", "Næring", "År"]
    if header[:3] != expected:
        raise StatbankFileError(
            f"{path} sheet {sheet!r}: first columns are {header[:3]}, expected {expected}"
        )
    measure_cols = [i for i, h in enumerate(header) if i >= 3 and isinstance(h, str)]
    data = grid.iloc[1:].dropna(how="all")
    data = data[data[0].notna()]
    raw = data[measure_cols].astype(object)
    raw = raw.where(raw.notna(), ":")
    data = pd.concat([data[[0, 1, 2]], raw], axis=1)
    long = data.melt(id_vars=[0, 1, 2], value_vars=measure_cols, var_name="col", value_name="raw")
    long = long.rename(columns={0: "region_text", 1: "industry_text", 2: "year_text"})
    long["measure_text"] = long["col"].map(lambda c: header[c])
    frame = _tidy_from_long(long, path=path, kind="workbook")
    frame = _workbook_zero_quirks(frame)
    return frame


def _workbook_zero_quirks(frame: pd.DataFrame) -> pd.DataFrame:
    first_year = frame["year"].min()
    vol = frame["measure"] == "value_added_volume_change"
    va = frame[frame["measure"] == "value_added"].set_index(["region", "industry", "year"])
    va_missing = va[VALUE].isna()
    keys = pd.MultiIndex.from_frame(frame[["region", "industry", "year"]])
    no_va = keys.isin(va_missing[va_missing].index)
    zero_vol = vol & (frame[VALUE] == 0) & ((frame["year"] == first_year) | no_va)
    frame.loc[zero_vol & frame[STATUS].isna(), STATUS] = ".."
    frame.loc[zero_vol, VALUE] = np.nan
    mainland = (frame["industry"] == "MAINLAND") & (frame[VALUE] == 0)
    frame.loc[mainland, VALUE] = np.nan
    frame.loc[mainland & frame[STATUS].isna(), STATUS] = ".."
    return frame


def read_11713_csv(path: str | Path) -> pd.DataFrame:
    """Read a long CSV of table 11713: ``region, naering, aar`` then either one column per
    statistics variable, or ``statistikkvariabel`` and ``verdi``. Cells are kept as text so that
    SSB's symbols survive."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"statbank file {path} does not exist")
    table = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    lower = {c: c.strip().lower() for c in table.columns}
    table = table.rename(columns=lower)
    renames = {
        "region": "region_text",
        "næring": "industry_text",
        "naering": "industry_text",
        "år": "year_text",
        "aar": "year_text",
    }
    table = table.rename(columns=renames)
    need = ["region_text", "industry_text", "year_text"]
    if any(c not in table.columns for c in need):
        raise StatbankFileError(
            f"{path}: expected columns region, naering/næring, aar/år; found {list(table.columns)}"
        )
    if "statistikkvariabel" in table.columns and "verdi" in table.columns:
        long = table.rename(columns={"statistikkvariabel": "measure_text", "verdi": "raw"})
    else:
        original = {v: k for k, v in lower.items()}
        value_cols = [c for c in table.columns if c not in need]
        long = table.melt(
            id_vars=need, value_vars=value_cols, var_name="measure_text", value_name="raw"
        )
        long["measure_text"] = long["measure_text"].map(lambda c: original.get(c, c))
    long["raw"] = long["raw"].replace("", ":")
    return _tidy_from_long(long, path=path, kind="statbank csv")
