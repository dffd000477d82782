"""Shift-share against the regions' own sum: hand-worked cases, suppression, volume, snapshot."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from regionstats.analysis.errors import InsufficientData
from regionstats.analysis.shiftshare import shift_share
from regionstats.regions.accounts_counties import merge_trondelag

NaN = float("nan")


def _frame(cells, years=(2010, 2011), measure="value_added"):
    """{(region, industry): (v0, v1, ...)} -> tidy 11713-like frame; a str value is a symbol."""
    rows = []
    for (region, industry), values in cells.items():
        for year, v in zip(years, values, strict=True):
            if isinstance(v, str):
                rows.append((region, industry, measure, year, NaN, v))
            else:
                rows.append((region, industry, measure, year, float(v), None))
    f = pd.DataFrame(rows, columns=["region", "industry", "measure", "year", "value", "status"])
    for c in ("region", "industry", "measure"):
        f[c] = f[c].astype("str")
    f["year"] = f["year"].astype("int64")
    f["status"] = f["status"].astype("string")
    return f


def _wide(out):
    return out.pivot(index="region", columns="component", values="value")


def _dunn(rows, g_n, g_ref):
    """Dunn's three components of one region from its rows {label: (x0, x1)}."""
    national = sum(x0 for x0, _ in rows.values()) * g_n
    mix = sum(x0 * (g_ref[i] - g_n) for i, (x0, _) in rows.items())
    regional = sum(x0 * ((x1 / x0 - 1) - g_ref[i]) for i, (x0, x1) in rows.items())
    return national, mix, regional


# --------------------------------------------------------------------------------------------
# hand-worked 2 regions x 2 industries

TWO_BY_TWO = {
    ("01", "01-02"): (50, 55),
    ("01", "03"): (150, 180),
    ("01", "TOTAL"): (200, 235),
    ("02", "01-02"): (100, 130),
    ("02", "03"): (50, 45),
    ("02", "TOTAL"): (150, 175),
    # the whole country incl. the shelf: more than the two counties
    ("0", "01-02"): (170, 200),
    ("0", "03"): (330, 400),
    ("0", "TOTAL"): (500, 600),
}


def test_two_by_two_against_the_regions_sum_by_hand():
    out = shift_share(_frame(TWO_BY_TWO), 2010, 2011)
    # reference = 01 + 02: 01-02 150 -> 185, 03 200 -> 225, all 350 -> 410
    g_n = 60 / 350
    g_ref = {"01-02": 35 / 150, "03": 25 / 200}
    w = _wide(out)
    assert list(w.index) == ["01", "02"]
    for region in ("01", "02"):
        rows = {i: TWO_BY_TWO[(region, i)] for i in ("01-02", "03")}
        national, mix, regional = _dunn(rows, g_n, g_ref)
        assert w.loc[region, "national"] == pytest.approx(national, rel=1e-12)
        assert w.loc[region, "industry_mix"] == pytest.approx(mix, rel=1e-12)
        assert w.loc[region, "regional"] == pytest.approx(regional, rel=1e-12)
    assert w.loc["01", "actual_change"] == 35 and w.loc["02", "actual_change"] == 25
    # region 01 by hand: national 200 * 60/350 = 34.2857; regional 50 (0.1 - 0.2333) +
    # 150 (0.2 - 0.125) = -6.6667 + 11.25 = 4.5833
    assert w.loc["01", "national"] == pytest.approx(34.285714, abs=1e-6)
    assert w.loc["01", "regional"] == pytest.approx(4.583333, abs=1e-6)
    # national 100 minus the counties' 35 + 25
    apart = out.attrs["apart"]
    assert apart["value"] == pytest.approx(40.0)
    assert apart["national_growth"] == pytest.approx(0.2)
    assert apart["regions_growth"] == pytest.approx(60 / 350)
    assert out.attrs["regions"] == ["01", "02"]
    assert out.attrs["pooled"] == [] and out.attrs["pooled_share"]["overall"] == 0.0
    assert out.attrs["window"] == (2010, 2011) and out.attrs["price"] == "current"
    assert out["status"].dtype == "string" and out["status"].isna().all()
    assert list(out["component"].unique()) == [
        "national",
        "industry_mix",
        "regional",
        "actual_change",
    ]


