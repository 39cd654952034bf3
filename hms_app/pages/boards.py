"""The live boards: ward bed board (/wards), clinic flow board (/boards/flow) and the
waiting-room screen (/boards/waiting, full screen for a TV). Drawing only."""

from __future__ import annotations

import reflex as rx

from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, skeleton_rows, stat_card
from hms_app.state.boards import (
    BedBoardState,
    BedCard,
    CalledView,
    CountRow,
    FlowBoardState,
    FlowCardView,
    FlowColumn,
    WaitingRoomState,
    WaitingView,
)
from hms_app.state.session import SessionState

B = BedBoardState
F = FlowBoardState
W = WaitingRoomState

BED_COLOURS = {"free": "grass", "occupied": "blue", "cleaning": "amber", "out_of_service": "gray"}


def can(permission: str) -> rx.Var:
    """Whether to draw a control; the server decides whether it works."""
    return SessionState.user_permissions.contains(permission)


def refused(permission: str, message: str) -> rx.Component:
    return rx.cond(
        ~can(permission),
        rx.callout(message, icon="shield-alert", color_scheme="amber", data_testid="no-access"),
    )


def live_note(updated_at: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.box(width="0.5rem", height="0.5rem", border_radius="50%", background=rx.color("grass", 9)),
        rx.text("Live · updated ", updated_at, size="1", color_scheme="gray", data_testid="board-updated"),
        align="center",
        spacing="2",
    )


def error_line(message: rx.Var, test_id: str) -> rx.Component:
    return rx.flex(
        rx.icon("circle-alert", size=12, flex_shrink="0", margin_top="0.2em"),
        rx.text(message, size="1"),
        spacing="1",
        color=rx.color("red", 11),
        data_testid=test_id,
    )


# ====================================================================== /wards


def _bed_colour(status: rx.Var, shade: int) -> rx.Var:
    return rx.match(
        status,
        *[(name, rx.color(colour, shade)) for name, colour in BED_COLOURS.items()],
        rx.color("gray", shade),
    )


def _status_badge(card: BedCard) -> rx.Component:
    return rx.match(
        card.status,
        *[
            (name, rx.badge(card.status_label, color_scheme=colour, variant="soft"))
            for name, colour in BED_COLOURS.items()
        ],
        rx.badge(card.status_label),
    )


def _occupied_body(card: BedCard) -> rx.Component:
    return rx.vstack(
        rx.link(
            rx.text(card.patient_name, weight="bold", size="3", data_testid="bed-patient"),
            href="/patients/" + card.patient_id.to_string(),
            underline="hover",
            color=rx.color("gray", 12),
        ),
        rx.text(card.mrn, " · ", card.age_sex, size="1", color_scheme="gray"),
        rx.text(card.reason, size="1", trim="both", no_of_lines=2, title=card.reason),
        rx.hstack(
            rx.badge(
                rx.icon("clock", size=12),
                card.los,
                color_scheme=rx.cond(card.long_stay, "red", "blue"),
                variant="surface",
                data_testid="bed-los",
            ),
            rx.text("in since ", card.admitted, size="1", color_scheme="gray"),
            align="center",
            spacing="2",
            wrap="wrap",
        ),
        rx.cond(
            can("ward.manage"),
            rx.hstack(
                rx.button(
                    "Transfer",
                    size="1",
                    variant="soft",
                    on_click=B.open_transfer(card.id),
                    data_testid="bed-transfer",
                ),
                rx.button(
                    "Discharge",
                    size="1",
                    variant="soft",
                    color_scheme="orange",
                    on_click=B.open_discharge(card.id),
                    data_testid="bed-discharge",
                ),
                spacing="2",
                padding_top="0.25rem",
            ),
        ),
        spacing="1",
        align="start",
        width="100%",
    )


