"""/portal/results: the patient's released laboratory results, by the day the sample was taken,
with the usual range and a plain-words note when a value lies outside it. Phone-first."""

from __future__ import annotations

import reflex as rx

from hms_app.components.portal_shell import portal_page
from hms_app.pages.portal.parts import loading_list
from hms_app.state.portal.results import PortalResultsState as S
from hms_app.state.portal.results import ReportCard, ResultDay, ResultLine


@portal_page(route="/portal/results", title="My results", on_load=S.load, max_width="44rem")
def results_page() -> rx.Component:
    return rx.vstack(
        rx.card(
            rx.vstack(
                rx.heading("Your test results", size="5"),
                rx.text(
                    "Results appear here once the laboratory has checked them; some are shown only after "
                    "your care team has had time to talk them through with you. A value outside the usual "
                    "range is not always a concern: your care team will tell you what it means for you.",
                    size="2",
                    color_scheme="gray",
                ),
                spacing="2",
                width="100%",
            ),
            width="100%",
        ),
        rx.cond(
            S.loaded,
            rx.cond(
                S.days.length() > 0,
                rx.vstack(rx.foreach(S.days, day_card), spacing="4", width="100%"),
                rx.card(
                    rx.center(
                        rx.vstack(
                            rx.icon("flask-conical", size=28, color=rx.color("gray", 9)),
                            rx.text("You have no test results yet.", color_scheme="gray"),
                            align="center",
                            spacing="2",
                        ),
                        padding="2rem",
                    ),
                    width="100%",
                    data_testid="results-empty",
                ),
            ),
            loading_list(),
        ),
        rx.cond(
            S.reports.length() > 0,
            rx.vstack(
                rx.heading("Imaging reports", size="4"),
                rx.foreach(S.reports, report_card),
                spacing="3",
                width="100%",
                data_testid="portal-imaging",
            ),
        ),
        spacing="4",
        width="100%",
        data_testid="portal-results",
    )


def report_card(report: ReportCard) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.text(report.procedure, weight="bold"),
                rx.text(report.day, size="1", color_scheme="gray"),
                justify="between",
                width="100%",
                wrap="wrap",
            ),
            rx.text(rx.text.strong("Summary: "), report.impression, size="2", white_space="pre-wrap"),
            rx.el.details(
                rx.el.summary(rx.text("The radiologist's full report", size="2", as_="span")),
                rx.text(report.findings, size="2", white_space="pre-wrap", padding_top="0.5rem"),
                rx.foreach(
                    report.addenda,
                    lambda text: rx.text(
                        rx.text.strong("Added later: "), text, size="2", white_space="pre-wrap"
                    ),
                ),
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
        data_testid="portal-imaging-report",
    )


def day_card(day: ResultDay) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.icon("calendar", size=16, color=rx.color("accent", 10)),
                rx.heading(day.day, size="3", data_testid="result-day"),
                align="center",
                spacing="2",
            ),
            rx.foreach(day.results, result_row),
            spacing="0",
            width="100%",
        ),
        width="100%",
    )


def result_row(line: ResultLine) -> rx.Component:
    return rx.flex(
        rx.vstack(
            rx.text(line.test_name, size="2", weight="medium", overflow_wrap="anywhere"),
            rx.cond(
                line.reference != "",
                rx.text("Usual range: ", line.reference, size="1", color_scheme="gray"),
            ),
            spacing="1",
            min_width="0",
            flex="1",
        ),
        rx.vstack(
            rx.text(
                rx.text.strong(line.value),
                rx.cond(line.unit != "", rx.text(" ", line.unit, as_="span", color_scheme="gray")),
                size="3",
                white_space="nowrap",
                data_testid="result-value",
            ),
            rx.cond(
                line.words != "",
                rx.badge(
                    line.words,
                    color_scheme=rx.match(
                        line.tone, ("red", "red"), ("amber", "amber"), ("green", "green"), "gray"
                    ),
                    variant=rx.cond(line.tone == "red", "solid", "soft"),
                    data_testid="result-flag",
                ),
            ),
            align="end",
            spacing="1",
        ),
        width="100%",
        spacing="3",
        align="start",
        padding_y="0.75rem",
        border_top=f"1px solid {rx.color('gray', 4)}",
        data_testid="result-row",
        custom_attrs={"data-flag": line.flag},
    )
