"""The radiologist's report of an imaging order: a draft started from the procedure's template,
findings and an impression, signed preliminary and then final (which locks it), addenda after that,
critical findings through the laboratory's closed loop, the exam's charge, and the release of the
final report to the chart and the portal.

Rules written down:

* only a radiologist (``imaging.report``) drafts and signs; a report is written once the images
  are in (or the order is at least in progress: a portable film read at the bedside);
* signing needs an impression; preliminary moves the order to ``preliminary``, final to ``final``
  and locks the report: a final report's text never changes, an addendum is added beside it;
* a critical finding raises a ``critical_alert`` (source ``imaging``) to the ordering clinician in
  the same transaction as the signature; the laboratory's loop escalates and acknowledges it;
* the exam's charge (the procedure's charge code) is posted once, through billing's one charge
  call, when the report is first signed, if it was not posted when the images arrived;
* the final report is released to the portal ``PORTAL_DELAY`` after signing, so the clinician can
  talk to the patient first.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.errors import Conflict, Forbidden, NotFound, ValidationError
from hms_app.models.patients import Patient
from hms_app.models.radiology import (
    ImagingOrder,
    ImagingProcedure,
    ImagingReport,
    ImagingReportAddendum,
    ImagingStudy,
)
from hms_app.services import live
from hms_app.services.audit import record_audit
from hms_app.services.billing.charges import post_charge
from hms_app.services.inputs import actor_name, as_id
from hms_app.services.laboratory.critical import raise_alert
from hms_app.services.patients import full_name
from hms_app.services.permissions import Actor, authorize
from hms_app.services.radiology.common import READ, REPORT, TOPIC, WORK
from hms_app.services.rows import returns_frozen

MAX_FINDINGS = 8000
MAX_IMPRESSION = 2000
MAX_ADDENDUM = 4000
MAX_CRITICAL = 160
PORTAL_DELAY = timedelta(hours=72)
REPORTABLE = ("in_progress", "images_received", "preliminary", "final")
ORDER_MISSING = "That imaging order does not exist."


@dataclass(frozen=True)
class Addendum:
    text: str
    signed_by: str
    signed_at: datetime


@dataclass(frozen=True)
class ReportView:
    order_id: int
    accession: str
    patient_id: int
    patient_name: str
    mrn: str
    study_id: int | None  # the images received, for the viewer
    procedure: str
    modality: str
    clinical_question: str
    order_status: str
    status: str  # "none" (nothing written yet) | draft | preliminary | final
    findings: str
    impression: str
    critical: bool
    drafted_by: str
    signed_by: str
    preliminary_at: datetime | None
    final_at: datetime | None
    released_at: datetime | None
    addenda: tuple[Addendum, ...]


def _text(value, *, field: str, label: str, maximum: int) -> str:
    # Reports keep their line breaks: trim each line, drop trailing blank lines.
    lines = [
        line.rstrip() for line in str(value if value is not None else "").replace("\r\n", "\n").split("\n")
    ]
    text = "\n".join(lines).strip()
    if len(text) > maximum:
        raise ValidationError(f"{label} can be at most {maximum} characters.", field=field)
    return text


def _order(session: Session, order_id, *, lock: bool = False) -> ImagingOrder:
    order_id = as_id(order_id, field="order_id", label="imaging order")
    order = session.get(ImagingOrder, order_id, with_for_update=lock or None)
    if order is None:
        raise NotFound(ORDER_MISSING)
    return order


def _report(session: Session, order_id: int, *, lock: bool = False) -> ImagingReport | None:
    query = select(ImagingReport).where(ImagingReport.order_id == order_id)
    if lock:
        query = query.with_for_update()
    return session.execute(query).scalar_one_or_none()


def _view(session: Session, order: ImagingOrder, report: ImagingReport | None) -> ReportView:
    procedure = session.get(ImagingProcedure, order.procedure_id)
    addenda = ()
    if report is not None and report.id is not None:
        addenda = tuple(
            Addendum(a.text, a.signed_by, a.signed_at)
            for a in session.execute(
                select(ImagingReportAddendum)
                .where(ImagingReportAddendum.report_id == report.id)
                .order_by(ImagingReportAddendum.signed_at, ImagingReportAddendum.id)
            ).scalars()
        )
    patient = session.get(Patient, order.patient_id)
    study_id = session.execute(
        select(ImagingStudy.id).where(ImagingStudy.order_id == order.id).order_by(ImagingStudy.id).limit(1)
    ).scalar_one_or_none()
    return ReportView(
        order.id,
        order.accession,
        order.patient_id,
        full_name(patient),
        patient.mrn,
        study_id,
        procedure.name,
        procedure.modality,
        order.clinical_question,
        order.status,
        report.status if report else "none",
        report.findings if report else (procedure.report_template or ""),
        report.impression if report else "",
        report.critical if report else False,
        report.drafted_by if report else "",
        (report.signed_by or "") if report else "",
        report.preliminary_at if report else None,
        report.final_at if report else None,
        report.released_at if report else None,
        addenda,
    )


@returns_frozen
def report_of(session: Session, *, actor: Actor, order_id) -> ReportView:
    """An order's report as the reporting screen shows it (``imaging.read``): the procedure's template
    when nothing is written yet. A draft is the radiologist's working copy: other readers see
    nothing until it is signed."""
    authorize(actor, READ)
    order = _order(session, order_id)
    authorize(actor, READ, patient_id=order.patient_id)
    report = _report(session, order.id)
    if report is not None and report.status == "draft" and not actor.can(REPORT):
        report = None
    record_audit(
        session,
        actor,
        "imaging.report_read",
        patient_id=order.patient_id,
        target_type="imaging_order",
        target_id=order.id,
        detail=order.accession,
    )
    session.commit()
    view = _view(session, order, report)
    if report is None and not actor.can(REPORT):
        view = replace(view, findings="")
    return view


def _writable(session: Session, actor: Actor, order_id) -> tuple[ImagingOrder, ImagingReport]:
    authorize(actor, REPORT)
    order = _order(session, order_id, lock=True)
    if order.status == "cancelled":
        raise Conflict(f"{order.accession} was cancelled: there is nothing to report.")
    if order.status not in REPORTABLE:
        raise Conflict(f"{order.accession} has no images yet: report it once the exam is done.")
    report = _report(session, order.id, lock=True)
    if report is None:
        procedure = session.get(ImagingProcedure, order.procedure_id)
        report = ImagingReport(
            order_id=order.id,
            patient_id=order.patient_id,
            findings=procedure.report_template or "",
            drafted_by=actor_name(actor),
        )
    elif report.status == "final":
        raise Conflict(f"The report of {order.accession} is final: add an addendum instead.")
    return order, report


def _save(session: Session, report: ImagingReport) -> None:
    try:
        with session.begin_nested():
            session.add(report)
            session.flush()
    except IntegrityError:
        # Another tab created the report a moment ago (one per order).
        raise Conflict("Someone else started this report a moment ago. Open it again.") from None


@returns_frozen
def save_draft(session: Session, *, actor: Actor, order_id, findings, impression) -> ReportView:
    """Keep the radiologist's text as a draft (not signed, not shown to others)."""
    order, report = _writable(session, actor, order_id)
    report.findings = _text(findings, field="findings", label="Findings", maximum=MAX_FINDINGS)
    report.impression = _text(impression, field="impression", label="The impression", maximum=MAX_IMPRESSION)
    report.updated_at = utcnow()
    _save(session, report)
    record_audit(
        session,
        actor,
        "imaging.report_draft",
        patient_id=order.patient_id,
        target_type="imaging_report",
        target_id=report.id,
        detail=order.accession,
    )
    session.commit()
    live.publish(TOPIC, order.id)
    return _view(session, order, report)


