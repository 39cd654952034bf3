"""Population health screens: dashboard, measures and care gaps, cohort builder, registries."""

from __future__ import annotations

import reflex as rx

from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, field, pager, scroll_box, section, skeleton_rows
from hms_app.services.population import PERIOD_MONTHS
from hms_app.state.population import (
    CohortState,
    MeasureLine,
    MeasuresState,
    PatientLine,
    PopulationDashboardState,
    RegistriesState,
    RegistryLine,
    SavedLine,
)
from hms_app.state.session import SessionState

D = PopulationDashboardState
M = MeasuresState
C = CohortState
R = RegistriesState
WIDE_CELL = ["none", "none", "none", "table-cell"]
PLOT_CONFIG = {"displayModeBar": False, "responsive": True}
TABS = (
    ("Dashboard", "/population", "chart-column"),
    ("Measures & care gaps", "/population/measures", "clipboard-check"),
    ("Cohort builder", "/population/cohorts", "filter"),
    ("Registries", "/population/registries", "list-checks"),
)


def can(permission: str) -> rx.Var:
    """Whether the signed-in user holds ``permission``: only for what to draw; the server decides."""
    return SessionState.user_permissions.contains(permission)


def refused() -> rx.Component:
    return rx.cond(
        ~can("population.read"),
        rx.callout(
            "Your role does not give access to population health.",
            icon="shield-alert",
            color_scheme="amber",
            data_testid="no-access",
        ),
    )


def tabs(active: str) -> rx.Component:
    return rx.hstack(
        *[
            rx.link(
                rx.button(
                    rx.icon(icon, size=16),
                    label,
                    variant="solid" if route == active else "soft",
                    color_scheme="teal" if route == active else "gray",
                    size="2",
                ),
                href=route,
                data_testid="pop-tab-" + route.strip("/").replace("/", "-"),
            )
            for label, route, icon in TABS
        ],
        spacing="2",
        wrap="wrap",
        width="100%",
    )


def as_of_note(as_of: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.icon("clock", size=14, color=rx.color("gray", 10)),
        rx.text(
            "Figures as of ",
            rx.text.strong(as_of),
            ". Recomputed from the clinical record by `hms population refresh` (nightly) or the button.",
            size="1",
            color_scheme="gray",
        ),
        align="center",
        spacing="2",
        data_testid="as-of",
    )


def options(pairs) -> rx.Component:
    return rx.foreach(pairs, lambda pair: rx.select.item(pair[1], value=pair[0]))


def period_select(value: rx.Var, on_change, test_id: str) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(data_testid=test_id),
        rx.select.content(*[rx.select.item(f"Last {m} months", value=str(m)) for m in PERIOD_MONTHS]),
        value=value,
        on_change=on_change,
    )


def chart_card(title: str, hint: str, figure: rx.Var, on_click, test_id: str, *controls) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.vstack(
                    rx.heading(title, size="3"),
                    rx.text(hint, size="1", color_scheme="gray"),
                    spacing="0",
                    align="start",
                ),
                rx.spacer(),
                *controls,
                width="100%",
                align="center",
                wrap="wrap",
                gap="2",
            ),
            rx.cond(
                D.loaded,
                rx.box(
                    rx.plotly(
                        data=figure,
                        width="100%",
                        height="320px",
                        config=PLOT_CONFIG,
                        **({"on_click": on_click} if on_click is not None else {}),
                    ),
                    width="100%",
                    min_height="320px",
                    data_testid=test_id,
                ),
                rx.skeleton(rx.box(height="320px", width="100%")),
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
        min_width="0",
    )


