"""/schedule: the calendar of a department's day or week, the selected appointment beside it and
the booking dialog over it."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, refused
from hms_app.components.shell import staff_page
from hms_app.pages.scheduling.appointment_panel import side_panel
from hms_app.pages.scheduling.booking_dialog import booking_dialog
from hms_app.pages.scheduling.calendar_grid import calendar
from hms_app.pages.scheduling.common import option_select
from hms_app.state.scheduling import (
    ANY,
    KIND_LABELS,
    STATUS_COLORS,
    STATUS_LABELS,
    BookingState,
    ScheduleState,
)

STATUS_LEGEND = ("booked", "arrived", "in_room", "completed", "no_show", "cancelled", "offered")


@staff_page(route="/schedule", title="Schedule", on_load=[ScheduleState.load, ScheduleState.watch])
def schedule_page() -> rx.Component:
    return rx.vstack(
        refused("appointment.read", "Your role does not give access to the schedule."),
        rx.cond(
            can("appointment.read"),
            rx.vstack(
                toolbar(),
                summary_line(),
                rx.flex(
                    calendar(),
                    side_panel(),
                    direction=rx.breakpoints(initial="column", lg="row"),
                    spacing="4",
                    align="start",
                    width="100%",
                ),
                legend(),
                booking_dialog(),
                spacing="3",
                width="100%",
            ),
        ),
        spacing="4",
        width="100%",
    )


def toolbar() -> rx.Component:
    return rx.flex(
        option_select(
            ScheduleState.departments,
            ScheduleState.department_id,
            ScheduleState.set_department,
            "Department",
            "department-select",
        ),
        option_select(
            ScheduleState.resources,
            ScheduleState.resource_id,
            ScheduleState.set_resource,
            "Resource",
            "resource-select",
            any_label="Whole department",
        ),
        rx.segmented_control.root(
            rx.segmented_control.item("Day", value="day"),
            rx.segmented_control.item("Week", value="week"),
            value=ScheduleState.view,
            on_change=ScheduleState.set_view,
            data_testid="view-toggle",
        ),
        rx.hstack(
            rx.icon_button(
                rx.icon("chevron-left", size=16),
                variant="soft",
                on_click=ScheduleState.step(-1),
                aria_label="Previous",
                data_testid="prev-day",
            ),
            rx.button("Today", variant="soft", on_click=ScheduleState.step(0), data_testid="today"),
            rx.icon_button(
                rx.icon("chevron-right", size=16),
                variant="soft",
                on_click=ScheduleState.step(1),
                aria_label="Next",
                data_testid="next-day",
            ),
            rx.input(
                type="date",
                value=ScheduleState.day,
                on_change=ScheduleState.set_day,
                aria_label="Day",
                width="9.5rem",
                data_testid="day-input",
            ),
            spacing="2",
            align="center",
        ),
        rx.spacer(),
        rx.cond(
            can("appointment.book"),
            rx.button(
                rx.icon("calendar-plus", size=16),
                "Book",
                on_click=BookingState.open_new,
                data_testid="book-open",
            ),
        ),
        spacing="3",
        align="center",
        wrap="wrap",
        width="100%",
    )


def summary_line() -> rx.Component:
    return rx.flex(
        rx.heading(ScheduleState.title, size="4", data_testid="calendar-title"),
        rx.cond(
            (ScheduleState.view == "day") & (ScheduleState.resource_id == ANY),
            rx.hstack(*[kind_toggle(k) for k in KIND_LABELS], spacing="3", align="center"),
        ),
        rx.checkbox(
            "Show cancelled",
            checked=ScheduleState.show_cancelled,
            on_change=ScheduleState.set_show_cancelled,
            data_testid="show-cancelled",
        ),
        rx.spacer(),
        rx.flex(
            *[
                rx.cond(
                    ScheduleState.counts.contains(status),
                    rx.badge(
                        STATUS_LABELS[status],
                        " ",
                        ScheduleState.counts[status].to_string(),
                        color_scheme=STATUS_COLORS[status],
                        variant="soft",
                    ),
                )
                for status in STATUS_LEGEND
            ],
            spacing="2",
            wrap="wrap",
            data_testid="status-counts",
        ),
        spacing="4",
        align="center",
        wrap="wrap",
        width="100%",
    )


def kind_toggle(kind: str) -> rx.Component:
    label = {"provider": "Providers", "room": "Rooms", "equipment": "Equipment"}[kind]
    return rx.checkbox(
        label,
        checked=ScheduleState.kinds.contains(kind),
        on_change=lambda _v: ScheduleState.toggle_kind(kind),
        data_testid="kind-" + kind,
    )


def legend() -> rx.Component:
    return rx.flex(
        *[
            rx.hstack(
                rx.box(
                    width="10px", height="10px", border_radius="2px", background=rx.color(STATUS_COLORS[s], 9)
                ),
                rx.text(STATUS_LABELS[s], size="1", color_scheme="gray"),
                spacing="1",
                align="center",
            )
            for s in STATUS_LEGEND
        ],
        rx.hstack(
            rx.box(
                width="10px",
                height="10px",
                background=f"repeating-linear-gradient(135deg, {rx.color('gray', 3)} 0 3px, {rx.color('gray', 5)} 3px 6px)",
            ),
            rx.text("Not working", size="1", color_scheme="gray"),
            spacing="1",
            align="center",
        ),
        rx.spacer(),
        rx.link(
            rx.hstack(
                rx.icon("chart-bar", size=14), rx.text("No-show rates", size="2"), spacing="1", align="center"
            ),
            href="/schedule/stats",
            data_testid="no-show-link",
        ),
        spacing="3",
        wrap="wrap",
        align="center",
        width="100%",
    )
