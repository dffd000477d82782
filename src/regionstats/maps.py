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


#: Coordinates drawn in ETRS89 / UTM zone 33N (SSB's and Kartverket's usual map projection).
MAP_CRS = "EPSG:25833"


#: Coordinates are rounded to this many metres (in :data:`MAP_CRS`). A national map of Norway
#: is about 1,500 km tall in some 700 pixels, about 2 km a pixel: 10 m is far below what the eye
#: can see (about 4 decimals of a degree), and the figure JSON is a third of its size at full
#: float precision.
MAP_PRECISION_M = 10.0


def _rounded(values: Sequence[float], precision: float) -> list[int | float]:
    """``values`` rounded to multiples of ``precision`` (integers when ``precision`` is)."""
    snapped = np.round(np.asarray(values, dtype="float64") / precision) * precision
    if float(precision).is_integer():
        return [int(v) for v in snapped]
    return [float(v) for v in snapped]


def _rings(
    geometry: object, precision: float | None = MAP_PRECISION_M
) -> tuple[list[float | None], list[float | None]]:
    """x and y of every exterior and interior ring, rings separated by ``None``.

    With ``precision`` (metres), coordinates are rounded to it and a point equal to the one
    before it after rounding is dropped (a closed ring stays closed).

    >>> import shapely.geometry as sg
    >>> xs, ys = _rings(sg.box(0, 0, 1004, 996), precision=10)
    >>> xs, ys
    ([1000, 1000, 0, 0, 1000, None], [0, 1000, 1000, 0, 0, None])
    """
    xs: list[float | None] = []
    ys: list[float | None] = []
    polygons = getattr(geometry, "geoms", [geometry])
    for poly in polygons:
        for ring in [poly.exterior, *poly.interiors]:
            x, y = ring.xy
            if precision is None:
                xs.extend([*x, None])
                ys.extend([*y, None])
                continue
            rx, ry = _rounded(x, precision), _rounded(y, precision)
            keep = [0, *(i for i in range(1, len(rx)) if (rx[i], ry[i]) != (rx[i - 1], ry[i - 1]))]
            if len(keep) < 4:  # collapsed below a visible triangle at this precision
                continue
            xs.extend([*(rx[i] for i in keep), None])
            ys.extend([*(ry[i] for i in keep), None])
    return xs, ys


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
    precision: float | None = MAP_PRECISION_M,
) -> go.Figure:
    """A map of ``frame`` (``region`` codes matching ``gdf["region"]``) coloured by the classes
    in ``color`` (a categorical column, e.g. from :func:`classify`); ``facet`` draws one panel per
    value (e.g. a period) with the same classes.

    Regions are drawn as filled polygons on plain axes in UTM 33N (:data:`MAP_CRS`), one trace per
    class, with a hover point per region. Unlike plotly's geo maps this needs no topojson from a
    CDN, so the figure draws in a report opened offline. Coordinates are rounded to ``precision``
    metres (:data:`MAP_PRECISION_M`; ``None`` keeps full precision). Every region's rings are
    the same lists in every panel (and in every map on the same boundaries), so the report
    (:func:`regionstats.report.render_report`) sends each ring once however many panels draw it.
    """
    shapes = gdf[["region", "geometry"]].to_crs(MAP_CRS) if gdf.crs else gdf[["region", "geometry"]]
    geometry = dict(zip(shapes["region"], shapes.geometry, strict=True))
    data = frame.copy()
    if isinstance(data[color].dtype, pd.CategoricalDtype):
        categories = [str(c) for c in data[color].cat.categories]
    else:
        categories = sorted(str(c) for c in data[color].dropna().unique())
    data[color] = data[color].astype(str)
    categories = [c for c in categories if c in set(data[color])]
    if color_map is None:
        real = [c for c in categories if c != "no data"]
        steps = [i / max(len(real) - 1, 1) for i in range(len(real))]
        palette = px.colors.sample_colorscale("Viridis", steps) if real else []
        color_map = {**dict(zip(real, palette, strict=True)), "no data": "#dddddd"}
    panels = list(dict.fromkeys(data[facet])) if facet else [None]
    rings = {region: _rings(shape, precision) for region, shape in geometry.items()}
    hover_cols = [h for h in hover if h in data.columns]
    fig = go.Figure()
    width = 1.0 / len(panels)
    for p, panel in enumerate(panels):
        axis = "" if p == 0 else str(p + 1)
        part = data if panel is None else data[data[facet] == panel]
        part = part[part["region"].isin(geometry)]
        for cat in categories:
            sub = part[part[color] == cat]
            if sub.empty:
                continue
            xs: list[float | None] = []
            ys: list[float | None] = []
            for region in sub["region"]:
                x, y = rings[region]
                xs.extend(x)
                ys.extend(y)
            fill = color_map.get(cat, "#999999")
            fig.add_trace(
                go.Scatter(
                    x=xs, y=ys, mode="lines", fill="toself", fillcolor=fill,
                    line={"color": "#777", "width": 0.3}, name=cat, legendgroup=cat,
                    showlegend=p == 0, hoverinfo="skip", xaxis=f"x{axis}", yaxis=f"y{axis}",
                )
            )  # fmt: skip
        points = [geometry[r].representative_point() for r in part["region"]]
        hx, hy = [pt.x for pt in points], [pt.y for pt in points]
        if precision is not None and points:
            hx, hy = _rounded(hx, precision), _rounded(hy, precision)
        text = [
            "<br>".join([f"<b>{row['region']}</b>", *(f"{h}: {row[h]}" for h in hover_cols)])
            for _, row in part.iterrows()
        ]
        fig.add_trace(
            go.Scatter(
                x=hx, y=hy, mode="markers",
                marker={"size": 4, "opacity": 0}, text=text, hoverinfo="text", showlegend=False,
                xaxis=f"x{axis}", yaxis=f"y{axis}",
            )
        )  # fmt: skip
        domain = [p * width + 0.01, (p + 1) * width - 0.01]
        fig.update_layout(
            {
                f"xaxis{axis}": {"domain": domain, "visible": False},
                f"yaxis{axis}": {"visible": False, "scaleanchor": f"x{axis}", "scaleratio": 1},
            }
        )
        if panel is not None:
            fig.add_annotation(text=str(panel), x=(p + 0.5) * width, y=1.02, xref="paper",
                               yref="paper", showarrow=False, font={"size": 13})  # fmt: skip
    fig.update_layout(
        title={"text": title, "x": 0.01}, height=height, template="plotly_white",
        margin={"l": 10, "r": 10, "t": 70, "b": 40}, legend={"title": None},
        hovermode="closest",
    )  # fmt: skip
    fig.add_annotation(text=source, xref="paper", yref="paper", x=0, y=-0.04, showarrow=False,
                       font={"size": 10, "color": "#666"}, xanchor="left")  # fmt: skip
    return fig
