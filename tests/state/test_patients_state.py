"""The patient screens' states driven as a browser tab would, against the test database.

Nothing is patched except the argon2 work factor: the actor comes from a real session token.
Which handlers refuse whom is covered for every handler by ``test_handler_guards.py``; these
tests follow what a clerk does: search, register through the duplicate warning, edit, merge
and undo, print a wristband.
"""

from __future__ import annotations

import inspect

import pytest
import reflex as rx
from argon2 import PasswordHasher
from reflex_base import constants
from sqlalchemy import select

import hms_app.hms_app  # noqa: F401  (the app module: registers every page and state)
from hms_app import db as hms_db
from hms_app.errors import ValidationError
from hms_app.models.emr import AllergyIntolerance
from hms_app.models.patients import Patient, Payer
from hms_app.models.security import AuditEvent
from hms_app.services import accounts, security
from hms_app.services.patients.mrn import is_valid_mrn
from hms_app.services.patients.records import register_patient
from hms_app.services.patients.search import COUNT_CAP
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.state.patients.common import route_patient_id
from hms_app.state.patients.coverage import PatientCoverageState
from hms_app.state.patients.details import PatientDetailsState
from hms_app.state.patients.register import PatientRegisterState
from hms_app.state.patients.search import PAGE_SIZE, PatientSearchState
from hms_app.state.patients.wristband import WristbandState

PASSWORD = "Front-desk-42"
CATHERINE = {
    "given_name": "Catherine",
    "family_name": "Johnson",
    "sex": "female",
    "birth_date": "1984-03-07",
    "phone": "+1 555 010 2030",
}


@pytest.fixture(autouse=True)
def fast_hasher(monkeypatch):
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def desk(session):
    """A receptionist and a nurse with real accounts, and one registered patient."""
    accounts.ensure_roles(session)
    for username, role in (("rita", "receptionist"), ("nina", "nurse")):
        accounts.create_user(
            session,
            actor=SYSTEM_ACTOR,
            username=username,
            display_name=username.title(),
            password=PASSWORD,
            roles=[role],
        )
    catherine = register_patient(session, actor=SYSTEM_ACTOR, data=CATHERINE)
    return {"catherine": catherine}


def _tab(cls, path: str, username: str):
    """The state ``cls`` in a fresh tab's tree opened at ``path``, signed in as ``username``."""
    root = rx.State()
    root._update_router_vars(
        {
            constants.RouteVar.PATH: path,
            constants.RouteVar.ORIGIN: path,
            constants.RouteVar.QUERY: {},
            constants.RouteVar.HEADERS: {"origin": "http://localhost:3000"},
            constants.RouteVar.CLIENT_IP: "10.1.2.3",
        },
        {},
    )
    state = root.get_substate(cls.get_full_name().split(".")[1:])
    with hms_db.session_scope() as s:
        state.auth_token = security.sign_in(s, username=username, password=PASSWORD).token
    return state


async def _call(state, name: str, *args) -> list:
    """Run one handler as Reflex would; return what it produced, flattened."""
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


def _arguments(event) -> dict:
    return {name._js_expr: value for name, value in getattr(event, "args", ())}


def _redirects(events) -> list[str]:
    return [_arguments(e)["path"]._var_value for e in events if "path" in _arguments(e)]


def _toasts(events) -> list[str]:
    return [_arguments(e)["function"]._js_expr for e in events if "function" in _arguments(e)]


def _patients() -> list[Patient]:
    with hms_db.session_scope() as s:
        return list(s.execute(select(Patient).order_by(Patient.id)).scalars())


def _audit(action: str) -> list[AuditEvent]:
    with hms_db.session_scope() as s:
        return list(
            s.execute(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).scalars()
        )


# --------------------------------------------------------------------------- the address


