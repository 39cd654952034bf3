"""The DICOM listener modalities send their images to (``hms dicom listen``): a pynetdicom
Storage SCP that accepts every storage SOP class in every transfer syntax pydicom knows, and
answers C-ECHO (Verification).

Each C-STORE is kept by ``storage.store_dicom`` in a database session of its own, committed
before the answer is sent: Success for a file stored, set aside as unmatched or already kept
(a modality sending a study again must not see failures); "Cannot understand" (0xC000) for a
file refused; "Out of resources" (0xA700) when storing failed (the database away, the disk full),
so the modality sends it again. pynetdicom serves each association on a thread of its own.

Like the analysers' HL7 listener, the listener is trusted by network configuration: it acts as
``listener_actor(<calling AE title>)``, which may only receive images, and every file it keeps is
audited under that name. One log line per association, and one per file refused, without patient
data (logs are read by more people).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
from collections import Counter
from collections.abc import Callable

from hms_app.db import session_scope
from hms_app.services import live
from hms_app.services.permissions import Actor
from hms_app.services.radiology.common import WORK
from hms_app.services.radiology.storage import IngestResult, store_dicom
from hms_app.settings import get_settings

log = logging.getLogger("hms.dicom")

AE_TITLE = "HMS"
DEFAULT_PORT = 11112  # DICOM's registered port
SUCCESS = 0x0000
OUT_OF_RESOURCES = 0xA700  # storage statuses of PS3.4 B.2.3
CANNOT_UNDERSTAND = 0xC000
NOTICE_DELAY_S = 0.25
LOG_FORMAT = "%(asctime)s %(message)s"

# SQLite has one writer at a time: the associations' threads queue here instead of sleeping in
# the database's busy timeout.
_SQLITE_WRITER = threading.Lock()


def listener_actor(ae_title: str) -> Actor:
    """Who acts for a modality: allowed to receive images and nothing else."""
    name = " ".join(str(ae_title or "").split()) or "unknown"
    return Actor(
        user_id=0,
        username=f"dicom {name}"[:60],
        display_name="DICOM listener",
        roles=frozenset({"system"}),
        permissions=frozenset({WORK}),
    )


class GatheredNotices:
    """Live notices for a burst of images: the first commit of a burst for a key schedules one
    notice a moment later, which every commit until then shares (a CT of 300 slices wakes the
    work list a few times, not 300)."""

    def __init__(self, delay: float = NOTICE_DELAY_S, publish: Callable[[str, object], None] | None = None):
        self.delay = delay
        self._publish = publish or live.publish
        self._lock = threading.Lock()
        self._pending: set[tuple[str, str]] = set()

    def __call__(self, topic: str, key: object = None) -> None:
        pending = (topic, str(key))
        with self._lock:
            if pending in self._pending:
                return
            self._pending.add(pending)
        timer = threading.Timer(self.delay, self._send, args=(pending, key))
        timer.daemon = True
        timer.start()

    def _send(self, pending: tuple[str, str], key: object) -> None:
        with self._lock:
            self._pending.discard(pending)
        self._publish(pending[0], key)


def store_in_own_session(
    data: bytes, *, ae_title: str, database_url: str | None = None, notify=None
) -> IngestResult:
    url = database_url or get_settings().database_url
    actor = listener_actor(ae_title)
    lock = _SQLITE_WRITER if url.startswith("sqlite") else contextlib.nullcontext()
    with lock, session_scope(url) as session:
        return store_dicom(
            session, actor=actor, data=data, source=ae_title, received_from=ae_title, notify=notify
        )


class StorageSCP:
    """The event handlers of one listening AE: C-STORE in, a line per association out."""

    def __init__(
        self,
        database_url: str | None = None,
        notify: Callable[[str, object], None] | None = None,
        store: Callable[..., IngestResult] = store_in_own_session,
    ):
        self.database_url = database_url
        self.notify = notify or GatheredNotices()
        self.store = store
        self._lock = threading.Lock()
        self._counts: dict[int, Counter] = {}

    def _count(self, event, status: str) -> None:
        with self._lock:
            self._counts.setdefault(id(event.assoc), Counter())[status] += 1

    def on_store(self, event) -> int:
        ae_title = _calling(event)
        try:
            data = event.encoded_dataset(include_meta=True)
            result = self.store(data, ae_title=ae_title, database_url=self.database_url, notify=self.notify)
        except Exception:  # noqa: BLE001 - answered as a failure: the modality sends it again
            log.exception("%s: storing an image failed; answered 'out of resources'", _peer(event))
            self._count(event, "failed")
            return OUT_OF_RESOURCES
        self._count(event, result.status)
        if result.status == "refused":
            log.warning("%s %s: image refused: %s", _peer(event), ae_title, result.reason)
            return CANNOT_UNDERSTAND
        return SUCCESS

    def on_close(self, event) -> None:
        with self._lock:
            counts = self._counts.pop(id(event.assoc), None)
        if counts:
            summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
            log.info("%s %s: %s", _peer(event), _calling(event), summary)

    def handlers(self) -> list:
        from pynetdicom import evt

        return [
            (evt.EVT_CONN_OPEN, no_delay),
            (evt.EVT_C_STORE, self.on_store),
            (evt.EVT_RELEASED, self.on_close),
            (evt.EVT_ABORTED, self.on_close),
        ]


def no_delay(event) -> None:
    """Send each answer at once: pynetdicom writes a message in several small pieces, which
    Nagle's algorithm holds back until the peer's delayed acknowledgement (tens of milliseconds
    per image). DCMTK's tools turn it off the same way."""
    with contextlib.suppress(AttributeError, OSError):
        event.assoc.dul.socket.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _calling(event) -> str:
    title = event.assoc.requestor.ae_title
    return (title.decode("ascii", "replace") if isinstance(title, bytes) else str(title)).strip() or "unknown"


def _peer(event) -> str:
    requestor = event.assoc.requestor
    return f"{requestor.address}:{requestor.port}"


def application_entity(ae_title: str = AE_TITLE):
    """An AE that accepts every storage SOP class, in every transfer syntax, and Verification."""
    from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts
    from pynetdicom.sop_class import Verification

    ae = AE(ae_title=ae_title)
    for context in AllStoragePresentationContexts:
        ae.add_supported_context(context.abstract_syntax, ALL_TRANSFER_SYNTAXES)
    ae.add_supported_context(Verification)
    ae.maximum_pdu_size = 0  # no limit: fewer, larger PDUs for large images
    return ae


def start_listener(
    host: str,
    port: int,
    *,
    ae_title: str = AE_TITLE,
    database_url: str | None = None,
    scp: StorageSCP | None = None,
):
    """Start listening in background threads on ``host``:``port`` (0: any free port); the server
    (``server.server_address``; ``server.shutdown()`` stops it)."""
    scp = scp or StorageSCP(database_url)
    ae = application_entity(ae_title)
    return ae.start_server((host, port), block=False, evt_handlers=scp.handlers())


def run_listener(host: str, port: int, *, ae_title: str = AE_TITLE) -> None:
    """``hms dicom listen``: serve until SIGINT or SIGTERM."""
    logging.getLogger("pynetdicom").setLevel(logging.WARNING)
    server = start_listener(host, port, ae_title=ae_title)
    bound = server.server_address
    log.info("listening for DICOM C-STORE and C-ECHO as %s on %s:%s", ae_title, bound[0], bound[1])
    stop = threading.Event()
    previous = {
        signum: signal.signal(signum, lambda *_: stop.set()) for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        server.shutdown()  # waits for the associations in progress
        log.info("stopped listening")
