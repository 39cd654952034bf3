"""/patients/[patient_id]/details: header with photo and actions, demographics form, history,
merges and insurance tabs."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, refused
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, skeleton_rows, upload_rejected
from hms_app.pages.patients.common import (
    general_error,
    labelled,
    problem_callout,
    scroll_table,
    status_badge,
    text_input,
)
from hms_app.pages.patients.coverage import coverage_panel
from hms_app.pages.patients.dialogs import (
    status_dialog,
)
from hms_app.pages.patients.form import demographic_fields
from hms_app.pages.patients.merge import merge_dialog, merges_panel, undo_dialog
from hms_app.state.patients.coverage import PatientCoverageState
from hms_app.state.patients.details import (
    PHOTO_MAX_BYTES,
    PHOTO_MAX_MB,
    PHOTO_UPLOAD_ID,
    HistoryLine,
    PatientDetailsState,
)


def photo() -> rx.Component:
    """The patient's photo (served by the authorized documents route), and a way to replace it."""
    picture = rx.cond(
        PatientDetailsState.photo_id > 0,
        rx.image(
            src="/api/documents/" + PatientDetailsState.photo_id.to_string(),
            alt="Patient photo",
            width="64px",
            height="64px",
            object_fit="cover",
            border_radius="var(--radius-3)",
            data_testid="patient-photo",
        ),
        rx.center(
            rx.icon("user-round", size=32, color=rx.color("gray", 9)),
            width="64px",
            height="64px",
            background=rx.color("gray", 3),
            border_radius="var(--radius-3)",
        ),
    )
    return rx.vstack(
        picture,
        rx.cond(
            can("patient.write") & (PatientDetailsState.merged_into_id == 0),
            rx.upload(
                rx.button(
                    rx.icon("camera", size=12),
                    "Photo",
                    size="1",
                    variant="ghost",
                    type="button",
                    loading=PatientDetailsState.uploading_photo,
                ),
                id=PHOTO_UPLOAD_ID,
                accept={"image/png": [".png"], "image/jpeg": [".jpg", ".jpeg"]},
                max_files=1,
                multiple=False,
                no_drag=True,
                max_size=PHOTO_MAX_BYTES,
                on_drop_rejected=upload_rejected(
                    f"The photo is larger than {PHOTO_MAX_MB} MB.", "Choose a PNG or JPEG photo."
                ),
                border="none",
                padding="0",
                on_drop=PatientDetailsState.upload_photo(rx.upload_files(upload_id=PHOTO_UPLOAD_ID)),
                data_testid="photo-upload",
            ),
        ),
        spacing="1",
        align="center",
    )


def details_header() -> rx.Component:
    base = "/patients/" + PatientDetailsState.record_id.to_string()
    return rx.flex(
        photo(),
        rx.vstack(
            rx.hstack(
                rx.heading(PatientDetailsState.name, size="6", data_testid="patient-name"),
                status_badge(PatientDetailsState.status),
                align="center",
                spacing="3",
                wrap="wrap",
            ),
            rx.text(
                rx.code(PatientDetailsState.mrn, data_testid="patient-mrn"),
                " · ",
                rx.text.span(PatientDetailsState.sex, text_transform="capitalize"),
                " · born ",
                PatientDetailsState.birth_date,
                " (",
                PatientDetailsState.age.to_string(),
                " y)",
                rx.cond(
                    PatientDetailsState.deceased_on != "", " · died " + PatientDetailsState.deceased_on, ""
                ),
                size="2",
                color_scheme="gray",
            ),
            spacing="1",
            align="start",
        ),
        rx.spacer(),
        rx.flex(
            rx.link(rx.button(rx.icon("clipboard-list", size=16), "Open chart", variant="soft"), href=base),
            rx.link(
                rx.button(rx.icon("printer", size=16), "Wristband", variant="soft"),
                href=base + "/wristband",
                is_external=True,
                data_testid="open-wristband",
            ),
            rx.cond(
                can("patient.write") & (PatientDetailsState.merged_into_id == 0),
                rx.menu.root(
                    rx.menu.trigger(
                        rx.button(
                            rx.icon("activity", size=16),
                            "Status",
                            rx.icon("chevron-down", size=14),
                            variant="soft",
                            data_testid="status-menu",
                        )
                    ),
                    rx.menu.content(
                        *[
                            rx.cond(
                                PatientDetailsState.status != s,
                                rx.menu.item(
                                    label,
                                    on_click=PatientDetailsState.open_status(s),
                                    data_testid="status-" + s,
                                ),
                            )
                            for s, label in (
                                ("active", "Mark active"),
                                ("inactive", "Mark inactive"),
                                ("deceased", "Record death"),
                            )
                        ]
                    ),
                ),
            ),
            rx.cond(
                can("patient.merge") & (PatientDetailsState.merged_into_id == 0),
                rx.button(
                    rx.icon("merge", size=16),
                    "Merge",
                    on_click=PatientDetailsState.open_merge,
                    data_testid="open-merge",
                ),
            ),
            spacing="2",
            wrap="wrap",
        ),
        width="100%",
        align="start",
        spacing="3",
        wrap="wrap",
    )


