"""Outreach about a care gap: a portal message or an invitation to book, at most once a week
per patient, kind and measure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    select,
)
from sqlmodel import Session

from hms_app.clock import format_local, utcnow
from hms_app.errors import Conflict, NotFound, ValidationError
from hms_app.models.patients import Patient
from hms_app.models.population import (
    OutreachMessage,
)
from hms_app.services.audit import record_audit
from hms_app.services.permissions import Actor, authorize
from hms_app.services.population.measures import MEASURES
from hms_app.services.rows import returns_frozen

OUTREACH_KINDS = {"portal_message": "Portal message", "booking_invitation": "Invitation to book"}
OUTREACH_REPEAT_DAYS = 7


def outreach_text(kind: str, measure: str) -> str:
    spec = MEASURES[measure]
    what = {
        "hba1c_poor": "an HbA1c blood test to check your diabetes control",
        "bp_control": "a blood pressure check",
        "bmi_screening": "a height and weight check",
    }[measure]
    if kind == "booking_invitation":
        return (
            f"Our records show you are due for {what}. Please book an appointment at a time that suits you."
        )
    return f"Our records show you are due for {what} ({spec.title.split(':')[0].strip()}). Reply here or call us to arrange it."


@returns_frozen
def send_outreach(
    session: Session, *, actor: Actor, patient_id: int, kind: str, measure: str, body: str = ""
) -> OutreachMessage:
    """Send a patient a portal message or an invitation to book about a care gap (audited)."""
    authorize(actor, "population.manage", patient_id=patient_id)
    if kind not in OUTREACH_KINDS:
        raise ValidationError("Choose a portal message or an invitation to book.", field="kind")
    if measure not in MEASURES:
        raise ValidationError("Choose a measure from the list.", field="measure")
    patient = session.get(Patient, patient_id)
    if patient is None or not patient.active or patient.deceased_at is not None or patient.merged_into_id:
        raise NotFound("That patient is not an active patient.")
    body = (body or "").strip() or outreach_text(kind, measure)
    if len(body) > 2000:
        raise ValidationError("Keep the message under 2,000 characters.", field="body")
    recent = session.execute(
        select(OutreachMessage.created_at).where(
            OutreachMessage.patient_id == patient_id,
            OutreachMessage.kind == kind,
            OutreachMessage.measure == measure,
            OutreachMessage.created_at >= utcnow() - timedelta(days=OUTREACH_REPEAT_DAYS),
        )
    ).first()
    if recent:
        raise Conflict(
            f"{OUTREACH_KINDS[kind]} about this was already sent on {format_local(recent[0], '%Y-%m-%d')}; "
            f"wait {OUTREACH_REPEAT_DAYS} days before sending it again."
        )
    message = OutreachMessage(
        patient_id=patient_id, kind=kind, measure=measure, body=body, created_by=actor.username
    )
    session.add(message)
    session.flush()
    record_audit(
        session,
        actor,
        "population.outreach",
        patient_id=patient_id,
        target_type="outreach_message",
        target_id=message.id,
        detail=f"{kind} about {measure}",
    )
    session.commit()
    return message


@dataclass(frozen=True)
class OutreachRow:
    id: int
    kind: str
    measure: str
    body: str
    created_at: datetime
    created_by: str
    status: str


def patient_outreach(
    session: Session, *, actor: Actor, patient_id: int, limit: int = 20
) -> list[OutreachRow]:
    """The outreach a patient was sent, newest first (portal users: only their own)."""
    if actor is not None and actor.patient_id is not None:
        authorize(actor, "portal.self", patient_id=patient_id)
    else:
        authorize(actor, "population.read", patient_id=patient_id)
    rows = session.execute(
        select(OutreachMessage)
        .where(OutreachMessage.patient_id == patient_id)
        .order_by(OutreachMessage.created_at.desc(), OutreachMessage.id.desc())
        .limit(limit)
    ).scalars()
    return [OutreachRow(m.id, m.kind, m.measure, m.body, m.created_at, m.created_by, m.status) for m in rows]
