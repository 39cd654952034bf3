"""The signed-in session every page state builds on, and the server-side guard.

The browser holds only a random session token, as an HttpOnly cookie that page script can
neither read nor write: a websocket cannot set such a cookie, so after a sign-in the tab is
handed a one-time claim code and its page posts it to ``/api/session/claim``, whose answer
sets the cookie (hms_app/edge/session_cookie.py). The tab itself keeps its token in a
backend-only var; a tab opened later reads the cookie from its websocket's upgrade request.
Who is acting is looked up on the server from that token, re-checked against the session
table every few seconds so that a revoked session or a disabled account stops working at
once, and kept in a backend-only var that the browser never sees or sets.

Every event handler of every HMS state is either ``@requires(...)`` (refused on the
server for an anonymous client or a role without the permission) or ``@public(...)``
with the reason it is safe. ``tests/state/test_handler_guards.py`` enumerates them all.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import inspect
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import reflex as rx
from reflex.event import EventHandler
from reflex.state import EventHandlerSetVar
from reflex_base.registry import RegistrationContext
from starlette.requests import cookie_parser

from hms_app.api.routes import SESSION_COOKIE
from hms_app.db import session_scope
from hms_app.errors import DomainError, Forbidden, NotFound, NotSignedIn, ValidationError
from hms_app.services import security
from hms_app.services.audit import record_audit, record_refusal
from hms_app.services.permissions import PASSWORD_CHANGE_FIRST, PERMISSIONS, ROLES, Actor
from hms_app.settings import get_settings

_log = logging.getLogger(__name__)
ACTOR_RECHECK_SECONDS = 3.0
# The HTTP routes that set and clear the HttpOnly session cookie (hms_app/edge/session_cookie.py).
SESSION_CLAIM_PATH = "/api/session/claim"
SESSION_END_PATH = "/api/session/end"
# The page posts its claim code at once; a code not claimed within this time is worthless.
COOKIE_CLAIM_SECONDS = 60.0
# What the screens describe, read here so that pages need no service or setting of their own.
MIN_PASSWORD_LENGTH = security.MIN_PASSWORD_LENGTH
ROLE_LABELS: dict[str, str] = dict(ROLES)


def hospital_name() -> str:
    return get_settings().hospital_name


def time_zone_name() -> str:
    return get_settings().time_zone


SIGN_IN_REQUIRED = "Please sign in to continue."


def _serve(fn: Callable[..., Any], kwargs: dict[str, Any], *, read_only: bool) -> Any:
    try:
        with session_scope(read_only=read_only) as session:
            return fn(session, **kwargs)
    except (Forbidden, NotFound) as error:
        actor = kwargs.get("actor")
        if isinstance(actor, Actor) and not isinstance(error, NotSignedIn):
            # The refused transaction rolled back; the refusal is recorded in one of its own.
            with session_scope() as session:
                record_refusal(
                    session,
                    actor=actor,
                    service=f"{fn.__module__}.{fn.__qualname__}",
                    error=error,
                    arguments=kwargs,
                )
        raise


async def call_service(fn: Callable[..., Any], /, **kwargs: Any) -> Any:
    """Run a synchronous service in a worker thread with its own database session. A refusal
    (``Forbidden``, ``NotFound``) is audited before it reaches the caller."""
    return await asyncio.to_thread(_serve, fn, kwargs, read_only=False)


async def call_service_read(fn: Callable[..., Any], /, **kwargs: Any) -> Any:
    """Like ``call_service`` on a read-only session: for reads that must never wait for writers."""
    return await asyncio.to_thread(_serve, fn, kwargs, read_only=True)


async def shared_task(
    cache: dict, key: Any, make: Callable[[], Any], *, max_age: float, tag: Any = None
) -> tuple[float, Any]:
    """``(started, result)``: the result of ``make()`` (a coroutine), shared by every caller on this
    worker that asks for ``key`` with the same ``tag`` within ``max_age`` seconds of the run's
    start, and when that run started (``time.monotonic()``).

    Callers that join a run still in progress share its outcome, an exception included; a run that
    has failed or was cancelled is not handed to later callers, and neither is one from another
    event loop (tests run several). One caller giving up does not cancel the others' run.
    """
    loop, now = asyncio.get_running_loop(), time.monotonic()
    entry = cache.get(key)
    if (
        entry is None
        or now - entry[0] >= max_age
        or entry[1] != tag
        or entry[2].get_loop() is not loop
        or (entry[2].done() and (entry[2].cancelled() or entry[2].exception() is not None))
    ):
        if len(cache) > SHARED_CACHE_LIMIT:
            cache.clear()  # forgetting finished runs costs one read each, nothing more
        entry = (now, tag, loop.create_task(make()))
        cache[key] = entry
    return entry[0], await asyncio.shield(entry[2])


# Per worker: the latest session check of each token, shared by the tabs that use it. A user
# with many open boards costs one session read per re-check interval instead of one per tab. A
# tab trusts a shared answer only until ACTOR_RECHECK_SECONDS after that read began, so a revoked
# session (signed out elsewhere, account disabled, password reset) stops every tab within that
# time, on every worker; signing out in a tab also forgets the check on the tab's own worker.
SHARED_CACHE_LIMIT = 10_000
_session_checks: dict[str, tuple[float, Any, asyncio.Task]] = {}
_session_touches: dict[str, float] = {}


async def _check_session(token: str) -> tuple[Actor | None, float]:
    """The actor behind ``token`` and the wall-clock time its (possibly shared) read began."""
    started, actor = await shared_task(
        _session_checks,
        token,
        lambda: call_service_read(security.resolve_session, token=token, touch=False),
        max_age=ACTOR_RECHECK_SECONDS,
    )
    if actor is not None and time.monotonic() - _session_touches.get(token, -1e9) > security.TOUCH_SECONDS:
        if len(_session_touches) > SHARED_CACHE_LIMIT:
            _session_touches.clear()
        _session_touches[token] = time.monotonic()  # before the write: the other tabs need not wait
        await call_service(security.touch_session, token=token)
    return actor, time.time() - (time.monotonic() - started)


def forget_session(token: str) -> None:
    """Drop this worker's shared check of ``token`` (its tab signed out or was cleared)."""
    _session_checks.pop(token, None)
    _session_touches.pop(token, None)


