"""The patient chart: a banner always in view, then Summary, Encounters, Vitals, Problems,
Allergies & medications and Documents tabs.

Write controls are hidden from roles without ``emr.write``; the services refuse them anyway.
"""

from __future__ import annotations

import reflex as rx

from hms_app.analytics.vitals import spec_for
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, pager, scroll_box
from hms_app.services.emr import ENCOUNTER_CLASSES, MAX_DOCUMENT_BYTES, SEVERITIES
from hms_app.state.chart import (
    ACVPU_CHOICES,
    NO_ENCOUNTER,
    NOT_ASSESSED,
    TREND_KEYS,
    UPLOAD_ID,
    VITAL_FIELDS,
    AllergyLine,
    ChartState,
    ConditionLine,
    DocumentLine,
    EncounterLine,
    IcdLine,
    ImmunizationLine,
    MedicationLine,
    NoteLine,
    ScoreCard,
    ScoreInputLine,
    VitalLine,
)
from hms_app.state.session import SessionState

S = ChartState
CAN_WRITE = SessionState.user_permissions.contains("emr.write")
# The shell's header is sticky at the top and grows when its title wraps on a narrow screen; the
# banner sticks right under it. The browser measures both (MEASURE_JS) into CSS variables.
HEADER_HEIGHT = "var(--hms-header-height, 61px)"
BELOW_BANNER = "calc(var(--hms-header-height, 61px) + var(--hms-banner-height, 7rem) + 0.75rem)"
MEASURE_JS = """
(() => {
  const root = document.documentElement.style;
  const watch = (el, name) => {
    if (!el || el.__hmsWatched) return;
    el.__hmsWatched = true;
    const set = () => root.setProperty(name, el.getBoundingClientRect().height + "px");
    set();
    new ResizeObserver(set).observe(el);
  };
  const title = document.querySelector("[data-testid=page-title]");
  watch(title && title.parentElement, "--hms-header-height");
  watch(document.querySelector("[data-testid=chart-banner]"), "--hms-banner-height");
})()
"""
# Where the two-column layouts begin: Radix's lg for grid columns, Reflex's xl for style props (both 1280px).
WIDE_ONLY = rx.breakpoints(initial="none", xl="block")
CLASS_COLORS = {"outpatient": "blue", "inpatient": "purple", "emergency": "red", "virtual": "cyan"}
SOAP_LABELS = (
    ("subjective", "Subjective", "What the patient reports"),
    ("objective", "Objective", "Examination and measurements"),
    ("assessment", "Assessment", "Diagnosis or impression"),
    ("plan", "Plan", "Treatment, orders, follow-up"),
)
# Radix's responsive props (grid columns) break at its own widths: md 1024px, lg 1280px.


def write_only(component: rx.Component) -> rx.Component:
    return rx.cond(CAN_WRITE, component)


def scroll_table(*children, **props) -> rx.Component:
    return scroll_box(rx.table.root(*children, variant="surface", size="1", width="100%"), **props)


def header_cells(*names: str) -> rx.Component:
    return rx.table.header(rx.table.row(*[rx.table.column_header_cell(n) for n in names]))


def card_title(title: str, icon: str, *actions) -> rx.Component:
    return rx.hstack(
        rx.icon(icon, size=18, color=rx.color("accent", 10)),
        rx.heading(title, size="3"),
        rx.spacer(),
        *actions,
        align="center",
        width="100%",
    )


def add_button(label: str, dialog: str, test_id: str) -> rx.Component:
    return write_only(
        rx.button(
            rx.icon("plus", size=14),
            label,
            size="1",
            variant="soft",
            on_click=S.open_dialog(dialog),
            data_testid=test_id,
        )
    )


def status_badge(status: rx.Var) -> rx.Component:
    return rx.match(
        status,
        ("active", rx.badge("active", color_scheme="green", variant="soft")),
        ("in-progress", rx.badge("in progress", color_scheme="amber", variant="soft")),
        ("finished", rx.badge("finished", color_scheme="gray", variant="soft")),
        ("resolved", rx.badge("resolved", color_scheme="blue", variant="soft")),
        ("stopped", rx.badge("stopped", color_scheme="gray", variant="outline")),
        ("draft", rx.badge("draft", color_scheme="amber", variant="soft")),
        ("signed", rx.badge(rx.icon("lock", size=11), "signed", color_scheme="green", variant="soft")),
        rx.badge(status, color_scheme="gray", variant="outline"),
    )


def class_badge(encounter_class: rx.Var) -> rx.Component:
    return rx.match(
        encounter_class,
        *[
            (name, rx.badge(name, color_scheme=color, variant="surface"))
            for name, color in CLASS_COLORS.items()
        ],
        rx.badge(encounter_class, variant="surface"),
    )


def severity_badge(severity: rx.Var) -> rx.Component:
    return rx.match(
        severity,
        ("severe", rx.badge("severe", color_scheme="red", variant="solid")),
        ("moderate", rx.badge("moderate", color_scheme="orange", variant="soft")),
        rx.badge(severity, color_scheme="gray", variant="soft"),
    )


def muted(*children, **props) -> rx.Component:
    return rx.text(*children, size="1", color_scheme="gray", **props)


def icon_text(
    icon: str, *children, size: str = "1", icon_size: int = 12, align: str = "center", **props
) -> rx.Component:
    """An icon in front of a line of text (an icon inside rx.text would sit on a line of its own)."""
    return rx.hstack(
        rx.icon(icon, size=icon_size, flex_shrink="0", margin_top="0.2em" if align == "start" else "0"),
        rx.text(*children, size=size),
        spacing="1",
        align=align,
        **props,
    )


# ---------------------------------------------------------------------- banner


