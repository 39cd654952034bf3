"""The signed-in session as the states see it, end to end against the test database.

Unlike ``test_handler_guards.py`` nothing is patched here except the argon2 work factor:
the actor comes from a real session token resolved through ``security.resolve_session``.
"""

from __future__ import annotations

import asyncio
import inspect
import types
from datetime import date

import pytest
import reflex as rx
from argon2 import PasswordHasher
from reflex_base import constants
from sqlalchemy import select

import hms_app.hms_app  # noqa: F401  (the app module: registers every page and state)
from hms_app import db as hms_db
from hms_app.models.patients import Patient
from hms_app.models.security import AuditEvent, UserSession
from hms_app.services import accounts, security
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.state import session as session_module
from hms_app.state.auth import SignInState, _safe_next
from hms_app.state.home import HomeState
from hms_app.state.portal import PortalState
from hms_app.state.session import SIGN_IN_REQUIRED, SessionState

PASSWORD = "Ward-round-42"


@pytest.fixture(autouse=True)
def fast_hasher(monkeypatch):
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def people(session):
    """A nurse and a portal patient with real accounts."""
    accounts.ensure_roles(session)
    patient = Patient(
        mrn="H0000001-8", given_name="Pat", family_name="Ient", sex="female", birth_date=date(1980, 5, 17)
    )
    session.add(patient)
    session.commit()
    accounts.create_user(
        session,
        actor=SYSTEM_ACTOR,
        username="nina",
        display_name="Nina Nurse",
        password=PASSWORD,
        roles=["nurse"],
    )
    accounts.create_user(
        session,
        actor=SYSTEM_ACTOR,
        username="pat",
        display_name="Pat Ient",
        password=PASSWORD,
        roles=["patient"],
        patient_id=patient.id,
    )
    return {"patient": patient}


def _tree(path: str = "/", query: dict[str, str] | None = None):
    """A whole state tree, as Reflex builds one per browser tab, opened at ``path``."""
    root = rx.State()
    as_path = path + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")
    root._update_router_vars(
        {
            constants.RouteVar.PATH: path,
            constants.RouteVar.ORIGIN: as_path,
            constants.RouteVar.QUERY: query or {},
            constants.RouteVar.HEADERS: {"origin": "http://localhost:3000"},
            constants.RouteVar.CLIENT_IP: "10.1.2.3",
        },
        {},
    )
    return root


def _state(root, cls):
    return root.get_substate(cls.get_full_name().split(".")[1:])


def _token(username: str) -> str:
    with hms_db.session_scope() as s:
        return security.sign_in(s, username=username, password=PASSWORD).token


def _arguments(event) -> dict:
    return {name._js_expr: value for name, value in getattr(event, "args", ())}


def _flatten(result) -> list:
    if result is None:
        return []
    if isinstance(result, (list, tuple)):
        return [e for item in result for e in _flatten(item)]
    return [result]


def _redirects(result) -> list[str]:
    return [_arguments(e)["path"]._var_value for e in _flatten(result) if "path" in _arguments(e)]


def _toasts(result) -> list[str]:
    return [_arguments(e)["function"]._js_expr for e in _flatten(result) if "function" in _arguments(e)]


def _audit(action: str) -> list[AuditEvent]:
    with hms_db.session_scope() as s:
        return list(
            s.execute(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).scalars()
        )


async def _run(handler, state, *args):
    fn = handler.fn
    if inspect.isasyncgenfunction(fn):
        return [item async for item in fn(state, *args)]
    result = fn(state, *args)
    return await result if inspect.isawaitable(result) else result


# --------------------------------------------------------------------------- the actor


def test_acting_is_a_helper_not_an_event_a_browser_could_call():
    assert "acting" not in SessionState.event_handlers
    state = _state(_tree(), HomeState)
    with pytest.raises(RuntimeError):
        state.acting()


