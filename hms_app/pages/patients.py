"""Patient screens: search, registration with live duplicate detection, demographics with
history, status and merge, and the printable wristband with labels."""

from __future__ import annotations

import reflex as rx

from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, scroll_box, skeleton_rows
from hms_app.services.patients import SEXES
from hms_app.state.patients import (
    MAX_QUERY,
    PHOTO_UPLOAD_ID,
    CoverageState,
    HistoryLine,
    MatchLine,
    MergeLine,
    PatientDetailsState,
    PatientLine,
    PatientRegisterState,
    PatientSearchState,
    WristbandState,
)
from hms_app.state.session import SessionState

S = PatientSearchState
R = PatientRegisterState
D = PatientDetailsState
C = CoverageState
W = WristbandState

# Responsive display values (initial, sm, md, lg): the large breakpoint is 62em.
WIDE_CELL = ["none", "none", "none", "table-cell"]
NARROW_ONLY = ["block", "block", "block", "none"]
WIDE_ONLY = ["none", "none", "none", "block"]
SEX_LABELS = {"female": "Female", "male": "Male", "other": "Other", "unknown": "Unknown"}


def can(permission: str) -> rx.Var:
    """Whether the signed-in user holds ``permission``: only for what to draw; the server decides."""
    return SessionState.user_permissions.contains(permission)


def refused(permission: str, message: str) -> rx.Component:
    return rx.cond(
        ~can(permission),
        rx.callout(message, icon="shield-alert", color_scheme="amber", data_testid="no-access"),
    )


def status_badge(status: rx.Var) -> rx.Component:
    return rx.match(
        status,
        ("active", rx.badge("Active", color_scheme="green", variant="soft")),
        (
            "deceased",
            rx.badge(rx.icon("flower-2", size=12), "Deceased", color_scheme="gray", variant="solid"),
        ),
        ("merged", rx.badge(rx.icon("git-merge", size=12), "Merged", color_scheme="amber", variant="soft")),
        rx.badge("Inactive", color_scheme="gray", variant="outline"),
    )


def scroll_table(header: list, body: rx.Component, test_id: str, size="2") -> rx.Component:
    return scroll_box(
        rx.table.root(
            rx.table.header(rx.table.row(*header)),
            rx.table.body(body),
            variant="surface",
            size=size,
            width="100%",
        ),
        data_testid=test_id,
    )


# ====================================================================== /patients


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
    return rx.hstack(
        rx.text(S.total_label, " patients", size="2", color_scheme="gray", data_testid="patient-total"),
        rx.spacer(),
        rx.button(
            rx.icon("chevron-left", size=16),
            "Previous",
            variant="soft",
            size="1",
            disabled=S.page <= 1,
            on_click=S.prev_page,
        ),
        rx.text("Page ", S.page.to_string(), " of ", S.page_count.to_string(), size="2"),
        rx.button(
            "Next",
            rx.icon("chevron-right", size=16),
            variant="soft",
            size="1",
            disabled=S.page >= S.page_count,
            on_click=S.next_page,
            data_testid="next-page",
        ),
        width="100%",
        align="center",
        spacing="3",
        wrap="wrap",
    )


