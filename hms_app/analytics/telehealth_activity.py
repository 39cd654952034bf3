"""The operations dashboard's telehealth figures: weekly activity and the video calls' timing.

Definitions (shown on the page):

* **Telehealth activity per week**: over the hospital weeks (Monday to Sunday, hospital time)
  that cover the period, the current week last: video visits whose call started
  (``analytics.telehealth``), secure messages written by patients or staff
  (``analytics.messaging``) and home readings patients entered (``analytics.home_readings``).
  Each count keeps its own module's definition; this module only lines them up by week.
* **Join delay**: from the clinician admitting the patient to both browsers receiving the other's
  media, the median over the calls that started in the period.
* **Call setup, 95th percentile**: from the clinician's browser sending its offer to the
  connection being up, over the same calls.

Telehealth serves every clinic, so the department filter does not narrow these figures.
Permission is checked by the service that calls these functions (``services.operations``).
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import plotly.graph_objects as go
from sqlmodel import Session

from hms_app.analytics.home_readings import weekly_home_readings
from hms_app.analytics.messaging import weekly_message_frame
from hms_app.analytics.telehealth import video_calls, video_visits_weekly
from hms_app.clock import local_today

COLUMNS = ["week_start", "video_visits", "messages", "home_readings"]
SERIES = (
    ("video_visits", "Video visits", "#2563eb"),
    ("messages", "Messages", "#0d9488"),
    ("home_readings", "Home readings", "#d97706"),
)
LAYOUT = dict(
    margin=dict(l=48, r=16, t=36, b=48),
    height=320,
    paper_bgcolor="rgba(0,0,0,0)",
    plot_bgcolor="rgba(0,0,0,0)",
    legend=dict(orientation="h", x=0, y=1.02, xanchor="left", yanchor="bottom"),
    font=dict(size=12),
    barmode="group",
    yaxis=dict(title="per week", rangemode="tozero", tickformat=",d"),
)


def period_weeks(days: int) -> int:
    """How many hospital weeks the weekly chart shows for a period of ``days``: the period's length
    in whole weeks, rounded up (7 -> 1, 30 -> 5, 90 -> 13), the current week last."""
    return max(1, -(-days // 7))


def weekly_activity_frame(session: Session, *, weeks: int, today: date | None = None) -> pd.DataFrame:
    """One row per hospital week (oldest first, this week last, zeros included): week_start (the
    Monday, a date), video_visits, messages, home_readings."""
    today = today or local_today()
    messages = weekly_message_frame(session, weeks=weeks, today=today)
    mondays = list(messages["week_start"])
    readings = weekly_home_readings(session, weeks=weeks, today=today)
    readings_by_week = readings.groupby("week_start")["readings"].sum()
    video = video_visits_weekly(session, mondays[0], today).set_index("week")["visits"]
    return pd.DataFrame(
        [
            (
                monday,
                int(video.get(monday, 0)),
                int(total),
                int(readings_by_week.get(monday.isoformat(), 0)),
            )
            for monday, total in zip(mondays, messages["total"], strict=True)
        ],
        columns=COLUMNS,
    )


def video_timing(session: Session, *, since: date, until: date) -> dict[str, float | int | None]:
    """The period's video calls (hospital days ``since`` to ``until``, inclusive): how many started,
    the median join delay and the 95th percentile of call setup, in milliseconds (None without any)."""
    calls = video_calls(session, since, until)
    delays = calls["join_delay_ms"].dropna()
    setups = calls["setup_ms"].dropna()
    return {
        "calls": len(calls),
        "join_delay_median_ms": float(delays.median()) if len(delays) else None,
        "setup_p95_ms": float(setups.quantile(0.95)) if len(setups) else None,
    }


def _seconds(milliseconds: float | None) -> str:
    return "–" if milliseconds is None else f"{milliseconds / 1000:.1f} s"


def telehealth_kpis(frame: pd.DataFrame, timing: dict[str, float | int | None]) -> dict[str, str]:
    """The headline numbers beside the weekly chart."""
    return {
        "video_visits": f"{int(timing['calls'] or 0):,}",
        "join_delay": _seconds(timing["join_delay_median_ms"]),
        "setup_p95": _seconds(timing["setup_p95_ms"]),
        "messages": f"{int(frame['messages'].sum()):,}" if len(frame) else "0",
        "home_readings": f"{int(frame['home_readings'].sum()):,}" if len(frame) else "0",
    }


def activity_figure(frame: pd.DataFrame) -> go.Figure:
    """Grouped bars per week: video visits, messages, home readings."""
    figure = go.Figure()
    labels = [f"{d:%d %b}" for d in frame["week_start"]]
    for column, name, colour in SERIES:
        figure.add_trace(
            go.Bar(
                name=name,
                x=labels,
                y=frame[column],
                marker_color=colour,
                hovertemplate=f"Week of %{{x}}: %{{y:,}} {name.lower()}<extra></extra>",
            )
        )
    figure.update_layout(**LAYOUT, xaxis_title="week starting")
    return figure


def has_activity(frame: pd.DataFrame) -> bool:
    return bool(len(frame)) and bool(frame[[c for c, _n, _k in SERIES]].to_numpy().sum())


def period_start(days: int, today: date | None = None) -> date:
    """The first hospital day of a period of ``days`` ending today."""
    return (today or local_today()) - timedelta(days=days - 1)
