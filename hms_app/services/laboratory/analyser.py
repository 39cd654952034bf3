"""Results from analysers: all the results of one message stored together, in the caller's
transaction, with what they need looked up for all of them at once.

An analyser's message carries a few results, often for one specimen. Stored one at a time, each
result costs a dozen queries (its specimen, its order, its test, the patient, the ranges, the
previous value, the current result); here the message costs one query whatever its size: the
specimens of the accessions sent with their live orders of the codes sent, each with its test,
its patient, its current result, the test's ranges and the patient's previous released value,
specimens and orders locked. A specimen without an order of any code sent is then looked up
alone, to tell an unknown specimen from a missing order. Each result is then checked, converted
and judged in the message's order with the same functions as a result entered by hand
(``judging``), so a message's first bad result is the one reported, and flags, delta checks,
critical alerts and audit rows are those of hand entry.

NO permission check (the listener is trusted by network configuration) and NO commit: the
caller stores the HL7 message in the same transaction and commits it, or rolls everything back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.exc import MultipleResultsFound
from sqlmodel import Session

from hms_app.cds.lab_flags import Limits
from hms_app.clock import utcnow
from hms_app.errors import DomainError, NotFound, ValidationError
from hms_app.models.laboratory import LabOrder, LabReferenceRange, LabResult, LabTest, Specimen
from hms_app.models.patients import Patient
from hms_app.services.audit import audit_row, record_audits
from hms_app.services.laboratory.common import limits_for, limits_of, parse_decimal
from hms_app.services.laboratory.judging import (
    alert_if_critical,
    display_value,
    judge,
    parse_value,
    previous_value_column,
)
from hms_app.services.laboratory.units import convert


class UnknownSpecimen(NotFound):
    """No specimen has that accession (or it was rejected)."""


class UnknownTest(NotFound):
    """No test has that code, or the specimen carries no order of it."""


class Reading(Protocol):
    """One result as an analyser sent it (``hl7_lab.Observation`` is one)."""

    accession: str
    test_code: str
    value: str
    unit: str | None
    observed_at: datetime | None


@dataclass(frozen=True)
class AnalyserReading:
    accession: str
    test_code: str
    value: str
    unit: str | None
    observed_at: datetime | None


class ReadingRefused(Exception):
    """Reading ``number`` (from 1, in the order sent) cannot be stored; ``error`` says why
    (UnknownSpecimen, UnknownTest, ValidationError). Nothing of the batch may be kept."""

    def __init__(self, number: int, error: DomainError):
        super().__init__(f"reading {number}: {error}")
        self.number, self.error = number, error


@dataclass
class _Order:
    order: LabOrder
    test: LabTest
    patient: Patient
    current: LabResult | None  # its result not yet superseded, if it has one
    ranges: list[Limits]  # its test's reference ranges
    previous: Decimal | None  # the patient's previous released value of the test (the delta check's)


def _accession(value) -> str:
    return "".join(str(value or "").split()).upper()


def _sender(value) -> str:
    return " ".join(str(value or "analyser").split())[:60] or "analyser"


# Built once: constructing a statement costs more than running it for a message of a few results.
_SPECIMENS = (
    select(Specimen)
    .where(Specimen.accession.in_(bindparam("accessions", expanding=True)))
    .order_by(Specimen.id)
    .with_for_update()
)
_ORDERS = (
    select(
        LabOrder,
        LabTest,
        Patient,
        LabResult,
        LabReferenceRange,
        previous_value_column(LabOrder.patient_id, LabOrder.test_id),
        Specimen,
    )
    .join(Specimen, Specimen.id == LabOrder.specimen_id)
    .join(LabTest, LabTest.id == LabOrder.test_id)
    .join(Patient, Patient.id == LabOrder.patient_id)
    .outerjoin(LabResult, and_(LabResult.order_id == LabOrder.id, LabResult.superseded_by_id.is_(None)))
    .outerjoin(LabReferenceRange, LabReferenceRange.test_id == LabOrder.test_id)
    .where(
        Specimen.accession.in_(bindparam("accessions", expanding=True)),
        LabTest.code.in_(bindparam("codes", expanding=True)),
        LabOrder.status != "cancelled",
    )
    .order_by(LabOrder.id, LabReferenceRange.id)
    .with_for_update(of=(LabOrder, Specimen))
)


def _specimens(session: Session, accessions: set[str]) -> dict[str, Specimen]:
    if not accessions:
        return {}
    found = session.execute(_SPECIMENS, {"accessions": sorted(accessions)}).scalars()
    return {specimen.accession: specimen for specimen in found}


def _orders(
    session: Session, accessions: set[str], codes: set[str]
) -> tuple[dict[str, Specimen], dict[tuple[int, str], _Order]]:
    """The specimens of ``accessions`` that have live orders of ``codes``, and those orders by
    (specimen id, test code), both locked; each order with its test, its patient, its current
    result, its test's ranges and the patient's previous released value of the test (one row per
    order and range)."""
    if not accessions or not codes:
        return {}, {}
    rows = session.execute(_ORDERS, {"accessions": sorted(accessions), "codes": sorted(codes)}).all()
    specimens: dict[str, Specimen] = {}
    found: dict[tuple[int, str], _Order] = {}
    for order, test, patient, current, limits, previous, specimen in rows:
        specimens[specimen.accession] = specimen
        key = (order.specimen_id, test.code)
        if key not in found:
            found[key] = _Order(order, test, patient, current, [], previous)
        elif found[key].order is not order:  # as a one-row lookup by specimen and code would have failed
            raise MultipleResultsFound(f"specimen {order.specimen_id} has two live orders of {test.code}")
        if limits is not None:
            found[key].ranges.append(limits_of(limits))
    return specimens, found


def _receive(session: Session, specimen: Specimen, sender: str) -> None:
    """A collected specimen that reaches an analyser before its label was scanned is received by it."""
    specimen.status, specimen.received_at, specimen.received_by = "received", utcnow(), sender
    session.execute(
        update(LabOrder)
        .where(LabOrder.specimen_id == specimen.id, LabOrder.status == "collected")
        .values(status="received")
    )


def record_analyser_results(session: Session, *, readings: Sequence[Reading], sender: str) -> list[LabResult]:
    """Store an analyser's results, each for the order of its test code on the specimen of its
    accession, as preliminary; their values converted from the unit sent to the test's. Returns
    the results in the order of ``readings``; raises ReadingRefused for the first that cannot be
    stored (the caller rolls back)."""
    sender = _sender(sender)
    keys = [(_accession(r.accession), str(r.test_code or "").strip()) for r in readings]
    accessions = {accession for accession, _ in keys if accession}
    # The specimens come with their orders; one without an order of any code sent is looked up
    # by itself, to say whether it is unknown or only lacks the test.
    specimens, orders = _orders(session, accessions, {code for _, code in keys if code})
    specimens.update(_specimens(session, accessions - specimens.keys()))
    written: list[tuple[LabResult, _Order, str, Reading]] = []
    for number, (reading, (accession, code)) in enumerate(zip(readings, keys, strict=True), start=1):
        try:
            result, found, replaced = _write(
                session, reading, specimens.get(accession), accession, code, orders, sender
            )
        except DomainError as error:
            raise ReadingRefused(number, error) from error
        judge(
            result,
            found.test,
            limits_for(found.ranges, found.patient, specimens[accession].collected_at or result.resulted_at),
            found.previous,
        )
        written.append((result, found, replaced, reading))
    session.flush()  # the results' ids, for their alerts and audit rows
    audits = []
    for result, found, replaced, reading in written:
        test = found.test
        alert_if_critical(session, result, test, found.order)
        audits.append(
            audit_row(
                None,
                "lab.result",
                patient_id=found.order.patient_id,
                target_type="lab_result",
                target_id=result.id,
                detail=f"{test.code} {display_value(result, test.decimals)} {result.unit or ''} "
                f"(sent {reading.value} {reading.unit or ''}) flag={result.flag or '-'} from {sender}{replaced}",
                username=f"analyser {sender}"[:60],
            )
        )
    record_audits(session, audits)
    return [result for result, *_ in written]


def _write(
    session: Session,
    reading: Reading,
    specimen: Specimen | None,
    accession: str,
    code: str,
    orders: dict[tuple[int, str], _Order],
    sender: str,
) -> tuple[LabResult, _Order, str]:
    """Check one reading and write its result (not yet judged); what it replaced, for the audit."""
    if specimen is None or specimen.status == "rejected":
        raise UnknownSpecimen(f"No specimen {accession or '(blank)'} is waiting for results.")
    if specimen.status == "pending":
        raise ValidationError(f"Specimen {accession} has not been collected.", field="accession")
    found = orders.get((specimen.id, code))
    if found is None:
        raise UnknownTest(f"Specimen {accession} has no order of test {code or '(blank)'}.")
    order, test = found.order, found.test
    if test.result_type == "numeric":
        number = parse_decimal(reading.value, field="value", label=f"The {test.short_name} result")
        number = convert(
            number, source=reading.unit, target=test.unit, test_code=test.code, decimals=test.decimals
        )
        text = None
    if specimen.status == "collected":
        _receive(session, specimen, sender)
    if order.status == "released":
        raise ValidationError("This result was released: correct it instead.", field="order_id")
    if test.result_type != "numeric":
        number, text = parse_value(test, reading.value)
    result, replaced = found.current, ""
    if result is None:
        result = LabResult(order_id=order.id, patient_id=order.patient_id, test_id=test.id, entered_by=sender)
        session.add(result)
    else:
        replaced = f"; replaced {display_value(result, test.decimals)} by {result.entered_by}"
    result.value_numeric, result.value_text = number, text
    result.unit = test.unit if number is not None else None
    result.status = "preliminary"
    result.source = "analyser"
    result.resulted_at = reading.observed_at or utcnow()
    result.entered_by = sender
    result.comment = None
    order.status = "resulted"
    found.current = result  # the same test twice in one message: the second replaces the first
    return result, found, replaced
