"""What the chart's screens share: write-only controls, cards, tables, badges and muted text."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can
from hms_app.components.ui import empty_state, scroll_box
from hms_app.state.chart.page import ChartState

CAN_WRITE = can("emr.write")
# The shell's header is sticky at the top and grows when its title wraps on a narrow screen; the
# banner sticks right under it. The browser measures both (banner.MEASURE_JS) into CSS variables.
HEADER_HEIGHT = "var(--hms-header-height, 61px)"
BELOW_BANNER = "calc(var(--hms-header-height, 61px) + var(--hms-banner-height, 7rem) + 0.75rem)"
# Where the two-column layouts begin: Radix's lg for grid columns, Reflex's xl for style props (both 1280px).
WIDE_ONLY = rx.breakpoints(initial="none", xl="block")


def write_only(component: rx.Component) -> rx.Component:
    return rx.cond(CAN_WRITE, component)


def scroll_table(*children, **props) -> rx.Component:
    return scroll_box(rx.table.root(*children, variant="surface", size="1", width="100%"), **props)


def header_cells(*names: str) -> rx.Component:
    return rx.table.header(rx.table.row(*[rx.table.column_header_cell(n) for n in names]))


def card_title(title: str, icon: str, *actions) -> rx.Component:
    return rx.hstack(
        rx.icon(icon, size=18, color=rx.color("accent", 10)),
        rx.heading(title, size="3"),
        rx.spacer(),
        *actions,
        align="center",
        width="100%",
    )


def add_button(label: str, dialog: str, test_id: str) -> rx.Component:
    return write_only(
        rx.button(
            rx.icon("plus", size=14),
            label,
            size="1",
            variant="soft",
            on_click=ChartState.open_dialog(dialog),
            data_testid=test_id,
        )
    )


def status_badge(status: rx.Var) -> rx.Component:
    return rx.match(
        status,
        ("active", rx.badge("Active", color_scheme="green", variant="soft")),
        ("in-progress", rx.badge("In progress", color_scheme="amber", variant="soft")),
        ("finished", rx.badge("Finished", color_scheme="gray", variant="soft")),
        ("resolved", rx.badge("Resolved", color_scheme="blue", variant="soft")),
        ("stopped", rx.badge("Stopped", color_scheme="gray", variant="outline")),
        ("completed", rx.badge("Completed", color_scheme="gray", variant="soft")),
        ("draft", rx.badge("Draft", color_scheme="amber", variant="soft")),
        ("signed", rx.badge(rx.icon("lock", size=11), "Signed", color_scheme="green", variant="soft")),
        rx.badge(status, color_scheme="gray", variant="outline"),
    )


def muted(*children, **props) -> rx.Component:
    return rx.text(*children, size="1", color_scheme="gray", **props)


def icon_text(
    icon: str, *children, size: str = "1", icon_size: int = 12, align: str = "center", **props
) -> rx.Component:
    """An icon in front of a line of text (an icon inside rx.text would sit on a line of its own)."""
    return rx.hstack(
        rx.icon(icon, size=icon_size, flex_shrink="0", margin_top="0.2em" if align == "start" else "0"),
        rx.text(*children, size=size),
        spacing="1",
        align=align,
        **props,
    )


def record_card(
    title: str, icon: str, header: rx.Component, rows, row, empty: str, *actions, note=None
) -> rx.Component:
    """A titled card with a table of `rows` (one `row` each), or an empty state with the card's icon;
    `note` (a component) stands under the title."""
    return rx.card(
        rx.vstack(
            card_title(title, icon, *actions),
            *([note] if note is not None else []),
            rx.cond(
                rows.length() > 0,
                scroll_table(header, rx.table.body(rx.foreach(rows, row))),
                empty_state(empty, icon),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def status_menu(what, *items) -> rx.Component:
    """A row's "…" menu of status changes; ``what`` names the row to a screen reader."""
    return rx.menu.root(
        rx.menu.trigger(
            rx.icon_button(
                rx.icon("ellipsis", size=16),
                variant="ghost",
                color_scheme="gray",
                size="1",
                aria_label="Change the status of " + what,
            )
        ),
        rx.menu.content(*items),
    )
