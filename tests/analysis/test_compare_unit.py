"""Growth regressions, convergence, class differences and shift-share, worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from regionstats.analysis import (
    beta_convergence,
    class_growth_difference,
    growth_regression,
    shift_share,
    sigma_convergence,
)


def _tidy(regions, values, year=None, **extra):
    f = pd.DataFrame({"region": pd.Series(regions, dtype="str"), "value": values, **extra})
    if year is not None:
        f["year"] = year
    f["status"] = pd.array([pd.NA] * len(f), dtype="string")
    return f


def test_growth_regression_hc3_by_hand():
    x = np.array([0.0, 0.1, 0.2, 0.5, 0.9])
    y = np.array([0.03, 0.025, 0.028, 0.02, 0.01])
    out = growth_regression(_tidy(list("abcde"), y), _tidy(list("abcde"), x), name="share")
    # independent OLS and HC3: (X'X)^-1 X' diag(e_i^2 / (1 - h_i)^2) X (X'X)^-1
    X = np.column_stack([np.ones_like(x), x])
    xtx_inv = np.linalg.inv(X.T @ X)
    b = xtx_inv @ X.T @ y
    e = y - X @ b
    h = np.einsum("ij,jk,ik->i", X, xtx_inv, X)
    cov = xtx_inv @ X.T @ np.diag(e**2 / (1 - h) ** 2) @ X @ xtx_inv
    row = out.set_index("term").loc["share"]
    assert row["coef"] == pytest.approx(b[1])
    assert row["se"] == pytest.approx(math.sqrt(cov[1, 1]))
    assert row["ci_low"] == pytest.approx(b[1] - 1.959964 * math.sqrt(cov[1, 1]), rel=1e-5)
    assert out.attrs["n"] == 5 and out.attrs["cov_type"] == "HC3"


def test_growth_regression_drops_missing():
    g = _tidy(list("abcd"), [0.1, 0.2, np.nan, 0.4])
    g.loc[2, "status"] = ":"
    out = growth_regression(g, _tidy(list("abcd"), [1.0, 2.0, 3.0, 4.0]))
    assert out.attrs["n"] == 3 and out.attrs["dropped"] == ["c"]


def test_beta_convergence_speed_and_half_life():
    # ln P0 = 1, 2, 3 and annual growth g = 0.1 - 0.02 ln P0 over T = 10 years exactly:
    # beta = -0.02; speed b = -ln(1 + 10 * -0.02) / 10 = -ln(0.8)/10 = 0.0223144;
    # half-life = ln 2 / b = 31.06 years
    lp0 = np.array([1.0, 2.0, 3.0])
    lp1 = lp0 + 10 * (0.1 - 0.02 * lp0)
    frame = pd.concat(
        [_tidy(["01", "02", "03"], np.exp(lp0), year=2000),
         _tidy(["01", "02", "03"], np.exp(lp1), year=2010)],
        ignore_index=True,
    )  # fmt: skip
    _table, s = beta_convergence(frame, 2000, 2010)
    assert s["beta"] == pytest.approx(-0.02)
    assert s["speed"] == pytest.approx(-math.log(0.8) / 10)
    assert s["half_life"] == pytest.approx(math.log(2) / (-math.log(0.8) / 10))
    assert s["n"] == 3 and s["T"] == 10
    with pytest.raises(ValueError, match="outside the data"):
        beta_convergence(frame, 1990, 2010)


def test_sigma_convergence_by_hand():
    # 2000: ln P = 0, 2 -> std (ddof 1) = sqrt(2); 2001: ln P = 0.5, 1.5 -> sqrt(0.5)
    frame = pd.concat(
        [_tidy(["01", "02"], np.exp([0.0, 2.0]), year=2000),
         _tidy(["01", "02"], np.exp([0.5, 1.5]), year=2001)],
        ignore_index=True,
    )  # fmt: skip
    out = sigma_convergence(frame)
    assert out["value"].tolist() == pytest.approx([math.sqrt(2), math.sqrt(0.5)])
    assert out.attrs["trend"]["slope"] == pytest.approx(math.sqrt(0.5) - math.sqrt(2))


def _class_frame():
    # class 6: a, b each 5 -> 10 (100 % in one year); class 1: c, d each 5 -> 5.5 (10 %)
    rows = []
    for m, v0, v1 in (("a", 5, 10), ("b", 5, 10), ("c", 5, 5.5), ("d", 5, 5.5)):
        rows += [(m, "value_added", 2018, float(v0)), (m, "value_added", 2019, float(v1))]
    f = pd.DataFrame(rows, columns=["region", "measure", "year", "value"])
    f["status"] = pd.array([pd.NA] * len(f), dtype="string")
    cen = pd.DataFrame({"region": list("abcd"), "centrality_class": [6, 6, 1, 1]})
    return f, cen


def test_class_growth_difference_by_hand():
    f, cen = _class_frame()
    table, s = class_growth_difference(f, cen, 2018, 2019, n_boot=50, seed=1)
    # growth low = 20/10 - 1 = 1.0; high = 11/10 - 1 = 0.1; difference 0.9; every resample the
    # same because municipalities within a class grow alike -> CI = [0.9, 0.9]
    assert s["growth_low"] == pytest.approx(1.0)
    assert s["growth_high"] == pytest.approx(0.1)
    assert s["difference"] == pytest.approx(0.9)
    assert s["ci"] == pytest.approx((0.9, 0.9))
    assert table.set_index("group").loc["difference", "value"] == pytest.approx(0.9)


def test_class_growth_difference_is_seeded():
    f, cen = _class_frame()
    f.loc[(f["region"] == "a") & (f["year"] == 2019), "value"] = 20.0  # a grows 300 %
    _, s1 = class_growth_difference(f, cen, 2018, 2019, n_boot=200, seed=7)
    _, s2 = class_growth_difference(f, cen, 2018, 2019, n_boot=200, seed=7)
    assert s1["ci"] == s2["ci"]
    assert s1["ci"][0] < s1["ci"][1]  # a now grows faster than b: resamples differ
    assert s1["ci"][0] <= s1["difference"] <= s1["ci"][1]
    with pytest.raises(ValueError, match="outside the data"):
        class_growth_difference(f, cen, 2010, 2019)


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
    out = shift_share(acc, 2010, 2011, industries=["01-02", "03"])
    v = out.set_index(["region", "component"])["value"]
    assert v["01", "national"] == pytest.approx(10.0)
    assert v["01", "industry_mix"] == pytest.approx(-5.0)
    assert v["01", "regional"] == pytest.approx(3.0)
    assert v["01", "actual_change"] == 8.0
    assert v["01", "national"] + v["01", "industry_mix"] + v["01", "regional"] == pytest.approx(8.0)
