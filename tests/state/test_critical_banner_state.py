"""The critical-results banner of the staff shell driven as a browser tab would: a critical potassium
ordered by Dr Grey appears on his banner (on any page, through its live watcher), a wrong read-back
keeps the dialog open with the service's message, the right one clears it; an alert escalated to
the charge nurse stays on the ordering clinician's banner and shows on hers; and the attacker's
cases: a role without lab.acknowledge, another clinician's alert, an alert acknowledged meanwhile,
handlers called by name without the dialog."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from datetime import timedelta

import pytest
import reflex as rx
from argon2 import PasswordHasher
from reflex_base import constants
from sqlalchemy import select

from hms_app import db as hms_db
from hms_app.hms_app import app  # the app module: registers every page and state
from hms_app.models.laboratory import CriticalAlert, LabOrder
from hms_app.models.organization import Department
from hms_app.models.security import AuditEvent
from hms_app.services import accounts, security
from hms_app.services.laboratory.critical import acknowledge_alert, escalate_due_alerts
from hms_app.services.laboratory.orders import place_order
from hms_app.services.laboratory.results import enter_result
from hms_app.services.laboratory.specimens import collect_specimen, receive_specimen
from hms_app.services.permissions import DEFAULT_GRANTS, SYSTEM_ACTOR, Actor
from hms_app.state import live as live_state
from hms_app.state import session as session_state
from hms_app.state.critical_alerts import NOT_ON_BANNER, CriticalBannerState
from tests.services.lab_world import LabWorld, build_lab_world
from tests.state.test_patients_state import PASSWORD, _call, _toasts

POTASSIUM = "2823-3"


@pytest.fixture(autouse=True)
def fast_hasher(monkeypatch):
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@dataclass(frozen=True)
class Ward:
    lab: LabWorld
    grey: Actor  # physician on General Medicine who orders
    house: Actor  # another physician of the same ward


def _staff(session, username: str, name: str, role: str, department_id: int | None) -> Actor:
    user = accounts.create_user(
        session,
        actor=SYSTEM_ACTOR,
        username=username,
        display_name=name,
        password=PASSWORD,
        roles=[role],
        department_id=department_id,
    )
    return Actor(user.id, username, name, roles=frozenset({role}), permissions=DEFAULT_GRANTS[role])


@pytest.fixture
def ward(session) -> Ward:
    lab = build_lab_world(session)
    accounts.ensure_roles(session)
    general = session.execute(select(Department.id).where(Department.code == "GEN")).scalar_one()
    grey = _staff(session, "grey", "Dr Grey", "physician", general)
    house = _staff(session, "house", "Dr House", "physician", general)
    _staff(session, "cora", "Cora Charge", "charge_nurse", general)
    _staff(session, "rita", "Rita Reception", "receptionist", general)
    _staff(session, "lara", "Lara Lab", "lab_technician", None)
    session.commit()
    return Ward(lab, grey, house)


def _critical_potassium(ward: Ward, *, by: Actor | None = None, patient_id: int | None = None) -> int:
    """A STAT potassium ordered by ``by`` (Dr Grey), collected, received and entered at 6.9 (critically
    high): the alert it raised."""
    world = ward.lab
    with hms_db.session_scope() as s:
        placed = place_order(
            s,
            actor=by or ward.grey,
            patient_id=patient_id or world.man,
            test_ids=[world.test(POTASSIUM)],
            priority="stat",
            confirm_duplicates=True,
        )
        collect_specimen(s, actor=world.nurse, specimen_id=placed.specimen_ids[0])
        receive_specimen(s, actor=world.tech, scan=placed.accessions[0])
        order_id = s.execute(select(LabOrder.id).where(LabOrder.request_id == placed.request_id)).scalar_one()
        enter_result(s, actor=world.tech, order_id=order_id, value="6.9")
        return s.execute(
            select(CriticalAlert.id).where(CriticalAlert.patient_id == (patient_id or world.man))
        ).scalar_one()


def _alert(alert_id: int) -> CriticalAlert:
    with hms_db.session_scope() as s:
        return s.get(CriticalAlert, alert_id)


def _denials(handler: str) -> list[str]:
    with hms_db.session_scope() as s:
        return list(
            s.execute(
                select(AuditEvent.detail).where(
                    AuditEvent.action == "access.denied", AuditEvent.detail.like(f"%{handler}%")
                )
            ).scalars()
        )


_TABS = itertools.count(1)


def _route(root, path: str, token: str) -> None:
    """What Reflex records when the tab (``token``) opens or navigates to ``path``."""
    root._update_router_vars(
        {
            constants.RouteVar.PATH: path,
            constants.RouteVar.ORIGIN: path,
            constants.RouteVar.QUERY: {},
            constants.RouteVar.HEADERS: {"origin": "http://localhost:3000"},
            constants.RouteVar.CLIENT_IP: "10.1.2.3",
            constants.RouteVar.CLIENT_TOKEN: token,
        },
        {},
    )


def _tab(cls, path: str, username: str):
    """The state ``cls`` in a fresh tab's tree opened at ``path``, signed in as ``username``."""
    root = rx.State()
    _route(root, path, f"banner-tab-{next(_TABS)}")
    state = root.get_substate(cls.get_full_name().split(".")[1:])
    with hms_db.session_scope() as s:
        state.auth_token = security.sign_in(s, username=username, password=PASSWORD).token
    return state


