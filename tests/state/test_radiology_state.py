"""Radiology driven as browser tabs would: a physician orders imaging from the chart's Imaging tab
(type-ahead, the safety questions of the chosen examination, each field's message) and books a
scanner's free time; the radiographer's work list shows it and marks it arrived and started.
Attackers: roles without the permission calling the handlers by name, ids of examinations, orders
and free times that the tab does not show (another patient's order, a forged time)."""

from __future__ import annotations

from datetime import time

import pytest
import reflex as rx
from reflex_base import constants
from sqlalchemy import func, select

import hms_app.hms_app  # noqa: F401  (the app module: registers every page and state)
from hms_app import db as hms_db
from hms_app.models.organization import Department
from hms_app.models.radiology import ImagingOrder
from hms_app.models.scheduling import AvailabilityRule, HealthcareService, Resource, ResourceService
from hms_app.seed.actors import demo_actors
from hms_app.seed.radiology import add_scanner_types, load_catalogue
from hms_app.seed.scheduling import VALID_FROM
from hms_app.services import accounts
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.services.radiology.orders import place_order
from hms_app.settings import get_settings
from hms_app.state.chart.imaging import ChartImagingOrderState, ChartImagingState
from hms_app.state.chart.page import ChartState
from hms_app.state.radiology.worklist import RadiologyWorklistState
from tests.services.lab_world import _patient, years_ago
from tests.state.chart_tab import Tab
from tests.state.lab_desk_world import quiet  # noqa: F401  (autouse: quick hashes, no notices)
from tests.state.test_patients_state import PASSWORD, _call, _tab, _toasts

STAFF = [("doc", "physician"), ("rafa", "radiographer"), ("nina", "nurse"), ("rita", "receptionist")]


@pytest.fixture(autouse=True, scope="module")
def route_argument():
    rx.State.setup_dynamic_args({"patient_id": constants.RouteArgType.SINGLE})


@pytest.fixture
def world(session, configured_db, monkeypatch):
    monkeypatch.setenv("HMS_TIME_ZONE", "UTC")
    get_settings.cache_clear()
    rad = Department(code="RAD", name="Radiology", kind="diagnostic")
    session.add(rad)
    session.flush()
    for code, name in (("CT", "CT scan"), ("MRI", "MRI scan")):
        service = HealthcareService(code=code, name=name, department_id=rad.id)
        scanner = Resource(
            kind="equipment", name=f"{code} scanner", department_id=rad.id, capability=code.lower()
        )
        session.add_all([service, scanner])
        session.flush()
        session.add(ResourceService(resource_id=scanner.id, service_id=service.id))
        session.add_all(
            AvailabilityRule(
                resource_id=scanner.id,
                weekday=d,
                start_time=time(0),
                end_time=time(23, 55),
                valid_from=VALID_FROM,
            )
            for d in range(7)
        )
    codes = load_catalogue(session)
    add_scanner_types(session, VALID_FROM)
    accounts.ensure_roles(session)
    users = {}
    for username, role in STAFF:
        users[username] = accounts.create_user(
            session, actor=SYSTEM_ACTOR, username=username, display_name=username.title(), password=PASSWORD,
            roles=[role],
        )  # fmt: skip
    w = {
        "codes": codes,
        "man": _patient(session, "Max", "Older", "male", years_ago(70)),
        "woman": _patient(session, "Wanda", "Young", "female", years_ago(30)),
    }
    session.commit()
    yield w
    get_settings.cache_clear()


def _orders() -> list[ImagingOrder]:
    with hms_db.session_scope() as s:
        return list(s.execute(select(ImagingOrder).order_by(ImagingOrder.id)).scalars())


async def _chart(pid: int, username: str) -> Tab:
    tab = Tab(pid, username, PASSWORD)
    await tab.call(ChartState, "load")
    await tab.call(ChartState, "set_tab", "imaging")
    return tab


