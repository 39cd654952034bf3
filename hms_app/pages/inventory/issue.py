"""Issue stock (/inventory/issue): to whom (a patient on the ward, or a department with the reason),
what (scanned or found), how much and from which lot; what the issue did and charged; the store's
recent issues with their returns."""

from __future__ import annotations

import reflex as rx

from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, skeleton_rows
from hms_app.pages.inventory.stock_ui import (
    WIDE_CELL,
    access_notice,
    dialog,
    dialog_buttons,
    field_error,
    form_error,
    labelled,
    stock_tabs,
    store_picker,
    table,
)
from hms_app.state.inventory.issue import Choice, IssueRow
from hms_app.state.inventory.issue import IssueState as S


def _error(name: str) -> rx.Component:
    return field_error(S.error_field, S.error_text, name)


def _option(choice: Choice, on_click, test_id: str) -> rx.Component:
    """One choice of a list (a patient, an item): its name and, under it, where or what it is."""
    return rx.box(
        rx.text(choice.label, weight="medium", size="2"),
        rx.cond(choice.detail != "", rx.text(choice.detail, size="1", color_scheme="gray")),
        on_click=on_click,
        role="button",
        tab_index=0,
        cursor="pointer",
        width="100%",
        padding="0.4rem 0.75rem",
        border_radius="var(--radius-2)",
        background=rx.color("gray", 3),
        _hover={"background": rx.color("accent", 4)},
        data_testid=test_id,
    )


def patient_picker() -> rx.Component:
    return rx.cond(
        S.patient_id > 0,
        rx.hstack(
            rx.badge(rx.icon("user-round", size=14), S.patient_label, size="3", data_testid="issue-patient"),
            rx.button("Change", type="button", size="1", variant="ghost", on_click=S.clear_patient),
            align="center",
            wrap="wrap",
        ),
        rx.vstack(
            rx.cond(
                S.can_search_patients,
                rx.input(
                    rx.input.slot(rx.icon("search", size=14)),
                    placeholder="Find a patient: name, MRN or date of birth",
                    on_change=S.search_patients,
                    debounce_timeout=300,
                    max_length=100,
                    width="100%",
                    data_testid="issue-patient-search",
                ),
            ),
            rx.foreach(S.patient_options, lambda p: _option(p, S.choose_patient(p.value), "patient-option")),
            rx.cond(
                (S.patient_query.length() >= 2) & (S.patient_options.length() == 0),
                rx.text("No patient found.", size="1", color_scheme="gray"),
            ),
            rx.cond(
                S.ward_patients.length() > 0,
                rx.vstack(
                    rx.text("On the ward now", size="1", weight="bold", color_scheme="gray"),
                    rx.grid(
                        rx.foreach(
                            S.ward_patients, lambda p: _option(p, S.choose_patient(p.value), "ward-patient")
                        ),
                        columns=rx.breakpoints(initial="1", sm="2"),
                        grid_auto_rows="min-content",
                        max_height="15rem",
                        overflow_y="auto",
                        padding_right="0.25rem",
                        spacing="2",
                        width="100%",
                    ),
                    spacing="1",
                    width="100%",
                ),
                rx.text(
                    "Nobody is admitted to a ward this store serves.",
                    size="1",
                    color_scheme="gray",
                ),
            ),
            spacing="2",
            width="100%",
        ),
    )


def whom() -> rx.Component:
    return rx.vstack(
        rx.segmented_control.root(
            rx.segmented_control.item("A patient", value="patient"),
            rx.segmented_control.item("A department", value="department"),
            value=S.target,
            on_change=S.set_target,
            data_testid="issue-target",
        ),
        rx.cond(
            S.target == "patient",
            rx.vstack(patient_picker(), _error("patient"), spacing="1", width="100%"),
            rx.grid(
                labelled(
                    "Department",
                    rx.select.root(
                        rx.select.trigger(
                            width="100%", placeholder="Choose the department", data_testid="issue-department"
                        ),
                        rx.select.content(
                            rx.foreach(S.departments, lambda c: rx.select.item(c.label, value=c.value))
                        ),
                        name="department_id",
                    ),
                    _error("department_id"),
                ),
                labelled(
                    "Reason",
                    rx.input(
                        name="reason",
                        max_length=300,
                        placeholder="e.g. Ward stock for the crash trolley",
                        width="100%",
                        data_testid="issue-reason",
                    ),
                    _error("reason"),
                ),
                columns=rx.breakpoints(initial="1", sm="2"),
                spacing="3",
                width="100%",
            ),
        ),
        spacing="3",
        width="100%",
    )


