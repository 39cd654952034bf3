"""Probes of the running production build for issue 11 items 10, 11 and 15 (part): what an outsider
learns by asking, and whether the limits count what the server decides.

- 10: the sign-up form answers a taken address, a taken username and a new one alike (only the
  mailbox learns which); an invented username locks like a real account; a disabled account's
  right password is answered as a wrong one; another patient's document (raw HTTP) and
  appointment (socket) are answered exactly as missing ones.
- 11: the server plays "behind one proxy" (HMS_TRUSTED_PROXY_HOPS=1, set by
  tests/production_server.py): entries the client wrote into X-Forwarded-For are ignored, the one
  the proxy appended is the address counted, and the browser is counted by a key the server issued,
  not by the tab token the client chose.
- 15: an unknown setvar name leaves no traceback in the server's log; a patient calling a staff
  board's watch by name gets no subscription and is on the audit trail.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import re
import time
import uuid
from collections.abc import Iterator

from sqlalchemy import select

from tests.production_server import DEMO_PASSWORD, Server, server_db
from tests.security.attacker import SESSION_COOKIE, STATE, Tab, open_tab, request, staff_token, store_document
from tests.security.test_audit_and_inputs import _deltas, _event_payloads

SESSION = f"{STATE}.hms_app___state___session____session_state"
SIGNUP = f"{SESSION}.hms_app___state___portal___signup____signup_state"
SIGN_IN = f"{SESSION}.hms_app___state___auth____sign_in_state"
BOOKING = f"{SESSION}.hms_app___state___portal___booking____portal_booking_state"
BED_BOARD = f"{SESSION}.hms_app___state___boards___bed_board____bed_board_state"
PASSWORD = "Sunny-meadow-42"


def _proxy_address() -> str:
    """An address of this run's own (documentation range), as the trusted proxy would record it."""
    return f"198.51.{random.randint(0, 255)}.{random.randint(1, 254)}"


def _hydrated(tab: Tab, quiet: float = 0.3, limit: float = 30.0) -> None:
    """Wait until the hydrate answer is in and the tab has been quiet for ``quiet`` seconds."""
    deadline, seen, since = time.monotonic() + limit, -1, time.monotonic()
    while time.monotonic() < deadline:
        with tab.lock:
            count = len(tab.updates)
        if count != seen:
            seen, since = count, time.monotonic()
        elif count and time.monotonic() - since > quiet:
            return
        time.sleep(0.02)
    raise AssertionError("the server did not answer the tab's hydrate event")


@contextlib.contextmanager
def socket_tab(
    server: Server, path: str, *, cookie: str = "", forwarded_for: str = "", token: str = ""
) -> Iterator[Tab]:
    """An anonymous (or ``cookie``) tab hydrated at ``path``, sending X-Forwarded-For if given."""
    headers = {}
    if cookie:
        headers["Cookie"] = cookie
    if forwarded_for:
        headers["X-Forwarded-For"] = forwarded_for
    with open_tab(server, path, headers=headers, token=token) as opened:
        _hydrated(opened)
        yield opened


def send(tab: Tab, handler: str, *, answered=None, limit: float = 20.0, **payload) -> list[dict]:
    """Call ``handler`` and return what came back once ``answered(updates)`` holds (the server does
    not mark its last update of an event; waiting for one only runs into the time limit), or after
    a short quiet spell when nothing particular is awaited."""
    with tab.lock:
        start = len(tab.updates)
    tab.client.emit(
        "event", {"name": handler, "payload": payload, "router_data": tab.router_data()}, namespace="/_event"
    )
    deadline = time.monotonic() + (limit if answered else 1.0)
    while time.monotonic() < deadline:
        with tab.lock:
            updates = list(tab.updates[start:])
        if answered is not None and answered(updates):
            return updates
        time.sleep(0.02)
    if answered is not None:
        raise AssertionError(f"{handler} was not answered within {limit} s")
    return updates


def has(state: str, *keys: str):
    """An ``answered`` test: one of ``keys`` of ``state`` has a non-empty value in the deltas."""
    return lambda updates: any(_deltas(updates, state).get(key) for key in keys)


def _signup_form(username: str, email: str) -> dict:
    return {
        "given_name": "Probe",
        "family_name": "Visitor",
        "sex": "female",
        "birth_date": "1985-05-05",
        "phone": "+1 555 010 9999",
        "email": email,
        "username": username,
        "password": PASSWORD,
        "password_confirm": PASSWORD,
        "consent": "on",
    }


def _outbox(server: Server) -> str:
    path = server.data_dir / "outbox.log"
    return path.read_text() if path.exists() else ""


def _mails_to(server: Server, address: str) -> list[str]:
    return [block for block in _outbox(server).split("--- ") if f" to {address}\n" in block]


# --------------------------------------------------------------------------- 10: sign-up


