"""What the purchasing, supplier and stock-count screens draw alike: tables, labelled fields with
their own messages, dialogs, status badges, the back link and the problem notice."""

from __future__ import annotations

import reflex as rx

from hms_app.components.ui import scroll_box, skeleton_rows

WIDE_CELL = ["none", "none", "none", "table-cell"]
NUMBER = {"text_align": "right", "white_space": "nowrap"}


def table(
    header: list, body: rx.Component, test_id: str, wide: tuple[int, ...] = (), numeric=()
) -> rx.Component:
    return scroll_box(
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *[
                        rx.table.column_header_cell(
                            h,
                            display=WIDE_CELL if i in wide else None,
                            white_space="nowrap",
                            text_align="right" if i in numeric else None,
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


def paged(loading, rows, body: rx.Component, empty: rx.Component, skeleton: int = 6) -> rx.Component:
    """Skeleton rows while loading, then the table (with its pager), or the empty state."""
    return rx.cond(loading, skeleton_rows(skeleton), rx.cond(rows.length() > 0, body, empty))


def field_message(errors, name) -> rx.Component:
    return rx.cond(
        errors.contains(name),
        rx.text(
            rx.icon("circle-alert", size=12, display="inline", vertical_align="middle"),
            " ",
            errors[name],
            size="1",
            color=rx.color("red", 11),
            data_testid="error-" + name,
        ),
    )


def labelled(label: str, control: rx.Component, errors=None, name: str = "", hint: str = "") -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", weight="medium"),
        control,
        rx.text(hint, size="1", color_scheme="gray") if hint else rx.fragment(),
        field_message(errors, name) if errors is not None else rx.fragment(),
        spacing="1",
        width="100%",
        align="start",
    )


def error_line(message) -> rx.Component:
    return rx.cond(
        message != "",
        rx.callout(
            message, icon="circle-alert", color_scheme="red", size="1", width="100%", data_testid="form-error"
        ),
    )


def dialog(
    name: str, title, description, body: rx.Component, is_open, on_change, width: str = "32rem"
) -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(title),
            rx.dialog.description(description, size="2", color_scheme="gray", margin_bottom="1rem"),
            body,
            max_width=width,
            data_testid="dialog-" + name,
        ),
        open=is_open,
        on_open_change=on_change,
    )


def buttons(label: str, on_cancel, loading, color: str = "teal", icon: str = "") -> rx.Component:
    return rx.flex(
        rx.button("Cancel", type="button", variant="soft", color_scheme="gray", on_click=on_cancel),
        rx.button(
            *([rx.icon(icon, size=16)] if icon else []),
            label,
            type="submit",
            color_scheme=color,
            loading=loading,
            data_testid="dialog-submit",
        ),
        spacing="3",
        justify="end",
        width="100%",
        padding_top="0.5rem",
    )


def confirm_buttons(label: str, on_cancel, on_confirm, loading, color: str = "teal") -> rx.Component:
    return rx.flex(
        rx.button("Cancel", type="button", variant="soft", color_scheme="gray", on_click=on_cancel),
        rx.button(
            label, color_scheme=color, loading=loading, on_click=on_confirm, data_testid="dialog-submit"
        ),
        spacing="3",
        justify="end",
        width="100%",
        padding_top="0.5rem",
    )


def form(*fields: rx.Component, error, footer: rx.Component, on_submit, key=None) -> rx.Component:
    return rx.form(
        rx.vstack(*fields, error_line(error), footer, spacing="3", width="100%"),
        on_submit=on_submit,
        reset_on_submit=False,
        **({"key": key} if key is not None else {}),
    )


def reason_box(errors, placeholder: str, label: str = "Reason", required: bool = True) -> rx.Component:
    return labelled(
        label,
        rx.text_area(
            name="reason",
            required=required,
            max_length=300,
            placeholder=placeholder,
            width="100%",
            data_testid="reason",
        ),
        errors,
        "reason",
    )


