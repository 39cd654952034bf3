"""Suppliers: who the hospital buys from, how to reach them, and how many days they promise
between an order being sent and its delivery (the expected date of every order sent to them).

A supplier's name is unique (ignoring case and spacing): two "MedSupply Ltd" rows would split
one supplier's orders and expenses in two. Suppliers are never deleted, only made inactive:
their orders and expenses keep pointing at them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from hms_app.errors import Conflict, FieldErrors, NotFound, ValidationError
from hms_app.models.inventory import PurchaseOrder, StockItem, Supplier
from hms_app.services.inventory.common import MANAGE, audit_stock
from hms_app.services.permissions import Actor, authorize
from hms_app.services.rows import returns_frozen

MAX_LEAD_DAYS = 365
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_RE = re.compile(r"^\+?[\d\s().\-]{7,40}$")
OPEN_ORDER_STATUSES = ("draft", "approved", "sent", "partly_received")
SUPPLIER_FIELDS = ("name", "contact", "email", "phone", "lead_time_days", "active")


def _text(data: dict, key: str, limit: int) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str | int):
        raise ValidationError("This value could not be read; enter it again.", field=key)
    text = " ".join(str(value if value is not None else "").split())
    if len(text) > limit:
        raise ValidationError(f"Keep this to {limit} characters.", field=key)
    return text or None


def _name(data: dict) -> str:
    name = _text(data, "name", 120)
    if name is None or len(name) < 2:
        raise ValidationError("Enter the supplier's name (2 to 120 characters).", field="name")
    return name


def _email(data: dict) -> str | None:
    email = _text(data, "email", 200)
    if email is not None and not EMAIL_RE.fullmatch(email):
        raise ValidationError("Enter an email address such as orders@supplier.example.", field="email")
    return email.lower() if email else None


def _phone(data: dict) -> str | None:
    phone = _text(data, "phone", 40)
    if phone is not None and (not PHONE_RE.fullmatch(phone) or len(re.sub(r"\D", "", phone)) < 7):
        raise ValidationError(
            "Enter a phone number of at least 7 digits, e.g. +1 555 010 2030.", field="phone"
        )
    return phone


def _lead_time(data: dict) -> int:
    raw = data.get("lead_time_days")
    text = str(raw).strip() if isinstance(raw, str | int) and not isinstance(raw, bool) else ""
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_LEAD_DAYS:
        raise ValidationError(
            f"The lead time is a whole number of days from 0 to {MAX_LEAD_DAYS}.", field="lead_time_days"
        )
    return int(text)


def _active(data: dict) -> bool:
    value = data.get("active", True)
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "on", "yes")


def _clean(data: dict) -> dict:
    """Every field of the supplier form checked at once (``InvalidFields`` lists what is wrong)."""
    if not isinstance(data, dict):
        raise ValidationError("The supplier form could not be read; enter it again.")
    errors = FieldErrors()
    values = {
        "name": errors.check(_name, data),
        "contact": errors.check(_text, data, "contact", 120),
        "email": errors.check(_email, data),
        "phone": errors.check(_phone, data),
        "lead_time_days": errors.check(_lead_time, data),
        "active": _active(data),
    }
    errors.raise_any()
    return values


def _name_taken(session: Session, name: str, except_id: int | None) -> bool:
    query = select(Supplier.id).where(func.lower(Supplier.name) == name.lower())
    if except_id is not None:
        query = query.where(Supplier.id != except_id)
    return session.execute(query.limit(1)).first() is not None


def _taken(name: str) -> ValidationError:
    return ValidationError(f"A supplier called {name} is already on the list.", field="name")


@returns_frozen
def create_supplier(session: Session, *, actor: Actor, data: dict) -> Supplier:
    """Add a supplier with its contact details and promised lead time."""
    authorize(actor, MANAGE)
    values = _clean(data)
    if _name_taken(session, values["name"], None):
        raise _taken(values["name"])
    supplier = Supplier(**values)
    try:
        with session.begin_nested():
            session.add(supplier)
            session.flush()
    except IntegrityError:
        raise _taken(values["name"]) from None
    audit_stock(
        session,
        actor,
        "inventory.supplier_create",
        target_type="supplier",
        target_id=supplier.id,
        detail=f"{supplier.name}, lead time {supplier.lead_time_days} d",
    )
    session.commit()
    return supplier


@returns_frozen
def update_supplier(session: Session, *, actor: Actor, supplier_id: int, data: dict) -> Supplier:
    """Change a supplier's name, contact details, lead time or whether it is still used."""
    authorize(actor, MANAGE)
    supplier = (
        session.get(Supplier, supplier_id, with_for_update=True) if isinstance(supplier_id, int) else None
    )
    if supplier is None:
        raise NotFound("That supplier does not exist.")
    values = _clean(data)
    if _name_taken(session, values["name"], supplier.id):
        raise _taken(values["name"])
    changed = [key for key in SUPPLIER_FIELDS if getattr(supplier, key) != values[key]]
    if not changed:
        return supplier
    for key in changed:
        setattr(supplier, key, values[key])
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"A supplier called {values['name']} was added a moment ago.") from None
    audit_stock(
        session,
        actor,
        "inventory.supplier_update",
        target_type="supplier",
        target_id=supplier.id,
        detail=f"{supplier.name}: " + ", ".join(changed),
    )
    session.commit()
    return supplier