def test_the_signup_form_answers_a_taken_address_a_taken_name_and_a_new_one_alike(hms_server: Server):
    from hms_app.models.security import AppUser

    with server_db(hms_server) as session:
        taken_email, taken_name = session.execute(
            select(AppUser.email, AppUser.username).where(AppUser.username == "patient")
        ).one()
    word = uuid.uuid4().hex[:8]
    attempts = {
        "taken address": _signup_form(f"probe.{word}.a", taken_email),
        "taken username": _signup_form(taken_name, f"probe.{word}.b@example.org"),
        "new": _signup_form(f"probe.{word}.c", f"probe.{word}.c@example.org"),
    }
    answers = {}
    for what, form in attempts.items():
        with socket_tab(hms_server, "/portal/signup", forwarded_for=_proxy_address()) as tab:
            updates = send(tab, f"{SIGNUP}.submit", form=form, answered=has(SIGNUP, "sent_text_rx_state_"))
        answers[what] = _deltas(updates, SIGNUP).get("sent_text_rx_state_")
    assert len(set(answers.values())) == 1 and answers["new"].startswith("Check your e-mail"), answers
    # Only the mailboxes learn more: a notice, or a one-time link.
    assert "already exists" in _mails_to(hms_server, taken_email)[-1]
    assert "already taken" in _mails_to(hms_server, f"probe.{word}.b@example.org")[-1]
    assert "/portal/signup/confirm?token=" in _mails_to(hms_server, f"probe.{word}.c@example.org")[-1]
    with server_db(hms_server) as session:
        assert not session.execute(select(AppUser.id).where(AppUser.username.like(f"probe.{word}%"))).first()


# --------------------------------------------------------------------------- 10: sign-in


def _sign_in_answers(server: Server, username: str, password: str, times: int) -> list[str]:
    answers = []
    with socket_tab(server, "/login", forwarded_for=_proxy_address()) as tab:
        for _ in range(times):
            updates = send(
                tab,
                f"{SIGN_IN}.submit_password",
                answered=has(SIGN_IN, "error_rx_state_"),
                form={"username": username, "password": password},
            )
            answers.append(_deltas(updates, SIGN_IN).get("error_rx_state_", ""))
    return answers


def _throwaway_account(server: Server, *, active: bool = True) -> str:
    from hms_app.models.security import AppUser
    from hms_app.services import accounts
    from hms_app.services.permissions import SYSTEM_ACTOR

    username = f"probe.{uuid.uuid4().hex[:10]}"
    with server_db(server) as session:
        accounts.create_user(
            session,
            actor=SYSTEM_ACTOR,
            username=username,
            display_name="Probe Account",
            password=DEMO_PASSWORD,
            roles=["nurse"],
        )
        if not active:
            user = session.execute(select(AppUser).where(AppUser.username == username)).scalar_one()
            user.is_active = False
            session.add(user)
            session.commit()
    return username


def test_an_invented_username_locks_like_a_real_account(hms_server: Server):
    real = _throwaway_account(hms_server)
    invented = f"nobody.{uuid.uuid4().hex[:10]}"
    real_answers = _sign_in_answers(hms_server, real, "Wrong-password-1", 6)
    invented_answers = _sign_in_answers(hms_server, invented, "Wrong-password-1", 6)
    assert invented_answers == real_answers
    assert "locked" in invented_answers[-1] and invented_answers[0] == "Wrong username or password."


def test_a_disabled_accounts_right_password_is_answered_as_a_wrong_one(hms_server: Server):
    disabled = _throwaway_account(hms_server, active=False)
    [answer] = _sign_in_answers(hms_server, disabled, DEMO_PASSWORD, 1)
    assert answer == "Wrong username or password."


# --------------------------------------------------------------------------- 10: documents, appointments


def test_another_patients_document_is_answered_exactly_as_a_missing_one(hms_server: Server):
    from hms_app.models.emr import DocumentReference
    from hms_app.models.security import AppUser

    with server_db(hms_server) as session:
        mine = session.execute(select(AppUser.patient_id).where(AppUser.username == "patient")).scalar_one()
    document_id = store_document(hms_server, not_of=mine)
    with server_db(hms_server) as session:
        last = (
            session.execute(select(DocumentReference.id).order_by(DocumentReference.id.desc()))
            .scalars()
            .first()
        )
    cookie = {"Cookie": f"{SESSION_COOKIE}={staff_token(hms_server, 'patient')}"}
    theirs = request(hms_server.url, "GET", f"/api/portal/documents/{document_id}", cookie)
    missing = request(hms_server.url, "GET", f"/api/portal/documents/{last + 1000}", cookie)
    assert (theirs.status, theirs.body) == (missing.status, missing.body)
    assert theirs.status == 404 and b"does not exist" in theirs.body and b"%PDF" not in theirs.body