def charge_exam(session: Session, *, actor: Actor, order: ImagingOrder) -> None:
    """Post the exam's charge once (the procedure's charge code), in the caller's transaction, as
    someone who works the department (``radiology.work``: a radiologist, a radiographer, a modality)."""
    authorize(actor, WORK)
    if order.charged:
        return
    procedure = session.get(ImagingProcedure, order.procedure_id)
    if procedure.charge_code:
        post_charge(
            session,
            actor=actor,
            patient_id=order.patient_id,
            code=procedure.charge_code,
            source_type="imaging",
            source_id=order.id,
            commit=False,
        )
    order.charged = True
    session.add(order)


@returns_frozen
def sign_report(
    session: Session,
    *,
    actor: Actor,
    order_id,
    findings,
    impression,
    final: bool,
    critical_finding=None,
) -> ReportView:
    """Sign the report preliminary or final with its text (``imaging.report``). A critical finding
    (a short summary in words, "Acute subdural haematoma") raises the critical alert to the
    ordering clinician in the same transaction."""
    order, report = _writable(session, actor, order_id)
    report.findings = _text(findings, field="findings", label="Findings", maximum=MAX_FINDINGS)
    report.impression = _text(impression, field="impression", label="The impression", maximum=MAX_IMPRESSION)
    if not report.impression:
        raise ValidationError("Write the impression before signing.", field="impression")
    critical = " ".join(str(critical_finding or "").split())
    if len(critical) > MAX_CRITICAL:
        raise ValidationError(f"Keep the critical finding under {MAX_CRITICAL} characters.", field="critical")
    now = utcnow()
    level = "final" if final else "preliminary"
    if not final and report.status == "preliminary":
        raise Conflict(f"The report of {order.accession} is already signed preliminary: sign it final.")
    report.status = level
    report.signed_by_id, report.signed_by = actor.user_id, actor_name(actor)
    report.updated_at = now
    if final:
        report.final_at, report.released_at = now, now + PORTAL_DELAY
    else:
        report.preliminary_at = now
    _save(session, report)
    if critical:
        procedure = session.get(ImagingProcedure, order.procedure_id)
        report.critical = True
        raise_alert(
            session,
            source_type="imaging",
            source_id=report.id,
            patient_id=order.patient_id,
            summary=f"{procedure.name}: {critical}",
            recipient_id=order.ordered_by_id,
            department_id=order.department_id,
        )
    charge_exam(session, actor=actor, order=order)
    order.status, order.status_changed_at, order.status_changed_by = level, now, actor_name(actor)
    session.add_all([order, report])
    record_audit(
        session,
        actor,
        f"imaging.report_{level}",
        patient_id=order.patient_id,
        target_type="imaging_report",
        target_id=report.id,
        detail=order.accession + (f"; critical: {critical}" if critical else ""),
    )
    session.commit()
    live.publish(TOPIC, order.id)
    return _view(session, order, report)


