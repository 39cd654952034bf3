"""/video/[visit_id]: the clinician's video visit: the call beside the patient's chart summary and
the visit note; admit a waiting patient, end the visit (completed and charged, the note kept)."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, no_access
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, section, skeleton_rows
from hms_app.components.video_call import video_call
from hms_app.state.video_visits import VideoCallState as S

STATUS_TEXT = {
    "not_started": "The patient has not entered the waiting room yet.",
    "waiting": "The patient is in the waiting room.",
    "admitted": "In the call.",
    "ended": "This visit has ended.",
}


def header() -> rx.Component:
    return rx.flex(
        rx.vstack(
            rx.heading(S.patient, size="5", data_testid="call-patient"),
            rx.text(
                S.reference, " · ", S.when, " · MRN ", S.mrn, " · ", S.age_sex, size="2", color_scheme="gray"
            ),
            spacing="1",
        ),
        rx.hstack(
            rx.badge(
                rx.match(
                    S.status,
                    ("waiting", "Waiting"),
                    ("admitted", "In call"),
                    ("ended", "Ended"),
                    "Not joined",
                ),
                color_scheme=rx.match(
                    S.status, ("waiting", "amber"), ("admitted", "blue"), ("ended", "grass"), "gray"
                ),
                size="2",
                data_testid="call-status-badge",
            ),
            rx.cond(
                S.status == "waiting",
                rx.button(rx.icon("door-open", size=16), "Admit", on_click=S.admit, data_testid="call-admit"),
            ),
            spacing="2",
            align="center",
        ),
        justify="between",
        align="start",
        width="100%",
        wrap="wrap",
        gap="2",
    )


def video_panel() -> rx.Component:
    return rx.box(
        rx.cond(
            S.status == "admitted",
            video_call(visit_id=S.visit_id, side="clinician", ice=S.ice, mode="call", active=True),
            rx.card(
                rx.vstack(
                    rx.icon("video", size=32, color="var(--gray-9)"),
                    rx.text(
                        rx.match(
                            S.status,
                            ("waiting", STATUS_TEXT["waiting"] + " Admit them to start the call."),
                            ("ended", STATUS_TEXT["ended"]),
                            STATUS_TEXT["not_started"] + " This page updates when they arrive.",
                        ),
                        align="center",
                    ),
                    align="center",
                    padding="3rem 1rem",
                    spacing="3",
                ),
                width="100%",
                data_testid="call-placeholder",
            ),
        ),
        flex="3 1 28rem",
        min_width="0",
    )


def listing(title: str, items, empty: str, test_id: str) -> rx.Component:
    return rx.vstack(
        rx.text(title, weight="bold", size="2"),
        rx.cond(
            items.length() > 0,
            rx.vstack(rx.foreach(items, lambda item: rx.text(item, size="2")), spacing="0"),
            rx.text(empty, size="2", color_scheme="gray"),
        ),
        spacing="1",
        data_testid=test_id,
    )


def summary() -> rx.Component:
    return section(
        "Chart summary",
        rx.grid(
            listing("Allergies", S.allergies, "None recorded", "call-allergies"),
            listing("Problems", S.problems, "None recorded", "call-problems"),
            listing("Medications", S.medications, "None active", "call-medications"),
            listing("Alerts", S.alerts, "None", "call-alerts"),
            columns="2",
            spacing="3",
            width="100%",
        ),
        rx.link("Open the full chart", href=f"/patients/{S.patient_id}", size="2", is_external=True),
    )


def note_field(name: str, label: str, value) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", weight="medium"),
        rx.text_area(
            name=name,
            default_value=value,
            rows="3",
            width="100%",
            disabled=S.note_status == "signed",
            data_testid=f"note-{name}",
        ),
        spacing="1",
        width="100%",
    )


def note_form() -> rx.Component:
    return section(
        "Visit note",
        rx.form(
            rx.vstack(
                note_field("subjective", "Subjective", S.subjective),
                note_field("objective", "Objective", S.objective),
                note_field("assessment", "Assessment", S.assessment),
                note_field("plan", "Plan", S.plan),
                rx.flex(
                    rx.text(S.note_saved, size="1", color_scheme="gray"),
                    rx.cond(S.note_status == "signed", rx.badge("Signed", color_scheme="grass")),
                    rx.spacer(),
                    rx.cond(
                        S.note_status != "signed",
                        rx.button("Save draft", type="submit", variant="soft", data_testid="note-save"),
                    ),
                    rx.cond(
                        (S.note_id > 0) & (S.note_status != "signed"),
                        rx.button(
                            "Sign", type="button", variant="soft", on_click=S.sign, data_testid="note-sign"
                        ),
                    ),
                    spacing="2",
                    align="center",
                    width="100%",
                    wrap="wrap",
                ),
                rx.cond(
                    S.status == "admitted",
                    rx.alert_dialog.root(
                        rx.alert_dialog.trigger(
                            rx.button(
                                rx.icon("phone-off", size=16),
                                "End visit",
                                type="button",
                                color_scheme="red",
                                width="100%",
                                data_testid="end-visit",
                            )
                        ),
                        rx.alert_dialog.content(
                            rx.alert_dialog.title("End the visit?"),
                            rx.alert_dialog.description(
                                "The call closes for both of you, the note's draft is saved, the "
                                "appointment is completed and its charge is posted."
                            ),
                            rx.flex(
                                rx.alert_dialog.cancel(
                                    rx.button("Keep talking", variant="soft", type="button")
                                ),
                                rx.alert_dialog.action(
                                    rx.button(
                                        "End visit",
                                        color_scheme="red",
                                        type="button",
                                        on_click=[
                                            S.arm_end,
                                            rx.call_script(
                                                "document.getElementById('visit-note').requestSubmit()"
                                            ),
                                        ],
                                        data_testid="end-visit-confirm",
                                    )
                                ),
                                spacing="2",
                                justify="end",
                                padding_top="1rem",
                            ),
                        ),
                    ),
                ),
                spacing="3",
                width="100%",
            ),
            id="visit-note",
            on_submit=S.submit_note,
            width="100%",
            key=S.note_id.to_string() + S.status,
        ),
    )


def body() -> rx.Component:
    return rx.cond(
        S.loaded,
        rx.cond(
            S.problem != "",
            rx.card(empty_state(S.problem, "video-off"), width="100%", data_testid="call-problem"),
            rx.vstack(
                header(),
                rx.flex(
                    video_panel(),
                    rx.vstack(summary(), note_form(), flex="2 1 22rem", min_width="0", spacing="3"),
                    gap="4",
                    wrap="wrap",
                    width="100%",
                    align="start",
                ),
                spacing="3",
                width="100%",
            ),
        ),
        skeleton_rows(6),
    )


@staff_page("/video/[visit_id]", "Video visit", S.load)
def video_visit_page() -> rx.Component:
    return rx.cond(can("telehealth.conduct"), body(), no_access("Your role does not hold video visits."))
