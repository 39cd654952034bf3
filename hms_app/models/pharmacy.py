"""Pharmacy: the formulary (what the hospital stocks and lets physicians prescribe), structured
medication orders, the order-check alerts each order was shown and the overrides that signed past
them.

Named after FHIR R4: a ``formulary_product`` is a Medication (ingredients with strengths, a dose
form, RxNorm and ATC codes, brand names), a ``medication_order`` is a MedicationRequest (dose,
route, timing with its frequency code, PRN with an indication, the dispense request's quantity),
an order's ``medication_order_alert`` is a DetectedIssue shown to the prescriber, and a
``medication_override`` the DetectedIssue's mitigation (who went ahead, and why).

A product counts in one unit (``FORMS``: tablet, capsule, mL, puff, insulin unit, patch, drop ...)
and is dispensed in another (bottle, inhaler, pen, vial ...): ``services.pharmacy.quantity`` turns
an order's dose, frequency and duration into the dispense quantity from the product's columns.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Column, Index, Numeric, UniqueConstraint
from sqlmodel import Field, SQLModel

from hms_app.clock import utcnow

# Dose form -> (label, the unit its doses are counted in). The counting unit is also what the
# ingredients' strengths are "per" (per tablet, per mL, per puff, per insulin unit, per patch).
FORMS = {
    "tablet": ("Tablet", "tablet"),
    "capsule": ("Capsule", "capsule"),
    "liquid": ("Oral liquid", "mL"),
    "injection": ("Injection (ampoule, vial, syringe)", "mL"),
    "infusion": ("Infusion bag", "mL"),
    "nebule": ("Nebuliser solution", "mL"),
    "inhaler": ("Inhaler", "puff"),
    "insulin_pen": ("Insulin pen", "unit"),
    "insulin_vial": ("Insulin vial", "unit"),
    "patch": ("Transdermal patch", "patch"),
    "eye_drops": ("Eye drops", "drop"),
}
ROUTES = {
    "oral": "By mouth",
    "sublingual": "Under the tongue",
    "iv": "Intravenous",
    "im": "Intramuscular",
    "sc": "Subcutaneous",
    "inhaled": "Inhaled",
    "transdermal": "Transdermal",
    "ophthalmic": "Into the eye",
    "rectal": "Rectal",
}
FORMULARY_STATUSES = {
    "formulary": "On formulary",
    "restricted": "Restricted",
    "non_formulary": "Non-formulary",
}
ORDER_STATUSES = (
    "draft",  # prepared: quantity computed, checks shown, not signed
    "active",  # signed
    "stopped",  # stopped early, with a reason
    "completed",  # ran its course, or renewed by a new order
    "changed",  # replaced by a new order with other dose, route, frequency or product
)
SETTINGS = {"inpatient": "Inpatient", "outpatient": "Outpatient (prescription)"}


class FormularyProduct(SQLModel, table=True):
    """A clinical drug the hospital can prescribe (RxNorm SCD-like): ingredients and strengths
    (``formulary_ingredient``), dose form, routes, codes, status and the stock item it is
    dispensed from."""

    __tablename__ = "formulary_product"
    __table_args__ = (
        CheckConstraint("package_size > 0", name="ck_formulary_product_package"),
        CheckConstraint(
            "formulary_status <> 'restricted' OR restriction IS NOT NULL", name="ck_formulary_restriction"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=30, unique=True)  # the hospital's own: "RX-AMOX-500-CAP"
    name: str = Field(max_length=160, index=True)  # "Amoxicillin 500 mg capsule"
    dose_form: str = Field(max_length=20)  # FORMS
    routes: str = Field(max_length=60)  # ROUTES, "|"-separated, the usual one first: "iv|im"
    rxcui: str | None = Field(default=None, max_length=12)  # RxNorm clinical drug CUI where known
    atc: str | None = Field(default=None, max_length=40)  # ATC code(s), "|"-separated
    synonyms: str | None = Field(default=None, max_length=300)  # brand and other names, "|"-separated
    # How a mL of a liquid or injection is made up: "250 mg per 5 mL" has strength 250 (on the
    # ingredient) and strength_volume 5; 1 for solids and everything counted per unit.
    strength_volume: Decimal = Field(default=Decimal(1), sa_column=Column(Numeric(10, 3), nullable=False))
    dispense_unit: str = Field(max_length=20)  # "tablet", "bottle", "inhaler", "pen", "vial", "patch"
    # Counting units in one dispense unit: 1 tablet, 100 mL a bottle, 200 puffs an inhaler, 300
    # units a pen, 5 mL an eye-drop bottle, 2 mL an ampoule.
    package_size: Decimal = Field(default=Decimal(1), sa_column=Column(Numeric(10, 3), nullable=False))
    pack_size: int = Field(default=1)  # dispense units in the pack it is stocked in: a box of 28
    scored: bool = Field(default=False)  # a tablet that may be halved
    priming_units: int = Field(default=0)  # insulin pens: the air shot before every injection
    wear_hours: int | None = Field(default=None)  # patches: hours one patch stays on
    drops_per_ml: int | None = Field(default=None)  # eye drops: about 20
    formulary_status: str = Field(default="formulary", max_length=16)  # FORMULARY_STATUSES
    restriction: str | None = Field(default=None, max_length=300)  # who may order it, for what
    stock_item_id: int | None = Field(default=None, foreign_key="stock_item.id", index=True)
    # A controlled drug (morphine, oxycodone): every dispense and return writes a register line
    # with a witness (``controlled_drug_register``).
    controlled: bool = Field(default=False)
    active: bool = Field(default=True)
    updated_at: datetime = Field(default_factory=utcnow)
    updated_by: str | None = Field(default=None, max_length=60)


class FormularyIngredient(SQLModel, table=True):
    """One active ingredient of a product with its strength per counting unit (per
    ``strength_volume`` mL for liquids). The first (position 0) is the one doses may be written in."""

    __tablename__ = "formulary_ingredient"
    __table_args__ = (
        UniqueConstraint("product_id", "ingredient", name="uq_formulary_ingredient"),
        CheckConstraint("strength > 0", name="ck_formulary_ingredient_strength"),
    )

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="formulary_product.id", index=True)
    ingredient: str = Field(max_length=80, index=True)  # generic name the knowledge base knows: "amoxicillin"
    strength: Decimal = Field(sa_column=Column(Numeric(12, 4), nullable=False))
    strength_unit: str = Field(max_length=12)  # "mg", "mcg", "g", "unit", "%", "mcg/h"
    position: int = Field(default=0)


class MedicationOrder(SQLModel, table=True):
    """A structured prescription (FHIR MedicationRequest). A change or renewal is a new order that
    names the one it replaces (``replaces_id``, with the reason); the old one keeps its fields.
    While active, the chart's medication list shows it through ``statement_id``."""

    __tablename__ = "medication_order"
    __table_args__ = (
        Index("ix_medication_order_patient_status", "patient_id", "status"),
        Index("ix_medication_order_status_signed", "status", "signed_at"),
        CheckConstraint("dose > 0", name="ck_medication_order_dose"),
    )

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=20, unique=True)  # "RX-000123"
    patient_id: int = Field(foreign_key="patient.id")
    encounter_id: int | None = Field(default=None, foreign_key="encounter.id", index=True)
    product_id: int = Field(foreign_key="formulary_product.id", index=True)
    setting: str = Field(max_length=12)  # SETTINGS
    dose: Decimal = Field(sa_column=Column(Numeric(12, 4), nullable=False))
    dose_unit: str = Field(max_length=12)  # the first ingredient's strength unit, or the counting unit
    route: str = Field(max_length=16)  # ROUTES
    frequency: str = Field(max_length=10)  # services.pharmacy.frequencies code: "BID", "q8h", "PRN"
    prn: bool = Field(default=False)
    prn_indication: str | None = Field(default=None, max_length=120)
    max_doses_per_day: int | None = Field(default=None)  # PRN: at most this many doses in 24 h
    start_at: datetime
    duration_days: int | None = Field(default=None)
    end_at: datetime | None = Field(default=None)  # from the duration, or as written
    instructions: str | None = Field(default=None, max_length=300)
    # What the pharmacy dispenses, computed at preparation and shown before signing.
    dispense_quantity: int = Field(default=0)
    dispense_unit: str = Field(max_length=20)
    quantity_basis: str = Field(max_length=300)  # how it was computed, in words
    status: str = Field(default="draft", max_length=10)  # ORDER_STATUSES
    prescriber_id: int = Field(foreign_key="app_user.id", index=True)
    prescriber: str = Field(max_length=60)
    created_at: datetime = Field(default_factory=utcnow)
    signed_at: datetime | None = Field(default=None)
    ended_at: datetime | None = Field(default=None)  # stopped, changed or renewed
    ended_by: str | None = Field(default=None, max_length=60)
    end_reason: str | None = Field(default=None, max_length=300)
    replaces_id: int | None = Field(default=None, foreign_key="medication_order.id", index=True)
    replace_kind: str | None = Field(default=None, max_length=8)  # "change" | "renew"
    replace_reason: str | None = Field(default=None, max_length=300)  # why, ends the old one on signing
    statement_id: int | None = Field(default=None, foreign_key="medication_statement.id", index=True)