def _empty_body(card: BedCard) -> rx.Component:
    manage = can("ward.manage")
    return rx.vstack(
        rx.text(
            rx.match(card.status, ("free", "Ready "), ("cleaning", "Cleaning "), "Out "),
            card.since,
            size="1",
            color_scheme="gray",
        ),
        rx.cond(card.note != "", rx.text(card.note, size="1", trim="both")),
        rx.cond(
            manage,
            rx.hstack(
                rx.match(
                    card.status,
                    (
                        "free",
                        rx.button(
                            rx.icon("user-plus", size=14),
                            "Admit",
                            size="1",
                            on_click=B.open_admit(card.id),
                            data_testid="bed-admit",
                        ),
                    ),
                    (
                        "cleaning",
                        rx.button(
                            rx.icon("sparkles", size=14),
                            "Mark clean",
                            size="1",
                            color_scheme="grass",
                            variant="soft",
                            on_click=B.mark_clean(card.id),
                            data_testid="bed-clean",
                        ),
                    ),
                    rx.button(
                        "Return to service",
                        size="1",
                        variant="soft",
                        color_scheme="gray",
                        on_click=B.return_to_service(card.id),
                        data_testid="bed-in-service",
                    ),
                ),
                rx.cond(
                    card.status != "out_of_service",
                    rx.tooltip(
                        rx.icon_button(
                            rx.icon("wrench", size=14),
                            size="1",
                            variant="ghost",
                            color_scheme="gray",
                            on_click=B.open_out_of_service(card.id),
                            aria_label="Take the bed out of service",
                            data_testid="bed-out-of-service",
                        ),
                        content="Take out of service",
                    ),
                ),
                spacing="2",
                align="center",
                padding_top="0.25rem",
            ),
        ),
        spacing="1",
        align="start",
        width="100%",
    )


def bed_tile(card: BedCard) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.text(card.label, weight="bold", size="3", font_family="var(--code-font-family)"),
                rx.spacer(),
                _status_badge(card),
                width="100%",
                align="center",
            ),
            rx.cond(card.status == "occupied", _occupied_body(card), _empty_body(card)),
            spacing="2",
            width="100%",
        ),
        border_top=f"4px solid {_bed_colour(card.status, 9)}",
        background=_bed_colour(card.status, 2),
        min_height="9.5rem",
        width="100%",
        data_testid="bed-" + card.label,
        custom_attrs={"data-status": card.status},
    )


def ward_tabs() -> rx.Component:
    return rx.flex(
        rx.foreach(
            B.wards,
            lambda w: rx.button(
                w.name,
                rx.badge(w.occupied.to_string() + "/" + w.beds.to_string(), variant="surface", size="1"),
                variant=rx.cond(B.ward_id == w.id, "solid", "soft"),
                on_click=B.select_ward(w.id),
                data_testid="ward-tab-" + w.id.to_string(),
            ),
        ),
        spacing="2",
        wrap="wrap",
    )


def ward_figures() -> rx.Component:
    return rx.grid(
        stat_card(
            "Occupancy", B.occupancy.to_string() + "%", "of beds in service", "bed-double", "figure-occupancy"
        ),
        stat_card("Occupied", B.occupied, "patients on the ward", "user-round", "figure-occupied"),
        stat_card("Free", B.free, "ready for a patient", "circle-check", "figure-free"),
        stat_card(
            "Being cleaned",
            B.cleaning,
            rx.cond(
                B.out_of_service > 0, B.out_of_service.to_string() + " out of service", "none out of service"
            ),
            "sparkles",
            "figure-cleaning",
        ),
        stat_card(
            "Average stay",
            B.average_stay,
            B.admitted_today.to_string() + " in · " + B.discharged_today.to_string() + " out today",
            "clock",
            "figure-stay",
        ),
        columns=rx.breakpoints(initial="2", lg="5"),
        spacing="3",
        width="100%",
    )


def dialog_error(name: str = "") -> rx.Component:
    condition = (B.dialog_error != "") & (B.dialog_error_field == name)
    return rx.cond(condition, error_line(B.dialog_error, "dialog-error" + ("-" + name if name else "")))


def dialog_buttons(label: str, color: str | None = None) -> rx.Component:
    return rx.flex(
        rx.button("Cancel", type="button", variant="soft", color_scheme="gray", on_click=B.close_dialog),
        rx.button(
            label,
            type="submit",
            loading=B.saving,
            data_testid="dialog-submit",
            **({"color_scheme": color} if color else {}),
        ),
        spacing="3",
        justify="end",
        width="100%",
        padding_top="0.5rem",
    )