@pytest.mark.parametrize(
    "path",
    [
        "/patients/abc/details",
        "/patients/0/wristband",
        "/patients/-3/details",
        "/patients//details",
        "/patients/1e3/details",
        "/patients/99999999999999/details",
    ],
)
def test_an_address_without_a_record_number_is_refused_with_a_message(path):
    with pytest.raises(ValidationError, match="does not name a patient record"):
        route_patient_id(path)


def test_the_record_number_is_read_from_the_address():
    assert route_patient_id("/patients/42/details") == 42
    assert route_patient_id("/patients/7/wristband") == 7


# --------------------------------------------------------------------------- search


async def test_search_waits_for_two_characters_then_pages_the_matches(desk, configured_db):
    search = _tab(PatientSearchState, "/patients", "rita")
    await _call(search, "set_query", "j")
    assert (search.rows, search.searched) == ([], False)
    assert _audit("patient.search") == []  # one letter is not a search: nothing read
    await _call(search, "set_query", "johnson")
    assert [(r.mrn, r.name, r.status) for r in search.rows] == [
        (desk["catherine"].mrn, "Catherine Johnson", "active")
    ]
    assert search.rows[0].birth_date == "1984-03-07" and search.rows[0].age >= 42
    assert (search.total, search.total_label, search.page_count) == (1, "1", 1)
    await _call(search, "set_query", "nobody-like-this")
    assert search.searched and search.rows == [] and search.total == 0
    await _call(search, "clear_search")
    assert search.query == "" and not search.searched


async def test_the_search_steps_through_its_pages_and_no_further(desk, configured_db):
    with hms_db.session_scope() as s:
        for n in range(PAGE_SIZE + 1):
            register_patient(
                s,
                actor=SYSTEM_ACTOR,
                data={
                    "given_name": f"Pat{chr(97 + n)}",
                    "family_name": "Pagewright",
                    "sex": "male",
                    "birth_date": f"19{50 + n}-01-0{1 + n % 9}",
                },
            )
    search = _tab(PatientSearchState, "/patients", "rita")
    await _call(search, "set_query", "pagewright")
    assert (search.total, search.page, search.page_count, len(search.rows)) == (
        PAGE_SIZE + 1,
        1,
        2,
        PAGE_SIZE,
    )
    first_page = [r.id for r in search.rows]
    await _call(search, "move", -1)  # already on the first page
    assert search.page == 1 and [r.id for r in search.rows] == first_page
    await _call(search, "move", 1)
    assert search.page == 2 and len(search.rows) == 1 and search.rows[0].id not in first_page
    await _call(search, "move", 1)  # no third page
    await _call(search, "move", 7)  # not a step the pager sends
    assert search.page == 2
    await _call(search, "move", -1)
    assert search.page == 1 and [r.id for r in search.rows] == first_page


async def test_a_thousand_and_more_matches_show_as_1000_plus(desk, configured_db):
    search = _tab(PatientSearchState, "/patients", "rita")
    search.total = COUNT_CAP
    assert search.total_label == "1000+" and search.page_count == 50


# --------------------------------------------------------------------------- registration


NEAR_DUPLICATE = {**CATHERINE, "family_name": "Jonhson", "consent_sms": "on", "city": "Leeds"}


async def test_matches_appear_while_the_clerk_types(desk, configured_db):
    form = _tab(PatientRegisterState, "/patients/new", "rita")
    await _call(form, "load")
    await _call(form, "set_watched", "given_name", "Catherine")
    assert form.matches == []  # no family name or phone yet: nothing to go on
    await _call(form, "set_watched", "family_name", "Jonhson")
    await _call(form, "set_watched", "birth_date", "1984-03-07")
    assert [m.mrn for m in form.matches] == [desk["catherine"].mrn]
    assert form.matches[0].score >= 80 and "same date of birth" in form.matches[0].reasons
    refused = await _call(form, "set_watched", "mrn", "H0000001-8")  # not a field the panel watches
    assert any("could not be read" in t for t in _toasts(refused))


