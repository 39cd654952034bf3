"""The chart's Documents tab: the patient's documents and the upload card."""

from __future__ import annotations

import reflex as rx

from hms_app.components.ui import upload_rejected
from hms_app.pages.chart.common import (
    CAN_WRITE,
    card_title,
    header_cells,
    icon_text,
    muted,
    record_card,
    write_only,
)
from hms_app.state.chart.documents import (
    MAX_DOCUMENT_BYTES,
    MAX_DOCUMENT_MB,
    UPLOAD_ID,
    ChartDocumentsState,
    DocumentLine,
)


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
                on_blur=ChartDocumentsState.set_doc_title,
                width="100%",
                data_testid="doc-title",
            ),
            rx.upload(
                rx.vstack(
                    rx.icon("file-up", size=28, color=rx.color("gray", 9)),
                    rx.text("Drop a PDF, PNG or JPEG here, or click to choose", size="2"),
                    muted(f"One file, at most {MAX_DOCUMENT_MB} MB"),
                    align="center",
                    spacing="1",
                ),
                id=UPLOAD_ID,
                accept={"application/pdf": [".pdf"], "image/png": [".png"], "image/jpeg": [".jpg", ".jpeg"]},
                max_files=1,
                multiple=False,
                max_size=MAX_DOCUMENT_BYTES,
                on_drop_rejected=upload_rejected(
                    f"The file is larger than {MAX_DOCUMENT_MB} MB.", "Choose one PDF, PNG or JPEG file."
                ),
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
                    loading=ChartDocumentsState.uploading,
                    on_click=ChartDocumentsState.upload_document(rx.upload_files(upload_id=UPLOAD_ID)),
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
        ChartDocumentsState.documents,
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