async def test_the_actor_comes_from_the_session_token_and_fills_the_header(people, configured_db):
    home = _state(_tree("/"), HomeState)
    home.auth_token = _token("nina")
    actor = await home._current_actor()
    assert actor.username == "nina" and actor.roles == {"nurse"} and actor.screen == "/"
    assert home.user_name == "Nina Nurse" and home.user_roles == ["nurse"]
    assert "emr.write" in home.user_permissions and "user.manage" not in home.user_permissions


async def test_a_revoked_session_stops_working_within_the_recheck_interval(
    people, configured_db, monkeypatch
):
    home = _state(_tree("/"), HomeState)
    token = home.auth_token = _token("nina")
    assert await home._current_actor() is not None
    with hms_db.session_scope() as s:
        security.sign_out(s, token=token)
    # Within the interval the checked actor is reused (no database round trip per click) ...
    assert await home._current_actor() is not None
    # ... and once it has passed, the revocation is seen.
    monkeypatch.setattr(session_module, "ACTOR_RECHECK_SECONDS", 0.0)
    assert await home._current_actor() is None
    assert home.user_name == "" and home.user_permissions == []


async def test_tabs_of_one_session_share_one_session_read_per_interval(people, configured_db, monkeypatch):
    # A nurse with a hundred boards open must not cost a hundred session reads every few seconds.
    reads = []
    original = security.resolve_session

    def counted(session, **kwargs):
        reads.append(kwargs["token"])
        return original(session, **kwargs)

    monkeypatch.setattr(security, "resolve_session", counted)
    nina, doc = _token("nina"), _token("nina")
    tabs = [_state(_tree("/"), HomeState) for _ in range(3)]
    for tab in tabs:
        tab.auth_token = nina
    actors = await asyncio.gather(*(tab._current_actor() for tab in tabs))
    assert [a.username for a in actors] == ["nina"] * 3
    assert reads == [nina]
    other = _state(_tree("/patients"), HomeState)
    other.auth_token = doc
    assert (await other._current_actor()).screen == "/patients"  # each tab keeps its own screen
    assert reads == [nina, doc]


async def test_a_shared_answer_is_trusted_only_until_the_interval_after_its_read(
    people, configured_db, monkeypatch
):
    # Revoked elsewhere (another worker, an administrator): every tab stops within the interval
    # from the read it relies on, even a tab that got the answer late from a shared read.
    clock = types.SimpleNamespace(now=1000.0)
    fake_time = types.SimpleNamespace(time=lambda: clock.now, monotonic=lambda: clock.now)
    monkeypatch.setattr(session_module, "time", fake_time)
    token = _token("nina")
    first, second = _state(_tree("/"), HomeState), _state(_tree("/"), HomeState)
    first.auth_token = second.auth_token = token
    assert await first._current_actor() is not None
    with hms_db.session_scope() as s:
        security.sign_out(s, token=token)
    clock.now += session_module.ACTOR_RECHECK_SECONDS - 0.5
    assert await second._current_actor() is not None  # the shared answer, still within the interval
    clock.now += 1.0
    assert await second._current_actor() is None


async def test_signing_out_is_seen_by_the_other_tabs_at_their_next_check(people, configured_db):
    token = _token("nina")
    first, second = _tree("/"), _tree("/")
    for root in (first, second):
        _state(root, HomeState).auth_token = token
        assert await _state(root, HomeState)._current_actor() is not None
    await _run(SessionState.event_handlers["sign_out"], _state(first, SessionState))
    other = _state(second, HomeState)
    other._actor_checked_at = 0.0  # this tab's own few seconds are up
    assert await other._current_actor() is None


async def test_a_failed_shared_run_is_not_handed_to_the_next_caller():
    cache, calls = {}, []

    async def flaky():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database restarting")
        return "rows"

    with pytest.raises(RuntimeError):
        await session_module.shared_task(cache, "k", flaky, max_age=60)
    started, rows = await session_module.shared_task(cache, "k", flaky, max_age=60)
    assert rows == "rows"
    assert await session_module.shared_task(cache, "k", flaky, max_age=60) == (started, "rows")
    assert (await session_module.shared_task(cache, "k", flaky, max_age=60, tag="next change"))[1] == "rows"
    assert len(calls) == 3


