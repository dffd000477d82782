"""Allocation by employment, class sums and peripherality on hand-made frames."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from regionstats.indicators.allocation import (
    GROUPS_13470_TO_11713,
    RESIDUAL,
    allocate_by_employment,
    municipal_totals,
)
from regionstats.indicators.peripherality import by_centrality_class, peripherality
from regionstats.sources.employment_files import read_13470_csv
from regionstats.sources.ssb_quirks import TOP_LEVEL_INDUSTRIES


def _emp(rows):
    f = pd.DataFrame(rows, columns=["region", "industry", "year", "value"])
    f["region"] = f["region"].astype("str")
    f["industry"] = f["industry"].astype("str")
    f["value"] = f["value"].astype(float)
    f["status"] = pd.array([pd.NA] * len(f), dtype="string")
    f.attrs = {"region_vintage": 2024, "source": "hand-made"}
    return f


def _counties(mapping):
    return pd.DataFrame({"region": list(mapping), "county": list(mapping.values())}).astype("str")


@pytest.fixture()
def two_munis(make_accounts):
    # County "08", 2018 and 2019. Accounts: 01-02 = 60 and 03 = 30 (13470 group 01-03 = 90),
    # 10-33 = 100, TOTAL = 195 in 2018 (5 of rounding/other); 2019: 03 suppressed, TOTAL 200.
    acc = [
        ("08", "01-02", "value_added", 2018, 60.0, None),
        ("08", "03", "value_added", 2018, 30.0, None),
        ("08", "10-33", "value_added", 2018, 100.0, None),
        ("08", "TOTAL", "value_added", 2018, 195.0, None),
        ("08", "01-02", "value_added", 2019, 70.0, None),
        ("08", "03", "value_added", 2019, np.nan, ":"),
        ("08", "10-33", "value_added", 2019, 110.0, None),
        ("08", "TOTAL", "value_added", 2019, 200.0, None),
    ]
    # employment: A has 30 in 01-03 and 10 in 10-33; B 10 and 30 (both years)
    emp = [
        (m, g, y, v)
        for y in (2018, 2019)
        for m, g, v in (("4001", "01-03", 30), ("4001", "10-33", 10),
                        ("4002", "01-03", 10), ("4002", "10-33", 30))
    ]  # fmt: skip
    return make_accounts(acc), _emp(emp), _counties({"4001": "08", "4002": "08"})


def test_allocation_by_hand(two_munis):
    acc, emp, cty = two_munis
    out = allocate_by_employment(acc, emp, cty, measures=["value_added"])
    v = out.set_index(["region", "industry", "year"])["value"]
    # 2018, group 01-03 = 60 + 30 = 90: A 90 * 30/40 = 67.5, B 22.5
    assert v["4001", "01-03", 2018] == pytest.approx(67.5)
    assert v["4002", "01-03", 2018] == pytest.approx(22.5)
    # 10-33 = 100: A 100 * 10/40 = 25, B 75
    assert v["4001", "10-33", 2018] == pytest.approx(25.0)
    assert v["4002", "10-33", 2018] == pytest.approx(75.0)
    # residual 195 - 190 = 5 by total employment (40 each): 2.5 each
    assert v["4001", RESIDUAL, 2018] == pytest.approx(2.5)
    # 2019: 01-03 suppressed (":"); residual 200 - 110 = 90 by 01-03 employment: 67.5 / 22.5
    assert math.isnan(v["4001", "01-03", 2019])
    assert (
        out.set_index(["region", "industry", "year"]).loc[("4001", "01-03", 2019), "status"] == ":"
    )
    assert v["4001", RESIDUAL, 2019] == pytest.approx(67.5)
    assert v["4002", RESIDUAL, 2019] == pytest.approx(22.5)
    assert out.attrs["estimate"] is True and "estimate" in out.attrs["method"]


def test_allocation_adds_up_to_county_in_every_year_and_group(two_munis):
    acc, emp, cty = two_munis
    out = allocate_by_employment(acc, emp, cty, measures=["value_added"])
    sums = out.groupby(["industry", "year"])["value"].sum(min_count=1)
    assert sums["01-03", 2018] == 90.0
    assert sums["10-33", 2018] == 100.0
    assert sums["10-33", 2019] == 110.0
    totals = municipal_totals(out).groupby("year")["value"].sum()
    assert totals[2018] == 195.0 and totals[2019] == 200.0


def test_class_sums_and_productivity(two_munis, make_accounts):
    acc, emp, cty = two_munis
    extra = make_accounts(
        [("08", i, "employed_persons", y, e, None)
         for y in (2018, 2019)
         for i, e in (("01-02", 0.02), ("03", 0.02), ("10-33", 0.04), ("TOTAL", 0.08))]
    )  # fmt: skip
    both = pd.concat([acc, extra], ignore_index=True)
    both.attrs = acc.attrs
    out = allocate_by_employment(both, emp, cty)
    cen = pd.DataFrame({"region": ["4001", "4002"], "centrality_class": [3, 6]})
    cen["region"] = cen["region"].astype("str")
    cen.attrs = {"edition": 2024, "region_vintage": 2024}
    cls = by_centrality_class(out, cen).set_index(["centrality_class", "measure", "year"])
    # class 3 = municipality A: VA 2018 = 67.5 + 25 + 2.5 = 95 NOK million;
    # employed: 01-03 0.04 * 30/40 = 0.03, 10-33 0.04 * 10/40 = 0.01, residual 0 -> 0.04 thousand
    assert cls.loc[(3, "value_added", 2018), "value"] == pytest.approx(95.0)
    assert cls.loc[(3, "employed_persons", 2018), "value"] == pytest.approx(0.04)
    # productivity 95e6 / 40 = 2 375 000 NOK per person
    assert cls.loc[(3, "productivity", 2018), "value"] == pytest.approx(2_375_000.0)
    assert cls.attrs["estimate"] is True and cls.attrs["centrality_edition"] == 2024


def test_class_sums_refuse_other_vintage(two_munis):
    acc, emp, cty = two_munis
    out = allocate_by_employment(acc, emp, cty, measures=["value_added"])
    cen = pd.DataFrame({"region": ["4001", "4002"], "centrality_class": [3, 6]})
    cen.attrs = {"edition": 2020, "region_vintage": 2020}
    with pytest.raises(ValueError, match="vintage 2024 but the centrality table on 2020"):
        by_centrality_class(out, cen)


def test_allocation_years_outside(two_munis):
    acc, emp, cty = two_munis
    with pytest.raises(ValueError, match="not in both"):
        allocate_by_employment(acc, emp, cty, years=[2030])


def test_mapping_covers_each_top_level_industry_once():
    mapped = [i for inds in GROUPS_13470_TO_11713.values() for i in inds]
    assert sorted(mapped) == sorted(TOP_LEVEL_INDUSTRIES)


def test_peripherality_by_hand():
    # county "01": A (class 6) 100 people, B (class 4) 300, C (class 2) 600;
    # share in 5-6 = 100/1000 = 0.1; in 4-6 = 400/1000 = 0.4. County "02": D (class 5) only -> 1.
    pop = pd.DataFrame(
        {"region": ["0101", "0102", "0103", "0201"], "year": 2019,
         "value": [100.0, 300.0, 600.0, 50.0]}
    )  # fmt: skip
    pop["status"] = pd.array([pd.NA] * 4, dtype="string")
    cen = pd.DataFrame(
        {"region": ["0101", "0102", "0103", "0201"], "centrality_class": [6, 4, 2, 5]}
    )
    cty = _counties({"0101": "01", "0102": "01", "0103": "01", "0201": "02"})
    out = peripherality(pop, cen, cty).set_index(["region", "measure"])["value"]
    assert out["01", "share_class_5_6"] == pytest.approx(0.1)
    assert out["01", "share_class_4_6"] == pytest.approx(0.4)
    assert out["02", "share_class_5_6"] == 1.0


def test_statbank_export_reader(fixtures_dir):
    f = read_13470_csv(fixtures_dir / "indicators" / "ssb13470_statbank_export_small_latin1.csv")
    assert f["region"].tolist() == ["9901", "9901", "9902", "9902"]
    assert f["industry"].tolist() == ["01-03", "10-33", "01-03", "10-33"]
    assert f["region_label"].iloc[2] == "Sørby"
    assert math.isnan(f["value"].iloc[3]) and f["status"].iloc[3] == ":"
    assert f["value"].iloc[0] == 30.0 and f["year"].dtype == "int64"
