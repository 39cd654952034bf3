"""Patient registration, search, duplicate detection, merge and undo, status and history.

Reading a patient is permission-checked and audited like any write. Search pages in SQL
over indexed keys (see ``patient_keys``): name prefixes, "sounds like" codes, phone digits,
MRN and birth date, so it stays fast at a million patients.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import jellyfish
from sqlalchemy import Table, and_, extract, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.errors import Conflict, DomainError, NotFound, ValidationError
from hms_app.models import metadata
from hms_app.models.patients import Patient, PatientHistory, PatientMerge
from hms_app.services.audit import record_audit
from hms_app.services.counters import take_numbers
from hms_app.services.file_store import write_document
from hms_app.services.patient_keys import fold, phone_digits, search_keys, sound
from hms_app.services.permissions import Actor, authorize

MRN_PREFIX = "H"
SEXES = ("female", "male", "other", "unknown")
NAME_RE = re.compile(r"^[^\W\d_]+(?:[ '\-.][^\W\d_]+)*\.?$", re.UNICODE)
PHONE_RE = re.compile(r"^\+?[\d\s().\-]{7,25}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LIKELY_DUPLICATE = 0.80
MAX_AGE_YEARS = 130


# --------------------------------------------------------------------------- MRN


def mrn_check_digit(number: int) -> int:
    """Luhn check digit over the MRN's digits: catches any single typo and most swaps."""
    total = 0
    for index, char in enumerate(reversed(str(number))):
        digit = int(char)
        if index % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


def format_mrn(number: int) -> str:
    """The printed MRN: prefix, seven digits and the check digit, e.g. H0001234-4."""
    return f"{MRN_PREFIX}{number:07d}-{mrn_check_digit(number)}"


def is_valid_mrn(mrn: str) -> bool:
    mrn = mrn.strip().upper()
    if not mrn.startswith(MRN_PREFIX) or "-" not in mrn:
        return False
    body, _, check = mrn[len(MRN_PREFIX) :].partition("-")
    return body.isdigit() and check.isdigit() and len(check) == 1 and mrn_check_digit(int(body)) == int(check)


# --------------------------------------------------------------------------- validation

DEMOGRAPHIC_FIELDS = (
    "given_name",
    "middle_name",
    "family_name",
    "sex",
    "birth_date",
    "phone",
    "email",
    "address_line",
    "city",
    "postal_code",
    "country",
    "preferred_language",
    "emergency_contact_name",
    "emergency_contact_phone",
    "emergency_contact_relation",
    "consent_data_sharing",
    "consent_sms",
    "consent_research",
)
BOOLEAN_FIELDS = ("consent_data_sharing", "consent_sms", "consent_research")


def _text(data: dict, key: str, label: str, *, required: bool = False, max_length: int = 80) -> str | None:
    value = data.get(key)
    value = "" if value is None else str(value).strip()
    value = re.sub(r"\s+", " ", value)
    if not value:
        if required:
            raise ValidationError(f"{label} is required.", field=key)
        return None
    if len(value) > max_length:
        raise ValidationError(f"{label} must be at most {max_length} characters.", field=key)
    return value


def _name(data: dict, key: str, label: str, *, required: bool) -> str | None:
    value = _text(data, key, label, required=required)
    if value is not None and not NAME_RE.fullmatch(value):
        raise ValidationError(
            f"{label} may contain letters, spaces, hyphens and apostrophes only.", field=key
        )
    return value


def _phone(data: dict, key: str, label: str) -> str | None:
    value = _text(data, key, label, max_length=30)
    if value is not None and (not PHONE_RE.fullmatch(value) or len(re.sub(r"\D", "", value)) < 7):
        raise ValidationError(
            f"{label} must be a phone number of 7 to 15 digits, e.g. +1 555 010 2030.", field=key
        )
    return value


def _bool(value) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "on", "yes")


