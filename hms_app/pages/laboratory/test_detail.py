"""One laboratory test (/lab/catalogue/[test_id], /lab/catalogue/new): its form with each field's
message, its reference ranges with the range dialog, and a panel's member tests."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, no_access
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, skeleton_rows
from hms_app.pages.laboratory.common import field_message, lab_tabs, labelled, table
from hms_app.state.laboratory.test_detail import LabTestState as S
from hms_app.state.laboratory.test_detail import Member, RangeLine

ERRORS = S.field_errors
UNIT_HINT = "UCUM: mmol/L, g/dL, 10*9/L, %"


def text_field(label: str, name: str, default, *, hint: str = "", width="100%", **props) -> rx.Component:
    return labelled(
        label,
        rx.input(
            name=name,
            default_value=default,
            width=width,
            color_scheme=rx.cond(ERRORS.contains(name), "red", "gray"),
            data_testid="field-" + name,
            **props,
        ),
        field_message(ERRORS, name),
        hint=hint,
    )


def kind_select() -> rx.Component:
    return labelled(
        "Result",
        rx.select.root(
            rx.select.trigger(width="100%", data_testid="field-result_type"),
            rx.select.content(
                rx.select.item("Number", value="numeric"),
                rx.select.item("Coded (a list of results)", value="coded"),
                rx.select.item("Free text", value="text"),
            ),
            name="result_type",
            default_value=S.form.result_type,
            on_change=S.set_kind,
        ),
        field_message(ERRORS, "result_type"),
    )


def test_form() -> rx.Component:
    form = S.form
    return rx.form(
        rx.el.fieldset(
            rx.vstack(
                rx.grid(
                    text_field("LOINC code", "code", form.code, hint="e.g. 2823-3", max_length=10),
                    text_field("Name", "name", form.name, max_length=160),
                    text_field(
                        "Short name", "short_name", form.short_name, hint="on the worklist", max_length=30
                    ),
                    columns=rx.breakpoints(initial="1", md="3"),
                    spacing="3",
                    width="100%",
                ),
                rx.hstack(
                    rx.checkbox(
                        "A panel of tests",
                        name="is_panel",
                        default_checked=form.is_panel,
                        on_change=S.set_panel,
                        data_testid="field-is_panel",
                    ),
                    rx.checkbox(
                        "Active (can be ordered)",
                        name="active",
                        default_checked=form.active,
                        data_testid="field-active",
                    ),
                    spacing="5",
                    wrap="wrap",
                ),
                field_message(ERRORS, "is_panel"),
                rx.grid(
                    text_field(
                        "Specimen",
                        "specimen_type",
                        form.specimen_type,
                        hint="Serum, Whole blood, Urine",
                        max_length=40,
                    ),
                    text_field(
                        "Container",
                        "container",
                        form.container,
                        hint="one specimen per container",
                        max_length=40,
                    ),
                    text_field(
                        "Price code",
                        "price_code",
                        form.price_code,
                        hint="a billing service code",
                        max_length=40,
                    ),
                    columns=rx.breakpoints(initial="1", md="3"),
                    spacing="3",
                    width="100%",
                ),
                rx.cond(
                    ~S.panel,
                    rx.grid(
                        kind_select(),
                        rx.cond(
                            S.kind == "numeric",
                            text_field("Unit", "unit", form.unit, hint=UNIT_HINT, max_length=20),
                        ),
                        rx.cond(
                            S.kind == "numeric",
                            text_field(
                                "Decimals", "decimals", form.decimals, input_mode="numeric", max_length=1
                            ),
                        ),
                        rx.cond(
                            S.kind == "coded",
                            text_field(
                                "Choices",
                                "choices",
                                form.choices,
                                hint="separated by |: Negative|Trace|1+",
                                max_length=300,
                            ),
                        ),
                        columns=rx.breakpoints(initial="1", md="3"),
                        spacing="3",
                        width="100%",
                    ),
                ),
                rx.grid(
                    text_field(
                        "Duplicate window (hours)",
                        "duplicate_window_hours",
                        form.duplicate_window_hours,
                        hint="ordering it again within this warns; 0: never",
                        input_mode="numeric",
                        max_length=4,
                    ),
                    text_field(
                        "Portal delay (hours)",
                        "portal_delay_hours",
                        form.portal_delay_hours,
                        hint="before the patient sees a released result",
                        input_mode="numeric",
                        max_length=3,
                    ),
                    columns=rx.breakpoints(initial="1", md="3"),
                    spacing="3",
                    width="100%",
                ),
                rx.cond(
                    S.form_error != "",
                    rx.callout(
                        S.form_error,
                        icon="circle-alert",
                        color_scheme="red",
                        size="1",
                        width="100%",
                        data_testid="form-error",
                    ),
                ),
                rx.cond(
                    S.can_edit,
                    rx.button(
                        rx.icon("save", size=16),
                        rx.cond(S.test_id > 0, "Save test", "Add to the catalogue"),
                        type="submit",
                        loading=S.saving,
                        data_testid="save-test",
                    ),
                ),
                spacing="4",
                width="100%",
                align="start",
            ),
            disabled=~S.can_edit,
            style={"border": "none", "padding": "0", "margin": "0", "minWidth": "0", "width": "100%"},
        ),
        on_submit=S.save,
        reset_on_submit=False,
        key=S.form_version,
        width="100%",
    )


def range_row(line: RangeLine) -> rx.Component:
    return rx.table.row(
        rx.table.cell(line.sex_label),
        rx.table.cell(line.ages, white_space="nowrap"),
        rx.table.cell(rx.text(line.normal, weight="medium"), white_space="nowrap"),
        rx.table.cell(rx.text(line.critical_low, color=rx.color("red", 11)), white_space="nowrap"),
        rx.table.cell(rx.text(line.critical_high, color=rx.color("red", 11)), white_space="nowrap"),
        rx.table.cell(line.delta_limit, white_space="nowrap"),
        rx.table.cell(
            rx.cond(
                can("lab.catalogue"),
                rx.hstack(
                    rx.icon_button(
                        rx.icon("pencil", size=14),
                        size="1",
                        variant="soft",
                        on_click=S.edit_range(line.id),
                        aria_label="Edit range",
                        data_testid="edit-range",
                    ),
                    rx.icon_button(
                        rx.icon("trash-2", size=14),
                        size="1",
                        variant="soft",
                        color_scheme="red",
                        on_click=S.delete_range(line.id),
                        aria_label="Remove range",
                        data_testid="delete-range",
                    ),
                    spacing="2",
                ),
            )
        ),
        align="center",
        data_testid="range-" + line.sex + "-" + line.age_min_days,
    )


def ranges_section() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading("Reference ranges", size="4"),
                rx.spacer(),
                rx.cond(
                    S.can_edit,
                    rx.button(
                        rx.icon("plus", size=14),
                        "Add a range",
                        size="2",
                        variant="soft",
                        on_click=S.new_range,
                        data_testid="new-range",
                    ),
                ),
                width="100%",
                align="center",
            ),
            rx.text(
                'A result is flagged against the range for the patient\'s sex (else "any") and age in days on the day '
                "of collection; beyond a critical limit it raises a critical alert.",
                size="1",
                color_scheme="gray",
            ),
            rx.cond(
                S.ranges.length() > 0,
                table(
                    ["Sex", "Age", "Normal", "Critical low", "Critical high", "Delta", ""],
                    rx.foreach(S.ranges, range_row),
                    "ranges-table",
                ),
                empty_state("No reference range yet: results of this test are not flagged.", icon="ruler"),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def range_dialog() -> rx.Component:
    errors, line = S.range_errors, S.editing_range

    def number(label: str, name: str, default) -> rx.Component:
        return labelled(
            label,
            rx.input(
                name=name,
                default_value=default,
                input_mode="decimal",
                max_length=16,
                width="100%",
                data_testid="range-" + name,
            ),
            field_message(errors, name),
        )

    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.cond(line.id > 0, "Edit reference range", "New reference range")),
            rx.dialog.description(S.title, size="2", color_scheme="gray", margin_bottom="1rem"),
            rx.form(
                rx.vstack(
                    rx.grid(
                        labelled(
                            "Sex",
                            rx.select.root(
                                rx.select.trigger(width="100%", data_testid="range-sex"),
                                rx.select.content(
                                    rx.select.item("Any", value="any"),
                                    rx.select.item("Male", value="male"),
                                    rx.select.item("Female", value="female"),
                                ),
                                name="sex",
                                default_value=line.sex,
                            ),
                            field_message(errors, "sex"),
                        ),
                        labelled(
                            "Age from (days)",
                            rx.input(
                                name="age_min_days",
                                default_value=line.age_min_days,
                                input_mode="numeric",
                                width="100%",
                                data_testid="range-age_min_days",
                            ),
                            field_message(errors, "age_min_days"),
                        ),
                        labelled(
                            "Age up to (days)",
                            rx.input(
                                name="age_max_days",
                                default_value=line.age_max_days,
                                input_mode="numeric",
                                placeholder="no limit",
                                width="100%",
                                data_testid="range-age_max_days",
                            ),
                            field_message(errors, "age_max_days"),
                        ),
                        columns="3",
                        spacing="3",
                        width="100%",
                    ),
                    rx.text(
                        "1 year = 365 days, 12 years = 4383, 18 years = 6575.", size="1", color_scheme="gray"
                    ),
                    rx.cond(
                        S.form.result_type == "numeric",
                        rx.vstack(
                            rx.grid(
                                number("Low", "low", line.low),
                                number("High", "high", line.high),
                                number("Critical low", "critical_low", line.critical_low),
                                number("Critical high", "critical_high", line.critical_high),
                                columns="2",
                                spacing="3",
                                width="100%",
                            ),
                            number(
                                "Delta limit (change from the last result)", "delta_limit", line.delta_limit
                            ),
                            spacing="3",
                            width="100%",
                        ),
                        labelled(
                            "Normal result",
                            rx.input(
                                name="normal_text",
                                default_value=line.normal_text,
                                max_length=60,
                                width="100%",
                                data_testid="range-normal_text",
                            ),
                            field_message(errors, "normal_text"),
                        ),
                    ),
                    rx.cond(
                        S.range_error != "",
                        rx.callout(
                            S.range_error, icon="circle-alert", color_scheme="red", size="1", width="100%"
                        ),
                    ),
                    rx.flex(
                        rx.dialog.close(
                            rx.button("Cancel", type="button", variant="soft", color_scheme="gray")
                        ),
                        rx.button("Save range", type="submit", data_testid="dialog-submit"),
                        spacing="3",
                        justify="end",
                        width="100%",
                    ),
                    spacing="3",
                    width="100%",
                ),
                on_submit=S.save_range,
                reset_on_submit=False,
            ),
            max_width="34rem",
            data_testid="dialog-range",
        ),
        open=S.range_open,
        on_open_change=S.on_range_dialog,
    )


def member_row(member: Member) -> rx.Component:
    return rx.hstack(
        rx.code(member.code, variant="ghost", size="1", min_width="5rem"),
        rx.vstack(
            rx.text(member.name, size="2", weight="medium"),
            rx.text(member.detail, size="1", color_scheme="gray"),
            spacing="0",
        ),
        rx.spacer(),
        rx.cond(
            S.can_edit,
            rx.hstack(
                rx.icon_button(
                    rx.icon("arrow-up", size=14),
                    size="1",
                    variant="ghost",
                    on_click=S.move_member(member.id, -1),
                    aria_label="Up",
                ),
                rx.icon_button(
                    rx.icon("arrow-down", size=14),
                    size="1",
                    variant="ghost",
                    on_click=S.move_member(member.id, 1),
                    aria_label="Down",
                ),
                rx.icon_button(
                    rx.icon("x", size=14),
                    size="1",
                    variant="ghost",
                    color_scheme="red",
                    on_click=S.remove_member(member.id),
                    aria_label="Remove from the panel",
                ),
                spacing="1",
            ),
        ),
        width="100%",
        align="center",
        padding_y="0.25rem",
        border_bottom=f"1px solid {rx.color('gray', 4)}",
        data_testid="member-" + member.code,
    )


def members_section() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading("Tests in the panel", size="4"),
                rx.badge(S.members.length(), variant="soft", radius="full"),
                rx.spacer(),
                rx.cond(
                    S.can_edit,
                    rx.button(
                        rx.icon("save", size=14),
                        "Save the panel's tests",
                        size="2",
                        disabled=~S.members_changed,
                        on_click=S.save_members,
                        data_testid="save-members",
                    ),
                ),
                width="100%",
                align="center",
            ),
            rx.cond(
                S.members.length() > 0,
                rx.vstack(rx.foreach(S.members, member_row), spacing="0", width="100%"),
                empty_state("The panel holds no test yet.", icon="list-plus"),
            ),
            rx.cond(
                S.can_edit,
                rx.vstack(
                    rx.input(
                        rx.input.slot(rx.icon("search", size=14)),
                        placeholder="Add a test: search by code or name",
                        on_change=S.search_members.debounce(300),
                        max_length=60,
                        width="100%",
                        data_testid="member-search",
                    ),
                    rx.foreach(
                        S.member_options,
                        lambda m: rx.button(
                            rx.icon("plus", size=14),
                            m.code + " · " + m.name,
                            type="button",
                            variant="soft",
                            color_scheme="gray",
                            width="100%",
                            justify_content="flex-start",
                            on_click=S.add_member(m.id),
                            data_testid="member-option",
                        ),
                    ),
                    rx.cond(
                        (S.member_query.length() >= 2) & (S.member_options.length() == 0),
                        rx.text("No other single test matches.", size="1", color_scheme="gray"),
                    ),
                    spacing="1",
                    width="100%",
                ),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


@staff_page("/lab/catalogue/[test_id]", "Laboratory test", S.load)
def test_page() -> rx.Component:
    readable = can("lab.read") | can("lab.catalogue")
    return rx.vstack(
        lab_tabs("/lab/catalogue"),
        rx.cond(~readable, no_access("Your role does not give access to the laboratory's test catalogue.")),
        rx.cond(
            readable,
            rx.cond(
                ~S.loaded,
                skeleton_rows(8),
                rx.cond(
                    S.problem != "",
                    rx.callout(S.problem, icon="circle-alert", color_scheme="amber", data_testid="problem"),
                    rx.vstack(
                        rx.hstack(
                            rx.link(
                                rx.hstack(
                                    rx.icon("arrow-left", size=14), "Catalogue", spacing="1", align="center"
                                ),
                                href="/lab/catalogue",
                                size="2",
                                white_space="nowrap",
                            ),
                            rx.heading(S.title, size="5", data_testid="test-title"),
                            spacing="3",
                            align="center",
                            wrap="wrap",
                        ),
                        rx.card(test_form(), width="100%"),
                        rx.cond(
                            S.test_id > 0,
                            rx.cond(S.saved_panel, members_section(), ranges_section()),
                        ),
                        range_dialog(),
                        spacing="4",
                        width="100%",
                        data_testid="lab-test",
                    ),
                ),
            ),
        ),
        spacing="4",
        width="100%",
    )
