"""What the probes use to talk to the running server the way an attacker does: raw HTTP over a
socket (any header, any body, reading the answer before the body is sent), a raw websocket
upgrade, and a socket.io tab that speaks Reflex's protocol without a browser."""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from tests.production_server import DEMO_PASSWORD, Server, server_db

STATE = "reflex___state____state"
SESSION_STATE = f"{STATE}.hms_app___state___session____session_state"
CHART = f"{SESSION_STATE}.hms_app___state___chart___page____chart_state"
DOCUMENT_UPLOAD = f"{CHART}.hms_app___state___chart___documents____chart_documents_state.upload_document"
SESSION_COOKIE = "hms_session"
# The head of a multipart upload of one file: what follows it streams as the file's bytes.
MULTIPART_FILE_HEAD = (
    b'--x\r\nContent-Disposition: form-data; name="files"; filename="big.pdf"\r\n'
    b"Content-Type: application/pdf\r\n\r\n%PDF-1.4\n"
)
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@dataclass
class Answer:
    status: int
    headers: dict[str, list[str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[0] if values else None


def _read_answer(sock: socket.socket) -> Answer:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    length = int(headers.get("content-length", ["0"])[0])
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return Answer(status, headers, body)


def _connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    return socket.create_connection((parts.hostname, parts.port), timeout=30)


def request(
    url: str, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> Answer:
    """One raw HTTP/1.1 request, exactly the headers given (plus Host and Content-Length)."""
    all_headers = {"Host": urlsplit(url).netloc, "Connection": "close", **(headers or {})}
    if body or method in ("POST", "PUT"):
        all_headers.setdefault("Content-Length", str(len(body)))
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in all_headers.items()) + "\r\n"
    with _connect(url) as sock:
        sock.sendall(head.encode("latin-1") + body)
        return _read_answer(sock)


def announce_body(url: str, path: str, headers: dict[str, str], length: int) -> Answer:
    """Send a request's head announcing a ``length``-byte body, then wait for the answer without
    sending a byte of it: a server that reads the body first never answers."""
    head = f"POST {path} HTTP/1.1\r\nHost: {urlsplit(url).netloc}\r\nContent-Length: {length}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    with _connect(url) as sock:
        sock.sendall(head.encode("latin-1"))
        return _read_answer(sock)


def stream_chunked(
    url: str, path: str, headers: dict[str, str], total: int, prefix: bytes = b""
) -> tuple[Answer | None, int]:
    """Stream a chunked body, ``prefix`` and then up to ``total`` bytes 1 MB a chunk, until the
    server answers or hangs up. Returns its answer and how many body bytes were sent by then."""
    head = f"POST {path} HTTP/1.1\r\nHost: {urlsplit(url).netloc}\r\nTransfer-Encoding: chunked\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    chunk = b"x" * (1024 * 1024)
    sent = 0
    with _connect(url) as sock:
        sock.sendall(head.encode("latin-1"))
        sock.settimeout(5)
        try:
            if prefix:
                sock.sendall(f"{len(prefix):x}\r\n".encode() + prefix + b"\r\n")
            while sent < total:
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                sent += len(chunk)
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass  # the server stopped reading: what it answered is below
        sock.settimeout(30)
        try:
            return _read_answer(sock), sent
        except (ConnectionResetError, IndexError, ValueError):
            return None, sent


def websocket_upgrade(url: str, headers: dict[str, str]) -> Answer:
    """Ask for the websocket on /_event as a browser does, with the headers given."""
    key = "dGhlIHNhbXBsZSBub25jZQ=="
    return request(
        url,
        "GET",
        f"/_event/?EIO=4&transport=websocket&token={uuid.uuid4()}",
        {
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": key,
            "Sec-WebSocket-Version": "13",
            **headers,
        },
    )


def staff_token(server: Server, username: str) -> str:
    """A real session of a demo account, as a stolen or phished cookie would be."""
    from hms_app.services import security

    with server_db(server) as session:
        return security.sign_in(session, username=username, password=DEMO_PASSWORD).token


def store_document(server: Server) -> int:
    """A patient document on the running server (the demo hospital has none)."""
    from sqlalchemy import select

    from hms_app.models.patients import Patient
    from hms_app.services import emr
    from hms_app.services.permissions import SYSTEM_ACTOR
    from hms_app.settings import get_settings

    saved = os.environ.get("HMS_DATA_DIR")
    os.environ["HMS_DATA_DIR"] = str(server.data_dir)  # the document's bytes go where the server reads them
    get_settings.cache_clear()
    try:
        with server_db(server) as session:
            patient_id = session.execute(select(Patient.id).order_by(Patient.id).limit(1)).scalar_one()
            row = emr.store_document(
                session,
                actor=SYSTEM_ACTOR,
                patient_id=patient_id,
                title="Discharge letter",
                content=PDF,
                content_type="application/pdf",
            )
            return row.id
    finally:
        if saved is None:
            os.environ.pop("HMS_DATA_DIR", None)
        else:
            os.environ["HMS_DATA_DIR"] = saved
        get_settings.cache_clear()


@contextlib.contextmanager
def socket_tab(server: Server, *, cookie: str = "", path: str = "/patients/1/chart") -> Iterator[str]:
    """A tab on the server without a browser: socket.io on /_event, opened with ``cookie`` as the
    upgrade request's Cookie header, hydrated at ``path``. Yields the tab's token."""
    import socketio

    token = str(uuid.uuid4())
    client = socketio.Client(reconnection=False)
    hydrated = []
    client.on("event", lambda update: hydrated.append(update), namespace="/_event")
    boot = {
        "event": {
            "name": f"{STATE}.hydrate_and_load",
            "payload": {"vars": {}},
            "router_data": {"pathname": path, "asPath": path, "query": {}},
        }
    }
    client.connect(
        f"{server.url}?token={token}",
        socketio_path="/_event",
        transports=["websocket"],
        namespaces=["/_event"],
        headers={"Cookie": cookie} if cookie else {},
        auth=boot,
        wait_timeout=30,
    )
    try:
        for _ in range(100):
            if hydrated:
                break
            client.sleep(0.1)
        assert hydrated, "the server did not answer the tab's hydrate event"
        yield token
    finally:
        client.disconnect()
