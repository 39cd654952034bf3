"""/portal/readings: the patient enters a measurement taken at home (blood pressure, glucose,
weight, temperature, oxygen saturation) and sees their own history as a chart and a list.
Phone-first: one column at 390 px, the chart and the list below the form."""

from __future__ import annotations

import reflex as rx

from hms_app.components.portal_shell import portal_page
from hms_app.components.ui import pager
from hms_app.pages.portal.parts import loading_list
from hms_app.state.home_readings.portal import (
    CHART_MEASURES,
    DAY_CHOICES,
    FIELDS,
    KIND_CHOICES,
    PortalReadingRow,
)
from hms_app.state.home_readings.portal import PortalReadingsState as S


def error_line(name: str) -> rx.Component:
    return rx.cond(
        S.field_errors.contains(name),
        rx.flex(
            rx.icon("circle-alert", size=14, flex_shrink="0", margin_top="0.2em"),
            rx.text(S.field_errors[name], size="2"),
            spacing="1",
            color=rx.color("red", 11),
            data_testid="error-" + name,
        ),
    )


def number_box(name: str, label: str, unit: str, hint: str) -> rx.Component:
    failed = S.field_errors.contains(name)
    return rx.vstack(
        rx.el.label(label, html_for="reading-" + name, font_size="var(--font-size-2)", font_weight="500"),
        rx.hstack(
            rx.input(
                name=name,
                id="reading-" + name,
                type="text",
                input_mode="decimal",
                auto_complete="off",
                max_length=12,
                size="3",
                width="100%",
                color_scheme=rx.cond(failed, "red", "gray"),
                variant=rx.cond(failed, "soft", "surface"),
                data_testid="reading-" + name,
            ),
            rx.text(unit, size="2", color_scheme="gray", white_space="nowrap", min_width="4.5rem")
            if unit
            else glucose_unit(),
            align="center",
            width="100%",
        ),
        rx.text(hint, size="1", color_scheme="gray") if hint else rx.fragment(),
        error_line(name),
        spacing="1",
        width="100%",
        align="start",
    )


def glucose_unit() -> rx.Component:
    return rx.select.root(
        rx.select.trigger(width="6.5rem", data_testid="glucose-unit"),
        rx.select.content(rx.select.item("mg/dL", value="mg/dL"), rx.select.item("mmol/L", value="mmol/L")),
        value=S.glucose_unit,
        on_change=S.set_glucose_unit,
        size="3",
    )


def kind_fields(kind: str) -> rx.Component:
    boxes = [number_box(*spec) for spec in FIELDS[kind]]
    if kind == "blood_pressure":
        return rx.grid(*boxes, columns=rx.breakpoints(initial="1", sm="3"), spacing="3", width="100%")
    return rx.vstack(*boxes, width="100%")


def entry_card() -> rx.Component:
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading("Add a measurement", size="4"),
                rx.vstack(
                    rx.text("What did you measure?", size="2", weight="medium"),
                    rx.select.root(
                        rx.select.trigger(width="100%", data_testid="reading-kind"),
                        rx.select.content(*[rx.select.item(label, value=key) for key, label in KIND_CHOICES]),
                        value=S.kind,
                        on_change=S.set_kind,
                        size="3",
                    ),
                    spacing="1",
                    width="100%",
                ),
                rx.match(S.kind, *[(key, kind_fields(key)) for key in FIELDS], kind_fields("blood_pressure")),
                rx.vstack(
                    rx.el.label(
                        "When did you measure?",
                        html_for="reading-measured_at",
                        font_size="var(--font-size-2)",
                        font_weight="500",
                    ),
                    rx.input(
                        name="measured_at",
                        id="reading-measured_at",
                        type="datetime-local",
                        size="3",
                        width="100%",
                        data_testid="reading-measured_at",
                    ),
                    rx.text(
                        "Leave it empty if you measured just now. Measurements of the last 30 days can be added.",
                        size="1",
                        color_scheme="gray",
                    ),
                    error_line("measured_at"),
                    spacing="1",
                    width="100%",
                    align="start",
                ),
                rx.cond(
                    S.field_errors.contains(""),
                    rx.callout(S.field_errors[""], icon="triangle-alert", color_scheme="red", width="100%"),
                ),
                rx.button(
                    rx.icon("save", size=16),
                    "Save measurement",
                    type="submit",
                    size="3",
                    width="100%",
                    loading=S.saving,
                    data_testid="reading-save",
                ),
                spacing="3",
                width="100%",
            ),
            on_submit=S.submit,
            reset_on_submit=False,
            key=S.form_key.to_string(),
            width="100%",
        ),
        width="100%",
    )