async def test_a_physician_orders_and_books_and_the_radiographer_works_the_list(session, world):
    tab = await _chart(world["woman"], "doc")
    imaging = tab[ChartImagingState]
    assert imaging.imaging_loaded and imaging.imaging == [] and not imaging.imaging_forbidden
    await tab.call(ChartImagingOrderState, "open_order")
    dialog = tab[ChartImagingOrderState]
    assert dialog.order_open and dialog.step == "order" and dialog.hits
    await tab.call(ChartImagingOrderState, "search", "ct head")
    assert [h.code for h in dialog.hits] == ["IMG-CT-HEAD"]
    await tab.call(ChartImagingOrderState, "choose", dialog.hits[0].id)
    # A woman of 30 and an ionising examination: pregnancy is asked; no implants, no contrast.
    assert dialog.ask_pregnancy and dialog.ionising and not dialog.ask_implants and not dialog.ask_contrast
    await tab.call(ChartImagingOrderState, "submit_order", {"clinical_question": "", "safety_note": ""})
    assert set(dialog.errors) == {"clinical_question", "pregnancy"} and _orders() == []
    await tab.call(ChartImagingOrderState, "set_pregnancy", "unknown")
    await tab.call(
        ChartImagingOrderState, "submit_order", {"clinical_question": "Fall: bleed?", "safety_note": ""}
    )
    assert "safety note" in dialog.errors["safety_note"] and _orders() == []
    await tab.call(ChartImagingOrderState, "set_pregnancy", "not_pregnant")
    await tab.call(ChartImagingOrderState, "set_priority", "stat")
    events = await tab.call(
        ChartImagingOrderState, "submit_order", {"clinical_question": "Fall: bleed?", "safety_note": ""}
    )
    assert any("Ordered CT head without contrast" in t for t in _toasts(events))
    (placed,) = _orders()
    assert (placed.status, placed.priority, placed.pregnancy) == ("requested", "stat", "not_pregnant")
    assert dialog.step == "book" and dialog.slots and all(s.scanner == "CT scanner" for s in dialog.slots)
    assert [line.accession for line in imaging.imaging] == [placed.accession]

    # A forged time is refused; one of the times shown books the scanner.
    events = await tab.call(ChartImagingOrderState, "book", "2031-01-01T09:00:00+00:00|1")
    assert any("free times shown" in t for t in _toasts(events)) and _orders()[0].status == "requested"
    await tab.call(ChartImagingOrderState, "book", dialog.slots[0].key)
    booked = _orders()[0]
    assert booked.status == "scheduled" and booked.appointment_id is not None and not dialog.order_open
    assert imaging.imaging[0].status == "scheduled" and imaging.imaging[0].scheduled != ""

    # The radiographer's work list: the order with its safety flags, Arrived then Start.
    rafa = _tab(RadiologyWorklistState, "/radiology", "rafa")
    await _call(rafa, "load")
    (line,) = rafa.rows
    assert (line.accession, line.step, line.stat, line.scanner) == (
        placed.accession,
        "arrive",
        True,
        "CT scanner",
    )
    assert rafa.counts["scheduled"] == 1
    events = await _call(rafa, "start", line.order_id)  # not this row's step
    assert any("no longer at this step" in t for t in _toasts(events)) and _orders()[0].status == "scheduled"
    await _call(rafa, "arrive", line.order_id)
    assert rafa.rows[0].status == "arrived" and rafa.rows[0].step == "start"
    await _call(rafa, "start", line.order_id)
    assert _orders()[0].status == "in_progress" and rafa.rows[0].step == ""
    await _call(rafa, "set_modality", "MR")
    assert rafa.rows == []
    await _call(rafa, "set_modality", "all")
    await _call(rafa, "search", "older")  # the other patient
    assert rafa.rows == []


async def test_roles_without_the_permission_are_refused_by_name(session, world):
    nurse = await _chart(world["man"], "nina")
    assert not nurse[ChartImagingState].imaging_forbidden  # a nurse reads imaging
    for name, args in (
        ("open_order", ()),
        ("choose", (world["codes"]["IMG-CT-HEAD"],)),
        ("submit_order", ({"clinical_question": "x?"},)),
        ("book", ("x",)),
    ):
        await nurse.call(ChartImagingOrderState, name, *args)
    assert not nurse[ChartImagingOrderState].order_open and _orders() == []
    desk = await _chart(world["man"], "rita")
    assert desk[ChartImagingState].imaging_forbidden and desk[ChartImagingState].imaging == []
    for username in ("doc", "nina", "rita"):
        board = _tab(RadiologyWorklistState, "/radiology", username)
        await _call(board, "load")
        assert board.rows == [] and not board.loaded
    with hms_db.session_scope() as s:
        placed = place_order(
            s, actor=_actor(s, "doc"), patient_id=world["man"], procedure_id=world["codes"]["IMG-XR-CHEST"],
            clinical_question="Cough: pneumonia?",
        )  # fmt: skip
    doc_board = _tab(RadiologyWorklistState, "/radiology", "doc")
    await _call(doc_board, "arrive", placed.id)
    assert _orders()[0].status == "requested"


def _actor(s, username: str):
    return demo_actors(s)[username]


async def test_ids_the_tab_does_not_show_are_refused(session, world):
    with hms_db.session_scope() as s:
        other = place_order(
            s, actor=_actor(s, "doc"), patient_id=world["woman"], procedure_id=world["codes"]["IMG-CT-HEAD"],
            clinical_question="Headache?", pregnancy="not_pregnant",
        )  # fmt: skip
    tab = await _chart(world["man"], "doc")
    assert tab[ChartImagingState].imaging == []  # the woman's order is not on the man's chart
    for name in ("open_booking", "ask_cancel"):
        events = await tab.call(ChartImagingOrderState, name, other.id)
        assert any("Reload the tab" in t for t in _toasts(events))
    for forged in ("1 OR 1=1", -1, True):
        events = await tab.call(ChartImagingOrderState, "ask_cancel", forged)
        assert _toasts(events)
    dialog = tab[ChartImagingOrderState]
    assert not dialog.order_open and not dialog.cancel_open
    await tab.call(ChartImagingOrderState, "open_order")
    await tab.call(ChartImagingOrderState, "search", "knee")
    events = await tab.call(
        ChartImagingOrderState, "choose", world["codes"]["IMG-CT-HEAD"]
    )  # not in the hits
    assert "search results" in dialog.errors["procedure_id"] and dialog.chosen.id == 0
    await tab.call(ChartImagingOrderState, "submit_order", {"clinical_question": "x?"})
    assert "examination first" in dialog.errors["procedure_id"]
    await tab.call(ChartImagingOrderState, "submit_cancel", {"reason": "forged"})  # no cancel dialog open
    (order,) = _orders()
    assert order.status == "requested" and order.id == other.id
    rafa = _tab(RadiologyWorklistState, "/radiology", "rafa")
    await _call(rafa, "load")
    await _call(rafa, "set_status", "scheduled")
    events = await _call(rafa, "arrive", other.id)  # exists, but not on this list
    assert any("no longer at this step" in t for t in _toasts(events))
    with hms_db.session_scope() as s:
        assert s.execute(select(func.count()).select_from(ImagingOrder)).scalar_one() == 1
