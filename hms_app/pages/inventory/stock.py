"""Stock on hand (/inventory): one store's items with their reorder flags; an item opened shows its
lots here (an expired one can be written off) and its stock in every store. Transfer and adjust
from the row."""

from __future__ import annotations

import reflex as rx

from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, pager
from hms_app.pages.inventory.stock_dialogs import adjust_dialog, transfer_dialog, write_off_dialog
from hms_app.pages.inventory.stock_ui import (
    TABLET_CELL,
    WIDE_CELL,
    access_notice,
    clickable,
    flag_badge,
    paged,
    stock_tabs,
    store_picker,
    table,
)
from hms_app.state.inventory.stock import StockState, StoreHolding
from hms_app.state.inventory.stock_common import LotLine, StockLine
from hms_app.state.inventory.stock_moves import StockMovesState


def _expiry(line: StockLine) -> rx.Component:
    return rx.cond(
        line.next_expiry != "",
        rx.hstack(
            rx.text(line.next_expiry, size="2", white_space="nowrap"),
            rx.cond(
                line.expired > 0, rx.badge("Expired stock", color_scheme="red", variant="outline", size="1")
            ),
            spacing="2",
            align="center",
        ),
        rx.text("–", color_scheme="gray"),
    )


def stock_row(line: StockLine) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            clickable(
                rx.vstack(
                    rx.text(line.name, weight="medium", size="2"),
                    rx.code(line.code, variant="ghost", size="1"),
                    spacing="0",
                    align="start",
                ),
                StockState.open_item(line.item_id),
                "open-item-" + line.code,
            )
        ),
        rx.table.cell(
            rx.text(line.on_hand.to_string(), " ", line.unit, weight="medium", white_space="nowrap"),
            rx.cond(
                line.usable != line.on_hand,
                rx.text(line.usable.to_string(), " usable", size="1", color_scheme="gray"),
            ),
            data_testid="on-hand-" + line.code,
        ),
        rx.table.cell(_expiry(line), display=TABLET_CELL),
        rx.table.cell(rx.text(line.levels, size="2", white_space="nowrap"), display=WIDE_CELL),
        rx.table.cell(line.bin, display=WIDE_CELL),
        rx.table.cell(flag_badge(line.flag, line.flag_label)),
        rx.table.cell(
            rx.cond(
                StockState.can_keep,
                rx.hstack(
                    rx.tooltip(
                        rx.icon_button(
                            rx.icon("arrow-right-left", size=14),
                            size="1",
                            variant="soft",
                            on_click=StockMovesState.open_transfer(line.item_id),
                            disabled=line.usable <= 0,
                            aria_label="Transfer to another store",
                            data_testid="transfer-" + line.code,
                        ),
                        content="Transfer to another store",
                    ),
                    rx.tooltip(
                        rx.icon_button(
                            rx.icon("pencil-ruler", size=14),
                            size="1",
                            variant="soft",
                            color_scheme="gray",
                            on_click=StockMovesState.open_adjust(line.item_id),
                            disabled=line.lots.to(list).length() == 0,
                            aria_label="Adjust with a reason",
                            data_testid="adjust-" + line.code,
                        ),
                        content="Adjust with a reason",
                    ),
                    spacing="2",
                ),
            )
        ),
        data_testid="stock-row-" + line.code,
        custom_attrs={"data-flag": line.flag},
    )


def lot_row(lot: LotLine) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.cond(
                lot.number != "",
                rx.code(lot.number, variant="ghost"),
                rx.text("Untracked", color_scheme="gray"),
            )
        ),
        rx.table.cell(rx.cond(lot.expiry != "", lot.expiry, "–"), white_space="nowrap"),
        rx.table.cell(lot.quantity.to_string(), text_align="right"),
        rx.table.cell(
            rx.cond(
                lot.expired,
                rx.hstack(
                    rx.badge("Expired", color_scheme="red", variant="soft"),
                    rx.cond(
                        StockState.can_keep,
                        rx.button(
                            "Write off",
                            size="1",
                            color_scheme="red",
                            variant="soft",
                            on_click=StockMovesState.open_write_off(StockState.item.item_id, lot.lot_id),
                            data_testid="write-off-" + lot.number,
                        ),
                    ),
                    spacing="2",
                    align="center",
                ),
                rx.cond(
                    lot.expiring, rx.badge("Expires within 30 days", color_scheme="amber", variant="soft")
                ),
            )
        ),
    )


