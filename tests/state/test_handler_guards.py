"""Every event handler the app registers is refused on the server for the wrong caller.

Any connected browser can call any registered handler by name with any arguments, so a
hidden button is no protection. This test does not list handlers: it imports the app
(which registers every page and state), walks every state under ``SessionState`` and
checks each handler it finds, so handlers added later are covered without editing it.

For every guarded handler the body (``fn.__wrapped__``) is replaced by a recorder: the
refusal tests prove that it never runs, and the control test proves that it does run
for a caller who holds the permission, so the refusals are not vacuous.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import pytest
import reflex as rx
from reflex_base import constants
from reflex_base.registry import RegistrationContext
from sqlalchemy import select

import hms_app.hms_app  # noqa: F401  (the app module: registers every page and state)
from hms_app import db as hms_db
from hms_app.models.security import AuditEvent
from hms_app.services.permissions import PERMISSIONS, Actor
from hms_app.state.session import SIGN_IN_REQUIRED, SessionState

SIGNED_IN = "signed-in"  # what @requires() without a permission marks a handler with

# Handlers Reflex itself defines on every state; what they can reach is tested below.
FRAMEWORK_HANDLERS = {"setvar"}
# set_* handlers that Reflex's root State defines and every state inherits.
FRAMEWORK_SETTERS = {
    "set_is_hydrated": "Reflex's own hydration flag: sets only is_hydrated, which holds no data",
}


def _state_classes() -> list[type[SessionState]]:
    found: list[type] = []
    pending: list[type] = [SessionState]
    while pending:
        cls = pending.pop()
        if cls in found:
            continue
        found.append(cls)
        pending.extend(cls.__subclasses__())
        pending.extend(cls.get_substates())
    return sorted(found, key=lambda c: c.get_full_name())


STATE_CLASSES = _state_classes()
HANDLERS = [
    (cls, name, handler)
    for cls in STATE_CLASSES
    for name, handler in sorted(cls.event_handlers.items())
    if name not in FRAMEWORK_HANDLERS
]
GUARDED = [
    (cls, name, handler) for cls, name, handler in HANDLERS if getattr(handler.fn, "__hms_permission__", None)
]
WITH_PERMISSION = [entry for entry in GUARDED if entry[2].fn.__hms_permission__ != SIGNED_IN]


def _id(entry) -> str:
    cls, name, _handler = entry
    return f"{cls.__name__}.{name}"


# --------------------------------------------------------------------------- classification


def test_the_enumeration_sees_the_apps_states_and_handlers():
    names = {cls.__name__ for cls in STATE_CLASSES}
    assert {"SessionState", "SignInState", "HomeState", "PortalState"} <= names
    assert len(HANDLERS) >= 8
    assert GUARDED and WITH_PERMISSION


def test_no_hms_handler_is_registered_outside_the_guarded_state_tree():
    """Every handler a browser can reach by name, from the registry Reflex dispatches from."""
    enumerated = {(cls, name) for cls in STATE_CLASSES for name in cls.event_handlers}
    stray = []
    for full_name, registered in RegistrationContext.get().event_handlers.items():
        state = registered.states[0] if registered.states else None
        if state is None or not state.__module__.startswith("hms_app"):
            continue
        name = full_name.rsplit(".", 1)[-1]
        if (state, name) not in enumerated:
            stray.append(full_name)
    assert not stray, f"handlers of states that do not derive from SessionState: {stray}"


@pytest.mark.parametrize("entry", HANDLERS, ids=_id)
def test_every_handler_is_either_guarded_or_public_with_a_reason(entry):
    cls, name, handler = entry
    permission = getattr(handler.fn, "__hms_permission__", None)
    reason = getattr(handler.fn, "__hms_public__", None)
    assert permission or (isinstance(reason, str) and reason.strip()), (
        f"{cls.__name__}.{name} has neither @requires(...) nor @public(reason)"
    )
    assert not (permission and reason), f"{cls.__name__}.{name} is both guarded and public"
    if permission:
        assert permission == SIGNED_IN or permission in PERMISSIONS
        assert hasattr(handler.fn, "__wrapped__"), "the guard must wrap the handler body"


def test_setvar_reaches_only_classified_set_handlers():
    """``setvar(name, value)`` calls ``set_<name>``: nothing else on a state can be reached through it."""
    for cls in STATE_CLASSES:
        for attribute in sorted(a for a in dir(cls) if a.startswith("set_")):
            if attribute in FRAMEWORK_SETTERS:
                continue
            owner = next(k for k in cls.__mro__ if attribute in getattr(k, "event_handlers", {}))
            fn = owner.event_handlers[attribute].fn
            assert getattr(fn, "__hms_permission__", None) or getattr(fn, "__hms_public__", None), (
                f"{cls.__name__}.{attribute} is reachable through setvar but is not classified"
            )


@pytest.mark.parametrize("cls", STATE_CLASSES, ids=lambda c: c.__name__)
def test_setvar_cannot_forge_the_session_or_the_identity(cls):
    state = _instance(cls)
    setvar = cls.event_handlers["setvar"].fn
    for var in (
        "auth_token",
        "user_name",
        "user_roles",
        "user_role_labels",
        "user_permissions",
        "_actor",
        "_actor_token",
    ):
        assert setvar(state, var, "forged") is None  # refused quietly: no traceback in the log
    for odd in (None, 7, ["user_name"], "name with spaces", "x" * 500):
        assert setvar(state, odd, "forged") is None
    assert state.auth_token == "" and state.user_permissions == []
    assert state._actor is None and state.user_name == ""


def test_an_unknown_setvar_name_is_refused_with_one_log_line_and_no_traceback(caplog):
    """Issue 11, item 15: Reflex's own setvar raised (a traceback per call) for an unknown name."""
    import logging

    cls = STATE_CLASSES[0]
    state = _instance(cls)
    with caplog.at_level(logging.DEBUG):
        assert cls.event_handlers["setvar"].fn(state, "no_such_var", 1) is None
    assert [r.getMessage() for r in caplog.records if "setvar" in r.getMessage()] == [
        f"setvar refused on {cls.__name__}: no setter for 'no_such_var'"
    ]
    assert not any(r.exc_info for r in caplog.records)


