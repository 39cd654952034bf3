"""The service catalogue and payer price lists (/billing/catalogue)."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, pager
from hms_app.pages.billing.common import (
    WIDE_CELL,
    billing_tabs,
    dialog,
    dialog_buttons,
    dialog_form,
    labelled,
    paged_table,
    select,
    table,
)
from hms_app.state.billing.catalogue import CatalogueLine, CatalogueState, PriceListLine

SERVICE_CATEGORIES = [
    ("visit", "Visit"),
    ("lab", "Laboratory"),
    ("imaging", "Imaging"),
    ("drug", "Drug"),
    ("procedure", "Procedure"),
    ("room", "Room"),
]


def service_row(row: CatalogueLine) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(row.code, variant="ghost"), white_space="nowrap"),
        rx.table.row_header_cell(row.name),
        rx.table.cell(row.category, text_transform="capitalize", display=WIDE_CELL),
        rx.table.cell(row.department, display=WIDE_CELL),
        rx.table.cell(row.price, text_align="right", white_space="nowrap"),
        rx.table.cell(row.tax, text_align="right", white_space="nowrap"),
        rx.table.cell(
            rx.cond(
                row.active,
                rx.badge("Active", color_scheme="green", variant="soft"),
                rx.badge("Retired", color_scheme="gray", variant="outline"),
            )
        ),
        rx.table.cell(
            rx.cond(
                can("billing.post"),
                rx.button(
                    "Edit",
                    size="1",
                    variant="soft",
                    on_click=CatalogueState.edit_service(row.code),
                    data_testid="edit-" + row.code,
                ),
            )
        ),
        data_testid="service-" + row.code,
    )


def price_list_row(row: PriceListLine) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(row.payer),
        rx.table.cell(row.name),
        rx.table.cell(row.valid, white_space="nowrap", display=WIDE_CELL),
        rx.table.cell(row.item_count.to_string()),
        rx.table.cell(
            rx.button(
                "Prices",
                size="1",
                variant=rx.cond(CatalogueState.price_list_id == row.id, "solid", "soft"),
                on_click=CatalogueState.show_price_list(row.id),
            )
        ),
    )


def service_dialog() -> rx.Component:
    editing = CatalogueState.editing
    return dialog(
        rx.cond(editing.id > 0, "Edit service", "New service"),
        "Price changes apply to charges posted from now on; existing charges keep their price.",
        dialog_form(
            labelled(
                "Code",
                rx.input(
                    name="code",
                    default_value=editing.code,
                    required=True,
                    max_length=40,
                    read_only=editing.id > 0,
                    data_testid="service-code",
                    width="100%",
                ),
            ),
            labelled(
                "Name",
                rx.input(
                    name="name", default_value=editing.name, required=True, max_length=200, width="100%"
                ),
            ),
            rx.grid(
                labelled("Kind", select("category", SERVICE_CATEGORIES, editing.category)),
                labelled(
                    "Department",
                    rx.select.root(
                        rx.select.trigger(width="100%"),
                        rx.select.content(
                            rx.select.item("None", value="none"),
                            rx.foreach(
                                CatalogueState.departments, lambda d: rx.select.item(d[1], value=d[0])
                            ),
                        ),
                        name="department_id",
                        default_value=rx.cond(editing.department_id != "", editing.department_id, "none"),
                    ),
                ),
                labelled(
                    "Price",
                    rx.input(
                        name="price",
                        default_value=editing.price_plain,
                        required=True,
                        inputmode="decimal",
                        data_testid="service-price",
                        width="100%",
                    ),
                ),
                labelled(
                    "Tax %",
                    rx.input(
                        name="tax_percent", default_value=editing.tax_plain, inputmode="decimal", width="100%"
                    ),
                ),
                columns="2",
                spacing="3",
                width="100%",
            ),
            rx.hstack(
                rx.checkbox(name="active", default_checked=editing.active),
                rx.text("Active", size="2"),
                spacing="2",
            ),
            error=CatalogueState.error,
            buttons=dialog_buttons("Save service", CatalogueState.set_dialog_open(False)),
            on_submit=CatalogueState.save_service,
            key=editing.code,
        ),
        CatalogueState.dialog == "service",
        CatalogueState.set_dialog_open,
        "service",
    )


def price_dialog() -> rx.Component:
    return dialog(
        "Set a negotiated price",
        "The payer's price for one service code; charges for its members use it from now on.",
        dialog_form(
            labelled(
                "Service code",
                rx.input(
                    name="code", required=True, max_length=40, placeholder="e.g. VISIT-GP", width="100%"
                ),
            ),
            labelled("Price", rx.input(name="price", required=True, inputmode="decimal", width="100%")),
            error=CatalogueState.error,
            buttons=dialog_buttons("Save price", CatalogueState.set_dialog_open(False)),
            on_submit=CatalogueState.save_price,
        ),
        CatalogueState.dialog == "price",
        CatalogueState.set_dialog_open,
        "price",
    )


@staff_page("/billing/catalogue", "Catalogue & prices", CatalogueState.load)
def catalogue_page() -> rx.Component:
    return rx.vstack(
        billing_tabs(),
        rx.card(
            rx.vstack(
                rx.flex(
                    rx.heading("Service catalogue", size="4"),
                    rx.spacer(),
                    rx.form(
                        rx.hstack(
                            rx.input(name="query", placeholder="Code or name", max_length=60, width="14rem"),
                            rx.button(rx.icon("search", size=16), "Search", type="submit", variant="soft"),
                            spacing="2",
                        ),
                        on_submit=CatalogueState.search,
                        reset_on_submit=False,
                        width="auto",
                    ),
                    rx.cond(
                        can("billing.post"),
                        rx.button(
                            rx.icon("plus", size=16),
                            "New service",
                            on_click=CatalogueState.edit_service(""),
                            data_testid="new-service",
                        ),
                    ),
                    width="100%",
                    spacing="2",
                    wrap="wrap",
                    align="center",
                ),
                paged_table(
                    CatalogueState.loading,
                    CatalogueState.rows,
                    table(
                        ["Code", "Service", "Kind", "Department", "Price", "Tax", "Status", ""],
                        rx.foreach(CatalogueState.rows, service_row),
                        "catalogue-table",
                        wide=(2, 3),
                    ),
                    pager(
                        CatalogueState.page,
                        CatalogueState.page_count,
                        CatalogueState.total,
                        CatalogueState.move(-1),
                        CatalogueState.move(1),
                        "services",
                        next_test_id="next-page",
                    ),
                    empty_state("No services match."),
                ),
                spacing="3",
                width="100%",
            ),
            width="100%",
        ),
        rx.card(
            rx.vstack(
                rx.flex(
                    rx.heading("Payer price lists", size="4"),
                    rx.spacer(),
                    rx.cond(
                        can("billing.post") & (CatalogueState.price_list_id > 0),
                        rx.button(
                            rx.icon("tag", size=16),
                            "Set a price",
                            variant="soft",
                            on_click=CatalogueState.open_price,
                        ),
                    ),
                    width="100%",
                ),
                rx.cond(
                    CatalogueState.price_lists.length() > 0,
                    table(
                        ["Payer", "Price list", "Valid", "Prices", ""],
                        rx.foreach(CatalogueState.price_lists, price_list_row),
                        "price-lists",
                        wide=(2,),
                    ),
                    empty_state("No payer price lists: every payer pays the catalogue price."),
                ),
                rx.cond(
                    CatalogueState.price_items.length() > 0,
                    table(
                        ["Code", "Service", "List price", "Negotiated"],
                        rx.foreach(
                            CatalogueState.price_items,
                            lambda p: rx.table.row(
                                rx.table.cell(rx.code(p["code"], variant="ghost")),
                                rx.table.cell(p["name"]),
                                rx.table.cell(p["list"], text_align="right"),
                                rx.table.cell(rx.text(p["price"], weight="medium"), text_align="right"),
                            ),
                        ),
                        "price-items",
                    ),
                ),
                spacing="3",
                width="100%",
            ),
            width="100%",
        ),
        service_dialog(),
        price_dialog(),
        spacing="4",
        width="100%",
    )
