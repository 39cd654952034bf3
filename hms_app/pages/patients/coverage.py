"""The insurance tab of the details page: the coverages, and the dialog that adds one."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can
from hms_app.components.ui import empty_state
from hms_app.pages.patients.common import scroll_table
from hms_app.state.patients.coverage import PatientCoverageState


def coverage_row(line) -> rx.Component:
    return rx.table.row(
        rx.table.cell(line.payer, white_space="nowrap"),
        rx.table.cell(line.plan),
        rx.table.cell(rx.code(line.member_id)),
        rx.table.cell(line.valid, white_space="nowrap"),
        rx.table.cell(line.priority),
        rx.table.cell(line.shares),
        rx.table.cell(rx.badge(line.status, color_scheme=rx.cond(line.status == "current", "green", "gray"))),
        rx.table.cell(
            rx.cond(
                can("patient.write") & (line.status != "ended"),
                rx.button(
                    "End",
                    size="1",
                    variant="soft",
                    color_scheme="gray",
                    on_click=PatientCoverageState.end(line.id),
                ),
            )
        ),
    )


def coverage_dialog() -> rx.Component:
    def field(label: str, name: str, control: rx.Component) -> rx.Component:
        return rx.vstack(
            rx.text(label, size="2", weight="medium"),
            control,
            rx.cond(
                PatientCoverageState.error_field == name,
                rx.text(PatientCoverageState.error_text, size="1", color_scheme="red"),
            ),
            spacing="1",
            width="100%",
        )

    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Add insurance coverage"),
            rx.form(
                rx.vstack(
                    field(
                        "Payer",
                        "payer_id",
                        rx.select.root(
                            rx.select.trigger(placeholder="Choose the payer", width="100%"),
                            rx.select.content(
                                rx.foreach(
                                    PatientCoverageState.payers, lambda p: rx.select.item(p[1], value=p[0])
                                )
                            ),
                            name="payer_id",
                        ),
                    ),
                    field("Plan", "plan_name", rx.input(name="plan_name", max_length=120, width="100%")),
                    field("Member id", "member_id", rx.input(name="member_id", max_length=40, width="100%")),
                    rx.hstack(
                        field(
                            "Valid from", "valid_from", rx.input(name="valid_from", type="date", width="100%")
                        ),
                        field(
                            "Valid to (optional)",
                            "valid_to",
                            rx.input(name="valid_to", type="date", width="100%"),
                        ),
                        width="100%",
                    ),
                    rx.hstack(
                        field(
                            "Priority",
                            "priority",
                            rx.select(["1", "2", "3"], name="priority", default_value="1"),
                        ),
                        field(
                            "Co-pay ($)", "copay", rx.input(name="copay", placeholder="20.00", width="100%")
                        ),
                        field(
                            "Co-insurance (%)",
                            "coinsurance_percent",
                            rx.input(name="coinsurance_percent", placeholder="0", width="100%"),
                        ),
                        width="100%",
                    ),
                    rx.cond(
                        (PatientCoverageState.error_text != "") & (PatientCoverageState.error_field == ""),
                        rx.callout(
                            PatientCoverageState.error_text,
                            color_scheme="red",
                            icon="triangle-alert",
                            width="100%",
                        ),
                    ),
                    rx.hstack(
                        rx.button(
                            "Cancel",
                            type="button",
                            variant="soft",
                            color_scheme="gray",
                            on_click=PatientCoverageState.close_dialog,
                        ),
                        rx.button("Save coverage", type="submit"),
                        justify="end",
                        width="100%",
                    ),
                    spacing="3",
                    width="100%",
                ),
                on_submit=PatientCoverageState.add,
                reset_on_submit=False,
            ),
            max_width="34rem",
        ),
        open=PatientCoverageState.dialog_open,
    )


def coverage_panel() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text(
                "Payer, plan and member id as on the patient's card; billing takes the shares from here.",
                size="2",
                color_scheme="gray",
            ),
            rx.spacer(),
            rx.cond(
                can("patient.write"),
                rx.button(
                    rx.icon("plus", size=16),
                    "Add coverage",
                    on_click=PatientCoverageState.open_add,
                    data_testid="add-coverage",
                ),
            ),
            width="100%",
            align="center",
        ),
        rx.cond(
            PatientCoverageState.lines.length() > 0,
            scroll_table(
                [
                    rx.table.column_header_cell(h)
                    for h in ("Payer", "Plan", "Member id", "Valid", "Priority", "Shares", "Status", "")
                ],
                rx.foreach(PatientCoverageState.lines, coverage_row),
                "coverage-table",
            ),
            empty_state("No insurance recorded: the patient pays themselves.", icon="shield"),
        ),
        coverage_dialog(),
        spacing="3",
        width="100%",
    )