def banner() -> rx.Component:
    links = rx.hstack(
        rx.link(
            rx.button(
                rx.icon("id-card", size=14), "Demographics", size="1", variant="soft", color_scheme="gray"
            ),
            href="/patients/" + S.pid.to_string() + "/details",
            data_testid="link-demographics",
        ),
        rx.link(
            rx.button(rx.icon("tag", size=14), "Wristband", size="1", variant="soft", color_scheme="gray"),
            href="/patients/" + S.pid.to_string() + "/wristband",
            data_testid="link-wristband",
        ),
        spacing="2",
    )
    identity = rx.vstack(
        rx.hstack(
            rx.heading(S.name, size="5", data_testid="chart-name"),
            rx.text(S.sex_label, " · ", S.age, size="2", color_scheme="gray", white_space="nowrap"),
            align="baseline",
            spacing="3",
            wrap="wrap",
        ),
        rx.text(
            "MRN ",
            rx.code(S.mrn, data_testid="chart-mrn"),
            " · born ",
            S.birth_date,
            size="2",
            color_scheme="gray",
        ),
        links,
        spacing="1",
        align="start",
    )
    allergy = rx.cond(
        S.banner_allergies.length() > 0,
        rx.badge(
            rx.icon("triangle-alert", size=13),
            "Allergies: ",
            S.banner_allergies.join(", "),
            color_scheme="red",
            variant="solid",
            size="2",
            white_space="normal",
            data_testid="allergy-badge",
        ),
        rx.badge(
            rx.icon("check", size=13),
            "No known allergies",
            color_scheme="green",
            variant="soft",
            size="2",
            data_testid="allergy-badge",
        ),
    )
    alerts = rx.foreach(
        S.alerts,
        lambda a: rx.badge(
            rx.icon("siren", size=13),
            a,
            color_scheme="red",
            variant="surface",
            size="2",
            data_testid="banner-alert",
        ),
    )
    problems = rx.flex(
        rx.foreach(
            S.banner_problem_badges,
            lambda p: rx.badge(
                p,
                variant="surface",
                color_scheme="gray",
                max_width="13rem",
                overflow="hidden",
                text_overflow="ellipsis",
                white_space="nowrap",
                display="block",
                title=p,
            ),
        ),
        rx.cond(
            S.banner_problems_more > 0,
            rx.badge(
                "+",
                S.banner_problems_more.to_string(),
                " more",
                variant="outline",
                color_scheme="gray",
                title=S.banner_problems.join("\n"),
            ),
        ),
        rx.cond(S.banner_problems.length() == 0, muted("No active problems")),
        spacing="1",
        wrap="wrap",
        data_testid="banner-problems",
    )
    return rx.box(
        rx.flex(
            identity,
            rx.vstack(
                rx.flex(allergy, alerts, spacing="2", wrap="wrap"),
                problems,
                spacing="2",
                align="start",
                flex="1",
                min_width="16rem",
            ),
            column_gap="1.5rem",
            row_gap="0.5rem",
            align="start",
            wrap="wrap",
            width="100%",
        ),
        score_alert(),
        position="sticky",
        top=HEADER_HEIGHT,
        z_index="5",
        width="100%",
        padding="0.75rem 1rem",
        background=rx.color("gray", 1),
        border=f"1px solid {rx.color('gray', 5)}",
        border_radius="var(--radius-3)",
        box_shadow="0 4px 10px -6px rgba(0,0,0,0.18)",
        on_mount=rx.call_script(MEASURE_JS),
        data_testid="chart-banner",
    )


# After switching to the summary, bring the scores into view just below the sticky banner.
SHOW_SCORES = rx.call_script(
    'setTimeout(() => document.getElementById("scores-panel")?.scrollIntoView({behavior: "smooth"}), 150)'
)


def score_alert() -> rx.Component:
    """NEWS2 5 or more, or 3 in one parameter: in the sticky banner, so it stays in view on every tab."""
    return rx.cond(
        S.score_alert != "",
        rx.callout(
            rx.hstack(
                rx.text(S.score_alert, weight="bold", size="2"),
                rx.spacer(),
                rx.button(
                    "See scores",
                    size="1",
                    variant="surface",
                    color_scheme="red",
                    on_click=[S.set_tab("summary"), SHOW_SCORES],
                    data_testid="news2-alert-open",
                ),
                align="center",
                width="100%",
                wrap="wrap",
            ),
            icon="siren",
            color_scheme="red",
            variant="surface",
            size="1",
            width="100%",
            margin_top="0.6rem",
            role="alert",
            data_testid="news2-alert",
        ),
    )


# ---------------------------------------------------------------------- summary


def score_input_row(i: ScoreInputLine, card: ScoreCard) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(rx.tooltip(rx.text(i.label, size="1"), content=i.source)),
        rx.table.cell(
            rx.text(i.value, rx.cond(i.unit != "", " " + i.unit, ""), size="1", weight="medium"),
        ),
        rx.cond(
            card.has_points,
            rx.table.cell(
                rx.text(i.points, size="1", weight=rx.cond(i.points == "3", "bold", "regular")),
                text_align="right",
            ),
        ),
        # Times per row only when the inputs were taken at different moments (else said once above).
        rx.cond(
            card.taken == "",
            rx.table.cell(muted(rx.cond(i.when != "", i.when, i.source), white_space="nowrap")),
        ),
    )


def score_card(card: ScoreCard) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.text(card.name, weight="bold", size="2"),
                rx.spacer(),
                rx.badge(card.band, color_scheme=card.color, variant="solid", size="1"),
                align="center",
                width="100%",
            ),
            rx.hstack(
                rx.text(card.value, size="7", weight="bold", line_height="1"),
                muted(card.unit),
                rx.spacer(),
                rx.cond(card.taken != "", muted("Taken ", card.taken, white_space="nowrap")),
                align="baseline",
                spacing="2",
                width="100%",
                wrap="wrap",
            ),
            rx.text(card.interpretation, size="1", color_scheme="gray"),
            scroll_box(
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            rx.table.column_header_cell("Input"),
                            rx.table.column_header_cell("Value"),
                            rx.cond(
                                card.has_points, rx.table.column_header_cell("Points", text_align="right")
                            ),
                            rx.cond(card.taken == "", rx.table.column_header_cell("When")),
                        )
                    ),
                    rx.table.body(rx.foreach(card.inputs, lambda i: score_input_row(i, card))),
                    variant="ghost",
                    size="1",
                    width="100%",
                ),
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
        border_top="3px solid var(--" + card.color + "-9)",
        data_testid="score-" + card.key,
    )


