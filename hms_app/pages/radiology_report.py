"""The reporting screen (/radiology/orders/[order_id]/report): the order and its clinical question,
a link to the images, the report's findings and impression with its actions, and once final the
locked text, its addenda and the addendum box."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, no_access
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, skeleton_rows
from hms_app.pages.laboratory.common import error_line
from hms_app.state.radiology_report import ImagingReportState as S

STATUS_COLOURS = (("final", "grass"), ("preliminary", "blue"), ("draft", "amber"))


def header() -> rx.Component:
    return rx.card(
        rx.flex(
            rx.vstack(
                rx.link(
                    rx.heading(S.patient_name, size="5", data_testid="report-patient"),
                    href="/patients/" + S.patient_id.to_string(),
                    underline="hover",
                    color=rx.color("gray", 12),
                ),
                rx.text("MRN ", S.mrn, " · ", S.accession, size="2", color_scheme="gray"),
                rx.text(S.procedure, weight="medium", size="3"),
                rx.text(rx.text.strong("Question: "), S.clinical_question, size="2"),
                spacing="1",
                align="start",
            ),
            rx.vstack(
                rx.badge(
                    S.status_label,
                    color_scheme=rx.match(S.status, *STATUS_COLOURS, "gray"),
                    size="2",
                    data_testid="report-status",
                ),
                rx.text("Order: ", S.order_status, size="1", color_scheme="gray"),
                rx.cond(
                    S.study_id > 0,
                    rx.link(
                        rx.button(rx.icon("scan", size=14), "Open images", size="2", variant="soft"),
                        href="/radiology/studies/" + S.study_id.to_string() + "/view",
                        data_testid="open-images",
                    ),
                    rx.text("No images received yet", size="1", color_scheme="gray"),
                ),
                spacing="2",
                align="end",
            ),
            justify="between",
            wrap="wrap",
            gap="3",
            width="100%",
        ),
        width="100%",
    )


def editor() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text("Findings", weight="medium", size="2"),
            rx.text_area(
                default_value=S.findings,
                on_blur=S.set_findings,
                rows="10",
                width="100%",
                max_length=8000,
                data_testid="report-findings",
            ),
            rx.cond(S.error_field == "findings", error_line(S.error, "error-findings")),
            rx.text("Impression", weight="medium", size="2"),
            rx.text_area(
                default_value=S.impression,
                on_blur=S.set_impression,
                rows="3",
                width="100%",
                max_length=2000,
                data_testid="report-impression",
            ),
            rx.cond(S.error_field == "impression", error_line(S.error, "error-impression")),
            rx.hstack(
                rx.checkbox(
                    "Critical finding: alert the ordering clinician",
                    checked=S.is_critical,
                    on_change=S.set_is_critical,
                    color_scheme="red",
                    data_testid="report-is-critical",
                ),
                align="center",
            ),
            rx.cond(
                S.is_critical,
                rx.input(
                    default_value=S.critical_text,
                    on_blur=S.set_critical_text,
                    placeholder="e.g. Acute subdural haematoma with midline shift",
                    max_length=160,
                    width="100%",
                    data_testid="report-critical",
                ),
            ),
            rx.cond(S.error_field == "critical", error_line(S.error, "error-critical")),
            rx.cond((S.error != "") & (S.error_field == ""), error_line(S.error, "report-error")),
            rx.hstack(
                rx.button(
                    "Save draft", variant="soft", on_click=S.save, loading=S.saving, data_testid="report-save"
                ),
                rx.cond(
                    S.status != "preliminary",
                    rx.button(
                        "Sign preliminary",
                        variant="outline",
                        on_click=S.sign("preliminary"),
                        loading=S.saving,
                        data_testid="report-preliminary",
                    ),
                ),
                rx.button(
                    "Sign final", on_click=S.sign("final"), loading=S.saving, data_testid="report-final"
                ),
                justify="end",
                width="100%",
                spacing="2",
            ),
            spacing="2",
            width="100%",
        ),
        key=S.form_key.to_string(),
        width="100%",
    )


def addendum(item: dict) -> rx.Component:
    return rx.box(
        rx.text(
            rx.text.strong("Addendum"), " by ", item["by"], ", ", item["at"], size="1", color_scheme="gray"
        ),
        rx.text(item["text"], size="2", white_space="pre-wrap"),
        padding="0.5rem",
        border_left=f"3px solid {rx.color('blue', 8)}",
        width="100%",
        data_testid="report-addendum",
    )


def signed() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.text(S.signed_line, size="1", color_scheme="gray", data_testid="report-signed"),
            rx.cond(S.critical, rx.badge("Critical finding reported", color_scheme="red", variant="solid")),
            rx.heading("Findings", size="3"),
            rx.text(S.findings, size="2", white_space="pre-wrap", data_testid="report-findings-text"),
            rx.heading("Impression", size="3"),
            rx.text(
                S.impression,
                size="3",
                weight="medium",
                white_space="pre-wrap",
                data_testid="report-impression-text",
            ),
            rx.foreach(S.addenda, addendum),
            rx.cond(
                can("imaging.report"),
                rx.form(
                    rx.vstack(
                        rx.text_area(
                            name="addendum",
                            placeholder="Add to the final report (the signed text stays as it is)",
                            rows="3",
                            width="100%",
                            max_length=4000,
                            data_testid="report-addendum-text",
                        ),
                        rx.cond(S.error_field == "addendum", error_line(S.error, "error-addendum")),
                        rx.button("Add addendum", type="submit", loading=S.saving, data_testid="report-add"),
                        align="end",
                        width="100%",
                    ),
                    on_submit=S.add,
                    reset_on_submit=True,
                    width="100%",
                ),
            ),
            spacing="2",
            width="100%",
            align="start",
        ),
        width="100%",
    )


def body() -> rx.Component:
    return rx.cond(
        S.loaded,
        rx.cond(
            S.problem != "",
            rx.card(empty_state(S.problem, "file-x"), width="100%", data_testid="report-problem"),
            rx.vstack(
                header(),
                rx.cond(
                    S.status == "final",
                    signed(),
                    rx.cond(
                        can("imaging.report"),
                        rx.vstack(
                            rx.cond(S.signed_line != "", rx.text(S.signed_line, size="1")),
                            editor(),
                            width="100%",
                        ),
                        rx.cond(
                            S.status == "preliminary",
                            signed(),
                            rx.card(empty_state("The report is not signed yet.", "file-clock"), width="100%"),
                        ),
                    ),
                ),
                spacing="3",
                width="100%",
            ),
        ),
        skeleton_rows(6),
    )


@staff_page("/radiology/orders/[order_id]/report", "Imaging report", S.load)
def imaging_report_page() -> rx.Component:
    return rx.cond(
        can("imaging.read"),
        body(),
        no_access("Your role does not give access to imaging reports."),
    )
