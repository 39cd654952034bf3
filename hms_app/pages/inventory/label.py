"""/inventory/items/[item_id]/label: a sheet of an item's shelf and bin labels (its code as Code 128,
its name and unit), outside the shell, printed as it is seen."""

from __future__ import annotations

import reflex as rx

from hms_app.state.inventory.label import ItemLabelState as S
from hms_app.state.session import SessionState

HIDE_IN_PRINT = {"@media print": {"display": "none"}}
INK = "#000000"


def label() -> rx.Component:
    return rx.vstack(
        rx.text(
            S.name,
            weight="bold",
            size="2",
            color=INK,
            white_space="nowrap",
            overflow="hidden",
            text_overflow="ellipsis",
            max_width="100%",
        ),
        rx.image(
            src=S.barcode, alt="Code 128 barcode of " + S.code, height="48px", width="auto", max_width="100%"
        ),
        rx.text("Counted in ", S.unit, size="1", color=INK),
        spacing="1",
        align="start",
        padding="0.5rem 0.6rem",
        border="1px dashed #999999",
        overflow="hidden",
        min_width="0",
        style={"break_inside": "avoid"},
        data_testid="item-label",
    )


@rx.page(
    route="/inventory/items/[item_id]/label",
    title="Item labels · HMS",
    on_load=[SessionState.refresh_identity, S.load],
)
def item_label_page() -> rx.Component:
    return rx.box(
        rx.cond(
            S.problem != "",
            rx.box(
                rx.callout(
                    rx.vstack(
                        rx.text(S.problem),
                        rx.link("Back to the catalogue", href="/inventory/items"),
                        spacing="1",
                    ),
                    icon="circle-alert",
                    color_scheme="red",
                    data_testid="page-problem",
                ),
                padding="1.5rem",
            ),
            rx.cond(
                S.loaded,
                rx.vstack(
                    rx.flex(
                        rx.link(
                            rx.button(
                                rx.icon("arrow-left", size=16),
                                "Catalogue",
                                variant="soft",
                                color_scheme="gray",
                            ),
                            href="/inventory/items?item=" + S.item_id.to_string(),
                        ),
                        rx.spacer(),
                        rx.button(
                            rx.icon("printer", size=16),
                            "Print",
                            on_click=rx.call_script("window.print()"),
                            data_testid="print",
                        ),
                        width="100%",
                        max_width="760px",
                        style=HIDE_IN_PRINT,
                    ),
                    rx.text(
                        S.code,
                        " · ",
                        S.name,
                        rx.cond(S.gtin != "", " · GTIN " + S.gtin, ""),
                        size="2",
                        color="#555555",
                        style=HIDE_IN_PRINT,
                        data_testid="label-title",
                    ),
                    rx.grid(
                        *[label() for _ in range(12)],
                        columns="3",
                        spacing="2",
                        width="100%",
                        max_width="760px",
                        data_testid="label-sheet",
                    ),
                    spacing="3",
                    padding="1.5rem",
                    style={"@media print": {"padding": "0"}},
                ),
                rx.center(rx.spinner(size="3"), padding="4rem"),
            ),
        ),
        rx.el.style("@page { size: A4; margin: 10mm; }"),
        background="white",
        color=INK,
        min_height="100vh",
        class_name="light",
        data_testid="label-page",
    )
