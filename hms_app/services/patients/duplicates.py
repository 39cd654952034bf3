"""Duplicate detection while a registration is typed: fuzzy and phonetic names, birth date, phone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import jellyfish
from sqlalchemy import and_, extract, or_, select
from sqlmodel import Session

from hms_app.errors import DomainError, ValidationError
from hms_app.models.patients import Patient
from hms_app.services.audit import record_audit
from hms_app.services.patient_keys import fold, phone_digits, sound
from hms_app.services.patients.demographics import full_name, parse_date
from hms_app.services.patients.lookup import not_merged
from hms_app.services.permissions import Actor, authorize

LIKELY_DUPLICATE = 0.80


@dataclass(frozen=True)
class DuplicateCandidate:
    id: int
    mrn: str
    name: str
    birth_date: date
    phone: str
    score: float
    reasons: tuple[str, ...]


class DuplicateSuspected(DomainError):
    """Saving would likely create a second record of someone already registered."""

    def __init__(self, candidates: list[DuplicateCandidate]):
        best = candidates[0]
        super().__init__(
            f"This looks like {best.name} ({best.mrn}, born {best.birth_date.isoformat()}), already registered. "
            "Open that record, or confirm with a reason that this is a different person."
        )
        self.candidates = candidates


def _score(
    p: Patient, given: str, family: str, birth: date | None, digits: str | None
) -> tuple[float, list[str]]:
    reasons: list[str] = []
    name_score = (
        jellyfish.jaro_winkler_similarity(fold(family), p.family_key)
        + jellyfish.jaro_winkler_similarity(fold(given), p.given_key)
    ) / 2
    swapped = (
        jellyfish.jaro_winkler_similarity(fold(family), p.given_key)
        + jellyfish.jaro_winkler_similarity(fold(given), p.family_key)
    ) / 2
    if swapped > name_score + 0.05:
        name_score = swapped
        reasons.append("given and family names swapped")
    if name_score >= 0.9:
        reasons.append("same or very similar name")
    elif sound(family) == p.family_sound:
        reasons.append("name sounds alike")
    score = 0.55 * name_score
    if birth is not None:
        if p.birth_date == birth:
            score += 0.35
            reasons.append("same date of birth")
        elif (
            p.birth_date.year == birth.year
            and p.birth_date.month == birth.day
            and p.birth_date.day == birth.month
        ):
            score += 0.25
            reasons.append("day and month swapped in date of birth")
        elif abs((p.birth_date - birth).days) <= 1 or (
            p.birth_date.month == birth.month and p.birth_date.day == birth.day
        ):
            score += 0.15
            reasons.append("nearly the same date of birth")
    if digits and p.phone_digits == digits:
        score += 0.25
        reasons.append("same phone number")
    return min(score, 1.0), reasons


def find_duplicates(
    session: Session,
    *,
    actor: Actor,
    given_name: str,
    family_name: str,
    birth_date: date | str | None = None,
    phone: str | None = None,
    exclude_id: int | None = None,
    limit: int = 5,
) -> list[DuplicateCandidate]:
    """Likely matches for a registration being typed: fuzzy and phonetic name, birth date, phone."""
    authorize(actor, "patient.read")
    given_key, family_key = fold(given_name), fold(family_name)
    if len(family_key) < 2 and not phone_digits(phone):
        return []
    birth = None
    if birth_date:
        try:
            birth = parse_date(birth_date, field_name="birth_date", label="Date of birth")
        except ValidationError:
            birth = None
    digits = phone_digits(phone)
    family_sound, given_sound = sound(family_name), sound(given_name)
    conditions = []
    if family_key:
        if birth is not None:
            conditions.append(and_(Patient.family_sound == family_sound, Patient.birth_date == birth))
            conditions.append(
                and_(
                    Patient.given_sound == family_sound,
                    Patient.family_sound == given_sound,
                    Patient.birth_date == birth,
                )
            )
        if given_key and birth is not None:
            # A namesake scores under the bar unless the birth dates nearly agree (a day out, day and
            # month swapped, the year mistyped), so only those are read: the hundreds of namesakes of
            # a common name would otherwise fill the 200 rows read and crowd out the true match.
            near_days = [birth - timedelta(days=1), birth + timedelta(days=1)]
            if birth.day <= 12:
                near_days.append(date(birth.year, birth.day, birth.month))
            conditions.append(
                and_(
                    Patient.family_sound == family_sound,
                    Patient.given_sound == given_sound,
                    or_(
                        Patient.birth_date.in_(near_days),
                        and_(
                            extract("month", Patient.birth_date) == birth.month,
                            extract("day", Patient.birth_date) == birth.day,
                        ),
                    ),
                )
            )
    if birth is not None and family_key:
        conditions.append(
            and_(
                Patient.birth_date == birth,
                Patient.family_key >= family_key[:2],
                Patient.family_key < family_key[:2] + "{",
            )
        )
    if digits:
        conditions.append(Patient.phone_digits == digits)
    if not conditions:
        return []
    query = select(Patient).where(or_(*conditions), not_merged(session)).limit(200)
    if exclude_id is not None:
        query = query.where(Patient.id != exclude_id)
    candidates = []
    for patient in session.execute(query).scalars():
        score, reasons = _score(patient, given_name, family_name, birth, digits)
        if score >= 0.6:
            candidates.append(
                DuplicateCandidate(
                    patient.id,
                    patient.mrn,
                    full_name(patient),
                    patient.birth_date,
                    patient.phone or "",
                    round(score, 2),
                    tuple(reasons),
                )
            )
    candidates.sort(key=lambda c: (-c.score, c.mrn))
    candidates = candidates[:limit]
    if candidates:
        record_audit(
            session,
            actor,
            "patient.duplicate_check",
            target_type="patient",
            detail="candidates shown: " + ",".join(str(c.id) for c in candidates),
        )
        session.commit()
    return candidates
