"""What a patient record holds and how a registration or edit form is checked: names, sex,
birth date, contact, emergency contact and consents; full name and age for everyone else."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from hms_app.clock import utcnow
from hms_app.errors import FieldErrors, ValidationError
from hms_app.models.patients import Patient

SEXES = ("female", "male", "other", "unknown")
NAME_RE = re.compile(r"^[^\W\d_]+(?:[ '\-.][^\W\d_]+)*\.?$", re.UNICODE)
PHONE_RE = re.compile(r"^\+?[\d\s().\-]{7,25}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_AGE_YEARS = 130


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


def _sex(data: dict) -> str:
    sex = str(data.get("sex") or "").strip().lower()
    if sex not in SEXES:
        raise ValidationError("Choose the sex: female, male, other or unknown.", field="sex")
    return sex


def _birth_date(data: dict, today: date) -> date:
    birth = parse_date(data.get("birth_date"), field_name="birth_date", label="Date of birth")
    if birth > today:
        raise ValidationError("The date of birth cannot be in the future.", field="birth_date")
    if birth < today - timedelta(days=365 * MAX_AGE_YEARS + 32):
        raise ValidationError(
            f"The date of birth is more than {MAX_AGE_YEARS} years ago; check the year.", field="birth_date"
        )
    return birth


def _email(data: dict) -> str | None:
    email = _text(data, "email", "Email", max_length=200)
    if email is not None and not EMAIL_RE.fullmatch(email):
        raise ValidationError("That email address does not look right (name@example.org).", field="email")
    return email.lower() if email else None


def _postal_code(data: dict) -> str | None:
    postal = _text(data, "postal_code", "Postal code", max_length=20)
    if postal is not None and not re.fullmatch(r"[A-Za-z0-9 \-]{2,12}", postal):
        raise ValidationError(
            "The postal code may hold letters, digits, spaces and hyphens (2 to 12).", field="postal_code"
        )
    return postal


def validate_demographics(data: dict, *, today: date | None = None) -> dict:
    """Clean and check a registration or edit form; every bad field is reported at once
    (``InvalidFields``), so the clerk fixes them in one pass."""
    today = today or utcnow().date()
    errors = FieldErrors()
    clean: dict = {
        "given_name": errors.check(_name, data, "given_name", "Given name", required=True),
        "middle_name": errors.check(_name, data, "middle_name", "Middle name", required=False),
        "family_name": errors.check(_name, data, "family_name", "Family name", required=True),
        "sex": errors.check(_sex, data),
        "birth_date": errors.check(_birth_date, data, today),
        "phone": errors.check(_phone, data, "phone", "Phone"),
        "email": errors.check(_email, data),
        "address_line": errors.check(_text, data, "address_line", "Address", max_length=200),
        "city": errors.check(_text, data, "city", "City"),
        "postal_code": errors.check(_postal_code, data),
        "country": errors.check(_text, data, "country", "Country", max_length=60),
        "preferred_language": errors.check(
            _text, data, "preferred_language", "Preferred language", max_length=40
        ),
        "emergency_contact_name": errors.check(
            _name, data, "emergency_contact_name", "Emergency contact", required=False
        ),
        "emergency_contact_phone": errors.check(
            _phone, data, "emergency_contact_phone", "Emergency contact phone"
        ),
        "emergency_contact_relation": errors.check(
            _text, data, "emergency_contact_relation", "Relationship", max_length=40
        ),
    }
    if (
        errors.ok("emergency_contact_name", "emergency_contact_phone")
        and clean["emergency_contact_phone"]
        and not clean["emergency_contact_name"]
    ):
        errors.add("emergency_contact_name", "Give the emergency contact's name with their phone.")
    errors.raise_any()
    for key in BOOLEAN_FIELDS:
        clean[key] = _bool(data.get(key, False))
    return clean


def age_years(birth: date, on: date) -> int:
    """Completed years of age on a day."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def full_name(p: Patient) -> str:
    """Given, middle and family name as one line."""
    return " ".join(x for x in (p.given_name, p.middle_name, p.family_name) if x)