def _record_denial(session, *, actor: Actor, permission: str, handler: str) -> None:
    record_audit(session, actor, "access.denied", outcome="denied", detail=f"{handler} needs {permission}")
    session.commit()


def requires(permission: str | None = None, *, before_password_change: bool = False) -> Callable:
    """Refuse the handler on the server unless the session's user holds ``permission``.

    ``None`` means any signed-in user. The handler body reads the checked actor with
    ``self.acting()``. An account that must choose a new password is refused every handler but
    those marked ``before_password_change`` (the change-password form) and sent to that form.
    """
    if permission is not None and permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}")

    def decorate(fn: Callable) -> Callable:
        if inspect.isasyncgenfunction(fn):

            @functools.wraps(fn)
            async def guarded_gen(self, *args, **kwargs):
                refusal = await self._refusal(permission, fn.__name__, before_password_change)
                if refusal is not None:
                    yield refusal
                    return
                async for item in guarded_gen.__wrapped__(self, *args, **kwargs):
                    yield item

            wrapper = guarded_gen
        else:

            @functools.wraps(fn)
            async def guarded(self, *args, **kwargs):
                refusal = await self._refusal(permission, fn.__name__, before_password_change)
                if refusal is not None:
                    return refusal
                result = guarded.__wrapped__(self, *args, **kwargs)
                if inspect.isawaitable(result):
                    result = await result
                return result

            wrapper = guarded
        wrapper.__hms_permission__ = permission or "signed-in"
        return wrapper

    return decorate


def public(reason: str) -> Callable:
    """Mark a handler as callable without signing in; ``reason`` says why that is safe."""

    def decorate(fn: Callable) -> Callable:
        fn.__hms_public__ = reason
        return fn

    return decorate


class _RefusingSetVar(EventHandlerSetVar):
    """Reflex's ``setvar`` raises (a traceback in the log per call) for an unknown name."""

    def __init__(self, state_cls: type) -> None:
        EventHandler.__init__(self, fn=_RefusingSetVar.setvar, state=state_cls)

    def setvar(self, var_name: Any = None, value: Any = None):
        """``setvar(name, value)`` calls the state's own ``set_<name>`` handler, which checks its own
        permission; any other name (a var without a setter, a backend var, not a string) is refused
        with one log line and no traceback, and nothing changes. ``self`` is the state."""
        handler = (
            type(self).event_handlers.get(f"set_{var_name}")
            if isinstance(var_name, str) and var_name.isidentifier()
            else None
        )
        if handler is None or isinstance(handler, EventHandlerSetVar):
            _log.warning("setvar refused on %s: no setter for %r", type(self).__name__, str(var_name)[:60])
            return None
        return getattr(self, f"set_{var_name}")(value)


