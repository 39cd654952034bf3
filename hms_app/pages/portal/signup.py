"""/portal/signup: a patient asks for their own portal account, and /portal/signup/confirm, where
the link mailed to them creates it (outside the portal shell: there is no session yet).

Phone-first: the form works at 390 px wide (one column, buttons at least 44 px tall) and spreads
to two columns on larger screens.
"""

from __future__ import annotations

import reflex as rx

from hms_app.components.portal_shell import portal_brand
from hms_app.pages.portal.parts import text_input
from hms_app.state.portal.signup import SignupConfirmState, SignupState


@rx.page(route="/portal/signup", title="Create an account · HMS", on_load=SignupState.load)
def signup_page() -> rx.Component:
    return rx.center(
        rx.card(
            rx.vstack(
                portal_brand(),
                rx.heading("Create your account", size="6", padding_top="0.25rem"),
                rx.text(
                    "Book and manage your appointments and see your record online.",
                    size="2",
                    color_scheme="gray",
                ),
                rx.cond(SignupState.sent_text != "", sent_panel(), signup_form()),
                rx.separator(width="100%"),
                rx.text(
                    "Already have an account? ",
                    rx.link("Sign in", href="/login?next=/portal", data_testid="signup-sign-in"),
                    size="2",
                ),
                spacing="3",
                width="100%",
            ),
            size="3",
            width="100%",
            max_width="36rem",
            on_mount=SignupState.clear_form,
        ),
        min_height="100vh",
        padding=["0.5rem", "1rem"],
        background=rx.color("gray", 2),
        align="start",
    )


def signup_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.heading("About you", size="3"),
            two_columns(
                labelled(
                    SignupState,
                    "Given name",
                    "given_name",
                    text_input("given_name", auto_complete="given-name"),
                ),
                labelled(
                    SignupState,
                    "Family name",
                    "family_name",
                    text_input("family_name", auto_complete="family-name"),
                ),
                labelled(
                    SignupState,
                    "Date of birth",
                    "birth_date",
                    text_input("birth_date", max_length=10, type="date", auto_complete="bday"),
                ),
                labelled(
                    SignupState,
                    "Sex",
                    "sex",
                    rx.select.root(
                        rx.select.trigger(
                            placeholder="Choose", width="100%", id="sex", data_testid="sex-select"
                        ),
                        rx.select.content(
                            rx.select.item("Female", value="female"),
                            rx.select.item("Male", value="male"),
                            rx.select.item("Other", value="other"),
                            rx.select.item("Prefer not to say", value="unknown"),
                        ),
                        name="sex",
                        size="3",
                    ),
                ),
                labelled(
                    SignupState,
                    "Mobile phone",
                    "phone",
                    text_input(
                        "phone", max_length=30, type="tel", auto_complete="tel", placeholder="+1 555 010 2030"
                    ),
                ),
                labelled(
                    SignupState,
                    "Email",
                    "email",
                    text_input("email", max_length=200, type="email", auto_complete="email"),
                ),
            ),
            rx.heading("Your sign-in", size="3", padding_top="0.5rem"),
            labelled(
                SignupState,
                "Username",
                "username",
                text_input("username", max_length=60, auto_complete="username", auto_capitalize="none"),
                "3 to 60 lowercase letters, digits, dots, dashes or underscores.",
            ),
            two_columns(
                labelled(
                    SignupState,
                    "Password",
                    "password",
                    text_input("password", max_length=256, type="password", auto_complete="new-password"),
                    "At least 10 characters, with letters and digits.",
                ),
                labelled(
                    SignupState,
                    "Repeat the password",
                    "password_confirm",
                    text_input(
                        "password_confirm", max_length=256, type="password", auto_complete="new-password"
                    ),
                ),
            ),
            rx.vstack(
                rx.el.label(
                    rx.hstack(
                        rx.checkbox(name="consent", id="consent", size="3", data_testid="consent"),
                        rx.text(
                            "I agree to the terms of use and the privacy notice: the hospital keeps my "
                            "details to provide my care and lets me see them here.",
                            size="2",
                        ),
                        align="start",
                        spacing="2",
                    ),
                    html_for="consent",
                    cursor="pointer",
                ),
                field_error(SignupState, "consent"),
                width="100%",
                spacing="1",
            ),
            rx.cond(
                SignupState.error_text != "",
                rx.callout(
                    SignupState.error_text,
                    icon="triangle-alert",
                    color_scheme="red",
                    width="100%",
                    id="signup-error",
                    data_testid="signup-error",
                ),
            ),
            rx.button(
                "Create my account",
                type="submit",
                size="3",
                width="100%",
                loading=SignupState.busy,
                data_testid="signup-submit",
            ),
            rx.text(
                "Been our patient before? Show an ID at your next visit and the front desk will "
                "connect your earlier records to this account.",
                size="1",
                color_scheme="gray",
            ),
            spacing="3",
            width="100%",
        ),
        on_submit=SignupState.submit,
        reset_on_submit=False,
        width="100%",
    )


