"""Figures by centrality class (*sentralitetsklasse*) and county peripherality.

* :func:`by_centrality_class`: sums a municipal tidy frame (population, employment by workplace,
  or allocated value added) over the municipalities of each centrality class, and adds
  productivity (NOK per employed person) where value added and employed persons are both present;
* :func:`peripherality`: the share of each county's population (or employment) living in the
  least central municipalities (classes 5-6 and 4-6 by default),

  .. math:: s_{c,t} = \\frac{\\sum_{m \\in c,\\, k(m) \\in K} x_{m,t}}{\\sum_{m \\in c} x_{m,t}}

Municipality codes must be on the vintage of the centrality table (see
:func:`regionstats.regions.centrality.centrality` and :func:`regionstats.regions.harmonise`);
a mismatch of ``attrs["region_vintage"]`` raises.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from regionstats.indicators._tidy import identity_keys, ratio
from regionstats.indicators.allocation import RESIDUAL
from regionstats.model import STATUS, VALUE, aggregate

#: Default class groups for :func:`peripherality`: name -> classes.
PERIPHERAL_CLASSES: dict[str, tuple[int, ...]] = {
    "share_class_5_6": (5, 6),
    "share_class_4_6": (4, 5, 6),
}


def _check_vintage(frame: pd.DataFrame, centrality: pd.DataFrame) -> None:
    a = frame.attrs.get("region_vintage")
    b = centrality.attrs.get("region_vintage")
    if a is not None and b is not None and int(a) != int(b):
        raise ValueError(
            f"municipality codes are on vintage {a} but the centrality table on {b}; "
            "harmonise the data first (regionstats.regions.harmonise) or cut the centrality "
            f"edition for vintage {a}"
        )


def _with_class(frame: pd.DataFrame, centrality: pd.DataFrame) -> pd.DataFrame:
    _check_vintage(frame, centrality)
    table = centrality[["region", "centrality_class"]]
    merged = frame.merge(table, on="region", how="left", validate="many_to_one")
    unknown = sorted(set(merged.loc[merged["centrality_class"].isna(), "region"]))
    if unknown:
        raise ValueError(
            f"no centrality class for municipalities {unknown[:10]} (edition "
            f"{centrality.attrs.get('edition')}, vintage {centrality.attrs.get('region_vintage')})"
        )
    merged["centrality_class"] = merged["centrality_class"].astype("int64")
    return merged


def by_centrality_class(
    frame: pd.DataFrame,
    centrality: pd.DataFrame,
    *,
    keys: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Sum a municipal tidy frame by centrality class (over municipalities and industries).

    Parameters
    ----------
    frame
        Tidy municipal frame (``region`` 4-char codes, ``year``, ``value``, ``status``; e.g.
        population, 13470 employment, or :func:`~regionstats.indicators.allocation.
        allocate_by_employment`).
    centrality
        ``region``, ``centrality_class`` for the same municipality vintage
        (:func:`regionstats.regions.centrality.centrality`).
    keys
        Identity columns kept besides ``centrality_class`` (default: ``measure`` and ``year`` if
        present; industries and regions are summed over).

    Returns
    -------
    Tidy ``centrality_class`` (int 1-6), [``measure``], ``year``, ``value``, ``status``, plus
    ``n_municipalities``. When the input has ``value_added`` and ``employed_persons`` measures,
    ``productivity`` rows (NOK per person) are added. ``attrs`` carry ``estimate`` (True when the
    input is an allocation estimate), the centrality edition and vintage, and the method.
    """
    if {"county", "industry"} <= set(frame.columns) and (frame["industry"] == RESIDUAL).any():
        from regionstats.indicators.allocation import municipal_totals

        frame = municipal_totals(frame)
    merged = _with_class(frame, centrality)
    if keys is None:
        keys = [k for k in ("measure", "year") if k in merged.columns]
    by = ["centrality_class", *keys]
    out = aggregate(merged, by)
    counts = merged.groupby(by)["region"].nunique().rename("n_municipalities").reset_index()
    out = out.merge(counts, on=by, how="left")
    if "measure" in by and {"value_added", "employed_persons"} <= set(out["measure"]):
        on = [k for k in by if k != "measure"]
        va = out[out["measure"] == "value_added"]
        emp = out[out["measure"] == "employed_persons"]
        prod = ratio(va, emp, on, scale=1e6 / 1e3)
        prod["measure"] = "productivity"
        prod = prod.merge(va[[*on, "n_municipalities"]], on=on, how="left")
        out = pd.concat([out, prod[out.columns]], ignore_index=True)
    out["measure"] = out["measure"].astype("str") if "measure" in out.columns else None
    if "measure" not in by:
        out = out.drop(columns="measure")
    out[STATUS] = out[STATUS].astype("string")
    out = out.sort_values(by, ignore_index=True)
    estimate = bool(frame.attrs.get("estimate", False))
    out.attrs = {
        "estimate": estimate,
        "method": (frame.attrs.get("method", "") + "; " if estimate else "")
        + "summed over the municipalities of each centrality class"
        + ("; productivity = value added * 1e6 / (employed persons * 1e3)" if estimate else ""),
        "centrality_edition": centrality.attrs.get("edition"),
        "region_vintage": centrality.attrs.get("region_vintage"),
        "source": frame.attrs.get("source") or frame.attrs.get("employment_source"),
        "vintage": frame.attrs.get("vintage") or frame.attrs.get("accounts_vintage"),
        "coverage": frame.attrs.get("coverage") or frame.attrs.get("employment_coverage"),
    }
    return out


