"""Value added and productivity **by centrality class**: an estimate built from county accounts.

SSB publishes value added by county only (11713). :func:`class_estimates` builds class figures
from it in three steps, each stated in the result:

1. **Scope.** Excluded industries (finance ``64-66`` by default, as NOU 2020:12 did) are taken
   out of each county's ``TOTAL`` where 11713 publishes them; where it suppresses them they stay
   in the county's residual and the note says how often.
2. **Allocation** (*fordeling*). The county value added of industry group *g* is shared out to
   the county's municipalities by their employed persons by place of work (*sysselsatte etter
   arbeidssted*) in *g*:

   .. math:: \\widehat{VA}_{m,g,t} = VA_{c,g,t}\\,\\frac{e_{m,g,t}}{\\sum_{m' \\in c} e_{m',g,t}}

   and the same shares allocate the accounts' employed persons, so productivity *within* a
   county and group is the county's: class differences come from industry mix and from the
   counties the classes lie in, never from productivity differences inside a county-industry.
   County groups that 11713 suppresses (``":"``) are pooled in a residual (the scoped ``TOTAL``
   minus the published groups), allocated by the employment of the suppressed groups.
3. **Volume.** Each county x group is deflated with its own implicit deflator from 11713's
   annual volume changes :math:`v` (previous-year prices, chain-linked):

   .. math:: Q_{c,g,t} = \\sum_{i \\in g} VA_{c,i,t-1}\\,(1 + v_{c,i,t}),\\qquad
             I_{K} = \\prod_{t=s+1}^{e} \\frac{\\sum_{m \\in K} \\widehat{Q}_{m,t}}
             {\\sum_{m \\in K} \\widehat{VA}_{m,t-1}}

   with :math:`\\widehat{Q}_{m,g,t} = \\widehat{VA}_{m,g,t} Q_{c,g,t} / VA_{c,g,t}`. A volume
   change 11713 does not publish is taken from the same industry nationally (region ``"0"``),
   and failing that from the county's total; each such cell is listed in the notes.

Class *K*'s growth over the window is compared with the **national average**, the sum of every
municipality covered (the mainland counties: the continental shelf is not allocated to any
municipality), and with the most central classes. The difference of value-added growth is
decomposed by industry group,

.. math:: G_K - G_N = \\sum_g \\left(w^K_{g} G^K_{g} - w^N_{g} G^N_{g}\\right),

with :math:`w_g` the group's share of the class's start-year value added; each term splits into
an industry-mix part :math:`(w^K_g - w^N_g) G^N_g` and a within-group part
:math:`w^K_g (G^K_g - G^N_g)`. The identity is exact in current prices; chained volumes are not
additive, and the gap is reported.

**Uncertainty.** The classes are fully enumerated and the estimates are deterministic given the
allocation key, so there is no sampling distribution to resample: a bootstrap interval would
measure nothing. What is uncertain is the *method*, and :func:`class_estimates` reports the
range of each headline figure over the alternatives a referee would ask for: the allocation key
(workplace employment by industry group, by broad sector, in total, and population as a
residence-based key -- residence employment is not among the inputs), every window of the same
length the data allow, and every centrality edition passed.

References: NOU 2020:12 *Næringslivets betydning for levende og bærekraftige lokalsamfunn*,
ch. 4; Eurostat (2013) *Methodology of regional accounts*, ch. 3 (top-down allocation by an
indicator, and why the indicator's within-industry productivity assumption matters).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from regionstats.analysis.errors import InsufficientData
from regionstats.indicators.allocation import GROUPS_13470_TO_11713
from regionstats.model import MISSING_SYMBOLS, STATUS, VALUE
from regionstats.regions.accounts_counties import merge_trondelag

#: Industries excluded by each scope of the class estimate (11713 codes). The headline follows
#: NOU 2020:12 ("excluding finance"); the others are the variants the committee discussed.
CLASS_SCOPES: dict[str, tuple[str, ...]] = {
    "excl_finance": ("64-66",),
    "excl_finance_petroleum": ("64-66", "06_09.1", "49.5"),
    "excl_finance_public": ("64-66", "84", "85", "86-88"),
    "all": (),
}

CLASS_SCOPE_LABELS: dict[str, str] = {
    "excl_finance": "all industries excluding finance (64-66)",
    "excl_finance_petroleum": "excluding finance, petroleum (06, 09.1) and pipelines (49.5)",
    "excl_finance_public": "excluding finance, public administration, education and health "
    "(64-66, 84, 85, 86-88)",
    "all": "all industries",
}

#: Broad sectors of the 13470 groups, for the coarser allocation key.
SECTORS_13470: dict[str, tuple[str, ...]] = {
    "primary": ("01-03",),
    "industry_energy": ("05-09", "10-33", "35-39"),
    "construction": ("41-43",),
    "market_services": ("45-47", "49-53", "55-56", "58-63", "64-66", "68-75", "77-82"),
    "public_personal": ("84", "85", "86-88", "90-99"),
}

#: The allocation keys :func:`class_estimates` can use; the first is the headline.
KEYS: dict[str, str] = {
    "workplace_groups": "employed persons by workplace, 16 industry groups (13470/07984)",
    "workplace_sectors": "employed persons by workplace, 5 broad sectors",
    "workplace_total": "employed persons by workplace, all industries together",
    "population": "population (a residence-based key; 07459)",
}

#: English display labels of the 13470 industry groups (and the residual).
GROUP_LABELS: dict[str, str] = {
    "01-03": "Agriculture, forestry, fishing and aquaculture",
    "05-09": "Mining, petroleum and related services",
    "10-33": "Manufacturing",
    "35-39": "Electricity, water supply and waste (incl. power)",
    "41-43": "Construction",
    "45-47": "Wholesale and retail trade",
    "49-53": "Transport and storage",
    "55-56": "Accommodation and food",
    "58-63": "Information and communication",
    "64-66": "Finance and insurance",
    "68-75": "Real estate, dwellings, professional services",
    "77-82": "Business services",
    "84": "Public administration and defence",
    "85": "Education",
    "86-88": "Health and social work",
    "90-99": "Culture and other services",
    "ALL": "All industries (one key)",
    "RESIDUAL": "Groups suppressed in some counties (pooled)",
    **{k: k.replace("_", " ").capitalize() for k in SECTORS_13470},
}

RESIDUAL = "RESIDUAL"
_MEASURES = ("value_added", "employed_persons")


@dataclass
class _Allocation:
    """Municipality x group x year allocated value added, its volume (previous-year prices) and
    employed persons."""

    frame: pd.DataFrame  # region, group, year, va, q, ep
    counties: list[str]
    notes: list[str] = field(default_factory=list)


def _series(acc: pd.DataFrame, measure: str) -> pd.Series:
    part = acc[acc["measure"] == measure]
    bad = part[VALUE].isna()
    if STATUS in part.columns:
        bad |= part[STATUS].isin(list(MISSING_SYMBOLS)).fillna(False).astype(bool)
    vals = part[VALUE].where(~bad)
    return pd.Series(
        vals.to_numpy(dtype=float),
        index=pd.MultiIndex.from_arrays(
            [part["region"].astype(str), part["industry"].astype(str), part["year"].astype(int)],
            names=["region", "industry", "year"],
        ),
    )


def _volume_cells(merged: pd.DataFrame) -> tuple[pd.Series, list[str]]:
    """Q_{c,i,t} = VA_{c,i,t-1} (1 + v_{c,i,t}/100) for every county, industry and year > first.

    ``merged`` is :func:`~regionstats.regions.accounts_counties.merge_trondelag`'s output, whose
    Trøndelag ("50") before 2018 already holds Sør- and Nord-Trøndelag's sum and their volume
    change aggregated at previous-year prices. A missing volume change is taken from the same
    industry nationally ("0"), noted.
    """
    va = _series(merged, "value_added")
    vc = _series(merged, "value_added_volume_change")
    notes: list[str] = []
    lag = va.copy()
    lag.index = lag.index.set_levels(lag.index.levels[2] + 1, level="year")
    frame = pd.DataFrame({"va": va, "lag": lag.reindex(va.index), "v": vc.reindex(va.index)})
    years = frame.index.get_level_values("year")
    frame = frame[years > years.min()]
    q = frame["lag"] * (1 + frame["v"] / 100)
    # a published cell without a published volume change: the industry's national change
    need = q.isna() & frame["va"].notna() & frame["lag"].notna()
    if need.any():
        nat = pd.MultiIndex.from_arrays(
            [
                ["0"] * int(need.sum()),
                frame.index[need].get_level_values(1),
                frame.index[need].get_level_values(2),
            ]  # fmt: skip
        )
        vn = vc.reindex(nat).to_numpy()
        q[need] = frame.loc[need, "lag"].to_numpy() * (1 + vn / 100)
        filled = frame.index[need][~np.isnan(vn)]
        counties = filled[filled.get_level_values(0) != "0"]
        if len(counties):
            notes.append(
                f"{len(counties)} county x industry x year volume changes that 11713 does not "
                "publish were taken from the same industry nationally (e.g. "
                + ", ".join(f"{r} {i} {y}" for r, i, y in list(counties)[:3])
                + ")."
            )
    return q, notes


def _scope_accounts(
    merged: pd.DataFrame, q: pd.Series, excluded: Sequence[str], regions: Sequence[str]
) -> tuple[dict[str, pd.Series], list[str]]:
    """Per measure: cells (region, industry, year) with TOTAL replaced by the scoped total."""
    notes: list[str] = []
    out: dict[str, pd.Series] = {}
    cells = {m: _series(merged, m) for m in _MEASURES}
    cells["q"] = q
    for name, s in cells.items():
        s = s[s.index.get_level_values("region").isin(list(regions))]
        tot = s.xs("TOTAL", level="industry")
        scoped = tot.copy()
        unremovable = 0
        for ind in excluded:
            if ind not in set(s.index.get_level_values("industry")):
                continue
            part = s.xs(ind, level="industry").reindex(tot.index)
            if name == "employed_persons" and ind == "68.2b":
                continue
            unremovable += int(part.isna().sum())
            scoped = scoped - part.fillna(0.0)
        if unremovable and name == "value_added":
            notes.append(
                f"{unremovable} county-year cells of excluded industries are suppressed in "
                "11713 and stay in the county residual (they could not be removed)."
            )
        keep = s[~s.index.get_level_values("industry").isin([*excluded, "TOTAL"])]
        stot = pd.Series(
            scoped.to_numpy(),
            index=pd.MultiIndex.from_arrays(
                [
                    tot.index.get_level_values(0),
                    ["TOTAL"] * len(tot),
                    tot.index.get_level_values(1),
                ],
                names=["region", "industry", "year"],
            ),
        )
        out[name] = pd.concat([keep, stot])
    return out, notes


def _key_frame(
    key: str,
    employment: pd.DataFrame,
    population: pd.DataFrame | None,
    groups: Mapping[str, Sequence[str]],
) -> tuple[pd.DataFrame, dict[str, tuple[str, ...]]]:
    """The allocation key as (region, group, year, e) and the group -> 11713 industries mapping."""
    everything = tuple(i for inds in groups.values() for i in inds)
    if key == "workplace_groups":
        e = employment[employment["industry"].isin(list(groups))]
        e = e.rename(columns={"industry": "group"})
        mapping = {g: tuple(i) for g, i in groups.items()}
    elif key == "workplace_sectors":
        inverse = {g: s for s, gs in SECTORS_13470.items() for g in gs}
        e = employment[employment["industry"].isin(list(inverse))]
        e = e.assign(group=e["industry"].map(inverse))
        mapping = {
            s: tuple(i for g in gs if g in groups for i in groups[g])
            for s, gs in SECTORS_13470.items()
        }
    elif key == "workplace_total":
        e = employment[employment["industry"].isin(list(groups))].assign(group="ALL")
        mapping = {"ALL": everything}
    elif key == "population":
        if population is None:
            raise ValueError("the population key needs population=")
        e = population.assign(group="ALL")
        mapping = {"ALL": everything}
    else:
        raise ValueError(f"unknown allocation key {key!r}; choose from {sorted(KEYS)}")
    bad = e[VALUE].isna()
    if STATUS in e.columns:
        bad |= e[STATUS].isin(list(MISSING_SYMBOLS)).fillna(False).astype(bool)
    e = e.assign(e=e[VALUE].where(~bad))
    out = e.groupby(["region", "group", "year"], as_index=False)["e"].sum(min_count=1)
    out["year"] = out["year"].astype(int)
    return out, mapping


def _allocate(
    cells: Mapping[str, pd.Series],
    key: pd.DataFrame,
    mapping: Mapping[str, Sequence[str]],
    counties: pd.DataFrame,
    years: Sequence[int],
) -> _Allocation:
    """Allocate county groups (and the residual) to municipalities."""
    notes: list[str] = []
    cmap = counties.set_index("region")["county"].astype(str)
    key = key[key["region"].isin(cmap.index) & key["year"].isin(list(years))]
    key = key.assign(county=key["region"].map(cmap))
    # coverage: counties with a key for every year of the window (and no missing key cell)
    have = key.groupby("county")["year"].nunique()
    covered = sorted(have[have == len(years)].index)
    if not covered:
        raise InsufficientData(
            f"no county has allocation-key data for every year {years[0]}-{years[-1]}"
        )
    partial = sorted(set(have.index) - set(covered))
    if partial:
        notes.append(f"counties {partial} lack key data for some years and are left out.")
    key = key[key["county"].isin(covered)]
    inverse = {i: g for g, inds in mapping.items() for i in inds}
    county_rows = []
    for name, s in cells.items():
        s = s[s.index.get_level_values("region").isin(covered)]
        s = s[s.index.get_level_values("year").isin(list(years))]
        ind = s.index.get_level_values("industry")
        frame = pd.DataFrame(
            {
                "county": s.index.get_level_values("region"),
                "industry": ind,
                "year": s.index.get_level_values("year"),
                "x": s.to_numpy(),
            }
        )
        g = frame[frame["industry"].isin(list(inverse))].assign(
            group=lambda f: f["industry"].map(inverse)
        )
        if name == "employed_persons":
            g = g[g["industry"] != "68.2b"]  # dwellings have no employed persons by definition
        keys = [g["county"], g["group"], g["year"]]
        grp = g["x"].groupby(keys).sum()
        grp[g["x"].isna().groupby(keys).any()] = np.nan
        grp.index.names = ["county", "group", "year"]
        tot = frame[frame["industry"] == "TOTAL"].set_index(["county", "year"])["x"]
        county_rows.append((name, grp, tot))
    # published groups: value added published (volume and persons follow value added)
    va_grp = county_rows[0][1] if county_rows[0][0] == "value_added" else None
    assert va_grp is not None
    # a group is kept only where it is published in every year: the residual then has the same
    # composition throughout, and growth of a group compares like with like
    published = va_grp.notna().groupby(level=["county", "group"]).transform("all")
    changing = va_grp.notna() & ~published
    if changing.any():
        pairs = sorted({(c, g) for c, g, _y in changing[changing].index})
        notes.append(
            f"{len(pairs)} county industry groups published in only some years of "
            f"{years[0]}-{years[-1]} are kept in the residual for all years (e.g. "
            + ", ".join(f"{c} {g}" for c, g in pairs[:3])
            + ")."
        )
    result: dict[str, pd.Series] = {}
    for name, grp, tot in county_rows:
        grp = grp.where(published.reindex(grp.index, fill_value=False))
        known = grp.groupby(level=["county", "year"]).sum(min_count=0)
        resid = tot - known.reindex(tot.index, fill_value=0.0)
        resid.index = pd.MultiIndex.from_arrays(
            [
                resid.index.get_level_values(0),
                [RESIDUAL] * len(resid),
                resid.index.get_level_values(1),
            ],  # fmt: skip
            names=["county", "group", "year"],
        )
        result[name] = pd.concat([grp.dropna(), resid])
    # a volume that could not be built for a published group: the county's total deflator
    va_all = result["value_added"]
    q_all = result["q"].reindex(va_all.index)
    missing_q = q_all.isna() & va_all.notna()
    if missing_q.any():
        tot_va = county_rows[0][2]
        tot_q = dict((n, t) for n, _g, t in county_rows)["q"]
        ratio = (tot_q / tot_va).reindex(
            pd.MultiIndex.from_arrays(
                [
                    va_all.index[missing_q].get_level_values(0),
                    va_all.index[missing_q].get_level_values(2),
                ]  # fmt: skip
            )
        )
        q_all[missing_q] = va_all[missing_q].to_numpy() * ratio.to_numpy()
        share = float(va_all[missing_q].sum() / va_all.sum())
        notes.append(
            f"{int(missing_q.sum())} county group-years without a volume were deflated with the "
            f"county's total deflator ({100 * share:.2f} % of value added)."
        )
    # the residual's volume: scoped TOTAL volume minus the published groups' volumes where groups
    # are pooled in it; where nothing is pooled the residual is only rounding, deflated with the
    # county's total deflator (a difference of rounded volumes would be noise)
    tot_va = county_rows[0][2]
    tot_q = dict((n, t) for n, _g, t in county_rows)["q"]
    pooled_any = (~published).groupby(level=["county", "year"]).any()
    r_idx = [i for i in va_all.index if i[1] == RESIDUAL]
    for c, _r, y in r_idx:
        ratio = tot_q.get((c, y), np.nan) / tot_va.get((c, y), np.nan)
        va_r = va_all[(c, RESIDUAL, y)]
        q_r = q_all[(c, RESIDUAL, y)]
        implied = q_r / va_r if va_r else np.nan
        plausible = implied == implied and 0.5 < implied < 1.5
        if not bool(pooled_any.get((c, y), False)) or not plausible:
            if bool(pooled_any.get((c, y), False)) and va_r:
                notes.append(
                    f"county {c} {y}: the pooled residual's volume was implausible "
                    f"(implied deflator {implied:.2f}); the county's total deflator is used."
                )
            q_all[(c, RESIDUAL, y)] = va_r * ratio
    result["q"] = q_all
    bad_resid = result["value_added"].xs(RESIDUAL, level="group")
    if bad_resid.isna().any():
        miss = bad_resid[bad_resid.isna()].index.tolist()[:3]
        raise InsufficientData(f"county TOTAL missing for {miss}: cannot allocate")
    county = pd.DataFrame(
        {"va": result["value_added"], "ep": result["employed_persons"], "q": result["q"]}
    ).reset_index()
    # shares: key employment of the group; the residual's: of the groups suppressed there
    kg = key.groupby(["county", "group", "year", "region"], as_index=False)["e"].sum()
    kg["e"] = kg["e"].fillna(0.0)
    pub = county.loc[county["group"] != RESIDUAL, ["county", "group", "year"]].assign(_pub=True)
    kg = kg.merge(pub, on=["county", "group", "year"], how="left")
    kg["_pub"] = kg["_pub"].fillna(False).astype(bool)
    own = kg[kg["_pub"]][["county", "group", "year", "region", "e"]]
    supp = (
        kg[~kg["_pub"]].groupby(["county", "year", "region"], as_index=False)["e"].sum()
    ).assign(group=RESIDUAL)
    total = kg.groupby(["county", "year", "region"], as_index=False)["e"].sum()
    weights = pd.concat([own, supp], ignore_index=True)
    # every municipality of the county appears for every group (weight 0 where it has none)
    grid = county[["county", "group", "year"]].merge(
        total[["county", "year", "region"]], on=["county", "year"]
    )
    w = grid.merge(weights, on=["county", "group", "year", "region"], how="left")
    w["e"] = w["e"].fillna(0.0)
    w = w.merge(total.rename(columns={"e": "_tot"}), on=["county", "year", "region"])
    denom = w.groupby(["county", "group", "year"])["e"].transform("sum")
    use_total = denom <= 0
    w.loc[use_total, "e"] = w.loc[use_total, "_tot"]
    denom = w.groupby(["county", "group", "year"])["e"].transform("sum")
    w["share"] = w["e"] / denom
    fallback = w.loc[use_total & (w["group"] != RESIDUAL), ["county", "group", "year"]]
    if len(fallback):
        n = len(fallback.drop_duplicates())
        notes.append(f"{n} county groups without key employment were allocated by total.")
    muni = w.merge(county, on=["county", "group", "year"])
    for col in ("va", "q", "ep"):
        muni[col] = muni[col] * muni["share"]
    muni = muni[["region", "county", "group", "year", "va", "q", "ep"]]
    return _Allocation(frame=muni, counties=covered, notes=notes)


def _class_of(centrality: pd.DataFrame, regions: Sequence[str]) -> pd.Series:
    table = centrality.set_index("region")["centrality_class"]
    unknown = sorted(set(regions) - set(table.index))
    if unknown:
        raise ValueError(
            f"no centrality class for municipalities {unknown[:10]} (edition "
            f"{centrality.attrs.get('edition')}, vintage {centrality.attrs.get('region_vintage')})"
        )
    return table.astype(int)


def _window_growth(by_year: pd.DataFrame, start: int, end: int) -> dict[str, float]:
    """Growth over the window of one group's yearly sums (``va``, ``q``, ``ep`` by ``year``)."""
    va0, va1 = float(by_year.at[start, "va"]), float(by_year.at[end, "va"])
    ep0, ep1 = float(by_year.at[start, "ep"]), float(by_year.at[end, "ep"])
    links = [
        float(by_year.at[t, "q"]) / float(by_year.at[t - 1, "va"])
        for t in range(start + 1, end + 1)
    ]
    volume = float(np.prod(links))
    return {
        "value_added:current": va1 / va0 - 1,
        "value_added:volume": volume - 1,
        "employed_persons:persons": ep1 / ep0 - 1,
        "productivity:current": (va1 / ep1) / (va0 / ep0) - 1,
        "productivity:volume": volume / (ep1 / ep0) - 1,
    }


