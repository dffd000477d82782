"""Volume measures: chain indices from annual volume changes, chain-linked scope aggregates.

The regional accounts publish value added in current prices and its annual **volume change**
(*volumendring*, percent, at the previous year's prices). A volume series is the chain index

.. math:: I_b = 100, \\qquad I_t = I_{t-1}\\,(1 + v_t/100) \\;(t > b), \\qquad
          I_{t} = I_{t+1} / (1 + v_{t+1}/100) \\;(t < b)

and value added in constant prices of base year *b* is :math:`VA_b \\cdot I_t / 100`
(chain-linked volumes are not additive across industries or regions).

The volume change of an aggregate of industries (a scope, see
:mod:`regionstats.indicators.scopes`) is chain-linked the way national accounts do it annually
(Laspeyres volume in the previous year's prices; Eurostat, *Handbook on prices and volume
measures in national accounts*, 2016, ch. 4):

.. math:: 1 + \\frac{v^{S}_t}{100} = \\frac{\\sum_{i} s_i\\, VA_{i,t-1}(1 + v_{i,t}/100)}
          {\\sum_{i} s_i\\, VA_{i,t-1}}

with :math:`s_i = +1` for the scope's ``plus`` industries and :math:`-1` for its ``minus`` ones.
For a one-industry scope this is exactly the published change. A term whose previous-year value
added is exactly 0 contributes 0 whatever its change; any other missing part makes the aggregate
missing with the part's symbol.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from regionstats.indicators._tidy import as_status, identity_keys, ratio, status_array
from regionstats.indicators.scopes import Scope, apply_scope, scope
from regionstats.model import MISSING_SYMBOLS, STATUS, VALUE, aggregate, combine_status

VOLUME_CHANGE = "value_added_volume_change"


def _link(status: object, change: float) -> tuple[float, object]:
    """Growth factor of one annual change, or NaN and its symbol."""
    if status in MISSING_SYMBOLS or np.isnan(change):
        return np.nan, (status if status in MISSING_SYMBOLS else "..")
    return 1.0 + change / 100.0, None


def chain_index(
    changes: pd.DataFrame,
    base_year: int | None = None,
    *,
    keys: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Chain index (base year = 100) from annual percent changes.

    Parameters
    ----------
    changes
        Tidy frame with ``year``, ``value`` (annual change in percent from the year before) and
        ``status``; one series per combination of ``keys``.
    base_year
        Year with index 100 (default: the last year). Must be in every series.
    keys
        Series identity (default: every identity column except ``year``).

    Returns
    -------
    The same identity columns with ``value`` = index and ``status``. The change of a series'
    first year is not used (it links to a year outside the frame). A missing link (NaN / symbol)
    makes every index beyond it, seen from the base year, NaN with the link's symbol. A base year
    with status ``"."`` and no usable link is itself ``"."`` (the series did not exist then).
    Years must be consecutive within a series.

    Examples
    --------
    Changes 2020: 10 %, 2021: -50 %, 2022: 20 %, base 2021: I_2021 = 100;
    I_2022 = 100 * 1.2 = 120; I_2020 = 100 / (1 - 0.5) = 200; I_2019 = 200 / 1.1 = 181.8...

    >>> f = pd.DataFrame({"region": ["01"] * 4, "year": [2019, 2020, 2021, 2022],
    ...                   "value": [np.nan, 10.0, -50.0, 20.0], "status": ["..", None, None, None]})
    >>> chain_index(f, 2021)["value"].round(2).tolist()
    [181.82, 200.0, 100.0, 120.0]
    """
    if "year" not in changes.columns:
        raise ValueError("chain_index needs a 'year' column")
    keys = list(keys) if keys is not None else identity_keys(changes, exclude=("year",))
    if base_year is None:
        base_year = int(changes["year"].max())
    frame = changes.sort_values([*keys, "year"], ignore_index=True)
    values = frame[VALUE].to_numpy(dtype=float)
    statuses = status_array(frame)
    years = frame["year"].to_numpy(dtype=int)
    index = np.full(len(frame), np.nan)
    out_status: list[object] = [None] * len(frame)
    groups = (
        frame.groupby(keys, sort=False, dropna=False).indices
        if keys
        else {(): np.arange(len(frame))}
    )
    for key, rows in groups.items():
        rows = np.sort(rows)
        yrs = years[rows]
        if np.any(np.diff(yrs) != 1):
            raise ValueError(f"chain_index: years of series {key} are not consecutive: {yrs}")
        where = np.flatnonzero(yrs == base_year)
        if where.size == 0:
            raise ValueError(
                f"chain_index: base year {base_year} is outside series {key} ({yrs[0]}-{yrs[-1]})"
            )
        b = int(where[0])
        idx = np.full(len(rows), np.nan)
        st: list[object] = [None] * len(rows)
        idx[b] = 100.0

        broken: object = None
        for j in range(b + 1, len(rows)):
            factor, sym = _link(statuses[rows[j]], values[rows[j]])
            if broken is None and sym is None:
                idx[j] = idx[j - 1] * factor
            else:
                broken = broken or sym
                st[j] = broken
        broken = None
        for j in range(b - 1, -1, -1):
            factor, sym = _link(statuses[rows[j + 1]], values[rows[j + 1]])
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
    out = frame.drop(columns=[VALUE, STATUS]).copy()
    out[VALUE] = index
    out[STATUS] = as_status(out_status).to_numpy()
    out[STATUS] = out[STATUS].astype("string")
    if "measure" in out.columns:
        out["measure"] = out["measure"].replace({VOLUME_CHANGE: "value_added_volume_index"})
    out.attrs = dict(changes.attrs)
    out.attrs.update(
        {
            "base_year": int(base_year),
            "units": "index, base year = 100",
            "method": "chain index I_t = I_{t-1} (1 + v_t/100), I_base = 100",
        }
    )
    return out


