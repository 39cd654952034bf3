"""The chart's Documents tab: the patient's documents, and uploading a PDF or image."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import reflex as rx

from hms_app.clock import format_local
from hms_app.errors import DomainError
from hms_app.services.emr.chart import Chart
from hms_app.services.emr.documents import store_document
from hms_app.services.file_store import MAX_DOCUMENT_BYTES
from hms_app.state.chart.page import ChartState
from hms_app.state.session import requires

UPLOAD_ID = "chart_document"
MAX_DOCUMENT_MB = MAX_DOCUMENT_BYTES // (1024 * 1024)
DOCUMENT_KINDS = {"application/pdf": "PDF", "image/png": "PNG", "image/jpeg": "JPEG"}
# What a browser may call a JPEG; the service checks the bytes whatever the name says.
CONTENT_TYPE_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg"}
EXTENSION_TYPES = {
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
}


@dataclass
class DocumentLine:
    id: int = 0
    title: str = ""
    kind: str = ""
    size: str = ""
    date: str = ""
    by: str = ""


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n / (1024 * 1024):.1f} MB"


class ChartDocumentsState(ChartState):
    """The document list and the upload card."""

    TAB: ClassVar[str] = "documents"

    documents: list[DocumentLine] = []
    doc_title: str = ""
    uploading: bool = False

    async def _show(self, chart: Chart):
        self.documents = [
            DocumentLine(
                d.id,
                d.title,
                DOCUMENT_KINDS.get(d.content_type, d.content_type),
                _size(d.size_bytes),
                format_local(d.created_at),
                d.created_by or "",
            )
            for d in chart.documents
        ]
        return None

    async def _refresh(self) -> None:
        await self._show(await self._reread(with_summary=False))

    @rx.event
    @requires("emr.write")
    async def set_doc_title(self, value: str):
        self.doc_title = (value if isinstance(value, str) else "")[:200]

    @rx.event
    @requires("emr.write")
    async def upload_document(self, files: list[rx.UploadFile]):
        if not files:
            yield rx.toast.error("Choose a PDF, PNG or JPEG file first.")
            return
        if len(files) > 1:
            yield rx.toast.error("Upload one file at a time.")
            return
        upload = files[0]
        filename = upload.filename or "document"
        if upload.size is not None and upload.size > MAX_DOCUMENT_BYTES:
            yield rx.toast.error(f"The file is larger than {MAX_DOCUMENT_MB} MB.")
            return
        declared = CONTENT_TYPE_ALIASES.get(upload.content_type or "", upload.content_type or "")
        if declared not in DOCUMENT_KINDS:
            suffix = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
            declared = EXTENSION_TYPES.get(suffix, declared)
        self.uploading = True
        yield
        # Read one byte past the limit: enough to refuse a larger file without holding all of it.
        content = await upload.read(MAX_DOCUMENT_BYTES + 1)
        title = self.doc_title.strip() or filename.rsplit(".", 1)[0][:200]
        try:
            # The bytes go to the service, which keeps them outside the public upload folder.
            row = await self._run(
                store_document, patient_id=self.pid, title=title, content=content, content_type=declared
            )
        except DomainError as error:
            self.uploading = False
            yield rx.toast.error(str(error))
            return
        self.uploading, self.doc_title = False, ""
        yield [rx.clear_selected_files(UPLOAD_ID), rx.set_value("doc-title", "")]
        yield await self._done(f"{row.title} stored ({_size(row.size_bytes)}).")
