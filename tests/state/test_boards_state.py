"""The boards' states driven as browser tabs would, against the test database: a nurse admits,
transfers, discharges and cleans on the bed board; a second tab's board follows through its
live watcher; ids a browser sends that the tab was not shown are refused; the flow board and
the waiting-room screen load what their services return.

Nothing is patched but the argon2 work factor (and, for the watcher, the socket layer's
list of connected tabs): the actor comes from a real session token.
"""

from __future__ import annotations

import asyncio
import codecs
import inspect
import itertools
from urllib.parse import urlencode

import pytest
import reflex as rx
from argon2 import PasswordHasher
from reflex_base import constants
from sqlalchemy import func, select

from hms_app import db as hms_db
from hms_app.hms_app import app  # the app module: registers every page and state
from hms_app.models.organization import Department
from hms_app.models.security import AuditEvent
from hms_app.models.wards import Admission, Bed, Ward
from hms_app.services import accounts, live, security
from hms_app.services import patients as patient_svc
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.services.wards import board as ward_board
from hms_app.state.boards import bed_board as bed_board_screen
from hms_app.state.boards.bed_board import BedBoardState
from hms_app.state.boards.flow_board import FlowBoardState
from hms_app.state.boards.waiting_room import WaitingRoomState, wait_label

PASSWORD = "Ward-round-42"
_TABS = itertools.count(1)


@pytest.fixture(autouse=True)
def fast_hasher(monkeypatch):
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def ward(session):
    """A nurse, a physician, a pharmacist; one ward of three beds; two registered patients."""
    accounts.ensure_roles(session)
    for username, role in (
        ("nina", "nurse"),
        ("doc", "physician"),
        ("phil", "pharmacist"),
        ("rita", "receptionist"),
    ):
        accounts.create_user(
            session,
            actor=SYSTEM_ACTOR,
            username=username,
            display_name=username.title(),
            password=PASSWORD,
            roles=[role],
        )
    department = Department(code="GEN", name="General Medicine")
    session.add(department)
    session.flush()
    medical, surgical = Ward(name="Medical", department_id=department.id), Ward(name="Surgical")
    session.add_all([medical, surgical])
    session.flush()
    beds = {}
    for w, labels in ((medical, ("M-01", "M-02", "M-03")), (surgical, ("S-01",))):
        for label in labels:
            bed = Bed(ward_id=w.id, label=label)
            session.add(bed)
            session.flush()
            beds[label] = bed.id
    people = {
        given: patient_svc.register_patient(
            session,
            actor=SYSTEM_ACTOR,
            data={"given_name": given, "family_name": family, "sex": "female", "birth_date": "1950-12-10"},
        ).id
        for given, family in (("Ada", "Lovelace"), ("Grace", "Hopper"))
    }
    session.commit()
    return {
        "medical": medical.id,
        "surgical": surgical.id,
        "beds": beds,
        "patients": people,
        "gen": department.id,
    }


def _tab(cls, path: str, username: str, query: dict | None = None):
    root = rx.State()
    root._update_router_vars(
        {
            constants.RouteVar.PATH: path,
            constants.RouteVar.ORIGIN: path + ("?" + urlencode(query) if query else ""),
            constants.RouteVar.QUERY: query or {},
            constants.RouteVar.HEADERS: {"origin": "http://localhost:3000"},
            constants.RouteVar.CLIENT_IP: "10.1.2.3",
            constants.RouteVar.CLIENT_TOKEN: f"tab-{next(_TABS)}",
        },
        {},
    )
    state = root.get_substate(cls.get_full_name().split(".")[1:])
    with hms_db.session_scope() as s:
        state.auth_token = security.sign_in(s, username=username, password=PASSWORD).token
    return state


async def _call(state, name: str, *args) -> list:
    fn = type(state).event_handlers[name].fn
    if inspect.isasyncgenfunction(fn):
        produced = [item async for item in fn(state, *args)]
    else:
        result = fn(state, *args)
        produced = [await result if inspect.isawaitable(result) else result]
    flat: list = []

    def walk(item):
        if isinstance(item, (list, tuple)):
            for inner in item:
                walk(inner)
        elif item is not None:
            flat.append(item)

    walk(produced)
    return flat


def _toasts(events) -> list[str]:
    """The toasts among the events, as the JavaScript that shows them (escapes undone)."""
    found = []
    for event in events:
        arguments = {name._js_expr: value for name, value in getattr(event, "args", ())}
        if "function" in arguments:
            found.append(codecs.decode(arguments["function"]._js_expr, "unicode_escape"))
    return found


def _status(bed_id: int) -> str:
    with hms_db.session_scope() as s:
        return s.get(Bed, bed_id).status


def _audits(action: str) -> int:
    with hms_db.session_scope() as s:
        return s.execute(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
        ).scalar_one()


def _tile(board: BedBoardState, label: str):
    return next(card for card in board.beds if card.label == label)


