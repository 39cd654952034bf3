"""The append-only, hash-chained audit trail: who read or changed what, when, from where.

Every row carries the hash of the row before it. Writers lock the single ``audit_head``
row for the rest of their transaction, so rows get consecutive sequence numbers and the
chain never forks, on SQLite and across PostgreSQL workers alike. ``verify_chain``
recomputes every hash: an edited row breaks its own hash, a deleted row leaves a gap in
the sequence, and a deleted tail no longer matches the head.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.db import session_scope
from hms_app.models.security import AuditEvent, AuditHead
from hms_app.services.permissions import Actor, authorize
from hms_app.settings import get_settings

GENESIS = "0" * 64


def _digest(row: AuditEvent) -> str:
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
        row.prev_hash,
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def record_audit(
    session: Session,
    actor: Actor | None,
    action: str,
    *,
    patient_id: int | None = None,
    target_type: str | None = None,
    target_id: object | None = None,
    outcome: str = "success",
    detail: str | None = None,
    username: str | None = None,
) -> AuditEvent:
    """Append one audit row in the caller's transaction (the caller commits)."""
    locked_head = select(AuditHead).where(AuditHead.id == 1).with_for_update()
    head = session.execute(locked_head).scalar_one_or_none()
    if head is None:
        # The very first writers race to create the head row: the loser's INSERT waits for
        # the winner's commit and fails on the key; it then locks the winner's row instead.
        try:
            with session.begin_nested():
                session.add(AuditHead(id=1, seq=0, hash=GENESIS))
        except IntegrityError:
            pass
        head = session.execute(locked_head).scalar_one()
    row = AuditEvent(
        seq=head.seq + 1,
        occurred_at=utcnow(),
        user_id=actor.user_id if actor else None,
        username=(actor.username if actor else username) or "anonymous",
        roles=",".join(sorted(actor.roles)) if actor else "",
        action=action,
        patient_id=patient_id,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        outcome=outcome,
        screen=actor.screen if actor else None,
        detail=detail[:4000] if detail else None,
        prev_hash=head.hash,
        hash="",
    )
    row.hash = _digest(row)
    head.seq, head.hash = row.seq, row.hash
    session.add(row)
    session.add(head)
    session.flush()
    return row


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    rows_checked: int
    message: str
    first_bad_seq: int | None = None


def verify_chain(session: Session, *, batch: int = 5000) -> ChainReport:
    """Recompute the whole chain; report the first row that does not hold."""
    head = session.get(AuditHead, 1)
    expected_prev, expected_seq, checked = GENESIS, 1, 0
    last_seq = 0
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
            if _digest(row) != row.hash:
                return ChainReport(False, checked, f"row {row.seq} was altered after it was written", row.seq)
            expected_prev, expected_seq, last_seq = row.hash, row.seq + 1, row.seq
            checked += 1
        session.expunge_all()
    head_seq = head.seq if head else 0
    head_hash = head.hash if head else GENESIS
    if head_seq != last_seq or head_hash != expected_prev:
        return ChainReport(
            False, checked, f"the chain ends at row {last_seq} but its head says {head_seq}", last_seq + 1
        )
    return ChainReport(True, checked, f"audit chain intact: {checked} rows")


@dataclass(frozen=True)
class AuditFilter:
    username: str = ""
    patient_id: int | None = None
    action: str = ""
    date_from: date | None = None
    date_to: date | None = None


@dataclass(frozen=True)
class AuditEntry:
    """One audit row as the trail screen shows it (a copy: the row itself stays in the session)."""

    seq: int
    occurred_at: datetime
    username: str
    roles: str
    action: str
    patient_id: int | None
    target_type: str | None
    target_id: str | None
    outcome: str
    screen: str | None
    detail: str | None


def search_audit(
    session: Session, *, actor: Actor, filters: AuditFilter, page: int = 1, page_size: int = 50
) -> tuple[list[AuditEntry], int]:
    """One page of audit rows, newest first, and the total that match."""
    authorize(actor, "audit.read")
    page = max(page, 1)
    page_size = min(max(page_size, 1), 200)
    conditions = []
    if filters.username.strip():
        conditions.append(AuditEvent.username == filters.username.strip())
    if filters.patient_id is not None:
        conditions.append(AuditEvent.patient_id == filters.patient_id)
    if filters.action.strip():
        conditions.append(AuditEvent.action.startswith(filters.action.strip()))
    if filters.date_from:
        conditions.append(
            AuditEvent.occurred_at >= datetime.combine(filters.date_from, time.min, tzinfo=get_settings().tz)
        )
    if filters.date_to:
        conditions.append(
            AuditEvent.occurred_at
            < datetime.combine(filters.date_to + timedelta(days=1), time.min, tzinfo=get_settings().tz)
        )
    total = session.execute(select(func.count()).select_from(AuditEvent).where(*conditions)).scalar_one()
    columns = [getattr(AuditEvent, name) for name in AuditEntry.__dataclass_fields__]
    rows = (
        session.execute(
            select(*columns)
            .where(*conditions)
            .order_by(AuditEvent.seq.desc())
            .offset((page - 1) * page_size)
            .limit(page_size)
        )
        .tuples()
        .all()
    )
    # Reading the audit trail is itself something an auditor wants to know about.
    record_audit(session, actor, "audit.search", detail=_describe(filters))
    session.commit()
    return [AuditEntry(*row) for row in rows], total


def _describe(filters: AuditFilter) -> str:
    parts = [f"{k}={v}" for k, v in vars(filters).items() if v not in ("", None)]
    return ", ".join(parts) or "no filters"


def verify_audit_chain(session: Session, *, actor: Actor) -> ChainReport:
    """Recompute the audit chain for an auditor and record that it was checked."""
    authorize(actor, "audit.read")
    # The scan reads in its own read-only transaction: on SQLite the caller's writing
    # session holds the database's single write lock from its first statement, and a
    # long scan under it would make every other user's save wait behind the auditor.
    url = session.get_bind().url.render_as_string(hide_password=False)
    with session_scope(url, read_only=True) as reader:
        report = verify_chain(reader)
    detail = (
        report.message if report.ok else f"{report.message}; rows checked before it: {report.rows_checked}"
    )
    record_audit(session, actor, "audit.verify", outcome="success" if report.ok else "failure", detail=detail)
    session.commit()
    return report
