"""Consistency checks, figures and maps on small hand-made frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely.geometry as sg

from regionstats import checks, figures, maps
from regionstats.sources.ssb_quirks import TOP_LEVEL_INDUSTRIES


def _accounts(total_by_region: dict[str, float], suppressed: str | None = None) -> pd.DataFrame:
    """Every top-level industry gets 1.0 in each region; TOTAL is given per region."""
    rows = []
    for region, total in total_by_region.items():
        for code in TOP_LEVEL_INDUSTRIES:
            hidden = (region, code) == (suppressed, "10-33")
            status = ":" if hidden else pd.NA
            value = np.nan if hidden else 1.0
            rows.append((region, code, "value_added", 2019, value, status))
        rows.append((region, "TOTAL", "value_added", 2019, total, pd.NA))
    frame = pd.DataFrame(rows, columns=["region", "industry", "measure", "year", "value", "status"])
    frame["status"] = frame["status"].astype("string")
    return frame


def test_industry_sum_check_finds_a_gap_and_skips_incomplete() -> None:
    n = len(TOP_LEVEL_INDUSTRIES)
    assert n == 24
    frame = _accounts({"0": 100.0, "03": float(n), "11": float(n) + 2}, suppressed="0")
    out = checks.industry_sum_check(frame).set_index("region")
    assert out.loc["03", "difference"] == 0 and out.loc["03", "complete"]
    assert out.loc["11", "difference"] == 2.0
    assert not out.loc["0", "complete"] and np.isnan(out.loc["0", "difference"])


def test_offshore_remainder_is_national_minus_existing_counties() -> None:
    frame = _accounts({"0": 100.0, "03": 30.0, "11": 50.0, "50": 0.0})
    frame.loc[(frame.region == "50"), "status"] = "."
    frame.loc[(frame.region == "50"), "value"] = np.nan
    out = checks.offshore_remainder(frame).iloc[0]
    assert out["counties_sum"] == 80.0 and out["remainder"] == 20.0 and out["n_counties"] == 2
    assert out["remainder_share"] == pytest.approx(0.2)


def test_pooled_breaks_and_classes() -> None:
    assert maps.pooled_breaks([0, 10, 20, 30, 40], k=4, method="equal").tolist() == [
        0,
        10,
        20,
        30,
        40,
    ]
    q = maps.pooled_breaks(pd.Series([1.0, 2.0, 3.0, np.nan, 4.0, 5.0]), k=2)
    assert q.tolist() == [1.0, 3.0, 5.0]
    frame = pd.DataFrame({"region": ["a", "b", "c"], "value": [1.0, 4.5, np.nan]})
    out = maps.classify(frame, q, fmt="{:.0f}")
    assert out["value_class"].astype(str).tolist() == ["1 – 3", "3 – 5", "no data"]
    with pytest.raises(ValueError, match="no values"):
        maps.pooled_breaks([np.nan])


def test_choropleth_and_charts_carry_source_and_all_regions() -> None:
    import geopandas as gpd

    gdf = gpd.GeoDataFrame(
        {"region": ["0301", "1101"]},
        geometry=[sg.box(10, 59, 11, 60), sg.box(5, 58, 6, 59)],
        crs="EPSG:4326",
    )
    frame = pd.DataFrame({"region": ["0301", "1101"], "value": [1.0, 2.0]})
    fig = maps.choropleth(gdf, maps.classify(frame, np.array([0.0, 1.5, 3.0])), title="t")
    fills = [t for t in fig.data if t.fill == "toself"]
    assert sorted(t.name for t in fills) == ["0.0 – 1.5", "1.5 – 3.0"]
    # each box is one closed ring of 5 points plus a separator, projected out of degrees
    assert all(len(t.x) == 6 and max(abs(v) for v in t.x if v is not None) > 1000 for t in fills)
    hover = next(t for t in fig.data if t.mode == "markers")
    assert sorted(text.split("</b>")[0][3:] for text in hover.text) == ["0301", "1101"]
    assert "Kartverket" in fig.layout.annotations[-1].text
    line = figures.line_chart(
        pd.DataFrame({"region_label": ["A", "A", "B"], "year": [1, 2, 1], "value": [1, 2, 3]})
    )
    assert {t.name for t in line.data} == {"A", "B"}
    assert "SSB" in line.layout.annotations[0].text
    bar = figures.bar_chart(
        pd.DataFrame({"region_label": ["A", "B"], "value": [2, 1]}), reference=1.5
    )
    assert list(bar.data[0].y) == ["B", "A"]
