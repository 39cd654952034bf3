"""Specimens: collection at the bedside (which posts the request's charges), reception in the
laboratory by scanning the label, rejection with a reason (a new pending specimen asks for a new
sample and the chart shows why), the Code 128 label, and the collection and reception lists.

Charges, decided here and posted through billing's ``post_charge`` in the collection's own
transaction (a charge that fails leaves the specimen uncollected):

* a single test is charged by its price code, once per order (``source_type`` "lab",
  ``source_id`` the order);
* a panel is charged once per request by the panel's price code, under its first order's id, when
  the first of its specimens is collected; a panel without a price code charges its members
  by theirs;
* re-collecting a rejected specimen charges nothing again (the charge key is the order, and
  billing answers a repeated key with the charge already posted); cancelled orders are not charged.

The collection and reception lists are work boards: like the clinic and ward boards they are not
audited on every refresh; the label (which prints a patient's name) is.
"""

from __future__ import annotations

import base64
import html
from collections import defaultdict
from datetime import datetime, time

from sqlalchemy import and_, case, delete, func, or_, select
from sqlmodel import Session

from hms_app.clock import local_today, utcnow
from hms_app.errors import ValidationError
from hms_app.models.laboratory import REJECTION_REASONS, LabOrder, LabRequest, LabResult, LabTest, Specimen
from hms_app.models.patients import Patient
from hms_app.services import live
from hms_app.services.audit import audit_read
from hms_app.services.billing.charges import post_charge
from hms_app.services.inventory.barcodes import code128_svg
from hms_app.services.laboratory import critical
from hms_app.services.laboratory.common import (
    COLLECT,
    LIVE_ORDER_STATUSES,
    WORK,
    accessions,
    actor_name,
    audit_lab,
    check_reason,
    clean_text,
    get_specimen,
    most_urgent,
    patient_name,
    priority_rank,
)
from hms_app.services.laboratory.rows import SpecimenLabel, SpecimenPage, SpecimenRow
from hms_app.services.permissions import Actor, authorize
from hms_app.settings import get_settings

MAX_LIST = 200


def _live_orders(session: Session, specimen_id: int) -> list[LabOrder]:
    return list(
        session.execute(
            select(LabOrder)
            .where(LabOrder.specimen_id == specimen_id, LabOrder.status.in_(LIVE_ORDER_STATUSES))
            .order_by(LabOrder.id)
        ).scalars()
    )


def _specimen_rows(session: Session, specimens: list[Specimen]) -> list[SpecimenRow]:
    """Rows for these specimens, with their live orders' tests and most urgent priority."""
    if not specimens:
        return []
    ids = [s.id for s in specimens]
    tests: dict[int, list[str]] = defaultdict(list)
    priorities: dict[int, list[str]] = defaultdict(list)
    for specimen_id, short_name, priority in session.execute(
        select(LabOrder.specimen_id, LabTest.short_name, LabOrder.priority)
        .join(LabTest, LabTest.id == LabOrder.test_id)
        .where(LabOrder.specimen_id.in_(ids), LabOrder.status != "cancelled")
        .order_by(LabOrder.specimen_id, LabOrder.id)
    ).all():
        tests[specimen_id].append(short_name)
        priorities[specimen_id].append(priority)
    patients = {
        row.id: row
        for row in session.execute(
            select(Patient.id, Patient.family_name, Patient.given_name, Patient.mrn).where(
                Patient.id.in_({s.patient_id for s in specimens})
            )
        ).all()
    }
    references = dict(
        session.execute(
            select(LabRequest.id, LabRequest.reference).where(
                LabRequest.id.in_({s.request_id for s in specimens})
            )
        ).all()
    )
    rows = []
    for s in specimens:
        patient = patients[s.patient_id]
        rows.append(
            SpecimenRow(
                id=s.id,
                accession=s.accession,
                patient_id=s.patient_id,
                patient_name=patient_name(patient.family_name, patient.given_name),
                mrn=patient.mrn,
                specimen_type=s.specimen_type,
                container=s.container,
                status=s.status,
                priority=most_urgent(priorities[s.id]),
                tests=", ".join(tests[s.id]),
                collected_at=s.collected_at,
                collected_by=s.collected_by or "",
                received_at=s.received_at,
                rejection_reason=s.rejection_reason or "",
                request_reference=references.get(s.request_id, ""),
            )
        )
    return rows


def specimen_row(session: Session, specimen: Specimen) -> SpecimenRow:
    return _specimen_rows(session, [specimen])[0]


