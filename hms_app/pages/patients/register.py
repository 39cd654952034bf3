"""/patients/new: the registration form, the possible matches beside it and the duplicate dialog."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, refused
from hms_app.components.shell import staff_page
from hms_app.pages.patients.common import (
    NARROW_ONLY,
    WIDE_ONLY,
    error_line,
    form_label,
    general_error,
    scroll_table,
)
from hms_app.pages.patients.form import demographic_fields
from hms_app.state.patients.register import MatchLine, PatientRegisterState


def match_item(match: MatchLine) -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.link(
                match.name,
                href="/patients/" + match.id.to_string(),
                is_external=True,
                weight="bold",
                size="2",
            ),
            rx.spacer(),
            rx.badge(
                match.score.to_string() + "%",
                color_scheme=rx.cond(match.score >= 80, "red", "amber"),
                variant="soft",
            ),
            width="100%",
            align="center",
        ),
        rx.text(
            rx.code(match.mrn, variant="ghost"),
            " · born ",
            match.birth_date,
            rx.cond(match.phone != "", " · " + match.phone, ""),
            size="1",
        ),
        rx.text(match.reasons, size="1", color_scheme="gray"),
        padding="0.6rem",
        border=f"1px solid {rx.color('amber', 6)}",
        border_radius="var(--radius-3)",
        background=rx.color("amber", 2),
        width="100%",
        data_testid="match-" + match.mrn,
    )


def matches_panel(display) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.icon("users", size=18, color=rx.color("amber", 10)),
                rx.heading("Possible matches", size="3"),
                rx.cond(
                    PatientRegisterState.matches.length() > 0,
                    rx.badge(PatientRegisterState.matches.length().to_string(), color_scheme="amber"),
                ),
                align="center",
                spacing="2",
            ),
            rx.cond(
                PatientRegisterState.matches.length() > 0,
                rx.vstack(
                    rx.text(
                        "Check these records before registering: the person may already have one.",
                        size="1",
                        color_scheme="gray",
                    ),
                    rx.foreach(PatientRegisterState.matches, match_item),
                    spacing="2",
                    width="100%",
                ),
                rx.text(
                    "Records with a similar name, the same date of birth or the same phone appear here as you "
                    "type.",
                    size="2",
                    color_scheme="gray",
                ),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
        display=display,
        data_testid="matches-panel",
    )


def confirm_match(match: MatchLine) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.link(match.mrn, href="/patients/" + match.id.to_string(), is_external=True),
            white_space="nowrap",
        ),
        rx.table.cell(match.name),
        rx.table.cell(match.birth_date, white_space="nowrap"),
        rx.table.cell(match.score.to_string() + "%"),
        rx.table.cell(rx.text(match.reasons, size="1")),
    )


def duplicate_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("This person may already be registered"),
            rx.dialog.description(
                "Nothing has been saved. Open the matching record instead if it is the same person. To register a "
                "new record anyway, say why this is a different person; the reason is kept in the audit trail.",
                size="2",
                color_scheme="gray",
                margin_bottom="1rem",
            ),
            scroll_table(
                [rx.table.column_header_cell(h) for h in ("MRN", "Name", "Born", "Match", "Why")],
                rx.foreach(PatientRegisterState.confirm_matches, confirm_match),
                "confirm-matches",
                size="1",
            ),
            rx.form(
                rx.vstack(
                    form_label("Reason (at least 5 characters)", "duplicate-reason"),
                    rx.text_area(
                        name="reason",
                        id="duplicate-reason",
                        required=True,
                        max_length=300,
                        width="100%",
                        placeholder="e.g. twin sister, checked her ID card",
                        data_testid="duplicate-reason",
                    ),
                    rx.cond(
                        PatientRegisterState.confirm_error != "",
                        error_line(PatientRegisterState.confirm_error, "confirm-error"),
                    ),
                    rx.flex(
                        rx.button(
                            "Cancel",
                            type="button",
                            variant="soft",
                            color_scheme="gray",
                            on_click=PatientRegisterState.cancel_confirm,
                        ),
                        rx.button(
                            "Register a new record",
                            type="submit",
                            color_scheme="red",
                            loading=PatientRegisterState.saving,
                            data_testid="confirm-duplicate",
                        ),
                        spacing="3",
                        justify="end",
                        width="100%",
                    ),
                    spacing="2",
                    width="100%",
                    padding_top="1rem",
                ),
                on_submit=PatientRegisterState.confirm_duplicate,
                reset_on_submit=False,
            ),
            max_width="44rem",
            data_testid="duplicate-dialog",
        ),
        open=PatientRegisterState.confirm_open,
        on_open_change=PatientRegisterState.on_confirm_change,
    )


@staff_page(route="/patients/new", title="Register patient", on_load=PatientRegisterState.load)
def register_page() -> rx.Component:
    fields = demographic_fields(PatientRegisterState, watched=True)
    return rx.vstack(
        refused("patient.write", "Your role does not allow registering patients."),
        rx.cond(
            can("patient.write"),
            rx.grid(
                rx.form(
                    rx.vstack(
                        fields[0],
                        matches_panel(
                            NARROW_ONLY
                        ),  # on a narrow screen: right under the name, where eyes are
                        *fields[1:],
                        general_error(PatientRegisterState),
                        rx.flex(
                            rx.link(
                                rx.button("Cancel", type="button", variant="soft", color_scheme="gray"),
                                href="/patients",
                            ),
                            rx.button(
                                rx.icon("save", size=16),
                                "Register",
                                type="submit",
                                loading=PatientRegisterState.saving,
                                data_testid="register-submit",
                            ),
                            spacing="3",
                            justify="end",
                            width="100%",
                        ),
                        spacing="4",
                        width="100%",
                    ),
                    key=PatientRegisterState.form_version.to_string(),
                    on_submit=PatientRegisterState.submit,
                    reset_on_submit=False,
                    width="100%",
                ),
                rx.box(matches_panel(WIDE_ONLY), position="sticky", top="5rem"),
                columns=rx.breakpoints(initial="1", lg="minmax(0, 2fr) minmax(16rem, 1fr)"),
                spacing="4",
                width="100%",
                align_items="start",
            ),
        ),
        duplicate_dialog(),
        spacing="4",
        width="100%",
    )
