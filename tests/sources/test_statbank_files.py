"""Readers of statbank files for table 11713: hand-made files in the real layouts, and the snapshot.

Expected values of the hand-made files are the numbers typed into them below; expected values
for the snapshot are read in the test from the snapshot's independent CSV conversion with the
csv module (not through regionstats), so a reader that drops a symbol, shifts a unit or
misaligns a forward-filled label fails.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from regionstats.model import validate_tidy
from regionstats.sources import statbank_files as sf
from regionstats.sources.accounts import regional_accounts

VA = "Bruttoprodukt i basisverdi. Løpende priser (mill. kr)"
EMP = "Sysselsatte personer (1 000 personer)"


def _write_export(path: Path, rows: list[tuple], footnotes: list[str]) -> Path:
    """An xlsx in the statbank export layout: title, blank, variables row, blocks, footnotes."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "BNPB"
    ws.append(
        ["11713: Fylkesfordelt nasjonalregnskap, etter region, næring, år og statistikkvariabel"]
    )
    ws.append([])
    ws.append([None, None, None, VA, EMP])
    for row in rows:
        ws.append(list(row))
    ws.append([])
    for note in footnotes:
        ws.append([note])
    wb.save(path)
    return path


@pytest.fixture()
def export_file(tmp_path: Path) -> Path:
    rows = [
        ("0 Hele landet", "Totalt for næringer", "2018", 1000, 20.5),
        (None, None, "2019", 1100, 21),
        (None, "Industri", "2018", 300, 5.5),
        (None, None, "2019", ":", ":"),
        ("03 Oslo", "Totalt for næringer", "2018", 400, 8),
        (None, None, "2019", 420, ".."),
        (None, "Industri", "2018", 50, 1.25),
        (None, None, "2019", 60, 1.5),
        ("50 Trøndelag - Trööndelage", "Totalt for næringer", "2018", 0, 0),
        (None, None, "2019", 90, 2),
        (None, "Industri", "2018", 0, 0),
        (None, None, "2019", 10, 0.5),
    ]
    return _write_export(tmp_path / "export.xlsx", rows, ["Fotnote: brudd i 2015.", "Kilde: SSB"])


def _cell(frame: pd.DataFrame, region: str, industry: str, measure: str, year: int) -> pd.Series:
    hit = frame[
        (frame.region == region)
        & (frame.industry == industry)
        & (frame.measure == measure)
        & (frame.year == year)
    ]
    assert len(hit) == 1, (region, industry, measure, year)
    return hit.iloc[0]


def test_export_forward_fills_labels_and_keeps_symbols(export_file: Path) -> None:
    frame = sf.read_11713_statbank_xlsx(export_file)
    validate_tidy(frame, sf.KEYS_11713)
    assert len(frame) == 12 * 2
    # forward-filled region and industry: the 2019 Oslo industry row
    oslo = _cell(frame, "03", "10-33", "value_added", 2019)
    assert oslo.value == 60.0 and pd.isna(oslo.status) and oslo.region_label == "Oslo"
    # employment kept in 1000 persons, not rescaled
    assert _cell(frame, "03", "10-33", "employed_persons", 2018).value == 1.25
    # symbols are data, not zero
    sup = _cell(frame, "0", "10-33", "value_added", 2019)
    assert math.isnan(sup.value) and sup.status == ":"
    miss = _cell(frame, "03", "TOTAL", "employed_persons", 2019)
    assert math.isnan(miss.value) and miss.status == ".."
    assert frame.attrs["footnotes"] == ["Fotnote: brudd i 2015.", "Kilde: SSB"]
    assert frame.attrs["units"] == {
        "employed_persons": "1000 persons",
        "value_added": "NOK million",
    }
    assert frame["region"].map(type).eq(str).all()


def test_export_marks_county_years_that_did_not_exist(export_file: Path) -> None:
    frame = sf.read_11713_statbank_xlsx(export_file)
    dead = frame[(frame.region == "50") & (frame.year == 2018)]
    assert len(dead) == 4
    assert dead.status.eq(".").all() and dead.value.isna().all()
    alive = _cell(frame, "50", "10-33", "value_added", 2019)
    assert alive.value == 10.0


