"""/portal/bills: the patient's invoices and balance, and paying one by card."""

from __future__ import annotations

import reflex as rx

from hms_app.components.portal_shell import portal_page
from hms_app.state.portal.bills import BillItem, BillLine, PortalBillsState


@portal_page(
    route="/portal/bills",
    title="My bills",
    on_load=[PortalBillsState.load, PortalBillsState.watch],
    max_width="44rem",
)
def bills_page() -> rx.Component:
    return rx.cond(
        PortalBillsState.loaded,
        rx.vstack(
            rx.card(
                rx.vstack(
                    rx.heading("Your bills", size="5"),
                    rx.flex(
                        amount("You owe", PortalBillsState.outstanding, True),
                        rx.cond(
                            PortalBillsState.credit_cents > 0,
                            amount("Credit on your account", PortalBillsState.credit),
                        ),
                        wrap="wrap",
                        spacing="5",
                    ),
                    rx.text(
                        "Questions about a bill? Call the billing office and quote the bill number.",
                        size="1",
                        color_scheme="gray",
                    ),
                    spacing="2",
                    width="100%",
                ),
                width="100%",
                data_testid="portal-balance",
            ),
            rx.cond(
                PortalBillsState.receipt != "",
                rx.callout(
                    PortalBillsState.receipt,
                    icon="circle-check",
                    color_scheme="green",
                    width="100%",
                    data_testid="portal-receipt",
                ),
            ),
            rx.cond(
                PortalBillsState.bills.length() > 0,
                rx.vstack(rx.foreach(PortalBillsState.bills, bill_card), spacing="3", width="100%"),
                rx.card(
                    rx.center(rx.text("You have no bills.", color_scheme="gray"), padding="2rem"),
                    width="100%",
                ),
            ),
            detail_dialog(),
            pay_dialog(),
            spacing="4",
            width="100%",
        ),
        rx.center(rx.spinner(size="3"), padding="3rem"),
    )


def bill_card(bill: BillLine) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.vstack(
                    rx.text(bill.number, weight="bold", size="3"),
                    rx.text(bill.date, " · ", bill.payer, size="2", color_scheme="gray"),
                    spacing="0",
                    min_width="0",
                ),
                rx.spacer(),
                status_badge(bill.status, bill.status_label),
                width="100%",
                align="start",
                spacing="2",
            ),
            rx.grid(
                amount("Total", bill.total),
                amount("Covered by insurance", bill.covered),
                amount("Your share", bill.your_share),
                amount("You owe", bill.due, True),
                columns=rx.breakpoints(initial="2", sm="4"),
                spacing="3",
                width="100%",
            ),
            rx.flex(
                rx.button(
                    rx.icon("list", size=16),
                    "Details",
                    variant="soft",
                    color_scheme="gray",
                    size="3",
                    on_click=PortalBillsState.show(bill.id),
                    data_testid="bill-details",
                ),
                rx.cond(
                    bill.due_cents > 0,
                    rx.button(
                        rx.icon("credit-card", size=16),
                        "Pay " + bill.due,
                        size="3",
                        on_click=PortalBillsState.start_pay(bill.id),
                        data_testid="pay-" + bill.number,
                    ),
                ),
                spacing="2",
                wrap="wrap",
                justify="end",
                width="100%",
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
        data_testid="bill-" + bill.number,
    )


def status_badge(status, label) -> rx.Component:
    return rx.match(
        status,
        ("paid", rx.badge(label, color_scheme="green", variant="soft", size="2")),
        ("partially_paid", rx.badge(label, color_scheme="amber", variant="soft", size="2")),
        ("unpaid", rx.badge(label, color_scheme="red", variant="soft", size="2")),
        ("insurance", rx.badge(label, color_scheme="blue", variant="soft", size="2")),
        rx.badge(label, color_scheme="gray", variant="solid", size="2"),
    )


def amount(label: str, value, strong: bool = False) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="1", color_scheme="gray"),
        rx.text(value, size="3" if strong else "2", weight="bold" if strong else "medium"),
        spacing="0",
        min_width="5.5rem",
    )


