"""Staff scheduling screens: the calendar with its side panel and booking dialog (/schedule), the
no-show rates (/schedule/stats) and the set-up of resources, services, templates and time off
(/schedule/setup)."""

from __future__ import annotations

import reflex as rx

from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, scroll_box, skeleton_rows
from hms_app.state.scheduling import (
    ANY,
    GRID_MINUTES,
    KIND_LABELS,
    PX_PER_MINUTE,
    STATUS_COLORS,
    STATUS_LABELS,
    WEEKDAYS,
    Band,
    Block,
    BookingState,
    Cell,
    Column,
    ExceptionLine,
    HourMark,
    NoShowState,
    Option,
    PatientPick,
    RateLine,
    ResourceLine,
    RuleLine,
    ScheduleSetupState,
    ScheduleState,
    SeriesLine,
    ServiceLine,
    SlotLine,
    TypeLine,
)
from hms_app.state.session import SessionState

S = ScheduleState
B = BookingState
N = NoShowState
U = ScheduleSetupState

CELL_PX = round(GRID_MINUTES * PX_PER_MINUTE)
HEADER_PX = 52
GUTTER = "3.5rem"
GRID_PAD = "10px"  # room above the first hour line for its label


def can(permission: str) -> rx.Var:
    """Whether the signed-in user holds ``permission``: only for what to draw; the server decides."""
    return SessionState.user_permissions.contains(permission)


def refused(permission: str, message: str) -> rx.Component:
    return rx.cond(
        ~can(permission),
        rx.callout(message, icon="shield-alert", color_scheme="amber", data_testid="no-access"),
    )


def pixels(value) -> rx.Var:
    return value.to_string() + "px"


def tone(color, step: int) -> rx.Var:
    """A Radix colour step from a colour name held in state, e.g. var(--blue-9)."""
    return "var(--" + color + "-" + str(step) + ")"


def error_line(message, test_id: str = "") -> rx.Component:
    return rx.flex(
        rx.icon("circle-alert", size=12, flex_shrink="0", margin_top="0.2em"),
        rx.text(message, size="1"),
        spacing="1",
        color=rx.color("red", 11),
        data_testid=test_id or "field-error",
    )


def field_error(state, name: str) -> rx.Component:
    return rx.cond(state.error_field == name, error_line(state.error_text, "error-" + name))


def general_error(state, fields: tuple[str, ...] = ()) -> rx.Component:
    shown = state.error_text != ""
    for name in fields:
        shown = shown & (state.error_field != name)
    return rx.cond(
        shown,
        rx.callout(
            state.error_text,
            icon="triangle-alert",
            color_scheme="red",
            size="1",
            width="100%",
            data_testid="form-error",
        ),
    )


def form_label(text: str, html_for: str = "") -> rx.Component:
    props = {"html_for": html_for} if html_for else {}
    return rx.el.label(
        text,
        font_size="var(--font-size-2)",
        font_weight="500",
        line_height="var(--line-height-2)",
        **props,
    )


def labelled(label: str, control: rx.Component, state=None, name: str = "", hint: str = "") -> rx.Component:
    return rx.vstack(
        form_label(label, name),
        control,
        rx.text(hint, size="1", color_scheme="gray") if hint else rx.fragment(),
        field_error(state, name) if state is not None and name else rx.fragment(),
        spacing="1",
        width="100%",
        align="start",
    )


def option_select(options, value, on_change, placeholder: str, test_id: str, any_label: str = "", **props):
    """A select over [Option]; with ``any_label`` a first item meaning "any"."""
    return rx.select.root(
        rx.select.trigger(placeholder=placeholder, data_testid=test_id, **props),
        rx.select.content(
            rx.select.item(any_label, value=ANY) if any_label else rx.fragment(),
            rx.foreach(options, lambda o: rx.select.item(o.label, value=o.id)),
        ),
        value=value,
        on_change=on_change,
    )


def status_badge(status, color, label) -> rx.Component:
    return rx.badge(label, color_scheme=color, variant="soft", data_testid="status-badge")


STATUS_LEGEND = ("booked", "arrived", "in_room", "completed", "no_show", "cancelled", "offered")


# ====================================================================== /schedule: toolbar


def toolbar() -> rx.Component:
    return rx.flex(
        option_select(S.departments, S.department_id, S.set_department, "Department", "department-select"),
        option_select(
            S.resources,
            S.resource_id,
            S.set_resource,
            "Resource",
            "resource-select",
            any_label="Whole department",
        ),
        rx.segmented_control.root(
            rx.segmented_control.item("Day", value="day"),
            rx.segmented_control.item("Week", value="week"),
            value=S.view,
            on_change=S.set_view,
            data_testid="view-toggle",
        ),
        rx.hstack(
            rx.icon_button(
                rx.icon("chevron-left", size=16),
                variant="soft",
                on_click=S.step(-1),
                aria_label="Previous",
                data_testid="prev-day",
            ),
            rx.button("Today", variant="soft", on_click=S.step(0), data_testid="today"),
            rx.icon_button(
                rx.icon("chevron-right", size=16),
                variant="soft",
                on_click=S.step(1),
                aria_label="Next",
                data_testid="next-day",
            ),
            rx.input(
                type="date",
                value=S.day,
                on_change=S.set_day,
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
                rx.icon("calendar-plus", size=16), "Book", on_click=B.open_new, data_testid="book-open"
            ),
        ),
        spacing="3",
        align="center",
        wrap="wrap",
        width="100%",
    )


def kind_toggle(kind: str) -> rx.Component:
    label = {"provider": "Providers", "room": "Rooms", "equipment": "Equipment"}[kind]
    return rx.checkbox(
        label,
        checked=S.kinds.contains(kind),
        on_change=lambda _v: S.toggle_kind(kind),
        data_testid="kind-" + kind,
    )


