"""Probes of the running production build for issue 11 items 1, 2, 12 and 13, made as an attacker
makes them: socket.io tabs without a browser that call the sign-in and account handlers by name.

- 1: with a known password, wrong codes are not wiped out by signing in again: password, 4 wrong
  codes (that sign-in dies), password again, 1 wrong code -> locked.
- 2: 20 wrong passwords sent at once from 20 tabs: exactly 4 "wrong password" answers, every
  other one "locked", exactly one lock on the audit trail.
- 12: changing the password from one session ends the account's other session; wrong current
  passwords sent to the account form lock the account; the TOTP secret in the server's database
  is ciphertext under data/secret.key (0600).
- 13: the build `make run` starts flagged its demo admin, printed no password, and wrote the
  demo logins to data/demo-logins.txt (0600); an account that must change its password is
  refused (and sent to the form) by every other handler.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator

import pyotp
import pytest
from sqlalchemy import select, update

from tests.production_server import DEMO_PASSWORD, Server, server_db
from tests.security.attacker import SESSION_COOKIE, SESSION_STATE, Tab, open_tab
from tests.security.test_audit_and_inputs import _deltas, _event_payloads

SIGN_IN = f"{SESSION_STATE}.hms_app___state___auth____sign_in_state"
ACCOUNT = f"{SESSION_STATE}.hms_app___state___account____account_state"
HOME = f"{SESSION_STATE}.hms_app___state___home____home_state"
PASSWORD = "Probe-password-42"
NEW_PASSWORD = "Probe-password-77"
WRONG = "Not-the-password-1"


@contextlib.contextmanager
def _server_keys(server: Server) -> Iterator[None]:
    """Run set-up code with the server's data directory, so secrets are sealed with its key."""
    from hms_app.settings import get_settings

    saved = os.environ.get("HMS_DATA_DIR")
    os.environ["HMS_DATA_DIR"] = str(server.data_dir)
    get_settings.cache_clear()
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("HMS_DATA_DIR", None)
        else:
            os.environ["HMS_DATA_DIR"] = saved
        get_settings.cache_clear()


def _user(server: Server, username: str, role: str = "nurse", mfa_secret: str | None = None) -> None:
    from hms_app.models.security import AppUser
    from hms_app.secret_box import seal_secret
    from hms_app.services import accounts
    from hms_app.services.permissions import SYSTEM_ACTOR

    with _server_keys(server), server_db(server) as session:
        user = accounts.create_user(
            session,
            actor=SYSTEM_ACTOR,
            username=username,
            display_name=username.title(),
            password=PASSWORD,
            roles=[role],
        )
        if mfa_secret:
            session.execute(
                update(AppUser)
                .where(AppUser.id == user.id)
                .values(mfa_secret=seal_secret(mfa_secret), mfa_enabled=True)
            )
            session.commit()


def _token(server: Server, username: str, password: str = PASSWORD) -> str:
    from hms_app.services import security

    with server_db(server) as session:
        return security.sign_in(session, username=username, password=password).token


@contextlib.contextmanager
def _tab(server: Server, path: str, token: str = "") -> Iterator[Tab]:
    """A tab on ``path``, signed in with ``token`` or anonymous."""
    headers = {"Cookie": f"{SESSION_COOKIE}={token}"} if token else {}
    with open_tab(server, path, headers=headers) as opened:
        _wait(opened, 0, lambda updates: bool(updates), settle=0.5)
        yield opened