def scope_volume_change(accounts: pd.DataFrame, spec: str | Scope | Sequence[str]) -> pd.DataFrame:
    """Annual volume change (percent) of a scope's value added, chain-linked from its industries.

    See the module docstring for the formula. Returns ``region``, ``scope``, ``measure``
    (``"value_added_volume_change"``), ``year``, ``value``, ``status``; the first year of the
    data has ``".."`` (no previous year).
    """
    sc = scope(spec)
    codes = [*sc.plus, *sc.minus]
    present = set(accounts["industry"].unique())
    missing = [c for c in codes if c not in present]
    if missing:
        apply_scope(accounts, sc, measures=["value_added"])  # raises the standard error
    need = accounts[
        accounts["industry"].isin(codes) & accounts["measure"].isin(["value_added", VOLUME_CHANGE])
    ]
    if not set(need["measure"]) >= {"value_added", VOLUME_CHANGE}:
        raise ValueError(
            "scope_volume_change needs measures 'value_added' and "
            f"'{VOLUME_CHANGE}' in the accounts frame; it has {sorted(need['measure'].unique())}"
        )
    level = need[need["measure"] == "value_added"][["region", "industry", "year", VALUE, STATUS]]
    change = need[need["measure"] == VOLUME_CHANGE][["region", "industry", "year", VALUE, STATUS]]
    prev = level.assign(year=level["year"] + 1)
    merged = change.merge(
        prev, on=["region", "industry", "year"], how="left", suffixes=("_v", "_p")
    )
    sign = np.where(merged["industry"].isin(sc.minus), -1.0, 1.0)
    pv = merged[f"{VALUE}_p"].to_numpy(dtype=float)
    vv = merged[f"{VALUE}_v"].to_numpy(dtype=float)
    sp = status_array(merged.rename(columns={f"{STATUS}_p": STATUS}))
    sv = status_array(merged.rename(columns={f"{STATUS}_v": STATUS}))
    term = np.full(len(merged), np.nan)
    base = np.full(len(merged), np.nan)
    t_status: list[object] = []
    b_status: list[object] = []
    for i in range(len(merged)):
        p_missing = sp[i] in MISSING_SYMBOLS or np.isnan(pv[i])
        p_sym = sp[i] if sp[i] in MISSING_SYMBOLS else ("..")
        if p_missing:
            t_status.append(p_sym)
            b_status.append(p_sym)
            continue
        base[i] = sign[i] * pv[i]
        b_status.append(None)
        if pv[i] == 0:
            term[i] = 0.0
            t_status.append(None)
        elif sv[i] in MISSING_SYMBOLS or np.isnan(vv[i]):
            t_status.append(sv[i] if sv[i] in MISSING_SYMBOLS else "..")
        else:
            term[i] = sign[i] * pv[i] * (1.0 + vv[i] / 100.0)
            t_status.append(None)
    keys = ["region", "year"]
    num = aggregate(merged[keys].assign(value=term, status=as_status(t_status).to_numpy()), keys)
    den = aggregate(merged[keys].assign(value=base, status=as_status(b_status).to_numpy()), keys)
    out = ratio(num, den, keys, scale=100.0)
    out[VALUE] = out[VALUE] - 100.0
    out.insert(1, "scope", sc.name)
    out.insert(2, "measure", VOLUME_CHANGE)
    out["scope"] = out["scope"].astype("str")
    out["measure"] = out["measure"].astype("str")
    out = out[["region", "scope", "measure", "year", VALUE, STATUS]]
    out.attrs = {
        **{k: v for k, v in accounts.attrs.items() if k in ("table", "source", "vintage")},
        "units": "percent",
        "scope": sc.name,
        "scope_formula": sc.formula,
        "method": "chain-linked in previous year's prices: sum s_i VA_{i,t-1}(1+v_{i,t}/100) / "
        "sum s_i VA_{i,t-1} - 1",
    }
    return out