def _annual(total: float, years: int) -> float:
    return float((1 + total) ** (1 / years) - 1) if total > -1 else float("nan")


def _differences(
    alloc: pd.DataFrame,
    klass: pd.Series,
    low: Sequence[int],
    high: Sequence[int],
    start: int,
    end: int,
) -> dict[str, dict[str, float]]:
    """Per measure:price, annual growth of low, high, national and the two differences."""
    f = alloc[alloc["year"].between(start, end)]
    f = f.assign(cls=f["region"].map(klass))
    out: dict[str, dict[str, float]] = {}
    sums: dict[str, dict[str, float] | None] = {}
    for name, classes in (("low", low), ("high", high), ("national", None)):
        part = f if classes is None else f[f["cls"].isin(list(classes))]
        if part.empty:
            sums[name] = None
            continue
        sums[name] = _window_growth(part.groupby("year")[["va", "q", "ep"]].sum(), start, end)
    T = end - start
    for mp in next(v for v in sums.values() if v is not None):
        row: dict[str, float] = {}
        for name, g in sums.items():
            row[name] = _annual(g[mp], T) if g is not None else float("nan")
        row["low_minus_national"] = row["low"] - row["national"]
        row["low_minus_high"] = row["low"] - row["high"]
        out[mp] = row
    return out