def _wait(tab: Tab, start: int, done: Callable[[list[dict]], bool], settle: float = 0.2) -> list[dict]:
    """The updates from ``start`` on, once ``done`` holds for them (and ``settle`` seconds more)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with tab.lock:
            updates = list(tab.updates[start:])
        if done(updates):
            time.sleep(settle)
            break
        time.sleep(0.05)
    with tab.lock:
        return list(tab.updates[start:])


def _send(tab: Tab, handler: str, done: Callable[[list[dict]], bool], **payload) -> list[dict]:
    """Call ``handler`` by name as a tab would, and wait until the answer ``done`` looks for."""
    with tab.lock:
        start = len(tab.updates)
    tab.client.emit(
        "event", {"name": handler, "payload": payload, "router_data": tab.router_data()}, namespace="/_event"
    )
    return _wait(tab, start, done)


def _answered(state: str, flag: str) -> Callable[[list[dict]], bool]:
    """Done when the handler has set its busy ``flag`` back to False (it does on every path)."""

    def done(updates: list[dict]) -> bool:
        values = [(u.get("delta") or {}).get(state, {}).get(f"{flag}_rx_state_") for u in updates]
        return False in values

    return done


def _redirected(updates: list[dict]) -> bool:
    return bool(_redirects(updates))


SIGNED = _answered(SIGN_IN, "busy")
SAVED = _answered(ACCOUNT, "saving")


def _error(updates: list[dict]) -> str:
    return _deltas(updates, SIGN_IN).get("error_rx_state_", "")


def _redirects(updates: list[dict]) -> list[str]:
    return [
        str(event.get("payload", {}).get("path", ""))
        for event in _event_payloads(updates)
        if "redirect" in event.get("name", "")
    ]


def _audit_details(server: Server, action: str, username: str) -> list[str]:
    from hms_app.models.security import AuditEvent

    with server_db(server) as session:
        return [
            detail or ""
            for detail in session.execute(
                select(AuditEvent.detail)
                .where(AuditEvent.action == action, AuditEvent.username == username)
                .order_by(AuditEvent.id)
            ).scalars()
        ]


def _wrong_code(secret: str) -> str:
    import time

    totp = pyotp.TOTP(secret)
    near = {totp.at(time.time() + 30 * k) for k in (-1, 0, 1)}
    return next(code for code in ("000000", "111111", "222222", "333333") if code not in near)


# --------------------------------------------------------------------------- 1


def test_signing_in_again_does_not_wipe_out_wrong_codes(hms_server: Server):
    secret = pyotp.random_base32()
    _user(hms_server, "probe.mfa", mfa_secret=secret)
    credentials = {"username": "probe.mfa", "password": PASSWORD}
    with _tab(hms_server, "/login") as tab:
        _send(tab, f"{SIGN_IN}.submit_password", SIGNED, form=credentials)
        answers = [
            _error(_send(tab, f"{SIGN_IN}.submit_code", SIGNED, form={"code": _wrong_code(secret)}))
            for _ in range(4)
        ]
        assert answers[:3] == ["That code is not valid. Try the current code."] * 3
        assert "sign in again" in answers[3]  # that pending sign-in is dead
        _send(tab, f"{SIGN_IN}.submit_password", SIGNED, form=credentials)
        last = _error(_send(tab, f"{SIGN_IN}.submit_code", SIGNED, form={"code": _wrong_code(secret)}))
    assert "locked" in last
    details = _audit_details(hms_server, "auth.mfa", "probe.mfa")
    assert len(details) == 5 and "account locked for" in details[-1]
    # The TOTP secret at rest is ciphertext, under a key file only the server's user reads.
    from hms_app.models.security import AppUser

    with server_db(hms_server) as session:
        stored = session.execute(
            select(AppUser.mfa_secret).where(AppUser.username == "probe.mfa")
        ).scalar_one()
    assert secret not in stored and stored.startswith("gAAAAA")
    assert stat.S_IMODE((hms_server.data_dir / "secret.key").stat().st_mode) == 0o600


# --------------------------------------------------------------------------- 2


def test_twenty_wrong_passwords_at_once_lock_after_exactly_five(hms_server: Server):
    _user(hms_server, "probe.burst")
    tabs, answers, lock = 20, [], threading.Lock()
    with contextlib.ExitStack() as stack:
        opened = [stack.enter_context(_tab(hms_server, "/login")) for _ in range(tabs)]
        barrier = threading.Barrier(tabs)

        def attempt(tab: Tab) -> None:
            barrier.wait()
            answer = _error(
                _send(
                    tab,
                    f"{SIGN_IN}.submit_password",
                    SIGNED,
                    form={"username": "probe.burst", "password": WRONG},
                )
            )
            with lock:
                answers.append(answer)

        threads = [threading.Thread(target=attempt, args=(tab,)) for tab in opened]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert len(answers) == tabs
    assert answers.count("Wrong username or password.") == 4, answers
    assert sum("locked" in answer for answer in answers) == tabs - 4, answers
    details = _audit_details(hms_server, "auth.sign_in", "probe.burst")
    assert len(details) == tabs
    assert sum("account locked for" in detail for detail in details) == 1


# --------------------------------------------------------------------------- 12


def test_a_password_change_ends_the_other_session_and_wrong_current_passwords_lock(hms_server: Server):
    from hms_app.errors import DomainError
    from hms_app.services import security

    _user(hms_server, "probe.change")
    other = _token(hms_server, "probe.change")
    mine = _token(hms_server, "probe.change")
    form = {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "repeat": NEW_PASSWORD}
    with _tab(hms_server, "/account", mine) as tab:
        _send(tab, f"{ACCOUNT}.change_password", SAVED, form=form)
    with server_db(hms_server) as session:
        assert security.resolve_session(session, token=other) is None
        assert security.resolve_session(session, token=mine) is not None

    _user(hms_server, "probe.guess")
    stolen = _token(hms_server, "probe.guess")
    wrong = {"current_password": WRONG, "new_password": NEW_PASSWORD, "repeat": NEW_PASSWORD}
    with _tab(hms_server, "/account", stolen) as tab:
        answers = [
            _deltas(_send(tab, f"{ACCOUNT}.change_password", SAVED, form=wrong), ACCOUNT).get(
                "error_text_rx_state_", ""
            )
            for _ in range(5)
        ]
    assert answers[0] == "The current password is not right." and "locked" in answers[-1]
    with server_db(hms_server) as session, pytest.raises(DomainError, match="locked"):
        security.sign_in(session, username="probe.guess", password=PASSWORD)


# --------------------------------------------------------------------------- 13


def test_the_demo_admin_must_change_the_password_and_no_password_is_logged(hms_server: Server):
    assert hms_server.admin_had_to_change
    assert DEMO_PASSWORD not in hms_server.log.read_text(errors="replace")
    logins = hms_server.data_dir / "demo-logins.txt"
    assert str(logins) in hms_server.log.read_text(errors="replace")
    assert stat.S_IMODE(logins.stat().st_mode) == 0o600 and DEMO_PASSWORD in logins.read_text()


def test_an_account_that_must_change_its_password_is_refused_everything_else(hms_server: Server):
    from hms_app.models.security import AppUser

    _user(hms_server, "probe.fresh", role="manager")
    with server_db(hms_server) as session:
        session.execute(
            update(AppUser).where(AppUser.username == "probe.fresh").values(must_change_password=True)
        )
        session.commit()
    token = _token(hms_server, "probe.fresh")
    with _tab(hms_server, "/", token) as tab:
        home = _send(tab, f"{HOME}.load", _redirected)
        assert "/account" in _redirects(home)
        assert not _deltas(home, HOME).get("loaded_rx_state_")
        identity = _send(tab, f"{SESSION_STATE}.refresh_identity", _redirected)
        assert "/account" in _redirects(identity)
    denied = _audit_details(hms_server, "access.denied", "probe.fresh")
    assert "HomeState.load needs a new password first" in denied
    with _tab(hms_server, "/account", token) as tab:
        form = {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "repeat": NEW_PASSWORD}
        assert "/" in _redirects(_send(tab, f"{ACCOUNT}.change_password", _redirected, form=form))
        loaded = _send(tab, f"{HOME}.load", lambda u: _deltas(u, HOME).get("loaded_rx_state_") is True)
        assert _deltas(loaded, HOME).get("loaded_rx_state_") is True
