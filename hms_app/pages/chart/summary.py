"""The chart's Summary tab: clinical scores, the latest vitals and what is active now."""

from __future__ import annotations

import reflex as rx

from hms_app.components.ui import scroll_box
from hms_app.pages.chart.common import BELOW_BANNER, card_title, header_cells, icon_text, muted, scroll_table
from hms_app.state.chart.page import ChartState
from hms_app.state.chart.summary import ChartSummaryState, ScoreCard, ScoreInputLine, VitalLine


def score_input_row(i: ScoreInputLine, card: ScoreCard) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(rx.tooltip(rx.text(i.label, size="1"), content=i.source)),
        rx.table.cell(
            rx.text(i.value, rx.cond(i.unit != "", " " + i.unit, ""), size="1", weight="medium"),
        ),
        rx.cond(
            card.has_points,
            rx.table.cell(
                rx.text(i.points, size="1", weight=rx.cond(i.points == "3", "bold", "regular")),
                text_align="right",
            ),
        ),
        # Times per row only when the inputs were taken at different moments (else said once above).
        rx.cond(
            card.taken == "",
            rx.table.cell(muted(rx.cond(i.when != "", i.when, i.source), white_space="nowrap")),
        ),
    )


def score_card(card: ScoreCard) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.text(card.name, weight="bold", size="2"),
                rx.spacer(),
                rx.badge(card.band, color_scheme=card.color, variant="solid", size="1"),
                align="center",
                width="100%",
            ),
            rx.hstack(
                rx.text(card.value, size="7", weight="bold", line_height="1"),
                muted(card.unit),
                rx.spacer(),
                rx.cond(card.taken != "", muted("Taken ", card.taken, white_space="nowrap")),
                align="baseline",
                spacing="2",
                width="100%",
                wrap="wrap",
            ),
            rx.text(card.interpretation, size="1", color_scheme="gray"),
            scroll_box(
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell("Input"),
                            rx.table.column_header_cell("Value"),
                            rx.cond(
                                card.has_points, rx.table.column_header_cell("Points", text_align="right")
                            ),
                            rx.cond(card.taken == "", rx.table.column_header_cell("When")),
                        )
                    ),
                    rx.table.body(rx.foreach(card.inputs, lambda i: score_input_row(i, card))),
                    variant="ghost",
                    size="1",
                    width="100%",
                ),
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
        border_top="3px solid var(--" + card.color + "-9)",
        data_testid="score-" + card.key,
    )


def scores_panel() -> rx.Component:
    return rx.card(
        rx.vstack(
            card_title("Clinical scores", "gauge"),
            rx.cond(
                ChartSummaryState.score_cards.length() > 0,
                rx.grid(
                    rx.foreach(ChartSummaryState.score_cards, score_card),
                    columns=rx.breakpoints(initial="1", md="2"),
                    spacing="3",
                    width="100%",
                ),
                muted(
                    "No score applies yet. NEWS2 and qSOFA need a full set of vitals (with consciousness and "
                    "oxygen); eGFR a creatinine result; CHA2DS2-VASc atrial fibrillation on the problem list."
                ),
            ),
            rx.foreach(
                ChartSummaryState.score_notes,
                lambda note: icon_text("info", note, color=rx.color("gray", 11)),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
        id="scores-panel",
        scroll_margin_top=BELOW_BANNER,
        data_testid="scores-panel",
    )


def summary_list(title: str, icon: str, items, empty: str, test_id: str) -> rx.Component:
    return rx.card(
        rx.vstack(
            card_title(title, icon),
            rx.cond(
                items.length() > 0,
                rx.vstack(rx.foreach(items, lambda item: rx.text(item, size="2")), spacing="1", width="100%"),
                muted(empty),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
        data_testid=test_id,
    )


def vital_row(v: VitalLine) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(v.label),
        rx.table.cell(
            rx.hstack(
                rx.text(v.value, " ", v.unit, weight="medium", white_space="nowrap"),
                rx.match(
                    v.flag,
                    ("high", rx.badge("high", color_scheme="red", size="1")),
                    ("low", rx.badge("low", color_scheme="orange", size="1")),
                    ("altered", rx.badge("not alert", color_scheme="red", size="1")),
                    rx.fragment(),
                ),
                rx.cond(
                    v.patient_reported,
                    rx.badge(
                        "patient-reported",
                        color_scheme="orange",
                        variant="soft",
                        size="1",
                        data_testid="vital-home",
                    ),
                ),
                spacing="2",
                align="center",
            )
        ),
        rx.table.cell(muted(v.when, white_space="nowrap")),
    )


def summary_tab() -> rx.Component:
    vitals = rx.card(
        rx.vstack(
            card_title("Latest vitals", "activity"),
            rx.cond(
                ChartSummaryState.vitals.length() > 0,
                scroll_table(
                    header_cells("Vital sign", "Value", "When"),
                    rx.table.body(rx.foreach(ChartSummaryState.vitals, vital_row)),
                ),
                muted("No vitals recorded yet."),
            ),
            rx.cond(
                ChartSummaryState.bmi_value != "",
                rx.hstack(
                    rx.text("BMI ", rx.text.strong(ChartSummaryState.bmi_value), " kg/m²", size="2"),
                    rx.badge(
                        ChartSummaryState.bmi_category,
                        color_scheme=rx.cond(
                            ChartSummaryState.bmi_category == "healthy weight", "green", "orange"
                        ),
                        variant="soft",
                    ),
                    align="center",
                    data_testid="summary-bmi",
                ),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
        data_testid="summary-vitals",
    )
    return rx.grid(
        rx.box(scores_panel(), grid_column="1 / -1"),
        vitals,
        rx.vstack(
            summary_list(
                "Active problems",
                "stethoscope",
                ChartSummaryState.summary_problems,
                "No active problems.",
                "summary-problems",
            ),
            summary_list(
                "Allergies",
                "triangle-alert",
                ChartState.banner_allergies,
                "No known allergies.",
                "summary-allergies",
            ),
            spacing="4",
            width="100%",
        ),
        summary_list(
            "Active medications",
            "pill",
            ChartSummaryState.summary_medications,
            "No active medications.",
            "summary-medications",
        ),
        summary_list(
            "Recent immunizations",
            "syringe",
            ChartSummaryState.summary_immunizations,
            "No immunizations recorded.",
            "summary-immunizations",
        ),
        columns=rx.breakpoints(initial="1", lg="2"),
        spacing="4",
        width="100%",
    )
