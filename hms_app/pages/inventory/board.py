"""The live low-stock board (/inventory/board): the figures, a tile per item that is out, below its
minimum or at its reorder point, and the lots expired or expiring within 30 days. Made to be read
on a tablet on the store's wall; it changes by itself when stock moves anywhere."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, pager, skeleton_rows, stat_card
from hms_app.pages.boards.common import live_note
from hms_app.pages.inventory.stock_ui import FLAG_COLOURS, access_notice, stock_tabs, table
from hms_app.state.inventory.board import ALL, ExpiringLine, LowLine
from hms_app.state.inventory.board import LowStockBoardState as S


def _colour(flag, shade: int):
    return rx.match(
        flag,
        *[(name, rx.color(colour, shade)) for name, colour in FLAG_COLOURS.items()],
        rx.color("gray", shade),
    )


def low_tile(line: LowLine) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.badge(
                    line.flag_label,
                    color_scheme=rx.match(line.flag, *FLAG_COLOURS.items(), "gray"),
                    variant="solid",
                ),
                rx.spacer(),
                rx.text(line.store, size="1", color_scheme="gray", text_align="right"),
                width="100%",
                align="center",
            ),
            rx.text(line.name, weight="bold", size="3", data_testid="low-name"),
            rx.code(line.code, variant="ghost", size="1"),
            rx.hstack(
                rx.vstack(
                    rx.text("Usable", size="1", color_scheme="gray"),
                    rx.text(line.usable, size="4", weight="bold", data_testid="low-usable"),
                    spacing="0",
                ),
                rx.vstack(
                    rx.text("Min / reorder / max", size="1", color_scheme="gray"),
                    rx.text(line.levels, size="2"),
                    spacing="0",
                ),
                rx.vstack(
                    rx.text("To order", size="1", color_scheme="gray"),
                    rx.text(line.to_order, size="2", weight="medium"),
                    spacing="0",
                ),
                spacing="4",
                wrap="wrap",
            ),
            rx.cond(line.expired_note != "", rx.text(line.expired_note, size="1", color=rx.color("red", 11))),
            rx.cond(line.bin != "", rx.text("Bin ", line.bin, size="1", color_scheme="gray")),
            spacing="2",
            width="100%",
            align="start",
        ),
        border_top=f"4px solid {_colour(line.flag, 9)}",
        background=_colour(line.flag, 2),
        width="100%",
        data_testid="low-" + line.code,
        custom_attrs={"data-flag": line.flag},
    )


def expiring_row(line: ExpiringLine) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.text(line.item, size="2"), rx.text(line.store, size="1", color_scheme="gray")
        ),
        rx.table.cell(rx.code(line.lot, variant="ghost"), white_space="nowrap"),
        rx.table.cell(line.expiry, white_space="nowrap"),
        rx.table.cell(
            rx.badge(line.when, color_scheme=rx.cond(line.expired, "red", "amber"), variant="soft"),
            white_space="nowrap",
        ),
        rx.table.cell(line.quantity, white_space="nowrap", text_align="right"),
        data_testid="expiring-" + line.lot,
    )


def figures() -> rx.Component:
    return rx.grid(
        stat_card(
            "Out of stock", S.stock_outs, "none usable where a level is set", "package-x", "figure-stock-outs"
        ),
        stat_card("Below minimum", S.below_min, "order now", "triangle-alert", "figure-below-min"),
        stat_card("At reorder point", S.at_reorder, "order soon", "shopping-cart", "figure-reorder"),
        stat_card(
            "Expiring lots",
            S.expiring_total,
            rx.cond(S.expired_lots > 0, S.expired_lots.to_string() + " already expired", "within 30 days"),
            "calendar-clock",
            "figure-expiring",
        ),
        columns=rx.breakpoints(initial="2", lg="4"),
        spacing="3",
        width="100%",
    )


def store_filter() -> rx.Component:
    return rx.select.root(
        rx.select.trigger(min_width="16rem", data_testid="board-store"),
        rx.select.content(
            rx.select.item("Every store I see", value=ALL),
            rx.foreach(S.stores, lambda s: rx.select.item(s.label, value=s.id)),
        ),
        value=S.store,
        on_change=S.select_store,
    )


@staff_page("/inventory/board", "Low stock", [S.load, S.watch])
def board_page() -> rx.Component:
    return rx.vstack(
        stock_tabs("/inventory/board"),
        access_notice("inventory.read", "Your role does not give access to the stores."),
        rx.cond(
            can("inventory.read"),
            rx.vstack(
                rx.flex(
                    store_filter(),
                    rx.spacer(),
                    live_note(S.updated_at),
                    width="100%",
                    align="center",
                    wrap="wrap",
                    spacing="3",
                ),
                rx.cond(
                    S.loaded,
                    rx.vstack(
                        figures(),
                        rx.heading("Needs ordering", size="4"),
                        rx.cond(
                            S.rows.length() > 0,
                            rx.vstack(
                                rx.grid(
                                    rx.foreach(S.rows, low_tile),
                                    columns=rx.breakpoints(initial="1", xs="2", md="3", xl="4"),
                                    spacing="3",
                                    width="100%",
                                    data_testid="low-grid",
                                ),
                                pager(S.page, S.page_count, S.total, S.move(-1), S.move(1), "items"),
                                spacing="3",
                                width="100%",
                            ),
                            rx.card(
                                empty_state("Nothing is at or below its reorder point.", icon="circle-check"),
                                width="100%",
                            ),
                        ),
                        rx.heading("Expired or expiring within 30 days", size="4"),
                        rx.cond(
                            S.expiring.length() > 0,
                            rx.vstack(
                                table(
                                    ["Item", "Lot", "Expiry", "", "Held"],
                                    rx.foreach(S.expiring, expiring_row),
                                    "expiring-table",
                                ),
                                pager(
                                    S.expiring_page,
                                    S.expiring_page_count,
                                    S.expiring_total,
                                    S.move_expiring(-1),
                                    S.move_expiring(1),
                                    "lots",
                                ),
                                spacing="3",
                                width="100%",
                            ),
                            rx.card(
                                empty_state("No lot expires within 30 days.", icon="calendar-check"),
                                width="100%",
                            ),
                        ),
                        spacing="4",
                        width="100%",
                    ),
                    skeleton_rows(8),
                ),
                spacing="4",
                width="100%",
                data_testid="stock-board",
                custom_attrs={"data-version": S.version},
            ),
        ),
        spacing="4",
        width="100%",
    )
