"""Inventory: stock items and their lots, stores (locations), the stock ledger and balances,
suppliers and purchase orders, stock counts, and the equipment register with its maintenance.

The ledger (``stock_move``) is append-only: every receipt, issue, transfer, adjustment, count
variance, expiry write-off and return is one row with a signed quantity in the item's base unit,
and no row is ever updated or deleted (database triggers refuse it, see the inventory migration).
``stock_balance`` holds, per store and lot, the sum of that lot's moves at that store; it is
changed in the same transaction as the move, by a conditional UPDATE that cannot take it below
zero, and a CHECK constraint stands behind it. ``services.inventory.ledger.balance_mismatches``
proves that the balances equal the ledger's sums.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from hms_app.clock import utcnow

ITEM_CATEGORIES = {
    "supply": "Medical supply",
    "medicine": "Medicine",
    "reagent": "Reagent",
    "implant": "Implant",
    "linen": "Linen",
    "contrast": "Contrast agent",
    "consumable": "Other consumable",
}
LOCATION_KINDS = {
    "central": "Central store",
    "pharmacy": "Pharmacy",
    "ward": "Ward store",
    "lab": "Laboratory",
    "radiology": "Radiology",
    "theatre": "Theatre",
}
# The kinds of ledger move. The sign of the quantity says whether stock came in or went out.
MOVE_KINDS = {
    "receipt": "Receipt",
    "issue_patient": "Issue to patient",
    "issue_department": "Issue to department",
    "transfer_out": "Transfer out",
    "transfer_in": "Transfer in",
    "adjustment": "Adjustment",
    "count_variance": "Count variance",
    "expiry_writeoff": "Expiry write-off",
    "return": "Return",
    "maintenance_use": "Used in maintenance",
}
PO_STATUSES = ("draft", "approved", "sent", "partly_received", "received", "closed", "cancelled")
COUNT_STATUSES = ("counting", "submitted", "approved", "cancelled")
EQUIPMENT_STATUSES = {
    "in_service": "In service",
    "under_maintenance": "Under maintenance",
    "out_of_service": "Out of service",
    "retired": "Retired",
}
PLAN_KINDS = {"preventive": "Preventive maintenance", "calibration": "Calibration"}
WORK_ORDER_KINDS = {**PLAN_KINDS, "corrective": "Repair"}
WORK_ORDER_STATUSES = ("open", "in_progress", "done", "cancelled")
# The lot that stands for all of an untracked item's stock (lot and expiry tracking off).
UNTRACKED_LOT = "-"

# The ledger's guard, created by the inventory migration: triggers that refuse to change or delete
# a stock move. Only emptying the whole database (a restore, the tests) lifts them for a moment,
# through ``db.ledger_unguarded``.
LEDGER_IMMUTABLE = "stock moves are never changed or deleted: post a correcting move"
LEDGER_GUARD = {
    "postgresql": (
        "CREATE OR REPLACE FUNCTION stock_move_immutable() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN RAISE EXCEPTION '{LEDGER_IMMUTABLE}'; END $$",
        "CREATE TRIGGER stock_move_immutable BEFORE UPDATE OR DELETE ON stock_move "
        "FOR EACH ROW EXECUTE FUNCTION stock_move_immutable()",
    ),
    "sqlite": tuple(
        f"CREATE TRIGGER stock_move_no_{event.lower()} BEFORE {event} ON stock_move "
        f"BEGIN SELECT RAISE(ABORT, '{LEDGER_IMMUTABLE}'); END"
        for event in ("UPDATE", "DELETE")
    ),
}
LEDGER_UNGUARD = {
    "postgresql": ("DROP TRIGGER IF EXISTS stock_move_immutable ON stock_move",),
    "sqlite": ("DROP TRIGGER IF EXISTS stock_move_no_update", "DROP TRIGGER IF EXISTS stock_move_no_delete"),
}


class Supplier(SQLModel, table=True):
    __tablename__ = "supplier"
    __table_args__ = (UniqueConstraint("name", name="uq_supplier_name"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120)
    contact: str | None = Field(default=None, max_length=120)
    email: str | None = Field(default=None, max_length=200)
    phone: str | None = Field(default=None, max_length=40)
    lead_time_days: int = Field(default=7)  # promised days from sending an order to delivery
    active: bool = Field(default=True)


class StockItem(SQLModel, table=True):
    """Something the hospital stocks, counted in its base unit (each, ml, g, vial ...)."""

    __tablename__ = "stock_item"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=30, unique=True)
    name: str = Field(max_length=160, index=True)
    category: str = Field(max_length=20)  # ITEM_CATEGORIES
    base_unit: str = Field(max_length=20)  # "each", "ml", "vial"
    gtin: str | None = Field(default=None, max_length=14, index=True)  # the base unit's GS1 GTIN
    chargeable: bool = Field(default=False)
    charge_code: str | None = Field(default=None, max_length=40)  # a ChargeItemDefinition code
    track_lots: bool = Field(default=True)  # lot and expiry tracked on receipt and issue
    supplier_id: int | None = Field(default=None, foreign_key="supplier.id", index=True)
    order_pack_size: int = Field(default=1)  # base units in the pack it is ordered in
    # Moving-average cost of one base unit, in cents, kept up to date by receipts.
    average_cost_cents: int = Field(default=0)
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow)


class StockPackUnit(SQLModel, table=True):
    """A pack the item comes in: "box" = 100 each. Receipts and issues may be entered in packs."""

    __tablename__ = "stock_pack_unit"
    __table_args__ = (
        UniqueConstraint("item_id", "name", name="uq_stock_pack_unit_item_name"),
        CheckConstraint("base_quantity > 0", name="ck_stock_pack_unit_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="stock_item.id")
    name: str = Field(max_length=20)
    base_quantity: int
    gtin: str | None = Field(default=None, max_length=14, index=True)  # the pack's own GTIN


class StockLocation(SQLModel, table=True):
    """A store: the central store, the pharmacy, a ward's store, the lab, radiology."""

    __tablename__ = "stock_location"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=20, unique=True)
    name: str = Field(max_length=120)
    kind: str = Field(max_length=12)  # LOCATION_KINDS
    # Staff of this department keep and issue from the store (a ward's nurses, the pharmacists).
    department_id: int | None = Field(default=None, foreign_key="department.id", index=True)
    ward_id: int | None = Field(default=None, foreign_key="ward.id", index=True)
    active: bool = Field(default=True)


