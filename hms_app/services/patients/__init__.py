"""Patients: registration, search, duplicate detection, merge and undo, status and history,
wristband and photo. One module per concern; reading a patient is permission-checked and
audited like any write.

The names below are the ones other domains, the seeders and the benchmarks use; everything
else is imported from its module.
"""

from hms_app.services.patients.demographics import age_years, full_name, parse_date, validate_demographics
from hms_app.services.patients.duplicates import find_duplicates
from hms_app.services.patients.merge import merge_patients
from hms_app.services.patients.mrn import format_mrn, is_valid_mrn
from hms_app.services.patients.photo import set_patient_photo
from hms_app.services.patients.records import get_patient_summary, register_patient
from hms_app.services.patients.search import find_living, search_patients

__all__ = [
    "age_years",
    "find_duplicates",
    "find_living",
    "format_mrn",
    "full_name",
    "get_patient_summary",
    "is_valid_mrn",
    "merge_patients",
    "parse_date",
    "register_patient",
    "search_patients",
    "set_patient_photo",
    "validate_demographics",
]
