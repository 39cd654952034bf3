"""/pharmacy/prescriptions/[prescription_id]/print: one signed order as a printable prescription on
A5 paper, outside the shell (like the specimen label); the print button and the way back hide in print."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, no_access
from hms_app.state.prescription import PrescriptionPrintState as S
from hms_app.state.session import SessionState, hospital_name

HIDE_IN_PRINT = {"@media print": {"display": "none"}}
INK = "#000000"
PRINT_CSS = """
@page { size: A5; margin: 12mm; }
@media print { html, body { margin: 0; background: white; } [data-testid=prescription] { border: none !important; } }
"""


def line(label: str, value, test_id: str) -> rx.Component:
    return rx.hstack(
        rx.text(label, size="2", color="#555555", min_width="8rem"),
        rx.text(value, size="2", weight="medium", color=INK, data_testid=test_id),
        spacing="2",
        align="baseline",
        width="100%",
    )


def sheet() -> rx.Component:
    return rx.vstack(
        rx.flex(
            rx.link(
                rx.button(
                    rx.icon("arrow-left", size=16), "Patient chart", variant="soft", color_scheme="gray"
                ),
                href="/patients/" + S.patient_id.to_string(),
            ),
            rx.button(
                rx.icon("printer", size=16),
                "Print",
                on_click=rx.call_script("window.print()"),
                data_testid="print",
            ),
            spacing="3",
            style=HIDE_IN_PRINT,
        ),
        rx.vstack(
            rx.hstack(
                rx.heading(hospital_name(), size="4", color=INK),
                rx.spacer(),
                rx.text(S.setting, size="2", color="#555555"),
                width="100%",
                align="baseline",
            ),
            rx.text("Rx", size="7", weight="bold", color=INK, font_family="serif"),
            line("Patient", S.patient_name, "rx-patient"),
            line("MRN", S.mrn, "rx-mrn"),
            line("Date of birth", S.birth_date + " · " + S.sex, "rx-birth"),
            rx.divider(),
            line("Medicine", S.product, "rx-drug"),
            line("Directions", S.sig, "rx-sig"),
            rx.cond(S.instructions != "", line("Instructions", S.instructions, "rx-instructions")),
            line("Quantity", S.quantity_words + " (" + S.quantity_figures + ")", "rx-quantity"),
            rx.divider(),
            line("Prescriber", S.prescriber, "rx-prescriber"),
            line("Date", S.signed, "rx-date"),
            line("Reference", S.reference, "rx-reference"),
            rx.cond(
                S.status != "active",
                rx.text(
                    "This order is ", S.status, ": not valid for dispensing.", color="#b00020", weight="bold"
                ),
            ),
            rx.box(
                rx.text("Signature", size="1", color="#555555"),
                border_top="1px solid #999999",
                width="16rem",
                margin_top="2.5rem",
                padding_top="0.25rem",
            ),
            spacing="2",
            align="start",
            border="1px solid #cccccc",
            padding="1.5rem",
            width="100%",
            max_width="148mm",
            data_testid="prescription",
        ),
        spacing="3",
        padding="1.5rem",
    )


def problem() -> rx.Component:
    return rx.box(
        rx.callout(
            rx.vstack(rx.text(S.problem), rx.link("Go to the patient search", href="/patients"), spacing="1"),
            icon="circle-alert",
            color_scheme="red",
            data_testid="page-problem",
        ),
        padding="1.5rem",
        max_width="40rem",
    )


@rx.page(
    route="/pharmacy/prescriptions/[prescription_id]/print",
    title="Prescription · HMS",
    on_load=[SessionState.refresh_identity, S.load],
)
def prescription_page() -> rx.Component:
    return rx.box(
        rx.cond(
            S.problem != "",
            problem(),
            rx.cond(
                S.loaded,
                sheet(),
                rx.cond(
                    (SessionState.user_name != "") & ~can("medication.read"),
                    rx.box(
                        no_access("Your role does not see prescriptions."),
                        padding="1.5rem",
                        max_width="40rem",
                    ),
                    rx.center(rx.spinner(size="3"), padding="4rem"),
                ),
            ),
        ),
        rx.el.style(PRINT_CSS),
        background="white",
        color=INK,
        min_height="100vh",
        class_name="light",
        data_testid="prescription-page",
    )
