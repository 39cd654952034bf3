"""The side panel of the selected appointment: its details, the actions its status allows, and the
cancel and move forms that replace the actions."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can
from hms_app.pages.scheduling.common import error_line, form_label
from hms_app.state.scheduling import ScheduleState, SeriesLine, SlotLine


def side_panel() -> rx.Component:
    detail = ScheduleState.detail
    return rx.cond(
        ScheduleState.panel != "",
        rx.card(
            rx.vstack(
                rx.hstack(
                    status_badge(detail.status, detail.color, detail.status_label),
                    rx.code(detail.reference, variant="ghost", data_testid="panel-reference"),
                    rx.spacer(),
                    rx.icon_button(
                        rx.icon("x", size=16),
                        variant="ghost",
                        color_scheme="gray",
                        on_click=ScheduleState.close_panel,
                        aria_label="Close",
                    ),
                    align="center",
                    width="100%",
                ),
                rx.link(
                    rx.heading(detail.patient, size="4"),
                    href="/patients/" + detail.patient_id.to_string(),
                    underline="hover",
                    data_testid="panel-patient",
                ),
                rx.text("MRN ", rx.code(detail.mrn, variant="ghost"), size="1", color_scheme="gray"),
                token_card(),
                detail_row(
                    "stethoscope",
                    detail.service,
                    " · ",
                    detail.visit,
                    rx.cond(detail.virtual, " · virtual", ""),
                ),
                detail_row("calendar", detail.day_label),
                detail_row("clock", detail.time),
                detail_row("users", detail.resources),
                rx.cond(
                    (detail.token != "") & (detail.status != "arrived") & (detail.status != "in_room"),
                    detail_row("ticket", "Queue token ", detail.token),
                ),
                series_box(),
                rx.cond(detail.booked_via != "staff", detail_row("globe", "Booked via ", detail.booked_via)),
                rx.cond(
                    detail.cancel_reason != "",
                    detail_row("message-square-warning", "Cancelled: ", detail.cancel_reason),
                ),
                rx.separator(size="4"),
                rx.match(
                    ScheduleState.panel,
                    ("cancel", cancel_form()),
                    ("move", move_panel()),
                    actions(),
                ),
                spacing="2",
                width="100%",
            ),
            width=["100%", "100%", "100%", "22rem"],
            min_width=["0", "0", "0", "22rem"],
            position=["static", "static", "static", "sticky"],
            top="5rem",
            data_testid="side-panel",
        ),
    )


def status_badge(status, color, label) -> rx.Component:
    return rx.badge(label, color_scheme=color, variant="soft", data_testid="status-badge")


def detail_row(icon: str, *children) -> rx.Component:
    return rx.hstack(
        rx.icon(icon, size=16, color=rx.color("gray", 10), flex_shrink="0", margin_top="2px"),
        rx.text(*children, size="2"),
        spacing="2",
        align="start",
        width="100%",
    )


def token_card() -> rx.Component:
    """The queue token, big while the patient is waiting or in the room (read out, called)."""
    return rx.cond(
        (ScheduleState.detail.token != "")
        & ((ScheduleState.detail.status == "arrived") | (ScheduleState.detail.status == "in_room")),
        rx.box(
            rx.text("Queue token", size="1", color_scheme="gray", text_align="center"),
            rx.heading(ScheduleState.detail.token, size="9", text_align="center", data_testid="queue-token"),
            padding="0.75rem",
            border_radius="var(--radius-3)",
            background=rx.color("amber", 3),
            border=f"1px solid {rx.color('amber', 7)}",
            width="100%",
        ),
    )


def series_box() -> rx.Component:
    """A recurring series stays visible as a whole: every visit, cancelled ones too."""
    detail = ScheduleState.detail
    return rx.cond(
        detail.series != "",
        rx.vstack(
            rx.hstack(
                detail_row("repeat", "Recurring series ", rx.code(detail.series, variant="ghost")),
                rx.cond(
                    ScheduleState.series.length() == 0,
                    rx.button(
                        "Show all",
                        size="1",
                        variant="ghost",
                        on_click=ScheduleState.show_series,
                        data_testid="show-series",
                    ),
                ),
                align="center",
                width="100%",
            ),
            rx.cond(
                ScheduleState.series.length() > 0,
                rx.vstack(
                    rx.foreach(ScheduleState.series, series_line),
                    spacing="1",
                    width="100%",
                    padding_left="1.5rem",
                    max_height="12rem",
                    overflow_y="auto",
                ),
            ),
            spacing="1",
            width="100%",
        ),
    )


def series_line(line: SeriesLine) -> rx.Component:
    return rx.hstack(
        rx.text(line.when, size="1", weight=rx.cond(line.current, "bold", "regular")),
        rx.spacer(),
        rx.badge(line.status_label, color_scheme=line.color, variant="soft", size="1"),
        width="100%",
        align="center",
        data_testid="series-" + line.reference,
    )


def video_link() -> rx.Component:
    """A virtual visit of today: its call page (the clinician booked on it admits and talks there)."""
    detail = ScheduleState.detail
    return rx.cond(
        detail.virtual
        & detail.is_today
        & ((detail.status == "booked") | (detail.status == "arrived") | (detail.status == "in_room"))
        & can("telehealth.conduct"),
        rx.link(
            rx.button(rx.icon("video", size=14), "Video visit", size="2", color_scheme="blue"),
            href="/video/" + detail.id.to_string(),
            data_testid="action-video",
        ),
    )


def actions() -> rx.Component:
    detail = ScheduleState.detail
    return rx.flex(
        video_link(),
        rx.cond(
            (detail.status == "booked") & detail.is_today,
            action("Check in", "log-in", ScheduleState.check_in, "appointment.flow", "action-check-in"),
        ),
        rx.cond(
            detail.status == "arrived",
            action("Call in", "door-open", ScheduleState.call_in, "appointment.flow", "action-call"),
        ),
        rx.cond(
            (detail.status == "arrived") | (detail.status == "in_room"),
            action(
                "Complete",
                "circle-check",
                ScheduleState.complete,
                "appointment.flow",
                "action-complete",
                color_scheme="green",
            ),
        ),
        rx.cond(
            detail.status == "offered",
            action(
                "Patient accepts",
                "calendar-check",
                ScheduleState.accept_offer,
                "appointment.book",
                "action-accept",
            ),
        ),
        rx.cond(
            detail.status == "offered",
            action(
                "Patient declines",
                "calendar-minus",
                ScheduleState.decline_offer,
                "appointment.book",
                "action-decline",
                variant="soft",
                color_scheme="gray",
            ),
        ),
        rx.cond(
            detail.status == "booked",
            action(
                "Move",
                "calendar-clock",
                ScheduleState.ask_move,
                "appointment.book",
                "action-move",
                variant="soft",
            ),
        ),
        rx.cond(
            (detail.status == "booked") & detail.started,
            action(
                "No-show",
                "user-x",
                ScheduleState.no_show,
                "appointment.flow",
                "action-no-show",
                variant="soft",
                color_scheme="red",
            ),
        ),
        rx.cond(
            detail.status == "booked",
            action(
                "Cancel",
                "calendar-x",
                ScheduleState.ask_cancel,
                "appointment.book",
                "action-cancel",
                variant="soft",
                color_scheme="gray",
            ),
        ),
        spacing="2",
        wrap="wrap",
        width="100%",
    )


def action(label: str, icon: str, on_click, permission: str, test_id: str, **props) -> rx.Component:
    return rx.cond(
        can(permission),
        rx.button(
            rx.icon(icon, size=16),
            label,
            on_click=on_click,
            loading=ScheduleState.busy,
            data_testid=test_id,
            **props,
        ),
    )


def cancel_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            form_label("Why is the appointment cancelled?", "cancel-reason"),
            rx.text_area(
                name="reason",
                id="cancel-reason",
                placeholder="e.g. patient called: feeling better",
                max_length=300,
                width="100%",
                auto_focus=True,
                data_testid="cancel-reason",
            ),
            rx.cond(ScheduleState.panel_error != "", error_line(ScheduleState.panel_error, "panel-error")),
            rx.flex(
                rx.button(
                    "Back",
                    type="button",
                    variant="soft",
                    color_scheme="gray",
                    on_click=ScheduleState.back_to_details,
                ),
                rx.button(
                    "Cancel appointment",
                    type="submit",
                    color_scheme="red",
                    loading=ScheduleState.busy,
                    data_testid="confirm-cancel",
                ),
                spacing="2",
                justify="end",
                width="100%",
            ),
            spacing="2",
            width="100%",
        ),
        on_submit=ScheduleState.confirm_cancel,
        reset_on_submit=False,
        width="100%",
    )


def move_panel() -> rx.Component:
    return rx.vstack(
        rx.text("Move to a free time", size="2", weight="medium"),
        rx.hstack(
            rx.icon_button(
                rx.icon("chevron-left", size=16),
                variant="soft",
                size="1",
                on_click=ScheduleState.move_day_step(-1),
                aria_label="Previous day",
            ),
            rx.input(
                type="date",
                value=ScheduleState.move_day,
                on_change=ScheduleState.set_move_day,
                size="1",
                width="9.5rem",
                data_testid="move-day",
            ),
            rx.icon_button(
                rx.icon("chevron-right", size=16),
                variant="soft",
                size="1",
                on_click=ScheduleState.move_day_step(1),
                aria_label="Next day",
                data_testid="move-next-day",
            ),
            spacing="2",
            align="center",
        ),
        rx.checkbox(
            "Same provider",
            checked=ScheduleState.move_same_resource,
            on_change=ScheduleState.set_move_same_resource,
            data_testid="move-same",
        ),
        rx.cond(ScheduleState.panel_error != "", error_line(ScheduleState.panel_error, "panel-error")),
        rx.cond(
            ScheduleState.move_slots.length() > 0,
            rx.box(
                rx.grid(
                    rx.foreach(ScheduleState.move_slots, move_slot), columns="2", spacing="2", width="100%"
                ),
                max_height="22rem",
                overflow_y="auto",
                width="100%",
                data_testid="move-slots",
            ),
            rx.text(
                "No free time on this day. Try the next day.",
                size="2",
                color_scheme="gray",
                data_testid="move-none",
            ),
        ),
        rx.button(
            "Back", variant="soft", color_scheme="gray", on_click=ScheduleState.back_to_details, width="100%"
        ),
        spacing="2",
        width="100%",
    )


def move_slot(slot: SlotLine) -> rx.Component:
    return rx.button(
        rx.vstack(
            rx.text(slot.time, weight="bold", size="2"),
            rx.text(
                slot.resources,
                size="1",
                color_scheme="gray",
                white_space="nowrap",
                overflow="hidden",
                text_overflow="ellipsis",
                max_width="9rem",
            ),
            spacing="0",
            align="start",
        ),
        variant="surface",
        height="auto",
        padding_y="0.35rem",
        on_click=ScheduleState.move_to(slot.key),
        loading=ScheduleState.busy,
        data_testid="move-slot-" + slot.time,
    )
