"""The problem list, coded in ICD-10-CM: searching the billable codes, adding a problem and
changing its status."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import simple_icd_10_cm as icd
from sqlalchemy import select
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.errors import Conflict, ValidationError
from hms_app.models.emr import Condition
from hms_app.services.audit import record_audit
from hms_app.services.emr.common import past_date, require_patient
from hms_app.services.permissions import Actor, authorize
from hms_app.services.rows import get_row, returns_frozen


@dataclass(frozen=True)
class IcdCode:
    code: str
    description: str


@lru_cache(maxsize=1)
def _billable_codes() -> tuple[tuple[str, str, str], ...]:
    """(code with dot, lowercase description, description) for every billable ICD-10-CM code."""
    rows = []
    for code in icd.get_all_codes(with_dots=True):
        if icd.is_leaf(code) and (icd.is_category(code) or icd.is_subcategory(code)):
            description = icd.get_description(code)
            rows.append((code, description.lower(), description))
    return tuple(rows)


def search_icd10(query: str, *, limit: int = 20) -> list[IcdCode]:
    """Billable ICD-10-CM codes whose code starts with ``query`` or whose words contain all its words."""
    text = re.sub(r"\s+", " ", (query or "").strip().lower())[:60]
    if len(text) < 2:
        return []
    limit = min(max(limit, 1), 50)
    code_like = re.fullmatch(r"[a-z]\d[0-9a-z]?\.?[0-9a-z]{0,4}", text)
    results: list[IcdCode] = []
    if code_like:
        prefix = text.upper()
        prefix_nodot = prefix.replace(".", "")
        for code, _lower, description in _billable_codes():
            if code.replace(".", "").startswith(prefix_nodot):
                results.append(IcdCode(code, description))
                if len(results) >= limit:
                    return results
    if code_like and results:
        return results
    # Every word must start a word of the description ("2" matches "type 2", not "stage 22"),
    # and the closest descriptions come first: those that begin with the first word, then the
    # shortest (the general code before its many specific variants).
    words = [w for w in re.split(r"[^a-z0-9.]+", text) if w]
    patterns = [re.compile(r"(?<![a-z0-9])" + re.escape(word)) for word in words]
    seen = {r.code for r in results}
    matches = []
    for code, lower, description in _billable_codes():
        # The plain substring test first: cheap, and it rules out almost every code.
        if all(w in lower for w in words) and code not in seen and all(p.search(lower) for p in patterns):
            matches.append((not lower.startswith(words[0]), len(description), code, description))
    matches.sort()
    results.extend(
        IcdCode(code, description) for _gap, _len, code, description in matches[: limit - len(results)]
    )
    return results


def icd10_description(code: str) -> str:
    """The description of a billable ICD-10-CM code; ValidationError for anything else."""
    code = (code or "").strip().upper()
    if not icd.is_valid_item(code):
        raise ValidationError(f"{code or 'That'} is not an ICD-10-CM code.", field="code")
    if not icd.is_leaf(code):
        raise ValidationError(
            f"{code} is a category, not a billable code; choose a more specific code.", field="code"
        )
    return icd.get_description(code)


@returns_frozen
def add_condition(
    session: Session,
    *,
    actor: Actor,
    patient_id: int,
    code: str,
    onset_date: date | str | None = None,
    clinical_status: str = "active",
) -> Condition:
    """Add a coded problem to the patient's problem list."""
    authorize(actor, "emr.write", patient_id=patient_id)
    require_patient(session, patient_id)
    code = (code or "").strip().upper()
    if "." not in code and len(code) > 3:
        code = code[:3] + "." + code[3:]
    description = icd10_description(code)
    if clinical_status not in ("active", "resolved", "inactive"):
        raise ValidationError("The status must be active, resolved or inactive.", field="clinical_status")
    onset = past_date(onset_date, "Onset date", "onset_date")
    existing = session.execute(
        select(Condition.id).where(
            Condition.patient_id == patient_id, Condition.code == code, Condition.clinical_status == "active"
        )
    ).first()
    if existing:
        raise Conflict(f"{code} is already on the active problem list.")
    condition = Condition(
        patient_id=patient_id,
        code=code,
        display=description[:300],
        clinical_status=clinical_status,
        onset_date=onset,
        recorded_by=actor.username,
    )
    session.add(condition)
    session.flush()
    record_audit(
        session,
        actor,
        "condition.add",
        patient_id=patient_id,
        target_type="condition",
        target_id=condition.id,
        detail=code,
    )
    session.commit()
    return condition


@returns_frozen
def set_condition_status(
    session: Session,
    *,
    actor: Actor,
    condition_id: int,
    clinical_status: str,
    abatement_date: date | str | None = None,
) -> Condition:
    """Reactivate a problem, mark it inactive or resolve it (today unless a date is given)."""
    condition = get_row(session, Condition, condition_id, "That problem does not exist.")
    authorize(actor, "emr.write", patient_id=condition.patient_id)
    if clinical_status not in ("active", "resolved", "inactive"):
        raise ValidationError("The status must be active, resolved or inactive.", field="clinical_status")
    abatement = past_date(abatement_date, "Resolution date", "abatement_date")
    if clinical_status == "resolved" and abatement is None:
        abatement = utcnow().date()
    if abatement and condition.onset_date and abatement < condition.onset_date:
        raise ValidationError("The resolution date is before the onset.", field="abatement_date")
    condition.clinical_status = clinical_status
    condition.abatement_date = abatement if clinical_status != "active" else None
    session.add(condition)
    record_audit(
        session,
        actor,
        "condition.status",
        patient_id=condition.patient_id,
        target_type="condition",
        target_id=condition.id,
        detail=clinical_status,
    )
    session.commit()
    return condition