@returns_frozen
def add_addendum(session: Session, *, actor: Actor, order_id, text) -> ReportView:
    """Add text to a final report; the report itself is kept as signed (``imaging.report``)."""
    authorize(actor, REPORT)
    order = _order(session, order_id, lock=True)
    report = _report(session, order.id, lock=True)
    if report is None or report.status != "final":
        raise Conflict(f"The report of {order.accession} is not final: edit it instead of adding to it.")
    body = _text(text, field="addendum", label="The addendum", maximum=MAX_ADDENDUM)
    if not body:
        raise ValidationError("Write the addendum.", field="addendum")
    addendum = ImagingReportAddendum(
        report_id=report.id, text=body, signed_by_id=actor.user_id, signed_by=actor_name(actor)
    )
    session.add(addendum)
    session.flush()
    record_audit(
        session,
        actor,
        "imaging.report_addendum",
        patient_id=order.patient_id,
        target_type="imaging_report",
        target_id=report.id,
        detail=order.accession,
    )
    session.commit()
    live.publish(TOPIC, order.id)
    return _view(session, order, report)


@dataclass(frozen=True)
class PortalReport:
    """A final imaging report as the patient reads it on the portal."""

    procedure: str
    performed_at: datetime  # when it was signed final
    impression: str
    findings: str
    addenda: tuple[str, ...]


MAX_PORTAL_REPORTS = 100


def portal_reports(session: Session, *, actor: Actor) -> list[PortalReport]:
    """The portal user's own final imaging reports, once released (``portal.self``; the release
    waits ``PORTAL_DELAY`` after signing so the clinician can talk to the patient first), newest
    first. The patient is the signed-in one: no id is taken. Audited."""
    authorize(actor, "portal.self")
    if actor.patient_id is None:
        raise Forbidden("Only a patient signed in to the portal has portal results.")
    rows = session.execute(
        select(ImagingReport, ImagingProcedure.name)
        .join(ImagingOrder, ImagingOrder.id == ImagingReport.order_id)
        .join(ImagingProcedure, ImagingProcedure.id == ImagingOrder.procedure_id)
        .where(
            ImagingReport.patient_id == actor.patient_id,
            ImagingReport.status == "final",
            ImagingReport.released_at.is_not(None),
            ImagingReport.released_at <= utcnow(),
        )
        .order_by(ImagingReport.final_at.desc())
        .limit(MAX_PORTAL_REPORTS)
    ).all()
    addenda: dict[int, list[str]] = {}
    if rows:
        for report_id, text in session.execute(
            select(ImagingReportAddendum.report_id, ImagingReportAddendum.text)
            .where(ImagingReportAddendum.report_id.in_([report.id for report, _ in rows]))
            .order_by(ImagingReportAddendum.signed_at, ImagingReportAddendum.id)
        ).all():
            addenda.setdefault(report_id, []).append(text)
    record_audit(
        session,
        actor,
        "imaging.portal_reports",
        patient_id=actor.patient_id,
        target_type="patient",
        target_id=actor.patient_id,
        detail=f"{len(rows)} reports",
    )
    session.commit()
    return [
        PortalReport(
            name, report.final_at, report.impression, report.findings, tuple(addenda.get(report.id, ()))
        )
        for report, name in rows
    ]
