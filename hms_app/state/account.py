"""The signed-in user's own account (/account): password and two-factor sign-in."""

from __future__ import annotations

import reflex as rx

from hms_app import words
from hms_app.clock import format_local
from hms_app.errors import DomainError, ValidationError
from hms_app.services import accounts, security
from hms_app.state.session import ROLE_LABELS, SessionState, forget_session, requires

PASSWORD_FIELDS = ("current_password", "new_password", "repeat")
MAX_PASSWORD = 256


def _password(form: dict, key: str, label: str) -> str:
    value = form.get(key, "")
    value = value if isinstance(value, str) else ""
    if not value:
        raise ValidationError(f"Enter the {label}.", field=key)
    if len(value) > MAX_PASSWORD:
        raise ValidationError(f"The {label} can be at most {MAX_PASSWORD} characters long.", field=key)
    return value


class AccountState(SessionState):
    """What the account page shows about the user, and an enrolment in progress."""

    username: str = ""
    display_name: str = ""
    roles: list[str] = []
    mfa_enabled: bool = False
    mfa_required: bool = False
    password_changed: str = ""
    loaded: bool = False
    # The account must choose a new password before anything else: the page shows only that form.
    must_change: bool = False

    error_field: str = ""
    error_text: str = ""
    saving: bool = False

    # The QR code and key of an enrolment this user started; both are theirs to see.
    enrol_qr: str = ""
    enrol_secret: str = ""
    code_error: str = ""
    confirming: bool = False

    async def _reload(self):
        try:
            account = await self._run(accounts.get_own_account)
        except DomainError as error:
            return rx.toast.error(str(error))
        self.username, self.display_name, self.roles = (
            account.username,
            account.display_name,
            [ROLE_LABELS.get(role, words.humanise(role)) for role in account.roles],
        )
        self.mfa_enabled, self.mfa_required = account.mfa_enabled, account.mfa_required
        self.must_change = account.must_change_password
        self.password_changed = format_local(account.password_changed_at)
        self.loaded = True
        return None

    @rx.event
    @requires(before_password_change=True)
    async def load(self):
        if self.acting().patient_id is not None:
            return rx.redirect("/portal")  # the portal is a patient's home; this page is for staff
        self.error_field = self.error_text = self.code_error = ""
        self.enrol_qr = self.enrol_secret = ""
        return await self._reload()

    @rx.event
    @requires(before_password_change=True)
    async def change_password(self, form: dict):
        try:
            current = _password(form, "current_password", "current password")
            new = _password(form, "new_password", "new password")
            repeat = _password(form, "repeat", "new password again")
            if new != repeat:
                raise ValidationError("The two new passwords differ.", field="repeat")
            if new == current:
                raise ValidationError(
                    "Choose a new password that differs from the current one.", field="new_password"
                )
        except ValidationError as error:
            self.error_field, self.error_text = error.field or "", str(error)
            return
        self.error_field, self.error_text, self.saving = "", "", True
        yield
        try:
            await self._run(accounts.change_own_password, current_password=current, new_password=new)
        except DomainError as error:
            # The password policy names its field "password": here that is the new one.
            name = "new_password" if error.field == "password" else error.field
            self.error_field = name if name in PASSWORD_FIELDS else ""
            self.error_text, self.saving = str(error), False
            return
        self.saving = False
        was_forced = self.must_change
        # The new password cleared the flag: the next check must see it, not a cached actor.
        forget_session(self.auth_token)
        self._actor_checked_at = 0.0
        problem = await self._reload()
        if was_forced:
            yield [
                *[rx.set_value(name, "") for name in PASSWORD_FIELDS],
                rx.toast.success("Your password is changed."),
                rx.redirect(security.home_for(frozenset(self.user_roles))),
            ]
            return
        yield [
            *[rx.set_value(name, "") for name in PASSWORD_FIELDS],
            rx.toast.success("Your password is changed. Use the new one from your next sign-in."),
            *([problem] if problem else []),
        ]

    @rx.event
    @requires()
    async def begin_enrolment(self):
        try:
            enrolment = await self._run(security.begin_mfa_enrolment)
        except DomainError as error:
            return rx.toast.error(str(error))
        self.enrol_qr, self.enrol_secret, self.code_error = enrolment.qr_svg_data_url, enrolment.secret, ""
        return None

    @rx.event
    @requires()
    async def cancel_enrolment(self):
        # Nothing to undo on the server: an unconfirmed secret never turns two-factor on.
        self.enrol_qr = self.enrol_secret = self.code_error = ""

    @rx.event
    @requires()
    async def confirm_enrolment(self, form: dict):
        code = form.get("code", "")
        code = code.replace(" ", "") if isinstance(code, str) else ""
        if not (len(code) == 6 and code.isdigit()):
            self.code_error = "Enter the 6-digit code your authenticator app shows."
            return
        if not self.enrol_secret:
            self.code_error = "Start the set-up first."
            return
        self.code_error, self.confirming = "", True
        yield
        try:
            await self._run(security.confirm_mfa_enrolment, code=code)
        except DomainError as error:
            self.code_error, self.confirming = str(error), False
            return
        self.enrol_qr = self.enrol_secret = ""
        self.confirming = False
        problem = await self._reload()
        yield rx.toast.success("Two-factor sign-in is on. You will be asked for a code at every sign-in.")
        if problem:
            yield problem
