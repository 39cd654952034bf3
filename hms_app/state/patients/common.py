"""What the patient screens share: reading a submitted form, the record id in the address and the
record's status word."""

from __future__ import annotations

import functools
import re

from hms_app.errors import ValidationError
from hms_app.services.patients.demographics import BOOLEAN_FIELDS, DEMOGRAPHIC_FIELDS
from hms_app.services.patients.demographics import SEXES as SEXES  # for the pages' sex select
from hms_app.state import forms

MIN_QUERY = 2
MAX_QUERY = 100
FORM_LIMIT = 300  # any one form value longer than this is refused before a service runs
TEXT_FIELDS = tuple(k for k in DEMOGRAPHIC_FIELDS if k not in BOOLEAN_FIELDS)


def record_status(active: bool, deceased: bool) -> str:
    return "deceased" if deceased else ("active" if active else "inactive")


# The patient forms' one limit on the shared reader (a caller may still pass its own).
form_text = functools.partial(forms.form_text, limit=FORM_LIMIT)


def form_demographics(form: dict) -> dict:
    """The demographic fields of a submitted form, for ``validate_demographics`` to judge."""
    data: dict = {key: form_text(form, key) for key in TEXT_FIELDS}
    for key in BOOLEAN_FIELDS:
        data[key] = form_text(form, key).strip().lower() in ("on", "true", "1", "yes")
    return data


ROUTE_RE = re.compile(r"^/patients/([^/?#]*)")


def route_patient_id(path: str) -> int:
    """The patient id in an address like /patients/42/details, or a message saying what is wrong."""
    match = ROUTE_RE.match(path or "")
    raw = match.group(1) if match else ""
    if not raw.isdigit() or len(raw) > 12 or int(raw) <= 0:
        shown = raw[:20] or "nothing"
        raise ValidationError(
            f"This address does not name a patient record: {shown!r} is not a record number. "
            "Find the patient from the patient search."
        )
    return int(raw)
