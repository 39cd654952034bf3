"""Item 6 against the running server: an upload is refused before its body is read, for an
anonymous client, for a role without the handler's permission, and past HMS_MAX_UPLOAD_MB
(20 MB here), whether the size is declared or the body streams without one."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from tests.e2e.conftest import screenshot, sign_in
from tests.production_server import Server, server_db
from tests.security.attacker import (
    DOCUMENT_UPLOAD,
    MULTIPART_FILE_HEAD,
    SESSION_COOKIE,
    announce_body,
    socket_tab,
    staff_token,
    stream_chunked,
)

MB = 1024 * 1024
CAP = 20 * MB


def _documents(server: Server) -> int:
    from hms_app.models.emr import DocumentReference

    with server_db(server) as session:
        return session.execute(select(func.count()).select_from(DocumentReference)).scalar_one()


def _upload_headers(tab: str) -> dict[str, str]:
    return {
        "reflex-client-token": tab,
        "reflex-event-handler": DOCUMENT_UPLOAD,
        "Content-Type": "multipart/form-data; boundary=x",
    }


@pytest.fixture(scope="module")
def documents_before(hms_server: Server) -> int:
    return _documents(hms_server)


def test_anyone_without_a_tab_is_refused_before_sending_a_byte(hms_server: Server, documents_before):
    answer = announce_body(hms_server.url, "/_upload", _upload_headers("made-up-tab"), 500 * MB)
    assert answer.status == 401


def test_an_anonymous_tab_is_refused_before_sending_a_byte(hms_server: Server, documents_before):
    with socket_tab(hms_server) as tab:
        answer = announce_body(hms_server.url, "/_upload", _upload_headers(tab), 500 * MB)
    assert answer.status == 401


def test_a_role_without_the_permission_is_refused_and_audited(hms_server: Server, documents_before):
    from hms_app.models.security import AuditEvent

    cookie = f"{SESSION_COOKIE}={staff_token(hms_server, 'billing')}"
    with socket_tab(hms_server, cookie=cookie) as tab:
        answer = announce_body(hms_server.url, "/_upload", _upload_headers(tab), 5 * MB)
    assert answer.status == 403
    with server_db(hms_server) as session:
        details = session.execute(
            select(AuditEvent.detail).where(
                AuditEvent.action == "access.denied", AuditEvent.username == "billing"
            )
        ).scalars()
        assert "upload to ChartDocumentsState.upload_document needs emr.write" in list(details)


def test_a_declared_body_over_the_cap_is_refused_before_it_is_sent(hms_server: Server, documents_before):
    cookie = f"{SESSION_COOKIE}={staff_token(hms_server, 'dr.grey')}"
    with socket_tab(hms_server, cookie=cookie) as tab:
        answer = announce_body(hms_server.url, "/_upload", _upload_headers(tab), CAP + MB)
    assert answer.status == 413 and b"larger than 20 MB" in answer.body


def test_a_chunked_body_is_cut_off_at_the_cap(hms_server: Server, documents_before):
    cookie = f"{SESSION_COOKIE}={staff_token(hms_server, 'dr.grey')}"
    with socket_tab(hms_server, cookie=cookie) as tab:
        answer, sent = stream_chunked(
            hms_server.url, "/_upload", _upload_headers(tab), 300 * MB, prefix=MULTIPART_FILE_HEAD
        )
    assert answer is not None and answer.status == 413
    # Stopped near the cap (the kernel's socket buffers hold a few MB more), far short of 300 MB.
    assert sent < CAP + 24 * MB
    assert _documents(hms_server) == documents_before


def test_the_upload_box_refuses_a_too_large_or_wrong_file_with_a_plain_message(page: Page, base_url):
    sign_in(page, "dr.grey")
    page.goto("/patients/1")
    page.locator("[data-testid=tab-documents]").click()
    drop = page.locator("[data-testid=doc-drop] input[type=file]")
    expect(page.locator("[data-testid=doc-drop]")).to_be_visible()
    toast = page.locator("[data-sonner-toast]")

    drop.set_input_files(
        [{"name": "scan.pdf", "mimeType": "application/pdf", "buffer": b"%PDF" + b"0" * (CAP + 1)}]
    )
    expect(toast.filter(has_text="The file is larger than 20 MB.")).to_be_visible()
    screenshot(page, "upload-too-large")
    drop.set_input_files([{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"}])
    expect(toast.filter(has_text="Choose one PDF, PNG or JPEG file.")).to_be_visible()
    drop.set_input_files(
        [{"name": "scan2.pdf", "mimeType": "application/pdf", "buffer": b"%PDF" + b"0" * (CAP + 1)}]
    )
    expect(toast.first).to_have_text("The file is larger than 20 MB.")  # the newest toast, not blank
    expect(page.locator("[data-testid=doc-selected]")).to_have_count(0)  # nothing was taken for upload
