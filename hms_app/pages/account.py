"""My account: who I am, my password and my two-factor sign-in."""

from __future__ import annotations

import reflex as rx

from hms_app.components.shell import staff_page
from hms_app.components.ui import section
from hms_app.state.account import MAX_PASSWORD, AccountState
from hms_app.state.session import MIN_PASSWORD_LENGTH


def field_error(name: str) -> rx.Component:
    return rx.cond(
        AccountState.error_field == name,
        rx.text(
            rx.icon("circle-alert", size=12),
            " ",
            AccountState.error_text,
            color_scheme="red",
            size="1",
            data_testid="error-" + name,
        ),
    )


def password_input(label: str, name: str, autocomplete: str, hint: str = "") -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", weight="medium", as_="label", html_for=name),
        rx.input(
            id=name,
            name=name,
            type="password",
            required=True,
            max_length=MAX_PASSWORD,
            auto_complete=autocomplete,
            width="100%",
        ),
        rx.text(hint, size="1", color_scheme="gray") if hint else rx.fragment(),
        field_error(name),
        spacing="1",
        width="100%",
        align="start",
    )


def identity() -> rx.Component:
    return section(
        "Account",
        rx.data_list.root(
            rx.data_list.item(
                rx.data_list.label("Username"), rx.data_list.value(rx.code(AccountState.username))
            ),
            rx.data_list.item(rx.data_list.label("Name"), rx.data_list.value(AccountState.display_name)),
            rx.data_list.item(
                rx.data_list.label("Roles"),
                rx.data_list.value(
                    rx.flex(
                        rx.foreach(AccountState.roles, lambda r: rx.badge(r, variant="surface")),
                        spacing="1",
                        wrap="wrap",
                    )
                ),
            ),
            rx.data_list.item(
                rx.data_list.label("Password last changed"), rx.data_list.value(AccountState.password_changed)
            ),
            orientation=rx.breakpoints(initial="vertical", sm="horizontal"),
        ),
    )


def password_card() -> rx.Component:
    return section(
        "Change password",
        rx.form(
            rx.vstack(
                password_input("Current password", "current_password", "current-password"),
                password_input(
                    "New password",
                    "new_password",
                    "new-password",
                    f"At least {MIN_PASSWORD_LENGTH} characters, with letters and digits.",
                ),
                password_input("New password again", "repeat", "new-password"),
                rx.cond(
                    (AccountState.error_text != "") & (AccountState.error_field == ""),
                    rx.callout(
                        AccountState.error_text,
                        icon="triangle-alert",
                        color_scheme="red",
                        size="1",
                        width="100%",
                    ),
                ),
                rx.button(
                    "Change password",
                    type="submit",
                    loading=AccountState.saving,
                    data_testid="change-password",
                ),
                spacing="3",
                width="100%",
                align="start",
            ),
            on_submit=AccountState.change_password,
            reset_on_submit=False,
            width="100%",
        ),
    )


def enrolment() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.text(
                "1. Scan this code with an authenticator app (such as FreeOTP or Google Authenticator).",
                size="2",
            ),
            rx.box(
                rx.image(
                    src=AccountState.enrol_qr,
                    width="180px",
                    height="180px",
                    alt="QR code for your authenticator app",
                    data_testid="mfa-qr",
                ),
                background="white",
                padding="0.5rem",
                border_radius="var(--radius-3)",
                border=f"1px solid {rx.color('gray', 6)}",
            ),
            rx.text("Cannot scan? Type this key instead:", size="1", color_scheme="gray"),
            rx.code(AccountState.enrol_secret, size="2", data_testid="mfa-secret", word_break="break-all"),
            rx.text("2. Enter the 6-digit code the app shows.", size="2"),
            rx.flex(
                rx.input(
                    name="code",
                    placeholder="123 456",
                    input_mode="numeric",
                    auto_complete="one-time-code",
                    max_length=7,
                    required=True,
                    width="9rem",
                    data_testid="mfa-code",
                ),
                rx.button(
                    "Turn on", type="submit", loading=AccountState.confirming, data_testid="mfa-confirm"
                ),
                rx.button(
                    "Cancel",
                    type="button",
                    variant="soft",
                    color_scheme="gray",
                    on_click=AccountState.cancel_enrolment,
                ),
                spacing="2",
                wrap="wrap",
            ),
            rx.cond(
                AccountState.code_error != "",
                rx.text(
                    rx.icon("circle-alert", size=12),
                    " ",
                    AccountState.code_error,
                    color_scheme="red",
                    size="1",
                    data_testid="mfa-error",
                ),
            ),
            spacing="2",
            align="start",
            width="100%",
        ),
        on_submit=AccountState.confirm_enrolment,
        reset_on_submit=True,
        width="100%",
    )


def mfa_card() -> rx.Component:
    return section(
        "Two-factor sign-in",
        rx.cond(
            AccountState.mfa_enabled,
            rx.vstack(
                rx.hstack(
                    rx.badge(
                        rx.icon("shield-check", size=14),
                        "On",
                        color_scheme="green",
                        size="2",
                        data_testid="mfa-status",
                    ),
                    rx.text("You enter a code from your authenticator app at every sign-in.", size="2"),
                    align="center",
                    wrap="wrap",
                ),
                rx.text(
                    "New phone? Ask an administrator to reset your two-factor sign-in, then set it up again.",
                    size="1",
                    color_scheme="gray",
                ),
                spacing="2",
            ),
            rx.vstack(
                rx.hstack(
                    rx.badge("Off", color_scheme="gray", size="2", data_testid="mfa-status"),
                    rx.text(
                        "A code from your phone protects your account even if your password leaks.", size="2"
                    ),
                    align="center",
                    wrap="wrap",
                ),
                rx.cond(
                    AccountState.mfa_required,
                    rx.callout(
                        "One of your roles requires two-factor sign-in. Set it up now, or you will be "
                        "asked to at your next sign-in.",
                        icon="info",
                        color_scheme="amber",
                        size="1",
                    ),
                ),
                rx.cond(
                    AccountState.enrol_secret != "",
                    enrolment(),
                    rx.button(
                        rx.icon("smartphone", size=16),
                        "Set up two-factor sign-in",
                        on_click=AccountState.begin_enrolment,
                        data_testid="mfa-begin",
                    ),
                ),
                spacing="3",
                width="100%",
            ),
        ),
    )


@staff_page(route="/account", title="My account", on_load=AccountState.load)
def account_page() -> rx.Component:
    return rx.cond(
        AccountState.loaded,
        rx.cond(
            AccountState.must_change,
            # Until a new password is chosen this form is all the account may use.
            rx.vstack(
                rx.callout(
                    "Choose a new password to continue. This account's password was set for you "
                    "(the demo administrator's is written in a file); nothing else opens until you change it.",
                    icon="key-round",
                    color_scheme="amber",
                    data_testid="must-change-password",
                ),
                password_card(),
                spacing="4",
                width="100%",
                max_width="32rem",
            ),
            rx.grid(
                rx.vstack(identity(), mfa_card(), spacing="4", width="100%"),
                password_card(),
                columns=rx.breakpoints(initial="1", md="2"),
                spacing="4",
                align="start",
                width="100%",
                max_width="64rem",
            ),
        ),
        rx.vstack(
            *[rx.skeleton(rx.box(height="8rem", width="100%")) for _ in range(2)],
            spacing="4",
            width="100%",
            max_width="64rem",
        ),
    )