# --------------------------------------------------------------------------- refusals


def _instance(cls, path: str = "/ward"):
    """The state as the app builds it: inside a whole tree (so inherited vars resolve), at ``path``."""
    root = rx.State()
    root._update_router_vars(
        {
            constants.RouteVar.PATH: path,
            constants.RouteVar.ORIGIN: path,
            constants.RouteVar.HEADERS: {"origin": "http://localhost:3000"},
        },
        {},
    )
    return root.get_substate(cls.get_full_name().split(".")[1:])


def _placeholder_arguments(fn: Callable) -> dict:
    """A value for every required parameter of the handler body (the guard must refuse first)."""
    parameters = list(inspect.signature(fn).parameters.values())[1:]
    return {
        p.name: None
        for p in parameters
        if p.default is inspect.Parameter.empty
        and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    }


def _replace_body(monkeypatch, wrapper: Callable) -> list:
    """Swap the guarded handler's body for a recorder of the same kind; returns the calls."""
    calls: list = []
    original = wrapper.__wrapped__
    if inspect.isasyncgenfunction(original):

        async def recorder(self, *args, **kwargs):
            calls.append((args, kwargs))
            yield "the body ran"
    elif inspect.iscoroutinefunction(original):

        async def recorder(self, *args, **kwargs):
            calls.append((args, kwargs))
            return "the body ran"
    else:

        def recorder(self, *args, **kwargs):
            calls.append((args, kwargs))
            return "the body ran"

    monkeypatch.setattr(wrapper, "__wrapped__", recorder)
    return calls


def _act_as(monkeypatch, cls, actor: Actor | None) -> None:
    owner = next(k for k in cls.__mro__ if "_current_actor" in k.__dict__)

    async def current_actor(self):
        self._actor = actor
        return actor

    monkeypatch.setattr(owner, "_current_actor", current_actor)


async def _drive(wrapper: Callable, state, arguments: dict) -> list:
    """Run a handler as Reflex would and return every event it produced, flattened."""
    if inspect.isasyncgenfunction(wrapper):
        produced = [item async for item in wrapper(state, **arguments)]
    else:
        produced = [await wrapper(state, **arguments)]
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
    """An EventSpec's arguments by name (rx.redirect has "path", a toast is a "function" call)."""
    return {name._js_expr: value for name, value in getattr(event, "args", ())}


