"""The figures on each role's home screen, all counted in SQL from the data that exists."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

import pandas as pd
import plotly.graph_objects as go
from sqlalchemy import case, func, or_, select
from sqlmodel import Session

from hms_app.clock import local_today, utcnow
from hms_app.models.inventory import (
    Equipment,
    MaintenancePlan,
    PurchaseOrder,
    StockBalance,
    StockLevel,
    StockLot,
)
from hms_app.models.laboratory import CriticalAlert, LabOrder
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
    if permissions & {"inventory.keep", "inventory.manage"}:
        figures += _stock_figures(session)
    if "equipment.maintain" in permissions:
        figures += _equipment_figures(session)
    if "lab.work" in permissions:
        figures += _lab_figures(session)
    if "analytics.read" in permissions:
        departments = session.execute(
            select(func.count()).select_from(Department).where(Department.active.is_(True))
        ).scalar_one()
        figures.append(Figure("departments", "Departments", int(departments), "active", "building-2"))
    return figures


def _lab_figures(session: Session) -> list[Figure]:
    """The laboratory's worries: STAT work not yet resulted, results waiting for a second person,
    critical results nobody has acknowledged."""
    stat_open, to_verify = session.execute(
        select(
            func.coalesce(
                func.sum(
                    case(
                        ((LabOrder.priority == "stat") & LabOrder.status.in_(("collected", "received")), 1),
                        else_=0,
                    )
                ),
                0,
            ),
            func.coalesce(func.sum(case((LabOrder.status == "resulted", 1), else_=0)), 0),
        ).where(LabOrder.status.in_(("collected", "received", "resulted")))
    ).one()
    critical_open = session.execute(
        select(func.count()).select_from(CriticalAlert).where(CriticalAlert.status == "open")
    ).scalar_one()
    return [
        Figure(
            "lab_stat_open", "STAT tests open", int(stat_open), "collected or in the lab, no result", "siren"
        ),
        Figure(
            "lab_to_verify",
            "Results to verify",
            int(to_verify),
            "entered, waiting for a second person",
            "list-checks",
        ),
        Figure(
            "lab_critical_open",
            "Critical results open",
            int(critical_open),
            "not yet acknowledged",
            "triangle-alert",
        ),
    ]


def _stock_figures(session: Session) -> list[Figure]:
    """The stores' worries: what has fallen to its reorder point, what expires soon, what is on order."""
    today = local_today()
    usable = or_(StockLot.expiry_date.is_(None), StockLot.expiry_date >= today)
    on_hand = (
        select(
            StockBalance.item_id,
            StockBalance.location_id,
            func.sum(StockBalance.quantity).label("quantity"),
        )
        .join(StockLot, StockLot.id == StockBalance.lot_id)
        .where(usable)
        .group_by(StockBalance.item_id, StockBalance.location_id)
        .subquery()
    )
    low = session.execute(
        select(func.count())
        .select_from(StockLevel)
        .outerjoin(
            on_hand,
            (on_hand.c.item_id == StockLevel.item_id) & (on_hand.c.location_id == StockLevel.location_id),
        )
        .where(StockLevel.reorder_point > 0, func.coalesce(on_hand.c.quantity, 0) <= StockLevel.reorder_point)
    ).scalar_one()
    expiring = session.execute(
        select(func.count(func.distinct(StockLot.id)))
        .join(StockBalance, StockBalance.lot_id == StockLot.id)
        .where(
            StockBalance.quantity > 0,
            StockLot.expiry_date >= today,
            StockLot.expiry_date <= today + timedelta(days=30),
        )
    ).scalar_one()
    on_order = session.execute(
        select(func.count())
        .select_from(PurchaseOrder)
        .where(PurchaseOrder.status.in_(("approved", "sent", "partly_received")))
    ).scalar_one()
    return [
        Figure("stock_low", "At or below reorder point", int(low), "item and store pairs", "package-x"),
        Figure("lots_expiring", "Lots expiring", int(expiring), "within 30 days, in stock", "calendar-x"),
        Figure(
            "orders_open", "Purchase orders open", int(on_order), "approved, sent or partly received", "truck"
        ),
    ]


def _equipment_figures(session: Session) -> list[Figure]:
    """Biomedical engineering's worries: maintenance overdue or due soon, equipment down."""
    today = local_today()
    overdue, due = session.execute(
        select(
            func.coalesce(func.sum(case((MaintenancePlan.next_due < today, 1), else_=0)), 0),
            func.coalesce(
                func.sum(
                    case(
                        (
                            (MaintenancePlan.next_due >= today)
                            & (MaintenancePlan.next_due <= today + timedelta(days=14)),
                            1,
                        ),
                        else_=0,
                    )
                ),
                0,
            ),
        )
        .join(Equipment, Equipment.id == MaintenancePlan.equipment_id)
        .where(MaintenancePlan.active.is_(True), Equipment.status != "retired")
    ).one()
    down = session.execute(
        select(func.count())
        .select_from(Equipment)
        .where(Equipment.status.in_(("out_of_service", "under_maintenance")))
    ).scalar_one()
    return [
        Figure(
            "maintenance_overdue",
            "Maintenance overdue",
            int(overdue),
            "plans past their due date",
            "alarm-clock",
        ),
        Figure("maintenance_due", "Maintenance due", int(due), "in the next 14 days", "calendar-clock"),
        Figure("equipment_down", "Equipment down", int(down), "out of service or in maintenance", "wrench"),
    ]


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