def class_estimates(
    accounts: pd.DataFrame,
    employment: pd.DataFrame,
    centrality: pd.DataFrame,
    counties: pd.DataFrame,
    *,
    population: pd.DataFrame | None = None,
    scope: str = "excl_finance",
    window: int = 10,
    end: int | None = None,
    low: Sequence[int] = (5, 6),
    high: Sequence[int] = (1, 2),
    key: str = "workplace_groups",
    editions: Mapping[object, pd.DataFrame] | None = None,
    sensitivity: bool = True,
    min_municipalities: int = 3,
) -> dict[str, object]:
    """Growth of value added and productivity by centrality class (an **estimate**).

    County value added (11713) is allocated to municipalities by employment by workplace within
    industry groups, deflated per county and group, and summed by centrality class; the least
    central classes are compared with the national average and the most central classes over a
    ``window``-year period. See the module docstring for the formulas.

    Parameters
    ----------
    accounts
        Tidy 11713 (all five variables; ``value_added_volume_change`` is used for volumes).
    employment
        Employed persons by workplace: ``region`` (municipality), ``industry`` (13470 groups),
        ``year``, ``value``, ``status`` -- on the centrality table's municipality vintage.
    centrality
        ``region`` -> ``centrality_class`` (1 most central ... 6 least), one edition.
    counties
        ``region`` -> ``county`` (the 19-county accounts structure, Trøndelag ``"50"``), e.g.
        :func:`regionstats.municipality_counties`.
    population
        Optional population by municipality and year (same vintage): the residence-based key
        variant and the class population growth. Cells with a status symbol are missing, never 0.
    scope
        Industries left out (:data:`CLASS_SCOPES`); the default follows NOU 2020:12.
    window, end
        Length of the period in years and its last year (default: the last year the accounts and
        the employment share). A shorter span than ``window`` is used when the data hold less,
        and the result says so.
    low, high
        The classes compared (default 5-6 against 1-2).
    key
        Headline allocation key (:data:`KEYS`).
    editions
        Other centrality editions (edition -> table on the same vintage) for the sensitivity.
    sensitivity
        Compute the ranges over keys, windows and editions (and the scope variants).
    min_municipalities
        A compared group with fewer municipalities gets status ``".."`` and a note.

    Returns
    -------
    dict
        ``growth`` (tidy: ``group``, ``measure``, ``price``, ``growth`` over the window,
        ``annual``, ``n_municipalities``, ``status``), ``comparison`` (``measure``, ``price``,
        ``comparison``, ``value`` in percentage points per year, ``range_low``,
        ``range_high``, ``n_settings``, ``status``), ``decomposition`` (``group`` = industry
        group, ``price``, ``contribution``, ``mix``, ``within`` in percentage points of the
        window's growth), ``variants`` (every setting's differences), ``population`` (or None),
        ``summary`` (machine-readable: the headline numbers, their ranges, ``notes`` and
        ``caveats``).

    Raises
    ------
    InsufficientData
        The accounts and employment share fewer than two years, or no county has key data for
        every year of the window.

    Examples
    --------
    Two municipalities of one county, one central (class 1) and one peripheral (class 6); the
    county's value added doubles while its employment is unchanged, all in one industry group:

    >>> import pandas as pd
    >>> acc = pd.DataFrame({
    ...     "region": "08", "industry": ["10-33", "TOTAL"] * 4,
    ...     "measure": ["value_added"] * 4 + ["employed_persons"] * 4,
    ...     "year": [2010, 2010, 2011, 2011] * 2,
    ...     "value": [100.0, 100.0, 200.0, 200.0, 10.0, 10.0, 10.0, 10.0], "status": pd.NA})
    >>> vol = pd.DataFrame({"region": "08", "industry": ["10-33", "TOTAL"],
    ...     "measure": "value_added_volume_change", "year": 2011, "value": 50.0,
    ...     "status": pd.NA})
    >>> emp = pd.DataFrame({"region": ["0805", "0806"] * 2, "industry": "10-33",
    ...     "year": [2010, 2010, 2011, 2011], "value": [3.0, 1.0, 2.0, 2.0], "status": pd.NA})
    >>> cls = pd.DataFrame({"region": ["0805", "0806"], "centrality_class": [1, 6]})
    >>> cty = pd.DataFrame({"region": ["0805", "0806"], "county": "08"})
    >>> out = class_estimates(pd.concat([acc, vol]), emp, cls, cty, window=1, low=(6,),
    ...                       high=(1,), scope="all", sensitivity=False, min_municipalities=1)
    >>> g = out["growth"].set_index(["group", "measure", "price"])["growth"]
    >>> # class 6: 25 -> 100, its share of the jobs doubled as the county's value doubled
    >>> float(round(g["class 6", "value_added", "current"], 3))
    3.0
    >>> float(round(g["national", "value_added", "volume"], 3))  # 11713's +50 % volume change
    0.5
    >>> float(round(g["class 6", "productivity", "current"], 3))  # same as the county's: x2
    1.0
    """
    if scope not in CLASS_SCOPES:
        raise ValueError(f"unknown scope {scope!r}; choose from {sorted(CLASS_SCOPES)}")
    if window < 1:
        raise InsufficientData(f"a growth window needs at least 1 year, got {window}")
    low, high = tuple(int(k) for k in low), tuple(int(k) for k in high)
    merged = merge_trondelag(accounts)
    all_years = sorted(set(merged.loc[merged["measure"] == "value_added", "year"].astype(int)))
    # the years in which the accounts are on the county structure the municipalities are mapped
    # to: every county of the mapping has a TOTAL (11713 moves to new counties in 2020 and 2024)
    wanted = set(counties["county"].astype(str))
    tot = merged[
        (merged["measure"] == "value_added")
        & (merged["industry"] == "TOTAL")
        & merged["region"].isin(wanted)
        & merged[VALUE].notna()
    ]
    per_year = tot.groupby("year")["region"].nunique()
    acc_years = sorted(int(y) for y in per_year[per_year == len(wanted)].index) or all_years
    emp_years = sorted(set(employment["year"].astype(int)))
    common = [y for y in acc_years if y in set(emp_years)]
    later = [y for y in all_years if y > acc_years[-1]]
    structure_note = (
        f"11713 holds {later[0]}-{later[-1]} on a later county structure; the class estimate "
        f"uses the years on the counties its municipalities are mapped to (to {acc_years[-1]})."
        if later
        else None
    )
    if len(common) < 2:
        raise InsufficientData(
            f"the accounts ({acc_years[0]}-{acc_years[-1]}) and the employment data "
            f"({emp_years[0]}-{emp_years[-1]}) share {len(common)} year(s); growth needs two"
        )
    last = common[-1] if end is None else int(end)
    if last not in common:
        raise InsufficientData(f"end year {last} is not in both inputs (they share {common})")
    first = max(last - window, common[0])
    span = last - first
    if span < 1:
        raise InsufficientData(f"no year before {last} in both inputs")
    notes: list[str] = [structure_note] if structure_note else []
    if span < window:
        notes.append(
            f"The data allow a {span}-year window ({first}-{last}), not the {window} years asked."
        )
    q, vnotes = _volume_cells(merged)
    notes += vnotes
    county_codes = sorted(set(counties["county"].astype(str)))
    groups = GROUPS_13470_TO_11713

    def cells_for(sc: str) -> tuple[dict[str, pd.Series], list[str]]:
        return _scope_accounts(merged, q, CLASS_SCOPES[sc], county_codes)

    def mapping_for(mapping: Mapping[str, Sequence[str]], sc: str) -> dict[str, tuple[str, ...]]:
        drop = set(CLASS_SCOPES[sc])
        out = {g: tuple(i for i in inds if i not in drop) for g, inds in mapping.items()}
        return {g: inds for g, inds in out.items() if inds}

    def allocation(key_name: str, sc: str, years: Sequence[int]) -> _Allocation:
        kframe, mapping = _key_frame(key_name, employment, population, groups)
        cells, snotes = cells_for(sc)
        a = _allocate(cells, kframe, mapping_for(mapping, sc), counties, years)
        a.notes = snotes + a.notes
        return a

    head = allocation(key, scope, list(range(first, last + 1)))
    notes += head.notes
    klass = _class_of(centrality, sorted(set(head.frame["region"])))
    frame = head.frame.assign(cls=head.frame["region"].map(klass))
    n_by_class = frame.groupby("cls")["region"].nunique()
    group_classes = {
        f"classes {low[0]}-{low[-1]}" if len(low) > 1 else f"class {low[0]}": low,
        f"classes {high[0]}-{high[-1]}" if len(high) > 1 else f"class {high[0]}": high,
    }
    low_name, high_name = list(group_classes)
    rows = []
    status_of: dict[str, bool] = {}
    for name, classes in [
        *group_classes.items(),
        ("national", None),
        *((f"class {k}", (k,)) for k in range(1, 7) if (k,) not in (low, high)),
    ]:
        part = frame if classes is None else frame[frame["cls"].isin(list(classes))]
        n = int(part["region"].nunique())
        thin = n < min_municipalities
        if thin and classes in (low, high):
            notes.append(
                f"{name} has {n} municipalities in the data (fewer than "
                f"{min_municipalities}): no figure is given for it."
            )
        status_of[name] = thin
        if n == 0 or (thin and classes is not None):
            for mp in ("value_added:current", "value_added:volume", "employed_persons:persons",
                       "productivity:current", "productivity:volume"):  # fmt: skip
                m, p = mp.split(":")
                rows.append((name, m, p, np.nan, np.nan, n, ".."))
            continue
        g = _window_growth(part.groupby("year")[["va", "q", "ep"]].sum(), first, last)
        for mp, v in g.items():
            m, p = mp.split(":")
            rows.append((name, m, p, v, _annual(v, span), n, pd.NA))
    growth = pd.DataFrame(
        rows,
        columns=["group", "measure", "price", "growth", "annual", "n_municipalities", STATUS],
    )
    growth[STATUS] = growth[STATUS].astype("string")

    # sensitivity: keys, windows of the same length, editions
    settings: list[tuple[str, str, dict[str, dict[str, float]]]] = []
    head_diff = _differences(head.frame, klass, low, high, first, last)
    settings.append(("headline", f"{KEYS[key]}, edition {centrality.attrs.get('edition')}, "
                     f"{first}-{last}", head_diff))  # fmt: skip
    scope_rows: list[tuple[str, str, dict[str, dict[str, float]]]] = []
    if sensitivity:
        keys = [k for k in KEYS if k != key and (k != "population" or population is not None)]
        for k in keys:
            try:
                a = allocation(k, scope, list(range(first, last + 1)))
            except InsufficientData as exc:
                notes.append(f"key {k!r} not used: {exc}")
                continue
            kl = _class_of(centrality, sorted(set(a.frame["region"])))
            settings.append(("key", KEYS[k], _differences(a.frame, kl, low, high, first, last)))
        windows = [(e - span, e) for e in common if e - span in set(common) and e != last]
        if windows:
            wide = allocation(key, scope, common)
            kl = _class_of(centrality, sorted(set(wide.frame["region"])))
            for s0, e0 in windows:
                settings.append(
                    ("window", f"{s0}-{e0}", _differences(wide.frame, kl, low, high, s0, e0))
                )
        for ed, table in (editions or {}).items():
            if ed == centrality.attrs.get("edition"):
                continue
            kl = _class_of(table, sorted(set(head.frame["region"])))
            settings.append(
                ("edition", f"edition {ed}", _differences(head.frame, kl, low, high, first, last))
            )
        for sc in CLASS_SCOPES:
            if sc == scope:
                continue
            a = allocation(key, sc, list(range(first, last + 1)))
            scope_rows.append(
                (
                    "scope",
                    CLASS_SCOPE_LABELS[sc],
                    _differences(a.frame, klass, low, high, first, last),
                )  # fmt: skip
            )
    var_rows = []
    for kind, label, diff in [*settings, *scope_rows]:
        for mp, row in diff.items():
            m, p = mp.split(":")
            for comp in ("low_minus_national", "low_minus_high"):
                var_rows.append((kind, label, m, p, comp, 100 * row[comp]))
    variants = pd.DataFrame(
        var_rows, columns=["kind", "setting", "measure", "price", "comparison", "value"]
    )
    comp_rows = []
    for (m, p, comp), f in variants[variants["kind"] != "scope"].groupby(
        ["measure", "price", "comparison"], sort=False
    ):
        headline = f[f["kind"] == "headline"]["value"].iloc[0]
        finite = f["value"].dropna()
        bad = (comp == "low_minus_high" and status_of[high_name]) or status_of[low_name]
        comp_rows.append(
            (
                m,
                p,
                comp,
                np.nan if bad else headline,
                np.nan if bad or finite.empty else finite.min(),
                np.nan if bad or finite.empty else finite.max(),
                int(len(finite)),
                ".." if bad else pd.NA,
            )
        )
    comparison = pd.DataFrame(
        comp_rows,
        columns=[
            "measure",
            "price",
            "comparison",
            "value",
            "range_low",
            "range_high",
            "n_settings",
            STATUS,
        ],  # fmt: skip
    )
    comparison[STATUS] = comparison[STATUS].astype("string")
    decomposition = None if status_of[low_name] else _decompose(frame, low, first, last)
    pop = None
    if population is not None:
        covered = population[population["region"].isin(set(head.frame["region"]))]
        pop = _population_growth(covered, klass, low, high, first, last, notes)
    summary = _summary(
        growth, comparison, decomposition, low_name, high_name, first, last, span, window,
        scope, head, centrality, notes, n_by_class, low, high,
    )  # fmt: skip
    return {
        "growth": growth,
        "comparison": comparison,
        "decomposition": decomposition,
        "variants": variants,
        "population": pop,
        "summary": summary,
    }


