"""The patient portal (public entry at /portal; the content needs a patient sign-in)."""

from __future__ import annotations

import reflex as rx

from hms_app.settings import get_settings
from hms_app.state.portal import PortalState
from hms_app.state.session import SessionState


def portal_header() -> rx.Component:
    return rx.hstack(
        rx.icon("hospital", size=24, color=rx.color("accent", 10)),
        rx.heading(get_settings().hospital_name, size="4"),
        rx.spacer(),
        rx.color_mode.button(variant="ghost", aria_label="Toggle light and dark theme"),
        rx.button("Sign out", variant="soft", color_scheme="gray", on_click=SessionState.sign_out, data_testid="sign-out"),
        width="100%",
        align="center",
        padding="1rem",
        border_bottom=f"1px solid {rx.color('gray', 5)}",
    )


def row(label: str, value) -> rx.Component:
    return rx.data_list.item(rx.data_list.label(label), rx.data_list.value(value))


@rx.page(route="/portal", title="My health · HMS", on_load=PortalState.load)
def portal_page() -> rx.Component:
    return rx.vstack(
        portal_header(),
        rx.box(
            rx.cond(
                PortalState.name != "",
                rx.card(
                    rx.vstack(
                        rx.heading("Hello, ", PortalState.name, size="5", data_testid="portal-name"),
                        rx.data_list.root(
                            row("Medical record number", PortalState.mrn),
                            row("Date of birth", PortalState.birth_date),
                            row("Phone", PortalState.phone),
                            row("Email", PortalState.email),
                        ),
                        spacing="3",
                    ),
                    width="100%",
                ),
                rx.center(rx.spinner(size="3"), padding="3rem"),
            ),
            width="100%",
            max_width="40rem",
            padding="1rem",
        ),
        align="center",
        width="100%",
        spacing="0",
    )
