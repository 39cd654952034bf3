"""/patients/[patient_id]/wristband: the printable wristband and a sheet of labels, outside the shell."""

from __future__ import annotations

import reflex as rx

from hms_app.pages.patients.common import problem_callout
from hms_app.state.patients.wristband import WristbandState
from hms_app.state.session import SessionState

HIDE_IN_PRINT = {"@media print": {"display": "none"}}
INK = "#000000"


def allergy_line(size: str) -> rx.Component:
    """What is recorded: the allergies, "no known allergies" only when a clinician recorded it, and
    otherwise that nobody has assessed them (never a reassuring "none" by default)."""
    return rx.match(
        WristbandState.allergy_state,
        (
            "allergies",
            rx.text(
                "ALLERGY: ",
                WristbandState.allergies.join(", "),
                color="#c00000",
                weight="bold",
                size=size,
                data_testid="wristband-allergy",
            ),
        ),
        (
            "none_known",
            rx.text("No known allergies", color="#444444", size=size, data_testid="wristband-allergy"),
        ),
        rx.text(
            "ALLERGIES NOT ASSESSED",
            color=INK,
            weight="bold",
            size=size,
            data_testid="wristband-allergy",
        ),
    )


def wristband_strip() -> rx.Component:
    return rx.flex(
        rx.vstack(
            rx.text(WristbandState.name, weight="bold", size="5", color=INK, data_testid="wristband-name"),
            rx.text(
                "MRN ",
                rx.text.strong(WristbandState.mrn),
                " · DOB ",
                rx.text.strong(WristbandState.birth_date),
                " · ",
                rx.text.span(WristbandState.sex, text_transform="capitalize"),
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
            src=WristbandState.barcode,
            alt="Barcode of MRN " + WristbandState.mrn,
            height="64px",
            width="auto",
            data_testid="wristband-barcode",
        ),
        align="center",
        spacing="4",
        padding="0.75rem 1rem",
        width="100%",
        max_width="760px",
        border=rx.cond(WristbandState.allergies.length() > 0, "3px solid #c00000", "2px solid #000000"),
        border_radius="14px",
        background="white",
        data_testid="wristband",
    )


def label() -> rx.Component:
    return rx.vstack(
        rx.text(
            WristbandState.name,
            weight="bold",
            size="2",
            color=INK,
            white_space="nowrap",
            overflow="hidden",
            text_overflow="ellipsis",
            max_width="100%",
        ),
        rx.flex(
            rx.text("MRN ", WristbandState.mrn, size="1", color=INK, white_space="nowrap"),
            rx.text("DOB ", WristbandState.birth_date, size="1", color=INK, white_space="nowrap"),
            column_gap="0.75em",
            wrap="wrap",
        ),
        rx.image(
            src=WristbandState.barcode,
            alt="Barcode of MRN " + WristbandState.mrn,
            height="32px",
            width="auto",
            max_width="100%",
        ),
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
            WristbandState.problem != "",
            rx.box(problem_callout(WristbandState.problem), padding="1.5rem"),
            rx.cond(
                WristbandState.loaded,
                rx.vstack(
                    rx.flex(
                        rx.link(
                            rx.button(
                                rx.icon("arrow-left", size=16),
                                "Patient details",
                                variant="soft",
                                color_scheme="gray",
                            ),
                            href="/patients/" + WristbandState.record_id.to_string() + "/details",
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