def patient_table(rows, test_id: str, action=None) -> rx.Component:
    def row(p: PatientLine) -> rx.Component:
        href = "/patients/" + p.id.to_string()
        cells = [
            rx.table.cell(rx.text(p.mrn, font_family="var(--code-font-family)", white_space="nowrap")),
            rx.table.row_header_cell(
                rx.cond(
                    can("patient.read"),
                    rx.link(p.name, href=href, weight="medium", data_testid="open-patient"),
                    rx.text(p.name, weight="medium"),  # a manager sees the list, not the chart
                ),
                rx.text(p.sex, " · ", p.age.to_string(), " y", size="1", color_scheme="gray"),
            ),
            rx.table.cell(p.provider, display=WIDE_CELL),
            rx.table.cell(p.last_visit, white_space="nowrap", display=WIDE_CELL),
            rx.table.cell(p.hba1c),
            rx.table.cell(p.bp, white_space="nowrap"),
            rx.table.cell(p.bmi),
            rx.table.cell(p.egfr),
        ]
        if action is not None:
            cells.append(rx.table.cell(action(p)))
        return rx.table.row(*cells, align="center", data_testid="cohort-row")

    headers = ["MRN", "Patient", "Provider", "Last visit", "HbA1c %", "BP", "BMI", "eGFR"]
    if action is not None:
        headers.append("Outreach")
    return scroll_box(
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *[
                        rx.table.column_header_cell(
                            h, display=WIDE_CELL if h in ("Provider", "Last visit") else None
                        )
                        for h in headers
                    ]
                )
            ),
            rx.table.body(rx.foreach(rows, row)),
            variant="surface",
            size="1",
            width="100%",
        ),
        data_testid=test_id,
    )


# ====================================================================== /population


def drill_panel() -> rx.Component:
    return rx.cond(
        D.drill_title != "",
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.icon("list", size=18),
                    rx.heading(D.drill_title, size="4", data_testid="drill-title"),
                    rx.spacer(),
                    rx.icon_button(
                        rx.icon("x", size=16),
                        variant="ghost",
                        on_click=D.close_drill,
                        aria_label="Close the list",
                    ),
                    align="center",
                    width="100%",
                ),
                rx.cond(
                    D.drill_loading & (D.drill_rows.length() == 0),
                    skeleton_rows(4),
                    rx.cond(
                        D.drill_total > 0,
                        rx.vstack(
                            patient_table(D.drill_rows, "drill-table"),
                            pager(
                                D.drill_page,
                                D.drill_page_count,
                                D.drill_total,
                                D.drill_move(-1),
                                D.drill_move(1),
                                "patients",
                                count_test_id="drill-total",
                            ),
                            width="100%",
                        ),
                        empty_state("No patients behind this bar.", icon="users"),
                    ),
                ),
                rx.text("This list is recorded in the audit trail.", size="1", color_scheme="gray"),
                width="100%",
                spacing="3",
            ),
            width="100%",
            id="drill",
            data_testid="drill-panel",
        ),
    )


