"""The sign-in screen: password, then the second factor or MFA enrolment when needed."""

from __future__ import annotations

import reflex as rx

from hms_app.errors import DomainError
from hms_app.services import security
from hms_app.state.session import SessionState, call_service, public


def _safe_next(target: str) -> str:
    """Only a path on this site; never an open redirect to somewhere else."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target and target != "/login":
        return target
    return ""


class SignInState(SessionState):
    stage: str = "password"  # password | mfa | enrol
    error: str = ""
    busy: bool = False
    enrol_qr: str = ""
    enrol_secret: str = ""

    _pending_token: str = ""

    @rx.event
    @public("only clears this tab's sign-in form when the form is shown")
    def clear_form(self):
        # Runs on mount, not in on_load: the browser queues on_load only after the
        # server answers the route change, so a quick (or password-manager) submit can
        # be answered first and an on_load reset would wipe that answer off the screen.
        self.error, self.busy = "", False
        if self.stage != "password" and not self._pending_token:
            self.stage = "password"

    @rx.event
    @public("only reports whether the tab is already signed in, and sends it home if so")
    async def load(self):
        if self.auth_token and await self._current_actor() is not None:
            return rx.redirect(security.home_for(frozenset(self.user_roles)))
        return None

    def _finish(self, token: str, home: str):
        self.auth_token = token
        self._pending_token, self.stage, self.error, self.busy = "", "password", "", False
        self.enrol_qr, self.enrol_secret = "", ""
        self._actor_checked_at = 0.0
        target = _safe_next(self.router.url.query_parameters.get("next", "")) if self.router else ""
        if home == security.CHANGE_PASSWORD_HOME:
            target = ""  # a new password comes first, wherever the link pointed
        return [self._hand_over_cookie(), rx.redirect(target or home)]

    @rx.event
    @public("checks a username and password; repeated failures lock the account")
    async def submit_password(self, form: dict):
        username = str(form.get("username", ""))[:100]
        password = str(form.get("password", ""))[:256]
        self.busy = True
        yield
        try:
            result = await call_service(
                security.sign_in,
                username=username,
                password=password,
                client_ip=self.router.session.client_ip if self.router else None,
            )
            if result.stage == "enrol":
                enrolment = await call_service(security.begin_pending_enrolment, token=result.token)
                self.enrol_qr, self.enrol_secret = enrolment.qr_svg_data_url, enrolment.secret
        except DomainError as error:
            self.error, self.busy = str(error), False
            return
        if result.stage == "active":
            yield self._finish(result.token, result.home)
            return
        self._pending_token, self.stage, self.error, self.busy = result.token, result.stage, "", False

    @rx.event
    @public("completes a sign-in whose password was already checked on the server")
    async def submit_code(self, form: dict):
        code = str(form.get("code", ""))[:20]
        if not self._pending_token:
            self.stage, self.error = "password", "That sign-in step has expired. Please sign in again."
            return
        self.busy = True
        yield
        service = security.complete_mfa if self.stage == "mfa" else security.finish_pending_enrolment
        try:
            result = await call_service(service, token=self._pending_token, code=code)
        except DomainError as error:
            self.error, self.busy = str(error), False
            # Expired, ended after too many wrong codes, or locked: only the password starts again.
            if "sign in again" in str(error).lower() or "locked" in str(error):
                self.stage, self._pending_token = "password", ""
            return
        yield self._finish(self._pending_token, result.home)

    @rx.event
    @public("abandons a half-finished sign-in of this tab")
    def start_over(self):
        self._pending_token, self.stage, self.error, self.busy = "", "password", "", False
        self.enrol_qr, self.enrol_secret = "", ""
