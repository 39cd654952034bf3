"""What a reader hands the loader: Synthea's records in the shape of its CSV export.

Both readers (a CSV folder, a folder of FHIR bundles) produce the same thing: the reference data
(organizations, providers, payers) and, patient by patient, every record of that patient as a
dict keyed by the CSV export's column names (``START``, ``PATIENT``, ``CODE`` ...). The FHIR
reader translates each resource into that shape, so one mapper serves both. Each dict carries
``_where`` ("encounters.csv:12", "bundle.json#Encounter/abc") for messages about it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from hms_app.errors import ValidationError

# The kinds of a patient's records, in the order they are written (encounters before what
# points at them). ``claims`` are read for billing; ``coverages`` are payer transitions.
KINDS = (
    "encounters",
    "conditions",
    "observations",
    "medications",
    "immunizations",
    "allergies",
    "procedures",
    "coverages",
    "claims",
)


class SyntheaFormatError(ValidationError):
    """The folder is not a Synthea export this import can read (said plainly, nothing written)."""


@dataclass
class PatientRecords:
    patient: dict
    records: dict[str, list[dict]] = field(default_factory=lambda: {kind: [] for kind in KINDS})


@dataclass
class SyntheaSource:
    """A readable Synthea export: reference data now, patients one at a time."""

    format: str  # csv | fhir
    organizations: list[dict]
    providers: list[dict]
    payers: list[dict]
    patient_count: int
    patients: Iterator[PatientRecords]
    problems: list[str]  # rows that could not be read: "file:line: why" (they are skipped)
