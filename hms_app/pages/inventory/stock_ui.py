"""What the stock screens share: the links between them, the store choice, flags, tables, form
fields with their own messages, and dialogs."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can
from hms_app.components.ui import scroll_box, skeleton_rows

WIDE_CELL = ["none", "none", "none", "table-cell"]
TABLET_CELL = ["none", "none", "table-cell"]  # from 768 px: a tablet held upright shows it
FLAG_COLOURS = {"out": "red", "below_min": "orange", "reorder": "amber"}
STOCK_LINKS = (
    ("Stock on hand", "/inventory", "package", "inventory.read"),
    ("Receive", "/inventory/receive", "package-plus", "inventory.keep"),
    ("Issue", "/inventory/issue", "package-minus", "inventory.issue"),
    ("Low stock", "/inventory/board", "package-x", "inventory.read"),
    ("Catalogue", "/inventory/items", "boxes", "inventory.read"),
)


def stock_tabs(active: str) -> rx.Component:
    """The links between the stock screens, ``active`` (this screen's route) highlighted."""
    return rx.flex(
        *[
            rx.cond(
                can(permission),
                rx.link(
                    rx.button(
                        rx.icon(icon, size=16),
                        label,
                        variant="solid" if route == active else "soft",
                        size="2",
                    ),
                    href=route,
                    data_testid="stock-tab-" + (route.removeprefix("/inventory").strip("/") or "stock"),
                ),
            )
            for label, route, icon, permission in STOCK_LINKS
        ],
        spacing="2",
        wrap="wrap",
        width="100%",
    )


def store_picker(state, *, test_id: str = "store-picker") -> rx.Component:
    """The store choice of a screen (``state.stores``, ``state.store_id``, ``state.select_store``)."""
    return rx.select.root(
        rx.select.trigger(placeholder="Choose a store", min_width="16rem", data_testid=test_id),
        rx.select.content(
            rx.foreach(state.stores, lambda s: rx.select.item(s.label, value=s.id)),
        ),
        value=state.store_id,
        on_change=state.select_store,
    )


def flag_badge(flag, label) -> rx.Component:
    return rx.match(
        flag,
        *[
            (name, rx.badge(label, color_scheme=colour, variant="soft", data_testid="flag-" + name))
            for name, colour in FLAG_COLOURS.items()
        ],
        rx.fragment(),
    )


def table(
    header: list[str],
    body: rx.Component,
    test_id: str,
    wide: tuple[int, ...] = (),
    tablet: tuple[int, ...] = (),
) -> rx.Component:
    return scroll_box(
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *[
                        rx.table.column_header_cell(
                            h,
                            display=WIDE_CELL if i in wide else (TABLET_CELL if i in tablet else None),
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


def clickable(child: rx.Component, on_click, test_id: str) -> rx.Component:
    """Text that opens something on this screen (a link would navigate, and reload the page)."""
    return rx.box(
        child,
        on_click=on_click,
        cursor="pointer",
        role="button",
        tab_index=0,
        _hover={"text_decoration": "underline"},
        data_testid=test_id,
    )


def paged(loading, rows, body: rx.Component, page_bar: rx.Component, empty: rx.Component) -> rx.Component:
    """Grey rows while loading, then the table and its pager, or the empty state."""
    return rx.cond(
        loading,
        skeleton_rows(6),
        rx.cond(rows.length() > 0, rx.vstack(body, page_bar, width="100%", spacing="3"), empty),
    )


def field_message(errors, name: str) -> rx.Component:
    """The message of field ``name`` from a dict var of field messages."""
    return rx.cond(
        errors.contains(name),
        error_text(errors[name], "error-" + name),
    )


def error_text(message, test_id: str) -> rx.Component:
    return rx.flex(
        rx.icon("circle-alert", size=12, flex_shrink="0", margin_top="0.2em"),
        rx.text(message, size="1"),
        spacing="1",
        color=rx.color("red", 11),
        data_testid=test_id,
    )


def field_error(error_field, error_text_var, name: str) -> rx.Component:
    """The message of a form that keeps one error and its field, under field ``name``."""
    return rx.cond(
        (error_text_var != "") & (error_field == name), error_text(error_text_var, "error-" + name)
    )


def labelled(label, control: rx.Component, *below: rx.Component, hint="") -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", weight="medium"),
        control,
        rx.text(hint, size="1", color_scheme="gray") if not isinstance(hint, str) or hint else rx.fragment(),
        *below,
        spacing="1",
        width="100%",
        align="start",
    )


def form_error(message) -> rx.Component:
    return rx.cond(
        message != "",
        rx.callout(
            message, icon="circle-alert", color_scheme="red", size="1", width="100%", data_testid="form-error"
        ),
    )


def dialog(
    title, description, body: rx.Component, is_open, on_change, test_id: str, width="30rem"
) -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(title),
            rx.dialog.description(description, size="2", color_scheme="gray", margin_bottom="1rem"),
            body,
            max_width=width,
            data_testid="dialog-" + test_id,
        ),
        open=is_open,
        on_open_change=on_change,
    )


def dialog_buttons(label: str, on_cancel, loading=False, color: str = "teal") -> rx.Component:
    return rx.flex(
        rx.button("Cancel", type="button", variant="soft", color_scheme="gray", on_click=on_cancel),
        rx.button(label, type="submit", color_scheme=color, loading=loading, data_testid="dialog-submit"),
        spacing="3",
        justify="end",
        width="100%",
        padding_top="0.5rem",
    )


def choice_select(name: str, choices, default, test_id: str, placeholder: str = "") -> rx.Component:
    """A form's select over a list var of choices (``value``, ``label``)."""
    return rx.select.root(
        rx.select.trigger(width="100%", placeholder=placeholder, data_testid=test_id),
        rx.select.content(rx.foreach(choices, lambda c: rx.select.item(c.label, value=c.value))),
        name=name,
        default_value=default,
    )


def access_notice(permission: str, message: str) -> rx.Component:
    return rx.cond(
        ~can(permission),
        rx.callout(message, icon="shield-alert", color_scheme="amber", data_testid="no-access"),
    )
