"""Centrality-class estimates: hand-worked cases, a placebo with a known answer, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from regionstats.analysis.classes import class_estimates
from regionstats.analysis.errors import InsufficientData

NA = pd.NA


def _acc(rows):
    """Accounts rows (region, industry, measure, year, value[, status])."""
    out = pd.DataFrame(
        [r if len(r) == 6 else (*r, NA) for r in rows],
        columns=["region", "industry", "measure", "year", "value", "status"],
    )
    out["status"] = out["status"].astype("string")
    return out


def _two_county_case(finance_08=(20.0, 30.0)):
    """Two counties x two groups (10-33 industry, 64-66 finance), 2010-2012.

    County 08: industry 100 -> 110 -> 132 (volume +5 %, +10 %), finance as given.
    County 11: industry 300 -> 300 -> 330 (volume 0 %, +5 %), finance 50 -> 50.
    """
    rows = []
    va = {
        ("08", "10-33"): [100.0, 110.0, 132.0],
        ("11", "10-33"): [300.0, 300.0, 330.0],
        ("08", "64-66"): [finance_08[0], 25.0, finance_08[1]],
        ("11", "64-66"): [50.0, 50.0, 50.0],
    }
    vol = {("08", "10-33"): [5.0, 10.0], ("11", "10-33"): [0.0, 5.0],
           ("08", "64-66"): [0.0, 0.0], ("11", "64-66"): [0.0, 0.0]}  # fmt: skip
    ep = {("08", "10-33"): [10.0, 10.0, 10.0], ("11", "10-33"): [20.0, 20.0, 22.0],
          ("08", "64-66"): [1.0, 1.0, 1.0], ("11", "64-66"): [2.0, 2.0, 2.0]}  # fmt: skip
    for c in ("08", "11"):
        for t, y in enumerate((2010, 2011, 2012)):
            tot = 0.0
            tot_ep = 0.0
            for i in ("10-33", "64-66"):
                rows.append((c, i, "value_added", y, va[c, i][t]))
                rows.append((c, i, "employed_persons", y, ep[c, i][t]))
                tot += va[c, i][t]
                tot_ep += ep[c, i][t]
                if t:
                    rows.append((c, i, "value_added_volume_change", y, vol[c, i][t - 1]))
            rows.append((c, "TOTAL", "value_added", y, tot))
            rows.append((c, "TOTAL", "employed_persons", y, tot_ep))
            if t:
                # TOTAL's volume change as SSB computes it: previous-year-price volumes add up
                q = sum(va[c, i][t - 1] * (1 + vol[c, i][t - 1] / 100) for i in ("10-33", "64-66"))
                prev = sum(va[c, i][t - 1] for i in ("10-33", "64-66"))
                rows.append((c, "TOTAL", "value_added_volume_change", y, 100 * (q / prev - 1)))
    acc = _acc(rows)
    # municipalities: 0801 (class 6) and 0802 (class 1) in 08; 1101 (class 6), 1102 (class 2)
    emp_rows = []
    shares = {"0801": [1, 1, 3], "0802": [3, 3, 1], "1101": [1, 1, 1], "1102": [1, 1, 1]}
    for m, s in shares.items():
        for t, y in enumerate((2010, 2011, 2012)):
            emp_rows.append((m, "10-33", y, float(s[t]), NA))
            emp_rows.append((m, "64-66", y, 1.0, NA))
    emp = pd.DataFrame(emp_rows, columns=["region", "industry", "year", "value", "status"])
    cls = pd.DataFrame({"region": list(shares), "centrality_class": [6, 1, 6, 2]})
    cty = pd.DataFrame({"region": list(shares), "county": ["08", "08", "11", "11"]})
    return acc, emp, cls, cty


def _g(out, group, measure, price, col="growth"):
    g = out["growth"].set_index(["group", "measure", "price"])
    return float(g.loc[(group, measure, price), col])


def test_hand_worked_two_counties():
    acc, emp, cls, cty = _two_county_case()
    out = class_estimates(acc, emp, cls, cty, window=2, sensitivity=False, min_municipalities=1)
    # industry only (finance excluded). Class 6 = 0801 + 1101:
    # 2010: 0801 gets 100 * 1/4 = 25, 1101 gets 300 * 1/2 = 150 -> 175
    # 2012: 0801 gets 132 * 3/4 = 99, 1101 gets 330 * 1/2 = 165 -> 264
    assert _g(out, "classes 5-6", "value_added", "current") == pytest.approx(264 / 175 - 1)
    # national = 400 -> 462
    assert _g(out, "national", "value_added", "current") == pytest.approx(462 / 400 - 1)
    # volume, chained at previous-year prices. 2011: class 6 = 0801 27.5 (110/4), 1101 150;
    # at 2010 prices: 27.5/1.1*1.05 ... the county deflator of 08 in 2011 is 110/(100*1.05);
    # Q_2011 = 27.5 * 105/110 + 150 * 300/300 = 26.25 + 150 = 176.25; link = 176.25/175
    # 2012: 0801 99 * (110*1.1)/132 = 90.75, 1101 165 * (300*1.05)/330 = 157.5 -> 248.25;
    # link = 248.25 / (27.5 + 150)
    vol = (176.25 / 175) * (248.25 / 177.5)
    assert _g(out, "classes 5-6", "value_added", "volume") == pytest.approx(vol - 1)
    # national volume: 2011 (105 + 300)/400, 2012 (121 + 315)/410
    nat = (405 / 400) * (436 / 410)
    assert _g(out, "national", "value_added", "volume") == pytest.approx(nat - 1)
    # employed persons allocated with the same shares: class 6 2010 10/4 + 20/2 = 12.5,
    # 2012 10*3/4 + 22/2 = 18.5; productivity (current) = (264/18.5) / (175/12.5) - 1
    assert _g(out, "classes 5-6", "productivity", "current") == pytest.approx(
        (264 / 18.5) / (175 / 12.5) - 1
    )
    # annual rates and the comparison in percentage points per year
    cmp = out["comparison"].set_index(["measure", "price", "comparison"])["value"]
    lo = (264 / 175) ** 0.5 - 1
    hi_n = (462 / 400) ** 0.5 - 1
    assert cmp["value_added", "current", "low_minus_national"] == pytest.approx(100 * (lo - hi_n))
    # classes 1-2 = 0802 + 1102: 2010 75 + 150 = 225, 2012 33 + 165 = 198
    hi = (198 / 225) ** 0.5 - 1
    assert cmp["value_added", "current", "low_minus_high"] == pytest.approx(100 * (lo - hi))


def test_finance_is_excluded_and_scope_all_includes_it():
    acc, emp, cls, cty = _two_county_case(finance_08=(20.0, 80.0))
    excl = class_estimates(acc, emp, cls, cty, window=2, sensitivity=False, min_municipalities=1)
    alls = class_estimates(
        acc, emp, cls, cty, window=2, sensitivity=False, min_municipalities=1, scope="all"
    )
    assert _g(excl, "national", "value_added", "current") == pytest.approx(462 / 400 - 1)
    # with finance: 2010 400 + 20 + 50, 2012 462 + 80 + 50
    assert _g(alls, "national", "value_added", "current") == pytest.approx(592 / 470 - 1)


def test_decomposition_adds_up_to_the_difference_in_current_prices():
    acc, emp, cls, cty = _two_county_case()
    out = class_estimates(
        acc, emp, cls, cty, window=2, sensitivity=False, min_municipalities=1, scope="all"
    )
    d = out["decomposition"]
    cur = d[d["price"] == "current"]
    diff = _g(out, "classes 5-6", "value_added", "current") - _g(
        out, "national", "value_added", "current"
    )
    assert cur["contribution"].sum() == pytest.approx(100 * diff)
    assert (cur["mix"] + cur["within"]).to_numpy() == pytest.approx(cur["contribution"])


def test_placebo_same_mix_everywhere_gives_no_difference():
    """Every municipality with the same industry mix in one county: any class grows exactly as
    the nation, whatever the data -- the method's known answer."""
    rng = np.random.default_rng(7)
    years = range(2008, 2019)
    rows = []
    for y in years:
        a, b = float(rng.uniform(50, 150)), float(rng.uniform(10, 90))
        for i, v in (("10-33", a), ("45-47", b)):
            rows.append(("08", i, "value_added", y, v))
            rows.append(("08", i, "employed_persons", y, v / 10))
            rows.append(("08", i, "value_added_volume_change", y, float(rng.normal(2, 3))))
        rows.append(("08", "TOTAL", "value_added", y, a + b))
        rows.append(("08", "TOTAL", "employed_persons", y, (a + b) / 10))
        rows.append(("08", "TOTAL", "value_added_volume_change", y, 1.0))
    acc = _acc(rows)
    munis = [f"08{k:02d}" for k in range(1, 13)]
    size = {m: float(rng.uniform(1, 10)) for m in munis}
    emp = pd.DataFrame(
        [
            (m, i, y, size[m] * (2.0 if i == "10-33" else 1.0), NA)
            for m in munis
            for i in ("10-33", "45-47")
            for y in years
        ],  # fmt: skip
        columns=["region", "industry", "year", "value", "status"],
    )
    cls = pd.DataFrame({"region": munis, "centrality_class": [1, 2, 3, 4, 5, 6] * 2})
    cty = pd.DataFrame({"region": munis, "county": "08"})
    out = class_estimates(acc, emp, cls, cty, scope="all", min_municipalities=2)
    c = out["comparison"]
    assert c["value"].abs().max() < 1e-9
    assert c["range_low"].abs().max() < 1e-9 and c["range_high"].abs().max() < 1e-9
    assert out["summary"]["window"] == (2008, 2018)


