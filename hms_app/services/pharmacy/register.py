"""The controlled drug register: every dispense and return of a controlled product (morphine,
oxycodone, fentanyl) is one line per product and store with the store's balance after it, who
did it and the witness who saw it.

Decisions written down:

* the witness is a second person who holds ``pharmacy.dispense`` through their roles, is not the
  dispenser, and confirms with their own password (the same check as sign-in: a wrong password
  counts towards the witness's lock-out, and a locked or disabled account cannot witness). The
  witness is checked before anything is written, because a wrong password's count is committed;
* the balance is the store's stock of the product's item after the move, read from the ledger's
  balances while the product row is locked, so the lines of one product are written one after
  the other and each balance follows from the one before (receipts through the stores show as
  the difference between two lines);
* the register is append-only: a mistake is corrected by a return, never by editing a line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlmodel import Session

from hms_app.errors import DomainError, ValidationError
from hms_app.models.inventory import StockBalance, StockLocation
from hms_app.models.patients import Patient
from hms_app.models.pharmacy import ControlledDrugRegister, FormularyProduct
from hms_app.models.security import AppUser
from hms_app.services.permissions import Actor, authorize
from hms_app.services.rows import returns_frozen
from hms_app.services.security import (
    _lock_message,
    _permissions_of,
    _register_failure,
    _roles_of,
    _verify_password,
)

DISPENSE = "pharmacy.dispense"
WRONG_WITNESS = "The witness's username or password is not right."


@dataclass(frozen=True)
class Witness:
    user_id: int
    name: str


def check_witness(session: Session, *, actor: Actor, username, password) -> Witness:
    """A second pharmacist confirms with their password; raises with a plain message otherwise.
    Runs before any write of the caller's transaction (a wrong password's count is committed).
    Only a dispenser asks for a witness (``pharmacy.dispense``)."""
    authorize(actor, DISPENSE)
    name = " ".join(str(username or "").split())[:60]
    if not name or not password:
        raise ValidationError(
            "A controlled drug needs a witness: their username and password.", field="witness"
        )
    if name.lower() == (actor.username or "").lower():
        raise ValidationError(
            "The witness must be someone other than the person dispensing.", field="witness"
        )
    user = session.execute(
        select(AppUser).where(func.lower(AppUser.username) == name.lower())
    ).scalar_one_or_none()
    if user is None:
        raise ValidationError(WRONG_WITNESS, field="witness")
    if user.id == actor.user_id:
        raise ValidationError(
            "The witness must be someone other than the person dispensing.", field="witness"
        )
    locked = _lock_message(user)
    if locked:
        raise DomainError(f"The witness's account is locked: {locked}")
    if not user.is_active or not _verify_password(user.password_hash, str(password)):
        _register_failure(session, user, "pharmacy.witness", "wrong witness password")
        raise ValidationError(WRONG_WITNESS, field="witness")
    permissions = _permissions_of(session, [role.id for role in _roles_of(session, user.id)])
    if DISPENSE not in permissions:
        raise ValidationError(f"{user.display_name} may not dispense, so cannot witness.", field="witness")
    return Witness(user.id, user.username[:60])


def lock_product(session: Session, product_id: int) -> None:
    """Hold the product row until commit: one register line of a product at a time."""
    session.execute(
        select(FormularyProduct.id).where(FormularyProduct.id == product_id).with_for_update()
    ).all()


def store_balance(session: Session, item_id: int, location_id: int) -> int:
    return session.execute(
        select(func.coalesce(func.sum(StockBalance.quantity), 0)).where(
            StockBalance.item_id == item_id, StockBalance.location_id == location_id
        )
    ).scalar_one()


@returns_frozen
def write_line(
    session: Session,
    *,
    actor: Actor,
    witness: Witness,
    product: FormularyProduct,
    location_id: int,
    kind: str,
    quantity: int,
    dispense_id: int,
    patient_id: int,
    lots: str,
    reason: str | None = None,
) -> ControlledDrugRegister:
    authorize(actor, DISPENSE)  # the register is written by dispensing and returns only
    line = ControlledDrugRegister(
        product_id=product.id,
        location_id=location_id,
        kind=kind,
        quantity=quantity,
        balance=store_balance(session, product.stock_item_id, location_id),
        dispense_id=dispense_id,
        patient_id=patient_id,
        lots=lots[:200],
        recorded_by_id=actor.user_id,
        recorded_by=(actor.username or "")[:60],
        witness_id=witness.user_id,
        witness=witness.name,
        reason=reason,
    )
    session.add(line)
    session.flush()
    return line


@dataclass(frozen=True)
class RegisterLine:
    id: int
    recorded_at: datetime
    product: str
    store: str
    kind: str
    quantity: int
    balance: int
    patient: str
    mrn: str
    lots: str
    recorded_by: str
    witness: str
    dispense_id: int
    reason: str | None


def register_lines(
    session: Session, *, actor: Actor, product_id: int | None = None, limit: int = 100
) -> list[RegisterLine]:
    """The register, newest line first, optionally of one product (``pharmacy.dispense``)."""
    authorize(actor, DISPENSE)
    query = (
        select(ControlledDrugRegister, FormularyProduct.name, StockLocation.name, Patient)
        .join(FormularyProduct, FormularyProduct.id == ControlledDrugRegister.product_id)
        .join(StockLocation, StockLocation.id == ControlledDrugRegister.location_id)
        .join(Patient, Patient.id == ControlledDrugRegister.patient_id)
        .order_by(ControlledDrugRegister.id.desc())
        .limit(max(1, min(int(limit), 500)))
    )
    if product_id is not None:
        query = query.where(ControlledDrugRegister.product_id == product_id)
    return [
        RegisterLine(
            id=line.id,
            recorded_at=line.recorded_at,
            product=product,
            store=store,
            kind=line.kind,
            quantity=line.quantity,
            balance=line.balance,
            patient=f"{patient.family_name.upper()}, {patient.given_name}",
            mrn=patient.mrn,
            lots=line.lots,
            recorded_by=line.recorded_by,
            witness=line.witness,
            dispense_id=line.dispense_id,
            reason=line.reason,
        )
        for line, product, store, patient in session.execute(query).all()
    ]


def controlled_products(session: Session, *, actor: Actor) -> list[tuple[int, str]]:
    authorize(actor, DISPENSE)
    return [
        (pid, name)
        for pid, name in session.execute(
            select(FormularyProduct.id, FormularyProduct.name)
            .where(FormularyProduct.controlled.is_(True))
            .order_by(FormularyProduct.name)
        ).all()
    ]
