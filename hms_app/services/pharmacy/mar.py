"""The medication administration record (MAR) as a nurse reads it: a patient's inpatient orders
over one shift, each scheduled dose with its state (given, held, refused, not available, due now,
late, later), the PRN doses given, and the late doses of a ward's patients for the bed board.

Scheduled doses are not stored ahead: they follow from the order's frequency times (the hospital's
local clock, ``frequencies``), its start and its end, so a changed or stopped order never leaves
doses behind. What a nurse records is stored (``medication_administration``) against the dose's
scheduled time.

Timing follows the ISMP guidelines for timely administration of scheduled medications: a dose may
be given from ``WINDOW`` before its time and is late once ``WINDOW`` after it has passed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import and_, or_, select
from sqlmodel import Session

from hms_app.clock import to_local, utcnow
from hms_app.errors import ValidationError
from hms_app.models.pharmacy import (
    ADMINISTRATION_OUTCOMES,
    ROUTES,
    FormularyProduct,
    MedicationAdministration,
    MedicationOrder,
    MedicationVerification,
)
from hms_app.models.wards import Admission, Bed, BedAssignment, Ward
from hms_app.services.allergy_status import allergy_status
from hms_app.services.patients import full_name
from hms_app.services.permissions import Actor, authorize
from hms_app.services.pharmacy.common import READ, audit_rx, get_patient
from hms_app.services.pharmacy.frequencies import frequency
from hms_app.services.pharmacy.prescribing import sig_text
from hms_app.settings import get_settings

WINDOW = timedelta(minutes=60)
LATE_LOOKBACK = timedelta(hours=24)  # the board counts late doses of the last day
# Two 12-hour shifts, as most wards staff them: day 07:00-19:00, night 19:00-07:00.
SHIFT_HOURS = 12
DAY_SHIFT_START = 7
SHIFT_NAMES = {DAY_SHIFT_START: "Day", DAY_SHIFT_START + SHIFT_HOURS: "Night"}
# The orders a MAR shows: every inpatient order that ran during the shift.
SHOWN_STATUSES = ("active", "stopped", "completed", "changed")
ROUTE_CHOICES = list(ROUTES.items())


@dataclass(frozen=True)
class Shift:
    start: datetime  # UTC
    end: datetime
    label: str  # "Day 6 Dec 07:00-19:00"


def shift_of(moment: datetime) -> Shift:
    """The shift a moment falls in, by the hospital's clock."""
    tz = get_settings().tz
    local = to_local(moment)
    day = local.date()
    if local.hour < DAY_SHIFT_START:
        day -= timedelta(days=1)
        start_hour = DAY_SHIFT_START + SHIFT_HOURS
    elif local.hour < DAY_SHIFT_START + SHIFT_HOURS:
        start_hour = DAY_SHIFT_START
    else:
        start_hour = DAY_SHIFT_START + SHIFT_HOURS
    start = datetime.combine(day, time(start_hour), tzinfo=tz)
    end = start + timedelta(hours=SHIFT_HOURS)
    label = f"{SHIFT_NAMES[start_hour]} {start.strftime('%d %b')} {start.strftime('%H:%M')}-{end.strftime('%H:%M')}"
    return Shift(start.astimezone(utcnow().tzinfo), end.astimezone(utcnow().tzinfo), label)


def parse_shift(value) -> Shift:
    """A shift a screen asks for by its start ("2026-12-06T07:00", the hospital's clock), or now's."""
    text = str(value or "").strip()
    if not text:
        return shift_of(utcnow())
    try:
        local = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError("Choose a shift from the MAR's shift buttons.", field="shift") from None
    if local.tzinfo is None:
        local = local.replace(tzinfo=get_settings().tz)
    if abs(local - utcnow()) > timedelta(days=400):
        raise ValidationError("The MAR shows shifts within about a year of today.", field="shift")
    return shift_of(local)


def _end_of(order: MedicationOrder) -> datetime | None:
    ends = [moment for moment in (order.end_at, order.ended_at) if moment is not None]
    return min(ends) if ends else None


