"""Every operations figure, recomputed from the raw appointment and bed rows with pandas, matches
exactly: volume by hospital day and department, no-show rate by provider, waiting-time bands with
the mean, and bed occupancy by ward. The hospital's time zone is not UTC, so a visit late in the
evening belongs to that local day."""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta

import pandas as pd
import pytest
from sqlalchemy import select

from hms_app.analytics import operations as ops
from hms_app.clock import to_local, utcnow
from hms_app.errors import Forbidden, ValidationError
from hms_app.models.organization import Department
from hms_app.models.patients import Patient
from hms_app.models.scheduling import (
    Appointment,
    AppointmentParticipant,
    AppointmentType,
    HealthcareService,
    Resource,
)
from hms_app.models.wards import Bed, Ward
from hms_app.services.operations import operations_dashboard
from hms_app.services.permissions import DEFAULT_GRANTS, Actor
from hms_app.services.scheduling.stats import no_show_report, overall_no_show
from hms_app.settings import get_settings

MANAGER = Actor(
    user_id=0, username="mona", roles=frozenset({"manager"}), permissions=DEFAULT_GRANTS["manager"]
)
NURSE = Actor(user_id=0, username="nina", roles=frozenset({"nurse"}), permissions=DEFAULT_GRANTS["nurse"])


@pytest.fixture
def hospital(session, monkeypatch):
    monkeypatch.setenv("HMS_TIME_ZONE", "America/New_York")
    get_settings.cache_clear()
    rng = random.Random(5)
    departments = []
    for code, name in (("CARD", "Cardiology"), ("GEN", "General Medicine"), ("PED", "Paediatrics")):
        d = Department(code=code, name=name)
        session.add(d)
        session.flush()
        departments.append(d.id)
    patient = Patient(
        mrn="OPS1",
        given_name="Op",
        family_name="Patient",
        sex="female",
        birth_date=datetime(1980, 1, 1).date(),
    )
    session.add(patient)
    session.flush()
    services, types, providers = {}, {}, {}
    for dep in departments:
        service = HealthcareService(code=f"S{dep}", name=f"Clinic {dep}", department_id=dep)
        session.add(service)
        session.flush()
        kind = AppointmentType(service_id=service.id, code="FU", name="Follow-up", duration_minutes=15)
        session.add(kind)
        session.flush()
        services[dep], types[dep] = service.id, kind.id
        providers[dep] = []
        for k in range(2):
            resource = Resource(kind="provider", name=f"Dr {dep}-{k}", department_id=dep)
            session.add(resource)
            session.flush()
            providers[dep].append(resource.id)
        room = Resource(kind="room", name=f"Room {dep}", department_id=dep)
        session.add(room)
        session.flush()
        providers[dep].append(room.id)  # a room takes part too: it must not count as a provider
    now = utcnow()
    for n in range(400):
        dep = rng.choice(departments)
        start = now - timedelta(days=rng.uniform(-5, 95))
        status = rng.choice(
            ["booked", "arrived", "in_room", "completed", "completed", "no_show", "cancelled", "offered"]
        )
        arrived = (
            start - timedelta(minutes=rng.randint(0, 20))
            if status in ("arrived", "in_room", "completed")
            else None
        )
        in_room = (
            arrived + timedelta(minutes=rng.choice([0, 5, 10, 19.5, 20, 45, 61, 90]))
            if arrived and status != "arrived"
            else None
        )
        appointment = Appointment(
            reference=f"AP-{n:06d}",
            patient_id=patient.id,
            service_id=services[dep],
            appointment_type_id=types[dep],
            department_id=dep,
            start_at=start,
            end_at=start + timedelta(minutes=15),
            status=status,
            arrived_at=arrived,
            in_room_at=in_room,
        )
        session.add(appointment)
        session.flush()
        session.add(
            AppointmentParticipant(appointment_id=appointment.id, resource_id=rng.choice(providers[dep][:2]))
        )
        if rng.random() < 0.5:
            session.add(AppointmentParticipant(appointment_id=appointment.id, resource_id=providers[dep][2]))
    for index, dep in enumerate(departments[:2]):
        ward = Ward(name=f"Ward {index + 1}", department_id=dep)
        session.add(ward)
        session.flush()
        for b in range(12):
            session.add(Bed(ward_id=ward.id, label=f"{index}-{b}", status=rng.choice(ops.BED_STATUSES)))
    session.add(Ward(name="Closed ward", department_id=departments[2], active=False))
    session.commit()
    yield departments
    get_settings.cache_clear()


