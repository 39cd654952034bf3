"""What the laboratory services share: the permissions, loading rows with a plain message when they
are gone, the audit row, parsing what people type, numbering, and the range a result is judged by.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import case, select
from sqlmodel import Session

from hms_app.cds.lab_flags import Limits, age_in_days, select_range
from hms_app.clock import to_local
from hms_app.errors import NotFound, ValidationError
from hms_app.models.laboratory import (
    PRIORITIES,
    REJECTION_REASONS,
    LabOrder,
    LabReferenceRange,
    LabTest,
    Specimen,
)
from hms_app.models.patients import Patient
from hms_app.services.audit import record_audit
from hms_app.services.counters import take_numbers
from hms_app.services.inputs import actor_name, as_id  # noqa: F401  (re-exported for the domain)
from hms_app.services.permissions import Actor

ORDER = "lab.order"
READ = "lab.read"
COLLECT = "lab.collect"
WORK = "lab.work"
VERIFY = "lab.verify"
CATALOGUE = "lab.catalogue"
PORTAL = "portal.self"

TEST_MISSING = "That laboratory test does not exist."
ORDER_MISSING = "That laboratory order does not exist."
SPECIMEN_MISSING = "That specimen does not exist."
RESULT_MISSING = "That result does not exist."
PATIENT_MISSING = "That patient does not exist."

MAX_NUMBER = Decimal("9999999999")  # Numeric(14, 4) holds ten whole digits
LIVE_ORDER_STATUSES = ("ordered", "collected", "received", "resulted")
RELEASED_STATUSES = ("final", "corrected")
# Sorting by urgency in SQL: STAT first.
PRIORITY_RANK = {"stat": 0, "urgent": 1, "routine": 2}


def priority_rank(column):
    return case(*[(column == name, rank) for name, rank in PRIORITY_RANK.items()], else_=3)


def most_urgent(priorities) -> str:
    ranked = sorted((p for p in priorities if p in PRIORITY_RANK), key=PRIORITY_RANK.get)
    return ranked[0] if ranked else "routine"


def audit_lab(
    session: Session,
    actor: Actor | None,
    action: str,
    *,
    patient_id: int | None,
    target_type: str,
    target_id: object,
    detail: str,
    username: str | None = None,
) -> None:
    record_audit(
        session,
        actor,
        action,
        patient_id=patient_id,
        target_type=target_type,
        target_id=target_id,
        detail=detail,
        username=username,
    )


def as_ids(values, *, field: str, label: str, maximum: int) -> list[int]:
    """A list of ids without repeats, in the order given."""
    if not isinstance(values, list | tuple) or not values:
        raise ValidationError(f"Choose at least one {label}.", field=field)
    ids = list(dict.fromkeys(as_id(value, field=field, label=label) for value in values))
    if len(ids) > maximum:
        raise ValidationError(f"Choose at most {maximum} {label}s at once.", field=field)
    return ids


def clean_text(value, *, field: str, label: str, maximum: int, required: bool = False) -> str:
    text = " ".join(str(value or "").split())
    if required and not text:
        raise ValidationError(f"{label} is required.", field=field)
    if len(text) > maximum:
        raise ValidationError(f"{label} can be at most {maximum} characters.", field=field)
    return text


def parse_decimal(value, *, field: str, label: str, required: bool = True) -> Decimal | None:
    """A number typed by a person: ``5.4``, ``5,4`` is refused (ambiguous), at most 4 decimals."""
    text = str(value if value is not None else "").strip()
    if not text:
        if required:
            raise ValidationError(f"{label} is required.", field=field)
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValidationError(f"{label} must be a number (use a point for decimals).", field=field) from None
    if not number.is_finite():
        raise ValidationError(f"{label} must be a number.", field=field)
    if abs(number) > MAX_NUMBER:
        raise ValidationError(f"{label} is too large.", field=field)
    if number.as_tuple().exponent < -4:
        raise ValidationError(f"{label} can have at most 4 decimals.", field=field)
    return number


def check_priority(priority) -> str:
    value = str(priority or "").strip().lower()
    if value not in PRIORITIES:
        raise ValidationError("Choose routine, urgent or STAT.", field="priority")
    return value


def check_reason(reason) -> str:
    value = str(reason or "").strip().lower()
    if value not in REJECTION_REASONS:
        raise ValidationError("Choose why the specimen is rejected.", field="reason")
    return value


def request_reference(session: Session) -> str:
    return f"LR-{take_numbers(session, 'lab_request')[0]:06d}"


def accessions(session: Session, count: int) -> list[str]:
    """Specimen ids for the labels: ``S-00012345``, gap-free and never reused."""
    return [f"S-{n:08d}" for n in take_numbers(session, "lab_specimen", count)]


def get_test(session: Session, test_id, *, active: bool = False) -> LabTest:
    test = session.get(LabTest, test_id) if isinstance(test_id, int) else None
    if test is None:
        raise NotFound(TEST_MISSING)
    if active and not test.active:
        raise ValidationError(f"{test.name} can no longer be ordered.", field="test_ids")
    return test


def get_patient(session: Session, patient_id) -> Patient:
    patient = session.get(Patient, patient_id) if isinstance(patient_id, int) else None
    if patient is None:
        raise NotFound(PATIENT_MISSING)
    return patient


def get_specimen(session: Session, specimen_id, *, lock: bool = False) -> Specimen:
    specimen_id = as_id(specimen_id, field="specimen_id", label="specimen")
    specimen = session.get(Specimen, specimen_id, with_for_update=lock or None)
    if specimen is None:
        raise NotFound(SPECIMEN_MISSING)
    return specimen


def get_order(session: Session, order_id, *, lock: bool = False) -> LabOrder:
    order_id = as_id(order_id, field="order_id", label="order")
    order = session.get(LabOrder, order_id, with_for_update=lock or None)
    if order is None:
        raise NotFound(ORDER_MISSING)
    return order


def patient_name(family: str, given: str) -> str:
    """How the laboratory's lists name a patient: ``OKAFOR, Ada``."""
    return f"{(family or '').upper()}, {given or ''}".strip(", ")


def collection_day(moment: datetime | None) -> date | None:
    local = to_local(moment)
    return local.date() if local else None


def limits_of(row: LabReferenceRange) -> Limits:
    return Limits(
        sex=row.sex,
        age_min_days=row.age_min_days,
        age_max_days=row.age_max_days,
        low=row.low,
        high=row.high,
        critical_low=row.critical_low,
        critical_high=row.critical_high,
        delta_limit=row.delta_limit,
        normal_text=row.normal_text,
    )


def test_ranges(session: Session, test_id: int) -> list[Limits]:
    rows = session.execute(select(LabReferenceRange).where(LabReferenceRange.test_id == test_id)).scalars()
    return [limits_of(row) for row in rows]


def limits_for(ranges: list[Limits], patient: Patient, at: datetime | None) -> Limits | None:
    """Of a test's ``ranges``, the one that applies to ``patient`` on the day ``at`` (collection)."""
    day = collection_day(at) or patient.birth_date
    return select_range(ranges, sex=patient.sex, age_days=age_in_days(patient.birth_date, day))


def range_for(session: Session, test_id: int, patient: Patient, at: datetime | None) -> Limits | None:
    """The range that applies to ``patient`` for this test on the day ``at`` (collection)."""
    return limits_for(test_ranges(session, test_id), patient, at)