def test_two_by_two_against_the_nation_by_hand():
    out = shift_share(_frame(TWO_BY_TWO), 2010, 2011, reference="0")
    g_n = 100 / 500
    g_ref = {"01-02": 30 / 170, "03": 70 / 330}
    w = _wide(out)
    for region in ("01", "02"):
        rows = {i: TWO_BY_TWO[(region, i)] for i in ("01-02", "03")}
        national, mix, regional = _dunn(rows, g_n, g_ref)
        assert w.loc[region, "national"] == pytest.approx(national, rel=1e-12)
        assert w.loc[region, "industry_mix"] == pytest.approx(mix, rel=1e-12)
        assert w.loc[region, "regional"] == pytest.approx(regional, rel=1e-12)
    # against the nation the regional components do not cancel: 50(0.1 - 30/170) +
    # 150(0.2 - 70/330) + 100(0.3 - 30/170) + 50(-0.1 - 70/330) = -8.8948 (by hand)
    assert w["regional"].sum() == pytest.approx(-8.894831, abs=1e-6)


# --------------------------------------------------------------------------------------------
# sums


def _three_regions():
    return {
        ("01", "01-02"): (10, 14),
        ("01", "03"): (30, 27),
        ("01", "35"): (60, 80),
        ("01", "TOTAL"): (100, 121),
        ("02", "01-02"): (40, 38),
        ("02", "03"): (":", ":"),
        ("02", "35"): (20, 35),
        ("02", "TOTAL"): (90, 100),
        ("03", "01-02"): (5, 9),
        ("03", "03"): (70, 60),
        ("03", "35"): (":", 8),
        ("03", "TOTAL"): (80, 77),
    }


@pytest.mark.parametrize("price", ["current", "volume"])
def test_components_sum_to_change_and_cancel_across_regions(price):
    cells = _three_regions()
    acc = _frame(cells)
    if price == "volume":
        changes = {k: (NaN, 3.0 + i) for i, k in enumerate(cells)}
        acc = pd.concat([acc, _frame(changes, measure="value_added_volume_change")])
    out = shift_share(acc, 2010, 2011, price=price)
    w = _wide(out)
    total = w["actual_change"].abs().sum()
    parts = w["national"] + w["industry_mix"] + w["regional"]
    assert np.allclose(parts, w["actual_change"], rtol=0, atol=1e-12 * total)
    assert abs(w["regional"].sum()) <= 1e-9 * total
    assert abs(w["industry_mix"].sum()) <= 1e-9 * total
    assert w["national"].sum() == pytest.approx(w["actual_change"].sum(), rel=1e-12)
    if price == "current":  # the rows of every region add up to its TOTAL
        assert w["actual_change"].to_dict() == pytest.approx({"01": 21, "02": 10, "03": -3})


# --------------------------------------------------------------------------------------------
# suppression

SUPPRESSED = {
    ("01", "01-02"): (50, 55),
    ("01", "06_09.1"): (50, 60),
    ("01", "06"): (":", 30),
    ("01", "09.1"): (20, 30),
    ("01", "TOTAL"): (100, 115),
    ("02", "01-02"): (80, 100),
    ("02", "06_09.1"): (20, 21),
    ("02", "06"): (10, 12),
    ("02", "09.1"): (10, 9),
    ("02", "TOTAL"): (100, 121),
}


