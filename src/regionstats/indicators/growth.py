"""Growth: compound annual growth rates, indices, and the exact employment/productivity split.

* :func:`cagr`: :math:`g = (X_{t_1}/X_{t_0})^{1/(t_1-t_0)} - 1` (a fraction per year);
* :func:`growth_index`: :math:`100 \\cdot X_t / X_b`;
* :func:`growth_decomposition`: value added :math:`VA = E \\cdot P` (employment times
  productivity), so over any window, exactly,

  .. math:: \\ln\\frac{VA_{t_1}}{VA_{t_0}} = \\ln\\frac{E_{t_1}}{E_{t_0}}
            + \\ln\\frac{P_{t_1}}{P_{t_0}}, \\qquad
            (1 + g_{VA}) = (1 + g_E)(1 + g_P)

  for total growth and for annualised (CAGR) growth alike.

Results are tidy with ``attrs`` carrying the input's vintage/scope and the method; a window outside
the data raises :class:`ValueError`; a missing or non-positive level gives NaN with a symbol
(``"."`` for non-positive: growth of a level <= 0 is not defined), never 0 or inf.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from regionstats.indicators._tidy import as_status, identity_keys, status_array, two_part_status
from regionstats.indicators.accounts import employment, productivity, value_added
from regionstats.indicators.scopes import Scope
from regionstats.model import STATUS, VALUE


def _years(frame: pd.DataFrame) -> list[int]:
    """The distinct years of a frame, sorted (vectorised: no Python loop over rows)."""
    return [int(y) for y in np.unique(frame["year"].to_numpy(dtype=np.int64))]


def _check_window(frame: pd.DataFrame, start: int, end: int) -> None:
    years = _years(frame)
    if not years:
        raise ValueError("growth: the frame has no years")
    if start >= end:
        raise ValueError(f"growth window must have start < end, got {start}-{end}")
    outside = [y for y in (start, end) if y not in years]
    if outside:
        raise ValueError(
            f"growth window {start}-{end} is outside the data: year(s) {outside} not in "
            f"{years[0]}-{years[-1]} ({len(years)} years)"
        )


def _endpoints(frame: pd.DataFrame, start: int, end: int, keys: Sequence[str]) -> pd.DataFrame:
    first = frame[frame["year"] == start][[*keys, VALUE, STATUS]]
    last = frame[frame["year"] == end][[*keys, VALUE, STATUS]]
    if keys:
        both = first.merge(last, on=list(keys), how="outer", suffixes=("_0", "_1"))
    else:
        both = pd.concat(
            [
                first.add_suffix("_0").reset_index(drop=True),
                last.add_suffix("_1").reset_index(drop=True),
            ],
            axis=1,
        )
    return both


def _growth_from_endpoints(
    both: pd.DataFrame, n_years: int, annual: bool
) -> tuple[np.ndarray, np.ndarray]:
    v0 = both[f"{VALUE}_0"].to_numpy(dtype=float)
    v1 = both[f"{VALUE}_1"].to_numpy(dtype=float)
    s0 = status_array(both.rename(columns={f"{STATUS}_0": STATUS}))
    s1 = status_array(both.rename(columns={f"{STATUS}_1": STATUS}))
    ok, status = two_part_status(v0, s0, v1, s1, (v0 <= 0) | (v1 <= 0))
    value = np.full(len(both), np.nan)
    ratio = v1[ok] / v0[ok]
    value[ok] = ratio ** (1.0 / n_years) - 1.0 if annual else ratio - 1.0
    return value, status


def cagr(
    frame: pd.DataFrame,
    start: int,
    end: int,
    *,
    keys: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Compound annual growth rate of each series between ``start`` and ``end``.

    .. math:: g = \\left(\\frac{X_{end}}{X_{start}}\\right)^{1/(end - start)} - 1

    Parameters
    ----------
    frame
        Tidy frame with ``year``, ``value``, ``status`` (levels, e.g. value added).
    start, end
        The window; both must be years of the frame (else :class:`ValueError`).
    keys
        Series identity (default: every identity column except ``year``).

    Returns
    -------
    ``keys``, ``start_year``, ``end_year``, ``value`` (fraction per year, 0.02 = 2 % a year),
    ``status``.

    Examples
    --------
    100 in 2010 and 121 in 2012: (121/100)^(1/2) - 1 = 1.1 - 1 = 0.10.

    >>> f = pd.DataFrame({"region": ["01", "01"], "year": [2010, 2012],
    ...                   "value": [100.0, 121.0], "status": [None, None]})
    >>> round(float(cagr(f, 2010, 2012)["value"].iloc[0]), 10)
    0.1
    """
    keys = list(keys) if keys is not None else identity_keys(frame, exclude=("year",))
    _check_window(frame, start, end)
    both = _endpoints(frame, start, end, keys)
    value, status = _growth_from_endpoints(both, end - start, annual=True)
    out = both[list(keys)].copy()
    out["start_year"] = int(start)
    out["end_year"] = int(end)
    out[VALUE] = value
    out[STATUS] = as_status(status).to_numpy()
    out[STATUS] = out[STATUS].astype("string")
    out.attrs = dict(frame.attrs)
    out.attrs.update(
        {
            "units": "fraction per year",
            "window": (int(start), int(end)),
            "method": "CAGR (X_end/X_start)^(1/(end-start)) - 1",
        }
    )
    return out


