"""The electronic medical record: encounters, SOAP notes, vitals, problems, allergies,
medications, immunizations and documents, one module per concern, and the chart that reads
them together. Reads are audited; writes need ``emr.write``.

The names below are the ones other domains, the portal, the API, the benchmarks and their
tests use; everything else is imported from its module.
"""

from hms_app.services.emr.allergies import add_allergy
from hms_app.services.emr.chart import PortalRecord, open_chart, portal_record
from hms_app.services.emr.documents import open_document, store_document
from hms_app.services.emr.problems import add_condition, icd10_description
from hms_app.services.emr.vitals import record_vitals, vital_series
from hms_app.services.file_store import documents_dir

__all__ = [
    "PortalRecord",
    "add_allergy",
    "add_condition",
    "documents_dir",
    "icd10_description",
    "open_chart",
    "open_document",
    "portal_record",
    "record_vitals",
    "store_document",
    "vital_series",
]
