"""A patient's home readings: the paged list (the patient's own in the portal, any patient's for
staff with ``reading.review``) and one measure's course for a chart. Every read is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlmodel import Session

from hms_app.cds import home_readings as rules
from hms_app.cds import vitals as vital_rules
from hms_app.clock import utcnow
from hms_app.errors import ValidationError
from hms_app.models.emr import Observation
from hms_app.models.home_readings import HomeReading
from hms_app.services.audit import record_audit
from hms_app.services.emr.common import require_patient
from hms_app.services.home_readings.common import (
    ReadingLine,
    authorize_reader,
    aware,
    page_bounds,
    reading_line,
    reading_values,
)
from hms_app.services.patients.demographics import full_name
from hms_app.services.permissions import Actor

SERIES_DAYS = (7, 30, 90, 365)


@dataclass(frozen=True)
class ReadingsPage:
    patient_id: int
    patient_name: str
    mrn: str
    rows: list[ReadingLine]
    total: int
    open_alerts: int


def readings_page(
    session: Session,
    *,
    actor: Actor,
    patient_id: int,
    page: int = 1,
    page_size: int = 10,
    kind: str | None = None,
    audit: bool = True,
) -> ReadingsPage:
    """One page of a patient's home readings, the latest measured first."""
    authorize_reader(actor, patient_id)
    patient = require_patient(session, patient_id)
    if kind and kind not in rules.KINDS:
        raise ValidationError("Choose a kind of measurement from the list.", field="kind")
    where = [HomeReading.patient_id == patient_id]
    if kind:
        where.append(HomeReading.kind == kind)
    total = session.execute(select(func.count()).select_from(HomeReading).where(*where)).scalar_one()
    open_alerts = session.execute(
        select(func.count())
        .select_from(HomeReading)
        .where(HomeReading.patient_id == patient_id, HomeReading.alert_status == "open")
    ).scalar_one()
    offset, limit = page_bounds(page, page_size)
    rows = list(
        session.execute(
            select(HomeReading)
            .where(*where)
            .order_by(HomeReading.measured_at.desc(), HomeReading.id.desc())
            .offset(offset)
            .limit(limit)
        ).scalars()
    )
    values = reading_values(session, [r.id for r in rows])
    lines = [reading_line(r, values.get(r.id, {})) for r in rows]
    if audit:
        record_audit(
            session,
            actor,
            "reading.read",
            patient_id=patient_id,
            target_type="home_reading",
            detail=f"home readings page {max(int(page or 1), 1)}" + (f" ({kind})" if kind else ""),
        )
        session.commit()
    return ReadingsPage(patient_id, full_name(patient), patient.mrn, lines, int(total), int(open_alerts))


@dataclass(frozen=True)
class HomePoint:
    taken_at: datetime
    value: float


def home_series(
    session: Session, *, actor: Actor, patient_id: int, measure: str, days: int = 30
) -> list[HomePoint]:
    """The patient's own home values of one measure over the last ``days``, oldest first (at most
    500): what the portal's chart draws."""
    authorize_reader(actor, patient_id)
    if measure not in rules.MEASURES:
        raise ValidationError("Choose a measurement from the list.", field="measure")
    if days not in SERIES_DAYS:
        raise ValidationError("Choose a period from the list.", field="days")
    spec = rules.MEASURES[measure].spec
    since = utcnow() - timedelta(days=days)
    rows = session.execute(
        select(Observation.effective_at, Observation.value)
        .where(
            Observation.patient_id == patient_id,
            Observation.code == spec.loinc,
            Observation.effective_at >= since,
            Observation.recorded_by.startswith(vital_rules.PATIENT_REPORTED_PREFIX, autoescape=True),
        )
        .order_by(Observation.effective_at.desc())
        .limit(500)
    ).all()
    record_audit(
        session,
        actor,
        "reading.read",
        patient_id=patient_id,
        target_type="observation",
        detail=f"home trend {measure}, {days} days",
    )
    session.commit()
    return [HomePoint(aware(t), v) for t, v in reversed(rows)]