def scores_panel() -> rx.Component:
    return rx.card(
        rx.vstack(
            card_title("Clinical scores", "gauge"),
            rx.cond(
                S.score_cards.length() > 0,
                rx.grid(
                    rx.foreach(S.score_cards, score_card),
                    columns=rx.breakpoints(initial="1", md="2"),
                    spacing="3",
                    width="100%",
                ),
                muted(
                    "No score applies yet. NEWS2 and qSOFA need a full set of vitals (with consciousness and "
                    "oxygen); eGFR a creatinine result; CHA2DS2-VASc atrial fibrillation on the problem list."
                ),
            ),
            rx.foreach(S.score_notes, lambda note: icon_text("info", note, color=rx.color("gray", 11))),
            spacing="3",
            width="100%",
        ),
        width="100%",
        id="scores-panel",
        scroll_margin_top=BELOW_BANNER,
        data_testid="scores-panel",
    )


def summary_list(title: str, icon: str, items, empty: str, test_id: str) -> rx.Component:
    return rx.card(
        rx.vstack(
            card_title(title, icon),
            rx.cond(
                items.length() > 0,
                rx.vstack(rx.foreach(items, lambda item: rx.text(item, size="2")), spacing="1", width="100%"),
                muted(empty),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
        data_testid=test_id,
    )


def vital_row(v: VitalLine) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(v.label),
        rx.table.cell(
            rx.hstack(
                rx.text(v.value, " ", v.unit, weight="medium", white_space="nowrap"),
                rx.match(
                    v.flag,
                    ("high", rx.badge("high", color_scheme="red", size="1")),
                    ("low", rx.badge("low", color_scheme="orange", size="1")),
                    ("altered", rx.badge("not alert", color_scheme="red", size="1")),
                    rx.fragment(),
                ),
                spacing="2",
                align="center",
            )
        ),
        rx.table.cell(muted(v.when, white_space="nowrap")),
    )


def summary_tab() -> rx.Component:
    vitals = rx.card(
        rx.vstack(
            card_title("Latest vitals", "activity"),
            rx.cond(
                S.vitals.length() > 0,
                scroll_table(
                    header_cells("Vital sign", "Value", "When"),
                    rx.table.body(rx.foreach(S.vitals, vital_row)),
                ),
                muted("No vitals recorded yet."),
            ),
            rx.cond(
                S.bmi_value != "",
                rx.hstack(
                    rx.text("BMI ", rx.text.strong(S.bmi_value), " kg/m²", size="2"),
                    rx.badge(
                        S.bmi_category,
                        color_scheme=rx.cond(S.bmi_category == "healthy weight", "green", "orange"),
                        variant="soft",
                    ),
                    align="center",
                    data_testid="summary-bmi",
                ),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
        data_testid="summary-vitals",
    )
    return rx.grid(
        rx.box(scores_panel(), grid_column="1 / -1"),
        vitals,
        rx.vstack(
            summary_list(
                "Active problems",
                "stethoscope",
                S.summary_problems,
                "No active problems.",
                "summary-problems",
            ),
            summary_list(
                "Allergies", "triangle-alert", S.banner_allergies, "No known allergies.", "summary-allergies"
            ),
            spacing="4",
            width="100%",
        ),
        summary_list(
            "Active medications",
            "pill",
            S.summary_medications,
            "No active medications.",
            "summary-medications",
        ),
        summary_list(
            "Recent immunizations",
            "syringe",
            S.summary_immunizations,
            "No immunizations recorded.",
            "summary-immunizations",
        ),
        columns=rx.breakpoints(initial="1", lg="2"),
        spacing="4",
        width="100%",
    )


# ---------------------------------------------------------------------- encounters


def encounter_item(e: EncounterLine) -> rx.Component:
    chosen = S.selected_id == e.id
    return rx.box(
        rx.vstack(
            rx.hstack(
                class_badge(e.encounter_class),
                rx.text(e.start, size="2", weight="medium", white_space="nowrap"),
                status_badge(e.status),
                rx.spacer(),
                icon_text(
                    "file-text",
                    e.notes.to_string(),
                    color=rx.color("gray", 10),
                    white_space="nowrap",
                    title=e.notes.to_string() + " notes",
                ),
                align="center",
                spacing="2",
                width="100%",
                wrap="wrap",
            ),
            rx.text(
                rx.cond(e.reason != "", e.reason, "No reason given"),
                size="2",
                color_scheme=rx.cond(e.reason != "", "gray", "gray"),
            ),
            rx.cond(e.clinician != "", muted(e.clinician)),
            spacing="1",
            width="100%",
            align="start",
        ),
        on_click=S.select_encounter(e.id),
        cursor="pointer",
        padding="0.6rem 0.75rem",
        border_radius="var(--radius-2)",
        border=rx.cond(chosen, f"1px solid {rx.color('accent', 8)}", f"1px solid {rx.color('gray', 4)}"),
        background=rx.cond(chosen, rx.color("accent", 3), "transparent"),
        _hover={"background": rx.color("accent", 2)},
        width="100%",
        role="button",
        tab_index=0,
        data_testid="encounter-" + e.id.to_string(),
    )


def soap_section(label: str, text: rx.Var) -> rx.Component:
    return rx.cond(
        text != "",
        rx.vstack(
            rx.text(label, size="1", weight="bold", color_scheme="gray", text_transform="uppercase"),
            rx.text(text, size="2", white_space="pre-wrap"),
            spacing="0",
            width="100%",
            align="start",
        ),
    )


def note_card(n: NoteLine) -> rx.Component:
    amended = n.amended_by_id > 0
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.text("Note #", n.id.to_string(), weight="bold", size="2"),
                status_badge(n.status),
                rx.cond(
                    n.amends_id > 0,
                    rx.badge(
                        "Amends note #",
                        n.amends_id.to_string(),
                        color_scheme="violet",
                        variant="soft",
                        data_testid="amends-badge",
                    ),
                ),
                rx.cond(
                    amended,
                    rx.badge(
                        "Amended by note #",
                        n.amended_by_id.to_string(),
                        color_scheme="orange",
                        variant="soft",
                        data_testid="amended-by-badge",
                    ),
                ),
                rx.spacer(),
                muted(n.author, " · ", n.created),
                align="center",
                spacing="2",
                wrap="wrap",
                width="100%",
            ),
            *[soap_section(label, getattr(n, key)) for key, label, _hint in SOAP_LABELS],
            rx.cond(
                n.status == "signed",
                icon_text(
                    "lock",
                    "Signed by ",
                    n.signed_by,
                    " on ",
                    n.signed_at,
                    color=rx.color("green", 11),
                    data_testid="signed-line",
                ),
            ),
            write_only(
                rx.hstack(
                    rx.cond(
                        n.status == "draft",
                        rx.fragment(
                            rx.button(
                                rx.icon("pencil", size=14),
                                "Edit",
                                size="1",
                                variant="soft",
                                on_click=S.edit_note(n.id),
                                data_testid="edit-note-" + n.id.to_string(),
                            ),
                            rx.button(
                                rx.icon("pen-line", size=14),
                                "Sign",
                                size="1",
                                on_click=S.ask_sign(n.id),
                                data_testid="sign-note-" + n.id.to_string(),
                            ),
                        ),
                    ),
                    rx.cond(
                        (n.status == "signed") & ~amended,
                        rx.button(
                            rx.icon("file-pen", size=14),
                            "Amend",
                            size="1",
                            variant="soft",
                            color_scheme="orange",
                            on_click=S.amend(n.id),
                            data_testid="amend-note-" + n.id.to_string(),
                        ),
                    ),
                    spacing="2",
                )
            ),
            spacing="2",
            width="100%",
            align="start",
        ),
        width="100%",
        # An amended original is kept and shown, greyed a little: the amendment is what stands.
        opacity=rx.cond(amended, "0.75", "1"),
        data_testid="note-" + n.id.to_string(),
    )


