"""The NOU 2020:12 check: is growth weaker where counties are more peripheral?

NOU 2020:12 (*Næringslivets betydning for levende og bærekraftige lokalsamfunn*) discusses value
creation outside the central areas. :func:`nou_check` puts the regional accounts to that question
at the two levels the data allow:

1. **Counties** (published 11713 data): annual growth (CAGR) of value added and of productivity
   over a window, for the scopes ``business_excl_finance`` and ``excl_petroleum`` by default,
   regressed on county peripherality (share of the population in centrality classes 5-6) with
   HC3 standard errors and 95 % confidence intervals. Trøndelag (``"50"``) before 2018 is the sum
   of Sør- and Nord-Trøndelag (``"16"`` + ``"17"``) so it has a full series (Rindal moved in
   2019: a small break).
2. **Centrality classes** (an *estimate*): county value added allocated to municipalities by
   employment by workplace (:mod:`regionstats.indicators.allocation`), summed by class; the growth
   difference between the least and the most central class with a bootstrap CI. Offline the
   13470 data cover Telemark 2016-2019 only, and the estimates only reflect industry mix.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import pandas as pd

from regionstats.analysis.compare import class_growth_difference, growth_regression
from regionstats.indicators.accounts import productivity, value_added
from regionstats.indicators.allocation import allocate_by_employment, municipal_totals
from regionstats.indicators.growth import cagr
from regionstats.indicators.peripherality import peripherality
from regionstats.model import STATUS, VALUE, aggregate
from regionstats.regions.crosswalk import CodeHistory, require_history

ADDITIVE = ("value_added", "gross_investment", "employed_persons", "compensation")


def merge_trondelag(accounts: pd.DataFrame) -> pd.DataFrame:
    """Fill Trøndelag (``"50"``) before 2018 with Sør- + Nord-Trøndelag (``"16"`` + ``"17"``).

    Only additive measures; the volume change of ``"50"`` stays ``"."`` before 2018 (it cannot be
    summed). Rows of ``"16"`` and ``"17"`` are kept. Rindal (1567) moved from Møre og Romsdal to
    Trøndelag on 1 January 2019: the 2019 figures include it, earlier ones do not.
    """
    old = accounts[
        accounts["region"].isin(["16", "17"])
        & accounts["measure"].isin(ADDITIVE)
        & (accounts["year"] < 2018)
    ]
    summed = aggregate(old, ["industry", "measure", "year"])
    summed.insert(0, "region", "50")
    summed["region"] = summed["region"].astype("str")
    replace = (
        (accounts["region"] == "50")
        & accounts["measure"].isin(ADDITIVE)
        & (accounts["year"] < 2018)
    )
    kept = accounts[~replace]
    filled = summed.merge(
        accounts[replace].drop(columns=[VALUE, STATUS]),
        on=["region", "industry", "measure", "year"],
        how="left",
    )
    out = pd.concat([kept, filled[kept.columns]], ignore_index=True)
    out = out.sort_values(["region", "industry", "measure", "year"], ignore_index=True)
    out.attrs = dict(accounts.attrs)
    out.attrs["trondelag"] = "50 before 2018 = 16 + 17 (additive measures)"
    return out


def _one(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[["region", VALUE, STATUS]]


def nou_check(
    accounts: pd.DataFrame,
    population: pd.DataFrame,
    centrality: pd.DataFrame,
    counties: pd.DataFrame,
    *,
    employment: pd.DataFrame | None = None,
    employment_counties: pd.DataFrame | None = None,
    start: int = 2008,
    end: int = 2019,
    scopes: Sequence[str] = ("business_excl_finance", "excl_petroleum"),
    peripherality_measure: str = "share_class_5_6",
    peripherality_year: int | None = None,
    class_window: tuple[int, int] | None = None,
    n_boot: int = 999,
    seed: int = 20201,
    price: Literal["current", "volume"] = "current",
    history: CodeHistory | None = None,
) -> dict[str, object]:
    """County growth versus peripherality, and (estimated) growth by centrality class.

    Parameters
    ----------
    accounts
        Tidy 11713 (:func:`regionstats.sources.accounts.regional_accounts`).
    population
        Municipal population on the centrality table's vintage (e.g. 2024 boundaries).
    centrality
        :func:`regionstats.regions.centrality.centrality` of one edition.
    counties
        Municipality -> accounts county (:func:`~regionstats.indicators.allocation.
        municipality_counties`) for the population's municipalities.
    employment, employment_counties
        Optional 13470 frame (same vintage) and its municipality -> county mapping for the
        class-level estimate; skipped when ``None``.
    start, end
        County growth window (any years of the accounts).
    peripherality_year
        Year of the population shares (default: ``start``, the initial condition).
    class_window
        Window of the class estimate (default: all years the allocation covers).
    price
        ``"current"`` (nominal growth; Trøndelag before 2018 = Sør- + Nord-Trøndelag, 18
        counties) or ``"volume"`` (real growth from SSB's chained volume changes; the accounts
        are put on the 2019 counties exactly, so Møre og Romsdal and Trøndelag form one region
        "15+50" because Rindal moved between them in 2019: 17 regions).
    history
        The municipality code history; required with ``price="volume"``.

    Returns
    -------
    ``{"county_growth": tidy frame, "peripherality": tidy frame, "regressions": tidy frame,
    "classes": tidy frame or None, "summary": dict}``. ``summary`` is machine-readable: per scope
    and outcome the slope, robust SE, 95 % CI, sign, n; the class difference with its CI; and
    ``caveats``, sentences on what the data cannot say.
    """
    allocation_counties = employment_counties if employment_counties is not None else counties
    if price == "volume":
        from regionstats.regions.accounts_counties import harmonise_accounts

        acc = harmonise_accounts(
            accounts, to=2019, exact=True, history=require_history(history, "nou_check")
        )
        acc.attrs["trondelag"] = "exact 2019 counties: 15+50 = Møre og Romsdal + Trøndelag"
        group_of = {part: code for code in set(acc["region"]) for part in code.split("+")}
        counties = counties.assign(county=counties["county"].map(lambda c: group_of.get(c, c)))
    elif price == "current":
        acc = merge_trondelag(accounts)
    else:
        raise ValueError(f"price must be 'current' or 'volume', got {price!r}")
    pyear = start if peripherality_year is None else int(peripherality_year)
    pop_years = set(population["year"])
    if pyear not in pop_years:
        raise ValueError(f"peripherality year {pyear} is not in the population data")
    per = peripherality(population[population["year"] == pyear], centrality, counties)
    x = per[per["measure"] == peripherality_measure]
    growth_parts = []
    reg_parts = []
    results: dict[str, dict[str, object]] = {}
    for sc in scopes:
        for outcome, frame in (
            ("value_added", value_added(acc, sc, price=price)),
            ("productivity", productivity(acc, sc, price=price)),
        ):
            frame = frame[~frame["region"].isin(["0", "16", "17"])]
            g = cagr(frame, start, end, keys=["region", "scope"])
            g["outcome"] = outcome
            growth_parts.append(g)
            table = growth_regression(_one(g), _one(x), name=peripherality_measure)
            table.insert(0, "outcome", outcome)
            table.insert(0, "scope", sc)
            reg_parts.append(table)
            slope = table[table["term"] == peripherality_measure].iloc[0]
            results[f"{sc}:{outcome}"] = {
                "scope": sc,
                "outcome": f"CAGR of {outcome} {start}-{end} "
                + ("(current prices)" if price == "current" else "(volume)"),
                "slope": float(slope["coef"]),
                "se_hc3": float(slope["se"]),
                "ci95": (float(slope["ci_low"]), float(slope["ci_high"])),
                "sign": "negative" if slope["coef"] < 0 else "positive",
                "ci_excludes_zero": bool(slope["ci_low"] > 0 or slope["ci_high"] < 0),
                "n": int(table.attrs["n"]),
                "dropped": table.attrs["dropped"],
                "interpretation": (
                    f"a county with all its population in classes 5-6 versus none: "
                    f"{100 * float(slope['coef']):+.2f} percentage points of annual growth"
                ),
            }
    growth = pd.concat(growth_parts, ignore_index=True)
    regressions = pd.concat(reg_parts, ignore_index=True)
    classes = None
    class_summary: dict[str, object] | None = None
    no_class_estimate: str | None = None
    if employment is not None:
        overlap = sorted(set(accounts["year"].astype(int)) & set(employment["year"].astype(int)))
        if len(overlap) < 2:
            no_class_estimate = (
                f"No centrality-class estimate: the employment data ({employment['year'].min()}-"
                f"{employment['year'].max()}) and the accounts window ({start}-{end}) share "
                f"{len(overlap)} year(s); growth needs two."
            )
            employment = None
    if employment is not None:
        ecty = allocation_counties
        # Trøndelag is one county (50) in the allocation counties: 16 + 17 before 2018
        alloc = allocate_by_employment(merge_trondelag(accounts), employment, ecty)
        totals = municipal_totals(alloc)
        yrs = alloc.attrs["years"]
        cw = class_window or (yrs[0], yrs[-1])
        tabs = []
        class_summary = {}
        for measure in ("value_added", "productivity"):
            tab, summ = class_growth_difference(
                totals, centrality, cw[0], cw[1], measure=measure, n_boot=n_boot, seed=seed
            )
            tab.insert(0, "measure", measure)
            tabs.append(tab)
            class_summary[measure] = summ
        classes = pd.concat(tabs, ignore_index=True)
        classes.attrs = {
            "estimate": True,
            "method": alloc.attrs["method"],
            "coverage": alloc.attrs.get("employment_coverage"),
            "counties": alloc.attrs["counties"],
            "window": cw,
        }
        class_summary["coverage"] = {
            "counties": alloc.attrs["counties"],
            "municipalities": int(totals["region"].nunique()),
            "years": yrs,
            "employment_coverage": alloc.attrs.get("employment_coverage"),
        }
    caveats = [
        "County-level data cannot separate municipalities: a county's growth mixes its central "
        "and peripheral parts, and with about 18 counties the regression has little power.",
        (
            "Growth rates are in current prices (nominal)"
            if price == "current"
            else "Growth rates are in volume (chained from SSB's annual volume changes)"
        )
        + "; petroleum and finance are removed only in the scopes that say so.",
        "Peripherality is the population share in centrality classes 5-6 in "
        f"{pyear} (edition {centrality.attrs.get('edition')}); it is a characteristic of the "
        "county, not a causal treatment.",
    ]
    if no_class_estimate:
        caveats.append(no_class_estimate)
    if classes is not None:
        caveats.append(
            "The centrality-class figures are estimates: county value added allocated to "
            "municipalities by employment by workplace within industry groups, so they reflect "
            "industry mix only, not productivity differences within an industry; offline they "
            "cover only "
            + str(class_summary["coverage"]["employment_coverage"])  # type: ignore[index]
            + f" for {class_summary['coverage']['years']}."  # type: ignore[index]
        )
    summary = {
        "question": "Is growth in value added and productivity weaker in more peripheral "
        "counties / less central municipalities (NOU 2020:12)?",
        "window": (start, end),
        "county_results": results,
        "class_results": class_summary,
        "caveats": caveats,
        "vintage": accounts.attrs.get("vintage"),
        "centrality_edition": centrality.attrs.get("edition"),
    }
    regressions.attrs = {"method": "OLS with HC3 SE", "window": (start, end)}
    growth.attrs = {
        "units": "fraction per year",
        "window": (start, end),
        "trondelag": acc.attrs["trondelag"],
    }
    return {
        "county_growth": growth,
        "peripherality": per,
        "regressions": regressions,
        "classes": classes,
        "summary": summary,
    }


__all__ = ["merge_trondelag", "nou_check"]
