"""A laboratory test's trend: a patient's released numeric results of one test as a small Plotly
figure, the reference range that applied on each day shaded behind them, abnormal points coloured
and labelled with their flag letters (colour alone is not enough to read a flag).

Pure: it takes the points a service already read (at most a thousand) and draws them; nothing here
touches the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

import plotly.graph_objects as go

from hms_app.analytics.vitals import AXIS_COLOR, BAND_COLOR, GRID_COLOR, LINE_COLOR, TICK_FORMATS
from hms_app.clock import to_local

ABNORMAL_COLOR = "#d97706"  # amber: L, H, A
CRITICAL_COLOR = "#dc2626"  # red: LL, HH
FLAG_COLORS = {"LL": CRITICAL_COLOR, "HH": CRITICAL_COLOR, "L": ABNORMAL_COLOR, "H": ABNORMAL_COLOR}
FLAG_WORDS = {"LL": "critically low", "L": "low", "H": "high", "HH": "critically high", "A": "abnormal"}
LIMIT_COLOR = "rgba(16, 185, 129, 0.8)"
HEIGHT = 320


class Point(Protocol):
    at: datetime
    value: float
    flag: str
    low: float | None
    high: float | None


def _value_range(points: Sequence[Point]) -> list[float]:
    """A y range holding every point and every edge of the band, with a little air around it."""
    candidates = [p.value for p in points]
    candidates += [edge for p in points for edge in (p.low, p.high) if edge is not None]
    low, high = min(candidates), max(candidates)
    pad = max((high - low) * 0.15, abs(high) * 0.05, 0.1)
    return [low - pad, high + pad]


def _band(figure: go.Figure, times: list, points: Sequence[Point]) -> str:
    """Shade the reference range as it applied at each point (a child's range changes as they grow);
    a range with one limit ("<= 199") is a dashed line at that limit. What the title says of it."""
    if not any(p.low is not None and p.high is not None for p in points):
        latest = points[-1] if points else None
        limit = None
        if latest is not None:
            limit = latest.high if latest.high is not None else latest.low
        if limit is None:
            return ""
        figure.add_hline(y=limit, line={"color": LIMIT_COLOR, "width": 1, "dash": "dash"}, layer="below")
        return f"dashed: {'upper' if latest.high is not None else 'lower'} reference limit {limit:g}"
    highs = [p.high if p.low is not None and p.high is not None else None for p in points]
    lows = [p.low if p.low is not None and p.high is not None else None for p in points]
    if len(points) == 1:  # one point: a band across the plot rather than a band of no width
        figure.add_hrect(y0=lows[0], y1=highs[0], fillcolor=BAND_COLOR, line_width=0, layer="below")
        return "shaded: reference range"
    common = {"x": times, "mode": "lines", "line": {"width": 0, "shape": "hv"}, "hoverinfo": "skip"}
    figure.add_trace(go.Scatter(y=highs, **common, showlegend=False))
    figure.add_trace(go.Scatter(y=lows, **common, fill="tonexty", fillcolor=BAND_COLOR, showlegend=False))
    return "shaded: reference range"


def lab_trend_figure(points: Sequence[Point], *, name: str, unit: str) -> go.Figure:
    """The trend of one test, oldest first, times in the hospital's time zone."""
    times = [to_local(p.at) for p in points]
    values = [float(p.value) for p in points]
    unit_text = f" {unit}" if unit else ""
    figure = go.Figure()
    title = name + (f" ({unit})" if unit else "")
    band = _band(figure, times, points)
    if band:
        title += f"<span style='font-size:12px'>  ·  {band}</span>"
    colors = [FLAG_COLORS.get(p.flag, ABNORMAL_COLOR if p.flag == "A" else LINE_COLOR) for p in points]
    labels = [p.flag if p.flag and p.flag != "N" else "" for p in points]
    hover = [
        f"{p.value:g}{unit_text}" + (f" · {p.flag} ({FLAG_WORDS[p.flag]})" if p.flag in FLAG_WORDS else "")
        for p in points
    ]
    figure.add_trace(
        go.Scatter(
            x=times,
            y=values,
            mode="lines+markers+text",
            name=name,
            line={"color": LINE_COLOR, "width": 2},
            marker={"size": 8, "color": colors, "line": {"width": 1, "color": "white"}},
            text=labels,
            textposition="top center",
            textfont={"color": colors, "size": 12},
            customdata=hover,
            hovertemplate="%{x|%Y-%m-%d %H:%M}<br>%{customdata}<extra></extra>",
        )
    )
    layout: dict = {
        "template": "none",
        "height": HEIGHT,
        "margin": {"l": 56, "r": 16, "t": 36, "b": 44},
        "showlegend": False,
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"color": AXIS_COLOR, "size": 12},
        "title": {"text": title, "font": {"size": 14}, "x": 0.01, "y": 0.97},
        "xaxis": {
            "showgrid": True,
            "gridcolor": GRID_COLOR,
            "linecolor": GRID_COLOR,
            "tickformatstops": TICK_FORMATS,
            "nticks": 8,
        },
        "yaxis": {
            "showgrid": True,
            "gridcolor": GRID_COLOR,
            "linecolor": GRID_COLOR,
            "title": {"text": unit},
            "zeroline": False,
        },
        "hovermode": "closest",
    }
    if values:
        layout["yaxis"]["range"] = _value_range(points)
        if len(set(times)) == 1:  # one moment: a day either side, not a second's worth of axis
            layout["xaxis"]["range"] = [times[0] - timedelta(days=1), times[0] + timedelta(days=1)]
    else:
        layout["annotations"] = [
            {
                "text": "No numeric results of this test yet",
                "showarrow": False,
                "xref": "paper",
                "yref": "paper",
                "x": 0.5,
                "y": 0.5,
                "font": {"size": 14, "color": AXIS_COLOR},
            }
        ]
        layout["xaxis"]["visible"] = False
        layout["yaxis"]["visible"] = False
    figure.update_layout(**layout)
    return figure