def what() -> rx.Component:
    return rx.cond(
        S.item_id > 0,
        rx.vstack(
            rx.hstack(
                rx.badge(rx.icon("package", size=14), S.item_label, size="3", data_testid="issue-item"),
                rx.cond(S.chargeable, rx.badge("Chargeable", color_scheme="blue", variant="surface")),
                rx.button("Clear", type="button", size="1", variant="ghost", on_click=S.clear_item),
                align="center",
                wrap="wrap",
            ),
            rx.grid(
                labelled(
                    "Quantity",
                    rx.input(
                        name="quantity",
                        id="issue-quantity",
                        type="number",
                        min=1,
                        required=True,
                        width="100%",
                        data_testid="issue-quantity",
                    ),
                    _error("quantity"),
                ),
                labelled(
                    "Counted in",
                    rx.select.root(
                        rx.select.trigger(width="100%", data_testid="issue-pack"),
                        rx.select.content(
                            rx.foreach(S.packs, lambda c: rx.select.item(c.label, value=c.value))
                        ),
                        name="pack",
                        default_value=S.pack,
                    ),
                    _error("pack"),
                ),
                labelled(
                    "Lot",
                    rx.select.root(
                        rx.select.trigger(width="100%", data_testid="issue-lot"),
                        rx.select.content(
                            rx.foreach(
                                S.lots,
                                lambda c: rx.select.item(
                                    c.label + rx.cond(c.detail != "", " · " + c.detail, ""), value=c.value
                                ),
                            )
                        ),
                        name="lot_id",
                        default_value=S.lot,
                    ),
                    _error("lot_id"),
                ),
                grid_template_columns=rx.breakpoints(initial="1fr", sm="1fr 1fr 2fr"),
                spacing="3",
                width="100%",
            ),
            spacing="2",
            width="100%",
            key=S.scans.to_string(),
        ),
        rx.vstack(
            rx.input(
                rx.input.slot(rx.icon("search", size=14)),
                placeholder="No scanner? Find the item by code or name",
                on_change=S.search_items,
                debounce_timeout=300,
                max_length=60,
                width="100%",
                data_testid="issue-item-search",
            ),
            rx.foreach(S.item_options, lambda o: _option(o, S.choose_item(o.value), "issue-item-option")),
            _error("item"),
            spacing="1",
            width="100%",
        ),
    )


def scan_box() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.input(
                rx.input.slot(rx.icon("scan-barcode", size=18)),
                name="scan",
                id="issue-scan",
                placeholder="Scan the item's barcode",
                auto_complete="off",
                spell_check=False,
                max_length=220,
                size="3",
                width="100%",
                data_testid="issue-scan",
            ),
            rx.cond(
                S.scan_error != "",
                rx.text(S.scan_error, size="1", color=rx.color("orange", 11), data_testid="scan-error"),
            ),
            spacing="1",
            width="100%",
        ),
        on_submit=S.scan,
        reset_on_submit=True,
        width="100%",
    )


def outcome() -> rx.Component:
    return rx.cond(
        S.outcome != "",
        rx.callout(
            rx.vstack(
                rx.text(S.outcome, weight="medium", data_testid="issue-outcome"),
                rx.cond(S.outcome_charge != "", rx.text(S.outcome_charge, data_testid="issue-charge")),
                spacing="1",
            ),
            icon="circle-check",
            color_scheme="green",
            width="100%",
        ),
    )


