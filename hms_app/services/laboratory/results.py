"""Results: entered by hand on the worklist or received from an analyser, flagged against the
reference range for the patient's sex and age at collection, delta-checked against the previous
released result, verified by a second person and released into the chart (and, after the test's
portal delay, the portal); a correction supersedes a released result with a new row.

Rules written down:

* a numeric value is a plain decimal number (at most 4 decimals); ``<0.01``-style values are
  refused: enter the limit itself and say so in the comment. A coded value must be one of the
  test's choices (any case); a text value is at most 500 characters;
* the flag comes from ``hms_app.cds.lab_flags`` (edges written down there) with the range for the
  patient's sex and age in days on the day of collection; a critical flag (LL/HH) raises a
  critical alert to the ordering clinician in the same transaction, already when the result is
  entered (a critical value is phoned before it is verified);
* until it is verified a result can be entered again (the row is replaced, the audit keeps the
  old value); a released result changes only by ``correct_result``;
* there is no auto-verification: every result is verified by someone holding ``lab.verify``
  who did not enter it by hand (an analyser's result may be verified by any of them);
* release copies a numeric result into the chart's ``observation`` table (category
  "laboratory", its LOINC code, effective at collection) so that population health counts it; a
  correction marks the copy it replaces ``entered-in-error`` at once and its own copy is
  ``corrected`` when the correction is verified.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.errors import Forbidden, NotFound, ValidationError
from hms_app.models.emr import Observation
from hms_app.models.laboratory import LabOrder, LabRequest, LabResult, LabTest, Specimen
from hms_app.models.patients import Patient
from hms_app.services import live
from hms_app.services.laboratory.analyser import (
    AnalyserReading,
    ReadingRefused,
    UnknownSpecimen,
    UnknownTest,
    record_analyser_results,
)
from hms_app.services.laboratory.common import (
    RELEASED_STATUSES,
    RESULT_MISSING,
    VERIFY,
    WORK,
    actor_name,
    as_id,
    as_ids,
    audit_lab,
    clean_text,
    get_order,
)
from hms_app.services.laboratory.judging import alert_if_critical, display_value, judge_one, parse_value
from hms_app.services.laboratory.rows import ResultRow
from hms_app.services.permissions import Actor, authorize

__all__ = [
    "UnknownSpecimen",
    "UnknownTest",
    "correct_result",
    "display_value",
    "enter_result",
    "record_analyser_result",
    "verify_results",
]

MAX_VERIFY = 200


def result_row(result: LabResult, test: LabTest) -> ResultRow:
    return ResultRow(
        id=result.id,
        order_id=result.order_id,
        test_code=test.code,
        short_name=test.short_name,
        value=display_value(result, test.decimals),
        unit=result.unit or "",
        flag=result.flag or "",
        delta_flag=bool(result.delta_flag),
        reference_text=result.reference_text or "",
        status=result.status,
        entered_by=result.entered_by,
        resulted_at=result.resulted_at,
    )


def _write(
    session: Session,
    *,
    order: LabOrder,
    value,
    comment: str,
    entered_by: str,
    resulted_at: datetime,
) -> tuple[LabResult, LabTest, str]:
    """Store (or replace, before verification) the result typed for an order; returns it, its test
    and what it replaced (for the audit). An analyser's results are stored by ``analyser``."""
    test = session.get(LabTest, order.test_id)
    if order.status == "cancelled":
        raise ValidationError("This order was cancelled.", field="order_id")
    if order.status in ("ordered", "collected"):
        raise ValidationError("The specimen has not been received in the laboratory yet.", field="order_id")
    if order.status == "released":
        raise ValidationError("This result was released: correct it instead.", field="order_id")
    number, text = parse_value(test, value)
    specimen = session.get(Specimen, order.specimen_id)
    patient = session.get(Patient, order.patient_id)
    result = session.execute(
        select(LabResult).where(LabResult.order_id == order.id, LabResult.superseded_by_id.is_(None))
    ).scalar_one_or_none()
    replaced = ""
    if result is None:
        result = LabResult(
            order_id=order.id, patient_id=order.patient_id, test_id=test.id, entered_by=entered_by
        )
        session.add(result)
    else:
        replaced = f"; replaced {display_value(result, test.decimals)} by {result.entered_by}"
    result.value_numeric, result.value_text = number, text
    result.unit = test.unit if number is not None else None
    result.status = "preliminary"
    result.source = "manual"
    result.resulted_at = resulted_at
    result.entered_by = entered_by
    result.comment = comment or None
    judge_one(session, result, test, patient, specimen)
    order.status = "resulted"
    session.flush()
    return result, test, replaced


def enter_result(
    session: Session, *, actor: Actor, order_id: int, value: str, comment: str = ""
) -> ResultRow:
    """Enter (or, before verification, replace) the result of a received order (``lab.work``)."""
    authorize(actor, WORK)
    order = get_order(session, order_id, lock=True)
    comment = clean_text(comment, field="comment", label="Comment", maximum=300)
    result, test, replaced = _write(
        session,
        order=order,
        value=value,
        comment=comment,
        entered_by=actor_name(actor),
        resulted_at=utcnow(),
    )
    alerted = alert_if_critical(session, result, test, order)
    audit_lab(
        session,
        actor,
        "lab.result",
        patient_id=order.patient_id,
        target_type="lab_result",
        target_id=result.id,
        detail=f"{test.code} {display_value(result, test.decimals)} {result.unit or ''} flag={result.flag or '-'}"
        + (" delta" if result.delta_flag else "")
        + replaced,
    )
    session.commit()
    live.publish("lab", order.patient_id)
    if alerted:
        live.publish("critical", order.patient_id)
    return result_row(result, test)


