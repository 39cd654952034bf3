"""Patient search: one page of patients matching a name fragment, MRN, phone or birth date.

Search pages in SQL over indexed keys (see ``patient_keys``): name prefixes, "sounds like"
codes, phone digits, MRN and birth date, so it stays fast at a million patients.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, func, select
from sqlmodel import Session

from hms_app.models.patients import Patient
from hms_app.services.audit import record_audit
from hms_app.services.patient_keys import fold, sound
from hms_app.services.patients.demographics import full_name, parse_date
from hms_app.services.patients.lookup import not_merged
from hms_app.services.patients.mrn import MRN_PREFIX
from hms_app.services.permissions import Actor, authorize


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
    base = [not_merged(session)]
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


def find_living(session: Session, *, actor: Actor, query: str, limit: int) -> list[PatientRow]:
    """The first active, living patients matching ``query``: whom a dialog may book or admit."""
    rows, _total = search_patients(
        session, actor=actor, query=query, page=1, page_size=limit, include_inactive=False
    )
    return [row for row in rows if not row.deceased]
