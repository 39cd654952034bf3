"""The calendar grid: an hour gutter, then one column per resource (day) or per day (week) with
working-hour bands, appointment blocks, bookable empty cells and the line for now."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can
from hms_app.components.ui import empty_state, skeleton_rows
from hms_app.state.scheduling import (
    GRID_MINUTES,
    PX_PER_MINUTE,
    Band,
    Block,
    BookingState,
    Cell,
    Column,
    HourMark,
    ScheduleState,
)

CELL_PX = round(GRID_MINUTES * PX_PER_MINUTE)
HEADER_PX = 52
GUTTER = "3.5rem"
GRID_PAD = "10px"  # room above the first hour line for its label


def calendar() -> rx.Component:
    return rx.card(
        rx.cond(
            ScheduleState.loaded,
            rx.cond(
                ScheduleState.columns.length() > 0,
                rx.box(
                    rx.flex(
                        gutter(),
                        rx.flex(rx.foreach(ScheduleState.columns, column), flex="1", min_width="0"),
                        width="100%",
                        min_width="fit-content",
                    ),
                    overflow="auto",
                    max_height="calc(100vh - 15rem)",
                    min_height="24rem",
                    width="100%",
                    data_testid="calendar",
                    data_version=ScheduleState.version,
                ),
                empty_state(
                    rx.cond(
                        ScheduleState.departments.length() > 0,
                        "Nothing bookable to show: choose another department or show rooms and equipment too.",
                        "No department has bookable resources yet. Set them up under Schedule setup.",
                    ),
                    icon="calendar-x",
                ),
            ),
            skeleton_rows(10),
        ),
        padding="0",
        width="100%",
        min_width="0",
        flex="1",
    )


def gutter() -> rx.Component:
    return rx.box(
        rx.box(
            height=f"{HEADER_PX}px", position="sticky", top="0", background=rx.color("gray", 1), z_index="4"
        ),
        rx.box(
            rx.box(
                rx.foreach(ScheduleState.hours, hour_label),
                position="relative",
                height=pixels(ScheduleState.grid_height),
            ),
            padding_y=GRID_PAD,
        ),
        width=GUTTER,
        min_width=GUTTER,
        position="sticky",
        left="0",
        z_index="3",
        background=rx.color("gray", 1),
    )


def hour_label(mark: HourMark) -> rx.Component:
    return rx.text(
        mark.label,
        size="1",
        color_scheme="gray",
        position="absolute",
        top=pixels(mark.top),
        right="0.4rem",
        transform="translateY(-50%)",
        background=rx.color("gray", 1),
        padding_x="2px",
    )


def column(col: Column) -> rx.Component:
    return rx.box(
        column_header(col),
        rx.box(
            rx.box(
                rx.cond(
                    can("appointment.book"),
                    rx.foreach(ScheduleState.cells, lambda cell: empty_cell(col, cell, True)),
                    rx.foreach(ScheduleState.cells, lambda cell: empty_cell(col, cell, False)),
                ),
                rx.foreach(col.bands, band),
                rx.foreach(col.blocks, block),
                rx.cond(col.is_today & (ScheduleState.now_top >= 0), now_line()),
                position="relative",
                height=pixels(ScheduleState.grid_height),
            ),
            padding_y=GRID_PAD,
        ),
        flex="1",
        # a week's seven columns fit beside the icon sidebar on an 820 px tablet
        min_width=rx.cond(ScheduleState.view == "week", "5.75rem", "10rem"),
        border_left=f"1px solid {rx.color('gray', 5)}",
        background=rx.cond(
            col.is_today & (ScheduleState.view == "week"), rx.color("accent", 1), "transparent"
        ),
        data_testid="column",
        data_day=col.day,
        data_resource=col.resource_id,
    )


def column_header(col: Column) -> rx.Component:
    title = rx.vstack(
        rx.text(
            col.title,
            size="2",
            weight="bold",
            white_space="nowrap",
            overflow="hidden",
            text_overflow="ellipsis",
            max_width="100%",
        ),
        rx.text(col.subtitle, size="1", color_scheme="gray", white_space="nowrap"),
        spacing="0",
        align="center",
        width="100%",
    )
    return rx.box(
        rx.cond(
            ScheduleState.view == "week",
            rx.link(
                title,
                on_click=ScheduleState.open_day(col.day),
                cursor="pointer",
                underline="none",
                color="inherit",
            ),
            title,
        ),
        height=f"{HEADER_PX}px",
        padding="0.4rem",
        position="sticky",
        top="0",
        z_index="2",
        background=rx.cond(col.is_today, rx.color("accent", 3), rx.color("gray", 2)),
        border_bottom=f"1px solid {rx.color('gray', 6)}",
        data_testid="column-header",
    )


def empty_cell(col: Column, cell: Cell, bookable: bool) -> rx.Component:
    """A 15-minute stretch of a column; for those who may book, a click books at that time."""
    line = rx.cond(cell.hour, f"1px solid {rx.color('gray', 6)}", f"1px dashed {rx.color('gray', 4)}")
    common = {
        "position": "absolute",
        "top": pixels(cell.top),
        "height": f"{CELL_PX}px",
        "left": "0",
        "right": "0",
        "border_top": line,
    }
    if not bookable:
        return rx.box(**common)
    return rx.box(
        **common,
        cursor="pointer",
        _hover={"background": rx.color("accent", 3)},
        on_click=BookingState.open_at(col.day, col.resource_id, cell.minute),
        title="Book at " + cell.label,
        data_testid="cell-" + col.resource_id.to_string() + "-" + col.day + "-" + cell.label,
    )


def band(b: Band) -> rx.Component:
    color = b.color
    return rx.box(
        rx.cond(
            b.label != "",
            rx.text(b.label, size="1", color=tone(color, 11), padding="0.25rem", weight="medium"),
        ),
        position="absolute",
        top=pixels(b.top),
        height=pixels(b.height),
        left="0",
        right="0",
        background=rx.cond(
            b.kind == "off",
            f"repeating-linear-gradient(135deg, {rx.color('gray', 3)} 0 6px, {rx.color('gray', 4)} 6px 12px)",
            "repeating-linear-gradient(135deg, "
            + tone(color, 3)
            + " 0 6px, "
            + tone(color, 4)
            + " 6px 12px)",
        ),
        opacity="0.85",
        pointer_events="none",
        overflow="hidden",
        data_testid="band-" + b.kind,
    )


def block(b: Block) -> rx.Component:
    return rx.cond(b.more > 0, more_chip(b), visit_block(b))


def more_chip(b: Block) -> rx.Component:
    """Visits folded away from a crowded week column: a small chip on the visit that stays,
    opening that day, where each has room."""
    return rx.box(
        rx.text(b.patient, size="1", weight="bold", white_space="nowrap"),
        position="absolute",
        top=pixels(b.top + 2),
        right="4px",
        height=pixels(b.height),
        padding_x="0.3rem",
        display="flex",
        align_items="center",
        border_radius="var(--radius-5)",
        background=rx.color("gray", 12),
        color=rx.color("gray", 1),
        box_shadow="0 1px 2px rgba(0,0,0,0.2)",
        cursor="pointer",
        z_index="2",
        _hover={"background": rx.color("accent", 11)},
        on_click=ScheduleState.open_day(b.day),
        title=b.visit,
        aria_label=b.visit,
        role="button",
        data_testid="more-" + b.day,
    )


def visit_block(b: Block) -> rx.Component:
    token = rx.cond(
        b.token != "",
        rx.badge(b.token, color_scheme="amber", variant="solid", size="1", data_testid="block-token"),
    )
    icons = rx.hstack(
        rx.cond(b.series, rx.icon("repeat", size=12, aria_label="Recurring series")),
        rx.cond(b.virtual, rx.icon("video", size=12, aria_label="Virtual visit")),
        spacing="1",
    )
    return rx.box(
        rx.cond(
            b.compact,
            rx.hstack(
                rx.text(b.start, size="1", weight="bold", flex_shrink="0"),
                rx.text(
                    b.patient, size="1", white_space="nowrap", overflow="hidden", text_overflow="ellipsis"
                ),
                rx.spacer(),
                token,
                spacing="1",
                align="center",
                width="100%",
            ),
            rx.vstack(
                rx.hstack(
                    rx.text(
                        b.patient,
                        size="1",
                        weight="bold",
                        white_space="nowrap",
                        overflow="hidden",
                        text_overflow="ellipsis",
                    ),
                    rx.spacer(),
                    token,
                    spacing="1",
                    align="center",
                    width="100%",
                ),
                rx.hstack(
                    rx.text(
                        b.time,
                        " · ",
                        b.visit,
                        size="1",
                        white_space="nowrap",
                        overflow="hidden",
                        text_overflow="ellipsis",
                    ),
                    icons,
                    spacing="1",
                    align="center",
                    width="100%",
                ),
                spacing="0",
                width="100%",
            ),
        ),
        position="absolute",
        top=pixels(b.top),
        height=pixels(b.height),
        left="calc(" + b.left.to_string() + "% + 2px)",
        width="calc(" + b.width.to_string() + "% - 4px)",
        padding_x="0.35rem",
        padding_y="1px",
        overflow="hidden",
        border_radius="var(--radius-2)",
        background=tone(b.color, 3),
        border_left="3px solid " + tone(b.color, 9),
        color=tone(b.color, 12),
        box_shadow="0 1px 2px rgba(0,0,0,0.08)",
        opacity=rx.cond((b.status == "cancelled") | (b.status == "no_show"), "0.6", "1"),
        text_decoration=rx.cond(b.status == "cancelled", "line-through", "none"),
        outline=rx.cond(ScheduleState.detail.id == b.id, "2px solid " + tone(b.color, 10), "none"),
        cursor="pointer",
        z_index="1",
        _hover={"filter": "brightness(0.97)", "z_index": "2"},
        on_click=ScheduleState.select(b.id),
        title=b.time + " " + b.patient + " · " + b.visit + " · " + b.reference,
        data_testid="block-" + b.reference,
        data_status=b.status,
    )


def now_line() -> rx.Component:
    return rx.box(
        rx.box(
            width="9px",
            height="9px",
            border_radius="50%",
            background=rx.color("red", 9),
            position="absolute",
            left="-5px",
            top="-4px",
        ),
        position="absolute",
        top=pixels(ScheduleState.now_top),
        left="0",
        right="0",
        height="2px",
        background=rx.color("red", 9),
        z_index="3",
        pointer_events="none",
        data_testid="now-line",
    )


def pixels(value) -> rx.Var:
    return value.to_string() + "px"


def tone(color, step: int) -> rx.Var:
    """A Radix colour step from a colour name held in state, e.g. var(--blue-9)."""
    return "var(--" + color + "-" + str(step) + ")"