class StockLevel(SQLModel, table=True):
    """Replenishment settings of one item at one store: min, max, reorder point, bin."""

    __tablename__ = "stock_level"
    __table_args__ = (
        UniqueConstraint("item_id", "location_id", name="uq_stock_level_item_location"),
        CheckConstraint(
            "min_quantity >= 0 AND reorder_point >= min_quantity AND max_quantity >= reorder_point",
            name="ck_stock_level_order",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="stock_item.id")
    location_id: int = Field(foreign_key="stock_location.id", index=True)
    min_quantity: int = Field(default=0)
    reorder_point: int = Field(default=0)
    max_quantity: int = Field(default=0)
    bin: str | None = Field(default=None, max_length=20)


class StockLot(SQLModel, table=True):
    """One lot (batch) of an item with its expiry; untracked items keep one lot, ``UNTRACKED_LOT``."""

    __tablename__ = "stock_lot"
    __table_args__ = (
        UniqueConstraint("item_id", "lot_number", name="uq_stock_lot_item_number"),
        Index("ix_stock_lot_expiry", "expiry_date"),
    )

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="stock_item.id")
    lot_number: str = Field(max_length=40)
    expiry_date: date | None = Field(default=None)
    unit_cost_cents: int = Field(default=0)  # what one base unit of this lot cost (FIFO valuation)
    received_at: datetime = Field(default_factory=utcnow)


