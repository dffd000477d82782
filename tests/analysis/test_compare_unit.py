"""Growth regressions, convergence, class differences and shift-share, worked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from regionstats.analysis import (
    growth_regression,
    shift_share,
)


def _tidy(regions, values, year=None, **extra):
    f = pd.DataFrame({"region": pd.Series(regions, dtype="str"), "value": values, **extra})
    if year is not None:
        f["year"] = year
    f["status"] = pd.array([pd.NA] * len(f), dtype="string")
    return f


def test_growth_regression_drops_missing():
    g = _tidy(list("abcd"), [0.1, 0.2, np.nan, 0.4])
    g.loc[2, "status"] = ":"
    out = growth_regression(g, _tidy(list("abcd"), [1.0, 2.0, 3.0, 4.0]))
    assert out.attrs["n"] == 3 and out.attrs["dropped"] == ["c"]


def test_shift_share_components_sum_to_change():
    # Nation "0": A 100 -> 150, B 100 -> 100, TOTAL 200 -> 250: g_N = 0.25, g_A = 0.5, g_B = 0.
    # Region "01": A 10 -> 12, B 30 -> 36, TOTAL 40 -> 48 (both +20 %).
    # national = 40 * 0.25 = 10; mix = 10 (0.5 - 0.25) + 30 (0 - 0.25) = 2.5 - 7.5 = -5;
    # regional = 10 (0.2 - 0.5) + 30 (0.2 - 0) = -3 + 6 = 3; 10 - 5 + 3 = 8 = 48 - 40.
    rows = []
    for region, ind, v0, v1 in (
        ("0", "01-02", 100, 150), ("0", "03", 100, 100), ("0", "TOTAL", 200, 250),
        ("01", "01-02", 10, 12), ("01", "03", 30, 36), ("01", "TOTAL", 40, 48),
    ):  # fmt: skip
        rows += [(region, ind, "value_added", 2010, float(v0)),
                 (region, ind, "value_added", 2011, float(v1))]  # fmt: skip
    acc = pd.DataFrame(rows, columns=["region", "industry", "measure", "year", "value"])
    acc["status"] = pd.array([pd.NA] * len(acc), dtype="string")
    out = shift_share(acc, 2010, 2011, reference="0")
    v = out.set_index(["region", "component"])["value"]
    assert v["01", "national"] == pytest.approx(10.0)
    assert v["01", "industry_mix"] == pytest.approx(-5.0)
    assert v["01", "regional"] == pytest.approx(3.0)
    assert v["01", "actual_change"] == 8.0
    assert v["01", "national"] + v["01", "industry_mix"] + v["01", "regional"] == pytest.approx(8.0)
