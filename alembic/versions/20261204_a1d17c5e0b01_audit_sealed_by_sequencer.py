"""Audit trail: rows are appended without a place and sealed by a sequencer with a key
kept outside the database (HMAC-SHA256 instead of a plain SHA-256 chain)

Existing rows are re-sealed in their order with the key (``HMS_AUDIT_KEY`` or
``data/audit.key``, created here if absent), so the whole trail verifies under it.

Revision ID: a1d17c5e0b01
Revises: 175eecaaff8b
Create Date: 2026-12-04 20:45:00
"""

import hashlib
import hmac
from collections.abc import Callable, Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = "a1d17c5e0b01"
down_revision: str | None = "175eecaaff8b"
branch_labels: str | Sequence[str] | None = ("audit_seal",)
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64


def _reseal(digest: Callable[[bytes], str]) -> None:
    """Give every row, in chain order (rows still waiting last, by id), consecutive numbers and a
    fresh seal. A row's new number is never above its old one, so taking them in order never
    collides with the unique constraint."""
    from hms_app.models.security import AuditEvent  # the ORM reads datetimes the way the app wrote them

    session = sqlmodel.Session(bind=op.get_bind())
    prev, seq = GENESIS, 0
    query = sa.select(AuditEvent).order_by(AuditEvent.seq.is_(None), AuditEvent.seq, AuditEvent.id)
    while rows := session.execute(query.offset(seq).limit(2000)).scalars().all():
        for row in rows:
            seq += 1
            row.seq, row.prev_hash = seq, prev
            prev = row.hash = digest(_fields(row, seq, prev))
            session.flush()
        session.expunge_all()
    session.execute(sa.text("DELETE FROM audit_head"))
    if seq:
        session.execute(
            sa.text("INSERT INTO audit_head (id, seq, hash) VALUES (1, :seq, :hash)"), {"seq": seq, "hash": prev}
        )
    session.flush()


def _fields(row, seq: int, prev: str) -> bytes:
    parts = [
        str(seq),
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
        prev,
    ]
    return "\x1f".join(parts).encode()


def upgrade() -> None:
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.alter_column("seq", existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column("prev_hash", existing_type=sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        batch_op.alter_column("hash", existing_type=sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        batch_op.create_index(
            "ix_audit_event_unsealed",
            ["id"],
            unique=False,
            postgresql_where=sa.text("seq IS NULL"),
            sqlite_where=sa.text("seq IS NULL"),
        )
    from hms_app.keys import load_key

    key = load_key("HMS_AUDIT_KEY", "audit.key")
    _reseal(lambda data: hmac.new(key, data, hashlib.sha256).hexdigest())


def downgrade() -> None:
    # The old chain: plain SHA-256, every row numbered (rows still waiting get the next numbers).
    _reseal(lambda data: hashlib.sha256(data).hexdigest())
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_unsealed", sqlite_where=sa.text("seq IS NULL"))
        batch_op.alter_column("hash", existing_type=sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False)
        batch_op.alter_column("prev_hash", existing_type=sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False)
        batch_op.alter_column("seq", existing_type=sa.Integer(), nullable=False)
