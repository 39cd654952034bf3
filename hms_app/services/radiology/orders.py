"""Ordering imaging from the chart: the safety questions the examination asks of this patient,
placing the order with its answers and an accession number, cancelling it with a reason, and the
patient's imaging orders (with the signed report's impression) as the chart shows them.

Safety rules written down (every one checked here, on the server, whatever the dialog showed):

* pregnancy is asked of female patients aged 12 to 55 (``not_pregnant``, ``pregnant``,
  ``unknown``); "pregnant" or "unknown" with an ionising modality (``catalogue.IONISING``) needs a
  safety note to proceed; anyone not asked is stored as None (the model's comment names
  ``not_applicable``, but the column holds 12 characters);
* MR asks for implants and pacemaker: "none" or a description; a pacemaker or defibrillator stops
  the order unless the safety note says the device is MR-conditional;
* contrast asks whether the patient is allergic to contrast; an active allergy in the chart whose
  substance names contrast (iodinated, gadolinium ...) counts as "yes" whatever was answered; an
  allergy needs a safety note (the premedication plan);
* contrast reads the latest eGFR (CKD-EPI 2021 from the latest serum creatinine, as the pharmacy's
  checks do): below 30 refuses without a safety note, 30 to 45 warns; the eGFR and its date are
  stored on the order. No eGFR on record warns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from hms_app.cds import scores
from hms_app.clock import local_today, utcnow
from hms_app.errors import Conflict, FieldErrors, NotFound, ValidationError
from hms_app.models.emr import AllergyIntolerance, Encounter, Observation
from hms_app.models.patients import Patient
from hms_app.models.radiology import PRIORITIES, ImagingOrder, ImagingProcedure, ImagingReport
from hms_app.models.scheduling import Appointment
from hms_app.models.security import AppUser
from hms_app.services import live
from hms_app.services.audit import audit_read, record_audit
from hms_app.services.cds import CREATININE_LOINC, CREATININE_UNITS
from hms_app.services.counters import take_numbers
from hms_app.services.inputs import actor_name, as_id
from hms_app.services.patients import age_years
from hms_app.services.permissions import Actor, authorize
from hms_app.services.radiology.catalogue import IONISING, authorize_any, get_procedure
from hms_app.services.radiology.common import ORDER, READ, TOPIC, WORK
from hms_app.services.scheduling.appointments import publish_change, release_blocks

PREGNANCY_ANSWERS = {"not_pregnant": "Not pregnant", "pregnant": "Pregnant", "unknown": "Unknown"}
PREGNANCY_AGES = (12, 55)
EGFR_STOP = 30.0
EGFR_WARN = 45.0
CONTRAST_WORDS = ("contrast", "iodin", "gadolin", "iohexol", "iodixanol", "iopamidol", "iomeprol", "gadobut")
DEVICE_WORDS = re.compile(r"pace\s*maker|defibrillator|\bicd\b|\bcrt-?d?\b|cardiac device", re.IGNORECASE)
MR_CONDITIONAL = re.compile(r"mr[\s-]*conditional", re.IGNORECASE)
CANCELLABLE = ("requested", "scheduled", "arrived")
MAX_QUESTION = 300
MAX_NOTE = 300
MAX_IMPLANTS = 200
MAX_CHART_ROWS = 100
ORDER_MISSING = "That imaging order does not exist."
PATIENT_MISSING = "That patient does not exist."


@dataclass(frozen=True)
class SafetyQuestions:
    """What the order dialog asks for one examination of one patient, and what the chart says."""

    pregnancy: bool  # asked: a woman aged 12 to 55
    ionising: bool
    implants: bool  # MR
    contrast: bool
    chart_contrast_allergies: tuple[str, ...]  # active allergies naming contrast
    egfr: float | None
    egfr_at: datetime | None
    egfr_level: str  # "" (not asked) | none (no value on record) | ok | warn | stop


@dataclass(frozen=True)
class PlacedImagingOrder:
    id: int
    accession: str
    procedure: str
    modality: str
    warnings: tuple[str, ...]  # what the orderer was told but which did not stop the order


@dataclass(frozen=True)
class ChartImagingRow:
    """One imaging order as the chart's Imaging tab lists it."""

    id: int
    accession: str
    procedure: str
    modality: str
    priority: str
    status: str
    clinical_question: str
    ordered_at: datetime
    ordered_by: str
    scheduled_at: datetime | None
    cancel_reason: str
    report_status: str  # "" until signed: preliminary | final
    impression: str
    flags: tuple[str, ...]