def _frames(session):
    conn = session.connection()
    appointments = pd.read_sql(select(Appointment), conn)
    for column in ("start_at", "arrived_at", "in_room_at"):
        appointments[column] = pd.to_datetime(appointments[column], utc=True, format="mixed")
    participants = pd.read_sql(select(AppointmentParticipant), conn)
    resources = pd.read_sql(select(Resource), conn)
    departments = dict(session.execute(select(Department.id, Department.name)).all())
    return appointments, participants, resources, departments


def _period(days: int):
    tz = get_settings().tz
    today = to_local(utcnow()).date()
    first = datetime.combine(today - timedelta(days=days - 1), time.min, tzinfo=tz)
    end = datetime.combine(today + timedelta(days=1), time.min, tzinfo=tz)
    return today, pd.Timestamp(first), pd.Timestamp(end)


@pytest.mark.parametrize("days", [7, 30, 90])
def test_volume_by_day_and_department(session, hospital, days):
    appointments, _p, _r, names = _frames(session)
    today, first, end = _period(days)
    rows = appointments[
        (appointments["start_at"] >= first)
        & (appointments["start_at"] < end)
        & appointments["status"].isin(["booked", "arrived", "in_room", "completed", "no_show"])
    ].copy()
    rows["day"] = rows["start_at"].dt.tz_convert(get_settings().tz).dt.date.astype(str)
    counts = rows.groupby(["department_id", "day"]).size()
    day_list = [(today - timedelta(days=k)).isoformat() for k in range(days - 1, -1, -1)]
    deps = sorted(set(rows["department_id"]), key=lambda d: names[d])
    expected = [(day, names[dep], int(counts.get((dep, day), 0))) for dep in deps for day in day_list]
    got = ops.volume_frame(session, days=days)
    assert list(got.itertuples(index=False, name=None)) == expected
    assert got["appointments"].sum() > 0
    only = ops.volume_frame(session, days=days, department_id=hospital[0])
    assert set(only["department"]) <= {names[hospital[0]]}


@pytest.mark.parametrize("days", [7, 30])
def test_no_show_rate_by_provider(session, hospital, days):
    """Every visit due in the period (arrived, in the room, completed or missed), whether or not it
    has begun yet, counts once for each provider resource that took part; rooms do not count."""
    appointments, participants, resources, _names = _frames(session)
    _today, first, end = _period(days)
    rows = appointments[
        (appointments["start_at"] >= first)
        & (appointments["start_at"] < end)
        & appointments["status"].isin(["arrived", "in_room", "completed", "no_show"])
    ]
    providers = resources[resources["kind"] == "provider"]
    joined = rows.merge(participants, left_on="id", right_on="appointment_id").merge(
        providers, left_on="resource_id", right_on="id", suffixes=("", "_resource")
    )
    expected = []
    for name, part in sorted(joined.groupby("name"), key=lambda item: item[0]):
        total, missed = (
            part["appointment_id"].nunique(),
            part[part["status"] == "no_show"]["appointment_id"].nunique(),
        )
        expected.append((name, total, missed, round(100.0 * missed / total, 1)))
    got = ops.no_show_frame(session, days=days)
    assert list(got.itertuples(index=False, name=None)) == expected
    assert got["no_shows"].sum() > 0


@pytest.mark.parametrize("days", [7, 30, 90])
def test_operations_and_the_no_show_screen_show_the_same_rates(session, hospital, days):
    """The operations dashboard and /schedule/stats count no-shows one way: for the same days and
    department, the headline rate and every provider's rate are the same numbers on both screens."""
    today = to_local(utcnow()).date()
    span = {"start_day": today - timedelta(days=days - 1), "end_day": today}
    for department_id in (None, hospital[0]):
        board = operations_dashboard(session, actor=MANAGER, days=days, department_id=department_id)
        kpis = ops.summary(board.volume, board.no_show_overall, board.waits, board.beds)
        stats = no_show_report(session, actor=MANAGER, department_id=department_id, **span)
        due, missed = overall_no_show(session, actor=MANAGER, department_id=department_id, **span)
        assert due > 0
        assert kpis["no_show"] == f"{100.0 * missed / due:.1f}%"
        assert stats.overall == f"{100.0 * missed / due:.1f} % of {due:,} visits due"
        on_stats = {r.name: (r.appointments, r.no_shows) for r in stats.providers}
        on_operations = {
            name: (total, missed)
            for name, total, missed, _rate in board.no_shows.itertuples(index=False, name=None)
        }
        assert on_operations == on_stats and on_operations


