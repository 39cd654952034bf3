"""The patient portal (public entry at /portal; the content needs a patient sign-in)."""

from __future__ import annotations

import reflex as rx

from hms_app.settings import get_settings
from hms_app.state.portal import PortalState
from hms_app.state.session import SessionState

# The portal's own navigation: four destinations, reachable with a thumb on a phone.
PORTAL_NAV: tuple[tuple[str, str, str], ...] = (
    ("My record", "/portal", "heart-pulse"),
    ("Book", "/portal/book", "calendar-plus"),
    ("Appointments", "/portal/appointments", "calendar-days"),
    ("Bills", "/portal/bills", "receipt"),
)


def _portal_tab(label: str, route: str, icon: str) -> rx.Component:
    path = SessionState.router.url.path
    active = (path == route) | (path == route + "/")
    return rx.link(
        rx.vstack(
            rx.icon(icon, size=20),
            rx.text(label, size="1", weight=rx.cond(active, "bold", "medium"), white_space="nowrap"),
            spacing="1",
            align="center",
            justify="center",
            height="100%",
        ),
        href=route,
        underline="none",
        flex="1",
        min_width="0",
        min_height="3.25rem",
        padding_y="0.4rem",
        border_radius="var(--radius-3)",
        color=rx.cond(active, rx.color("accent", 11), rx.color("gray", 11)),
        background=rx.cond(active, rx.color("accent", 3), "transparent"),
        _hover={"background": rx.color("accent", 4)},
        aria_current=rx.cond(active, "page", "false"),
        data_testid="portal-nav-" + (route.removeprefix("/portal").strip("/") or "record"),
    )


def portal_brand() -> rx.Component:
    return rx.hstack(
        rx.icon("hospital", size=24, color=rx.color("accent", 10), flex_shrink="0"),
        rx.heading(get_settings().hospital_name, size="4", trim="both", truncate=True),
        align="center",
        spacing="2",
        min_width="0",
    )


def portal_header() -> rx.Component:
    """The portal's header: the hospital, theme and sign-out, and the portal navigation below."""
    return rx.vstack(
        rx.hstack(
            portal_brand(),
            rx.spacer(),
            rx.color_mode.button(variant="ghost", aria_label="Toggle light and dark theme", size="3"),
            rx.button(
                rx.icon("log-out", size=18),
                rx.text("Sign out", display=["none", "inline"]),
                variant="soft",
                color_scheme="gray",
                size="3",
                aria_label="Sign out",
                on_click=SessionState.sign_out,
                data_testid="sign-out",
            ),
            width="100%",
            align="center",
            spacing="2",
        ),
        rx.hstack(
            *[_portal_tab(*item) for item in PORTAL_NAV],
            width="100%",
            spacing="1",
            max_width="40rem",
            data_testid="portal-nav",
        ),
        width="100%",
        align="center",
        spacing="2",
        padding_x="0.75rem",
        padding_top="0.75rem",
        padding_bottom="0.5rem",
        border_bottom=f"1px solid {rx.color('gray', 5)}",
        background=rx.color("gray", 1),
        position="sticky",
        top="0",
        z_index="10",
    )


def portal_shell(*children: rx.Component, max_width: str = "60rem") -> rx.Component:
    """A signed-in portal page: the header with navigation, then the content, phone-first.

    Content never makes the page wider than the screen: at 390 px everything stacks.
    """
    return rx.vstack(
        portal_header(),
        rx.box(
            rx.vstack(*children, spacing="4", width="100%"),
            width="100%",
            max_width=max_width,
            padding="0.75rem",
            padding_bottom="2rem",
        ),
        align="center",
        width="100%",
        max_width="100vw",
        overflow_x="hidden",
        spacing="0",
        min_height="100vh",
    )


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


@rx.page(route="/portal", title="My health · HMS", on_load=PortalState.open)
def portal_page() -> rx.Component:
    return rx.cond(PortalState.signed_out, portal_front_door(), portal_shell(record()))


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