def outcome() -> rx.Component:
    return rx.fragment(
        rx.cond(
            S.alert_text != "",
            rx.callout(
                rx.vstack(
                    rx.text(rx.text.strong("This reading is outside the limits your care team set. ")),
                    rx.text(S.alert_text + "."),
                    rx.text(
                        "Your care team has been alerted and will contact you. If you feel unwell, with chest "
                        "pain, shortness of breath, confusion or fainting, call the emergency number now.",
                    ),
                    spacing="1",
                ),
                icon="triangle-alert",
                color_scheme="amber",
                width="100%",
                data_testid="reading-alert",
            ),
            rx.cond(
                S.saved_text != "",
                rx.callout(
                    S.saved_text,
                    icon="circle-check",
                    color_scheme="teal",
                    width="100%",
                    data_testid="reading-saved",
                ),
            ),
        ),
    )


def chart_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.heading("Your measurements over time", size="4"),
                rx.spacer(),
                rx.flex(
                    rx.select.root(
                        rx.select.trigger(data_testid="chart-measure"),
                        rx.select.content(
                            *[rx.select.item(label, value=key) for key, label in CHART_MEASURES]
                        ),
                        value=S.chart_measure,
                        on_change=S.set_chart_measure,
                    ),
                    rx.select.root(
                        rx.select.trigger(data_testid="chart-days"),
                        rx.select.content(*[rx.select.item(label, value=key) for key, label in DAY_CHOICES]),
                        value=S.chart_days,
                        on_change=S.set_chart_days,
                    ),
                    spacing="2",
                    wrap="wrap",
                ),
                width="100%",
                wrap="wrap",
                spacing="2",
                align="center",
            ),
            rx.box(
                rx.plotly(
                    data=S.figure,
                    width="100%",
                    height="300px",
                    config={"displayModeBar": False, "responsive": True},
                ),
                width="100%",
                min_height="300px",
                data_testid="readings-chart",
            ),
            rx.text("Shaded: the usual range.", size="1", color_scheme="gray"),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def history_row(row: PortalReadingRow) -> rx.Component:
    return rx.flex(
        rx.vstack(
            rx.text(row.what, size="2", weight="medium"),
            rx.text(row.when, size="1", color_scheme="gray"),
            spacing="0",
            min_width="0",
            flex="1",
        ),
        rx.vstack(
            rx.text(
                rx.text.strong(row.value_text), size="2", white_space="nowrap", data_testid="history-value"
            ),
            rx.cond(row.entered_as != "", rx.text(row.entered_as, size="1", color_scheme="gray")),
            rx.cond(
                row.status != "",
                rx.badge(
                    row.status_label,
                    color_scheme=rx.cond(row.status == "open", "amber", "gray"),
                    variant="soft",
                    data_testid="history-status",
                ),
            ),
            align="end",
            spacing="1",
        ),
        width="100%",
        spacing="3",
        align="start",
        padding_y="0.6rem",
        border_top=f"1px solid {rx.color('gray', 4)}",
        data_testid="history-row",
    )


def history_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Your readings", size="4"),
            rx.cond(
                S.loaded,
                rx.cond(
                    S.total > 0,
                    rx.vstack(
                        rx.foreach(S.rows, history_row),
                        pager(S.page, S.page_count, S.total, S.move(-1), S.move(1), noun="readings"),
                        spacing="0",
                        width="100%",
                    ),
                    rx.center(
                        rx.vstack(
                            rx.icon("house-plus", size=28, color=rx.color("gray", 9)),
                            rx.text("You have not added a measurement yet.", color_scheme="gray", size="2"),
                            align="center",
                            spacing="2",
                        ),
                        padding="1.5rem",
                        width="100%",
                        data_testid="history-empty",
                    ),
                ),
                loading_list(),
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
    )


@portal_page(route="/portal/readings", title="My readings", on_load=S.load, max_width="44rem")
def readings_page() -> rx.Component:
    return rx.vstack(
        rx.card(
            rx.vstack(
                rx.heading("Measurements at home", size="5"),
                rx.text(
                    "Add the blood pressure, blood sugar, weight, temperature or oxygen level you measured at "
                    "home. Your care team sees them in your record, and is alerted when one is outside the "
                    "limits they set for you. This is not an emergency service.",
                    size="2",
                    color_scheme="gray",
                ),
                spacing="2",
                width="100%",
            ),
            width="100%",
        ),
        outcome(),
        entry_card(),
        chart_card(),
        history_card(),
        spacing="4",
        width="100%",
        data_testid="portal-readings",
    )
