"""Sealing and checking the audit trail, the way transparency logs sequence their entries.

Writers only append: ``record_audit`` inserts a row in the writer's own transaction and locks
nothing shared, so a hundred bookings a second do not queue behind one row. Shortly after, the
sequencer (``seal_pending``, run by every worker every few seconds and before every check) takes
the committed rows that have no place yet, in the order it finds them, gives each the next
number in the chain, the seal of the row before it and its own seal, and moves the chain's
head. Only the sequencer locks the head, and a second worker that finds it locked skips the
round instead of waiting.

A seal is an HMAC-SHA256 over the row's fields, the number and the previous seal, under a key
that is not in the database (``HMS_AUDIT_KEY`` or ``data/audit.key``): whoever can write the
database can neither edit a sealed row nor write a new chain that verifies. Cutting the tail
and moving the head back would still verify on its own, so after each round the sequencer also
appends a signed checkpoint of the head to a file outside the database
(``HMS_AUDIT_CHECKPOINT_FILE``); ``verify_chain`` checks the rows against each checkpoint.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.keys import load_key
from hms_app.models.security import AuditEvent, AuditHead
from hms_app.settings import get_settings

log = logging.getLogger("hms.audit")

GENESIS = "0" * 64
KEY_ENV, KEY_FILE = "HMS_AUDIT_KEY", "audit.key"
SEAL_BATCH = 5000


@lru_cache(maxsize=4)
def _key_for(data_dir: str, env_value: str) -> bytes:
    # Cached per data directory and environment value, so tests that switch either get theirs.
    return load_key(KEY_ENV, KEY_FILE)


def audit_key() -> bytes:
    return _key_for(str(get_settings().data_dir), os.environ.get(KEY_ENV, ""))


def seal_of(row: AuditEvent, key: bytes) -> str:
    """The row's seal: every field an auditor relies on, its number and the seal before it."""
    parts = [
        str(row.seq),
        row.occurred_at.isoformat(timespec="microseconds"),
        "" if row.user_id is None else str(row.user_id),
        row.username,
        row.roles,
        row.action,
        "" if row.patient_id is None else str(row.patient_id),
        row.target_type or "",
        row.target_id or "",
        row.outcome,
        row.screen or "",
        row.detail or "",
        row.prev_hash or "",
    ]
    return hmac.new(key, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()


# --------------------------------------------------------------------------- checkpoints


def checkpoint_path() -> Path:
    return get_settings().audit_checkpoint_file


def _line_signature(key: bytes, kind: str, seq: int, seal: str, at: str) -> str:
    return hmac.new(key, f"{kind}|{seq}|{seal}|{at}".encode(), hashlib.sha256).hexdigest()


def write_checkpoint(kind: str, seq: int, seal: str) -> None:
    """Append one signed line. One small ``write`` on a file opened for appending is atomic, so
    workers on one machine can share the file; machines need a shared file or one each."""
    if seq <= 0:
        return
    key, at = audit_key(), utcnow().isoformat(timespec="microseconds")
    line = {
        "kind": kind,
        "seq": seq,
        "seal": seal,
        "at": at,
        "sig": _line_signature(key, kind, seq, seal, at),
    }
    path = checkpoint_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(descriptor, (json.dumps(line, separators=(",", ":")) + "\n").encode())
    finally:
        os.close(descriptor)


@dataclass(frozen=True)
class Checkpoint:
    line: int
    kind: str
    seq: int
    seal: str
    at: str


class _BadCheckpoint(Exception):
    pass


def read_checkpoints(path: Path | None = None) -> list[Checkpoint]:
    """The signed lines since the last restore (a restore starts a new history); a line that is
    not signed by this key is tampering, not something to skip."""
    path = path or checkpoint_path()
    if not path.exists():
        return []
    key, lines = audit_key(), []
    with path.open() as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                item = json.loads(raw)
                kind, seq, seal, at, sig = (
                    item["kind"],
                    int(item["seq"]),
                    item["seal"],
                    item["at"],
                    item["sig"],
                )
            except (ValueError, KeyError, TypeError) as error:
                raise _BadCheckpoint(f"checkpoint line {number} of {path} is not a checkpoint") from error
            if not hmac.compare_digest(str(sig), _line_signature(key, str(kind), seq, str(seal), str(at))):
                raise _BadCheckpoint(
                    f"checkpoint line {number} of {path} is not signed with this server's key"
                )
            if kind == "restore":
                lines = []
            lines.append(Checkpoint(number, kind, seq, seal, at))
    return lines


# --------------------------------------------------------------------------- the sequencer


def _claim_head(session: Session) -> AuditHead | None:
    """The head row, locked for this round; None when another worker's sequencer holds it."""
    head = session.execute(
        select(AuditHead).where(AuditHead.id == 1).with_for_update(skip_locked=True)
    ).scalar_one_or_none()
    if head is not None:
        return head
    if session.get(AuditHead, 1) is not None:
        return None  # it exists, so it is locked: that worker seals this round
    try:
        with session.begin_nested():
            session.add(AuditHead(id=1, seq=0, hash=GENESIS))
    except IntegrityError:
        return None
    return session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar_one()


def seal_pending(session: Session, *, limit: int = SEAL_BATCH) -> int:
    """Seal the committed rows that have no place in the chain yet; commit; checkpoint the head.

    Returns how many rows were sealed. Rows committed while the round runs wait for the next.
    """
    session.commit()  # see every row committed before this round
    head = _claim_head(session)
    if head is None:
        session.rollback()
        return 0
    rows = (
        session.execute(
            select(AuditEvent).where(AuditEvent.seq.is_(None)).order_by(AuditEvent.id).limit(limit)
        )
        .scalars()
        .all()
    )
    if not rows:
        session.rollback()
        return 0
    key, seq, previous = audit_key(), head.seq, head.hash
    for row in rows:
        seq += 1
        row.seq, row.prev_hash = seq, previous
        row.hash = previous = seal_of(row, key)
    head.seq, head.hash = seq, previous
    session.commit()
    write_checkpoint("head", seq, previous)
    return len(rows)


def seal_all(session: Session) -> int:
    """Seal until nothing waits (a check, a backup or a shutdown wants the whole trail sealed)."""
    total = 0
    while sealed := seal_pending(session):
        total += sealed
    return total


def mark_restore(session: Session) -> None:
    """After a restore the database's history is the backup's: start the checkpoints anew from
    its head, signed, so the older checkpoints are not mistaken for a cut tail."""
    head = session.get(AuditHead, 1)
    write_checkpoint("restore", head.seq if head else 0, head.hash if head else GENESIS)


# --------------------------------------------------------------------------- checking


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    rows_checked: int
    message: str
    first_bad_seq: int | None = None


def verify_chain(session: Session, *, batch: int = 5000, checkpoints: Path | None = None) -> ChainReport:
    """Recompute every seal and compare the chain with the signed checkpoints outside the
    database; report the first row that does not hold."""
    try:
        marks = read_checkpoints(checkpoints)
    except _BadCheckpoint as error:
        return ChainReport(False, 0, str(error))
    expected_at: dict[int, Checkpoint] = {}
    for mark in marks:
        earlier = expected_at.setdefault(mark.seq, mark)
        if earlier.seal != mark.seal:
            # Only a rewritten tail gives the same place two different rows between restores.
            return ChainReport(
                False,
                0,
                f"row {mark.seq} was replaced: the checkpoints of {earlier.at} and {mark.at} saw different rows there",
                mark.seq,
            )
    key = audit_key()
    head = session.get(AuditHead, 1)
    expected_prev, expected_seq, checked, last_seq = GENESIS, 1, 0, 0
    while True:
        rows = (
            session.execute(
                select(AuditEvent).where(AuditEvent.seq >= expected_seq).order_by(AuditEvent.seq).limit(batch)
            )
            .scalars()
            .all()
        )
        if not rows:
            break
        for row in rows:
            if row.seq != expected_seq:
                return ChainReport(False, checked, f"row {expected_seq} is missing (deleted)", expected_seq)
            if row.prev_hash != expected_prev:
                return ChainReport(
                    False, checked, f"row {row.seq} does not follow row {row.seq - 1}", row.seq
                )
            if not hmac.compare_digest(seal_of(row, key), row.hash or ""):
                return ChainReport(False, checked, f"row {row.seq} was altered after it was sealed", row.seq)
            mark = expected_at.get(row.seq)
            if mark is not None and mark.seal != row.hash:
                return ChainReport(
                    False,
                    checked,
                    f"row {row.seq} is not the row the checkpoint of {mark.at} sealed",
                    row.seq,
                )
            expected_prev, expected_seq, last_seq = row.hash, row.seq + 1, row.seq
            checked += 1
        session.expunge_all()
    head_seq = head.seq if head else 0
    head_hash = head.hash if head else GENESIS
    if head_seq != last_seq or head_hash != expected_prev:
        return ChainReport(
            False, checked, f"the chain ends at row {last_seq} but its head says {head_seq}", last_seq + 1
        )
    furthest = max(marks, key=lambda mark: mark.seq, default=None)
    if furthest is not None and furthest.seq > last_seq:
        return ChainReport(
            False,
            checked,
            f"rows {last_seq + 1} to {furthest.seq} are gone: the checkpoint of {furthest.at} saw the chain "
            f"reach row {furthest.seq}, the database now ends at row {last_seq}",
            last_seq + 1,
        )
    waiting = session.execute(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.seq.is_(None))
    ).scalar_one()
    suffix = f"; {waiting} newer rows wait to be sealed" if waiting else ""
    return ChainReport(True, checked, f"audit chain intact: {checked} rows{suffix}")
