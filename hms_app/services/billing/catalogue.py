"""The service catalogue (FHIR ChargeItemDefinition) and payers' negotiated price lists."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, or_, select
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.errors import ValidationError
from hms_app.models.billing import ChargeItemDefinition, PriceList, PriceListItem
from hms_app.models.organization import Department
from hms_app.models.patients import Payer
from hms_app.services import organization
from hms_app.services.billing.common import _audit
from hms_app.services.billing.money import format_money, parse_money
from hms_app.services.permissions import Actor, authorize
from hms_app.services.rows import get_row, returns_frozen


def price_for(session: Session, *, code: str, payer_id: int | None, on: date | None = None) -> int | None:
    """The payer's negotiated price for ``code`` on ``on``, or None when its price lists lack it."""
    if payer_id is None:
        return None
    on = on or utcnow().date()
    return session.execute(
        select(PriceListItem.price_cents)
        .join(PriceList, PriceList.id == PriceListItem.price_list_id)
        .where(
            PriceList.payer_id == payer_id,
            PriceList.active.is_(True),
            PriceList.valid_from <= on,
            or_(PriceList.valid_to.is_(None), PriceList.valid_to >= on),
            PriceListItem.code == code,
        )
        .order_by(PriceList.valid_from.desc())
        .limit(1)
    ).scalar_one_or_none()


@dataclass(frozen=True)
class CatalogueRow:
    id: int
    code: str
    name: str
    category: str
    department_id: int | None
    department: str
    price_cents: int
    tax_rate_bp: int
    active: bool


CATEGORIES = ("visit", "lab", "imaging", "drug", "procedure", "room")


def list_catalogue(
    session: Session,
    *,
    actor: Actor,
    query: str = "",
    offset: int = 0,
    limit: int = 50,
    active_only: bool = False,
) -> tuple[list[CatalogueRow], int]:
    """One page of the service catalogue, by code."""
    authorize(actor, "billing.read")
    conditions = []
    text = (query or "").strip()
    if text:
        conditions.append(
            or_(
                ChargeItemDefinition.code.ilike(f"{text[:40]}%"),
                ChargeItemDefinition.name.ilike(f"%{text[:60]}%"),
            )
        )
    if active_only:
        conditions.append(ChargeItemDefinition.active.is_(True))
    total = session.execute(select(func.count(ChargeItemDefinition.id)).where(*conditions)).scalar_one()
    rows = session.execute(
        select(ChargeItemDefinition, Department.name)
        .outerjoin(Department, Department.id == ChargeItemDefinition.department_id)
        .where(*conditions)
        .order_by(ChargeItemDefinition.code)
        .offset(max(0, offset))
        .limit(max(1, min(limit, 500)))
    ).all()
    return [
        CatalogueRow(
            d.id,
            d.code,
            d.name,
            d.category,
            d.department_id,
            dept or "",
            d.price_cents,
            d.tax_rate_bp,
            d.active,
        )
        for d, dept in rows
    ], int(total)


@returns_frozen
def save_charge_definition(session: Session, *, actor: Actor, data: dict) -> ChargeItemDefinition:
    """Add a service to the catalogue or change one (found by its code)."""
    authorize(actor, "billing.post")
    code = str(data.get("code") or "").strip().upper()
    if not re.fullmatch(r"[A-Z0-9][A-Z0-9\-_.]{1,39}", code):
        raise ValidationError("The code has 2 to 40 letters, digits or dashes.", field="code")
    name = str(data.get("name") or "").strip()
    if not 2 <= len(name) <= 200:
        raise ValidationError("Enter the service name.", field="name")
    category = str(data.get("category") or "procedure").strip().lower()
    if category not in CATEGORIES:
        raise ValidationError("Choose the kind of service.", field="category")
    price = parse_money(data.get("price"), field="price", label="the price", allow_zero=True)
    try:
        # "8.25" (percent, two decimals) parses to 825, which is the rate in basis points.
        tax_bp = parse_money(data.get("tax_percent") or "0", field="tax_percent", allow_zero=True)
    except ValidationError as error:
        raise ValidationError(
            "Enter the tax rate in percent, such as 0 or 8.25.", field="tax_percent"
        ) from error
    if tax_bp > 10_000:
        raise ValidationError("The tax rate is at most 100 %.", field="tax_percent")
    department_id = data.get("department_id")
    department_id = int(department_id) if str(department_id or "").strip().isdigit() else None
    if department_id is not None and session.get(Department, department_id) is None:
        raise ValidationError("That department does not exist.", field="department_id")
    active = str(data.get("active", "true")).lower() not in ("false", "0", "off", "")
    definition = session.execute(
        select(ChargeItemDefinition).where(ChargeItemDefinition.code == code)
    ).scalar_one_or_none()
    created = definition is None
    if created:
        definition = ChargeItemDefinition(code=code, name=name, price_cents=price)
    before = "" if created else f"{format_money(definition.price_cents)} tax {definition.tax_rate_bp}bp"
    definition.name = name
    definition.category = category
    definition.department_id = department_id
    definition.price_cents = price
    definition.tax_rate_bp = tax_bp
    definition.active = active
    session.add(definition)
    session.flush()
    _audit(
        session,
        actor,
        "billing.catalogue",
        patient_id=None,
        target=definition,
        detail=f"{'added' if created else 'changed'} {code}: {format_money(price)} tax {tax_bp}bp"
        + (f" (was {before})" if before else ""),
    )
    session.commit()
    return definition


