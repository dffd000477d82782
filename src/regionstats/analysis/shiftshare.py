"""Shift-share decomposition of regional change at the finest industry level the data allow.

Classical shift-share (Dunn 1960) splits the change of a region's value added into a
*national* (reference) growth part, an *industry-mix* part and a *regional* (competitive) part.
Esteban-Marquillas (1972) reinterprets the regional (competitive) component as a region's
growth relative to the reference's industry rates, which makes the choice of reference part of
the method. Here the default reference is the **sum of the regions analysed**, not the national
figure of table 11713 (which contains the continental shelf and unallocated activity, reported
apart): the components are then deviations inside a closed system, and the regional and
industry-mix components sum to zero across regions.

Suppressed cells (``":"``) are pooled per region into the nearest published parent's residual,
so that no single pooled industry swallows a large part of the economy; every pooled cell is
listed with its reason.

References
----------
Dunn, E. S. (1960). A statistical and analytical technique for regional analysis. *Papers and
Proceedings of the Regional Science Association* 6, 97-112.

Esteban-Marquillas, J. M. (1972). A reinterpretation of shift-share analysis. *Regional and
Urban Economics* 2(3), 249-255.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Literal, overload

import numpy as np
import pandas as pd

from regionstats.analysis.errors import InsufficientData
from regionstats.indicators.volume import VOLUME_CHANGE
from regionstats.model import MISSING_SYMBOLS, STATUS, VALUE
from regionstats.sources.ssb_quirks import INDUSTRIES_11713

#: Region code of the whole country (includes the continental shelf) in 11713.
NATIONAL = "0"
#: Label of the residual row of ``TOTAL`` (TOTAL minus the region's published rows).
OTHER = "OTHER"
#: Components in output order.
COMPONENTS: tuple[str, ...] = ("national", "industry_mix", "regional", "actual_change")

_ROOT = "TOTAL"
_TRONDELAG = "50"
_TRONDELAG_SPLIT = ("16", "17")
_SYMBOL_WORDS = {
    ":": "suppressed",
    "..": "missing",
    "...": "not yet available",
    ".": "not applicable",
}
#: (start, end, end in current prices) in the price basis, or the reason there is none
_Pair = tuple[float, float, float] | str


def residual_label(node: str) -> str:
    """Label of the residual row of a parent industry (``"OTHER"`` for ``TOTAL``).

    >>> residual_label("TOTAL"), residual_label("10-33")
    ('OTHER', '10-33 residual')
    """
    return OTHER if node == _ROOT else f"{node} residual"


def _hierarchy(present: set[str]) -> dict[str, list[str]]:
    """Children of each node of the 11713 tree under ``TOTAL``, restricted to ``present`` codes.

    A code whose parent is absent from the frame hangs under its nearest present ancestor.
    """
    parent = {code: up for code, up in INDUSTRIES_11713.values()}

    def chain(code: str) -> list[str]:
        out = []
        up = parent.get(code)
        while up is not None:
            out.append(up)
            up = parent.get(up)
        return out

    children: dict[str, list[str]] = {_ROOT: []}
    for code, _up in INDUSTRIES_11713.values():
        if code == _ROOT or code not in present:
            continue
        ancestors = chain(code)
        if _ROOT not in ancestors:
            continue  # sector aggregates (GOV, MAINLAND) are not part of the breakdown
        nearest = next(a for a in ancestors if a in present or a == _ROOT)
        children.setdefault(nearest, []).append(code)
    return children


def _why(status: object, value: float, what: str) -> str | None:
    """Reason a cell has no usable number, or None."""
    if isinstance(status, str) and status in MISSING_SYMBOLS:
        return f"{_SYMBOL_WORDS.get(status, 'missing')} ({status}) {what}"
    if value != value:  # NaN without a symbol
        return f"missing {what}"
    return None


class _Cells:
    """(start, end) levels of every (region, industry) in the chosen price basis."""

    def __init__(
        self, accounts: pd.DataFrame, measure: str, price: str, start: int, end: int
    ) -> None:
        self.price, self.start, self.end = price, start, end
        status = (
            accounts[STATUS].astype("object")
            if STATUS in accounts.columns
            else pd.Series([None] * len(accounts), index=accounts.index, dtype="object")
        )
        cells: dict[tuple[str, str, str, int], tuple[float, object]] = {}
        keys = zip(
            accounts["region"].astype(str),
            accounts["industry"].astype(str),
            accounts["measure"].astype(str),
            accounts["year"].astype(int),
            strict=True,
        )
        values = accounts[VALUE].to_numpy(dtype=float)
        for key, v, s in zip(keys, values, status, strict=True):
            cells[key] = (float(v), s if isinstance(s, str) else None)
        self.cells = cells
        self.measure = measure
        self._memo: dict[tuple[str, str], _Pair] = {}

    def _get(self, region: str, industry: str, measure: str, year: int) -> tuple[float, object]:
        return self.cells.get((region, industry, measure, year), (np.nan, "absent"))

    def _level(self, region: str, industry: str, year: int) -> float | str:
        v, s = self._get(region, industry, self.measure, year)
        if s == "absent":
            return f"not in the data in {year}"
        why = _why(s, v, f"in {year}")
        return why if why is not None else v

    def why_not(self, region: str) -> str | None:
        """Why a region's TOTAL has no (start, end) pair, or None."""
        p = self.pair(region, _ROOT)
        return p if isinstance(p, str) else None

    def pair(self, region: str, industry: str) -> _Pair:
        key = (region, industry)
        if key not in self._memo:
            self._memo[key] = self._pair(region, industry)
        return self._memo[key]

    def _pair(self, region: str, industry: str) -> _Pair:
        x0 = self._level(region, industry, self.start)
        x1 = self._level(region, industry, self.end)
        reasons = [x for x in (x0, x1) if isinstance(x, str)]
        if len(reasons) == 2 and reasons[0][:-4] == reasons[1][:-4]:  # same, both years
            reasons = [f"{reasons[0]}, {self.end}"]
        factor = 1.0
        if self.price == "volume":
            gaps = []
            for year in range(self.start + 1, self.end + 1):
                v, s = self._get(region, industry, VOLUME_CHANGE, year)
                if s == "absent":
                    gaps.append(f"{year} not in the data")
                elif _why(s, v, "") is not None:
                    gaps.append(f"{year} {s if isinstance(s, str) else 'NaN'}")
                else:
                    factor *= 1.0 + v / 100.0
            if gaps:
                reasons.append("no volume change: " + ", ".join(gaps))
        if reasons:
            return " and ".join(reasons)
        assert not isinstance(x0, str) and not isinstance(x1, str)
        return (x0, x0 * factor if self.price == "volume" else x1, x1)