def scheduled_doses(order: MedicationOrder, since: datetime, until: datetime) -> list[datetime]:
    """The order's scheduled dose times (UTC) in [since, until): its frequency's local times on each
    day, from its start (a dose at the start's own minute counts) to its end or its stop. PRN orders
    have none; "once" is one dose at the start; weekly and every-72-hours count days from the start."""
    code = frequency(order.frequency)
    if code is None or code.prn_only or order.prn:
        return []
    start, end = order.start_at, _end_of(order)
    if code.code == "once":
        times = [start]
    else:
        tz = get_settings().tz
        first_day = to_local(max(since, start)).date() - timedelta(days=1)
        last_day = to_local(until).date()
        start_day = to_local(start).date()
        step = code.interval_hours // 24 if code.interval_hours and code.interval_hours > 24 else 1
        times = []
        day = first_day
        while day <= last_day:
            if (day - start_day).days % step == 0:
                times.extend(datetime.combine(day, moment, tzinfo=tz) for moment in code.times)
            day += timedelta(days=1)
    return sorted(
        moment
        for moment in times
        if since <= moment < until and moment >= start and (end is None or moment < end)
    )


DOSE_STATES = {
    **ADMINISTRATION_OUTCOMES,
    "due": "Due now",
    "late": "Late",
    "later": "Later",
    "missed": "Not recorded",  # late, on an order that has ended since
}


def dose_state(scheduled: datetime, recorded: str | None, now: datetime, order_active: bool) -> str:
    if recorded:
        return recorded
    if now > scheduled + WINDOW:
        return "late" if order_active else "missed"
    if now >= scheduled - WINDOW:
        return "due"
    return "later"


@dataclass(frozen=True)
class MarDose:
    order_id: int
    scheduled_at: datetime | None  # None for a PRN dose
    state: str  # DOSE_STATES
    recorded_by: str = ""
    recorded_at: datetime | None = None
    reason: str = ""
    late_minutes: int = 0


@dataclass(frozen=True)
class MarOrder:
    order_id: int
    reference: str
    product: str
    sig: str
    route: str
    route_label: str
    dose: str  # as ordered: "5"
    dose_unit: str
    status: str
    prn: bool
    verified: bool
    returned_reason: str
    instructions: str
    doses: tuple[MarDose, ...]
    prn_given_24h: int
    max_doses_per_day: int | None


@dataclass(frozen=True)
class MarPatient:
    id: int
    name: str
    mrn: str
    birth_date: date
    allergies: tuple[str, ...]
    allergy_state: str
    ward: str
    bed: str


@dataclass(frozen=True)
class Mar:
    patient: MarPatient
    shift: Shift
    orders: tuple[MarOrder, ...]
    now: datetime


def _placement(session: Session, patient_id: int) -> tuple[str, str]:
    row = session.execute(
        select(Ward.name, Bed.label)
        .select_from(Admission)
        .join(Ward, Ward.id == Admission.ward_id)
        .outerjoin(
            BedAssignment, and_(BedAssignment.admission_id == Admission.id, BedAssignment.to_at.is_(None))
        )
        .outerjoin(Bed, Bed.id == BedAssignment.bed_id)
        .where(Admission.patient_id == patient_id, Admission.status == "active")
    ).first()
    return (row[0], row[1] or "") if row else ("", "")


def _shown_orders(session: Session, patient_id: int, since: datetime, until: datetime) -> list:
    return session.execute(
        select(
            MedicationOrder,
            FormularyProduct.name,
            MedicationVerification.outcome,
            MedicationVerification.reason,
        )
        .join(FormularyProduct, FormularyProduct.id == MedicationOrder.product_id)
        .outerjoin(MedicationVerification, MedicationVerification.order_id == MedicationOrder.id)
        .where(
            MedicationOrder.patient_id == patient_id,
            MedicationOrder.setting == "inpatient",
            MedicationOrder.status.in_(SHOWN_STATUSES),
            MedicationOrder.start_at < until,
            or_(MedicationOrder.ended_at.is_(None), MedicationOrder.ended_at > since),
            or_(MedicationOrder.end_at.is_(None), MedicationOrder.end_at > since),
        )
        .order_by(MedicationOrder.prn, FormularyProduct.name, MedicationOrder.id)
    ).all()


def _recorded(session: Session, order_ids: list[int], since: datetime, until: datetime):
    if not order_ids:
        return []
    return session.execute(
        select(MedicationAdministration)
        .where(
            MedicationAdministration.order_id.in_(order_ids),
            or_(
                and_(
                    MedicationAdministration.scheduled_at >= since,
                    MedicationAdministration.scheduled_at < until,
                ),
                and_(
                    MedicationAdministration.scheduled_at.is_(None),
                    MedicationAdministration.recorded_at >= since,
                    MedicationAdministration.recorded_at < until,
                ),
            ),
        )
        .order_by(MedicationAdministration.recorded_at, MedicationAdministration.id)
    ).scalars()


