"""Operations figures from the scheduling and ward data: SQL aggregate -> small DataFrame -> figure.

Definitions (shown on the page):

* **Appointment volume**: appointments starting on each day of the period (hospital days), by
  department; offered (not yet accepted) and cancelled appointments are not counted.
* **No-show rate**: counted as /schedule/stats counts it (``analytics.scheduling``, one definition):
  no-shows ÷ visits due among the visits starting in the period, a visit being due once it
  arrived, went in, was completed or was missed. Booked visits not yet resolved, offers and
  cancellations are left out. The overall rate counts each visit once; the bars count it for
  each provider resource that took part.
* **Waiting time**: minutes from arrival (check-in) to being called into the room, for visits that
  started in the period, by department, in bands; with the mean.
* **Bed occupancy** by ward, now: occupied beds ÷ beds in service (out-of-service beds excluded).

Permission is checked by the service that calls these functions (``services.operations``).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pandas as pd
import plotly.graph_objects as go
from sqlalchemy import case, extract, func, select
from sqlmodel import Session

from hms_app.analytics import scheduling as no_show_counting
from hms_app.clock import local_today
from hms_app.models.organization import Department
from hms_app.models.scheduling import Appointment
from hms_app.models.wards import Bed, Ward
from hms_app.plurals import counted
from hms_app.settings import get_settings

COUNTED = ("booked", "arrived", "in_room", "completed", "no_show")
MAX_PROVIDERS = 500  # bars drawn at the most; a hospital's providers fit well within it
WAIT_BANDS = (
    ("0-10 min", 0, 10),
    ("10-20 min", 10, 20),
    ("20-30 min", 20, 30),
    ("30-60 min", 30, 60),
    ("60+ min", 60, None),
)
BED_STATUSES = ("occupied", "free", "cleaning", "out_of_service")
BED_COLOURS = {"occupied": "#dc2626", "free": "#0d9488", "cleaning": "#d97706", "out_of_service": "#9ca3af"}
PALETTE = ["#0d9488", "#2563eb", "#d97706", "#db2777", "#7c3aed", "#475569", "#16a34a", "#dc2626"]
LAYOUT = dict(
    margin=dict(l=48, r=16, t=36, b=48),
    height=320,
    paper_bgcolor="rgba(0,0,0,0)",
    plot_bgcolor="rgba(0,0,0,0)",
    legend=dict(orientation="h", x=0, y=1.02, xanchor="left", yanchor="bottom"),
    font=dict(size=12),
)


def local_days(days: int, today: date | None = None) -> tuple[list[date], list[datetime]]:
    """The last ``days`` hospital days (today last) and their starts in UTC, plus tomorrow's start."""
    tz = get_settings().tz
    today = today or local_today()
    day_list = [today - timedelta(days=k) for k in range(days - 1, -1, -1)]
    starts = [datetime.combine(d, time.min, tzinfo=tz) for d in [*day_list, today + timedelta(days=1)]]
    return day_list, starts


def hospital_mondays(weeks: int, today: date | None = None) -> list[date]:
    """The Mondays of the last ``weeks`` hospital weeks, oldest first (this week's Monday last)."""
    today = today or local_today()
    monday = today - timedelta(days=today.weekday())
    return [monday - timedelta(weeks=k) for k in range(weeks - 1, -1, -1)]


def _day_label(column, day_list: list[date], starts: list[datetime]):
    """The hospital day of a UTC moment, in SQL: each row is labelled by the day starts it passed."""
    return case(
        *[
            (column >= start, day.isoformat())
            for day, start in zip(day_list[::-1], starts[-2::-1], strict=True)
        ]
    )


def _minutes_between(dialect: str, later, earlier):
    if dialect == "postgresql":
        return extract("epoch", later - earlier) / 60.0
    # julianday is a float of days: 20 minutes would come out as 19.99999..., so the seconds
    # are rounded to the millisecond first.
    return func.round((func.julianday(later) - func.julianday(earlier)) * 86400.0, 3) / 60.0


def _departments(session: Session) -> dict[int, str]:
    return dict(session.execute(select(Department.id, Department.name)).all())


