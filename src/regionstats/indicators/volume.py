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
from typing import NoReturn

import numpy as np
import pandas as pd

from regionstats.indicators._tidy import (
    as_status,
    identity_keys,
    missing_rank,
    rank_symbol,
    ratio,
    status_array,
    symbols_of,
)
from regionstats.indicators.scopes import Scope, apply_scope, scope
from regionstats.model import STATUS, VALUE, aggregate

VOLUME_CHANGE = "value_added_volume_change"


def _links(statuses: np.ndarray, changes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Growth factor of each annual change, and the symbol of each link that cannot be used.

    A change with a "no number" symbol, or NaN, is not a link: its factor is NaN and its symbol
    is its own (``".."`` for a bare NaN); a usable link has symbol ``None``.
    """
    rank = missing_rank(statuses)
    broken = (rank > 0) | np.isnan(changes)
    factor = np.where(broken, np.nan, 1.0 + changes / 100.0)
    symbol = np.full(len(changes), None, dtype=object)
    symbol[broken] = np.where(rank[broken] > 0, rank_symbol(rank[broken]), "..")
    return factor, symbol


def _series_error(
    frame: pd.DataFrame, keys: list[str], years: np.ndarray, base_year: int
) -> NoReturn:
    """Raise the first problem of a series (years not consecutive, base year outside it)."""
    groups = (
        frame.groupby(keys, sort=False, dropna=False).indices
        if keys
        else {(): np.arange(len(frame))}
    )
    for key, rows in groups.items():
        yrs = years[np.sort(rows)]
        if np.any(np.diff(yrs) != 1):
            raise ValueError(f"chain_index: years of series {key} are not consecutive: {yrs}")
        if not np.any(yrs == base_year):
            raise ValueError(
                f"chain_index: base year {base_year} is outside series {key} ({yrs[0]}-{yrs[-1]})"
            )
    raise ValueError(f"chain_index: a series lacks base year {base_year} or has repeated years")


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
    years = frame["year"].to_numpy(dtype=np.int64)
    n = len(frame)
    # series are contiguous blocks of the sorted frame: first row, length and base row of each
    gid = (
        frame.groupby(keys, sort=False, dropna=False).ngroup().to_numpy()
        if keys
        else np.zeros(n, dtype=np.int64)
    )
    new_series = np.r_[True, gid[1:] != gid[:-1]] if n else np.zeros(0, dtype=bool)
    first = np.flatnonzero(new_series)
    size = np.diff(np.r_[first, n])
    at_base = years == base_year
    consecutive = np.all(np.diff(years)[~new_series[1:]] == 1) if n else True
    n_base = np.add.reduceat(at_base.astype(np.int64), first) if n else np.zeros(0, np.int64)
    if not consecutive or np.any(n_base != 1):
        _series_error(frame, keys, years, int(base_year))
    base = np.flatnonzero(at_base)  # one per series, in series order
    last = first + size - 1
    statuses = status_array(frame)
    factor, link_symbol = _links(statuses, values)

    index = np.full(n, np.nan)
    out_status = np.full(n, None, dtype=object)
    index[base] = 100.0
    # one step further from the base year at a time, every series at once (a loop over years,
    # not rows): I_t = I_{t-1} f_t forward, I_t = I_{t+1} / f_{t+1} backward; the first link
    # that cannot be used (symbol, or a zero factor backward: ".") stops the series there
    broken = np.full(len(base), None, dtype=object)
    for step in range(1, int(size.max(initial=1))):
        live = base + step <= last
        rows = (base + step)[live]
        sym = link_symbol[rows]
        brk = broken[live]
        ok = pd.isna(brk) & pd.isna(sym)
        index[rows[ok]] = index[rows[ok] - 1] * factor[rows[ok]]
        brk = np.where(pd.isna(brk), sym, brk)
        broken[live] = brk
        out_status[rows[~ok]] = brk[~ok]
    broken = np.full(len(base), None, dtype=object)
    for step in range(1, int(size.max(initial=1))):
        live = base - step >= first
        rows = (base - step)[live]
        link = rows + 1
        sym = link_symbol[link]
        brk = broken[live]
        ok = pd.isna(brk) & pd.isna(sym) & (factor[link] != 0)
        index[rows[ok]] = index[link[ok]] / factor[link[ok]]
        brk = np.where(ok | ~pd.isna(brk), brk, np.where(pd.isna(sym), ".", sym))
        broken[live] = brk
        out_status[rows[~ok]] = brk[~ok]
    # a base year that is "." and links to nothing: the series did not exist then
    linked = np.add.reduceat((~np.isnan(index)).astype(np.int64), first) - 1 if n else base
    absent = base[(statuses[base] == ".") & (linked == 0)]
    index[absent] = np.nan
    out_status[absent] = "."
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
    # each term s_i VA_{i,t-1} (1 + v_{i,t}/100) and its base s_i VA_{i,t-1}, with the symbol of
    # the part that is missing (the previous level first, then the change)
    p_rank, v_rank = missing_rank(sp), missing_rank(sv)
    p_missing = (p_rank > 0) | np.isnan(pv)
    v_missing = (v_rank > 0) | np.isnan(vv)
    p_sym = np.where(p_rank > 0, rank_symbol(p_rank), "..")
    v_sym = np.where(v_rank > 0, rank_symbol(v_rank), "..")
    with np.errstate(invalid="ignore"):
        base = np.where(p_missing, np.nan, sign * pv)
        term = np.where(p_missing, np.nan, np.where(pv == 0, 0.0, sign * pv * (1.0 + vv / 100.0)))
    term_gap = ~p_missing & (pv != 0) & v_missing
    term[term_gap] = np.nan
    b_status = np.full(len(merged), None, dtype=object)
    b_status[p_missing] = p_sym[p_missing]
    t_status = b_status.copy()
    t_status[term_gap] = v_sym[term_gap]
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
    # a missing value takes the more restrictive "no number" symbol of its parts, else ".."
    rank = np.maximum(
        missing_rank(status_array(merged)),
        missing_rank(symbols_of(merged[f"{STATUS}_b"])),
    )
    missing = np.isnan(value.to_numpy(dtype=float))
    status = np.full(len(merged), None, dtype=object)
    status[missing] = np.where(rank[missing] > 0, rank_symbol(rank[missing]), "..")
    out = merged[["region", "scope", "year"]].copy()
    out.insert(2, "measure", "value_added_constant_prices")
    out[VALUE] = value.to_numpy()
    out[STATUS] = pd.array(status, dtype="string")
    out.attrs = dict(index.attrs)
    out.attrs["units"] = f"NOK million, constant {b} prices (chain-linked)"
    return out
