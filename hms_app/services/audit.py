"""The append-only audit trail: who read or changed what, when, from where.

Writers append a row in their own transaction and lock nothing shared; the sequencer in
``audit_chain`` gives each committed row its place in a keyed hash chain shortly after, and
``verify_chain`` proves that no sealed row was edited, removed or cut from the tail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.db import READ_ONLY, session_scope
from hms_app.models.security import AuditEvent
from hms_app.services.audit_chain import GENESIS, ChainReport, seal_all, verify_chain
from hms_app.services.permissions import Actor, authorize
from hms_app.settings import get_settings

__all__ = [
    "GENESIS",
    "ChainReport",
    "audit_row",
    "record_audit",
    "record_audits",
    "record_refusal",
    "search_audit",
    "verify_audit_chain",
    "verify_chain",
]


def audit_row(
    actor: Actor | None,
    action: str,
    *,
    patient_id: int | None = None,
    target_type: str | None = None,
    target_id: object | None = None,
    outcome: str = "success",
    detail: str | None = None,
    username: str | None = None,
) -> dict[str, Any]:
    """The column values of one audit row (``record_audit`` takes the same arguments)."""
    return {
        "occurred_at": utcnow(),
        "user_id": actor.user_id if actor else None,
        "username": (actor.username if actor else username) or "anonymous",
        "roles": ",".join(sorted(actor.roles)) if actor else "",
        "action": action,
        "patient_id": patient_id,
        "target_type": target_type,
        "target_id": None if target_id is None else str(target_id),
        "outcome": outcome,
        "screen": actor.screen if actor else None,
        "detail": detail[:4000] if detail else None,
    }


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
    """Append one audit row in the caller's transaction (the caller commits); it is sealed
    into the chain once committed.

    On a read-only session (``session_scope(read_only=True)``: a read that must not wait for
    writers) the row is committed at once in a short transaction of its own, before the read's
    answer is returned: on SQLite the read itself then never takes the write lock, and readers
    queue for it only for the length of one insert instead of their whole read.
    """
    row = AuditEvent(
        **audit_row(
            actor,
            action,
            patient_id=patient_id,
            target_type=target_type,
            target_id=target_id,
            outcome=outcome,
            detail=detail,
            username=username,
        )
    )
    audit_url = session.info.get(READ_ONLY)
    if audit_url:
        with session_scope(audit_url) as writer:
            writer.add(row)
            writer.commit()
        return row
    session.add(row)
    session.flush()
    return row


def record_audits(session: Session, rows: list[dict[str, Any]]) -> None:
    """Append several audit rows (``audit_row``) in one statement in the caller's writing
    transaction (the caller commits): for a service that writes many at once (an analyser's
    message), without building an object per row."""
    if session.info.get(READ_ONLY):
        raise ValueError("record_audits needs a writing session")
    if rows:
        session.execute(insert(AuditEvent), rows)


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

    seq: int | None  # None until the sequencer seals it, a few seconds after it was written
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
    rows = session.execute(
        select(*columns)
        .where(*conditions)
        .order_by(AuditEvent.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    # Reading the audit trail is itself something an auditor wants to know about.
    record_audit(session, actor, "audit.search", detail=_describe(filters))
    session.commit()
    return [AuditEntry(*row) for row in rows], total


def _describe(filters: AuditFilter) -> str:
    parts = [f"{k}={v}" for k, v in vars(filters).items() if v not in ("", None)]
    return ", ".join(parts) or "no filters"


def verify_audit_chain(session: Session, *, actor: Actor) -> ChainReport:
    """Seal what waits, recompute the chain for an auditor, and record that it was checked."""
    authorize(actor, "audit.read")
    seal_all(session)  # commits: what was written a moment ago is checked too
    url = session.get_bind().url.render_as_string(hide_password=False)
    # The scan reads in its own read-only transaction: on SQLite the caller's writing
    # session holds the database's single write lock from its first statement, and a
    # long scan under it would make every other user's save wait behind the auditor.
    with session_scope(url, read_only=True) as reader:
        report = verify_chain(reader)
    detail = (
        report.message if report.ok else f"{report.message}; rows checked before it: {report.rows_checked}"
    )
    record_audit(session, actor, "audit.verify", outcome="success" if report.ok else "failure", detail=detail)
    session.commit()
    return report


def record_refusal(
    session: Session, actor: Actor, *, service: str, error: Exception, arguments: dict[str, Any]
) -> None:
    """Record, in a transaction of its own, that a service refused ``actor``: a portal user asking
    for another patient's appointment, or a clerk for a record their role may not read, leaves a
    trace even though the refused transaction itself was rolled back."""
    ids = {
        name: value
        for name, value in arguments.items()
        if name.endswith("_id") and isinstance(value, int | str) and not isinstance(value, bool)
    }
    patient_id = ids.get("patient_id")
    detail = f"{service}: {error}" + "".join(
        f"; {name}={str(value)[:40]}" for name, value in sorted(ids.items())
    )
    record_audit(
        session,
        actor,
        "access.refused",
        patient_id=patient_id if isinstance(patient_id, int) else actor.patient_id,
        target_type=type(error).__name__,
        outcome="denied",
        detail=detail,
    )
    session.commit()


def audit_read(
    session: Session,
    actor: Actor,
    action: str,
    *,
    patient_id: int | None = None,
    target_type: str | None = None,
    target_id: object | None = None,
    detail: str | None = None,
) -> None:
    """Record that ``actor`` was shown patient data, and commit it: a read service has nothing
    else to commit, and a screen that names patients must leave a row whether or not it writes."""
    record_audit(
        session,
        actor,
        action,
        patient_id=patient_id,
        target_type=target_type,
        target_id=target_id,
        detail=detail,
    )
    session.commit()