async def test_a_changed_token_is_never_served_from_the_cache(people, configured_db):
    home = _state(_tree("/"), HomeState)
    home.auth_token = _token("nina")
    assert (await home._current_actor()).username == "nina"
    home.auth_token = "a-token-the-browser-made-up"
    assert await home._current_actor() is None


# --------------------------------------------------------------------------- guarded handlers, really


async def test_a_nurse_loads_the_home_figures_from_the_database(people, configured_db):
    home = _state(_tree("/"), HomeState)
    home.auth_token = _token("nina")
    result = await _run(HomeState.event_handlers["load"], home)
    assert result is None and home.loaded
    figures = {f["key"]: f["value"] for f in home.figures}
    assert figures["patients"] == 1
    assert "staff_accounts" not in figures  # a nurse does not manage users


async def test_a_portal_patient_is_sent_from_the_staff_home_to_the_portal(people, configured_db):
    home = _state(_tree("/"), HomeState)
    home.auth_token = _token("pat")
    assert _redirects(await _run(HomeState.event_handlers["load"], home)) == ["/portal"]
    assert home.figures == []


async def test_the_portal_shows_the_signed_in_patients_own_record_and_audits_the_read(people, configured_db):
    portal = _state(_tree("/portal"), PortalState)
    portal.auth_token = _token("pat")
    assert await _run(PortalState.event_handlers["load"], portal) is None
    assert (portal.mrn, portal.name, portal.birth_date) == ("H0000001-8", "Pat Ient", "1980-05-17")
    reads = _audit("patient.read")
    assert [(r.username, r.patient_id, r.screen) for r in reads] == [("pat", people["patient"].id, "/portal")]


async def test_a_nurse_opening_the_portal_is_refused_and_the_refusal_is_audited(people, configured_db):
    portal = _state(_tree("/portal"), PortalState)
    portal.auth_token = _token("nina")
    result = await _run(PortalState.event_handlers["load"], portal)
    assert any("Your role does not allow this" in t for t in _toasts(result))
    assert portal.mrn == ""
    denied = _audit("access.denied")
    assert [(r.username, r.outcome, r.detail) for r in denied] == [
        ("nina", "denied", "PortalState.load needs portal.self")
    ]
    assert _audit("patient.read") == []


async def test_an_anonymous_tab_is_sent_to_sign_in_and_back_to_where_it_was(configured_db):
    portal = _state(_tree("/portal"), PortalState)
    result = await _run(PortalState.event_handlers["load"], portal)
    assert _redirects(result) == ["/login?next=/portal"]
    assert any(SIGN_IN_REQUIRED in t for t in _toasts(result))


# --------------------------------------------------------------------------- sign-in and sign-out


async def test_sign_in_with_the_right_password_stores_the_token_and_goes_home(people, configured_db):
    sign_in = _state(_tree("/login"), SignInState)
    events = await _run(
        SignInState.event_handlers["submit_password"], sign_in, {"username": "nina", "password": PASSWORD}
    )
    assert _redirects(events) == ["/"]
    assert sign_in.auth_token and sign_in.error == ""
    with hms_db.session_scope() as s:
        actor = security.resolve_session(s, token=sign_in.auth_token)
        stored_ip = s.execute(select(UserSession.client_ip)).scalar_one()
    assert actor.username == "nina"
    assert stored_ip == "10.1.2.3"


async def test_sign_in_follows_a_safe_next_link_only(people, configured_db):
    sign_in = _state(_tree("/login", {"next": "/portal"}), SignInState)
    events = await _run(
        SignInState.event_handlers["submit_password"], sign_in, {"username": "nina", "password": PASSWORD}
    )
    assert _redirects(events) == ["/portal"]


@pytest.mark.parametrize(
    "target",
    ["//evil.example/x", "https://evil.example", "/\\evil.example", "/login", "javascript:alert(1)", ""],
)
def test_next_links_that_leave_the_site_are_ignored(target):
    assert _safe_next(target) == ""


