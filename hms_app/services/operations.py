"""The operations dashboard's reads: appointment volume, no-show rate, waiting times, bed
occupancy, the laboratory's and imaging's turnaround and telehealth's activity for a period,
permission-checked. ``analytics.operations`` computes each figure's
numbers (one SQL aggregate each, definitions written there) and checks nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

import pandas as pd
from sqlmodel import Session

from hms_app.analytics import operations as charts
from hms_app.analytics import telehealth_activity as telehealth
from hms_app.analytics.laboratory import turnaround_frame
from hms_app.analytics.radiology import imaging_turnaround_frame
from hms_app.clock import local_today
from hms_app.errors import ValidationError
from hms_app.services import organization
from hms_app.services.permissions import Actor, authorize
from hms_app.settings import get_settings

PERIOD_DAYS = (7, 30, 90)  # the periods a manager may choose, in days ending today


@dataclass(frozen=True)
class OperationsDashboard:
    departments: list[list[str]]  # [id, name] of the active departments, for the filter
    volume: pd.DataFrame
    no_shows: pd.DataFrame
    no_show_overall: tuple[int, int]  # (visits due, no-shows), each visit once
    waits: pd.DataFrame
    beds: pd.DataFrame
    lab_turnaround: pd.DataFrame  # stage, median_minutes, count: laboratory orders placed in the period
    imaging_turnaround: pd.DataFrame  # the same for imaging orders
    telehealth_weeks: pd.DataFrame  # week_start, video_visits, messages, home_readings per week
    video_timing: dict  # calls, join_delay_median_ms, setup_p95_ms of the period's video calls


def operations_dashboard(
    session: Session, *, actor: Actor, days: int, department_id: int | None
) -> OperationsDashboard:
    """Every figure of the operations page for one choice of filters, and the department list."""
    authorize(actor, "analytics.read")
    if days not in PERIOD_DAYS:
        raise ValidationError("Choose a period from the list.", field="days")
    # The laboratory, imaging and telehealth serve every clinic: their figures ignore the department filter.
    today = local_today()
    until = datetime.combine(today + timedelta(days=1), time.min, tzinfo=get_settings().tz)
    since = until - timedelta(days=days)
    return OperationsDashboard(
        departments=[[str(i), n] for i, n in organization.active_departments(session)],
        volume=charts.volume_frame(session, days=days, department_id=department_id),
        no_shows=charts.no_show_frame(session, days=days, department_id=department_id),
        no_show_overall=charts.no_show_overall(session, days=days, department_id=department_id),
        waits=charts.wait_frame(session, days=days, department_id=department_id),
        beds=charts.occupancy_frame(session, department_id=department_id),
        lab_turnaround=turnaround_frame(session, since=since, until=until),
        imaging_turnaround=imaging_turnaround_frame(session, since=since, until=until),
        telehealth_weeks=telehealth.weekly_activity_frame(
            session, weeks=telehealth.period_weeks(days), today=today
        ),
        video_timing=telehealth.video_timing(
            session, since=telehealth.period_start(days, today), until=today
        ),
    )
