"""The image viewer (/radiology/studies/[study_id]/view): the patient banner, the study's series as
thumbnails, the tool bar (tools, window presets, cine) and the viewport."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, no_access
from hms_app.components.dicom_viewer import dicom_viewer
from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, skeleton_rows
from hms_app.state.radiology_viewer import RadiologyViewerState as S

DICOMWEB = "/api/dicomweb"
TOOLS = (
    ("window", "sun-medium", "Window"),
    ("pan", "move", "Pan"),
    ("zoom", "zoom-in", "Zoom"),
    ("scroll", "layers", "Scroll"),
    ("length", "ruler", "Length"),
    ("angle", "triangle-right", "Angle"),
)
PRESETS = (("soft_tissue", "Soft tissue"), ("lung", "Lung"), ("bone", "Bone"), ("brain", "Brain"))


def banner() -> rx.Component:
    return rx.card(
        rx.flex(
            rx.vstack(
                rx.link(
                    rx.heading(S.patient_name, size="4", data_testid="viewer-patient"),
                    href="/patients/" + S.patient_id.to_string(),
                    underline="hover",
                    color=rx.color("gray", 12),
                ),
                rx.text("MRN ", S.mrn, " · ", S.patient_line, size="2", color_scheme="gray"),
                spacing="1",
                align="start",
            ),
            rx.text(S.study_line, size="2", weight="medium", data_testid="viewer-study"),
            justify="between",
            align="center",
            wrap="wrap",
            gap="3",
            width="100%",
        ),
        width="100%",
    )


def thumbnail(series: dict) -> rx.Component:
    chosen = S.series_uid == series["uid"]
    return rx.box(
        rx.vstack(
            rx.image(
                src=f"{DICOMWEB}/studies/" + S.study_uid + "/series/" + series["uid"] + "/thumbnail",
                alt=series["description"],
                width="112px",
                height="112px",
                object_fit="contain",
                background="black",
                border_radius="4px",
                loading="lazy",
            ),
            rx.text(series["label"], size="1", weight="bold"),
            rx.text(series["description"], size="1", color_scheme="gray", trim="both"),
            rx.text(series["count"], size="1", color_scheme="gray"),
            spacing="1",
            align="center",
        ),
        on_click=S.show_series(series["uid"]),
        cursor="pointer",
        padding="6px",
        border_radius="6px",
        border=rx.cond(chosen, f"2px solid {rx.color('accent', 9)}", f"2px solid {rx.color('gray', 4)}"),
        data_testid="viewer-series",
        data_selected=rx.cond(chosen, "true", "false"),
    )


def toolbar() -> rx.Component:
    return rx.flex(
        rx.segmented_control.root(
            *[
                rx.segmented_control.item(rx.hstack(rx.icon(icon, size=14), label, spacing="1"), value=name)
                for name, icon, label in TOOLS
            ],
            value=S.tool,
            on_change=S.set_tool,
            size="1",
            data_testid="viewer-tools",
        ),
        rx.hstack(
            *[
                rx.button(
                    label,
                    size="1",
                    variant=rx.cond(S.preset == name, "solid", "soft"),
                    on_click=S.apply_preset(name),
                    data_testid=f"preset-{name}",
                )
                for name, label in PRESETS
            ],
            rx.button(
                rx.icon("rotate-ccw", size=14),
                "Reset",
                size="1",
                variant="outline",
                on_click=S.reset_view,
                data_testid="viewer-reset",
            ),
            spacing="1",
        ),
        rx.cond(
            S.multiframe,
            rx.button(
                rx.cond(S.playing, rx.icon("pause", size=14), rx.icon("play", size=14)),
                rx.cond(S.playing, "Stop", "Cine"),
                size="1",
                color_scheme="grass",
                on_click=S.toggle_cine,
                data_testid="viewer-cine",
            ),
        ),
        gap="3",
        wrap="wrap",
        align="center",
        width="100%",
    )


def workspace() -> rx.Component:
    return rx.flex(
        rx.scroll_area(
            rx.vstack(rx.foreach(S.series, thumbnail), spacing="2", padding_right="8px"),
            type="auto",
            scrollbars="vertical",
            style={"max_height": "calc(100vh - 220px)", "width": "150px", "flex_shrink": "0"},
        ),
        rx.vstack(
            toolbar(),
            rx.box(
                dicom_viewer(
                    base=DICOMWEB,
                    study_uid=S.study_uid,
                    series_uid=S.series_uid,
                    tool=S.tool,
                    preset=S.preset,
                    preset_key=S.preset_key,
                    reset_key=S.reset_key,
                    playing=S.playing,
                ),
                width="100%",
                height="calc(100vh - 260px)",
                min_height="420px",
                border_radius="6px",
                overflow="hidden",
            ),
            rx.text(
                "Wheel: scroll · right drag: zoom · middle drag: pan · left drag: the chosen tool",
                size="1",
                color_scheme="gray",
            ),
            spacing="2",
            width="100%",
        ),
        gap="3",
        width="100%",
    )


def body() -> rx.Component:
    return rx.cond(
        S.loaded,
        rx.cond(
            S.problem != "",
            rx.card(empty_state(S.problem, "scan"), width="100%", data_testid="viewer-problem"),
            rx.vstack(banner(), workspace(), spacing="3", width="100%"),
        ),
        skeleton_rows(6),
    )


@staff_page("/radiology/studies/[study_id]/view", "Images", S.load)
def radiology_viewer_page() -> rx.Component:
    return rx.cond(can("imaging.read"), body(), no_access("Your role does not give access to images."))
