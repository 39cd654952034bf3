"""No-show rates: per provider and per patient, as tables and one bar chart.

The counting is one SQL aggregate per grouping (``services.scheduling.no_show_rates``); this
module adds the overall rate (one more aggregate) and draws the providers' bars.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
import plotly.graph_objects as go
from sqlalchemy import case, func, select
from sqlmodel import Session

from hms_app.models.scheduling import Appointment
from hms_app.services import calendar_views, scheduling
from hms_app.services.permissions import Actor, authorize
from hms_app.settings import get_settings

DUE_STATUSES = ("arrived", "in_room", "completed", "no_show")  # visits that were due and counted
BAR_COLOR = "#0d9488"  # the app's teal accent
HIGH_COLOR = "#e5484d"
AXIS_COLOR = "#64748b"
GRID_COLOR = "rgba(100, 116, 139, 0.18)"


@dataclass(frozen=True)
class NoShowReport:
    departments: list[calendar_views.DepartmentOption]
    providers: list[scheduling.NoShowRate]
    patients: list[scheduling.NoShowRate]
    overall: str  # "8.4 % of 1,204 visits due"


def overall_rate(
    session: Session, *, actor: Actor, start_day: date, end_day: date, department_id: int | None = None
) -> tuple[int, int]:
    """(visits due, no-shows) over local days [start_day, end_day]: the denominator of every rate."""
    authorize(actor, "appointment.read")
    tz = get_settings().tz
    start, end = scheduling.day_bounds(start_day, tz)[0], scheduling.day_bounds(end_day, tz)[1]
    query = select(
        func.count(Appointment.id),
        func.coalesce(func.sum(case((Appointment.status == "no_show", 1), else_=0)), 0),
    ).where(Appointment.status.in_(DUE_STATUSES), Appointment.start_at >= start, Appointment.start_at < end)
    if department_id:
        query = query.where(Appointment.department_id == department_id)
    due, no_shows = session.execute(query).one()
    return int(due), int(no_shows)


def no_show_report(
    session: Session, *, actor: Actor, start_day: date, end_day: date, department_id: int | None = None
) -> NoShowReport:
    """Everything the no-show screen shows, in one session."""
    kwargs = {"start_day": start_day, "end_day": end_day, "department_id": department_id}
    providers = scheduling.no_show_rates(session, actor=actor, by="provider", limit=30, **kwargs)
    # A patient with one missed visit out of one is not a pattern: at least three visits due.
    patients = scheduling.no_show_rates(
        session, actor=actor, by="patient", min_appointments=3, limit=20, **kwargs
    )
    due, no_shows = overall_rate(session, actor=actor, **kwargs)
    overall = (
        f"{(no_shows / due * 100) if due else 0:.1f} % of {due:,} visits due" if due else "No visits due"
    )
    departments = calendar_views.list_departments(session, actor=actor)
    return NoShowReport(departments, providers, patients, overall)


def no_show_frame(rows: list[scheduling.NoShowRate]) -> pd.DataFrame:
    """One row per provider: name, visits due, no-shows, rate (0-1), lowest rate first (drawn bottom-up)."""
    frame = pd.DataFrame(
        [{"name": r.name, "due": r.appointments, "no_shows": r.no_shows, "rate": r.rate} for r in rows],
        columns=["name", "due", "no_shows", "rate"],
    )
    return frame.sort_values(["rate", "due"], ascending=[True, True]).reset_index(drop=True)


def no_show_figure(rows: list[scheduling.NoShowRate], high: float = 0.2) -> go.Figure:
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
