"""ServiceRequest: the orders of the laboratory (``lab_order``, one per test; plain ids) and of
radiology (``imaging_order``, ids ``img-<n>``). Read and search only: orders are placed in the
chart, where the duplicate and safety checks ask the clinician questions."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import object_session

from hms_app.interop.fhir.elements import LOINC, concept, instant, ref
from hms_app.interop.fhir.mapper import Mapper
from hms_app.interop.fhir.search import Param, date_param, fixed_token, mapped_token, through, token
from hms_app.models.laboratory import LabOrder, LabRequest, LabTest
from hms_app.models.radiology import ImagingOrder, ImagingProcedure

CATEGORY_SYSTEM = "http://snomed.info/sct"
LAB_CATEGORY = ("108252007", "Laboratory procedure")
IMAGING_CATEGORY = ("363679005", "Imaging")
PROCEDURE_SYSTEM = "urn:hms:imaging-procedure"  # the hospital's own examination codes
ACCESSION_SYSTEM = "urn:hms:accession"
LAB_STATUS = {
    "ordered": "active",
    "collected": "active",
    "received": "active",
    "resulted": "active",
    "released": "completed",
    "cancelled": "revoked",
}
IMAGING_STATUS = {
    "requested": "active",
    "scheduled": "active",
    "arrived": "active",
    "in_progress": "active",
    "images_received": "active",
    "preliminary": "active",
    "final": "completed",
    "cancelled": "revoked",
}


def remember_lab_tests(session, known: dict[int, tuple[str, str]], wanted: set[int]) -> None:
    """Add the (LOINC code, name) of the tests in ``wanted`` that ``known`` lacks, in one query."""
    missing = wanted - set(known)
    if missing:
        for test in session.execute(
            select(LabTest.id, LabTest.code, LabTest.name).where(LabTest.id.in_(missing))
        ):
            known[test.id] = (test.code, test.name)


class LabServiceRequestMapper(Mapper):
    resource_type = "ServiceRequest"
    table = LabOrder
    documentation = "Laboratory orders (one per test; LOINC) and imaging orders (ids img-<n>)."
    read_permission = "lab.read"
    owned = frozenset(
        {
            "identifier",
            "status",
            "intent",
            "category",
            "priority",
            "code",
            "subject",
            "authoredOn",
            "requester",
            "reasonCode",
            "specimen",
        }
    )
    sorts = {"authored": LabOrder.ordered_at}
    default_descending = True

    def __init__(self) -> None:
        self._tests: dict[int, tuple[str, str]] = {}
        self._requests: dict[int, tuple[str, int, str | None]] = {}

    def search_params(self) -> dict[str, Param]:
        return {
            "code": through(LabOrder.test_id, LabTest.id, token(LabTest.code, system=LOINC)),
            "status": mapped_token(LabOrder.status, LAB_STATUS),
            "authored": date_param(LabOrder.ordered_at),
            "priority": token(LabOrder.priority),
            "category": fixed_token(LAB_CATEGORY[0]),
            "identifier": through(
                LabOrder.request_id, LabRequest.id, token(LabRequest.reference, system="urn:hms:lab-request")
            ),
        }

    def last_updated(self, row: LabOrder):
        return row.cancelled_at or row.ordered_at

    def prefetch(self, session, rows) -> None:
        remember_lab_tests(session, self._tests, {row.test_id for row in rows})
        requests = {row.request_id for row in rows} - set(self._requests)
        if requests:
            found = session.execute(
                select(
                    LabRequest.id,
                    LabRequest.reference,
                    LabRequest.ordered_by_id,
                    LabRequest.clinical_question,
                ).where(LabRequest.id.in_(requests))
            )
            for request in found:
                self._requests[request.id] = (
                    request.reference,
                    request.ordered_by_id,
                    request.clinical_question,
                )

    def to_fhir(self, row: LabOrder) -> dict:
        if row.test_id not in self._tests or row.request_id not in self._requests:
            self.prefetch(object_session(row), [row])
        code, name = self._tests[row.test_id]
        reference, orderer, question = self._requests[row.request_id]
        return {
            "identifier": [{"system": "urn:hms:lab-request", "value": reference}],
            "status": LAB_STATUS.get(row.status, "unknown"),
            "intent": "order",
            "category": [concept(CATEGORY_SYSTEM, *LAB_CATEGORY)],
            "priority": row.priority,
            "code": concept(LOINC, code, name),
            "subject": ref("Patient", row.patient_id),
            "authoredOn": instant(row.ordered_at),
            "requester": ref("Practitioner", orderer),
            "reasonCode": [{"text": question}] if question else None,
            "specimen": [ref("Specimen", row.specimen_id)] if row.specimen_id else None,
        }


class ImagingServiceRequestMapper(Mapper):
    resource_type = "ServiceRequest"
    id_prefix = "img-"
    table = ImagingOrder
    read_permission = "imaging.read"
    owned = LabServiceRequestMapper.owned | {"occurrenceDateTime"}
    sorts = {"authored": ImagingOrder.ordered_at}
    default_descending = True

    def __init__(self) -> None:
        self._procedures: dict[int, tuple[str, str]] = {}

    def search_params(self) -> dict[str, Param]:
        return {
            "code": through(
                ImagingOrder.procedure_id,
                ImagingProcedure.id,
                token(ImagingProcedure.code, system=PROCEDURE_SYSTEM),
            ),
            "status": mapped_token(ImagingOrder.status, IMAGING_STATUS),
            "authored": date_param(ImagingOrder.ordered_at),
            "priority": token(ImagingOrder.priority),
            "category": fixed_token(IMAGING_CATEGORY[0]),
            "identifier": token(ImagingOrder.accession, system=ACCESSION_SYSTEM),
        }

    def last_updated(self, row: ImagingOrder):
        return row.status_changed_at

    def prefetch(self, session, rows) -> None:
        wanted = {row.procedure_id for row in rows} - set(self._procedures)
        if wanted:
            found = session.execute(
                select(ImagingProcedure.id, ImagingProcedure.code, ImagingProcedure.name).where(
                    ImagingProcedure.id.in_(wanted)
                )
            )
            for procedure in found:
                self._procedures[procedure.id] = (procedure.code, procedure.name)

    def to_fhir(self, row: ImagingOrder) -> dict:
        if row.procedure_id not in self._procedures:
            self.prefetch(object_session(row), [row])
        code, name = self._procedures[row.procedure_id]
        return {
            "identifier": [{"system": ACCESSION_SYSTEM, "value": row.accession}],
            "status": IMAGING_STATUS.get(row.status, "unknown"),
            "intent": "order",
            "category": [concept(CATEGORY_SYSTEM, *IMAGING_CATEGORY)],
            "priority": row.priority,
            "code": concept(PROCEDURE_SYSTEM, code, name),
            "subject": ref("Patient", row.patient_id),
            "authoredOn": instant(row.ordered_at),
            "occurrenceDateTime": instant(row.scheduled_at),
            "requester": ref("Practitioner", row.ordered_by_id),
            "reasonCode": [{"text": row.clinical_question}],
        }


MAPPERS = [LabServiceRequestMapper(), ImagingServiceRequestMapper()]