@dataclass(frozen=True)
class PriceListRow:
    id: int
    payer: str
    name: str
    valid_from: date
    valid_to: date | None
    items: int
    active: bool


def list_price_lists(session: Session, *, actor: Actor) -> list[PriceListRow]:
    """Every payer price list with its number of prices."""
    authorize(actor, "billing.read")
    counts = (
        select(PriceListItem.price_list_id, func.count(PriceListItem.id).label("n"))
        .group_by(PriceListItem.price_list_id)
        .subquery()
    )
    rows = session.execute(
        select(PriceList, Payer.name, func.coalesce(counts.c.n, 0))
        .join(Payer, Payer.id == PriceList.payer_id)
        .outerjoin(counts, counts.c.price_list_id == PriceList.id)
        .order_by(Payer.name, PriceList.valid_from.desc())
        .limit(200)
    ).all()
    return [
        PriceListRow(p.id, payer, p.name, p.valid_from, p.valid_to, int(n), p.active) for p, payer, n in rows
    ]


def list_price_list_items(
    session: Session, *, actor: Actor, price_list_id: int
) -> list[tuple[str, str, int, int]]:
    """(code, name, list price, negotiated price) of one price list."""
    authorize(actor, "billing.read")
    rows = session.execute(
        select(
            PriceListItem.code,
            ChargeItemDefinition.name,
            ChargeItemDefinition.price_cents,
            PriceListItem.price_cents,
        )
        .outerjoin(ChargeItemDefinition, ChargeItemDefinition.code == PriceListItem.code)
        .where(PriceListItem.price_list_id == price_list_id)
        .order_by(PriceListItem.code)
        .limit(1000)
    ).all()
    return [(c, n or "", int(lp or 0), int(p)) for c, n, lp, p in rows]


@returns_frozen
def create_price_list(
    session: Session, *, actor: Actor, payer_id: int, name: str, valid_from: date
) -> PriceList:
    """Start a payer's price list."""
    authorize(actor, "billing.post")
    if session.get(Payer, payer_id) is None:
        raise ValidationError("Choose the payer.", field="payer_id")
    name = (name or "").strip()
    if not 2 <= len(name) <= 120:
        raise ValidationError("Enter the price list's name.", field="name")
    price_list = PriceList(payer_id=payer_id, name=name, valid_from=valid_from)
    session.add(price_list)
    session.flush()
    _audit(session, actor, "billing.pricelist", patient_id=None, target=price_list, detail=f"created {name}")
    session.commit()
    return price_list


@returns_frozen
def set_price(session: Session, *, actor: Actor, price_list_id: int, code: str, price) -> PriceListItem:
    """Set (or change) the negotiated price of one service on a price list."""
    authorize(actor, "billing.post")
    price_list = get_row(session, PriceList, price_list_id, "That price list does not exist.")
    code = str(code or "").strip().upper()
    if (
        session.execute(select(ChargeItemDefinition.id).where(ChargeItemDefinition.code == code)).first()
        is None
    ):
        raise ValidationError(f"There is no service with the code {code}.", field="code")
    cents = parse_money(price, field="price", label="the price", allow_zero=True)
    item = session.execute(
        select(PriceListItem).where(PriceListItem.price_list_id == price_list_id, PriceListItem.code == code)
    ).scalar_one_or_none()
    before = None if item is None else item.price_cents
    if item is None:
        item = PriceListItem(price_list_id=price_list_id, code=code, price_cents=cents)
    item.price_cents = cents
    session.add(item)
    _audit(
        session,
        actor,
        "billing.pricelist",
        patient_id=None,
        target=price_list,
        detail=f"{code} {format_money(cents)}"
        + (f" (was {format_money(before)})" if before is not None else ""),
    )
    session.commit()
    return item


def list_departments(session: Session, *, actor: Actor) -> list[tuple[int, str]]:
    """Active departments, for the catalogue and expense forms."""
    authorize(actor, "billing.read")
    return organization.active_departments(session)
