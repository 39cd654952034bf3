"""The cohort builder (/population/cohorts)."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, refused
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, field, pager, section
from hms_app.pages.population.common import NO_ACCESS, as_of_note, options, patient_table, tabs
from hms_app.state.population.cohorts import CohortState, SavedLine


def number_input(key: str, placeholder: str, test_id: str = "") -> rx.Component:
    return rx.input(
        value=CohortState.values[key],
        on_change=lambda value: CohortState.set_value(key, value),
        debounce_timeout=350,
        placeholder=placeholder,
        type="text",
        input_mode="decimal",
        width="100%",
        color_scheme=rx.cond(CohortState.error_field == key, "red", "gray"),
        data_testid=test_id or f"filter-{key}",
    )


def range_field(label: str, low: str, high: str, low_hint: str, high_hint: str) -> rx.Component:
    return field(
        label,
        rx.hstack(
            number_input(low, low_hint),
            rx.text("–"),
            number_input(high, high_hint),
            width="100%",
            align="center",
        ),
    )


def select_field(label: str, key: str, pairs, test_id: str, placeholder: str) -> rx.Component:
    return field(
        label,
        rx.select.root(
            rx.select.trigger(placeholder=placeholder, width="100%", data_testid=test_id),
            rx.select.content(*(pairs if isinstance(pairs, list) else [pairs])),
            value=rx.cond(CohortState.values[key] == "", "all", CohortState.values[key]),
            on_change=lambda value: CohortState.set_value(key, value),
        ),
    )


def saved_row(s: SavedLine) -> rx.Component:
    return rx.hstack(
        rx.vstack(
            rx.link(
                s.name, on_click=CohortState.apply_saved(s.id), weight="medium", data_testid="saved-cohort"
            ),
            rx.text(s.summary, size="1", color_scheme="gray"),
            rx.text(s.created, size="1", color_scheme="gray"),
            spacing="0",
            align="start",
            min_width="0",
        ),
        rx.spacer(),
        rx.cond(
            can("population.manage"),
            rx.icon_button(
                rx.icon("trash-2", size=14),
                size="1",
                variant="ghost",
                color_scheme="red",
                on_click=CohortState.delete_saved(s.id),
                aria_label="Delete this cohort",
            ),
        ),
        width="100%",
        align="start",
        padding_y="0.35rem",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
    )


def filters_card() -> rx.Component:
    return section(
        "Filters",
        rx.grid(
            range_field("Age (years)", "age_min", "age_max", "from", "to"),
            select_field(
                "Sex",
                "sex",
                [
                    rx.select.item(label, value=value)
                    for value, label in (
                        ("all", "Any"),
                        ("female", "Female"),
                        ("male", "Male"),
                        ("other", "Other"),
                        ("unknown", "Unknown"),
                    )
                ],
                "filter-sex",
                "Any",
            ),
            range_field("Latest HbA1c (%)", "hba1c_min", "hba1c_max", "from", "up to"),
            range_field("Latest systolic BP (mmHg)", "sbp_min", "sbp_max", "from", "up to"),
            range_field("Latest BMI", "bmi_min", "bmi_max", "from", "below"),
            range_field("Latest eGFR", "egfr_min", "egfr_max", "from", "below"),
            select_field(
                "Takes medication",
                "medication",
                [
                    rx.select.item("Any", value="all"),
                    rx.foreach(CohortState.medication_options, lambda m: rx.select.item(m, value=m)),
                ],
                "filter-medication",
                "Any",
            ),
            select_field(
                "Provider",
                "provider_id",
                options(CohortState.provider_options),
                "filter-provider",
                "Any provider",
            ),
            field("Seen in the last (days)", number_input("visit_within_days", "e.g. 365")),
            field("Not seen for (days)", number_input("no_visit_days", "e.g. 365")),
            columns=rx.breakpoints(initial="1", sm="2"),
            spacing="3",
            width="100%",
        ),
        field(
            "Conditions (all of)",
            rx.flex(
                rx.foreach(
                    CohortState.registry_options,
                    lambda o: rx.checkbox(
                        o[1],
                        checked=CohortState.registries.contains(o[0]),
                        on_change=lambda checked: CohortState.toggle_registry(o[0], checked),
                        data_testid="filter-registry-" + o[0],
                    ),
                ),
                wrap="wrap",
                column_gap="5",
                row_gap="2",
            ),
        ),
        rx.cond(
            CohortState.error_text != "",
            rx.callout(
                CohortState.error_text,
                icon="triangle-alert",
                color_scheme="red",
                size="1",
                data_testid="filter-error",
            ),
        ),
    )


@staff_page(route="/population/cohorts", title="Cohort builder", on_load=CohortState.load)
def cohorts_page() -> rx.Component:
    return rx.vstack(
        refused("population.read", NO_ACCESS),
        rx.cond(
            can("population.read"),
            rx.vstack(
                tabs("/population/cohorts"),
                as_of_note(CohortState.as_of),
                rx.grid(
                    rx.box(filters_card(), grid_column=rx.breakpoints(initial="span 1", lg="span 2")),
                    rx.vstack(
                        rx.card(
                            rx.vstack(
                                rx.text("Patients matching", size="2", color_scheme="gray"),
                                rx.hstack(
                                    rx.heading(
                                        CohortState.count.to_string(), size="8", data_testid="cohort-count"
                                    ),
                                    rx.cond(CohortState.counting, rx.spinner(size="2")),
                                    align="center",
                                ),
                                rx.hstack(
                                    rx.button(
                                        rx.icon("list", size=14),
                                        "Show patients",
                                        on_click=CohortState.show_patients,
                                        data_testid="show-patients",
                                    ),
                                    rx.button(
                                        rx.icon("download", size=14),
                                        "Export CSV",
                                        variant="soft",
                                        loading=CohortState.exporting,
                                        on_click=CohortState.export_csv,
                                        data_testid="export-csv",
                                    ),
                                    rx.button(
                                        "Clear",
                                        variant="ghost",
                                        color_scheme="gray",
                                        on_click=CohortState.clear,
                                    ),
                                    wrap="wrap",
                                    spacing="2",
                                ),
                                spacing="2",
                                align="start",
                            ),
                            width="100%",
                        ),
                        rx.cond(
                            can("population.manage"),
                            rx.card(
                                rx.vstack(
                                    rx.text("Save these filters", size="2", weight="medium"),
                                    rx.hstack(
                                        rx.input(
                                            value=CohortState.save_name,
                                            on_change=CohortState.set_save_name,
                                            placeholder="Cohort name",
                                            max_length=120,
                                            width="100%",
                                            data_testid="cohort-name",
                                        ),
                                        rx.button(
                                            "Save", on_click=CohortState.save, data_testid="save-cohort"
                                        ),
                                        width="100%",
                                    ),
                                    width="100%",
                                ),
                                width="100%",
                            ),
                        ),
                        section(
                            "Saved cohorts",
                            rx.cond(
                                CohortState.saved.length() > 0,
                                rx.vstack(
                                    rx.foreach(CohortState.saved, saved_row), spacing="0", width="100%"
                                ),
                                rx.text("None saved yet.", size="2", color_scheme="gray"),
                            ),
                        ),
                        width="100%",
                        spacing="3",
                    ),
                    columns=rx.breakpoints(initial="1", lg="3"),
                    spacing="4",
                    width="100%",
                ),
                rx.cond(
                    CohortState.listed,
                    section(
                        "Patients",
                        rx.cond(
                            CohortState.total > 0,
                            rx.vstack(
                                patient_table(CohortState.rows, "cohort-table"),
                                pager(
                                    CohortState.page,
                                    CohortState.page_count,
                                    CohortState.total,
                                    CohortState.move(-1),
                                    CohortState.move(1),
                                    "patients",
                                    count_test_id="cohort-total",
                                ),
                                width="100%",
                            ),
                            empty_state("No patient matches these filters.", icon="users"),
                        ),
                        rx.text(
                            "Each page shown is recorded in the audit trail.", size="1", color_scheme="gray"
                        ),
                    ),
                ),
                spacing="4",
                width="100%",
            ),
        ),
        width="100%",
    )