def growth_index(
    frame: pd.DataFrame, base_year: int, *, keys: Sequence[str] | None = None
) -> pd.DataFrame:
    """Each series as an index, ``100 * X_t / X_base``; a missing/zero base gives NaN + symbol.

    >>> f = pd.DataFrame({"region": ["01"] * 3, "year": [2010, 2011, 2012],
    ...                   "value": [50.0, 100.0, 80.0], "status": [None, None, None]})
    >>> growth_index(f, 2011)["value"].tolist()
    [50.0, 100.0, 80.0]
    """
    keys = list(keys) if keys is not None else identity_keys(frame, exclude=("year",))
    years = set(_years(frame))
    if base_year not in years:
        raise ValueError(f"base year {base_year} is outside the data ({min(years)}-{max(years)})")
    base = frame[frame["year"] == base_year][[*keys, VALUE, STATUS]]
    merged = (
        frame.merge(base, on=list(keys), how="left", suffixes=("", "_b"))
        if keys
        else frame.assign(
            **{f"{VALUE}_b": base[VALUE].iloc[0], f"{STATUS}_b": base[STATUS].iloc[0]}
        )
    )
    v = merged[VALUE].to_numpy(dtype=float)
    b = merged[f"{VALUE}_b"].to_numpy(dtype=float)
    sv = status_array(merged)
    sb = status_array(merged.drop(columns=[STATUS]).rename(columns={f"{STATUS}_b": STATUS}))
    ok, status = two_part_status(v, sv, b, sb, b == 0)
    value = np.full(len(merged), np.nan)
    value[ok] = 100.0 * v[ok] / b[ok]
    out = merged.drop(columns=[f"{VALUE}_b", f"{STATUS}_b"]).copy()
    out[VALUE] = value
    out[STATUS] = as_status(status).to_numpy()
    out[STATUS] = out[STATUS].astype("string")
    out.attrs = dict(frame.attrs)
    out.attrs.update({"units": f"index, {base_year} = 100", "base_year": int(base_year)})
    return out


def growth_decomposition(
    accounts: pd.DataFrame,
    scope: str | Scope | Sequence[str] = "all",
    start: int | None = None,
    end: int | None = None,
    *,
    price: Literal["current", "volume"] = "current",
    base_year: int | None = None,
) -> pd.DataFrame:
    """Value-added growth split exactly into employment growth and productivity growth.

    With :math:`P = VA/E` (see :func:`~regionstats.indicators.accounts.productivity`),

    .. math:: \\ln\\frac{VA_1}{VA_0} = \\ln\\frac{E_1}{E_0} + \\ln\\frac{P_1}{P_0},
              \\qquad 1 + g_{VA} = (1 + g_E)(1 + g_P)

    Parameters
    ----------
    accounts
        Tidy 11713 frame.
    scope
        Industry scope (value added and employment of the same industries).
    start, end
        Window (default: first and last year of the data).
    price
        ``"current"`` or ``"volume"`` (constant prices of ``base_year``) value added.

    Returns
    -------
    Tidy ``region``, ``scope``, ``component`` (``value_added``, ``employment``,
    ``productivity``), ``measure`` (``log_change``; ``growth`` = X_1/X_0 - 1 over the window;
    ``cagr`` = annualised), ``start_year``, ``end_year``, ``value``, ``status``. For every region
    ``log_change`` of value_added equals employment + productivity (to rounding error) and
    ``1 + growth`` multiplies likewise.
    """
    years = _years(accounts)
    start = years[0] if start is None else int(start)
    end = years[-1] if end is None else int(end)
    va = value_added(accounts, scope, price, base_year=base_year)
    _check_window(va, start, end)
    emp = employment(accounts, scope)
    prod = productivity(accounts, scope, price, base_year=base_year)
    parts = []
    for component, frame in (("value_added", va), ("employment", emp), ("productivity", prod)):
        both = _endpoints(frame, start, end, ["region", "scope"])
        total, status = _growth_from_endpoints(both, end - start, annual=False)
        annual, _ = _growth_from_endpoints(both, end - start, annual=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            logs = np.log1p(total)
        for measure, values in (("log_change", logs), ("growth", total), ("cagr", annual)):
            part = both[["region", "scope"]].copy()
            part["component"] = component
            part["measure"] = measure
            part["start_year"] = start
            part["end_year"] = end
            part[VALUE] = values
            part[STATUS] = as_status(status).to_numpy()
            parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    out[STATUS] = out[STATUS].astype("string")
    for col in ("component", "measure"):
        out[col] = out[col].astype("str")
    out = out.sort_values(["region", "component", "measure"], ignore_index=True)
    out.attrs = dict(va.attrs)
    out.attrs.update(
        {
            "units": "log points (log_change); fraction (growth, cagr per year)",
            "window": (start, end),
            "price": price,
            "method": "VA = E * P: ln(VA1/VA0) = ln(E1/E0) + ln(P1/P0); (1+gVA) = (1+gE)(1+gP)",
        }
    )
    return out


__all__ = ["cagr", "growth_decomposition", "growth_index"]
