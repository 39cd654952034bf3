"""The equipment register (/equipment): search, status filter, one page of the register, and the
register / edit and status dialogs."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, refused
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, pager, skeleton_rows
from hms_app.pages.equipment.common import (
    WIDE_CELL,
    due_badge,
    equipment_dialog,
    equipment_tabs,
    status_badge,
    status_dialog,
    table,
)
from hms_app.state.equipment.register import EquipmentLine, EquipmentRegisterState

S = EquipmentRegisterState


def register_row(row: EquipmentLine) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                rx.link(
                    rx.code(row.asset_tag, variant="ghost", weight="bold"),
                    href="/equipment/" + row.id.to_string(),
                    data_testid="equipment-link",
                ),
                rx.cond(
                    row.serial_number != "",
                    rx.text("S/N " + row.serial_number, size="1", color_scheme="gray"),
                ),
                spacing="1",
            ),
            white_space="nowrap",
        ),
        rx.table.row_header_cell(
            rx.vstack(
                rx.text(row.name, weight="medium"),
                rx.cond(row.make != "", rx.text(row.make, size="1", color_scheme="gray")),
                spacing="0",
            ),
            min_width="11rem",
        ),
        rx.table.cell(
            rx.vstack(
                rx.text(row.location, size="2"),
                rx.text(row.department, size="1", color_scheme="gray"),
                spacing="0",
            ),
            display=WIDE_CELL,
        ),
        rx.table.cell(
            rx.tooltip(
                status_badge(row.status, row.status_label),
                content=rx.cond(row.status_note != "", row.status_note, row.status_label),
            )
        ),
        rx.table.cell(
            rx.cond(
                row.next_due != "", due_badge(row.due_tone, row.next_due), rx.text("–", color_scheme="gray")
            ),
            white_space="nowrap",
        ),
        rx.table.cell(
            rx.cond(
                row.open_work_orders > 0,
                rx.badge(
                    rx.icon("wrench", size=12), row.open_work_orders, color_scheme="blue", variant="soft"
                ),
                rx.text("–", color_scheme="gray"),
            ),
            display=WIDE_CELL,
        ),
        rx.table.cell(
            rx.cond(
                can("equipment.maintain") & (row.status != "retired"),
                rx.hstack(
                    rx.button(
                        "Edit", size="1", variant="soft", on_click=S.open_edit(row.id), data_testid="edit"
                    ),
                    rx.button(
                        "Status",
                        size="1",
                        variant="soft",
                        color_scheme="gray",
                        on_click=S.open_status(row.id),
                        data_testid="change-status",
                    ),
                    spacing="2",
                ),
            ),
            white_space="nowrap",
        ),
        data_testid="equipment-" + row.asset_tag,
        custom_attrs={"data-status": row.status},
    )


def toolbar() -> rx.Component:
    return rx.flex(
        rx.form(
            rx.hstack(
                rx.input(
                    rx.input.slot(rx.icon("search", size=14)),
                    name="query",
                    placeholder="Asset tag, serial, name, make",
                    max_length=60,
                    width=["100%", "18rem"],
                    data_testid="equipment-search",
                ),
                rx.button("Search", type="submit", variant="soft"),
                spacing="2",
            ),
            on_submit=S.search,
            reset_on_submit=False,
            width="auto",
        ),
        rx.select.root(
            rx.select.trigger(width="13rem", data_testid="status-filter"),
            rx.select.content(rx.foreach(S.filter_options, lambda o: rx.select.item(o.label, value=o.value))),
            value=S.status_filter,
            on_change=S.set_status_filter,
        ),
        rx.spacer(),
        rx.cond(
            can("equipment.maintain"),
            rx.button(
                rx.icon("plus", size=16),
                "Register equipment",
                on_click=S.open_new,
                data_testid="new-equipment",
            ),
        ),
        spacing="3",
        wrap="wrap",
        align="center",
        width="100%",
    )


@staff_page("/equipment", "Equipment", on_load=S.load)
def equipment_page() -> rx.Component:
    return rx.vstack(
        refused("equipment.read", "Your role does not give access to the equipment register."),
        rx.cond(
            can("equipment.read"),
            rx.vstack(
                equipment_tabs(),
                rx.card(
                    rx.vstack(
                        toolbar(),
                        rx.cond(
                            S.loading,
                            skeleton_rows(8),
                            rx.cond(
                                S.rows.length() > 0,
                                rx.vstack(
                                    table(
                                        [
                                            "Asset tag",
                                            "Equipment",
                                            "Where",
                                            "Status",
                                            "Next due",
                                            "Work orders",
                                            "",
                                        ],
                                        rx.foreach(S.rows, register_row),
                                        "equipment-table",
                                        wide=(2, 5),
                                    ),
                                    pager(
                                        S.page,
                                        S.page_count,
                                        S.total,
                                        S.move(-1),
                                        S.move(1),
                                        "items",
                                        next_test_id="next-page",
                                    ),
                                    width="100%",
                                ),
                                empty_state("No equipment matches.", icon="wrench"),
                            ),
                        ),
                        spacing="3",
                        width="100%",
                    ),
                    width="100%",
                ),
                equipment_dialog(S),
                status_dialog(S),
                spacing="4",
                width="100%",
            ),
        ),
        spacing="4",
        width="100%",
    )
