"""The equipment screens' states driven as browser tabs would, against the test database: a
biomedical engineer registers a pump (a wrong form names its fields), changes its status, plans
its maintenance and works a work order on the item page; the maintenance board shows the due
plan and its work order; a manager reads but cannot write; ids a tab was not shown are refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from hms_app import db as hms_db
from hms_app.clock import local_today
from hms_app.models.inventory import Equipment, WorkOrder
from hms_app.models.organization import Department
from hms_app.services import accounts, live, security
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.state.equipment.board import MaintenanceBoardState
from hms_app.state.equipment.item import EquipmentItemState
from hms_app.state.equipment.register import EquipmentRegisterState
from tests.state.test_boards_state import PASSWORD, _call, _tab, _toasts


@pytest.fixture(autouse=True)
def quiet(monkeypatch):
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    monkeypatch.setattr(live, "publish", lambda *args, **kwargs: None)


@pytest.fixture
def staff(session):
    accounts.ensure_roles(session)
    department = Department(code="BME", name="Biomedical Engineering")
    session.add(department)
    session.commit()
    for username, role in (("ben", "biomed"), ("maya", "manager"), ("nina", "nurse")):
        accounts.create_user(
            session,
            actor=SYSTEM_ACTOR,
            username=username,
            display_name=username.title(),
            password=PASSWORD,
            roles=[role],
            department_id=department.id,
        )
    session.commit()
    return {"department": department.id}


FORM = {
    "asset_tag": "bme-ip-900",
    "name": "Infusion pump",
    "manufacturer": "BD",
    "model": "Alaris GP",
    "serial_number": "BD1234",
    "location_id": "none",
    "department_id": "none",
    "resource_id": "none",
    "purchase_date": "2023-05-01",
    "purchase_cost": "2790",
    "warranty_end": "2025-05-01",
}


async def test_an_engineer_registers_changes_status_plans_and_works_an_order(staff, configured_db):
    register = _tab(EquipmentRegisterState, "/equipment", "ben")
    await _call(register, "load")
    assert register.rows == [] and register.total == 0

    await _call(register, "open_new")
    assert register.dialog == "equipment" and register.departments[0].label == "Biomedical Engineering"
    events = await _call(register, "save_equipment", FORM)
    assert any("BME-IP-900 Infusion pump registered" in t for t in _toasts(events))
    assert [r.asset_tag for r in register.rows] == ["BME-IP-900"] and register.dialog == ""

    await _call(register, "open_new")
    await _call(register, "save_equipment", {**FORM, "name": "", "warranty_end": "2020-01-01"})
    assert register.dialog == "equipment"
    assert set(register.field_errors) == {"asset_tag", "name", "warranty_end"}
    assert "already on the register" in register.field_errors["asset_tag"]
    await _call(register, "dialog_open_change", False)

    row = register.rows[0]
    await _call(register, "open_status", row.id)
    assert register.dialog == "status" and "in_service" not in [o.value for o in register.status_options]
    await _call(register, "save_status", {"status": "out_of_service", "reason": ""})
    assert register.field_errors == {"reason": "Enter the reason (3 characters or more)."}
    events = await _call(register, "save_status", {"status": "out_of_service", "reason": "Alarm fails"})
    assert any("BME-IP-900 is out of service." in t for t in _toasts(events))
    assert register.rows[0].status_label == "Out of service"
    assert await _call(register, "open_status", 99999)  # not on the page: a toast, no dialog
    assert register.dialog == ""

    item = _tab(EquipmentItemState, f"/equipment/{row.id}", "ben")
    await _call(item, "load")
    assert (item.asset_tag, item.status_label) == ("BME-IP-900", "Out of service")
    assert {f.label: f.value for f in item.facts}["Purchase cost"] == "$2,790.00"
    due = local_today() + timedelta(days=10)
    await _call(item, "open_plan", 0)
    await _call(
        item,
        "save_plan",
        {
            "kind": "preventive",
            "description": "Annual PM",
            "interval_days": "365",
            "next_due": due.isoformat(),
        },
    )
    (plan,) = item.plans
    assert (plan.description, plan.due) == ("Annual PM", "Due in 10 days")

    board = _tab(MaintenanceBoardState, "/equipment/board", "maya")
    await _call(board, "load")
    assert [(line.asset_tag, line.work_order) for line in board.lines] == [("BME-IP-900", "")]
    assert (board.due_soon, board.not_in_use) == (1, 1)

    await _call(item, "open_new_work_order", plan.id)
    assert item.chosen_plan == str(plan.id) and item.take_out_default is True
    events = await _call(item, "save_work_order", {"problem": "", "take_out_of_service": "on"})
    assert any("WO-000001 opened." in t for t in _toasts(events))
    assert item.status == "under_maintenance" and item.work_orders[0].status == "open"
    await _call(board, "load")  # (a live refresh shares its read per notice; publish is stubbed here)
    assert board.lines[0].work_order == "WO-000001" and board.open_work_orders == 1

    order = item.work_orders[0]
    await _call(item, "start", order.id)
    await _call(item, "open_complete", order.id)
    assert item.dialog == "complete"
    await _call(item, "save_complete", {"findings": "", "downtime": "soon", "return_to_service": "on"})
    assert set(item.field_errors) == {"findings", "downtime"}
    await _call(item, "save_complete", {"findings": "Passed", "downtime": "1:15", "return_to_service": "on"})
    assert item.dialog == "" and item.status == "in_service"
    assert (item.work_orders[0].status_label, item.work_orders[0].downtime) == ("Done", "1 h 15 min")
    assert item.plans[0].due == "Due in 365 days"
    await _call(board, "load")
    assert board.lines == [] and board.open_work_orders == 0
    with hms_db.session_scope() as s:
        assert s.execute(select(WorkOrder.completed_by)).scalar_one() == "ben"


async def test_a_manager_reads_but_cannot_write_and_a_nurse_is_refused(staff, configured_db):
    with hms_db.session_scope() as s:
        s.add(Equipment(asset_tag="BME-EC-001", name="ECG machine"))
        s.commit()
        equipment_id = s.execute(select(Equipment.id)).scalar_one()
    register = _tab(EquipmentRegisterState, "/equipment", "maya")
    await _call(register, "load")
    assert [r.asset_tag for r in register.rows] == ["BME-EC-001"]
    events = await _call(register, "open_new")
    assert any("does not allow" in t for t in _toasts(events)) and register.dialog == ""
    item = _tab(EquipmentItemState, f"/equipment/{equipment_id}", "maya")
    await _call(item, "load")
    assert item.name == "ECG machine"
    await _call(item, "save_status", {"status": "retired", "reason": "Old"})
    with hms_db.session_scope() as s:
        assert s.get(Equipment, equipment_id).status == "in_service"
    nurse = _tab(EquipmentRegisterState, "/equipment", "nina")
    events = await _call(nurse, "load")
    assert any("does not allow" in t for t in _toasts(events)) and nurse.rows == []
    bad = _tab(EquipmentItemState, "/equipment/abc", "maya")
    await _call(bad, "load")
    assert "does not name a piece of equipment" in bad.problem
