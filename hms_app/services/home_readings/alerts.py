"""The staff board of home readings beyond a patient's limits (``reading.review``): the open alerts
(or those cleared lately), paged in SQL, and clearing one with a note. Opening the board is
audited (it names patients); a live refresh of an open board is not, like the other boards'."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlmodel import Session

from hms_app.cds import home_readings as rules
from hms_app.clock import utcnow
from hms_app.errors import Conflict, NotFound, ValidationError
from hms_app.models.home_readings import HomeReading
from hms_app.models.patients import Patient
from hms_app.plurals import counted
from hms_app.services import live
from hms_app.services.audit import record_audit
from hms_app.services.emr.common import clean_text
from hms_app.services.home_readings.common import (
    LIVE_TOPIC,
    REVIEW,
    aware,
    page_bounds,
    reading_values,
    values_text,
)
from hms_app.services.permissions import Actor, authorize

SHOWS = ("open", "cleared")
CLEARED_DAYS = 7  # "cleared": those of the last week
NOTE_MAX = 1000


@dataclass(frozen=True)
class AlertLine:
    reading_id: int
    patient_id: int
    patient_name: str
    mrn: str
    kind_label: str
    values: str
    crossed: str  # which limit the reading went beyond
    measured_at: datetime
    entered_at: datetime
    status: str  # open | cleared
    cleared_by: str | None
    cleared_at: datetime | None
    cleared_note: str | None


@dataclass(frozen=True)
class AlertBoard:
    rows: list[AlertLine]
    total: int  # rows of the chosen view, for the pager
    open_count: int
    patients_open: int  # patients with at least one open alert


def alert_board(
    session: Session,
    *,
    actor: Actor,
    show: str = "open",
    page: int = 1,
    page_size: int = 20,
    audit: bool = True,
) -> AlertBoard:
    """Open alerts, the latest measured first (or those cleared in the last week, the latest
    cleared first), one page at a time."""
    authorize(actor, REVIEW)
    if show not in SHOWS:
        raise ValidationError("Choose open or cleared alerts.", field="show")
    r = HomeReading
    if show == "open":
        where = [r.alert_status == "open"]
        order = [r.measured_at.desc(), r.id.desc()]
    else:
        where = [r.alert_status == "cleared", r.cleared_at >= utcnow() - timedelta(days=CLEARED_DAYS)]
        order = [r.cleared_at.desc(), r.id.desc()]
    total = session.execute(select(func.count()).select_from(r).where(*where)).scalar_one()
    open_count, patients_open = session.execute(
        select(func.count(), func.count(func.distinct(r.patient_id))).where(r.alert_status == "open")
    ).one()
    offset, limit = page_bounds(page, page_size)
    rows = session.execute(
        select(r, Patient.given_name, Patient.family_name, Patient.mrn)
        .join(Patient, Patient.id == r.patient_id)
        .where(*where)
        .order_by(*order)
        .offset(offset)
        .limit(limit)
    ).all()
    values = reading_values(session, [row[0].id for row in rows])
    lines = []
    for reading, given, family, mrn in rows:
        kind = rules.KINDS.get(reading.kind)
        lines.append(
            AlertLine(
                reading_id=reading.id,
                patient_id=reading.patient_id,
                patient_name=f"{given} {family}",
                mrn=mrn,
                kind_label=kind.label if kind else reading.kind,
                values=values_text(reading.kind, values.get(reading.id, {})),
                crossed=reading.alert_text,
                measured_at=aware(reading.measured_at),
                entered_at=aware(reading.entered_at),
                status=reading.alert_status,
                cleared_by=reading.cleared_by,
                cleared_at=aware(reading.cleared_at),
                cleared_note=reading.cleared_note,
            )
        )
    if audit:
        record_audit(
            session,
            actor,
            "reading.board",
            target_type="home_reading",
            detail=f"{show} alerts page {max(int(page or 1), 1)}: {counted(len(lines), 'reading')} shown "
            f"({', '.join(sorted({line.mrn for line in lines})) or 'none'})",
        )
        session.commit()
    return AlertBoard(lines, int(total), int(open_count), int(patients_open))


def clear_alert(session: Session, *, actor: Actor, reading_id: int, note: str) -> None:
    """Acknowledge an alert and take it off the board, saying what was done ("called: rechecked
    at 128/82, no symptoms")."""
    authorize(actor, REVIEW)
    note = clean_text(note, "The note", "note", max_length=NOTE_MAX, required=True)
    if len(note) < 3:
        raise ValidationError("Say in a few words what was done about this reading.", field="note")
    reading = session.get(HomeReading, reading_id) if isinstance(reading_id, int) else None
    if reading is None or reading.alert_status == "":
        raise NotFound("That alert does not exist.")
    # A conditional update: of two nurses clearing the same alert, exactly one does.
    done = session.execute(
        update(HomeReading)
        .where(HomeReading.id == reading_id, HomeReading.alert_status == "open")
        .values(alert_status="cleared", cleared_at=utcnow(), cleared_by=actor.username, cleared_note=note)
    ).rowcount
    if not done:
        session.rollback()
        raise Conflict("Someone has already cleared this alert.")
    record_audit(
        session,
        actor,
        "reading.alert_clear",
        patient_id=reading.patient_id,
        target_type="home_reading",
        target_id=reading_id,
        detail=f"{reading.alert_text} — {note}"[:4000],
    )
    session.commit()
    live.publish(LIVE_TOPIC)
