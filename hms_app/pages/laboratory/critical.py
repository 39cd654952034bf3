"""The board of open critical results (/lab/critical): who has each alert now, how long it has been
open and when it escalates; escalated alerts highlighted. Changes by itself when an alert is raised,
acknowledged or escalated; its clocks move on every half minute."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, refused
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, skeleton_rows, stat_card
from hms_app.pages.boards.common import live_note
from hms_app.pages.laboratory.common import WIDE_CELL, lab_tabs, patient_cell, table
from hms_app.state.laboratory.critical import AlertLine
from hms_app.state.laboratory.critical import CriticalBoardState as S

LEVEL_COLOURS = {0: "amber", 1: "orange", 2: "red"}


def level_badge(line: AlertLine) -> rx.Component:
    return rx.badge(
        rx.cond(line.escalated, rx.icon("arrow-up-right", size=12), rx.icon("user", size=12)),
        line.level_name,
        color_scheme=rx.match(line.level, *LEVEL_COLOURS.items(), "gray"),
        variant=rx.cond(line.escalated, "solid", "soft"),
        data_testid="level",
    )


def alert_row(line: AlertLine) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.cond(
                line.open, level_badge(line), rx.badge("Acknowledged", color_scheme="grass", variant="soft")
            )
        ),
        rx.table.cell(patient_cell(line.patient_name, line.mrn)),
        rx.table.cell(
            rx.text(line.summary, size="2", weight="bold"),
            rx.cond(line.acknowledged != "", rx.text(line.acknowledged, size="1", color_scheme="gray")),
        ),
        rx.table.cell(rx.text(line.recipient, size="2"), white_space="nowrap"),
        rx.table.cell(rx.text(line.raised, size="2"), display=WIDE_CELL, white_space="nowrap"),
        rx.table.cell(
            rx.text(line.minutes_open, size="2", weight=rx.cond(line.open, "bold", "regular")),
            white_space="nowrap",
            data_testid="minutes-open",
        ),
        rx.table.cell(
            rx.cond(
                line.overdue,
                rx.badge(
                    rx.icon("alarm-clock", size=12), line.escalates, color_scheme="red", variant="solid"
                ),
                rx.text(line.escalates, size="2", color_scheme="gray"),
            ),
            white_space="nowrap",
        ),
        align="center",
        background=rx.cond(
            line.open & line.escalated,
            rx.cond(line.level >= 2, rx.color("red", 3), rx.color("orange", 3)),
            "transparent",
        ),
        box_shadow=rx.cond(line.open & line.escalated, f"inset 4px 0 0 {rx.color('red', 9)}", "none"),
        opacity=rx.cond(line.open, "1", "0.7"),
        data_testid="alert-" + line.id.to_string(),
        custom_attrs={"data-level": line.level, "data-open": line.open},
    )


def figures() -> rx.Component:
    return rx.grid(
        stat_card(
            "Open critical results", S.open_count, "not yet acknowledged", "siren", "figure-open-critical"
        ),
        stat_card(
            "Escalated",
            S.escalated_count,
            "past the ordering clinician",
            "arrow-up-right",
            "figure-escalated",
        ),
        columns=rx.breakpoints(initial="1", sm="2"),
        spacing="3",
        width="100%",
    )


@staff_page("/lab/critical", "Critical results", [S.load, S.watch, S.run_clock])
def critical_page() -> rx.Component:
    return rx.vstack(
        lab_tabs("/lab/critical"),
        refused("lab.read", "Your role does not give access to the laboratory's critical results."),
        rx.cond(
            can("lab.read"),
            rx.vstack(
                figures(),
                rx.flex(
                    rx.checkbox(
                        "Show those acknowledged in the last 24 hours",
                        checked=S.show_acknowledged,
                        on_change=S.set_show_acknowledged,
                        data_testid="show-acknowledged",
                    ),
                    rx.spacer(),
                    live_note(S.updated_at),
                    width="100%",
                    align="center",
                    wrap="wrap",
                    spacing="3",
                ),
                rx.cond(
                    S.loaded,
                    rx.cond(
                        S.rows.length() > 0,
                        table(
                            ["Level", "Patient", "Result", "With", "Raised", "Open for", "Escalates"],
                            rx.foreach(S.rows, alert_row),
                            "critical-table",
                            wide=(4,),
                        ),
                        rx.card(
                            empty_state(
                                "No critical result is waiting for acknowledgement.", icon="circle-check"
                            ),
                            width="100%",
                            data_testid="critical-empty",
                        ),
                    ),
                    skeleton_rows(5),
                ),
                rx.text(
                    "An alert goes to the ordering clinician first; unacknowledged, it escalates to the unit's "
                    "charge nurse and then the department lead.",
                    size="1",
                    color_scheme="gray",
                ),
                spacing="3",
                width="100%",
                data_testid="critical-board",
                custom_attrs={"data-version": S.version},
            ),
        ),
        spacing="4",
        width="100%",
    )