def holding_row(row: StoreHolding) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(row.store),
        rx.table.cell(row.quantity.to_string(), text_align="right"),
        rx.table.cell(row.usable.to_string(), text_align="right"),
        rx.table.cell(row.lots.to_string(), text_align="right"),
    )


def item_dialog() -> rx.Component:
    item = StockState.item
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(item.name),
            rx.dialog.description(
                rx.code(item.code, variant="ghost"),
                " · counted in ",
                item.unit,
                size="2",
                color_scheme="gray",
            ),
            rx.vstack(
                rx.heading("Lots in ", StockState.store_name, size="3", padding_top="0.75rem"),
                rx.cond(
                    item.lots.to(list).length() > 0,
                    table(["Lot", "Expiry", "Quantity", ""], rx.foreach(item.lots, lot_row), "item-lots"),
                    rx.text("None held here.", size="2", color_scheme="gray"),
                ),
                rx.heading("In every store", size="3", padding_top="0.5rem"),
                rx.cond(
                    StockState.holdings.length() > 0,
                    table(
                        ["Store", "On hand", "Usable", "Lots"],
                        rx.foreach(StockState.holdings, holding_row),
                        "item-stores",
                    ),
                    rx.text("No store holds any.", size="2", color_scheme="gray"),
                ),
                rx.flex(
                    rx.link(
                        rx.button("Catalogue entry", variant="soft", size="2"),
                        href="/inventory/items?item=" + item.item_id.to_string(),
                    ),
                    rx.button(
                        "Close", variant="soft", color_scheme="gray", on_click=StockState.set_item_open(False)
                    ),
                    justify="end",
                    spacing="3",
                    width="100%",
                    padding_top="0.5rem",
                ),
                spacing="3",
                width="100%",
            ),
            max_width="40rem",
            data_testid="dialog-item",
        ),
        open=StockState.item_open,
        on_open_change=StockState.set_item_open,
    )


def toolbar() -> rx.Component:
    return rx.flex(
        store_picker(StockState),
        rx.form(
            rx.hstack(
                rx.input(
                    rx.input.slot(rx.icon("search", size=14)),
                    name="query",
                    placeholder="Code, name or GTIN",
                    max_length=60,
                    width="14rem",
                    data_testid="stock-search",
                ),
                rx.button("Search", type="submit", variant="soft"),
                spacing="2",
            ),
            on_submit=StockState.search,
            reset_on_submit=False,
            width="auto",
        ),
        rx.hstack(
            rx.switch(checked=StockState.low_only, on_change=StockState.set_low_only, data_testid="low-only"),
            rx.text("Only what needs ordering", size="2"),
            spacing="2",
            align="center",
        ),
        spacing="3",
        wrap="wrap",
        align="center",
        width="100%",
    )


@staff_page("/inventory", "Stock on hand", [StockState.load, StockState.watch])
def stock_page() -> rx.Component:
    return rx.vstack(
        stock_tabs("/inventory"),
        access_notice("inventory.read", "Your role does not give access to the stores."),
        rx.card(
            rx.vstack(
                toolbar(),
                rx.cond(
                    ~StockState.loading & (StockState.stores.length() == 0),
                    empty_state(
                        "No store is open to you yet: a storekeeper sets the stores up.", icon="warehouse"
                    ),
                    paged(
                        StockState.loading,
                        StockState.rows,
                        table(
                            ["Item", "On hand", "Next expiry", "Min / reorder / max", "Bin", "Status", ""],
                            rx.foreach(StockState.rows, stock_row),
                            "stock-table",
                            wide=(3, 4),
                            tablet=(2,),
                        ),
                        pager(
                            StockState.page,
                            StockState.page_count,
                            StockState.total,
                            StockState.move(-1),
                            StockState.move(1),
                            "items",
                        ),
                        empty_state(
                            rx.cond(
                                StockState.query != "",
                                "No item here matches that search.",
                                rx.cond(
                                    StockState.low_only,
                                    "Nothing here is at or below its reorder point.",
                                    "This store holds nothing yet and has no levels set.",
                                ),
                            ),
                            icon="package-open",
                        ),
                    ),
                ),
                spacing="3",
                width="100%",
            ),
            width="100%",
        ),
        item_dialog(),
        transfer_dialog(),
        adjust_dialog(),
        write_off_dialog(),
        spacing="4",
        width="100%",
    )
