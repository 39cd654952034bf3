"""Pieces the patient screens share: permission-aware notices, status badges, tables, form labels
and error lines, cards and grids."""

from __future__ import annotations

import reflex as rx

from hms_app.components.ui import scroll_box

# Responsive display values (initial, sm, md, lg): the large breakpoint is 62em.
WIDE_CELL = ["none", "none", "none", "table-cell"]
NARROW_ONLY = ["block", "block", "block", "none"]
WIDE_ONLY = ["none", "none", "none", "block"]


def status_badge(status: rx.Var) -> rx.Component:
    return rx.match(
        status,
        ("active", rx.badge("Active", color_scheme="green", variant="soft")),
        (
            "deceased",
            rx.badge(rx.icon("flower-2", size=12), "Deceased", color_scheme="gray", variant="solid"),
        ),
        ("merged", rx.badge(rx.icon("git-merge", size=12), "Merged", color_scheme="amber", variant="soft")),
        rx.badge("Inactive", color_scheme="gray", variant="outline"),
    )


def scroll_table(header: list, body: rx.Component, test_id: str, size="2") -> rx.Component:
    return scroll_box(
        rx.table.root(
            rx.table.header(rx.table.row(*header)),
            rx.table.body(body),
            variant="surface",
            size=size,
            width="100%",
        ),
        data_testid=test_id,
    )


def error_line(message: rx.Var, test_id: str) -> rx.Component:
    return rx.flex(
        rx.icon("circle-alert", size=12, flex_shrink="0", margin_top="0.2em"),
        rx.text(message, size="1"),
        spacing="1",
        color=rx.color("red", 11),
        data_testid=test_id,
    )


def error_text(state, name: str) -> rx.Component:
    """The field's own message; every failed field shows its message at once."""
    return rx.cond(state.field_errors.contains(name), error_line(state.field_errors[name], "error-" + name))


def form_label(text: str, html_for: str) -> rx.Component:
    return rx.el.label(
        text,
        html_for=html_for,
        font_size="var(--font-size-2)",
        font_weight="500",
        line_height="var(--line-height-2)",
    )


def labelled(state, label: str, name: str, control: rx.Component, hint: str = "") -> rx.Component:
    return rx.vstack(
        form_label(label, name),
        control,
        rx.text(hint, size="1", color_scheme="gray") if hint else rx.fragment(),
        error_text(state, name),
        spacing="1",
        width="100%",
        align="start",
    )


def text_input(name: str, max_length: int = 80, **props) -> rx.Component:
    return rx.input(name=name, id=name, max_length=max_length, width="100%", **props)


def grid(*children, columns=None) -> rx.Component:
    return rx.grid(
        *children, columns=columns or rx.breakpoints(initial="1", sm="2"), spacing="3", width="100%"
    )


def card(title: str, icon: str, *children) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.icon(icon, size=18, color=rx.color("accent", 10)),
                rx.heading(title, size="3"),
                align="center",
                spacing="2",
            ),
            *children,
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def general_error(state) -> rx.Component:
    return rx.cond(
        (state.error_text != "") & (state.error_field == ""),
        rx.callout(
            state.error_text,
            icon="triangle-alert",
            color_scheme="red",
            size="1",
            width="100%",
            data_testid="form-error",
        ),
    )


def problem_callout(message: rx.Var) -> rx.Component:
    return rx.callout(
        rx.vstack(rx.text(message), rx.link("Go to the patient search", href="/patients"), spacing="1"),
        icon="circle-alert",
        color_scheme="red",
        width="100%",
        data_testid="page-problem",
    )