def _move(tab, path: str) -> None:
    """The tab navigates to another page."""
    root = tab
    while root.parent_state is not None:
        root = root.parent_state
    _route(root, path, tab.router.session.client_token)
    assert tab.router.url.path == path


def _errors(events) -> list[str]:
    return [t for t in _toasts(events) if '["error"]' in t]


async def test_the_ordering_physician_sees_his_critical_result_and_acknowledges_it_with_a_read_back(
    ward, configured_db
):
    banner = _tab(CriticalBannerState, "/", "grey")
    await _call(banner, "load")
    assert banner.alerts == [] and banner.others == 0

    alert_id = _critical_potassium(ward)
    await _call(banner, "refresh")  # what the live watcher queues on the notice
    [line] = banner.alerts
    assert (line.id, line.patient_name, line.flag, line.flag_label) == (
        alert_id,
        "MANN, Adam",
        "HH",
        "Critically high",
    )
    assert line.result == "K 6.9 mmol/L"
    assert line.waited == "0 min" and line.since and line.escalated_to == ""

    await _call(banner, "open_acknowledge", alert_id)
    assert banner.ack_open and banner.ack_patient.startswith("MANN, Adam (")
    assert banner.ack_result == f"{line.result}, critically high"

    # A wrong read-back: the service's message in the dialog, which stays open; nothing recorded.
    await _call(banner, "acknowledge", {"read_back": "potassium 6.5"})
    assert banner.ack_open
    assert banner.ack_error == "The read-back must repeat the value (6.9), as read back on the telephone."
    assert _alert(alert_id).status == "open"
    await _call(banner, "acknowledge", {"read_back": "   "})
    assert banner.ack_error == "Read the value back before acknowledging it."

    events = await _call(banner, "acknowledge", {"read_back": "K 6.9 mmol/L"})
    assert any(f"Acknowledged: {line.result}, critically high for MANN, Adam" in t for t in _toasts(events))
    assert banner.alerts == [] and not banner.ack_open and banner.ack_error == ""
    acknowledged = _alert(alert_id)
    assert (acknowledged.status, acknowledged.acknowledged_by, acknowledged.read_back) == (
        "acknowledged",
        "Dr Grey",
        "K 6.9 mmol/L",
    )


async def test_an_escalated_alert_stays_on_the_clinicians_banner_and_shows_on_the_charge_nurses(
    ward, configured_db
):
    alert_id = _critical_potassium(ward)
    with hms_db.session_scope() as s:
        assert escalate_due_alerts(s, now=_alert(alert_id).raised_at + timedelta(minutes=16)) == 1
    grey = _tab(CriticalBannerState, "/patients", "grey")
    cora = _tab(CriticalBannerState, "/wards", "cora")
    for tab in (grey, cora):
        await _call(tab, "load")
        [line] = tab.alerts
        assert line.id == alert_id and line.escalated_to == "charge nurse Cora Charge"
    # He may still acknowledge it: the result is his.
    await _call(grey, "open_acknowledge", alert_id)
    await _call(grey, "acknowledge", {"read_back": "6.9"})
    assert grey.alerts == [] and _alert(alert_id).acknowledged_by == "Dr Grey"

    # The charge nurse's banner still shows it until her next refresh; acknowledging it then
    # tells her who did, and the line goes.
    await _call(cora, "open_acknowledge", alert_id)
    events = await _call(cora, "acknowledge", {"read_back": "6.9"})
    assert any("Dr Grey already acknowledged this result (6.9)" in t for t in _toasts(events))
    assert cora.alerts == [] and not cora.ack_open


async def test_a_role_without_lab_acknowledge_gets_no_banner_and_is_refused_by_name(ward, configured_db):
    alert_id = _critical_potassium(ward)
    for username, path in (("rita", "/"), ("lara", "/lab")):
        tab = _tab(CriticalBannerState, path, username)
        assert await _call(tab, "load") == []  # no banner, and no refusal on every page they open
        assert tab.alerts == []
        assert [e async for e in type(tab).event_handlers["watch"].fn(tab)] == []  # never subscribes
        for handler, args in (
            ("refresh", ()),
            ("open_acknowledge", (alert_id,)),
            ("acknowledge", ({"read_back": "6.9"},)),
        ):
            events = await _call(tab, handler, *args)
            assert any("Your role does not allow this" in t for t in _errors(events)), (username, handler)
        assert tab.alerts == [] and not tab.ack_open
    assert _alert(alert_id).status == "open"
    assert len(_denials("CriticalBannerState.acknowledge")) == 2
    assert _denials("CriticalBannerState.load") == []