def _install_refusing_setvar(cls: type) -> None:
    handler = _RefusingSetVar(state_cls=cls)
    cls.setvar = cls.event_handlers["setvar"] = handler
    # The running app finds handlers by full name in Reflex's registry, filled when the class was made.
    RegistrationContext.register_event_handler(handler, states=(cls,))


class SessionState(rx.State):
    """Base of every HMS page state: the session token and who the user is."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _install_refusing_setvar(cls)

    # This tab's session token: backend-only, never sent to the page (the browser has it only as
    # the HttpOnly cookie). Read and set through ``auth_token``.
    _auth_token: str = ""
    # The one-time code the page trades for the cookie, and until when (time.time()).
    _cookie_claim: str = ""
    _cookie_claim_expires: float = 0.0
    # Shown in the shell; derived from the server-side actor, never trusted for decisions.
    user_name: str = ""
    user_roles: list[str] = []
    user_role_labels: list[str] = []
    user_permissions: list[str] = []

    _actor: Actor | None = None
    _actor_token: str = ""
    _actor_checked_at: float = 0.0

    def _acting(self) -> Actor:
        """The actor the guard has just checked (only inside a ``@requires`` handler)."""
        if self._actor is None:
            raise RuntimeError("acting() outside a guarded handler")
        return self._actor

    @property
    def auth_token(self) -> str:
        """The session this tab acts in: the one it signed in with here, else the cookie its
        websocket connected with (a tab opened, or a page reloaded, after signing in)."""
        if self._auth_token:
            return self._auth_token
        header = self.router.headers.cookie if self.router else ""
        return cookie_parser(header).get(SESSION_COOKIE, "") if header else ""

    @auth_token.setter
    def auth_token(self, token: str) -> None:
        self._auth_token = token

    def _hand_over_cookie(self) -> Any:
        """The script that has this tab's page fetch its session as an HttpOnly cookie.

        The page gets a one-time code, not the token: the token never passes through script.
        """
        self._cookie_claim = secrets.token_urlsafe(32)
        self._cookie_claim_expires = time.time() + COOKIE_CLAIM_SECONDS
        claim = json.dumps(
            {"tab": self.router.session.client_token if self.router else "", "code": self._cookie_claim}
        )
        return rx.call_script(
            f"fetch({json.dumps(SESSION_CLAIM_PATH)}, {{method: 'POST', credentials: 'same-origin', "
            f"headers: {{'Content-Type': 'application/json'}}, body: {json.dumps(claim)}}})"
        )

    def _take_cookie_claim(self, code: str) -> str:
        """The token to set as this tab's cookie for ``code``, once; "" for a wrong or stale code."""
        expected, expires = self._cookie_claim, self._cookie_claim_expires
        if not expected or not isinstance(code, str):
            return ""
        if not hmac.compare_digest(expected.encode(), code.encode()):
            return ""
        self._cookie_claim, self._cookie_claim_expires = "", 0.0
        return self._auth_token if time.time() <= expires else ""

    # Handlers call ``self.acting()``. Reflex registers every public plain function of a state
    # as an event any browser may call by name; a partialmethod is not one, so this stays a helper.
    acting = functools.partialmethod(_acting)

    async def _current_actor(self) -> Actor | None:
        token = self.auth_token or ""
        screen = self.router.url.path if self.router else None
        fresh = time.time() - self._actor_checked_at < ACTOR_RECHECK_SECONDS
        if self._actor is not None and token == self._actor_token and fresh:
            self._actor = replace(self._actor, screen=screen)
            return self._actor
        actor, checked_at = None, time.time()
        if token:
            # Re-checks read only; the session's last use is written at most once a minute per worker.
            actor, checked_at = await _check_session(token)
            if actor is not None:
                actor = replace(actor, screen=screen)
        self._actor, self._actor_token, self._actor_checked_at = actor, token, checked_at
        name = actor.display_name if actor else ""
        roles = sorted(actor.roles) if actor else []
        permissions = sorted(actor.permissions) if actor else []
        if (self.user_name, self.user_roles, self.user_permissions) != (name, roles, permissions):
            self.user_name, self.user_roles, self.user_permissions = name, roles, permissions
            self.user_role_labels = [ROLES.get(role, role) for role in roles]
        return actor

    async def _refusal(
        self, permission: str | None, handler: str, before_password_change: bool = False
    ) -> Any:
        actor = await self._current_actor()
        if actor is None:
            path = self.router.url.path if self.router else "/"
            target = "/login" if path in ("", "/", "/login") else f"/login?next={path}"
            if path in ("", "/"):
                return rx.redirect(target)  # a first visit is not an error: just the sign-in page
            return [rx.toast.error(SIGN_IN_REQUIRED, id="auth"), rx.redirect(target)]
        if actor.must_change_password and not before_password_change:
            await call_service(
                _record_denial,
                actor=actor,
                permission="a new password first",
                handler=f"{type(self).__name__}.{handler}",
            )
            return [
                rx.toast.error(PASSWORD_CHANGE_FIRST, id="password"),
                rx.redirect(security.CHANGE_PASSWORD_HOME),
            ]
        if permission is not None and not actor.can(permission):
            await call_service(
                _record_denial, actor=actor, permission=permission, handler=f"{type(self).__name__}.{handler}"
            )
            if actor.patient_id is not None:
                return rx.redirect("/portal")  # a patient on a staff address: back to their portal, refused
            return rx.toast.error(
                f"Your role does not allow this ({PERMISSIONS[permission].lower()}).", id="denied"
            )
        return None

    async def _run(self, fn: Callable[..., Any], /, **kwargs: Any) -> Any:
        """Call a service as the checked actor; a DomainError becomes the caller's problem."""
        return await call_service(fn, actor=self.acting(), **kwargs)

    async def _read(self, fn: Callable[..., Any], /, **kwargs: Any) -> Any:
        """Like ``_run`` for a service that only reads (its audit row aside), on a read-only session:
        on SQLite it never waits for the write lock, so searches and chart opens run side by side
        instead of one after another (the audit row is written in a transaction of its own)."""
        return await call_service_read(fn, actor=self.acting(), **kwargs)

    @rx.event
    @public("ends the caller's own session; an unknown token is ignored")
    async def sign_out(self):
        token = self.auth_token
        if token:
            await call_service(security.sign_out, token=token)
            forget_session(token)
        await self._clear_tab()
        # The HttpOnly cookie is cleared by an HTTP answer, as it was set.
        clear_cookie = rx.call_script(
            f"fetch({json.dumps(SESSION_END_PATH)}, {{method: 'POST', credentials: 'same-origin'}})"
        )
        return [clear_cookie, rx.redirect("/login"), rx.toast.info("You are signed out.", id="auth")]

    async def _clear_tab(self) -> None:
        """Forget everything this tab's states hold, so nothing of the last user stays behind."""
        pending = list(SessionState.get_substates())
        seen: set[type] = set()
        while pending:
            cls = pending.pop()
            if cls in seen:
                continue
            seen.add(cls)
            pending.extend(cls.get_substates())
            substate = await self.get_state(cls)
            substate.reset()
        session_state = await self.get_state(SessionState)
        session_state.reset()
        session_state._actor, session_state._actor_token, session_state._actor_checked_at = None, "", 0.0

    @rx.event
    @requires(before_password_change=True)
    async def refresh_identity(self):
        """Run on every staff page load: redirects to sign-in when the session ended, an account
        that must choose a new password to that form, and a patient's portal account to the
        portal, never the staff layout."""
        actor = self.acting()
        path = self.router.url.path.rstrip("/") if self.router else ""
        if actor.must_change_password and path != security.CHANGE_PASSWORD_HOME:
            return [
                rx.toast.error(PASSWORD_CHANGE_FIRST, id="password"),
                rx.redirect(security.CHANGE_PASSWORD_HOME),
            ]
        if actor.patient_id is not None:
            return rx.redirect("/portal")
        return None


