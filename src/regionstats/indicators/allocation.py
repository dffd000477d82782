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

from regionstats.indicators._tidy import as_status, symbols_of
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
    acc_years = set(np.unique(accounts["year"].to_numpy(dtype=np.int64)).tolist())
    emp_years = set(np.unique(emp["year"].to_numpy(dtype=np.int64)).tolist())
    wanted = sorted(acc_years & emp_years) if years is None else sorted(set(years))
    outside = [y for y in wanted if y not in acc_years or y not in emp_years]
    if outside or not wanted:
        raise ValueError(
            f"years {outside or wanted} are not in both the accounts ({min(acc_years)}-"
            f"{max(acc_years)}) and the employment data ({min(emp_years)}-{max(emp_years)})"
        )
    emp = emp[emp["year"].isin(wanted)]
    acc = accounts[accounts["year"].isin(wanted) & accounts["region"].isin(emp["county"].unique())]
    groups = _group_values(acc, mapping, measures)
    totals = acc[(acc["industry"] == "TOTAL") & acc["measure"].isin(measures)]
    out, fallbacks = _allocate(emp, groups, totals, list(mapping), list(measures))
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
        "counties": sorted(out["county"].unique().tolist()),
        "years": wanted,
    }
    return out


def _missing_symbol(status: np.ndarray, default: str, *, any_string: bool = False) -> np.ndarray:
    """Each cell's symbol if it is a "no number" symbol (any string with ``any_string``), else
    ``default``; vectorised over an object array of any shape."""
    symbols = symbols_of(status.ravel())
    is_str = ~pd.isna(symbols)
    chosen = is_str if any_string else pd.Series(symbols).isin(list(MISSING_SYMBOLS)).to_numpy()
    return np.where(chosen, symbols, default).reshape(status.shape)


