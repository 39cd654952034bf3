"""The operations dashboard's telehealth figures, recomputed from raw rows: video visits, secure
messages and home readings per hospital week, the median join delay and the 95th percentile of
call setup. The hospital's time zone is not UTC, so an evening message belongs to that local week."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

import pandas as pd
import pytest

from hms_app.analytics import telehealth_activity as telehealth
from hms_app.clock import local_today, utcnow
from hms_app.errors import Forbidden
from hms_app.models.home_readings import HomeReading
from hms_app.models.messaging import MessageThread, SecureMessage
from hms_app.models.organization import Department
from hms_app.models.patients import Patient
from hms_app.models.scheduling import Appointment, AppointmentType, HealthcareService
from hms_app.models.security import AppUser
from hms_app.models.video_visits import VideoVisit
from hms_app.services.operations import operations_dashboard
from hms_app.services.permissions import DEFAULT_GRANTS, Actor
from hms_app.settings import get_settings

MANAGER = Actor(
    user_id=0, username="mona", roles=frozenset({"manager"}), permissions=DEFAULT_GRANTS["manager"]
)
NURSE = Actor(user_id=0, username="nina", roles=frozenset({"nurse"}), permissions=DEFAULT_GRANTS["nurse"])


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


@pytest.fixture
def telehealth_rows(session, monkeypatch):
    """Calls, messages and readings spread over 100 days, some in the local evening (UTC's next day)."""
    monkeypatch.setenv("HMS_TIME_ZONE", "America/New_York")
    get_settings.cache_clear()
    rng = random.Random(17)
    department = Department(code="TEL", name="Telehealth")
    session.add(department)
    session.flush()
    patient = Patient(
        mrn="TEL1", given_name="Tia", family_name="Remote", sex="female", birth_date=date(1975, 3, 4)
    )
    writer = AppUser(username="tele-nurse", display_name="Nurse Tele", password_hash="!")
    session.add_all([patient, writer])
    session.flush()
    service = HealthcareService(code="TELE", name="Video clinic", department_id=department.id)
    session.add(service)
    session.flush()
    kind = AppointmentType(
        service_id=service.id, code="VV", name="Video visit", duration_minutes=15, mode="virtual"
    )
    session.add(kind)
    session.flush()
    thread = MessageThread(patient_id=patient.id, subject="Tablets", started_by_id=writer.id)
    session.add(thread)
    session.flush()
    now = utcnow()
    for n in range(120):
        start = now - timedelta(days=rng.uniform(0, 100), hours=rng.choice([0, 1, 2]))
        appointment = Appointment(
            reference=f"VV-{n:05d}",
            patient_id=patient.id,
            service_id=service.id,
            appointment_type_id=kind.id,
            department_id=department.id,
            start_at=start,
            end_at=start + timedelta(minutes=15),
            status="completed",
        )
        session.add(appointment)
        session.flush()
        held = rng.random() < 0.8  # some patients waited and the call never started
        session.add(
            VideoVisit(
                appointment_id=appointment.id,
                patient_id=patient.id,
                department_id=department.id,
                status="ended",
                waiting_since=start - timedelta(minutes=3),
                admitted_at=start,
                started_at=start + timedelta(seconds=2) if held else None,
                media_flowing_at=start + timedelta(seconds=3) if held else None,
                ended_at=start + timedelta(minutes=12),
                join_delay_ms=rng.randint(800, 9000) if held else None,
                setup_ms=rng.randint(150, 4000) if held else None,
            )
        )
    for _ in range(300):
        session.add(
            SecureMessage(
                thread_id=thread.id,
                author_id=writer.id,
                from_patient=rng.random() < 0.5,
                body="…",
                created_at=now - timedelta(days=rng.uniform(0, 100)),
            )
        )
    for _ in range(200):
        entered = now - timedelta(days=rng.uniform(0, 100))
        session.add(
            HomeReading(
                patient_id=patient.id,
                kind=rng.choice(["blood_pressure", "glucose", "weight"]),
                measured_at=entered - timedelta(hours=1),
                entered_at=entered,
            )
        )
    session.commit()
    yield
    get_settings.cache_clear()


def _weekly(values: pd.Series, mondays: list[date]) -> list[int]:
    tz = get_settings().tz
    local = pd.to_datetime(values, utc=True).dt.tz_convert(tz).dt.date
    weeks = local.map(_monday).value_counts()
    return [int(weeks.get(monday, 0)) for monday in mondays]


@pytest.mark.parametrize("days", [7, 30, 90])
def test_weekly_counts_and_call_timing_match_the_raw_rows(session, telehealth_rows, days):
    today = local_today()
    data = operations_dashboard(session, actor=MANAGER, days=days, department_id=None)
    frame = data.telehealth_weeks
    weeks = -(-days // 7)
    mondays = [_monday(today) - timedelta(weeks=k) for k in range(weeks - 1, -1, -1)]
    assert list(frame["week_start"]) == mondays

    conn = session.connection()
    calls = pd.read_sql("SELECT started_at, join_delay_ms, setup_ms FROM video_visit", conn)
    held = calls.dropna(subset=["started_at"])
    messages = pd.read_sql("SELECT created_at FROM secure_message", conn)
    readings = pd.read_sql("SELECT entered_at FROM home_reading", conn)
    assert list(frame["video_visits"]) == _weekly(held["started_at"], mondays)
    assert list(frame["messages"]) == _weekly(messages["created_at"], mondays)
    assert list(frame["home_readings"]) == _weekly(readings["entered_at"], mondays)
    if days >= 30:  # 300 messages over 100 days: a month holds some (a week may start today)
        assert frame["messages"].sum() > 0

    # Timing: the calls that started on the period's hospital days.
    tz = get_settings().tz
    first = datetime.combine(today - timedelta(days=days - 1), time.min, tzinfo=tz)
    started = pd.to_datetime(held["started_at"], utc=True)
    in_period = held[started >= pd.Timestamp(first)]
    assert data.video_timing["calls"] == len(in_period)
    assert data.video_timing["join_delay_median_ms"] == pytest.approx(in_period["join_delay_ms"].median())
    assert data.video_timing["setup_p95_ms"] == pytest.approx(in_period["setup_ms"].quantile(0.95))

    kpis = telehealth.telehealth_kpis(frame, data.video_timing)
    assert kpis["video_visits"] == f"{len(in_period):,}"
    assert kpis["join_delay"] == f"{in_period['join_delay_ms'].median() / 1000:.1f} s"
    figure = telehealth.activity_figure(frame)
    assert [trace.name for trace in figure.data] == ["Video visits", "Messages", "Home readings"]
    assert list(figure.data[1].y) == list(frame["messages"])


def test_an_empty_hospital_shows_dashes_not_zero_delays(session):
    data = operations_dashboard(session, actor=MANAGER, days=30, department_id=None)
    assert not telehealth.has_activity(data.telehealth_weeks)
    kpis = telehealth.telehealth_kpis(data.telehealth_weeks, data.video_timing)
    assert kpis == {
        "video_visits": "0",
        "join_delay": "–",
        "setup_p95": "–",
        "messages": "0",
        "home_readings": "0",
    }


def test_a_nurse_cannot_read_the_telehealth_figures(session):
    with pytest.raises(Forbidden):
        operations_dashboard(session, actor=NURSE, days=30, department_id=None)