@staff_page(route="/population", title="Population health", on_load=PopulationDashboardState.load)
def population_page() -> rx.Component:
    return rx.vstack(
        refused(),
        rx.cond(
            can("population.read"),
            rx.vstack(
                tabs("/population"),
                rx.flex(
                    as_of_note(D.as_of),
                    rx.spacer(),
                    rx.cond(
                        can("population.manage"),
                        rx.button(
                            rx.cond(D.refreshing, rx.spinner(size="1"), rx.icon("refresh-cw", size=14)),
                            "Recompute now",
                            size="1",
                            variant="soft",
                            disabled=D.refreshing,
                            on_click=D.refresh_now,
                            data_testid="refresh-population",
                        ),
                    ),
                    width="100%",
                    align="center",
                    wrap="wrap",
                    gap="2",
                ),
                rx.cond(
                    D.loaded,
                    rx.grid(
                        rx.card(
                            rx.vstack(
                                rx.text("Patients", size="1", color_scheme="gray"),
                                rx.heading(D.total_patients.to_string(), size="6", data_testid="pop-total"),
                                spacing="0",
                            )
                        ),
                        rx.foreach(
                            D.registry_counts,
                            lambda r: rx.card(
                                rx.vstack(
                                    rx.text(r["name"], size="1", color_scheme="gray"),
                                    rx.heading(r["members"], size="6"),
                                    spacing="0",
                                )
                            ),
                        ),
                        columns=rx.breakpoints(initial="2", sm="3", lg="6"),
                        spacing="3",
                        width="100%",
                    ),
                ),
                drill_panel(),
                rx.grid(
                    chart_card(
                        "Prevalence by condition and sex",
                        "% of active patients in each registry. Click a bar to list its patients.",
                        D.prevalence_figure,
                        D.click_prevalence,
                        "chart-prevalence",
                    ),
                    chart_card(
                        "Prevalence by age band",
                        "Of the chosen condition, by age band and sex.",
                        D.age_figure,
                        D.click_age,
                        "chart-age",
                        rx.select.root(
                            rx.select.trigger(data_testid="age-registry"),
                            rx.select.content(
                                rx.foreach(D.registries, lambda r: rx.select.item(r["name"], value=r["code"]))
                            ),
                            value=D.age_registry,
                            on_change=D.set_age_registry,
                        ),
                    ),
                    chart_card(
                        "Registry size over time",
                        "Today's members by the month their condition began (24 months).",
                        D.trend_figure,
                        None,
                        "chart-trend",
                    ),
                    chart_card(
                        "Measure performance by provider",
                        "Click a bar to list that provider's care gaps.",
                        D.measure_figure,
                        D.click_measure,
                        "chart-measure",
                        rx.select.root(
                            rx.select.trigger(data_testid="dash-measure"),
                            rx.select.content(options(D.measure_options)),
                            value=D.measure,
                            on_change=D.set_measure,
                        ),
                        period_select(D.months, D.set_months, "dash-period"),
                    ),
                    chart_card(
                        "Kidney function (eGFR stage)",
                        "Adults by KDIGO stage of the eGFR (CKD-EPI 2021) from their latest creatinine.",
                        D.egfr_figure,
                        D.click_egfr,
                        "chart-egfr",
                    ),
                    chart_card(
                        "BMI categories",
                        "Adults by their latest BMI (WHO categories).",
                        D.bmi_figure,
                        D.click_bmi,
                        "chart-bmi",
                    ),
                    columns=rx.breakpoints(initial="1", lg="2"),
                    spacing="4",
                    width="100%",
                ),
                spacing="4",
                width="100%",
            ),
        ),
        width="100%",
    )


# ====================================================================== /population/measures


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