def note_editor() -> rx.Component:
    return rx.card(
        rx.form(
            rx.vstack(
                rx.hstack(
                    rx.heading(
                        rx.cond(
                            S.editor_note_id > 0, "Draft note #" + S.editor_note_id.to_string(), "New note"
                        ),
                        size="3",
                    ),
                    rx.cond(
                        S.editor_amends > 0,
                        rx.badge(
                            "Amends note #",
                            S.editor_amends.to_string(),
                            color_scheme="violet",
                            variant="soft",
                        ),
                    ),
                    align="center",
                    spacing="2",
                ),
                rx.grid(
                    *[
                        rx.vstack(
                            rx.text(label, size="2", weight="medium", as_="label", html_for="soap-" + key),
                            rx.text_area(
                                name=key,
                                id="soap-" + key,
                                default_value=S.editor_texts[key],
                                placeholder=hint,
                                rows="4",
                                resize="vertical",
                                width="100%",
                                max_length=20000,
                                data_testid="soap-" + key,
                            ),
                            spacing="1",
                            width="100%",
                        )
                        for key, label, hint in SOAP_LABELS
                    ],
                    columns=rx.breakpoints(initial="1", md="2"),
                    spacing="3",
                    width="100%",
                ),
                rx.hstack(
                    muted("Saving keeps a draft you can still change. Signing locks the note."),
                    rx.spacer(),
                    rx.button(
                        "Cancel", type="button", variant="soft", color_scheme="gray", on_click=S.close_editor
                    ),
                    rx.button(rx.icon("save", size=14), "Save draft", type="submit", data_testid="save-note"),
                    align="center",
                    width="100%",
                    wrap="wrap",
                ),
                spacing="3",
                width="100%",
            ),
            on_submit=S.save_note,
            reset_on_submit=False,
            key=S.editor_key,
            width="100%",
        ),
        width="100%",
        border=f"1px solid {rx.color('accent', 7)}",
        data_testid="note-editor",
    )


def encounter_detail() -> rx.Component:
    e = S.selected
    return rx.cond(
        S.selected_id > 0,
        rx.vstack(
            rx.card(
                rx.vstack(
                    rx.hstack(
                        class_badge(e.encounter_class),
                        rx.heading(e.start, size="3"),
                        status_badge(e.status),
                        rx.spacer(),
                        rx.icon_button(
                            rx.icon("x", size=14),
                            variant="ghost",
                            color_scheme="gray",
                            size="1",
                            on_click=S.close_encounter,
                            aria_label="Close encounter",
                        ),
                        align="center",
                        spacing="2",
                        width="100%",
                        wrap="wrap",
                    ),
                    rx.text(rx.cond(e.reason != "", e.reason, "No reason given"), size="2"),
                    muted(
                        rx.cond(e.clinician != "", e.clinician, "No clinician recorded"),
                        rx.cond(e.end != "", " · finished " + e.end, ""),
                    ),
                    write_only(
                        rx.hstack(
                            rx.button(
                                rx.icon("file-plus", size=14),
                                "New note",
                                size="1",
                                on_click=S.new_note,
                                data_testid="new-note",
                            ),
                            rx.cond(
                                e.status == "in-progress",
                                rx.button(
                                    rx.icon("circle-check", size=14),
                                    "Finish encounter",
                                    size="1",
                                    variant="soft",
                                    color_scheme="gray",
                                    on_click=S.finish_encounter(e.id),
                                    data_testid="finish-encounter",
                                ),
                            ),
                            spacing="2",
                        )
                    ),
                    spacing="2",
                    width="100%",
                    align="start",
                ),
                width="100%",
            ),
            rx.cond(S.editor_open, note_editor()),
            rx.cond(
                S.notes_loading,
                rx.skeleton(rx.box(height="8rem", width="100%")),
                rx.cond(
                    S.notes.length() > 0,
                    rx.vstack(rx.foreach(S.notes, note_card), spacing="3", width="100%"),
                    rx.cond(
                        ~S.editor_open,
                        rx.card(empty_state("No notes for this encounter yet.", "file-text"), width="100%"),
                    ),
                ),
            ),
            spacing="3",
            width="100%",
        ),
        # Below the list on a narrow screen, this hint would only be scrolled to; it shows beside the list.
        rx.card(
            empty_state("Choose an encounter to read and write its notes.", "mouse-pointer-click"),
            width="100%",
            display=WIDE_ONLY,
        ),
    )


def encounters_tab() -> rx.Component:
    timeline = rx.vstack(
        rx.hstack(
            rx.heading("Timeline", size="3"),
            rx.spacer(),
            add_button("New encounter", "encounter", "new-encounter"),
            align="center",
            width="100%",
        ),
        rx.cond(
            S.enc_total > 0,
            rx.vstack(
                rx.foreach(S.encounters, encounter_item),
                pager(
                    S.enc_page,
                    S.enc_page_count,
                    S.enc_total,
                    S.prev_encounters,
                    S.next_encounters,
                    noun="encounters",
                ),
                spacing="2",
                width="100%",
            ),
            rx.card(empty_state("No encounters yet.", "calendar-x"), width="100%"),
        ),
        spacing="3",
        width="100%",
        data_testid="timeline",
    )
    return rx.grid(
        timeline,
        # Scrolled to when an encounter is chosen, just clear of the sticky header and banner.
        rx.box(encounter_detail(), id="encounter-detail", scroll_margin_top=BELOW_BANNER, width="100%"),
        columns=rx.breakpoints(initial="1", lg="minmax(0, 2fr) minmax(0, 3fr)"),
        spacing="4",
        width="100%",
        align_items="start",
    )


