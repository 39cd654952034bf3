"""What the financial mappers (Coverage, ChargeItem, Invoice, Claim) share: Money, the payer and
the hospital as references, staff named by username, and status searches over HMS's states.
No ``MAPPER`` here: the registry passes this module by."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from sqlalchemy import false, or_, select
from sqlalchemy.orm import object_session

from hms_app.interop.fhir.elements import ref
from hms_app.interop.fhir.outcome import fail
from hms_app.interop.fhir.resources.practitioner import USER_SYSTEM, is_staff
from hms_app.interop.fhir.search import Clause, Param, split_values
from hms_app.models.patients import Payer
from hms_app.models.security import AppUser
from hms_app.settings import get_settings

# HMS's service catalogue codes (charge_item_definition.code): HMS has no CPT/HCPCS column, so the
# codes are the hospital's own.
CHARGE_CODE_SYSTEM = "urn:hms:charge-code"
PAYER_SYSTEM = "urn:hms:payer"
INVOICE_SYSTEM = "urn:hms:invoice"
PRICE_COMPONENT_SYSTEM = "urn:hms:price-component"


def money(cents: int | None) -> dict | None:
    """Integer cents as FHIR Money in the hospital's currency.

    The amount is worked out as an exact Decimal; it leaves as a JSON number, and a float's
    shortest representation of a Decimal with two places (under 15 digits) is that Decimal's
    digits, so ``12.35`` is written ``12.35`` and a client reading it as a decimal gets it exactly.
    """
    if cents is None:
        return None
    amount = Decimal(int(cents)).scaleb(-2)
    return {"value": float(amount), "currency": get_settings().currency}


def payer_reference(payer: Payer | None) -> dict | None:
    """A payer: its Organization (``pay-`` ids), its code and its name."""
    if payer is None:
        return None
    return {
        "reference": f"Organization/pay-{payer.id}",
        "identifier": {"system": PAYER_SYSTEM, "value": payer.code},
        "display": payer.name,
    }


def hospital() -> dict:
    return {"display": get_settings().hospital_name}


def staff_reference(row, username: str | None) -> dict | None:
    """Who entered a row (a username) as a reference to the Practitioner, or by username alone for
    an account that is no member of staff (the system, a client). Looked up once per request."""
    if not username:
        return None
    session = object_session(row)
    known: dict = session.info.setdefault("fhir_staff_by_username", {})
    if username not in known:
        found = session.execute(
            select(AppUser.id, AppUser.display_name).where(AppUser.username == username, is_staff())
        ).first()
        known[username] = tuple(found) if found else None
    if known[username] is None:
        return {"identifier": {"system": USER_SYSTEM, "value": username}, "display": username}
    user_id, name = known[username]
    return ref("Practitioner", user_id, name)


def payer_of(row) -> Payer | None:
    payer_id = getattr(row, "payer_id", None)
    return object_session(row).get(Payer, payer_id) if payer_id is not None else None


def status_param(system: str, conditions: Mapping[str, Clause]) -> Param:
    """``status``: FHIR codes of ``system`` whose HMS meaning is a SQL condition (one FHIR status
    may stand for several HMS states, or for a state derived from amounts)."""

    def build(raw: str, modifier: str | None, name: str) -> Clause:
        if modifier not in (None, "not"):
            raise fail(400, f"The modifier :{modifier} is not supported on {name}.", code="not-supported")
        clauses = []
        for value in split_values(raw, name):
            wanted_system, bar, code = value.rpartition("|") if "|" in value else ("", "", value)
            if bar and wanted_system and wanted_system != system:
                clauses.append(false())
            else:
                clauses.append(conditions.get(code.strip(), false()))
        clause = clauses[0] if len(clauses) == 1 else or_(*clauses)
        return ~clause if modifier == "not" else clause

    return Param("token", build)