def test_export_layout_errors_name_the_file(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    wb.active.append(["not a statbank export"])
    path = tmp_path / "other.xlsx"
    wb.save(path)
    with pytest.raises(sf.StatbankFileError, match="other.xlsx"):
        sf.read_11713_statbank_xlsx(path)
    with pytest.raises(FileNotFoundError, match="missing.xlsx"):
        sf.read_11713_statbank_xlsx(tmp_path / "missing.xlsx")
    (tmp_path / "bad.xlsx").write_text("plain text")
    with pytest.raises(sf.StatbankFileError, match="bad.xlsx"):
        sf.read_11713_statbank_xlsx(tmp_path / "bad.xlsx")


def test_unknown_region_or_industry_label_is_named(tmp_path: Path) -> None:
    path = _write_export(tmp_path / "x.xlsx", [("03 Oslo", "Romfart", "2019", 1, 1)], [])
    with pytest.raises(sf.StatbankFileError, match="Romfart"):
        sf.read_11713_statbank_xlsx(path)
    path = _write_export(tmp_path / "y.xlsx", [("Oslo", "Industri", "2019", 1, 1)], [])
    with pytest.raises(sf.StatbankFileError, match="'Oslo'"):
        sf.read_11713_statbank_xlsx(path)


def test_long_csv_with_statistikkvariabel_column(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    path.write_text(
        "region,naering,aar,statistikkvariabel,verdi\n"
        f"03 Oslo - Oslove,Totalt for næringer,2023,{VA},700.5\n"
        f"03 Oslo - Oslove,Totalt for næringer,2023,{EMP},:\n"
        f"30 Viken (2020-2023),Industri,2023,{VA},12\n",
        encoding="utf-8",
    )
    frame = sf.read_11713_csv(path)
    assert _cell(frame, "03", "TOTAL", "value_added", 2023).value == 700.5
    assert _cell(frame, "03", "TOTAL", "employed_persons", 2023).status == ":"
    assert _cell(frame, "30", "10-33", "value_added", 2023).region_label == "Viken (2020-2023)"


# --- the real snapshot -------------------------------------------------------------------------


def _csv_cells(snapshot_dir: Path) -> dict[tuple[str, str, str], tuple[str, str]]:
    path = (
        snapshot_dir / "ssb_11713/ssb11713_fylke_naering_2008-2019_bp_syss_from_statbank_export.csv"
    )
    with path.open(encoding="utf-8") as fh:
        return {
            (r["region"], r["naering"], r["aar"]): (
                r["bruttoprodukt_basisverdi_lopende_mill_kr"],
                r["sysselsatte_1000_personer"],
            )
            for r in csv.DictReader(fh)
        }


def test_snapshot_export_matches_independent_csv(snapshot_dir: Path) -> None:
    frame = sf.read_11713_statbank_xlsx(
        snapshot_dir / "ssb_11713/ssb11713_statbank_export_bp_syss_2008-2019_FNB_SSB_11713.xlsx"
    )
    cells = _csv_cells(snapshot_dir)
    assert len(frame) == 2 * len(cells) == 2 * 6804
    # a few cells located by their labels in the CSV, by codes in the frame
    raw_va, raw_emp = cells[("03 Oslo", "Finansierings- og forsikringsvirksomhet", "2019")]
    assert _cell(frame, "03", "64-66", "value_added", 2019).value == float(raw_va)
    assert _cell(frame, "03", "64-66", "employed_persons", 2019).value == float(raw_emp)
    raw_va, raw_emp = cells[("0 Hele landet", "Totalt for næringer", "2008")]
    assert _cell(frame, "0", "TOTAL", "employed_persons", 2008).value == float(raw_emp)
    assert _cell(frame, "0", "TOTAL", "value_added", 2008).value == float(raw_va)

    # every suppressed cell of the CSV is suppressed in the frame, none lost
    # Sør- and Nord-Trøndelag ("(-2017)") did not exist after 2017: their ":" of 2019 become "."
    def gone(key: tuple[str, str, str]) -> bool:
        return key[0].endswith("(-2017)") and int(key[2]) > 2017

    suppressed_csv = sum((v[0] == ":") + (v[1] == ":") for k, v in cells.items() if not gone(k))
    assert (frame.status == ":").sum() == suppressed_csv
    gone_cells = [k for k in cells if gone(k)]
    assert len(gone_cells) == 2 * 2 * 27
    assert (frame.status == ".").sum() >= 2 * len(gone_cells)
    assert frame.attrs["footnotes"] and any("Brudd" in f for f in frame.attrs["footnotes"])


def test_snapshot_regional_accounts(snapshot_dir: Path) -> None:
    frame = regional_accounts("snapshot", snapshot=snapshot_dir)
    validate_tidy(frame, sf.KEYS_11713)
    assert set(frame.measure) == {
        "value_added",
        "value_added_volume_change",
        "gross_investment",
        "employed_persons",
        "compensation",
    }
    assert frame.region.nunique() == 21 and frame.year.min() == 2008 and frame.year.max() == 2019
    # PROVENANCE: counties sum to less than Hele landet (2019: 2,724,305 vs 3,164,843 mill. kr)
    total = frame[
        (frame.industry == "TOTAL") & (frame.measure == "value_added") & (frame.year == 2019)
    ]
    national = total.loc[total.region == "0", "value"].item()
    counties = total.loc[total.region != "0", "value"].sum()
    assert national == 3_164_843
    assert counties == 2_724_305
    # the volume change of the first year is missing, not zero
    first = frame[(frame.measure == "value_added_volume_change") & (frame.year == 2008)]
    assert first.value.isna().all() and first.status.notna().all()
    # the symbol of a suppressed export cell wins over the workbook's empty cell
    cells = _csv_cells(snapshot_dir)
    suppressed = [k for k, v in cells.items() if v[0] == ":"]
    region_text, industry_text, year = suppressed[0]
    from regionstats.sources.ssb_quirks import industry_code, split_region_label

    cell = _cell(
        frame,
        split_region_label(region_text)[0],
        industry_code(industry_text),
        "value_added",
        int(year),
    )
    assert cell.status == ":" and math.isnan(cell.value)
