"""Stock counts (/inventory/counts): the counts of every store with their progress, and starting one."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, pager
from hms_app.pages.inventory.purchase_ui import (
    NUMBER,
    WIDE_CELL,
    buttons,
    count_badge,
    dialog,
    field_message,
    form,
    labelled,
    paged,
    select_filter,
    table,
)
from hms_app.state.inventory.counts import HOW, STATUS_FILTERS, CountLine, CountsState

ERRORS = CountsState.field_errors


def count_row(row: CountLine) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.link(row.reference, href="/inventory/counts/" + row.id.to_string(), weight="medium"),
            white_space="nowrap",
        ),
        rx.table.cell(row.store),
        rx.table.cell(row.kind, display=WIDE_CELL),
        rx.table.cell(count_badge(row.status, row.status_label)),
        rx.table.cell(
            rx.text(row.started, size="2", white_space="nowrap"),
            rx.text(row.started_by, size="1", color_scheme="gray"),
            display=WIDE_CELL,
        ),
        rx.table.cell(row.progress, **NUMBER),
        rx.table.cell(
            rx.cond(
                row.variances > 0,
                rx.badge(row.variances.to_string(), color_scheme="amber", variant="soft"),
                rx.text("0", color_scheme="gray"),
            ),
            **NUMBER,
        ),
        rx.table.cell(row.approved_by, display=WIDE_CELL),
        data_testid="count-" + row.reference,
    )


def start_dialog() -> rx.Component:
    return dialog(
        "start-count",
        "Start a stock count",
        "The book quantities are frozen now; the store keeps working while it is counted.",
        form(
            labelled(
                "Store",
                rx.select.root(
                    rx.select.trigger(
                        width="100%", placeholder="Choose the store", data_testid="count-store"
                    ),
                    rx.select.content(
                        rx.foreach(CountsState.stores, lambda o: rx.select.item(o.label, value=o.id))
                    ),
                    name="location_id",
                ),
                ERRORS,
                "location_id",
            ),
            labelled(
                "What to count",
                rx.radio_group.root(
                    rx.vstack(
                        *[
                            rx.text(
                                rx.flex(rx.radio_group.item(value=key), label, spacing="2", align="center"),
                                as_="label",
                                size="2",
                            )
                            for key, label in HOW.items()
                        ],
                        spacing="2",
                    ),
                    value=CountsState.how,
                    on_change=CountsState.set_how,
                    data_testid="count-how",
                ),
            ),
            rx.match(
                CountsState.how,
                (
                    "oldest",
                    labelled(
                        "How many items",
                        rx.input(
                            name="oldest",
                            default_value="20",
                            inputmode="numeric",
                            width="8rem",
                            data_testid="count-oldest",
                        ),
                        ERRORS,
                        "oldest",
                        hint="Those the store holds that were counted longest ago, never counted first.",
                    ),
                ),
                (
                    "chosen",
                    rx.vstack(
                        rx.text("Items", size="2", weight="medium"),
                        rx.flex(
                            rx.foreach(
                                CountsState.chosen,
                                lambda o: rx.badge(
                                    o.name,
                                    rx.icon(
                                        "x", size=12, cursor="pointer", on_click=CountsState.drop_item(o.id)
                                    ),
                                    size="2",
                                    variant="soft",
                                ),
                            ),
                            spacing="1",
                            wrap="wrap",
                        ),
                        rx.input(
                            rx.input.slot(rx.icon("search", size=14)),
                            placeholder="Add an item: code, name or GTIN",
                            on_change=CountsState.search_item,
                            debounce_timeout=300,
                            max_length=60,
                            width="100%",
                            data_testid="count-item-search",
                        ),
                        rx.foreach(
                            CountsState.item_options,
                            lambda o: rx.button(
                                o.name,
                                rx.text(o.code, size="1", color_scheme="gray"),
                                type="button",
                                variant="soft",
                                color_scheme="gray",
                                width="100%",
                                justify_content="flex-start",
                                on_click=CountsState.choose_item(o.id),
                            ),
                        ),
                        field_message(ERRORS, "item_ids"),
                        spacing="2",
                        width="100%",
                    ),
                ),
                rx.fragment(),
            ),
            error=CountsState.error_text,
            footer=buttons(
                "Start count", CountsState.close_dialog, CountsState.saving, icon="clipboard-list"
            ),
            on_submit=CountsState.submit_start,
        ),
        CountsState.dialog == "start",
        CountsState.on_dialog_change,
    )


@staff_page("/inventory/counts", "Stock counts", CountsState.load)
def counts_page() -> rx.Component:
    return rx.vstack(
        rx.card(
            rx.vstack(
                rx.flex(
                    select_filter(
                        CountsState.store_filter,
                        CountsState.stores,
                        CountsState.set_store_filter,
                        "count-store-filter",
                        all_label="Every store",
                        width="16rem",
                    ),
                    select_filter(
                        CountsState.status_filter,
                        STATUS_FILTERS,
                        CountsState.set_status_filter,
                        "count-status-filter",
                        width="12rem",
                    ),
                    rx.spacer(),
                    rx.cond(
                        can("inventory.keep"),
                        rx.button(
                            rx.icon("clipboard-list", size=16),
                            "Start a count",
                            on_click=CountsState.open_start,
                            data_testid="start-count",
                        ),
                    ),
                    width="100%",
                    align="center",
                    spacing="2",
                    wrap="wrap",
                ),
                paged(
                    CountsState.loading,
                    CountsState.rows,
                    rx.vstack(
                        table(
                            [
                                "Count",
                                "Store",
                                "Kind",
                                "Status",
                                "Started",
                                "Counted",
                                "Variances",
                                "Approved by",
                            ],
                            rx.foreach(CountsState.rows, count_row),
                            "counts-table",
                            wide=(2, 4, 7),
                            numeric=(5, 6),
                        ),
                        pager(
                            CountsState.page,
                            CountsState.page_count,
                            CountsState.total,
                            CountsState.move(-1),
                            CountsState.move(1),
                            "counts",
                        ),
                        width="100%",
                    ),
                    empty_state("No stock counts match.", "clipboard-check"),
                ),
                spacing="3",
                width="100%",
            ),
            width="100%",
        ),
        start_dialog(),
        spacing="4",
        width="100%",
    )
