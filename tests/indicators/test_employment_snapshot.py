"""The snapshot's 13470 files and the Telemark allocation (skips without the snapshot)."""

from __future__ import annotations

import csv

import pytest

from regionstats.indicators.allocation import (
    allocate_by_employment,
    municipal_totals,
    municipality_counties,
)
from regionstats.sources.employment_files import (
    TELEMARK_2024,
    read_13470_aquaculture_2017,
    read_13470_telemark,
)
from regionstats.sources.regions_files import read_population_2024_boundaries

pytestmark = pytest.mark.snapshot


def test_telemark_reader_against_raw_file(snapshot_dir):
    f = read_13470_telemark(snapshot_dir)
    assert f["region"].nunique() == 17 and f["industry"].nunique() == 17
    assert sorted(f["year"].unique()) == list(range(2016, 2026))
    path = snapshot_dir / "employment" / "ssb13470_telemark_kommuner_sysselsatte_arbeidssted.csv"
    with open(path, encoding="utf-8", newline="") as fh:
        raw = list(csv.DictReader(fh))
    first = raw[0]
    row = f[(f["region"] == TELEMARK_2024[first["region"]]) & (f["year"] == int(first["år"]))
            & (f["industry"] == "01-03")]  # fmt: skip
    assert row["value"].iloc[0] == float(first["value"])
    assert f["value"].sum() == sum(float(r["value"]) for r in raw)


def test_telemark_names_match_population_file(snapshot_dir):
    pop = read_population_2024_boundaries(snapshot_dir)
    tele = pop[pop["region"].str.startswith("40")].drop_duplicates("region")
    assert dict(zip(tele["region_label"], tele["region"], strict=True)) == TELEMARK_2024


def test_aquaculture_reader(snapshot_dir):
    f = read_13470_aquaculture_2017(snapshot_dir)
    assert f["region"].nunique() == 357
    assert set(f["industry"]) == {"TOTAL", "03.2"}


def test_telemark_allocation_adds_up(snapshot_dir, real_accounts, code_history):
    emp = read_13470_telemark(snapshot_dir)
    cty = municipality_counties(emp["region"].unique(), 2024, history=code_history)
    assert set(cty["county"]) == {"08"}
    out = allocate_by_employment(real_accounts, emp, cty)
    assert out.attrs["years"] == [2016, 2017, 2018, 2019]
    tot = municipal_totals(out).groupby(["measure", "year"])["value"].sum()
    acc = real_accounts[(real_accounts["region"] == "08") & (real_accounts["industry"] == "TOTAL")]
    for (measure, year), value in tot.items():
        expected = acc[(acc["measure"] == measure) & (acc["year"] == year)]["value"].iloc[0]
        assert value == pytest.approx(expected, rel=1e-12, abs=1e-9)
    groups = out[out["industry"] != "RESIDUAL"].groupby(["industry", "measure", "year"])
    assert groups["value"].sum(min_count=1).notna().sum() > 100