def merged_callout() -> rx.Component:
    return rx.cond(
        PatientDetailsState.merged_into_id != 0,
        rx.callout(
            rx.text(
                "This record was merged into ",
                rx.link(
                    rx.cond(
                        PatientDetailsState.merged_into_mrn != "",
                        PatientDetailsState.merged_into_mrn,
                        "the surviving record",
                    ),
                    href="/patients/" + PatientDetailsState.merged_into_id.to_string() + "/details",
                    data_testid="survivor-link",
                ),
                ". Everything linked to it moved there; it can no longer be edited. Undo the merge below if it "
                "was a mistake.",
            ),
            icon="git-merge",
            color_scheme="amber",
            width="100%",
            data_testid="merged-callout",
        ),
    )


def demographics_form() -> rx.Component:
    editable = can("patient.write") & (PatientDetailsState.merged_into_id == 0)
    return rx.form(
        rx.vstack(
            *demographic_fields(
                PatientDetailsState,
                watched=False,
                values=PatientDetailsState.form_values,
                consents=PatientDetailsState.consents,
                disabled=~editable,
            ),
            rx.cond(
                editable,
                rx.card(
                    rx.flex(
                        rx.box(
                            labelled(
                                PatientDetailsState,
                                "Reason for the change (optional, kept in the history)",
                                "change_reason",
                                text_input(
                                    "change_reason",
                                    max_length=300,
                                    placeholder="e.g. married name, new phone",
                                ),
                            ),
                            flex="1",
                            min_width="14rem",
                        ),
                        rx.button(
                            rx.icon("save", size=16),
                            "Save changes",
                            type="submit",
                            loading=PatientDetailsState.saving,
                            data_testid="save-details",
                        ),
                        spacing="3",
                        align="end",
                        wrap="wrap",
                        width="100%",
                    ),
                    width="100%",
                ),
            ),
            general_error(PatientDetailsState),
            spacing="4",
            width="100%",
        ),
        key=PatientDetailsState.form_version.to_string(),
        on_submit=PatientDetailsState.save,
        reset_on_submit=False,
        width="100%",
    )


def history_row(row: HistoryLine) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.text(row.when, white_space="nowrap"), rx.text(row.who, size="1", color_scheme="gray")
        ),
        rx.table.cell(rx.text(row.field, weight="medium")),
        rx.table.cell(
            rx.flex(
                rx.text(rx.cond(row.old != "", row.old, "—"), color_scheme="gray"),
                rx.icon("arrow-right", size=14, flex_shrink="0"),
                rx.text(rx.cond(row.new != "", row.new, "—")),
                align="center",
                column_gap="0.5rem",
                wrap="wrap",
            )
        ),
        rx.table.cell(rx.text(row.reason, size="1")),
    )


def history_panel() -> rx.Component:
    return rx.cond(
        PatientDetailsState.history.length() > 0,
        scroll_table(
            [rx.table.column_header_cell(h) for h in ("When and who", "Field", "Change", "Reason")],
            rx.foreach(PatientDetailsState.history, history_row),
            "history-table",
        ),
        rx.card(empty_state("No changes since registration.", icon="history"), width="100%"),
    )


@staff_page(
    route="/patients/[patient_id]/details",
    title="Patient details",
    on_load=[PatientDetailsState.load, PatientCoverageState.load],
)
def patient_details_page() -> rx.Component:
    return rx.vstack(
        refused("patient.read", "Your role does not give access to patient records."),
        rx.cond(
            PatientDetailsState.problem != "",
            problem_callout(PatientDetailsState.problem),
            rx.cond(
                PatientDetailsState.loaded,
                rx.vstack(
                    details_header(),
                    merged_callout(),
                    rx.tabs.root(
                        rx.tabs.list(
                            rx.tabs.trigger("Demographics", value="demographics"),
                            rx.tabs.trigger(
                                "History (",
                                PatientDetailsState.history.length().to_string(),
                                ")",
                                value="history",
                                data_testid="tab-history",
                            ),
                            rx.tabs.trigger(
                                "Merges (",
                                PatientDetailsState.merges.length().to_string(),
                                ")",
                                value="merges",
                                data_testid="tab-merges",
                            ),
                            rx.tabs.trigger("Insurance", value="coverage", data_testid="tab-coverage"),
                        ),
                        rx.tabs.content(
                            rx.box(demographics_form(), padding_top="1rem"), value="demographics"
                        ),
                        rx.tabs.content(rx.box(history_panel(), padding_top="1rem"), value="history"),
                        rx.tabs.content(rx.box(merges_panel(), padding_top="1rem"), value="merges"),
                        rx.tabs.content(rx.box(coverage_panel(), padding_top="1rem"), value="coverage"),
                        default_value="demographics",
                        width="100%",
                    ),
                    spacing="4",
                    width="100%",
                ),
                rx.cond(can("patient.read"), skeleton_rows(8)),
            ),
        ),
        status_dialog(),
        merge_dialog(),
        undo_dialog(),
        spacing="4",
        width="100%",
    )
