"""The chart's first screen in one audited read (banner, timeline, latest vitals, problems,
allergies, medications, immunizations, documents), and the patient's own portal record."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy import select
from sqlmodel import Session

from hms_app.clock import format_local, utcnow
from hms_app.errors import Forbidden
from hms_app.models.emr import (
    AllergyIntolerance,
    Condition,
    DocumentReference,
    Immunization,
    MedicationStatement,
)
from hms_app.models.patients import Patient
from hms_app.models.pharmacy import MedicationOrder
from hms_app.services.allergy_status import UNASSESSED, allergy_status
from hms_app.services.audit import record_audit
from hms_app.services.emr.common import view_of
from hms_app.services.emr.encounters import TimelineRow, encounter_timeline
from hms_app.services.emr.vitals import latest_vitals
from hms_app.services.patients import age_years, full_name
from hms_app.services.permissions import Actor, authorize
from hms_app.services.rows import get_row


@dataclass(frozen=True)
class Banner:
    patient_id: int
    mrn: str
    name: str
    sex: str
    birth_date: date
    age: str
    allergies: tuple[str, ...]  # "Penicillin (severe)": the active allergies
    problems: tuple[str, ...]
    alerts: tuple[str, ...]
    allergy_state: str = UNASSESSED  # unassessed | none_known | allergies (services.emr.allergies)
    allergy_assessed: str = ""  # "dr.grey, 2026-12-04 14:05": who recorded no known allergies, when


@dataclass(frozen=True)
class ConditionView:
    id: int
    code: str
    display: str
    clinical_status: str
    onset_date: date | None
    abatement_date: date | None


@dataclass(frozen=True)
class AllergyView:
    id: int
    substance: str
    reaction: str | None
    severity: str
    status: str


@dataclass(frozen=True)
class MedicationView:
    id: int
    medication: str
    dosage: str | None
    status: str
    started_on: date | None
    stopped_on: date | None
    stop_reason: str | None
    # The active medication order that writes this entry ("RX-000123"): it is stopped through the
    # order, never on the list (``services.emr.medications.stop_medication`` refuses).
    order_reference: str | None = None


@dataclass(frozen=True)
class ImmunizationView:
    id: int
    vaccine: str
    occurrence_date: date
    lot_number: str | None


@dataclass(frozen=True)
class DocumentView:
    id: int
    title: str
    content_type: str
    size_bytes: int
    created_at: datetime
    created_by: str | None


# The record's lists: their table, the view they are read into, what is current (all the portal
# shows) and their order, current rows first. At most LIST_LIMIT rows each.
RECORD_LISTS = (
    (
        "conditions",
        Condition,
        ConditionView,
        Condition.clinical_status == "active",
        (Condition.clinical_status, Condition.recorded_at.desc()),
    ),
    (
        "allergies",
        AllergyIntolerance,
        AllergyView,
        AllergyIntolerance.status == "active",
        (AllergyIntolerance.status, AllergyIntolerance.substance),
    ),
    (
        "medications",
        MedicationStatement,
        MedicationView,
        MedicationStatement.status == "active",
        (MedicationStatement.status, MedicationStatement.medication),
    ),
    (
        "immunizations",
        Immunization,
        ImmunizationView,
        Immunization.status == "completed",
        (Immunization.occurrence_date.desc(),),
    ),
    ("documents", DocumentReference, DocumentView, None, (DocumentReference.created_at.desc(),)),
)
LIST_LIMIT = 50


def age_text(birth: date, on: date) -> str:
    """An age as the banner says it: years from two, months from one, days before that."""
    years = age_years(birth, on)
    if years >= 2:
        return f"{years} y"
    months = (on.year - birth.year) * 12 + on.month - birth.month - (on.day < birth.day)
    if months >= 1:
        return f"{months} mo"
    return f"{(on - birth).days} d"


def _banner(session: Session, patient: Patient) -> Banner:
    status = allergy_status(session, patient.id)
    allergies = tuple(f"{s} ({sev})" for s, sev in status.allergies)
    problems = tuple(
        f"{c} {d}"
        for c, d in session.execute(
            select(Condition.code, Condition.display)
            .where(Condition.patient_id == patient.id, Condition.clinical_status == "active")
            .order_by(Condition.recorded_at.desc())
            .limit(10)
        )
    )
    alerts = []
    if patient.deceased_at:
        alerts.append(f"Deceased {patient.deceased_at.date().isoformat()}")
    elif not patient.active:
        alerts.append("Record inactive")
    if patient.merged_into_id:
        alerts.append("Merged into another record")
    if any("(severe)" in a for a in allergies):
        alerts.append("Severe allergy")
    name = full_name(patient)
    return Banner(
        patient.id,
        patient.mrn,
        name,
        patient.sex,
        patient.birth_date,
        age_text(patient.birth_date, utcnow().date()),
        allergies,
        problems,
        tuple(alerts),
        status.state,
        f"{status.recorded_by}, {format_local(status.recorded_at)}" if status.recorded_at else "",
    )


def _record_lists(session: Session, patient_id: int, *, current_only: bool) -> dict[str, list]:
    """The patient's problems, allergies, medications, immunizations and documents, as views."""
    lists = {}
    for name, model, view, current, order in RECORD_LISTS:
        query = select(model).where(model.patient_id == patient_id)
        if current_only and current is not None:
            query = query.where(current)
        rows = session.execute(query.order_by(*order).limit(LIST_LIMIT)).scalars()
        lists[name] = [view_of(view, row) for row in rows]
    ordered = _ordered_entries(session, [m.id for m in lists["medications"] if m.status == "active"])
    if ordered:
        lists["medications"] = [
            replace(m, order_reference=ordered[m.id]) if m.id in ordered else m for m in lists["medications"]
        ]
    return lists


