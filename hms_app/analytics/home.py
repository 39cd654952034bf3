"""The figures on each role's home screen, all counted in SQL from the data that exists."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

import pandas as pd
import plotly.graph_objects as go
from sqlalchemy import case, func, select
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.models.organization import Department
from hms_app.models.patients import Patient
from hms_app.models.security import AppUser, AuditEvent, Role, UserRole
from hms_app.plurals import counted
from hms_app.settings import get_settings


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    value: int
    hint: str
    icon: str


def _local_midnight_utc(days_ago: int = 0) -> datetime:
    tz = get_settings().tz
    today = utcnow().astimezone(tz).date() - timedelta(days=days_ago)
    return datetime.combine(today, time.min, tzinfo=tz)


def _month_start_utc() -> datetime:
    tz = get_settings().tz
    today = utcnow().astimezone(tz).date()
    return datetime.combine(today.replace(day=1), time.min, tzinfo=tz)


def home_figures(
    session: Session, *, permissions: frozenset[str], portal_roles: frozenset[str]
) -> list[Figure]:
    """The home screen's cards that ``permissions`` allow (the service decides whose they are)."""
    figures: list[Figure] = []
    today = _local_midnight_utc()
    if permissions & {"patient.read", "analytics.read"}:
        active, today_count, month_count = session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(case((Patient.created_at >= today, 1), else_=0)), 0),
                func.coalesce(func.sum(case((Patient.created_at >= _month_start_utc(), 1), else_=0)), 0),
            ).where(Patient.active.is_(True))
        ).one()
        figures += [
            Figure("patients", "Registered patients", int(active), "active records", "users"),
            Figure(
                "patients_month",
                "New this month",
                int(month_count),
                "registrations since the 1st",
                "user-plus",
            ),
            Figure("patients_today", "Registered today", int(today_count), "since midnight", "calendar-plus"),
        ]
    if "user.manage" in permissions:
        now = utcnow()
        staff, locked = session.execute(
            select(
                func.count(func.distinct(AppUser.id)),
                func.count(func.distinct(case((AppUser.locked_until > now, AppUser.id)))),
            )
            .select_from(AppUser)
            .join(UserRole, UserRole.user_id == AppUser.id)
            .join(Role, Role.id == UserRole.role_id)
            .where(AppUser.is_active.is_(True), Role.name.not_in(portal_roles))
        ).one()
        failed = session.execute(
            select(func.count())
            .select_from(AuditEvent)
            .where(
                AuditEvent.action == "auth.sign_in",
                AuditEvent.outcome == "failure",
                AuditEvent.occurred_at >= now - timedelta(hours=24),
            )
        ).scalar_one()
        figures += [
            Figure("staff_accounts", "Active staff accounts", int(staff), "can sign in", "id-card"),
            Figure("locked_accounts", "Locked accounts", int(locked), "after failed sign-ins", "lock"),
            Figure("failed_sign_ins", "Failed sign-ins", int(failed), "last 24 hours", "shield-alert"),
        ]
    if "audit.read" in permissions:
        events, reads = session.execute(
            select(
                func.count(),
                func.coalesce(func.sum(case((AuditEvent.action == "patient.read", 1), else_=0)), 0),
            ).where(AuditEvent.occurred_at >= today)
        ).one()
        figures += [
            Figure("audit_today", "Audit events today", int(events), "reads and writes", "scroll-text"),
            Figure("chart_reads_today", "Patient record reads today", int(reads), "each one audited", "eye"),
        ]
    if "analytics.read" in permissions:
        departments = session.execute(
            select(func.count()).select_from(Department).where(Department.active.is_(True))
        ).scalar_one()
        figures.append(Figure("departments", "Departments", int(departments), "active", "building-2"))
    return figures


def registrations_by_month(session: Session, *, months: int = 12) -> pd.DataFrame:
    """Patients registered per month over the last ``months`` months (columns: month, patients)."""
    tz = get_settings().tz
    firsts = [utcnow().astimezone(tz).date().replace(day=1)]
    for _ in range(months - 1):
        firsts.insert(0, (firsts[0] - timedelta(days=1)).replace(day=1))
    starts = [datetime.combine(first, time.min, tzinfo=tz) for first in firsts]
    labels = [first.strftime("%Y-%m") for first in firsts]
    # Months are the hospital's, as on the "new this month" card, not UTC's. SQL has no
    # portable time-zone conversion, so each row is labelled by the local month starts it
    # has passed (newest first), and the database still does the counting.
    month = case(
        *[
            (Patient.created_at >= start, label)
            for start, label in zip(starts[::-1], labels[::-1], strict=True)
        ]
    ).label("month")
    counts = dict(
        session.execute(
            select(month, func.count().label("patients"))
            .where(Patient.created_at >= starts[0])
            .group_by(month)
        ).all()
    )
    return pd.DataFrame({"month": labels, "patients": [int(counts.get(label, 0)) for label in labels]})


def registrations_figure(frame: pd.DataFrame) -> go.Figure:
    figure = go.Figure(
        go.Bar(
            x=frame["month"],
            y=frame["patients"],
            marker_color="#0d9488",
            customdata=[counted(int(n), "patient") for n in frame["patients"]],
            hovertemplate="%{x}: %{customdata}<extra></extra>",
        )
    )
    figure.update_layout(
        margin={"l": 40, "r": 10, "t": 10, "b": 40},
        height=280,
        yaxis_title="patients",
        xaxis={"type": "category"},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
    )
    return figure
