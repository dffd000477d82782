"""Figures: tidy data in, plotly figure out (pure; never ``show()``).

Every figure carries its source line (*Kilde: Statistisk sentralbyrå*) so that a chart copied out
of a report still says where its numbers come from.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

SOURCE_NOTE = "Source: Statistics Norway (SSB), CC BY 4.0"


def _finish(fig: go.Figure, title: str, source: str, y_title: str | None) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.01},
        template="plotly_white",
        margin={"l": 60, "r": 20, "t": 60, "b": 80},
        legend={"title": None},
    )
    if y_title is not None:
        fig.update_yaxes(title_text=y_title)
    fig.add_annotation(
        text=source,
        xref="paper",
        yref="paper",
        x=0,
        y=-0.18,
        showarrow=False,
        font={"size": 10, "color": "#666"},
        xanchor="left",
    )
    return fig


def line_chart(
    frame: pd.DataFrame,
    *,
    color: str = "region_label",
    x: str = "year",
    y: str = "value",
    title: str = "",
    y_title: str | None = None,
    source: str = SOURCE_NOTE,
    hover: Sequence[str] = (),
) -> go.Figure:
    """One line per ``color`` group over ``x``; missing values (with their status) leave gaps."""
    data = frame.sort_values([color, x])
    hover_cols = [c for c in ("region", "status", *hover) if c in data.columns]
    fig = px.line(data, x=x, y=y, color=color, markers=True, hover_data=hover_cols)
    return _finish(fig, title, source, y_title)


def bar_chart(
    frame: pd.DataFrame,
    *,
    x: str = "value",
    y: str = "region_label",
    title: str = "",
    x_title: str | None = None,
    source: str = SOURCE_NOTE,
    color: str | None = None,
    error_x: str | None = None,
    reference: float | None = None,
    reference_label: str = "",
    barmode: str = "group",
) -> go.Figure:
    """Horizontal bars sorted by value, optionally with error bars and a reference line.

    With ``color``, bars of the same ``y`` stand side by side (``barmode="group"``): stacking
    (``"relative"``) is only right when the coloured parts add up to a whole.
    """
    data = frame.sort_values(x)
    fig = px.bar(data, x=x, y=y, orientation="h", color=color, error_x=error_x, barmode=barmode)
    if reference is not None:
        fig.add_vline(
            x=reference,
            line_dash="dash",
            line_color="#444",
            annotation_text=reference_label,
            annotation_position="top",
        )
    fig = _finish(fig, title, source, None)
    if x_title is not None:
        fig.update_xaxes(title_text=x_title)
    fig.update_yaxes(title_text=None)
    fig.update_layout(height=max(360, 26 * len(data) + 140))
    return fig


def scatter_chart(
    frame: pd.DataFrame,
    *,
    x: str,
    y: str,
    text: str = "region_label",
    title: str = "",
    x_title: str | None = None,
    y_title: str | None = None,
    trendline: bool = True,
    source: str = SOURCE_NOTE,
) -> go.Figure:
    """Points labelled by ``text`` with an OLS line (statsmodels) when ``trendline``."""
    fig = px.scatter(frame, x=x, y=y, text=text, trendline="ols" if trendline else None)
    fig.update_traces(textposition="top center", selector={"mode": "markers+text"})
    fig = _finish(fig, title, source, y_title)
    if x_title is not None:
        fig.update_xaxes(title_text=x_title)
    return fig