def _decompose(frame: pd.DataFrame, low: Sequence[int], start: int, end: int) -> pd.DataFrame:
    """Industry-group contributions to (low minus national) value-added growth over the window."""
    f = frame[frame["year"].between(start, end)]
    rows = []
    parts = {"low": f[f["cls"].isin(list(low))], "national": f}
    tot0 = {k: float(v.loc[v["year"] == start, "va"].sum()) for k, v in parts.items()}
    per: dict[str, dict[str, dict[str, float]]] = {}
    for k, v in parts.items():
        by = v.groupby(["group", "year"])[["va", "q"]].sum()
        per[k] = {}
        for g in sorted(set(f["group"])):
            if g not in by.index.get_level_values(0):
                per[k][g] = {"w": 0.0, "current": 0.0, "volume": 0.0}
                continue
            s = by.loc[g].reindex(range(start, end + 1))
            va0 = float(s.at[start, "va"]) if s.at[start, "va"] == s.at[start, "va"] else 0.0
            w = va0 / tot0[k] if tot0[k] else 0.0
            if va0 <= 0:
                per[k][g] = {"w": w, "current": 0.0, "volume": 0.0}
                continue
            cur = float(s.at[end, "va"]) / va0 - 1
            links = s["q"].iloc[1:].to_numpy() / s["va"].iloc[:-1].to_numpy()
            vol = float(np.prod(links)) - 1 if np.all(np.isfinite(links)) else np.nan
            per[k][g] = {"w": w, "current": cur, "volume": vol}
    for g in sorted(set(f["group"])):
        a, n = per["low"][g], per["national"][g]
        for price in ("current", "volume"):
            contrib = a["w"] * a[price] - n["w"] * n[price]
            mix = (a["w"] - n["w"]) * n[price]
            rows.append((g, price, 100 * a["w"], 100 * n["w"], 100 * a[price], 100 * n[price],
                         100 * contrib, 100 * mix, 100 * (contrib - mix)))  # fmt: skip
    out = pd.DataFrame(
        rows,
        columns=[
            "group",
            "price",
            "share_low",
            "share_national",
            "growth_low",
            "growth_national",
            "contribution",
            "mix",
            "within",
        ],  # fmt: skip
    )
    out.attrs = {
        "units": "percent (shares of start-year value added; growth over the window) and "
        "percentage points of the window's value-added growth (contribution = mix + within)",
        "window": (start, end),
    }
    return out


