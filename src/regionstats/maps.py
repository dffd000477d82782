"""Maps: boundaries + tidy data in, plotly figure out (pure; never ``show()``).

Colours are **classes with breaks pooled across all years shown**, so a colour means the same
number in every year of a map and across maps of the same indicator (a map per year with its own
breaks would make every year look alike). The base map is switched off: the figures need no tiles
or downloads and draw offline.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from regionstats.figures import SOURCE_NOTE

MAP_SOURCE = SOURCE_NOTE + "; boundaries: Kartverket, CC BY 4.0"


def pooled_breaks(
    values: pd.Series | Sequence[float], k: int = 5, method: str = "quantile"
) -> np.ndarray:
    """Class breaks (``k + 1`` edges) computed from all values pooled, NaN ignored.

    ``method="quantile"``: equal-count classes; ``"equal"``: equal-width classes.

    >>> pooled_breaks([1, 2, 3, 4, 5], k=2, method="equal").tolist()
    [1.0, 3.0, 5.0]
    """
    data = np.asarray(pd.Series(values, dtype="float64").dropna())
    if data.size == 0:
        raise ValueError("no values to compute class breaks from")
    if method == "quantile":
        edges = np.quantile(data, np.linspace(0, 1, k + 1))
    elif method == "equal":
        edges = np.linspace(data.min(), data.max(), k + 1)
    else:
        raise ValueError(f"method must be 'quantile' or 'equal', got {method!r}")
    return np.unique(edges)


def classify(
    frame: pd.DataFrame, breaks: np.ndarray, *, column: str = "value", fmt: str = "{:,.1f}"
) -> pd.DataFrame:
    """Add ``value_class``: an ordered categorical "low – high" from ``breaks``; missing values
    (with their status) get the class "no data"."""
    labels = [
        f"{fmt.format(lo)} – {fmt.format(hi)}"
        for lo, hi in zip(breaks[:-1], breaks[1:], strict=True)
    ]
    out = frame.copy()
    binned = pd.cut(out[column], bins=breaks, labels=labels, include_lowest=True)
    out["value_class"] = binned.cat.add_categories(["no data"]).fillna("no data")
    return out


def simplify(gdf: pd.DataFrame, tolerance: float = 0.005) -> pd.DataFrame:
    """Boundaries with simplified geometry (degrees in EPSG:4326), for lighter reports."""
    out = gdf.copy()
    out["geometry"] = out.geometry.simplify(tolerance, preserve_topology=True)
    return out


def choropleth(
    gdf: pd.DataFrame,
    frame: pd.DataFrame,
    *,
    color: str = "value_class",
    title: str = "",
    hover: Sequence[str] = ("region_label", "value", "status"),
    facet: str | None = None,
    source: str = MAP_SOURCE,
    color_map: dict[str, str] | None = None,
    height: int = 700,
) -> go.Figure:
    """A map of ``frame`` (``region`` codes matching ``gdf["region"]``) coloured by ``color``.

    Discrete colours for categorical ``color`` columns (classes, centrality); ``facet`` draws one
    panel per value (e.g. ``"year"``) sharing the same classes.
    """
    geojson = gdf[["region", "geometry"]].__geo_interface__
    data = frame.copy()
    order = None
    if isinstance(data[color].dtype, pd.CategoricalDtype):
        order = {color: [str(c) for c in data[color].cat.categories]}
        data[color] = data[color].astype(str)
    if color_map is None and order is not None:
        n = len(order[color])
        palette = px.colors.sample_colorscale("Viridis", [i / max(n - 2, 1) for i in range(n - 1)])
        color_map = dict(zip(order[color], [*palette, "#dddddd"], strict=False))
    fig = px.choropleth(
        data,
        geojson=geojson,
        locations="region",
        featureidkey="properties.region",
        color=color,
        facet_col=facet,
        category_orders=order,
        color_discrete_map=color_map,
        hover_data=[h for h in hover if h in data.columns],
    )
    fig.update_geos(fitbounds="locations", visible=False)
    fig.update_traces(marker_line_width=0.2, marker_line_color="#888")
    fig.update_layout(
        title={"text": title, "x": 0.01},
        height=height,
        margin={"l": 10, "r": 10, "t": 60, "b": 40},
        legend={"title": None},
    )
    fig.add_annotation(
        text=source,
        xref="paper",
        yref="paper",
        x=0,
        y=-0.04,
        showarrow=False,
        font={"size": 10, "color": "#666"},
        xanchor="left",
    )
    return fig
