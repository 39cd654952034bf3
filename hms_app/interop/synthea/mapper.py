"""Synthea rows (CSV-shaped, see ``source.py``) -> the values of HMS rows.

Each function takes one row and returns a dict of column values with references still as
Synthea ids (``_encounter``, ``_provider`` ...), resolved by the loader. A value that cannot be
read raises ``BadRow`` with a plain reason; the loader reports it with the row's place and skips
the row. What maps where is in ``docs/synthea-import.md``.
"""

from __future__ import annotations

import csv
import hashlib
import re
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path

import simple_icd_10_cm as icd

SNOMED_MAP_FILE = Path(__file__).with_name("snomed_icd10cm.csv")
# Synthea's encounter classes (CSV) and FHIR class codes -> HMS's four.
ENCOUNTER_CLASSES = {
    "ambulatory": "outpatient",
    "wellness": "outpatient",
    "outpatient": "outpatient",
    "urgentcare": "outpatient",
    "home": "outpatient",
    "hospice": "inpatient",
    "snf": "inpatient",
    "inpatient": "inpatient",
    "emergency": "emergency",
    "virtual": "virtual",
    "amb": "outpatient",
    "imp": "inpatient",
    "acute": "inpatient",
    "emer": "emergency",
    "vr": "virtual",
    "hh": "outpatient",
}
# Where Synthea uses another LOINC code for a vital sign than the chart reads.
LOINC_ALIASES = {"2708-6": "59408-5"}  # oxygen saturation in arterial blood -> SpO2 (pulse oximetry)
VITAL_CODES = frozenset(
    {"8480-6", "8462-4", "8867-4", "9279-1", "8310-5", "29463-7", "8302-2", "39156-5", "59408-5"}
)
SEVERITIES = {"mild", "moderate", "severe"}
GOVERNMENT = ("medicare", "medicaid", "dual eligible", "tricare", "indian health")
NO_INSURANCE = "no_insurance"
IMPORTER = "synthea-import"  # recorded_by / entered_by of imported rows


class BadRow(ValueError):
    """A row whose values cannot be read."""


@lru_cache(maxsize=1)
def snomed_to_icd10() -> dict[str, tuple[str, str]]:
    """SNOMED CT code -> (ICD-10-CM code, its ICD-10-CM description), from the shipped map."""
    with SNOMED_MAP_FILE.open(newline="", encoding="utf-8") as handle:
        return {
            row["snomed"]: (row["icd10cm"], icd.get_description(row["icd10cm"]))
            for row in csv.DictReader(handle)
        }


def short_key(external_id: str) -> str:
    """Ten hex characters naming an outside id in HMS codes and usernames (stable across runs)."""
    return hashlib.sha1(external_id.encode()).hexdigest()[:10]


def _text(row: dict, key: str, limit: int) -> str | None:
    value = re.sub(r"\s+", " ", (row.get(key) or "").strip())
    return value[:limit] or None


def _required(row: dict, key: str, limit: int) -> str:
    value = _text(row, key, limit)
    if value is None:
        raise BadRow(f"{key} is empty")
    return value