class MedicationOrderAlert(SQLModel, table=True):
    """An order check shown for an order while it was prepared or signed, once per rule: what the
    override rates are counted against."""

    __tablename__ = "medication_order_alert"
    __table_args__ = (UniqueConstraint("order_id", "rule", name="uq_medication_order_alert_rule"),)

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="medication_order.id", index=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    rule: str = Field(max_length=120, index=True)  # the engine's stable rule id
    kind: str = Field(max_length=24)
    severity: str = Field(max_length=16)
    interrupt: bool
    message: str = Field(max_length=500)
    shown_at: datetime = Field(default_factory=utcnow)


class MedicationOverride(SQLModel, table=True):
    """An interrupting alert the prescriber signed past, with the reason they gave."""

    __tablename__ = "medication_override"
    __table_args__ = (UniqueConstraint("order_id", "rule", name="uq_medication_override_rule"),)

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="medication_order.id", index=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    rule: str = Field(max_length=120, index=True)
    kind: str = Field(max_length=24)
    severity: str = Field(max_length=16)
    reason: str = Field(max_length=300)
    overridden_by_id: int = Field(foreign_key="app_user.id")
    overridden_by: str = Field(max_length=60)
    overridden_at: datetime = Field(default_factory=utcnow)


VERIFICATION_OUTCOMES = {"verified": "Verified", "returned": "Sent back to the prescriber"}
REGISTER_KINDS = {"dispense": "Dispensed", "return": "Returned to stock"}