def issue_row(row: IssueRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(row.when, white_space="nowrap"),
        rx.table.row_header_cell(
            rx.text(row.item, size="2"), rx.text(row.recipient, size="1", color_scheme="gray")
        ),
        rx.table.cell(row.quantity, white_space="nowrap"),
        rx.table.cell(rx.cond(row.lot != "", rx.code(row.lot, variant="ghost"), "–"), display=WIDE_CELL),
        rx.table.cell(row.charge, data_testid="recent-charge"),
        rx.table.cell(row.by, display=WIDE_CELL),
        rx.table.cell(
            rx.cond(
                row.left_to_return > 0,
                rx.button(
                    "Return",
                    size="1",
                    variant="soft",
                    on_click=S.open_return(row.move_id),
                    data_testid="return-issue",
                ),
            )
        ),
        data_testid="recent-issue",
    )


def return_dialog() -> rx.Component:
    return dialog(
        "Return to stock",
        rx.text(
            "Unused and unopened ",
            rx.text.strong(S.returning.item),
            " back into ",
            S.store_name,
            ". A patient's open charge is lowered or cancelled.",
        ),
        rx.form(
            rx.vstack(
                labelled(
                    "Quantity back",
                    rx.input(
                        name="quantity",
                        type="number",
                        min=1,
                        required=True,
                        width="10rem",
                        data_testid="return-quantity",
                    ),
                    field_error(S.return_error_field, S.return_error, "quantity"),
                    hint="Up to " + S.returning.left_to_return.to_string(),
                ),
                labelled(
                    "Reason",
                    rx.text_area(
                        name="reason",
                        required=True,
                        max_length=300,
                        placeholder="e.g. Procedure cancelled",
                        width="100%",
                    ),
                    field_error(S.return_error_field, S.return_error, "reason"),
                ),
                form_error(rx.cond(S.return_error_field == "", S.return_error, "")),
                dialog_buttons("Return", S.set_return_open(False)),
                spacing="3",
                width="100%",
            ),
            on_submit=S.submit_return,
            reset_on_submit=False,
        ),
        S.return_open,
        S.set_return_open,
        "return",
    )


def issue_form() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("To", size="3"),
            rx.form(
                rx.vstack(
                    whom(),
                    rx.heading("What", size="3", padding_top="0.5rem"),
                    what(),
                    rx.cond((S.error_text != "") & (S.error_field == ""), form_error(S.error_text)),
                    rx.button(
                        rx.icon("package-minus", size=16),
                        "Issue",
                        type="submit",
                        size="3",
                        loading=S.saving,
                        disabled=S.item_id == 0,
                        data_testid="issue-submit",
                    ),
                    spacing="3",
                    width="100%",
                    align="start",
                ),
                id="issue-form",
                on_submit=S.issue,
                reset_on_submit=False,
                width="100%",
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


@staff_page("/inventory/issue", "Issue stock", S.load)
def issue_page() -> rx.Component:
    return rx.vstack(
        stock_tabs("/inventory/issue"),
        access_notice("inventory.issue", "Your role does not issue stock."),
        rx.cond(
            S.loading,
            skeleton_rows(5),
            rx.cond(
                S.stores.length() == 0,
                rx.card(empty_state("No store is yours to issue from.", icon="warehouse"), width="100%"),
                rx.vstack(
                    rx.card(
                        rx.vstack(
                            rx.flex(
                                rx.text("From", size="2", weight="medium"),
                                store_picker(S, test_id="issue-store"),
                                spacing="3",
                                align="center",
                                wrap="wrap",
                            ),
                            scan_box(),
                            spacing="3",
                            width="100%",
                        ),
                        width="100%",
                    ),
                    outcome(),
                    issue_form(),
                    rx.card(
                        rx.vstack(
                            rx.heading("Recent issues from ", S.store_name, size="4"),
                            rx.cond(
                                S.recent.length() > 0,
                                table(
                                    ["When", "Item", "Quantity", "Lot", "Charge", "By", ""],
                                    rx.foreach(S.recent, issue_row),
                                    "recent-issues",
                                    wide=(3, 5),
                                ),
                                empty_state("Nothing issued from this store yet.", icon="history"),
                            ),
                            spacing="3",
                            width="100%",
                        ),
                        width="100%",
                    ),
                    spacing="4",
                    width="100%",
                ),
            ),
        ),
        return_dialog(),
        spacing="4",
        width="100%",
    )
