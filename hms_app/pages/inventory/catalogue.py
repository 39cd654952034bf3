"""The stock catalogue (/inventory/items): the items with what is on hand, an item's packs and levels,
and the stores; dialogs (a storekeeper's) show each field's message under the field."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, pager
from hms_app.pages.inventory.catalogue_dialogs import item_dialog, level_dialog, pack_dialog, store_dialog
from hms_app.pages.inventory.stock_ui import WIDE_CELL, access_notice, clickable, paged, stock_tabs, table
from hms_app.state.inventory.catalogue import CatalogueState as S
from hms_app.state.inventory.catalogue import ItemLine, LevelLine, PackLine
from hms_app.state.inventory.catalogue_stores import CatalogueStoresState as T
from hms_app.state.inventory.catalogue_stores import StoreLine

MANAGE = "inventory.manage"


def _yes(flag, label: str) -> rx.Component:
    return rx.cond(flag, rx.badge(label, variant="soft", color_scheme="blue"), rx.fragment())


def item_row(row: ItemLine) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(row.code, variant="ghost"), white_space="nowrap"),
        rx.table.row_header_cell(
            clickable(rx.text(row.name, size="2"), S.open_item(row.id), "item-" + row.code),
        ),
        rx.table.cell(row.category_label, display=WIDE_CELL),
        rx.table.cell(row.on_hand, white_space="nowrap"),
        rx.table.cell(rx.code(row.gtin, variant="ghost", size="1"), display=WIDE_CELL),
        rx.table.cell(
            rx.hstack(
                _yes(row.chargeable, row.charge_code),
                _yes(row.track_lots, "Lots"),
                rx.cond(~row.active, rx.badge("Not stocked", color_scheme="gray", variant="outline")),
                spacing="1",
                wrap="wrap",
            )
        ),
        rx.table.cell(
            rx.link(
                rx.icon_button(
                    rx.icon("barcode", size=14),
                    size="1",
                    variant="soft",
                    color_scheme="gray",
                    aria_label="Label",
                ),
                href="/inventory/items/" + row.id.to_string() + "/label",
                title="Print labels",
            )
        ),
        data_testid="catalogue-row-" + row.code,
    )


def pack_row(pack: PackLine) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(pack.name),
        rx.table.cell(pack.base_quantity, " ", S.opened.unit),
        rx.table.cell(rx.code(pack.gtin, variant="ghost", size="1")),
        rx.table.cell(
            rx.cond(
                can(MANAGE),
                rx.hstack(
                    rx.button("Edit", size="1", variant="soft", on_click=S.edit_pack(pack.id)),
                    rx.button(
                        "Remove",
                        size="1",
                        variant="soft",
                        color_scheme="red",
                        on_click=S.remove_pack(pack.id),
                    ),
                    spacing="2",
                ),
            )
        ),
    )


def level_row(level: LevelLine) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(level.store, white_space="nowrap"),
        rx.table.cell(
            level.min_quantity, " / ", level.reorder_point, " / ", level.max_quantity, white_space="nowrap"
        ),
        rx.table.cell(level.bin, white_space="nowrap"),
        rx.table.cell(level.on_hand),
        rx.table.cell(
            rx.cond(
                can(MANAGE),
                rx.hstack(
                    rx.button("Edit", size="1", variant="soft", on_click=S.edit_level(level.location_id)),
                    rx.button(
                        "Remove",
                        size="1",
                        variant="soft",
                        color_scheme="red",
                        on_click=S.remove_level(level.location_id),
                    ),
                    spacing="2",
                ),
            )
        ),
    )


def item_panel() -> rx.Component:
    item = S.opened
    return rx.cond(
        item.id > 0,
        rx.card(
            rx.vstack(
                rx.flex(
                    rx.vstack(
                        rx.heading(item.name, size="4", data_testid="opened-item"),
                        rx.text(
                            rx.code(item.code, variant="ghost"),
                            " · ",
                            item.category_label,
                            " · counted in ",
                            item.unit,
                            " · ",
                            item.on_hand,
                            " in all stores",
                            size="2",
                            color_scheme="gray",
                        ),
                        spacing="1",
                        align="start",
                    ),
                    rx.spacer(),
                    rx.hstack(
                        rx.cond(
                            can(MANAGE),
                            rx.button(
                                rx.icon("pencil", size=14),
                                "Edit item",
                                variant="soft",
                                on_click=S.edit_item,
                                data_testid="edit-item",
                            ),
                        ),
                        rx.link(
                            rx.button(
                                rx.icon("barcode", size=14), "Labels", variant="soft", color_scheme="gray"
                            ),
                            href="/inventory/items/" + item.id.to_string() + "/label",
                            data_testid="item-labels",
                        ),
                        rx.icon_button(
                            rx.icon("x", size=14),
                            variant="ghost",
                            color_scheme="gray",
                            on_click=S.close_item,
                            aria_label="Close",
                        ),
                        spacing="2",
                    ),
                    width="100%",
                    wrap="wrap",
                    spacing="3",
                ),
                rx.grid(
                    rx.vstack(
                        rx.flex(
                            rx.heading("Packs", size="3"),
                            rx.spacer(),
                            rx.cond(
                                can(MANAGE),
                                rx.button(
                                    rx.icon("plus", size=14),
                                    "Pack",
                                    size="1",
                                    variant="soft",
                                    on_click=S.new_pack,
                                    data_testid="new-pack",
                                ),
                            ),
                            width="100%",
                        ),
                        rx.cond(
                            S.packs.length() > 0,
                            table(["Pack", "Holds", "GTIN", ""], rx.foreach(S.packs, pack_row), "item-packs"),
                            rx.text("Only in its base unit.", size="2", color_scheme="gray"),
                        ),
                        spacing="2",
                        width="100%",
                    ),
                    rx.vstack(
                        rx.flex(
                            rx.heading("Levels by store", size="3"),
                            rx.spacer(),
                            rx.cond(
                                can(MANAGE),
                                rx.button(
                                    rx.icon("plus", size=14),
                                    "Levels",
                                    size="1",
                                    variant="soft",
                                    on_click=S.edit_level(""),
                                    data_testid="new-level",
                                ),
                            ),
                            width="100%",
                        ),
                        rx.cond(
                            S.levels.length() > 0,
                            table(
                                ["Store", "Min / reorder / max", "Bin", "On hand", ""],
                                rx.foreach(S.levels, level_row),
                                "item-levels",
                            ),
                            rx.text("Not replenished at any store yet.", size="2", color_scheme="gray"),
                        ),
                        spacing="2",
                        width="100%",
                    ),
                    columns=rx.breakpoints(initial="1", xl="2"),
                    spacing="4",
                    width="100%",
                ),
                spacing="3",
                width="100%",
            ),
            width="100%",
            data_testid="item-panel",
        ),
    )


def items_tab() -> rx.Component:
    return rx.vstack(
        item_panel(),
        rx.card(
            rx.vstack(
                rx.flex(
                    rx.form(
                        rx.hstack(
                            rx.input(
                                rx.input.slot(rx.icon("search", size=14)),
                                name="query",
                                placeholder="Code, name or GTIN",
                                max_length=60,
                                width="14rem",
                                data_testid="catalogue-search",
                            ),
                            rx.button("Search", type="submit", variant="soft"),
                            spacing="2",
                        ),
                        on_submit=S.search,
                        reset_on_submit=False,
                        width="auto",
                    ),
                    rx.select.root(
                        rx.select.trigger(min_width="12rem"),
                        rx.select.content(
                            rx.select.item("Every category", value="all"),
                            rx.foreach(S.categories, lambda c: rx.select.item(c.label, value=c.value)),
                        ),
                        value=S.category,
                        on_change=S.set_category,
                    ),
                    rx.spacer(),
                    rx.cond(
                        can(MANAGE),
                        rx.button(
                            rx.icon("plus", size=16), "New item", on_click=S.new_item, data_testid="new-item"
                        ),
                    ),
                    spacing="3",
                    wrap="wrap",
                    align="center",
                    width="100%",
                ),
                paged(
                    S.loading,
                    S.rows,
                    table(
                        ["Code", "Item", "Category", "On hand", "GTIN", "", ""],
                        rx.foreach(S.rows, item_row),
                        "catalogue-table",
                        wide=(2, 4),
                    ),
                    pager(S.page, S.page_count, S.total, S.move(-1), S.move(1), "items"),
                    empty_state(
                        rx.cond(
                            S.query != "",
                            "No item matches that search.",
                            "The catalogue is empty: add the first item.",
                        ),
                        icon="boxes",
                    ),
                ),
                spacing="3",
                width="100%",
            ),
            width="100%",
        ),
        spacing="4",
        width="100%",
    )


def store_row(row: StoreLine) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(row.code, variant="ghost"), white_space="nowrap"),
        rx.table.row_header_cell(row.name),
        rx.table.cell(row.kind_label),
        rx.table.cell(row.department, display=WIDE_CELL),
        rx.table.cell(row.ward, display=WIDE_CELL),
        rx.table.cell(row.items_held.to_string()),
        rx.table.cell(
            rx.cond(
                row.active,
                rx.badge("Open", color_scheme="green", variant="soft"),
                rx.badge("Closed", color_scheme="gray", variant="outline"),
            )
        ),
        rx.table.cell(
            rx.cond(
                can(MANAGE),
                rx.button(
                    "Edit",
                    size="1",
                    variant="soft",
                    on_click=T.edit_store(row.id),
                    data_testid="edit-store-" + row.code,
                ),
            )
        ),
        data_testid="store-row-" + row.code,
    )


def stores_tab() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.heading("Stores", size="4"),
                rx.spacer(),
                rx.cond(
                    can(MANAGE),
                    rx.button(
                        rx.icon("plus", size=16), "New store", on_click=T.new_store, data_testid="new-store"
                    ),
                ),
                width="100%",
            ),
            paged(
                T.loading,
                T.rows,
                table(
                    ["Code", "Store", "Kind", "Department", "Ward", "Items held", "", ""],
                    rx.foreach(T.rows, store_row),
                    "stores-table",
                    wide=(3, 4),
                ),
                rx.fragment(),
                empty_state("No store yet: open the first one.", icon="warehouse"),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


@staff_page("/inventory/items", "Stock catalogue", [S.load, T.load])
def catalogue_page() -> rx.Component:
    return rx.vstack(
        stock_tabs("/inventory/items"),
        access_notice("inventory.read", "Your role does not give access to the stock catalogue."),
        rx.tabs.root(
            rx.tabs.list(
                rx.tabs.trigger("Items", value="items", data_testid="tab-items"),
                rx.tabs.trigger("Stores", value="stores", data_testid="tab-stores"),
            ),
            rx.tabs.content(rx.box(items_tab(), padding_top="1rem"), value="items"),
            rx.tabs.content(rx.box(stores_tab(), padding_top="1rem"), value="stores"),
            value=S.tab,
            on_change=S.set_tab,
            width="100%",
        ),
        item_dialog(),
        pack_dialog(),
        level_dialog(),
        store_dialog(),
        spacing="4",
        width="100%",
    )
