"""/portal: the patient's own record, read-only; a visitor without a session sees the portal's
front door (sign in, or create an account) instead."""

from __future__ import annotations

import reflex as rx

from hms_app.components.portal_shell import portal_brand, portal_shell
from hms_app.state.portal.record import PortalState


# The start page composes the portal shell itself: a visitor without a session sees the front
# door, which is drawn without the shell's navigation.
@rx.page(route="/portal", title="My health · HMS", on_load=PortalState.open)
def record_page() -> rx.Component:
    return rx.cond(PortalState.signed_out, portal_front_door(), portal_shell(record()))


def portal_front_door() -> rx.Component:
    """What a visitor without a session sees at /portal: sign in, or create an account."""
    return rx.center(
        rx.card(
            rx.vstack(
                portal_brand(),
                rx.heading("Your health, online", size="6", padding_top="0.5rem"),
                rx.text(
                    "Book and manage your appointments, see your record and pay your bills.",
                    size="3",
                    color_scheme="gray",
                ),
                rx.link(
                    rx.button("Sign in", size="4", width="100%"),
                    href="/login?next=/portal",
                    width="100%",
                    data_testid="portal-sign-in",
                ),
                rx.link(
                    rx.button("Create an account", size="4", variant="outline", width="100%"),
                    href="/portal/signup",
                    width="100%",
                    data_testid="portal-create-account",
                ),
                spacing="4",
                width="100%",
            ),
            size="4",
            width="100%",
            max_width="26rem",
        ),
        min_height="100vh",
        padding="1rem",
        background=rx.color("gray", 2),
    )


def record() -> rx.Component:
    return rx.cond(
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
                        rx.link(d["title"], href="/api/portal/documents/" + d["id"], is_external=True),
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
    # Wraps instead of widening the card: a long medicine name on a phone goes to two lines.
    return rx.flex(
        rx.text(main, size="2", weight="medium", min_width="0", overflow_wrap="anywhere"),
        rx.text(secondary, size="2", color_scheme="gray", margin_left="auto"),
        width="100%",
        wrap="wrap",
        column_gap="0.75rem",
    )
