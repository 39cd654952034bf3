"""Home readings per week, for the operations dashboard: SQL aggregate -> small DataFrame.

Definitions: a reading counts in the hospital week (Monday to Sunday, in the hospital's time
zone) in which the patient *entered* it (``entered_at``: the work it brought, whatever moment the
patient said they measured); ``alerts`` are the readings of that week that went beyond the
patient's limits (cleared since or not); ``patients`` are the distinct patients who entered one.
Every week of the period has a row per kind, zeros included, so a chart has no gaps.

Permission is checked by the service or state that calls it (analytics never authorizes).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pandas as pd
from sqlalchemy import case, func, select
from sqlmodel import Session

from hms_app.analytics.operations import hospital_mondays
from hms_app.cds.home_readings import KINDS
from hms_app.models.home_readings import HomeReading
from hms_app.settings import get_settings

COLUMNS = ["week_start", "kind", "kind_label", "readings", "alerts", "patients"]


def week_starts(weeks: int, today: date | None = None) -> tuple[list[date], list[datetime]]:
    """The Mondays of the last ``weeks`` hospital weeks (this week last), and their starts as aware
    moments, plus next Monday's start."""
    tz = get_settings().tz
    mondays = hospital_mondays(weeks, today)
    starts = [datetime.combine(d, time.min, tzinfo=tz) for d in [*mondays, mondays[-1] + timedelta(weeks=1)]]
    return mondays, starts


def weekly_home_readings(session: Session, *, weeks: int = 12, today: date | None = None) -> pd.DataFrame:
    """Home readings entered per hospital week and kind over the last ``weeks`` weeks (this one
    included). Columns: week_start (ISO date of the Monday), kind, kind_label, readings, alerts,
    patients."""
    weeks = min(max(int(weeks), 1), 520)
    mondays, starts = week_starts(weeks, today)
    r = HomeReading
    label = case(
        *[
            (r.entered_at >= start, day.isoformat())
            for day, start in zip(mondays[::-1], starts[-2::-1], strict=True)
        ]
    ).label("week")
    query = (
        select(
            label,
            r.kind,
            func.count(),
            func.count(case((r.alert_status != "", 1))),
            func.count(func.distinct(r.patient_id)),
        )
        .where(r.entered_at >= starts[0], r.entered_at < starts[-1])
        .group_by(label, r.kind)
    )
    found = {
        (week, kind): (n, alerts, patients)
        for week, kind, n, alerts, patients in session.execute(query).all()
    }
    rows = [
        {
            "week_start": monday.isoformat(),
            "kind": kind,
            "kind_label": spec.label,
            "readings": int(found.get((monday.isoformat(), kind), (0, 0, 0))[0]),
            "alerts": int(found.get((monday.isoformat(), kind), (0, 0, 0))[1]),
            "patients": int(found.get((monday.isoformat(), kind), (0, 0, 0))[2]),
        }
        for monday in mondays
        for kind, spec in KINDS.items()
    ]
    return pd.DataFrame(rows, columns=COLUMNS)
