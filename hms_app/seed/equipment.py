"""Demo equipment: the register of a mid-sized hospital (infusion and syringe pumps, patient
monitors, defibrillators, ventilators, ECG machines, the MRI, CT and ultrasound that the schedule
books, and the laboratory's and theatres' machines), each with its preventive-maintenance or
calibration plans (a few overdue, several due within two weeks), a year of work-order history
with findings and downtime, a repair in progress, a defibrillator out of service and a retired
pump; and Biomedical Engineering's workshop store with its spare parts.

Due plans get their work orders from the periodic job (``maintenance_due``) once the app runs,
as they would in the hospital: the seed leaves that to it.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import select

from hms_app.models.inventory import Equipment, MaintenancePlan, StockItem, StockLocation, WorkOrder
from hms_app.models.organization import Department
from hms_app.models.scheduling import Resource
from hms_app.seed.registry import SeedContext, seeder
from hms_app.services.audit import record_audit
from hms_app.services.counters import take_numbers
from hms_app.services.inventory.ledger import receive_stock
from hms_app.services.inventory.maintenance import work_order_reference
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.settings import get_settings

WORKSHOP = ("BME-WS", "Biomedical Engineering workshop")
# code, name, unit cost (cents), quantity in the workshop
SPARE_PARTS = [
    ("BME-FUSE-5A", "Fuse 5 A (mains inlet)", 90, 40),
    ("BME-BATT-DEFIB", "Defibrillator battery pack", 38_500, 3),
    ("BME-SPO2-PROBE", "SpO2 finger probe, reusable", 7_900, 12),
    ("BME-HEPA-VENT", "Ventilator expiratory HEPA filter", 2_450, 20),
    ("BME-ECG-CABLE", "ECG trunk cable, 5-lead", 11_200, 6),
    ("BME-PUMP-DOOR", "Infusion pump door latch assembly", 6_300, 4),
]
# prefix, name, manufacturer, model, count, departments (cycled), cost (cents), plans, capability
# plans: (kind, description, interval days)
PM = ("preventive", "Preventive maintenance and electrical safety test", 365)
EQUIPMENT = [
    ("IP", "Infusion pump", "Fresenius Kabi", "Volumat Agilia", 6, ["GEN", "CARD", "ED", "ORTH", "PED"], 245_000,
     [PM], None),
    ("IP", "Infusion pump", "BD", "Alaris GP Plus", 3, ["GEN", "ED"], 279_000, [PM], None),
    ("SP", "Syringe pump", "B. Braun", "Perfusor Space", 3, ["CARD", "PED"], 198_000, [PM], None),
    ("PM", "Patient monitor", "Philips", "IntelliVue MX450", 4, ["CARD", "ED", "GEN"], 1_150_000,
     [PM, ("calibration", "NIBP and temperature calibration", 180)], None),
    ("PM", "Patient monitor", "GE HealthCare", "CARESCAPE B450", 2, ["CARD"], 1_390_000,
     [PM, ("calibration", "NIBP and temperature calibration", 180)], None),
    ("DF", "Defibrillator", "ZOLL", "R Series", 2, ["ED", "GEN"], 1_820_000,
     [("preventive", "Energy delivery and battery test", 180)], None),
    ("DF", "Defibrillator", "Philips", "HeartStart MRx", 2, ["CARD", "PED"], 1_640_000,
     [("preventive", "Energy delivery and battery test", 180)], None),
    ("VT", "Ventilator", "Hamilton Medical", "HAMILTON-C6", 2, ["CARD"], 4_200_000,
     [("preventive", "Preventive maintenance kit (6-monthly)", 182), ("calibration", "Flow sensor and O2 cell calibration", 90)], None),
    ("VT", "Ventilator", "Dräger", "Evita V500", 1, ["CARD"], 4_650_000,
     [("preventive", "Preventive maintenance kit (6-monthly)", 182)], None),
    ("EC", "ECG machine", "GE HealthCare", "MAC 2000", 2, ["GEN", "ED"], 780_000, [PM], None),
    ("EC", "ECG machine", "Philips", "PageWriter TC50", 1, ["CARD"], 920_000, [PM], None),
    ("MR", "MRI scanner 1.5 T", "Siemens Healthineers", "MAGNETOM Sola", 1, ["RAD"], 145_000_000,
     [("preventive", "Manufacturer service visit", 90), ("calibration", "Monthly QA phantom review", 30)], "mri"),
    ("CT", "CT scanner, 64-slice", "GE HealthCare", "Revolution EVO", 1, ["RAD"], 62_000_000,
     [("preventive", "Manufacturer service visit", 90), ("calibration", "Dose and image-quality calibration", 180)], "ct"),
    ("US", "Ultrasound system", "GE HealthCare", "LOGIQ E10", 1, ["RAD"], 9_800_000, [PM], "ultrasound"),
    ("AN", "Anaesthesia workstation", "Dräger", "Perseus A500", 2, ["ORTH"], 5_400_000,
     [("preventive", "Preventive maintenance and leak test", 182)], None),
    ("BG", "Blood gas analyser", "Radiometer", "ABL90 FLEX PLUS", 1, ["LAB"], 3_150_000,
     [("calibration", "Calibration and quality control review", 30)], None),
    ("CF", "Centrifuge", "Eppendorf", "5810 R", 1, ["LAB"], 1_120_000, [PM], None),
    ("FM", "Fetal monitor", "Philips", "Avalon FM30", 1, ["OBG"], 1_470_000, [PM], None),
    ("IN", "Infant incubator", "Dräger", "Babyleo TN500", 1, ["PED"], 3_900_000,
     [PM, ("calibration", "Air temperature and humidity calibration", 180)], None),
]  # fmt: skip
FINDINGS = [
    "Passed electrical safety test; visual inspection clean.",
    "Performance within specification; firmware updated.",
    "Calibration within tolerance; no adjustment needed.",
    "Worn seal replaced; passed functional test.",
    "Battery capacity 82 %; recorded for next check.",
]
REPAIRS = [
    (
        "Occlusion alarm sounds with no occlusion",
        "Pressure sensor cleaned and recalibrated; passed self-test.",
        240,
    ),
    ("Cracked housing after a drop", "Front housing replaced; passed electrical safety test.", 2_880),
    ("Screen flickers intermittently", "Display cable reseated; soak-tested for 4 h without fault.", 360),
    ("Mains fuse blows on start-up", "Mains inlet fuse replaced; insulation test passed.", 90),
]
STAFF = "biomed"  # the demo biomedical engineer (seed/demo.py)


@seeder("equipment", order=85)
def seed_equipment(ctx: SeedContext) -> None:
    session, rng = ctx.session, ctx.rng
    if session.execute(select(Equipment.id).limit(1)).first():
        return
    departments = dict(session.execute(select(Department.code, Department.id)).all())
    if not departments:
        return
    tz = get_settings().tz
    today = ctx.as_of
    stores = {}
    for location_id, department_id in session.execute(
        select(StockLocation.id, StockLocation.department_id)
        .where(StockLocation.active.is_(True))
        .order_by(StockLocation.id)
    ):
        stores.setdefault(department_id, location_id)
    workshop = _workshop(session, departments.get("BME"))
    resources = dict(
        session.execute(select(Resource.capability, Resource.id).where(Resource.kind == "equipment")).all()
    )

    def moment(day, hour: int) -> datetime:
        return datetime.combine(day, time(hour, rng.randint(0, 59)), tzinfo=tz)

    items: list[tuple[Equipment, list[MaintenancePlan]]] = []
    serial = 1000
    numbers: dict[str, int] = {}
    total = sum(row[4] for row in EQUIPMENT)
    ctx.progress("equipment", 0, total)
    for prefix, name, maker, model, count, codes, cost, plans, capability in EQUIPMENT:
        for _ in range(count):
            numbers[prefix] = numbers.get(prefix, 0) + 1
            code = codes[(numbers[prefix] - 1) % len(codes)]
            department_id = departments.get(code)
            bought = today - timedelta(days=rng.randint(200, 3_000))
            serial += rng.randint(7, 91)
            equipment = Equipment(
                asset_tag=f"BME-{prefix}-{numbers[prefix]:03d}",
                name=name,
                serial_number=f"{maker[:2].upper()}{bought.year % 100:02d}{serial:06d}",
                model=model,
                manufacturer=maker,
                location_id=stores.get(department_id),
                department_id=department_id,
                purchase_date=bought,
                purchase_cost_cents=cost,
                warranty_end=bought + timedelta(days=365 * (5 if cost > 5_000_000 else 2)),
                status="in_service",
                status_since=moment(bought, 10),
                resource_id=resources.pop(capability, None) if capability else None,
            )
            session.add(equipment)
            session.flush()
            made = []
            for kind, description, interval in plans:
                # Spread over the interval: some overdue, some due in days, most later.
                roll = rng.random()
                if roll < 0.12:
                    due = today - timedelta(days=rng.randint(1, 25))
                elif roll < 0.3:
                    due = today + timedelta(days=rng.randint(0, 14))
                else:
                    due = today + timedelta(days=rng.randint(15, interval))
                last = due - timedelta(days=interval)
                plan = MaintenancePlan(
                    equipment_id=equipment.id,
                    kind=kind,
                    description=description,
                    interval_days=interval,
                    next_due=due,
                    last_done=last if last > bought else None,
                )
                session.add(plan)
                made.append(plan)
            session.flush()
            items.append((equipment, made))
            ctx.progress("equipment", len(items), total)

    history = _history(session, ctx, items, workshop, moment)
    record_audit(
        session,
        SYSTEM_ACTOR,
        "seed.equipment",
        detail=f"{len(items)} pieces of equipment, {sum(len(p) for _e, p in items)} plans, {history} work orders",
    )
    session.commit()


def _workshop(session, department_id: int | None) -> int | None:
    """Biomedical Engineering's store and its spare parts, received through the ledger."""
    if department_id is None:
        return None
    store = StockLocation(code=WORKSHOP[0], name=WORKSHOP[1], kind="central", department_id=department_id)
    session.add(store)
    session.flush()
    for code, name, cost, quantity in SPARE_PARTS:
        item = StockItem(
            code=code, name=name, category="consumable", base_unit="each", track_lots=False,
            average_cost_cents=cost,
        )  # fmt: skip
        session.add(item)
        session.flush()
        receive_stock(
            session,
            actor=SYSTEM_ACTOR,
            item_id=item.id,
            location_id=store.id,
            quantity=quantity,
            unit_cost_cents=cost,
            reference="Opening stock",
            commit=False,
        )
    return store.id