def _charge(session: Session, actor: Actor, specimen: Specimen, orders: list[LabOrder]) -> list[str]:
    """Post the charges this collection owes (see the module docstring); the codes posted."""
    tests = {
        t.id: t
        for t in session.execute(
            select(LabTest).where(
                LabTest.id.in_({o.test_id for o in orders} | {o.panel_id for o in orders if o.panel_id})
            )
        ).scalars()
    }
    posted = []
    panels_done = set()
    for order in orders:
        panel = tests.get(order.panel_id) if order.panel_id else None
        if panel is not None and panel.price_code:
            if panel.id in panels_done:
                continue
            panels_done.add(panel.id)
            first = session.execute(
                select(func.min(LabOrder.id)).where(
                    LabOrder.request_id == order.request_id, LabOrder.panel_id == panel.id
                )
            ).scalar_one()
            code, source_id = panel.price_code, first
        else:
            code, source_id = tests[order.test_id].price_code, order.id
        if not code:
            continue
        post_charge(
            session,
            actor=actor,
            patient_id=specimen.patient_id,
            code=code,
            source_type="lab",
            source_id=source_id,
            commit=False,
        )
        posted.append(code)
    return posted


def collect_specimen(session: Session, *, actor: Actor, specimen_id: int) -> SpecimenRow:
    """Record that the specimen was taken, by whom and when (``lab.collect``), and post the charge
    of each test it carries (panels: the panel's price) in the same transaction."""
    authorize(actor, COLLECT)
    specimen = get_specimen(session, specimen_id, lock=True)
    if specimen.status != "pending":
        raise ValidationError(
            f"Specimen {specimen.accession} was already {specimen.status}.", field="specimen_id"
        )
    orders = [o for o in _live_orders(session, specimen.id) if o.status == "ordered"]
    if not orders:
        raise ValidationError(
            f"Specimen {specimen.accession} has no tests left to collect.", field="specimen_id"
        )
    now = utcnow()
    specimen.status = "collected"
    specimen.collected_at = now
    specimen.collected_by = actor_name(actor)
    for order in orders:
        order.status = "collected"
    session.flush()
    codes = _charge(session, actor, specimen, orders)
    audit_lab(
        session,
        actor,
        "lab.collect",
        patient_id=specimen.patient_id,
        target_type="specimen",
        target_id=specimen.id,
        detail=f"{specimen.accession} {specimen.container}; charged: {', '.join(codes) or 'nothing'}",
    )
    session.commit()
    live.publish("lab", specimen.patient_id)
    if codes:
        live.publish(live.BILLING, specimen.patient_id)
    return specimen_row(session, specimen)


def receive_specimen(session: Session, *, actor: Actor, scan: str) -> SpecimenRow:
    """Receive a collected specimen in the laboratory by its scanned accession (``lab.work``)."""
    authorize(actor, WORK)
    accession = "".join(str(scan or "").split()).upper()
    if not accession or len(accession) > 20:
        raise ValidationError("Scan the specimen's label.", field="scan")
    specimen = session.execute(
        select(Specimen).where(Specimen.accession == accession).with_for_update()
    ).scalar_one_or_none()
    if specimen is None:
        raise ValidationError(f"No specimen has the label {accession}.", field="scan")
    if specimen.status == "pending":
        raise ValidationError(f"Specimen {accession} has not been collected yet.", field="scan")
    if specimen.status == "rejected":
        raise ValidationError(
            f"Specimen {accession} was rejected; a new one is to be collected.", field="scan"
        )
    if specimen.status == "received":
        raise ValidationError(f"Specimen {accession} was already received.", field="scan")
    now = utcnow()
    specimen.status = "received"
    specimen.received_at = now
    specimen.received_by = actor_name(actor)
    for order in _live_orders(session, specimen.id):
        if order.status == "collected":
            order.status = "received"
    audit_lab(
        session,
        actor,
        "lab.receive",
        patient_id=specimen.patient_id,
        target_type="specimen",
        target_id=specimen.id,
        detail=accession,
    )
    session.commit()
    live.publish("lab", specimen.patient_id)
    return specimen_row(session, specimen)