def _population_growth(
    population: pd.DataFrame,
    klass: pd.Series,
    low: Sequence[int],
    high: Sequence[int],
    start: int,
    end: int,
    notes: list[str],
) -> pd.DataFrame:
    pop = population[population["year"].isin([start, end])]
    bad = pop[VALUE].isna()
    if STATUS in pop.columns:
        bad |= pop[STATUS].isin(list(MISSING_SYMBOLS)).fillna(False).astype(bool)
    missing = sorted(set(pop.loc[bad, "region"]))
    both = pop[~pop["region"].isin(missing)].pivot_table(
        index="region", columns="year", values=VALUE, aggfunc="sum"
    )
    both = both.dropna()
    if missing:
        notes.append(
            f"Population: {len(missing)} municipalities without a figure in {start} or {end} "
            f"(e.g. {', '.join(missing[:5])}) are left out of the class population, not "
            "counted as 0."
        )
    both["cls"] = both.index.map(klass)
    both = both[both["cls"].notna()]
    rows = []
    for name, classes in (("low", low), ("high", high), ("national", None)):
        part = both if classes is None else both[both["cls"].isin(list(classes))]
        if part.empty or start not in part or end not in part:
            rows.append((name, np.nan, np.nan, 0))
            continue
        g = float(part[end].sum() / part[start].sum() - 1)
        rows.append((name, g, _annual(g, end - start), int(len(part))))
    return pd.DataFrame(rows, columns=["group", "growth", "annual", "n_municipalities"])


