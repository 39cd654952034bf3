"""One piece of equipment (/equipment/<id>): its details and status, its maintenance plans and
its work orders, with their dialogs. Live: it reloads when the equipment changes elsewhere."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, refused
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, skeleton_rows
from hms_app.pages.equipment.common import (
    WIDE_CELL,
    due_badge,
    equipment_dialog,
    equipment_tabs,
    order_badge,
    status_badge,
    status_dialog,
    table,
)
from hms_app.pages.equipment.item_dialogs import (
    cancel_dialog,
    complete_dialog,
    open_order_dialog,
    plan_dialog,
)
from hms_app.state.equipment.item import EquipmentItemState, Fact, PlanCard, WorkOrderCard

S = EquipmentItemState
MAINTAIN = can("equipment.maintain")


def fact(f: Fact) -> rx.Component:
    return rx.vstack(
        rx.text(f.label, size="1", color_scheme="gray"),
        rx.text(f.value, size="2", weight="medium"),
        spacing="0",
        min_width="0",
    )


def header_card() -> rx.Component:
    live = S.status != "retired"
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.vstack(
                    rx.hstack(
                        rx.code(
                            S.asset_tag, size="4", variant="ghost", weight="bold", data_testid="asset-tag"
                        ),
                        status_badge(S.status, S.status_label),
                        align="center",
                        spacing="3",
                        wrap="wrap",
                    ),
                    rx.heading(S.name, size="6"),
                    rx.text(
                        S.status_label,
                        " since ",
                        S.status_since,
                        rx.cond(S.status_note != "", ": " + S.status_note, ""),
                        size="2",
                        color_scheme="gray",
                    ),
                    spacing="1",
                    align="start",
                ),
                rx.spacer(),
                rx.cond(
                    MAINTAIN & live,
                    rx.hstack(
                        rx.button(
                            rx.icon("pencil", size=14),
                            "Edit",
                            variant="soft",
                            on_click=S.open_edit,
                            data_testid="edit-equipment",
                        ),
                        rx.button(
                            rx.icon("power", size=14),
                            "Change status",
                            variant="soft",
                            color_scheme="gray",
                            on_click=S.open_status,
                            data_testid="change-status",
                        ),
                        rx.button(
                            rx.icon("wrench", size=14),
                            "Open work order",
                            on_click=S.open_new_work_order(0),
                            data_testid="open-work-order",
                        ),
                        spacing="2",
                        wrap="wrap",
                    ),
                ),
                spacing="3",
                wrap="wrap",
                width="100%",
            ),
            rx.cond(
                S.appointments_ahead > 0,
                rx.callout(
                    S.appointments_ahead.to_string()
                    + rx.cond(S.appointments_ahead == 1, " appointment is", " appointments are")
                    + " still booked on "
                    + S.bookable_resource
                    + ": move them, it cannot be used now.",
                    icon="calendar-x",
                    color_scheme="amber",
                    width="100%",
                    data_testid="appointments-ahead",
                ),
            ),
            rx.grid(
                rx.foreach(S.facts, fact),
                columns=rx.breakpoints(initial="2", sm="3", lg="5"),
                spacing="4",
                width="100%",
            ),
            rx.cond(S.warranty != "", rx.text(S.warranty, size="1", color_scheme="gray")),
            spacing="4",
            width="100%",
        ),
        width="100%",
    )


def plan_row(p: PlanCard) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.badge(
                p.kind_label,
                variant="surface",
                color_scheme=rx.cond(p.kind == "calibration", "violet", "blue"),
            )
        ),
        rx.table.row_header_cell(
            rx.vstack(
                rx.text(p.description, weight="medium"),
                rx.text(p.every, size="1", color_scheme="gray"),
                spacing="0",
            )
        ),
        rx.table.cell(p.last_done, display=WIDE_CELL, white_space="nowrap"),
        rx.table.cell(
            rx.vstack(
                rx.text(p.next_due, size="2", white_space="nowrap"), due_badge(p.due_tone, p.due), spacing="1"
            )
        ),
        rx.table.cell(
            rx.cond(
                p.work_order != "", rx.code(p.work_order, variant="ghost"), rx.text("–", color_scheme="gray")
            )
        ),
        rx.table.cell(
            rx.cond(
                MAINTAIN & (S.status != "retired"),
                rx.hstack(
                    rx.cond(
                        p.active & (p.work_order_id == 0),
                        rx.button(
                            "Open work order",
                            size="1",
                            on_click=S.open_new_work_order(p.id),
                            data_testid="plan-open-order",
                        ),
                    ),
                    rx.button(
                        "Edit",
                        size="1",
                        variant="soft",
                        color_scheme="gray",
                        on_click=S.open_plan(p.id),
                        data_testid="plan-edit",
                    ),
                    spacing="2",
                ),
            ),
            white_space="nowrap",
        ),
        data_testid="plan-" + p.id.to_string(),
        opacity=rx.cond(p.active, "1", "0.6"),
    )


def plans_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.heading("Maintenance plans", size="4"),
                rx.spacer(),
                rx.cond(
                    MAINTAIN & (S.status != "retired"),
                    rx.button(
                        rx.icon("plus", size=14),
                        "Plan maintenance",
                        variant="soft",
                        on_click=S.open_plan(0),
                        data_testid="new-plan",
                    ),
                ),
                width="100%",
                align="center",
            ),
            rx.cond(
                S.plans.length() > 0,
                table(
                    ["Kind", "What", "Last done", "Next due", "Work order", ""],
                    rx.foreach(S.plans, plan_row),
                    "plans-table",
                    wide=(2,),
                ),
                empty_state("No preventive maintenance or calibration is planned.", icon="calendar-clock"),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def order_row(w: WorkOrderCard) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                rx.code(w.reference, variant="ghost", weight="bold"),
                rx.text(w.kind_label, size="1", color_scheme="gray"),
                spacing="0",
            ),
            white_space="nowrap",
        ),
        rx.table.cell(order_badge(w.status, w.status_label)),
        rx.table.row_header_cell(
            rx.vstack(
                rx.text(w.problem, size="2"),
                rx.cond(
                    w.findings != "",
                    rx.text(w.findings, size="1", color_scheme="gray", white_space="pre-wrap"),
                ),
                rx.cond(
                    w.parts != "",
                    rx.hstack(
                        rx.icon("package", size=12, flex_shrink="0", color=rx.color("gray", 10)),
                        rx.text(w.parts, size="1", color_scheme="gray", data_testid="work-order-parts"),
                        spacing="1",
                        align="center",
                    ),
                ),
                spacing="1",
                min_width="14rem",
            )
        ),
        rx.table.cell(
            rx.vstack(
                rx.text(w.opened, size="1"),
                rx.cond(w.completed != "", rx.text("Done " + w.completed, size="1", color_scheme="gray")),
                spacing="0",
            ),
            display=WIDE_CELL,
        ),
        rx.table.cell(w.downtime, white_space="nowrap", data_testid="work-order-downtime"),
        rx.table.cell(
            rx.cond(
                MAINTAIN & w.open,
                rx.hstack(
                    rx.cond(
                        w.status == "open",
                        rx.button(
                            "Start",
                            size="1",
                            variant="soft",
                            on_click=S.start(w.id),
                            data_testid="work-order-start",
                        ),
                    ),
                    rx.button(
                        "Complete",
                        size="1",
                        color_scheme="grass",
                        on_click=S.open_complete(w.id),
                        data_testid="work-order-complete",
                    ),
                    rx.button(
                        "Cancel",
                        size="1",
                        variant="ghost",
                        color_scheme="red",
                        on_click=S.open_cancel(w.id),
                        data_testid="work-order-cancel",
                    ),
                    spacing="2",
                ),
            ),
            white_space="nowrap",
        ),
        data_testid="work-order-" + w.reference,
        custom_attrs={"data-status": w.status},
    )


def orders_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.heading("Work orders", size="4"),
                rx.spacer(),
                rx.text(
                    S.work_orders_total.to_string()
                    + " in all · downtime in the last year "
                    + S.downtime_year,
                    size="2",
                    color_scheme="gray",
                ),
                width="100%",
                align="center",
                wrap="wrap",
                spacing="2",
            ),
            rx.cond(
                S.work_orders.length() > 0,
                table(
                    ["Work order", "Status", "Problem and findings", "Opened", "Downtime", ""],
                    rx.foreach(S.work_orders, order_row),
                    "work-orders-table",
                    wide=(3,),
                ),
                empty_state("No work orders yet.", icon="wrench"),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


@staff_page("/equipment/[equipment_id]", "Equipment", on_load=[S.load, S.watch])
def equipment_item_page() -> rx.Component:
    return rx.vstack(
        refused("equipment.read", "Your role does not give access to the equipment register."),
        rx.cond(
            can("equipment.read"),
            rx.vstack(
                equipment_tabs(),
                rx.cond(
                    S.loaded,
                    rx.cond(
                        S.problem != "",
                        rx.callout(
                            S.problem,
                            icon="circle-alert",
                            color_scheme="red",
                            width="100%",
                            data_testid="page-problem",
                        ),
                        rx.vstack(header_card(), plans_card(), orders_card(), spacing="4", width="100%"),
                    ),
                    skeleton_rows(8),
                ),
                equipment_dialog(S),
                status_dialog(S),
                plan_dialog(),
                open_order_dialog(),
                complete_dialog(),
                cancel_dialog(),
                spacing="4",
                width="100%",
                data_testid="equipment-item",
                custom_attrs={"data-version": S.version},
            ),
        ),
        spacing="4",
        width="100%",
    )