def test_suppressed_group_goes_to_the_residual_and_totals_hold():
    acc, emp, cls, cty = _two_county_case()
    sup = (acc["region"] == "11") & (acc["industry"] == "10-33") & (acc["measure"] == "value_added")
    acc.loc[sup, "value"] = np.nan
    acc.loc[sup, "status"] = ":"
    out = class_estimates(acc, emp, cls, cty, window=2, sensitivity=False, min_municipalities=1)
    # the national total still equals the scoped county totals: 400 -> 462
    assert _g(out, "national", "value_added", "current") == pytest.approx(462 / 400 - 1)
    groups = set(out["decomposition"]["group"])
    assert "RESIDUAL" in groups


def test_missing_volume_change_is_taken_nationally_with_a_note():
    acc, emp, cls, cty = _two_county_case()
    gone = (
        (acc["region"] == "08")
        & (acc["industry"] == "10-33")
        & (acc["measure"] == "value_added_volume_change")
        & (acc["year"] == 2011)
    )
    acc.loc[gone, "value"] = np.nan
    acc.loc[gone, "status"] = ":"
    national = acc[(acc["region"] == "08")].assign(region="0")
    national.loc[gone[acc["region"] == "08"].to_numpy(), ["value", "status"]] = [7.0, NA]
    out = class_estimates(
        pd.concat([acc, national]), emp, cls, cty, window=2, sensitivity=False,
        min_municipalities=1,
    )  # fmt: skip
    assert any("nationally" in n for n in out["summary"]["notes"])
    # national volume 2011: 08 at the national +7 %: (107 + 300)/400
    nat = (407 / 400) * (436 / 410)
    assert _g(out, "national", "value_added", "volume") == pytest.approx(nat - 1)


