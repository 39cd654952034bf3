"""/portal/signup and /portal/signup/confirm: a patient asks for their own portal account, then
follows the link mailed to them to create it."""

from __future__ import annotations

import reflex as rx

from hms_app.errors import DomainError, InvalidFields
from hms_app.services import portal_accounts, security
from hms_app.state.portal.forms import form_fields
from hms_app.state.session import SessionState, call_service, public

SIGNUP_FIELDS = (
    "given_name",
    "family_name",
    "sex",
    "birth_date",
    "phone",
    "email",
    "username",
    "password",
    "password_confirm",
    "consent",
)


class SignupState(SessionState):
    """/portal/signup: a patient asks for their own portal account."""

    # Each wrong field's message, shown under that field; all of them at once.
    field_errors: dict[str, str] = {}
    error_text: str = ""  # what belongs to no one field (too many attempts)
    sent_text: str = ""  # the same "check your e-mail" answer for everyone, once the form is sent
    busy: bool = False
    # This tab's key for the per-browser limit: issued here, never taken from the client.
    _browser_key: str = ""

    @rx.event
    @public("only clears this tab's sign-up form when the form is shown")
    def clear_form(self):
        # On mount rather than on_load, for the reason given in SignInState.clear_form.
        self.field_errors, self.error_text, self.sent_text, self.busy = {}, "", "", False

    @rx.event
    @public("only sends a tab that is already signed in to its home page")
    async def load(self):
        if self.auth_token and await self._current_actor() is not None:
            return rx.redirect(security.home_for(frozenset(self.user_roles)))
        return None

    def _browser(self) -> str:
        if not self._browser_key:
            self._browser_key = portal_accounts.new_browser_key()
        return self._browser_key

    @rx.event
    @public(
        "asks for the visitor's own patient account: every field is validated on the server, attempts "
        "are limited per server-issued browser key and network address and audited, the account is "
        "created only from the link mailed to the address, and the answer is the same whatever exists"
    )
    async def submit(self, form: dict):
        if self.busy:
            return
        self.busy, self.field_errors, self.error_text, self.sent_text = True, {}, "", ""
        yield
        try:
            fields = form_fields(form, SIGNUP_FIELDS)
            answer = await call_service(
                portal_accounts.request_signup,
                form=fields,
                client_ip=self.router.session.client_ip if self.router else None,
                browser_key=self._browser(),
            )
        except InvalidFields as errors:
            self.busy = False
            self.field_errors = {f: m for f, m in errors.errors.items() if f in SIGNUP_FIELDS}
            self.error_text = "" if self.field_errors else str(errors)
            if self.field_errors:
                # On a phone the first field may be a screen away from the button: bring it into view.
                yield rx.scroll_to(next(iter(self.field_errors)))
            return
        except DomainError as error:
            self.busy = False
            if error.field in SIGNUP_FIELDS:
                self.field_errors = {error.field: str(error)}
                yield rx.scroll_to(error.field)
            else:
                self.error_text = str(error)
            return
        self.busy, self.sent_text = False, answer


class SignupConfirmState(SessionState):
    """/portal/signup/confirm?token=...: the mailed link creates the account."""

    done_text: str = ""
    error_text: str = ""
    busy: bool = False

    @rx.event
    @public("only resets what this tab's confirmation page shows")
    def clear_page(self):
        self.done_text, self.error_text, self.busy = "", "", False

    @rx.event
    @public(
        "creates an account only for the holder of a one-time token mailed to the address of a checked "
        "sign-up; a wrong, used or expired token gets one plain answer"
    )
    async def confirm(self):
        if self.busy or self.done_text:
            return
        token = self.router.url.query_parameters.get("token", "") if self.router else ""
        self.busy, self.error_text = True, ""
        yield
        try:
            result = await call_service(
                portal_accounts.confirm_signup,
                token=token if isinstance(token, str) else "",
                client_ip=self.router.session.client_ip if self.router else None,
            )
        except DomainError as error:
            self.busy, self.error_text = False, str(error)
            return
        self.busy, self.done_text = False, result.message
