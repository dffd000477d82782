"""Tables for people: analysis results in, formatted pandas ``Styler`` out (pure).

Labels instead of codes, units in the column names, percentages and thousands separators, no
index column, missing figures shown as "–" with the reason in a note rather than ``NaN``/``<NA>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from pandas.io.formats.style import Styler

from regionstats.analysis.classes import GROUP_LABELS

MISSING = "–"

_MEASURES = {
    ("value_added", "current"): "Value added, current prices",
    ("value_added", "volume"): "Value added, volume",
    ("employed_persons", "persons"): "Employed persons",
    ("productivity", "current"): "Productivity, current prices",
    ("productivity", "volume"): "Productivity, volume",
}

_COMPARISONS = {
    "low_minus_national": "vs national average",
    "low_minus_high": "vs most central",
}


def styled(frame: pd.DataFrame, formats: Mapping[str, str], caption: str | None = None) -> Styler:
    """``frame`` without its index, columns formatted, NaN shown as a dash."""
    sty = frame.style.hide(axis="index").format(dict(formats), na_rep=MISSING)
    if caption:
        sty = sty.set_caption(caption)
    return sty.set_table_styles(
        [
            {
                "selector": "caption",
                "props": "caption-side: top; text-align: left; "
                "font-weight: 600; padding-bottom: .4em;",
            },  # fmt: skip
            {"selector": "td", "props": "text-align: right; padding: .2em .8em;"},
            {"selector": "td:first-child", "props": "text-align: left;"},
            {"selector": "th", "props": "text-align: right; padding: .2em .8em;"},
        ]
    )


def inputs_table(sources: pd.DataFrame) -> Styler:
    """Which source served each input (:attr:`regionstats.Inputs.sources`): source, where from,
    vintage and the first 12 hex digits of its checksum (the manifest has them in full)."""
    names = {
        "api": "live API",
        "raw store": "stored API vintage",
        "snapshot": "offline snapshot",
        "embedded": "embedded default",
    }

    def short(v: object) -> str:
        if not isinstance(v, str) or not v:
            return MISSING
        return ", ".join(part.strip()[:12] for part in v.split(","))

    frame = pd.DataFrame(
        {
            "Input": sources["input"],
            "Served by": sources["source"].map(lambda v: names.get(str(v), str(v))),
            "From": sources["location"].fillna(MISSING).astype(str),
            "Vintage": sources["vintage"].fillna(MISSING).astype(str),
            "Checksum (sha256)": sources["sha256"].map(short),
        }
    )
    return styled(frame, {}, "Inputs of this run, in the order every input is looked for: live "
                  "API, stored vintage, snapshot, embedded default.")  # fmt: skip


def label_groups(decomposition: pd.DataFrame) -> pd.DataFrame:
    """The decomposition with a display column ``group_label`` (industry group names)."""
    return decomposition.assign(
        group_label=decomposition["group"].map(lambda g: GROUP_LABELS.get(g, g)),
        price=decomposition["price"].map({"current": "current prices", "volume": "volume"}),
    )


def class_table(result: Mapping[str, Any]) -> Styler:
    """Annual growth of the compared classes and the nation, with the differences and ranges."""
    s = result["summary"]
    g = result["growth"]
    comp = result["comparison"].set_index(["measure", "price", "comparison"])
    national = bool(s.get("national", True))
    ref_col = "National average, % a year" if national else "All covered, % a year"
    ref_short = "national" if national else "all covered"
    ref_window = ("National" if national else "All covered") + ", % over the window"
    rows = []
    for (m, p), label in _MEASURES.items():
        sub = g[(g["measure"] == m) & (g["price"] == p)].set_index("group")["annual"]
        tot = g[(g["measure"] == m) & (g["price"] == p)].set_index("group")["growth"]
        d = comp.loc[(m, p, "low_minus_national")]
        rows.append(
            {
                "Measure": label,
                f"{s['low']}, % a year": 100 * sub.get(s["low"], float("nan")),
                f"{s['low']}, % over the window": 100 * tot.get(s["low"], float("nan")),
                ref_col: 100 * sub.get("national", float("nan")),
                ref_window: 100 * tot.get("national", float("nan")),
                f"{s['high']}, % a year": 100 * sub.get(s["high"], float("nan")),
                f"Difference vs {ref_short}, points": d["value"],
                "Range over methods, points": (d["range_low"], d["range_high"]),
                f"Difference vs {s['high']}, points": comp.loc[(m, p, "low_minus_high"), "value"],
            }
        )
    frame = pd.DataFrame(rows)
    frame["Range over methods, points"] = frame["Range over methods, points"].map(
        lambda r: MISSING if r[0] != r[0] else f"{r[0]:+.2f} to {r[1]:+.2f}"
    )
    start, end = s["window"]
    n = s["n_municipalities"]
    caption = (
        f"Estimated annual growth {start}–{end}, {s['scope']}; {s['low']}: {s['n_low']} "
        f"municipalities, {s['high']}: {s['n_high']}, all: {sum(n.values())}. Estimate "
        "(county accounts allocated by employment by workplace); the range is over "
        f"{int(comp['n_settings'].max())} method settings, not a sampling interval."
    )
    pct = "{:.2f}"
    pts = "{:+.2f}"
    return styled(
        frame,
        {
            f"{s['low']}, % a year": pct,
            f"{s['low']}, % over the window": "{:.1f}",
            ref_col: pct,
            ref_window: "{:.1f}",
            f"{s['high']}, % a year": pct,
            f"Difference vs {ref_short}, points": pts,
            f"Difference vs {s['high']}, points": pts,
        },
        caption,
    )


def variants_table(result: Mapping[str, Any]) -> Styler:
    """Difference vs the national average (points a year) under every method setting."""
    v = result["variants"]
    v = v[v["comparison"] == "low_minus_national"]
    wide = v.pivot_table(
        index=["kind", "setting"], columns=["measure", "price"], values="value", sort=False
    )
    wide.columns = [_MEASURES.get(tuple(c), " ".join(c)) for c in wide.columns]
    wide = wide.reset_index()
    kinds = {
        "headline": "Headline",
        "key": "Allocation key",
        "window": "Window",
        "edition": "Centrality edition",
        "scope": "Scope (variant)",
    }
    wide.insert(0, "What changes", wide.pop("kind").map(kinds))
    wide = wide.rename(columns={"setting": "Setting"})
    s = result["summary"]
    caption = (
        f"{s['low']} minus {s.get('reference', 'the national average')}, percentage points of "
        "annual growth; "
        "ranges in the headline table are over the headline, key, window and edition rows."
    )
    return styled(wide, {c: "{:+.2f}" for c in wide.columns[2:]}, caption)


def regression_table(result: Mapping[str, Any]) -> Styler:
    """County regressions of growth on peripherality: slope, t-based CI, p-values and n."""
    reg = result["regressions"]
    term = [t for t in reg["term"].unique() if t != "const"][0]
    slopes = reg[reg["term"] == term]
    rows = []
    for r in slopes.itertuples():
        rows.append(
            {
                "Scope": r.scope,
                "Outcome": str(r.outcome).replace("_", " "),
                "Slope, points a year": 100 * r.coef,
                "95 % CI (t)": f"{100 * r.ci_low:+.2f} to {100 * r.ci_high:+.2f}",
                "p (t)": r.p_value,
                "p (permutation)": getattr(r, "p_perm", float("nan")),
                "n": int(r.n) if hasattr(r, "n") else MISSING,
            }
        )
    frame = pd.DataFrame(rows)
    window = result["summary"]["window"]
    caption = (
        f"Annual growth {window[0]}–{window[1]} regressed on the population share in classes "
        "5–6: the slope is the growth difference between a county with all its population "
        "there and one with none. HC3 standard errors, t with n − 2 degrees of freedom."
    )
    return styled(
        frame,
        {"Slope, points a year": "{:+.2f}", "p (t)": "{:.3f}", "p (permutation)": "{:.3f}"},
        caption,
    )


def convergence_table(summaries: Mapping[str, Mapping[str, Any]]) -> Styler:
    """Beta-convergence estimates side by side (label -> :func:`regionstats.beta_convergence`
    summary): beta with its t-based 95 % CI, both p-values, n, speed and half-life where defined."""
    rows = []
    for label, s in summaries.items():
        rows.append(
            {
                "Specification": label,
                "Levels": s["level_basis"],
                "Growth": s["growth_basis"],
                "beta": s["beta"],
                "95 % CI (t)": f"{s['ci_low']:+.4f} to {s['ci_high']:+.4f}",
                "p (t)": s["p_value"],
                "p (permutation)": s["p_perm"],
                "n": int(s["n"]),
                "Speed, % a year": 100 * s["speed"],
                "Half-life, years": s["half_life"],
            }
        )
    first = next(iter(summaries.values()))
    w = first["window"]
    caption = (
        f"Annual growth {w[0]}–{w[1]} regressed on the log of the start-year level (OLS, HC3, "
        "t with n − 2 df); speed b = −ln(1 + Tβ)/T and half-life ln 2 / b only where β is "
        "negative."
    )
    return styled(
        pd.DataFrame(rows),
        {
            "beta": "{:+.4f}",
            "p (t)": "{:.3f}",
            "p (permutation)": "{:.3f}",
            "Speed, % a year": "{:.2f}",
            "Half-life, years": "{:.0f}",
        },
        caption,
    )


def beta_sentence(summary: Mapping[str, Any]) -> str:
    """One sentence on a :func:`regionstats.beta_convergence` summary, with its n and both p."""
    w = summary["window"]
    where = (
        f"; half-life {summary['half_life']:.0f} years"
        if summary["half_life"] == summary["half_life"]
        else ""
    )
    verdict = (
        "low-productivity counties grew faster"
        if summary["ci_high"] < 0
        else "no clear catching up"
        if summary["ci_low"] <= 0
        else "high-productivity counties grew faster"
    )
    return (
        f"β-convergence {w[0]}–{w[1]} ({summary['growth_basis']} growth on {summary['level_basis']}"
        f" levels): β = {summary['beta']:+.4f}, 95 % CI {summary['ci_low']:+.4f} to "
        f"{summary['ci_high']:+.4f} (t, {summary['df']} df), permutation p = "
        f"{summary['p_perm']:.3f}, n = {summary['n']}{where}: {verdict}."
    )


def regression_sentence(result: Mapping[str, Any], key: str) -> str:
    """One sentence on one county regression of :func:`regionstats.nou_check`
    (``key`` = ``"<scope>:<outcome>"``)."""
    r = result["summary"]["county_results"][key]
    lo, hi = r["ci95"]
    verdict = (
        "no clear relation"
        if lo <= 0 <= hi
        else ("faster" if lo > 0 else "slower") + " growth in more peripheral counties"
    )
    return (
        f"Counties ({r['scope']}): {r['outcome']} against the population share in classes 5–6 "
        f"has slope {100 * r['slope']:+.2f} points a year (95 % CI {100 * lo:+.2f} to "
        f"{100 * hi:+.2f}, t; permutation p = {r['p_perm']:.2f}; n = {r['n']}): {verdict}."
    )


def sigma_sentence(sigma: pd.DataFrame) -> str:
    """One sentence on a :func:`regionstats.sigma_convergence` result's trend, honest about
    whether it could be tested."""
    t = sigma.attrs["trend"]
    years = sigma.loc[sigma["value"].notna(), "year"]
    span = f"{int(years.min())}–{int(years.max())}"
    first = float(sigma.loc[sigma["year"] == years.min(), "value"].iloc[0])
    last = float(sigma.loc[sigma["year"] == years.max(), "value"].iloc[0])
    head = (
        f"The dispersion of log productivity across regions went from {first:.3f} to "
        f"{last:.3f} over {span} (trend {t['slope']:+.4f} a year"
    )
    if not t.get("testable", False):
        return head + f"); the trend cannot be tested here: {t.get('note', '')}."
    return (
        head + f", 95 % CI {t['ci_low']:+.4f} to {t['ci_high']:+.4f}, p = {t['p_value']:.3f}, "
        f"allowing for autocorrelation: {t.get('note', '')})."
    )


def shift_share_sentence(shares: pd.DataFrame) -> str:
    """What a :func:`regionstats.shift_share` result rests on: regions, reference, the share
    pooled because of suppression, the zero sum, and the part outside the regions."""
    a = shares.attrs
    regions = a.get("regions") or sorted(set(shares["region"]))
    regional = shares.loc[shares["component"] == "regional", "value"].sum()
    pooled = a.get("pooled_share") or {}
    by_region = pooled.get("by_region") or {}
    worst = max(by_region.items(), key=lambda kv: kv[1]) if by_region else None
    w = a.get("window", ("?", "?"))
    text = (
        f"{len(regions)} regions, {w[0]}–{w[1]}, {a.get('price', 'current')} prices, reference: "
        f"{a.get('reference', 'the regions together')}. Industries pooled because SSB suppresses "
        f"them: {100 * float(pooled.get('overall', 0.0)):.1f} % of start-year value added"
    )
    if worst is not None:
        text += f" (at most {100 * worst[1]:.1f} % in region {worst[0]})"
    text += (
        f". The regional components sum to {abs(regional):,.3f} NOK million across the regions "
        "(zero, as they must against the regions' own sum)."
        if abs(regional) < 0.0005
        else f". The regional components sum to {regional:,.1f} NOK million across the regions."
    )
    apart = a.get("apart")
    if isinstance(apart, Mapping) and apart.get("value") is not None:
        text += (
            f" Outside the regions (continental shelf and unallocated): "
            f"{float(apart['value']):,.0f} NOK million of change, reported apart; the nation grew "
            f"{100 * float(apart.get('national_growth', float('nan'))):.1f} % including it, the "
            f"regions {100 * float(apart.get('regions_growth', float('nan'))):.1f} %."
        )
    return text


__all__ = [
    "MISSING",
    "inputs_table",
    "beta_sentence",
    "regression_sentence",
    "shift_share_sentence",
    "class_table",
    "convergence_table",
    "label_groups",
    "regression_table",
    "sigma_sentence",
    "styled",
    "variants_table",
]