# ---------------------------------------------------------------------- vitals


def vital_input(key: str, label: str, unit: str, decimals: int) -> rx.Component:
    failed = S.vital_error_field == key
    return rx.vstack(
        rx.text(
            label,
            " ",
            rx.text.span("(" + unit + ")", color_scheme="gray", weight="regular"),
            size="2",
            weight="medium",
            as_="label",
            html_for="vital-" + key,
        ),
        rx.input(
            name=key,
            id="vital-" + key,
            type="number",
            step="any" if decimals else "1",
            input_mode="decimal",
            placeholder=unit,
            width="100%",
            color_scheme=rx.cond(failed, "red", "gray"),
            variant=rx.cond(failed, "soft", "surface"),
            data_testid="vital-" + key,
        ),
        rx.cond(
            failed,
            icon_text(
                "circle-alert",
                S.vital_error_text,
                color=rx.color("red", 11),
                align="start",
                data_testid="vital-error-" + key,
            ),
        ),
        spacing="1",
        width="100%",
        align="start",
    )


def consciousness_select() -> rx.Component:
    failed = S.vital_error_field == "consciousness"
    return rx.vstack(
        rx.text("Consciousness (ACVPU)", size="2", weight="medium"),
        rx.select.root(
            rx.select.trigger(width="100%", data_testid="vital-consciousness"),
            rx.select.content(
                rx.select.item("Not assessed", value=NOT_ASSESSED),
                *[rx.select.item(label, value=value) for value, label in ACVPU_CHOICES],
            ),
            name="consciousness",
            default_value=NOT_ASSESSED,
        ),
        rx.cond(failed, rx.text(S.vital_error_text, color_scheme="red", size="1")),
        spacing="1",
        width="100%",
        align="start",
    )


def vitals_form() -> rx.Component:
    field_names = [key for key, *_ in VITAL_FIELDS] + ["encounter_id", "consciousness"]
    return rx.card(
        rx.form(
            rx.vstack(
                card_title("Record vitals", "clipboard-plus"),
                # Four across while the form has the whole width, two once the trend sits beside it.
                rx.grid(
                    *[vital_input(*f) for f in VITAL_FIELDS],
                    consciousness_select(),
                    columns=rx.breakpoints(initial="2", md="4", lg="2"),
                    spacing="3",
                    width="100%",
                ),
                rx.vstack(
                    rx.text("Encounter (optional)", size="2", weight="medium"),
                    rx.select.root(
                        rx.select.trigger(placeholder="Not part of an encounter", width="100%"),
                        rx.select.content(
                            rx.select.item("Not part of an encounter", value=NO_ENCOUNTER),
                            rx.foreach(
                                S.open_encounters,
                                lambda e: rx.select.item(
                                    e.start + " · " + e.encounter_class, value=e.id.to_string()
                                ),
                            ),
                        ),
                        name="encounter_id",
                        default_value=NO_ENCOUNTER,
                    ),
                    rx.cond(
                        S.vital_error_field == "encounter_id",
                        rx.text(S.vital_error_text, color_scheme="red", size="1"),
                    ),
                    spacing="1",
                    width="100%",
                ),
                rx.cond(
                    (S.vital_error_text != "") & ~rx.Var.create(field_names).contains(S.vital_error_field),
                    rx.callout(
                        S.vital_error_text,
                        icon="triangle-alert",
                        color_scheme="red",
                        size="1",
                        width="100%",
                        data_testid="vitals-error",
                    ),
                ),
                rx.hstack(
                    muted(
                        "BMI is worked out from weight and the latest height. Oxygen 0 L/min means room air; "
                        "NEWS2 needs all seven of its observations."
                    ),
                    rx.spacer(),
                    rx.button(
                        rx.icon("save", size=14),
                        "Record",
                        type="submit",
                        loading=S.saving,
                        data_testid="record-vitals",
                    ),
                    align="center",
                    width="100%",
                ),
                spacing="3",
                width="100%",
            ),
            on_submit=S.submit_vitals,
            reset_on_submit=False,
            key=S.vitals_form_key.to_string(),
            width="100%",
        ),
        width="100%",
    )


def trend_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.icon("chart-line", size=18, color=rx.color("accent", 10)),
                rx.heading("Trend", size="3"),
                rx.cond(S.trend_loading, rx.spinner(size="1")),
                rx.spacer(),
                rx.select.root(
                    rx.select.trigger(min_width="12rem", data_testid="trend-select"),
                    rx.select.content(*[rx.select.item(spec_for(k).display, value=k) for k in TREND_KEYS]),
                    value=S.trend_key,
                    on_change=S.set_trend_key,
                ),
                align="center",
                width="100%",
                wrap="wrap",
            ),
            rx.cond(
                S.trend_loaded,
                rx.box(
                    rx.plotly(
                        data=S.trend_figure,
                        width="100%",
                        height="340px",
                        config={"displayModeBar": False, "responsive": True},
                    ),
                    width="100%",
                    min_height="340px",
                    data_testid="trend-chart",
                ),
                rx.skeleton(rx.box(height="340px", width="100%")),
            ),
            muted(
                S.trend_count.to_string(), " measurements (the latest 200 at most). Shaded: the normal range."
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def vitals_tab() -> rx.Component:
    return rx.grid(
        rx.cond(CAN_WRITE, vitals_form(), rx.fragment()),
        trend_card(),
        columns=rx.breakpoints(initial="1", lg=rx.cond(CAN_WRITE, "minmax(0, 2fr) minmax(0, 3fr)", "1fr")),
        spacing="4",
        width="100%",
        align_items="start",
    )


# ---------------------------------------------------------------------- problems


def condition_menu(c: ConditionLine) -> rx.Component:
    return rx.menu.root(
        rx.menu.trigger(
            rx.icon_button(
                rx.icon("ellipsis", size=16),
                variant="ghost",
                color_scheme="gray",
                size="1",
                aria_label="Change the status of " + c.code,
            )
        ),
        rx.menu.content(
            rx.cond(
                c.status != "resolved",
                rx.menu.item(rx.icon("circle-check", size=14), "Resolve…", on_click=S.ask_resolve(c.id)),
            ),
            rx.cond(
                c.status == "active",
                rx.menu.item(
                    rx.icon("pause", size=14),
                    "Mark inactive",
                    on_click=S.set_problem_status(c.id, "inactive"),
                ),
            ),
            rx.cond(
                c.status != "active",
                rx.menu.item(
                    rx.icon("rotate-ccw", size=14),
                    "Reactivate",
                    on_click=S.set_problem_status(c.id, "active"),
                ),
            ),
        ),
    )


def condition_row(c: ConditionLine) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(rx.code(c.code, variant="ghost", weight="bold")),
        rx.table.cell(c.description),
        rx.table.cell(status_badge(c.status)),
        rx.table.cell(rx.text(c.onset, white_space="nowrap")),
        rx.table.cell(rx.text(c.resolved, white_space="nowrap")),
        rx.table.cell(write_only(condition_menu(c)), text_align="right"),
        align="center",
        data_testid="condition-" + c.code,
    )


