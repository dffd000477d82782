"""Chain index, volume aggregation, CAGR and the growth decomposition, worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from regionstats.indicators import (
    Scope,
    cagr,
    chain_index,
    growth_decomposition,
    growth_index,
    productivity,
    scope_volume_change,
    value_added,
)


def _series(values, statuses=None, years=None, region="01"):
    years = years or list(range(2010, 2010 + len(values)))
    statuses = statuses or [None] * len(values)
    return pd.DataFrame(
        {
            "region": pd.Series([region] * len(values), dtype="str"),
            "year": pd.Series(years, dtype="int64"),
            "value": [np.nan if v is None else float(v) for v in values],
            "status": pd.array([s if s else pd.NA for s in statuses], dtype="string"),
        }
    )


def test_chain_index_forward_and_backward():
    # changes: 2010 (unused), 2011 +10 %, 2012 +20 %, 2013 -50 %; base 2012
    # I_2012 = 100; I_2013 = 100 * 0.5 = 50; I_2011 = 100 / 1.2 = 83.333...;
    # I_2010 = 83.333 / 1.1 = 75.7575...
    f = _series([None, 10, 20, -50], ["..", None, None, None])
    out = chain_index(f, 2012)
    assert out["value"].tolist() == pytest.approx([100 / 1.2 / 1.1, 100 / 1.2, 100.0, 50.0])
    assert out["status"].isna().all()
    assert out.attrs["base_year"] == 2012


def test_chain_index_default_base_is_last_year():
    # +100 % then +100 %: I_2012 = 100, I_2011 = 50, I_2010 = 25
    out = chain_index(_series([None, 100, 100], ["..", None, None]))
    assert out["value"].tolist() == [25.0, 50.0, 100.0]


def test_chain_index_missing_link_propagates():
    # 2012's change is suppressed: with base 2010, 2012 and 2013 cannot be linked
    f = _series([None, 10, None, 5], ["..", None, ":", None])
    out = chain_index(f, 2010)
    assert out["value"].iloc[:2].tolist() == pytest.approx([100.0, 110.0])
    assert out["value"].iloc[2:].isna().all()
    assert out["status"].iloc[2:].tolist() == [":", ":"]


def test_chain_index_base_year_outside():
    with pytest.raises(ValueError, match="base year 2030"):
        chain_index(_series([None, 1.0]), 2030)


def test_cagr_by_hand():
    # 100 -> 121 over 2 years: sqrt(1.21) - 1 = 0.1
    out = cagr(_series([100, 110, 121]), 2010, 2012)
    assert out["value"].iloc[0] == pytest.approx(0.1)
    # 200 -> 100 over 1 year: -0.5
    assert cagr(_series([200, 100]), 2010, 2011)["value"].iloc[0] == pytest.approx(-0.5)


def test_cagr_window_outside_data_raises():
    with pytest.raises(ValueError, match="outside the data"):
        cagr(_series([1, 2, 3]), 2008, 2012)
    with pytest.raises(ValueError, match="start < end"):
        cagr(_series([1, 2, 3]), 2012, 2010)


def test_cagr_missing_and_nonpositive_are_symbols():
    out = cagr(_series([None, 5], [":", None]), 2010, 2011)
    assert math.isnan(out["value"].iloc[0]) and out["status"].iloc[0] == ":"
    out = cagr(_series([0, 5]), 2010, 2011)
    assert math.isnan(out["value"].iloc[0]) and out["status"].iloc[0] == "."


def test_growth_index():
    # 50, 100, 80 with base 2011 -> 50, 100, 80; base 2010 -> 100, 200, 160
    out = growth_index(_series([50, 100, 80]), 2010)
    assert out["value"].tolist() == [100.0, 200.0, 160.0]


def test_growth_decomposition_adds_up(make_accounts):
    # VA 100 -> 150 (NOK million), E 10 -> 12 (1000 persons), so P 10 000 -> 12 500 NOK.
    # g_VA = 0.5, g_E = 0.2, g_P = 0.25 and 1.5 = 1.2 * 1.25; over 2 years:
    # cagr_VA = sqrt(1.5) - 1 = 0.224744...
    frame = make_accounts(
        [
            ("01", "TOTAL", "value_added", 2010, 100.0, None),
            ("01", "TOTAL", "value_added", 2011, 120.0, None),
            ("01", "TOTAL", "value_added", 2012, 150.0, None),
            ("01", "TOTAL", "employed_persons", 2010, 10.0, None),
            ("01", "TOTAL", "employed_persons", 2011, 11.0, None),
            ("01", "TOTAL", "employed_persons", 2012, 12.0, None),
        ]
    )
    out = growth_decomposition(frame, "all", 2010, 2012)
    g = out.set_index(["component", "measure"])["value"]
    assert g["value_added", "growth"] == pytest.approx(0.5)
    assert g["employment", "growth"] == pytest.approx(0.2)
    assert g["productivity", "growth"] == pytest.approx(0.25)
    assert g["value_added", "cagr"] == pytest.approx(math.sqrt(1.5) - 1)
    assert g["value_added", "log_change"] == pytest.approx(
        g["employment", "log_change"] + g["productivity", "log_change"], abs=1e-12
    )
    assert g["value_added", "log_change"] == pytest.approx(math.log(1.5))
    assert 1 + g["value_added", "cagr"] == pytest.approx(
        (1 + g["employment", "cagr"]) * (1 + g["productivity", "cagr"])
    )
    with pytest.raises(ValueError, match="outside the data"):
        growth_decomposition(frame, "all", 2010, 2015)


def _volume_frame(make_accounts):
    # Industries A = "01-02" (VA 100 in 2010, +10 % in 2011) and B = "03" (VA 300, 0 %);
    # TOTAL = 400 with the published aggregate change +2.5 %.
    return make_accounts(
        [
            ("01", "01-02", "value_added", 2010, 100.0, None),
            ("01", "01-02", "value_added", 2011, 115.0, None),
            ("01", "01-02", "value_added_volume_change", 2010, np.nan, ".."),
            ("01", "01-02", "value_added_volume_change", 2011, 10.0, None),
            ("01", "03", "value_added", 2010, 300.0, None),
            ("01", "03", "value_added", 2011, 310.0, None),
            ("01", "03", "value_added_volume_change", 2010, np.nan, ".."),
            ("01", "03", "value_added_volume_change", 2011, 0.0, None),
            ("01", "TOTAL", "value_added", 2010, 400.0, None),
            ("01", "TOTAL", "value_added", 2011, 425.0, None),
            ("01", "TOTAL", "value_added_volume_change", 2010, np.nan, ".."),
            ("01", "TOTAL", "value_added_volume_change", 2011, 2.5, None),
            ("01", "TOTAL", "employed_persons", 2010, 0.4, None),
            ("01", "TOTAL", "employed_persons", 2011, 0.5, None),
        ]
    )


def test_scope_volume_change_chain_links(make_accounts):
    frame = _volume_frame(make_accounts)
    # A + B: (100 * 1.10 + 300 * 1.00) / (100 + 300) - 1 = 410 / 400 - 1 = 2.5 %
    out = scope_volume_change(frame, ["01-02", "03"]).set_index("year")
    assert out.loc[2011, "value"] == pytest.approx(2.5)
    assert out.loc[2010, "status"] == ".."
    # TOTAL - B: (400 * 1.025 - 300 * 1.0) / (400 - 300) - 1 = 110 / 100 - 1 = 10 %
    minus = scope_volume_change(frame, Scope("total_excl_03", ("TOTAL",), ("03",)))
    assert minus.set_index("year").loc[2011, "value"] == pytest.approx(10.0)
    # a one-industry scope gives back the published change exactly
    total = scope_volume_change(frame, "all").set_index("year")
    assert total.loc[2011, "value"] == pytest.approx(2.5)


def test_volume_value_added_and_productivity(make_accounts):
    frame = _volume_frame(make_accounts)
    # constant 2010 prices: 2010 = 400; 2011 = 400 * 1.025 = 410 (NOK million)
    vol = value_added(frame, "all", price="volume", base_year=2010).set_index("year")
    assert vol["value"].tolist() == pytest.approx([400.0, 410.0])
    assert vol.attrs["base_year"] == 2010
    # productivity at 2010 prices: 410e6 / 0.5e3 = 820 000 NOK per person in 2011
    prod = productivity(frame, price="volume", base_year=2010).set_index("year")
    assert prod.loc[2011, "value"] == pytest.approx(820_000.0)
    # index with 2011 = 100: 2010 = 100 / 1.025
    idx = value_added(frame, "all", price="volume_index", base_year=2011)
    assert idx["value"].tolist() == pytest.approx([100 / 1.025, 100.0])