def volume_index(
    accounts: pd.DataFrame, spec: str | Scope | Sequence[str] = "all", base_year: int | None = None
) -> pd.DataFrame:
    """Volume index of a scope's value added (base year = 100) by region and year.

    Chain index (:func:`chain_index`) of :func:`scope_volume_change`; years in which the region's
    value added is "not applicable" (``"."``, e.g. Trøndelag before 2018) are ``"."``.
    """
    changes = scope_volume_change(accounts, spec)
    index = chain_index(changes, base_year, keys=["region", "scope", "measure"])
    index["measure"] = "value_added_volume_index"
    levels = apply_scope(accounts, spec, measures=["value_added"])
    absent = levels.loc[levels[STATUS] == ".", ["region", "year"]]
    mask = index.set_index(["region", "year"]).index.isin(pd.MultiIndex.from_frame(absent))
    index.loc[mask, VALUE] = np.nan
    index.loc[mask, STATUS] = "."
    index.attrs.update({"scope": scope(spec).name, "scope_formula": scope(spec).formula})
    return index


def constant_prices(
    accounts: pd.DataFrame, spec: str | Scope | Sequence[str] = "all", base_year: int | None = None
) -> pd.DataFrame:
    """Value added of a scope in constant prices of ``base_year`` (NOK million), chain-linked.

    :math:`VA^{\\text{vol}}_t = VA_b \\cdot I_t / 100` with :math:`I` from :func:`volume_index`.
    Equal to current-price value added in the base year; not additive across scopes or regions.
    """
    index = volume_index(accounts, spec, base_year)
    b = index.attrs["base_year"]
    levels = apply_scope(accounts, spec, measures=["value_added"])
    base = levels[levels["year"] == b][["region", VALUE, STATUS]]
    merged = index.merge(base, on="region", how="left", suffixes=("", "_b"))
    value = merged[VALUE] * merged[f"{VALUE}_b"] / 100.0
    status = [
        combine_status([s for s in (a, c) if isinstance(s, str) and s in MISSING_SYMBOLS])
        if np.isnan(v)
        else pd.NA
        for v, a, c in zip(value, merged[STATUS], merged[f"{STATUS}_b"], strict=True)
    ]
    status = [
        s if (s is not pd.NA or not np.isnan(v)) else ".."
        for s, v in zip(status, value, strict=True)
    ]
    out = merged[["region", "scope", "year"]].copy()
    out.insert(2, "measure", "value_added_constant_prices")
    out[VALUE] = value.to_numpy()
    out[STATUS] = pd.array(status, dtype="string")
    out.attrs = dict(index.attrs)
    out.attrs["units"] = f"NOK million, constant {b} prices (chain-linked)"
    return out
