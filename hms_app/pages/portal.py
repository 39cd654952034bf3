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
        rx.button(
            "Sign out",
            variant="soft",
            color_scheme="gray",
            on_click=SessionState.sign_out,
            data_testid="sign-out",
        ),
        width="100%",
        align="center",
        padding="1rem",
        border_bottom=f"1px solid {rx.color('gray', 5)}",
    )


def card(title: str, icon: str, items, render, empty: str) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.icon(icon, size=18, color=rx.color("accent", 10)),
                rx.heading(title, size="3"),
                align="center",
            ),
            rx.cond(
                items.length() > 0,
                rx.vstack(rx.foreach(items, render), spacing="2", width="100%"),
                rx.text(empty, size="2", color_scheme="gray"),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def line(main, secondary) -> rx.Component:
    return rx.hstack(
        rx.text(main, size="2", weight="medium"),
        rx.spacer(),
        rx.text(secondary, size="2", color_scheme="gray"),
        width="100%",
    )


@rx.page(route="/portal", title="My health · HMS", on_load=PortalState.load)
def portal_page() -> rx.Component:
    return rx.vstack(
        portal_header(),
        rx.box(
            rx.cond(
                PortalState.name != "",
                rx.vstack(
                    rx.card(
                        rx.vstack(
                            rx.heading("Hello, ", PortalState.name, size="5", data_testid="portal-name"),
                            rx.text(
                                "Medical record number ",
                                rx.code(PortalState.mrn),
                                " · born ",
                                PortalState.birth_date,
                                " (",
                                PortalState.age,
                                ")",
                                size="2",
                                color_scheme="gray",
                            ),
                            rx.text(
                                "This is a read-only summary of your record. Ask your care team to correct anything wrong.",
                                size="1",
                                color_scheme="gray",
                            ),
                            spacing="2",
                        ),
                        width="100%",
                    ),
                    rx.grid(
                        card(
                            "Allergies",
                            "triangle-alert",
                            PortalState.allergies,
                            lambda a: line(a["substance"], a["reaction"] + " · " + a["severity"]),
                            "No known allergies recorded.",
                        ),
                        card(
                            "Health problems",
                            "stethoscope",
                            PortalState.problems,
                            lambda p: line(p["name"], p["code"]),
                            "No active problems recorded.",
                        ),
                        card(
                            "Medicines",
                            "pill",
                            PortalState.medications,
                            lambda m: line(m["name"], m["dosage"]),
                            "No current medicines recorded.",
                        ),
                        card(
                            "Vaccinations",
                            "syringe",
                            PortalState.immunizations,
                            lambda i: line(i["vaccine"], i["date"]),
                            "No vaccinations recorded.",
                        ),
                        card(
                            "Latest measurements",
                            "activity",
                            PortalState.vitals,
                            lambda v: line(v["label"], v["value"]),
                            "No measurements yet.",
                        ),
                        card(
                            "Documents",
                            "file-text",
                            PortalState.documents,
                            lambda d: line(
                                rx.link(
                                    d["title"], href="/api/portal/documents/" + d["id"], is_external=True
                                ),
                                d["date"],
                            ),
                            "No documents.",
                        ),
                        columns=rx.breakpoints(initial="1", md="2"),
                        spacing="4",
                        width="100%",
                    ),
                    spacing="4",
                    width="100%",
                ),
                rx.center(rx.spinner(size="3"), padding="3rem"),
            ),
            width="100%",
            max_width="60rem",
            padding="1rem",
        ),
        align="center",
        width="100%",
        spacing="0",
    )
