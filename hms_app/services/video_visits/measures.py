"""The video visit measures the operations dashboard shows (computed in ``analytics.telehealth``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlmodel import Session

from hms_app.analytics import telehealth
from hms_app.errors import ValidationError
from hms_app.services.permissions import Actor, authorize

MAX_DAYS = 400


@dataclass(frozen=True)
class VideoMeasures:
    weekly: pd.DataFrame  # week, visits, join_delay_p50_ms, join_delay_p95_ms, setup_p95_ms
    visits: int
    join_delay_p95_ms: float | None
    setup_p95_ms: float | None


def video_measures(session: Session, *, actor: Actor, start: date, end: date) -> VideoMeasures:
    """Video visits per week, join delay and call setup time (p95) between two hospital days."""
    authorize(actor, "analytics.read")
    if end < start or (end - start).days > MAX_DAYS:
        raise ValidationError(f"Choose a period of at most {MAX_DAYS} days, its end after its start.")
    calls = telehealth.video_calls(session, start, end)
    delays, setups = calls["join_delay_ms"].dropna(), calls["setup_ms"].dropna()
    return VideoMeasures(
        weekly=telehealth.video_visits_weekly(session, start, end),
        visits=len(calls),
        join_delay_p95_ms=None if delays.empty else float(delays.quantile(0.95)),
        setup_p95_ms=None if setups.empty else float(setups.quantile(0.95)),
    )