async def test_a_near_duplicate_is_saved_only_after_a_reason(desk, configured_db):
    form = _tab(PatientRegisterState, "/patients/new", "rita")
    await _call(form, "load")
    assert await _call(form, "submit", NEAR_DUPLICATE) == []
    assert form.confirm_open and [m.mrn for m in form.confirm_matches] == [desk["catherine"].mrn]
    assert len(_patients()) == 1  # nothing saved yet

    await _call(form, "confirm_duplicate", {"reason": "twin"})
    assert "at least 5 characters" in form.confirm_error and len(_patients()) == 1

    events = await _call(form, "confirm_duplicate", {"reason": "Twin sister, checked her ID card"})
    patients = _patients()
    assert len(patients) == 2
    new = patients[-1]
    assert (new.family_name, new.city, new.consent_sms, new.consent_research) == (
        "Jonhson",
        "Leeds",
        True,
        False,
    )
    assert _redirects(events) == [f"/patients/{new.id}"]
    assert any(new.mrn in t for t in _toasts(events))
    assert not form.confirm_open and form.matches == [] and form.given_name == ""
    created = _audit("patient.create")[-1]
    assert created.username == "rita" and "Twin sister, checked her ID card" in created.detail


async def test_cancelling_the_duplicate_warning_saves_nothing(desk, configured_db):
    form = _tab(PatientRegisterState, "/patients/new", "rita")
    await _call(form, "submit", NEAR_DUPLICATE)
    await _call(form, "cancel_confirm")
    assert not form.confirm_open and form._pending == {}
    await _call(form, "confirm_duplicate", {"reason": "a reason long enough"})
    assert len(_patients()) == 1


async def test_every_bad_field_is_shown_next_to_its_field_at_once(desk, configured_db):
    form = _tab(PatientRegisterState, "/patients/new", "rita")
    await _call(
        form,
        "submit",
        {
            **CATHERINE,
            "given_name": "",
            "family_name": "Smith",
            "email": "robert@",
            "phone": "12",
            "postal_code": "!!",
        },
    )
    assert (form.confirm_open, form.saving, form.error_text) == (False, False, "")
    assert sorted(form.field_errors) == ["email", "given_name", "phone", "postal_code"]
    assert "email address" in form.field_errors["email"]
    assert form.field_errors["given_name"] == "Given name is required."
    assert "7 to 15 digits" in form.field_errors["phone"]
    # typing into a watched field takes its message away, the others stay until the next submit
    await _call(form, "set_watched", "phone", "+44 20 7946 0000")
    assert sorted(form.field_errors) == ["email", "given_name", "postal_code"]
    await _call(form, "submit", {**CATHERINE, "birth_date": "x" * 301})
    assert list(form.field_errors) == ["birth_date"]
    assert len(_patients()) == 1


async def test_a_new_person_is_registered_and_opened(desk, configured_db):
    form = _tab(PatientRegisterState, "/patients/new", "rita")
    events = await _call(
        form,
        "submit",
        {
            "given_name": "Robert",
            "family_name": "Smith",
            "sex": "male",
            "birth_date": "1990-01-01",
            "phone": "",
        },
    )
    robert = _patients()[-1]
    assert robert.family_name == "Smith" and is_valid_mrn(robert.mrn)
    assert _redirects(events) == [f"/patients/{robert.id}"]


async def test_a_nurse_cannot_register(desk, configured_db):
    form = _tab(PatientRegisterState, "/patients/new", "nina")
    events = await _call(
        form,
        "submit",
        {"given_name": "Robert", "family_name": "Smith", "sex": "male", "birth_date": "1990-01-01"},
    )
    assert any("Your role does not allow this" in t for t in _toasts(events))
    assert len(_patients()) == 1


# --------------------------------------------------------------------------- details, history, merge


async def test_the_details_page_explains_a_bad_address_or_a_missing_record(desk, configured_db):
    details = _tab(PatientDetailsState, "/patients/abc/details", "nina")
    await _call(details, "load")
    assert "does not name a patient record" in details.problem and not details.loaded
    details = _tab(PatientDetailsState, "/patients/987654/details", "nina")
    await _call(details, "load")
    assert details.problem == "That patient does not exist." and not details.loaded


