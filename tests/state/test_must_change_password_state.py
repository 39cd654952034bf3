"""Issue 11, item 13, on the screens: an account that must choose a new password (the demo
administrator) reaches only the change-password form; every other handler refuses it on the
server and sends it there, until the new password is saved."""

# ruff: noqa: F811  (fixtures imported from test_session_state.py are parameters here)

from __future__ import annotations

from sqlalchemy import update

from hms_app import db as hms_db
from hms_app.models.security import AppUser
from hms_app.services import security
from hms_app.state.account import AccountState
from hms_app.state.auth import SignInState
from hms_app.state.home import HomeState
from hms_app.state.session import SessionState
from tests.state.test_session_state import (  # noqa: F401  (fixtures)
    PASSWORD,
    _audit,
    _redirects,
    _run,
    _state,
    _token,
    _tree,
    fast_hasher,
    people,
)

NEW_PASSWORD = "Night-shift-77"


def _must_change(username: str) -> None:
    with hms_db.session_scope() as s:
        s.execute(update(AppUser).where(AppUser.username == username).values(must_change_password=True))
        s.commit()


async def test_sign_in_goes_to_the_password_form_whatever_the_next_link(people, configured_db):
    _must_change("nina")
    sign_in = _state(_tree("/login", {"next": "/patients"}), SignInState)
    events = await _run(
        SignInState.event_handlers["submit_password"], sign_in, {"username": "nina", "password": PASSWORD}
    )
    assert _redirects(events) == [security.CHANGE_PASSWORD_HOME]


async def test_every_other_handler_refuses_until_the_password_is_changed(people, configured_db):
    _must_change("nina")
    token = _token("nina")

    home = _state(_tree("/"), HomeState)
    home.auth_token = token
    result = await _run(HomeState.event_handlers["load"], home)
    assert _redirects(result) == [security.CHANGE_PASSWORD_HOME]
    assert home.figures == [] and not home.loaded
    assert any(r.detail == "HomeState.load needs a new password first" for r in _audit("access.denied"))

    page = _state(_tree("/patients"), SessionState)
    page.auth_token = token
    assert _redirects(await _run(SessionState.event_handlers["refresh_identity"], page)) == [
        security.CHANGE_PASSWORD_HOME
    ]

    account = _state(_tree("/account"), AccountState)
    account.auth_token = token
    assert _redirects(await _run(SessionState.event_handlers["refresh_identity"], account)) == []
    await _run(AccountState.event_handlers["load"], account)
    assert account.loaded and account.must_change
    events = await _run(
        AccountState.event_handlers["change_password"],
        account,
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "repeat": NEW_PASSWORD},
    )
    assert _redirects(events) == ["/"]
    assert account.error_text == "" and not account.must_change

    home = _state(_tree("/"), HomeState)
    home.auth_token = token  # the same session goes on, now with the role's permissions
    assert await _run(HomeState.event_handlers["load"], home) is None and home.loaded