def moment(value: str | None, key: str = "date") -> datetime | None:
    """A Synthea date or timestamp (``2019-02-17``, ``2019-02-17T05:07:38Z``, with an offset) in UTC."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(12), tzinfo=UTC)
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise BadRow(f"{key} {text!r} is not a date") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _day(value: str | None, key: str) -> date | None:
    found = moment(value, key)
    return found.date() if found else None


def cents(value: str | None, key: str) -> int:
    text = (value or "").strip()
    if not text:
        return 0
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise BadRow(f"{key} {text!r} is not an amount") from None
    if not amount.is_finite() or amount < 0:
        raise BadRow(f"{key} {text!r} is not an amount")
    return int((amount * 100).to_integral_value())


def _name(value: str | None) -> str | None:
    """Synthea marks its names as made up with digits (``Jose871``): HMS names hold letters only."""
    cleaned = re.sub(r"[\d_]+", "", value or "").strip(" -'.")
    return re.sub(r"\s+", " ", cleaned)[:80] or None


def organization(row: dict) -> dict:
    return {
        "code": f"SY{short_key(row['Id'])}",
        "name": _required(row, "NAME", 120),
        "kind": "clinical",
        "active": True,
    }


def provider(row: dict) -> dict:
    name = " ".join(part for part in (_name(word) for word in (row.get("NAME") or "").split()) if part)
    return {
        "username": f"synthea.{short_key(row['Id'])}",
        "display_name": name[:120] or "Synthea clinician",
        # Not a hash: no password matches it, and the account is disabled; it names who saw the patient.
        "password_hash": "!imported-no-sign-in",
        "is_active": False,
        "_organization": row.get("ORGANIZATION") or None,
    }


def payer(row: dict) -> dict:
    name = _required(row, "NAME", 120)
    lower = name.lower()
    kind = "self" if lower == NO_INSURANCE else "government" if lower.startswith(GOVERNMENT) else "insurer"
    return {"code": f"SY{short_key(row['Id'])}", "name": name, "kind": kind, "active": True}


def patient(row: dict) -> dict:
    given = _name(row.get("FIRST"))
    family = _name(row.get("LAST"))
    if not given or not family:
        raise BadRow("FIRST and LAST must hold a name")
    birth = _day(row.get("BIRTHDATE"), "BIRTHDATE")
    if birth is None:
        raise BadRow("BIRTHDATE is empty")
    gender = (row.get("GENDER") or "").strip().upper()
    sex = {"M": "male", "F": "female", "MALE": "male", "FEMALE": "female", "OTHER": "other"}.get(
        gender, "unknown"
    )
    died = moment(row.get("DEATHDATE"), "DEATHDATE")
    middle = _name(row.get("MIDDLE"))
    return {
        "given_name": given,
        "middle_name": middle,
        "family_name": family,
        "sex": sex,
        "birth_date": birth,
        "phone": _text(row, "PHONE", 30),
        "address_line": _text(row, "ADDRESS", 200),
        "city": _text(row, "CITY", 80),
        "postal_code": _text(row, "ZIP", 20),
        "country": _text(row, "COUNTRY", 60) or "United States",
        "deceased_at": died,
    }


def encounter(row: dict) -> dict:
    start = moment(row.get("START"), "START")
    if start is None:
        raise BadRow("START is empty")
    kind = (row.get("ENCOUNTERCLASS") or "").strip().lower()
    if kind not in ENCOUNTER_CLASSES:
        raise BadRow(f"ENCOUNTERCLASS {kind!r} is not one Synthea writes")
    reason = " - ".join(
        x for x in (_text(row, "DESCRIPTION", 150), _text(row, "REASONDESCRIPTION", 140)) if x
    )
    return {
        "encounter_class": ENCOUNTER_CLASSES[kind],
        "status": "finished",
        "reason": reason[:300] or None,
        "start_at": start,
        "end_at": moment(row.get("STOP"), "STOP"),
        "_class": kind,
        "_organization": row.get("ORGANIZATION") or None,
        "_provider": row.get("PROVIDER") or None,
        "_payer": row.get("PAYER") or None,
        "_code": _text(row, "CODE", 20) or "encounter",
        "_description": _text(row, "DESCRIPTION", 200) or "Encounter",
        "_total_cents": cents(row.get("TOTAL_CLAIM_COST"), "TOTAL_CLAIM_COST"),
        "_payer_cents": cents(row.get("PAYER_COVERAGE"), "PAYER_COVERAGE"),
    }


def condition(row: dict) -> dict:
    code = _required(row, "CODE", 40)
    onset = _day(row.get("START"), "START")
    ended = _day(row.get("STOP"), "STOP")
    mapped = snomed_to_icd10().get(code)
    if mapped:
        code_value, system, display = mapped[0], "icd-10-cm", mapped[1]
    elif code[:1].isalpha() and icd.is_valid_item(code) and icd.is_leaf(code):
        code_value, system, display = code, "icd-10-cm", icd.get_description(code)
    else:
        if len(code) > 20:
            raise BadRow(f"CODE {code!r} is longer than a SNOMED CT code")
        code_value, system, display = code, "snomed", _required(row, "DESCRIPTION", 300)
    return {
        "code": code_value,
        "code_system": system,
        "display": display[:300],
        "clinical_status": "resolved" if ended else "active",
        "onset_date": onset,
        "abatement_date": ended,
        "recorded_at": moment(row.get("START"), "START"),
        "recorded_by": IMPORTER,
        "_encounter": row.get("ENCOUNTER") or None,
    }


def observation(row: dict) -> dict | None:
    """A numeric observation; None for a coded or text one (smoking status, survey answers):
    HMS's observations hold numbers."""
    if (row.get("TYPE") or "numeric").strip().lower() != "numeric":
        return None
    raw = (row.get("VALUE") or "").strip()
    try:
        value = float(raw)
    except ValueError:
        raise BadRow(f"VALUE {raw!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise BadRow(f"VALUE {raw!r} is not a number")
    code = _required(row, "CODE", 20)
    code = LOINC_ALIASES.get(code, code)
    effective = moment(row.get("DATE"), "DATE")
    if effective is None:
        raise BadRow("DATE is empty")
    category = (row.get("CATEGORY") or "").strip().lower()[:20]
    return {
        "category": "vital-signs" if code in VITAL_CODES else (category or "laboratory"),
        "code": code,
        "display": _required(row, "DESCRIPTION", 120),
        "value": value,
        "unit": (row.get("UNITS") or "").strip()[:20],
        "effective_at": effective,
        "recorded_by": IMPORTER,
        "status": "final",
        "_encounter": row.get("ENCOUNTER") or None,
    }


def medication(row: dict) -> dict:
    started = _day(row.get("START"), "START")
    stopped = _day(row.get("STOP"), "STOP")
    status = (row.get("STATUS") or "").strip().lower()
    if status not in ("active", "stopped", "completed"):
        status = "completed" if stopped else "active"
    return {
        "medication": _required(row, "DESCRIPTION", 200),
        "code": _text(row, "CODE", 20),
        "dosage": _text(row, "DOSAGE", 200),
        "status": status,
        "started_on": started,
        "stopped_on": stopped,
        "recorded_at": moment(row.get("START"), "START"),
        "recorded_by": IMPORTER,
    }


def immunization(row: dict) -> dict:
    given = _day(row.get("DATE"), "DATE")
    if given is None:
        raise BadRow("DATE is empty")
    return {
        "vaccine": _required(row, "DESCRIPTION", 120),
        "code": _text(row, "CODE", 10),
        "occurrence_date": given,
        "status": "completed",
        "recorded_at": moment(row.get("DATE"), "DATE"),
        "recorded_by": IMPORTER,
    }


def allergy(row: dict) -> dict:
    severity = (row.get("SEVERITY1") or "").strip().lower()
    status = (row.get("STATUS") or "").strip().lower()
    if status not in ("active", "inactive", "resolved"):
        status = "resolved" if (row.get("STOP") or "").strip() else "active"
    return {
        "substance": _required(row, "DESCRIPTION", 120),
        "reaction": _text(row, "DESCRIPTION1", 200),
        "severity": severity if severity in SEVERITIES else "moderate",
        "status": status,
        "recorded_at": moment(row.get("START"), "START"),
        "recorded_by": IMPORTER,
    }


def procedure(row: dict) -> dict:
    performed = moment(row.get("START"), "START")
    if performed is None:
        raise BadRow("START is empty")
    return {
        "code": _required(row, "CODE", 20),
        "code_system": "snomed",
        "display": _required(row, "DESCRIPTION", 300),
        "status": "completed",
        "performed_at": performed,
        "performed_end_at": moment(row.get("STOP"), "STOP"),
        "reason": _text(row, "REASONDESCRIPTION", 300),
        "recorded_at": performed,
        "recorded_by": IMPORTER,
        "_encounter": row.get("ENCOUNTER") or None,
    }


def coverage(row: dict) -> dict:
    """A payer transition: the dates (3.x) or the years (older exports) the patient held the plan."""
    if row.get("START_DATE") is not None:
        start, end = _day(row.get("START_DATE"), "START_DATE"), _day(row.get("END_DATE"), "END_DATE")
    else:
        try:
            start = date(int(row.get("START_YEAR") or ""), 1, 1)
            end = date(int(row["END_YEAR"]), 12, 31) if (row.get("END_YEAR") or "").strip() else None
        except ValueError:
            raise BadRow("START_YEAR and END_YEAR must be years") from None
    if start is None:
        raise BadRow("START_DATE is empty")
    return {
        "member_id": _text(row, "MEMBERID", 60) or "synthea",
        "valid_from": start,
        "valid_to": end,
        "priority": 1,
        "_payer": _required(row, "PAYER", 120),
    }


def claim(row: dict) -> dict:
    outstanding = cents(row.get("OUTSTANDINGP"), "OUTSTANDINGP")
    return {
        "_encounter": _required(row, "APPOINTMENTID", 120),
        "_patient_outstanding_cents": outstanding,
        "_service_at": moment(row.get("SERVICEDATE"), "SERVICEDATE"),
    }