async def test_an_edit_is_saved_with_its_reason_and_shows_in_the_history(desk, configured_db):
    catherine = desk["catherine"]
    details = _tab(PatientDetailsState, f"/patients/{catherine.id}/details", "rita")
    await _call(details, "load")
    assert details.loaded and details.mrn == catherine.mrn and details.form_values["family_name"] == "Johnson"
    form = {**details.form_values, "family_name": "Miller", "consent_sms": "on", "change_reason": "married"}
    events = await _call(details, "save", form)
    assert any("2 fields changed" in t for t in _toasts(events))
    assert details.name == "Catherine Miller" and details.consents["consent_sms"] is True
    assert sorted((h.field, h.old, h.new, h.reason, h.who) for h in details.history) == [
        ("Consent: SMS", "no", "yes", "married", "rita"),
        ("Family name", "Johnson", "Miller", "married", "rita"),
    ]

    events = await _call(details, "save", {**details.form_values, "city": "Leeds", "consent_sms": "on"})
    assert any("1 field changed" in t for t in _toasts(events)) and len(details.history) == 3
    events = await _call(details, "save", {**details.form_values, "consent_sms": "on"})
    assert any("Nothing changed" in t for t in _toasts(events)) and len(details.history) == 3

    await _call(details, "save", {**details.form_values, "email": "not-an-email", "phone": "1"})
    assert sorted(details.field_errors) == ["email", "phone"] and details.error_text == ""


async def test_merge_and_undo_from_the_details_page(desk, configured_db):
    catherine = desk["catherine"]
    with hms_db.session_scope() as s:
        twin = register_patient(
            s,
            actor=SYSTEM_ACTOR,
            data={**CATHERINE, "family_name": "Jonhson"},
            duplicate_reason="seeded near-duplicate",
        )
        s.add(AllergyIntolerance(patient_id=twin.id, substance="Latex"))
        s.commit()
    details = _tab(PatientDetailsState, f"/patients/{catherine.id}/details", "rita")
    await _call(details, "load")
    await _call(details, "open_merge")
    await _call(details, "find_other", {"other_mrn": twin.mrn[:-1] + str((int(twin.mrn[-1]) + 1) % 10)})
    assert details.dialog_error_field == "other_mrn" and "check digit" in details.dialog_error
    await _call(details, "find_other", {"other_mrn": catherine.mrn})
    assert "this record" in details.dialog_error and details.other.id == 0
    await _call(details, "find_other", {"other_mrn": " " + twin.mrn.lower()})
    assert (details.other.mrn, details.other.name) == (twin.mrn, "Catherine Jonhson")

    await _call(details, "submit_merge", {"reason": "dup"})
    assert details.dialog_error_field == "reason" and details.dialog == "merge"
    events = await _call(details, "submit_merge", {"reason": "Same woman, registered twice"})
    assert any("1 linked row moved" in t for t in _toasts(events))
    assert details.dialog == "" and len(details.merges) == 1 and details.merges[0].role == "survivor"
    with hms_db.session_scope() as s:
        assert s.get(Patient, twin.id).merged_into_id == catherine.id
        assert s.execute(select(AllergyIntolerance.patient_id)).scalar_one() == catherine.id

    merged_view = _tab(PatientDetailsState, f"/patients/{twin.id}/details", "rita")
    await _call(merged_view, "load")
    assert (merged_view.merged_into_id, merged_view.merged_into_mrn) == (catherine.id, catherine.mrn)

    refused = await _call(details, "open_undo", 987654)
    assert any("not on this page" in t for t in _toasts(refused)) and details.dialog == ""
    await _call(details, "open_undo", details.merges[0].id)
    assert details.dialog == "undo" and twin.mrn in details.undo_note
    events = await _call(details, "submit_undo", {"reason": "They are twins after all"})
    assert any("1 linked row moved back" in t for t in _toasts(events))
    assert details.merges[0].undone and "rita" in details.merges[0].undone_note
    with hms_db.session_scope() as s:
        assert s.get(Patient, twin.id).merged_into_id is None
        assert s.execute(select(AllergyIntolerance.patient_id)).scalar_one() == twin.id


