"""Dissolving boundaries into harmonised or merged regions (pure; the boundaries themselves come
from :func:`regionstats.boundaries`)."""

from __future__ import annotations

import pandas as pd


def dissolve_to(gdf: pd.DataFrame, mapping: pd.DataFrame) -> pd.DataFrame:
    """Dissolve boundaries into harmonised or exact-merged regions.

    ``mapping`` has ``region`` (the boundary codes) and ``target`` (e.g. an exact group
    ``"5055+5056+5059"`` or a harmonised code) -- a crosswalk of one year or a harmonisation
    audit; every boundary code must map to exactly one target. Regions not in ``mapping`` keep
    their code. Returns a GeoDataFrame with ``region`` = target and the dissolved geometry.
    """
    pairs = mapping[["region", "target"]].drop_duplicates()
    multi = pairs[pairs["region"].duplicated(keep=False)]
    if not multi.empty:
        raise ValueError(
            f"boundary code {multi['region'].iloc[0]!r} maps to several targets "
            f"{sorted(multi.loc[multi['region'] == multi['region'].iloc[0], 'target'])}; a split "
            "region cannot be drawn: dissolve to exact-merged regions instead"
        )
    lookup = dict(zip(pairs["region"], pairs["target"], strict=True))
    work = gdf[["region", "geometry"]].copy()
    work["region"] = work["region"].map(lambda c: lookup.get(c, c)).astype("str")
    # simplified map files have small self-intersections; repair before the union
    work["geometry"] = work.geometry.make_valid()
    out = work.dissolve(by="region", as_index=False)
    out.attrs = dict(gdf.attrs)
    return out