def test_a_suppressed_leaf_is_pooled_into_its_parent_in_that_region_only():
    out, det = shift_share(_frame(SUPPRESSED), 2010, 2011, detail=True)
    rows = {
        r: dict(zip(f["row"], zip(f["start"], f["end"], strict=True), strict=True))
        for r, f in det.groupby("region")
    }
    # 01: 06 pooled into 06_09.1's residual = 06_09.1 - 09.1 = 30 -> 30
    assert rows["01"] == {"01-02": (50, 55), "09.1": (20, 30), "06_09.1 residual": (30, 30)}
    # 02: everything published, 06 stays a row of its own
    assert rows["02"] == {"01-02": (80, 100), "06": (10, 12), "09.1": (10, 9)}
    (pooled,) = out.attrs["pooled"]
    assert pooled["region"] == "01" and pooled["row"] == "06_09.1 residual"
    assert pooled["industries"] == "06" and "suppressed (:) in 2010" in pooled["reason"]
    assert pooled["start_value"] == 30
    share = out.attrs["pooled_share"]
    assert share["overall"] == pytest.approx(30 / 200)
    assert share["by_region"] == pytest.approx({"01": 0.3, "02": 0.0})
    # references by hand: 01-02 130 -> 155, 06 10 -> 12 (02 only), 09.1 30 -> 39,
    # residual 30 -> 30 (01 only), all 200 -> 236
    g_n = 36 / 200
    g_ref = {"01-02": 25 / 130, "06": 0.2, "09.1": 9 / 30, "06_09.1 residual": 0.0}
    ref = det.set_index(["region", "row"])["reference_growth"]
    assert ref[("02", "06")] == pytest.approx(0.2)
    assert ref[("01", "06_09.1 residual")] == pytest.approx(0.0)
    w = _wide(out)
    for region in ("01", "02"):
        national, mix, regional = _dunn(rows[region], g_n, g_ref)
        assert w.loc[region, "national"] == pytest.approx(national, rel=1e-12)
        assert w.loc[region, "industry_mix"] == pytest.approx(mix, rel=1e-12)
        assert w.loc[region, "regional"] == pytest.approx(regional, rel=1e-12)
    # the residual is its own reference: no regional component
    assert det.set_index(["region", "row"]).loc[("01", "06_09.1 residual"), "regional"] == 0
    assert w.loc["01", "actual_change"] == 15 and w.loc["02", "actual_change"] == 21


def test_a_leaf_under_an_unpublished_parent_goes_to_other():
    cells = dict(SUPPRESSED)
    cells[("01", "06_09.1")] = (":", ":")
    out, det = shift_share(_frame(cells), 2010, 2011, detail=True)
    f = det[det["region"] == "01"].set_index("row")
    # OTHER = TOTAL - 01-02 - 09.1 = 100 - 50 - 20 = 30 -> 115 - 55 - 30 = 30
    assert set(f.index) == {"01-02", "09.1", "OTHER"}
    assert (f.loc["OTHER", "start"], f.loc["OTHER", "end"]) == (30, 30)
    assert f.loc["OTHER", "kind"] == "residual" and f.loc["OTHER", "industries"] == "06"
    assert [p["row"] for p in out.attrs["pooled"]] == ["OTHER"]
    assert set(det.loc[det["region"] == "02", "row"]) == {"01-02", "06", "09.1"}


# --------------------------------------------------------------------------------------------
# volume

VOLUME_YEARS = (2010, 2011, 2012)


def _volume_frame(level, changes):
    acc = _frame(level, years=VOLUME_YEARS)
    vol = _frame(changes, years=VOLUME_YEARS, measure="value_added_volume_change")
    return pd.concat([acc, vol], ignore_index=True)


LEVELS = {
    ("01", "01-02"): (50, 60, 70),
    ("01", "03"): (50, 52, 54),
    ("01", "TOTAL"): (100, 112, 124),
    ("02", "01-02"): (40, 41, 42),
    ("02", "03"): (60, 61, 62),
    ("02", "TOTAL"): (100, 102, 104),
}
CHANGES = {
    ("01", "01-02"): ("..", 10.0, -10.0),
    ("01", "03"): ("..", 5.0, 5.0),
    ("01", "TOTAL"): ("..", 7.5, -2.5),
    ("02", "01-02"): ("..", 0.0, 0.0),
    ("02", "03"): ("..", 1.0, ".."),
    ("02", "TOTAL"): ("..", 2.0, 3.0),
}