async def test_a_nurse_reads_the_details_but_cannot_change_the_status(desk, configured_db):
    catherine = desk["catherine"]
    details = _tab(PatientDetailsState, f"/patients/{catherine.id}/details", "nina")
    await _call(details, "load")
    assert details.loaded and details.status == "active"
    events = await _call(details, "open_status", "deceased")
    assert any("Your role does not allow this" in t for t in _toasts(events)) and details.dialog == ""


async def test_recording_a_death_needs_the_date_and_a_reason(desk, configured_db):
    catherine = desk["catherine"]
    details = _tab(PatientDetailsState, f"/patients/{catherine.id}/details", "rita")
    await _call(details, "load")
    await _call(details, "open_status", "deceased")
    await _call(details, "submit_status", {"reason": "death certificate", "deceased_on": ""})
    assert details.dialog_error_field == "deceased_on" and details.status == "active"
    await _call(details, "submit_status", {"reason": "death certificate", "deceased_on": "2026-01-02"})
    assert (details.status, details.deceased_on, details.dialog) == ("deceased", "2026-01-02", "")
    assert details.history[0].field == "Status" and details.history[0].new == "deceased 2026-01-02"


# --------------------------------------------------------------------------- insurance


async def test_a_coverage_form_is_read_as_every_form_is(desk, configured_db):
    """A too-long member id is refused at its field (not cut short and saved), a value that is not
    text is refused with a message, and a good form is recorded and listed."""
    with hms_db.session_scope() as s:
        payer = Payer(code="ACME", name="Acme Health")
        s.add(payer)
        s.commit()
        payer_id = str(payer.id)
    catherine = desk["catherine"]
    tab = _tab(PatientCoverageState, f"/patients/{catherine.id}/details", "rita")
    await _call(tab, "load")
    assert tab.payers == [[payer_id, "Acme Health"]] and tab.lines == []
    form = {
        "payer_id": payer_id,
        "plan_name": "Gold PPO",
        "member_id": "ACM-0001",
        "valid_from": "2025-01-01",
        "valid_to": "",
        "priority": "1",
        "copay": "12.50",
        "coinsurance_percent": "20",
    }
    await _call(tab, "open_add")
    await _call(tab, "add", {**form, "member_id": "A" * 201})
    assert (tab.error_field, tab.error_text) == ("member_id", "Keep this under 200 characters.")
    await _call(tab, "add", {**form, "copay": ["12.50"]})
    assert (tab.error_field, tab.error_text) == ("copay", "This value could not be read; enter it again.")
    assert tab.lines == [] and tab.dialog_open
    await _call(tab, "add", form)
    assert [(line.payer, line.member_id) for line in tab.lines] == [("Acme Health", "ACM-0001")]
    assert not tab.dialog_open and tab.error_text == ""


# --------------------------------------------------------------------------- wristband


async def test_the_wristband_page_loads_the_band_for_the_record_in_the_address(desk, configured_db):
    catherine = desk["catherine"]
    band = _tab(WristbandState, f"/patients/{catherine.id}/wristband", "nina")
    await _call(band, "load")
    assert band.loaded and (band.mrn, band.name, band.birth_date) == (
        catherine.mrn,
        "JOHNSON, Catherine",
        "1984-03-07",
    )
    assert band.barcode.startswith("data:image/svg+xml;base64,")
    # Nobody recorded "no known allergies": the band must not print it.
    assert (band.allergy_state, band.allergies) == ("unassessed", [])
    bad = _tab(WristbandState, "/patients/nope/wristband", "nina")
    await _call(bad, "load")
    assert "does not name a patient record" in bad.problem and not bad.loaded
