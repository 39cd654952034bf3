"""The laboratory test catalogue (/lab/catalogue): search, the paged list of tests and panels, and
the way to a test's own screen (or a new one, for those who keep the catalogue)."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, no_access
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, pager, skeleton_rows
from hms_app.pages.laboratory.common import WIDE_CELL, lab_tabs, table
from hms_app.state.laboratory.catalogue import LabCatalogueState as S
from hms_app.state.laboratory.catalogue import TestLine


def test_row(line: TestLine) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(line.code, variant="ghost", size="2"), white_space="nowrap"),
        rx.table.cell(
            rx.link(
                line.name,
                href="/lab/catalogue/" + line.id.to_string(),
                weight="medium",
                data_testid="test-link-" + line.code,
            ),
            rx.text(line.short_name, size="1", color_scheme="gray"),
        ),
        rx.table.cell(
            rx.badge(line.kind, variant="soft", color_scheme=rx.cond(line.is_panel, "violet", "gray")),
            rx.cond(
                ~line.active,
                rx.badge("inactive", variant="outline", color_scheme="gray", margin_left="0.25rem"),
            ),
        ),
        rx.table.cell(rx.text(line.unit, size="2"), white_space="nowrap"),
        rx.table.cell(rx.text(line.specimen, size="2"), display=WIDE_CELL),
        rx.table.cell(
            rx.cond(
                line.is_panel, rx.text("—", color_scheme="gray"), rx.text(line.ranges.to_string(), size="2")
            ),
            text_align="right",
        ),
        rx.table.cell(rx.code(line.price_code, variant="ghost", size="1"), display=WIDE_CELL),
        align="center",
        opacity=rx.cond(line.active, "1", "0.6"),
        data_testid="test-" + line.code,
    )


def toolbar() -> rx.Component:
    return rx.flex(
        rx.input(
            rx.input.slot(rx.icon("search", size=14)),
            placeholder="Code, name or short name",
            default_value=S.query,
            on_change=S.search.debounce(300),
            max_length=60,
            min_width="18rem",
            data_testid="catalogue-search",
        ),
        rx.checkbox(
            "Include inactive tests",
            checked=S.include_inactive,
            on_change=S.set_include_inactive,
            data_testid="include-inactive",
        ),
        rx.spacer(),
        rx.cond(
            S.can_edit,
            rx.link(
                rx.button(rx.icon("plus", size=16), "New test or panel"),
                href="/lab/catalogue/new",
                data_testid="new-test",
            ),
        ),
        spacing="3",
        align="center",
        wrap="wrap",
        width="100%",
    )


@staff_page("/lab/catalogue", "Laboratory catalogue", S.load)
def catalogue_page() -> rx.Component:
    readable = can("lab.read") | can("lab.catalogue")
    return rx.vstack(
        lab_tabs("/lab/catalogue"),
        rx.cond(~readable, no_access("Your role does not give access to the laboratory's test catalogue.")),
        rx.cond(
            readable,
            rx.vstack(
                toolbar(),
                rx.cond(
                    S.loaded,
                    rx.cond(
                        S.rows.length() > 0,
                        rx.vstack(
                            table(
                                ["LOINC", "Test", "Result", "Unit", "Specimen", "Ranges", "Price code"],
                                rx.foreach(S.rows, test_row),
                                "catalogue-table",
                                wide=(4, 6),
                            ),
                            pager(S.page, S.page_count, S.total, S.move(-1), S.move(1), "tests"),
                            spacing="3",
                            width="100%",
                        ),
                        rx.card(empty_state("No test matches the search.", icon="test-tubes"), width="100%"),
                    ),
                    skeleton_rows(10),
                ),
                spacing="3",
                width="100%",
                data_testid="lab-catalogue",
            ),
        ),
        spacing="4",
        width="100%",
    )
