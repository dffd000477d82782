"""**Estimates** of municipal value added: county accounts allocated by employment by workplace.

The regional accounts (11713) stop at counties. A municipal figure is an *estimate*: each
county's value added in an industry group is shared out to the county's municipalities in
proportion to their employed persons by place of work (*sysselsatte etter arbeidssted*, SSB
13470) in that group,

.. math:: \\widehat{VA}_{m,g,t} = VA_{c,g,t} \\cdot \\frac{e_{m,g,t}}{\\sum_{m' \\in c} e_{m',g,t}}

where :math:`VA_{c,g,t}` is the sum of the 11713 industries mapped to 13470 group *g*
(:data:`GROUPS_13470_TO_11713`). The same shares allocate any other additive 11713 measure
(``employed_persons``), so a municipality's estimated productivity *within a group* equals its
county's: differences between municipalities come only from their industry mix. The estimates
therefore say nothing about productivity differences within an industry inside a county.

Exactness: for every county, year, group and measure the municipal estimates sum to the county
value (the last municipality takes the remainder). County cells that 11713 suppresses
(``":"``) are pooled: the county's published ``TOTAL`` minus the groups it publishes is
allocated as one ``industry="RESIDUAL"`` row per municipality, in proportion to the employment
of the suppressed groups; the same row carries the rounding difference between ``TOTAL`` and the
sum of the groups when nothing is suppressed (allocated by total employment). Municipal totals
therefore add up to the county ``TOTAL`` exactly. A group with county value but no employment in
any municipality is allocated by total employment (listed in ``attrs["fallbacks"]``).

Municipality codes must be mapped to the accounts' counties (:func:`municipality_counties`) and be
on the same vintage as the centrality edition used later (:func:`by_centrality_class`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from regionstats.indicators._tidy import as_status
from regionstats.model import MISSING_SYMBOLS, STATUS, VALUE, aggregate
from regionstats.regions.crosswalk import CodeHistory, compose, require_history

#: 13470 industry group -> the top-level 11713 industries it covers. "00" (unknown industry)
#: has no accounts counterpart and is not used to allocate. Owner-occupied dwellings (68.2b)
#: have no employment of their own and go with real estate and technical services (68-75).
GROUPS_13470_TO_11713: dict[str, tuple[str, ...]] = {
    "01-03": ("01-02", "03"),
    "05-09": ("05_07-08", "06_09.1"),
    "10-33": ("10-33",),
    "35-39": ("35", "36-39"),
    "41-43": ("41-43",),
    "45-47": ("45-47",),
    "49-53": ("49.5", "50.1", "49-52x", "53"),
    "55-56": ("55-56",),
    "58-63": ("58-63",),
    "64-66": ("64-66",),
    "68-75": ("68x", "68.2b", "69-75"),
    "77-82": ("77-82",),
    "84": ("84",),
    "85": ("85",),
    "86-88": ("86-88",),
    "90-99": ("90-99",),
}

RESIDUAL = "RESIDUAL"

#: 2024 county -> the 2008-2019 accounts counties it corresponds to (KLASS 104).
COUNTIES_2024_TO_ACCOUNTS: dict[str, tuple[str, ...]] = {
    "03": ("03",), "11": ("11",), "15": ("15",), "18": ("18",), "31": ("01",), "32": ("02",),
    "33": ("06",), "34": ("04", "05"), "39": ("07",), "40": ("08",), "42": ("09", "10"),
    "46": ("12", "14"), "50": ("50", "16", "17"), "55": ("19",), "56": ("20",),
}  # fmt: skip

ESTIMATE_NOTE = (
    "estimate: county value added (11713) allocated to municipalities by employment by "
    "workplace (13470) within industry groups; not published by SSB"
)


def mapping_table(mapping: Mapping[str, Sequence[str]] = GROUPS_13470_TO_11713) -> pd.DataFrame:
    """The group mapping as a table (``group_13470``, ``industry_11713``), for documentation."""
    return pd.DataFrame(
        [(g, i) for g, inds in mapping.items() for i in inds],
        columns=["group_13470", "industry_11713"],
    )


def municipality_counties(
    codes: Iterable[str], vintage: int, *, history: CodeHistory
) -> pd.DataFrame:
    """The 2008-2019 accounts county (19-county structure, Trøndelag = ``"50"``) of municipalities.

    A municipality of ``vintage`` gets the county (first two digits) of its 2019 predecessors
    when they all lie in one county. The six 2024 municipalities formed across the old county
    borders in 2020 (Volda 1577, Asker 3203, Aurskog-Høland 3226, Drammen 3301, Heim 5055,
    Tjeldsund 5512) get the old county matching their 2024 county
    (:data:`COUNTIES_2024_TO_ACCOUNTS`), i.e. where their larger part lies; ``rule`` says which.

    Returns ``region``, ``county``, ``rule`` (``"exact"`` or ``"main part"``).
    """
    codes = sorted(set(codes))
    hist = require_history(history, "municipality_counties")
    back = compose(hist, vintage, 2019, require_weights=False, sources=codes)
    to24 = (
        compose(hist, vintage, 2024, require_weights=False, sources=codes)
        if vintage != 2024
        else {c: {c: None} for c in codes}
    )
    rows = []
    for code in codes:
        counties = sorted({t[:2] for t in back[code]})
        if len(counties) == 1:
            rows.append((code, counties[0], "exact"))
            continue
        new = sorted({t[:2] for t in to24[code]})
        cands = [c for n in new for c in COUNTIES_2024_TO_ACCOUNTS.get(n, ()) if c in counties]
        if len(cands) != 1:
            raise ValueError(
                f"municipality {code} ({vintage}) spans accounts counties {counties}; "
                "pass an explicit county mapping"
            )
        rows.append((code, cands[0], "main part"))
    out = pd.DataFrame(rows, columns=["region", "county", "rule"]).astype("str")
    out.attrs = {"region_vintage": vintage, "county_structure": "19 (-2019)"}
    return out


def _group_values(
    accounts: pd.DataFrame, mapping: Mapping[str, Sequence[str]], measures: Sequence[str]
) -> pd.DataFrame:
    inverse = {i: g for g, inds in mapping.items() for i in inds}
    part = accounts[accounts["industry"].isin(inverse) & accounts["measure"].isin(measures)].copy()
    part["group"] = part["industry"].map(inverse)
    # dwellings have no employment by definition: their ".." must not hide the group's employment
    nolab = (part["industry"] == "68.2b") & (part["measure"] == "employed_persons")
    part = part[~nolab]
    return aggregate(part, ["region", "measure", "year", "group"])


def allocate_by_employment(
    accounts: pd.DataFrame,
    employment: pd.DataFrame,
    counties: pd.DataFrame,
    *,
    measures: Sequence[str] = ("value_added", "employed_persons"),
    years: Iterable[int] | None = None,
    mapping: Mapping[str, Sequence[str]] = GROUPS_13470_TO_11713,
) -> pd.DataFrame:
    """Allocate county accounts to municipalities by employment by workplace (an **estimate**).

    Parameters
    ----------
    accounts
        Tidy 11713 (``region`` = county code, ``industry``, ``measure``, ``year``).
    employment
        Tidy 13470: ``region`` (4-char municipality code), ``industry`` (13470 group code),
        ``year``, ``value`` (persons), ``status``.
    counties
        ``region`` -> ``county`` (accounts county code), e.g. :func:`municipality_counties`.
        Only municipalities listed here (and in ``employment``) are allocated to; a county is
        allocated only if it has employment data (every municipality of it must be present for
        the estimate to be meaningful -- the caller's responsibility, checked loosely).
    measures
        Additive 11713 measures to allocate.
    years
        Years to allocate (default: every year in both inputs).
    mapping
        13470 group -> 11713 industries (default :data:`GROUPS_13470_TO_11713`).

    Returns
    -------
    Tidy ``region`` (municipality), ``county``, ``industry`` (13470 group or ``"RESIDUAL"``),
    ``measure``, ``year``, ``value``, ``status``; ``attrs["estimate"] = True`` and
    ``attrs["method"]``. See the module docstring for the formula and the residual row.
    """
    needed = {"region", "industry", "year", VALUE}
    if not needed <= set(employment.columns):
        raise ValueError(f"employment frame needs columns {sorted(needed)}")
    if not {"region", "county"} <= set(counties.columns):
        raise ValueError("counties frame needs columns 'region' and 'county'")
    emp = employment[employment["industry"].isin(mapping)].merge(
        counties[["region", "county"]], on="region", how="inner"
    )
    if emp.empty:
        raise ValueError("no employment rows for the municipalities and groups given")
    acc_years = set(accounts["year"].astype(int))
    emp_years = set(emp["year"].astype(int))
    wanted = sorted(acc_years & emp_years) if years is None else sorted(set(years))
    outside = [y for y in wanted if y not in acc_years or y not in emp_years]
    if outside or not wanted:
        raise ValueError(
            f"years {outside or wanted} are not in both the accounts ({min(acc_years)}-"
            f"{max(acc_years)}) and the employment data ({min(emp_years)}-{max(emp_years)})"
        )
    emp = emp[emp["year"].isin(wanted)]
    acc = accounts[accounts["year"].isin(wanted) & accounts["region"].isin(set(emp["county"]))]
    groups = _group_values(acc, mapping, measures)
    totals = acc[(acc["industry"] == "TOTAL") & acc["measure"].isin(measures)]
    estatus = emp[STATUS] if STATUS in emp.columns else pd.Series(pd.NA, index=emp.index)
    rows: list[tuple[str, str, str, str, int, float, object]] = []
    fallbacks: list[str] = []
    for (county, year), e in emp.assign(_s=estatus).groupby(["county", "year"], sort=True):
        munis = sorted(e["region"].unique())
        ew = e.pivot_table(index="region", columns="industry", values=VALUE, aggfunc="sum")
        ew = ew.reindex(index=munis, columns=list(mapping))
        emissing = e[e["_s"].isin(list(MISSING_SYMBOLS)) | e[VALUE].isna()]
        bad_groups = set(emissing["industry"])
        total_emp = ew.drop(columns=list(bad_groups), errors="ignore").sum(axis=1).to_numpy()
        for measure in measures:
            gv = groups[(groups["region"] == county) & (groups["year"] == year)
                        & (groups["measure"] == measure)].set_index("group")  # fmt: skip
            tot = totals[(totals["region"] == county) & (totals["year"] == year)
                         & (totals["measure"] == measure)]  # fmt: skip
            tot_value = float(tot[VALUE].iloc[0]) if len(tot) else np.nan
            tot_status = tot[STATUS].iloc[0] if len(tot) else ".."
            allocated = 0.0
            suppressed: list[str] = []
            for g in mapping:
                value = float(gv[VALUE].get(g, np.nan)) if g in gv.index else np.nan
                status = gv[STATUS].get(g, "..") if g in gv.index else ".."
                if np.isnan(value) or g in bad_groups:
                    sym = status if isinstance(status, str) and status in MISSING_SYMBOLS else ":"
                    suppressed.append(g)
                    for m in munis:
                        rows.append((m, county, g, measure, year, np.nan, sym))
                    continue
                weights = ew[g].fillna(0.0).to_numpy()
                if weights.sum() <= 0:
                    if value != 0:
                        fallbacks.append(f"{county} {year} {measure} {g}: by total employment")
                    weights = total_emp
                shares = _split(value, weights)
                allocated += value
                for m, v in zip(munis, shares, strict=True):
                    rows.append((m, county, g, measure, year, v, pd.NA))
            if np.isnan(tot_value) or (
                isinstance(tot_status, str) and tot_status in MISSING_SYMBOLS
            ):
                tsym: object = tot_status if isinstance(tot_status, str) else ".."
                for m in munis:
                    rows.append((m, county, RESIDUAL, measure, year, np.nan, tsym))
                continue
            residual = tot_value - allocated
            if suppressed:
                pool = [g for g in suppressed if g not in bad_groups]
                weights = ew[pool].fillna(0.0).sum(axis=1).to_numpy() if pool else total_emp
                if weights.sum() <= 0:
                    weights = total_emp
            else:
                weights = total_emp
            for m, v in zip(munis, _split(residual, weights), strict=True):
                rows.append((m, county, RESIDUAL, measure, year, v, pd.NA))
    out = pd.DataFrame(
        rows, columns=["region", "county", "industry", "measure", "year", VALUE, STATUS]
    )
    for col in ("region", "county", "industry", "measure"):
        out[col] = out[col].astype("str")
    out["year"] = out["year"].astype("int64")
    out[VALUE] = out[VALUE].astype(float)
    out[STATUS] = as_status(out[STATUS].tolist()).to_numpy()
    out[STATUS] = out[STATUS].astype("string")
    out = out.sort_values(["region", "industry", "measure", "year"], ignore_index=True)
    out.attrs = {
        "estimate": True,
        "method": ESTIMATE_NOTE + "; suppressed groups pooled in a RESIDUAL row "
        "(county TOTAL minus published groups), allocated by those groups' employment",
        "accounts_vintage": accounts.attrs.get("vintage"),
        "employment_source": employment.attrs.get("source"),
        "employment_coverage": employment.attrs.get("coverage"),
        "region_vintage": employment.attrs.get("region_vintage"),
        "mapping": {g: list(i) for g, i in mapping.items()},
        "fallbacks": fallbacks,
        "counties": sorted(set(out["county"])),
        "years": wanted,
    }
    return out


def municipal_totals(allocated: pd.DataFrame) -> pd.DataFrame:
    """Sum an allocation over industry groups: one row per municipality x measure x year.

    Groups pooled in the ``RESIDUAL`` row (suppressed in the county) are left out of the sum --
    their value is in the residual -- so the totals add up to the county ``TOTAL``. A
    municipality-year whose residual itself is missing (county ``TOTAL`` missing) stays missing.
    """
    keys = ["region", "county", "measure", "year"]
    resid = allocated[allocated["industry"] == RESIDUAL][[*keys, VALUE]]
    work = allocated.merge(resid.rename(columns={VALUE: "_resid"}), on=keys, how="left")
    pooled = (work["industry"] != RESIDUAL) & work[VALUE].isna() & work["_resid"].notna()
    out = aggregate(work[~pooled], keys)
    out.attrs = dict(allocated.attrs)
    return out


def _split(value: float, weights: np.ndarray) -> np.ndarray:
    """``value`` in proportion to ``weights``; the last positive weight takes the remainder."""
    weights = np.asarray(weights, dtype=float)
    total = weights.sum()
    if total <= 0:
        raise ValueError("cannot allocate: no employment to allocate by")
    parts = value * weights / total
    last = int(np.flatnonzero(weights > 0)[-1])
    parts[last] = value - (parts.sum() - parts[last])
    return parts


__all__ = [
    "COUNTIES_2024_TO_ACCOUNTS",
    "GROUPS_13470_TO_11713",
    "RESIDUAL",
    "allocate_by_employment",
    "mapping_table",
    "municipal_totals",
    "municipality_counties",
]