class MedicationVerification(SQLModel, table=True):
    """The pharmacist's decision on a signed order: verified (it may be dispensed) or sent back to
    the prescriber with the reason. One per order: a corrected order is a new order."""

    __tablename__ = "medication_verification"
    __table_args__ = (
        UniqueConstraint("order_id", name="uq_medication_verification_order"),
        CheckConstraint(
            "outcome <> 'returned' OR reason IS NOT NULL", name="ck_medication_verification_reason"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="medication_order.id")
    patient_id: int = Field(foreign_key="patient.id", index=True)
    outcome: str = Field(max_length=10)  # VERIFICATION_OUTCOMES
    reason: str | None = Field(default=None, max_length=300)  # why it was sent back, or a note
    overrides_reviewed: int = Field(default=0)  # how many overrides the verifier saw and accepted
    decided_by_id: int = Field(foreign_key="app_user.id")
    decided_by: str = Field(max_length=60)
    decided_at: datetime = Field(default_factory=utcnow, index=True)


class MedicationDispense(SQLModel, table=True):
    """A supply of a verified order from a pharmacy store (FHIR MedicationDispense): its lots are
    the stock moves it made (``medication_dispense_lot``); less than ordered leaves the rest owed."""

    __tablename__ = "medication_dispense"
    __table_args__ = (
        Index("ix_medication_dispense_dispensed", "dispensed_at"),
        CheckConstraint("quantity > 0", name="ck_medication_dispense_quantity"),
        CheckConstraint("returned >= 0 AND returned <= quantity", name="ck_medication_dispense_returned"),
    )

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=20, unique=True)  # "DSP-000123"
    order_id: int = Field(foreign_key="medication_order.id", index=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    product_id: int = Field(foreign_key="formulary_product.id")
    location_id: int = Field(foreign_key="stock_location.id")
    quantity: int  # in the order's dispense unit (the stock item's base unit)
    returned: int = Field(default=0)
    dispensed_by_id: int = Field(foreign_key="app_user.id")
    dispensed_by: str = Field(max_length=60)
    witness_id: int | None = Field(default=None, foreign_key="app_user.id")  # controlled drugs
    witness: str | None = Field(default=None, max_length=60)
    dispensed_at: datetime = Field(default_factory=utcnow)


class MedicationDispenseLot(SQLModel, table=True):
    """How much of a dispense came from one lot: the ledger's issue move it made."""

    __tablename__ = "medication_dispense_lot"

    id: int | None = Field(default=None, primary_key=True)
    dispense_id: int = Field(foreign_key="medication_dispense.id", index=True)
    move_id: int = Field(foreign_key="stock_move.id", unique=True)
    lot_id: int = Field(foreign_key="stock_lot.id")
    quantity: int
    returned: int = Field(default=0)


class ControlledDrugRegister(SQLModel, table=True):
    """One line of the controlled drug register: a dispense or return of a controlled product at a
    store, witnessed, with the store's balance of the product after it (running balance)."""

    __tablename__ = "controlled_drug_register"
    __table_args__ = (
        Index("ix_controlled_drug_register_product_store", "product_id", "location_id", "id"),
        CheckConstraint("balance >= 0", name="ck_controlled_drug_register_balance"),
        CheckConstraint("witness_id <> recorded_by_id", name="ck_controlled_drug_register_witness"),
    )

    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="formulary_product.id")
    location_id: int = Field(foreign_key="stock_location.id")
    kind: str = Field(max_length=10)  # REGISTER_KINDS
    quantity: int  # signed: out of the store is negative
    balance: int  # the store's stock of the product after this line
    dispense_id: int = Field(foreign_key="medication_dispense.id", index=True)
    patient_id: int = Field(foreign_key="patient.id", index=True)
    lots: str = Field(max_length=200)  # "M123 (exp 2027-03-31) x 5"
    recorded_by_id: int = Field(foreign_key="app_user.id")
    recorded_by: str = Field(max_length=60)
    witness_id: int = Field(foreign_key="app_user.id")
    witness: str = Field(max_length=60)
    recorded_at: datetime = Field(default_factory=utcnow)
    reason: str | None = Field(default=None, max_length=300)


