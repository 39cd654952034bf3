"""The sign-in page."""

from __future__ import annotations

import reflex as rx

from hms_app.state.auth import SignInState
from hms_app.state.session import hospital_name


def _error() -> rx.Component:
    return rx.cond(
        SignInState.error != "",
        rx.callout(
            SignInState.error,
            icon="triangle-alert",
            color_scheme="red",
            width="100%",
            data_testid="sign-in-error",
        ),
    )


def password_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.text("Username", size="2", weight="medium"),
            rx.input(
                name="username",
                placeholder="e.g. dr.house",
                auto_complete="username",
                auto_focus=True,
                required=True,
                max_length=60,
                width="100%",
                size="3",
            ),
            rx.text("Password", size="2", weight="medium"),
            rx.input(
                name="password",
                type="password",
                auto_complete="current-password",
                required=True,
                max_length=256,
                width="100%",
                size="3",
            ),
            _error(),
            rx.button("Sign in", type="submit", width="100%", size="3", loading=SignInState.busy),
            spacing="3",
            width="100%",
        ),
        on_submit=SignInState.submit_password,
        reset_on_submit=False,
        width="100%",
    )


def code_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.cond(
                SignInState.stage == "enrol",
                rx.vstack(
                    rx.text(
                        "Your role requires two-factor sign-in. Scan this code with an authenticator app "
                        "(such as FreeOTP or Google Authenticator), then enter the 6-digit code it shows.",
                        size="2",
                    ),
                    rx.center(
                        rx.image(
                            src=SignInState.enrol_qr,
                            width="200px",
                            height="200px",
                            alt="QR code for your authenticator app",
                            data_testid="mfa-qr",
                        ),
                        width="100%",
                        background="white",
                        padding="0.5rem",
                        border_radius="var(--radius-3)",
                    ),
                    rx.text(
                        "Or type this key: ",
                        rx.code(SignInState.enrol_secret, data_testid="mfa-secret"),
                        size="1",
                    ),
                    spacing="2",
                    width="100%",
                ),
                rx.text("Enter the 6-digit code from your authenticator app.", size="2"),
            ),
            rx.input(
                name="code",
                placeholder="123 456",
                auto_complete="one-time-code",
                input_mode="numeric",
                auto_focus=True,
                required=True,
                max_length=7,
                width="100%",
                size="3",
            ),
            _error(),
            rx.button("Verify", type="submit", width="100%", size="3", loading=SignInState.busy),
            rx.button(
                "Start over", type="button", variant="ghost", width="100%", on_click=SignInState.start_over
            ),
            spacing="3",
            width="100%",
        ),
        on_submit=SignInState.submit_code,
        reset_on_submit=True,
        width="100%",
    )


@rx.page(route="/login", title="Sign in · HMS", on_load=SignInState.load)
def sign_in_page() -> rx.Component:
    return rx.center(
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.icon("hospital", size=32, color=rx.color("accent", 10)),
                    rx.heading("HMS", size="7"),
                    align="center",
                    spacing="2",
                ),
                rx.text(hospital_name(), color_scheme="gray", size="2"),
                rx.heading("Sign in", size="5", padding_top="0.5rem"),
                rx.cond(SignInState.stage == "password", password_form(), code_form()),
                rx.cond(
                    SignInState.stage == "password",
                    rx.text(
                        "New patient? ",
                        rx.link(
                            "Create an account", href="/portal/signup", data_testid="sign-in-create-account"
                        ),
                        size="2",
                        color_scheme="gray",
                        text_align="center",
                        width="100%",
                    ),
                ),
                spacing="3",
                width="100%",
            ),
            size="4",
            width="100%",
            max_width="26rem",
            on_mount=SignInState.clear_form,
        ),
        min_height="100vh",
        padding="1rem",
        background=rx.color("gray", 2),
    )