def record_card(title: str, icon: str, header: rx.Component, rows, row, empty: str, *actions) -> rx.Component:
    """A titled card with a table of `rows` (one `row` each), or an empty state with the card's icon."""
    return rx.card(
        rx.vstack(
            card_title(title, icon, *actions),
            rx.cond(
                rows.length() > 0,
                scroll_table(header, rx.table.body(rx.foreach(rows, row))),
                empty_state(empty, icon),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def problems_tab() -> rx.Component:
    return record_card(
        "Problem list",
        "stethoscope",
        header_cells("Code", "Description", "Status", "Onset", "Resolved", ""),
        S.conditions,
        condition_row,
        "No problems recorded.",
        add_button("Add problem", "problem", "add-problem"),
    )


# ---------------------------------------------------------------------- allergies, medications, immunizations


def allergy_row(a: AllergyLine) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(rx.text(a.substance, weight="medium")),
        rx.table.cell(a.reaction),
        rx.table.cell(severity_badge(a.severity)),
        rx.table.cell(status_badge(a.status)),
        rx.table.cell(
            write_only(
                rx.menu.root(
                    rx.menu.trigger(
                        rx.icon_button(
                            rx.icon("ellipsis", size=16),
                            variant="ghost",
                            color_scheme="gray",
                            size="1",
                            aria_label="Change the status of " + a.substance,
                        )
                    ),
                    rx.menu.content(
                        rx.cond(
                            a.status != "active",
                            rx.menu.item("Reactivate", on_click=S.set_allergy_status(a.id, "active")),
                        ),
                        rx.cond(
                            a.status != "inactive",
                            rx.menu.item("Mark inactive", on_click=S.set_allergy_status(a.id, "inactive")),
                        ),
                        rx.cond(
                            a.status != "resolved",
                            rx.menu.item("Mark resolved", on_click=S.set_allergy_status(a.id, "resolved")),
                        ),
                    ),
                )
            ),
            text_align="right",
        ),
        align="center",
        data_testid="allergy-row",
    )


def medication_row(m: MedicationLine) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(rx.text(m.medication, weight="medium")),
        rx.table.cell(m.dosage),
        rx.table.cell(status_badge(m.status)),
        rx.table.cell(rx.text(m.started, white_space="nowrap")),
        rx.table.cell(rx.cond(m.status == "stopped", rx.text(m.stopped, " · ", m.stop_reason, size="2"))),
        rx.table.cell(
            write_only(
                rx.cond(
                    m.status == "active",
                    rx.button(
                        "Stop", size="1", variant="soft", color_scheme="red", on_click=S.ask_stop(m.id)
                    ),
                )
            ),
            text_align="right",
        ),
        align="center",
    )


def immunization_row(i: ImmunizationLine) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(rx.text(i.vaccine, weight="medium")),
        rx.table.cell(rx.text(i.date, white_space="nowrap")),
        rx.table.cell(i.lot),
        align="center",
    )


def allergies_tab() -> rx.Component:
    return rx.vstack(
        record_card(
            "Allergies",
            "triangle-alert",
            header_cells("Substance", "Reaction", "Severity", "Status", ""),
            S.allergies,
            allergy_row,
            "No allergies recorded.",
            add_button("Add allergy", "allergy", "add-allergy"),
        ),
        record_card(
            "Medications",
            "pill",
            header_cells("Medication", "Dosage", "Status", "Started", "Stopped", ""),
            S.medications,
            medication_row,
            "No medications recorded.",
            add_button("Add medication", "medication", "add-medication"),
        ),
        record_card(
            "Immunizations",
            "syringe",
            header_cells("Vaccine", "Date given", "Lot"),
            S.immunizations,
            immunization_row,
            "No immunizations recorded.",
            add_button("Add immunization", "immunization", "add-immunization"),
        ),
        spacing="4",
        width="100%",
    )


# ---------------------------------------------------------------------- documents


def document_row(d: DocumentLine) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.link(
                icon_text("external-link", d.title, size="2"),
                href="/api/documents/" + d.id.to_string(),
                is_external=True,
                weight="medium",
                data_testid="document-link",
            ),
        ),
        rx.table.cell(rx.badge(d.kind, variant="surface", color_scheme="gray")),
        rx.table.cell(rx.text(d.size, white_space="nowrap")),
        rx.table.cell(rx.text(d.date, white_space="nowrap")),
        rx.table.cell(d.by),
        align="center",
    )


