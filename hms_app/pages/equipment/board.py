"""The maintenance board (/equipment/board): the figures, then the plans overdue or due within
the look-ahead, most overdue first; live across browsers and workers."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, refused
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, pager, skeleton_rows, stat_card
from hms_app.pages.boards.common import live_note
from hms_app.pages.equipment.common import (
    WIDE_CELL,
    due_badge,
    equipment_tabs,
    order_badge,
    status_badge,
    table,
)
from hms_app.state.equipment.board import DueLine, MaintenanceBoardState

S = MaintenanceBoardState


def due_row(line: DueLine) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                due_badge(line.due_tone, line.due),
                rx.text(line.next_due, size="1", color_scheme="gray"),
                spacing="1",
            ),
            white_space="nowrap",
        ),
        rx.table.cell(
            rx.link(
                rx.code(line.asset_tag, variant="ghost", weight="bold"),
                href="/equipment/" + line.equipment_id.to_string(),
            ),
            white_space="nowrap",
        ),
        rx.table.row_header_cell(
            rx.vstack(
                rx.text(line.equipment, weight="medium"),
                rx.text(line.where, size="1", color_scheme="gray"),
                spacing="0",
            )
        ),
        rx.table.cell(
            rx.vstack(
                rx.text(line.kind_label, size="1", color_scheme="gray"),
                rx.text(line.description, size="2"),
                spacing="0",
            ),
            display=WIDE_CELL,
        ),
        rx.table.cell(
            rx.cond(
                line.equipment_status != "in_service",
                status_badge(line.equipment_status, line.equipment_status_label),
            ),
            display=WIDE_CELL,
        ),
        rx.table.cell(
            rx.cond(
                line.work_order != "",
                rx.hstack(
                    rx.code(line.work_order, variant="ghost"),
                    order_badge(line.work_order_status, line.work_order_status_label),
                    spacing="2",
                    align="center",
                ),
                rx.cond(
                    can("equipment.maintain"),
                    rx.button(
                        rx.icon("wrench", size=12),
                        "Open work order",
                        size="1",
                        variant="soft",
                        on_click=S.open_order(line.plan_id),
                        data_testid="board-open-order",
                    ),
                    rx.text("none yet", size="1", color_scheme="gray"),
                ),
            ),
            white_space="nowrap",
        ),
        data_testid="due-" + line.asset_tag,
        custom_attrs={"data-tone": line.due_tone, "data-work-order": line.work_order},
    )


def figures() -> rx.Component:
    return rx.grid(
        stat_card("Overdue", S.overdue, "plans past their due date", "alarm-clock", "figure-overdue"),
        stat_card(
            "Due soon",
            S.due_soon,
            "within " + S.within_days.to_string() + " days",
            "calendar-clock",
            "figure-due",
        ),
        stat_card(
            "Open work orders", S.open_work_orders, "open or in progress", "wrench", "figure-open-orders"
        ),
        stat_card(
            "Out of use",
            S.not_in_use,
            "under maintenance or out of service",
            "power-off",
            "figure-out-of-use",
        ),
        columns=rx.breakpoints(initial="2", lg="4"),
        spacing="3",
        width="100%",
    )


def filters() -> rx.Component:
    return rx.flex(
        rx.segmented_control.root(
            rx.foreach(S.show_options, lambda o: rx.segmented_control.item(o.label, value=o.value)),
            value=S.show,
            on_change=S.set_show,
            data_testid="board-show",
        ),
        rx.select.root(
            rx.select.trigger(width="9rem", data_testid="board-within"),
            rx.select.content(
                rx.foreach(S.look_ahead_options, lambda o: rx.select.item("Next " + o.label, value=o.value))
            ),
            value=S.within_days.to_string(),
            on_change=S.set_within_days,
        ),
        rx.spacer(),
        live_note(S.updated_at),
        spacing="3",
        align="center",
        wrap="wrap",
        width="100%",
    )


@staff_page("/equipment/board", "Maintenance board", on_load=[S.load, S.watch])
def maintenance_board_page() -> rx.Component:
    return rx.vstack(
        refused("equipment.read", "Your role does not give access to the maintenance board."),
        rx.cond(
            can("equipment.read"),
            rx.vstack(
                equipment_tabs(),
                rx.cond(
                    S.loaded,
                    rx.vstack(
                        figures(),
                        rx.card(
                            rx.vstack(
                                filters(),
                                rx.cond(
                                    S.lines.length() > 0,
                                    rx.vstack(
                                        table(
                                            [
                                                "Due",
                                                "Asset tag",
                                                "Equipment",
                                                "Maintenance",
                                                "Status",
                                                "Work order",
                                            ],
                                            rx.foreach(S.lines, due_row),
                                            "due-table",
                                            wide=(3, 4),
                                        ),
                                        pager(
                                            S.page,
                                            S.page_count,
                                            S.total,
                                            S.move(-1),
                                            S.move(1),
                                            "plans",
                                            next_test_id="next-page",
                                        ),
                                        width="100%",
                                    ),
                                    empty_state(
                                        "Nothing is due or overdue in this window.", icon="circle-check"
                                    ),
                                ),
                                spacing="3",
                                width="100%",
                            ),
                            width="100%",
                        ),
                        spacing="4",
                        width="100%",
                    ),
                    skeleton_rows(8),
                ),
                spacing="4",
                width="100%",
                data_testid="maintenance-board",
                custom_attrs={"data-version": S.version},
            ),
        ),
        spacing="4",
        width="100%",
    )
