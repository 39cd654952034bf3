"""The audit trail: who read or changed what, when and from which screen."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, no_access
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, pager, scroll_box
from hms_app.state.audit import AuditLine, AuditState
from hms_app.state.session import time_zone_name


def field_error(name: str) -> rx.Component:
    return rx.cond(
        AuditState.error_field == name,
        rx.text(
            rx.icon("circle-alert", size=12),
            " ",
            AuditState.error_text,
            color_scheme="red",
            size="1",
            data_testid="filter-error-" + name,
        ),
    )


def filter_field(label: str, name: str, control: rx.Component) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="1", weight="medium", color_scheme="gray"),
        control,
        field_error(name),
        spacing="1",
        width="100%",
        align="start",
    )


def filters() -> rx.Component:
    return rx.card(
        rx.form(
            rx.grid(
                filter_field(
                    "User",
                    "username",
                    rx.input(
                        name="username",
                        default_value=AuditState.username,
                        placeholder="exact username",
                        max_length=60,
                        width="100%",
                    ),
                ),
                filter_field(
                    "Patient id",
                    "patient_id",
                    rx.input(
                        name="patient_id",
                        default_value=AuditState.patient_id,
                        placeholder="e.g. 1024",
                        input_mode="numeric",
                        max_length=12,
                        width="100%",
                        data_testid="filter-patient",
                    ),
                ),
                filter_field(
                    "Action starts with",
                    "action",
                    rx.input(
                        name="action",
                        default_value=AuditState.action,
                        placeholder="e.g. user.",
                        max_length=80,
                        width="100%",
                    ),
                ),
                filter_field(
                    "From",
                    "date_from",
                    rx.input(name="date_from", type="date", default_value=AuditState.date_from, width="100%"),
                ),
                filter_field(
                    "To",
                    "date_to",
                    rx.input(name="date_to", type="date", default_value=AuditState.date_to, width="100%"),
                ),
                rx.vstack(
                    # An empty label line keeps the buttons level with the inputs, whatever errors show.
                    rx.text("\u00a0", size="1", aria_hidden="true"),
                    rx.flex(
                        rx.button(
                            rx.icon("filter", size=16), "Apply", type="submit", data_testid="audit-apply"
                        ),
                        rx.button(
                            "Clear",
                            type="button",
                            variant="soft",
                            color_scheme="gray",
                            on_click=AuditState.clear,
                        ),
                        spacing="2",
                        wrap="wrap",
                    ),
                    spacing="1",
                ),
                # On a wide screen the buttons take what they need and the five fields share the rest.
                columns=rx.breakpoints(initial="2", sm="3", lg="repeat(5, minmax(0, 1fr)) auto"),
                spacing="3",
                width="100%",
                align="start",
            ),
            key=AuditState.form_version.to_string(),
            on_submit=AuditState.apply,
            reset_on_submit=False,
        ),
        width="100%",
    )


def verify_panel() -> rx.Component:
    result = rx.cond(
        AuditState.verified,
        rx.cond(
            AuditState.verify_ok,
            rx.callout(
                rx.text(
                    rx.text.strong("Chain intact. "),
                    AuditState.verify_rows.to_string(),
                    " rows checked at ",
                    AuditState.verify_at,
                    ".",
                ),
                icon="shield-check",
                color_scheme="green",
                size="1",
                data_testid="verify-result",
            ),
            rx.callout(
                rx.text(
                    rx.text.strong("Chain broken: "),
                    AuditState.verify_message,
                    " (",
                    AuditState.verify_rows.to_string(),
                    " rows checked before it, at ",
                    AuditState.verify_at,
                    ").",
                ),
                icon="shield-x",
                color_scheme="red",
                size="1",
                data_testid="verify-result",
            ),
        ),
        rx.text(
            "Recomputes every row's hash: an edited or deleted row shows up here.",
            size="2",
            color_scheme="gray",
        ),
    )
    return rx.flex(
        rx.button(
            rx.icon("shield-check", size=16),
            "Verify chain",
            variant="outline",
            loading=AuditState.verifying,
            on_click=AuditState.verify,
            data_testid="verify-chain",
        ),
        result,
        spacing="3",
        align="center",
        wrap="wrap",
        width="100%",
    )


def outcome_badge(outcome: rx.Var) -> rx.Component:
    return rx.match(
        outcome,
        ("success", rx.badge("success", color_scheme="green")),
        ("failure", rx.badge("failure", color_scheme="red")),
        ("denied", rx.badge("denied", color_scheme="orange")),
        rx.badge(outcome, color_scheme="gray"),
    )


def muted(value: rx.Var) -> rx.Component:
    return rx.cond(value != "", rx.text(value, size="1"), rx.text("—", size="1", color_scheme="gray"))


def audit_row(row: AuditLine) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.time, size="1"), white_space="nowrap"),
        rx.table.cell(rx.text(row.username, size="1", weight="medium")),
        rx.table.cell(muted(row.roles), max_width="9rem"),
        rx.table.cell(rx.code(row.action, size="1", variant="ghost"), white_space="nowrap"),
        rx.table.cell(muted(row.patient)),
        rx.table.cell(muted(row.target), white_space="nowrap"),
        rx.table.cell(outcome_badge(row.outcome)),
        rx.table.cell(muted(row.screen), white_space="nowrap"),
        rx.table.cell(
            # Two lines at most; the whole text is in the tooltip.
            rx.text(
                row.detail,
                size="1",
                title=row.detail,
                overflow="hidden",
                display="-webkit-box",
                style={"-webkit-line-clamp": "2", "-webkit-box-orient": "vertical"},
                min_width="8rem",
                max_width="18rem",
            ),
        ),
        align="center",
        data_testid="audit-row",
    )


def audit_table() -> rx.Component:
    zone = time_zone_name()
    return scroll_box(
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *[
                        rx.table.column_header_cell(h)
                        for h in (
                            f"Time ({zone})",
                            "User",
                            "Roles",
                            "Action",
                            "Patient",
                            "Target",
                            "Outcome",
                            "Screen",
                            "Detail",
                        )
                    ]
                )
            ),
            rx.table.body(rx.foreach(AuditState.rows, audit_row)),
            variant="surface",
            size="1",
            width="100%",
        ),
    )


@staff_page(route="/admin/audit", title="Audit trail", on_load=AuditState.load)
def audit_page() -> rx.Component:
    return rx.vstack(
        rx.cond(
            ~can("audit.read"),
            no_access("Your role does not give access to the audit trail."),
            rx.vstack(
                filters(),
                verify_panel(),
                rx.cond(
                    AuditState.loaded,
                    rx.cond(
                        AuditState.total > 0,
                        rx.vstack(
                            audit_table(),
                            pager(
                                AuditState.page,
                                AuditState.page_count,
                                AuditState.total,
                                AuditState.move(-1),
                                AuditState.move(1),
                                noun="audit rows",
                            ),
                            rx.cond(AuditState.loading, rx.center(rx.spinner(), width="100%")),
                            spacing="3",
                            width="100%",
                        ),
                        rx.card(
                            empty_state("No audit rows match these filters.", icon="search-x"),
                            width="100%",
                            data_testid="audit-empty",
                        ),
                    ),
                    rx.vstack(
                        *[rx.skeleton(rx.box(height="1.75rem", width="100%")) for _ in range(10)],
                        spacing="2",
                        width="100%",
                    ),
                ),
                spacing="4",
                width="100%",
            ),
        ),
        width="100%",
    )