def prn_given_since(session: Session, order_id: int, since: datetime) -> list[datetime]:
    """When the PRN doses of an order were given since a moment, oldest first."""
    return list(
        session.execute(
            select(MedicationAdministration.recorded_at)
            .where(
                MedicationAdministration.order_id == order_id,
                MedicationAdministration.scheduled_at.is_(None),
                MedicationAdministration.outcome == "given",
                MedicationAdministration.recorded_at >= since,
            )
            .order_by(MedicationAdministration.recorded_at)
        ).scalars()
    )


def mar(
    session: Session, *, actor: Actor, patient_id: int, shift: Shift | None = None, audit: bool = True
) -> Mar:
    """One patient's MAR over a shift (now's, by default). Opening it is audited; a live refresh of a
    MAR already open passes ``audit=False``."""
    authorize(actor, READ, patient_id=patient_id)
    patient = get_patient(session, patient_id)
    shift = shift or shift_of(utcnow())
    now = utcnow()
    rows = _shown_orders(session, patient_id, shift.start, shift.end)
    recorded = defaultdict(list)
    for entry in _recorded(session, [order.id for order, *_ in rows], shift.start, shift.end):
        recorded[entry.order_id].append(entry)
    orders = []
    for order, product, outcome, returned_reason in rows:
        by_time = {entry.scheduled_at: entry for entry in recorded[order.id] if entry.scheduled_at}
        active = order.status == "active"
        doses = []
        for moment in scheduled_doses(order, shift.start, shift.end):
            entry = by_time.get(moment)
            doses.append(
                MarDose(
                    order.id,
                    moment,
                    dose_state(moment, entry.outcome if entry else None, now, active),
                    entry.recorded_by if entry else "",
                    entry.recorded_at if entry else None,
                    (entry.reason or "") if entry else "",
                    entry.late_minutes if entry else 0,
                )
            )
        for entry in recorded[order.id]:
            if entry.scheduled_at is None:
                doses.append(
                    MarDose(
                        order.id,
                        None,
                        entry.outcome,
                        entry.recorded_by,
                        entry.recorded_at,
                        entry.reason or "",
                    )
                )
        given_24h = len(prn_given_since(session, order.id, now - timedelta(hours=24))) if order.prn else 0
        orders.append(
            MarOrder(
                order.id,
                order.reference,
                product,
                sig_text(order),
                order.route,
                ROUTES.get(order.route, order.route),
                f"{order.dose.normalize():f}",
                order.dose_unit,
                order.status,
                order.prn,
                outcome == "verified",
                (returned_reason or "") if outcome == "returned" else "",
                order.instructions or "",
                tuple(doses),
                given_24h,
                order.max_doses_per_day,
            )
        )
    status = allergy_status(session, patient_id, limit=6)
    ward, bed = _placement(session, patient_id)
    if audit:
        audit_rx(
            session,
            actor,
            "medication.mar",
            patient_id=patient_id,
            target_type="patient",
            target_id=patient_id,
            detail=f"{shift.label}: {len(orders)} order(s)",
        )
        session.commit()
    return Mar(
        MarPatient(
            patient.id,
            full_name(patient),
            patient.mrn,
            patient.birth_date,
            tuple(substance for substance, _severity in status.allergies),
            status.state,
            ward,
            bed,
        ),
        shift,
        tuple(orders),
        now,
    )


def late_doses(session: Session, patient_ids: list[int], now: datetime | None = None) -> dict[int, int]:
    """Scheduled doses of the patients' active inpatient orders that are past their window with
    nothing recorded, over the last day: what the bed board highlights. Two queries for a ward."""
    if not patient_ids:
        return {}
    now = now or utcnow()
    since, until = now - LATE_LOOKBACK, now - WINDOW
    orders = list(
        session.execute(
            select(MedicationOrder).where(
                MedicationOrder.patient_id.in_(patient_ids),
                MedicationOrder.setting == "inpatient",
                MedicationOrder.status == "active",
                MedicationOrder.prn.is_(False),
                MedicationOrder.start_at < until,
            )
        ).scalars()
    )
    if not orders:
        return {}
    charted = set(
        session.execute(
            select(MedicationAdministration.order_id, MedicationAdministration.scheduled_at).where(
                MedicationAdministration.order_id.in_([order.id for order in orders]),
                MedicationAdministration.scheduled_at >= since,
            )
        ).all()
    )
    counts: dict[int, int] = defaultdict(int)
    for order in orders:
        for moment in scheduled_doses(order, since, until):
            if (order.id, moment) not in charted:
                counts[order.patient_id] += 1
    return dict(counts)
