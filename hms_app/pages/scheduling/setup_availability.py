"""The set-up tabs of when resources work: weekly templates of working hours, and time off (leave,
closures, holidays)."""

from __future__ import annotations

import reflex as rx

from hms_app.components.ui import empty_state, scroll_box
from hms_app.pages.scheduling.common import general_error, labelled
from hms_app.state.scheduling import WEEKDAYS, ExceptionLine, RuleLine, ScheduleSetupState


def templates_tab() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text("Weekly template of", size="2", weight="medium"),
            rx.select.root(
                rx.select.trigger(placeholder="Choose a resource", data_testid="rules-resource"),
                rx.select.content(
                    rx.foreach(
                        ScheduleSetupState.resources,
                        lambda r: rx.select.item(r.name + " · " + r.kind_label, value=r.id.to_string()),
                    )
                ),
                value=ScheduleSetupState.rules_resource_id,
                on_change=ScheduleSetupState.set_rules_resource,
            ),
            spacing="2",
            align="center",
            wrap="wrap",
        ),
        scroll_box(
            rx.table.root(
                rx.table.body(*[weekday_row(i, name) for i, name in enumerate(WEEKDAYS)]),
                variant="surface",
                size="1",
                width="100%",
            ),
            data_testid="template-table",
        ),
        rx.card(
            rx.form(
                rx.vstack(
                    rx.heading("Add working hours", size="3"),
                    rx.grid(
                        labelled(
                            "Weekday",
                            rx.select.root(
                                rx.select.trigger(
                                    placeholder="Choose", width="100%", data_testid="rule-weekday"
                                ),
                                rx.select.content(
                                    *[rx.select.item(name, value=str(i)) for i, name in enumerate(WEEKDAYS)]
                                ),
                                name="weekday",
                                default_value="0",
                            ),
                            ScheduleSetupState,
                            "weekday",
                        ),
                        labelled(
                            "From",
                            rx.input(
                                type="time",
                                name="start_time",
                                id="start_time",
                                step=300,
                                default_value="08:00",
                                data_testid="rule-start",
                            ),
                            ScheduleSetupState,
                            "start_time",
                        ),
                        labelled(
                            "To",
                            rx.input(
                                type="time",
                                name="end_time",
                                id="end_time",
                                step=300,
                                default_value="12:00",
                                data_testid="rule-end",
                            ),
                            ScheduleSetupState,
                            "end_time",
                        ),
                        labelled(
                            "First day",
                            rx.input(type="date", name="valid_from", id="valid_from"),
                            ScheduleSetupState,
                            "valid_from",
                            "empty: today",
                        ),
                        labelled(
                            "Last day",
                            rx.input(type="date", name="valid_to", id="valid_to"),
                            ScheduleSetupState,
                            "valid_to",
                            "empty: no end",
                        ),
                        columns=rx.breakpoints(initial="2", md="5"),
                        spacing="3",
                        width="100%",
                    ),
                    general_error(
                        ScheduleSetupState, ("weekday", "start_time", "end_time", "valid_from", "valid_to")
                    ),
                    rx.button(rx.icon("plus", size=16), "Add", type="submit", data_testid="rule-add"),
                    spacing="3",
                    width="100%",
                    align="start",
                ),
                on_submit=ScheduleSetupState.add_rule,
                reset_on_submit=False,
                key=ScheduleSetupState.rule_form_version.to_string(),
            ),
            width="100%",
        ),
        spacing="3",
        width="100%",
    )


def weekday_row(index: int, name: str) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(name, width="8rem"),
        rx.table.cell(
            rx.flex(
                rx.foreach(
                    ScheduleSetupState.rules, lambda rule: rx.cond(rule.weekday == index, rule_chip(rule))
                ),
                spacing="2",
                wrap="wrap",
            )
        ),
    )


def rule_chip(rule: RuleLine) -> rx.Component:
    return rx.badge(
        rx.text(rule.hours, weight="bold"),
        rx.text(rule.valid, size="1", color_scheme="gray"),
        rx.icon_button(
            rx.icon("x", size=10),
            size="1",
            variant="ghost",
            color_scheme="gray",
            on_click=ScheduleSetupState.delete_rule(rule.id),
            aria_label="Remove",
            data_testid="delete-rule",
        ),
        variant="surface",
        size="2",
        data_testid="rule-" + rule.hours,
    )