def order_badge(status, label) -> rx.Component:
    return rx.match(
        status,
        ("draft", rx.badge(label, color_scheme="gray", variant="outline")),
        ("approved", rx.badge(label, color_scheme="blue", variant="soft")),
        ("sent", rx.badge(label, color_scheme="indigo", variant="soft")),
        ("partly_received", rx.badge(label, color_scheme="amber", variant="soft")),
        ("received", rx.badge(label, color_scheme="green", variant="soft")),
        ("closed", rx.badge(label, color_scheme="gray", variant="soft")),
        ("cancelled", rx.badge(label, color_scheme="red", variant="soft")),
        rx.badge(label, variant="soft"),
    )


def count_badge(status, label) -> rx.Component:
    return rx.match(
        status,
        ("counting", rx.badge(label, color_scheme="blue", variant="soft")),
        ("submitted", rx.badge(label, color_scheme="amber", variant="soft")),
        ("approved", rx.badge(label, color_scheme="green", variant="soft")),
        ("cancelled", rx.badge(label, color_scheme="gray", variant="soft")),
        rx.badge(label, variant="soft"),
    )


def back_link(label: str, href: str) -> rx.Component:
    return rx.link(
        rx.hstack(rx.icon("arrow-left", size=14), rx.text(label, size="2"), align="center", spacing="1"),
        href=href,
        underline="none",
    )


def problem(message, href: str, label: str) -> rx.Component:
    return rx.callout(
        rx.vstack(rx.text(message), rx.link(label, href=href), spacing="1"),
        icon="circle-alert",
        color_scheme="red",
        width="100%",
        data_testid="page-problem",
    )


def fact(label: str, value, test_id: str = "") -> rx.Component:
    """One label and value of a header card; nothing when the value is empty."""
    return rx.cond(
        value != "",
        rx.vstack(
            rx.text(label, size="1", color_scheme="gray"),
            rx.text(value, size="2", weight="medium", **({"data_testid": test_id} if test_id else {})),
            spacing="0",
            align="start",
        ),
    )


def select_filter(
    value, options, on_change, test_id: str, all_label: str = "", width: str = "12rem"
) -> rx.Component:
    """A select over ``options`` (Options, or a list var of them) with an optional "all" entry first."""
    return rx.select.root(
        rx.select.trigger(width=width, data_testid=test_id),
        rx.select.content(
            *([rx.select.item(all_label, value="all")] if all_label else []),
            *(
                [rx.select.item(o.label, value=o.id) for o in options]
                if isinstance(options, list)
                else [rx.foreach(options, lambda o: rx.select.item(o.label, value=o.id))]
            ),
        ),
        value=value,
        on_change=on_change,
    )


def item_picker(
    chosen_label, options, query_change, on_choose, on_clear, errors, test_id: str
) -> rx.Component:
    """Search items by code, name or GTIN and choose one; the chosen one shows as a badge."""
    return rx.vstack(
        rx.text("Item", size="2", weight="medium"),
        rx.cond(
            chosen_label != "",
            rx.hstack(
                rx.badge(
                    rx.icon("package", size=12), chosen_label, size="2", data_testid=test_id + "-chosen"
                ),
                rx.button("Change", type="button", size="1", variant="ghost", on_click=on_clear),
                align="center",
            ),
            rx.vstack(
                rx.input(
                    rx.input.slot(rx.icon("search", size=14)),
                    placeholder="Code, name or GTIN",
                    on_change=query_change,
                    debounce_timeout=300,
                    max_length=60,
                    width="100%",
                    data_testid=test_id + "-search",
                ),
                rx.foreach(
                    options,
                    lambda o: rx.button(
                        rx.text(o.name, weight="medium"),
                        rx.text(o.code + " · " + o.unit, size="1", color_scheme="gray"),
                        type="button",
                        variant="soft",
                        color_scheme="gray",
                        width="100%",
                        justify_content="flex-start",
                        on_click=on_choose(o.id),
                        data_testid=test_id + "-option",
                    ),
                ),
                spacing="1",
                width="100%",
            ),
        ),
        field_message(errors, "item_id"),
        spacing="1",
        width="100%",
    )
