"""The one layout shell: sidebar navigation by role, header with user and sign-out."""

from __future__ import annotations

from collections.abc import Callable

import reflex as rx

from hms_app import modules
from hms_app.components.access import can
from hms_app.components.critical_banner import critical_banner
from hms_app.modules import NavEntry
from hms_app.settings import get_settings
from hms_app.state.critical_alerts import CriticalBannerState
from hms_app.state.session import SessionState

# Every module's sidebar links, in their declared order.
NAV: tuple[NavEntry, ...] = modules.nav_entries()

# Radix breakpoints [initial, xs 480, sm 768, md 992, lg 1280]: below 768 px the menu button, from
# 768 px (a tablet) a rail of icons, from 992 px the sidebar with its labels.
WIDE_ONLY = ["none", "none", "none", "inline"]


def _nav_link(item: NavEntry) -> rx.Component:
    active = SessionState.router.url.path == item.route
    link = rx.link(
        rx.hstack(
            rx.icon(item.icon, size=18, flex_shrink="0"),
            rx.text(item.label, size="2", display=WIDE_ONLY, white_space="nowrap"),
            spacing="3",
            align="center",
        ),
        href=item.route,
        title=item.label,
        aria_label=item.label,
        underline="none",
        padding_x="0.75rem",
        padding_y="0.5rem",
        border_radius="var(--radius-2)",
        width="100%",
        color=rx.cond(active, rx.color("accent", 11), rx.color("gray", 12)),
        background=rx.cond(active, rx.color("accent", 3), "transparent"),
        _hover={"background": rx.color("accent", 4)},
        data_testid=f"nav-{item.route.strip('/').replace('/', '-') or 'home'}",
    )
    if item.permission is None:
        return link
    return rx.cond(can(item.permission), link)


def sidebar() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.icon("hospital", size=24, color=rx.color("accent", 10)),
            rx.heading("HMS", size="5", display=WIDE_ONLY),
            align="center",
            spacing="2",
            padding_x="0.75rem",
            padding_bottom="1rem",
        ),
        *[_nav_link(item) for item in NAV],
        spacing="1",
        width=["15rem", "15rem", "4.5rem", "15rem"],
        min_width=["15rem", "15rem", "4.5rem", "15rem"],
        padding=["1rem", "1rem", "0.5rem", "1rem"],
        overflow_y="auto",
        height="100vh",
        position="sticky",
        top="0",
        border_right=f"1px solid {rx.color('gray', 5)}",
        background=rx.color("gray", 2),
        display=["none", "none", "flex"],
    )


def mobile_menu() -> rx.Component:
    return rx.box(
        rx.menu.root(
            rx.menu.trigger(rx.icon_button(rx.icon("menu"), variant="ghost", aria_label="Menu")),
            rx.menu.content(
                *[
                    rx.cond(
                        can(item.permission) if item.permission else True,
                        rx.menu.item(item.label, on_click=rx.redirect(item.route)),
                    )
                    for item in NAV
                ]
            ),
        ),
        display=["block", "block", "none"],
    )


def header(title: str) -> rx.Component:
    return rx.hstack(
        mobile_menu(),
        rx.heading(
            title,
            size="6",
            white_space="nowrap",
            overflow="hidden",
            text_overflow="ellipsis",
            data_testid="page-title",
        ),
        rx.spacer(),
        rx.text(
            get_settings().hospital_name,
            size="2",
            color_scheme="gray",
            display=["none", "none", "none", "block"],
        ),
        rx.color_mode.button(variant="ghost", aria_label="Toggle light and dark theme"),
        rx.hstack(
            rx.icon("circle-user", size=20),
            rx.vstack(
                rx.text(SessionState.user_name, size="2", weight="medium", data_testid="user-name"),
                rx.text(
                    SessionState.user_role_labels.join(", "),
                    size="1",
                    color_scheme="gray",
                    data_testid="user-roles",
                ),
                spacing="0",
            ),
            align="center",
            spacing="2",
        ),
        rx.button(
            rx.icon("log-out", size=16),
            "Sign out",
            variant="soft",
            color_scheme="gray",
            on_click=SessionState.sign_out,
            data_testid="sign-out",
        ),
        align="center",
        spacing="4",
        width="100%",
        padding_y="0.75rem",
        padding_x="1.5rem",
        border_bottom=f"1px solid {rx.color('gray', 5)}",
        position="sticky",
        top="0",
        background=rx.color("gray", 1),
        z_index="10",
    )


def staff_shell(title: str, content: rx.Component) -> rx.Component:
    """A staff page: sidebar, header and the page's content. Shows nothing until signed in."""
    return rx.hstack(
        sidebar(),
        rx.vstack(
            header(title),
            rx.cond(
                SessionState.user_name != "",
                rx.fragment(
                    critical_banner(),
                    rx.box(
                        content,
                        padding=["1rem", "1rem", "1rem", "1.5rem"],
                        width="100%",
                        max_width="1400px",
                        min_width="0",
                    ),
                ),
                rx.center(rx.spinner(size="3"), padding="4rem", width="100%"),
            ),
            spacing="0",
            width="100%",
            min_width="0",
            min_height="100vh",
        ),
        spacing="0",
        width="100%",
        align="start",
    )


def staff_page(route: str, title: str, on_load: Callable | list | None = None) -> Callable:
    """Register a staff page drawn inside the shell; on_load handlers must be guarded. Every staff
    page also loads the critical-results banner and starts its live watcher (once per tab)."""
    loads = [SessionState.refresh_identity]
    if on_load is not None:
        loads.extend(on_load if isinstance(on_load, list) else [on_load])
    loads.extend([CriticalBannerState.load, CriticalBannerState.watch])

    def decorate(view: Callable[[], rx.Component]) -> Callable[[], rx.Component]:
        @rx.page(route=route, title=f"{title} · HMS", on_load=loads)
        def page() -> rx.Component:
            return staff_shell(title, view())

        page.__name__, page.__module__ = view.__name__, view.__module__  # the page's own module
        return view

    return decorate
