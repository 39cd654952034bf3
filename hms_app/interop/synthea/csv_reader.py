"""Synthea's CSV export (``output/csv``): one file per kind of record, patients linked by UUID.

Columns are found by name in each file's header, so older and newer Synthea versions both read
(3.x added MIDDLE, FIPS, SYSTEM, the allergy reactions, claims.csv ...). A file must have the
columns listed in ``REQUIRED``; a missing file is read as empty, except ``patients.csv``. A row
that does not have as many fields as the header is reported (file:line) and skipped.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

from hms_app.interop.synthea.source import PatientRecords, SyntheaFormatError, SyntheaSource

# file -> (kind, columns it must have). Reference files first.
FILES = {
    "organizations.csv": ("organizations", {"Id", "NAME"}),
    "providers.csv": ("providers", {"Id", "ORGANIZATION", "NAME"}),
    "payers.csv": ("payers", {"Id", "NAME"}),
    "patients.csv": ("patients", {"Id", "BIRTHDATE", "FIRST", "LAST", "GENDER"}),
    "encounters.csv": ("encounters", {"Id", "START", "PATIENT", "ENCOUNTERCLASS", "CODE", "DESCRIPTION"}),
    "conditions.csv": ("conditions", {"START", "PATIENT", "CODE", "DESCRIPTION"}),
    "observations.csv": ("observations", {"DATE", "PATIENT", "CODE", "DESCRIPTION", "VALUE"}),
    "medications.csv": ("medications", {"START", "PATIENT", "CODE", "DESCRIPTION"}),
    "immunizations.csv": ("immunizations", {"DATE", "PATIENT", "CODE", "DESCRIPTION"}),
    "allergies.csv": ("allergies", {"START", "PATIENT", "CODE", "DESCRIPTION"}),
    "procedures.csv": ("procedures", {"START", "PATIENT", "CODE", "DESCRIPTION"}),
    "payer_transitions.csv": ("coverages", {"PATIENT", "PAYER"}),
    "claims.csv": ("claims", {"Id", "PATIENTID", "APPOINTMENTID"}),
}
PATIENT_COLUMN = {"claims": "PATIENTID"}


def _rows(path: Path, required: set[str], problems: list[str]):
    """Each row of ``path`` as a dict with ``_where``; a header without ``required`` is refused."""
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as error:
        raise SyntheaFormatError(f"Cannot read {path}: {error.strerror}.") from error
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
        except (csv.Error, UnicodeDecodeError) as error:
            raise SyntheaFormatError(f"{path.name} is not a CSV file ({error}).") from error
        if not header:
            raise SyntheaFormatError(f"{path.name} is empty: a Synthea CSV file starts with its header.")
        header = [name.strip() for name in header]
        missing = sorted(required - set(header))
        if missing:
            raise SyntheaFormatError(
                f"{path.name} is not a Synthea CSV file: its header lacks {', '.join(missing)}."
            )
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except (csv.Error, UnicodeDecodeError) as error:
                problems.append(
                    f"{path.name}:{reader.line_num}: unreadable ({error}); the rest of the file is skipped"
                )
                return
            if not values:
                continue
            where = f"{path.name}:{reader.line_num}"
            if len(values) != len(header):
                problems.append(f"{where}: {len(values)} fields where the header has {len(header)}; skipped")
                continue
            row = dict(zip(header, values, strict=True))
            row["_where"] = where
            yield row


def read_csv_folder(folder: Path) -> SyntheaSource:
    """Read a Synthea CSV folder (all of it, grouped by patient) or refuse it with a plain reason."""
    if not (folder / "patients.csv").is_file():
        raise SyntheaFormatError(f"{folder} has no patients.csv: it is not a Synthea CSV export.")
    problems: list[str] = []
    reference: dict[str, list[dict]] = {"organizations": [], "providers": [], "payers": []}
    patients: list[dict] = []
    by_patient: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for name, (kind, required) in FILES.items():
        path = folder / name
        if not path.is_file():
            continue
        rows = _rows(path, required, problems)
        if kind in reference:
            reference[kind] = list(rows)
        elif kind == "patients":
            patients = list(rows)
        else:
            column = PATIENT_COLUMN.get(kind, "PATIENT")
            for row in rows:
                by_patient[row[column]][kind].append(row)

    def each_patient():
        for patient in patients:
            bundle = PatientRecords(patient=patient)
            for kind, rows in by_patient.pop(patient["Id"], {}).items():
                bundle.records[kind] = rows
            yield bundle
        for orphan, kinds in by_patient.items():
            count = sum(len(rows) for rows in kinds.values())
            problems.append(f"{count} rows name patient {orphan}, who is not in patients.csv; skipped")

    return SyntheaSource(
        format="csv",
        organizations=reference["organizations"],
        providers=reference["providers"],
        payers=reference["payers"],
        patient_count=len(patients),
        patients=each_patient(),
        problems=problems,
    )
