"""Every setting HMS reads from the environment, in one place.

Embedded default: a SQLite file under ``data/`` and Reflex's in-process state.
Scale-out: ``HMS_DATABASE_URL`` points at PostgreSQL and ``REDIS_URL`` switches Reflex
to its Redis state manager with several backend workers. Nothing else changes.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as error:
        raise RuntimeError(f"{name} must be a whole number, got {raw!r}") from error


def _hours_list(name: str, default: str) -> tuple[int, ...]:
    raw = os.environ.get(name) or default
    try:
        hours = tuple(sorted({int(part) for part in raw.split(",") if part.strip()}, reverse=True))
    except ValueError as error:
        raise RuntimeError(
            f"{name} must be whole hours separated by commas, like 24,2; got {raw!r}"
        ) from error
    if not hours or any(h <= 0 for h in hours):
        raise RuntimeError(f"{name} must list positive hours, like 24,2; got {raw!r}")
    return hours


LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")


def _public_url(raw: str | None, port: int) -> str:
    """The address people type to reach HMS: scheme, host and port, nothing else."""
    url = (raw or "").strip().rstrip("/") or f"http://localhost:{port}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RuntimeError(f"HMS_PUBLIC_URL must look like https://hms.example.org, got {raw!r}")
    if parts.path or parts.query or parts.fragment or parts.username or parts.password:
        raise RuntimeError(
            f"HMS_PUBLIC_URL must be only the scheme, host and port (HMS is served at the root), got {raw!r}"
        )
    try:
        port_given = parts.port
    except ValueError as error:
        raise RuntimeError(f"HMS_PUBLIC_URL has an impossible port: {raw!r}") from error
    netloc = parts.netloc.lower()
    if (parts.scheme, port_given) in (("http", 80), ("https", 443)):
        netloc = netloc.rsplit(":", 1)[0]  # browsers leave the default port out of Origin
    return f"{parts.scheme}://{netloc}"


def normalize_database_url(url: str) -> str:
    """Use the psycopg 3 driver for PostgreSQL URLs written the usual way."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    redis_url: str | None
    time_zone: str
    hospital_name: str
    port: int
    session_hours: int
    session_idle_minutes: int
    lockout_attempts: int
    lockout_minutes: int
    documents_dir: Path
    cancel_cutoff_hours: int
    waitlist_offer_minutes: int
    reminder_lead_hours: tuple[int, ...]
    smtp_host: str | None
    smtp_port: int
    smtp_user: str | None
    smtp_password: str | None
    smtp_from: str
    smtp_starttls: bool
    audit_checkpoint_file: Path
    public_url: str
    max_upload_mb: int
    trusted_proxy_hops: int = 0
    # How the inventory dashboard values stock unless the manager switches: "fifo" (each lot at its
    # own cost) or "average" (the item's moving-average cost).
    stock_valuation: str = "fifo"
    # Minutes a critical result may wait unacknowledged before it goes one step up the chain.
    critical_escalate_minutes: int = 15
    # The DICOM listener the app runs in-process (the embedded, one-process deployment: its notices
    # reach the boards directly). Off when no port is set; several workers run `hms dicom listen`.
    dicom_port: int | None = None
    dicom_host: str = "127.0.0.1"
    # How long a FHIR client's bearer token lives (SMART Backend Services suggests five minutes).
    fhir_token_minutes: int = 5
    # ISO 4217 code of the currency every amount (integer cents) is in: the FHIR API's Money says it.
    currency: str = "USD"
    # WebRTC ICE servers for video visits (HMS_ICE_SERVERS, a JSON list of {urls, username,
    # credential}); empty: host candidates only (one machine or one LAN). With HMS_TURN_SECRET (coturn's
    # static-auth-secret) the TURN entries without a credential get short-lived ones per call.
    ice_servers: tuple[dict, ...] = ()
    turn_secret: str | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def is_https(self) -> bool:
        return self.public_url.startswith("https://")

    @property
    def allowed_origins(self) -> tuple[str, ...]:
        """The origins a browser may send requests from: the public URL's, and for a loopback URL
        the same port on every loopback name (one machine, three spellings of itself)."""
        parts = urlsplit(self.public_url)
        host = parts.netloc.rsplit(":", 1)[0] if parts.port else parts.netloc
        if host not in LOOPBACK_HOSTS:
            return (self.public_url,)
        port = f":{parts.port}" if parts.port else ""
        return tuple(f"{parts.scheme}://{name}{port}" for name in LOOPBACK_HOSTS)

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    data_dir = Path(os.environ.get("HMS_DATA_DIR", PROJECT_ROOT / "data")).resolve()
    default_db = f"sqlite:///{data_dir / 'hms.db'}"
    port = _int("HMS_PORT", 3000)
    max_upload_mb = _int("HMS_MAX_UPLOAD_MB", 20)
    if max_upload_mb <= 0:
        raise RuntimeError(f"HMS_MAX_UPLOAD_MB must be a positive number of megabytes, got {max_upload_mb}")
    return Settings(
        data_dir=data_dir,
        database_url=normalize_database_url(os.environ.get("HMS_DATABASE_URL", default_db)),
        redis_url=os.environ.get("REDIS_URL") or None,
        time_zone=os.environ.get("HMS_TIME_ZONE", "UTC"),
        hospital_name=os.environ.get("HMS_HOSPITAL_NAME", "HMS General Hospital"),
        port=port,
        session_hours=_int("HMS_SESSION_HOURS", 12),
        session_idle_minutes=_int("HMS_SESSION_IDLE_MINUTES", 60),
        lockout_attempts=_int("HMS_LOCKOUT_ATTEMPTS", 5),
        lockout_minutes=_int("HMS_LOCKOUT_MINUTES", 15),
        documents_dir=Path(os.environ.get("HMS_DOCUMENTS_DIR", data_dir / "documents")).resolve(),
        cancel_cutoff_hours=_int("HMS_CANCEL_CUTOFF_HOURS", 2),
        waitlist_offer_minutes=_int("HMS_WAITLIST_OFFER_MINUTES", 30),
        reminder_lead_hours=_hours_list("HMS_REMINDER_LEAD_HOURS", "24,2"),
        smtp_host=os.environ.get("HMS_SMTP_HOST", "").strip() or None,
        smtp_port=_int("HMS_SMTP_PORT", 587),
        smtp_user=os.environ.get("HMS_SMTP_USER") or None,
        smtp_password=os.environ.get("HMS_SMTP_PASSWORD") or None,
        smtp_from=os.environ.get("HMS_SMTP_FROM") or "no-reply@hms.local",
        smtp_starttls=os.environ.get("HMS_SMTP_STARTTLS", "1").lower() not in ("0", "false", "no"),
        audit_checkpoint_file=Path(
            os.environ.get("HMS_AUDIT_CHECKPOINT_FILE") or data_dir / "audit-checkpoints.log"
        ).resolve(),
        public_url=_public_url(os.environ.get("HMS_PUBLIC_URL"), port),
        max_upload_mb=max_upload_mb,
        trusted_proxy_hops=_trusted_proxy_hops(),
        stock_valuation=_stock_valuation(),
        critical_escalate_minutes=_critical_escalate_minutes(),
        dicom_port=_dicom_port(),
        dicom_host=(os.environ.get("HMS_DICOM_HOST") or "127.0.0.1").strip(),
        fhir_token_minutes=_fhir_token_minutes(),
        currency=_currency(),
        ice_servers=_ice_servers(),
        turn_secret=os.environ.get("HMS_TURN_SECRET") or None,
    )


