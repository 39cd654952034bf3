"""A small hospital's stores for the inventory tests: departments, the staff who work them,
stores, items (lot-tracked and not, chargeable and not), a patient and the price list entry."""

from __future__ import annotations

from dataclasses import dataclass

from hms_app.models.billing import ChargeItemDefinition
from hms_app.models.inventory import StockItem, StockLocation, StockPackUnit, Supplier
from hms_app.models.organization import Department
from hms_app.models.security import AppUser
from hms_app.services import patients
from hms_app.services.permissions import SYSTEM_ACTOR, Actor

STOREKEEPER_PERMISSIONS = frozenset(
    {"inventory.read", "inventory.issue", "inventory.keep", "inventory.manage", "inventory.approve"}
)
NURSE_PERMISSIONS = frozenset({"inventory.read", "inventory.issue", "patient.read", "ward.manage"})
PHARMACIST_PERMISSIONS = frozenset(
    {"inventory.read", "inventory.issue", "inventory.keep", "pharmacy.dispense"}
)


@dataclass(frozen=True)
class World:
    ward_department: int
    pharmacy_department: int
    central: int  # the central store (no department: the storekeeper's)
    ward_store: int  # General Medicine's ward store
    pharmacy: int
    other_ward_store: int  # Cardiology's ward store
    gloves: int  # untracked, not chargeable, box of 100
    syringe: int  # lot-tracked, chargeable (SUP-SYR)
    paracetamol: int  # lot-tracked medicine, chargeable (DRUG-PCM)
    supplier: int
    patient: int
    storekeeper: Actor
    nurse: Actor
    cardio_nurse: Actor
    pharmacist: Actor
    receptionist: Actor


def _user(session, username: str, department_id: int | None) -> int:
    user = AppUser(username=username, display_name=username, password_hash="x", department_id=department_id)
    session.add(user)
    session.flush()
    return user.id


def build_world(session) -> World:
    gen = Department(code="GEN", name="General Medicine")
    card = Department(code="CARD", name="Cardiology")
    phar = Department(code="PHAR", name="Pharmacy", kind="support")
    session.add_all([gen, card, phar])
    session.flush()
    central = StockLocation(code="CS", name="Central store", kind="central")
    ward = StockLocation(code="W-GEN", name="Ward 3 store", kind="ward", department_id=gen.id)
    other = StockLocation(code="W-CARD", name="Cardiology store", kind="ward", department_id=card.id)
    pharmacy = StockLocation(code="PH", name="Main pharmacy", kind="pharmacy", department_id=phar.id)
    supplier = Supplier(name="MedSupply Ltd", lead_time_days=5)
    session.add_all([central, ward, other, pharmacy, supplier])
    session.flush()
    session.add_all(
        [
            ChargeItemDefinition(code="SUP-SYR", name="Syringe 10 ml", category="supply", price_cents=150),
            ChargeItemDefinition(code="DRUG-PCM", name="Paracetamol 500 mg", category="drug", price_cents=20),
        ]
    )
    gloves = StockItem(
        code="GLV-M",
        name="Examination gloves, M",
        category="supply",
        base_unit="each",
        track_lots=False,
        gtin="05012345678900",
        supplier_id=supplier.id,
        order_pack_size=100,
    )
    syringe = StockItem(
        code="SYR-10",
        name="Syringe 10 ml",
        category="supply",
        base_unit="each",
        chargeable=True,
        charge_code="SUP-SYR",
        gtin="09506000134352",
        supplier_id=supplier.id,
    )
    paracetamol = StockItem(
        code="PCM-500",
        name="Paracetamol 500 mg tablet",
        category="medicine",
        base_unit="tablet",
        chargeable=True,
        charge_code="DRUG-PCM",
        supplier_id=supplier.id,
    )
    session.add_all([gloves, syringe, paracetamol])
    session.flush()
    session.add_all(
        [
            StockPackUnit(item_id=gloves.id, name="box", base_quantity=100, gtin="15012345678907"),
            StockPackUnit(item_id=syringe.id, name="box", base_quantity=50, gtin="19506000134359"),
        ]
    )
    patient = patients.register_patient(
        session,
        actor=SYSTEM_ACTOR,
        data={"given_name": "Stock", "family_name": "Taker", "sex": "female", "birth_date": "1980-02-03"},
    )
    keeper_id = _user(session, "stores", None)
    nurse_id = _user(session, "nurse.gen", gen.id)
    cardio_id = _user(session, "nurse.card", card.id)
    pharm_id = _user(session, "pharm", phar.id)
    desk_id = _user(session, "desk", gen.id)
    session.commit()
    return World(
        ward_department=gen.id,
        pharmacy_department=phar.id,
        central=central.id,
        ward_store=ward.id,
        pharmacy=pharmacy.id,
        other_ward_store=other.id,
        gloves=gloves.id,
        syringe=syringe.id,
        paracetamol=paracetamol.id,
        supplier=supplier.id,
        patient=patient.id,
        storekeeper=Actor(
            keeper_id, "stores", roles=frozenset({"storekeeper"}), permissions=STOREKEEPER_PERMISSIONS
        ),
        nurse=Actor(nurse_id, "nurse.gen", roles=frozenset({"nurse"}), permissions=NURSE_PERMISSIONS),
        cardio_nurse=Actor(
            cardio_id, "nurse.card", roles=frozenset({"nurse"}), permissions=NURSE_PERMISSIONS
        ),
        pharmacist=Actor(
            pharm_id, "pharm", roles=frozenset({"pharmacist"}), permissions=PHARMACIST_PERMISSIONS
        ),
        receptionist=Actor(
            desk_id, "desk", roles=frozenset({"receptionist"}), permissions=frozenset({"patient.read"})
        ),
    )