def _patient(session: Session, patient_id) -> Patient:
    patient = session.get(Patient, as_id(patient_id, field="patient_id", label="patient"))
    if patient is None:
        raise NotFound(PATIENT_MISSING)
    return patient


def get_order(session: Session, order_id, *, lock: bool = False) -> ImagingOrder:
    order_id = as_id(order_id, field="order_id", label="imaging order")
    order = session.get(ImagingOrder, order_id, with_for_update=lock or None)
    if order is None:
        raise NotFound(ORDER_MISSING)
    return order


def latest_egfr(session: Session, patient: Patient) -> tuple[float | None, datetime | None]:
    """The eGFR (CKD-EPI 2021) of the latest serum creatinine and when it was taken, for adults with
    a recorded sex; (None, None) when there is none to compute."""
    creatinine = session.execute(
        select(Observation)
        .where(
            Observation.patient_id == patient.id,
            Observation.code == CREATININE_LOINC,
            Observation.status != "entered-in-error",
        )
        .order_by(Observation.effective_at.desc(), Observation.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if (
        creatinine is None
        or creatinine.value is None
        or patient.sex not in ("female", "male")
        or creatinine.unit not in CREATININE_UNITS
    ):
        return None, None
    age = age_years(patient.birth_date, creatinine.effective_at.date())
    if age < 18:
        return None, None
    value = float(creatinine.value)
    mg_dl = (
        value if CREATININE_UNITS[creatinine.unit] is not None else scores.creatinine_umol_l_to_mg_dl(value)
    )
    try:
        egfr = scores.egfr_ckd_epi_2021(creatinine_mg_dl=mg_dl, age_years=age, sex=patient.sex).value
    except ValueError:
        return None, None
    return float(egfr), creatinine.effective_at


def _contrast_allergies(session: Session, patient_id: int) -> tuple[str, ...]:
    substances = session.execute(
        select(AllergyIntolerance.substance).where(
            AllergyIntolerance.patient_id == patient_id, AllergyIntolerance.status == "active"
        )
    ).scalars()
    return tuple(s for s in substances if any(word in s.lower() for word in CONTRAST_WORDS))


def _egfr_level(egfr: float | None) -> str:
    if egfr is None:
        return "none"
    if egfr < EGFR_STOP:
        return "stop"
    return "warn" if egfr < EGFR_WARN else "ok"


def _asks_pregnancy(patient: Patient) -> bool:
    if patient.sex != "female":
        return False
    age = age_years(patient.birth_date, local_today())
    return PREGNANCY_AGES[0] <= age <= PREGNANCY_AGES[1]


def _questions(session: Session, patient: Patient, procedure: ImagingProcedure) -> SafetyQuestions:
    egfr, egfr_at = latest_egfr(session, patient) if procedure.contrast else (None, None)
    return SafetyQuestions(
        pregnancy=_asks_pregnancy(patient),
        ionising=procedure.modality in IONISING,
        implants=procedure.modality == "MR",
        contrast=bool(procedure.contrast),
        chart_contrast_allergies=_contrast_allergies(session, patient.id) if procedure.contrast else (),
        egfr=round(egfr, 1) if egfr is not None else None,
        egfr_at=egfr_at,
        egfr_level=_egfr_level(egfr) if procedure.contrast else "",
    )


def safety_questions(session: Session, *, actor: Actor, patient_id, procedure_id) -> SafetyQuestions:
    """The safety questions an examination asks of this patient, with the chart's contrast
    allergies and latest eGFR (``imaging.order``)."""
    authorize(actor, ORDER)
    patient = _patient(session, patient_id)
    authorize(actor, ORDER, patient_id=patient.id)
    return _questions(session, patient, get_procedure(session, procedure_id, active=True))


@dataclass(frozen=True)
class _Answers:
    pregnancy: str | None
    implants: str | None
    contrast_allergy: bool | None
    note: str
    warnings: tuple[str, ...]


def check_answers(
    questions: SafetyQuestions, *, pregnancy, implants, contrast_allergy, safety_note
) -> _Answers:
    """The answers the order stores, or InvalidFields naming each question left unanswered or each
    answer that needs a safety note first. Pure: the caller read ``questions`` from the chart."""
    errors = FieldErrors()
    note = " ".join(str(safety_note or "").split())
    if len(note) > MAX_NOTE:
        errors.add("safety_note", f"The safety note can be at most {MAX_NOTE} characters.")
    needs_note: list[str] = []
    warnings: list[str] = []
    answer = str(pregnancy or "").strip()
    if questions.pregnancy:
        if answer not in PREGNANCY_ANSWERS:
            errors.add("pregnancy", "Say whether the patient could be pregnant.")
        elif answer != "not_pregnant" and questions.ionising:
            needs_note.append(
                "The patient is pregnant" if answer == "pregnant" else "Pregnancy is not ruled out"
            )
    else:
        answer = None
    device = None
    if questions.implants:
        device = " ".join(str(implants or "").split())
        if not device:
            errors.add("implants", "Say whether the patient has implants or a pacemaker (or write none).")
        elif len(device) > MAX_IMPLANTS:
            errors.add("implants", f"Describe the implants in at most {MAX_IMPLANTS} characters.")
        elif device.lower() in ("none", "no", "nil", "no implants"):
            device = "none"
        elif DEVICE_WORDS.search(device) and not MR_CONDITIONAL.search(note):
            errors.add(
                "safety_note",
                "A pacemaker or defibrillator stops an MR scan unless it is MR-conditional: "
                "say so in the safety note (the device and its MR-conditional status).",
            )
    allergic = None
    if questions.contrast:
        if contrast_allergy not in (True, False):
            errors.add("contrast_allergy", "Say whether the patient is allergic to contrast.")
        else:
            allergic = bool(contrast_allergy) or bool(questions.chart_contrast_allergies)
            if allergic:
                recorded = ", ".join(questions.chart_contrast_allergies)
                needs_note.append(
                    f"The chart records an allergy to {recorded}"
                    if recorded
                    else "The patient is allergic to contrast"
                )
        if questions.egfr_level == "stop":
            needs_note.append(f"The latest eGFR is {questions.egfr:g} (below {EGFR_STOP:g})")
        elif questions.egfr_level == "warn":
            warnings.append(
                f"The latest eGFR is {questions.egfr:g}: consider hydration and the contrast dose."
            )
        elif questions.egfr_level == "none":
            warnings.append("No eGFR is on record: check the renal function before giving contrast.")
    if needs_note and not note:
        errors.add("safety_note", "; ".join(needs_note) + ": write a safety note to proceed.")
    errors.raise_any()
    return _Answers(answer, device, allergic, note, tuple(warnings))


def safety_flags(order: ImagingOrder | object) -> tuple[str, ...]:
    """Short words for what the radiographer must know: "Pregnant", "Implant: ...", "Contrast allergy"."""
    flags = []
    if order.pregnancy == "pregnant":
        flags.append("Pregnant")
    elif order.pregnancy == "unknown":
        flags.append("Pregnancy unknown")
    if order.implants and order.implants != "none":
        flags.append("Implant: " + order.implants)
    if order.contrast_allergy:
        flags.append("Contrast allergy")
    if order.egfr is not None and order.egfr < EGFR_WARN:
        flags.append(f"eGFR {order.egfr:g}")
    if order.safety_note:
        flags.append("Note: " + order.safety_note)
    return tuple(flags)


def _accession(session: Session) -> str:
    """``ACC00001234``: gap-free, never reused, within DICOM's 16 characters."""
    return f"ACC{take_numbers(session, 'imaging_accession')[0]:08d}"


def place_order(
    session: Session,
    *,
    actor: Actor,
    patient_id,
    procedure_id,
    priority="routine",
    clinical_question="",
    pregnancy=None,
    implants=None,
    contrast_allergy=None,
    safety_note="",
    encounter_id=None,
) -> PlacedImagingOrder:
    """Order an examination for a patient (``imaging.order``) with the clinical question and the
    safety answers it needs; the order gets its accession number and waits to be scheduled."""
    authorize(actor, ORDER)
    patient = _patient(session, patient_id)
    authorize(actor, ORDER, patient_id=patient.id)
    if not patient.active or patient.deceased_at is not None or patient.merged_into_id is not None:
        raise ValidationError(
            "Imaging cannot be ordered for an inactive or deceased patient.", field="patient_id"
        )
    procedure = get_procedure(session, procedure_id, active=True)
    errors = FieldErrors()
    value = str(priority or "").strip().lower()
    if value not in PRIORITIES:
        errors.add("priority", "Choose routine, urgent or STAT.")
    question = " ".join(str(clinical_question or "").split())
    if not question:
        errors.add("clinical_question", "Write the clinical question the examination should answer.")
    elif len(question) > MAX_QUESTION:
        errors.add("clinical_question", f"The clinical question can be at most {MAX_QUESTION} characters.")
    answers = errors.check(
        check_answers,
        _questions(session, patient, procedure),
        pregnancy=pregnancy,
        implants=implants,
        contrast_allergy=contrast_allergy,
        safety_note=safety_note,
    )
    department_id = None
    if encounter_id not in (None, "", 0):
        encounter = session.get(Encounter, as_id(encounter_id, field="encounter_id", label="encounter"))
        if encounter is None or encounter.patient_id != patient.id:
            errors.add("encounter_id", "That encounter is not this patient's.")
        else:
            department_id = encounter.department_id
    errors.raise_any()
    if department_id is None:
        department_id = session.execute(
            select(AppUser.department_id).where(AppUser.id == actor.user_id)
        ).scalar_one_or_none()
    egfr, egfr_at = latest_egfr(session, patient) if procedure.contrast else (None, None)
    now = utcnow()
    order = ImagingOrder(
        accession=_accession(session),
        patient_id=patient.id,
        encounter_id=int(encounter_id) if encounter_id not in (None, "", 0) else None,
        procedure_id=procedure.id,
        priority=value,
        clinical_question=question,
        status="requested",
        pregnancy=answers.pregnancy,
        implants=answers.implants,
        contrast_allergy=answers.contrast_allergy,
        egfr=round(egfr, 1) if egfr is not None else None,
        egfr_at=egfr_at,
        safety_note=answers.note or None,
        ordered_by_id=actor.user_id,
        ordered_by=actor_name(actor),
        ordered_at=now,
        department_id=department_id,
        status_changed_at=now,
        status_changed_by=actor_name(actor),
    )
    session.add(order)
    session.flush()
    flags = "; ".join(safety_flags(order))
    record_audit(
        session,
        actor,
        "imaging.order",
        patient_id=patient.id,
        target_type="imaging_order",
        target_id=order.id,
        detail=f"{order.accession} {procedure.code} {value}" + (f"; {flags}" if flags else ""),
    )
    session.commit()
    live.publish(TOPIC, order.id)
    return PlacedImagingOrder(order.id, order.accession, procedure.name, procedure.modality, answers.warnings)


def release_appointment(session: Session, order: ImagingOrder, reason: str, now: datetime) -> int | None:
    """Free the scanner time an order held (in the caller's transaction); its department, or None."""
    if order.appointment_id is None:
        return None
    appointment = session.execute(
        select(Appointment).where(Appointment.id == order.appointment_id).with_for_update()
    ).scalar_one_or_none()
    if appointment is None or appointment.status in ("cancelled", "completed", "no_show"):
        return None
    release_blocks(session, appointment.id)
    appointment.status, appointment.cancel_reason = "cancelled", reason[:300]
    appointment.cancelled_at = appointment.updated_at = now
    session.add(appointment)
    return appointment.department_id


def cancel_order(session: Session, *, actor: Actor, order_id, reason) -> None:
    """Cancel an order before the exam starts (``imaging.order`` or ``radiology.work``), with a
    reason; the scanner time it held is freed."""
    authorize_any(actor, (ORDER, WORK))
    order = get_order(session, order_id, lock=True)
    authorize_any(actor, (ORDER, WORK), patient_id=order.patient_id)
    text = " ".join(str(reason or "").split())
    if len(text) < 3:
        raise ValidationError("Say why the order is cancelled.", field="reason")
    if len(text) > 300:
        raise ValidationError("The reason can be at most 300 characters.", field="reason")
    if order.status not in CANCELLABLE:
        state = "already cancelled" if order.status == "cancelled" else "past the start of the exam"
        raise Conflict(f"{order.accession} is {state} and cannot be cancelled.")
    now = utcnow()
    department_id = release_appointment(session, order, f"Imaging order cancelled: {text}", now)
    order.status, order.cancel_reason = "cancelled", text
    order.status_changed_at, order.status_changed_by = now, actor_name(actor)
    session.add(order)
    record_audit(
        session,
        actor,
        "imaging.order_cancelled",
        patient_id=order.patient_id,
        target_type="imaging_order",
        target_id=order.id,
        detail=f"{order.accession}: {text}",
    )
    session.commit()
    live.publish(TOPIC, order.id)
    if department_id is not None:
        publish_change(department_id)


def patient_orders(session: Session, *, actor: Actor, patient_id, limit: int = 50) -> list[ChartImagingRow]:
    """A patient's imaging orders, newest first, with the signed report's impression
    (``imaging.read``; audited as a look at the patient's imaging)."""
    authorize(actor, READ)
    patient = _patient(session, patient_id)
    authorize(actor, READ, patient_id=patient.id)
    limit = max(
        1, min(limit if isinstance(limit, int) and not isinstance(limit, bool) else 50, MAX_CHART_ROWS)
    )
    rows = session.execute(
        select(
            ImagingOrder,
            ImagingProcedure.name,
            ImagingProcedure.modality,
            ImagingReport.status,
            ImagingReport.impression,
        )
        .join(ImagingProcedure, ImagingProcedure.id == ImagingOrder.procedure_id)
        .outerjoin(ImagingReport, ImagingReport.order_id == ImagingOrder.id)
        .where(ImagingOrder.patient_id == patient.id)
        .order_by(ImagingOrder.ordered_at.desc(), ImagingOrder.id.desc())
        .limit(limit)
    ).all()
    out = []
    for order, name, modality, report_status, impression in rows:
        signed = report_status in ("preliminary", "final")
        out.append(
            ChartImagingRow(
                id=order.id,
                accession=order.accession,
                procedure=name,
                modality=modality,
                priority=order.priority,
                status=order.status,
                clinical_question=order.clinical_question,
                ordered_at=order.ordered_at,
                ordered_by=order.ordered_by,
                scheduled_at=order.scheduled_at,
                cancel_reason=order.cancel_reason or "",
                report_status=report_status if signed else "",
                impression=impression if signed else "",
                flags=safety_flags(order),
            )
        )
    audit_read(
        session,
        actor,
        "imaging.chart_read",
        patient_id=patient.id,
        target_type="patient",
        target_id=patient.id,
        detail=f"{len(out)} imaging orders",
    )
    return out