def text_box(name: str, label: str, placeholder: str, required: bool = True) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", weight="medium"),
        rx.text_area(
            name=name,
            required=required,
            max_length=300,
            placeholder=placeholder,
            width="100%",
            data_testid="dialog-" + name,
        ),
        dialog_error(name),
        spacing="1",
        width="100%",
    )


def bed_dialog(name: str, title, description, *body: rx.Component, on_submit) -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(title),
            rx.dialog.description(description, size="2", color_scheme="gray", margin_bottom="0.75rem"),
            rx.form(
                rx.vstack(*body, dialog_error(), spacing="3", width="100%"),
                on_submit=on_submit,
                reset_on_submit=False,
            ),
            max_width="30rem",
            data_testid="dialog-" + name,
        ),
        open=B.dialog == name,
        on_open_change=B.on_dialog_change,
    )


def admit_dialog() -> rx.Component:
    return bed_dialog(
        "admit",
        "Admit a patient",
        rx.text("To ", rx.text.strong(B.dialog_bed), ". The bed is held the moment you admit."),
        rx.vstack(
            rx.text("Patient", size="2", weight="medium"),
            rx.cond(
                B.chosen_patient != "",
                rx.hstack(
                    rx.badge(
                        rx.icon("user-round", size=12), B.chosen_patient, size="2", data_testid="admit-chosen"
                    ),
                    rx.button(
                        "Change",
                        type="button",
                        size="1",
                        variant="ghost",
                        on_click=B.clear_chosen_patient,
                    ),
                    align="center",
                ),
                rx.vstack(
                    rx.input(
                        rx.input.slot(rx.icon("search", size=14)),
                        placeholder="Name, MRN, phone or date of birth",
                        on_change=B.search_admit_patient,
                        debounce_timeout=300,
                        max_length=100,
                        width="100%",
                        data_testid="admit-search",
                    ),
                    rx.foreach(
                        B.patient_options,
                        lambda o: rx.button(
                            rx.text(o.name, weight="medium"),
                            rx.text(o.mrn + " · born " + o.birth_date, size="1", color_scheme="gray"),
                            type="button",
                            variant="soft",
                            color_scheme="gray",
                            width="100%",
                            justify_content="flex-start",
                            on_click=B.choose_patient(o.id),
                            data_testid="admit-option",
                        ),
                    ),
                    rx.cond(
                        (B.patient_query.length() >= 2) & (B.patient_options.length() == 0),
                        rx.text("No patient found.", size="1", color_scheme="gray"),
                    ),
                    spacing="1",
                    width="100%",
                ),
            ),
            dialog_error("patient"),
            spacing="1",
            width="100%",
        ),
        text_box("reason", "Reason for admission", "e.g. Community-acquired pneumonia"),
        dialog_buttons("Admit"),
        on_submit=B.submit_admit,
    )


def transfer_dialog() -> rx.Component:
    return bed_dialog(
        "transfer",
        "Transfer a patient",
        rx.text(rx.text.strong(B.dialog_patient), " from ", B.dialog_bed, ". The old bed goes to cleaning."),
        rx.vstack(
            rx.text("To bed", size="2", weight="medium"),
            rx.cond(
                B.bed_options.length() > 0,
                rx.select.root(
                    rx.select.trigger(
                        placeholder="Choose a free bed", width="100%", data_testid="transfer-bed"
                    ),
                    rx.select.content(
                        rx.foreach(B.bed_options, lambda o: rx.select.item(o.label, value=o.id)),
                    ),
                    name="bed_id",
                ),
                rx.text("No bed is free on any ward.", size="2", color_scheme="red"),
            ),
            dialog_error("bed_id"),
            spacing="1",
            width="100%",
        ),
        text_box("reason", "Reason (optional)", "e.g. Stepped down from intensive care", required=False),
        dialog_buttons("Transfer"),
        on_submit=B.submit_transfer,
    )


