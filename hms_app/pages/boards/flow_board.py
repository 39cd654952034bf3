"""The clinic flow board (/boards/flow): a column per step of the visit, counts per department."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, refused
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, skeleton_rows
from hms_app.pages.boards.common import live_note
from hms_app.pages.boards.video_queue import video_waiting_room
from hms_app.state.boards.flow_board import CountRow, FlowBoardState, FlowCardView, FlowColumn
from hms_app.state.video_visits import VideoQueueState

COLUMN_COLOURS = {"booked": "gray", "arrived": "amber", "in_room": "blue", "completed": "grass"}


def flow_actions(card: FlowCardView) -> rx.Component:
    """The next step of the visit, for staff who move patients on."""
    return rx.match(
        card.status,
        (
            "booked",
            rx.hstack(
                rx.button(
                    "Check in",
                    size="1",
                    on_click=FlowBoardState.check_in(card.id),
                    data_testid="flow-check-in",
                ),
                rx.cond(
                    card.late,
                    rx.button(
                        "No-show",
                        size="1",
                        variant="soft",
                        color_scheme="red",
                        on_click=FlowBoardState.mark_no_show(card.id),
                        data_testid="flow-no-show",
                    ),
                ),
                spacing="2",
                padding_top="0.25rem",
            ),
        ),
        (
            "arrived",
            rx.button(
                "Call in",
                size="1",
                color_scheme="amber",
                on_click=FlowBoardState.call_in(card.id),
                data_testid="flow-call",
                margin_top="0.25rem",
            ),
        ),
        (
            "in_room",
            rx.button(
                "Complete",
                size="1",
                variant="soft",
                color_scheme="grass",
                on_click=FlowBoardState.complete(card.id),
                data_testid="flow-complete",
                margin_top="0.25rem",
            ),
        ),
        rx.fragment(),
    )


def video_actions(card: FlowCardView) -> rx.Component:
    """A video visit moves on in its video screens: the booked clinician admits the waiting patient
    and joins the call (ended on the call page); others see where the visit stands."""
    mine = card.clinician_ids.contains(FlowBoardState.me) & (FlowBoardState.me > 0)
    state_badge = rx.badge(
        rx.icon("video", size=12),
        rx.match(
            card.video,
            ("waiting", "in video waiting room"),
            ("admitted", "in video call"),
            ("ended", "video ended"),
            "video visit",
        ),
        color_scheme=rx.match(card.video, ("waiting", "amber"), ("admitted", "blue"), "gray"),
        variant="soft",
        size="1",
        data_testid="flow-video-status",
    )
    return rx.hstack(
        state_badge,
        rx.cond(
            mine & (card.status == "arrived") & (card.video == "waiting"),
            rx.button(
                rx.icon("door-open", size=14),
                "Admit",
                size="1",
                color_scheme="amber",
                on_click=FlowBoardState.admit_video(card.id),
                data_testid="flow-video-admit",
            ),
        ),
        rx.cond(
            mine & (card.status == "in_room"),
            rx.link(
                rx.button(rx.icon("video", size=14), "Join", size="1"),
                href="/video/" + card.id.to_string(),
                data_testid="flow-video-join",
            ),
        ),
        rx.cond(
            can("appointment.flow") & (card.status == "booked") & card.late,
            rx.button(
                "No-show",
                size="1",
                variant="soft",
                color_scheme="red",
                on_click=FlowBoardState.mark_no_show(card.id),
                data_testid="flow-no-show",
            ),
        ),
        spacing="2",
        align="center",
        wrap="wrap",
        padding_top="0.25rem",
    )


def flow_card(card: FlowCardView) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.cond(
                    card.token != "",
                    rx.text(
                        card.token,
                        weight="bold",
                        font_family="var(--code-font-family)",
                        data_testid="flow-token",
                    ),
                ),
                rx.text(card.time, size="2", color_scheme="gray"),
                rx.spacer(),
                rx.cond(card.late, rx.badge("late", color_scheme="red", variant="soft", size="1")),
                width="100%",
                align="center",
            ),
            rx.text(card.patient, weight="medium", size="2", data_testid="flow-patient"),
            rx.text(
                rx.cond(card.provider != "", card.provider + " · ", ""),
                card.service,
                size="1",
                color_scheme="gray",
                trim="both",
            ),
            rx.cond(
                card.waited != "",
                rx.text(card.waited, size="1", color=rx.color("gray", 11)),
            ),
            rx.cond(FlowBoardState.department == "", rx.text(card.department, size="1", color_scheme="gray")),
            rx.cond(
                card.virtual,
                rx.cond(card.status != "completed", video_actions(card)),
                rx.cond(can("appointment.flow"), flow_actions(card)),
            ),
            spacing="1",
            width="100%",
            align="start",
        ),
        size="1",
        width="100%",
        data_testid="flow-card-" + card.id.to_string(),
        custom_attrs={"data-status": card.status, "data-mode": rx.cond(card.virtual, "virtual", "in_person")},
    )


def _column_colour(status: rx.Var) -> rx.Var:
    return rx.match(status, *[(s, rx.color(c, 9)) for s, c in COLUMN_COLOURS.items()], rx.color("gray", 9))


def flow_column(column: FlowColumn) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.heading(column.title, size="3"),
            rx.badge(column.count, variant="solid", radius="full", data_testid="flow-count-" + column.status),
            rx.spacer(),
            align="center",
            width="100%",
        ),
        rx.cond(
            column.cards.length() > 0,
            # Each column scrolls on its own: a long morning list must not push the others away.
            rx.scroll_area(
                rx.vstack(
                    rx.foreach(column.cards, flow_card), spacing="2", width="100%", padding_right="0.5rem"
                ),
                type="auto",
                scrollbars="vertical",
                max_height="calc(100vh - 16rem)",
                width="100%",
            ),
            rx.text("Nobody here.", size="2", color_scheme="gray", padding_y="1rem"),
        ),
        rx.cond(
            column.count > column.cards.length(),
            rx.text(
                "and ",
                (column.count - column.cards.length()).to_string(),
                " more",
                size="1",
                color_scheme="gray",
            ),
        ),
        spacing="2",
        width="100%",
        padding="0.75rem",
        border_radius="var(--radius-3)",
        background=rx.color("gray", 2),
        border_top=f"4px solid {_column_colour(column.status)}",
        min_height="12rem",
        data_testid="flow-column-" + column.status,
    )


def counts_table() -> rx.Component:
    def row(r: CountRow) -> rx.Component:
        return rx.table.row(
            rx.table.row_header_cell(
                rx.link(
                    r.department, on_click=FlowBoardState.set_department(r.department_id), cursor="pointer"
                )
            ),
            *[
                rx.table.cell(getattr(r, s), text_align="right")
                for s in ("booked", "arrived", "in_room", "completed", "no_show", "cancelled")
            ],
            rx.table.cell(rx.text(r.total, weight="bold"), text_align="right"),
        )

    return rx.box(
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    rx.table.column_header_cell("Department"),
                    *[
                        rx.table.column_header_cell(label, text_align="right")
                        for label in (
                            "Booked",
                            "Waiting",
                            "With clinician",
                            "Done",
                            "No-show",
                            "Cancelled",
                            "Total",
                        )
                    ],
                )
            ),
            rx.table.body(rx.foreach(FlowBoardState.rows, row)),
            variant="surface",
            size="1",
            width="100%",
        ),
        width="0",
        min_width="100%",
        data_testid="flow-counts",
    )


@staff_page(
    route="/boards/flow",
    title="Clinic flow board",
    on_load=[FlowBoardState.load, FlowBoardState.watch, VideoQueueState.load, VideoQueueState.watch],
)
def flow_page() -> rx.Component:
    return rx.vstack(
        refused("appointment.read", "Your role does not give access to the clinic boards."),
        rx.cond(
            can("appointment.read"),
            rx.vstack(
                rx.flex(
                    rx.select.root(
                        rx.select.trigger(placeholder="All departments", data_testid="flow-department"),
                        rx.select.content(
                            rx.foreach(
                                FlowBoardState.departments, lambda d: rx.select.item(d.label, value=d.id)
                            ),
                        ),
                        value=rx.cond(FlowBoardState.department == "", "all", FlowBoardState.department),
                        on_change=FlowBoardState.set_department,
                    ),
                    rx.text(FlowBoardState.day, size="2", color_scheme="gray"),
                    rx.spacer(),
                    rx.hstack(
                        rx.badge(FlowBoardState.total.to_string() + " today", size="2", variant="surface"),
                        rx.badge(
                            FlowBoardState.no_show.to_string() + " no-show",
                            color_scheme="red",
                            variant="soft",
                            size="2",
                        ),
                        rx.badge(
                            FlowBoardState.cancelled.to_string() + " cancelled",
                            color_scheme="gray",
                            variant="soft",
                            size="2",
                        ),
                        spacing="2",
                        wrap="wrap",
                    ),
                    live_note(FlowBoardState.updated_at),
                    spacing="3",
                    align="center",
                    wrap="wrap",
                    width="100%",
                ),
                video_waiting_room(),
                rx.cond(
                    FlowBoardState.loaded,
                    rx.vstack(
                        rx.cond(
                            (FlowBoardState.department == "") & (FlowBoardState.rows.length() > 1),
                            counts_table(),
                        ),
                        rx.cond(
                            FlowBoardState.total + FlowBoardState.cancelled == 0,
                            rx.card(empty_state("No appointments today.", icon="calendar-x"), width="100%"),
                            rx.grid(
                                rx.foreach(FlowBoardState.columns, flow_column),
                                columns=rx.breakpoints(initial="1", sm="2", lg="4"),
                                spacing="3",
                                width="100%",
                                align_items="start",
                            ),
                        ),
                        spacing="4",
                        width="100%",
                    ),
                    skeleton_rows(8),
                ),
                spacing="4",
                width="100%",
                data_testid="flow-board",
                custom_attrs={"data-version": FlowBoardState.version},
            ),
        ),
        spacing="4",
        width="100%",
    )