def peripherality(
    municipal: pd.DataFrame,
    centrality: pd.DataFrame,
    counties: pd.DataFrame,
    *,
    classes: Mapping[str, Sequence[int]] = PERIPHERAL_CLASSES,
) -> pd.DataFrame:
    """Share of each county's population (or employment) in the least central classes.

    Parameters
    ----------
    municipal
        Tidy municipal frame of a count (population, employment): ``region``, ``year``,
        ``value``, ``status``.
    centrality
        Centrality table of the same municipality vintage.
    counties
        ``region`` -> ``county`` (e.g. :func:`~regionstats.indicators.allocation.
        municipality_counties` for the accounts' counties, or the first two digits of the code
        for the counties of that vintage).
    classes
        Share name -> classes counted (default: classes 5-6 and 4-6).

    Returns
    -------
    Tidy ``region`` (county), ``measure`` (share name), ``year``, ``value`` (fraction 0-1),
    ``status``.
    """
    merged = _with_class(municipal, centrality)
    merged = merged.merge(counties[["region", "county"]], on="region", how="left")
    missing = sorted(set(merged.loc[merged["county"].isna(), "region"]))
    if missing:
        raise ValueError(f"no county for municipalities {missing[:10]}")
    extra = [k for k in identity_keys(municipal) if k not in ("region", "year")]
    by = ["county", *extra, "year"]
    total = aggregate(merged, by)
    parts = []
    for name, cls in classes.items():
        sel = merged.assign(
            **{VALUE: np.where(merged["centrality_class"].isin(list(cls)), merged[VALUE], 0.0)}
        )
        # municipalities outside the classes contribute an exact 0, their symbols do not matter
        sel[STATUS] = sel[STATUS].where(sel["centrality_class"].isin(list(cls)), pd.NA)
        num = aggregate(sel, by)
        share = ratio(num, total, by)
        share["measure"] = name
        parts.append(share)
    out = pd.concat(parts, ignore_index=True).rename(columns={"county": "region"})
    out["measure"] = out["measure"].astype("str")
    out = out[["region", *extra, "measure", "year", VALUE, STATUS]]
    out = out.sort_values(["region", "measure", "year"], ignore_index=True)
    out.attrs = {
        "method": "share of the county's total in centrality classes "
        + "; ".join(f"{k}: {list(v)}" for k, v in classes.items()),
        "centrality_edition": centrality.attrs.get("edition"),
        "region_vintage": centrality.attrs.get("region_vintage"),
        "county_structure": counties.attrs.get("county_structure"),
        "source": municipal.attrs.get("source"),
        "units": "fraction",
    }
    return out


__all__ = ["PERIPHERAL_CLASSES", "by_centrality_class", "peripherality"]
