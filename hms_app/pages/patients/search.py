"""/patients: search by name, MRN, phone or date of birth, one page of results."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, refused
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, pager, skeleton_rows
from hms_app.pages.patients.common import NARROW_ONLY, WIDE_CELL, scroll_table, status_badge
from hms_app.state.patients.common import MAX_QUERY
from hms_app.state.patients.search import PatientLine, PatientSearchState


def patient_row(row: PatientLine) -> rx.Component:
    href = "/patients/" + row.id.to_string()
    return rx.table.row(
        rx.table.cell(rx.text(row.mrn, font_family="var(--code-font-family)", white_space="nowrap")),
        rx.table.row_header_cell(
            rx.link(row.name, href=href, weight="medium", data_testid="patient-link"),
            rx.text(
                row.sex,
                rx.cond(row.phone != "", " · " + row.phone, ""),
                size="1",
                color_scheme="gray",
                display=NARROW_ONLY,
                text_transform="capitalize",
            ),
        ),
        rx.table.cell(row.sex, display=WIDE_CELL, text_transform="capitalize"),
        rx.table.cell(
            rx.flex(
                rx.text(row.birth_date, white_space="nowrap"),
                rx.text("(", row.age.to_string(), " y)", color_scheme="gray", white_space="nowrap"),
                wrap="wrap",
                column_gap="0.35em",
            ),
        ),
        rx.table.cell(row.phone, display=WIDE_CELL, white_space="nowrap"),
        rx.table.cell(status_badge(row.status)),
        on_click=rx.redirect(href),
        cursor="pointer",
        _hover={"background": rx.color("accent", 2)},
        align="center",
        data_testid="patient-row-" + row.mrn,
    )


def search_pager() -> rx.Component:
    return pager(
        PatientSearchState.page,
        PatientSearchState.page_count,
        PatientSearchState.total,
        PatientSearchState.move(-1),
        PatientSearchState.move(1),
        "patients",
        count_test_id="patient-total",
        next_test_id="next-page",
        total_label=PatientSearchState.total_label,
    )


def search_results() -> rx.Component:
    return rx.cond(
        PatientSearchState.query.strip().length() < 2,
        rx.card(
            empty_state("Search by name, MRN, phone or date of birth", icon="search"),
            width="100%",
            data_testid="search-hint",
        ),
        rx.cond(
            PatientSearchState.searched,
            rx.cond(
                PatientSearchState.total > 0,
                rx.vstack(
                    scroll_table(
                        [
                            rx.table.column_header_cell("MRN"),
                            rx.table.column_header_cell("Name"),
                            rx.table.column_header_cell("Sex", display=WIDE_CELL),
                            rx.table.column_header_cell("Birth date"),
                            rx.table.column_header_cell("Phone", display=WIDE_CELL),
                            rx.table.column_header_cell("Status"),
                        ],
                        rx.foreach(PatientSearchState.rows, patient_row),
                        "patient-results",
                    ),
                    search_pager(),
                    width="100%",
                    spacing="3",
                ),
                rx.card(
                    empty_state(
                        "No patient matches this search. Check the spelling, or try the MRN, phone "
                        "or date of birth.",
                        icon="user-search",
                    ),
                    width="100%",
                    data_testid="search-empty",
                ),
            ),
            skeleton_rows(),
        ),
    )


@staff_page(route="/patients", title="Patients", on_load=PatientSearchState.load)
def patients_page() -> rx.Component:
    return rx.vstack(
        refused("patient.read", "Your role does not give access to patient records."),
        rx.cond(
            can("patient.read"),
            rx.vstack(
                rx.flex(
                    rx.input(
                        rx.input.slot(rx.icon("search", size=16)),
                        placeholder="Name, MRN, phone or date of birth",
                        value=PatientSearchState.query,
                        on_change=PatientSearchState.set_query,
                        debounce_timeout=300,
                        max_length=MAX_QUERY,
                        auto_focus=True,
                        size="3",
                        width="100%",
                        max_width=["100%", "100%", "36rem"],
                        aria_label="Search patients",
                        data_testid="patient-search",
                    ),
                    rx.cond(
                        PatientSearchState.query != "",
                        rx.button(
                            "Clear",
                            variant="soft",
                            color_scheme="gray",
                            size="3",
                            on_click=PatientSearchState.clear_search,
                        ),
                    ),
                    rx.spacer(),
                    rx.cond(
                        can("patient.write"),
                        rx.link(
                            rx.button(rx.icon("user-plus", size=16), "Register patient", size="3"),
                            href="/patients/new",
                            data_testid="register-patient",
                        ),
                    ),
                    spacing="3",
                    align="center",
                    wrap="wrap",
                    width="100%",
                ),
                search_results(),
                spacing="4",
                width="100%",
            ),
        ),
        spacing="4",
        width="100%",
    )
