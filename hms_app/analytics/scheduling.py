"""No-show counts and the providers' bars.

One definition counts every no-show rate: a visit is *due* once it arrived, went in, was
completed or was missed (``DUE_STATUSES``); booked visits not yet resolved, offers and
cancellations are left out. The rates per provider or per patient and the overall rate are
made of the same two counts over visits starting in one span. Nothing here authorizes: the
service that calls these (``services.scheduling.stats``) does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

import pandas as pd
import plotly.graph_objects as go
from sqlalchemy import and_, case, func, select
from sqlmodel import Session

from hms_app.models.patients import Patient
from hms_app.models.scheduling import Appointment, AppointmentParticipant, Resource

DUE_STATUSES = ("arrived", "in_room", "completed", "no_show")  # visits that were due and counted
BAR_COLOR = "#0d9488"  # the app's teal accent
HIGH_COLOR = "#e5484d"
AXIS_COLOR = "#64748b"
GRID_COLOR = "rgba(100, 116, 139, 0.18)"


def _counts():
    """The two counts every rate is made of: visits due, and how many of them were missed."""
    return (
        func.count(Appointment.id),
        func.coalesce(func.sum(case((Appointment.status == "no_show", 1), else_=0)), 0),
    )


def _due_visits(start: datetime, end: datetime, department_id: int | None) -> list:
    where = [Appointment.status.in_(DUE_STATUSES), Appointment.start_at >= start, Appointment.start_at < end]
    if department_id:
        where.append(Appointment.department_id == department_id)
    return where


def no_show_counts(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    by: str,
    department_id: int | None = None,
    min_due: int = 1,
    limit: int = 50,
) -> list[tuple[int, str, int, int]]:
    """(id, name, visits due, no-shows) per provider or per patient (``by``) for the visits starting
    in [start, end), highest rate first; groups with fewer than ``min_due`` visits due left out."""
    due, missed = _counts()
    if by == "provider":
        query = (
            select(Resource.id, Resource.name, due, missed)
            .select_from(Appointment)
            .join(AppointmentParticipant, AppointmentParticipant.appointment_id == Appointment.id)
            .join(
                Resource, and_(Resource.id == AppointmentParticipant.resource_id, Resource.kind == "provider")
            )
            .group_by(Resource.id, Resource.name)
        )
    else:
        name = Patient.given_name + " " + Patient.family_name
        query = (
            select(Patient.id, name, due, missed)
            .select_from(Appointment)
            .join(Patient, Patient.id == Appointment.patient_id)
            .group_by(Patient.id, Patient.given_name, Patient.family_name)
        )
    query = (
        query.where(*_due_visits(start, end, department_id))
        .having(due >= min_due)
        .order_by((missed * 1.0 / due).desc(), due.desc())
        .limit(limit)
    )
    return [(i, n, int(t), int(s)) for i, n, t, s in session.execute(query)]


def overall_counts(
    session: Session, *, start: datetime, end: datetime, department_id: int | None = None
) -> tuple[int, int]:
    """(visits due, no-shows) of the visits starting in [start, end): each visit once, whoever saw it."""
    due, missed = session.execute(select(*_counts()).where(*_due_visits(start, end, department_id))).one()
    return int(due), int(missed)


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
