"""The ward bed board (/wards): the ward tabs, the ward's figures and a tile per bed."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, refused
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, skeleton_rows, stat_card
from hms_app.pages.boards.bed_dialogs import (
    admit_dialog,
    discharge_dialog,
    out_of_service_dialog,
    transfer_dialog,
)
from hms_app.pages.boards.common import live_note
from hms_app.state.boards.bed_board import BedBoardState, BedCard

BED_COLOURS = {"free": "grass", "occupied": "blue", "cleaning": "amber", "out_of_service": "gray"}


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
            can("medication.read"),
            rx.hstack(
                rx.link(
                    rx.button(rx.icon("pill", size=14), "MAR", size="1", variant="soft", color_scheme="gray"),
                    href="/patients/" + card.patient_id.to_string() + "/mar",
                    data_testid="bed-mar",
                ),
                rx.cond(
                    card.late_doses > 0,
                    rx.badge(
                        rx.icon("alarm-clock", size=12),
                        card.late_doses_label,
                        color_scheme="red",
                        variant="solid",
                        data_testid="bed-late-doses",
                    ),
                ),
                align="center",
                spacing="2",
            ),
        ),
        rx.cond(
            can("ward.manage"),
            rx.hstack(
                rx.button(
                    "Transfer",
                    size="1",
                    variant="soft",
                    on_click=BedBoardState.open_transfer(card.id),
                    data_testid="bed-transfer",
                ),
                rx.button(
                    "Discharge",
                    size="1",
                    variant="soft",
                    color_scheme="orange",
                    on_click=BedBoardState.open_discharge(card.id),
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
                            on_click=BedBoardState.open_admit(card.id),
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
                            on_click=BedBoardState.mark_clean(card.id),
                            data_testid="bed-clean",
                        ),
                    ),
                    rx.button(
                        "Return to service",
                        size="1",
                        variant="soft",
                        color_scheme="gray",
                        on_click=BedBoardState.return_to_service(card.id),
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
                            on_click=BedBoardState.open_out_of_service(card.id),
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
            BedBoardState.wards,
            lambda w: rx.button(
                w.name,
                rx.badge(w.occupied.to_string() + "/" + w.beds.to_string(), variant="surface", size="1"),
                variant=rx.cond(BedBoardState.ward_id == w.id, "solid", "soft"),
                on_click=BedBoardState.select_ward(w.id),
                data_testid="ward-tab-" + w.id.to_string(),
            ),
        ),
        spacing="2",
        wrap="wrap",
    )


def ward_figures() -> rx.Component:
    return rx.grid(
        stat_card(
            "Occupancy",
            BedBoardState.occupancy.to_string() + "%",
            "of beds in service",
            "bed-double",
            "figure-occupancy",
        ),
        stat_card(
            "Occupied", BedBoardState.occupied, "patients on the ward", "user-round", "figure-occupied"
        ),
        stat_card("Free", BedBoardState.free, "ready for a patient", "circle-check", "figure-free"),
        stat_card(
            "Being cleaned",
            BedBoardState.cleaning,
            rx.cond(
                BedBoardState.out_of_service > 0,
                BedBoardState.out_of_service.to_string() + " out of service",
                "none out of service",
            ),
            "sparkles",
            "figure-cleaning",
        ),
        stat_card(
            "Average stay",
            BedBoardState.average_stay,
            BedBoardState.admitted_today.to_string()
            + " in · "
            + BedBoardState.discharged_today.to_string()
            + " out today",
            "clock",
            "figure-stay",
        ),
        columns=rx.breakpoints(initial="2", lg="5"),
        spacing="3",
        width="100%",
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
                    live_note(BedBoardState.updated_at),
                    width="100%",
                    align="center",
                    wrap="wrap",
                    spacing="3",
                ),
                rx.cond(
                    BedBoardState.loaded,
                    rx.cond(
                        BedBoardState.problem != "",
                        rx.card(empty_state(BedBoardState.problem, icon="bed-double"), width="100%"),
                        rx.vstack(
                            ward_figures(),
                            rx.grid(
                                rx.foreach(BedBoardState.beds, bed_tile),
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
                custom_attrs={"data-version": BedBoardState.version},
            ),
        ),
        spacing="4",
        width="100%",
    )