def _currency() -> str:
    code = (os.environ.get("HMS_CURRENCY") or "USD").strip()
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise RuntimeError(
            f"HMS_CURRENCY must be an ISO 4217 code of three capital letters (USD, EUR), got {code!r}"
        )
    return code


def _ice_servers() -> tuple[dict, ...]:
    import json

    raw = os.environ.get("HMS_ICE_SERVERS", "").strip()
    if not raw:
        return ()
    try:
        servers = json.loads(raw)
    except ValueError as error:
        raise RuntimeError(
            f"HMS_ICE_SERVERS must be a JSON list of {{urls, username, credential}}: {error}"
        ) from error
    if not isinstance(servers, list) or not all(isinstance(s, dict) and s.get("urls") for s in servers):
        raise RuntimeError("HMS_ICE_SERVERS must be a JSON list of objects, each with its urls")
    allowed = {"urls", "username", "credential"}
    for server in servers:
        urls = server["urls"] if isinstance(server["urls"], list) else [server["urls"]]
        if set(server) - allowed or not all(
            isinstance(u, str) and u.split(":", 1)[0] in ("stun", "stuns", "turn", "turns") for u in urls
        ):
            raise RuntimeError(
                f"HMS_ICE_SERVERS: unexpected entry {server!r} (urls stun:/turn:/turns:, username, credential)"
            )
    return tuple(servers)


def _fhir_token_minutes() -> int:
    minutes = _int("HMS_FHIR_TOKEN_MINUTES", 5)
    if not 1 <= minutes <= 60:
        raise RuntimeError(
            f"HMS_FHIR_TOKEN_MINUTES must be a whole number of minutes from 1 to 60, got {minutes}"
        )
    return minutes


def _critical_escalate_minutes() -> int:
    minutes = _int("HMS_CRITICAL_ESCALATE_MINUTES", 15)
    if not 1 <= minutes <= 240:
        raise RuntimeError(
            f"HMS_CRITICAL_ESCALATE_MINUTES must be a whole number of minutes from 1 to 240, got {minutes}"
        )
    return minutes


def _dicom_port() -> int | None:
    if not (os.environ.get("HMS_DICOM_PORT") or "").strip():
        return None
    port = _int("HMS_DICOM_PORT", 0)
    if not 1 <= port <= 65535:
        raise RuntimeError(f"HMS_DICOM_PORT must be a port number from 1 to 65535, got {port}")
    return port


def _stock_valuation() -> str:
    raw = (os.environ.get("HMS_STOCK_VALUATION") or "fifo").strip().lower()
    if raw not in ("fifo", "average"):
        raise RuntimeError(f"HMS_STOCK_VALUATION must be fifo or average, got {raw!r}")
    return raw


def _trusted_proxy_hops() -> int:
    """How many reverse proxies in front of HMS append to X-Forwarded-For. The client's address is
    the entry that many places from the right; 0 (the default) ignores the header, which any
    client can write."""
    hops = _int("HMS_TRUSTED_PROXY_HOPS", 0)
    if not 0 <= hops <= 10:
        raise RuntimeError(f"HMS_TRUSTED_PROXY_HOPS must be a whole number from 0 to 10, got {hops}")
    return hops
