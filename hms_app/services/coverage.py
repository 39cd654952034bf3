"""Payers and patients' insurance coverage (FHIR Organization and Coverage).

Billing will read the shares (co-pay, co-insurance) from here; registration records them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.errors import Conflict, NotFound, ValidationError
from hms_app.models.patients import Coverage, Patient, Payer
from hms_app.money import parse_money
from hms_app.services.audit import record_audit
from hms_app.services.patients import parse_date
from hms_app.services.permissions import Actor, authorize
from hms_app.services.rows import get_row, returns_frozen

MEMBER_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-/ ]{2,39}$")


@dataclass(frozen=True)
class PayerOption:
    id: int
    name: str


@dataclass(frozen=True)
class CoverageRow:
    id: int
    payer: str
    plan_name: str
    member_id: str
    valid_from: date
    valid_to: date | None
    priority: int
    copay_cents: int
    coinsurance_percent: int
    active: bool
    current: bool


def list_payers(session: Session, *, actor: Actor) -> list[PayerOption]:
    """Active payers for a coverage form."""
    authorize(actor, "patient.read")
    rows = session.execute(
        select(Payer.id, Payer.name).where(Payer.active.is_(True)).order_by(Payer.name)
    ).all()
    return [PayerOption(i, n) for i, n in rows]


def list_coverage(session: Session, *, actor: Actor, patient_id: int) -> list[CoverageRow]:
    """A patient's coverages, primary first; ``current`` when valid today."""
    authorize(actor, "patient.read", patient_id=patient_id)
    today = utcnow().date()
    rows = session.execute(
        select(Coverage, Payer.name)
        .join(Payer, Payer.id == Coverage.payer_id)
        .where(Coverage.patient_id == patient_id)
        .order_by(Coverage.active.desc(), Coverage.priority, Coverage.valid_from)
    ).all()
    record_audit(
        session, actor, "patient.read", patient_id=patient_id, target_type="coverage", detail="coverage"
    )
    session.commit()
    return [
        CoverageRow(
            c.id,
            name,
            c.plan_name,
            c.member_id,
            c.valid_from,
            c.valid_to,
            c.priority,
            c.copay_cents,
            c.coinsurance_percent,
            c.active,
            c.active and c.valid_from <= today and (c.valid_to is None or c.valid_to >= today),
        )
        for c, name in rows
    ]


def _copay_cents(value, field: str) -> int:
    return parse_money(value, field=field, label="the co-pay", allow_zero=True, blank_is_zero=True)


@returns_frozen
def add_coverage(session: Session, *, actor: Actor, patient_id: int, data: dict) -> Coverage:
    """Record a patient's insurance: payer, plan, member id, validity, priority and shares."""
    authorize(actor, "patient.write", patient_id=patient_id)
    if session.get(Patient, patient_id) is None:
        raise NotFound("That patient does not exist.")
    try:
        payer_id = int(data.get("payer_id") or 0)
    except (TypeError, ValueError):
        payer_id = 0
    payer = session.get(Payer, payer_id) if payer_id else None
    if payer is None or not payer.active:
        raise ValidationError("Choose the payer.", field="payer_id")
    plan = str(data.get("plan_name") or "").strip()
    if not 2 <= len(plan) <= 120:
        raise ValidationError("Enter the plan name (2 to 120 characters).", field="plan_name")
    member_id = str(data.get("member_id") or "").strip()
    if not MEMBER_ID_RE.fullmatch(member_id):
        raise ValidationError(
            "The member id has 3 to 40 letters, digits, dashes or slashes.", field="member_id"
        )
    valid_from = parse_date(data.get("valid_from"), field_name="valid_from", label="Valid from")
    valid_to = None
    if str(data.get("valid_to") or "").strip():
        valid_to = parse_date(data.get("valid_to"), field_name="valid_to", label="Valid to")
        if valid_to < valid_from:
            raise ValidationError("'Valid to' is before 'valid from'.", field="valid_to")
    try:
        priority = int(data.get("priority") or 1)
        coinsurance = int(str(data.get("coinsurance_percent") or "0").strip() or 0)
    except ValueError as error:
        raise ValidationError(
            "Priority and co-insurance are whole numbers.", field="coinsurance_percent"
        ) from error
    if priority not in (1, 2, 3):
        raise ValidationError("Priority is 1 (primary), 2 or 3.", field="priority")
    if not 0 <= coinsurance <= 100:
        raise ValidationError("Co-insurance is a percentage from 0 to 100.", field="coinsurance_percent")
    copay = _copay_cents(data.get("copay"), "copay")
    clash = session.execute(
        select(Coverage.id).where(
            Coverage.patient_id == patient_id,
            Coverage.payer_id == payer.id,
            Coverage.member_id == member_id,
            Coverage.active.is_(True),
        )
    ).first()
    if clash:
        raise Conflict("This coverage is already recorded for the patient.", field="member_id")
    coverage = Coverage(
        patient_id=patient_id,
        payer_id=payer.id,
        plan_name=plan,
        member_id=member_id,
        valid_from=valid_from,
        valid_to=valid_to,
        priority=priority,
        copay_cents=copay,
        coinsurance_percent=coinsurance,
    )
    session.add(coverage)
    session.flush()
    record_audit(
        session,
        actor,
        "coverage.add",
        patient_id=patient_id,
        target_type="coverage",
        target_id=coverage.id,
        detail=f"{payer.name} {plan} {member_id}",
    )
    session.commit()
    return coverage


@returns_frozen
def end_coverage(session: Session, *, actor: Actor, coverage_id: int, reason: str) -> Coverage:
    """Stop a coverage (the card was replaced, the plan ended); it stays on record."""
    coverage = get_row(session, Coverage, coverage_id, "That coverage does not exist.")
    authorize(actor, "patient.write", patient_id=coverage.patient_id)
    reason = (reason or "").strip()
    if len(reason) < 3:
        raise ValidationError("Say why the coverage ends.", field="reason")
    if not coverage.active:
        raise Conflict("This coverage has already ended.")
    coverage.active = False
    today = utcnow().date()
    if coverage.valid_to is None or coverage.valid_to > today:
        coverage.valid_to = max(today, coverage.valid_from)
    session.add(coverage)
    record_audit(
        session,
        actor,
        "coverage.end",
        patient_id=coverage.patient_id,
        target_type="coverage",
        target_id=coverage.id,
        detail=reason,
    )
    session.commit()
    return coverage
