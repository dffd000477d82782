"""Statistical comparison of growth across counties and centrality classes (statsmodels).

* :func:`growth_regression`: OLS of a county growth rate on a county characteristic (e.g.
  peripherality) with heteroskedasticity-robust (default HC3; MacKinnon & White 1985) standard
  errors and 95 % confidence intervals;
* :func:`beta_convergence`: :math:`g_i = \\alpha + \\beta \\ln P_{i,0} + \\varepsilon_i` with
  :math:`g_i = \\ln(P_{i,T}/P_{i,0})/T`; speed :math:`b = -\\ln(1 + T\\beta)/T` and half-life
  :math:`\\ln 2 / b` (Barro & Sala-i-Martin 1992, *J. Political Economy* 100(2));
* :func:`sigma_convergence`: standard deviation of :math:`\\ln P` across regions by year, and its
  linear trend;
* :func:`class_growth_difference`: growth of the least minus the most central class, with a
  seeded bootstrap CI (municipalities resampled with replacement within each class);
* :func:`shift_share`: :math:`\\Delta X_r = NS_r + IM_r + RS_r` (Dunn 1960) with
  :math:`NS_r = \\sum_i X_{ri,0} g_N`, :math:`IM_r = \\sum_i X_{ri,0}(g_{Ni} - g_N)`,
  :math:`RS_r = \\sum_i X_{ri,0}(g_{ri} - g_{Ni})`; the three sum exactly to the change.

Every result is tidy with ``attrs`` recording method, window, scope and the inputs' vintages.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from regionstats.model import MISSING_SYMBOLS, STATUS, VALUE
from regionstats.sources.ssb_quirks import TOP_LEVEL_INDUSTRIES


def _usable(frame: pd.DataFrame) -> pd.Series:
    bad = frame[VALUE].isna()
    if STATUS in frame.columns:
        bad |= frame[STATUS].isin(list(MISSING_SYMBOLS)).fillna(False).astype(bool)
    return ~bad


def _ols(y: np.ndarray, x: np.ndarray, cov_type: str, names: Sequence[str]) -> pd.DataFrame:
    import statsmodels.api as sm

    if len(y) < 3:
        raise ValueError(f"regression needs at least 3 observations, got {len(y)}")
    design = sm.add_constant(np.asarray(x, dtype=float), has_constant="add")
    fit = sm.OLS(np.asarray(y, dtype=float), design).fit(cov_type=cov_type)
    ci = np.asarray(fit.conf_int(alpha=0.05))
    out = pd.DataFrame(
        {
            "term": ["const", *names],
            "coef": np.asarray(fit.params),
            "se": np.asarray(fit.bse),
            "z": np.asarray(fit.tvalues),
            "p_value": np.asarray(fit.pvalues),
            "ci_low": ci[:, 0],
            "ci_high": ci[:, 1],
        }
    )
    out["term"] = out["term"].astype("str")
    out.attrs = {"n": int(len(y)), "r2": float(fit.rsquared), "cov_type": cov_type}
    return out


def growth_regression(
    growth: pd.DataFrame,
    regressor: pd.DataFrame,
    *,
    cov_type: str = "HC3",
    name: str = "x",
) -> pd.DataFrame:
    """OLS of growth on one regional characteristic, robust standard errors.

    .. math:: g_r = \\alpha + \\beta x_r + \\varepsilon_r

    Parameters
    ----------
    growth, regressor
        Tidy frames with one row per ``region`` (``value``, ``status``); regions without a
        usable number in either are dropped (counted in ``attrs["dropped"]``).
    cov_type
        statsmodels covariance type (``"HC3"`` default, ``"HC1"``, ``"nonrobust"`` ...).
    name
        Name of the slope term.

    Returns
    -------
    Tidy ``term`` (``const``, ``name``), ``coef``, ``se``, ``z``, ``p_value``, ``ci_low``,
    ``ci_high`` (95 %); ``attrs``: ``n``, ``r2``, ``cov_type``, ``regions``, ``dropped``.
    """
    for f, what in ((growth, "growth"), (regressor, "regressor")):
        if f["region"].duplicated().any():
            raise ValueError(f"{what} frame must have one row per region (filter a year/measure)")
    g = growth[_usable(growth)][["region", VALUE]]
    x = regressor[_usable(regressor)][["region", VALUE]]
    both = g.merge(x, on="region", suffixes=("_y", "_x")).sort_values("region")
    dropped = sorted((set(growth["region"]) | set(regressor["region"])) - set(both["region"]))
    out = _ols(both[f"{VALUE}_y"].to_numpy(), both[[f"{VALUE}_x"]].to_numpy(), cov_type, [name])
    out.attrs.update(
        {
            "regions": both["region"].tolist(),
            "dropped": dropped,
            "method": f"OLS g = a + b {name}, {cov_type} standard errors, 95% CI",
            "growth_attrs": {k: v for k, v in growth.attrs.items() if isinstance(v, str | int)},
            "regressor_attrs": {
                k: v for k, v in regressor.attrs.items() if isinstance(v, str | int)
            },
        }
    )
    return out


def _levels(frame: pd.DataFrame, year: int) -> pd.DataFrame:
    part = frame[(frame["year"] == year) & _usable(frame)][["region", VALUE]]
    if part.empty:
        years = sorted(set(frame["year"]))
        raise ValueError(f"year {year} is outside the data ({years[0]}-{years[-1]})")
    return part


def beta_convergence(
    productivity: pd.DataFrame,
    start: int,
    end: int,
    *,
    cov_type: str = "HC3",
    exclude: Sequence[str] = ("0",),
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Beta-convergence of regional levels (e.g. productivity) between ``start`` and ``end``.

    .. math:: \\frac{1}{T}\\ln\\frac{P_{i,T}}{P_{i,0}} = \\alpha + \\beta \\ln P_{i,0}
              + \\varepsilon_i, \\quad b = -\\frac{\\ln(1 + T\\beta)}{T}, \\quad
              \\text{half-life} = \\frac{\\ln 2}{b}

    Returns the coefficient table (:func:`growth_regression` layout, slope ``log_initial``) and
    ``{"beta", "se", "ci_low", "ci_high", "speed", "half_life", "n", "T"}``; speed and half-life
    are NaN when :math:`\\beta \\ge 0` (no convergence) or :math:`1 + T\\beta \\le 0`.
    """
    if end <= start:
        raise ValueError(f"window must have start < end, got {start}-{end}")
    p0 = _levels(productivity, start)
    p1 = _levels(productivity, end)
    both = p0.merge(p1, on="region", suffixes=("_0", "_1"))
    both = both[~both["region"].isin(list(exclude))]
    both = both[(both[f"{VALUE}_0"] > 0) & (both[f"{VALUE}_1"] > 0)].sort_values("region")
    T = end - start
    g = np.log(both[f"{VALUE}_1"] / both[f"{VALUE}_0"]).to_numpy() / T
    x = np.log(both[[f"{VALUE}_0"]].to_numpy())
    table = _ols(g, x, cov_type, ["log_initial"])
    beta = float(table.loc[1, "coef"])
    inside = 1 + T * beta
    speed = -np.log(inside) / T if inside > 0 and beta < 0 else np.nan
    half = np.log(2) / speed if speed == speed and speed > 0 else np.nan
    summary = {
        "beta": beta,
        "se": float(table.loc[1, "se"]),
        "ci_low": float(table.loc[1, "ci_low"]),
        "ci_high": float(table.loc[1, "ci_high"]),
        "speed": float(speed),
        "half_life": float(half),
        "n": int(len(both)),
        "T": int(T),
    }
    table.attrs.update(
        {
            "regions": both["region"].tolist(),
            "window": (start, end),
            "method": "beta-convergence: annualised log growth on log initial level; "
            f"{cov_type} SE; speed b = -ln(1+T beta)/T, half-life ln2/b",
            "summary": summary,
        }
    )
    return table, summary


