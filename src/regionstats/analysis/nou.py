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
2. **Centrality classes** (an *estimate*, :func:`regionstats.class_estimates`): county value
   added allocated to municipalities by employment by workplace within industry groups, deflated
   per county and group, summed by class; classes 5-6 against the national average and against
   classes 1-2, excluding finance, over ten years where the data allow, nominal and in volume,
   with ranges over the allocation key, the window and the centrality edition (the classes are
   enumerated, so there is no sampling interval). Offline the employment data cover Telemark
   2016-2019 only; live, every municipality.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import pandas as pd

from regionstats.analysis.classes import class_estimates
from regionstats.analysis.errors import InsufficientData
from regionstats.analysis.regression import growth_regression
from regionstats.indicators.accounts import productivity, value_added
from regionstats.indicators.growth import cagr
from regionstats.indicators.peripherality import peripherality
from regionstats.model import STATUS, VALUE
from regionstats.regions.accounts_counties import merge_trondelag
from regionstats.regions.crosswalk import CodeHistory, require_history


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
    class_window: int = 10,
    class_scope: str = "excl_finance",
    editions: Mapping[object, pd.DataFrame] | None = None,
    price: Literal["current", "volume"] = "current",
    history: CodeHistory | None = None,
    permutations: int = 9999,
) -> dict[str, object]:
    r"""County growth versus peripherality, and (estimated) growth by centrality class.

    .. math:: g_c = \alpha + \beta\, s_c + \varepsilon_c, \qquad
              s_c = \frac{\sum_{m \in c,\ k(m) \in \{5,6\}} pop_m}{\sum_{m \in c} pop_m}

    with :math:`g_c` the county's annual growth (CAGR) over the window and :math:`s_c` its
    population share in the least central classes at the start (KLASS 128; NOU 2020:12, ch. 4).
    OLS with HC3 standard errors (MacKinnon & White 1985), t-based intervals with n - 2 degrees
    of freedom and a permutation p-value (Phipson & Smyth 2010); the class-level estimate is
    :func:`regionstats.class_estimates`.

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
    class_window, class_scope, editions
        Length in years of the class estimate's window (the last ``class_window`` years the
        accounts and employment share, or fewer when they share fewer), its scope
        (:data:`regionstats.analysis.classes.CLASS_SCOPES`) and other centrality editions for its
        sensitivity ranges; see :func:`regionstats.class_estimates`.
    price
        ``"current"`` (nominal growth; Trøndelag before 2018 = Sør- + Nord-Trøndelag, 18
        counties) or ``"volume"`` (real growth from SSB's chained volume changes; the accounts
        are put on the 2019 counties exactly, so Møre og Romsdal and Trøndelag form one region
        "15+50" because Rindal moved between them in 2019: 17 regions).
    history
        The municipality code history; required with ``price="volume"``.
    permutations
        Permutations for the slope's p-value (0: none).

    Returns
    -------
    ``{"county_growth": tidy frame, "peripherality": tidy frame, "regressions": tidy frame,
    "classes": the :func:`~regionstats.class_estimates` result or None, "summary": dict}``.
    ``summary`` is machine-readable: per scope and outcome the slope, robust SE, t-based 95 % CI,
    permutation p-value, sign and the n used; the class estimate's summary; and ``caveats``,
    sentences on what the data cannot say, generated from the results.

    Examples
    --------
    Four counties of two municipalities each; growth rises with the peripheral share by
    construction (0, 1/2, 1/2 and all of the population in class 6):

    >>> import pandas as pd
    >>> va = {"01": (100, 110), "02": (100, 120), "03": (100, 121), "04": (100, 140)}
    >>> acc = pd.DataFrame([(c, "TOTAL", m, y, float(v[i]) if m == "value_added" else 10.0, pd.NA)
    ...     for c, v in va.items() for m in ("value_added", "employed_persons")
    ...     for i, y in enumerate((2010, 2011))],
    ...     columns=["region", "industry", "measure", "year", "value", "status"])
    >>> munis = [f"{c}0{k}" for c in va for k in (1, 2)]
    >>> pop = pd.DataFrame({"region": munis, "year": 2010, "value": 100.0, "status": pd.NA})
    >>> cls = pd.DataFrame({"region": munis, "centrality_class": [1, 1, 1, 6, 6, 1, 6, 6]})
    >>> cty = pd.DataFrame({"region": munis, "county": [m[:2] for m in munis]})
    >>> out = nou_check(acc, pop, cls, cty, start=2010, end=2011, scopes=("all",),
    ...                 permutations=0)
    >>> r = out["summary"]["county_results"]["all:value_added"]
    >>> round(r["slope"], 3), r["n"]  # OLS of (0.1, 0.2, 0.21, 0.4) on (0, .5, .5, 1)
    (0.3, 4)
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
            table = growth_regression(
                _one(g), _one(x), name=peripherality_measure, permutations=permutations
            )
            table.insert(0, "outcome", outcome)
            table.insert(0, "scope", sc)
            table["n"] = int(table.attrs["n"])
            table["df"] = int(table.attrs["df"])
            reg_parts.append(table)
            slope = table[table["term"] == peripherality_measure].iloc[0]
            results[f"{sc}:{outcome}"] = {
                "scope": sc,
                "outcome": f"CAGR of {outcome} {start}-{end} "
                + ("(current prices)" if price == "current" else "(volume)"),
                "slope": float(slope["coef"]),
                "se_hc3": float(slope["se"]),
                "ci95": (float(slope["ci_low"]), float(slope["ci_high"])),
                "ci": "t with n - 2 degrees of freedom",
                "p_value": float(slope["p_value"]),
                "p_perm": float(slope["p_perm"]),
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
        try:
            classes = class_estimates(
                accounts,
                employment,
                centrality,
                allocation_counties,
                population=population,
                window=class_window,
                editions=editions,
                scope=class_scope,
            )
            class_summary = classes["summary"]  # type: ignore[assignment]
        except InsufficientData as exc:
            no_class_estimate = f"No centrality-class estimate: {exc}."
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
    for r in results.values():
        dropped = [str(d) for d in r["dropped"]]  # type: ignore[attr-defined]
        if dropped:
            caveats.append(
                f"The {r['scope']} regression of {r['outcome']} uses {r['n']} counties: "
                f"{', '.join(dropped)} have no usable figure (suppressed or missing in the "
                "accounts, or no population share), which is not at random; its n is printed "
                "with it."
            )
    if no_class_estimate:
        caveats.append(no_class_estimate)
    if class_summary is not None:
        caveats += list(class_summary["caveats"])  # type: ignore[call-overload]
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
    regressions.attrs = {
        "method": "OLS with HC3 SE, t-based 95 % CI (n - 2 df), permutation p for the slope",
        "window": (start, end),
    }
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
