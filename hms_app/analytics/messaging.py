"""Secure messaging figures: SQL aggregate -> small DataFrame (for the operations dashboard).

* **Messages per week**: messages written in secure-messaging threads in each of the last
  ``weeks`` hospital weeks (Monday to Sunday in the hospital's time zone, the current week last,
  so far), split by who wrote them (patients or staff). Booking invitations count as staff
  messages. Weeks without a message are present with zeros.

Permission is checked by the service that calls these functions.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pandas as pd
from sqlalchemy import case, func, select
from sqlmodel import Session

from hms_app.analytics.operations import hospital_mondays
from hms_app.models.messaging import SecureMessage
from hms_app.settings import get_settings

MAX_WEEKS = 104
COLUMNS = ["week_start", "from_patients", "from_staff", "total"]


def weekly_message_frame(session: Session, *, weeks: int = 12, today: date | None = None) -> pd.DataFrame:
    """Messages per hospital week: ``week_start`` (a date, Monday), ``from_patients``, ``from_staff``
    and ``total``; one row per week, oldest first, zeros included."""
    if not 1 <= weeks <= MAX_WEEKS:
        raise ValueError(f"weeks must be between 1 and {MAX_WEEKS}")
    tz = get_settings().tz
    mondays = hospital_mondays(weeks, today)
    starts = [datetime.combine(d, time.min, tzinfo=tz) for d in mondays]
    end = datetime.combine(mondays[-1] + timedelta(days=7), time.min, tzinfo=tz)
    # Each message is labelled by the latest week start it passed (hospital time, DST-safe).
    label = case(
        *[
            (SecureMessage.created_at >= s, d.isoformat())
            for d, s in zip(mondays[::-1], starts[::-1], strict=True)
        ]
    )
    rows = session.execute(
        select(
            label.label("week"),
            func.sum(case((SecureMessage.from_patient.is_(True), 1), else_=0)),
            func.sum(case((SecureMessage.from_patient.is_(True), 0), else_=1)),
        )
        .where(SecureMessage.created_at >= starts[0], SecureMessage.created_at < end)
        .group_by(label)
    ).all()
    found = {week: (int(p or 0), int(s or 0)) for week, p, s in rows}
    data = []
    for monday in mondays:
        patients, staff = found.get(monday.isoformat(), (0, 0))
        data.append((monday, patients, staff, patients + staff))
    return pd.DataFrame(data, columns=COLUMNS)
