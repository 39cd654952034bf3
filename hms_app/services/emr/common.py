"""What the medical record's modules share: the patient a write is for, and how form text and
dates are checked."""

from __future__ import annotations

from dataclasses import MISSING, fields
from datetime import date
from typing import TypeVar

from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.errors import Conflict, ValidationError
from hms_app.models.patients import Patient
from hms_app.services.patients import parse_date
from hms_app.services.rows import get_row

View = TypeVar("View")


def view_of(cls: type[View], row) -> View:
    """A frozen view of a table row: the row's values of the view's fields. A field with a default
    that the row does not have is left to its default (the caller fills it in from elsewhere)."""
    return cls(
        **{f.name: getattr(row, f.name) for f in fields(cls) if f.default is MISSING or hasattr(row, f.name)}
    )


def require_patient(session: Session, patient_id: int) -> Patient:
    """The patient a record is written for: one that exists and was not merged into another."""
    patient = get_row(session, Patient, patient_id, "That patient does not exist.")
    if patient.merged_into_id is not None:
        raise Conflict("This record was merged into another; open the surviving record.")
    return patient


def clean_text(value, label: str, field: str, *, max_length: int, required: bool = False) -> str:
    """A form's text, trimmed; refused when required and empty, or longer than ``max_length``."""
    text = str(value or "").strip()
    if required and not text:
        raise ValidationError(f"{label} is required.", field=field)
    if len(text) > max_length:
        raise ValidationError(f"{label} must be at most {max_length:,} characters.", field=field)
    return text


def past_date(value, label: str, field: str) -> date | None:
    """An optional day that has already come (None when left empty)."""
    if value in (None, ""):
        return None
    day = parse_date(value, field_name=field, label=label)
    if day > utcnow().date():
        raise ValidationError(f"{label} cannot be in the future.", field=field)
    return day