async def test_a_nurse_admits_from_the_board_and_the_bed_fills(ward, configured_db, monkeypatch):
    monkeypatch.setattr(live, "publish", lambda *args, **kwargs: None)
    board = _tab(BedBoardState, "/wards", "nina")
    await _call(board, "load")
    assert [w.name for w in board.wards] == ["Medical", "Surgical"]
    assert board.ward_name == "Medical" and [c.status for c in board.beds] == ["free", "free", "free"]
    assert (board.free, board.occupancy, board.version) == (3, 0, 1)
    assert _audits("ward.board") == 1

    bed = _tile(board, "M-02")
    await _call(board, "open_admit", bed.id)
    assert (board.dialog, board.dialog_bed) == ("admit", "Medical · bed M-02")
    await _call(board, "submit_admit", {"reason": "Pneumonia"})
    assert board.dialog_error_field == "patient"  # nobody chosen yet: the dialog says so
    await _call(board, "search_admit_patient", "lovelace")
    assert [o.name for o in board.patient_options] == ["Ada Lovelace"]
    await _call(board, "choose_patient", board.patient_options[0].id)
    events = await _call(board, "submit_admit", {"reason": "Pneumonia"})
    assert any("admitted to Medical · bed M-02" in t for t in _toasts(events))
    assert board.dialog == "" and _status(bed.id) == "occupied"
    tile = _tile(board, "M-02")
    assert (tile.patient_name, tile.status, tile.los) == ("Ada Lovelace", "occupied", "0\u00a0h")
    assert board.occupied == 1 and board.version == 2
    assert _audits("ward.board") == 1  # the reload after the change is the same screen: not re-audited


async def test_transfer_discharge_and_cleaning_through_the_dialogs(ward, configured_db, monkeypatch):
    monkeypatch.setattr(live, "publish", lambda *args, **kwargs: None)
    board = _tab(BedBoardState, "/wards", "nina")
    await _call(board, "load")
    await _call(board, "open_admit", ward["beds"]["M-01"])
    await _call(board, "search_admit_patient", "hopper")
    await _call(board, "choose_patient", board.patient_options[0].id)
    await _call(board, "submit_admit", {"reason": "Fall"})

    await _call(board, "open_transfer", ward["beds"]["M-01"])
    assert board.dialog_patient == "Grace Hopper"
    assert [o.label for o in board.bed_options] == ["Medical · M-02", "Medical · M-03", "Surgical · S-01"]
    await _call(board, "submit_transfer", {"bed_id": "999", "reason": ""})
    assert board.dialog_error_field == "bed_id"  # a bed not offered is refused before any service
    await _call(board, "submit_transfer", {"bed_id": str(ward["beds"]["S-01"]), "reason": "Surgery"})
    assert _status(ward["beds"]["S-01"]) == "occupied" and _status(ward["beds"]["M-01"]) == "cleaning"
    assert _tile(board, "M-01").status == "cleaning"

    await _call(board, "select_ward", ward["surgical"])
    assert board.ward_name == "Surgical" and _tile(board, "S-01").patient_name == "Grace Hopper"
    await _call(board, "open_discharge", ward["beds"]["S-01"])
    await _call(board, "submit_discharge", {"disposition": "home", "note": ""})
    assert _status(ward["beds"]["S-01"]) == "cleaning"
    with hms_db.session_scope() as s:
        assert s.execute(select(Admission.status)).scalars().all() == ["discharged"]
    await _call(board, "mark_clean", ward["beds"]["S-01"])
    assert _status(ward["beds"]["S-01"]) == "free" and _tile(board, "S-01").status == "free"

    await _call(board, "open_out_of_service", ward["beds"]["S-01"])
    await _call(board, "submit_out_of_service", {"reason": "Broken rail"})
    assert _tile(board, "S-01").note == "Broken rail" and board.out_of_service == 1
    await _call(board, "return_to_service", ward["beds"]["S-01"])
    assert _status(ward["beds"]["S-01"]) == "cleaning"


async def test_ids_the_tab_was_not_shown_are_refused(ward, configured_db):
    board = _tab(BedBoardState, "/wards", "nina")
    await _call(board, "load")
    surgical_bed = ward["beds"]["S-01"]  # exists, but this tab shows the medical ward
    for handler in ("open_admit", "open_transfer", "open_discharge", "mark_clean", "open_out_of_service"):
        for value in (surgical_bed, "1; drop", -3, None, 10**15):
            events = await _call(board, handler, value)
            assert _toasts(events), (handler, value)
            assert board.dialog == ""
    assert any(
        "is free now" in t for t in _toasts(await _call(board, "open_discharge", ward["beds"]["M-01"]))
    )
    await _call(board, "open_admit", ward["beds"]["M-01"])
    events = await _call(board, "choose_patient", ward["patients"]["Ada"])  # not among search results
    assert _toasts(events) and board.chosen_patient_id == 0
    assert _toasts(await _call(board, "select_ward", 9999))
    with hms_db.session_scope() as s:
        assert s.execute(select(Admission.id)).first() is None


