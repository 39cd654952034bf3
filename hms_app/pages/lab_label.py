"""/lab/specimens/[specimen_id]/label: one specimen's label, outside the shell, printed at its real
size (62 × 32 mm) on the label printer; beside it on screen what to check before sticking it on."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, no_access
from hms_app.state.lab_label import SpecimenLabelState as S
from hms_app.state.session import SessionState

HIDE_IN_PRINT = {"@media print": {"display": "none"}}
INK = "#000000"
# On paper the label is its own page of the label roll; on screen it is shown twice its size.
PRINT_CSS = """
@page { size: 62mm 32mm; margin: 0; }
[data-testid=specimen-label] svg { width: 124mm; height: 64mm; display: block; }
@media print {
  html, body { margin: 0; padding: 0; background: white; }
  [data-testid=specimen-label] { border: none !important; padding: 0 !important; }
  [data-testid=specimen-label] svg { width: 62mm; height: 32mm; }
}
"""


def fact(label: str, value, test_id: str = "") -> rx.Component:
    return rx.hstack(
        rx.text(label, size="2", color="#555555", min_width="7.5rem"),
        rx.text(value, size="2", weight="medium", color=INK, **({"data_testid": test_id} if test_id else {})),
        spacing="2",
        align="baseline",
    )


def details() -> rx.Component:
    return rx.vstack(
        fact("Patient", S.patient_name, "label-patient"),
        fact("MRN", S.mrn),
        fact("Date of birth", S.birth_date + " · " + S.sex),
        fact("Accession", S.accession, "label-accession"),
        fact("Tests", S.tests),
        fact("Container", S.specimen),
        fact("Priority", S.priority_label),
        fact("Request", S.reference),
        fact("Status", S.status_label),
        fact("Collected", rx.cond(S.collected != "", S.collected, "Not yet collected"), "label-collected"),
        spacing="1",
        align="start",
        style=HIDE_IN_PRINT,
        data_testid="label-details",
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


def label_sheet() -> rx.Component:
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
        rx.text("Specimen label", size="1", weight="bold", color="#555555", style=HIDE_IN_PRINT),
        rx.flex(
            rx.box(
                rx.html(S.svg),
                border="1px dashed #999999",
                padding="2mm",
                width="fit-content",
                data_testid="specimen-label",
            ),
            details(),
            spacing="5",
            wrap="wrap",
            align="start",
        ),
        spacing="3",
        padding="1.5rem",
        style={"@media print": {"padding": "0"}},
    )


@rx.page(
    route="/lab/specimens/[specimen_id]/label",
    title="Specimen label · HMS",
    on_load=[SessionState.refresh_identity, S.load],
)
def specimen_label_page() -> rx.Component:
    return rx.box(
        rx.cond(
            S.problem != "",
            problem(),
            rx.cond(
                S.loaded,
                label_sheet(),
                rx.cond(
                    (SessionState.user_name != "") & ~can("lab.collect"),
                    rx.box(
                        no_access("Your role does not print specimen labels."),
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
        # The page is paper: light whatever the screen's theme, so what is seen is what prints.
        class_name="light",
        data_testid="specimen-label-page",
    )
