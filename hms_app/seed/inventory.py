"""Demo stock: the stores (central, pharmacy, one per ward, laboratory, radiology), suppliers, the
catalogue of ``seed/inventory_catalogue.py`` with packs, GTINs, price codes and stock levels, and a
year of stock history written through the ledger services, day by day, each move at the moment it
stands for (``clock.held_at``): opening balances, purchase orders and their deliveries (lots, expiry,
cost; some late, some split, two items on backorder), transfers that top up the ward stores, issues
to departments and, in the last days, to the patients on the wards and in radiology (charged with
the issue), a few adjustments and the monthly write-off of expired lots.

What the dashboard then shows is what a year leaves behind: some items below their reorder point,
the backordered ones out of stock, lots expiring in the next 30, 60 and 90 days, a few expired lots
not yet written off, and items nobody has issued for months. About 2,000 service calls: a few
seconds on SQLite. Runs once (nothing happens if a store exists already).
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select

from hms_app.clock import held_at, utcnow
from hms_app.models.inventory import (
    PurchaseOrder,
    PurchaseOrderLine,
    StockItem,
    StockLocation,
)
from hms_app.models.patients import Patient
from hms_app.models.wards import Admission
from hms_app.seed.inventory_catalogue import (
    BACKORDER_DAYS,
    BACKORDERED,
    ITEMS,
    SUPPLIERS,
    Spec,
)
from hms_app.seed.inventory_stores import StoreSetup, store_actors
from hms_app.seed.registry import SeedContext, seeder
from hms_app.services.audit import record_audit
from hms_app.services.counters import take_numbers
from hms_app.services.inventory.ledger import issue_stock, receive_stock
from hms_app.services.inventory.moves import adjust_stock, transfer_stock, write_off_expired
from hms_app.services.permissions import SYSTEM_ACTOR, Actor
from hms_app.settings import get_settings

PATIENT_DAYS = 10  # the wards' admissions reach back this far: patient issues only in these days
ISSUE_INTERVAL = (28, 56)  # days between two bookings of a store's consumption of an item
SHORT_DATED = 0.08  # share of deliveries that come with a short expiry
OLD_STOCK = 0.25  # share of lot-tracked items whose opening stock expires around the seeded day
WRITE_OFF_AFTER = 21  # days an expired lot waits on the shelf before the monthly write-off
SPLIT = 0.12  # share of order lines delivered in two parts
PO_COUNTER = "purchase_order"  # the purchase orders' number sequence (PO-000123)
ADJUST_DOWN = [
    "Damaged packaging, discarded",
    "Dropped and broken",
    "Missing at the shelf check",
    "Sterile pack opened in error",
]


class _History:
    """``ctx.stock_days`` (a year for the demo) of stock moves, day by day, through the ledger services."""

    def __init__(self, ctx: SeedContext, setup: StoreSetup):
        self.ctx, self.session, self.rng, self.setup = ctx, ctx.session, ctx.rng, setup
        self.tz = get_settings().tz
        self.ceiling = utcnow() - timedelta(minutes=1)  # nothing may happen in the future
        self.end = min(ctx.as_of, self.ceiling.astimezone(self.tz).date())
        self.days = ctx.stock_days
        self.start = self.end - timedelta(days=self.days - 1)
        self.keeper, self.by_department, self.approver = store_actors(self.session)
        self.lots: dict[tuple[int, int], dict[int, int]] = {}  # (store, item) -> lot -> quantity
        self.expiry: dict[int, date | None] = {}
        self.lot_numbers: set[tuple[int, str]] = set()
        self.on_order: dict[str, int] = {}
        self.deliveries: dict[date, list[tuple[PurchaseOrder, PurchaseOrderLine, int]]] = {}
        self.orders: list[PurchaseOrder] = []
        self.next_issue = {
            key: self.start + timedelta(days=self.rng.randint(1, ISSUE_INTERVAL[0])) for key in setup.demand
        }
        self.last_issue = dict.fromkeys(setup.demand, self.start)
        self.calls = 0
        self.specs = {spec.code: spec for spec in ITEMS}
        self.admissions = self._admissions()
        self.outpatients = list(
            self.session.execute(
                select(Patient.id)
                .where(Patient.deceased_at.is_(None), Patient.merged_into_id.is_(None))
                .order_by(Patient.id)
                .limit(300)
            ).scalars()
        )

    def _admissions(self) -> dict[int, list[tuple[int, datetime, datetime | None]]]:
        found: dict[int, list] = {}
        for ward_id, patient_id, admitted, discharged in self.session.execute(
            select(
                Admission.ward_id, Admission.patient_id, Admission.admitted_at, Admission.discharged_at
            ).order_by(Admission.id)
        ).all():
            found.setdefault(ward_id, []).append((patient_id, _aware(admitted), _aware(discharged)))
        return found

    # ------------------------------------------------------------------ helpers

    def moment(self, day: date, hour: int, minute: int | None = None) -> datetime:
        minute = self.rng.randint(0, 59) if minute is None else minute
        local = datetime.combine(day, time(hour, minute), tzinfo=self.tz)
        return min(local.astimezone(UTC), self.ceiling)

    def store_actor(self, store: StockLocation, permission: str = "inventory.issue") -> Actor:
        actor = self.by_department.get(store.department_id) if store.department_id else None
        return actor if actor is not None and actor.can(permission) else self.keeper

    def usable(self, store_id: int, item_id: int, day: date) -> int:
        lots = self.lots.get((store_id, item_id), {})
        return sum(
            q for lot, q in lots.items() if q > 0 and (self.expiry[lot] is None or self.expiry[lot] >= day)
        )

    def book(self, moves) -> None:
        for move in moves if isinstance(moves, list) else [moves]:
            lots = self.lots.setdefault((move.location_id, move.item_id), {})
            lots[move.lot_id] = lots.get(move.lot_id, 0) + move.quantity
        self.calls += 1

    def cost(self, spec: Spec, day: date) -> int:
        drift = 1 + 0.05 * (day - self.start).days / self.days
        return max(1, round(spec.cost * drift * self.rng.uniform(0.98, 1.02)))

    def new_lot(self, item: StockItem, day: date) -> str:
        while True:
            number = f"{self.rng.choice('ABCDEFGHKLMNPRSTUVWXZ')}{day:%y%m}{self.rng.randint(100, 999)}"
            if (item.id, number) not in self.lot_numbers:
                self.lot_numbers.add((item.id, number))
                return number

    def receive(
        self, spec: Spec, day: date, quantity: int, *, opening: bool, line=None, unit_cost=None
    ) -> None:
        item, store = self.setup.items[spec.code], self.setup.home_of(spec)
        expiry = None
        lot_number = None
        if spec.life is not None:
            lot_number = self.new_lot(item, day)
            if opening and self.rng.random() < OLD_STOCK:
                # Bought long ago: it runs out of date around now unless it is used first.
                expiry = self.end + timedelta(days=self.rng.randint(-20, 90))
            elif opening:
                expiry = day + timedelta(days=max(45, int(spec.life * self.rng.uniform(0.35, 1.0))))
            elif spec.life > 365 and self.rng.random() < SHORT_DATED:
                expiry = day + timedelta(days=self.rng.randint(60, 160))
            else:
                expiry = day + timedelta(days=int(spec.life * self.rng.uniform(0.75, 1.0)))
        actor = self.store_actor(store, "inventory.keep")
        with held_at(self.moment(day, 9 if not opening else 7)):
            move = receive_stock(
                self.session,
                actor=actor,
                item_id=item.id,
                location_id=store.id,
                quantity=quantity,
                lot_number=lot_number,
                expiry_date=expiry,
                unit_cost_cents=unit_cost if unit_cost is not None else self.cost(spec, day),
                reference="Opening balance" if opening else f"DN-{self.rng.randint(100000, 999999)}",
                order_line_id=line.id if line is not None else None,
                commit=False,
            )
        self.expiry.setdefault(move.lot_id, expiry)
        self.book(move)

    # ------------------------------------------------------------------ the year

    def run(self) -> None:
        total = self.days
        self.ctx.progress("inventory history", 0, total)
        self.opening()
        for offset in range(self.days):
            day = self.start + timedelta(days=offset)
            self.deliver(day)
            if day.weekday() in (0, 3):
                self.top_up_wards(day)
            self.issue(day)
            if day.weekday() == 0:
                self.order(day)
            if day.day == 1:
                self.write_off(day)
            if self.rng.random() < 0.07:
                self.adjust(day)
            self.session.commit()
            # Each day starts with an empty identity map: the services' UPDATEs synchronise every
            # object the session still holds, and a year of rows would make each one slower.
            self.session.expunge_all()
            self.ctx.progress("inventory history", offset + 1, total)
        self.close_orders()
        record_audit(
            self.session,
            SYSTEM_ACTOR,
            "seed.inventory",
            detail=f"{len(self.setup.items)} items in {len(self.setup.ward_stores) + 4} stores, "
            f"{self.calls} stock moves over {self.days} days, {len(self.orders)} purchase orders",
        )
        self.session.commit()

    def opening(self) -> None:
        day = self.start
        for spec in ITEMS:
            level = self.setup.home_levels[spec.code]
            wards = [(key, lv) for key, lv in self.setup.ward_levels.items() if key[1] == spec.code]
            quantity = level.max_quantity + sum(lv.max_quantity for _key, lv in wards)
            self.receive(spec, day, quantity, opening=True, unit_cost=round(spec.cost * 0.96) or 1)
            for (store_id, _code), lv in wards:
                self.transfer(spec, store_id, lv.max_quantity, day)

    def transfer(self, spec: Spec, store_id: int, quantity: int, day: date) -> None:
        source = self.setup.home_of(spec)
        item = self.setup.items[spec.code]
        with held_at(self.moment(day, 10)):
            moves = transfer_stock(
                self.session,
                actor=self.store_actor(source, "inventory.keep"),
                item_id=item.id,
                from_location_id=source.id,
                to_location_id=store_id,
                quantity=quantity,
                reason="Ward top-up",
                commit=False,
            )
        self.book(moves)

    def top_up_wards(self, day: date) -> None:
        specs = self.specs
        for (store_id, code), level in self.setup.ward_levels.items():
            item = self.setup.items[code]
            held = self.usable(store_id, item.id, day)
            if held > level.reorder_point:
                continue
            source = self.setup.home_of(specs[code])
            quantity = min(level.max_quantity - held, self.usable(source.id, item.id, day))
            if quantity > 0:
                self.transfer(specs[code], store_id, quantity, day)

    def issue(self, day: date) -> None:
        specs = self.specs
        stores = {
            s.id: s for s in [*self.setup.home.values(), *(w[0] for w in self.setup.ward_stores.values())]
        }
        recent = (self.end - day).days < PATIENT_DAYS
        for key, (rate, department_id) in self.setup.demand.items():
            if self.next_issue[key] != day:
                continue
            store_id, code = key[0], key[1]
            spec, item, store = specs[code], self.setup.items[code], stores[store_id]
            days = (day - self.last_issue[key]).days
            self.last_issue[key] = day
            following = day + timedelta(days=self.rng.randint(*ISSUE_INTERVAL))
            if spec.price is not None and store.kind in ("ward", "radiology"):
                # Patients are charged item by item: in the days they are on record, issue more often.
                first_patient_day = self.end - timedelta(days=PATIENT_DAYS - 1)
                soon = day + timedelta(days=self.rng.randint(3, 5))
                following = min(following, max(first_patient_day, soon))
            self.next_issue[key] = following
            wanted = round(rate / 7 * days * self.rng.uniform(0.75, 1.25))
            quantity = min(wanted, self.usable(store_id, item.id, day))
            if quantity <= 0:
                continue
            patients = self.patients_for(store, day) if recent and spec.price is not None else []
            if patients:
                for patient_id, moment in patients[: min(len(patients), max(1, quantity // 2), 2)]:
                    each = min(quantity, self.rng.randint(1, 3))
                    if each <= 0:
                        break
                    with held_at(moment):
                        self.book(
                            issue_stock(
                                self.session,
                                actor=self.store_actor(store),
                                item_id=item.id,
                                location_id=store_id,
                                quantity=each,
                                patient_id=patient_id,
                                commit=False,
                            )
                        )
                    quantity -= each
                continue
            target = department_id if department_id is not None else store.department_id
            if target is None:
                continue
            reason = "Ward consumption" if store.kind == "ward" else "Department top-up"
            with held_at(self.moment(day, self.rng.randint(11, 19))):
                self.book(
                    issue_stock(
                        self.session,
                        actor=self.store_actor(store),
                        item_id=item.id,
                        location_id=store_id,
                        quantity=quantity,
                        department_id=target,
                        reason=reason,
                        commit=False,
                    )
                )

    def patients_for(self, store: StockLocation, day: date) -> list[tuple[int, datetime]]:
        """Patients who could receive the item that day: on the store's ward, or radiology's."""
        moments = [self.moment(day, hour) for hour in (10, 13, 16, 20)]
        if store.kind == "radiology":
            return [(self.rng.choice(self.outpatients), m) for m in moments] if self.outpatients else []
        if store.kind != "ward":
            return []
        found = []
        for moment in moments:
            stays = [
                p
                for p, admitted, discharged in self.admissions.get(store.ward_id, [])
                if admitted <= moment and (discharged is None or discharged > moment)
            ]
            if stays:
                found.append((self.rng.choice(stays), moment))
        return found

    def order(self, day: date) -> None:
        """Monday's orders: every item at or below its reorder point, one order per supplier and
        delivery address."""
        by_supplier: dict[tuple[str, int], list[tuple[Spec, int]]] = {}
        for spec in ITEMS:
            level, item = self.setup.home_levels[spec.code], self.setup.items[spec.code]
            position = self.usable(level.location_id, item.id, day) + self.on_order.get(spec.code, 0)
            if position > level.reorder_point:
                continue
            pack = spec.pack[1]
            quantity = math.ceil((level.max_quantity - position) / pack) * pack
            by_supplier.setdefault((spec.supplier, level.location_id), []).append((spec, quantity))
        for (key, _store), lines in by_supplier.items():
            self.place_order(key, lines, day)

    def place_order(self, key: str, lines: list[tuple[Spec, int]], day: date) -> None:
        _name, _contact, lead, _prefix, (early, late) = SUPPLIERS[key]
        store = self.setup.home_of(lines[0][0])
        sent = (self.end - day).days >= 3  # this week's orders wait for the supplier's cut-off
        order = PurchaseOrder(
            reference=f"PO-{take_numbers(self.session, PO_COUNTER)[0]:06d}",
            supplier_id=self.setup.suppliers[key].id,
            location_id=store.id,
            status="sent" if sent else "approved",
            created_at=self.moment(day, 8),
            created_by=self.keeper.username,
            approved_at=self.moment(day, 9),
            approved_by=self.approver,
            sent_at=self.moment(day, 11) if sent else None,
            expected_on=day + timedelta(days=lead) if sent else None,
        )
        self.session.add(order)
        self.session.flush()
        self.orders.append(order)
        arrives = day + timedelta(days=lead + self.rng.randint(early, late))
        for spec, quantity in lines:
            line = PurchaseOrderLine(
                order_id=order.id,
                item_id=self.setup.items[spec.code].id,
                quantity_ordered=quantity,
                unit_cost_cents=self.cost(spec, day),
            )
            self.session.add(line)
            self.session.flush()
            self.on_order[spec.code] = self.on_order.get(spec.code, 0) + quantity
            if not sent or (spec.code in BACKORDERED and (self.end - day).days < BACKORDER_DAYS):
                continue
            parts = [quantity]
            if quantity >= 2 * spec.pack[1] and self.rng.random() < SPLIT:
                first = quantity // spec.pack[1] * 2 // 3 * spec.pack[1]
                parts = [first, quantity - first]
            for number, part in enumerate(parts):
                when = arrives + timedelta(days=number * self.rng.randint(4, 10))
                self.deliveries.setdefault(when, []).append((order, line, part))

    def deliver(self, day: date) -> None:
        specs = self.specs
        codes = {item.id: code for code, item in self.setup.items.items()}
        for order, line, quantity in self.deliveries.pop(day, []):
            code = codes[line.item_id]
            self.receive(specs[code], day, quantity, opening=False, line=line, unit_cost=line.unit_cost_cents)
            line.quantity_received += quantity
            self.on_order[code] -= quantity
            order.received_at = self.moment(day, 9, 30)
            self.session.add(line)

    def close_orders(self) -> None:
        lines: dict[int, list[PurchaseOrderLine]] = {}
        for line in self.session.execute(select(PurchaseOrderLine)).scalars():
            lines.setdefault(line.order_id, []).append(line)
        for order in self.orders:
            own = lines.get(order.id, [])
            received = sum(line.quantity_received for line in own)
            if order.sent_at is None:
                continue
            if own and all(line.quantity_received >= line.quantity_ordered for line in own):
                order.status = "received"
            elif received:
                order.status, order.received_at = "partly_received", None
            else:
                order.status, order.received_at = "sent", None
            self.session.add(order)

    def write_off(self, day: date) -> None:
        """The first of the month: lots that expired three weeks ago or more leave every store."""
        for (store_id, item_id), lots in self.lots.items():
            for lot_id, quantity in list(lots.items()):
                expiry = self.expiry.get(lot_id)
                if quantity <= 0 or expiry is None or expiry >= day - timedelta(days=WRITE_OFF_AFTER):
                    continue
                with held_at(self.moment(day, 8)):
                    move = write_off_expired(
                        self.session, actor=self.keeper, location_id=store_id, lot_id=lot_id, item_id=item_id
                    )
                self.book(move)

    def adjust(self, day: date) -> None:
        cheap = {item.id for code, item in self.setup.items.items() if self.specs[code].cost < 1000}
        held = [
            (store_id, item_id, lot_id, quantity)
            for (store_id, item_id), lots in self.lots.items()
            for lot_id, quantity in lots.items()
            if item_id in cheap
            and quantity >= 5
            and (self.expiry[lot_id] is None or self.expiry[lot_id] >= day)
        ]
        if not held:
            return
        store_id, item_id, lot_id, quantity = self.rng.choice(held)
        if self.rng.random() < 0.75:
            change, reason = -self.rng.randint(1, max(1, quantity // 25)), self.rng.choice(ADJUST_DOWN)
        else:
            change, reason = self.rng.randint(1, 4), "Found on a trolley at the shelf check"
        with held_at(self.moment(day, 15)):
            move = adjust_stock(
                self.session,
                actor=self.keeper,
                item_id=item_id,
                location_id=store_id,
                lot_id=lot_id,
                change=change,
                reason=reason,
                commit=False,
            )
        self.book(move)


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


@seeder("inventory", order=72)
def seed_inventory(ctx: SeedContext) -> None:
    """Stores, suppliers, the catalogue and a year of stock history (see the module docstring).
    After departments and wards (the ward stores) and billing (the price codes it adds to)."""
    if ctx.session.execute(select(StockLocation.id).limit(1)).first():
        return
    setup = StoreSetup(ctx)
    ctx.session.commit()
    _History(ctx, setup).run()
