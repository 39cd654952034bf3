"""Specimen: the laboratory's sample containers (``specimen`` table), identified by the barcode
on their label; collected and received on the laboratory's screens, so read-only here."""

from __future__ import annotations

from hms_app.interop.fhir.elements import instant, ref
from hms_app.interop.fhir.mapper import Mapper
from hms_app.interop.fhir.resources._orders import coded
from hms_app.interop.fhir.search import Param, date_param, identifier
from hms_app.models.laboratory import REJECTION_REASONS, Specimen

BARCODE_SYSTEM = "urn:hms:specimen"  # the label's Code 128 barcode, "S-00012345"
# FHIR's specimen status -> HMS's: a container not yet filled is unavailable, a rejected one
# unsatisfactory.
STATUSES = {
    "available": ("collected", "received"),
    "unavailable": ("pending",),
    "unsatisfactory": ("rejected",),
}
STATUS_OF = {stored: code for code, values in STATUSES.items() for stored in values}


class SpecimenMapper(Mapper):
    resource_type = "Specimen"
    table = Specimen
    documentation = (
        "Laboratory specimens: identifier urn:hms:specimen (the label's barcode), type and "
        "container as text, collection and receipt times, the rejection reason; read-only."
    )
    read_permission = "lab.read"
    owned = frozenset(
        {
            "identifier",
            "status",
            "type",
            "subject",
            "receivedTime",
            "collection",
            "container",
            "condition",
            "note",
        }
    )
    sorts = {"collected": Specimen.collected_at}
    default_descending = True

    def search_params(self) -> dict[str, Param]:
        return {
            "identifier": identifier("Specimen", Specimen.id, {BARCODE_SYSTEM: Specimen.accession}),
            "status": coded(Specimen.status, STATUSES),
            "collected": date_param(Specimen.collected_at),
        }

    def last_updated(self, row: Specimen):
        return row.rejected_at or row.received_at or row.collected_at

    def to_fhir(self, row: Specimen) -> dict:
        collection = {"collectedDateTime": instant(row.collected_at)}
        return {
            "identifier": [{"system": BARCODE_SYSTEM, "value": row.accession}],
            "status": STATUS_OF.get(row.status),
            "type": {"text": row.specimen_type},
            "subject": ref("Patient", row.patient_id),
            "receivedTime": instant(row.received_at),
            "collection": {k: v for k, v in collection.items() if v} or None,
            "container": [{"type": {"text": row.container}}] if row.container else None,
            "condition": (
                [{"text": REJECTION_REASONS.get(row.rejection_reason, row.rejection_reason)}]
                if row.rejection_reason
                else None
            ),
            "note": [{"text": row.rejection_note}] if row.rejection_note else None,
        }


MAPPER = SpecimenMapper()