def _redirects(events) -> list[str]:
    return [_arguments(e)["path"]._var_value for e in events if {"path", "external"} <= set(_arguments(e))]


def _error_toasts(events) -> list[str]:
    scripts = [_arguments(e)["function"]._js_expr for e in events if "function" in _arguments(e)]
    return [script for script in scripts if "__toast" in script and '["error"]' in script]


@pytest.mark.parametrize("entry", GUARDED, ids=_id)
async def test_an_anonymous_caller_is_sent_to_sign_in_and_the_body_never_runs(entry, monkeypatch):
    cls, _name, handler = entry
    arguments = _placeholder_arguments(handler.fn.__wrapped__)
    calls = _replace_body(monkeypatch, handler.fn)
    _act_as(monkeypatch, cls, None)
    events = await _drive(handler.fn, _instance(cls, "/ward"), arguments)
    assert calls == []
    assert _redirects(events) == ["/login?next=/ward"]
    assert any(SIGN_IN_REQUIRED in toast for toast in _error_toasts(events)), events
    assert "the body ran" not in events
    # Opening the site's root without a session is a first visit, not an error: just the sign-in page.
    events = await _drive(handler.fn, _instance(cls, "/"), arguments)
    assert calls == [] and _redirects(events) == ["/login"]


def _wrong_role(permission: str) -> Actor:
    """Everything except the one permission the handler needs: only that one can be what is checked."""
    return Actor(
        user_id=4242,
        username="wrong.role",
        display_name="Wrong Role",
        roles=frozenset({"nurse"}),
        permissions=frozenset(PERMISSIONS) - {permission},
    )


def _first_of_its_state(params: dict) -> bool:
    """On PostgreSQL, the first guarded handler of each state. The body never runs (a recorder
    replaces it), so the only database work is the one denial audit write (``_record_denial``),
    the same code for every handler: one per state proves it there; all 650 cost ~40 s more."""
    cls = params["entry"][0]
    return params["entry"] is next(entry for entry in WITH_PERMISSION if entry[0] is cls)


# Handlers marked "signed-in" need no particular permission, so there is no wrong role to
# try: any signed-in user may call them. Only the anonymous half above applies to them.
@pytest.mark.on_postgresql_only_if(when=_first_of_its_state)
@pytest.mark.parametrize("entry", WITH_PERMISSION, ids=_id)
async def test_a_wrong_role_is_refused_audited_and_the_body_never_runs(entry, monkeypatch, configured_db):
    cls, name, handler = entry
    permission = handler.fn.__hms_permission__
    arguments = _placeholder_arguments(handler.fn.__wrapped__)
    calls = _replace_body(monkeypatch, handler.fn)
    _act_as(monkeypatch, cls, _wrong_role(permission))
    events = await _drive(handler.fn, _instance(cls), arguments)
    assert calls == []
    assert _redirects(events) == []  # signed in: told no, not sent to sign in
    toasts = _error_toasts(events)
    assert toasts and all("Your role does not allow this" in toast for toast in toasts)
    assert "the body ran" not in events
    with hms_db.session_scope(configured_db) as session:
        rows = session.execute(select(AuditEvent).where(AuditEvent.action == "access.denied")).scalars().all()
    assert [(r.username, r.user_id, r.outcome, r.detail) for r in rows] == [
        ("wrong.role", 4242, "denied", f"{cls.__name__}.{name} needs {permission}")
    ]


@pytest.mark.parametrize("entry", GUARDED, ids=_id)
async def test_control_a_caller_with_the_permission_reaches_the_body(entry, monkeypatch):
    cls, _name, handler = entry
    permission = handler.fn.__hms_permission__
    granted = frozenset() if permission == SIGNED_IN else frozenset({permission})
    arguments = _placeholder_arguments(handler.fn.__wrapped__)
    calls = _replace_body(monkeypatch, handler.fn)
    _act_as(monkeypatch, cls, Actor(user_id=7, username="allowed", permissions=granted))
    events = await _drive(handler.fn, _instance(cls), arguments)
    assert len(calls) == 1
    assert events == ["the body ran"]
