"""Measures and care gaps (/population/measures)."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, refused
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, pager, scroll_box, section, skeleton_rows
from hms_app.pages.population.common import NO_ACCESS, as_of_note, options, patient_table, period_select, tabs
from hms_app.state.population.common import CohortLine
from hms_app.state.population.measures import MeasureLine, MeasuresState


def measure_row(r: MeasureLine) -> rx.Component:
    weight = rx.cond(r.overall, "bold", "regular")
    return rx.table.row(
        rx.table.row_header_cell(rx.text(r.provider, weight=weight)),
        rx.table.cell(r.denominator.to_string()),
        rx.table.cell(r.excluded.to_string()),
        rx.table.cell(r.eligible.to_string()),
        rx.table.cell(r.numerator.to_string()),
        rx.table.cell(rx.text(r.rate, weight="bold")),
        background=rx.cond(r.overall, rx.color("gray", 3), "transparent"),
        data_testid="measure-row",
    )


def outreach_buttons(p: CohortLine) -> rx.Component:
    return rx.cond(
        can("population.manage"),
        rx.hstack(
            rx.tooltip(
                rx.icon_button(
                    rx.icon("message-square", size=14),
                    size="1",
                    variant="soft",
                    loading=MeasuresState.sending == p.id,
                    on_click=MeasuresState.send_outreach(p.id, "portal_message"),
                    aria_label="Send a portal message",
                    data_testid="outreach-message",
                ),
                content="Send a portal message",
            ),
            rx.tooltip(
                rx.icon_button(
                    rx.icon("calendar-plus", size=14),
                    size="1",
                    variant="soft",
                    color_scheme="teal",
                    loading=MeasuresState.sending == p.id,
                    on_click=MeasuresState.send_outreach(p.id, "booking_invitation"),
                    aria_label="Invite to book",
                    data_testid="outreach-booking",
                ),
                content="Invite to book an appointment",
            ),
            rx.cond(
                p.last_outreach != "",
                rx.text("sent ", p.last_outreach, size="1", color_scheme="gray", white_space="nowrap"),
            ),
            spacing="1",
            align="center",
        ),
        rx.text(p.last_outreach, size="1", color_scheme="gray"),
    )


@staff_page(route="/population/measures", title="Quality measures", on_load=MeasuresState.load)
def measures_page() -> rx.Component:
    return rx.vstack(
        refused("population.read", NO_ACCESS),
        rx.cond(
            can("population.read"),
            rx.vstack(
                tabs("/population/measures"),
                as_of_note(MeasuresState.as_of),
                rx.flex(
                    rx.select.root(
                        rx.select.trigger(min_width="18rem", data_testid="measure-select"),
                        rx.select.content(options(MeasuresState.measure_options)),
                        value=MeasuresState.measure,
                        on_change=MeasuresState.set_measure,
                    ),
                    period_select(MeasuresState.months, MeasuresState.set_months, "measure-period"),
                    gap="3",
                    wrap="wrap",
                    width="100%",
                ),
                rx.grid(
                    section(
                        MeasuresState.definition["title"],
                        rx.data_list.root(
                            rx.data_list.item(
                                rx.data_list.label("Denominator"),
                                rx.data_list.value(MeasuresState.definition["denominator"]),
                            ),
                            rx.data_list.item(
                                rx.data_list.label("Numerator"),
                                rx.data_list.value(MeasuresState.definition["numerator"]),
                            ),
                            rx.data_list.item(
                                rx.data_list.label("Exclusions"),
                                rx.data_list.value(MeasuresState.definition["exclusions"]),
                            ),
                            rx.data_list.item(
                                rx.data_list.label("Direction"),
                                rx.data_list.value(MeasuresState.definition["direction"]),
                            ),
                            orientation=rx.breakpoints(initial="vertical", sm="horizontal"),
                            size="2",
                        ),
                        rx.text(
                            "The period ends at the figures' as-of time. Most recent = latest effective time; "
                            "results at the same time: the one recorded last.",
                            size="1",
                            color_scheme="gray",
                        ),
                    ),
                    section(
                        "By provider",
                        rx.cond(
                            MeasuresState.loaded,
                            scroll_box(
                                rx.table.root(
                                    rx.table.header(
                                        rx.table.row(
                                            *[
                                                rx.table.column_header_cell(h)
                                                for h in (
                                                    "Provider",
                                                    "Denominator",
                                                    "Excluded",
                                                    "Eligible",
                                                    "Numerator",
                                                    "Rate",
                                                )
                                            ]
                                        )
                                    ),
                                    rx.table.body(rx.foreach(MeasuresState.results, measure_row)),
                                    variant="surface",
                                    size="1",
                                    width="100%",
                                ),
                                data_testid="measure-table",
                            ),
                            skeleton_rows(3),
                        ),
                        rx.text(
                            "Rate = numerator ÷ eligible (denominator minus exclusions).",
                            size="1",
                            color_scheme="gray",
                        ),
                    ),
                    columns="1",
                    spacing="4",
                    width="100%",
                ),
                section(
                    "Care-gap worklist",
                    rx.flex(
                        rx.text(
                            "Patients who need: ", rx.text.strong(MeasuresState.definition["gap"]), size="2"
                        ),
                        rx.spacer(),
                        rx.select.root(
                            rx.select.trigger(min_width="12rem", data_testid="gap-provider"),
                            rx.select.content(options(MeasuresState.provider_choices)),
                            value=MeasuresState.gap_provider,
                            on_change=MeasuresState.set_gap_provider,
                        ),
                        width="100%",
                        align="center",
                        wrap="wrap",
                        gap="2",
                    ),
                    rx.cond(
                        MeasuresState.gap_loading & (MeasuresState.gap_rows.length() == 0),
                        skeleton_rows(5),
                        rx.cond(
                            MeasuresState.gap_total > 0,
                            rx.vstack(
                                patient_table(MeasuresState.gap_rows, "gap-table", outreach_buttons),
                                pager(
                                    MeasuresState.gap_page,
                                    MeasuresState.gap_page_count,
                                    MeasuresState.gap_total,
                                    MeasuresState.gap_move(-1),
                                    MeasuresState.gap_move(1),
                                    "patients",
                                    count_test_id="gap-total",
                                ),
                                width="100%",
                            ),
                            empty_state("No care gaps for this measure and provider.", icon="circle-check"),
                        ),
                    ),
                    data_testid="gap-worklist",
                ),
                spacing="4",
                width="100%",
            ),
        ),
        width="100%",
    )
