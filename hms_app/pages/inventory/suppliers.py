"""Suppliers (/inventory/suppliers): who the hospital buys from, their contacts and lead times."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, pager
from hms_app.pages.inventory.purchase_ui import (
    NUMBER,
    WIDE_CELL,
    buttons,
    dialog,
    form,
    labelled,
    paged,
    table,
)
from hms_app.state.inventory.suppliers import SupplierLine, SuppliersState

ERRORS = SuppliersState.field_errors


def supplier_row(row: SupplierLine) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.text(row.name, weight="medium", size="2"),
            rx.cond(row.contact != "", rx.text(row.contact, size="1", color_scheme="gray")),
        ),
        rx.table.cell(
            rx.cond(row.email != "", rx.link(row.email, href="mailto:" + row.email, size="2")),
            rx.cond(row.phone != "", rx.text(row.phone, size="1", color_scheme="gray")),
            display=WIDE_CELL,
        ),
        rx.table.cell(row.lead_time, **NUMBER),
        rx.table.cell(row.item_count.to_string(), **NUMBER),
        rx.table.cell(row.open_orders.to_string(), **NUMBER, display=WIDE_CELL),
        rx.table.cell(
            rx.cond(
                row.active,
                rx.badge("Active", color_scheme="green", variant="soft"),
                rx.badge("Not used", color_scheme="gray", variant="outline"),
            )
        ),
        rx.table.cell(
            rx.cond(
                can("inventory.manage"),
                rx.icon_button(
                    rx.icon("pencil", size=14),
                    size="1",
                    variant="ghost",
                    aria_label="Edit " + row.name,
                    on_click=SuppliersState.open_edit(row.id),
                    data_testid="edit-supplier-" + row.id.to_string(),
                ),
            ),
            text_align="right",
        ),
        data_testid="supplier-row",
    )


def supplier_dialog() -> rx.Component:
    editing = SuppliersState.editing
    return dialog(
        "supplier",
        rx.cond(SuppliersState.dialog == "edit", "Edit " + editing.name, "New supplier"),
        "The lead time is the days the supplier promises between an order being sent and its delivery.",
        form(
            labelled(
                "Name",
                rx.input(
                    name="name",
                    default_value=editing.name,
                    required=True,
                    max_length=120,
                    width="100%",
                    data_testid="supplier-name",
                ),
                ERRORS,
                "name",
            ),
            labelled(
                "Contact person (optional)",
                rx.input(name="contact", default_value=editing.contact, max_length=120, width="100%"),
                ERRORS,
                "contact",
            ),
            rx.grid(
                labelled(
                    "Email (optional)",
                    rx.input(
                        name="email",
                        default_value=editing.email,
                        max_length=200,
                        width="100%",
                        placeholder="orders@supplier.example",
                        data_testid="supplier-email",
                    ),
                    ERRORS,
                    "email",
                ),
                labelled(
                    "Phone (optional)",
                    rx.input(
                        name="phone",
                        default_value=editing.phone,
                        max_length=40,
                        width="100%",
                        data_testid="supplier-phone",
                    ),
                    ERRORS,
                    "phone",
                ),
                columns=rx.breakpoints(initial="1", sm="2"),
                spacing="3",
                width="100%",
            ),
            labelled(
                "Lead time (days)",
                rx.input(
                    name="lead_time_days",
                    default_value=editing.lead_time_days.to_string(),
                    inputmode="numeric",
                    required=True,
                    width="8rem",
                    data_testid="supplier-lead-time",
                ),
                ERRORS,
                "lead_time_days",
            ),
            rx.cond(
                SuppliersState.dialog == "edit",
                rx.checkbox(
                    "Still used (a supplier no longer used is kept for its past orders)",
                    checked=SuppliersState.form_active,
                    on_change=SuppliersState.set_form_active,
                ),
            ),
            error=SuppliersState.error_text,
            footer=buttons(
                rx.cond(SuppliersState.dialog == "edit", "Save", "Add supplier"),
                SuppliersState.close_dialog,
                SuppliersState.saving,
            ),
            on_submit=SuppliersState.submit,
            key=SuppliersState.form_key,
        ),
        SuppliersState.dialog != "",
        SuppliersState.on_dialog_change,
    )


@staff_page("/inventory/suppliers", "Suppliers", SuppliersState.load)
def suppliers_page() -> rx.Component:
    return rx.vstack(
        rx.card(
            rx.vstack(
                rx.flex(
                    rx.input(
                        rx.input.slot(rx.icon("search", size=14)),
                        placeholder="Search suppliers",
                        on_change=SuppliersState.set_query,
                        debounce_timeout=300,
                        max_length=60,
                        width="18rem",
                        data_testid="supplier-search",
                    ),
                    rx.spacer(),
                    rx.link(
                        rx.button(rx.icon("shopping-cart", size=16), "Purchasing", variant="soft"),
                        href="/inventory/orders",
                    ),
                    rx.cond(
                        can("inventory.manage"),
                        rx.button(
                            rx.icon("plus", size=16),
                            "New supplier",
                            on_click=SuppliersState.open_create,
                            data_testid="new-supplier",
                        ),
                    ),
                    width="100%",
                    align="center",
                    spacing="2",
                    wrap="wrap",
                ),
                paged(
                    SuppliersState.loading,
                    SuppliersState.rows,
                    rx.vstack(
                        table(
                            [
                                "Supplier",
                                "Email and phone",
                                "Lead time",
                                "Items",
                                "Open orders",
                                "Status",
                                "",
                            ],
                            rx.foreach(SuppliersState.rows, supplier_row),
                            "suppliers-table",
                            wide=(1, 4),
                            numeric=(2, 3, 4),
                        ),
                        pager(
                            SuppliersState.page,
                            SuppliersState.page_count,
                            SuppliersState.total,
                            SuppliersState.move(-1),
                            SuppliersState.move(1),
                            "suppliers",
                        ),
                        width="100%",
                    ),
                    empty_state("No suppliers match.", "truck"),
                ),
                spacing="3",
                width="100%",
            ),
            width="100%",
        ),
        supplier_dialog(),
        spacing="4",
        width="100%",
    )
