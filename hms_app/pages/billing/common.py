"""What the billing screens share: the tabs, badges, tables, form fields and dialogs."""

from __future__ import annotations

import reflex as rx

from hms_app.components.ui import scroll_box, skeleton_rows
from hms_app.state.session import SessionState

WIDE_CELL = ["none", "none", "none", "table-cell"]
XL_CELL = ["none", "none", "none", "none", "none", "table-cell"]  # only on screens of 1536 px and wider
HIDE_IN_PRINT = {"@media print": {"display": "none"}}
INK = "#000000"


def problem_callout(message) -> rx.Component:
    return rx.callout(
        rx.vstack(rx.text(message), rx.link("Back to the billing desk", href="/billing"), spacing="1"),
        icon="circle-alert",
        color_scheme="red",
        width="100%",
        data_testid="page-problem",
    )


def settlement_badge(status) -> rx.Component:
    return rx.match(
        status,
        ("paid", rx.badge("Paid", color_scheme="green", variant="soft")),
        ("partially_paid", rx.badge("Partially paid", color_scheme="amber", variant="soft")),
        ("unpaid", rx.badge("Unpaid", color_scheme="red", variant="soft")),
        ("draft", rx.badge("Draft", color_scheme="gray", variant="outline")),
        ("void", rx.badge("Void", color_scheme="gray", variant="solid")),
        rx.badge(status, variant="soft"),
    )


def claim_badge(status, label) -> rx.Component:
    return rx.match(
        status,
        ("paid", rx.badge(label, color_scheme="green", variant="soft")),
        ("partially_paid", rx.badge(label, color_scheme="amber", variant="soft")),
        ("denied", rx.badge(label, color_scheme="red", variant="soft")),
        ("accepted", rx.badge(label, color_scheme="blue", variant="soft")),
        ("submitted", rx.badge(label, color_scheme="indigo", variant="soft")),
        ("cancelled", rx.badge(label, color_scheme="gray", variant="solid")),
        rx.badge(label, color_scheme="gray", variant="outline"),
    )


def billing_tabs() -> rx.Component:
    path = SessionState.router.url.path
    items = [
        ("Desk", "/billing", "receipt"),
        ("Claims", "/billing/claims", "shield-check"),
        ("Expenses", "/billing/expenses", "wallet"),
        ("Catalogue & prices", "/billing/catalogue", "list"),
    ]
    return rx.flex(
        *[
            rx.link(
                rx.button(
                    rx.icon(icon, size=16),
                    label,
                    variant=rx.cond(path == route, "solid", "soft"),
                    size="2",
                ),
                href=route,
                data_testid="billing-tab-" + route.strip("/").replace("/", "-"),
            )
            for label, route, icon in items
        ],
        spacing="2",
        wrap="wrap",
        width="100%",
    )


def table(
    header: list[str], body: rx.Component, test_id: str, wide: tuple[int, ...] = (), xl: tuple[int, ...] = ()
) -> rx.Component:
    return scroll_box(
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *[
                        rx.table.column_header_cell(
                            h,
                            display=XL_CELL if i in xl else (WIDE_CELL if i in wide else None),
                            white_space="nowrap",
                        )
                        for i, h in enumerate(header)
                    ]
                )
            ),
            rx.table.body(body),
            variant="surface",
            size="2",
            width="100%",
        ),
        data_testid=test_id,
    )


def labelled(label: str, control: rx.Component, hint: str = "", errors=None, name: str = "") -> rx.Component:
    """A field with its label, hint and, given the form's ``errors`` dict var, its own message."""
    return rx.vstack(
        rx.text(label, size="2", weight="medium"),
        control,
        (rx.text(hint, size="1", color_scheme="gray") if hint else rx.fragment())
        if isinstance(hint, str)
        else rx.text(hint, size="1", color_scheme="gray"),
        field_message(errors, name) if errors is not None else rx.fragment(),
        spacing="1",
        width="100%",
        align="start",
    )


def select(name: str, options: list[tuple[str, str]], default: str, test_id: str = "") -> rx.Component:
    return rx.select.root(
        rx.select.trigger(width="100%", data_testid=test_id or f"select-{name}"),
        rx.select.content(*[rx.select.item(label, value=value) for value, label in options]),
        name=name,
        default_value=default,
    )


def field_message(errors, name: str) -> rx.Component:
    return rx.cond(
        errors.contains(name),
        rx.text(
            rx.icon("circle-alert", size=12),
            " ",
            errors[name],
            size="1",
            color=rx.color("red", 11),
            data_testid="error-" + name,
        ),
    )


def error_line(message) -> rx.Component:
    return rx.cond(
        message != "",
        rx.callout(
            message, icon="circle-alert", color_scheme="red", size="1", width="100%", data_testid="form-error"
        ),
    )


def dialog(title: str, description, body: rx.Component, is_open, on_change, test_id: str) -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(title),
            rx.dialog.description(description, size="2", color_scheme="gray", margin_bottom="1rem"),
            body,
            max_width="30rem",
            data_testid="dialog-" + test_id,
        ),
        open=is_open,
        on_open_change=on_change,
    )


def dialog_buttons(label: str, on_cancel, color: str = "teal", loading=False) -> rx.Component:
    return rx.flex(
        rx.dialog.close(
            rx.button("Cancel", type="button", variant="soft", color_scheme="gray", on_click=on_cancel)
        ),
        rx.button(label, type="submit", color_scheme=color, loading=loading, data_testid="dialog-submit"),
        spacing="3",
        justify="end",
        width="100%",
        padding_top="0.5rem",
    )


def dialog_form(*fields: rx.Component, error, buttons: rx.Component, on_submit, **props) -> rx.Component:
    """A dialog's form: its fields, then the error line and the buttons."""
    return rx.form(
        rx.vstack(*fields, error_line(error), buttons, spacing="3", width="100%"),
        on_submit=on_submit,
        reset_on_submit=False,
        **props,
    )


def paged_table(
    loading, rows, body: rx.Component, page_bar: rx.Component, empty: rx.Component, skeleton: int = 8
) -> rx.Component:
    """Skeleton rows while loading, then the table with its pager, or the empty state."""
    return rx.cond(
        loading,
        skeleton_rows(skeleton),
        rx.cond(rows.length() > 0, rx.vstack(body, page_bar, width="100%"), empty),
    )


def reason_area(placeholder: str) -> rx.Component:
    return labelled(
        "Reason",
        rx.text_area(
            name="reason",
            required=True,
            max_length=300,
            placeholder=placeholder,
            width="100%",
            data_testid="reason",
        ),
    )