def volume_frame(
    session: Session,
    *,
    days: int = 30,
    department_id: int | None = None,
    today: date | None = None,
) -> pd.DataFrame:
    """Appointments per hospital day and department. Columns: day, department, appointments."""
    day_list, starts = local_days(days, today)
    a = Appointment
    label = _day_label(a.start_at, day_list, starts).label("day")
    query = (
        select(label, a.department_id, func.count())
        .where(a.start_at >= starts[0], a.start_at < starts[-1], a.status.in_(COUNTED))
        .group_by(label, a.department_id)
    )
    if department_id:
        query = query.where(a.department_id == department_id)
    counts = {(d, dep): n for d, dep, n in session.execute(query).all()}
    names = _departments(session)
    departments = sorted({dep for _d, dep in counts}, key=lambda i: names.get(i, ""))
    rows = [
        {
            "day": d.isoformat(),
            "department": names.get(dep, "—"),
            "appointments": int(counts.get((d.isoformat(), dep), 0)),
        }
        for dep in departments
        for d in day_list
    ]
    return pd.DataFrame(rows, columns=["day", "department", "appointments"])


def volume_figure(frame: pd.DataFrame) -> go.Figure:
    figure = go.Figure()
    for index, name in enumerate(dict.fromkeys(frame["department"])):
        part = frame[frame["department"] == name]
        figure.add_trace(
            go.Bar(
                name=name,
                x=part["day"],
                y=part["appointments"],
                marker_color=PALETTE[index % len(PALETTE)],
                customdata=[counted(int(n), "appointment") for n in part["appointments"]],
                hovertemplate=f"{name}, %{{x}}: %{{customdata}}<extra></extra>",
            )
        )
    figure.update_layout(**LAYOUT, barmode="stack", yaxis_title="appointments")
    return figure


def no_show_frame(
    session: Session,
    *,
    days: int = 30,
    department_id: int | None = None,
    today: date | None = None,
) -> pd.DataFrame:
    """No-show rate per provider, by name. Columns: provider, appointments (visits due), no_shows, rate (%)."""
    _day_list, starts = local_days(days, today)
    counts = no_show_counting.no_show_counts(
        session,
        start=starts[0],
        end=starts[-1],
        by="provider",
        department_id=department_id,
        limit=MAX_PROVIDERS,
    )
    rows = [
        {"provider": name, "appointments": due, "no_shows": missed, "rate": round(100.0 * missed / due, 1)}
        for _id, name, due, missed in sorted(counts, key=lambda row: (row[1], row[0]))
    ]
    return pd.DataFrame(rows, columns=["provider", "appointments", "no_shows", "rate"])


def no_show_overall(
    session: Session,
    *,
    days: int = 30,
    department_id: int | None = None,
    today: date | None = None,
) -> tuple[int, int]:
    """(visits due, no-shows) of the period, each visit once: the headline rate's two counts."""
    _day_list, starts = local_days(days, today)
    return no_show_counting.overall_counts(
        session, start=starts[0], end=starts[-1], department_id=department_id
    )


def no_show_figure(frame: pd.DataFrame) -> go.Figure:
    figure = go.Figure(
        go.Bar(
            x=frame["provider"],
            y=frame["rate"],
            marker_color="#d97706",
            customdata=frame[["no_shows", "appointments"]].to_numpy(),
            hovertemplate="%{x}: %{y:.1f}% (%{customdata[0]} of %{customdata[1]})<extra></extra>",
            text=[f"{v:.1f}%" for v in frame["rate"]],
            textposition="outside",
        )
    )
    figure.update_layout(**LAYOUT, yaxis_title="% no-show")
    # A rate is never negative: with every provider at 0 % the axis would otherwise run from -1.
    top = float(frame["rate"].max()) if len(frame) else 0.0
    figure.update_yaxes(range=[0, max(10.0, top * 1.15)])
    return figure


def wait_frame(
    session: Session,
    *,
    days: int = 30,
    department_id: int | None = None,
    today: date | None = None,
) -> pd.DataFrame:
    """Visits per waiting-time band and department, with the department's mean wait.

    Columns: department, band, visits, mean_minutes (the department's, repeated on each band).
    """
    _day_list, starts = local_days(days, today)
    a = Appointment
    minutes = _minutes_between(session.get_bind().dialect.name, a.in_room_at, a.arrived_at)
    band = case(
        *[(minutes < high, label) for label, _low, high in WAIT_BANDS if high is not None],
        else_=WAIT_BANDS[-1][0],
    ).label("band")
    where = [
        a.start_at >= starts[0],
        a.start_at < starts[-1],
        a.arrived_at.is_not(None),
        a.in_room_at.is_not(None),
    ]
    if department_id:
        where.append(a.department_id == department_id)
    counts = {
        (dep, b): n
        for dep, b, n in session.execute(
            select(a.department_id, band, func.count()).where(*where).group_by(a.department_id, band)
        ).all()
    }
    means = dict(
        session.execute(
            select(a.department_id, func.avg(minutes)).where(*where).group_by(a.department_id)
        ).all()
    )
    names = _departments(session)
    rows = [
        {
            "department": names.get(dep, "—"),
            "band": label,
            "visits": int(counts.get((dep, label), 0)),
            "mean_minutes": round(float(means[dep]), 1),
        }
        for dep in sorted(means, key=lambda i: names.get(i, ""))
        for label, _low, _high in WAIT_BANDS
    ]
    return pd.DataFrame(rows, columns=["department", "band", "visits", "mean_minutes"])


