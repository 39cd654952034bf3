"""The reporting screen driven as tabs would: a radiologist opens an order with images, types the
findings and impression (sent as the boxes lose focus), signs preliminary with a critical finding,
then final; the screen shows the locked report and takes an addendum. A physician's tab sees the
signed report read-only and is refused when it calls the signing handlers by name; an address that
names no order shows a plain message."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

import hms_app.hms_app  # noqa: F401  (the app module: registers every page and state)
from hms_app import db as hms_db
from hms_app.models.laboratory import CriticalAlert
from hms_app.models.organization import Department
from hms_app.models.radiology import ImagingOrder, ImagingProcedure, ImagingReport
from hms_app.services import accounts
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.state.radiology_report import ImagingReportState
from tests.services.lab_world import _patient, years_ago
from tests.state.lab_desk_world import quiet  # noqa: F401  (autouse: quick hashes, no notices)
from tests.state.test_patients_state import _call, _toasts
from tests.state.test_pharmacy_queue_state import _tab

PASSWORD = "Report-2026x"


@pytest.fixture
def order_id(session) -> int:
    rad = Department(code="RAD", name="Radiology", kind="diagnostic")
    session.add(rad)
    session.flush()
    accounts.ensure_roles(session)
    for username, role in (("dr.read", "radiologist"), ("dr.order", "physician")):
        accounts.create_user(
            session,
            actor=SYSTEM_ACTOR,
            username=username,
            display_name=username,
            password=PASSWORD,
            roles=[role],
        )
    procedure = ImagingProcedure(
        code="IMG-CT-HEAD", name="CT head", modality="CT", body_part="HEAD", report_template="Brain:"
    )
    session.add(procedure)
    session.flush()
    from hms_app.models.security import AppUser

    physician_id = session.execute(select(AppUser.id).where(AppUser.username == "dr.order")).scalar_one()
    order = ImagingOrder(
        accession="ACC00000007", patient_id=_patient(session, "Ray", "Test", "male", years_ago(70)),
        procedure_id=procedure.id, clinical_question="Collapse", status="images_received",
        ordered_by_id=physician_id, ordered_by="dr.order",
    )  # fmt: skip
    session.add(order)
    session.commit()
    return order.id


def _count(model) -> int:
    with hms_db.session_scope() as s:
        return s.execute(select(func.count(model.id))).scalar_one()


async def test_a_radiologist_signs_preliminary_with_a_critical_finding_then_final(session, order_id):
    tab = _tab(ImagingReportState, f"/radiology/orders/{order_id}/report", "dr.read", PASSWORD)
    await _call(tab, "load")
    assert (
        tab.problem == ""
        and tab.status == "none"
        and tab.findings == "Brain:"
        and tab.accession == "ACC00000007"
    )
    await _call(tab, "set_findings", "Brain: large left subdural collection.")
    await _call(tab, "set_impression", "")
    await _call(tab, "sign", "preliminary")
    assert tab.error_field == "impression" and _count(ImagingReport) == 0
    await _call(tab, "set_impression", "Acute left subdural haematoma.")
    await _call(tab, "set_is_critical", True)
    await _call(tab, "sign", "preliminary")
    assert tab.error_field == "critical"  # a critical finding needs its words
    await _call(tab, "set_critical_text", "Acute subdural haematoma")
    events = await _call(tab, "sign", "preliminary")
    assert tab.status == "preliminary" and any("alerted" in t for t in _toasts(events))
    assert _count(CriticalAlert) == 1
    await _call(tab, "sign", "final")
    assert tab.status == "final" and tab.signed_line.startswith("Final, signed by dr.read")
    await _call(tab, "add", {"addendum": "Discussed with dr.order at 14:10."})
    assert [a["text"] for a in tab.addenda] == ["Discussed with dr.order at 14:10."]
    await _call(tab, "sign", "surprise")
    assert tab.status == "final"


async def test_a_physician_reads_the_signed_report_and_cannot_sign_by_name(session, order_id):
    reader = _tab(ImagingReportState, f"/radiology/orders/{order_id}/report", "dr.order", PASSWORD)
    await _call(reader, "load")
    assert reader.status == "none" and reader.findings == ""
    await _call(reader, "set_findings", "I wrote this")
    await _call(reader, "set_impression", "Normal")
    events = await _call(reader, "sign", "final")
    assert _toasts(events) and _count(ImagingReport) == 0
    events = await _call(reader, "add", {"addendum": "x"})
    assert _toasts(events)


async def test_an_address_that_names_no_order(session, order_id):
    tab = _tab(ImagingReportState, "/radiology/orders/99999/report", "dr.read", PASSWORD)
    await _call(tab, "load")
    assert "does not exist" in tab.problem
    tab = _tab(ImagingReportState, "/radiology/orders/x/report", "dr.read", PASSWORD)
    await _call(tab, "load")
    assert "does not name an imaging order" in tab.problem