def upload_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            card_title("Add a document", "upload"),
            rx.input(
                id="doc-title",
                placeholder="Title (the file name if left empty)",
                max_length=200,
                on_blur=S.set_doc_title,
                width="100%",
                data_testid="doc-title",
            ),
            rx.upload(
                rx.vstack(
                    rx.icon("file-up", size=28, color=rx.color("gray", 9)),
                    rx.text("Drop a PDF, PNG or JPEG here, or click to choose", size="2"),
                    muted(f"One file, at most {MAX_DOCUMENT_BYTES // (1024 * 1024)} MB"),
                    align="center",
                    spacing="1",
                ),
                id=UPLOAD_ID,
                accept={"application/pdf": [".pdf"], "image/png": [".png"], "image/jpeg": [".jpg", ".jpeg"]},
                max_files=1,
                multiple=False,
                max_size=MAX_DOCUMENT_BYTES,
                border=f"1px dashed {rx.color('gray', 7)}",
                border_radius="var(--radius-3)",
                padding="1.25rem",
                width="100%",
                cursor="pointer",
                data_testid="doc-drop",
            ),
            rx.hstack(
                rx.foreach(
                    rx.selected_files(UPLOAD_ID),
                    lambda f: rx.badge(
                        rx.icon("file", size=12), f, variant="soft", data_testid="doc-selected"
                    ),
                ),
                rx.spacer(),
                # A button, not a submit: a form submit would reload the page and cancel the upload.
                rx.button(
                    rx.icon("upload", size=14),
                    "Upload",
                    type="button",
                    loading=S.uploading,
                    on_click=S.upload_document(rx.upload_files(upload_id=UPLOAD_ID)),
                    data_testid="doc-upload",
                ),
                align="center",
                width="100%",
                wrap="wrap",
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def documents_tab() -> rx.Component:
    listing = record_card(
        "Documents",
        "file-text",
        header_cells("Title", "Type", "Size", "Added", "By"),
        S.documents,
        document_row,
        "No documents yet.",
    )
    return rx.grid(
        listing,
        write_only(upload_card()),
        columns=rx.breakpoints(initial="1", lg=rx.cond(CAN_WRITE, "minmax(0, 3fr) minmax(0, 2fr)", "1fr")),
        spacing="4",
        width="100%",
        align_items="start",
    )


# ---------------------------------------------------------------------- dialogs


def field_error(name: str) -> rx.Component:
    return rx.cond(
        S.error_field == name,
        icon_text(
            "circle-alert",
            S.error_text,
            color=rx.color("red", 11),
            align="start",
            data_testid="error-" + name,
        ),
    )


def general_error() -> rx.Component:
    return rx.cond(
        (S.error_text != "") & (S.error_field == ""),
        rx.callout(
            S.error_text,
            icon="triangle-alert",
            color_scheme="red",
            size="1",
            width="100%",
            data_testid="dialog-error",
        ),
    )


def labelled(label: str, control: rx.Component, name: str, hint: str = "") -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", weight="medium", as_="label"),
        control,
        muted(hint) if hint else rx.fragment(),
        field_error(name),
        spacing="1",
        width="100%",
        align="start",
    )


def buttons(label: str) -> rx.Component:
    return rx.flex(
        rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
        rx.button(label, type="submit", loading=S.saving, data_testid="dialog-submit"),
        spacing="3",
        justify="end",
        width="100%",
        padding_top="0.5rem",
    )


def dialog(name: str, title: str, description, body: rx.Component, max_width: str = "32rem") -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(title),
            rx.dialog.description(description, size="2", color_scheme="gray", margin_bottom="1rem"),
            body,
            max_width=max_width,
            data_testid="dialog-" + name,
        ),
        open=S.dialog == name,
        on_open_change=S.on_dialog_change,
    )


def form_dialog(name: str, title: str, description, submit, label: str, *fields, max_width: str = "32rem"):
    return dialog(
        name,
        title,
        description,
        rx.form(
            rx.vstack(*fields, general_error(), buttons(label), spacing="3", width="100%"),
            on_submit=submit,
            reset_on_submit=False,
        ),
        max_width=max_width,
    )


def date_input(name: str, **props) -> rx.Component:
    return rx.input(name=name, type="date", width="100%", **props)


def simple_select(name: str, options, default: str) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(width="100%"),
        rx.select.content(*[rx.select.item(label, value=value) for value, label in options]),
        name=name,
        default_value=default,
    )


def icd_result(r: IcdLine) -> rx.Component:
    chosen = S.icd_code == r.code
    return rx.hstack(
        rx.code(r.code, weight="bold", variant="ghost", min_width="4.5rem"),
        rx.text(r.description, size="2"),
        on_click=S.pick_icd(r.code),
        cursor="pointer",
        padding="0.35rem 0.5rem",
        border_radius="var(--radius-2)",
        background=rx.cond(chosen, rx.color("accent", 4), "transparent"),
        _hover={"background": rx.color("accent", 3)},
        width="100%",
        align="start",
        data_testid="icd-" + r.code,
    )


def problem_dialog() -> rx.Component:
    return form_dialog(
        "problem",
        "Add a problem",
        "Search ICD-10-CM by code (E11.9) or words (type 2 diabetes). Only billable codes are listed.",
        S.submit_problem,
        "Add to problem list",
        rx.input(
            rx.input.slot(rx.icon("search", size=16)),
            placeholder="Code or words",
            on_change=S.set_icd_query.debounce(300),
            max_length=60,
            auto_focus=True,
            width="100%",
            data_testid="icd-search",
        ),
        rx.cond(S.icd_searching, rx.hstack(rx.spinner(size="1"), muted("Searching…"), align="center")),
        rx.cond(
            S.icd_results.length() > 0,
            rx.scroll_area(
                rx.vstack(rx.foreach(S.icd_results, icd_result), spacing="0", width="100%"),
                max_height="15rem",
                type="auto",
                scrollbars="vertical",
            ),
            rx.cond((S.icd_query.length() >= 2) & ~S.icd_searching, muted("No billable code matches.")),
        ),
        rx.cond(
            S.icd_code != "",
            rx.callout(
                rx.text(rx.text.strong(S.icd_code), " ", S.icd_description),
                icon="check",
                size="1",
                color_scheme="green",
                width="100%",
                data_testid="icd-picked",
            ),
        ),
        field_error("code"),
        labelled("Onset date (optional)", date_input("onset_date"), "onset_date"),
        max_width="40rem",
    )


