"""No-show rates drawn: the providers' bars.

The counting is one SQL aggregate per grouping in ``services.scheduling.stats``, which also
reads the overall rate; this module only turns the rows it returns into a figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import pandas as pd
import plotly.graph_objects as go

BAR_COLOR = "#0d9488"  # the app's teal accent
HIGH_COLOR = "#e5484d"
AXIS_COLOR = "#64748b"
GRID_COLOR = "rgba(100, 116, 139, 0.18)"


class RateRow(Protocol):
    """A no-show rate of one provider (``services.scheduling.stats.NoShowRate``)."""

    name: str
    appointments: int  # visits due
    no_shows: int

    @property
    def rate(self) -> float: ...


def no_show_frame(rows: Sequence[RateRow]) -> pd.DataFrame:
    """One row per provider: name, visits due, no-shows, rate (0-1), lowest rate first (drawn bottom-up)."""
    frame = pd.DataFrame(
        [{"name": r.name, "due": r.appointments, "no_shows": r.no_shows, "rate": r.rate} for r in rows],
        columns=["name", "due", "no_shows", "rate"],
    )
    return frame.sort_values(["rate", "due"], ascending=[True, True]).reset_index(drop=True)


def no_show_figure(rows: Sequence[RateRow], high: float = 0.2) -> go.Figure:
    """Horizontal bars of each provider's no-show rate; rates at or above ``high`` in red."""
    frame = no_show_frame(rows)
    figure = go.Figure(
        go.Bar(
            x=(frame["rate"] * 100).round(1),
            y=frame["name"],
            orientation="h",
            marker_color=[HIGH_COLOR if r >= high else BAR_COLOR for r in frame["rate"]],
            customdata=frame[["no_shows", "due"]].to_numpy(),
            hovertemplate="%{y}: %{x:.1f} %% (%{customdata[0]} of %{customdata[1]})<extra></extra>",
        )
    )
    figure.update_layout(
        template="none",
        height=max(180, 36 * len(frame) + 60),
        margin={"l": 150, "r": 20, "t": 10, "b": 40},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        font={"color": AXIS_COLOR, "size": 12},
        xaxis={
            "title": "No-show rate",
            "gridcolor": GRID_COLOR,
            "rangemode": "tozero",
            "ticksuffix": " %",
        },
        yaxis={"automargin": True},
        showlegend=False,
    )
    return figure
