"""The medication orders card (prescribe, change, renew, stop, print) and the medications card of the chart's Allergies & medications tab, and its add and stop dialogs."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can
from hms_app.components.ui import empty_state
from hms_app.pages.chart.common import (
    add_button,
    card_title,
    header_cells,
    icon_text,
    muted,
    record_card,
    scroll_table,
    status_badge,
    write_only,
)
from hms_app.pages.chart.dialogs import date_input, form_dialog, labelled
from hms_app.state.chart.med_orders import ChartMedOrdersState as OrdersState
from hms_app.state.chart.med_orders import MedOrderLine
from hms_app.state.chart.medications import ChartMedicationsState, MedicationLine
from hms_app.state.chart.prescribe import ChartPrescribeState as PrescribeState


def medication_row(m: MedicationLine) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(rx.text(m.medication, weight="medium")),
        rx.table.cell(m.dosage),
        rx.table.cell(status_badge(m.status)),
        rx.table.cell(rx.text(m.started, white_space="nowrap")),
        rx.table.cell(rx.cond(m.status != "active", rx.text(m.stopped, " · ", m.stop_reason, size="2"))),
        rx.table.cell(
            rx.cond(
                m.order_reference != "",
                # Fed by a medication order: stopped through the order (the orders card), never here.
                muted("Order ", m.order_reference, data_testid="ordered-" + m.id.to_string()),
                write_only(
                    rx.cond(
                        m.status == "active",
                        rx.button(
                            "Stop",
                            size="1",
                            variant="soft",
                            color_scheme="red",
                            on_click=ChartMedicationsState.ask_stop(m.id),
                        ),
                    )
                ),
            ),
            text_align="right",
        ),
        align="center",
    )


def medication_card() -> rx.Component:
    return record_card(
        "Medications",
        "pill",
        header_cells("Medication", "Dosage", "Status", "Started", "Stopped", ""),
        ChartMedicationsState.medications,
        medication_row,
        "No medications recorded.",
        add_button("Add medication", "medication", "add-medication"),
    )


def medication_dialogs() -> rx.Component:
    return rx.fragment(
        form_dialog(
            ChartMedicationsState,
            "medication",
            "Add a medication",
            "A medicine the patient takes.",
            ChartMedicationsState.submit_medication,
            "Add medication",
            labelled(
                ChartMedicationsState,
                "Medication",
                rx.input(
                    name="medication",
                    max_length=200,
                    required=True,
                    width="100%",
                    placeholder="e.g. Metformin",
                ),
                "medication",
            ),
            labelled(
                ChartMedicationsState,
                "Dosage",
                rx.input(name="dosage", max_length=200, width="100%", placeholder="e.g. 500 mg twice daily"),
                "dosage",
            ),
            labelled(ChartMedicationsState, "Started on (optional)", date_input("started_on"), "started_on"),
        ),
        form_dialog(
            ChartMedicationsState,
            "stop",
            "Stop medication",
            rx.text("Stops ", rx.text.strong(ChartMedicationsState.dialog_subject), "; the reason is kept."),
            ChartMedicationsState.submit_stop,
            "Stop medication",
            labelled(
                ChartMedicationsState,
                "Reason",
                rx.input(
                    name="stop_reason",
                    max_length=200,
                    required=True,
                    width="100%",
                    placeholder="e.g. Side effects",
                ),
                "stop_reason",
            ),
            labelled(
                ChartMedicationsState,
                "Stopped on",
                date_input("stopped_on"),
                "stopped_on",
                "Today if left empty.",
            ),
        ),
    )


# ---------------------------------------------------------------------- medication orders

CAN_ORDER = can("medication.order")


def order_actions(o: MedOrderLine) -> rx.Component:
    small = {"size": "1", "variant": "soft", "type": "button"}
    return rx.cond(
        CAN_ORDER,
        rx.hstack(
            rx.cond(
                o.status == "active",
                rx.hstack(
                    rx.button("Change", on_click=PrescribeState.open_change(o.id), **small),
                    rx.button("Renew", on_click=PrescribeState.open_renew(o.id), **small),
                    rx.button("Stop", color_scheme="red", on_click=OrdersState.ask_stop(o.id), **small),
                    spacing="1",
                ),
            ),
            rx.cond(
                o.status == "draft",
                rx.button("Continue", on_click=PrescribeState.open_draft(o.id), **small),
            ),
            rx.cond(
                o.status != "draft",
                rx.link(
                    rx.icon_button(
                        rx.icon("printer", size=14), size="1", variant="ghost", aria_label="Print"
                    ),
                    href="/pharmacy/prescriptions/" + o.id.to_string() + "/print",
                    is_external=True,
                    data_testid="print-" + o.reference,
                ),
            ),
            spacing="1",
            justify="end",
        ),
    )


def med_order_row(o: MedOrderLine) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.vstack(
                rx.text(o.product, weight="medium"), muted(o.reference, " · ", o.setting_label), spacing="0"
            )
        ),
        rx.table.cell(rx.text(o.sig, size="2")),
        rx.table.cell(rx.text(o.quantity, white_space="nowrap")),
        rx.table.cell(
            rx.vstack(
                rx.match(
                    o.status,
                    ("active", rx.badge("Active", color_scheme="green", variant="soft")),
                    ("draft", rx.badge("Draft", color_scheme="amber", variant="soft")),
                    rx.badge(o.status_label, color_scheme="gray", variant="outline"),
                ),
                rx.cond(
                    o.sent_back != "",
                    rx.badge(
                        rx.icon("undo-2", size=12, flex_shrink="0"),
                        "Sent back: " + o.sent_back,
                        color_scheme="red",
                        variant="soft",
                        white_space="normal",
                        max_width="16rem",
                        data_testid="sent-back-" + o.reference,
                    ),
                ),
                rx.cond(o.ended != "", muted(o.ended)),
                spacing="1",
            )
        ),
        rx.table.cell(muted(o.who)),
        rx.table.cell(order_actions(o), text_align="right"),
        align="center",
        data_testid="med-order-" + o.reference,
    )


def med_orders_card() -> rx.Component:
    return rx.cond(
        can("medication.read"),
        rx.card(
            rx.vstack(
                card_title(
                    "Medication orders",
                    "clipboard-list",
                    rx.cond(OrdersState.orders_loading, rx.spinner(size="1")),
                    rx.text(
                        rx.flex(
                            rx.switch(
                                checked=OrdersState.show_ended,
                                on_change=OrdersState.set_show_ended,
                                size="1",
                                data_testid="show-ended",
                            ),
                            "Show ended",
                            spacing="2",
                        ),
                        as_="label",
                        size="1",
                    ),
                    rx.cond(
                        CAN_ORDER,
                        rx.button(
                            rx.icon("plus", size=14),
                            "Prescribe",
                            size="1",
                            on_click=PrescribeState.open_prescribe,
                            data_testid="prescribe",
                        ),
                    ),
                ),
                rx.cond(
                    OrdersState.orders.length() > 0,
                    scroll_table(
                        header_cells("Medicine", "Sig", "Quantity", "Status", "Who", ""),
                        rx.table.body(rx.foreach(OrdersState.orders, med_order_row)),
                    ),
                    empty_state("No medication orders.", "clipboard-list"),
                ),
                spacing="3",
                width="100%",
            ),
            width="100%",
            data_testid="med-orders",
        ),
    )


def stop_order_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Stop medication order"),
            rx.dialog.description(
                rx.text("Stops ", rx.text.strong(OrdersState.stop_subject), "; the reason is kept."),
                size="2",
                color_scheme="gray",
                margin_bottom="1rem",
            ),
            rx.form(
                rx.vstack(
                    rx.text("Reason", size="2", weight="medium", as_="label"),
                    rx.input(
                        name="reason",
                        max_length=300,
                        width="100%",
                        placeholder="e.g. Rash",
                        data_testid="stop-reason",
                    ),
                    rx.cond(
                        OrdersState.stop_error != "",
                        icon_text(
                            "circle-alert",
                            OrdersState.stop_error,
                            color=rx.color("red", 11),
                            data_testid="error-stop",
                        ),
                    ),
                    rx.flex(
                        rx.dialog.close(
                            rx.button("Keep the order", variant="soft", color_scheme="gray", type="button")
                        ),
                        rx.button(
                            "Stop order",
                            type="submit",
                            color_scheme="red",
                            loading=OrdersState.stopping,
                            data_testid="confirm-stop",
                        ),
                        spacing="3",
                        justify="end",
                        width="100%",
                    ),
                    spacing="2",
                    width="100%",
                ),
                on_submit=OrdersState.submit_stop,
                reset_on_submit=False,
            ),
            max_width="30rem",
        ),
        open=OrdersState.stop_open,
        on_open_change=OrdersState.on_stop_dialog_change,
    )