# What a nurse records for a dose (FHIR MedicationAdministration.status: "completed" for given,
# "not-done" with statusReason for the rest).
ADMINISTRATION_OUTCOMES = {
    "given": "Given",
    "held": "Held",
    "refused": "Refused",
    "not_available": "Not available",
}


class MedicationAdministration(SQLModel, table=True):
    """One dose on the medication administration record (FHIR MedicationAdministration): a scheduled
    dose of an inpatient order (``scheduled_at``, its time) or a PRN dose (no scheduled time),
    given, held, refused or not available, with the scans that were checked before it was recorded.

    A scheduled dose is recorded once: the unique (order, scheduled time) stops two nurses charting
    the same dose; PRN doses have no scheduled time and are bounded by the order's maximum a day."""

    __tablename__ = "medication_administration"
    __table_args__ = (
        UniqueConstraint("order_id", "scheduled_at", name="uq_medication_administration_dose"),
        Index("ix_medication_administration_patient_recorded", "patient_id", "recorded_at"),
        CheckConstraint(
            "outcome = 'given' OR reason IS NOT NULL", name="ck_medication_administration_reason"
        ),
        CheckConstraint(
            "outcome <> 'given' OR (dose IS NOT NULL AND product_id IS NOT NULL)",
            name="ck_medication_administration_given",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="medication_order.id", index=True)
    patient_id: int = Field(foreign_key="patient.id")
    scheduled_at: datetime | None = Field(default=None)  # the dose's time; empty for a PRN dose
    outcome: str = Field(max_length=16)  # ADMINISTRATION_OUTCOMES
    reason: str | None = Field(default=None, max_length=300)  # why not given; why late; the PRN indication
    dose: Decimal | None = Field(default=None, sa_column=Column(Numeric(12, 4), nullable=True))
    dose_unit: str | None = Field(default=None, max_length=12)
    route: str | None = Field(default=None, max_length=16)
    product_id: int | None = Field(default=None, foreign_key="formulary_product.id")  # what was scanned
    dispense_id: int | None = Field(
        default=None, foreign_key="medication_dispense.id"
    )  # a pharmacy label scanned
    wristband_code: str | None = Field(default=None, max_length=40)  # as scanned
    medicine_code: str | None = Field(default=None, max_length=40)  # as scanned
    late_minutes: int = Field(default=0)  # given after the dose's window closed
    recorded_by_id: int = Field(foreign_key="app_user.id")
    recorded_by: str = Field(max_length=60)
    recorded_at: datetime = Field(default_factory=utcnow)