def test_short_data_give_a_note_and_too_short_an_error():
    acc, emp, cls, cty = _two_county_case()
    out = class_estimates(acc, emp, cls, cty, sensitivity=False, min_municipalities=1)
    assert out["summary"]["years"] == 2
    assert any("2-year window" in n for n in out["summary"]["notes"])
    assert any("ten years" in c for c in out["summary"]["caveats"])
    one_year = emp[emp["year"] == 2012]
    with pytest.raises(InsufficientData, match="share 1 year"):
        class_estimates(acc, one_year, cls, cty)


def test_thin_class_gets_a_status_and_a_note():
    acc, emp, cls, cty = _two_county_case()
    out = class_estimates(acc, emp, cls, cty, window=2, sensitivity=False, min_municipalities=3)
    g = out["growth"].set_index(["group", "measure", "price"])
    assert g.loc[("classes 5-6", "value_added", "current"), "status"] == ".."
    assert np.isnan(g.loc[("classes 5-6", "value_added", "current"), "growth"])
    assert any("fewer than 3" in n for n in out["summary"]["notes"])


def test_population_status_is_missing_not_zero():
    acc, emp, cls, cty = _two_county_case()
    pop = pd.DataFrame(
        [(m, y, 100.0, NA) for m in cls["region"] for y in (2010, 2011, 2012)],
        columns=["region", "year", "value", "status"],
    )
    pop.loc[(pop["region"] == "0801") & (pop["year"] == 2010), ["value", "status"]] = [
        np.nan,
        "..",
    ]
    pop.loc[(pop["region"] == "1101") & (pop["year"] == 2012), "value"] = 150.0
    out = class_estimates(acc, emp, cls, cty, window=2, population=pop, min_municipalities=1)
    p = out["population"].set_index("group")
    # 0801 left out (not 0): class 6 = 1101 only, 100 -> 150
    assert p.loc["low", "growth"] == pytest.approx(0.5)
    assert p.loc["low", "n_municipalities"] == 1
    assert any("not counted as 0" in n for n in out["summary"]["notes"])
    # the population key is one of the sensitivity settings
    assert "population (a residence-based key; 07459)" in set(out["variants"]["setting"])


