"""A vital sign's trend: the points of one series as a small Plotly figure with its normal band.

Pure: it takes the series a service already read (at most a few hundred points) and draws it;
nothing here touches the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

import plotly.graph_objects as go

from hms_app import words
from hms_app.cds.vitals import BMI, TREND_SPECS, VitalSpec, bmi_category
from hms_app.clock import to_local

LINE_COLOR = "#0d9488"  # the app's teal accent
# Measurements the patient entered at home: another colour and another shape (a diamond), so they
# are told apart in print and by readers who do not see the colours apart.
HOME_COLOR = "#ea580c"
HOME_LABEL = "Patient-reported (home)"
CLINIC_LABEL = "Recorded by staff"
BAND_COLOR = "rgba(16, 185, 129, 0.14)"
AXIS_COLOR = "#64748b"  # a slate grey that reads on the light and the dark theme
GRID_COLOR = "rgba(100, 116, 139, 0.18)"
# The time axis says the day where its ticks are a day or more apart, and the time as well where
# they are closer: readings that share a day (a ward's four-hourly obs) are told apart on the axis.
HALF_DAY_MS = 12 * 3600 * 1000
TICK_FORMATS = [
    {"dtickrange": [None, HALF_DAY_MS], "value": "%H:%M\n%b %d, %Y"},
    {"dtickrange": [HALF_DAY_MS + 1, None], "value": "%b %d\n%Y"},
]


class Point(Protocol):
    taken_at: datetime
    value: float
    # Optional on a point: True for a reading the patient entered at home (absent means staff).


def unit_label(code: str) -> str:
    return words.unit(code)


def spec_for(key: str) -> VitalSpec:
    """The spec of a vital sign, of BMI or of meter glucose; KeyError for anything else."""
    return TREND_SPECS[key]


def _value_range(values: Sequence[float], spec: VitalSpec) -> list[float]:
    """A y range holding every point and the whole normal band, with a little air around it."""
    candidates = list(values)
    for edge in (spec.normal_low, spec.normal_high):
        if edge is not None:
            candidates.append(edge)
    low, high = min(candidates), max(candidates)
    pad = max((high - low) * 0.12, 1.0 if spec.decimals == 0 else 0.3)
    return [low - pad, high + pad]


def vital_trend_figure(points: Sequence[Point], key: str) -> go.Figure:
    """The trend of one vital sign, times in the hospital's time zone, the normal band shaded."""
    spec = spec_for(key)
    unit = unit_label(spec.unit)
    times = [to_local(p.taken_at) for p in points]
    values = [float(p.value) for p in points]
    figure = go.Figure()
    title = f"{spec.display} ({unit})"
    if spec.normal_low is not None and spec.normal_high is not None:
        figure.add_hrect(
            y0=spec.normal_low, y1=spec.normal_high, fillcolor=BAND_COLOR, line_width=0, layer="below"
        )
        # Said in the title rather than on the band, where the points would cover it.
        title += f"<span style='font-size:12px'>  ·  shaded: normal {spec.normal_low:g}–{spec.normal_high:g}</span>"
    home = [bool(getattr(p, "patient_reported", False)) for p in points]
    if key == BMI.key:
        hover = [f"{v:.1f} {unit} · {bmi_category(v)}" for v in values]
    else:
        hover = [f"{v:.{spec.decimals}f} {unit}" for v in values]
    hover = [f"{h} · patient-reported" if at_home else h for h, at_home in zip(hover, home, strict=True)]
    any_home = any(home)
    # One trace through every point in time order, so the course reads as one line; a point the
    # patient entered is a larger orange diamond, and the legend names both kinds of point.
    marker: dict = {"size": 6, "color": LINE_COLOR}
    if any_home:
        marker = {
            "size": [10 if h else 6 for h in home],
            "color": [HOME_COLOR if h else LINE_COLOR for h in home],
            "symbol": ["diamond" if h else "circle" for h in home],
            # A thin white rim sets a diamond off the line it sits on.
            "line": {"width": [1 if h else 0 for h in home], "color": "#ffffff"},
        }
    figure.add_trace(
        go.Scatter(
            x=times,
            y=values,
            mode="lines+markers",
            name=spec.display,
            line={"color": LINE_COLOR, "width": 2},
            marker=marker,
            text=hover,
            hovertemplate="%{x|%Y-%m-%d %H:%M}<br>%{text}<extra></extra>",
            showlegend=False,
        )
    )
    if any_home:
        legend = [(HOME_LABEL, HOME_COLOR, "diamond", 10)]
        if not all(home):
            legend.insert(0, (CLINIC_LABEL, LINE_COLOR, "circle", 7))
        for label, colour, symbol, size in legend:
            figure.add_trace(  # a legend entry only: no point of its own
                go.Scatter(
                    x=[None],
                    y=[None],
                    mode="markers",
                    name=label,
                    marker={"size": size, "color": colour, "symbol": symbol},
                    hoverinfo="skip",
                )
            )
    layout: dict = {
        # No Plotly template: the styling is all here, and the figure stays small on the wire.
        "template": "none",
        "height": 340,
        "margin": {"l": 56, "r": 16, "t": 36, "b": 72 if any_home else 44},
        "showlegend": any_home,
        "legend": {"orientation": "h", "x": 0, "y": -0.18, "xanchor": "left", "yanchor": "top"},
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
        layout["yaxis"]["range"] = _value_range(values, spec)
    else:
        layout["annotations"] = [
            {
                "text": "No measurements yet",
                "showarrow": False,
                "xref": "paper",
                "yref": "paper",
                "x": 0.5,
                "y": 0.5,
                "font": {"size": 14, "color": AXIS_COLOR},
            }
        ]
        layout["xaxis"]["visible"] = False
        if spec.normal_low is not None and spec.normal_high is not None:
            layout["yaxis"]["range"] = _value_range([], spec)
    figure.update_layout(**layout)
    return figure