def parse_date(value, *, field_name: str, label: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    text = str(value or "").strip()
    if not text:
        raise ValidationError(f"{label} is required.", field=field_name)
    for pattern in ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise ValidationError(f"{label} must be a date like 1984-03-21.", field=field_name)


def validate_demographics(data: dict, *, today: date | None = None) -> dict:
    """Clean and check a registration or edit form; raise ValidationError on the first bad field."""
    today = today or utcnow().date()
    clean: dict = {
        "given_name": _name(data, "given_name", "Given name", required=True),
        "middle_name": _name(data, "middle_name", "Middle name", required=False),
        "family_name": _name(data, "family_name", "Family name", required=True),
    }
    sex = str(data.get("sex") or "").strip().lower()
    if sex not in SEXES:
        raise ValidationError("Choose the sex: female, male, other or unknown.", field="sex")
    clean["sex"] = sex
    birth = parse_date(data.get("birth_date"), field_name="birth_date", label="Date of birth")
    if birth > today:
        raise ValidationError("The date of birth cannot be in the future.", field="birth_date")
    if birth < today - timedelta(days=365 * MAX_AGE_YEARS + 32):
        raise ValidationError(
            f"The date of birth is more than {MAX_AGE_YEARS} years ago; check the year.", field="birth_date"
        )
    clean["birth_date"] = birth
    clean["phone"] = _phone(data, "phone", "Phone")
    email = _text(data, "email", "Email", max_length=200)
    if email is not None and not EMAIL_RE.fullmatch(email):
        raise ValidationError("That email address does not look right (name@example.org).", field="email")
    clean["email"] = email.lower() if email else None
    clean["address_line"] = _text(data, "address_line", "Address", max_length=200)
    clean["city"] = _text(data, "city", "City")
    postal = _text(data, "postal_code", "Postal code", max_length=20)
    if postal is not None and not re.fullmatch(r"[A-Za-z0-9 \-]{2,12}", postal):
        raise ValidationError(
            "The postal code may hold letters, digits, spaces and hyphens (2 to 12).", field="postal_code"
        )
    clean["postal_code"] = postal
    clean["country"] = _text(data, "country", "Country", max_length=60)
    clean["preferred_language"] = _text(data, "preferred_language", "Preferred language", max_length=40)
    clean["emergency_contact_name"] = _name(
        data, "emergency_contact_name", "Emergency contact", required=False
    )
    clean["emergency_contact_phone"] = _phone(data, "emergency_contact_phone", "Emergency contact phone")
    clean["emergency_contact_relation"] = _text(
        data, "emergency_contact_relation", "Relationship", max_length=40
    )
    if clean["emergency_contact_phone"] and not clean["emergency_contact_name"]:
        raise ValidationError(
            "Give the emergency contact's name with their phone.", field="emergency_contact_name"
        )
    for key in BOOLEAN_FIELDS:
        clean[key] = _bool(data.get(key, False))
    return clean


# --------------------------------------------------------------------------- duplicates


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


def age_years(birth: date, on: date) -> int:
    """Completed years of age on a day."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def full_name(p: Patient) -> str:
    """Given, middle and family name as one line."""
    return " ".join(x for x in (p.given_name, p.middle_name, p.family_name) if x)


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


def _not_merged(session: Session):
    """Live records only (not merged into another).

    On SQLite the test is an expression that no index serves: SQLite keeps no statistics, so it
    would take the index on ``merged_into_id`` (NULL for every live patient) for a selective one
    and read every patient instead of the name, phone or birth-date index. PostgreSQL knows the
    column's null fraction and needs no such help.
    """
    if session.get_bind().dialect.name == "sqlite":
        return (Patient.merged_into_id + 0).is_(None)
    return Patient.merged_into_id.is_(None)


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
    query = select(Patient).where(or_(*conditions), _not_merged(session)).limit(200)
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


# --------------------------------------------------------------------------- registration and edits


def register_patient(
    session: Session, *, actor: Actor, data: dict, duplicate_reason: str | None = None
) -> Patient:
    """Register a new patient. A likely duplicate needs ``duplicate_reason`` to go ahead."""
    authorize(actor, "patient.write")
    clean = validate_demographics(data)
    reason = (duplicate_reason or "").strip()
    candidates = find_duplicates(
        session,
        actor=actor,
        given_name=clean["given_name"],
        family_name=clean["family_name"],
        birth_date=clean["birth_date"],
        phone=clean["phone"],
    )
    likely = [c for c in candidates if c.score >= LIKELY_DUPLICATE]
    if likely and len(reason) < 5:
        raise DuplicateSuspected(likely)
    if len(reason) > 300:
        raise ValidationError("Keep the reason under 300 characters.", field="duplicate_reason")
    number = take_numbers(session, "mrn")[0]
    now = utcnow()
    patient = Patient(
        mrn=format_mrn(number),
        created_at=now,
        updated_at=now,
        **clean,
        **search_keys(given_name=clean["given_name"], family_name=clean["family_name"], phone=clean["phone"]),
    )
    session.add(patient)
    session.flush()
    detail = None
    if likely:
        detail = f"registered despite likely duplicate(s) {','.join(c.mrn for c in likely)}: {reason}"
    record_audit(
        session,
        actor,
        "patient.create",
        patient_id=patient.id,
        target_type="patient",
        target_id=patient.id,
        detail=detail,
    )
    session.commit()
    return patient


def _display(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


def _require_patient(session: Session, patient_id: int, *, lock: bool = False) -> Patient:
    query = select(Patient).where(Patient.id == patient_id)
    if lock:
        query = query.with_for_update()
    patient = session.execute(query).scalar_one_or_none()
    if patient is None:
        raise NotFound("That patient does not exist.")
    return patient


def update_patient(
    session: Session, *, actor: Actor, patient_id: int, data: dict, reason: str | None = None
) -> Patient:
    """Change demographics; every changed field is kept in the patient's history."""
    authorize(actor, "patient.write", patient_id=patient_id)
    patient = _require_patient(session, patient_id, lock=True)
    if patient.merged_into_id is not None:
        raise Conflict("This record was merged into another; edit the surviving record.")
    clean = validate_demographics(data)
    changes = [(k, getattr(patient, k), v) for k, v in clean.items() if getattr(patient, k) != v]
    if not changes:
        return patient
    now = utcnow()
    for key, old, new in changes:
        setattr(patient, key, new)
        session.add(
            PatientHistory(
                patient_id=patient.id,
                changed_at=now,
                changed_by=actor.username,
                field=key,
                old_value=_display(old),
                new_value=_display(new),
                reason=(reason or None),
            )
        )
    for key, value in search_keys(
        given_name=patient.given_name, family_name=patient.family_name, phone=patient.phone
    ).items():
        setattr(patient, key, value)
    patient.updated_at = now
    session.add(patient)
    record_audit(
        session,
        actor,
        "patient.update",
        patient_id=patient.id,
        target_type="patient",
        target_id=patient.id,
        detail="changed: " + ", ".join(k for k, _o, _n in changes),
    )
    session.commit()
    return patient


def set_patient_status(
    session: Session,
    *,
    actor: Actor,
    patient_id: int,
    status: str,
    reason: str,
    deceased_on: date | str | None = None,
) -> Patient:
    """Mark a record active, inactive or deceased (with the date), keeping the change in history."""
    authorize(actor, "patient.write", patient_id=patient_id)
    reason = (reason or "").strip()
    if len(reason) < 3:
        raise ValidationError("Say why the status changes (at least 3 characters).", field="reason")
    if status not in ("active", "inactive", "deceased"):
        raise ValidationError("The status must be active, inactive or deceased.", field="status")
    patient = _require_patient(session, patient_id, lock=True)
    if patient.merged_into_id is not None:
        raise Conflict("This record was merged into another; its status follows the surviving record.")
    old = "deceased" if patient.deceased_at else ("active" if patient.active else "inactive")
    deceased_at = None
    if status == "deceased":
        day = parse_date(deceased_on, field_name="deceased_on", label="Date of death")
        if day > utcnow().date():
            raise ValidationError("The date of death cannot be in the future.", field="deceased_on")
        if day < patient.birth_date:
            raise ValidationError("The date of death is before the date of birth.", field="deceased_on")
        deceased_at = datetime.combine(day, datetime.min.time()).replace(tzinfo=utcnow().tzinfo)
    patient.active = status == "active"
    patient.deceased_at = deceased_at
    patient.updated_at = utcnow()
    session.add(patient)
    session.add(
        PatientHistory(
            patient_id=patient.id,
            changed_by=actor.username,
            field="status",
            old_value=old,
            new_value=status if not deceased_at else f"deceased {deceased_at.date().isoformat()}",
            reason=reason,
        )
    )
    record_audit(
        session,
        actor,
        f"patient.status.{status}",
        patient_id=patient.id,
        target_type="patient",
        target_id=patient.id,
        detail=reason,
    )
    session.commit()
    return patient


@dataclass(frozen=True)
class HistoryRow:
    changed_at: datetime
    changed_by: str
    field: str
    old_value: str
    new_value: str
    reason: str


def patient_history(session: Session, *, actor: Actor, patient_id: int, limit: int = 100) -> list[HistoryRow]:
    authorize(actor, "patient.read", patient_id=patient_id)
    rows = session.execute(
        select(PatientHistory)
        .where(PatientHistory.patient_id == patient_id)
        .order_by(PatientHistory.changed_at.desc(), PatientHistory.id.desc())
        .limit(limit)
    ).scalars()
    result = [
        HistoryRow(r.changed_at, r.changed_by, r.field, r.old_value or "", r.new_value or "", r.reason or "")
        for r in rows
    ]
    record_audit(
        session,
        actor,
        "patient.read",
        patient_id=patient_id,
        target_type="patient",
        target_id=patient_id,
        detail="history",
    )
    session.commit()
    return result


# --------------------------------------------------------------------------- search


@dataclass(frozen=True)
class PatientRow:
    id: int
    mrn: str
    name: str
    sex: str
    birth_date: date
    phone: str
    active: bool
    deceased: bool


DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$|^\d{1,2}[/.]\d{1,2}[/.]\d{4}$")
COUNT_CAP = 1000


def _prefix(column, key: str):
    """``column`` starts with ``key``, written as a range so that a plain b-tree index serves it."""
    return and_(column >= key, column < key + "{")  # '{' sorts right after 'z'


def _name_branches(tokens: list[str]) -> list[tuple[int, object, tuple]]:
    """(rank, condition, order) per indexed way a name query can match, best way first.

    One token: family-name prefix, given-name prefix, then "sounds like" the family name.
    Two or more: the first and last tokens as family+given (either way round), then the
    same pairs by sound. Each branch is served by its own index in its own order.
    """
    keys = [fold(t) for t in tokens if fold(t)]
    by_name = (Patient.family_key, Patient.given_key, Patient.id)
    by_given = (Patient.given_key, Patient.family_key, Patient.id)
    if len(keys) == 1:
        key = keys[0]
        branches = [
            (1, _prefix(Patient.family_key, key), by_name),
            (2, _prefix(Patient.given_key, key), by_given),
        ]
        if len(key) >= 3:
            branches.append((3, Patient.family_sound == sound(key), (Patient.given_sound, Patient.id)))
        return branches
    first, last = keys[0], keys[-1]
    return [
        (1, and_(_prefix(Patient.family_key, first), _prefix(Patient.given_key, last)), by_name),
        (1, and_(_prefix(Patient.family_key, last), _prefix(Patient.given_key, first)), by_name),
        (3, and_(Patient.family_sound == sound(first), Patient.given_sound == sound(last)), (Patient.id,)),
        (3, and_(Patient.family_sound == sound(last), Patient.given_sound == sound(first)), (Patient.id,)),
    ]


def search_patients(
    session: Session,
    *,
    actor: Actor,
    query: str,
    page: int = 1,
    page_size: int = 20,
    include_inactive: bool = True,
) -> tuple[list[PatientRow], int]:
    """One page of patients matching a name fragment, MRN, phone or birth date, best first.

    Each way of matching runs as its own index-ordered query limited to what the page needs,
    and the results are merged by rank; so a search costs the same among a thousand patients
    as among a million. The total is capped at 1,000 (shown as "1000+"): counting every
    "sm%" among a million patients would cost more than the page itself.
    """
    authorize(actor, "patient.read")
    text = re.sub(r"\s+", " ", (query or "").strip())[:100]
    page, page_size = max(1, int(page)), min(max(1, int(page_size)), 100)
    if len(text) < 2:
        return [], 0
    base = [_not_merged(session)]
    if not include_inactive:
        base.append(Patient.active.is_(True))
    digits = re.sub(r"\D", "", text)
    by_name = (Patient.family_key, Patient.given_key, Patient.id)
    if text.upper().startswith(MRN_PREFIX) and len(digits) >= 4 and not re.search(r"[a-zA-Z]{2}", text):
        mrn = text.upper().replace(" ", "")
        branches = [(0, Patient.mrn == mrn if "-" in mrn else _prefix(Patient.mrn, mrn), (Patient.mrn,))]
    elif DATE_RE.match(text):
        branches = [
            (0, Patient.birth_date == parse_date(text, field_name="query", label="Birth date"), by_name)
        ]
    elif len(digits) >= 7 and len(digits) >= len(text.replace(" ", "")) - 4:
        branches = [(0, Patient.phone_digits == digits[-10:], by_name)]
    else:
        branches = _name_branches(re.split(r"[ ,]+", text))
        if not branches:
            return [], 0
    needed = page * page_size
    ranked: dict[int, tuple] = {}
    for rank, condition, order in branches:
        for patient in session.execute(
            select(Patient).where(condition, *base).order_by(*order).limit(needed)
        ).scalars():
            # Merge key: the rank, then the branch's own index order, so paging stays stable.
            key = (rank, *(getattr(patient, column.key) for column in order))
            if patient.id not in ranked or key < ranked[patient.id][0]:
                ranked[patient.id] = (key, patient)
    ordered = [p for _key, p in sorted(ranked.values(), key=lambda item: item[0])]
    window = ordered[(page - 1) * page_size : needed]
    # Each branch capped in its own subquery (SQLite allows no LIMIT inside a bare UNION arm).
    capped = [select(Patient.id).where(c, *base).limit(COUNT_CAP).subquery() for _r, c, _o in branches]
    arms = [select(sub.c.id) for sub in capped]
    union = arms[0] if len(arms) == 1 else arms[0].union(*arms[1:])
    total = min(COUNT_CAP, session.execute(select(func.count()).select_from(union.subquery())).scalar_one())
    result = [
        PatientRow(
            p.id,
            p.mrn,
            full_name(p),
            p.sex,
            p.birth_date,
            p.phone or "",
            p.active,
            p.deceased_at is not None,
        )
        for p in window
    ]
    record_audit(
        session, actor, "patient.search", target_type="patient", detail=f"query={text!r} results={total}"
    )
    session.commit()
    return result, total


# --------------------------------------------------------------------------- summary


@dataclass(frozen=True)
class PatientSummary:
    id: int
    mrn: str
    name: str
    sex: str
    birth_date: date
    phone: str
    email: str


def find_living(session: Session, *, actor: Actor, query: str, limit: int) -> list[PatientRow]:
    """The first active, living patients matching ``query``: whom a dialog may book or admit."""
    rows, _total = search_patients(
        session, actor=actor, query=query, page=1, page_size=limit, include_inactive=False
    )
    return [row for row in rows if not row.deceased]


def get_patient_summary(session: Session, *, actor: Actor, patient_id: int) -> PatientSummary:
    """One patient's demographics, for staff who may read patients or the patient themself."""
    permission = "portal.self" if actor.patient_id is not None else "patient.read"
    authorize(actor, permission, patient_id=patient_id)
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFound("That patient does not exist.")
    record_audit(
        session,
        actor,
        "patient.read",
        patient_id=patient.id,
        target_type="patient",
        target_id=patient.id,
        detail="summary",
    )
    session.commit()
    return PatientSummary(
        patient.id,
        patient.mrn,
        full_name(patient),
        patient.sex,
        patient.birth_date,
        patient.phone or "",
        patient.email or "",
    )


def get_patient(session: Session, *, actor: Actor, patient_id: int) -> Patient:
    """The full demographic record (staff), audited as a read."""
    authorize(actor, "patient.read", patient_id=patient_id)
    patient = _require_patient(session, patient_id)
    record_audit(
        session,
        actor,
        "patient.read",
        patient_id=patient.id,
        target_type="patient",
        target_id=patient.id,
        detail="demographics",
    )
    session.commit()
    return patient


# --------------------------------------------------------------------------- merge


# Columns that point at a patient but must not move in a merge: the merge bookkeeping itself,
# and the record of who was merged into whom.
_NOT_MOVED = {
    ("patient", "merged_into_id"),
    ("patient_merge", "survivor_id"),
    ("patient_merge", "merged_id"),
    ("patient_history", "patient_id"),  # a record's history stays with the record it describes
}


def patient_links() -> list[tuple[Table, str]]:
    """Every (table, column) that references a patient: the one hook through which every
    module's rows follow a merge. A new module's table with a foreign key to patient.id is
    included by itself."""
    links = []
    for table in metadata.sorted_tables:
        for fk in table.foreign_keys:
            points_at_patient = fk.column.table.name == "patient" and fk.column.name == "id"
            if points_at_patient and (table.name, fk.parent.name) not in _NOT_MOVED:
                links.append((table, fk.parent.name))
    return links


@dataclass(frozen=True)
class MergeResult:
    merge_id: int
    moved: dict[str, int] = field(default_factory=dict)


def merge_patients(
    session: Session, *, actor: Actor, survivor_id: int, merged_id: int, reason: str
) -> MergeResult:
    """Make two records one: everything linked to ``merged_id`` moves to ``survivor_id``."""
    authorize(actor, "patient.merge")
    reason = (reason or "").strip()
    if len(reason) < 5:
        raise ValidationError(
            "Say why these records are the same person (at least 5 characters).", field="reason"
        )
    if survivor_id == merged_id:
        raise ValidationError("Choose two different records to merge.")
    # Lock both in id order so that two merges of the same pair cannot deadlock or interleave.
    first, second = sorted((survivor_id, merged_id))
    locked = {
        first: _require_patient(session, first, lock=True),
        second: _require_patient(session, second, lock=True),
    }
    survivor, merged = locked[survivor_id], locked[merged_id]
    if survivor.merged_into_id is not None or merged.merged_into_id is not None:
        raise Conflict("One of these records has already been merged into another.")
    moved: dict[str, dict[str, list[int]]] = {}
    counts: dict[str, int] = {}
    for table, column in patient_links():
        pk = next(iter(table.primary_key.columns))
        ids = list(session.execute(select(pk).where(table.c[column] == merged_id)).scalars())
        if not ids:
            continue
        try:
            session.execute(update(table).where(pk.in_(ids)).values({column: survivor_id}))
        except IntegrityError as error:
            # Some rows may exist once per patient (an active hospital stay): both records have one.
            session.rollback()
            what = table.name.replace("_", " ")
            raise Conflict(
                f"These records cannot be merged yet: both have an active {what}, and a patient can have only "
                f"one. Close one of them first (for example, discharge the duplicate stay). Nothing was changed."
            ) from error
        moved.setdefault(table.name, {})[column] = ids
        counts[table.name] = counts.get(table.name, 0) + len(ids)
    merged.merged_into_id, merged.active, merged.updated_at = survivor.id, False, utcnow()
    session.add(merged)
    record = PatientMerge(
        survivor_id=survivor.id, merged_id=merged.id, reason=reason, moved=moved, merged_by=actor.username
    )
    session.add(record)
    session.add(
        PatientHistory(
            patient_id=merged.id,
            changed_by=actor.username,
            field="merged_into",
            old_value=None,
            new_value=survivor.mrn,
            reason=reason,
        )
    )
    session.flush()
    summary = ", ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "no linked rows"
    for patient_id in (survivor.id, merged.id):
        record_audit(
            session,
            actor,
            "patient.merge",
            patient_id=patient_id,
            target_type="patient_merge",
            target_id=record.id,
            detail=f"{merged.mrn} -> {survivor.mrn}; moved {summary}; {reason}",
        )
    session.commit()
    return MergeResult(record.id, counts)


def undo_merge(session: Session, *, actor: Actor, merge_id: int, reason: str) -> MergeResult:
    """Split a merge: the rows that moved go back to the merged record, which becomes active again."""
    authorize(actor, "patient.merge")
    reason = (reason or "").strip()
    if len(reason) < 5:
        raise ValidationError("Say why the merge is undone (at least 5 characters).", field="reason")
    record = session.execute(
        select(PatientMerge).where(PatientMerge.id == merge_id).with_for_update()
    ).scalar_one_or_none()
    if record is None:
        raise NotFound("That merge does not exist.")
    if record.undone_at is not None:
        raise Conflict("That merge has already been undone.")
    merged = _require_patient(session, record.merged_id, lock=True)
    tables = {t.name: t for t in metadata.sorted_tables}
    counts: dict[str, int] = {}
    for table_name, columns in (record.moved or {}).items():
        table = tables[table_name]
        pk = next(iter(table.primary_key.columns))
        for column, ids in columns.items():
            # Only rows still on the survivor go back; a row moved on since stays where it is.
            result = session.execute(
                update(table)
                .where(pk.in_(ids), table.c[column] == record.survivor_id)
                .values({column: record.merged_id})
            )
            counts[table_name] = counts.get(table_name, 0) + (result.rowcount or 0)
    merged.merged_into_id, merged.active, merged.updated_at = None, True, utcnow()
    record.undone_at, record.undone_by = utcnow(), actor.username
    session.add_all([merged, record])
    session.add(
        PatientHistory(
            patient_id=merged.id,
            changed_by=actor.username,
            field="merged_into",
            old_value=str(record.survivor_id),
            new_value=None,
            reason=f"merge undone: {reason}",
        )
    )
    for patient_id in (record.survivor_id, record.merged_id):
        record_audit(
            session,
            actor,
            "patient.merge_undo",
            patient_id=patient_id,
            target_type="patient_merge",
            target_id=record.id,
            detail=reason,
        )
    session.commit()
    return MergeResult(record.id, counts)


@dataclass(frozen=True)
class MergeRow:
    id: int
    survivor_id: int
    survivor_mrn: str
    survivor_name: str
    merged_id: int
    merged_mrn: str
    merged_name: str
    reason: str
    merged_at: datetime
    merged_by: str
    undone_at: datetime | None
    undone_by: str | None
    moved_rows: int


def list_merges(session: Session, *, actor: Actor, patient_id: int, limit: int = 50) -> list[MergeRow]:
    """Merges this record took part in, as survivor or as the record merged away, newest first."""
    authorize(actor, "patient.read", patient_id=patient_id)
    records = (
        session.execute(
            select(PatientMerge)
            .where(or_(PatientMerge.survivor_id == patient_id, PatientMerge.merged_id == patient_id))
            .order_by(PatientMerge.merged_at.desc(), PatientMerge.id.desc())
            .limit(limit)
        )
        .scalars()
        .all()
    )
    ids = {r.survivor_id for r in records} | {r.merged_id for r in records}
    people = (
        {p.id: p for p in session.execute(select(Patient).where(Patient.id.in_(ids))).scalars()}
        if ids
        else {}
    )
    rows = [
        MergeRow(
            r.id,
            r.survivor_id,
            people[r.survivor_id].mrn,
            full_name(people[r.survivor_id]),
            r.merged_id,
            people[r.merged_id].mrn,
            full_name(people[r.merged_id]),
            r.reason,
            r.merged_at,
            r.merged_by,
            r.undone_at,
            r.undone_by,
            sum(len(ids) for columns in (r.moved or {}).values() for ids in columns.values()),
        )
        for r in records
    ]
    record_audit(
        session,
        actor,
        "patient.read",
        patient_id=patient_id,
        target_type="patient",
        target_id=patient_id,
        detail="merges",
    )
    session.commit()
    return rows


# --------------------------------------------------------------------------- wristband and label


@dataclass(frozen=True)
class Wristband:
    mrn: str
    name: str
    birth_date: date
    sex: str
    allergies: tuple[str, ...]
    barcode_svg_data_url: str


def mrn_barcode_data_url(mrn: str) -> str:
    """The MRN as a Code 128 barcode (SVG, as a data URL) that any ward scanner reads."""
    import base64
    import io

    import barcode
    from barcode.writer import SVGWriter

    buffer = io.BytesIO()
    barcode.get("code128", mrn, writer=SVGWriter()).write(
        buffer, options={"module_height": 8.0, "font_size": 0, "text_distance": 1, "quiet_zone": 2}
    )
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def wristband(session: Session, *, actor: Actor, patient_id: int) -> Wristband:
    """What a wristband or label shows, with the MRN barcode; printing it is audited."""
    from hms_app.models.emr import AllergyIntolerance

    authorize(actor, "patient.read", patient_id=patient_id)
    patient = _require_patient(session, patient_id)
    allergies = tuple(
        session.execute(
            select(AllergyIntolerance.substance)
            .where(AllergyIntolerance.patient_id == patient_id, AllergyIntolerance.status == "active")
            .order_by(AllergyIntolerance.substance)
            .limit(6)
        ).scalars()
    )
    record_audit(
        session,
        actor,
        "patient.wristband",
        patient_id=patient_id,
        target_type="patient",
        target_id=patient_id,
    )
    session.commit()
    return Wristband(
        patient.mrn,
        f"{patient.family_name.upper()}, {patient.given_name}",
        patient.birth_date,
        patient.sex,
        allergies,
        mrn_barcode_data_url(patient.mrn),
    )


# --------------------------------------------------------------------------- photo

PHOTO_TYPES = ("image/png", "image/jpeg")


def set_patient_photo(
    session: Session, *, actor: Actor, patient_id: int, content: bytes, content_type: str
) -> int:
    """Store the patient's photo (PNG or JPEG) outside the public upload folder; returns its document id.

    The photo is served like any document, only to users who may read the patient.
    """
    authorize(actor, "patient.write", patient_id=patient_id)
    patient = _require_patient(session, patient_id, lock=True)
    if patient.merged_into_id is not None:
        raise Conflict("This record was merged into another; edit the surviving record.")
    row = write_document(
        session,
        patient_id=patient.id,
        title="Patient photo",
        content=content,
        content_type=content_type,
        written_by=actor,
        allowed=PHOTO_TYPES,
    )
    old = patient.photo_key
    patient.photo_key, patient.updated_at = str(row.id), utcnow()
    session.add(patient)
    session.add(
        PatientHistory(
            patient_id=patient.id,
            changed_by=actor.username,
            field="photo",
            old_value=old,
            new_value=str(row.id),
        )
    )
    record_audit(
        session,
        actor,
        "patient.photo",
        patient_id=patient.id,
        target_type="document_reference",
        target_id=row.id,
    )
    session.commit()
    return row.id