def test_volume_chains_the_cells_own_changes():
    out, det = shift_share(_volume_frame(LEVELS, CHANGES), 2010, 2012, price="volume", detail=True)
    f = det.set_index(["region", "row"])
    assert f.loc[("01", "01-02"), "end"] == pytest.approx(50 * 1.1 * 0.9)
    assert f.loc[("01", "03"), "end"] == pytest.approx(50 * 1.05 * 1.05)
    assert f.loc[("02", "01-02"), "end"] == pytest.approx(40.0)
    # 02's fisheries have no 2012 volume change: pooled into OTHER, whose current-price end
    # value 104 - 42 = 62 is deflated with TOTAL's implicit deflator (chained 100*1.02*1.03
    # per current 104)
    assert ("02", "03") not in f.index
    other_end = 62 * (100 * 1.02 * 1.03 / 104)
    assert f.loc[("02", "OTHER"), "start"] == pytest.approx(60.0)
    assert f.loc[("02", "OTHER"), "end"] == pytest.approx(other_end)
    (pooled,) = out.attrs["pooled"]
    assert pooled["region"] == "02" and pooled["industries"] == "03"
    assert "no volume change" in pooled["reason"] and "2012" in pooled["reason"]
    assert out.attrs["pooled_share"]["overall"] == pytest.approx(60 / 200)
    # chain-linked parts do not add up to the chained TOTAL: reported, not hidden
    gap = 50 * 1.1 * 0.9 + 50 * 1.05**2 - 100 * 1.075 * 0.975
    assert out.attrs["total_gap"]["01"] == pytest.approx(gap)
    assert out.attrs["total_gap"]["02"] == pytest.approx(40 + other_end - 100 * 1.02 * 1.03)
    assert any("not additive" in n for n in out.attrs["notes"])
    assert any("implicit deflator" in n for n in out.attrs["notes"])
    assert "constant 2010 prices" in out.attrs["units"]
    w = _wide(out)
    assert np.allclose(w["national"] + w["industry_mix"] + w["regional"], w["actual_change"])
    assert w.loc["01", "actual_change"] == pytest.approx(50 * 0.99 + 50 * 1.05**2 - 100)


def test_volume_only_for_value_added():
    with pytest.raises(ValueError, match="value_added"):
        shift_share(_frame(TWO_BY_TWO), 2010, 2011, measure="employed_persons", price="volume")


# --------------------------------------------------------------------------------------------
# regions and bad input


def test_bad_windows_name_the_years_available():
    acc = _frame(TWO_BY_TWO)
    with pytest.raises(InsufficientData, match="2010-2011"):
        shift_share(acc, 2005, 2011)
    with pytest.raises(InsufficientData, match="2010-2011"):
        shift_share(acc, 2010, 2020)
    with pytest.raises(ValueError, match="start < end"):
        shift_share(acc, 2011, 2010)
    with pytest.raises(ValueError, match="price"):
        shift_share(acc, 2010, 2011, price="real")


def test_a_region_without_total_is_left_out_or_named():
    cells = dict(TWO_BY_TWO)
    cells.update({("03", "01-02"): (1, 2), ("03", "03"): (3, 4), ("03", "TOTAL"): (":", ":")})
    acc = _frame(cells)
    out = shift_share(acc, 2010, 2011)
    assert out.attrs["regions"] == ["01", "02"]
    assert "suppressed" in out.attrs["excluded"]["03"]
    with pytest.raises(InsufficientData, match="'03'"):
        shift_share(acc, 2010, 2011, regions=["01", "03"])
    with pytest.raises(ValueError, match="whole country"):
        shift_share(acc, 2010, 2011, regions=["0", "01"])


def test_trondelag_halves_are_dropped_when_the_merged_county_is_usable():
    cells = {
        ("01", "01-02"): (10, 11),
        ("01", "TOTAL"): (10, 11),
        ("16", "01-02"): (20, 22),
        ("16", "TOTAL"): (20, 22),
        ("17", "01-02"): (30, 36),
        ("17", "TOTAL"): (30, 36),
    }
    merged = merge_trondelag(_frame(cells))
    out = shift_share(merged, 2010, 2011)
    assert out.attrs["regions"] == ["01", "50"]
    assert set(out.attrs["excluded"]) == {"16", "17"}
    assert _wide(out).loc["50", "actual_change"] == pytest.approx(8.0)
    with pytest.raises(ValueError, match="twice"):
        shift_share(merged, 2010, 2011, regions=["16", "50"])


# --------------------------------------------------------------------------------------------
# the real snapshot


@pytest.fixture(scope="module")
def merged_accounts(snapshot_dir):
    import regionstats as rs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        accounts = rs.regional_accounts("snapshot", snapshot=snapshot_dir)
    return merge_trondelag(accounts)