def dialogs() -> rx.Component:
    return rx.fragment(
        form_dialog(
            "encounter",
            "New encounter",
            "Opens a visit, admission, emergency attendance or video visit.",
            S.submit_encounter,
            "Start encounter",
            labelled(
                "Class",
                simple_select(
                    "encounter_class", [(c, c.capitalize()) for c in ENCOUNTER_CLASSES], "outpatient"
                ),
                "encounter_class",
            ),
            labelled(
                "Reason",
                rx.input(name="reason", max_length=300, placeholder="e.g. Chest pain", width="100%"),
                "reason",
            ),
        ),
        problem_dialog(),
        form_dialog(
            "resolve",
            "Resolve problem",
            rx.text("Marks ", rx.text.strong(S.dialog_subject), " as resolved."),
            S.submit_resolve,
            "Resolve",
            labelled(
                "Resolution date", date_input("abatement_date"), "abatement_date", "Today if left empty."
            ),
        ),
        form_dialog(
            "allergy",
            "Add an allergy",
            "A substance the patient reacts to.",
            S.submit_allergy,
            "Add allergy",
            labelled(
                "Substance",
                rx.input(
                    name="substance",
                    max_length=120,
                    required=True,
                    width="100%",
                    placeholder="e.g. Penicillin",
                ),
                "substance",
            ),
            labelled(
                "Reaction",
                rx.input(name="reaction", max_length=200, width="100%", placeholder="e.g. Hives"),
                "reaction",
            ),
            labelled(
                "Severity",
                simple_select("severity", [(s, s.capitalize()) for s in SEVERITIES], "moderate"),
                "severity",
            ),
        ),
        form_dialog(
            "medication",
            "Add a medication",
            "A medicine the patient takes.",
            S.submit_medication,
            "Add medication",
            labelled(
                "Medication",
                rx.input(
                    name="medication",
                    max_length=200,
                    required=True,
                    width="100%",
                    placeholder="e.g. Metformin",
                ),
                "medication",
            ),
            labelled(
                "Dosage",
                rx.input(name="dosage", max_length=200, width="100%", placeholder="e.g. 500 mg twice daily"),
                "dosage",
            ),
            labelled("Started on (optional)", date_input("started_on"), "started_on"),
        ),
        form_dialog(
            "stop",
            "Stop medication",
            rx.text("Stops ", rx.text.strong(S.dialog_subject), "; the reason is kept."),
            S.submit_stop,
            "Stop medication",
            labelled(
                "Reason",
                rx.input(
                    name="stop_reason",
                    max_length=200,
                    required=True,
                    width="100%",
                    placeholder="e.g. Side effects",
                ),
                "stop_reason",
            ),
            labelled("Stopped on", date_input("stopped_on"), "stopped_on", "Today if left empty."),
        ),
        form_dialog(
            "immunization",
            "Add an immunization",
            "A vaccine given.",
            S.submit_immunization,
            "Add immunization",
            labelled(
                "Vaccine",
                rx.input(
                    name="vaccine",
                    max_length=120,
                    required=True,
                    width="100%",
                    placeholder="e.g. Influenza, seasonal",
                ),
                "vaccine",
            ),
            labelled("Date given", date_input("occurrence_date", required=True), "occurrence_date"),
            labelled(
                "Lot number (optional)",
                rx.input(name="lot_number", max_length=40, width="100%"),
                "lot_number",
            ),
        ),
        rx.alert_dialog.root(
            rx.alert_dialog.content(
                rx.alert_dialog.title("Sign ", S.dialog_subject, "?"),
                rx.alert_dialog.description(
                    "A signed note is locked: nobody can change it. Corrections are made as an amendment, and the "
                    "original stays visible.",
                    size="2",
                ),
                rx.box(general_error(), padding_top="0.75rem"),
                rx.flex(
                    rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                    rx.button(
                        rx.icon("pen-line", size=14),
                        "Sign and lock",
                        loading=S.saving,
                        on_click=S.confirm_sign,
                        data_testid="confirm-sign",
                    ),
                    spacing="3",
                    justify="end",
                    padding_top="1rem",
                ),
                max_width="30rem",
            ),
            open=S.dialog == "sign",
            on_open_change=S.on_dialog_change,
        ),
    )


# ---------------------------------------------------------------------- page


def loading_skeleton() -> rx.Component:
    return rx.vstack(
        rx.skeleton(rx.box(height="5.5rem", width="100%")),
        rx.skeleton(rx.box(height="2.5rem", width="100%")),
        rx.grid(
            *[rx.skeleton(rx.box(height="10rem")) for _ in range(4)],
            columns=rx.breakpoints(initial="1", lg="2"),
            spacing="4",
            width="100%",
        ),
        spacing="4",
        width="100%",
        data_testid="chart-loading",
    )


TAB_LABELS = (
    ("summary", "Summary", "layout-dashboard"),
    ("encounters", "Encounters", "calendar-days"),
    ("vitals", "Vitals", "activity"),
    ("problems", "Problems", "stethoscope"),
    ("allergies", "Allergies & meds", "pill"),
    ("documents", "Documents", "file-text"),
)
TAB_VIEWS = {
    "summary": summary_tab,
    "encounters": encounters_tab,
    "vitals": vitals_tab,
    "problems": problems_tab,
    "allergies": allergies_tab,
    "documents": documents_tab,
}


def tabs() -> rx.Component:
    return rx.tabs.root(
        rx.tabs.list(
            *[
                rx.tabs.trigger(
                    rx.hstack(rx.icon(icon, size=14), label, spacing="1", align="center"),
                    value=value,
                    data_testid="tab-" + value,
                )
                for value, label, icon in TAB_LABELS
            ],
            size=rx.breakpoints(initial="1", lg="2"),
            style={"flex_wrap": "wrap"},
        ),
        *[
            rx.tabs.content(TAB_VIEWS[value](), value=value, padding_top="1rem")
            for value, _label, _icon in TAB_LABELS
        ],
        value=S.tab,
        on_change=S.set_tab,
        width="100%",
    )


@staff_page(route="/patients/[patient_id]", title="Patient chart", on_load=ChartState.load)
def chart_page() -> rx.Component:
    return rx.vstack(
        rx.cond(
            SessionState.user_permissions.contains("patient.read"),
            rx.cond(
                S.loaded & (S.shown_path == S.router.url.path),
                rx.cond(
                    S.problem != "",
                    rx.card(
                        empty_state(S.problem, "user-x"),
                        rx.center(
                            rx.link(rx.button("Go to the patient list", variant="soft"), href="/patients")
                        ),
                        width="100%",
                        data_testid="chart-problem",
                    ),
                    rx.vstack(banner(), tabs(), spacing="4", width="100%"),
                ),
                loading_skeleton(),
            ),
            # What a role without the permission sees (the server refuses the data anyway).
            rx.callout(
                "Your role does not give access to patient records.",
                icon="shield-alert",
                color_scheme="amber",
                width="100%",
                data_testid="no-access",
            ),
        ),
        dialogs(),
        spacing="4",
        width="100%",
    )