async def test_another_clinicians_alert_cannot_be_acknowledged_through_the_banner(ward, configured_db):
    greys = _critical_potassium(ward)
    houses = _critical_potassium(ward, by=ward.house, patient_id=ward.lab.woman)
    grey = _tab(CriticalBannerState, "/", "grey")
    await _call(grey, "load")
    assert [line.id for line in grey.alerts] == [greys]

    # Dr House's alert, by its id: it is not on Dr Grey's banner.
    events = await _call(grey, "open_acknowledge", houses)
    assert any(NOT_ON_BANNER in t for t in _errors(events)) and not grey.ack_open
    for forged in ("1; drop table", -3, None, 10**15, True):
        events = await _call(grey, "open_acknowledge", forged)
        assert _errors(events) and not grey.ack_open
    # Acknowledging by name without a dialog opened on the banner does nothing.
    events = await _call(grey, "acknowledge", {"read_back": "6.9"})
    assert any("Choose a critical result on the banner first" in t for t in _errors(events))

    # Even with the dialog forged onto Dr House's alert, the service refuses (and it is audited).
    await _call(grey, "open_acknowledge", greys)
    grey._ack_id = houses
    events = await _call(grey, "acknowledge", {"read_back": "6.9"})
    assert any("only they, the ordering clinician" in t for t in _errors(events))
    assert _alert(houses).status == "open" and not grey.ack_open
    assert [line.id for line in grey.alerts] == [greys]
    # A read-back that is no text at all, or a page of it, is refused before the service.
    await _call(grey, "open_acknowledge", greys)
    for odd in ({"read_back": ["6.9"]}, {"read_back": "6.9" * 200}, {}, "6.9"):
        await _call(grey, "acknowledge", odd)
        assert grey.ack_open and grey.ack_error.startswith("Read the value back")
    assert _alert(greys).status == "open"


async def test_an_alert_acknowledged_elsewhere_leaves_the_banner(ward, configured_db):
    alert_id = _critical_potassium(ward)
    banner = _tab(CriticalBannerState, "/", "grey")
    await _call(banner, "load")
    await _call(banner, "open_acknowledge", alert_id)
    with hms_db.session_scope() as s:
        acknowledge_alert(s, actor=ward.grey, alert_id=alert_id, read_back="potassium 6.9")  # his phone
    await _call(banner, "refresh")
    assert banner.alerts == [] and not banner.ack_open  # the open dialog closed with it
    events = await _call(banner, "acknowledge", {"read_back": "6.9"})
    assert any("Choose a critical result on the banner first" in t for t in _errors(events))


async def test_the_watcher_follows_the_tab_to_any_page_and_wakes_on_a_new_alert(
    ward, configured_db, monkeypatch
):
    banner = _tab(CriticalBannerState, "/", "grey")
    token = banner.router.session.client_token
    monkeypatch.setattr(type(app.event_namespace), "token_to_sid", property(lambda _self: {token: "sid-1"}))
    monkeypatch.setattr(live_state, "CONNECTED_CHECK_SECONDS", 0.1)  # checks the tab's page often
    await _call(banner, "load")
    watch = type(banner).event_handlers["watch"].fn(banner)
    first = asyncio.ensure_future(watch.__anext__())
    await asyncio.sleep(0.5)  # the watcher subscribes (and, on PostgreSQL, LISTENs)
    assert not first.done()
    # The tab moves on to another staff page: a board's watcher ends at its next check, the
    # banner's goes on (the shell draws it on every page).
    _move(banner, "/patients")
    await asyncio.sleep(0.5)
    assert not first.done()

    alert_id = _critical_potassium(ward)  # the entry publishes on "critical" after its commit
    woke = await asyncio.wait_for(first, timeout=10)
    assert woke.fn.__name__ == "refresh"
    await _call(banner, "refresh")
    assert [line.id for line in banner.alerts] == [alert_id]

    # Signed out (in another tab): the next notice ends the watcher instead of queuing a refresh
    # that would send this tab to the sign-in page.
    monkeypatch.setattr(session_state, "ACTOR_RECHECK_SECONDS", 0.0)
    second = asyncio.ensure_future(watch.__anext__())
    await asyncio.sleep(0.2)
    with hms_db.session_scope() as s:
        security.sign_out(s, token=banner.auth_token)
    session_state.forget_session(banner.auth_token)
    _critical_potassium(ward, patient_id=ward.lab.woman)
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(second, timeout=10)