def _total_change(acc, region, start=2008, end=2019):
    f = acc[
        (acc["region"] == region) & (acc["industry"] == "TOTAL") & (acc["measure"] == "value_added")
    ].set_index("year")["value"]
    return float(f[end] - f[start]), float(f[start])


@pytest.mark.snapshot
def test_snapshot_2008_2019_current_prices(merged_accounts):
    acc = merged_accounts
    out, det = shift_share(acc, 2008, 2019, detail=True)
    counties = sorted(set(acc["region"]) - {"0", "16", "17"})
    assert out.attrs["regions"] == counties and len(counties) == 18
    w = _wide(out)
    total = float(w["actual_change"].abs().sum())
    assert abs(w["regional"].sum()) < 1e-6 * total
    assert abs(w["industry_mix"].sum()) < 1e-6 * total
    # every row's regional components cancel across regions
    assert det.groupby("row")["regional"].sum().abs().max() < 1e-6 * total
    # the reference is the counties' own TOTAL growth
    changes = {r: _total_change(acc, r) for r in counties}
    g_n = sum(c for c, _ in changes.values()) / sum(s for _, s in changes.values())
    for r, (change, start) in changes.items():
        assert w.loc[r, "actual_change"] == pytest.approx(change, rel=1e-12)
        assert w.loc[r, "national"] == pytest.approx(start * g_n, rel=1e-12)
    # continental shelf and unallocated = national change - counties' TOTAL changes
    national_change, _ = _total_change(acc, "0")
    apart = national_change - sum(c for c, _ in changes.values())
    assert out.attrs["apart"]["value"] == pytest.approx(apart, rel=1e-12)
    share = out.attrs["pooled_share"]["overall"]
    print(f"\npooled share 2008-2019 (current prices): {share:.4f}; apart {apart:.0f} NOK mn")
    assert share < 0.10  # the old single OTHER held 41 % of 2008 value added
    assert math.isfinite(share) and share > 0  # fisheries are suppressed in 11 counties
    assert max(out.attrs["pooled_share"]["by_region"].values()) < 0.41


@pytest.mark.snapshot
def test_snapshot_2008_2019_volume(merged_accounts):
    out = shift_share(merged_accounts, 2008, 2019, price="volume")
    w = _wide(out)
    assert np.allclose(
        w["national"] + w["industry_mix"] + w["regional"], w["actual_change"], rtol=0, atol=1e-6
    )
    total = float(w["actual_change"].abs().sum())
    assert abs(w["regional"].sum()) < 1e-6 * total
    # merge_trondelag aggregates Trøndelag's 2009-2017 volume change from 16 and 17: 18 regions
    assert "50" in out.attrs["regions"] and len(out.attrs["regions"]) == 18
    assert out.attrs["pooled_share"]["overall"] < 0.10
    print(f"\npooled share 2008-2019 (volume): {out.attrs['pooled_share']['overall']:.4f}")


def test_national_reference_uses_the_nations_rate_of_what_was_pooled():
    cells = dict(SUPPRESSED)
    cells.update(
        {
            ("0", "01-02"): (200, 220),
            ("0", "06_09.1"): (300, 330),
            ("0", "06"): (200, 250),
            ("0", "09.1"): (100, 80),
            ("0", "TOTAL"): (500, 550),
        }
    )
    out, det = shift_share(_frame(cells), 2010, 2011, reference="0", detail=True)
    ref = det.set_index(["region", "row"])["reference_growth"]
    # 01 pooled 06 into 06_09.1's residual: its national rate is that of 06, 200 -> 250
    assert ref[("01", "06_09.1 residual")] == pytest.approx(0.25)
    assert ref[("02", "09.1")] == pytest.approx(-0.2)
    w = _wide(out)
    rows = {"01-02": (50, 55), "09.1": (20, 30), "06_09.1 residual": (30, 30)}
    g_ref = {"01-02": 0.1, "09.1": -0.2, "06_09.1 residual": 0.25}
    national, mix, regional = _dunn(rows, 0.1, g_ref)
    assert w.loc["01", "national"] == pytest.approx(national)
    assert w.loc["01", "industry_mix"] == pytest.approx(mix)
    assert w.loc["01", "regional"] == pytest.approx(regional)
