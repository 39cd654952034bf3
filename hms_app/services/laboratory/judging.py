"""Judging a result, the same way whoever entered it: the value read against the test's type, the
flag against the range for the patient's sex and age at collection, the delta check against the
patient's previous released value, and the critical alert a LL/HH flag raises. Hand entry
(``results``) looks these up one result at a time; an analyser's message (``analyser``) looks them
up for all its results at once and judges each with the same functions."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from hms_app.cds.lab_flags import (
    CRITICAL_FLAGS,
    Limits,
    coded_flag,
    critical_summary,
    delta_exceeded,
    format_number,
    numeric_flag,
    reference_text,
)
from hms_app.errors import ValidationError
from hms_app.models.laboratory import LabOrder, LabRequest, LabResult, LabTest, Specimen
from hms_app.models.patients import Patient
from hms_app.services.laboratory import critical
from hms_app.services.laboratory.common import RELEASED_STATUSES, parse_decimal, range_for


def display_value(result: LabResult, decimals: int) -> str:
    return (
        format_number(result.value_numeric, decimals)
        if result.value_numeric is not None
        else (result.value_text or "")
    )


def parse_value(test: LabTest, value) -> tuple[Decimal | None, str | None]:
    """The number (numeric tests) or the text (coded and text tests) of a value as entered."""
    label = f"The {test.short_name} result"
    if test.result_type == "numeric":
        return parse_decimal(value, field="value", label=label), None
    text = str(value if value is not None else "").strip()
    if not text:
        raise ValidationError(f"{label} is required.", field="value")
    if test.result_type == "coded":
        choices = {c.strip().casefold(): c.strip() for c in (test.choices or "").split("|") if c.strip()}
        if text.casefold() not in choices:
            raise ValidationError(f"Choose one of: {', '.join(choices.values())}.", field="value")
        return None, choices[text.casefold()]
    if len(text) > 500:
        raise ValidationError(f"{label} can be at most 500 characters.", field="value")
    return None, text


def _baseline():
    # The delta check's baseline: released, current, numeric (a result being corrected is no
    # longer current by then).
    return (
        LabResult.status.in_(RELEASED_STATUSES),
        LabResult.superseded_by_id.is_(None),
        LabResult.value_numeric.is_not(None),
    )


def previous_value(session: Session, patient_id: int, test_id: int) -> Decimal | None:
    """The patient's latest released, current numeric result of the test."""
    statement = select(LabResult.value_numeric).where(
        LabResult.patient_id == patient_id, LabResult.test_id == test_id, *_baseline()
    )
    return session.execute(
        statement.order_by(LabResult.resulted_at.desc(), LabResult.id.desc()).limit(1)
    ).scalar()


def previous_value_column(patient_id, test_id):
    """``previous_value`` as a column of a bigger query, for the patient and test of each row."""
    earlier = aliased(LabResult)
    return (
        select(earlier.value_numeric)
        .where(
            earlier.patient_id == patient_id,
            earlier.test_id == test_id,
            earlier.status.in_(RELEASED_STATUSES),
            earlier.superseded_by_id.is_(None),
            earlier.value_numeric.is_not(None),
        )
        .order_by(earlier.resulted_at.desc(), earlier.id.desc())
        .limit(1)
        .correlate_except(earlier)
        .scalar_subquery()
    )


def judge(result: LabResult, test: LabTest, limits: Limits | None, previous: Decimal | None) -> None:
    """Set the flag, the delta flag and the reference text of a result from its value, the range
    that applies (``limits``) and the previous released value (``previous``)."""
    if result.value_numeric is not None:
        result.flag = numeric_flag(result.value_numeric, limits) or None
        result.delta_flag = delta_exceeded(result.value_numeric, previous, limits)
    else:
        result.flag = coded_flag(result.value_text or "", limits) or None
        result.delta_flag = False
    result.reference_text = reference_text(limits, test.decimals) or None


def judge_one(
    session: Session, result: LabResult, test: LabTest, patient: Patient, specimen: Specimen
) -> None:
    """``judge`` one result, looking up its range and previous value."""
    limits = range_for(session, test.id, patient, specimen.collected_at or result.resulted_at)
    previous = previous_value(session, patient.id, test.id) if result.value_numeric is not None else None
    judge(result, test, limits, previous)


def alert_if_critical(session: Session, result: LabResult, test: LabTest, order: LabOrder) -> bool:
    """Raise the critical alert of a LL/HH result to the clinician who ordered it, in the caller's
    transaction; whether it was critical."""
    if result.flag not in CRITICAL_FLAGS:
        return False
    request = session.get(LabRequest, order.request_id)
    critical.raise_alert(
        session,
        source_type="lab_result",
        source_id=result.id,
        patient_id=result.patient_id,
        summary=critical_summary(  # "K 6.9 mmol/L (HH)": the name the lab screens use
            test.short_name, display_value(result, test.decimals), result.unit or "", result.flag
        ),
        recipient_id=request.ordered_by_id,
        department_id=request.department_id,
    )
    return True
