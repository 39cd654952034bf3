"""The chart's Vitals tab: the form a nurse records a set with, and one vital sign's trend."""

from __future__ import annotations

import reflex as rx

from hms_app.pages.chart.common import CAN_WRITE, card_title, icon_text, muted
from hms_app.state.chart.encounters import ChartEncountersState
from hms_app.state.chart.vitals import (
    ACVPU_CHOICES,
    NO_ENCOUNTER,
    NOT_ASSESSED,
    TREND_CHOICES,
    VITAL_FIELDS,
    ChartVitalsState,
)


def vital_input(key: str, label: str, unit: str, decimals: int) -> rx.Component:
    failed = ChartVitalsState.vital_error_field == key
    return rx.vstack(
        rx.text(
            label,
            " ",
            rx.text.span("(" + unit + ")", color_scheme="gray", weight="regular"),
            size="2",
            weight="medium",
            as_="label",
            html_for="vital-" + key,
        ),
        rx.input(
            name=key,
            id="vital-" + key,
            type="number",
            step="any" if decimals else "1",
            input_mode="decimal",
            placeholder=unit,
            width="100%",
            color_scheme=rx.cond(failed, "red", "gray"),
            variant=rx.cond(failed, "soft", "surface"),
            data_testid="vital-" + key,
        ),
        rx.cond(
            failed,
            icon_text(
                "circle-alert",
                ChartVitalsState.vital_error_text,
                color=rx.color("red", 11),
                align="start",
                data_testid="vital-error-" + key,
            ),
        ),
        spacing="1",
        width="100%",
        align="start",
    )


def consciousness_select() -> rx.Component:
    failed = ChartVitalsState.vital_error_field == "consciousness"
    return rx.vstack(
        rx.text("Consciousness (ACVPU)", size="2", weight="medium"),
        rx.select.root(
            rx.select.trigger(width="100%", data_testid="vital-consciousness"),
            rx.select.content(
                rx.select.item("Not assessed", value=NOT_ASSESSED),
                *[rx.select.item(label, value=value) for value, label in ACVPU_CHOICES],
            ),
            name="consciousness",
            default_value=NOT_ASSESSED,
        ),
        rx.cond(failed, rx.text(ChartVitalsState.vital_error_text, color_scheme="red", size="1")),
        spacing="1",
        width="100%",
        align="start",
    )


def vitals_form() -> rx.Component:
    field_names = [key for key, *_ in VITAL_FIELDS] + ["encounter_id", "consciousness"]
    return rx.card(
        rx.form(
            rx.vstack(
                card_title("Record vitals", "clipboard-plus"),
                # Four across while the form has the whole width, two once the trend sits beside it.
                rx.grid(
                    *[vital_input(*f) for f in VITAL_FIELDS],
                    consciousness_select(),
                    columns=rx.breakpoints(initial="2", md="4", lg="2"),
                    spacing="3",
                    width="100%",
                ),
                rx.vstack(
                    rx.text("Encounter (optional)", size="2", weight="medium"),
                    rx.select.root(
                        rx.select.trigger(placeholder="Not part of an encounter", width="100%"),
                        rx.select.content(
                            rx.select.item("Not part of an encounter", value=NO_ENCOUNTER),
                            rx.foreach(
                                ChartEncountersState.open_encounters,
                                lambda e: rx.select.item(
                                    e.start + " · " + e.class_label, value=e.id.to_string()
                                ),
                            ),
                        ),
                        name="encounter_id",
                        default_value=NO_ENCOUNTER,
                    ),
                    rx.cond(
                        ChartVitalsState.vital_error_field == "encounter_id",
                        rx.text(ChartVitalsState.vital_error_text, color_scheme="red", size="1"),
                    ),
                    spacing="1",
                    width="100%",
                ),
                rx.cond(
                    (ChartVitalsState.vital_error_text != "")
                    & ~rx.Var.create(field_names).contains(ChartVitalsState.vital_error_field),
                    rx.callout(
                        ChartVitalsState.vital_error_text,
                        icon="triangle-alert",
                        color_scheme="red",
                        size="1",
                        width="100%",
                        data_testid="vitals-error",
                    ),
                ),
                rx.hstack(
                    muted(
                        "BMI is worked out from weight and the latest height. Oxygen 0 L/min means room air; "
                        "NEWS2 needs all seven of its observations."
                    ),
                    rx.spacer(),
                    rx.button(
                        rx.icon("save", size=14),
                        "Record",
                        type="submit",
                        loading=ChartVitalsState.saving,
                        data_testid="record-vitals",
                    ),
                    align="center",
                    width="100%",
                ),
                spacing="3",
                width="100%",
            ),
            on_submit=ChartVitalsState.submit_vitals,
            reset_on_submit=False,
            key=ChartVitalsState.vitals_form_key.to_string(),
            width="100%",
        ),
        width="100%",
    )


def trend_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.icon("chart-line", size=18, color=rx.color("accent", 10)),
                rx.heading("Trend", size="3"),
                rx.cond(ChartVitalsState.trend_loading, rx.spinner(size="1")),
                rx.spacer(),
                rx.select.root(
                    rx.select.trigger(min_width="12rem", data_testid="trend-select"),
                    rx.select.content(*[rx.select.item(label, value=key) for key, label in TREND_CHOICES]),
                    value=ChartVitalsState.trend_key,
                    on_change=ChartVitalsState.set_trend_key,
                ),
                align="center",
                width="100%",
                wrap="wrap",
            ),
            rx.cond(
                ChartVitalsState.trend_loaded,
                rx.box(
                    rx.plotly(
                        data=ChartVitalsState.trend_figure,
                        width="100%",
                        height="340px",
                        config={"displayModeBar": False, "responsive": True},
                    ),
                    width="100%",
                    min_height="340px",
                    data_testid="trend-chart",
                ),
                rx.skeleton(rx.box(height="340px", width="100%")),
            ),
            muted(
                ChartVitalsState.trend_count.to_string(),
                " measurements (the latest 200 at most)",
                rx.cond(
                    ChartVitalsState.trend_home_count > 0,
                    rx.text.span(
                        ", ",
                        ChartVitalsState.trend_home_count.to_string(),
                        " of them patient-reported (orange diamonds: entered by the patient at home)",
                        data_testid="trend-home-count",
                    ),
                ),
                ". Shaded: the normal range.",
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def vitals_tab() -> rx.Component:
    return rx.grid(
        rx.cond(CAN_WRITE, vitals_form(), rx.fragment()),
        trend_card(),
        columns=rx.breakpoints(initial="1", lg=rx.cond(CAN_WRITE, "minmax(0, 2fr) minmax(0, 3fr)", "1fr")),
        spacing="4",
        width="100%",
        align_items="start",
    )
