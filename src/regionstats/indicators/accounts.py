"""Indicators from the regional accounts (11713): value added, employment, productivity, shares.

Every function takes the tidy 11713 frame of :func:`regionstats.sources.accounts.regional_accounts`
and an industry scope (:mod:`regionstats.indicators.scopes`) and returns a tidy frame
``region``, ``scope``, ``year``, ``value``, ``status`` (+ ``region_label``) with ``attrs``
recording the table, vintage, scope, units and method. Regions are the accounts' own codes
(``"0"`` whole country, counties ``"01"``..``"20"``, ``"50"`` Trøndelag); counties do not sum to
``"0"`` (continental shelf and Svalbard are national only).

Productivity is value added per employed person (*bruttoprodukt per sysselsatt*):

.. math:: P = \\frac{VA \\cdot 10^6}{E \\cdot 10^3} \\quad \\text{NOK per person}

with :math:`VA` in NOK million and :math:`E` in 1000 persons as 11713 publishes them. A zero or
missing denominator gives NaN with a status symbol (``"."`` for zero, the part's symbol
otherwise), never 0 or inf.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import pandas as pd

from regionstats.indicators._tidy import ratio
from regionstats.indicators.scopes import Scope, apply_scope
from regionstats.indicators.scopes import scope as resolve_scope
from regionstats.indicators.volume import constant_prices, volume_index
from regionstats.model import STATUS, VALUE

Price = Literal["current", "volume", "volume_index"]
ScopeSpec = str | Scope | Sequence[str]

_KEEP_ATTRS = ("table", "source", "vintage")


def _finish(
    frame: pd.DataFrame,
    accounts: pd.DataFrame,
    sc: Scope,
    measure: str,
    units: str,
    method: str,
    **extra: object,
) -> pd.DataFrame:
    out = frame.copy()
    if "scope" not in out.columns:
        out.insert(1, "scope", sc.name)
    out["scope"] = out["scope"].astype("str")
    out["measure"] = measure
    out["measure"] = out["measure"].astype("str")
    cols = ["region", "scope", "measure", "year", VALUE, STATUS]
    out = out[cols]
    if "region_label" in accounts.columns:
        labels = accounts.drop_duplicates("region").set_index("region")["region_label"]
        out["region_label"] = out["region"].map(labels).astype("str")
    out = out.sort_values(["region", "year"], ignore_index=True)
    out.attrs = {
        **{k: v for k, v in accounts.attrs.items() if k in _KEEP_ATTRS},
        "scope": sc.name,
        "scope_formula": sc.formula,
        "scope_description": sc.description,
        "measure": measure,
        "units": units,
        "method": method,
        **extra,
    }
    return out


def value_added(
    accounts: pd.DataFrame,
    scope: ScopeSpec = "all",
    price: Price = "current",
    *,
    base_year: int | None = None,
) -> pd.DataFrame:
    """Value added (*bruttoprodukt*, basic prices) of a scope by region and year.

    Parameters
    ----------
    accounts
        Tidy 11713 frame.
    scope
        Scope name (:data:`~regionstats.indicators.scopes.SCOPES`), :class:`Scope` or codes.
    price
        ``"current"``: NOK million, current prices. ``"volume"``: NOK million in constant prices
        of ``base_year``, chain-linked from the published annual volume changes
        (:func:`~regionstats.indicators.volume.constant_prices`). ``"volume_index"``: chain
        volume index, ``base_year`` = 100.
    base_year
        Reference year for the volume measures (default: last year of the data).
    """
    sc = resolve_scope(scope)
    if price == "current":
        levels = apply_scope(accounts, sc, measures=["value_added"])
        return _finish(
            levels,
            accounts,
            sc,
            "value_added",
            "NOK million, current prices",
            "sum(plus) - sum(minus) of 11713 value added",
        )
    if price == "volume":
        vol = constant_prices(accounts, sc, base_year)
        return _finish(
            vol,
            accounts,
            sc,
            "value_added_volume",
            vol.attrs["units"],
            vol.attrs["method"],
            base_year=vol.attrs["base_year"],
        )
    if price == "volume_index":
        idx = volume_index(accounts, sc, base_year)
        return _finish(
            idx,
            accounts,
            sc,
            "value_added_volume_index",
            "index, base year = 100",
            idx.attrs["method"],
            base_year=idx.attrs["base_year"],
        )
    raise ValueError(f"price must be 'current', 'volume' or 'volume_index', got {price!r}")


def employment(accounts: pd.DataFrame, scope: ScopeSpec = "all") -> pd.DataFrame:
    """Employed persons (*sysselsatte personer*, 1000 persons) of a scope by region and year."""
    sc = resolve_scope(scope)
    levels = apply_scope(accounts, sc, measures=["employed_persons"])
    return _finish(
        levels,
        accounts,
        sc,
        "employed_persons",
        "1000 persons",
        "sum(plus) - sum(minus) of 11713 employed persons",
    )


def productivity(
    accounts: pd.DataFrame,
    scope: ScopeSpec = "all",
    price: Literal["current", "volume"] = "current",
    per: Literal["employed"] = "employed",
    *,
    base_year: int | None = None,
) -> pd.DataFrame:
    """Value added per employed person, **NOK per person**, by region and year.

    .. math:: P_{rt} = \\frac{VA_{rt} \\cdot 10^6}{E_{rt} \\cdot 10^3}

    Parameters
    ----------
    accounts
        Tidy 11713 frame (``value_added`` in NOK million, ``employed_persons`` in 1000 persons).
    scope
        Industry scope of both numerator and denominator.
    price
        ``"current"``: current NOK. ``"volume"``: NOK at constant prices of ``base_year``
        (chain-linked value added, :func:`value_added` with ``price="volume"``, divided by
        employed persons); divide by its ``base_year`` value and multiply by 100 for an index
        (:func:`regionstats.indicators.growth.growth_index`).
    per
        Only ``"employed"`` (11713 has employed persons, not hours).
    base_year
        Reference year of the volume measure (default: last year).

    Examples
    --------
    A county with value added 600 000 NOK million and 500 (thousand) employed persons has
    productivity 600 000e6 / 500e3 = 1.2 million NOK per person.
    """
    if per != "employed":
        raise ValueError(f"per must be 'employed' (11713 has no hours worked), got {per!r}")
    sc = resolve_scope(scope)
    va = (
        value_added(accounts, sc, "volume" if price == "volume" else "current", base_year=base_year)
        if price in ("current", "volume")
        else None
    )
    if va is None:
        raise ValueError(f"price must be 'current' or 'volume', got {price!r}")
    emp = employment(accounts, sc)
    out = ratio(va, emp, ["region", "scope", "year"], scale=1e6 / 1e3)
    units = "NOK per employed person" + (
        f", constant {va.attrs['base_year']} prices" if price == "volume" else ", current prices"
    )
    extra = {"base_year": va.attrs["base_year"]} if price == "volume" else {}
    return _finish(
        out,
        accounts,
        sc,
        "productivity" if price == "current" else "productivity_volume",
        units,
        "value added (NOK million) * 1e6 / (employed persons (1000) * 1e3)",
        price=price,
        **extra,
    )


def compensation_share(accounts: pd.DataFrame, scope: ScopeSpec = "all") -> pd.DataFrame:
    """Compensation of employees as a share of value added (*lønnsandel*), a fraction.

    :math:`\\text{compensation} / VA`, both in current NOK million; zero or missing value added
    gives NaN with a symbol.
    """
    sc = resolve_scope(scope)
    comp = apply_scope(accounts, sc, measures=["compensation"])
    va = apply_scope(accounts, sc, measures=["value_added"])
    out = ratio(comp, va, ["region", "scope", "year"])
    return _finish(
        out,
        accounts,
        sc,
        "compensation_share",
        "fraction of value added",
        "compensation / value added (current prices)",
    )


__all__ = ["compensation_share", "employment", "productivity", "value_added"]