async def test_a_physician_sees_the_board_but_cannot_admit(ward, configured_db):
    board = _tab(BedBoardState, "/wards", "doc")
    await _call(board, "load")
    assert len(board.beds) == 3
    events = await _call(board, "open_admit", ward["beds"]["M-01"])
    assert any("does not allow" in t for t in _toasts(events))
    assert board.dialog == "" and _audits("access.denied") == 1
    pharmacist = _tab(BedBoardState, "/wards", "phil")
    await _call(pharmacist, "load")
    assert len(pharmacist.beds) == 3  # patient.read: pharmacists find their inpatients
    assert _tile(pharmacist, "M-01").status == "free"


async def test_a_second_tabs_watcher_wakes_on_a_change_and_its_refresh_shows_it(
    ward, configured_db, monkeypatch
):
    """The live path end to end inside one process: the service publishes after commit (through
    PostgreSQL NOTIFY on PostgreSQL, in process on SQLite), the other tab's watcher wakes and
    yields its refresh, and the refresh shows the new patient."""
    watcher_tab = _tab(BedBoardState, "/wards", "doc")
    # The watcher runs while its tab is connected: this tab is, as far as the socket layer knows.
    token = watcher_tab.router.session.client_token
    monkeypatch.setattr(type(app.event_namespace), "token_to_sid", property(lambda _self: {token: "sid-1"}))
    await _call(watcher_tab, "load")
    watch = type(watcher_tab).event_handlers["watch"].fn(watcher_tab)
    first = asyncio.ensure_future(watch.__anext__())
    await asyncio.sleep(0.5)  # the watcher subscribes (and, on PostgreSQL, LISTENs)
    assert not first.done()

    nurse = _tab(BedBoardState, "/wards", "nina")
    await _call(nurse, "load")
    await _call(nurse, "open_admit", ward["beds"]["M-03"])
    await _call(nurse, "search_admit_patient", "lovelace")
    await _call(nurse, "choose_patient", nurse.patient_options[0].id)
    await _call(nurse, "submit_admit", {"reason": "Sepsis"})

    woke = await asyncio.wait_for(first, timeout=10)
    assert woke.fn.__name__ == "refresh"
    assert _tile(watcher_tab, "M-03").status == "free"  # nothing changes on screen until the refresh
    await _call(watcher_tab, "refresh")
    assert _tile(watcher_tab, "M-03").patient_name == "Ada Lovelace"
    await watch.aclose()


async def test_the_flow_board_and_the_waiting_room_load_for_reception(ward, configured_db):
    flow = _tab(FlowBoardState, "/boards/flow", "rita")
    await _call(flow, "load")
    assert (
        flow.loaded
        and flow.total == 0
        and [c.status for c in flow.columns]
        == [
            "booked",
            "arrived",
            "in_room",
            "completed",
        ]
    )
    assert [d.label for d in flow.departments][0] == "All departments"
    await _call(flow, "set_department", ward["gen"])
    assert flow.department == str(ward["gen"])
    assert _toasts(await _call(flow, "set_department", "x"))

    screen = _tab(WaitingRoomState, "/boards/waiting", "rita", {"department": str(ward["gen"])})
    await _call(screen, "load")
    assert (screen.department, screen.waiting, screen.problem) == ("General Medicine", [], "")
    lost = _tab(WaitingRoomState, "/boards/waiting", "rita", {"department": "9999"})
    await _call(lost, "load")
    assert lost.department_id == 0 and "Choose the department" in lost.problem
    assert [c.label for c in lost.choices] == ["General Medicine"]
    nurse_flow = _tab(FlowBoardState, "/boards/flow", "phil")
    events = await _call(nurse_flow, "load")
    assert any("does not allow" in t for t in _toasts(events)) and not nurse_flow.loaded


def test_waits_are_said_the_way_a_screen_should():
    assert [wait_label(m) for m in (0, 4, 5, 11, 30)] == [
        "under 5 min",
        "under 5 min",
        "about 5 min",
        "about 15 min",
        "about 30 min",
    ]


async def test_boards_woken_by_one_change_share_one_read(ward, configured_db, monkeypatch):
    """A hundred boards of one ward on a worker cost one query per change, not a hundred; a later
    change makes the next refresh read again; opening a board always reads fresh."""
    reads = []
    original = ward_board.bed_board

    def counted(session, **kwargs):
        reads.append(kwargs.get("audit"))
        return original(session, **kwargs)

    monkeypatch.setattr(ward_board, "bed_board", counted)  # the live refresh's read (ward_screen)
    monkeypatch.setattr(bed_board_screen, "bed_board", counted)  # opening the board
    tabs = [_tab(BedBoardState, "/wards", username) for username in ("nina", "doc", "doc")]
    for tab in tabs:
        await _call(tab, "load")
    assert reads == [True, True, True]
    live.hub().delivered += 1  # a notice arrived: the boards refresh
    await asyncio.gather(*(_call(tab, "refresh") for tab in tabs))
    assert reads[3:] == [False]
    await _call(tabs[0], "refresh")  # no notice since: still the same rows
    assert len(reads) == 4
    live.hub().delivered += 1
    await _call(tabs[1], "refresh")
    assert len(reads) == 5 and [t.version for t in tabs] == [3, 3, 2]