def test_next_links_within_the_site_are_kept():
    assert _safe_next("/admin/users?page=2") == "/admin/users?page=2"


async def test_a_wrong_password_shows_the_error_and_stores_nothing(people, configured_db):
    sign_in = _state(_tree("/login"), SignInState)
    events = await _run(
        SignInState.event_handlers["submit_password"],
        sign_in,
        {"username": "nina", "password": "Wrong-password-1"},
    )
    assert _redirects(events) == []
    assert sign_in.error == "Wrong username or password." and sign_in.auth_token == ""
    assert not sign_in.busy


async def test_the_answer_stays_when_the_page_on_load_arrives_after_a_quick_submit(people, configured_db):
    # The browser queues on_load behind a submit sent before the route change was
    # answered; the user must still see why they were not let in.
    sign_in = _state(_tree("/login"), SignInState)
    await _run(
        SignInState.event_handlers["submit_password"],
        sign_in,
        {"username": "nina", "password": "Wrong-password-1"},
    )
    await _run(SignInState.event_handlers["load"], sign_in)
    assert sign_in.error == "Wrong username or password."


async def test_showing_the_form_again_clears_an_old_answer(people, configured_db):
    sign_in = _state(_tree("/login"), SignInState)
    await _run(
        SignInState.event_handlers["submit_password"],
        sign_in,
        {"username": "nina", "password": "Wrong-password-1"},
    )
    await _run(SignInState.event_handlers["clear_form"], sign_in)
    assert sign_in.error == "" and not sign_in.busy and sign_in.stage == "password"


async def test_sign_out_revokes_the_session_and_clears_the_tab(people, configured_db):
    root = _tree("/")
    home, portal = _state(root, HomeState), _state(root, PortalState)
    token = home.auth_token = _token("nina")
    await _run(HomeState.event_handlers["load"], home)
    portal.name = "left over from before"
    assert home.figures and home.user_name

    result = await _run(SessionState.event_handlers["sign_out"], _state(root, SessionState))
    assert _redirects(result) == ["/login"]
    with hms_db.session_scope() as s:
        assert security.resolve_session(s, token=token) is None
    assert home.auth_token == "" and home.user_name == "" and home.user_permissions == []
    assert home.figures == [] and not home.loaded and portal.name == ""
    assert await home._current_actor() is None
    assert [r.username for r in _audit("auth.sign_out")] == ["nina"]


async def test_a_second_factor_user_gets_no_session_cookie_until_the_code_is_right(people, configured_db):
    import time

    import pyotp
    from sqlalchemy import update

    from hms_app.models.security import AppUser
    from hms_app.secret_box import seal_secret

    secret = pyotp.random_base32()
    with hms_db.session_scope() as s:
        s.execute(
            update(AppUser)
            .where(AppUser.username == "nina")
            .values(mfa_secret=seal_secret(secret), mfa_enabled=True)  # stored encrypted, as enrolment does
        )
        s.commit()
    sign_in = _state(_tree("/login"), SignInState)
    await _run(
        SignInState.event_handlers["submit_password"], sign_in, {"username": "nina", "password": PASSWORD}
    )
    assert sign_in.stage == "mfa" and sign_in.auth_token == "" and sign_in._pending_token

    totp = pyotp.TOTP(secret)
    near = {totp.at(time.time() + 30 * k) for k in (-1, 0, 1)}
    wrong = next(code for code in ("000000", "111111", "222222") if code not in near)
    await _run(SignInState.event_handlers["submit_code"], sign_in, {"code": wrong})
    assert sign_in.auth_token == "" and "not valid" in sign_in.error

    events = await _run(
        SignInState.event_handlers["submit_code"], sign_in, {"code": pyotp.TOTP(secret).now()}
    )
    assert _redirects(events) == ["/"]
    assert sign_in.auth_token and sign_in.stage == "password"
    with hms_db.session_scope() as s:
        assert security.resolve_session(s, token=sign_in.auth_token).username == "nina"
