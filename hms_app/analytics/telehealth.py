"""Video visit measures for the operations dashboard: SQL aggregate -> small DataFrame.

Definitions:

* **Video visits per week**: video visits whose call started (media flowed both ways) in each
  week of the period, weeks starting on Monday (hospital time); ended calls and calls in progress.
* **Join delay**: milliseconds from the clinician admitting the patient to both browsers receiving
  the other's media (``video_visit.join_delay_ms``), per call.
* **Call setup time**: milliseconds the clinician's browser measured from its offer to the
  connection being up (``video_visit.setup_ms``), per call; its 95th percentile per week.

Permission is checked by the service that calls these functions (``services.video_visits.measures``).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pandas as pd
from sqlalchemy import select
from sqlmodel import Session

from hms_app.models.video_visits import VideoVisit
from hms_app.settings import get_settings

MAX_CALLS = 100_000  # rows read for the percentiles at most; a hospital's quarter fits well within


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    tz = get_settings().tz
    return (
        datetime.combine(start, time(0), tzinfo=tz),
        datetime.combine(end + timedelta(days=1), time(0), tzinfo=tz),
    )


def video_calls(session: Session, start: date, end: date) -> pd.DataFrame:
    """One row per video call that started between ``start`` and ``end`` (inclusive, hospital days):
    appointment_id, department_id, started_at, join_delay_ms, setup_ms, reconnects, minutes."""
    low, high = _bounds(start, end)
    rows = session.execute(
        select(
            VideoVisit.appointment_id,
            VideoVisit.department_id,
            VideoVisit.started_at,
            VideoVisit.ended_at,
            VideoVisit.join_delay_ms,
            VideoVisit.setup_ms,
            VideoVisit.reconnects,
        )
        .where(VideoVisit.started_at.is_not(None), VideoVisit.started_at >= low, VideoVisit.started_at < high)
        .order_by(VideoVisit.started_at)
        .limit(MAX_CALLS)
    ).all()
    frame = pd.DataFrame(
        rows,
        columns=[
            "appointment_id",
            "department_id",
            "started_at",
            "ended_at",
            "join_delay_ms",
            "setup_ms",
            "reconnects",
        ],
    )
    if frame.empty:
        frame["minutes"] = pd.Series(dtype="float")
        return frame
    started = pd.to_datetime(frame["started_at"], utc=True)
    ended = pd.to_datetime(frame["ended_at"], utc=True)
    frame["minutes"] = (ended - started).dt.total_seconds() / 60
    return frame


def video_visits_weekly(session: Session, start: date, end: date) -> pd.DataFrame:
    """Per week (Monday, hospital time): visits, median and p95 join delay, p95 setup time (ms).

    Columns: week (date), visits, join_delay_p50_ms, join_delay_p95_ms, setup_p95_ms. Weeks
    without a call are listed with 0 visits and empty measures.
    """
    calls = video_calls(session, start, end)
    tz = get_settings().tz
    first = start - timedelta(days=start.weekday())
    weeks = pd.DataFrame({"week": [first + timedelta(weeks=i) for i in range((end - first).days // 7 + 1)]})
    if calls.empty:
        for column in ("join_delay_p50_ms", "join_delay_p95_ms", "setup_p95_ms"):
            weeks[column] = pd.Series([None] * len(weeks), dtype="float")
        weeks["visits"] = 0
        return weeks[["week", "visits", "join_delay_p50_ms", "join_delay_p95_ms", "setup_p95_ms"]]
    local = pd.to_datetime(calls["started_at"], utc=True).dt.tz_convert(tz).dt.date
    calls["week"] = [d - timedelta(days=d.weekday()) for d in local]
    grouped = calls.groupby("week")
    summary = pd.DataFrame(
        {
            "visits": grouped.size(),
            "join_delay_p50_ms": grouped["join_delay_ms"].quantile(0.5),
            "join_delay_p95_ms": grouped["join_delay_ms"].quantile(0.95),
            "setup_p95_ms": grouped["setup_ms"].quantile(0.95),
        }
    ).reset_index()
    merged = weeks.merge(summary, on="week", how="left")
    merged["visits"] = merged["visits"].fillna(0).astype(int)
    return merged[["week", "visits", "join_delay_p50_ms", "join_delay_p95_ms", "setup_p95_ms"]]


def setup_p95_ms(session: Session, start: date, end: date) -> float | None:
    """The 95th percentile of call setup time over the whole period (ms), or None without calls."""
    setups = video_calls(session, start, end)["setup_ms"].dropna()
    return None if setups.empty else float(setups.quantile(0.95))
