"""The chart's Encounters tab: the timeline, the chosen encounter with its notes, the new-encounter dialog."""

from __future__ import annotations

import reflex as rx

from hms_app.components.ui import count_text, empty_state, pager
from hms_app.pages.chart.common import (
    BELOW_BANNER,
    WIDE_ONLY,
    add_button,
    icon_text,
    muted,
    status_badge,
    write_only,
)
from hms_app.pages.chart.dialogs import form_dialog, labelled, simple_select
from hms_app.pages.chart.notes import note_card, note_editor
from hms_app.state.chart.encounters import ENCOUNTER_CLASS_CHOICES, ChartEncountersState, EncounterLine

CLASS_COLORS = {"outpatient": "blue", "inpatient": "purple", "emergency": "red", "virtual": "cyan"}


def class_badge(e: EncounterLine) -> rx.Component:
    return rx.match(
        e.encounter_class,
        *[
            (name, rx.badge(e.class_label, color_scheme=color, variant="surface"))
            for name, color in CLASS_COLORS.items()
        ],
        rx.badge(e.class_label, variant="surface"),
    )


def encounter_item(e: EncounterLine) -> rx.Component:
    chosen = ChartEncountersState.selected_id == e.id
    return rx.box(
        rx.vstack(
            rx.hstack(
                class_badge(e),
                rx.text(e.start, size="2", weight="medium", white_space="nowrap"),
                status_badge(e.status),
                rx.spacer(),
                icon_text(
                    "file-text",
                    e.notes.to_string(),
                    color=rx.color("gray", 10),
                    white_space="nowrap",
                    title=count_text(e.notes, "note"),
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
        on_click=ChartEncountersState.select_encounter(e.id),
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


def encounter_detail() -> rx.Component:
    e = ChartEncountersState.selected
    return rx.cond(
        ChartEncountersState.selected_id > 0,
        rx.vstack(
            rx.card(
                rx.vstack(
                    rx.hstack(
                        class_badge(e),
                        rx.heading(e.start, size="3"),
                        status_badge(e.status),
                        rx.spacer(),
                        rx.icon_button(
                            rx.icon("x", size=14),
                            variant="ghost",
                            color_scheme="gray",
                            size="1",
                            on_click=ChartEncountersState.close_encounter,
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
                                on_click=ChartEncountersState.new_note,
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
                                    on_click=ChartEncountersState.finish_encounter(e.id),
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
            rx.cond(ChartEncountersState.editor_open, note_editor()),
            rx.cond(
                ChartEncountersState.notes_loading,
                rx.skeleton(rx.box(height="8rem", width="100%")),
                rx.cond(
                    ChartEncountersState.notes.length() > 0,
                    rx.vstack(rx.foreach(ChartEncountersState.notes, note_card), spacing="3", width="100%"),
                    rx.cond(
                        ~ChartEncountersState.editor_open,
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
            ChartEncountersState.enc_total > 0,
            rx.vstack(
                rx.foreach(ChartEncountersState.encounters, encounter_item),
                pager(
                    ChartEncountersState.enc_page,
                    ChartEncountersState.enc_page_count,
                    ChartEncountersState.enc_total,
                    ChartEncountersState.move_encounters(-1),
                    ChartEncountersState.move_encounters(1),
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


def encounter_dialogs() -> rx.Component:
    return form_dialog(
        ChartEncountersState,
        "encounter",
        "New encounter",
        "Opens a visit, admission, emergency attendance or video visit.",
        ChartEncountersState.submit_encounter,
        "Start encounter",
        labelled(
            ChartEncountersState,
            "Class",
            simple_select("encounter_class", ENCOUNTER_CLASS_CHOICES, "outpatient"),
            "encounter_class",
        ),
        labelled(
            ChartEncountersState,
            "Reason",
            rx.input(name="reason", max_length=300, placeholder="e.g. Chest pain", width="100%"),
            "reason",
        ),
    )
