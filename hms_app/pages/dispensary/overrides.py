"""/pharmacy/overrides: the order-check override report. Per rule, how many orders were shown its
alert and how many were signed past it over the chosen days; the most overridden rules' rates as
bars; rules shown often and nearly always overridden flagged for tuning; the table as CSV."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, refused
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, scroll_box, skeleton_rows
from hms_app.pages.dispensary.queue import pharmacy_tabs
from hms_app.state.dispensary.overrides import NOISY_NOTE, OverrideLine
from hms_app.state.dispensary.overrides import OverrideReportState as S

PLOT_CONFIG = {"displayModeBar": False, "responsive": True}


def field_error(name: str) -> rx.Component:
    return rx.cond(
        S.error_field == name,
        # An icon inside rx.text would sit on a line of its own.
        rx.hstack(
            rx.icon("circle-alert", size=12, color=rx.color("red", 11), flex_shrink="0"),
            rx.text(S.error_text, color_scheme="red", size="1"),
            spacing="1",
            align="center",
            max_width="16rem",
            data_testid="span-error-" + name,
        ),
    )


def date_field(label: str, name: str, value) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="1", weight="medium", color_scheme="gray", as_="label"),
        rx.input(name=name, type="date", default_value=value, width="100%", data_testid="span-" + name),
        field_error(name),
        spacing="1",
        align="start",
    )


def filters() -> rx.Component:
    return rx.card(
        rx.form(
            rx.flex(
                date_field("From", "date_from", S.date_from),
                date_field("To", "date_to", S.date_to),
                rx.vstack(
                    # An empty label line keeps the buttons level with the inputs.
                    rx.text("\u00a0", size="1", aria_hidden="true"),
                    rx.flex(
                        rx.button(
                            rx.icon("filter", size=16), "Apply", type="submit", data_testid="span-apply"
                        ),
                        rx.button(
                            "Last 90 days",
                            type="button",
                            variant="soft",
                            color_scheme="gray",
                            on_click=S.reset_span,
                        ),
                        spacing="2",
                    ),
                    spacing="1",
                ),
                rx.spacer(),
                rx.vstack(
                    rx.text("\u00a0", size="1", aria_hidden="true"),
                    rx.flex(
                        rx.text(
                            rx.flex(
                                rx.switch(
                                    checked=S.interrupting_only,
                                    on_change=S.set_interrupting_only,
                                    data_testid="interrupting-only",
                                ),
                                "Interrupting alerts only",
                                spacing="2",
                                align="center",
                            ),
                            as_="label",
                            size="2",
                        ),
                        rx.button(
                            rx.icon("download", size=16),
                            "CSV",
                            variant="soft",
                            type="button",
                            loading=S.exporting,
                            disabled=~S.loaded | (S.rows.length() == 0),
                            on_click=S.download_csv,
                            data_testid="overrides-csv",
                        ),
                        spacing="4",
                        align="center",
                        min_height="var(--space-6)",
                    ),
                    spacing="1",
                ),
                spacing="3",
                align="start",
                wrap="wrap",
                width="100%",
            ),
            key=S.form_version.to_string(),
            on_submit=S.apply,
            reset_on_submit=False,
            width="100%",
        ),
        width="100%",
    )


def noisy_badge(line: OverrideLine) -> rx.Component:
    return rx.cond(
        line.noisy,
        rx.badge(rx.icon("volume-2", size=12), "Noisy: consider tuning", color_scheme="red", variant="soft"),
    )


def number_cell(value) -> rx.Component:
    return rx.table.cell(value.to_string(), text_align="right")


def rule_row(line: OverrideLine) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(rx.code(line.rule, variant="ghost", size="2", weight="medium")),
        rx.table.cell(line.kind, white_space="nowrap"),
        number_cell(line.shown),
        number_cell(line.overridden),
        rx.table.cell(
            rx.text(line.rate, weight=rx.cond(line.noisy, "bold", "regular"), white_space="nowrap"),
            text_align="right",
        ),
        rx.table.cell(noisy_badge(line)),
        background_color=rx.cond(line.noisy, rx.color("red", 2), "transparent"),
        data_testid="rule-" + line.rule,
    )


def rules_table() -> rx.Component:
    def heading(text: str, right: bool = False) -> rx.Component:
        return rx.table.column_header_cell(text, white_space="nowrap", text_align="right" if right else None)

    return scroll_box(
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    heading("Rule"),
                    heading("Kind"),
                    heading("Shown", True),
                    heading("Overridden", True),
                    heading("Override rate", True),
                    heading(""),
                )
            ),
            rx.table.body(rx.foreach(S.rows, rule_row)),
            variant="surface",
            size="2",
            width="100%",
        ),
        data_testid="override-table",
    )


def noisy_callout() -> rx.Component:
    return rx.cond(
        S.noisy_count > 0,
        rx.callout(
            rx.text(
                rx.text.strong(S.noisy_count.to_string(), rx.cond(S.noisy_count == 1, " rule", " rules")),
                " interrupt prescribers who nearly always go ahead: consider tuning them. ",
                NOISY_NOTE,
            ),
            icon="volume-2",
            color_scheme="amber",
            width="100%",
            data_testid="noisy-callout",
        ),
    )


def report() -> rx.Component:
    return rx.cond(
        S.rows.length() > 0,
        rx.vstack(
            rx.text(S.summary, size="2", color_scheme="gray", data_testid="overrides-summary"),
            noisy_callout(),
            rx.card(
                rx.vstack(
                    rx.heading("Override rate of the most overridden rules", size="4"),
                    rx.text(
                        "Share of the orders shown the rule's alert that were signed past it; "
                        "the top 15 rules. Red: noisy.",
                        size="1",
                        color_scheme="gray",
                    ),
                    rx.box(
                        rx.plotly(data=S.figure, width="100%", config=PLOT_CONFIG),
                        width="100%",
                        data_testid="override-chart",
                    ),
                    spacing="2",
                    width="100%",
                ),
                width="100%",
            ),
            rx.card(
                rx.vstack(
                    rx.heading("Every rule", size="4"),
                    rules_table(),
                    spacing="3",
                    width="100%",
                ),
                width="100%",
            ),
            spacing="4",
            width="100%",
        ),
        rx.card(
            empty_state("No order-check alert was shown to a prescriber in these days.", icon="shield-check"),
            width="100%",
        ),
    )


@staff_page("/pharmacy/overrides", "Order-check overrides", S.load)
def override_report_page() -> rx.Component:
    return rx.vstack(
        pharmacy_tabs("/pharmacy/overrides"),
        refused("pharmacy.formulary", "Your role does not give access to the order-check override report."),
        rx.cond(
            can("pharmacy.formulary"),
            rx.vstack(
                filters(),
                rx.cond(
                    S.loaded,
                    rx.box(
                        report(),
                        opacity=rx.cond(S.loading, "0.6", "1"),
                        width="100%",
                    ),
                    skeleton_rows(6),
                ),
                spacing="4",
                width="100%",
                data_testid="override-report",
            ),
        ),
        spacing="4",
        width="100%",
    )
