"""DiagnosticReport: a laboratory test's released result (``lab_result``; plain ids) and a
radiologist's signed report (``imaging_report``, ids ``img-<n>``). Read and search only: results
are released on the laboratory's worklist and reports signed on the reporting screen, where the
second person's check and the critical-result loop run."""

from __future__ import annotations

import base64
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import object_session

from hms_app.interop.fhir.elements import LOINC, concept, instant, ref
from hms_app.interop.fhir.mapper import Mapper
from hms_app.interop.fhir.resources.servicerequest import PROCEDURE_SYSTEM, remember_lab_tests
from hms_app.interop.fhir.search import (
    Param,
    date_param,
    fixed_token,
    mapped_token,
    split_values,
    through,
    token,
)
from hms_app.models.laboratory import LabOrder, LabResult, LabTest, Specimen
from hms_app.models.radiology import ImagingOrder, ImagingProcedure, ImagingReport

CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/v2-0074"
LAB = ("LAB", "Laboratory")
RADIOLOGY = ("RAD", "Radiology")
RELEASED = ("final", "corrected")


class LabReportMapper(Mapper):
    resource_type = "DiagnosticReport"
    table = LabResult
    documentation = (
        "Released laboratory results (one report per test) and signed imaging reports (ids img-<n>)."
    )
    read_permission = "lab.read"
    owned = frozenset(
        {
            "status",
            "category",
            "code",
            "subject",
            "effectiveDateTime",
            "issued",
            "basedOn",
            "specimen",
            "conclusion",
            "conclusionCode",
        }
    )
    sorts = {"date": LabResult.resulted_at}
    default_descending = True

    def __init__(self) -> None:
        self._tests: dict[int, tuple[str, str]] = {}
        self._orders: dict[int, tuple[int | None, object]] = {}

    def search_params(self) -> dict[str, Param]:
        return {
            "code": through(LabResult.test_id, LabTest.id, token(LabTest.code, system=LOINC)),
            "category": fixed_token(LAB[0]),
            "date": date_param(LabResult.resulted_at),
            "issued": date_param(LabResult.released_at),
            "status": mapped_token(LabResult.status, {"final": "final", "corrected": "corrected"}),
            "based-on": Param(
                "reference",
                lambda raw, modifier, name: LabResult.order_id.in_(
                    [
                        int(v.rpartition("/")[2])
                        for v in split_values(raw, name)
                        if v.rpartition("/")[2].isdigit()
                    ]
                    or [-1]
                ),
            ),
        }

    def select(self):
        return super().select().where(LabResult.status.in_(RELEASED), LabResult.superseded_by_id.is_(None))

    def last_updated(self, row: LabResult):
        return row.released_at or row.resulted_at

    def prefetch(self, session, rows) -> None:
        remember_lab_tests(session, self._tests, {row.test_id for row in rows})
        orders = {row.order_id for row in rows} - set(self._orders)
        if orders:
            found = session.execute(
                select(LabOrder.id, LabOrder.specimen_id, Specimen.collected_at)
                .outerjoin(Specimen, Specimen.id == LabOrder.specimen_id)
                .where(LabOrder.id.in_(orders))
            )
            for order in found:
                self._orders[order.id] = (order.specimen_id, order.collected_at)

    def to_fhir(self, row: LabResult) -> dict:
        if row.test_id not in self._tests or row.order_id not in self._orders:
            self.prefetch(object_session(row), [row])
        code, name = self._tests[row.test_id]
        specimen_id, collected_at = self._orders[row.order_id]
        if row.value_numeric is not None:
            shown = f"{Decimal(row.value_numeric).normalize():f} {row.unit or ''}".strip()
        else:
            shown = row.value_text or ""
        flag = f" ({row.flag})" if row.flag else ""
        reference = f"; reference {row.reference_text}" if row.reference_text else ""
        return {
            "status": "corrected" if row.status == "corrected" else "final",
            "category": [concept(CATEGORY_SYSTEM, *LAB)],
            "code": concept(LOINC, code, name),
            "subject": ref("Patient", row.patient_id),
            "effectiveDateTime": instant(collected_at or row.resulted_at),
            "issued": instant(row.released_at),
            "basedOn": [ref("ServiceRequest", row.order_id)],
            "specimen": [ref("Specimen", specimen_id)] if specimen_id else None,
            "conclusion": f"{name}: {shown}{flag}{reference}",
        }


class ImagingReportMapper(Mapper):
    resource_type = "DiagnosticReport"
    id_prefix = "img-"
    table = ImagingReport
    read_permission = "imaging.read"
    owned = LabReportMapper.owned | {"presentedForm", "resultsInterpreter"}
    sorts = {"date": ImagingReport.updated_at}
    default_descending = True

    def __init__(self) -> None:
        self._orders: dict[int, tuple[str, str]] = {}

    def search_params(self) -> dict[str, Param]:
        return {
            "code": Param(
                "token",
                lambda raw, modifier, name: ImagingReport.order_id.in_(
                    select(ImagingOrder.id)
                    .join(ImagingProcedure, ImagingProcedure.id == ImagingOrder.procedure_id)
                    .where(token(ImagingProcedure.code, system=PROCEDURE_SYSTEM).build(raw, modifier, name))
                ),
            ),
            "category": fixed_token(RADIOLOGY[0]),
            "date": date_param(ImagingReport.updated_at),
            "issued": date_param(ImagingReport.final_at),
            "status": mapped_token(ImagingReport.status, {"preliminary": "preliminary", "final": "final"}),
            "based-on": Param(
                "reference",
                lambda raw, modifier, name: ImagingReport.order_id.in_(
                    [
                        int(v.rpartition("/")[2].removeprefix("img-"))
                        for v in split_values(raw, name)
                        if v.rpartition("/")[2].removeprefix("img-").isdigit()
                    ]
                    or [-1]
                ),
            ),
        }

    def select(self):
        return super().select().where(ImagingReport.status.in_(("preliminary", "final")))

    def last_updated(self, row: ImagingReport):
        return row.updated_at

    def prefetch(self, session, rows) -> None:
        wanted = {row.order_id for row in rows} - set(self._orders)
        if wanted:
            found = session.execute(
                select(ImagingOrder.id, ImagingProcedure.code, ImagingProcedure.name)
                .join(ImagingProcedure, ImagingProcedure.id == ImagingOrder.procedure_id)
                .where(ImagingOrder.id.in_(wanted))
            )
            for order in found:
                self._orders[order.id] = (order.code, order.name)

    def to_fhir(self, row: ImagingReport) -> dict:
        if row.order_id not in self._orders:
            self.prefetch(object_session(row), [row])
        code, name = self._orders[row.order_id]
        return {
            "status": row.status,
            "category": [concept(CATEGORY_SYSTEM, *RADIOLOGY)],
            "code": concept(PROCEDURE_SYSTEM, code, name),
            "subject": ref("Patient", row.patient_id),
            "effectiveDateTime": instant(row.preliminary_at or row.final_at or row.updated_at),
            "issued": instant(row.final_at or row.preliminary_at),
            "basedOn": [ref("ServiceRequest", f"img-{row.order_id}")],
            "resultsInterpreter": [ref("Practitioner", row.signed_by_id, row.signed_by)]
            if row.signed_by_id
            else None,
            "conclusion": row.impression or None,
            "presentedForm": [
                {"contentType": "text/plain", "title": "Findings", "data": _base64(row.findings)}
            ]
            if row.findings
            else None,
        }


def _base64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


MAPPERS = [LabReportMapper(), ImagingReportMapper()]