def record_analyser_result(
    session: Session,
    *,
    accession: str,
    test_code: str,
    value: str,
    unit: str | None,
    observed_at: datetime | None,
    sender: str,
) -> LabResult:
    """Store an analyser's result for the order of ``test_code`` on the specimen ``accession`` as
    preliminary: ``analyser.record_analyser_results`` with one reading (NO permission check, NO
    commit; see there). Raises UnknownSpecimen, UnknownTest or ValidationError."""
    reading = AnalyserReading(accession, test_code, value, unit, observed_at)
    try:
        (result,) = record_analyser_results(session, readings=[reading], sender=sender)
    except ReadingRefused as refused:
        raise refused.error from None
    return result


def _copy_to_chart(
    session: Session, result: LabResult, test: LabTest, order: LabOrder, verifier: str
) -> None:
    if result.value_numeric is None:
        return
    specimen = session.get(Specimen, order.specimen_id)
    request = session.get(LabRequest, order.request_id)
    session.add(
        Observation(
            patient_id=result.patient_id,
            encounter_id=request.encounter_id,
            category="laboratory",
            code=test.code,
            display=test.name[:120],
            value=float(result.value_numeric),
            unit=(result.unit or "")[:20],
            effective_at=specimen.collected_at or result.resulted_at,
            recorded_by=verifier,
            status=result.status,
        )
    )


def verify_results(session: Session, *, actor: Actor, result_ids: list[int]) -> int:
    """Verify and release results someone else entered (``lab.verify``); returns how many. All or
    none: one result that may not be verified refuses the whole call."""
    authorize(actor, VERIFY)
    ids = as_ids(result_ids, field="result_ids", label="result", maximum=MAX_VERIFY)
    results = list(
        session.execute(
            select(LabResult).where(LabResult.id.in_(ids)).order_by(LabResult.id).with_for_update()
        ).scalars()
    )
    if len(results) != len(ids):
        raise NotFound(RESULT_MISSING)
    me = actor_name(actor)
    for result in results:
        if result.status != "preliminary" or result.superseded_by_id is not None:
            raise ValidationError("One of the results was already verified.", field="result_ids")
        if result.source == "manual" and result.entered_by == me:
            raise Forbidden("You entered one of these results yourself: someone else must verify it.")
    now = utcnow()
    corrections = set(
        session.execute(
            select(LabResult.superseded_by_id).where(LabResult.superseded_by_id.in_(ids))
        ).scalars()
    )
    for result in results:
        order = session.get(LabOrder, result.order_id)
        test = session.get(LabTest, result.test_id)
        result.status = "corrected" if result.id in corrections else "final"
        result.verified_at = now
        result.verified_by = me
        result.released_at = now
        result.portal_visible_from = now + timedelta(hours=test.portal_delay_hours)
        order.status = "released"
        _copy_to_chart(session, result, test, order, me)
        audit_lab(
            session,
            actor,
            "lab.verify",
            patient_id=result.patient_id,
            target_type="lab_result",
            target_id=result.id,
            detail=f"{test.code} {display_value(result, test.decimals)} {result.unit or ''} {result.status}",
        )
    session.commit()
    for patient_id in sorted({r.patient_id for r in results}):
        live.publish("lab", patient_id)
    return len(results)


def correct_result(session: Session, *, actor: Actor, result_id: int, value: str, comment: str) -> ResultRow:
    """Correct a released result (``lab.work``): a new row supersedes it, to be verified again.
    The comment (why) is required. The old value leaves the chart's observations at once."""
    authorize(actor, WORK)
    old = session.get(LabResult, as_id(result_id, field="result_id", label="result"), with_for_update=True)
    if old is None:
        raise NotFound(RESULT_MISSING)
    comment = clean_text(
        comment, field="comment", label="Reason for the correction", maximum=300, required=True
    )
    if old.status not in RELEASED_STATUSES or old.superseded_by_id is not None:
        raise ValidationError("Only a released, current result can be corrected.", field="result_id")
    order = get_order(session, old.order_id, lock=True)
    test = session.get(LabTest, old.test_id)
    number, text = parse_value(test, value)
    specimen = session.get(Specimen, order.specimen_id)
    patient = session.get(Patient, order.patient_id)
    # The current-result index allows one row per order without a successor: the old row points
    # at itself for the moment the new row is inserted, then at the new row.
    old.superseded_by_id = old.id
    session.flush()
    new = LabResult(
        order_id=order.id,
        patient_id=order.patient_id,
        test_id=test.id,
        value_numeric=number,
        value_text=text,
        unit=test.unit if number is not None else None,
        status="preliminary",
        source="manual",
        resulted_at=utcnow(),
        entered_by=actor_name(actor),
        comment=comment,
    )
    session.add(new)
    session.flush()
    old.superseded_by_id = new.id
    judge_one(session, new, test, patient, specimen)
    order.status = "resulted"
    if old.value_numeric is not None:
        session.execute(
            update(Observation)
            .where(
                Observation.patient_id == old.patient_id,
                Observation.category == "laboratory",
                Observation.code == test.code,
                Observation.effective_at == (specimen.collected_at or old.resulted_at),
                Observation.status.in_(RELEASED_STATUSES),
            )
            .values(status="entered-in-error")
        )
    session.flush()
    alerted = alert_if_critical(session, new, test, order)
    audit_lab(
        session,
        actor,
        "lab.correct",
        patient_id=order.patient_id,
        target_type="lab_result",
        target_id=new.id,
        detail=f"{test.code} {display_value(old, test.decimals)} -> {display_value(new, test.decimals)} "
        f"{new.unit or ''} (result {old.id}): {comment}",
    )
    session.commit()
    live.publish("lab", order.patient_id)
    if alerted:
        live.publish("critical", order.patient_id)
    return result_row(new, test)
