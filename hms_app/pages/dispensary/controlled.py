"""/pharmacy/controlled: the controlled drug register, newest line first, with the running balance
of each product at its store, who recorded each line and the witness."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, refused
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, skeleton_rows
from hms_app.pages.boards.common import live_note
from hms_app.pages.dispensary.queue import pharmacy_tabs
from hms_app.pages.laboratory.common import table
from hms_app.state.dispensary.controlled import EVERY
from hms_app.state.dispensary.controlled import RegisterState as S


def register_row(line: dict) -> rx.Component:
    return rx.table.row(
        rx.table.cell(line["when"], white_space="nowrap"),
        rx.table.cell(
            rx.text(line["product"], size="2", weight="medium"),
            rx.text(line["store"], size="1", color_scheme="gray"),
        ),
        rx.table.cell(line["kind"]),
        rx.table.cell(rx.text(line["quantity"], weight="bold")),
        rx.table.cell(rx.text(line["balance"], weight="bold"), data_testid="balance-" + line["id"]),
        rx.table.cell(line["patient"]),
        rx.table.cell(rx.text(line["lots"], size="1")),
        rx.table.cell(
            rx.text(line["recorded_by"], size="2"),
            rx.text("witness " + line["witness"], size="1", color_scheme="gray"),
        ),
        rx.table.cell(rx.text(line["reason"], size="1")),
        data_testid="register-" + line["id"],
    )


def product_filter() -> rx.Component:
    return rx.select.root(
        rx.select.trigger(min_width="16rem", data_testid="register-product"),
        rx.select.content(
            rx.select.item("Every controlled product", value=EVERY),
            rx.foreach(S.products, lambda p: rx.select.item(p[1], value=p[0])),
        ),
        value=S.product,
        on_change=S.set_product,
    )


@staff_page("/pharmacy/controlled", "Controlled drug register", [S.load, S.watch])
def controlled_register_page() -> rx.Component:
    return rx.vstack(
        pharmacy_tabs("/pharmacy/controlled"),
        refused("pharmacy.dispense", "Your role does not give access to the controlled drug register."),
        rx.cond(
            can("pharmacy.dispense"),
            rx.vstack(
                rx.flex(product_filter(), rx.spacer(), live_note(S.updated_at), width="100%", align="center"),
                rx.cond(
                    S.loaded,
                    rx.cond(
                        S.lines.length() > 0,
                        table(
                            [
                                "When",
                                "Product",
                                "Entry",
                                "Quantity",
                                "Balance",
                                "Patient",
                                "Lots",
                                "By",
                                "Reason",
                            ],
                            rx.foreach(S.lines, register_row),
                            "register-table",
                        ),
                        rx.card(
                            empty_state("No controlled drug has been dispensed yet.", icon="shield"),
                            width="100%",
                        ),
                    ),
                    skeleton_rows(6),
                ),
                spacing="3",
                width="100%",
                data_testid="controlled-register",
            ),
        ),
        spacing="4",
        width="100%",
    )