def test_a_visit_seen_by_two_providers_counts_once_in_the_headline_rate(session, hospital):
    """Two providers at one missed visit, one of them also at an attended visit: the bars show
    1 of 2 and 1 of 1, the headline 1 missed of 2 visits due (50 %), not 2 of 3 (66.7 %)."""
    session.execute(AppointmentParticipant.__table__.delete())
    session.execute(Appointment.__table__.delete())
    dep = hospital[0]
    service = session.execute(
        select(HealthcareService).where(HealthcareService.department_id == dep)
    ).scalar_one()
    kind = session.execute(
        select(AppointmentType).where(AppointmentType.service_id == service.id)
    ).scalar_one()
    first, second = session.execute(
        select(Resource.id)
        .where(Resource.department_id == dep, Resource.kind == "provider")
        .order_by(Resource.id)
    ).scalars()
    patient_id = session.execute(select(Patient.id)).scalar_one()
    start = utcnow() - timedelta(days=2)
    for n, (status, seen_by) in enumerate((("no_show", (first, second)), ("completed", (first,)))):
        visit = Appointment(
            reference=f"AP-TWO{n}",
            patient_id=patient_id,
            service_id=service.id,
            appointment_type_id=kind.id,
            department_id=dep,
            start_at=start,
            end_at=start + timedelta(minutes=15),
            status=status,
        )
        session.add(visit)
        session.flush()
        session.add_all(AppointmentParticipant(appointment_id=visit.id, resource_id=r) for r in seen_by)
    session.commit()
    board = operations_dashboard(session, actor=MANAGER, days=7, department_id=None)
    assert [(t, m) for _n, t, m, _r in board.no_shows.itertuples(index=False, name=None)] == [(2, 1), (1, 1)]
    assert board.no_show_overall == (2, 1)
    assert ops.summary(board.volume, board.no_show_overall, board.waits, board.beds)["no_show"] == "50.0%"


@pytest.mark.parametrize("days", [7, 90])
def test_waiting_time_bands_and_mean(session, hospital, days):
    appointments, _p, _r, names = _frames(session)
    _today, first, end = _period(days)
    rows = appointments[
        (appointments["start_at"] >= first)
        & (appointments["start_at"] < end)
        & appointments["arrived_at"].notna()
        & appointments["in_room_at"].notna()
    ].copy()
    rows["minutes"] = (rows["in_room_at"] - rows["arrived_at"]).dt.total_seconds() / 60
    bands = [
        ("0-10 min", 0, 10),
        ("10-20 min", 10, 20),
        ("20-30 min", 20, 30),
        ("30-60 min", 30, 60),
        ("60+ min", 60, 1e9),
    ]
    expected = []
    for dep in sorted(set(rows["department_id"]), key=lambda d: names[d]):
        part = rows[rows["department_id"] == dep]
        mean = round(float(part["minutes"].mean()), 1)
        for label, low, high in bands:
            expected.append(
                (names[dep], label, int(((part["minutes"] >= low) & (part["minutes"] < high)).sum()), mean)
            )
    got = ops.wait_frame(session, days=days)
    assert list(got.itertuples(index=False, name=None)) == expected
    assert got["visits"].sum() > 0


def test_bed_occupancy_by_ward(session, hospital):
    conn = session.connection()
    beds = pd.read_sql(select(Bed.ward_id, Bed.status), conn)
    wards = pd.read_sql(select(Ward.id, Ward.name, Ward.active), conn)
    active = wards[wards["active"].astype(bool)]
    expected = []
    for _id, name in sorted(zip(active["id"], active["name"], strict=True), key=lambda w: w[1]):
        counts = beds[beds["ward_id"] == _id]["status"].value_counts()
        if counts.empty:
            continue
        c = {s: int(counts.get(s, 0)) for s in ops.BED_STATUSES}
        in_service = c["occupied"] + c["free"] + c["cleaning"]
        expected.append((name, *c.values(), round(100.0 * c["occupied"] / in_service, 1)))
    got = ops.occupancy_frame(session)
    assert list(got.itertuples(index=False, name=None)) == expected and len(expected) == 2


def test_operations_need_the_analytics_permission_and_a_listed_period(session, hospital):
    with pytest.raises(Forbidden):
        operations_dashboard(session, actor=NURSE, days=7, department_id=None)
    with pytest.raises(ValidationError):
        operations_dashboard(session, actor=MANAGER, days=5, department_id=None)
    board = operations_dashboard(session, actor=MANAGER, days=7, department_id=hospital[0])
    assert board.volume.equals(ops.volume_frame(session, days=7, department_id=hospital[0]))
    assert board.beds.equals(ops.occupancy_frame(session, department_id=hospital[0]))
