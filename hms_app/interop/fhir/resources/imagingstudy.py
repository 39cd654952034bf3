"""ImagingStudy: the DICOM studies radiology received (``imaging_study`` with its series),
identified by the Study Instance UID. Read-only: studies arrive over DICOM, not FHIR."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, false, or_, select
from sqlalchemy.orm import object_session

from hms_app.clock import to_local
from hms_app.interop.fhir.elements import instant, ref
from hms_app.interop.fhir.mapper import Mapper
from hms_app.interop.fhir.outcome import fail
from hms_app.interop.fhir.resources._orders import custom
from hms_app.interop.fhir.search import Param, parse_date_range
from hms_app.models.radiology import ImagingSeries, ImagingStudy

DICOM_UID = "urn:dicom:uid"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
ACCESSION_SYSTEM = "urn:hms:accession"  # radiology's accession numbers, "ACC00001234"
ACSN = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "ACSN"}]}


def _da(value: str | None) -> str | None:
    """A DICOM date (DA, ``20261206``) as a FHIR date."""
    if not value or len(value) != 8 or not value.isdigit():
        return None
    return f"{value[:4]}-{value[4:6]}-{value[6:]}"


def _started_param() -> Param:
    """``started`` over the study date, kept as DICOM's ``YYYYMMDD`` text (which sorts as dates)."""

    def build(value: str, modifier: str | None, name: str):
        prefix, start, end = parse_date_range(value, name)
        low = to_local(start).strftime("%Y%m%d")
        high = to_local(end - timedelta(microseconds=1)).strftime("%Y%m%d")
        column = ImagingStudy.study_date
        return {
            "eq": and_(column >= low, column <= high),
            "ne": or_(column < low, column > high),
            "gt": column > high,
            "sa": column > high,
            "lt": column < low,
            "eb": column < low,
            "ge": column >= low,
            "le": column <= high,
        }[prefix]

    return custom(build, "date")


def _modality_param() -> Param:
    def build(value: str, modifier: str | None, name: str):
        system, bar, code = value.rpartition("|") if "|" in value else ("", "", value)
        if (bar and system and system != DCM) or not code:
            return false() if code else ImagingStudy.id.isnot(None)
        if len(code) > 16 or not code.isalnum():
            raise fail(
                400, f"Search parameter {name} takes a DICOM modality code such as CT, not {code[:20]!r}."
            )
        series = select(ImagingSeries.study_id).where(ImagingSeries.modality == code.upper())
        return ImagingStudy.id.in_(series)

    return custom(build)


def _identifier_param() -> Param:
    def build(value: str, modifier: str | None, name: str):
        system, bar, code = value.rpartition("|") if "|" in value else ("", "", value)
        if not code or len(code) > 200:
            raise fail(400, f"Search parameter {name} takes system|value or value (under 200 characters).")
        clauses = []
        if not (bar and system) or system == DICOM_UID:
            clauses.append(ImagingStudy.study_uid == code.removeprefix("urn:oid:"))
        if not (bar and system) or system == ACCESSION_SYSTEM:
            clauses.append(ImagingStudy.accession == code)
        return or_(*clauses) if clauses else false()

    return custom(build)


class ImagingStudyMapper(Mapper):
    resource_type = "ImagingStudy"
    table = ImagingStudy
    documentation = (
        "DICOM studies received: identifier urn:dicom:uid (urn:oid:<Study Instance UID>) and the "
        "accession number; series with their modality (DCM) and instance counts; read-only."
    )
    read_permission = "imaging.read"
    owned = frozenset(
        {
            "identifier",
            "status",
            "modality",
            "subject",
            "started",
            "basedOn",
            "numberOfSeries",
            "numberOfInstances",
            "description",
            "series",
        }
    )
    sorts = {"started": ImagingStudy.study_date, "_lastUpdated": ImagingStudy.received_at}
    default_descending = True

    def search_params(self) -> dict[str, Param]:
        return {
            "identifier": _identifier_param(),
            "started": _started_param(),
            "modality": _modality_param(),
        }

    def last_updated(self, row: ImagingStudy):
        return row.received_at

    def to_fhir(self, row: ImagingStudy) -> dict:
        session = object_session(row)
        series = (
            list(
                session.execute(
                    select(ImagingSeries)
                    .where(ImagingSeries.study_id == row.id)
                    .order_by(ImagingSeries.number)
                ).scalars()
            )
            if session is not None
            else []
        )
        identifiers = [{"system": DICOM_UID, "value": f"urn:oid:{row.study_uid}"}]
        if row.accession:
            identifiers.append({"type": ACSN, "system": ACCESSION_SYSTEM, "value": row.accession})
        modalities = sorted({m for m in row.modalities.split("|") if m} | {s.modality for s in series})
        return {
            "identifier": identifiers,
            "status": "available",
            "modality": [{"system": DCM, "code": m} for m in modalities],
            "subject": ref("Patient", row.patient_id),
            "started": _da(row.study_date) or instant(row.received_at),
            # Radiology's orders are ServiceRequest/img-<order id>; the accession names it too.
            "basedOn": (
                [
                    {
                        "reference": f"ServiceRequest/img-{row.order_id}",
                        "type": "ServiceRequest",
                        "identifier": {"type": ACSN, "system": ACCESSION_SYSTEM, "value": row.accession},
                    }
                ]
                if row.order_id and row.accession
                else None
            ),
            "numberOfSeries": row.series_count,
            "numberOfInstances": row.instance_count,
            "description": row.description,
            "series": [
                {
                    k: v
                    for k, v in {
                        "uid": s.series_uid,
                        "number": s.number,
                        "modality": {"system": DCM, "code": s.modality},
                        "description": s.description,
                        "numberOfInstances": s.instance_count,
                        "bodySite": {"display": s.body_part} if s.body_part else None,
                    }.items()
                    if v is not None
                }
                for s in series
            ]
            or None,
        }


MAPPER = ImagingStudyMapper()
