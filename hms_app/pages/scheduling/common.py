"""Small pieces every scheduling screen uses: permission checks for drawing, labelled fields with
their errors, and selects over options."""

from __future__ import annotations

import reflex as rx

from hms_app.state.scheduling import ANY


def error_line(message, test_id: str = "") -> rx.Component:
    return rx.flex(
        rx.icon("circle-alert", size=12, flex_shrink="0", margin_top="0.2em"),
        rx.text(message, size="1"),
        spacing="1",
        color=rx.color("red", 11),
        data_testid=test_id or "field-error",
    )


def field_error(state, name: str) -> rx.Component:
    return rx.cond(state.error_field == name, error_line(state.error_text, "error-" + name))


def general_error(state, fields: tuple[str, ...] = ()) -> rx.Component:
    shown = state.error_text != ""
    for name in fields:
        shown = shown & (state.error_field != name)
    return rx.cond(
        shown,
        rx.callout(
            state.error_text,
            icon="triangle-alert",
            color_scheme="red",
            size="1",
            width="100%",
            data_testid="form-error",
        ),
    )


def form_label(text: str, html_for: str = "") -> rx.Component:
    props = {"html_for": html_for} if html_for else {}
    return rx.el.label(
        text,
        font_size="var(--font-size-2)",
        font_weight="500",
        line_height="var(--line-height-2)",
        **props,
    )


def labelled(label: str, control: rx.Component, state=None, name: str = "", hint: str = "") -> rx.Component:
    return rx.vstack(
        form_label(label, name),
        control,
        rx.text(hint, size="1", color_scheme="gray") if hint else rx.fragment(),
        field_error(state, name) if state is not None and name else rx.fragment(),
        spacing="1",
        width="100%",
        align="start",
    )


def option_select(options, value, on_change, placeholder: str, test_id: str, any_label: str = "", **props):
    """A select over [Option]; with ``any_label`` a first item meaning "any"."""
    return rx.select.root(
        rx.select.trigger(placeholder=placeholder, data_testid=test_id, **props),
        rx.select.content(
            rx.select.item(any_label, value=ANY) if any_label else rx.fragment(),
            rx.foreach(options, lambda o: rx.select.item(o.label, value=o.id)),
        ),
        value=value,
        on_change=on_change,
    )


def active_badge(active) -> rx.Component:
    return rx.cond(
        active,
        rx.badge("Active", color_scheme="green", variant="soft"),
        rx.badge("Inactive", color_scheme="gray", variant="outline"),
    )