def discharge_dialog() -> rx.Component:
    return bed_dialog(
        "discharge",
        "Discharge a patient",
        rx.text(rx.text.strong(B.dialog_patient), " from ", B.dialog_bed, ". The bed goes to cleaning."),
        rx.vstack(
            rx.text("Discharged to", size="2", weight="medium"),
            rx.select.root(
                rx.select.trigger(width="100%", data_testid="discharge-disposition"),
                rx.select.content(
                    rx.foreach(B.disposition_options, lambda o: rx.select.item(o.label, value=o.code)),
                ),
                name="disposition",
                default_value="home",
            ),
            dialog_error("disposition"),
            spacing="1",
            width="100%",
        ),
        text_box("note", "Note (optional)", "e.g. Follow-up in clinic in two weeks", required=False),
        dialog_buttons("Discharge", "orange"),
        on_submit=B.submit_discharge,
    )


def out_of_service_dialog() -> rx.Component:
    return bed_dialog(
        "out_of_service",
        "Take a bed out of service",
        rx.text(rx.text.strong(B.dialog_bed), " will not be offered for admissions until it is back."),
        text_box("reason", "Why", "e.g. Broken bed motor, engineer booked"),
        dialog_buttons("Take out of service", "gray"),
        on_submit=B.submit_out_of_service,
    )


@staff_page(route="/wards", title="Bed board", on_load=[BedBoardState.load, BedBoardState.watch])
def wards_page() -> rx.Component:
    return rx.vstack(
        refused("patient.read", "Your role does not give access to the bed board."),
        rx.cond(
            can("patient.read"),
            rx.vstack(
                rx.flex(
                    ward_tabs(),
                    rx.spacer(),
                    live_note(B.updated_at),
                    width="100%",
                    align="center",
                    wrap="wrap",
                    spacing="3",
                ),
                rx.cond(
                    B.loaded,
                    rx.cond(
                        B.problem != "",
                        rx.card(empty_state(B.problem, icon="bed-double"), width="100%"),
                        rx.vstack(
                            ward_figures(),
                            rx.grid(
                                rx.foreach(B.beds, bed_tile),
                                columns=rx.breakpoints(initial="1", xs="2", md="3", xl="4"),
                                spacing="3",
                                width="100%",
                                data_testid="bed-grid",
                            ),
                            spacing="4",
                            width="100%",
                        ),
                    ),
                    skeleton_rows(8),
                ),
                admit_dialog(),
                transfer_dialog(),
                discharge_dialog(),
                out_of_service_dialog(),
                spacing="4",
                width="100%",
                data_testid="bed-board",
                custom_attrs={"data-version": B.version},
            ),
        ),
        spacing="4",
        width="100%",
    )


# ====================================================================== /boards/flow

COLUMN_COLOURS = {"booked": "gray", "arrived": "amber", "in_room": "blue", "completed": "grass"}


def flow_actions(card: FlowCardView) -> rx.Component:
    """The next step of the visit, for staff who move patients on."""
    return rx.match(
        card.status,
        (
            "booked",
            rx.hstack(
                rx.button("Check in", size="1", on_click=F.check_in(card.id), data_testid="flow-check-in"),
                rx.cond(
                    card.late,
                    rx.button(
                        "No-show",
                        size="1",
                        variant="soft",
                        color_scheme="red",
                        on_click=F.mark_no_show(card.id),
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
                on_click=F.call_in(card.id),
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
                on_click=F.complete(card.id),
                data_testid="flow-complete",
                margin_top="0.25rem",
            ),
        ),
        rx.fragment(),
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
            rx.cond(F.department == "", rx.text(card.department, size="1", color_scheme="gray")),
            rx.cond(can("appointment.flow"), flow_actions(card)),
            spacing="1",
            width="100%",
            align="start",
        ),
        size="1",
        width="100%",
        data_testid="flow-card-" + card.id.to_string(),
        custom_attrs={"data-status": card.status},
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
                rx.link(r.department, on_click=F.set_department(r.department_id), cursor="pointer")
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
            rx.table.body(rx.foreach(F.rows, row)),
            variant="surface",
            size="1",
            width="100%",
        ),
        width="0",
        min_width="100%",
        data_testid="flow-counts",
    )


