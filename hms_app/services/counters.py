"""Gap-free numbering (MRNs, invoices) that stays correct with concurrent writers."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from hms_app.models.organization import Counter


def take_numbers(session: Session, name: str, count: int = 1) -> range:
    """Reserve ``count`` consecutive numbers from counter ``name`` in the caller's transaction.

    The UPDATE takes the row lock (PostgreSQL) or the write lock (SQLite) until commit, so
    two writers can never receive the same number, and a rolled-back transaction gives
    its numbers back.
    """
    if count < 1:
        raise ValueError("count must be at least 1")
    for _ in range(2):
        updated = session.execute(
            update(Counter)
            .where(Counter.name == name)
            .values(value=Counter.value + count)
            .returning(Counter.value)
        ).scalar_one_or_none()
        if updated is not None:
            return range(updated - count + 1, updated + 1)
        try:
            with session.begin_nested():
                session.add(Counter(name=name, value=0))
        except IntegrityError:
            pass  # someone else created it first; the UPDATE will now find it
    raise RuntimeError(f"counter {name!r} could not be advanced")


def peek(session: Session, name: str) -> int:
    return session.execute(select(Counter.value).where(Counter.name == name)).scalar_one_or_none() or 0