def _deflator(p: tuple[float, float, float]) -> float:
    """End volume at start prices per unit of end current value (implicit deflator, inverted)."""
    return p[1] / p[2] if p[2] != 0 else np.nan


def _region_rows(
    region: str,
    children: Mapping[str, Sequence[str]],
    pair: Callable[[str, str], _Pair],
    price: str,
) -> tuple[
    list[tuple[str, str, float, float]], list[dict[str, object]], tuple[float, float, float]
]:
    """Rows (label, covers, x0, x1) of one region, its pooled residuals and its TOTAL."""
    total = pair(region, _ROOT)
    if isinstance(total, str):
        raise InsufficientData(
            f"TOTAL of region {region!r} has no usable number ({total}); "
            "pass regions= to leave it out"
        )
    rows: list[tuple[str, str, float, float]] = []
    pooled_in: dict[str, list[tuple[str, str]]] = {}
    pooled_records: list[dict[str, object]] = []
    zero = (0.0, 0.0, 0.0)

    def add(parts: Sequence[tuple[float, float, float]]) -> tuple[float, float, float]:
        return (sum(q[0] for q in parts), sum(q[1] for q in parts), sum(q[2] for q in parts))

    def visit(node: str, target: str) -> tuple[float, float, float]:
        """Sum (x0, x1, x1 in current prices) of the rows written under ``node``."""
        kids = children.get(node, [])
        p = total if node == _ROOT else pair(region, node)
        if not kids:
            if isinstance(p, str):
                pooled_in[target].append((node, p))
                return zero
            rows.append((node, node, p[0], p[1]))
            return p
        if isinstance(p, str):  # unpublished parent: its parts go to the enclosing residual
            return add([visit(k, target) for k in kids])
        pooled_in[node] = []
        s0, s1, s_cur = add([visit(k, node) for k in kids])
        r0, r_cur = p[0] - s0, p[2] - s_cur  # residual in current prices, start and end
        tol = 1e-9 * max(abs(p[0]), abs(p[2]), 1.0)
        gap = abs(r0) > tol or abs(r_cur) > tol
        if not pooled_in[node] and not gap:
            return (s0, s1, s_cur)
        if price == "current":
            r1 = r_cur
        else:  # deflated with the parent's implicit deflator (else the region's TOTAL's)
            d = _deflator(p)
            r1 = r_cur * (d if d == d else _deflator(total))
            if r1 != r1:
                raise InsufficientData(
                    f"region {region!r}: {residual_label(node)} cannot be deflated "
                    f"({node} and TOTAL are 0 in {node!r} at the end)"
                )
        label = residual_label(node)
        what = pooled_in[node]
        covers = ", ".join(code for code, _ in what)
        reason = "; ".join(f"{code}: {why}" for code, why in what)
        if gap and not what:
            reason = f"published {node} differs from the sum of its published parts"
        rows.append((label, covers, r0, r1))
        pooled_records.append(
            {
                "region": region,
                "row": label,
                "industries": covers,
                "reason": reason,
                "start_value": float(r0),
            }
        )
        return (s0 + r0, s1 + r1, s_cur + r_cur)

    visit(_ROOT, _ROOT)
    return rows, pooled_records, total