class StockBalance(SQLModel, table=True):
    """What one store holds of one lot now: the sum of that lot's ledger moves at the store."""

    __tablename__ = "stock_balance"
    __table_args__ = (
        UniqueConstraint("location_id", "lot_id", name="uq_stock_balance_location_lot"),
        CheckConstraint("quantity >= 0", name="ck_stock_balance_not_negative"),
        Index("ix_stock_balance_item_location", "item_id", "location_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="stock_item.id")
    location_id: int = Field(foreign_key="stock_location.id")
    lot_id: int = Field(foreign_key="stock_lot.id", index=True)
    quantity: int = Field(default=0)
    updated_at: datetime = Field(default_factory=utcnow)


class PurchaseOrder(SQLModel, table=True):
    __tablename__ = "purchase_order"
    __table_args__ = (Index("ix_purchase_order_status_created", "status", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=20, unique=True)  # "PO-000123"
    supplier_id: int = Field(foreign_key="supplier.id", index=True)
    location_id: int = Field(foreign_key="stock_location.id")  # where it is delivered
    status: str = Field(default="draft", max_length=16)  # PO_STATUSES
    note: str | None = Field(default=None, max_length=300)
    created_at: datetime = Field(default_factory=utcnow)
    created_by: str = Field(max_length=60)
    approved_at: datetime | None = Field(default=None)
    approved_by: str | None = Field(default=None, max_length=60)
    sent_at: datetime | None = Field(default=None)
    expected_on: date | None = Field(default=None)
    received_at: datetime | None = Field(default=None)  # when the last line was complete
    closed_at: datetime | None = Field(default=None)
    closed_by: str | None = Field(default=None, max_length=60)
    close_reason: str | None = Field(default=None, max_length=300)


class PurchaseOrderLine(SQLModel, table=True):
    __tablename__ = "purchase_order_line"
    __table_args__ = (
        UniqueConstraint("order_id", "item_id", name="uq_purchase_order_line_item"),
        CheckConstraint("quantity_ordered > 0", name="ck_purchase_order_line_positive"),
        CheckConstraint("quantity_received >= 0", name="ck_purchase_order_line_received"),
    )

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="purchase_order.id", index=True)
    item_id: int = Field(foreign_key="stock_item.id", index=True)
    quantity_ordered: int  # base units
    quantity_received: int = Field(default=0)
    unit_cost_cents: int = Field(default=0)  # agreed price of one base unit


class StockCount(SQLModel, table=True):
    """A stock take of one store: the book quantities frozen when it starts, then counted."""

    __tablename__ = "stock_count"

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=20, unique=True)  # "SC-000042"
    location_id: int = Field(foreign_key="stock_location.id", index=True)
    kind: str = Field(default="cycle", max_length=8)  # cycle | full
    status: str = Field(default="counting", max_length=12)  # COUNT_STATUSES
    started_at: datetime = Field(default_factory=utcnow)
    started_by: str = Field(max_length=60)
    submitted_at: datetime | None = Field(default=None)
    submitted_by: str | None = Field(default=None, max_length=60)
    approved_at: datetime | None = Field(default=None)
    approved_by: str | None = Field(default=None, max_length=60)


class StockCountLine(SQLModel, table=True):
    __tablename__ = "stock_count_line"
    __table_args__ = (UniqueConstraint("count_id", "lot_id", name="uq_stock_count_line_lot"),)

    id: int | None = Field(default=None, primary_key=True)
    count_id: int = Field(foreign_key="stock_count.id", index=True)
    item_id: int = Field(foreign_key="stock_item.id")
    lot_id: int = Field(foreign_key="stock_lot.id")
    book_quantity: int  # the balance frozen when the count started
    counted_quantity: int | None = Field(default=None)
    counted_by: str | None = Field(default=None, max_length=60)
    counted_at: datetime | None = Field(default=None)
    # The book plus every move made at the store in this lot since the snapshot, read from the
    # balance when the quantity was counted: the variance is counted minus this, so that an issue
    # or a delivery between the snapshot and the counting is not taken for a loss or a find.
    expected_quantity: int | None = Field(default=None)


class StockMove(SQLModel, table=True):
    """One line of the stock ledger. Never updated or deleted. An issue to a patient is billed by
    the charge that names it (``charge_item.source_type = 'stock'``, ``source_id`` = this id)."""

    __tablename__ = "stock_move"
    __table_args__ = (
        CheckConstraint("quantity <> 0", name="ck_stock_move_not_zero"),
        Index("ix_stock_move_item_location", "item_id", "location_id", "moved_at"),
        Index("ix_stock_move_lot_location", "lot_id", "location_id"),
        Index("ix_stock_move_kind_moved", "kind", "moved_at"),
        Index("ix_stock_move_patient", "patient_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    moved_at: datetime = Field(default_factory=utcnow)
    kind: str = Field(max_length=20)  # MOVE_KINDS
    item_id: int = Field(foreign_key="stock_item.id")
    location_id: int = Field(foreign_key="stock_location.id")
    lot_id: int = Field(foreign_key="stock_lot.id")
    quantity: int  # base units: positive in, negative out
    unit_cost_cents: int = Field(default=0)  # what one base unit is valued at in this move
    patient_id: int | None = Field(default=None, foreign_key="patient.id")
    department_id: int | None = Field(default=None, foreign_key="department.id", index=True)
    # The store at the other end of a transfer.
    other_location_id: int | None = Field(default=None, foreign_key="stock_location.id")
    reference: str | None = Field(default=None, max_length=40)  # a delivery note, a PO, a count
    reason: str | None = Field(default=None, max_length=300)
    serial: str | None = Field(default=None, max_length=40)  # the GS1 serial of a scanned unit
    order_line_id: int | None = Field(default=None, foreign_key="purchase_order_line.id", index=True)
    count_id: int | None = Field(default=None, foreign_key="stock_count.id")
    work_order_id: int | None = Field(default=None, foreign_key="work_order.id", index=True)
    moved_by: str = Field(max_length=60)


class Equipment(SQLModel, table=True):
    """A piece of equipment on the register (FHIR Device)."""

    __tablename__ = "equipment"
    __table_args__ = (Index("ix_equipment_status", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    asset_tag: str = Field(max_length=30, unique=True)
    name: str = Field(max_length=120)
    serial_number: str | None = Field(default=None, max_length=60)
    model: str | None = Field(default=None, max_length=80)
    manufacturer: str | None = Field(default=None, max_length=80)
    location_id: int | None = Field(default=None, foreign_key="stock_location.id")
    department_id: int | None = Field(default=None, foreign_key="department.id", index=True)
    purchase_date: date | None = Field(default=None)
    purchase_cost_cents: int | None = Field(default=None)
    warranty_end: date | None = Field(default=None)
    status: str = Field(default="in_service", max_length=20)  # EQUIPMENT_STATUSES
    status_since: datetime = Field(default_factory=utcnow)
    status_note: str | None = Field(default=None, max_length=300)
    # The bookable scheduling resource this equipment is (a scanner): out of service, not bookable.
    resource_id: int | None = Field(default=None, foreign_key="resource.id", unique=True)


class MaintenancePlan(SQLModel, table=True):
    """Preventive maintenance or calibration of one piece of equipment every so many days."""

    __tablename__ = "maintenance_plan"
    __table_args__ = (
        CheckConstraint("interval_days > 0", name="ck_maintenance_plan_interval"),
        Index("ix_maintenance_plan_due", "active", "next_due"),
    )

    id: int | None = Field(default=None, primary_key=True)
    equipment_id: int = Field(foreign_key="equipment.id", index=True)
    kind: str = Field(max_length=12)  # PLAN_KINDS
    description: str = Field(max_length=200)
    interval_days: int
    next_due: date
    last_done: date | None = Field(default=None)
    active: bool = Field(default=True)


class WorkOrder(SQLModel, table=True):
    """A maintenance job: planned (from a plan) or a repair, with findings, parts and downtime."""

    __tablename__ = "work_order"
    __table_args__ = (
        Index("ix_work_order_status_opened", "status", "opened_at"),
        # One unfinished work order per plan: two workers running the due-maintenance job (or two
        # engineers pressing "Open") at the same moment open it once.
        Index(
            "uq_work_order_open_plan",
            "plan_id",
            unique=True,
            sqlite_where=text("status IN ('open', 'in_progress')"),
            postgresql_where=text("status IN ('open', 'in_progress')"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=20, unique=True)  # "WO-000007"
    equipment_id: int = Field(foreign_key="equipment.id", index=True)
    plan_id: int | None = Field(default=None, foreign_key="maintenance_plan.id")
    kind: str = Field(max_length=12)  # WORK_ORDER_KINDS
    status: str = Field(default="open", max_length=12)  # WORK_ORDER_STATUSES
    problem: str = Field(max_length=300)
    findings: str | None = Field(default=None, max_length=1000)
    opened_at: datetime = Field(default_factory=utcnow)
    opened_by: str = Field(max_length=60)
    started_at: datetime | None = Field(default=None)
    completed_at: datetime | None = Field(default=None)
    completed_by: str | None = Field(default=None, max_length=60)
    downtime_minutes: int = Field(default=0)
