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


__all__ = ["shift_share"]