def summary_line() -> rx.Component:
    return rx.flex(
        rx.heading(S.title, size="4", data_testid="calendar-title"),
        rx.cond(
            (S.view == "day") & (S.resource_id == ANY),
            rx.hstack(*[kind_toggle(k) for k in KIND_LABELS], spacing="3", align="center"),
        ),
        rx.checkbox(
            "Show cancelled",
            checked=S.show_cancelled,
            on_change=S.set_show_cancelled,
            data_testid="show-cancelled",
        ),
        rx.spacer(),
        rx.flex(
            *[
                rx.cond(
                    S.counts.contains(status),
                    rx.badge(
                        STATUS_LABELS[status],
                        " ",
                        S.counts[status].to_string(),
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


# ====================================================================== /schedule: the grid


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


def gutter() -> rx.Component:
    return rx.box(
        rx.box(
            height=f"{HEADER_PX}px", position="sticky", top="0", background=rx.color("gray", 1), z_index="4"
        ),
        rx.box(
            rx.box(rx.foreach(S.hours, hour_label), position="relative", height=pixels(S.grid_height)),
            padding_y=GRID_PAD,
        ),
        width=GUTTER,
        min_width=GUTTER,
        position="sticky",
        left="0",
        z_index="3",
        background=rx.color("gray", 1),
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
            S.view == "week",
            rx.link(title, on_click=S.open_day(col.day), cursor="pointer", underline="none", color="inherit"),
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
        on_click=B.open_at(col.day, col.resource_id, cell.minute),
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
        outline=rx.cond(S.detail.id == b.id, "2px solid " + tone(b.color, 10), "none"),
        cursor="pointer",
        z_index="1",
        _hover={"filter": "brightness(0.97)", "z_index": "2"},
        on_click=S.select(b.id),
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
        top=pixels(S.now_top),
        left="0",
        right="0",
        height="2px",
        background=rx.color("red", 9),
        z_index="3",
        pointer_events="none",
        data_testid="now-line",
    )


def column(col: Column) -> rx.Component:
    return rx.box(
        column_header(col),
        rx.box(
            rx.box(
                rx.cond(
                    can("appointment.book"),
                    rx.foreach(S.cells, lambda cell: empty_cell(col, cell, True)),
                    rx.foreach(S.cells, lambda cell: empty_cell(col, cell, False)),
                ),
                rx.foreach(col.bands, band),
                rx.foreach(col.blocks, block),
                rx.cond(col.is_today & (S.now_top >= 0), now_line()),
                position="relative",
                height=pixels(S.grid_height),
            ),
            padding_y=GRID_PAD,
        ),
        flex="1",
        min_width=rx.cond(S.view == "week", "7.5rem", "10rem"),
        border_left=f"1px solid {rx.color('gray', 5)}",
        background=rx.cond(col.is_today & (S.view == "week"), rx.color("accent", 1), "transparent"),
        data_testid="column",
        data_day=col.day,
        data_resource=col.resource_id,
    )


def calendar() -> rx.Component:
    return rx.card(
        rx.cond(
            S.loaded,
            rx.cond(
                S.columns.length() > 0,
                rx.box(
                    rx.flex(
                        gutter(),
                        rx.flex(rx.foreach(S.columns, column), flex="1", min_width="0"),
                        width="100%",
                        min_width="fit-content",
                    ),
                    overflow="auto",
                    max_height="calc(100vh - 15rem)",
                    min_height="24rem",
                    width="100%",
                    data_testid="calendar",
                    data_version=S.version,
                ),
                empty_state(
                    rx.cond(
                        S.departments.length() > 0,
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


# ====================================================================== /schedule: the side panel


def detail_row(icon: str, *children) -> rx.Component:
    return rx.hstack(
        rx.icon(icon, size=16, color=rx.color("gray", 10), flex_shrink="0", margin_top="2px"),
        rx.text(*children, size="2"),
        spacing="2",
        align="start",
        width="100%",
    )


def action(label: str, icon: str, on_click, permission: str, test_id: str, **props) -> rx.Component:
    return rx.cond(
        can(permission),
        rx.button(
            rx.icon(icon, size=16), label, on_click=on_click, loading=S.busy, data_testid=test_id, **props
        ),
    )


def actions() -> rx.Component:
    d = S.detail
    return rx.flex(
        rx.cond(
            (d.status == "booked") & d.is_today,
            action("Check in", "log-in", S.check_in, "appointment.flow", "action-check-in"),
        ),
        rx.cond(
            d.status == "arrived",
            action("Call in", "door-open", S.call_in, "appointment.flow", "action-call"),
        ),
        rx.cond(
            (d.status == "arrived") | (d.status == "in_room"),
            action(
                "Complete",
                "circle-check",
                S.complete,
                "appointment.flow",
                "action-complete",
                color_scheme="green",
            ),
        ),
        rx.cond(
            d.status == "offered",
            action("Patient accepts", "calendar-check", S.accept_offer, "appointment.book", "action-accept"),
        ),
        rx.cond(
            d.status == "offered",
            action(
                "Patient declines",
                "calendar-minus",
                S.decline_offer,
                "appointment.book",
                "action-decline",
                variant="soft",
                color_scheme="gray",
            ),
        ),
        rx.cond(
            d.status == "booked",
            action("Move", "calendar-clock", S.ask_move, "appointment.book", "action-move", variant="soft"),
        ),
        rx.cond(
            (d.status == "booked") & d.started,
            action(
                "No-show",
                "user-x",
                S.no_show,
                "appointment.flow",
                "action-no-show",
                variant="soft",
                color_scheme="red",
            ),
        ),
        rx.cond(
            d.status == "booked",
            action(
                "Cancel",
                "calendar-x",
                S.ask_cancel,
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


def token_card() -> rx.Component:
    """The queue token, big while the patient is waiting or in the room (read out, called)."""
    return rx.cond(
        (S.detail.token != "") & ((S.detail.status == "arrived") | (S.detail.status == "in_room")),
        rx.box(
            rx.text("Queue token", size="1", color_scheme="gray", text_align="center"),
            rx.heading(S.detail.token, size="9", text_align="center", data_testid="queue-token"),
            padding="0.75rem",
            border_radius="var(--radius-3)",
            background=rx.color("amber", 3),
            border=f"1px solid {rx.color('amber', 7)}",
            width="100%",
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
            rx.cond(S.panel_error != "", error_line(S.panel_error, "panel-error")),
            rx.flex(
                rx.button(
                    "Back", type="button", variant="soft", color_scheme="gray", on_click=S.back_to_details
                ),
                rx.button(
                    "Cancel appointment",
                    type="submit",
                    color_scheme="red",
                    loading=S.busy,
                    data_testid="confirm-cancel",
                ),
                spacing="2",
                justify="end",
                width="100%",
            ),
            spacing="2",
            width="100%",
        ),
        on_submit=S.confirm_cancel,
        reset_on_submit=False,
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
        on_click=S.move_to(slot.key),
        loading=S.busy,
        data_testid="move-slot-" + slot.time,
    )


def move_panel() -> rx.Component:
    return rx.vstack(
        rx.text("Move to a free time", size="2", weight="medium"),
        rx.hstack(
            rx.icon_button(
                rx.icon("chevron-left", size=16),
                variant="soft",
                size="1",
                on_click=S.move_day_step(-1),
                aria_label="Previous day",
            ),
            rx.input(
                type="date",
                value=S.move_day,
                on_change=S.set_move_day,
                size="1",
                width="9.5rem",
                data_testid="move-day",
            ),
            rx.icon_button(
                rx.icon("chevron-right", size=16),
                variant="soft",
                size="1",
                on_click=S.move_day_step(1),
                aria_label="Next day",
                data_testid="move-next-day",
            ),
            spacing="2",
            align="center",
        ),
        rx.checkbox(
            "Same provider",
            checked=S.move_same_resource,
            on_change=S.set_move_same_resource,
            data_testid="move-same",
        ),
        rx.cond(S.panel_error != "", error_line(S.panel_error, "panel-error")),
        rx.cond(
            S.move_slots.length() > 0,
            rx.box(
                rx.grid(rx.foreach(S.move_slots, move_slot), columns="2", spacing="2", width="100%"),
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
        rx.button("Back", variant="soft", color_scheme="gray", on_click=S.back_to_details, width="100%"),
        spacing="2",
        width="100%",
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


def series_box() -> rx.Component:
    """A recurring series stays visible as a whole: every visit, cancelled ones too."""
    d = S.detail
    return rx.cond(
        d.series != "",
        rx.vstack(
            rx.hstack(
                detail_row("repeat", "Recurring series ", rx.code(d.series, variant="ghost")),
                rx.cond(
                    S.series.length() == 0,
                    rx.button(
                        "Show all",
                        size="1",
                        variant="ghost",
                        on_click=S.show_series,
                        data_testid="show-series",
                    ),
                ),
                align="center",
                width="100%",
            ),
            rx.cond(
                S.series.length() > 0,
                rx.vstack(
                    rx.foreach(S.series, series_line),
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


def side_panel() -> rx.Component:
    d = S.detail
    return rx.cond(
        S.panel != "",
        rx.card(
            rx.vstack(
                rx.hstack(
                    status_badge(d.status, d.color, d.status_label),
                    rx.code(d.reference, variant="ghost", data_testid="panel-reference"),
                    rx.spacer(),
                    rx.icon_button(
                        rx.icon("x", size=16),
                        variant="ghost",
                        color_scheme="gray",
                        on_click=S.close_panel,
                        aria_label="Close",
                    ),
                    align="center",
                    width="100%",
                ),
                rx.link(
                    rx.heading(d.patient, size="4"),
                    href="/patients/" + d.patient_id.to_string(),
                    underline="hover",
                    data_testid="panel-patient",
                ),
                rx.text("MRN ", rx.code(d.mrn, variant="ghost"), size="1", color_scheme="gray"),
                token_card(),
                detail_row("stethoscope", d.service, " · ", d.visit, rx.cond(d.virtual, " · virtual", "")),
                detail_row("calendar", d.day_label),
                detail_row("clock", d.time),
                detail_row("users", d.resources),
                rx.cond(
                    (d.token != "") & (d.status != "arrived") & (d.status != "in_room"),
                    detail_row("ticket", "Queue token ", d.token),
                ),
                series_box(),
                rx.cond(d.booked_via != "staff", detail_row("globe", "Booked via ", d.booked_via)),
                rx.cond(
                    d.cancel_reason != "",
                    detail_row("message-square-warning", "Cancelled: ", d.cancel_reason),
                ),
                rx.separator(size="4"),
                rx.match(
                    S.panel,
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


# ====================================================================== /schedule: the booking dialog


def patient_hit(p: PatientPick) -> rx.Component:
    return rx.button(
        rx.hstack(
            rx.text(p.name, weight="medium", size="2"),
            rx.code(p.mrn, variant="ghost", size="1"),
            rx.spacer(),
            rx.text("born ", p.born, size="1", color_scheme="gray"),
            width="100%",
            align="center",
        ),
        variant="ghost",
        width="100%",
        justify="start",
        on_click=B.pick_patient(p.id),
        data_testid="patient-hit-" + p.mrn,
    )


def patient_picker() -> rx.Component:
    return rx.cond(
        B.patient_id > 0,
        rx.hstack(
            rx.icon("user-round-check", size=18, color=rx.color("green", 10)),
            rx.text(B.patient_label, size="2", weight="medium", data_testid="chosen-patient"),
            rx.spacer(),
            rx.button("Change", variant="ghost", size="1", on_click=B.clear_patient),
            align="center",
            width="100%",
            padding="0.5rem",
            border=f"1px solid {rx.color('green', 6)}",
            border_radius="var(--radius-3)",
            background=rx.color("green", 2),
        ),
        rx.vstack(
            rx.input(
                rx.input.slot(rx.icon("search", size=16)),
                placeholder="Name, MRN, phone or date of birth",
                value=B.patient_query,
                on_change=B.set_patient_query,
                debounce_timeout=300,
                max_length=100,
                width="100%",
                id="patient_id",
                data_testid="booking-patient-search",
            ),
            rx.cond(
                B.patient_hits.length() > 0,
                rx.vstack(
                    rx.foreach(B.patient_hits, patient_hit),
                    spacing="1",
                    width="100%",
                    max_height="12rem",
                    overflow_y="auto",
                ),
                rx.cond(
                    B.patient_query.length() >= 2,
                    rx.text("No active patient matches.", size="1", color_scheme="gray"),
                ),
            ),
            spacing="1",
            width="100%",
        ),
    )


def booking_slot(slot: SlotLine) -> rx.Component:
    chosen = B.slot_key == slot.key
    return rx.button(
        rx.vstack(
            rx.text(slot.time, weight="bold", size="2"),
            rx.text(
                slot.resources,
                size="1",
                white_space="nowrap",
                overflow="hidden",
                text_overflow="ellipsis",
                max_width="8.5rem",
            ),
            spacing="0",
            align="start",
        ),
        variant=rx.cond(chosen, "solid", "surface"),
        height="auto",
        padding_y="0.35rem",
        on_click=B.pick_slot(slot.key),
        data_testid="slot-" + slot.time,
        data_chosen=rx.cond(chosen, "true", "false"),
    )


def slot_list() -> rx.Component:
    return rx.cond(
        B.searched,
        rx.cond(
            B.slots.length() > 0,
            rx.box(
                rx.grid(
                    rx.foreach(B.slots, booking_slot),
                    columns=rx.breakpoints(initial="2", sm="4"),
                    spacing="2",
                    width="100%",
                ),
                max_height="15rem",
                overflow_y="auto",
                width="100%",
                padding="2px",
                data_testid="booking-slots",
            ),
            rx.vstack(
                rx.text(
                    "No free time on this day for this visit type.",
                    size="2",
                    color_scheme="gray",
                    data_testid="booking-none",
                ),
                rx.hstack(
                    rx.button("Next day", variant="soft", size="1", on_click=B.booking_day_step(1)),
                    rx.button(
                        rx.icon("list-plus", size=14),
                        "Add to the waitlist for this day",
                        variant="soft",
                        size="1",
                        color_scheme="amber",
                        on_click=B.add_to_waitlist,
                        data_testid="waitlist-add",
                    ),
                    spacing="2",
                    wrap="wrap",
                ),
                rx.cond(
                    B.waitlisted != "",
                    rx.callout(B.waitlisted, icon="list-checks", color_scheme="green", size="1"),
                ),
                spacing="2",
                width="100%",
            ),
        ),
        rx.text("Choose the service and visit type to see the free times.", size="2", color_scheme="gray"),
    )


def repeat_fields() -> rx.Component:
    return rx.vstack(
        rx.checkbox(
            "Repeat (a series of visits at the same time)",
            checked=B.repeat,
            on_change=B.set_repeat,
            data_testid="repeat",
        ),
        rx.cond(
            B.repeat,
            rx.hstack(
                rx.text("every", size="2"),
                rx.input(
                    type="number",
                    min="1",
                    max="91",
                    value=B.every_days,
                    on_change=B.set_every_days,
                    debounce_timeout=300,
                    width="4.5rem",
                    aria_label="Repeat every how many days",
                    data_testid="repeat-every",
                ),
                rx.text("days (7: weekly),", size="2"),
                rx.input(
                    type="number",
                    min="2",
                    max="52",
                    value=B.count,
                    on_change=B.set_count,
                    debounce_timeout=300,
                    width="4.5rem",
                    aria_label="Number of visits",
                    data_testid="repeat-count",
                ),
                rx.text("visits", size="2"),
                align="center",
                spacing="2",
                wrap="wrap",
            ),
        ),
        field_error(B, "count"),
        field_error(B, "every_days"),
        spacing="2",
        width="100%",
    )


def booking_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Book an appointment"),
            rx.dialog.description(
                "Choose the patient, the visit and one of the free times.",
                size="2",
                color_scheme="gray",
                margin_bottom="0.75rem",
            ),
            rx.vstack(
                labelled("Patient", patient_picker(), B, "patient_id"),
                rx.grid(
                    labelled(
                        "Service",
                        rx.select.root(
                            rx.select.trigger(
                                placeholder="Choose the service", data_testid="booking-service", width="100%"
                            ),
                            rx.select.content(
                                rx.foreach(B.services, lambda sv: rx.select.item(sv.name, value=sv.id))
                            ),
                            value=B.service_id,
                            on_change=B.set_service,
                        ),
                        B,
                        "service_id",
                    ),
                    labelled(
                        "Visit type",
                        rx.select.root(
                            rx.select.trigger(
                                placeholder="Choose the visit type", data_testid="booking-type", width="100%"
                            ),
                            rx.select.content(
                                rx.foreach(B.type_choices, lambda t: rx.select.item(t.label, value=t.id))
                            ),
                            value=B.type_id,
                            on_change=B.set_type,
                        ),
                        B,
                        "appointment_type_id",
                    ),
                    labelled(
                        "With",
                        option_select(
                            B.resource_options,
                            B.resource_id,
                            B.set_booking_resource,
                            "Any",
                            "booking-resource",
                            any_label="Anyone free",
                            width="100%",
                        ),
                        B,
                        "resource_id",
                    ),
                    labelled(
                        "Day",
                        rx.hstack(
                            rx.icon_button(
                                rx.icon("chevron-left", size=16),
                                variant="soft",
                                on_click=B.booking_day_step(-1),
                                aria_label="Previous day",
                            ),
                            rx.input(
                                type="date",
                                value=B.day,
                                on_change=B.set_booking_day,
                                data_testid="booking-day",
                                flex="1",
                            ),
                            rx.icon_button(
                                rx.icon("chevron-right", size=16),
                                variant="soft",
                                on_click=B.booking_day_step(1),
                                aria_label="Next day",
                                data_testid="booking-next-day",
                            ),
                            spacing="2",
                            width="100%",
                        ),
                        B,
                        "day",
                    ),
                    columns=rx.breakpoints(initial="1", sm="2"),
                    spacing="3",
                    width="100%",
                ),
                labelled("Free times", slot_list(), B, "start_at"),
                repeat_fields(),
                general_error(
                    B,
                    (
                        "patient_id",
                        "service_id",
                        "appointment_type_id",
                        "resource_id",
                        "day",
                        "start_at",
                        "count",
                        "every_days",
                    ),
                ),
                rx.flex(
                    rx.button("Cancel", variant="soft", color_scheme="gray", on_click=B.close),
                    rx.button(
                        rx.icon("calendar-check", size=16),
                        rx.cond(B.repeat, "Book the series", "Book"),
                        on_click=B.book,
                        loading=B.saving,
                        disabled=(B.patient_id == 0) | (B.slot_key == ""),
                        data_testid="booking-submit",
                    ),
                    spacing="3",
                    justify="end",
                    width="100%",
                ),
                spacing="3",
                width="100%",
            ),
            max_width="44rem",
            data_testid="booking-dialog",
        ),
        open=B.open,
        on_open_change=B.on_open_change,
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


# ====================================================================== /schedule/stats


def rate_row(line: RateLine, link_patients: bool) -> rx.Component:
    name = (
        rx.link(line.name, href="/patients/" + line.id.to_string(), weight="medium")
        if link_patients
        else rx.text(line.name, weight="medium")
    )
    return rx.table.row(
        rx.table.row_header_cell(name),
        rx.table.cell(line.appointments.to_string(), text_align="right"),
        rx.table.cell(line.no_shows.to_string(), text_align="right"),
        rx.table.cell(
            rx.badge(line.rate, color_scheme=rx.cond(line.high, "red", "gray"), variant="soft"),
            text_align="right",
        ),
    )


def rate_table(rows, title: str, who: str, test_id: str, link_patients: bool, empty: str) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading(title, size="4"),
            rx.cond(
                rows.length() > 0,
                scroll_box(
                    rx.table.root(
                        rx.table.header(
                            rx.table.row(
                                rx.table.column_header_cell(who),
                                rx.table.column_header_cell("Visits due", text_align="right"),
                                rx.table.column_header_cell("No-shows", text_align="right"),
                                rx.table.column_header_cell("Rate", text_align="right"),
                            )
                        ),
                        rx.table.body(rx.foreach(rows, lambda line: rate_row(line, link_patients))),
                        variant="surface",
                        size="1",
                        width="100%",
                    ),
                    data_testid=test_id,
                ),
                empty_state(empty, icon="calendar-check"),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


@staff_page(route="/schedule/stats", title="No-show rates", on_load=NoShowState.load)
def no_show_page() -> rx.Component:
    return rx.vstack(
        refused("appointment.read", "Your role does not give access to the schedule."),
        rx.cond(
            can("appointment.read"),
            rx.vstack(
                rx.flex(
                    rx.link(
                        rx.button(
                            rx.icon("arrow-left", size=16), "Calendar", variant="soft", color_scheme="gray"
                        ),
                        href="/schedule",
                    ),
                    rx.select.root(
                        rx.select.trigger(data_testid="period-select"),
                        rx.select.content(
                            rx.select.item("Last 30 days", value="30"),
                            rx.select.item("Last 90 days", value="90"),
                            rx.select.item("Last 12 months", value="365"),
                        ),
                        value=N.period,
                        on_change=N.set_period,
                    ),
                    option_select(
                        N.departments,
                        N.department_id,
                        N.set_department,
                        "Department",
                        "stats-department",
                        any_label="All departments",
                    ),
                    rx.spacer(),
                    rx.text("Overall: ", rx.text.strong(N.overall), size="2", data_testid="overall-rate"),
                    spacing="3",
                    align="center",
                    wrap="wrap",
                    width="100%",
                ),
                rx.cond(
                    N.loaded,
                    rx.vstack(
                        rx.card(
                            rx.vstack(
                                rx.heading("No-show rate by provider", size="4"),
                                rx.text(
                                    "Share of visits due (arrived, seen or missed) that the patient missed. Red: 20 % or more.",
                                    size="1",
                                    color_scheme="gray",
                                ),
                                rx.cond(
                                    N.providers.length() > 0,
                                    rx.box(
                                        rx.plotly(data=N.figure, width="100%"),
                                        width="100%",
                                        data_testid="no-show-chart",
                                    ),
                                    empty_state("No visits were due in this period.", icon="chart-bar"),
                                ),
                                spacing="2",
                                width="100%",
                            ),
                            width="100%",
                        ),
                        rx.grid(
                            rate_table(
                                N.providers,
                                "Providers",
                                "Provider",
                                "provider-rates",
                                False,
                                "No visits were due in this period.",
                            ),
                            rate_table(
                                N.patients,
                                "Patients who miss visits",
                                "Patient",
                                "patient-rates",
                                True,
                                "No patient with at least three visits due missed one.",
                            ),
                            columns=rx.breakpoints(initial="1", md="2"),
                            spacing="4",
                            width="100%",
                        ),
                        spacing="4",
                        width="100%",
                    ),
                    skeleton_rows(8),
                ),
                spacing="4",
                width="100%",
            ),
        ),
        spacing="4",
        width="100%",
    )


# ====================================================================== /schedule/setup


def active_badge(active) -> rx.Component:
    return rx.cond(
        active,
        rx.badge("Active", color_scheme="green", variant="soft"),
        rx.badge("Inactive", color_scheme="gray", variant="outline"),
    )


def resource_row(r: ResourceLine) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(rx.text(r.name, weight="medium")),
        rx.table.cell(r.kind_label),
        rx.table.cell(r.department),
        rx.table.cell(r.capability),
        rx.table.cell(active_badge(r.active)),
        rx.table.cell(
            rx.button(
                "Edit",
                size="1",
                variant="soft",
                on_click=U.open_resource(r.id),
                data_testid="edit-resource-" + r.id.to_string(),
            )
        ),
        align="center",
    )


def resources_tab() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text(
                "Providers, rooms and equipment that appointments book. A scanner is booked like a doctor.",
                size="2",
                color_scheme="gray",
            ),
            rx.spacer(),
            rx.button(
                rx.icon("plus", size=16),
                "Add resource",
                on_click=U.open_resource(0),
                data_testid="add-resource",
            ),
            width="100%",
            align="center",
            wrap="wrap",
        ),
        rx.cond(
            U.resources.length() > 0,
            scroll_box(
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            *[
                                rx.table.column_header_cell(h)
                                for h in ("Name", "Kind", "Department", "Capability", "Status", "")
                            ]
                        )
                    ),
                    rx.table.body(rx.foreach(U.resources, resource_row)),
                    variant="surface",
                    size="1",
                    width="100%",
                ),
                data_testid="resource-table",
            ),
            empty_state("No resources yet: add the first provider, room or scanner.", icon="box"),
        ),
        spacing="3",
        width="100%",
    )


def type_row(t: TypeLine) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.text(t.name, weight="medium"), rx.text(t.code, size="1", color_scheme="gray")
        ),
        rx.table.cell(t.minutes.to_string(), " min"),
        rx.table.cell(
            rx.cond(
                t.mode == "virtual",
                rx.badge("Virtual", color_scheme="cyan"),
                rx.badge("In person", color_scheme="gray"),
            )
        ),
        rx.table.cell(rx.cond(t.price_code != "", rx.code(t.price_code, variant="ghost"), "—")),
        rx.table.cell(
            rx.cond(t.needs_room, "Room", ""),
            rx.cond(t.needs_room & (t.needs_equipment != ""), " · ", ""),
            rx.cond(t.needs_equipment != "", t.needs_equipment, ""),
            text_transform="capitalize",
        ),
        rx.table.cell(active_badge(t.active)),
        rx.table.cell(rx.button("Edit", size="1", variant="soft", on_click=U.open_type(t.service_id, t.id))),
        align="center",
    )


def linked_chip(service: ServiceLine, r: Option) -> rx.Component:
    return rx.badge(
        rx.match(
            r.kind,
            ("room", rx.icon("door-closed", size=12)),
            ("equipment", rx.icon("scan", size=12)),
            rx.icon("user-round", size=12),
        ),
        r.label,
        rx.icon_button(
            rx.icon("x", size=10),
            size="1",
            variant="ghost",
            color_scheme="gray",
            on_click=U.unlink(service.id, r.id),
            aria_label="Remove",
        ),
        variant="surface",
        color_scheme="gray",
        size="2",
    )


def service_card(service: ServiceLine) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading(service.name, size="3"),
                rx.code(service.code, variant="ghost"),
                rx.text(service.department, size="2", color_scheme="gray"),
                rx.cond(
                    service.self_bookable,
                    rx.badge(rx.icon("globe", size=12), "Patients can book online", color_scheme="teal"),
                ),
                active_badge(service.active),
                rx.spacer(),
                rx.button("Edit", size="1", variant="soft", on_click=U.open_service(service.id)),
                rx.button(
                    rx.icon("plus", size=14),
                    "Visit type",
                    size="1",
                    on_click=U.open_type(service.id, 0),
                    data_testid="add-type-" + service.code,
                ),
                align="center",
                wrap="wrap",
                width="100%",
            ),
            rx.cond(
                service.types.length() > 0,
                scroll_box(
                    rx.table.root(
                        rx.table.header(
                            rx.table.row(
                                *[
                                    rx.table.column_header_cell(h)
                                    for h in (
                                        "Visit type",
                                        "Length",
                                        "Mode",
                                        "Price code",
                                        "Needs",
                                        "Status",
                                        "",
                                    )
                                ]
                            )
                        ),
                        rx.table.body(rx.foreach(service.types, type_row)),
                        variant="ghost",
                        size="1",
                        width="100%",
                    )
                ),
                rx.text(
                    "No visit type yet: the service cannot be booked until it has one.",
                    size="2",
                    color=rx.color("amber", 11),
                ),
            ),
            rx.flex(
                rx.text("Offered by:", size="2", weight="medium"),
                rx.foreach(service.linked, lambda r: linked_chip(service, r)),
                rx.cond(
                    service.linked.length() == 0, rx.text("nobody yet", size="2", color=rx.color("amber", 11))
                ),
                rx.select.root(
                    rx.select.trigger(placeholder="Add a resource…", variant="soft", size="1"),
                    rx.select.content(
                        rx.foreach(U.resources, lambda r: rx.select.item(r.name, value=r.id.to_string()))
                    ),
                    value="",
                    on_change=lambda value: U.link(service.id, value),
                ),
                spacing="2",
                align="center",
                wrap="wrap",
                width="100%",
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
        data_testid="service-" + service.code,
    )


def services_tab() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text(
                "What can be booked, its visit types (length, price code, in person or virtual) and who offers it.",
                size="2",
                color_scheme="gray",
            ),
            rx.spacer(),
            rx.button(
                rx.icon("plus", size=16), "Add service", on_click=U.open_service(0), data_testid="add-service"
            ),
            width="100%",
            align="center",
            wrap="wrap",
        ),
        rx.cond(
            U.services.length() > 0,
            rx.vstack(rx.foreach(U.services, service_card), spacing="3", width="100%"),
            empty_state("No services yet.", icon="clipboard-list"),
        ),
        spacing="3",
        width="100%",
    )


def rule_chip(rule: RuleLine) -> rx.Component:
    return rx.badge(
        rx.text(rule.hours, weight="bold"),
        rx.text(rule.valid, size="1", color_scheme="gray"),
        rx.icon_button(
            rx.icon("x", size=10),
            size="1",
            variant="ghost",
            color_scheme="gray",
            on_click=U.delete_rule(rule.id),
            aria_label="Remove",
            data_testid="delete-rule",
        ),
        variant="surface",
        size="2",
        data_testid="rule-" + rule.hours,
    )


def weekday_row(index: int, name: str) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(name, width="8rem"),
        rx.table.cell(
            rx.flex(
                rx.foreach(U.rules, lambda rule: rx.cond(rule.weekday == index, rule_chip(rule))),
                spacing="2",
                wrap="wrap",
            )
        ),
    )


def templates_tab() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text("Weekly template of", size="2", weight="medium"),
            rx.select.root(
                rx.select.trigger(placeholder="Choose a resource", data_testid="rules-resource"),
                rx.select.content(
                    rx.foreach(
                        U.resources,
                        lambda r: rx.select.item(r.name + " · " + r.kind_label, value=r.id.to_string()),
                    )
                ),
                value=U.rules_resource_id,
                on_change=U.set_rules_resource,
            ),
            spacing="2",
            align="center",
            wrap="wrap",
        ),
        scroll_box(
            rx.table.root(
                rx.table.body(*[weekday_row(i, name) for i, name in enumerate(WEEKDAYS)]),
                variant="surface",
                size="1",
                width="100%",
            ),
            data_testid="template-table",
        ),
        rx.card(
            rx.form(
                rx.vstack(
                    rx.heading("Add working hours", size="3"),
                    rx.grid(
                        labelled(
                            "Weekday",
                            rx.select.root(
                                rx.select.trigger(
                                    placeholder="Choose", width="100%", data_testid="rule-weekday"
                                ),
                                rx.select.content(
                                    *[rx.select.item(name, value=str(i)) for i, name in enumerate(WEEKDAYS)]
                                ),
                                name="weekday",
                                default_value="0",
                            ),
                            U,
                            "weekday",
                        ),
                        labelled(
                            "From",
                            rx.input(
                                type="time",
                                name="start_time",
                                id="start_time",
                                step=300,
                                default_value="08:00",
                                data_testid="rule-start",
                            ),
                            U,
                            "start_time",
                        ),
                        labelled(
                            "To",
                            rx.input(
                                type="time",
                                name="end_time",
                                id="end_time",
                                step=300,
                                default_value="12:00",
                                data_testid="rule-end",
                            ),
                            U,
                            "end_time",
                        ),
                        labelled(
                            "First day",
                            rx.input(type="date", name="valid_from", id="valid_from"),
                            U,
                            "valid_from",
                            "empty: today",
                        ),
                        labelled(
                            "Last day",
                            rx.input(type="date", name="valid_to", id="valid_to"),
                            U,
                            "valid_to",
                            "empty: no end",
                        ),
                        columns=rx.breakpoints(initial="2", md="5"),
                        spacing="3",
                        width="100%",
                    ),
                    general_error(U, ("weekday", "start_time", "end_time", "valid_from", "valid_to")),
                    rx.button(rx.icon("plus", size=16), "Add", type="submit", data_testid="rule-add"),
                    spacing="3",
                    width="100%",
                    align="start",
                ),
                on_submit=U.add_rule,
                reset_on_submit=False,
                key=U.rule_form_version.to_string(),
            ),
            width="100%",
        ),
        spacing="3",
        width="100%",
    )


def exception_row(e: ExceptionLine) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.badge(
                e.kind,
                color_scheme=rx.match(e.kind, ("leave", "amber"), "crimson"),
                variant="soft",
                text_transform="capitalize",
            )
        ),
        rx.table.row_header_cell(e.scope),
        rx.table.cell(e.when, white_space="nowrap"),
        rx.table.cell(e.reason),
        rx.table.cell(
            rx.icon_button(
                rx.icon("trash-2", size=14),
                size="1",
                variant="soft",
                color_scheme="red",
                on_click=U.delete_exception(e.id),
                aria_label="Remove",
            )
        ),
        align="center",
    )


def exceptions_tab() -> rx.Component:
    return rx.vstack(
        rx.card(
            rx.form(
                rx.vstack(
                    rx.heading("Add time off", size="3"),
                    rx.radio_group.root(
                        rx.flex(
                            rx.radio_group.item("One resource (leave)", value="resource"),
                            rx.radio_group.item("A department (closure)", value="department"),
                            rx.radio_group.item("The whole hospital (holiday)", value="hospital"),
                            spacing="4",
                            wrap="wrap",
                        ),
                        value=U.exception_scope,
                        on_change=U.set_exception_scope,
                    ),
                    rx.grid(
                        labelled(
                            "Kind",
                            rx.select.root(
                                rx.select.trigger(width="100%", data_testid="exception-kind"),
                                rx.select.content(
                                    rx.select.item("Leave", value="leave"),
                                    rx.select.item("Closure", value="closure"),
                                    rx.select.item("Holiday", value="holiday"),
                                ),
                                name="kind",
                                default_value=rx.match(
                                    U.exception_scope,
                                    ("resource", "leave"),
                                    ("department", "closure"),
                                    "holiday",
                                ),
                            ),
                            U,
                            "kind",
                        ),
                        rx.match(
                            U.exception_scope,
                            (
                                "resource",
                                labelled(
                                    "Resource",
                                    rx.select.root(
                                        rx.select.trigger(
                                            placeholder="Choose",
                                            width="100%",
                                            data_testid="exception-resource",
                                        ),
                                        rx.select.content(
                                            rx.foreach(
                                                U.resources,
                                                lambda r: rx.select.item(r.name, value=r.id.to_string()),
                                            )
                                        ),
                                        name="resource_id",
                                    ),
                                    U,
                                    "resource_id",
                                ),
                            ),
                            (
                                "department",
                                labelled(
                                    "Department",
                                    rx.select.root(
                                        rx.select.trigger(placeholder="Choose", width="100%"),
                                        rx.select.content(
                                            rx.foreach(
                                                U.departments, lambda d: rx.select.item(d.label, value=d.id)
                                            )
                                        ),
                                        name="department_id",
                                    ),
                                    U,
                                    "department_id",
                                ),
                            ),
                            rx.box(),
                        ),
                        labelled(
                            "From",
                            rx.input(
                                type="datetime-local",
                                name="starts_at",
                                id="starts_at",
                                step=300,
                                data_testid="exception-start",
                            ),
                            U,
                            "starts_at",
                        ),
                        labelled(
                            "Until",
                            rx.input(
                                type="datetime-local",
                                name="ends_at",
                                id="ends_at",
                                step=300,
                                data_testid="exception-end",
                            ),
                            U,
                            "ends_at",
                        ),
                        columns=rx.breakpoints(initial="1", sm="2", md="4"),
                        spacing="3",
                        width="100%",
                    ),
                    labelled(
                        "Reason",
                        rx.input(
                            name="reason",
                            id="reason",
                            max_length=200,
                            placeholder="e.g. annual leave, public holiday, staff training",
                            width="100%",
                            data_testid="exception-reason",
                        ),
                        U,
                        "reason",
                    ),
                    rx.cond(
                        U.exception_warning != "",
                        rx.callout(
                            U.exception_warning,
                            icon="triangle-alert",
                            color_scheme="amber",
                            size="1",
                            width="100%",
                            data_testid="exception-warning",
                        ),
                    ),
                    general_error(
                        U, ("kind", "resource_id", "department_id", "starts_at", "ends_at", "reason")
                    ),
                    rx.button(rx.icon("plus", size=16), "Add", type="submit", data_testid="exception-add"),
                    spacing="3",
                    width="100%",
                    align="start",
                ),
                on_submit=U.add_exception,
                reset_on_submit=False,
                key=U.exception_scope + U.exception_form_version.to_string(),
            ),
            width="100%",
        ),
        rx.cond(
            U.exceptions.length() > 0,
            scroll_box(
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            *[rx.table.column_header_cell(h) for h in ("Kind", "Who", "When", "Reason", "")]
                        )
                    ),
                    rx.table.body(rx.foreach(U.exceptions, exception_row)),
                    variant="surface",
                    size="1",
                    width="100%",
                ),
                data_testid="exception-table",
            ),
            empty_state("No leave, closures or holidays in the coming year.", icon="calendar-off"),
        ),
        spacing="3",
        width="100%",
    )


def dialog_checkbox(name: str, label: str) -> rx.Component:
    return rx.checkbox(label, name=name, default_checked=U.form[name] == "on", data_testid="form-" + name)


def setup_input(label: str, name: str, hint: str = "", **props) -> rx.Component:
    """A labelled text input bound to the setup dialog's form field `name`."""
    return labelled(
        label,
        rx.input(name=name, id=name, default_value=U.form[name], width="100%", **props),
        U,
        name,
        hint,
    )


def code_input() -> rx.Component:
    return setup_input("Code", "code", max_length=30, data_testid="form-code")


def name_input() -> rx.Component:
    return setup_input("Name", "name", max_length=120, data_testid="form-name")


def department_select() -> rx.Component:
    return labelled(
        "Department",
        rx.select.root(
            rx.select.trigger(placeholder="Choose", width="100%", data_testid="form-department"),
            rx.select.content(rx.foreach(U.departments, lambda d: rx.select.item(d.label, value=d.id))),
            name="department_id",
            default_value=U.form["department_id"],
        ),
        U,
        "department_id",
    )


def resource_form() -> rx.Component:
    return rx.grid(
        labelled(
            "Kind",
            rx.select.root(
                rx.select.trigger(width="100%"),
                rx.select.content(
                    *[rx.select.item(label, value=kind) for kind, label in KIND_LABELS.items()]
                ),
                name="kind",
                default_value=U.form["kind"],
            ),
            U,
            "kind",
        ),
        name_input(),
        department_select(),
        setup_input(
            "Capability (equipment)", "capability", max_length=30, placeholder="e.g. mri, ct, ultrasound"
        ),
        dialog_checkbox("active", "Active (can be booked)"),
        columns=rx.breakpoints(initial="1", sm="2"),
        spacing="3",
        width="100%",
    )


def service_form() -> rx.Component:
    return rx.grid(
        code_input(),
        name_input(),
        department_select(),
        rx.vstack(
            dialog_checkbox("self_bookable", "Patients can book it online"),
            dialog_checkbox("active", "Active"),
            spacing="2",
            justify="end",
        ),
        columns=rx.breakpoints(initial="1", sm="2"),
        spacing="3",
        width="100%",
    )


def type_form() -> rx.Component:
    return rx.vstack(
        rx.text("Service: ", rx.text.strong(U.form["service"]), size="2"),
        rx.grid(
            code_input(),
            name_input(),
            labelled(
                "Length (minutes)",
                rx.input(
                    name="duration_minutes",
                    id="duration_minutes",
                    type="number",
                    min="5",
                    max="480",
                    step="5",
                    default_value=U.form["duration_minutes"],
                    width="100%",
                    data_testid="form-duration",
                ),
                U,
                "duration_minutes",
            ),
            labelled(
                "Mode",
                rx.select.root(
                    rx.select.trigger(width="100%"),
                    rx.select.content(
                        rx.select.item("In person", value="in_person"),
                        rx.select.item("Virtual", value="virtual"),
                    ),
                    name="mode",
                    default_value=U.form["mode"],
                ),
                U,
                "mode",
            ),
            setup_input("Price code", "price_code", "the billing catalogue code", max_length=30),
            setup_input(
                "Needs equipment",
                "needs_equipment",
                "a capability, or empty",
                max_length=30,
                placeholder="e.g. mri",
            ),
            dialog_checkbox("needs_room", "Needs a room"),
            dialog_checkbox("active", "Active"),
            columns=rx.breakpoints(initial="1", sm="2"),
            spacing="3",
            width="100%",
        ),
        spacing="3",
        width="100%",
    )


def setup_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(
                rx.match(
                    U.dialog, ("resource", "Resource"), ("service", "Service"), ("type", "Visit type"), ""
                )
            ),
            rx.form(
                rx.vstack(
                    rx.match(
                        U.dialog,
                        ("resource", resource_form()),
                        ("service", service_form()),
                        ("type", type_form()),
                        rx.fragment(),
                    ),
                    general_error(
                        U,
                        (
                            "kind",
                            "name",
                            "department_id",
                            "capability",
                            "code",
                            "duration_minutes",
                            "mode",
                            "price_code",
                            "needs_equipment",
                        ),
                    ),
                    rx.flex(
                        rx.button(
                            "Cancel",
                            type="button",
                            variant="soft",
                            color_scheme="gray",
                            on_click=U.close_dialog,
                        ),
                        rx.button("Save", type="submit", loading=U.saving, data_testid="form-save"),
                        spacing="3",
                        justify="end",
                        width="100%",
                    ),
                    spacing="3",
                    width="100%",
                ),
                on_submit=U.save_dialog,
                reset_on_submit=False,
            ),
            max_width="36rem",
            data_testid="setup-dialog",
        ),
        open=U.dialog != "",
        on_open_change=U.on_dialog_change,
    )


@staff_page(route="/schedule/setup", title="Schedule setup", on_load=ScheduleSetupState.load)
def schedule_setup_page() -> rx.Component:
    return rx.vstack(
        refused("schedule.manage", "Your role does not allow setting up schedules."),
        rx.cond(
            can("schedule.manage"),
            rx.cond(
                U.loaded,
                rx.tabs.root(
                    rx.tabs.list(
                        rx.tabs.trigger("Resources", value="resources", data_testid="tab-resources"),
                        rx.tabs.trigger(
                            "Services & visit types", value="services", data_testid="tab-services"
                        ),
                        rx.tabs.trigger("Weekly templates", value="templates", data_testid="tab-templates"),
                        rx.tabs.trigger("Leave & closures", value="exceptions", data_testid="tab-exceptions"),
                    ),
                    rx.tabs.content(resources_tab(), value="resources", padding_top="1rem"),
                    rx.tabs.content(services_tab(), value="services", padding_top="1rem"),
                    rx.tabs.content(templates_tab(), value="templates", padding_top="1rem"),
                    rx.tabs.content(exceptions_tab(), value="exceptions", padding_top="1rem"),
                    value=U.tab,
                    on_change=U.set_tab,
                    width="100%",
                ),
                skeleton_rows(8),
            ),
        ),
        setup_dialog(),
        spacing="4",
        width="100%",
    )
