"""DocumentReference: the PDFs and images stored with a patient's chart (``document_reference``).
The attachment names the authorized download route, never the bytes: a client fetches the file
with its own credentials, and that read is checked and audited like one on a screen. Read-only:
uploads go through the chart's document screen, which checks the file itself."""

from __future__ import annotations

from hms_app.interop.fhir.elements import instant, ref
from hms_app.interop.fhir.mapper import Mapper
from hms_app.interop.fhir.search import Param, date_param, string
from hms_app.models.emr import DocumentReference

DOWNLOAD_ROUTE = "/api/documents/{id}"


class DocumentReferenceMapper(Mapper):
    resource_type = "DocumentReference"
    table = DocumentReference
    documentation = (
        "Documents filed with a chart: status current, description (the title), the attachment's "
        "content type, size, title and url (the authorized download route /api/documents/<id>); "
        "search by patient, date and description; read-only."
    )
    read_permission = "patient.read"
    owned = frozenset({"status", "description", "subject", "date", "content"})
    sorts = {"date": DocumentReference.created_at}
    default_descending = True

    def search_params(self) -> dict[str, Param]:
        return {
            "date": date_param(DocumentReference.created_at),
            "description": string(DocumentReference.title),
        }

    def last_updated(self, row: DocumentReference):
        return row.created_at

    def to_fhir(self, row: DocumentReference) -> dict:
        return {
            "status": "current",
            "description": row.title,
            "subject": ref("Patient", row.patient_id),
            "date": instant(row.created_at),
            "content": [
                {
                    "attachment": {
                        "contentType": row.content_type,
                        "url": DOWNLOAD_ROUTE.format(id=row.id),
                        "size": row.size_bytes,
                        "title": row.title,
                        "creation": instant(row.created_at),
                    }
                }
            ],
        }


MAPPER = DocumentReferenceMapper()