def sigma_convergence(
    productivity: pd.DataFrame, *, exclude: Sequence[str] = ("0",)
) -> pd.DataFrame:
    """Dispersion of log levels across regions by year (sample std, ddof=1) and its trend.

    Returns tidy ``year``, ``value`` (std of ln P), ``n``; ``attrs["trend"]`` = slope per year,
    its HC3 SE and 95 % CI from OLS of the std on year (negative slope = sigma-convergence).
    """
    usable = productivity[_usable(productivity) & ~productivity["region"].isin(list(exclude))]
    usable = usable[usable[VALUE] > 0]
    grouped = usable.assign(_log=np.log(usable[VALUE])).groupby("year")["_log"]
    out = pd.DataFrame({"value": grouped.std(ddof=1), "n": grouped.size()}).reset_index()
    out["year"] = out["year"].astype("int64")
    out[STATUS] = pd.array([pd.NA] * len(out), dtype="string")
    if len(out) >= 3:
        fit = _ols(out["value"].to_numpy(), out[["year"]].to_numpy(), "HC3", ["year"]).loc[1]
        trend = {
            k: float(fit[c])
            for k, c in (
                ("slope", "coef"),
                ("se", "se"),
                ("ci_low", "ci_low"),
                ("ci_high", "ci_high"),
            )
        }
    else:  # two years: the slope is the change, no standard error
        span = float(out["year"].iloc[-1] - out["year"].iloc[0]) if len(out) == 2 else np.nan
        slope = float(out["value"].iloc[-1] - out["value"].iloc[0]) / span if span else np.nan
        trend = {"slope": slope, "se": np.nan, "ci_low": np.nan, "ci_high": np.nan}
    out.attrs = {
        "method": "sigma-convergence: std (ddof=1) of log level across regions by year; "
        "trend = OLS slope on year with HC3 SE",
        "trend": trend,
        "vintage": productivity.attrs.get("vintage"),
        "scope": productivity.attrs.get("scope"),
    }
    return out


