"""What the probes use to talk to the running server the way an attacker does: raw HTTP over a
socket (any header, any body, reading the answer before the body is sent), a raw websocket
upgrade, and a socket.io tab that speaks Reflex's protocol without a browser."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
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


def store_document(server: Server, *, not_of: int | None = None) -> int:
    """A patient document on the running server (the demo hospital has none): of the first
    patient, or of the first one other than ``not_of``."""
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
            patients = select(Patient.id).order_by(Patient.id).limit(1)
            if not_of is not None:
                patients = patients.where(Patient.id != not_of)
            patient_id = session.execute(patients).scalar_one()
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


class Tab:
    """A signed-in tab without a browser: sends events by handler name, collects what comes back."""

    def __init__(self, client, path: str, query: dict[str, str]) -> None:
        self.client, self.path, self.query = client, path, query
        self.updates: list[dict] = []
        self.lock = threading.Lock()

    def router_data(self) -> dict:
        query = "&".join(f"{k}={v}" for k, v in self.query.items())
        return {
            "pathname": self.path,
            "asPath": self.path + (f"?{query}" if query else ""),
            "query": self.query,
        }

    def send(
        self, handler: str, _limit: float = 30, _until: Callable[[list[dict]], bool] | None = None, **payload
    ) -> list[dict]:
        """Call ``handler`` (its full name) and wait until the server has finished answering
        (at most ``_limit`` seconds: a handler whose answer is not marked final is waited for
        that long), or until ``_until`` holds for what came back."""
        with self.lock:
            start = len(self.updates)
        self.client.emit(
            "event",
            {"name": handler, "payload": payload, "router_data": self.router_data()},
            namespace="/_event",
        )
        return self.wait(start, limit=_limit, until=_until)

    def wait(
        self,
        start: int = 0,
        quiet: float = 1.5,
        limit: float = 30,
        until: Callable[[list[dict]], bool] | None = None,
    ) -> list[dict]:
        """What came back since ``start``, once the answer is final and quiet for ``quiet`` seconds,
        or as soon as ``until`` holds for it (a page whose loading never ends in a final update, such
        as one that starts a live watch, would otherwise be waited for the whole ``limit``)."""
        deadline, last_count, last_change = time.monotonic() + limit, -1, time.monotonic()
        while time.monotonic() < deadline:
            with self.lock:
                count = len(self.updates)
                final = any(u.get("final") for u in self.updates[start:])
                arrived = until is not None and until(self.updates[start:])
            if count != last_count:
                last_count, last_change = count, time.monotonic()
            if arrived or (final and time.monotonic() - last_change > quiet):
                break
            time.sleep(0.05)
        with self.lock:
            return list(self.updates[start:])


@contextlib.contextmanager
def open_tab(
    server: Server,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    token: str = "",
    query: dict[str, str] | None = None,
) -> Iterator[Tab]:
    """A tab without a browser: socket.io on /_event with ``headers`` on the upgrade request
    (a Cookie for a signed-in tab), booted with hydrate_and_load at ``path``. Yields it as soon as
    it is connected; the caller waits for the answer it needs."""
    import socketio

    client = socketio.Client(reconnection=False)
    opened = Tab(client, path, query or {})

    def collect(update: dict) -> None:
        with opened.lock:
            opened.updates.append(update)

    client.on("event", collect, namespace="/_event")
    client.connect(
        f"{server.url}?token={token or uuid.uuid4()}",
        socketio_path="/_event",
        transports=["websocket"],
        namespaces=["/_event"],
        headers=headers or {},
        auth={
            "event": {
                "name": f"{STATE}.hydrate_and_load",
                "payload": {"vars": {}},
                "router_data": opened.router_data(),
            }
        },
        wait_timeout=30,
    )
    try:
        yield opened
    finally:
        client.disconnect()


@contextlib.contextmanager
def socket_tab(server: Server, *, cookie: str = "", path: str = "/patients/1/chart") -> Iterator[str]:
    """A tab on the server without a browser, opened with ``cookie`` as the upgrade request's
    Cookie header and hydrated at ``path``. Yields the tab's token."""
    token = str(uuid.uuid4())
    with open_tab(server, path, headers={"Cookie": cookie} if cookie else {}, token=token) as opened:
        for _ in range(100):
            if opened.updates:
                break
            time.sleep(0.1)
        assert opened.updates, "the server did not answer the tab's hydrate event"
        yield token