def labelled(state, label: str, name: str, control: rx.Component, hint: str = "") -> rx.Component:
    """A label, its control, an optional hint and the field's error when the server named it."""
    return rx.vstack(
        rx.el.label(
            label,
            html_for=name,
            font_size="var(--font-size-2)",
            font_weight="500",
        ),
        control,
        rx.text(hint, size="1", color_scheme="gray") if hint else rx.fragment(),
        field_error(state, name),
        spacing="1",
        width="100%",
        align="start",
    )


def field_error(state, name: str) -> rx.Component:
    """The server's message for the field ``name``, under it (every wrong field shows its own)."""
    return rx.cond(state.field_errors.contains(name), error_line(state.field_errors[name], "error-" + name))


def sent_panel() -> rx.Component:
    """What every visitor is told once the form is sent, whatever exists."""
    return rx.callout(
        SignupState.sent_text,
        icon="mail",
        color_scheme="teal",
        width="100%",
        data_testid="signup-sent",
    )


@rx.page(
    route="/portal/signup/confirm",
    title="Finish creating your account · HMS",
    on_load=SignupConfirmState.clear_page,
)
def signup_confirm_page() -> rx.Component:
    return rx.center(
        rx.card(
            rx.vstack(
                portal_brand(),
                rx.heading("Finish creating your account", size="6", padding_top="0.25rem"),
                rx.cond(
                    SignupConfirmState.done_text != "",
                    rx.vstack(
                        rx.callout(
                            SignupConfirmState.done_text,
                            icon="circle-check",
                            color_scheme="teal",
                            width="100%",
                            data_testid="confirm-done",
                        ),
                        rx.link(
                            rx.button("Sign in", size="3", width="100%"),
                            href="/login?next=/portal",
                            width="100%",
                            data_testid="confirm-sign-in",
                        ),
                        width="100%",
                        spacing="3",
                    ),
                    rx.vstack(
                        rx.text(
                            "You followed the link we mailed you. Create the account now; then sign in "
                            "with the username and password you chose.",
                            size="2",
                        ),
                        rx.cond(
                            SignupConfirmState.error_text != "",
                            rx.callout(
                                SignupConfirmState.error_text,
                                icon="triangle-alert",
                                color_scheme="red",
                                width="100%",
                                data_testid="confirm-error",
                            ),
                        ),
                        rx.button(
                            "Create my account",
                            size="3",
                            width="100%",
                            loading=SignupConfirmState.busy,
                            on_click=SignupConfirmState.confirm,
                            data_testid="confirm-submit",
                        ),
                        width="100%",
                        spacing="3",
                    ),
                ),
                spacing="3",
                width="100%",
            ),
            size="3",
            width="100%",
            max_width="36rem",
        ),
        min_height="100vh",
        padding=["0.5rem", "1rem"],
        background=rx.color("gray", 2),
        align="start",
    )


def error_line(message, test_id: str) -> rx.Component:
    return rx.flex(
        rx.icon("circle-alert", size=14, flex_shrink="0", margin_top="0.2em"),
        rx.text(message, size="2"),
        spacing="1",
        color=rx.color("red", 11),
        data_testid=test_id,
    )


def two_columns(*children) -> rx.Component:
    return rx.grid(*children, columns=rx.breakpoints(initial="1", sm="2"), spacing="3", width="100%")