def _class_growth(
    values: pd.DataFrame,
    classes: Sequence[int],
    start: int,
    end: int,
    ratio_of: tuple[str, str] | None,
) -> float:
    sel = values[values["centrality_class"].isin(list(classes))]
    if ratio_of is None:
        a = sel[f"{VALUE}_0"].sum()
        b = sel[f"{VALUE}_1"].sum()
    else:
        num, den = ratio_of
        a = sel[f"{num}_0"].sum() / sel[f"{den}_0"].sum()
        b = sel[f"{num}_1"].sum() / sel[f"{den}_1"].sum()
    return float((b / a) ** (1.0 / (end - start)) - 1.0)


def class_growth_difference(
    municipal: pd.DataFrame,
    centrality: pd.DataFrame,
    start: int,
    end: int,
    *,
    measure: str = "value_added",
    low: Sequence[int] | None = None,
    high: Sequence[int] | None = None,
    n_boot: int = 999,
    seed: int = 20201,
) -> tuple[pd.DataFrame, dict[str, object]]:
    """Annual growth (CAGR) of the least central minus the most central classes, bootstrap CI.

    Class growth is the CAGR of the class *sum* (or, for ``measure="productivity"``, of
    sum value added / sum employed persons). The CI resamples municipalities with replacement
    within each class (``n_boot`` draws, ``numpy.random.default_rng(seed)``), percentile 95 %.

    Parameters
    ----------
    municipal
        Tidy municipal frame with ``region``, ``measure``, ``year`` (e.g.
        :func:`~regionstats.indicators.allocation.municipal_totals` of an allocation, or
        population with ``measure`` added). Needs ``value_added`` and ``employed_persons`` for
        ``measure="productivity"``.
    low, high
        Classes compared (default: the largest / smallest class present).

    Returns
    -------
    Tidy table ``group`` (``low``, ``high``, ``difference``), ``value`` (fraction per year),
    ``ci_low``, ``ci_high``; and a summary dict.
    """
    if n_boot < 1:
        raise ValueError("n_boot must be at least 1")
    cls = centrality[["region", "centrality_class"]]
    if "measure" not in municipal.columns:
        raise ValueError("municipal frame needs a 'measure' column")
    years = set(municipal["year"])
    if start not in years or end not in years or start >= end:
        raise ValueError(f"window {start}-{end} is outside the data years {sorted(years)}")
    needed = ["value_added", "employed_persons"] if measure == "productivity" else [measure]
    rows = municipal[municipal["measure"].isin(needed) & municipal["year"].isin([start, end])]
    if not _usable(rows).all():
        bad = rows[~_usable(rows)].iloc[0][["region", "measure", "year"]].to_dict()
        raise ValueError(f"cannot compare growth: a municipal figure is missing, e.g. {bad}")
    wide = rows.pivot_table(index="region", columns=["measure", "year"], values=VALUE)
    wide.columns = [f"{m}_{0 if y == start else 1}" for m, y in wide.columns]
    wide = wide.reset_index().merge(cls, on="region", how="left")
    wide["centrality_class"] = wide["centrality_class"].astype(int)
    if wide["centrality_class"].isna().any():
        raise ValueError("some municipalities have no centrality class")
    present = sorted(wide["centrality_class"].astype(int).unique())
    present = [int(k) for k in present]
    low = [int(k) for k in low] if low is not None else [present[-1]]
    high = [int(k) for k in high] if high is not None else [present[0]]
    absent = [k for k in (*low, *high) if k not in present]
    if absent:
        raise ValueError(f"classes {absent} have no municipalities; present: {present}")
    if measure == "productivity":
        ratio_of: tuple[str, str] | None = ("value_added", "employed_persons")
    else:
        wide = wide.rename(columns={f"{measure}_0": f"{VALUE}_0", f"{measure}_1": f"{VALUE}_1"})
        ratio_of = None
    g_low = _class_growth(wide, low, start, end, ratio_of)
    g_high = _class_growth(wide, high, start, end, ratio_of)
    rng = np.random.default_rng(seed)
    cols = (
        [f"{VALUE}_0", f"{VALUE}_1"]
        if ratio_of is None
        else [f"{ratio_of[0]}_0", f"{ratio_of[0]}_1", f"{ratio_of[1]}_0", f"{ratio_of[1]}_1"]
    )
    arrays = {
        k: wide.loc[wide["centrality_class"] == k, cols].to_numpy(dtype=float) for k in present
    }
    T = end - start

    def growth_of(sums: np.ndarray) -> float:
        if ratio_of is None:
            return float((sums[1] / sums[0]) ** (1.0 / T) - 1.0)
        return float(((sums[1] / sums[3]) / (sums[0] / sums[2])) ** (1.0 / T) - 1.0)

    draws = np.empty(n_boot)
    for d in range(n_boot):
        sums = {k: a[rng.integers(0, len(a), len(a))].sum(axis=0) for k, a in arrays.items()}
        lo_sum = sum(sums[k] for k in low if k in sums)
        hi_sum = sum(sums[k] for k in high if k in sums)
        draws[d] = growth_of(np.asarray(lo_sum)) - growth_of(np.asarray(hi_sum))
    lo, hi = np.percentile(draws, [2.5, 97.5])
    diff = g_low - g_high
    table = pd.DataFrame(
        {
            "group": ["low", "high", "difference"],
            "classes": [str(low), str(high), f"{low} - {high}"],
            "value": [g_low, g_high, diff],
            "ci_low": [np.nan, np.nan, lo],
            "ci_high": [np.nan, np.nan, hi],
        }
    )
    table["group"] = table["group"].astype("str")
    table["classes"] = table["classes"].astype("str")
    counts = {int(k): int(len(v)) for k, v in arrays.items()}
    summary: dict[str, object] = {
        "measure": measure,
        "window": (start, end),
        "low_classes": low,
        "high_classes": high,
        "growth_low": g_low,
        "growth_high": g_high,
        "difference": diff,
        "ci": (float(lo), float(hi)),
        "ci_excludes_zero": bool(lo > 0 or hi < 0),
        "sign": "positive" if diff > 0 else ("negative" if diff < 0 else "zero"),
        "n_municipalities": counts,
        "n_boot": n_boot,
        "seed": seed,
        "estimate": bool(municipal.attrs.get("estimate", False)),
    }
    table.attrs = {
        "method": "CAGR of class sums, least minus most central; percentile bootstrap CI, "
        f"municipalities resampled within classes, {n_boot} draws, seed {seed}",
        "units": "fraction per year",
        "summary": summary,
        "estimate": summary["estimate"],
        "centrality_edition": centrality.attrs.get("edition"),
        "region_vintage": centrality.attrs.get("region_vintage"),
    }
    return table, summary


