"""The chart's Problems tab: the problem list, and the add (ICD-10-CM search) and resolve dialogs."""

from __future__ import annotations

import reflex as rx

from hms_app.pages.chart.common import (
    add_button,
    header_cells,
    muted,
    record_card,
    status_badge,
    status_menu,
    write_only,
)
from hms_app.pages.chart.dialogs import date_input, field_error, form_dialog, labelled
from hms_app.state.chart.problems import ChartProblemsState, ConditionLine, IcdLine


def condition_menu(c: ConditionLine) -> rx.Component:
    return status_menu(
        c.code,
        rx.cond(
            c.status != "resolved",
            rx.menu.item(
                rx.icon("circle-check", size=14),
                "Resolve…",
                on_click=ChartProblemsState.ask_resolve(c.id),
            ),
        ),
        rx.cond(
            c.status == "active",
            rx.menu.item(
                rx.icon("pause", size=14),
                "Mark inactive",
                on_click=ChartProblemsState.set_problem_status(c.id, "inactive"),
            ),
        ),
        rx.cond(
            c.status != "active",
            rx.menu.item(
                rx.icon("rotate-ccw", size=14),
                "Reactivate",
                on_click=ChartProblemsState.set_problem_status(c.id, "active"),
            ),
        ),
    )


def condition_row(c: ConditionLine) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(rx.code(c.code, variant="ghost", weight="bold")),
        rx.table.cell(c.description),
        rx.table.cell(status_badge(c.status)),
        rx.table.cell(rx.text(c.onset, white_space="nowrap")),
        rx.table.cell(rx.text(c.resolved, white_space="nowrap")),
        rx.table.cell(write_only(condition_menu(c)), text_align="right"),
        align="center",
        data_testid="condition-" + c.code,
    )


def problems_tab() -> rx.Component:
    return record_card(
        "Problem list",
        "stethoscope",
        header_cells("Code", "Description", "Status", "Onset", "Resolved", ""),
        ChartProblemsState.conditions,
        condition_row,
        "No problems recorded.",
        add_button("Add problem", "problem", "add-problem"),
    )


def icd_result(r: IcdLine) -> rx.Component:
    chosen = ChartProblemsState.icd_code == r.code
    return rx.hstack(
        rx.code(r.code, weight="bold", variant="ghost", min_width="4.5rem"),
        rx.text(r.description, size="2"),
        on_click=ChartProblemsState.pick_icd(r.code),
        cursor="pointer",
        padding="0.35rem 0.5rem",
        border_radius="var(--radius-2)",
        background=rx.cond(chosen, rx.color("accent", 4), "transparent"),
        _hover={"background": rx.color("accent", 3)},
        width="100%",
        align="start",
        data_testid="icd-" + r.code,
    )


def problem_dialog() -> rx.Component:
    return form_dialog(
        ChartProblemsState,
        "problem",
        "Add a problem",
        "Search ICD-10-CM by code (E11.9) or words (type 2 diabetes). Only billable codes are listed.",
        ChartProblemsState.submit_problem,
        "Add to problem list",
        rx.input(
            rx.input.slot(rx.icon("search", size=16)),
            placeholder="Code or words",
            on_change=ChartProblemsState.set_icd_query.debounce(300),
            max_length=60,
            auto_focus=True,
            width="100%",
            data_testid="icd-search",
        ),
        rx.cond(
            ChartProblemsState.icd_searching,
            rx.hstack(rx.spinner(size="1"), muted("Searching…"), align="center"),
        ),
        rx.cond(
            ChartProblemsState.icd_results.length() > 0,
            rx.scroll_area(
                rx.vstack(rx.foreach(ChartProblemsState.icd_results, icd_result), spacing="0", width="100%"),
                max_height="15rem",
                type="auto",
                scrollbars="vertical",
            ),
            rx.cond(
                (ChartProblemsState.icd_query.length() >= 2) & ~ChartProblemsState.icd_searching,
                muted("No billable code matches."),
            ),
        ),
        rx.cond(
            ChartProblemsState.icd_code != "",
            rx.callout(
                rx.text(rx.text.strong(ChartProblemsState.icd_code), " ", ChartProblemsState.icd_description),
                icon="check",
                size="1",
                color_scheme="green",
                width="100%",
                data_testid="icd-picked",
            ),
        ),
        field_error(ChartProblemsState, "code"),
        labelled(ChartProblemsState, "Onset date (optional)", date_input("onset_date"), "onset_date"),
        max_width="40rem",
    )


def problem_dialogs() -> rx.Component:
    return rx.fragment(
        problem_dialog(),
        form_dialog(
            ChartProblemsState,
            "resolve",
            "Resolve problem",
            rx.text("Marks ", rx.text.strong(ChartProblemsState.dialog_subject), " as resolved."),
            ChartProblemsState.submit_resolve,
            "Resolve",
            labelled(
                ChartProblemsState,
                "Resolution date",
                date_input("abatement_date"),
                "abatement_date",
                "Today if left empty.",
            ),
        ),
    )