@pytest.mark.snapshot
def test_telemark_classes_sum_to_the_county_excluding_finance(snapshot_dir, code_history):
    import regionstats as rs

    inp = rs.load_inputs(rs.RunParameters(), offline=True, snapshot=snapshot_dir)
    cty = rs.municipality_counties(sorted(set(inp.employment["region"])), 2024,
                                   history=inp.history)  # fmt: skip
    out = class_estimates(inp.accounts, inp.employment, inp.centrality, cty, sensitivity=False)
    acc = inp.accounts
    va = acc[(acc["measure"] == "value_added") & (acc["region"] == "08")].set_index(
        ["industry", "year"]
    )["value"]
    s = out["summary"]
    start, end = s["window"]
    expected = (va["TOTAL", end] - va["64-66", end]) / (va["TOTAL", start] - va["64-66", start])
    assert _g(out, "national", "value_added", "current") == pytest.approx(expected - 1)
    assert s["counties"] == ["08"]


def test_a_later_county_structure_ends_the_window_with_a_note():
    """Live 11713 moves to the 2020 counties: years where the mapped counties have no TOTAL are
    not allocated from (and the note says so), rather than failing or mixing structures."""
    acc, emp, cls, cty = _two_county_case()
    later = acc[acc["year"] == 2012].assign(year=2013)
    old = later.copy()
    old["value"] = np.nan
    old["status"] = "."
    new_county = later[later["region"] == "08"].assign(region="30")  # a county of the new structure
    emp13 = emp[emp["year"] == 2012].assign(year=2013)
    out = class_estimates(
        pd.concat([acc, old, new_county]), pd.concat([emp, emp13]), cls, cty,
        sensitivity=False, min_municipalities=1,
    )  # fmt: skip
    assert out["summary"]["window"] == (2010, 2012)
    assert any("later county structure" in n for n in out["summary"]["notes"])