def reject_specimen(
    session: Session, *, actor: Actor, specimen_id: int, reason: str, note: str = ""
) -> SpecimenRow:
    """Reject a collected or received specimen with a reason from REJECTION_REASONS (``lab.work``);
    returns the NEW pending specimen that re-collects it (its orders move to it). Results entered
    on it and not yet released are withdrawn (the audit row keeps their values); a specimen with
    a released result cannot be rejected (correct the result instead)."""
    authorize(actor, WORK)
    specimen = get_specimen(session, specimen_id, lock=True)
    reason = check_reason(reason)
    note = clean_text(note, field="note", label="Note", maximum=300)
    if specimen.status not in ("collected", "received"):
        what = "has not been collected" if specimen.status == "pending" else "was already rejected"
        raise ValidationError(f"Specimen {specimen.accession} {what}.", field="specimen_id")
    orders = _live_orders(session, specimen.id)
    if not orders:
        raise ValidationError(
            f"Specimen {specimen.accession} has no tests waiting for it: there is nothing to re-collect.",
            field="specimen_id",
        )
    released = (
        session.execute(
            select(LabOrder.id)
            .where(LabOrder.specimen_id == specimen.id, LabOrder.status == "released")
            .limit(1)
        ).first()
        or session.execute(  # a correction waiting for verification: its original was released
            select(LabResult.id)
            .where(LabResult.order_id.in_([o.id for o in orders]), LabResult.released_at.is_not(None))
            .limit(1)
        ).first()
    )
    if released:
        raise ValidationError(
            f"Specimen {specimen.accession} already has released results: correct them instead.",
            field="specimen_id",
        )
    withdrawn, result_ids = [], []
    for result_id, order_id, value_numeric, value_text in session.execute(
        select(LabResult.id, LabResult.order_id, LabResult.value_numeric, LabResult.value_text).where(
            LabResult.order_id.in_([o.id for o in orders])
        )
    ).all():
        withdrawn.append(f"order {order_id}: {value_text if value_numeric is None else value_numeric}")
        result_ids.append(result_id)
    # A critical value measured on a specimen that is no longer trusted is not a finding to phone
    # through: its open alert leaves the board and the banners with the result.
    critical.withdraw_alerts(
        session,
        actor=actor,
        source_type="lab_result",
        source_ids=result_ids,
        why=f"specimen {specimen.accession} rejected ({REJECTION_REASONS[reason]})",
    )
    session.execute(delete(LabResult).where(LabResult.order_id.in_([o.id for o in orders])))
    now = utcnow()
    specimen.status = "rejected"
    specimen.rejected_at = now
    specimen.rejected_by = actor_name(actor)
    specimen.rejection_reason = reason
    specimen.rejection_note = note or None
    replacement = Specimen(
        accession=accessions(session, 1)[0],
        request_id=specimen.request_id,
        patient_id=specimen.patient_id,
        specimen_type=specimen.specimen_type,
        container=specimen.container,
        status="pending",
        replaces_id=specimen.id,
    )
    session.add(replacement)
    session.flush()
    for order in orders:
        order.specimen_id = replacement.id
        order.status = "ordered"
    audit_lab(
        session,
        actor,
        "lab.reject",
        patient_id=specimen.patient_id,
        target_type="specimen",
        target_id=specimen.id,
        detail=f"{specimen.accession}: {REJECTION_REASONS[reason]}"
        + (f" ({note})" if note else "")
        + f"; re-collect as {replacement.accession}"
        + (f"; withdrawn results: {'; '.join(withdrawn)}" if withdrawn else ""),
    )
    session.commit()
    live.publish("lab", specimen.patient_id)
    return specimen_row(session, replacement)


def specimen_label_svg(session: Session, *, actor: Actor, specimen_id: int) -> str:
    """The specimen's label as SVG: a Code 128 of the accession with the patient's name, MRN,
    birth date, container and tests (``lab.collect``). Printing it is audited."""
    return specimen_label(session, actor=actor, specimen_id=specimen_id).svg


