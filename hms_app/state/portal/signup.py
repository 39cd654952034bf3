"""/portal/signup: a patient creates their own portal account."""

from __future__ import annotations

import reflex as rx

from hms_app.errors import DomainError
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
    """/portal/signup: a patient creates their own portal account."""

    error_field: str = ""
    error_text: str = ""
    busy: bool = False

    @rx.event
    @public("only clears this tab's sign-up form when the form is shown")
    def clear_form(self):
        # On mount rather than on_load, for the reason given in SignInState.clear_form.
        self.error_field, self.error_text, self.busy = "", "", False

    @rx.event
    @public("only sends a tab that is already signed in to its home page")
    async def load(self):
        if self.auth_token and await self._current_actor() is not None:
            return rx.redirect(security.home_for(frozenset(self.user_roles)))
        return None

    @rx.event
    @public(
        "creates the visitor's own patient account: every field is validated on the server, attempts "
        "are limited per browser and network address and audited, and the answer never tells whether "
        "a patient record exists"
    )
    async def submit(self, form: dict):
        if self.busy:
            return
        self.busy, self.error_field, self.error_text = True, "", ""
        yield
        try:
            result = await call_service(
                portal_accounts.sign_up,
                form=form_fields(form, SIGNUP_FIELDS),
                client_ip=self.router.session.client_ip if self.router else None,
                client_token=self.router.session.client_token if self.router else None,
            )
        except DomainError as error:
            self.busy = False
            self.error_field = error.field if error.field in SIGNUP_FIELDS else ""
            self.error_text = str(error)
            if self.error_field:
                # On a phone the field may be a screen away from the button: bring it into view.
                yield rx.scroll_to(self.error_field)
            return
        self.busy = False
        if result.stage != "active":
            # Patients must use two-factor sign-in here: the sign-in page walks them through it.
            yield [
                rx.redirect("/login?next=/portal"),
                rx.toast.success("Your account is ready. Sign in to set up two-factor sign-in.", id="auth"),
            ]
            return
        self.auth_token = result.token
        self._actor_checked_at = 0.0
        yield [
            self._hand_over_cookie(),
            rx.toast.success(f"Welcome! {result.message}", id="signup"),
            rx.redirect(result.home),
        ]
