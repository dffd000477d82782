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
    rows = []
    for (m, p), label in _MEASURES.items():
        sub = g[(g["measure"] == m) & (g["price"] == p)].set_index("group")["annual"]
        d = comp.loc[(m, p, "low_minus_national")]
        rows.append(
            {
                "Measure": label,
                f"{s['low']}, % a year": 100 * sub.get(s["low"], float("nan")),
                ref_col: 100 * sub.get("national", float("nan")),
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
            ref_col: pct,
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


__all__ = ["MISSING", "class_table", "label_groups", "regression_table", "styled", "variants_table"]