def detail_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Bill ", PortalBillsState.detail_number),
            rx.dialog.description(
                "Each service, its price and your share of it.", size="2", color_scheme="gray"
            ),
            rx.vstack(
                rx.flex(
                    rx.text("Service", size="1", color_scheme="gray", flex="1"),
                    rx.text("Price", size="1", color_scheme="gray"),
                    rx.text(
                        "Your share", size="1", color_scheme="gray", min_width="4.5rem", text_align="right"
                    ),
                    spacing="3",
                    width="100%",
                ),
                rx.foreach(PortalBillsState.detail_items, detail_item),
                rx.flex(
                    rx.dialog.close(rx.button("Close", variant="soft", size="3")), justify="end", width="100%"
                ),
                spacing="2",
                width="100%",
                padding_top="0.75rem",
            ),
            max_width="32rem",
        ),
        open=PortalBillsState.detail_open,
        on_open_change=PortalBillsState.set_detail_open,
    )


def detail_item(item: BillItem) -> rx.Component:
    return rx.flex(
        rx.text(
            item.description,
            " × ",
            item.quantity.to_string(),
            size="2",
            min_width="0",
            overflow_wrap="anywhere",
            flex="1",
        ),
        rx.text(item.amount, size="2", color_scheme="gray"),
        rx.text(item.your_share, size="2", weight="medium", min_width="4.5rem", text_align="right"),
        spacing="3",
        width="100%",
    )


def pay_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Pay ", PortalBillsState.pay_number),
            rx.dialog.description(
                "You owe ", rx.text.strong(PortalBillsState.pay_due), " on this bill.", size="2"
            ),
            rx.form(
                rx.vstack(
                    rx.text("Amount", size="2", weight="medium"),
                    rx.input(
                        name="amount",
                        default_value=PortalBillsState.pay_amount,
                        inputmode="decimal",
                        required=True,
                        size="3",
                        width="100%",
                        data_testid="portal-pay-amount",
                    ),
                    rx.text("Card number", size="2", weight="medium"),
                    rx.input(
                        name="card_number",
                        placeholder="1234 5678 9012 3456",
                        inputmode="numeric",
                        autocomplete="cc-number",
                        required=True,
                        max_length=23,
                        size="3",
                        data_testid="card-number",
                        width="100%",
                    ),
                    rx.flex(
                        rx.vstack(
                            rx.text("Expiry (MM/YY)", size="2", weight="medium"),
                            rx.input(
                                name="expiry",
                                placeholder="MM/YY",
                                autocomplete="cc-exp",
                                required=True,
                                max_length=7,
                                size="3",
                                data_testid="card-expiry",
                            ),
                            spacing="1",
                            flex="1",
                        ),
                        rx.vstack(
                            rx.text("Security code", size="2", weight="medium"),
                            rx.input(
                                name="cvc",
                                placeholder="123",
                                inputmode="numeric",
                                autocomplete="cc-csc",
                                required=True,
                                max_length=4,
                                size="3",
                                data_testid="card-cvc",
                            ),
                            spacing="1",
                            flex="1",
                        ),
                        spacing="3",
                        width="100%",
                    ),
                    rx.callout(
                        "Demo payments: nothing is charged. Test card 4242 4242 4242 4242 is accepted; "
                        "4000 0000 0000 0002 is declined.",
                        icon="info",
                        size="1",
                        width="100%",
                    ),
                    rx.cond(
                        PortalBillsState.pay_error != "",
                        rx.callout(
                            PortalBillsState.pay_error,
                            icon="circle-alert",
                            color_scheme="red",
                            size="1",
                            width="100%",
                            data_testid="pay-error",
                        ),
                    ),
                    rx.flex(
                        rx.dialog.close(
                            rx.button("Cancel", type="button", variant="soft", color_scheme="gray", size="3")
                        ),
                        rx.button(
                            rx.icon("lock", size=16),
                            "Pay now",
                            type="submit",
                            size="3",
                            loading=PortalBillsState.paying,
                            data_testid="pay-now",
                        ),
                        spacing="3",
                        justify="end",
                        width="100%",
                    ),
                    spacing="2",
                    width="100%",
                    padding_top="0.75rem",
                ),
                on_submit=PortalBillsState.pay,
                reset_on_submit=False,
            ),
            max_width="28rem",
        ),
        open=PortalBillsState.pay_open,
        on_open_change=PortalBillsState.set_pay_open,
    )
