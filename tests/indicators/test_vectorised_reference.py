"""Vectorised indicators against the row-by-row algorithms they replaced (issue 13).

Each ``reference_*`` function below is the former per-row / per-county-year loop, kept here (and
only here) as the specification: the vectorised code in ``src`` must give the same numbers and
symbols on random inputs that exercise every branch (suppressed and missing cells, zero levels,
-100 % changes, "." years, groups without employment, missing county totals).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import pytest

from regionstats.indicators._tidy import as_status, status_array, two_part_status
from regionstats.indicators.allocation import GROUPS_13470_TO_11713, allocate_by_employment
from regionstats.indicators.volume import chain_index, constant_prices, scope_volume_change
from regionstats.model import MISSING_SYMBOLS, aggregate, combine_status

RESIDUAL = "RESIDUAL"
SYMBOLS = [None, None, None, ":", "..", "...", ".", "*", "-"]


def _status(values) -> pd.Series:
    return pd.Series(pd.array([v if isinstance(v, str) else pd.NA for v in values], dtype="string"))


def _symbols(series: pd.Series) -> list[object]:
    return [v if isinstance(v, str) else None for v in series.astype(object)]


# --- _tidy ------------------------------------------------------------------------------------


def reference_two_part_status(a, sa, b, sb, cannot_form, carry_provisional=False):
    ok = np.zeros(len(a), dtype=bool)
    status: list[object] = []
    for i in range(len(a)):
        symbols = [s for s in (sa[i], sb[i]) if s in MISSING_SYMBOLS]
        if symbols or np.isnan(a[i]) or np.isnan(b[i]):
            status.append(combine_status(symbols) if symbols else "..")
        elif cannot_form[i]:
            status.append(".")
        else:
            ok[i] = True
            status.append("*" if carry_provisional and "*" in (sa[i], sb[i]) else None)
    return ok, status


@pytest.mark.parametrize("seed", range(6))
def test_two_part_status_equals_reference(seed):
    rng = np.random.default_rng(seed)
    n = 500
    a, b = rng.normal(size=n), rng.normal(size=n)
    a[rng.random(n) < 0.1] = np.nan
    b[rng.random(n) < 0.1] = np.nan
    sa = np.array([SYMBOLS[i] for i in rng.integers(0, len(SYMBOLS), n)], dtype=object)
    sb = np.array([SYMBOLS[i] for i in rng.integers(0, len(SYMBOLS), n)], dtype=object)
    cannot = rng.random(n) < 0.1
    for carry in (False, True):
        ok, status = two_part_status(a, sa, b, sb, cannot, carry_provisional=carry)
        ref_ok, ref_status = reference_two_part_status(a, sa, b, sb, cannot, carry)
        assert ok.tolist() == ref_ok.tolist()
        assert list(status) == ref_status


def test_status_array_and_as_status_keep_only_strings():
    frame = pd.DataFrame(
        {"status": pd.Series([":", None, np.nan, pd.NA, 3, "*", ""], dtype=object)}
    )
    assert status_array(frame).tolist() == [":", None, None, None, None, "*", ""]
    out = as_status([":", None, np.nan, pd.NA, 3, "*", ""])
    assert str(out.dtype) == "string"
    assert out.isna().tolist() == [False, True, True, True, True, False, False]
    assert status_array(pd.DataFrame({"value": [1.0]})).tolist() == [None]


# --- volume -----------------------------------------------------------------------------------


def reference_chain_index(changes: pd.DataFrame, base_year: int, keys: list[str]) -> pd.DataFrame:
    frame = changes.sort_values([*keys, "year"], ignore_index=True)
    values = frame["value"].to_numpy(dtype=float)
    statuses = _symbols(frame["status"])
    years = frame["year"].to_numpy(dtype=int)
    index = np.full(len(frame), np.nan)
    out_status: list[object] = [None] * len(frame)

    def link(status, change):
        if status in MISSING_SYMBOLS or np.isnan(change):
            return np.nan, (status if status in MISSING_SYMBOLS else "..")
        return 1.0 + change / 100.0, None

    for _, rows in frame.groupby(keys, sort=False, dropna=False).indices.items():
        rows = np.sort(rows)
        b = int(np.flatnonzero(years[rows] == base_year)[0])
        idx = np.full(len(rows), np.nan)
        st: list[object] = [None] * len(rows)
        idx[b] = 100.0
        broken: object = None
        for j in range(b + 1, len(rows)):
            factor, sym = link(statuses[rows[j]], values[rows[j]])
            if broken is None and sym is None:
                idx[j] = idx[j - 1] * factor
            else:
                broken = broken or sym
                st[j] = broken
        broken = None
        for j in range(b - 1, -1, -1):
            factor, sym = link(statuses[rows[j + 1]], values[rows[j + 1]])
            if broken is None and sym is None and factor != 0:
                idx[j] = idx[j + 1] / factor
            else:
                broken = broken or sym or "."
                st[j] = broken
        if statuses[rows[b]] == "." and np.all(np.isnan(np.delete(idx, b))):
            idx[b] = np.nan
            st[b] = "."
        index[rows] = idx
        for j, r in enumerate(rows):
            out_status[r] = st[j]
    out = frame.drop(columns=["value", "status"])
    out["value"] = index
    out["status"] = _status(out_status).to_numpy()
    return out


def random_changes(rng: np.random.Generator, series: int = 25, years=range(2000, 2016)):
    rows = []
    for s in range(series):
        start = int(rng.integers(0, 4))  # some series start later
        for y in list(years)[start:]:
            r = rng.random()
            status = ":" if r < 0.05 else ".." if r < 0.1 else "." if r < 0.14 else None
            if r > 0.97:
                status = "*"
            value = (
                np.nan if status in (":", "..", ".") or rng.random() < 0.03 else rng.normal(2, 20)
            )
            if rng.random() < 0.03:
                value, status = -100.0, None  # a zero factor: cannot be chained backwards
            rows.append((f"{s:02d}", y, value, status))
    frame = pd.DataFrame(rows, columns=["region", "year", "value", "status"])
    frame["region"] = frame["region"].astype("str")
    frame["status"] = _status(frame["status"]).to_numpy()
    return frame


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("base_year", [2003, 2008, 2015])
def test_chain_index_equals_reference(seed, base_year):
    changes = random_changes(np.random.default_rng(seed))
    if seed % 3 == 0:  # a series that did not exist before 2006 ("." and no links)
        early = (changes["region"] == "01") & (changes["year"] < 2006)
        changes.loc[early, ["value", "status"]] = [np.nan, "."]
    got = chain_index(changes, base_year, keys=["region"])
    want = reference_chain_index(changes, base_year, ["region"])
    np.testing.assert_allclose(got["value"], want["value"], rtol=1e-13, equal_nan=True)
    assert _symbols(got["status"]) == _symbols(want["status"])
    assert got["region"].tolist() == want["region"].tolist()


def test_chain_index_errors_name_the_series():
    changes = random_changes(np.random.default_rng(0), series=3)
    gap = changes[~((changes["region"] == "01") & (changes["year"] == 2010))]
    with pytest.raises(ValueError, match="series 01 are not consecutive"):
        chain_index(gap, 2012, keys=["region"])
    with pytest.raises(ValueError, match="base year 2030 is outside series"):
        chain_index(changes, 2030, keys=["region"])


def reference_scope_volume_change(accounts: pd.DataFrame, plus, minus) -> pd.DataFrame:
    codes = [*plus, *minus]
    need = accounts[accounts["industry"].isin(codes)]
    keys3 = ["region", "industry", "year"]
    level = need[need["measure"] == "value_added"][[*keys3, "value", "status"]]
    change = need[need["measure"] == "value_added_volume_change"][[*keys3, "value", "status"]]
    prev = level.assign(year=level["year"] + 1)
    merged = change.merge(prev, on=keys3, how="left", suffixes=("_v", "_p"))
    term, base, t_status, b_status = [], [], [], []
    for row in merged.itertuples(index=False):
        sign = -1.0 if row.industry in minus else 1.0
        sp = row.status_p if isinstance(row.status_p, str) else None
        sv = row.status_v if isinstance(row.status_v, str) else None
        if sp in MISSING_SYMBOLS or np.isnan(row.value_p):
            sym = sp if sp in MISSING_SYMBOLS else ".."
            term.append(np.nan), base.append(np.nan), t_status.append(sym), b_status.append(sym)
            continue
        base.append(sign * row.value_p)
        b_status.append(None)
        if row.value_p == 0:
            term.append(0.0), t_status.append(None)
        elif sv in MISSING_SYMBOLS or np.isnan(row.value_v):
            term.append(np.nan), t_status.append(sv if sv in MISSING_SYMBOLS else "..")
        else:
            term.append(sign * row.value_p * (1.0 + row.value_v / 100.0)), t_status.append(None)
    keys = ["region", "year"]
    num = aggregate(merged[keys].assign(value=term, status=_status(t_status).to_numpy()), keys)
    den = aggregate(merged[keys].assign(value=base, status=_status(b_status).to_numpy()), keys)
    both = num.merge(den, on=keys, suffixes=("_n", "_d"))
    return both


def random_accounts(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for region in ("01", "02", "03"):
        for industry in ("TOTAL", "64-66", "84"):
            for year in range(2010, 2016):
                va = (
                    float(rng.integers(0, 4)) * 100.0
                    if rng.random() < 0.15
                    else rng.normal(500, 90)
                )
                s_va = ":" if rng.random() < 0.08 else None
                change = rng.normal(1, 5)
                s_ch = ".." if rng.random() < 0.08 else None
                rows.append((region, industry, "value_added", year, np.nan if s_va else va, s_va))
                rows.append(
                    (region, industry, "value_added_volume_change", year,
                     np.nan if s_ch else change, s_ch)
                )  # fmt: skip
    frame = pd.DataFrame(rows, columns=["region", "industry", "measure", "year", "value", "status"])
    for col in ("region", "industry", "measure"):
        frame[col] = frame[col].astype("str")
    frame["status"] = _status(frame["status"]).to_numpy()
    return frame


@pytest.mark.parametrize("seed", range(6))
def test_scope_volume_change_equals_reference(seed):
    accounts = random_accounts(np.random.default_rng(seed))
    got = scope_volume_change(accounts, ["TOTAL"]).set_index(["region", "year"])
    plus, minus = ("TOTAL",), ()
    ref = reference_scope_volume_change(accounts, plus, minus).set_index(["region", "year"])
    # v = 100 * num / den - 100 where both parts have a number and den != 0
    expected = 100.0 * ref["value_n"] / ref["value_d"] - 100.0
    usable = ref["value_n"].notna() & ref["value_d"].notna() & (ref["value_d"] != 0)
    np.testing.assert_allclose(got.loc[usable.index[usable], "value"], expected[usable], rtol=1e-12)
    assert got.loc[usable.index[~usable], "value"].isna().all()
    # the symbols of the parts reach the result (":" of a level, ".." of a change)
    for key in usable.index[~usable]:
        parts = [ref.loc[key, "status_n"], ref.loc[key, "status_d"]]
        missing = [s for s in parts if isinstance(s, str) and s in MISSING_SYMBOLS]
        want = combine_status(missing) if missing else "."
        assert got.loc[key, "status"] == want


def test_constant_prices_status_of_missing_cells():
    accounts = random_accounts(np.random.default_rng(3))
    out = constant_prices(accounts, ["TOTAL"], base_year=2013)
    index = chain_index(scope_volume_change(accounts, ["TOTAL"]), 2013, keys=["region"])
    level = accounts[(accounts["industry"] == "TOTAL") & (accounts["measure"] == "value_added")]
    base = level[level["year"] == 2013].set_index("region")
    for row in out.itertuples(index=False):
        i = index[(index["region"] == row.region) & (index["year"] == row.year)].iloc[0]
        b = base.loc[row.region]
        if np.isnan(i["value"]) or np.isnan(b["value"]):
            parts = [s for s in (i["status"], b["status"]) if isinstance(s, str)]
            missing = [s for s in parts if s in MISSING_SYMBOLS]
            assert row.status == (combine_status(missing) if missing else "..")
        else:
            assert row.value == pytest.approx(b["value"] * i["value"] / 100.0, rel=1e-13)
            assert pd.isna(row.status)


# --- allocation -------------------------------------------------------------------------------


def _reference_split(value: float, weights: np.ndarray) -> np.ndarray:
    weights = np.asarray(weights, dtype=float)
    total = weights.sum()
    if total <= 0:
        raise ValueError("cannot allocate: no employment to allocate by")
    parts = value * weights / total
    last = int(np.flatnonzero(weights > 0)[-1])
    parts[last] = value - (parts.sum() - parts[last])
    return parts


def reference_allocate(
    accounts: pd.DataFrame,
    emp: pd.DataFrame,
    measures: Sequence[str],
    mapping: Mapping[str, Sequence[str]] = GROUPS_13470_TO_11713,
) -> tuple[pd.DataFrame, list[str]]:
    """The per-county-year loop (a pivot table per county-year); ``emp`` has ``county``."""
    inverse = {i: g for g, inds in mapping.items() for i in inds}
    part = accounts[accounts["industry"].isin(inverse) & accounts["measure"].isin(measures)].copy()
    part["group"] = part["industry"].map(inverse)
    part = part[~((part["industry"] == "68.2b") & (part["measure"] == "employed_persons"))]
    groups = aggregate(part, ["region", "measure", "year", "group"])
    totals = accounts[(accounts["industry"] == "TOTAL") & accounts["measure"].isin(measures)]
    rows, fallbacks = [], []
    for (county, year), e in emp.groupby(["county", "year"], sort=True):
        munis = sorted(e["region"].unique())
        ew = e.pivot_table(index="region", columns="industry", values="value", aggfunc="sum")
        ew = ew.reindex(index=munis, columns=list(mapping))
        bad = set(e.loc[e["status"].isin(list(MISSING_SYMBOLS)) | e["value"].isna(), "industry"])
        total_emp = ew.drop(columns=list(bad), errors="ignore").sum(axis=1).to_numpy()
        for measure in measures:
            gv = groups[(groups["region"] == county) & (groups["year"] == year)
                        & (groups["measure"] == measure)].set_index("group")  # fmt: skip
            tot = totals[(totals["region"] == county) & (totals["year"] == year)
                         & (totals["measure"] == measure)]  # fmt: skip
            tot_value = float(tot["value"].iloc[0]) if len(tot) else np.nan
            tot_status = tot["status"].iloc[0] if len(tot) else ".."
            allocated, suppressed = 0.0, []
            for g in mapping:
                value = float(gv["value"].get(g, np.nan)) if g in gv.index else np.nan
                status = gv["status"].get(g, "..") if g in gv.index else ".."
                if np.isnan(value) or g in bad:
                    sym = status if isinstance(status, str) and status in MISSING_SYMBOLS else ":"
                    suppressed.append(g)
                    rows += [(m, county, g, measure, year, np.nan, sym) for m in munis]
                    continue
                weights = ew[g].fillna(0.0).to_numpy()
                if weights.sum() <= 0:
                    if value != 0:
                        fallbacks.append(f"{county} {year} {measure} {g}: by total employment")
                    weights = total_emp
                allocated += value
                shares = _reference_split(value, weights)
                rows += [
                    (m, county, g, measure, year, v, None)
                    for m, v in zip(munis, shares, strict=True)
                ]
            if np.isnan(tot_value) or (
                isinstance(tot_status, str) and tot_status in MISSING_SYMBOLS
            ):
                tsym = tot_status if isinstance(tot_status, str) else ".."
                rows += [(m, county, RESIDUAL, measure, year, np.nan, tsym) for m in munis]
                continue
            weights = total_emp
            if suppressed:
                pool = [g for g in suppressed if g not in bad]
                weights = ew[pool].fillna(0.0).sum(axis=1).to_numpy() if pool else total_emp
                if weights.sum() <= 0:
                    weights = total_emp
            shares = _reference_split(tot_value - allocated, weights)
            rows += [
                (m, county, RESIDUAL, measure, year, v, None)
                for m, v in zip(munis, shares, strict=True)
            ]
    out = pd.DataFrame(rows, columns=["region", "county", "industry", "measure", "year", "value",
                                      "status"])  # fmt: skip
    out = out.sort_values(["region", "industry", "measure", "year"], ignore_index=True)
    return out, fallbacks


def synthetic_allocation_inputs(seed: int, integer_employment: bool = True):
    rng = np.random.default_rng(seed)
    industries = sorted({i for inds in GROUPS_13470_TO_11713.values() for i in inds})
    counties = ["07", "08", "09"]
    years = [2017, 2018, 2019]
    measures = ["value_added", "employed_persons"]
    acc_rows = []
    for c in counties:
        for y in years:
            for m in measures:
                for ind in [*industries, "TOTAL"]:
                    value = rng.normal(1000, 200) if ind == "TOTAL" else rng.normal(40, 10)
                    status = None
                    r = rng.random()
                    if r < 0.08:
                        value, status = np.nan, ":"
                    elif r < 0.1:
                        value, status = np.nan, ".."
                    elif r < 0.12:
                        value = 0.0
                    if ind == "68.2b" and m == "employed_persons":
                        value, status = np.nan, ".."
                    acc_rows.append((c, ind, m, y, value, status))
    # one county-year with its TOTAL missing: every residual is missing with the total's symbol
    acc = pd.DataFrame(
        acc_rows, columns=["region", "industry", "measure", "year", "value", "status"]
    )
    missing_total = (acc["region"] == "09") & (acc["year"] == 2018) & (acc["industry"] == "TOTAL")
    acc.loc[missing_total, ["value", "status"]] = [np.nan, ":"]
    emp_rows = []
    for k, c in enumerate(counties):
        for i in range(2 + 3 * k):
            muni = f"{c}{i + 1:02d}"
            for y in years:
                for g in GROUPS_13470_TO_11713:
                    if rng.random() < 0.05:
                        continue  # no row at all
                    value = float(rng.integers(0, 400)) if rng.random() > 0.2 else 0.0
                    if not integer_employment:
                        value += rng.random()
                    status = None
                    if rng.random() < 0.02:
                        value, status = np.nan, ":"
                    # a group without employment anywhere in county 07 in 2019 (total fallback)
                    if c == "07" and y == 2019 and g == "64-66":
                        value, status = 0.0, None
                    emp_rows.append((muni, g, y, value, status))
    emp = pd.DataFrame(emp_rows, columns=["region", "industry", "year", "value", "status"])
    for frame in (acc, emp):
        for col in ("region", "industry") + (("measure",) if "measure" in frame else ()):
            frame[col] = frame[col].astype("str")
        frame["status"] = _status(frame["status"]).to_numpy()
    cty = pd.DataFrame({"region": pd.array(sorted(emp["region"].unique()), dtype="str")})
    cty["county"] = cty["region"].str[:2].astype("str")
    return acc, emp, cty, measures


@pytest.mark.parametrize("seed", range(5))
def test_allocation_equals_per_county_year_reference(seed):
    acc, emp, cty, measures = synthetic_allocation_inputs(seed, integer_employment=seed % 2 == 0)
    out = allocate_by_employment(acc, emp, cty, measures=measures)
    ref, fallbacks = reference_allocate(acc, emp.merge(cty, on="region"), measures)
    assert out[["region", "county", "industry", "measure", "year"]].astype(
        object
    ).values.tolist() == (ref[["region", "county", "industry", "measure", "year"]].values.tolist())
    got, want = out["value"].to_numpy(), ref["value"].to_numpy(dtype=float)
    if seed % 2 == 0:
        # whole persons (as 13470 counts them): the same arithmetic in the same order gives the
        # very same numbers, down to which municipality takes the rounding remainder
        np.testing.assert_array_equal(got, want)
    else:
        # fractional weights: pandas sums a county's employment over groups in its own order
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12, equal_nan=True)
    assert _symbols(out["status"]) == _symbols(ref["status"].astype(object))
    assert out.attrs["fallbacks"] == fallbacks
    assert any("07 2019" in f for f in fallbacks)
    assert (out.loc[(out["county"] == "09") & (out["year"] == 2018)
                    & (out["industry"] == RESIDUAL), "status"] == ":").all()  # fmt: skip


def test_allocation_without_any_employment_is_an_error():
    acc, emp, cty, measures = synthetic_allocation_inputs(0)
    emp = emp[emp["region"].str.startswith("07")].assign(value=0.0)
    with pytest.raises(ValueError, match="no employment to allocate by"):
        allocate_by_employment(acc, emp, cty, measures=measures)
