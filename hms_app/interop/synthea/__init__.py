"""Synthea import (``hms import synthea PATH``): a CSV folder or FHIR bundles into HMS.

``import_synthea`` authorizes, reads (``csv_reader`` / ``fhir_reader`` into one CSV-shaped form,
``source``), maps (``mapper``) and loads in batches (``loader``); ``generate`` writes a
Synthea-like CSV folder for tests and the benchmark. ``docs/synthea-import.md`` says what goes
where and what is left out.
"""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session

from hms_app.errors import ValidationError
from hms_app.interop.synthea.csv_reader import read_csv_folder
from hms_app.interop.synthea.fhir_reader import read_fhir_folder
from hms_app.interop.synthea.loader import TYPES, ImportReport, Progress, load_source
from hms_app.interop.synthea.source import SyntheaFormatError, SyntheaSource
from hms_app.services.permissions import Actor, authorize
from hms_app.services.population import refresh_population

FORMATS = ("auto", "csv", "fhir")
MAX_BATCH = 1000

__all__ = ["FORMATS", "TYPES", "ImportReport", "SyntheaFormatError", "import_synthea", "open_source"]


def open_source(path: Path, format: str = "auto") -> SyntheaSource:
    """Read the export at ``path``: a CSV folder, a folder of bundles, or Synthea's ``output``
    folder holding ``csv/`` and ``fhir/`` (CSV is preferred when both are there)."""
    if format not in FORMATS:
        raise ValidationError(f"The format must be one of {', '.join(FORMATS)}.")
    if not path.exists():
        raise SyntheaFormatError(f"{path} does not exist.")
    if not path.is_dir():
        raise SyntheaFormatError(
            f"{path} is not a folder: give the folder Synthea wrote (output/csv or output/fhir)."
        )
    if format in ("auto", "csv"):
        for folder in (path, path / "csv"):
            if (folder / "patients.csv").is_file():
                return read_csv_folder(folder)
        if format == "csv":
            return read_csv_folder(path)  # refuses, saying why
    for folder in (path, path / "fhir"):
        if folder.is_dir() and any(folder.glob("*.json")):
            return read_fhir_folder(folder)
    if format == "fhir":
        return read_fhir_folder(path)
    raise SyntheaFormatError(
        f"{path} holds neither patients.csv nor FHIR bundles (*.json): it is not a Synthea export."
    )


def import_synthea(
    session: Session,
    *,
    actor: Actor,
    path: Path,
    format: str = "auto",
    batch_size: int = 50,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a Synthea export; a re-run adds only what is not there yet."""
    authorize(actor, "data.import")
    if not 1 <= batch_size <= MAX_BATCH:
        raise ValidationError(f"The batch size must be between 1 and {MAX_BATCH} patients.")
    source = open_source(Path(path), format)
    label = f"synthea {source.format} import of {Path(path).name}"
    report = load_source(
        session, actor=actor, source=source, label=label, batch_size=batch_size, progress=progress
    )
    # The population screens read summary tables: rebuild them when the importer may.
    if actor.can("population.manage") and (report.counts["patient"] or report.counts["observation"]):
        refresh_population(session, actor=actor)
    return report