def specimen_label(session: Session, *, actor: Actor, specimen_id: int) -> SpecimenLabel:
    """The label's SVG (as ``specimen_label_svg``) with the specimen's row, the patient's birth date
    and sex: what the printable label page shows (``lab.collect``). Audited as the label."""
    authorize(actor, COLLECT)
    specimen = get_specimen(session, specimen_id)
    row = specimen_row(session, specimen)
    patient = session.get(Patient, specimen.patient_id)
    barcode = base64.b64encode(code128_svg(specimen.accession).encode()).decode()
    lines = [
        (f"{row.patient_name}", 3.2, "bold"),
        (f"{patient.mrn}  DOB {patient.birth_date.isoformat()}  {patient.sex[:1].upper()}", 2.6, "normal"),
        (f"{specimen.container} · {row.priority.upper()}", 2.6, "normal"),
        (row.tests[:60], 2.4, "normal"),
    ]
    texts = "".join(
        f'<text x="2" y="{3.6 + 3.3 * n:.1f}" font-family="sans-serif" font-size="{size}" '
        f'font-weight="{weight}">{html.escape(text)}</text>'
        for n, (text, size, weight) in enumerate(lines)
    )
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="62mm" height="32mm" viewBox="0 0 62 32">'
        '<rect width="62" height="32" fill="white"/>'
        f"{texts}"
        f'<image x="2" y="14.5" width="58" height="17" preserveAspectRatio="xMidYMid meet" '
        f'href="data:image/svg+xml;base64,{barcode}"/>'
        "</svg>"
    )
    audit_read(
        session,
        actor,
        "lab.label",
        patient_id=specimen.patient_id,
        target_type="specimen",
        target_id=specimen.id,
        detail=specimen.accession,
    )
    return SpecimenLabel(svg=svg, specimen=row, birth_date=patient.birth_date, sex=patient.sex)


def collection_list(session: Session, *, actor: Actor, patient_id: int | None = None) -> list[SpecimenRow]:
    """Pending specimens waiting to be collected, STAT first then oldest request first
    (``lab.collect``); one patient's when ``patient_id`` is given (audited as a read of their
    record). At most 200."""
    authorize(actor, COLLECT, patient_id=patient_id)
    waiting = (
        select(LabOrder.specimen_id, func.min(priority_rank(LabOrder.priority)).label("rank"))
        .where(LabOrder.status == "ordered")
        .group_by(LabOrder.specimen_id)
        .subquery()
    )
    statement = (
        select(Specimen)
        .join(waiting, waiting.c.specimen_id == Specimen.id)
        .join(LabRequest, LabRequest.id == Specimen.request_id)
        .where(Specimen.status == "pending")
    )
    if patient_id is not None:
        statement = statement.where(Specimen.patient_id == patient_id)
    specimens = list(
        session.execute(
            statement.order_by(waiting.c.rank, LabRequest.ordered_at, Specimen.id).limit(MAX_LIST)
        ).scalars()
    )
    rows = _specimen_rows(session, specimens)
    if patient_id is not None:
        audit_read(
            session, actor, "lab.collection_list", patient_id=patient_id, detail=f"{len(rows)} specimens"
        )
    return rows


def reception_list(session: Session, *, actor: Actor, page: int = 0, page_size: int = 50) -> SpecimenPage:
    """Collected specimens not yet received (STAT, then urgent, then routine; oldest collection
    first within each), then those received or rejected today, latest first (``lab.work``).
    ``waiting`` counts every specimen still to be received, not only this page's."""
    authorize(actor, WORK)
    page = max(0, int(page) if isinstance(page, int) else 0)
    page_size = max(1, min(int(page_size) if isinstance(page_size, int) else 50, MAX_LIST))
    today_start = datetime.combine(local_today(), time.min, tzinfo=get_settings().tz)
    has_live = (
        select(LabOrder.id)
        .where(LabOrder.specimen_id == Specimen.id, LabOrder.status.in_(LIVE_ORDER_STATUSES))
        .exists()
    )
    handled_at = func.coalesce(Specimen.received_at, Specimen.rejected_at)
    condition = or_(
        and_(Specimen.status == "collected", has_live),
        and_(Specimen.status == "received", Specimen.received_at >= today_start),
        and_(Specimen.status == "rejected", Specimen.rejected_at >= today_start),
    )
    total = session.execute(select(func.count(Specimen.id)).where(condition)).scalar_one()
    waiting = Specimen.status == "collected"
    waiting_total = session.execute(select(func.count(Specimen.id)).where(waiting, has_live)).scalar_one()
    # A STAT specimen is received first whichever page it would fall on by collection time.
    urgency = (
        select(func.min(case((LabOrder.priority == "stat", 0), (LabOrder.priority == "urgent", 1), else_=2)))
        .where(LabOrder.specimen_id == Specimen.id, LabOrder.status.in_(LIVE_ORDER_STATUSES))
        .scalar_subquery()
    )
    specimens = list(
        session.execute(
            select(Specimen)
            .where(condition)
            .order_by(
                case((waiting, 0), else_=1),
                case((waiting, urgency)),
                case((waiting, Specimen.collected_at)),
                handled_at.desc(),
                Specimen.id,
            )
            .offset(page * page_size)
            .limit(page_size)
        ).scalars()
    )
    return SpecimenPage(rows=_specimen_rows(session, specimens), total=int(total), waiting=int(waiting_total))
