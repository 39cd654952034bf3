"""The equipment register and its maintenance: registration and its checks, status changes with
a reason (retired is final), plans, work orders from opening to completion (the plan's next due
date, downtime, in and out of service), the maintenance board, the periodic job that opens due
work orders (once, however many workers run it at the same moment), who may do what, and the
audit trail."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from hms_app import db as hms_db
from hms_app.clock import local_today
from hms_app.errors import Conflict, Forbidden, InvalidFields, NotFound, ValidationError
from hms_app.models.inventory import Equipment, MaintenancePlan, StockLocation, WorkOrder
from hms_app.models.organization import Department
from hms_app.models.security import AuditEvent
from hms_app.services import live
from hms_app.services.inventory.equipment import (
    change_equipment_status,
    edit_equipment,
    equipment_choices,
    register_equipment,
    search_equipment,
)
from hms_app.services.inventory.maintenance import (
    add_plan,
    cancel_work_order,
    complete_work_order,
    edit_plan,
    open_due_work_orders,
    open_work_order,
    parse_downtime,
    start_work_order,
)
from hms_app.services.inventory.maintenance_board import equipment_detail, maintenance_board
from hms_app.services.permissions import SYSTEM_ACTOR, Actor

BIOMED = Actor(
    user_id=0,
    username="ben",
    roles=frozenset({"biomed"}),
    permissions=frozenset({"inventory.read", "inventory.issue", "equipment.read", "equipment.maintain"}),
)
MANAGER = Actor(
    user_id=0, username="maya", roles=frozenset({"manager"}), permissions=frozenset({"equipment.read"})
)
NURSE = Actor(
    user_id=0,
    username="nina",
    roles=frozenset({"nurse"}),
    permissions=frozenset({"patient.read", "inventory.read", "inventory.issue"}),
)
RECEPTION = Actor(
    user_id=0, username="rita", roles=frozenset({"receptionist"}), permissions=frozenset({"patient.read"})
)


@pytest.fixture
def published(monkeypatch):
    sent: list[tuple[str, str | None]] = []
    monkeypatch.setattr(
        live, "publish", lambda topic, key=None: sent.append((topic, None if key is None else str(key)))
    )
    return sent


@pytest.fixture
def places(session):
    icu = Department(code="ICU", name="Intensive Care")
    session.add(icu)
    session.flush()
    store = StockLocation(code="ICU-S", name="ICU store", kind="ward", department_id=icu.id)
    session.add(store)
    session.commit()
    return {"department": icu.id, "location": store.id}


def pump(places, **changes) -> dict:
    data = {
        "asset_tag": "bme-00101",
        "name": "Infusion pump",
        "serial_number": "SN-774411",
        "model": "Volumat Agilia",
        "manufacturer": "Fresenius Kabi",
        "location_id": str(places["location"]),
        "department_id": str(places["department"]),
        "purchase_date": "2022-03-14",
        "purchase_cost": "2,450.00",
        "warranty_end": "2025-03-14",
    }
    return {**data, **changes}


def actions(session) -> list[str]:
    return list(session.execute(select(AuditEvent.action).order_by(AuditEvent.id)).scalars())


def audit_details(session, action: str) -> list[str]:
    return list(
        session.execute(
            select(AuditEvent.detail).where(AuditEvent.action == action).order_by(AuditEvent.id)
        ).scalars()
    )


# ---------------------------------------------------------------------------- the register


def test_registering_equipment_puts_it_in_service_with_its_cost_in_cents_and_audits_it(
    session, places, published
):
    item = register_equipment(session, actor=BIOMED, data=pump(places))
    assert (item.asset_tag, item.status, item.purchase_cost_cents) == ("BME-00101", "in_service", 245_000)
    assert (item.purchase_date, item.warranty_end) == (date(2022, 3, 14), date(2025, 3, 14))
    assert published == [("equipment", str(item.id))]
    (detail,) = audit_details(session, "equipment.register")
    assert detail.startswith("BME-00101 Infusion pump: registered") and "2,450.00" in detail
    event = session.execute(select(AuditEvent).where(AuditEvent.action == "equipment.register")).scalar_one()
    assert (event.username, event.target_type, event.target_id) == ("ben", "equipment", str(item.id))

    rows, total = search_equipment(session, actor=MANAGER, query="volumat")
    assert total == 1 and rows[0].location == "ICU store" and rows[0].department == "Intensive Care"


def test_a_duplicate_asset_tag_is_refused_with_a_clear_message_at_its_field(session, places):
    register_equipment(session, actor=BIOMED, data=pump(places))
    with pytest.raises(InvalidFields) as caught:
        register_equipment(
            session, actor=BIOMED, data=pump(places, asset_tag=" BME-00101 ", serial_number="")
        )
    assert caught.value.errors == {
        "asset_tag": "Asset tag BME-00101 is already on the register (Infusion pump)."
    }
    assert session.execute(select(func.count(Equipment.id))).scalar_one() == 1


def test_every_wrong_field_is_named_at_once(session, places):
    future = (local_today() + timedelta(days=3)).isoformat()
    with pytest.raises(InvalidFields) as caught:
        register_equipment(
            session,
            actor=BIOMED,
            data=pump(
                places,
                asset_tag="!",
                name="",
                purchase_date=future,
                warranty_end="soon",
                purchase_cost="12.345",
                location_id="999999",
            ),
        )
    assert set(caught.value.errors) == {
        "asset_tag",
        "name",
        "purchase_date",
        "warranty_end",
        "purchase_cost",
        "location_id",
    }
    assert "future" in caught.value.errors["purchase_date"]
    with pytest.raises(InvalidFields) as caught:
        register_equipment(session, actor=BIOMED, data=pump(places, warranty_end="2021-01-01"))
    assert caught.value.errors == {"warranty_end": "The warranty cannot end before the purchase date."}


def test_editing_needs_a_reason_and_audits_what_changed_by_name(session, places):
    item = register_equipment(session, actor=BIOMED, data=pump(places))
    with pytest.raises(InvalidFields) as caught:
        edit_equipment(session, actor=BIOMED, equipment_id=item.id, data=pump(places, location_id=""))
    assert set(caught.value.errors) == {"reason"}
    edited = edit_equipment(
        session,
        actor=BIOMED,
        equipment_id=item.id,
        data=pump(places, location_id="", purchase_cost="2500", reason="Moved to the biomed workshop"),
    )
    assert (edited.location_id, edited.purchase_cost_cents) == (None, 250_000)
    (detail,) = audit_details(session, "equipment.edit")
    assert "location ICU store → –" in detail and "purchase cost 2,450.00 → 2,500.00" in detail
    assert detail.endswith("(Moved to the biomed workshop)")
    with pytest.raises(ValidationError, match="Nothing was changed"):
        edit_equipment(
            session,
            actor=BIOMED,
            equipment_id=item.id,
            data=pump(places, location_id="", purchase_cost="2500", reason="Again"),
        )


def test_status_changes_need_a_reason_and_retired_is_final(session, places, published):
    item = register_equipment(session, actor=BIOMED, data=pump(places))
    with pytest.raises(ValidationError) as caught:
        change_equipment_status(
            session, actor=BIOMED, equipment_id=item.id, status="out_of_service", reason=""
        )
    assert caught.value.field == "reason"
    changed = change_equipment_status(
        session, actor=BIOMED, equipment_id=item.id, status="out_of_service", reason="Occlusion alarm fails"
    )
    assert changed.status == "out_of_service"
    row = session.get(Equipment, item.id, populate_existing=True)
    assert (row.status, row.status_note) == ("out_of_service", "Occlusion alarm fails")
    with pytest.raises(Conflict, match="already out of service"):
        change_equipment_status(
            session, actor=BIOMED, equipment_id=item.id, status="out_of_service", reason="Still broken"
        )
    plan = add_plan(
        session,
        actor=BIOMED,
        equipment_id=item.id,
        data={"kind": "preventive", "description": "Annual PM", "interval_days": "365"},
    )
    change_equipment_status(
        session, actor=BIOMED, equipment_id=item.id, status="retired", reason="Beyond economic repair"
    )
    assert session.get(MaintenancePlan, plan.id, populate_existing=True).active is False
    for status in ("in_service", "out_of_service"):
        with pytest.raises(Conflict, match="retired"):
            change_equipment_status(
                session, actor=BIOMED, equipment_id=item.id, status=status, reason="Found it"
            )
    with pytest.raises(Conflict, match="retired"):
        edit_equipment(session, actor=BIOMED, equipment_id=item.id, data=pump(places, reason="Fix the name"))
    with pytest.raises(Conflict, match="retired"):
        open_work_order(session, actor=BIOMED, equipment_id=item.id, problem="Will not start")
    assert audit_details(session, "equipment.status") == [
        "BME-00101 Infusion pump: in service → out of service: Occlusion alarm fails",
        "BME-00101 Infusion pump: out of service → retired: Beyond economic repair",
    ]
    rows, total = search_equipment(session, actor=MANAGER)
    assert total == 0  # the register hides retired items unless asked
    assert search_equipment(session, actor=MANAGER, status="retired")[1] == 1


def test_retiring_waits_for_open_work_orders(session, places):
    item = register_equipment(session, actor=BIOMED, data=pump(places))
    order = open_work_order(session, actor=BIOMED, equipment_id=item.id, problem="Door latch broken")
    with pytest.raises(Conflict, match=f"Finish or cancel {order.reference}"):
        change_equipment_status(session, actor=BIOMED, equipment_id=item.id, status="retired", reason="Old")


def test_the_register_pages_and_filters_in_sql(session, places):
    for n in range(7):
        register_equipment(
            session,
            actor=BIOMED,
            data=pump(places, asset_tag=f"MON-{n:03d}", name="Patient monitor", serial_number=f"M{n}"),
        )
    register_equipment(session, actor=BIOMED, data=pump(places, asset_tag="DEF-001", name="Defibrillator"))
    first, total = search_equipment(session, actor=MANAGER, query="monitor", limit=5)
    second, _ = search_equipment(session, actor=MANAGER, query="monitor", offset=5, limit=5)
    assert total == 7 and len(first) == 5 and len(second) == 2
    assert [r.asset_tag for r in first + second] == [f"MON-{n:03d}" for n in range(7)]
    assert search_equipment(session, actor=MANAGER, query="def")[1] == 1  # an asset tag's start
    assert search_equipment(session, actor=MANAGER, query="100%")[1] == 0  # wildcards are literal
    change_equipment_status(
        session, actor=BIOMED, equipment_id=first[0].id, status="under_maintenance", reason="Cracked screen"
    )
    rows, total = search_equipment(session, actor=MANAGER, status="under_maintenance")
    assert total == 1 and rows[0].status_note == "Cracked screen"
    with pytest.raises(ValidationError):
        search_equipment(session, actor=MANAGER, status="lost")
    choices = equipment_choices(session, actor=MANAGER)
    assert [c.label for c in choices.locations] == ["ICU store"]


# ---------------------------------------------------------------------------- who may


def test_nurses_and_receptionists_cannot_see_or_change_equipment_and_managers_only_read(session, places):
    item = register_equipment(session, actor=BIOMED, data=pump(places))
    for actor in (NURSE, RECEPTION):
        with pytest.raises(Forbidden):
            search_equipment(session, actor=actor)
        with pytest.raises(Forbidden):
            maintenance_board(session, actor=actor)
        with pytest.raises(Forbidden):
            equipment_detail(session, actor=actor, equipment_id=item.id)
    for actor in (NURSE, RECEPTION, MANAGER):
        with pytest.raises(Forbidden):
            register_equipment(session, actor=actor, data=pump(places, asset_tag="X-1"))
        with pytest.raises(Forbidden):
            change_equipment_status(
                session, actor=actor, equipment_id=item.id, status="out_of_service", reason="Broken"
            )
        with pytest.raises(Forbidden):
            open_work_order(session, actor=actor, equipment_id=item.id, problem="Broken")
        with pytest.raises(Forbidden):
            open_due_work_orders(session, actor=actor)
    assert equipment_detail(session, actor=MANAGER, equipment_id=item.id).equipment.asset_tag == "BME-00101"
    with pytest.raises(NotFound):
        equipment_detail(session, actor=MANAGER, equipment_id=item.id + 100)
    assert session.execute(select(func.count(WorkOrder.id))).scalar_one() == 0


# ---------------------------------------------------------------------------- plans and work orders


def test_a_planned_work_order_moves_the_plans_next_due_and_records_downtime(session, places, published):
    item = register_equipment(session, actor=BIOMED, data=pump(places))
    overdue = local_today() - timedelta(days=3)
    plan = add_plan(
        session,
        actor=BIOMED,
        equipment_id=item.id,
        data={
            "kind": "calibration",
            "description": "Flow-rate calibration",
            "interval_days": "180",
            "next_due": overdue.isoformat(),
        },
    )
    board = maintenance_board(session, actor=MANAGER)
    assert (board.overdue, board.due_soon, board.total) == (1, 0, 1)
    assert (board.lines[0].asset_tag, board.lines[0].days_left, board.lines[0].work_order) == (
        "BME-00101",
        -3,
        "",
    )

    order = open_work_order(
        session, actor=BIOMED, equipment_id=item.id, plan_id=plan.id, take_out_of_service=True
    )
    assert (order.reference, order.kind, order.status, order.opened_by) == (
        "WO-000001",
        "calibration",
        "open",
        "ben",
    )
    assert order.problem.startswith("Calibration due") and "Flow-rate calibration" in order.problem
    assert session.get(Equipment, item.id, populate_existing=True).status == "under_maintenance"
    with pytest.raises(Conflict, match="WO-000001 is already open"):
        open_work_order(session, actor=BIOMED, equipment_id=item.id, plan_id=plan.id)
    line = maintenance_board(session, actor=MANAGER).lines[0]
    assert (line.work_order, line.work_order_status, line.equipment_status) == (
        "WO-000001",
        "open",
        "under_maintenance",
    )

    started = start_work_order(session, actor=BIOMED, work_order_id=order.id)
    assert started.status == "in_progress" and started.started_at is not None
    with pytest.raises(Conflict, match="in progress"):
        start_work_order(session, actor=BIOMED, work_order_id=order.id)
    with pytest.raises(InvalidFields) as caught:
        complete_work_order(session, actor=BIOMED, work_order_id=order.id, findings="", downtime="a while")
    assert set(caught.value.errors) == {"findings", "downtime"}
    done = complete_work_order(
        session,
        actor=BIOMED,
        work_order_id=order.id,
        findings="Flow within 2 %; occlusion sensor cleaned",
        downtime="1h 30m",
    )
    assert (done.status, done.downtime_minutes, done.completed_by) == ("done", 90, "ben")
    plan_now = session.get(MaintenancePlan, plan.id, populate_existing=True)
    assert (plan_now.last_done, plan_now.next_due) == (local_today(), local_today() + timedelta(days=180))
    assert session.get(Equipment, item.id, populate_existing=True).status == "in_service"
    with pytest.raises(Conflict, match="done"):
        complete_work_order(session, actor=BIOMED, work_order_id=order.id, findings="Again", downtime=0)

    board = maintenance_board(session, actor=MANAGER)
    assert board.total == 0 and board.open_work_orders == 0
    detail = equipment_detail(session, actor=MANAGER, equipment_id=item.id)
    assert [(w.reference, w.status, w.downtime_minutes) for w in detail.work_orders] == [
        ("WO-000001", "done", 90)
    ]
    assert detail.downtime_minutes_year == 90
    assert [(p.description, p.days_left) for p in detail.plans] == [("Flow-rate calibration", 180)]
    assert [a for a in actions(session) if a.startswith("equipment.work_order")] == [
        "equipment.work_order_open",
        "equipment.work_order_start",
        "equipment.work_order_complete",
    ]
    (completed,) = audit_details(session, "equipment.work_order_complete")
    assert "downtime 90 min" in completed and "under maintenance → in service" in completed


def test_a_repair_needs_a_problem_and_may_leave_the_equipment_out_of_service(session, places):
    item = register_equipment(session, actor=BIOMED, data=pump(places))
    with pytest.raises(ValidationError) as caught:
        open_work_order(session, actor=BIOMED, equipment_id=item.id, problem=" ")
    assert caught.value.field == "problem"
    change_equipment_status(
        session, actor=BIOMED, equipment_id=item.id, status="out_of_service", reason="Dropped on the floor"
    )
    order = open_work_order(session, actor=BIOMED, equipment_id=item.id, problem="Cracked housing")
    assert order.kind == "corrective" and order.plan_id is None
    complete_work_order(
        session,
        actor=BIOMED,
        work_order_id=order.id,
        findings="Housing ordered",
        downtime=0,
        return_to_service=False,
    )
    assert session.get(Equipment, item.id, populate_existing=True).status == "out_of_service"


def test_cancelling_a_planned_work_order_skips_that_occurrence(session, places):
    item = register_equipment(session, actor=BIOMED, data=pump(places))
    due = local_today() + timedelta(days=2)
    plan = add_plan(
        session,
        actor=BIOMED,
        equipment_id=item.id,
        data={"kind": "preventive", "description": "PM", "interval_days": "90", "next_due": due},
    )
    order = open_work_order(session, actor=BIOMED, equipment_id=item.id, plan_id=plan.id)
    with pytest.raises(ValidationError):
        cancel_work_order(session, actor=BIOMED, work_order_id=order.id, reason="")
    cancelled = cancel_work_order(
        session, actor=BIOMED, work_order_id=order.id, reason="Done by the manufacturer's engineer"
    )
    assert cancelled.status == "cancelled"
    assert session.get(MaintenancePlan, plan.id, populate_existing=True).next_due == due + timedelta(days=90)
    # The plan may have a new work order now that the old one is finished.
    assert (
        open_work_order(session, actor=BIOMED, equipment_id=item.id, plan_id=plan.id).reference == "WO-000002"
    )


def test_plans_are_checked_and_edited_with_a_reason(session, places):
    item = register_equipment(session, actor=BIOMED, data=pump(places))
    with pytest.raises(InvalidFields) as caught:
        add_plan(
            session,
            actor=BIOMED,
            equipment_id=item.id,
            data={"kind": "polish", "description": "", "interval_days": "0"},
        )
    assert set(caught.value.errors) == {"kind", "description", "interval_days"}
    plan = add_plan(
        session,
        actor=BIOMED,
        equipment_id=item.id,
        data={"kind": "preventive", "description": "Electrical safety test", "interval_days": "365"},
    )
    assert plan.next_due == local_today() + timedelta(days=365)  # no date given: one interval on
    with pytest.raises(InvalidFields) as caught:
        edit_plan(session, actor=BIOMED, plan_id=plan.id, data={"description": "x", "interval_days": "365"})
    assert set(caught.value.errors) == {"description", "next_due", "reason"}
    edited = edit_plan(
        session,
        actor=BIOMED,
        plan_id=plan.id,
        data={
            "description": "Electrical safety test",
            "interval_days": "180",
            "next_due": plan.next_due.isoformat(),
            "active": "on",
            "reason": "Manufacturer now asks twice a year",
        },
    )
    assert edited.interval_days == 180
    (detail,) = audit_details(session, "equipment.plan_edit")
    assert "interval days 365 → 180" in detail and "twice a year" in detail


def test_downtime_is_read_as_people_write_it():
    assert [parse_downtime(v) for v in ("0", "90", "1:30", "1h 30m", "2h", "45 min", 15)] == [
        0,
        90,
        90,
        90,
        120,
        45,
        15,
    ]
    for bad in ("", "soon", "-5", "1:75", 10**7):
        with pytest.raises(ValidationError):
            parse_downtime(bad)


def test_the_board_shows_due_and_overdue_paged_and_filtered(session, places):
    today = local_today()
    for n, days in enumerate((-10, -1, 0, 5, 13, 40)):
        item = register_equipment(
            session,
            actor=BIOMED,
            data=pump(places, asset_tag=f"ECG-{n}", name="ECG machine", serial_number=""),
        )
        add_plan(
            session,
            actor=BIOMED,
            equipment_id=item.id,
            data={
                "kind": "preventive",
                "description": "PM",
                "interval_days": "365",
                "next_due": today + timedelta(days=days),
            },
        )
    board = maintenance_board(session, actor=MANAGER, within_days=14, limit=3)
    assert (board.overdue, board.due_soon, board.total) == (2, 3, 5)
    assert [line.days_left for line in board.lines] == [-10, -1, 0]
    second = maintenance_board(session, actor=MANAGER, within_days=14, offset=3, limit=3)
    assert [line.days_left for line in second.lines] == [5, 13]
    overdue = maintenance_board(session, actor=MANAGER, show="overdue")
    assert [line.asset_tag for line in overdue.lines] == ["ECG-0", "ECG-1"] and overdue.total == 2
    assert maintenance_board(session, actor=MANAGER, show="due", within_days=60).total == 4
    with pytest.raises(ValidationError):
        maintenance_board(session, actor=MANAGER, within_days=1000)


# ---------------------------------------------------------------------------- the periodic job


def _due_plans(session, places, count: int) -> list[int]:
    ids = []
    for n in range(count):
        item = register_equipment(
            session,
            actor=BIOMED,
            data=pump(places, asset_tag=f"VENT-{n:02d}", name="Ventilator", serial_number=""),
        )
        ids.append(
            add_plan(
                session,
                actor=BIOMED,
                equipment_id=item.id,
                data={
                    "kind": "preventive",
                    "description": "Service kit",
                    "interval_days": "180",
                    "next_due": local_today() - timedelta(days=n),
                },
            ).id
        )
    far = register_equipment(session, actor=BIOMED, data=pump(places, asset_tag="VENT-FAR", serial_number=""))
    add_plan(
        session,
        actor=BIOMED,
        equipment_id=far.id,
        data={
            "kind": "preventive",
            "description": "Service kit",
            "interval_days": "180",
            "next_due": "2199-01-01",
        },
    )
    return ids


def test_the_job_opens_one_work_order_per_due_plan_and_is_idempotent(session, places, published):
    plans = _due_plans(session, places, 3)
    assert open_due_work_orders(session, actor=SYSTEM_ACTOR) == 3
    assert open_due_work_orders(session, actor=SYSTEM_ACTOR) == 0
    orders = session.execute(select(WorkOrder.plan_id, WorkOrder.reference, WorkOrder.opened_by)).all()
    assert sorted(p for p, _r, _b in orders) == sorted(plans)
    assert sorted(r for _p, r, _b in orders) == ["WO-000001", "WO-000002", "WO-000003"]
    assert {b for _p, _r, b in orders} == {"system"}
    assert len(audit_details(session, "equipment.work_order_open")) == 3


def test_two_workers_running_the_job_at_once_open_each_due_plan_once(configured_db, session, places):
    plans = _due_plans(session, places, 6)
    workers = 4
    barrier = threading.Barrier(workers)
    opened: list[int] = []
    crashed: list[BaseException] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        try:
            with hms_db.session_scope(configured_db) as s:
                count = open_due_work_orders(s, actor=SYSTEM_ACTOR)
            with lock:
                opened.append(count)
        except BaseException as error:  # noqa: BLE001 - any crash is the failure under test
            with lock:
                crashed.append(error)

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert crashed == []
    assert sum(opened) == len(plans)
    session.expire_all()
    per_plan = dict(
        session.execute(select(WorkOrder.plan_id, func.count(WorkOrder.id)).group_by(WorkOrder.plan_id)).all()
    )
    assert per_plan == {plan: 1 for plan in plans}
    references = sorted(session.execute(select(WorkOrder.reference)).scalars())
    assert references == [f"WO-{n:06d}" for n in range(1, len(plans) + 1)]  # gap-free


# ---------------------------------------------------------------------------- parts used


@pytest.fixture
def workshop(session):
    """Biomedical engineering's workshop store with fuses in stock, and an engineer of that
    department (the ledger lets staff issue from their own department's stores)."""
    from hms_app.models.inventory import StockBalance, StockItem
    from hms_app.models.security import AppUser
    from hms_app.services.inventory.ledger import receive_stock

    bme = Department(code="BME", name="Biomedical Engineering", kind="support")
    session.add(bme)
    session.flush()
    store = StockLocation(code="BME-WS", name="BME workshop store", kind="central", department_id=bme.id)
    fuse = StockItem(
        code="SP-FUSE-5A", name="Fuse 5 A", category="consumable", base_unit="each", track_lots=False
    )
    user = AppUser(username="ben", display_name="Ben", password_hash="x", department_id=bme.id)
    session.add_all([store, fuse, user])
    session.commit()
    receive_stock(
        session, actor=SYSTEM_ACTOR, item_id=fuse.id, location_id=store.id, quantity=10, unit_cost_cents=120
    )
    engineer = Actor(user.id, "ben", roles=BIOMED.roles, permissions=BIOMED.permissions)

    def held() -> int:
        session.expire_all()
        return session.execute(
            select(func.sum(StockBalance.quantity)).where(StockBalance.item_id == fuse.id)
        ).scalar_one()

    return {"department": bme.id, "location": store.id, "fuse": fuse.id, "engineer": engineer, "held": held}


def test_parts_used_are_issued_from_stock_with_the_completion(session, places, workshop):
    from hms_app.models.inventory import StockMove
    from hms_app.services.inventory.maintenance_board import parts_on_hand

    engineer = workshop["engineer"]
    item = register_equipment(session, actor=engineer, data=pump(places))
    order = open_work_order(session, actor=engineer, equipment_id=item.id, problem="Blows its fuse")
    (offered,) = parts_on_hand(session, actor=engineer)
    assert (offered.item_id, offered.location_id) == (workshop["fuse"], workshop["location"])
    assert offered.label == "Fuse 5 A · BME workshop store (10 each)"
    assert parts_on_hand(session, actor=BIOMED) == []  # an engineer of no department: no store of theirs

    with pytest.raises(InvalidFields) as caught:  # more than the store holds: nothing is written
        complete_work_order(
            session,
            actor=engineer,
            work_order_id=order.id,
            findings="Fuse replaced",
            downtime=20,
            parts=[{"item_id": workshop["fuse"], "location_id": workshop["location"], "quantity": "x"}],
        )
    assert set(caught.value.errors) == {"parts"}
    with pytest.raises(ValidationError) as caught:
        complete_work_order(
            session,
            actor=engineer,
            work_order_id=order.id,
            findings="Fuse replaced",
            downtime=20,
            parts=[{"item_id": workshop["fuse"], "location_id": workshop["location"], "quantity": 11}],
        )
    assert caught.value.field == "parts" and "holds only 10 each" in str(caught.value)
    assert session.get(WorkOrder, order.id, populate_existing=True).status == "open"
    assert workshop["held"]() == 10

    complete_work_order(
        session,
        actor=engineer,
        work_order_id=order.id,
        findings="Fuse replaced; PSU checked",
        downtime=20,
        parts=[{"item_id": workshop["fuse"], "location_id": workshop["location"], "quantity": 2}],
    )
    assert workshop["held"]() == 8
    move = session.execute(select(StockMove).where(StockMove.work_order_id == order.id)).scalar_one()
    assert (move.kind, move.quantity, move.moved_by) == ("maintenance_use", -2, "ben")
    detail = equipment_detail(session, actor=MANAGER, equipment_id=item.id)
    assert detail.work_orders[0].parts == ("2 × Fuse 5 A (BME workshop store)",)
    assert "1 stock move" in audit_details(session, "equipment.work_order_complete")[0]
    assert "inventory.maintenance_use" in actions(session)