def outreach_buttons(p: PatientLine) -> rx.Component:
    return rx.cond(
        can("population.manage"),
        rx.hstack(
            rx.tooltip(
                rx.icon_button(
                    rx.icon("message-square", size=14),
                    size="1",
                    variant="soft",
                    loading=M.sending == p.id,
                    on_click=M.send_outreach(p.id, "portal_message"),
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
                    loading=M.sending == p.id,
                    on_click=M.send_outreach(p.id, "booking_invitation"),
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
        refused(),
        rx.cond(
            can("population.read"),
            rx.vstack(
                tabs("/population/measures"),
                as_of_note(M.as_of),
                rx.flex(
                    rx.select.root(
                        rx.select.trigger(min_width="18rem", data_testid="measure-select"),
                        rx.select.content(options(M.measure_options)),
                        value=M.measure,
                        on_change=M.set_measure,
                    ),
                    period_select(M.months, M.set_months, "measure-period"),
                    gap="3",
                    wrap="wrap",
                    width="100%",
                ),
                rx.grid(
                    section(
                        M.definition["title"],
                        rx.data_list.root(
                            rx.data_list.item(
                                rx.data_list.label("Denominator"),
                                rx.data_list.value(M.definition["denominator"]),
                            ),
                            rx.data_list.item(
                                rx.data_list.label("Numerator"), rx.data_list.value(M.definition["numerator"])
                            ),
                            rx.data_list.item(
                                rx.data_list.label("Exclusions"),
                                rx.data_list.value(M.definition["exclusions"]),
                            ),
                            rx.data_list.item(
                                rx.data_list.label("Direction"), rx.data_list.value(M.definition["direction"])
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
                            M.loaded,
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
                                    rx.table.body(rx.foreach(M.results, measure_row)),
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
                        rx.text("Patients who need: ", rx.text.strong(M.definition["gap"]), size="2"),
                        rx.spacer(),
                        rx.select.root(
                            rx.select.trigger(min_width="12rem", data_testid="gap-provider"),
                            rx.select.content(options(M.provider_choices)),
                            value=M.gap_provider,
                            on_change=M.set_gap_provider,
                        ),
                        width="100%",
                        align="center",
                        wrap="wrap",
                        gap="2",
                    ),
                    rx.cond(
                        M.gap_loading & (M.gap_rows.length() == 0),
                        skeleton_rows(5),
                        rx.cond(
                            M.gap_total > 0,
                            rx.vstack(
                                patient_table(M.gap_rows, "gap-table", outreach_buttons),
                                pager(
                                    M.gap_page,
                                    M.gap_page_count,
                                    M.gap_total,
                                    M.gap_move(-1),
                                    M.gap_move(1),
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


# ====================================================================== /population/cohorts


def number_input(key: str, placeholder: str, test_id: str = "") -> rx.Component:
    return rx.input(
        value=C.values[key],
        on_change=lambda value: C.set_value(key, value),
        debounce_timeout=350,
        placeholder=placeholder,
        type="text",
        input_mode="decimal",
        width="100%",
        color_scheme=rx.cond(C.error_field == key, "red", "gray"),
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
            value=rx.cond(C.values[key] == "", "all", C.values[key]),
            on_change=lambda value: C.set_value(key, value),
        ),
    )


def saved_row(s: SavedLine) -> rx.Component:
    return rx.hstack(
        rx.vstack(
            rx.link(s.name, on_click=C.apply_saved(s.id), weight="medium", data_testid="saved-cohort"),
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
                on_click=C.delete_saved(s.id),
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
                    rx.foreach(C.medication_options, lambda m: rx.select.item(m, value=m)),
                ],
                "filter-medication",
                "Any",
            ),
            select_field(
                "Provider", "provider_id", options(C.provider_options), "filter-provider", "Any provider"
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
                    C.registry_options,
                    lambda o: rx.checkbox(
                        o[1],
                        checked=C.registries.contains(o[0]),
                        on_change=lambda checked: C.toggle_registry(o[0], checked),
                        data_testid="filter-registry-" + o[0],
                    ),
                ),
                wrap="wrap",
                column_gap="5",
                row_gap="2",
            ),
        ),
        rx.cond(
            C.error_text != "",
            rx.callout(
                C.error_text, icon="triangle-alert", color_scheme="red", size="1", data_testid="filter-error"
            ),
        ),
    )


@staff_page(route="/population/cohorts", title="Cohort builder", on_load=CohortState.load)
def cohorts_page() -> rx.Component:
    return rx.vstack(
        refused(),
        rx.cond(
            can("population.read"),
            rx.vstack(
                tabs("/population/cohorts"),
                as_of_note(C.as_of),
                rx.grid(
                    rx.box(filters_card(), grid_column=rx.breakpoints(initial="span 1", lg="span 2")),
                    rx.vstack(
                        rx.card(
                            rx.vstack(
                                rx.text("Patients matching", size="2", color_scheme="gray"),
                                rx.hstack(
                                    rx.heading(C.count.to_string(), size="8", data_testid="cohort-count"),
                                    rx.cond(C.counting, rx.spinner(size="2")),
                                    align="center",
                                ),
                                rx.hstack(
                                    rx.button(
                                        rx.icon("list", size=14),
                                        "Show patients",
                                        on_click=C.show_patients,
                                        data_testid="show-patients",
                                    ),
                                    rx.button(
                                        rx.icon("download", size=14),
                                        "Export CSV",
                                        variant="soft",
                                        loading=C.exporting,
                                        on_click=C.export_csv,
                                        data_testid="export-csv",
                                    ),
                                    rx.button(
                                        "Clear", variant="ghost", color_scheme="gray", on_click=C.clear
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
                                            value=C.save_name,
                                            on_change=C.set_save_name,
                                            placeholder="Cohort name",
                                            width="100%",
                                            data_testid="cohort-name",
                                        ),
                                        rx.button("Save", on_click=C.save, data_testid="save-cohort"),
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
                                C.saved.length() > 0,
                                rx.vstack(rx.foreach(C.saved, saved_row), spacing="0", width="100%"),
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
                    C.listed,
                    section(
                        "Patients",
                        rx.cond(
                            C.total > 0,
                            rx.vstack(
                                patient_table(C.rows, "cohort-table"),
                                pager(
                                    C.page,
                                    C.page_count,
                                    C.total,
                                    C.move(-1),
                                    C.move(1),
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


# ====================================================================== /population/registries


def registry_form(r: RegistryLine) -> rx.Component:
    editable = can("population.manage")
    return rx.card(
        rx.form(
            rx.vstack(
                rx.hstack(
                    rx.heading(r.name, size="4"),
                    rx.badge(r.code, variant="soft", color_scheme="gray"),
                    rx.cond(
                        r.active,
                        rx.badge("Active", color_scheme="green"),
                        rx.badge("Inactive", color_scheme="gray"),
                    ),
                    rx.spacer(),
                    rx.text(
                        r.members.to_string(),
                        " patients",
                        size="2",
                        weight="medium",
                        data_testid="registry-members-" + r.code,
                    ),
                    align="center",
                    width="100%",
                    wrap="wrap",
                ),
                rx.el.input(type="hidden", name="registry_id", value=r.id.to_string()),
                field("Name", rx.input(name="name", default_value=r.name, width="100%", disabled=~editable)),
                field(
                    "ICD-10-CM codes or prefixes",
                    rx.text_area(
                        name="prefixes",
                        default_value=r.prefixes,
                        width="100%",
                        rows="2",
                        disabled=~editable,
                        data_testid="registry-prefixes-" + r.code,
                    ),
                    "Separated by commas or spaces. A prefix matches every code under it: E11 matches E11.9 and E11.65.",
                ),
                rx.cond(
                    R.error_registry == r.id,
                    rx.callout(R.error_text, icon="triangle-alert", color_scheme="red", size="1"),
                ),
                rx.cond(
                    editable,
                    rx.hstack(
                        rx.checkbox("Active", name="active", default_checked=r.active),
                        rx.spacer(),
                        rx.button(
                            "Save code set",
                            type="submit",
                            loading=R.saving,
                            data_testid="registry-save-" + r.code,
                        ),
                        width="100%",
                        align="center",
                    ),
                ),
                spacing="3",
                width="100%",
            ),
            on_submit=R.save,
            key=R.form_key.to_string() + "-" + r.id.to_string(),
            width="100%",
        ),
        width="100%",
    )


def new_registry_form() -> rx.Component:
    return rx.cond(
        can("population.manage"),
        section(
            "New registry",
            rx.form(
                rx.vstack(
                    rx.el.input(type="hidden", name="registry_id", value="0"),
                    rx.grid(
                        field("Short code", rx.input(name="code", placeholder="e.g. afib", width="100%")),
                        field(
                            "Name",
                            rx.input(name="name", placeholder="e.g. Atrial fibrillation", width="100%"),
                        ),
                        columns=rx.breakpoints(initial="1", sm="2"),
                        spacing="3",
                        width="100%",
                    ),
                    field(
                        "ICD-10-CM codes or prefixes",
                        rx.input(name="prefixes", placeholder="e.g. I48", width="100%"),
                    ),
                    rx.el.input(type="hidden", name="active", value="on"),
                    rx.cond(
                        R.error_registry == 0,
                        rx.callout(R.error_text, icon="triangle-alert", color_scheme="red", size="1"),
                    ),
                    rx.button("Create registry", type="submit", loading=R.saving),
                    spacing="3",
                    width="100%",
                    align="start",
                ),
                on_submit=R.save,
                reset_on_submit=False,
                key="new-" + R.form_key.to_string(),
                width="100%",
            ),
        ),
    )


@staff_page(route="/population/registries", title="Registries", on_load=RegistriesState.load)
def registries_page() -> rx.Component:
    return rx.vstack(
        refused(),
        rx.cond(
            can("population.read"),
            rx.vstack(
                tabs("/population/registries"),
                rx.text(
                    "A registry holds every active patient with an active problem whose ICD-10-CM code starts "
                    "with one of its codes. Saving recomputes the registry's members at once.",
                    size="2",
                    color_scheme="gray",
                ),
                rx.cond(
                    R.loaded,
                    rx.grid(
                        rx.foreach(R.rows, registry_form),
                        columns=rx.breakpoints(initial="1", lg="2"),
                        spacing="4",
                        width="100%",
                    ),
                    skeleton_rows(4),
                ),
                new_registry_form(),
                spacing="4",
                width="100%",
            ),
        ),
        width="100%",
    )