_install_refusing_setvar(SessionState)


def pages_for(total: int, size: int) -> int:
    """How many pages of ``size`` rows ``total`` rows fill: at least one, so "page 1 of 1" shows."""
    return max(1, -(-total // size))


def step_page(page: int, step: Any, count: int) -> int:
    """The page one ``step`` (-1 or 1, as the browser sent it) away, kept within 1..count."""
    if step not in (-1, 1):
        return page
    return min(max(1, page + step), count)


async def turn_page(state: rx.State, attribute: str, step: Any, count: int, reload: Callable[[], Any]):
    """A list's pager handler: ``state.<attribute>`` one ``step`` on (``step_page``) and ``reload()``'s
    answer; nothing at all when the step leads nowhere (the first or last page, a forged step)."""
    page = step_page(getattr(state, attribute), step, count)
    if page == getattr(state, attribute):
        return None
    setattr(state, attribute, page)
    return await reload()


def browser_id(value: Any, what: str = "row") -> int:
    """An id the browser sent back: anything but a positive whole number (ASCII digits) is refused."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValidationError(f"Choose a {what} from the list.")
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 12 or int(text) <= 0:
        raise ValidationError(f"Choose a {what} from the list.")
    return int(text)


def error_toast(error: DomainError):
    return rx.toast.error(str(error))
