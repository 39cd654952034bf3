"""The home screen's figures match an independent count of the raw rows with pandas.

The rows are placed around the awkward edges: local midnight and the first of the month
in the hospital's time zone (also one that is not UTC), the 24-hour window of failed
sign-ins, locks that have and have not run out, inactive records.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from sqlalchemy import select, text

from hms_app.analytics import home as home_figures
from hms_app.errors import Forbidden, NotSignedIn
from hms_app.models.organization import Department
from hms_app.models.patients import Patient
from hms_app.models.security import AppUser, Role, UserRole
from hms_app.services import audit, home
from hms_app.services.accounts import ensure_roles
from hms_app.services.audit import record_audit
from hms_app.services.permissions import DEFAULT_GRANTS, Actor
from hms_app.settings import get_settings

# 03:30 UTC on 15 March 2026: still the 14th in New York (EDT, UTC-4 since 8 March).
NOW = datetime(2026, 3, 15, 3, 30, tzinfo=UTC)

# (when registered, active?) placed on both sides of each boundary. New York is UTC-4 here:
# its 14 March starts at 04:00 UTC, and its March started at 05:00 UTC on the 1st (EST).
PATIENTS = [
    (NOW - timedelta(minutes=5), True),
    (NOW - timedelta(hours=3, minutes=29), True),  # 00:01 UTC on the 15th
    (NOW - timedelta(hours=3, minutes=31), True),  # 23:59 UTC on the 14th
    (NOW - timedelta(hours=23, minutes=29), True),  # 00:01 on the 14th in New York
    (NOW - timedelta(hours=23, minutes=31), True),  # 23:59 on the 13th in New York
    (NOW - timedelta(hours=1), False),  # today, but merged away since: not counted
    (datetime(2026, 3, 1, 0, 30, tzinfo=UTC), True),  # March in UTC, 28 February in New York
    (datetime(2026, 3, 1, 5, 30, tzinfo=UTC), True),  # March everywhere
    (datetime(2026, 2, 28, 23, 0, tzinfo=UTC), True),
    (datetime(2026, 2, 1, 4, 0, tzinfo=UTC), True),  # February in UTC, January in New York
    (datetime(2026, 1, 10, 12, 0, tzinfo=UTC), False),
    (datetime(2025, 12, 31, 23, 30, tzinfo=UTC), True),
    (datetime(2025, 4, 1, 3, 0, tzinfo=UTC), True),  # April 2025 in UTC, March 2025 in New York
    (datetime(2025, 3, 31, 12, 0, tzinfo=UTC), True),  # before any 12-month window ending March 2026
    (datetime(2024, 7, 4, 12, 0, tzinfo=UTC), True),
]


@pytest.fixture(params=["UTC", "America/New_York"])
def hospital(request, session, monkeypatch):
    """A small hospital with every kind of row the figures count, frozen at NOW."""
    monkeypatch.setenv("HMS_TIME_ZONE", request.param)
    get_settings.cache_clear()
    monkeypatch.setattr(home_figures, "utcnow", lambda: NOW)
    ensure_roles(session)

    for index, (moment, active) in enumerate(PATIENTS):
        session.add(
            Patient(
                mrn=f"H{index + 1:07d}-0",
                given_name=f"G{index}",
                family_name="F",
                sex="female",
                birth_date=date(1980, 1, 1),
                active=active,
                created_at=moment,
                updated_at=moment,
            )
        )
    session.add_all(
        [
            Department(code="GEN", name="General"),
            Department(code="CARD", name="Cardiology"),
            Department(code="OLD", name="Closed ward", active=False),
        ]
    )
    role_ids = dict(session.execute(select(Role.name, Role.id)).all())
    people = [
        ("nina", ["nurse"], True, None),
        ("dr.multi", ["physician", "nurse"], True, None),  # counted once
        ("locked.out", ["receptionist"], True, NOW + timedelta(minutes=3)),
        ("lock.over", ["receptionist"], True, NOW - timedelta(minutes=1)),
        ("gone", ["nurse"], False, NOW + timedelta(minutes=10)),  # disabled: neither active nor locked
        ("no.roles", [], True, None),
        ("pat", ["patient"], True, NOW + timedelta(minutes=10)),  # a portal account is not staff
    ]
    for username, roles, active, locked_until in people:
        user = AppUser(
            username=username,
            display_name=username,
            password_hash="x",
            is_active=active,
            locked_until=locked_until,
        )
        session.add(user)
        session.flush()
        session.add_all([UserRole(user_id=user.id, role_id=role_ids[r]) for r in roles])
    session.commit()

    clerk = Actor(user_id=3, username="clerk", roles=frozenset({"receptionist"}), permissions=frozenset())
    events = [
        (NOW - timedelta(minutes=10), "auth.sign_in", "failure"),
        (NOW - timedelta(hours=23, minutes=59), "auth.sign_in", "failure"),
        (NOW - timedelta(hours=24, minutes=1), "auth.sign_in", "failure"),  # outside the 24 hours
        (NOW - timedelta(hours=1), "auth.sign_in", "success"),
        (NOW - timedelta(hours=2), "auth.mfa", "failure"),  # a wrong code is not a failed sign-in here
        (NOW - timedelta(minutes=20), "patient.read", "success"),
        (NOW - timedelta(hours=3, minutes=20), "patient.read", "success"),  # 00:10 UTC, 20:10 in New York
        (NOW - timedelta(hours=5), "patient.read", "success"),  # the 14th in UTC; 18:30 on the 14th in NY
        (NOW - timedelta(hours=8), "patient.read", "success"),  # 15:30 on the 14th in New York
        (NOW - timedelta(days=2), "patient.read", "success"),
        (NOW - timedelta(minutes=1), "patient.write", "success"),
    ]
    for moment, action, outcome in events:
        monkeypatch.setattr(audit, "utcnow", lambda moment=moment: moment)
        record_audit(
            session, None if action.startswith("auth") else clerk, action, outcome=outcome, username="someone"
        )
    session.commit()
    return request.param


def _frame(session, table: str, *time_columns: str) -> pd.DataFrame:
    frame = pd.read_sql(text(f"SELECT * FROM {table}"), session.connection())
    for column in time_columns:
        frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    return frame


def _expected(session, tz_name: str) -> dict[str, int]:
    """The figures, recounted from raw rows with pandas only (no code shared with the service)."""
    tz = ZoneInfo(tz_name)
    now = pd.Timestamp(NOW)
    local_now = now.tz_convert(tz)
    midnight = local_now.normalize().tz_convert("UTC")
    month_start = local_now.replace(day=1).normalize().tz_convert("UTC")

    patients = _frame(session, "patient", "created_at")
    active = patients[patients["active"].astype(bool)]
    users = _frame(session, "app_user", "locked_until")
    user_roles = pd.read_sql(text("SELECT * FROM user_role"), session.connection())
    roles = pd.read_sql(text("SELECT id AS role_id, name FROM role"), session.connection())
    staff_links = user_roles.merge(roles, on="role_id")
    staff_ids = set(staff_links[staff_links["name"] != "patient"]["user_id"])
    staff = users[users["id"].isin(staff_ids) & users["is_active"].astype(bool)]
    events = _frame(session, "audit_event", "occurred_at")
    departments = pd.read_sql(text("SELECT * FROM department"), session.connection())
    return {
        "patients": len(active),
        "patients_month": int((active["created_at"] >= month_start).sum()),
        "patients_today": int((active["created_at"] >= midnight).sum()),
        "staff_accounts": len(staff),
        "locked_accounts": int((staff["locked_until"] > now).sum()),
        "failed_sign_ins": int(
            (
                (events["action"] == "auth.sign_in")
                & (events["outcome"] == "failure")
                & (events["occurred_at"] >= now - pd.Timedelta(hours=24))
            ).sum()
        ),
        "audit_today": int((events["occurred_at"] >= midnight).sum()),
        "chart_reads_today": int(
            ((events["action"] == "patient.read") & (events["occurred_at"] >= midnight)).sum()
        ),
        "departments": int(departments["active"].astype(bool).sum()),
    }


def _actor(*roles: str, patient_id: int | None = None) -> Actor:
    permissions = frozenset().union(*(DEFAULT_GRANTS[r] for r in roles))
    return Actor(
        user_id=1, username="viewer", roles=frozenset(roles), permissions=permissions, patient_id=patient_id
    )


def _figures(session, actor: Actor) -> dict[str, int]:
    return {f.key: f.value for f in home.home_figures(session, actor=actor)}


def test_an_administrators_figures_match_a_recount_of_the_raw_rows(hospital, session):
    expected = _expected(session, hospital)
    figures = _figures(session, _actor("admin", "physician"))  # between them, every card
    assert figures == expected
    # The edges above are only edges if they actually split the rows, and the time zone moves them:
    counted = (figures["patients_today"], figures["patients_month"], figures["chart_reads_today"])
    if hospital == "UTC":
        assert counted == (2, 7, 2)
    else:  # the 14th in New York, from 04:00 UTC; March from 05:00 UTC on the 1st
        assert counted == (4, 6, 4)
    assert (figures["patients"], figures["locked_accounts"], figures["failed_sign_ins"]) == (13, 1, 2)
    assert (figures["staff_accounts"], figures["departments"]) == (4, 2)


def test_each_role_sees_only_its_figures_and_portal_users_and_nobody_are_refused(hospital, session):
    expected = _expected(session, hospital)
    patient_cards = {"patients", "patients_month", "patients_today"}
    nurse = _figures(session, _actor("nurse"))
    assert set(nurse) == patient_cards  # patient figures, no user or audit figures
    assert nurse == {k: expected[k] for k in nurse}
    manager = _figures(session, _actor("manager"))
    assert set(manager) == patient_cards | {"departments"}
    assert manager == {k: expected[k] for k in manager}
    assert (
        home.home_figures(session, actor=Actor(user_id=9, username="bare", roles=frozenset({"nurse"}))) == []
    )
    with pytest.raises(Forbidden):
        home.home_figures(session, actor=_actor("patient", patient_id=1))
    with pytest.raises(NotSignedIn):
        home.home_figures(session, actor=None)


def test_registrations_by_month_match_pandas_grouping_in_the_hospitals_time_zone(hospital, session):
    tz = ZoneInfo(hospital)
    frame = home.registrations_by_month(session, actor=_actor("manager"), months=12)

    patients = _frame(session, "patient", "created_at")
    local_months = patients["created_at"].dt.tz_convert(tz).dt.strftime("%Y-%m")
    window = pd.period_range(end=pd.Timestamp(NOW).tz_convert(tz).strftime("%Y-%m"), periods=12, freq="M")
    window = window.strftime("%Y-%m")
    expected = local_months.value_counts().reindex(window, fill_value=0)

    assert list(frame["month"]) == list(window)
    assert list(frame["patients"]) == list(expected.values)
    assert 0 < frame["patients"].sum() < len(patients)  # rows older than the window are left out
    assert frame["patients"].dtype.kind == "i"

    figure = home_figures.registrations_figure(
        home.registrations_by_month(session, actor=_actor("manager"), months=6)
    )
    assert list(figure.data[0].x) == list(window[-6:]) and list(figure.data[0].y) == list(
        expected.values[-6:]
    )
    with pytest.raises(Forbidden):
        home.registrations_by_month(session, actor=_actor("nurse"))