def _fmt_pp(x: float) -> str:
    return "n/a" if x != x else f"{x:+.2f}"


def _summary(
    growth: pd.DataFrame,
    comparison: pd.DataFrame,
    decomposition: pd.DataFrame | None,
    low_name: str,
    high_name: str,
    start: int,
    end: int,
    span: int,
    window: int,
    scope: str,
    head: _Allocation,
    centrality: pd.DataFrame,
    notes: list[str],
    n_by_class: pd.Series,
    low: Sequence[int],
    high: Sequence[int],
) -> dict[str, object]:
    comp = comparison.set_index(["measure", "price", "comparison"])
    g = growth.set_index(["group", "measure", "price"])
    headline: dict[str, object] = {}
    for m in ("value_added", "productivity"):
        for p in ("current", "volume"):
            r = comp.loc[(m, p, "low_minus_national")]
            headline[f"{m}:{p}"] = {
                "low_annual": float(g.loc[(low_name, m, p), "annual"]),
                "national_annual": float(g.loc[("national", m, p), "annual"]),
                "low_growth": float(g.loc[(low_name, m, p), "growth"]),
                "national_growth": float(g.loc[("national", m, p), "growth"]),
                "difference_pp": float(r["value"]),
                "range_pp": (float(r["range_low"]), float(r["range_high"])),
                "n_settings": int(r["n_settings"]),
                "versus_high_pp": float(comp.loc[(m, p, "low_minus_high"), "value"]),
            }
    drivers: list[dict[str, object]] = []
    if decomposition is not None:
        for p in ("current", "volume"):
            d = decomposition[decomposition["price"] == p].copy()
            d = d.reindex(d["contribution"].abs().sort_values(ascending=False).index)
            drivers += [
                {
                    "price": p,
                    "group": r.group,
                    "contribution_pp": float(r.contribution),
                    "mix_pp": float(r.mix),
                    "within_pp": float(r.within),
                }  # fmt: skip
                for r in d.head(3).itertuples()
            ]
    va_c = headline["value_added:current"]
    va_v = headline["value_added:volume"]
    assert isinstance(va_c, dict) and isinstance(va_v, dict)
    caveats = [
        "These are estimates, not published statistics: county value added is allocated to "
        "municipalities by employment in each industry group, so within a county and industry "
        "every municipality is assumed equally productive. Class differences therefore come "
        "from industry mix and from which counties the classes lie in.",
        "They describe places, not firms: a class's growth sums its municipalities, and says "
        "nothing about whether a given firm grows faster in the periphery (ecological "
        "inference).",
        f"Current prices and volume differ: in current prices {low_name} grew "
        f"{_fmt_pp(100 * va_c['low_annual'])} % a year against "
        f"{_fmt_pp(100 * va_c['national_annual'])} % nationally; in volume "
        f"{_fmt_pp(100 * va_v['low_annual'])} % against "
        f"{_fmt_pp(100 * va_v['national_annual'])} %. The gap between the two is price change "
        "(e.g. of power, fish or oil-related services), not more output.",
        "The classes are fully enumerated and the estimate is deterministic: the ranges show how "
        "much the answer depends on the method (allocation key, window, centrality edition), "
        "not sampling error.",
        f"Coverage: {sum(int(v) for v in n_by_class)} municipalities in accounts counties "
        f"{', '.join(head.counties)}; the national average is their sum (the continental shelf "
        "and unallocated activity are in no municipality).",
    ]
    if span < window:
        caveats.append(
            f"The window is {span} years ({start}-{end}); the NOU question concerns ten years, "
            "which these data do not cover."
        )
    national = len(head.counties) >= 18
    reference = (
        "the national average"
        if national
        else f"the average of the {sum(int(v) for v in n_by_class)} municipalities covered"
    )
    return {
        "reference": reference,
        "national": national,
        "question": "Did value added and productivity grow faster in the least central "
        "municipalities than nationally, excluding finance (NOU 2020:12)?",
        "measures": "annual growth rates over the window; value added in current prices "
        "(nominal) and in volume (chained, previous-year prices); productivity = value added "
        "per employed person (11713 definition)",
        "scope": CLASS_SCOPE_LABELS[scope],
        "window": (start, end),
        "years": span,
        "low": low_name,
        "high": high_name,
        "low_classes": list(low),
        "high_classes": list(high),
        "n_low": int(sum(int(v) for k, v in n_by_class.items() if int(k) in low)),
        "n_high": int(sum(int(v) for k, v in n_by_class.items() if int(k) in high)),
        "centrality_edition": centrality.attrs.get("edition"),
        "n_municipalities": {int(k): int(v) for k, v in n_by_class.items()},
        "counties": head.counties,
        "headline": headline,
        "drivers": drivers,
        "notes": notes,
        "caveats": caveats,
        "estimate": True,
    }