def wait_figure(frame: pd.DataFrame) -> go.Figure:
    figure = go.Figure()
    for index, name in enumerate(dict.fromkeys(frame["department"])):
        part = frame[frame["department"] == name]
        mean = part["mean_minutes"].iloc[0]
        figure.add_trace(
            go.Bar(
                name=f"{name} (mean {mean:.0f} min)",
                x=part["band"],
                y=part["visits"],
                marker_color=PALETTE[index % len(PALETTE)],
                customdata=[counted(int(n), "visit") for n in part["visits"]],
                hovertemplate=f"{name}, %{{x}}: %{{customdata}}<extra></extra>",
            )
        )
    figure.update_layout(**LAYOUT, barmode="group", yaxis_title="visits", xaxis_title="arrival → in the room")
    return figure


def occupancy_frame(session: Session, *, department_id: int | None = None) -> pd.DataFrame:
    """Beds by status per active ward, now. Columns: ward, occupied, free, cleaning, out_of_service, occupancy (%)."""
    query = (
        select(Ward.id, Ward.name, Bed.status, func.count())
        .join(Bed, Bed.ward_id == Ward.id)
        .where(Ward.active.is_(True))
        .group_by(Ward.id, Ward.name, Bed.status)
    )
    if department_id:
        query = query.where(Ward.department_id == department_id)
    wards: dict[tuple[int, str], dict[str, int]] = {}
    for ward_id, name, status, count in session.execute(query).all():
        wards.setdefault((ward_id, name), {s: 0 for s in BED_STATUSES})[status] = int(count)
    rows = []
    for (_ward_id, name), counts in sorted(wards.items(), key=lambda item: item[0][1]):
        in_service = sum(counts[s] for s in BED_STATUSES if s != "out_of_service")
        rows.append(
            {
                "ward": name,
                **{s: counts.get(s, 0) for s in BED_STATUSES},
                "occupancy": round(100.0 * counts["occupied"] / in_service, 1) if in_service else 0.0,
            }
        )
    return pd.DataFrame(rows, columns=["ward", *BED_STATUSES, "occupancy"])


def occupancy_figure(frame: pd.DataFrame) -> go.Figure:
    figure = go.Figure()
    for status in BED_STATUSES:
        figure.add_trace(
            go.Bar(
                name=status.replace("_", " ").capitalize(),
                y=frame["ward"],
                x=frame[status],
                orientation="h",
                marker_color=BED_COLOURS[status],
                hovertemplate=f"%{{y}}: %{{x}} {status.replace('_', ' ')}<extra></extra>",
            )
        )
    figure.update_layout(**LAYOUT, barmode="stack", xaxis_title="beds")
    return figure


def summary(
    volume: pd.DataFrame, no_show_overall: tuple[int, int], waits: pd.DataFrame, beds: pd.DataFrame
) -> dict[str, str]:
    """The headline numbers, from the same frames the figures draw and the period's no-show counts."""
    due, missed = no_show_overall
    visits = int(waits["visits"].sum())
    weighted = (
        sum(
            part["visits"].sum() * part["mean_minutes"].iloc[0]
            for _name, part in waits.groupby("department", sort=False)
        )
        / visits
        if visits
        else None
    )
    occupied = int(beds["occupied"].sum()) if len(beds) else 0
    in_service = int(beds[["occupied", "free", "cleaning"]].to_numpy().sum()) if len(beds) else 0
    return {
        "appointments": f"{int(volume['appointments'].sum()):,}",
        "no_show": f"{100.0 * missed / due:.1f}%" if due else "–",
        "wait": f"{weighted:.0f} min" if weighted is not None else "–",
        "occupancy": f"{100.0 * occupied / in_service:.0f}%" if in_service else "–",
        "beds": f"{occupied} of {in_service} beds",
    }