@staff_page(
    route="/boards/flow", title="Clinic flow board", on_load=[FlowBoardState.load, FlowBoardState.watch]
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
                            rx.foreach(F.departments, lambda d: rx.select.item(d.label, value=d.id)),
                        ),
                        value=rx.cond(F.department == "", "all", F.department),
                        on_change=F.set_department,
                    ),
                    rx.text(F.day, size="2", color_scheme="gray"),
                    rx.spacer(),
                    rx.hstack(
                        rx.badge(F.total.to_string() + " today", size="2", variant="surface"),
                        rx.badge(
                            F.no_show.to_string() + " no-show", color_scheme="red", variant="soft", size="2"
                        ),
                        rx.badge(
                            F.cancelled.to_string() + " cancelled",
                            color_scheme="gray",
                            variant="soft",
                            size="2",
                        ),
                        spacing="2",
                        wrap="wrap",
                    ),
                    live_note(F.updated_at),
                    spacing="3",
                    align="center",
                    wrap="wrap",
                    width="100%",
                ),
                rx.cond(
                    F.loaded,
                    rx.vstack(
                        rx.cond(
                            (F.department == "") & (F.rows.length() > 1),
                            counts_table(),
                        ),
                        rx.cond(
                            F.total + F.cancelled == 0,
                            rx.card(empty_state("No appointments today.", icon="calendar-x"), width="100%"),
                            rx.grid(
                                rx.foreach(F.columns, flow_column),
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
                custom_attrs={"data-version": F.version},
            ),
        ),
        spacing="4",
        width="100%",
    )


# ====================================================================== /boards/waiting


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
            rx.heading(W.department, size="8", data_testid="waiting-department"),
            rx.spacer(),
            rx.text("Updated ", W.updated_at, size="3", color_scheme="gray", data_testid="board-updated"),
            width="100%",
            align="center",
            spacing="4",
        ),
        rx.grid(
            rx.vstack(
                rx.heading("Now calling", size="7", color=rx.color("amber", 11)),
                rx.cond(
                    W.calling.length() > 0,
                    rx.vstack(rx.foreach(W.calling, called_token), spacing="0", width="100%"),
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
                    rx.badge(W.waiting_total, size="3", radius="full"),
                    align="center",
                    spacing="3",
                ),
                rx.cond(
                    W.waiting.length() > 0,
                    rx.vstack(rx.foreach(W.waiting, waiting_row), spacing="0", width="100%"),
                    rx.text("Nobody is waiting.", font_size="1.5rem", color_scheme="gray", padding_y="2rem"),
                ),
                rx.cond(
                    W.waiting_total > W.waiting.length(),
                    rx.text(
                        "and ",
                        (W.waiting_total - W.waiting.length()).to_string(),
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
                W.sample_size > 0,
                "Waits are estimated from the last " + W.sample_size.to_string() + " visits here",
                "Waits are estimated from the booked visit lengths",
            ),
            " (about ",
            W.service_minutes,
            " min a visit). Please tell the desk if you have waited much longer than shown.",
            size="3",
            color_scheme="gray",
        ),
        spacing="6",
        width="100%",
        min_height="100vh",
        padding=["1rem", "2rem", "3rem"],
        data_testid="waiting-board",
        custom_attrs={"data-version": W.version},
    )


def choose_department() -> rx.Component:
    return rx.center(
        rx.card(
            rx.vstack(
                rx.heading("Waiting-room screen", size="6"),
                rx.text(W.problem, color_scheme="gray"),
                rx.foreach(
                    W.choices,
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
                rx.callout(
                    "This screen needs a staff sign-in that may see the clinic's appointments.",
                    icon="shield-alert",
                    color_scheme="amber",
                    data_testid="no-access",
                ),
                min_height="100vh",
            ),
            rx.cond(
                W.loaded,
                rx.cond(W.department_id == 0, choose_department(), waiting_screen()),
                rx.center(rx.spinner(size="3"), min_height="100vh"),
            ),
        ),
    )