def _ordered_entries(session: Session, statement_ids: list[int]) -> dict[int, str]:
    """Medication-list entry id -> the reference of the active order that feeds it."""
    if not statement_ids:
        return {}
    return dict(
        session.execute(
            select(MedicationOrder.statement_id, MedicationOrder.reference).where(
                MedicationOrder.statement_id.in_(statement_ids), MedicationOrder.status == "active"
            )
        ).all()
    )


@dataclass(frozen=True)
class Chart:
    banner: Banner
    timeline: list[TimelineRow]
    timeline_total: int
    latest_vitals: dict[str, tuple[float, str, datetime]]
    conditions: list[ConditionView]
    allergies: list[AllergyView]
    medications: list[MedicationView]
    immunizations: list[ImmunizationView]
    documents: list[DocumentView]
    # The latest vitals the patient entered at home (home readings): shown as patient-reported.
    patient_reported: frozenset[str] = frozenset()


def open_chart(
    session: Session,
    *,
    actor: Actor,
    patient_id: int,
    page_size: int = 20,
    page: int = 1,
    refresh: bool = False,
) -> Chart:
    """Everything the chart's first screen shows, in a fixed number of indexed queries; audited once.

    ``refresh`` re-reads an open chart after a change (audited as such); ``page`` keeps the timeline's page.
    """
    authorize(actor, "patient.read", patient_id=patient_id)
    patient = get_row(session, Patient, patient_id, "That patient does not exist.")
    timeline, total = encounter_timeline(
        session, actor=actor, patient_id=patient_id, page=page, page_size=page_size, audit=False
    )
    home: set[str] = set()
    chart = Chart(
        banner=_banner(session, patient),
        timeline=timeline,
        timeline_total=total,
        latest_vitals=latest_vitals(session, patient_id, patient_reported=home),
        **_record_lists(session, patient_id, current_only=False),
        patient_reported=frozenset(home),
    )
    record_audit(
        session,
        actor,
        "patient.read",
        patient_id=patient_id,
        target_type="patient",
        target_id=patient_id,
        detail="chart refreshed" if refresh else "chart opened",
    )
    session.commit()
    return chart


@dataclass(frozen=True)
class PortalRecord:
    banner: Banner
    latest_vitals: dict[str, tuple[float, str, datetime]]
    conditions: list[ConditionView]
    allergies: list[AllergyView]
    medications: list[MedicationView]
    immunizations: list[ImmunizationView]
    documents: list[DocumentView]


def portal_record(session: Session, *, actor: Actor) -> PortalRecord:
    """The signed-in patient's own record, read-only. The patient is the session's, never an id sent in."""
    authorize(actor, "portal.self", patient_id=actor.patient_id)
    if actor.patient_id is None:
        raise Forbidden("Only a patient's own account has a portal record.")
    patient = get_row(
        session, Patient, actor.patient_id, "Your record could not be found; please contact the hospital."
    )
    record = PortalRecord(
        banner=_banner(session, patient),
        latest_vitals=latest_vitals(session, patient.id),
        **_record_lists(session, patient.id, current_only=True),
    )
    record_audit(
        session,
        actor,
        "patient.read",
        patient_id=patient.id,
        target_type="patient",
        target_id=patient.id,
        detail="portal summary",
    )
    session.commit()
    return record