def shift_share(
    accounts: pd.DataFrame,
    start: int,
    end: int,
    *,
    measure: str = "value_added",
    industries: Sequence[str] = TOP_LEVEL_INDUSTRIES,
    reference: str = "0",
    regions: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Shift-share decomposition of each region's change over ``start``-``end``.

    .. math:: X_{r,1} - X_{r,0} = \\underbrace{X_{r,0}\\,g_N}_{\\text{national}}
              + \\underbrace{\\sum_i X_{ri,0}(g_{Ni} - g_N)}_{\\text{industry mix}}
              + \\underbrace{\\sum_i X_{ri,0}(g_{ri} - g_{Ni})}_{\\text{regional}}

    with :math:`g` growth over the window, :math:`N` the ``reference`` region (``"0"``, which
    includes the continental shelf) and :math:`X_r = \\sum_i X_{ri}`. Industries that are
    missing (suppressed) in any region at either end are pooled into one ``OTHER`` industry
    computed as ``TOTAL`` minus the published ones (listed in ``attrs["pooled"]``), so the
    components add up exactly to the change of ``TOTAL``.

    Returns tidy ``region``, ``component`` (``national``, ``industry_mix``, ``regional``,
    ``actual_change``), ``value``, ``status`` (units of ``measure``).
    """
    for y in (start, end):
        if y not in set(accounts["year"]):
            raise ValueError(f"year {y} is outside the accounts ({sorted(set(accounts['year']))})")
    if start >= end:
        raise ValueError(f"window must have start < end, got {start}-{end}")
    acc = accounts[(accounts["measure"] == measure) & accounts["year"].isin([start, end])]
    if regions is None:
        tot = acc[acc["industry"] == "TOTAL"]
        ok = tot.groupby("region").apply(lambda f: bool(_usable(f).all() and len(f) == 2))
        regions = [r for r in ok[ok].index if r != reference]
    sel = acc[acc["region"].isin([*regions, reference])]
    part = sel[sel["industry"].isin(list(industries))]
    missing = part[~_usable(part)]
    pooled = sorted(set(missing["industry"]))
    kept = [i for i in industries if i not in pooled]
    rows = []
    for (region, year), f in sel.groupby(["region", "year"]):
        total = f[f["industry"] == "TOTAL"]
        if total.empty or not _usable(total).all():
            raise ValueError(f"TOTAL of {region} {year} is missing; pass regions= to leave it out")
        known = f[f["industry"].isin(kept)]
        for _, r in known.iterrows():
            rows.append((region, r["industry"], year, float(r[VALUE])))
        rows.append((region, "OTHER", year, float(total[VALUE].iloc[0]) - known[VALUE].sum()))
    x = pd.DataFrame(rows, columns=["region", "industry", "year", VALUE])
    w = x.pivot_table(index=["region", "industry"], columns="year", values=VALUE).reset_index()
    w = w.rename(columns={start: "x0", end: "x1"})
    nat = w[w["region"] == reference].set_index("industry")
    with np.errstate(divide="ignore", invalid="ignore"):
        g_ni = (nat["x1"] / nat["x0"] - 1.0).replace([np.inf, -np.inf], np.nan)
    g_n = nat["x1"].sum() / nat["x0"].sum() - 1.0
    out_rows = []
    for region, f in w[w["region"] != reference].groupby("region"):
        f = f.set_index("industry")
        gi = g_ni.reindex(f.index)
        # an industry with national level 0 at start has no national rate: its change is regional
        gi_filled = gi.fillna(g_n)
        national = f["x0"].sum() * g_n
        mix = float((f["x0"] * (gi_filled - g_n)).sum())
        actual = float(f["x1"].sum() - f["x0"].sum())
        regional = actual - national - mix  # = sum x0 (g_ri - g_Ni), exactly, incl. x0 = 0 rows
        for comp, v in (("national", national), ("industry_mix", mix), ("regional", regional),
                        ("actual_change", actual)):  # fmt: skip
            out_rows.append((region, comp, v))
    out = pd.DataFrame(out_rows, columns=["region", "component", VALUE])
    out["region"] = out["region"].astype("str")
    out["component"] = out["component"].astype("str")
    out[STATUS] = pd.array([pd.NA] * len(out), dtype="string")
    out.attrs = {
        "method": "shift-share (Dunn 1960): national + industry mix + regional = actual change",
        "window": (start, end),
        "measure": measure,
        "reference": reference,
        "pooled": pooled,
        "vintage": accounts.attrs.get("vintage"),
        "units": (accounts.attrs.get("units") or {}).get(measure),
    }
    return out


__all__ = [
    "beta_convergence",
    "class_growth_difference",
    "growth_regression",
    "shift_share",
    "sigma_convergence",
]
