"""The waiting-room screen (/boards/waiting): full screen for a TV in the waiting room."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, no_access
from hms_app.state.boards.waiting_room import CalledView, WaitingRoomState, WaitingView
from hms_app.state.session import SessionState


def called_token(item: CalledView) -> rx.Component:
    return rx.hstack(
        rx.text(
            item.token,
            font_size=["2.5rem", "3.5rem", "4.5rem"],
            font_weight="800",
            font_family="var(--code-font-family)",
            line_height="1",
            color=rx.color("amber", 11),
        ),
        rx.cond(
            item.where != "",
            rx.hstack(
                rx.icon("arrow-right", size=40, color=rx.color("gray", 10)),
                rx.text(item.where, font_size=["1.5rem", "2rem", "2.5rem"], font_weight="600"),
                align="center",
                spacing="5",
            ),
        ),
        align="center",
        spacing="5",
        padding_y="0.75rem",
        border_bottom=f"1px solid {rx.color('gray', 6)}",
        width="100%",
        data_testid="calling-token",
    )


def waiting_row(item: WaitingView) -> rx.Component:
    return rx.hstack(
        rx.text(item.position, font_size="1.25rem", color=rx.color("gray", 10), min_width="2rem"),
        rx.text(
            item.token,
            font_size="1.75rem",
            font_weight="700",
            font_family="var(--code-font-family)",
            min_width="7rem",
        ),
        rx.text(item.initials, font_size="1.25rem", color=rx.color("gray", 11), min_width="4rem"),
        rx.spacer(),
        rx.text(item.wait, font_size="1.25rem", weight="medium"),
        align="center",
        width="100%",
        padding_y="0.4rem",
        border_bottom=f"1px solid {rx.color('gray', 5)}",
        data_testid="waiting-token",
    )


def waiting_screen() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.icon("hospital", size=36, color=rx.color("accent", 10)),
            rx.heading(WaitingRoomState.department, size="8", data_testid="waiting-department"),
            rx.spacer(),
            rx.text(
                "Updated ",
                WaitingRoomState.updated_at,
                size="3",
                color_scheme="gray",
                data_testid="board-updated",
            ),
            width="100%",
            align="center",
            spacing="4",
        ),
        rx.grid(
            rx.vstack(
                rx.heading("Now calling", size="7", color=rx.color("amber", 11)),
                rx.cond(
                    WaitingRoomState.calling.length() > 0,
                    rx.vstack(rx.foreach(WaitingRoomState.calling, called_token), spacing="0", width="100%"),
                    rx.text(
                        "Please wait to be called.",
                        font_size="1.75rem",
                        color_scheme="gray",
                        padding_y="2rem",
                    ),
                ),
                spacing="3",
                width="100%",
                data_testid="calling-list",
            ),
            rx.vstack(
                rx.hstack(
                    rx.heading("Waiting", size="7"),
                    rx.badge(WaitingRoomState.waiting_total, size="3", radius="full"),
                    align="center",
                    spacing="3",
                ),
                rx.cond(
                    WaitingRoomState.waiting.length() > 0,
                    rx.vstack(rx.foreach(WaitingRoomState.waiting, waiting_row), spacing="0", width="100%"),
                    rx.text("Nobody is waiting.", font_size="1.5rem", color_scheme="gray", padding_y="2rem"),
                ),
                rx.cond(
                    WaitingRoomState.waiting_total > WaitingRoomState.waiting.length(),
                    rx.text(
                        "and ",
                        (WaitingRoomState.waiting_total - WaitingRoomState.waiting.length()).to_string(),
                        " more",
                        size="3",
                        color_scheme="gray",
                    ),
                ),
                spacing="3",
                width="100%",
                data_testid="waiting-list",
            ),
            columns=rx.breakpoints(initial="1", md="2"),
            spacing="8",
            width="100%",
        ),
        rx.spacer(),
        rx.text(
            rx.cond(
                WaitingRoomState.sample_size > 0,
                "Waits are estimated from the last "
                + WaitingRoomState.sample_size.to_string()
                + " visits here",
                "Waits are estimated from the booked visit lengths",
            ),
            " (about ",
            WaitingRoomState.service_minutes,
            " min a visit). Please tell the desk if you have waited much longer than shown.",
            size="3",
            color_scheme="gray",
        ),
        spacing="6",
        width="100%",
        min_height="100vh",
        padding=["1rem", "2rem", "3rem"],
        data_testid="waiting-board",
        custom_attrs={"data-version": WaitingRoomState.version},
    )


def choose_department() -> rx.Component:
    return rx.center(
        rx.card(
            rx.vstack(
                rx.heading("Waiting-room screen", size="6"),
                rx.text(WaitingRoomState.problem, color_scheme="gray"),
                rx.foreach(
                    WaitingRoomState.choices,
                    lambda d: rx.link(
                        rx.button(d.label, variant="soft", width="100%"),
                        href="/boards/waiting?department=" + d.id,
                        width="100%",
                    ),
                ),
                spacing="3",
                width="100%",
            ),
            width="24rem",
        ),
        min_height="100vh",
    )


@rx.page(
    route="/boards/waiting",
    title="Waiting room · HMS",
    on_load=[SessionState.refresh_identity, WaitingRoomState.load, WaitingRoomState.watch],
)
def waiting_page() -> rx.Component:
    return rx.cond(
        SessionState.user_name == "",
        rx.center(rx.spinner(size="3"), min_height="100vh"),
        rx.cond(
            ~can("appointment.read"),
            rx.center(
                no_access("This screen needs a staff sign-in that may see the clinic's appointments."),
                min_height="100vh",
            ),
            rx.cond(
                WaitingRoomState.loaded,
                rx.cond(WaitingRoomState.department_id == 0, choose_department(), waiting_screen()),
                rx.center(rx.spinner(size="3"), min_height="100vh"),
            ),
        ),
    )
