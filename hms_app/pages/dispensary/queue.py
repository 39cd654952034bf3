"""The pharmacy queue (/pharmacy): to verify, to dispense, dispensed today; the verify, dispense and
return dialogs. It changes by itself when anyone signs, verifies, dispenses or returns."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, no_access
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, skeleton_rows
from hms_app.pages.boards.common import live_note
from hms_app.pages.laboratory.common import error_line, patient_cell, table
from hms_app.state.dispensary.queue import VIEWS, AlertLine, LotLine, QueueLine
from hms_app.state.dispensary.queue import PharmacyQueueState as S

EMPTY = {
    "verify": "No signed order is waiting for verification.",
    "dispense": "No verified order is waiting to be dispensed.",
    "today": "Nothing has been dispensed today.",
}


def pharmacy_tabs(active: str) -> rx.Component:
    def tab(label: str, href: str, permission: str) -> rx.Component:
        return rx.cond(
            can(permission),
            rx.link(
                rx.button(label, variant="solid" if href == active else "soft", size="2"),
                href=href,
            ),
        )

    return rx.hstack(
        tab("Queue", "/pharmacy", "pharmacy.dispense"),
        tab("Controlled drug register", "/pharmacy/controlled", "pharmacy.dispense"),
        tab("Order-check overrides", "/pharmacy/overrides", "pharmacy.formulary"),
        spacing="2",
        wrap="wrap",
    )


def view_switch() -> rx.Component:
    def item(view: str, label: str) -> rx.Component:
        count = S.counts.get(view, 0)
        return rx.segmented_control.item(
            rx.hstack(
                rx.text(label),
                rx.cond(count > 0, rx.badge(count, variant="soft", radius="full", size="1"))
                if view != "today"
                else rx.fragment(),
                spacing="2",
                align="center",
            ),
            value=view,
            data_testid="view-" + view,
        )

    return rx.segmented_control.root(
        *[item(view, label) for view, label in VIEWS.items()],
        value=S.view,
        on_change=S.set_view,
        data_testid="pharmacy-views",
    )


def filters() -> rx.Component:
    return rx.flex(
        view_switch(),
        rx.input(
            rx.input.slot(rx.icon("search", size=14)),
            placeholder="Patient, MRN, order or drug",
            default_value=S.query,
            on_change=S.search.debounce(350),
            max_length=60,
            min_width="16rem",
            flex="1",
            data_testid="pharmacy-search",
        ),
        rx.spacer(),
        live_note(S.updated_at),
        spacing="3",
        align="center",
        wrap="wrap",
        width="100%",
    )


def flags(row: QueueLine) -> rx.Component:
    return rx.hstack(
        rx.cond(row.overrides > 0, rx.badge(row.overrides.to_string() + " override(s)", color_scheme="red")),
        rx.cond(row.restricted, rx.badge("Restricted", color_scheme="orange")),
        rx.cond(row.controlled, rx.badge("Controlled", color_scheme="purple")),
        rx.cond(row.kind != "", rx.badge(row.kind, color_scheme="gray", variant="soft")),
        spacing="1",
        wrap="wrap",
    )


def order_row(row: QueueLine) -> rx.Component:
    action = rx.cond(
        S.view == "verify",
        rx.button(
            "Review", size="1", on_click=S.open_verify(row.order_id), data_testid="verify-" + row.reference
        ),
        rx.button(
            "Dispense",
            size="1",
            on_click=S.open_dispense(row.order_id),
            data_testid="dispense-" + row.reference,
        ),
    )
    return rx.table.row(
        rx.table.cell(rx.code(row.reference, variant="ghost"), white_space="nowrap"),
        rx.table.cell(patient_cell(row.patient, row.mrn)),
        rx.table.cell(
            rx.text(row.product, size="2", weight="medium"),
            rx.text(row.sig, size="1", color_scheme="gray"),
        ),
        rx.table.cell(
            rx.text(row.quantity, size="2"),
            rx.cond(
                (S.view == "dispense") & (row.dispensed > 0),
                rx.text(row.owed.to_string() + " still owed", size="1", color_scheme="orange"),
            ),
        ),
        rx.table.cell(flags(row)),
        rx.table.cell(rx.text(row.when, size="2"), rx.text(row.prescriber, size="1", color_scheme="gray")),
        rx.table.cell(action),
        align="center",
        data_testid="row-" + row.reference,
    )


def dispensed_row(row: QueueLine) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.code(row.reference, variant="ghost"),
            rx.text(row.order_reference, size="1", color_scheme="gray"),
            white_space="nowrap",
        ),
        rx.table.cell(patient_cell(row.patient, row.mrn)),
        rx.table.cell(rx.text(row.product, size="2", weight="medium"), flags(row)),
        rx.table.cell(
            rx.text(row.quantity, size="2"),
            rx.cond(
                row.owed > 0, rx.text(row.owed.to_string() + " still owed", size="1", color_scheme="orange")
            ),
        ),
        rx.table.cell(
            rx.text(row.when + " by " + row.by, size="2"),
            rx.cond(row.witness != "", rx.text("witness " + row.witness, size="1", color_scheme="gray")),
        ),
        rx.table.cell(
            rx.hstack(
                rx.link(
                    rx.button(rx.icon("printer", size=14), "Label", size="1", variant="soft"),
                    href="/pharmacy/dispensed/" + row.dispense_id.to_string() + "/label",
                    is_external=True,
                ),
                rx.cond(
                    row.returnable > 0,
                    rx.button(
                        "Return",
                        size="1",
                        variant="soft",
                        color_scheme="gray",
                        on_click=S.open_return(row.dispense_id),
                        data_testid="return-" + row.reference,
                    ),
                ),
                spacing="2",
            )
        ),
        align="center",
        data_testid="row-" + row.reference,
    )


def grid() -> rx.Component:
    return rx.cond(
        S.view == "today",
        table(
            ["Dispense", "Patient", "Drug", "Quantity", "Dispensed", ""],
            rx.foreach(S.rows, dispensed_row),
            "pharmacy-table",
        ),
        table(
            ["Order", "Patient", "Drug", "Quantity", "Flags", "Signed", ""],
            rx.foreach(S.rows, order_row),
            "pharmacy-table",
        ),
    )


def alert_item(alert: AlertLine) -> rx.Component:
    return rx.callout(
        rx.vstack(
            rx.text(rx.text.strong(alert.severity.upper()), " · ", alert.message, size="2"),
            rx.cond(
                alert.reason != "",
                rx.text("Override by " + alert.by + ": “" + alert.reason + "”", size="2", weight="medium"),
            ),
            rx.text(alert.rule, size="1", color_scheme="gray"),
            spacing="1",
        ),
        icon=rx.cond(alert.interrupt, "octagon-alert", "info"),
        color_scheme=rx.cond(alert.interrupt, "red", "blue"),
        size="1",
        width="100%",
    )


def verify_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(S.v_title),
            rx.dialog.description(S.v_patient, size="2", color_scheme="gray"),
            rx.vstack(
                rx.text(rx.text.strong("Directions: "), S.v_sig, size="2"),
                rx.text(rx.text.strong("Dispense: "), S.v_quantity, " (", S.v_basis, ")", size="2"),
                rx.foreach(S.v_notes, lambda note: rx.text(note, size="2", color_scheme="orange")),
                rx.cond(S.v_alerts.length() > 0, rx.heading("Alerts shown at signing", size="2")),
                rx.foreach(S.v_alerts, alert_item),
                rx.cond(
                    S.v_overrides > 0,
                    rx.checkbox(
                        "I reviewed the prescriber's override reasons",
                        checked=S.v_reviewed,
                        on_change=S.set_reviewed,
                        data_testid="overrides-reviewed",
                    ),
                ),
                rx.cond(S.v_error != "", error_line(S.v_error, "verify-error")),
                rx.button(
                    rx.icon("badge-check", size=16),
                    "Verify",
                    on_click=S.verify,
                    loading=S.busy,
                    disabled=(S.v_overrides > 0) & ~S.v_reviewed,
                    data_testid="verify-confirm",
                ),
                rx.divider(),
                rx.form(
                    rx.hstack(
                        rx.input(name="reason", placeholder="Why it goes back", max_length=300, flex="1"),
                        rx.button(
                            "Send back", type="submit", variant="soft", color_scheme="red", loading=S.busy
                        ),
                        width="100%",
                    ),
                    on_submit=S.send_back,
                    reset_on_submit=False,
                    width="100%",
                ),
                spacing="3",
                width="100%",
                margin_top="1rem",
            ),
            max_width="40rem",
            data_testid="dialog-verify",
        ),
        open=S.verify_open,
        on_open_change=S.close_verify,
    )


def lot_item(lot: LotLine) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(lot.lot, variant="ghost")),
        rx.table.cell(lot.expiry),
        rx.table.cell(lot.quantity),
        data_testid="plan-lot-" + lot.lot,
    )


def witness_fields() -> rx.Component:
    return rx.vstack(
        rx.text(
            "Controlled drug: a second pharmacist witnesses with their password.",
            size="2",
            color_scheme="purple",
        ),
        rx.hstack(
            rx.input(
                name="witness_username", placeholder="Witness username", auto_complete="off", max_length=60
            ),
            rx.input(
                name="witness_password", type="password", placeholder="Witness password", auto_complete="off"
            ),
            spacing="2",
        ),
        spacing="1",
    )


def dispense_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(S.d_title),
            rx.dialog.description(S.d_patient + " · from " + S.d_store, size="2", color_scheme="gray"),
            rx.form(
                rx.vstack(
                    rx.hstack(
                        rx.text("Quantity (" + S.d_unit + ")", size="2", weight="medium"),
                        rx.input(
                            name="quantity",
                            default_value=S.d_quantity.to_string(),
                            on_blur=S.set_quantity,
                            input_mode="numeric",
                            max_length=8,
                            width="7rem",
                            data_testid="dispense-quantity",
                        ),
                        rx.text("of " + S.d_owed.to_string() + " owed", size="2", color_scheme="gray"),
                        align="center",
                        spacing="2",
                    ),
                    rx.text("Lots to take, first expiry first:", size="2", weight="medium"),
                    table(["Lot", "Expires", "Quantity"], rx.foreach(S.d_lots, lot_item), "dispense-lots"),
                    rx.cond(
                        S.d_short,
                        error_line("The pharmacy holds only " + S.d_on_hand_text + "."),
                    ),
                    rx.cond(S.d_controlled, witness_fields()),
                    rx.cond(S.d_error != "", error_line(S.d_error, "dispense-error")),
                    rx.hstack(
                        rx.dialog.close(
                            rx.button("Cancel", type="button", variant="soft", color_scheme="gray")
                        ),
                        rx.button("Dispense", type="submit", loading=S.busy, data_testid="dispense-confirm"),
                        justify="end",
                        width="100%",
                    ),
                    spacing="3",
                    width="100%",
                    margin_top="1rem",
                ),
                on_submit=S.dispense,
                reset_on_submit=False,
            ),
            max_width="36rem",
            data_testid="dialog-dispense",
        ),
        open=S.dispense_open,
        on_open_change=S.close_dispense,
    )


def return_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Return " + S.r_title),
            rx.dialog.description(
                "Unused medicine back into stock; its charge is lowered. Up to " + S.r_left.to_string() + ".",
                size="2",
                color_scheme="gray",
            ),
            rx.form(
                rx.vstack(
                    rx.input(name="quantity", placeholder="Quantity", input_mode="numeric", max_length=8),
                    rx.input(name="reason", placeholder="Why it comes back", max_length=300),
                    rx.cond(S.r_controlled, witness_fields()),
                    rx.cond(S.r_error != "", error_line(S.r_error, "return-error")),
                    rx.button("Return to stock", type="submit", loading=S.busy, data_testid="return-confirm"),
                    spacing="3",
                    width="100%",
                    margin_top="1rem",
                ),
                on_submit=S.return_stock,
                reset_on_submit=False,
            ),
            max_width="30rem",
            data_testid="dialog-return",
        ),
        open=S.return_open,
        on_open_change=S.close_return,
    )


def last_dispense() -> rx.Component:
    return rx.cond(
        S.last_dispense_id > 0,
        rx.callout(
            rx.hstack(
                rx.text("Dispensed " + S.last_dispense + "."),
                rx.link(
                    "Print its label",
                    href="/pharmacy/dispensed/" + S.last_dispense_id.to_string() + "/label",
                    is_external=True,
                    data_testid="last-label",
                ),
                spacing="2",
            ),
            icon="circle-check",
            color_scheme="green",
            size="1",
            width="100%",
        ),
    )


def body() -> rx.Component:
    return rx.cond(
        S.loaded,
        rx.vstack(
            last_dispense(),
            rx.cond(
                S.rows.length() > 0,
                grid(),
                rx.card(
                    empty_state(rx.match(S.view, *EMPTY.items(), "Nothing here."), icon="pill"),
                    width="100%",
                    data_testid="pharmacy-empty",
                ),
            ),
            spacing="3",
            width="100%",
        ),
        skeleton_rows(8),
    )


@staff_page("/pharmacy", "Pharmacy", [S.load, S.watch])
def pharmacy_queue_page() -> rx.Component:
    return rx.vstack(
        pharmacy_tabs("/pharmacy"),
        rx.cond(
            ~(can("pharmacy.verify") | can("pharmacy.dispense")),
            no_access("Your role does not give access to the pharmacy's queue."),
        ),
        rx.cond(
            can("pharmacy.verify") | can("pharmacy.dispense"),
            rx.vstack(
                filters(),
                body(),
                verify_dialog(),
                dispense_dialog(),
                return_dialog(),
                spacing="3",
                width="100%",
                data_testid="pharmacy-queue",
                custom_attrs={"data-version": S.version},
            ),
        ),
        spacing="4",
        width="100%",
    )
