"""The claims worklist (/billing/claims)."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, pager
from hms_app.pages.billing.common import (
    WIDE_CELL,
    XL_CELL,
    billing_tabs,
    claim_badge,
    dialog,
    dialog_buttons,
    dialog_form,
    labelled,
    paged_table,
    reason_area,
    table,
)
from hms_app.state.billing.claims import ClaimLine, ClaimsState

CLAIM_FILTERS = [
    ("open", "Open"),
    ("all", "All"),
    ("draft", "Draft"),
    ("submitted", "Submitted"),
    ("accepted", "Accepted"),
    ("denied", "Denied"),
    ("partially_paid", "Partially paid"),
    ("paid", "Paid"),
    ("cancelled", "Cancelled"),
]


def claim_row(row: ClaimLine) -> rx.Component:
    post = can("billing.post")
    return rx.table.row(
        rx.table.cell(rx.text("C-", row.id.to_string(), weight="medium"), white_space="nowrap"),
        rx.table.cell(
            rx.link(row.invoice, href="/billing/invoices/" + row.invoice_id.to_string()), white_space="nowrap"
        ),
        rx.table.cell(
            rx.text(row.patient, weight="medium", white_space="nowrap"),
            rx.text(row.mrn, size="1", color_scheme="gray"),
        ),
        rx.table.cell(row.payer, display=WIDE_CELL),
        rx.table.cell(
            claim_badge(row.status, row.status_label),
            rx.cond(row.denial_reason != "", rx.text(row.denial_reason, size="1", color_scheme="red")),
        ),
        rx.table.cell(row.created, white_space="nowrap", display=XL_CELL),
        rx.table.cell(row.claimed, text_align="right", white_space="nowrap"),
        rx.table.cell(row.paid, text_align="right", white_space="nowrap"),
        rx.table.cell(row.moved, text_align="right", white_space="nowrap", display=XL_CELL),
        rx.table.cell(
            rx.cond(
                post,
                rx.hstack(
                    rx.cond(
                        row.status == "draft",
                        rx.hstack(
                            rx.button(
                                "Submit",
                                size="1",
                                on_click=ClaimsState.submit_claim(row.id),
                                data_testid="claim-submit",
                            ),
                            rx.button(
                                "Cancel",
                                size="1",
                                variant="soft",
                                color_scheme="gray",
                                on_click=ClaimsState.cancel_claim(row.id),
                            ),
                            spacing="1",
                        ),
                    ),
                    rx.cond(
                        row.status == "submitted",
                        rx.button(
                            "Accept",
                            size="1",
                            variant="soft",
                            on_click=ClaimsState.accept_claim(row.id),
                            data_testid="claim-accept",
                        ),
                    ),
                    rx.cond(
                        (
                            (row.status == "submitted")
                            | (row.status == "accepted")
                            | (row.status == "partially_paid")
                        )
                        & row.open,
                        rx.button(
                            "Remit",
                            size="1",
                            on_click=ClaimsState.open_dialog("remit", row.id),
                            data_testid="claim-remit",
                        ),
                    ),
                    rx.cond(
                        (row.status == "submitted") | (row.status == "accepted"),
                        rx.button(
                            "Deny",
                            size="1",
                            variant="soft",
                            color_scheme="red",
                            on_click=ClaimsState.open_dialog("deny", row.id),
                            data_testid="claim-deny",
                        ),
                    ),
                    spacing="1",
                    wrap="nowrap",
                ),
            ),
            white_space="nowrap",
        ),
        data_testid="claim-row",
    )


def claim_dialogs() -> rx.Component:
    return rx.fragment(
        dialog(
            "Record a denial",
            ClaimsState.claim_label,
            dialog_form(
                reason_area("The payer's reason, e.g. service not covered"),
                rx.text(
                    "The claimed amount moves to the patient's share of the invoice.",
                    size="1",
                    color_scheme="gray",
                ),
                error=ClaimsState.error,
                buttons=dialog_buttons("Record denial", ClaimsState.set_dialog_open(False), color="red"),
                on_submit=ClaimsState.submit_denial,
            ),
            ClaimsState.dialog == "deny",
            ClaimsState.set_dialog_open,
            "deny",
        ),
        dialog(
            "Post a remittance",
            ClaimsState.claim_label,
            dialog_form(
                labelled(
                    "Amount paid by the payer",
                    rx.input(
                        name="amount",
                        default_value=ClaimsState.claim_left,
                        inputmode="decimal",
                        required=True,
                        data_testid="remit-amount",
                        width="100%",
                    ),
                    "Still claimed: $" + ClaimsState.claim_left,
                ),
                labelled(
                    "Remittance reference",
                    rx.input(name="reference", max_length=120, placeholder="ERA / EOB number", width="100%"),
                ),
                rx.hstack(
                    rx.checkbox(name="final", default_checked=True),
                    rx.text("Final payment: what the payer did not pay moves to the patient", size="2"),
                    spacing="2",
                ),
                error=ClaimsState.error,
                buttons=dialog_buttons("Post remittance", ClaimsState.set_dialog_open(False)),
                on_submit=ClaimsState.submit_remittance,
            ),
            ClaimsState.dialog == "remit",
            ClaimsState.set_dialog_open,
            "remit",
        ),
    )


@staff_page("/billing/claims", "Claims", ClaimsState.load)
def claims_page() -> rx.Component:
    return rx.vstack(
        billing_tabs(),
        rx.card(
            rx.vstack(
                rx.flex(
                    rx.heading("Claims worklist", size="4"),
                    rx.spacer(),
                    rx.select.root(
                        rx.select.trigger(data_testid="claim-status"),
                        rx.select.content(
                            *[rx.select.item(label, value=value) for value, label in CLAIM_FILTERS]
                        ),
                        value=ClaimsState.status,
                        on_change=ClaimsState.set_status,
                    ),
                    width="100%",
                    align="center",
                ),
                paged_table(
                    ClaimsState.loading,
                    ClaimsState.rows,
                    table(
                        [
                            "Claim",
                            "Invoice",
                            "Patient",
                            "Payer",
                            "Status",
                            "Created",
                            "Claimed",
                            "Paid",
                            "To patient",
                            "",
                        ],
                        rx.foreach(ClaimsState.rows, claim_row),
                        "claims-table",
                        wide=(3,),
                        xl=(5, 8),
                    ),
                    pager(
                        ClaimsState.page,
                        ClaimsState.page_count,
                        ClaimsState.total,
                        ClaimsState.move(-1),
                        ClaimsState.move(1),
                        "claims",
                        next_test_id="next-page",
                    ),
                    empty_state("No claims with this status."),
                ),
                spacing="3",
                width="100%",
            ),
            width="100%",
        ),
        claim_dialogs(),
        spacing="4",
        width="100%",
    )