def _default_regions(
    available: Sequence[str], why_not: Callable[[str], str | None]
) -> tuple[list[str], dict[str, str]]:
    excluded: dict[str, str] = {}
    chosen = []
    for r in available:
        if r == NATIONAL:
            continue
        why = why_not(r)
        if why is None:
            chosen.append(r)
        else:
            excluded[r] = f"TOTAL has no usable number: {why}"
    if _TRONDELAG in chosen:
        for r in _TRONDELAG_SPLIT:
            if r in chosen:
                chosen.remove(r)
                excluded[r] = f"counted in {_TRONDELAG} (Trøndelag, merged)"
    return chosen, excluded


@overload
def shift_share(
    accounts: pd.DataFrame,
    start: int,
    end: int,
    *,
    measure: str = ...,
    price: str = ...,
    regions: Sequence[str] | None = ...,
    reference: str = ...,
    detail: Literal[False] = ...,
) -> pd.DataFrame: ...


@overload
def shift_share(
    accounts: pd.DataFrame,
    start: int,
    end: int,
    *,
    measure: str = ...,
    price: str = ...,
    regions: Sequence[str] | None = ...,
    reference: str = ...,
    detail: Literal[True],
) -> tuple[pd.DataFrame, pd.DataFrame]: ...


def shift_share(
    accounts: pd.DataFrame,
    start: int,
    end: int,
    *,
    measure: str = "value_added",
    price: str = "current",
    regions: Sequence[str] | None = None,
    reference: str = "regions",
    detail: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Shift-share decomposition of each region's change over ``start``-``end`` (Dunn 1960).

    For region :math:`r` with rows :math:`i` (industries, or pooled residuals), start level
    :math:`x_{ri,0}`, end level :math:`x_{ri,1}` and growth :math:`g_{ri} = x_{ri,1}/x_{ri,0}-1`:

    .. math:: x_{r,1} - x_{r,0}
              = \\underbrace{\\sum_i x_{ri,0}\\,g_N}_{\\text{national}}
              + \\underbrace{\\sum_i x_{ri,0}(g_i - g_N)}_{\\text{industry mix}}
              + \\underbrace{\\sum_i x_{ri,0}(g_{ri} - g_i)}_{\\text{regional}}

    With ``reference="regions"`` (default) the reference levels are the sums over the regions
    analysed, :math:`X_{i,t} = \\sum_r x_{ri,t}` and :math:`X_t = \\sum_i X_{i,t}`, so
    :math:`g_i = X_{i,1}/X_{i,0} - 1` (row :math:`i` summed over the regions where it is a row)
    and :math:`g_N = X_1/X_0 - 1`. Then, for every row, :math:`\\sum_r x_{ri,0}(g_{ri}-g_i)
    = 0` and :math:`\\sum_i X_{i,0}(g_i - g_N) = 0`: the regional and the industry-mix
    components sum to zero across regions and the national components to the total change
    (see Esteban-Marquillas 1972 on reading the regional component against the reference's
    industry rates). The national figure (region ``"0"``, which includes the continental
    shelf) is reported apart.
    A row with :math:`x_{ri,0} = 0` contributes its whole change to the regional component; a
    row whose reference start level is 0 has no reference rate (:math:`g_i := g_N`, listed in
    ``attrs["notes"]``).

    Rows are the leaves of the 11713 industry hierarchy under ``TOTAL`` (e.g. the eleven
    manufacturing industries instead of ``10-33``; ``06`` and ``09.1`` instead of ``06_09.1``).
    A leaf without a usable number in region :math:`r` at either end is pooled, **in that
    region only**, into the residual of its nearest published parent (``"10-33 residual"`` =
    ``10-33`` minus its published children) or, when no parent is published, into ``"OTHER"``
    (``TOTAL`` minus the region's published rows). A residual row is a row like any other: its
    reference is the sum of the regions' rows with the same label, so **its reference rate is a
    mix** of whatever was pooled in each region. A residual row is also written when a
    published parent differs from the sum of its published parts (rounding), so in current
    prices the components of a region always sum to the change of its ``TOTAL``.

    Parameters
    ----------
    accounts
        Tidy 11713 frame (``region``, ``industry``, ``measure``, ``year``, ``value``,
        ``status``), e.g. ``merge_trondelag(regional_accounts())``.
    start, end
        Window; both years must be in the data and ``start < end``.
    measure
        An additive measure (``"value_added"``, ``"employed_persons"``, ``"compensation"``,
        ``"gross_investment"``).
    price
        ``"current"`` or ``"volume"`` (only for ``value_added``): end levels at ``start``-year
        prices, :math:`x_{ri,1} = x_{ri,0}\\prod_{t=start+1}^{end}(1 + v_{ri,t}/100)` from the
        cell's own ``value_added_volume_change``. A cell with a volume change missing in any
        year of the window is pooled like a suppressed cell (reason ``"no volume change"``).
        A pooled residual has no volume change of its own: its end value in current prices
        (parent minus published parts) is deflated with the **parent's implicit deflator**,
        :math:`R_1 = R^{cur}_1 \\cdot P_1/P^{cur}_1` (the pooled industries are assumed to
        share the parent's price change). The difference of chained volumes (parent minus
        children) is not used: chain-linked volumes are not additive, and on 11713 2008-2019
        that difference turns small residuals negative or many times their size. For the
        same reason a region's rows do not add up to its ``TOTAL``'s chained volume:
        ``actual_change`` is the sum of its rows, ``attrs["total_gap"]`` the distance.
    regions
        Regions to decompose (default: every region except ``"0"`` whose ``TOTAL`` is usable
        at both ends in the price basis, without ``"16"``/``"17"`` when ``"50"`` is usable).
        A listed region without a usable ``TOTAL`` raises :class:`InsufficientData`.
    reference
        ``"regions"`` (default, the sum of the regions analysed) or ``"0"`` (the national
        figures incl. the continental shelf: :math:`g_N` of the national ``TOTAL``, :math:`g_i`
        of the national industry, or of the national sum of the industries pooled in a
        residual; then the components do not sum to zero across regions).
    detail
        Also return the region x row table (see Returns).

    Returns
    -------
    components : DataFrame
        Tidy ``region``, ``component`` (``national``, ``industry_mix``, ``regional``,
        ``actual_change``), ``value`` (units of ``measure``), ``status`` (NA). ``attrs``:
        ``method``, ``window``, ``measure``, ``price``, ``reference`` (description),
        ``regions``, ``excluded`` (region -> reason, default selection only), ``pooled``
        (list of records ``region``, ``row``, ``industries``, ``reason``, ``start_value``;
        ``pd.DataFrame(attrs["pooled"])`` makes it a table), ``pooled_share``
        (``{"overall": share, "by_region": {region: share}}``, start-year value in residual
        rows / start-year value of the regions), ``apart`` (national change minus the
        regions' ``TOTAL`` change: continental shelf and unallocated, or None without
        ``"0"``), ``total_gap``, ``units``, ``notes``, ``vintage``.
    detail : DataFrame, only with ``detail=True``
        A second frame, one row per region and row: ``region``, ``row``, ``kind``
        (``industry``/``residual``), ``industries`` (what a residual pools), ``start``,
        ``end``, ``growth``, ``reference_growth``, ``national``, ``industry_mix``,
        ``regional``, ``actual_change``.

    Raises
    ------
    InsufficientData
        ``start``/``end`` outside the data (the message gives the years available), fewer
        than two regions, or a listed region without a usable ``TOTAL``.
    ValueError
        ``start >= end``, an unknown ``price``/``reference``, volume for another measure, or
        ``"0"``/overlapping Trøndelag codes in ``regions``.

    Examples
    --------
    Two counties, two industries, 2010-2011. Sums: 01-02 80 -> 90 (+12.5 %), 03 120 -> 140
    (+16.7 %), all 200 -> 230 (+15 %). County 01: national 100 x 0.15 = 15, mix
    60 x (-0.025) + 40 x 0.0167 = -0.83, regional 60 x (0.1 - 0.125) + 40 x (0 - 0.167) = -8.17.

    >>> rows = [("01", "01-02", 60, 66), ("01", "03", 40, 40), ("01", "TOTAL", 100, 106),
    ...         ("02", "01-02", 20, 24), ("02", "03", 80, 100), ("02", "TOTAL", 100, 124)]
    >>> acc = pd.DataFrame(
    ...     [(r, i, "value_added", y, float(v)) for r, i, v0, v1 in rows
    ...      for y, v in ((2010, v0), (2011, v1))],
    ...     columns=["region", "industry", "measure", "year", "value"])
    >>> acc["status"] = pd.array([pd.NA] * len(acc), dtype="string")
    >>> out = shift_share(acc, 2010, 2011)
    >>> table = out.pivot(index="region", columns="component", values="value")
    >>> table = table[["national", "industry_mix", "regional", "actual_change"]]
    >>> table.rename_axis(index=None, columns=None).round(2)
        national  industry_mix  regional  actual_change
    01      15.0         -0.83     -8.17            6.0
    02      15.0          0.83      8.17           24.0
    >>> out.attrs["pooled_share"]["overall"]
    0.0
    """
    if price not in ("current", "volume"):
        raise ValueError(f"price must be 'current' or 'volume', got {price!r}")
    if reference not in ("regions", NATIONAL):
        raise ValueError(f"reference must be 'regions' or '0', got {reference!r}")
    if price == "volume" and measure != "value_added":
        raise ValueError(f"price='volume' is only defined for value_added, not {measure!r}")
    level = accounts[accounts["measure"] == measure]
    years = sorted(int(y) for y in set(level["year"]))
    if not years:
        measures = sorted(set(accounts["measure"]))
        raise InsufficientData(f"no {measure!r} rows in the accounts (measures: {measures})")
    span = f"{years[0]}-{years[-1]}" if years == list(range(years[0], years[-1] + 1)) else years
    for y in (start, end):
        if y not in years:
            raise InsufficientData(f"year {y} is outside the data; years available: {span}")
    if start >= end:
        raise ValueError(f"window must have start < end, got {start}-{end} (years {span})")
    wanted = [measure] if price == "current" else [measure, VOLUME_CHANGE]
    frame = accounts[
        accounts["measure"].isin(wanted) & accounts["year"].between(start, end, inclusive="both")
    ]
    if price == "current":
        frame = frame[frame["year"].isin([start, end])]
    dup = frame.duplicated(["region", "industry", "measure", "year"])
    if dup.any():
        example = frame.loc[dup, ["region", "industry", "measure", "year"]].iloc[0].to_dict()
        raise ValueError(f"accounts have duplicate cells, e.g. {example}")
    cells = _Cells(frame, measure, price, start, end)
    present = set(frame.loc[frame["measure"] == measure, "industry"].astype(str))
    if _ROOT not in present:
        raise InsufficientData("the accounts have no TOTAL industry rows")
    children = _hierarchy(present)
    available = sorted(set(frame["region"].astype(str)))

    excluded: dict[str, str] = {}
    if regions is None:
        chosen, excluded = _default_regions(available, cells.why_not)
    else:
        chosen = [str(r) for r in regions]
        if NATIONAL in chosen:
            raise ValueError("region '0' is the whole country; it cannot be one of the regions")
        unknown = [r for r in chosen if r not in available]
        if unknown:
            raise InsufficientData(f"regions {unknown} are not in the accounts ({available})")
        overlap = [r for r in _TRONDELAG_SPLIT if r in chosen]
        if _TRONDELAG in chosen and overlap:
            raise ValueError(
                f"regions {overlap} overlap {_TRONDELAG} (Trøndelag): a region would be counted "
                "twice in the reference"
            )
        if len(set(chosen)) != len(chosen):
            raise ValueError(f"regions contain duplicates: {chosen}")
    chosen = sorted(chosen)
    if reference == "regions" and len(chosen) < 2:
        raise InsufficientData(
            f"shift-share against the regions' sum needs at least 2 regions, got {chosen} "
            f"(excluded: {excluded})"
        )

    records: list[tuple[str, str, str, str, float, float]] = []
    pooled: list[dict[str, object]] = []
    totals: dict[str, tuple[float, float]] = {}
    for r in chosen:
        rows, pooled_r, total = _region_rows(r, children, cells.pair, price)
        kinds = {str(p["row"]) for p in pooled_r}
        for label, covers, x0, x1 in rows:
            kind = "residual" if label in kinds else "industry"
            records.append((r, label, kind, covers if kind == "residual" else "", x0, x1))
        pooled.extend(pooled_r)
        totals[r] = (float(total[0]), float(total[1]))
    det = pd.DataFrame(
        records, columns=["region", "row", "kind", "industries", "start", "end"]
    ).astype({"region": "str", "row": "str", "kind": "str", "industries": "str"})
    x0 = det["start"].to_numpy(dtype=float)
    x1 = det["end"].to_numpy(dtype=float)
    notes: list[str] = []

    if reference == "regions":
        sums = det.groupby("row")[["start", "end"]].sum()
        g_n = float(x1.sum() / x0.sum() - 1.0)
        ref0 = det["row"].map(sums["start"]).to_numpy(dtype=float)
        ref1 = det["row"].map(sums["end"]).to_numpy(dtype=float)
        ref_text = f"sum of the {len(chosen)} regions analysed, row by row"
    else:
        nat = cells.pair(NATIONAL, _ROOT)
        if isinstance(nat, str):
            raise InsufficientData(f"reference '0': national TOTAL has no number ({nat})")
        g_n = nat[1] / nat[0] - 1.0
        ref0, ref1 = np.empty(len(det)), np.empty(len(det))
        for k, (row, covers) in enumerate(zip(det["row"], det["industries"], strict=True)):
            codes = [c for c in covers.split(", ") if c] if row not in present else [row]
            parts = [cells.pair(NATIONAL, c) for c in codes]
            bad = [f"{c}: {p}" for c, p in zip(codes, parts, strict=True) if isinstance(p, str)]
            if bad:
                raise InsufficientData(f"reference '0': national {'; '.join(bad)}")
            ref0[k] = sum(p[0] for p in parts if not isinstance(p, str)) if codes else 0.0
            ref1[k] = sum(p[1] for p in parts if not isinstance(p, str)) if codes else 0.0
        ref_text = (
            "national figures ('0', incl. the continental shelf); a residual's reference is "
            "the national sum of the industries it pools"
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        g_ref = np.where(ref0 != 0, ref1 / np.where(ref0 != 0, ref0, 1.0) - 1.0, np.nan)
        growth = np.where(x0 != 0, x1 / np.where(x0 != 0, x0, 1.0) - 1.0, np.nan)
    no_rate = np.isnan(g_ref)
    if (no_rate & (x1 != x0)).any():
        bad_rows = sorted(set(det.loc[no_rate & (x1 != x0), "row"]))
        notes.append(
            f"rows {bad_rows} have reference start level 0: no reference rate, g_i := g_N, "
            "their whole change is regional and the zero sums across regions do not hold for them"
        )
    g_used = np.where(no_rate, g_n, g_ref)
    det["growth"] = growth
    det["reference_growth"] = g_ref
    det["national"] = x0 * g_n
    det["industry_mix"] = x0 * (g_used - g_n)
    det["regional"] = (x1 - x0) - x0 * g_used
    det["actual_change"] = x1 - x0

    out_rows: list[tuple[str, str, float]] = []
    share_by_region: dict[str, float] = {}
    pooled_start = pd.Series([p["start_value"] for p in pooled], dtype=float)
    pooled_regions = pd.Series([str(p["region"]) for p in pooled], dtype=object)
    total_gap: dict[str, float] = {}
    for r, f in det.groupby("region", sort=True):
        actual = float(f["actual_change"].sum())
        national = float(f["national"].sum())
        mix = float(f["industry_mix"].sum())
        regional = actual - national - mix
        for comp, v in zip(COMPONENTS, (national, mix, regional, actual), strict=True):
            out_rows.append((str(r), comp, v))
        start_r = float(f["start"].sum())
        in_pool = float(pooled_start[pooled_regions == r].sum())
        share_by_region[str(r)] = in_pool / start_r if start_r else np.nan
        total_gap[str(r)] = float(f["end"].sum() - totals[str(r)][1])
    overall_start = float(x0.sum())
    overall = float(pooled_start.sum()) / overall_start if overall_start else np.nan

    apart: dict[str, object] | None = None
    if NATIONAL in available:
        nat = cells.pair(NATIONAL, _ROOT)
        regions_change = float(sum(t[1] - t[0] for t in totals.values()))
        regions_start = float(sum(t[0] for t in totals.values()))
        if isinstance(nat, str):
            apart = {"value": np.nan, "note": f"national TOTAL has no number ({nat})"}
        else:
            apart = {
                "what": "continental shelf and unallocated: national ('0') TOTAL change minus "
                "the regions' TOTAL change"
                + ("" if regions is None else " (and any county left out of regions=)"),
                "value": float(nat[1] - nat[0]) - regions_change,
                "national_change": float(nat[1] - nat[0]),
                "regions_change": regions_change,
                "national_growth": float(nat[1] / nat[0] - 1.0),
                "regions_growth": regions_change / regions_start,
            }

    units = (accounts.attrs.get("units") or {}).get(measure)
    if price == "volume":
        units = f"{units or 'NOK million'}, constant {start} prices (chain-linked)"
        notes.append(
            "volume: each row is chained from its own volume changes; a pooled residual's end "
            "value is its current-price value deflated with its parent's implicit deflator "
            "(parent chained volume / parent current value at the end), i.e. the pooled "
            "industries are assumed to share the parent's price change"
        )
        notes.append(
            "chain-linked volumes are not additive: actual_change is the sum of a region's "
            "rows; attrs['total_gap'] is its distance to the region's TOTAL chained volume at "
            "the end (the residual is not 'parent volume minus children volume', which on "
            "11713 2008-2019 gives negative or exploding residuals)"
        )
    notes.append(
        "a pooled residual row's reference is the sum over regions of rows with the same "
        "label: its reference rate is a mix of what each region pooled"
    )
    out = pd.DataFrame(out_rows, columns=["region", "component", VALUE])
    out["region"] = out["region"].astype("str")
    out["component"] = out["component"].astype("str")
    out[STATUS] = pd.array([pd.NA] * len(out), dtype="string")
    out.attrs = {
        "method": "shift-share (Dunn 1960): dX_r = sum_i x_ri0 g_N + sum_i x_ri0 (g_i - g_N) "
        "+ sum_i x_ri0 (g_ri - g_i), rows i = finest published industries and per-region "
        f"residuals, reference = {ref_text}",
        "window": (int(start), int(end)),
        "measure": measure,
        "price": price,
        "reference": ref_text,
        "regions": chosen,
        "excluded": excluded,
        "pooled": pooled,
        "pooled_share": {"overall": overall, "by_region": share_by_region},
        "apart": apart,
        "total_gap": total_gap,
        "units": units,
        "notes": notes,
        "vintage": accounts.attrs.get("vintage"),
    }
    if detail:
        det = det.sort_values(["region", "row"], ignore_index=True)
        det.attrs = {k: out.attrs[k] for k in ("method", "window", "measure", "price", "units")}
        return out, det
    return out


__all__ = ["COMPONENTS", "NATIONAL", "OTHER", "residual_label", "shift_share"]
