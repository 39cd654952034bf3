"""The demo hospital's stores, suppliers, catalogue (packs, GTINs, price codes), stock levels and
the people who work the stores: what ``seed/inventory.py`` writes a year of stock history over."""

from __future__ import annotations

import math
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select

from hms_app.models.billing import ChargeItemDefinition
from hms_app.models.inventory import StockItem, StockLevel, StockLocation, StockPackUnit, Supplier
from hms_app.models.organization import Department
from hms_app.models.wards import Ward
from hms_app.seed.actors import staff_with_departments
from hms_app.seed.inventory_catalogue import HOME_KIND, ITEMS, SUPPLIERS, WARD_FACTORS, Spec, gtins
from hms_app.seed.registry import SeedContext
from hms_app.services.permissions import SYSTEM_ACTOR, Actor

CHARGE_CATEGORY = {"medicine": "drug", "contrast": "drug"}  # the rest are procedures (supplies)
CHARGE_TAX_BP = {"drug": 500, "procedure": 825}


def _ward_code(name: str, taken: set[str]) -> str:
    words = name.upper().split()
    code = "W-" + ("".join(w[0] for w in words) if len(words) > 1 else words[0][:3])
    while code in taken:
        code += "X"
    taken.add(code)
    return code


class StoreSetup:
    """Stores, suppliers, items, packs, price codes and stock levels."""

    def __init__(self, ctx: SeedContext):
        session, rng = ctx.session, ctx.rng
        self.departments = dict(session.execute(select(Department.code, Department.id)).all())
        dept = self.departments.get
        stores = [
            StockLocation(code="CS", name="Central store", kind="central"),
            StockLocation(code="PH", name="Main pharmacy", kind="pharmacy", department_id=dept("PHAR")),
            StockLocation(code="LAB", name="Laboratory store", kind="lab", department_id=dept("LAB")),
            StockLocation(code="RAD", name="Radiology store", kind="radiology", department_id=dept("RAD")),
        ]
        taken: set[str] = set()
        codes = {v: k for k, v in self.departments.items()}
        self.ward_stores: dict[str, tuple[StockLocation, int]] = {}  # department code -> store, ward
        for ward_id, name, department_id in session.execute(
            select(Ward.id, Ward.name, Ward.department_id).order_by(Ward.id)
        ).all():
            store = StockLocation(
                code=_ward_code(name, taken),
                name=f"{name} store",
                kind="ward",
                department_id=department_id,
                ward_id=ward_id,
            )
            stores.append(store)
            self.ward_stores.setdefault(codes.get(department_id, ""), (store, ward_id))
        session.add_all(stores)
        suppliers = {
            key: Supplier(name=name, contact=contact, lead_time_days=lead, email=f"orders@{key}.example")
            for key, (name, contact, lead, _prefix, _late) in SUPPLIERS.items()
        }
        session.add_all(suppliers.values())
        session.flush()
        self.home = {
            kind: next(s for s in stores if s.kind == kind)
            for kind in ("central", "pharmacy", "lab", "radiology")
        }
        self.suppliers = suppliers
        existing = set(session.execute(select(ChargeItemDefinition.code)).scalars())
        self.items: dict[str, StockItem] = {}
        for number, spec in enumerate(ITEMS, start=1):
            prefix = SUPPLIERS[spec.supplier][3]
            unit_gtin, pack_gtin = gtins(prefix, 1000 + number * 7)
            item = StockItem(
                code=spec.code,
                name=spec.name,
                category=spec.category,
                base_unit=spec.unit,
                gtin=unit_gtin if spec.unit_gtin else None,
                chargeable=spec.price is not None,
                charge_code=spec.code if spec.price is not None else None,
                track_lots=spec.life is not None,
                supplier_id=suppliers[spec.supplier].id,
                order_pack_size=spec.pack[1],
                created_at=datetime.combine(
                    # the catalogue exists a month before the history starts
                    ctx.as_of - timedelta(days=ctx.stock_days + 30),
                    time(9),
                    tzinfo=UTC,
                ),
            )
            session.add(item)
            self.items[spec.code] = item
            if spec.price is not None and spec.code not in existing:
                category = CHARGE_CATEGORY.get(spec.category, "procedure")
                session.add(
                    ChargeItemDefinition(
                        code=spec.code,
                        name=spec.name,
                        category=category,
                        price_cents=spec.price,
                        tax_rate_bp=0 if spec.category == "implant" else CHARGE_TAX_BP[category],
                    )
                )
        session.flush()
        for number, spec in enumerate(ITEMS, start=1):
            name, per_pack = spec.pack
            if per_pack > 1 and name != spec.unit:
                session.add(
                    StockPackUnit(
                        item_id=self.items[spec.code].id,
                        name=name,
                        base_quantity=per_pack,
                        gtin=gtins(SUPPLIERS[spec.supplier][3], 1000 + number * 7)[1],
                    )
                )
        # Weekly use: (store id, item code) -> (base units a week, department issued to or None)
        self.demand: dict[tuple[int, str], tuple[float, int | None]] = {}
        self.ward_levels: dict[tuple[int, str], StockLevel] = {}
        self.home_levels: dict[str, StockLevel] = {}
        for spec in ITEMS:
            home = self.home_of(spec)
            weekly = 0.0
            for code in spec.wards if spec.ward else ():
                if code not in self.ward_stores:
                    continue
                store = self.ward_stores[code][0]
                rate = spec.ward * WARD_FACTORS.get(code, 0.8)
                self.demand[(store.id, spec.code)] = (rate, None)
                self.ward_levels[(store.id, spec.code)] = self._level(spec, store, rate, 0.5, 1.5, 4.5, rng)
                weekly += rate
            for code, rate in spec.depts.items():
                if code in self.departments:
                    self.demand[(home.id, spec.code, code)] = (rate, self.departments[code])  # type: ignore[index]
                    weekly += rate
            lead_weeks = SUPPLIERS[spec.supplier][2] / 7
            if weekly:
                self.home_levels[spec.code] = self._level(
                    spec, home, weekly, lead_weeks * 0.5 + 0.5, lead_weeks + 1.5, lead_weeks + 10.5, rng
                )
            else:  # kept for the odd case: a few packs, reordered when they run low
                self.home_levels[spec.code] = self._level(spec, home, spec.pack[1], 1, 2, 6, rng)
        session.add_all([*self.ward_levels.values(), *self.home_levels.values()])
        session.flush()

    def home_of(self, spec: Spec) -> StockLocation:
        return self.home[HOME_KIND[spec.category]]

    def _level(
        self, spec: Spec, store, weekly: float, low: float, reorder: float, high: float, rng
    ) -> StockLevel:
        minimum = math.ceil(weekly * low)
        point = max(minimum, math.ceil(weekly * reorder))
        maximum = max(point + spec.pack[1], math.ceil(weekly * high))
        return StockLevel(
            item_id=self.items[spec.code].id,
            location_id=store.id,
            min_quantity=minimum,
            reorder_point=point,
            max_quantity=maximum,
            bin=f"{rng.choice('ABCDEF')}-{rng.randint(1, 12):02d}-{rng.randint(1, 5)}",
        )


def store_actors(session) -> tuple[Actor, dict[int, Actor], str]:
    """Who works the stores: the storekeeper (or the system when there is none), and for each
    department the first demo user whose role may issue there; the approver's name for orders."""
    staff = staff_with_departments(session)
    actors = {username: actor for username, (actor, _department) in staff.items()}
    departments = {
        actor.user_id: department for actor, department in staff.values() if department is not None
    }
    keeper = next((a for a in actors.values() if "storekeeper" in a.roles), SYSTEM_ACTOR)
    by_department: dict[int, Actor] = {}
    for actor in actors.values():
        department = departments.get(actor.user_id)
        if department is not None and actor.can("inventory.issue") and "storekeeper" not in actor.roles:
            by_department.setdefault(department, actor)
    approver = next((a.username for a in actors.values() if "manager" in a.roles), "system")
    return keeper, by_department, approver