def _verdict(diff: float, lo: float, hi: float) -> str:
    if diff != diff:
        return "cannot be estimated on these data"
    if lo > 0:
        return "faster than the national average under every method setting"
    if hi < 0:
        return "slower than the national average under every method setting"
    return "not distinguishable from the national average: the method settings disagree on the sign"


def class_findings(result: Mapping[str, object]) -> list[str]:
    """Plain-language sentences for a :func:`class_estimates` result, every number from it.

    The sentences are what a report's key findings and the NOU section say; nothing in them is
    typed in by hand. Percentages are annual rates; differences are percentage points a year.
    """
    s = result["summary"]
    assert isinstance(s, dict)
    h = s["headline"]
    start, end = s["window"]
    low = s["low"]
    n_low = s["n_low"]
    out = []
    for measure, what in (("value_added", "Value added"), ("productivity", "Productivity")):
        c, v = h[f"{measure}:current"], h[f"{measure}:volume"]
        out.append(
            f"{what} ({s['scope']}) in {low} ({n_low} municipalities) grew "
            f"{100 * c['low_annual']:.1f} % a year in current prices against "
            f"{100 * c['national_annual']:.1f} % for {s['reference']} over {start}-{end} "
            f"({c['difference_pp']:+.2f} points; method range {c['range_pp'][0]:+.2f} to "
            f"{c['range_pp'][1]:+.2f}), and {100 * v['low_annual']:.1f} % against "
            f"{100 * v['national_annual']:.1f} % in volume ({v['difference_pp']:+.2f} points; "
            f"range {v['range_pp'][0]:+.2f} to {v['range_pp'][1]:+.2f}): in volume, "
            + _verdict(v["difference_pp"], *v["range_pp"]).replace(
                "the national average", str(s["reference"])
            )
            + "."
        )
    drivers = s.get("drivers") or []
    for price, word in (("current", "current prices"), ("volume", "volume")):
        top = [d for d in drivers if d["price"] == price][:2]
        if top:
            parts = [
                f"{GROUP_LABELS.get(d['group'], d['group']).lower()} "
                f"({d['contribution_pp']:+.1f} points of the {end - start}-year growth gap)"
                for d in top
            ]
            out.append(f"In {word} the gap to {s['reference']} comes mostly from "
                       + " and ".join(parts) + ".")  # fmt: skip
    vs = h["value_added:volume"]["versus_high_pp"]
    if vs == vs:
        out.append(
            f"Against {s['high']}, value added in {low} grew {vs:+.2f} points a year in volume."
        )
    if s["years"] < 10:
        out.append(
            f"The data cover {s['years']} years ({start}-{end}), not the ten of the NOU claim, "
            f"and {len(s['counties'])} of the 18 mainland counties."
            if len(s["counties"]) < 18
            else f"The data cover {s['years']} years ({start}-{end}), not ten."
        )
    elif len(s["counties"]) < 18:
        out.append(f"The data cover {len(s['counties'])} of the 18 mainland counties.")
    return out


__all__ = [
    "CLASS_SCOPES",
    "CLASS_SCOPE_LABELS",
    "GROUP_LABELS",
    "KEYS",
    "SECTORS_13470",
    "class_estimates",
    "class_findings",
]