def search_results() -> rx.Component:
    return rx.cond(
        S.query.strip().length() < 2,
        rx.card(
            empty_state("Search by name, MRN, phone or date of birth", icon="search"),
            width="100%",
            data_testid="search-hint",
        ),
        rx.cond(
            S.searched,
            rx.cond(
                S.total > 0,
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
                        rx.foreach(S.rows, patient_row),
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
                        value=S.query,
                        on_change=S.set_query,
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
                        S.query != "",
                        rx.button(
                            "Clear", variant="soft", color_scheme="gray", size="3", on_click=S.clear_search
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


# ====================================================================== /patients/new


def error_line(message: rx.Var, test_id: str) -> rx.Component:
    return rx.flex(
        rx.icon("circle-alert", size=12, flex_shrink="0", margin_top="0.2em"),
        rx.text(message, size="1"),
        spacing="1",
        color=rx.color("red", 11),
        data_testid=test_id,
    )


def error_text(state, name: str) -> rx.Component:
    return rx.cond(state.error_field == name, error_line(state.error_text, "error-" + name))


def form_label(text: str, html_for: str) -> rx.Component:
    return rx.el.label(
        text,
        html_for=html_for,
        font_size="var(--font-size-2)",
        font_weight="500",
        line_height="var(--line-height-2)",
    )


def labelled(state, label: str, name: str, control: rx.Component, hint: str = "") -> rx.Component:
    return rx.vstack(
        form_label(label, name),
        control,
        rx.text(hint, size="1", color_scheme="gray") if hint else rx.fragment(),
        error_text(state, name),
        spacing="1",
        width="100%",
        align="start",
    )


def text_input(name: str, max_length: int = 80, **props) -> rx.Component:
    return rx.input(name=name, id=name, max_length=max_length, width="100%", **props)


def watched_input(name: str, value: rx.Var, **props) -> rx.Component:
    """Bound to the state through a debounced change, so the matches follow the typing."""
    return rx.input(
        name=name,
        id=name,
        value=value,
        on_change=lambda v: R.set_watched(name, v),
        debounce_timeout=300,
        width="100%",
        **props,
    )


def sex_select(default_value=None, disabled=False) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(placeholder="Choose", width="100%", id="sex", data_testid="sex-select"),
        rx.select.content(*[rx.select.item(SEX_LABELS[s], value=s) for s in SEXES]),
        name="sex",
        **({"default_value": default_value} if default_value is not None else {}),
        disabled=disabled,
    )


def grid(*children, columns=None) -> rx.Component:
    return rx.grid(
        *children, columns=columns or rx.breakpoints(initial="1", sm="2"), spacing="3", width="100%"
    )


def card(title: str, icon: str, *children) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.icon(icon, size=18, color=rx.color("accent", 10)),
                rx.heading(title, size="3"),
                align="center",
                spacing="2",
            ),
            *children,
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


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
                    R.matches.length() > 0, rx.badge(R.matches.length().to_string(), color_scheme="amber")
                ),
                align="center",
                spacing="2",
            ),
            rx.cond(
                R.matches.length() > 0,
                rx.vstack(
                    rx.text(
                        "Check these records before registering: the person may already have one.",
                        size="1",
                        color_scheme="gray",
                    ),
                    rx.foreach(R.matches, match_item),
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


def consent_box(name: str, label: str, default_checked=None, disabled=False) -> rx.Component:
    return rx.checkbox(
        label,
        name=name,
        **({"default_checked": default_checked} if default_checked is not None else {}),
        disabled=disabled,
        data_testid=name,
    )


def demographic_fields(
    state, watched: bool, values=None, consents=None, disabled=False
) -> list[rx.Component]:
    """The four cards of the demographics form, for registration (watched) and for edits (prefilled)."""

    def plain(name: str, max_length: int = 80, **props):
        extra = {"default_value": values[name]} if values is not None else {}
        if not watched:  # an example in an empty field of a saved record reads like data
            props.pop("placeholder", None)
        return text_input(name, max_length=max_length, disabled=disabled, **extra, **props)

    def live(name: str, max_length: int = 80, **props):
        if watched:
            return watched_input(name, getattr(R, name), max_length=max_length, **props)
        return plain(name, max_length=max_length, **props)

    return [
        card(
            "Identity",
            "id-card",
            grid(
                labelled(
                    state,
                    "Given name",
                    "given_name",
                    live("given_name", required=True, auto_complete="off", auto_focus=watched),
                ),
                labelled(state, "Middle name", "middle_name", plain("middle_name")),
                labelled(
                    state,
                    "Family name",
                    "family_name",
                    live("family_name", required=True, auto_complete="off"),
                ),
                labelled(
                    state, "Sex", "sex", sex_select(values["sex"] if values is not None else None, disabled)
                ),
                labelled(
                    state, "Date of birth", "birth_date", live("birth_date", max_length=10, type="date")
                ),
                columns=rx.breakpoints(initial="1", sm="2", md="3"),
            ),
        ),
        card(
            "Contact",
            "phone",
            grid(
                labelled(
                    state,
                    "Phone",
                    "phone",
                    live("phone", max_length=30, type="tel", placeholder="+1 555 010 2030"),
                ),
                labelled(state, "Email", "email", plain("email", max_length=200, type="email")),
                labelled(state, "Address", "address_line", plain("address_line", max_length=200)),
                labelled(state, "City", "city", plain("city")),
                labelled(state, "Postal code", "postal_code", plain("postal_code", max_length=20)),
                labelled(state, "Country", "country", plain("country", max_length=60)),
                labelled(
                    state,
                    "Preferred language",
                    "preferred_language",
                    plain("preferred_language", max_length=40, placeholder="e.g. English"),
                ),
            ),
        ),
        card(
            "Emergency contact",
            "siren",
            grid(
                labelled(
                    state, "Name", "emergency_contact_name", plain("emergency_contact_name", max_length=120)
                ),
                labelled(
                    state,
                    "Phone",
                    "emergency_contact_phone",
                    plain("emergency_contact_phone", max_length=30, type="tel"),
                ),
                labelled(
                    state,
                    "Relationship",
                    "emergency_contact_relation",
                    plain("emergency_contact_relation", max_length=40, placeholder="e.g. spouse"),
                ),
                columns=rx.breakpoints(initial="1", sm="3"),
            ),
        ),
        card(
            "Consent",
            "file-check",
            rx.flex(
                *[
                    consent_box(name, label, consents[name] if consents is not None else None, disabled)
                    for name, label in (
                        ("consent_data_sharing", "Share data with other care providers"),
                        ("consent_sms", "Reminders by SMS"),
                        ("consent_research", "Use of anonymised data for research"),
                    )
                ],
                direction=rx.breakpoints(initial="column", sm="row"),
                spacing="4",
                wrap="wrap",
            ),
        ),
    ]


def general_error(state) -> rx.Component:
    return rx.cond(
        (state.error_text != "") & (state.error_field == ""),
        rx.callout(
            state.error_text,
            icon="triangle-alert",
            color_scheme="red",
            size="1",
            width="100%",
            data_testid="form-error",
        ),
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
                rx.foreach(R.confirm_matches, confirm_match),
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
                    rx.cond(R.confirm_error != "", error_line(R.confirm_error, "confirm-error")),
                    rx.flex(
                        rx.button(
                            "Cancel",
                            type="button",
                            variant="soft",
                            color_scheme="gray",
                            on_click=R.cancel_confirm,
                        ),
                        rx.button(
                            "Register a new record",
                            type="submit",
                            color_scheme="red",
                            loading=R.saving,
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
                on_submit=R.confirm_duplicate,
                reset_on_submit=False,
            ),
            max_width="44rem",
            data_testid="duplicate-dialog",
        ),
        open=R.confirm_open,
        on_open_change=R.on_confirm_change,
    )


@staff_page(route="/patients/new", title="Register patient", on_load=PatientRegisterState.load)
def register_page() -> rx.Component:
    fields = demographic_fields(R, watched=True)
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
                        general_error(R),
                        rx.flex(
                            rx.link(
                                rx.button("Cancel", type="button", variant="soft", color_scheme="gray"),
                                href="/patients",
                            ),
                            rx.button(
                                rx.icon("save", size=16),
                                "Register",
                                type="submit",
                                loading=R.saving,
                                data_testid="register-submit",
                            ),
                            spacing="3",
                            justify="end",
                            width="100%",
                        ),
                        spacing="4",
                        width="100%",
                    ),
                    key=R.form_version.to_string(),
                    on_submit=R.submit,
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


# ====================================================================== /patients/[patient_id]/details


def problem_callout(message: rx.Var) -> rx.Component:
    return rx.callout(
        rx.vstack(rx.text(message), rx.link("Go to the patient search", href="/patients"), spacing="1"),
        icon="circle-alert",
        color_scheme="red",
        width="100%",
        data_testid="page-problem",
    )


def photo() -> rx.Component:
    """The patient's photo (served by the authorized documents route), and a way to replace it."""
    picture = rx.cond(
        D.photo_id > 0,
        rx.image(
            src="/api/documents/" + D.photo_id.to_string(),
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
            can("patient.write") & (D.merged_into_id == 0),
            rx.upload(
                rx.button(
                    rx.icon("camera", size=12),
                    "Photo",
                    size="1",
                    variant="ghost",
                    type="button",
                    loading=D.uploading_photo,
                ),
                id=PHOTO_UPLOAD_ID,
                accept={"image/png": [".png"], "image/jpeg": [".jpg", ".jpeg"]},
                max_files=1,
                multiple=False,
                no_drag=True,
                border="none",
                padding="0",
                on_drop=D.upload_photo(rx.upload_files(upload_id=PHOTO_UPLOAD_ID)),
                data_testid="photo-upload",
            ),
        ),
        spacing="1",
        align="center",
    )


def details_header() -> rx.Component:
    base = "/patients/" + D.record_id.to_string()
    return rx.flex(
        photo(),
        rx.vstack(
            rx.hstack(
                rx.heading(D.name, size="6", data_testid="patient-name"),
                status_badge(D.status),
                align="center",
                spacing="3",
                wrap="wrap",
            ),
            rx.text(
                rx.code(D.mrn, data_testid="patient-mrn"),
                " · ",
                rx.text.span(D.sex, text_transform="capitalize"),
                " · born ",
                D.birth_date,
                " (",
                D.age.to_string(),
                " y)",
                rx.cond(D.deceased_on != "", " · died " + D.deceased_on, ""),
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
                can("patient.write") & (D.merged_into_id == 0),
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
                                D.status != s,
                                rx.menu.item(label, on_click=D.open_status(s), data_testid="status-" + s),
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
                can("patient.merge") & (D.merged_into_id == 0),
                rx.button(
                    rx.icon("merge", size=16), "Merge", on_click=D.open_merge, data_testid="open-merge"
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
        D.merged_into_id != 0,
        rx.callout(
            rx.text(
                "This record was merged into ",
                rx.link(
                    rx.cond(D.merged_into_mrn != "", D.merged_into_mrn, "the surviving record"),
                    href="/patients/" + D.merged_into_id.to_string() + "/details",
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
    editable = can("patient.write") & (D.merged_into_id == 0)
    return rx.form(
        rx.vstack(
            *demographic_fields(
                D, watched=False, values=D.form_values, consents=D.consents, disabled=~editable
            ),
            rx.cond(
                editable,
                rx.card(
                    rx.flex(
                        rx.box(
                            labelled(
                                D,
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
                            loading=D.saving,
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
            general_error(D),
            spacing="4",
            width="100%",
        ),
        key=D.form_version.to_string(),
        on_submit=D.save,
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
        D.history.length() > 0,
        scroll_table(
            [rx.table.column_header_cell(h) for h in ("When and who", "Field", "Change", "Reason")],
            rx.foreach(D.history, history_row),
            "history-table",
        ),
        rx.card(empty_state("No changes since registration.", icon="history"), width="100%"),
    )


def merge_row(line: MergeLine) -> rx.Component:
    other = rx.link(
        line.other_mrn, href="/patients/" + line.other_id.to_string() + "/details", white_space="nowrap"
    )
    return rx.table.row(
        rx.table.cell(
            rx.cond(
                line.role == "survivor",
                rx.text(other, " (", line.other_name, ") merged into this record", size="2"),
                rx.text("This record merged into ", other, " (", line.other_name, ")", size="2"),
            ),
            rx.text(line.when, " · by ", line.who, " · ", line.moved_note, size="1", color_scheme="gray"),
        ),
        rx.table.cell(rx.text(line.reason, size="1")),
        rx.table.cell(
            rx.cond(
                line.undone,
                rx.text(line.undone_note, size="1", color_scheme="gray"),
                rx.cond(
                    can("patient.merge"),
                    rx.button(
                        rx.icon("undo-2", size=14),
                        "Undo",
                        size="1",
                        variant="soft",
                        color_scheme="red",
                        on_click=D.open_undo(line.id),
                        data_testid="undo-merge",
                    ),
                    rx.badge("In effect", color_scheme="amber"),
                ),
            ),
            min_width="7rem",
        ),
        align="center",
    )


def merges_panel() -> rx.Component:
    return rx.cond(
        D.merges.length() > 0,
        scroll_table(
            [rx.table.column_header_cell(h) for h in ("Merge", "Reason", "")],
            rx.foreach(D.merges, merge_row),
            "merges-table",
        ),
        rx.card(empty_state("This record has not been merged with another.", icon="git-merge"), width="100%"),
    )


def dialog_error(name: str = "") -> rx.Component:
    """A dialog's error next to its field (``name``), or above the buttons when it names none."""
    condition = (D.dialog_error != "") & (D.dialog_error_field == name)
    return rx.cond(condition, error_line(D.dialog_error, "dialog-error" + ("-" + name if name else "")))


def reason_field(placeholder: str) -> rx.Component:
    return rx.vstack(
        form_label("Reason", "dialog-reason"),
        rx.text_area(
            name="reason",
            id="dialog-reason",
            required=True,
            max_length=300,
            width="100%",
            placeholder=placeholder,
            data_testid="dialog-reason",
        ),
        dialog_error("reason"),
        spacing="1",
        width="100%",
    )


def dialog_buttons(label: str, color=None) -> rx.Component:
    return rx.flex(
        rx.button("Cancel", type="button", variant="soft", color_scheme="gray", on_click=D.close_dialog),
        rx.button(
            label,
            type="submit",
            loading=D.saving,
            data_testid="dialog-submit",
            **({"color_scheme": color} if color is not None else {}),
        ),
        spacing="3",
        justify="end",
        width="100%",
        padding_top="0.5rem",
    )


def details_dialog(
    name: str, title, description, body: rx.Component, max_width: str = "32rem"
) -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(title),
            rx.dialog.description(description, size="2", color_scheme="gray", margin_bottom="1rem"),
            body,
            max_width=max_width,
            data_testid="dialog-" + name,
        ),
        open=D.dialog == name,
        on_open_change=D.on_dialog_change,
    )


def status_dialog() -> rx.Component:
    return details_dialog(
        "status",
        rx.match(
            D.status_choice,
            ("deceased", "Record a death"),
            ("active", "Mark the record active"),
            "Mark the record inactive",
        ),
        rx.text("The change and its reason are kept in the record's history and the audit trail."),
        rx.form(
            rx.vstack(
                rx.cond(
                    D.status_choice == "deceased",
                    rx.vstack(
                        form_label("Date of death", "deceased_on"),
                        rx.input(
                            type="date", name="deceased_on", id="deceased_on", required=True, width="100%"
                        ),
                        dialog_error("deceased_on"),
                        spacing="1",
                        width="100%",
                    ),
                ),
                reason_field("e.g. death certificate received, moved abroad"),
                dialog_error(),
                dialog_buttons("Save status", rx.cond(D.status_choice == "deceased", "red", "teal")),
                spacing="3",
                width="100%",
            ),
            on_submit=D.submit_status,
            reset_on_submit=False,
        ),
    )


def record_card(title: str, rows: list, tone: str) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(title, size="1", weight="bold", color=rx.color(tone, 11), text_transform="uppercase"),
            *[
                rx.hstack(
                    rx.text(label, size="1", color_scheme="gray", min_width="4rem"),
                    rx.text(rx.cond(value != "", value, "—"), size="2", text_transform=transform),
                    align="baseline",
                )
                for label, value, transform in rows
            ],
            spacing="1",
            width="100%",
        ),
        width="100%",
        border=f"1px solid {rx.color(tone, 7)}",
    )


def merge_dialog() -> rx.Component:
    o = D.other
    return details_dialog(
        "merge",
        "Merge another record into this one",
        rx.text(
            "Everything linked to the other record (encounters, notes, vitals, problems, allergies, medications, "
            "immunizations, documents, coverage, portal account) moves to ",
            rx.code(D.mrn),
            ". The other record is kept, marked as merged, and the merge can be undone.",
        ),
        rx.vstack(
            rx.form(
                rx.vstack(
                    form_label("MRN of the other record", "other_mrn"),
                    rx.flex(
                        rx.input(
                            name="other_mrn",
                            id="other_mrn",
                            placeholder="H0001234-4",
                            max_length=20,
                            required=True,
                            auto_complete="off",
                            flex="1",
                            data_testid="other-mrn",
                        ),
                        rx.button(
                            rx.icon("search", size=16),
                            "Look up",
                            type="submit",
                            variant="soft",
                            data_testid="lookup-other",
                        ),
                        spacing="2",
                        width="100%",
                    ),
                    dialog_error("other_mrn"),
                    spacing="1",
                    width="100%",
                ),
                on_submit=D.find_other,
                reset_on_submit=False,
            ),
            rx.cond(
                o.id != 0,
                rx.form(
                    rx.vstack(
                        rx.grid(
                            record_card(
                                "Keeps: this record",
                                [
                                    ("MRN", D.mrn, "none"),
                                    ("Name", D.name, "none"),
                                    ("Sex", D.sex, "capitalize"),
                                    ("Born", D.birth_date, "none"),
                                    ("Phone", D.form_values["phone"], "none"),
                                    ("Status", D.status, "capitalize"),
                                ],
                                "green",
                            ),
                            record_card(
                                "Merged into it",
                                [
                                    ("MRN", o.mrn, "none"),
                                    ("Name", o.name, "none"),
                                    ("Sex", o.sex, "capitalize"),
                                    ("Born", o.birth_date, "none"),
                                    ("Phone", o.phone, "none"),
                                    ("Status", o.status, "capitalize"),
                                ],
                                "red",
                            ),
                            columns=rx.breakpoints(initial="1", sm="2"),
                            spacing="3",
                            width="100%",
                            data_testid="merge-compare",
                        ),
                        reason_field("e.g. same person: registered twice in the emergency room"),
                        dialog_error(),
                        dialog_buttons("Merge records", "red"),
                        spacing="3",
                        width="100%",
                    ),
                    on_submit=D.submit_merge,
                    reset_on_submit=False,
                ),
                dialog_error(),
            ),
            spacing="3",
            width="100%",
        ),
        max_width="40rem",
    )


def undo_dialog() -> rx.Component:
    return details_dialog(
        "undo",
        "Undo this merge?",
        rx.text(
            D.undo_note,
            ". The rows that moved go back to the record they came from, and it becomes active again.",
        ),
        rx.form(
            rx.vstack(
                reason_field("e.g. not the same person: twins"),
                dialog_error(),
                dialog_buttons("Undo merge", "red"),
                spacing="3",
                width="100%",
            ),
            on_submit=D.submit_undo,
            reset_on_submit=False,
        ),
    )


def coverage_row(line) -> rx.Component:
    return rx.table.row(
        rx.table.cell(line.payer, white_space="nowrap"),
        rx.table.cell(line.plan),
        rx.table.cell(rx.code(line.member_id)),
        rx.table.cell(line.valid, white_space="nowrap"),
        rx.table.cell(line.priority),
        rx.table.cell(line.shares),
        rx.table.cell(rx.badge(line.status, color_scheme=rx.cond(line.status == "current", "green", "gray"))),
        rx.table.cell(
            rx.cond(
                can("patient.write") & (line.status != "ended"),
                rx.button("End", size="1", variant="soft", color_scheme="gray", on_click=C.end(line.id)),
            )
        ),
    )


def coverage_dialog() -> rx.Component:
    def field(label: str, name: str, control: rx.Component) -> rx.Component:
        return rx.vstack(
            rx.text(label, size="2", weight="medium"),
            control,
            rx.cond(C.error_field == name, rx.text(C.error_text, size="1", color_scheme="red")),
            spacing="1",
            width="100%",
        )

    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Add insurance coverage"),
            rx.form(
                rx.vstack(
                    field(
                        "Payer",
                        "payer_id",
                        rx.select.root(
                            rx.select.trigger(placeholder="Choose the payer", width="100%"),
                            rx.select.content(
                                rx.foreach(C.payers, lambda p: rx.select.item(p[1], value=p[0]))
                            ),
                            name="payer_id",
                        ),
                    ),
                    field("Plan", "plan_name", rx.input(name="plan_name", max_length=120, width="100%")),
                    field("Member id", "member_id", rx.input(name="member_id", max_length=40, width="100%")),
                    rx.hstack(
                        field(
                            "Valid from", "valid_from", rx.input(name="valid_from", type="date", width="100%")
                        ),
                        field(
                            "Valid to (optional)",
                            "valid_to",
                            rx.input(name="valid_to", type="date", width="100%"),
                        ),
                        width="100%",
                    ),
                    rx.hstack(
                        field(
                            "Priority",
                            "priority",
                            rx.select(["1", "2", "3"], name="priority", default_value="1"),
                        ),
                        field(
                            "Co-pay ($)", "copay", rx.input(name="copay", placeholder="20.00", width="100%")
                        ),
                        field(
                            "Co-insurance (%)",
                            "coinsurance_percent",
                            rx.input(name="coinsurance_percent", placeholder="0", width="100%"),
                        ),
                        width="100%",
                    ),
                    rx.cond(
                        (C.error_text != "") & (C.error_field == ""),
                        rx.callout(C.error_text, color_scheme="red", icon="triangle-alert", width="100%"),
                    ),
                    rx.hstack(
                        rx.button(
                            "Cancel",
                            type="button",
                            variant="soft",
                            color_scheme="gray",
                            on_click=C.close_dialog,
                        ),
                        rx.button("Save coverage", type="submit"),
                        justify="end",
                        width="100%",
                    ),
                    spacing="3",
                    width="100%",
                ),
                on_submit=C.add,
                reset_on_submit=False,
            ),
            max_width="34rem",
        ),
        open=C.dialog_open,
    )


def coverage_panel() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text(
                "Payer, plan and member id as on the patient's card; billing takes the shares from here.",
                size="2",
                color_scheme="gray",
            ),
            rx.spacer(),
            rx.cond(
                can("patient.write"),
                rx.button(
                    rx.icon("plus", size=16), "Add coverage", on_click=C.open_add, data_testid="add-coverage"
                ),
            ),
            width="100%",
            align="center",
        ),
        rx.cond(
            C.lines.length() > 0,
            scroll_table(
                [
                    rx.table.column_header_cell(h)
                    for h in ("Payer", "Plan", "Member id", "Valid", "Priority", "Shares", "Status", "")
                ],
                rx.foreach(C.lines, coverage_row),
                "coverage-table",
            ),
            empty_state("No insurance recorded: the patient pays themselves.", icon="shield"),
        ),
        coverage_dialog(),
        spacing="3",
        width="100%",
    )


@staff_page(
    route="/patients/[patient_id]/details",
    title="Patient details",
    on_load=[PatientDetailsState.load, CoverageState.load],
)
def patient_details_page() -> rx.Component:
    return rx.vstack(
        refused("patient.read", "Your role does not give access to patient records."),
        rx.cond(
            D.problem != "",
            problem_callout(D.problem),
            rx.cond(
                D.loaded,
                rx.vstack(
                    details_header(),
                    merged_callout(),
                    rx.tabs.root(
                        rx.tabs.list(
                            rx.tabs.trigger("Demographics", value="demographics"),
                            rx.tabs.trigger(
                                "History (",
                                D.history.length().to_string(),
                                ")",
                                value="history",
                                data_testid="tab-history",
                            ),
                            rx.tabs.trigger(
                                "Merges (",
                                D.merges.length().to_string(),
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


# ====================================================================== /patients/[patient_id]/wristband

HIDE_IN_PRINT = {"@media print": {"display": "none"}}
INK = "#000000"


def allergy_line(size: str) -> rx.Component:
    return rx.cond(
        W.allergies.length() > 0,
        rx.text(
            "ALLERGY: ",
            W.allergies.join(", "),
            color="#c00000",
            weight="bold",
            size=size,
            data_testid="wristband-allergy",
        ),
        rx.text("No known allergies", color="#444444", size=size),
    )


def wristband_strip() -> rx.Component:
    return rx.flex(
        rx.vstack(
            rx.text(W.name, weight="bold", size="5", color=INK, data_testid="wristband-name"),
            rx.text(
                "MRN ",
                rx.text.strong(W.mrn),
                " · DOB ",
                rx.text.strong(W.birth_date),
                " · ",
                rx.text.span(W.sex, text_transform="capitalize"),
                size="3",
                color=INK,
            ),
            allergy_line("2"),
            spacing="1",
            align="start",
            min_width="0",
            flex="1",
        ),
        rx.image(
            src=W.barcode,
            alt="Barcode of MRN " + W.mrn,
            height="64px",
            width="auto",
            data_testid="wristband-barcode",
        ),
        align="center",
        spacing="4",
        padding="0.75rem 1rem",
        width="100%",
        max_width="760px",
        border=rx.cond(W.allergies.length() > 0, "3px solid #c00000", "2px solid #000000"),
        border_radius="14px",
        background="white",
        data_testid="wristband",
    )


def label() -> rx.Component:
    return rx.vstack(
        rx.text(
            W.name,
            weight="bold",
            size="2",
            color=INK,
            white_space="nowrap",
            overflow="hidden",
            text_overflow="ellipsis",
            max_width="100%",
        ),
        rx.flex(
            rx.text("MRN ", W.mrn, size="1", color=INK, white_space="nowrap"),
            rx.text("DOB ", W.birth_date, size="1", color=INK, white_space="nowrap"),
            column_gap="0.75em",
            wrap="wrap",
        ),
        rx.image(src=W.barcode, alt="Barcode of MRN " + W.mrn, height="32px", width="auto", max_width="100%"),
        spacing="1",
        align="start",
        padding="0.4rem 0.5rem",
        border="1px dashed #999999",
        overflow="hidden",
        min_width="0",
        style={"break_inside": "avoid"},
    )


@rx.page(
    route="/patients/[patient_id]/wristband",
    title="Wristband · HMS",
    on_load=[SessionState.refresh_identity, WristbandState.load],
)
def wristband_page() -> rx.Component:
    return rx.box(
        rx.cond(
            W.problem != "",
            rx.box(problem_callout(W.problem), padding="1.5rem"),
            rx.cond(
                W.loaded,
                rx.vstack(
                    rx.flex(
                        rx.link(
                            rx.button(
                                rx.icon("arrow-left", size=16),
                                "Patient details",
                                variant="soft",
                                color_scheme="gray",
                            ),
                            href="/patients/" + W.record_id.to_string() + "/details",
                        ),
                        rx.spacer(),
                        rx.button(
                            rx.icon("printer", size=16),
                            "Print",
                            on_click=rx.call_script("window.print()"),
                            data_testid="print",
                        ),
                        width="100%",
                        max_width="760px",
                        style=HIDE_IN_PRINT,
                    ),
                    rx.text("Wristband", size="1", weight="bold", color="#555555", style=HIDE_IN_PRINT),
                    wristband_strip(),
                    rx.text(
                        "Labels",
                        size="1",
                        weight="bold",
                        color="#555555",
                        padding_top="0.5rem",
                        style=HIDE_IN_PRINT,
                    ),
                    rx.grid(
                        *[label() for _ in range(12)],
                        columns="3",
                        spacing="2",
                        width="100%",
                        max_width="760px",
                        data_testid="label-sheet",
                    ),
                    spacing="3",
                    padding="1.5rem",
                    style={"@media print": {"padding": "0"}},
                ),
                rx.center(rx.spinner(size="3"), padding="4rem"),
            ),
        ),
        rx.el.style("@page { size: A4; margin: 10mm; }"),
        background="white",
        color=INK,
        min_height="100vh",
        # The page is paper: light whatever the screen's theme, so what is seen is what prints.
        class_name="light",
        data_testid="wristband-page",
    )
