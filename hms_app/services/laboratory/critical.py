"""Critical results: the alert a critical value raises.

A stand-in with only ``raise_alert`` so that the results services can raise alerts; the closed
loop (acknowledgement with read-back, escalation, the board) replaces this module when its
branch is merged, keeping this function's signature and behaviour.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.models.laboratory import CriticalAlert

ESCALATE_AFTER = timedelta(minutes=15)


def raise_alert(
    session: Session,
    *,
    source_type: str,
    source_id: int,
    patient_id: int,
    summary: str,
    recipient_id: int | None,
    department_id: int | None,
) -> CriticalAlert:
    """Open an alert for a critical finding, to ``recipient_id`` first; one per source (raising it
    again returns the open one). Does not commit: it rides on the caller's transaction."""
    del department_id  # who it escalates to is the loop's concern
    existing = session.execute(
        select(CriticalAlert).where(
            CriticalAlert.source_type == source_type, CriticalAlert.source_id == source_id
        )
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    now = utcnow()
    alert = CriticalAlert(
        source_type=source_type,
        source_id=source_id,
        patient_id=patient_id,
        summary=summary[:200],
        recipient_id=recipient_id,
        raised_at=now,
        escalate_at=now + ESCALATE_AFTER,
    )
    try:
        with session.begin_nested():
            session.add(alert)
            session.flush()
    except IntegrityError:
        return session.execute(
            select(CriticalAlert).where(
                CriticalAlert.source_type == source_type, CriticalAlert.source_id == source_id
            )
        ).scalar_one()
    return alert