def _history(session, ctx: SeedContext, items, workshop: int | None, moment) -> int:
    """Completed planned work at each plan's last date, some repairs, and today's state of play:
    a repair in progress (under maintenance), a defibrillator out of service, a retired pump."""
    rng, today = ctx.rng, ctx.as_of
    orders: list[WorkOrder] = []
    for equipment, plans in items:
        for plan in plans:
            if plan.last_done is None:
                continue
            minutes = rng.choice((30, 45, 60, 90, 120)) * (4 if equipment.resource_id else 1)
            done = moment(plan.last_done, rng.randint(8, 15))
            orders.append(
                WorkOrder(
                    reference="", equipment_id=equipment.id, plan_id=plan.id, kind=plan.kind, status="done",
                    problem=f"{plan.description} due {plan.last_done:%d %b %Y}", findings=rng.choice(FINDINGS),
                    opened_at=done - timedelta(days=rng.randint(1, 7)), opened_by="system", started_at=done,
                    completed_at=done + timedelta(minutes=minutes), completed_by=STAFF, downtime_minutes=minutes,
                )
            )  # fmt: skip
        if rng.random() < 0.2:
            problem, findings, minutes = rng.choice(REPAIRS)
            day = today - timedelta(days=rng.randint(10, 300))
            opened = moment(day, 9)
            orders.append(
                WorkOrder(
                    reference="", equipment_id=equipment.id, kind="corrective", status="done", problem=problem,
                    findings=findings, opened_at=opened, opened_by=STAFF, started_at=opened + timedelta(hours=1),
                    completed_at=opened + timedelta(minutes=minutes + 60), completed_by=STAFF,
                    downtime_minutes=minutes,
                )
            )  # fmt: skip
    pumps = [e for e, _p in items if e.name == "Infusion pump"]
    monitors = [e for e, _p in items if e.name == "Patient monitor"]
    defibrillators = [e for e, _p in items if e.name == "Defibrillator"]
    now = moment(today, 8)
    if monitors:
        monitor = monitors[-1]
        monitor.status, monitor.status_note = "under_maintenance", "Screen flickers; on the bench"
        monitor.status_since, monitor.location_id = now - timedelta(hours=20), workshop or monitor.location_id
        orders.append(
            WorkOrder(
                reference="", equipment_id=monitor.id, kind="corrective", status="in_progress",
                problem="Screen flickers intermittently", opened_at=now - timedelta(hours=20), opened_by=STAFF,
                started_at=now - timedelta(hours=18),
            )
        )  # fmt: skip
    if pumps:
        orders.append(
            WorkOrder(
                reference="", equipment_id=pumps[0].id, kind="corrective", status="open",
                problem="Door latch stiff; closes only on the second try", opened_at=now - timedelta(hours=3),
                opened_by="nurse.joy",
            )
        )  # fmt: skip
    if defibrillators:
        broken = defibrillators[0]
        broken.status, broken.status_since = "out_of_service", now - timedelta(days=2)
        broken.status_note = "Battery fails self-test; replacement pack ordered"
    if len(pumps) > 1:
        old = pumps[-1]
        old.status, old.status_since = "retired", now - timedelta(days=40)
        old.status_note = "Beyond economic repair: pump motor worn"
        old.resource_id = None
        for plan in items[[e for e, _p in items].index(old)][1]:
            plan.active = False
    for equipment, _plans in items:
        session.add(equipment)
    orders.sort(key=lambda o: o.opened_at)
    if not orders:
        return 0
    for order, number in zip(orders, take_numbers(session, "work_order", len(orders)), strict=True):
        order.reference = work_order_reference(number)
        session.add(order)
    session.flush()
    return len(orders)