@dataclass(frozen=True)
class SupplierRow:
    id: int
    name: str
    contact: str
    email: str
    phone: str
    lead_time_days: int
    active: bool
    items: int  # stock items it is the usual supplier of
    open_orders: int


def list_suppliers(
    session: Session,
    *,
    actor: Actor,
    query: str = "",
    include_inactive: bool = True,
    offset: int = 0,
    limit: int = 25,
) -> tuple[list[SupplierRow], int]:
    """One page of suppliers by name with how many items and open orders each has, and the count."""
    authorize(actor, "inventory.read")
    conditions = []
    text = " ".join(str(query or "").split())[:100]
    if text:
        pattern = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conditions.append(func.lower(Supplier.name).like(pattern, escape="\\"))
    if not include_inactive:
        conditions.append(Supplier.active.is_(True))
    total = session.execute(select(func.count(Supplier.id)).where(*conditions)).scalar_one()
    items = (
        select(func.count(StockItem.id))
        .where(StockItem.supplier_id == Supplier.id, StockItem.active.is_(True))
        .scalar_subquery()
    )
    orders = (
        select(func.count(PurchaseOrder.id))
        .where(PurchaseOrder.supplier_id == Supplier.id, PurchaseOrder.status.in_(OPEN_ORDER_STATUSES))
        .scalar_subquery()
    )
    rows = session.execute(
        select(Supplier, items, orders)
        .where(*conditions)
        .order_by(case((Supplier.active.is_(True), 0), else_=1), func.lower(Supplier.name), Supplier.id)
        .offset(max(0, offset))
        .limit(max(1, min(limit, 200)))
    ).all()
    return (
        [
            SupplierRow(
                s.id,
                s.name,
                s.contact or "",
                s.email or "",
                s.phone or "",
                s.lead_time_days,
                s.active,
                int(n_items),
                int(n_orders),
            )
            for s, n_items, n_orders in rows
        ],
        int(total),
    )


@dataclass(frozen=True)
class SupplierChoice:
    id: int
    name: str
    lead_time_days: int


def supplier_choices(session: Session, *, actor: Actor) -> list[SupplierChoice]:
    """The active suppliers by name, for a form's list (a hospital buys from dozens, not thousands)."""
    authorize(actor, "inventory.read")
    rows = session.execute(
        select(Supplier.id, Supplier.name, Supplier.lead_time_days)
        .where(Supplier.active.is_(True))
        .order_by(func.lower(Supplier.name))
        .limit(500)
    ).all()
    return [SupplierChoice(i, n, d) for i, n, d in rows]