def _split_cells(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """:func:`_split` of many cells at once: row ``i`` of ``weights`` splits ``values[i]``.

    Same arithmetic as :func:`_split` row by row (row sums of a C-contiguous array are the 1-D
    sums), so the parts are identical to the one-cell version.
    """
    weights = np.ascontiguousarray(weights, dtype=float)
    total = weights.sum(axis=1)
    if np.any(total <= 0):
        raise ValueError("cannot allocate: no employment to allocate by")
    parts = np.ascontiguousarray(values[:, None] * weights / total[:, None])
    n = weights.shape[1]
    last = n - 1 - np.argmax(weights[:, ::-1] > 0, axis=1)
    rows = np.arange(len(values))
    parts[rows, last] = values - (parts.sum(axis=1) - parts[rows, last])
    return parts


def _allocate(
    emp: pd.DataFrame,
    groups: pd.DataFrame,
    totals: pd.DataFrame,
    group_codes: list[str],
    measures: list[str],
) -> tuple[pd.DataFrame, list[str]]:
    """The allocation of :func:`allocate_by_employment`, vectorised over county-years.

    Arrays are indexed by county-year ``k`` (sorted), municipality row ``m`` (sorted within its
    county-year, contiguous), measure ``me`` and group ``g`` (mapping order; the residual is
    column ``G``). Sums over groups run in mapping order and sums over municipalities are the
    1-D sums of :func:`_split`, so every number is the one the per-county-year loop gave.
    """
    G, n_me = len(group_codes), len(measures)
    cy = emp[["county", "year"]].drop_duplicates().sort_values(["county", "year"])
    cy_keys = pd.MultiIndex.from_frame(cy)
    munis = emp[["county", "year", "region"]].drop_duplicates()
    munis = munis.sort_values(["county", "year", "region"], ignore_index=True)
    muni_cy = cy_keys.get_indexer(pd.MultiIndex.from_frame(munis[["county", "year"]]))
    K, M = len(cy), len(munis)
    starts = np.flatnonzero(np.r_[True, muni_cy[1:] != muni_cy[:-1]])
    sizes = np.diff(np.r_[starts, M])

    # employment by municipality x group (a missing cell counts 0, as in a pivot table's sum)
    muni_keys = pd.MultiIndex.from_frame(munis)
    row = muni_keys.get_indexer(pd.MultiIndex.from_frame(emp[["county", "year", "region"]]))
    col = pd.Index(group_codes).get_indexer(emp["industry"])
    summed = (
        pd.DataFrame({"m": row, "g": col, VALUE: emp[VALUE].to_numpy(dtype=float)})
        .groupby(["m", "g"], sort=False)[VALUE]
        .sum()
    )
    W = np.zeros((M, G))
    W[summed.index.get_level_values("m"), summed.index.get_level_values("g")] = summed.to_numpy()
    # a group with any missing employment cell in the county-year is not a key there
    estatus = emp[STATUS] if STATUS in emp.columns else pd.Series(pd.NA, index=emp.index)
    emissing = (estatus.isin(list(MISSING_SYMBOLS)) | emp[VALUE].isna()).to_numpy(dtype=bool)
    bad = np.zeros((K, G), dtype=bool)
    bad[muni_cy[row[emissing]], col[emissing]] = True
    kept = np.where(bad[muni_cy], 0.0, W)
    total_emp = np.add.accumulate(kept, axis=1)[:, -1] if G else np.zeros(M)

    # county values by group and the county TOTAL (absent: NaN and "..")
    gv = np.full((K, n_me, G), np.nan)
    gs = np.full((K, n_me, G), "..", dtype=object)
    gk = cy_keys.get_indexer(pd.MultiIndex.from_frame(groups[["region", "year"]]))
    gm = pd.Index(measures).get_indexer(groups["measure"])
    gg = pd.Index(group_codes).get_indexer(groups["group"])
    ok = (gk >= 0) & (gm >= 0) & (gg >= 0)
    gv[gk[ok], gm[ok], gg[ok]] = groups[VALUE].to_numpy(dtype=float)[ok]
    gs[gk[ok], gm[ok], gg[ok]] = groups[STATUS].to_numpy(dtype=object)[ok]
    first_total = totals.drop_duplicates(["region", "year", "measure"])
    tv = np.full((K, n_me), np.nan)
    ts = np.full((K, n_me), "..", dtype=object)
    tk = cy_keys.get_indexer(pd.MultiIndex.from_frame(first_total[["region", "year"]]))
    tm = pd.Index(measures).get_indexer(first_total["measure"])
    ok = (tk >= 0) & (tm >= 0)
    tv[tk[ok], tm[ok]] = first_total[VALUE].to_numpy(dtype=float)[ok]
    ts[tk[ok], tm[ok]] = first_total[STATUS].to_numpy(dtype=object)[ok]

    # groups that cannot be allocated (no county value, or missing employment)
    suppressed = np.isnan(gv) | bad[:, None, :]
    group_sym = _missing_symbol(gs, ":")
    key_sum = np.add.reduceat(W, starts, axis=0) if M else np.zeros((0, G))
    by_total = ~suppressed & (key_sum[:, None, :] <= 0)
    fallbacks = [
        f"{cy['county'].iat[k]} {cy['year'].iat[k]} {measures[me]} {group_codes[g]}: "
        "by total employment"
        for k, me, g in np.argwhere(by_total & (gv != 0))
    ]
    allocated = np.add.accumulate(np.where(suppressed, 0.0, gv), axis=2)[..., -1] if G else 0.0

    # the residual: county TOTAL minus the groups allocated, by the suppressed groups' employment
    total_missing = np.isnan(tv) | (_missing_symbol(ts, "") != "")
    total_sym = _missing_symbol(ts, "..", any_string=True)
    residual = tv - allocated
    pool = suppressed & ~bad[:, None, :]
    pool_w = (
        np.add.accumulate(np.where(pool[muni_cy], W[:, None, :], 0.0), axis=2)[..., -1]
        if G
        else np.zeros((M, n_me))
    )
    use_pool = (suppressed.any(axis=2) & pool.any(axis=2))[muni_cy]
    resid_w = np.where(use_pool, pool_w, total_emp[:, None])
    resid_sum = np.add.reduceat(resid_w, starts, axis=0) if M else np.zeros((0, n_me))
    resid_w = np.where((resid_sum <= 0)[muni_cy], total_emp[:, None], resid_w)

    # every cell (county-year, measure, group or residual) split over its municipalities
    weights = np.concatenate(
        [np.where(by_total[muni_cy], total_emp[:, None, None], W[:, None, :]), resid_w[..., None]],
        axis=2,
    )  # M x measures x (G + 1)
    cell_value = np.concatenate([gv, residual[..., None]], axis=2)  # K x measures x (G + 1)
    cell_missing = np.concatenate([suppressed, total_missing[..., None]], axis=2)
    cell_sym = np.concatenate([group_sym, total_sym[..., None]], axis=2)
    value = np.full((M, n_me, G + 1), np.nan)
    for n in np.unique(sizes):
        ks = np.flatnonzero(sizes == n)
        rows = starts[ks][:, None] + np.arange(n)  # len(ks) x n municipality rows
        w = np.moveaxis(weights[rows], 1, -1).reshape(-1, n)  # cells x municipalities
        v = cell_value[ks].reshape(-1)
        live = ~cell_missing[ks].reshape(-1)
        parts = np.full((len(v), n), np.nan)
        if live.any():
            parts[live] = _split_cells(v[live], w[live])
        value[rows] = np.moveaxis(parts.reshape(len(ks), n_me, G + 1, n), -1, 1)
    cell_status = np.full(cell_sym.shape, None, dtype=object)
    cell_status[cell_missing] = cell_sym[cell_missing]
    status = cell_status[muni_cy]

    industries = np.array([*group_codes, RESIDUAL], dtype=object)
    out = pd.DataFrame(
        {
            "region": np.repeat(munis["region"].to_numpy(dtype=object), n_me * (G + 1)),
            "county": np.repeat(munis["county"].to_numpy(dtype=object), n_me * (G + 1)),
            "industry": np.tile(np.tile(industries, n_me), M),
            "measure": np.tile(np.repeat(np.array(measures, dtype=object), G + 1), M),
            "year": np.repeat(munis["year"].to_numpy(dtype=np.int64), n_me * (G + 1)),
            VALUE: value.reshape(-1),
            STATUS: status.reshape(-1),
        }
    )
    for c in ("region", "county", "industry", "measure"):
        out[c] = out[c].astype("str")
    out[VALUE] = out[VALUE].astype(float)
    out[STATUS] = as_status(out[STATUS].to_numpy()).to_numpy()
    out[STATUS] = out[STATUS].astype("string")
    return out, fallbacks


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


__all__ = [
    "COUNTIES_2024_TO_ACCOUNTS",
    "GROUPS_13470_TO_11713",
    "RESIDUAL",
    "allocate_by_employment",
    "mapping_table",
    "municipal_totals",
    "municipality_counties",
]
