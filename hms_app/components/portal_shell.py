"""The patient portal's layout, beside the staff one in ``shell.py``: the hospital, theme and
sign-out, the portal's own navigation, then the page's content, phone-first."""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx

from hms_app.settings import get_settings
from hms_app.state.session import SessionState

# The portal's own navigation: seven destinations, reachable with a thumb on a phone. Seven tabs
# share a 390 px screen, so each label is one short word ("Inbox" for the messages).
PORTAL_NAV: tuple[tuple[str, str, str], ...] = (
    ("Record", "/portal", "heart-pulse"),
    ("Book", "/portal/book", "calendar-plus"),
    ("Visits", "/portal/appointments", "calendar-days"),
    ("Results", "/portal/results", "flask-conical"),
    ("Bills", "/portal/bills", "receipt"),
    ("Inbox", "/portal/messages", "messages-square"),
    ("Readings", "/portal/readings", "house-plus"),
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


def portal_page(
    route: str, title: str, on_load: Callable | list | None = None, *, max_width: str = "60rem"
) -> Callable:
    """Register a signed-in portal page drawn inside the portal shell.

    Its on_load handlers must be guarded (``@requires("portal.self")``): the guard sends a visitor
    without a session to sign in and refuses a staff account, so the shell adds no check of its own.
    """

    def decorate(view: Callable[[], rx.Component]) -> Callable[[], rx.Component]:
        @rx.page(route=route, title=f"{title} · HMS", on_load=on_load)
        def page() -> rx.Component:
            return portal_shell(view(), max_width=max_width)

        page.__name__, page.__module__ = view.__name__, view.__module__  # the page's own module
        return view

    return decorate
