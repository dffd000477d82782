"""Boundaries for maps matching the data vintage, dissolvable to harmonised or merged regions."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pandas as pd


def boundaries(
    level: Literal["municipality", "county"],
    vintage: int,
    *,
    path: Path | str | None = None,
    code_column: str | None = None,
) -> pd.DataFrame:
    """A GeoDataFrame of ``level`` boundaries for ``vintage``: ``region`` (string code), ``name``,
    ``geometry`` (EPSG:4326 in the snapshot).

    The snapshot has 2020 and 2024 (municipalities and counties); point ``path`` (with its
    ``code_column``, e.g. ``"kommunenummer"``) at a Kartverket file for other vintages. Reading
    is done by :func:`regionstats.sources.regions_files.read_boundaries`.
    """
    from regionstats.sources import regions_files

    return regions_files.read_boundaries(level, vintage, path=path, code_column=code_column)


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