def exceptions_tab() -> rx.Component:
    return rx.vstack(
        rx.card(
            rx.form(
                rx.vstack(
                    rx.heading("Add time off", size="3"),
                    rx.radio_group.root(
                        rx.flex(
                            rx.radio_group.item("One resource (leave)", value="resource"),
                            rx.radio_group.item("A department (closure)", value="department"),
                            rx.radio_group.item("The whole hospital (holiday)", value="hospital"),
                            spacing="4",
                            wrap="wrap",
                        ),
                        value=ScheduleSetupState.exception_scope,
                        on_change=ScheduleSetupState.set_exception_scope,
                    ),
                    rx.grid(
                        labelled(
                            "Kind",
                            rx.select.root(
                                rx.select.trigger(width="100%", data_testid="exception-kind"),
                                rx.select.content(
                                    rx.select.item("Leave", value="leave"),
                                    rx.select.item("Closure", value="closure"),
                                    rx.select.item("Holiday", value="holiday"),
                                ),
                                name="kind",
                                default_value=rx.match(
                                    ScheduleSetupState.exception_scope,
                                    ("resource", "leave"),
                                    ("department", "closure"),
                                    "holiday",
                                ),
                            ),
                            ScheduleSetupState,
                            "kind",
                        ),
                        rx.match(
                            ScheduleSetupState.exception_scope,
                            (
                                "resource",
                                labelled(
                                    "Resource",
                                    rx.select.root(
                                        rx.select.trigger(
                                            placeholder="Choose",
                                            width="100%",
                                            data_testid="exception-resource",
                                        ),
                                        rx.select.content(
                                            rx.foreach(
                                                ScheduleSetupState.resources,
                                                lambda r: rx.select.item(r.name, value=r.id.to_string()),
                                            )
                                        ),
                                        name="resource_id",
                                    ),
                                    ScheduleSetupState,
                                    "resource_id",
                                ),
                            ),
                            (
                                "department",
                                labelled(
                                    "Department",
                                    rx.select.root(
                                        rx.select.trigger(placeholder="Choose", width="100%"),
                                        rx.select.content(
                                            rx.foreach(
                                                ScheduleSetupState.departments,
                                                lambda d: rx.select.item(d.label, value=d.id),
                                            )
                                        ),
                                        name="department_id",
                                    ),
                                    ScheduleSetupState,
                                    "department_id",
                                ),
                            ),
                            rx.box(),
                        ),
                        labelled(
                            "From",
                            rx.input(
                                type="datetime-local",
                                name="starts_at",
                                id="starts_at",
                                step=300,
                                data_testid="exception-start",
                            ),
                            ScheduleSetupState,
                            "starts_at",
                        ),
                        labelled(
                            "Until",
                            rx.input(
                                type="datetime-local",
                                name="ends_at",
                                id="ends_at",
                                step=300,
                                data_testid="exception-end",
                            ),
                            ScheduleSetupState,
                            "ends_at",
                        ),
                        columns=rx.breakpoints(initial="1", sm="2", md="4"),
                        spacing="3",
                        width="100%",
                    ),
                    labelled(
                        "Reason",
                        rx.input(
                            name="reason",
                            id="reason",
                            max_length=200,
                            placeholder="e.g. annual leave, public holiday, staff training",
                            width="100%",
                            data_testid="exception-reason",
                        ),
                        ScheduleSetupState,
                        "reason",
                    ),
                    rx.cond(
                        ScheduleSetupState.exception_warning != "",
                        rx.callout(
                            ScheduleSetupState.exception_warning,
                            icon="triangle-alert",
                            color_scheme="amber",
                            size="1",
                            width="100%",
                            data_testid="exception-warning",
                        ),
                    ),
                    general_error(
                        ScheduleSetupState,
                        ("kind", "resource_id", "department_id", "starts_at", "ends_at", "reason"),
                    ),
                    rx.button(rx.icon("plus", size=16), "Add", type="submit", data_testid="exception-add"),
                    spacing="3",
                    width="100%",
                    align="start",
                ),
                on_submit=ScheduleSetupState.add_exception,
                reset_on_submit=False,
                key=ScheduleSetupState.exception_scope
                + ScheduleSetupState.exception_form_version.to_string(),
            ),
            width="100%",
        ),
        rx.cond(
            ScheduleSetupState.exceptions.length() > 0,
            scroll_box(
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            *[rx.table.column_header_cell(h) for h in ("Kind", "Who", "When", "Reason", "")]
                        )
                    ),
                    rx.table.body(rx.foreach(ScheduleSetupState.exceptions, exception_row)),
                    variant="surface",
                    size="1",
                    width="100%",
                ),
                data_testid="exception-table",
            ),
            empty_state("No leave, closures or holidays in the coming year.", icon="calendar-off"),
        ),
        spacing="3",
        width="100%",
    )


def exception_row(e: ExceptionLine) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.badge(
                e.kind,
                color_scheme=rx.match(e.kind, ("leave", "amber"), "crimson"),
                variant="soft",
                text_transform="capitalize",
            )
        ),
        rx.table.row_header_cell(e.scope),
        rx.table.cell(e.when, white_space="nowrap"),
        rx.table.cell(e.reason),
        rx.table.cell(
            rx.icon_button(
                rx.icon("trash-2", size=14),
                size="1",
                variant="soft",
                color_scheme="red",
                on_click=ScheduleSetupState.delete_exception(e.id),
                aria_label="Remove",
            )
        ),
        align="center",
    )