def test_another_patients_appointment_is_answered_exactly_as_a_missing_one(hms_server: Server):
    from hms_app.models.scheduling import Appointment
    from hms_app.models.security import AppUser

    with server_db(hms_server) as session:
        mine = session.execute(select(AppUser.patient_id).where(AppUser.username == "patient")).scalar_one()
        theirs = session.execute(
            select(Appointment.id).where(Appointment.patient_id != mine).order_by(Appointment.id).limit(1)
        ).scalar_one()
        last = session.execute(select(Appointment.id).order_by(Appointment.id.desc())).scalars().first()
    cookie = f"{SESSION_COOKIE}={staff_token(hms_server, 'patient')}"

    def _toasted(updates) -> bool:
        return "appointment does not exist" in str(updates) or "your own record" in str(updates)

    toasts = {}
    for label, appointment_id in (("theirs", theirs), ("missing", last + 1000)):
        tab_cm = socket_tab(hms_server, "/portal/book", cookie=cookie)
        with tab_cm as tab:
            tab.query = {"move": str(appointment_id)}
            updates = send(tab, f"{BOOKING}.load", answered=_toasted)
        text = str(_event_payloads(updates))
        toasts[label] = re.findall(
            r"That appointment does not exist\.|You can only see your own record\.", text
        )
    assert toasts["theirs"] == toasts["missing"] == ["That appointment does not exist."], toasts


# --------------------------------------------------------------------------- 11: forged X-Forwarded-For


def test_forged_forwarded_for_entries_are_ignored_and_the_browser_key_is_the_servers(hms_server: Server):
    from hms_app.models.security import AuditEvent

    proxy_recorded, forged = _proxy_address(), "203.0.113.66"
    client_token = str(uuid.uuid4())
    word = uuid.uuid4().hex[:8]
    with socket_tab(
        hms_server, "/portal/signup", forwarded_for=f"{forged}, {proxy_recorded}", token=client_token
    ) as tab:
        send(
            tab,
            f"{SIGNUP}.submit",
            answered=has(SIGNUP, "sent_text_rx_state_"),
            form=_signup_form(f"probe.{word}", f"probe.{word}@example.org"),
        )
    with server_db(hms_server) as session:
        detail = (
            session.execute(
                select(AuditEvent.detail)
                .where(
                    AuditEvent.action == "portal.signup", AuditEvent.detail.like(f"%ip={proxy_recorded} %")
                )
                .order_by(AuditEvent.id.desc())
            )
            .scalars()
            .first()
        )
        forged_rows = session.execute(
            select(AuditEvent.id).where(
                AuditEvent.action == "portal.signup", AuditEvent.detail.like(f"%{forged}%")
            )
        ).first()
    assert detail is not None and forged_rows is None
    # The browser counted is the key the server issued the tab, not the token the client chose.
    assert f"browser={hashlib.sha256(client_token.encode()).hexdigest()[:16]}" not in detail


def test_a_new_tab_and_a_new_forged_address_per_attempt_do_not_escape_the_address_limit(hms_server: Server):
    """Every attempt from a fresh tab (a fresh browser key) with a new forged entry: only the
    address the proxy recorded counts, and it runs out after ADDRESS_LIMIT attempts."""
    from hms_app.services import portal_accounts

    proxy_recorded, word = _proxy_address(), uuid.uuid4().hex[:8]
    answers = []
    for number in range(portal_accounts.ADDRESS_LIMIT + 1):
        forwarded = f"203.0.113.{number + 1}, {proxy_recorded}"
        with socket_tab(hms_server, "/portal/signup", forwarded_for=forwarded) as tab:
            form = _signup_form(f"probe.{word}.{number}", f"probe.{word}.{number}@example.org")
            updates = send(
                tab,
                f"{SIGNUP}.submit",
                answered=has(SIGNUP, "sent_text_rx_state_", "error_text_rx_state_"),
                form=form,
            )
            delta = _deltas(updates, SIGNUP)
        answers.append(delta.get("error_text_rx_state_") or delta.get("sent_text_rx_state_"))
    assert all(a.startswith("Check your e-mail") for a in answers[:-1]), answers
    assert answers[-1].startswith("Too many sign-up attempts") and "60 minutes" in answers[-1]


# --------------------------------------------------------------------------- 15: setvar and watch


def test_an_unknown_setvar_name_leaves_no_traceback_in_the_log(hms_server: Server):
    log_before = len(hms_server.log.read_bytes())
    with socket_tab(hms_server, "/portal/signup") as tab:
        for name in ("no_such_var", "_browser_key", "auth_token"):
            send(tab, f"{SIGNUP}.setvar", var_name=name, value="forged")
    time.sleep(0.5)
    written = hms_server.log.read_bytes()[log_before:].decode(errors="replace")
    assert "Traceback" not in written and "cannot be set" not in written, written[-2000:]


def test_a_patient_calling_a_staff_boards_watch_gets_no_subscription_and_is_audited(hms_server: Server):
    from hms_app.models.security import AuditEvent

    cookie = f"{SESSION_COOKIE}={staff_token(hms_server, 'patient')}"
    with socket_tab(hms_server, "/portal", cookie=cookie) as tab:
        tab.path = "/wards"  # the board's own address, as its page would send it
        send(tab, f"{BED_BOARD}.watch")
    refused = None
    for _ in range(50):
        with server_db(hms_server) as session:
            refused = session.execute(
                select(AuditEvent.detail).where(
                    AuditEvent.action == "access.denied",
                    AuditEvent.username == "patient",
                    AuditEvent.detail == "BedBoardState.watch needs patient.read",
                )
            ).first()
        if refused is not None:
            break
        time.sleep(0.1)
    assert refused is not None
