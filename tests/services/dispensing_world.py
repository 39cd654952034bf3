"""The pharmacy of the dispensing tests: the prescribing world (formulary, staff, patients, the
knowledge stand-in) plus a pharmacy store holding paracetamol in two lots (the later-expiring one
received first) and morphine (controlled), priced for billing, and a second pharmacist with a real
password and role to witness controlled drugs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from hms_app.clock import local_today
from hms_app.models.billing import ChargeItemDefinition
from hms_app.models.inventory import StockItem, StockLocation
from hms_app.models.organization import Department
from hms_app.models.security import AppUser, Role, UserRole
from hms_app.seed.pharmacy import load_formulary
from hms_app.services import accounts
from hms_app.services.inventory.ledger import receive_stock
from hms_app.services.permissions import DEFAULT_GRANTS, SYSTEM_ACTOR, Actor
from hms_app.services.pharmacy.prescribing import prepare_order, sign_order
from hms_app.services.security import hash_password
from tests.services.pharmacy_world import RxWorld, build_rx_world

PASSWORD = "Witness-2026x"
SOON = local_today() + timedelta(days=60)
LATER = local_today() + timedelta(days=400)


@dataclass(frozen=True)
class DispenseWorld:
    rx: RxWorld
    store: int
    ward_store: int
    paracetamol_item: int
    morphine_item: int
    witness: Actor  # a second pharmacist, password PASSWORD
    nurse_with_password: Actor  # may not dispense, password PASSWORD
    other_pharmacist: Actor  # pharmacist of another department (no store here)

    @property
    def pharmacist(self) -> Actor:
        return self.rx.pharmacist


def _person(session, username: str, role: str, department_id: int | None) -> Actor:
    user = AppUser(
        username=username,
        display_name=username.title(),
        password_hash=hash_password(PASSWORD),
        department_id=department_id,
    )
    session.add(user)
    session.flush()
    role_id = session.execute(select(Role.id).where(Role.name == role)).scalar_one()
    session.add(UserRole(user_id=user.id, role_id=role_id))
    return Actor(
        user.id, username, username.title(), roles=frozenset({role}), permissions=DEFAULT_GRANTS[role]
    )


def build_dispense_world(session) -> DispenseWorld:
    rx = build_rx_world(session)
    accounts.ensure_roles(session)
    pharm_dept = session.execute(select(Department.id).where(Department.code == "PHARM")).scalar_one()
    gen = session.execute(select(Department.id).where(Department.code == "GEN")).scalar_one()
    store = StockLocation(code="PH", name="Main pharmacy", kind="pharmacy", department_id=pharm_dept)
    ward = StockLocation(code="W-GEN", name="Ward 3 store", kind="ward", department_id=gen)
    session.add_all([store, ward])
    session.add_all(
        [
            ChargeItemDefinition(
                code="DRUG-PCM-TAB", name="Paracetamol 500 mg tablet", category="drug", price_cents=5
            ),
            ChargeItemDefinition(
                code="DRUG-MORPH", name="Morphine 10 mg ampoule", category="drug", price_cents=300
            ),
        ]
    )
    pcm = StockItem(
        code="MED-PCM-500",
        name="Paracetamol 500 mg tablet",
        category="medicine",
        base_unit="tablet",
        chargeable=True,
        charge_code="DRUG-PCM-TAB",
    )
    morph = StockItem(
        code="MED-MORPH-10",
        name="Morphine sulfate 10 mg/ml ampoule",
        category="medicine",
        base_unit="ampoule",
        chargeable=True,
        charge_code="DRUG-MORPH",
    )
    session.add_all([pcm, morph])
    session.flush()
    load_formulary(session)  # links the products to the items just created
    witness = _person(session, "pharm.two", "pharmacist", pharm_dept)
    nurse = _person(session, "nurse.pw", "nurse", gen)
    other = _person(session, "pharm.away", "pharmacist", gen)
    session.commit()
    for item, lot, expiry, quantity in (
        (pcm.id, "PCM-LATE", LATER, 100),
        (pcm.id, "PCM-SOON", SOON, 30),
        (morph.id, "MOR-1", LATER, 10),
    ):
        receive_stock(
            session,
            actor=SYSTEM_ACTOR,
            item_id=item,
            location_id=store.id,
            quantity=quantity,
            lot_number=lot,
            expiry_date=expiry,
        )
    return DispenseWorld(
        rx=rx,
        store=store.id,
        ward_store=ward.id,
        paracetamol_item=pcm.id,
        morphine_item=morph.id,
        witness=witness,
        nurse_with_password=nurse,
        other_pharmacist=other,
    )


def signed_order(
    session, world: DispenseWorld, *, patient_id: int | None = None, code="RX-APAP-500-TAB", **fields
) -> int:
    """A signed order (paracetamol 1 g QID for 5 days: 40 tablets by default)."""
    data = {
        "product_id": world.rx.product(code),
        "setting": "outpatient",
        "dose": "1",
        "dose_unit": "g",
        "route": "oral",
        "frequency": "QID",
        "duration_days": "5",
    }
    data.update(fields)
    prepared = prepare_order(
        session, actor=world.rx.physician, patient_id=patient_id or world.rx.man, data=data
    )
    return sign_order(session, actor=world.rx.physician, order_id=prepared.order_id).order_id


def morphine_order(session, world: DispenseWorld, **fields) -> int:
    data = {"dose": "10", "dose_unit": "mg", "route": "iv", "frequency": "QD", "duration_days": "3"}
    data.update(fields)
    return signed_order(session, world, code="RX-MORPH-10-INJ", setting="inpatient", **data)
