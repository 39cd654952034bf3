"""Home readings: a patient's measurements entered in the portal, checked with the chart's own
plausibility limits, written as chart observations marked patient-reported, compared with the
patient's alert limits (or the defaults), and the staff board of those beyond them. Every read and
write is audited; every refusal leaves nothing written."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import select

from hms_app.analytics.home_readings import weekly_home_readings
from hms_app.clock import held_at, utcnow
from hms_app.errors import Conflict, Forbidden, InvalidFields, NotFound, ValidationError
from hms_app.interop.fhir.resources.observation import MAPPER
from hms_app.models.emr import Observation
from hms_app.models.home_readings import HomeReading, HomeReadingLimit, HomeReadingObservation
from hms_app.models.security import AuditEvent
from hms_app.services import emr, live, patients
from hms_app.services.home_readings import (
    alert_board,
    clear_alert,
    home_series,
    patient_limits,
    readings_page,
    record_home_reading,
    set_limits,
)
from hms_app.services.permissions import SYSTEM_ACTOR, Actor
from hms_app.settings import get_settings

NURSE = Actor(
    user_id=0,
    username="nina",
    roles=frozenset({"nurse"}),
    permissions=frozenset({"reading.review", "patient.read", "emr.write"}),
)
RECEPTION = Actor(
    user_id=0, username="rita", roles=frozenset({"receptionist"}), permissions=frozenset({"patient.read"})
)


def _patient(session, given: str, family: str) -> int:
    return patients.register_patient(
        session,
        actor=SYSTEM_ACTOR,
        data={"given_name": given, "family_name": family, "sex": "female", "birth_date": "1958-04-05"},
    ).id


def _me(patient_id: int, username: str = "paula") -> Actor:
    return Actor(
        user_id=0,
        username=username,
        roles=frozenset({"patient"}),
        permissions=frozenset({"portal.self"}),
        patient_id=patient_id,
    )


@pytest.fixture
def two(session):
    return _patient(session, "Paula", "Pressure"), _patient(session, "Otto", "Other")


@pytest.fixture
def notices(monkeypatch):
    sent: list[tuple] = []
    monkeypatch.setattr(live, "publish", lambda topic, key=None: sent.append((topic, key)))
    return sent


def _bp(session, patient_id, systolic, diastolic, pulse="", measured_at=None, actor=None):
    return record_home_reading(
        session,
        actor=actor or _me(patient_id),
        patient_id=patient_id,
        kind="blood_pressure",
        values={"systolic": systolic, "diastolic": diastolic, "pulse": pulse},
        measured_at=measured_at,
    )


def _audits(session, action: str) -> list[AuditEvent]:
    return list(
        session.execute(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        ).scalars()
    )


# --------------------------------------------------------------------------- entering a reading


def test_a_blood_pressure_becomes_chart_observations_marked_patient_reported(session, two, notices):
    paula, _otto = two
    measured = utcnow() - timedelta(hours=2)
    done = _bp(session, paula, "142", "91", "78", measured_at=measured)
    assert (done.kind_label, done.values, done.alert_text) == (
        "Blood pressure",
        "142/91 mmHg · pulse 78 /min",
        "",
    )

    observations = (
        session.execute(select(Observation).where(Observation.patient_id == paula).order_by(Observation.code))
        .scalars()
        .all()
    )
    assert [(o.code, o.value, o.unit, o.category, o.recorded_by) for o in observations] == [
        ("8462-4", 91.0, "mm[Hg]", "vital-signs", "home:paula"),
        ("8480-6", 142.0, "mm[Hg]", "vital-signs", "home:paula"),
        ("8867-4", 78.0, "/min", "vital-signs", "home:paula"),
    ]
    assert all(abs((o.effective_at.replace(tzinfo=UTC) - measured).total_seconds()) < 1 for o in observations)
    links = session.execute(select(HomeReadingObservation.measure)).scalars().all()
    assert sorted(links) == ["diastolic", "pulse", "systolic"]
    assert notices == [("readings", None)]  # the staff board hears of it

    # The chart's trend marks them; a nurse's own measurement is not.
    emr.record_vitals(
        session, actor=NURSE, patient_id=paula, values={"systolic_bp": "150", "diastolic_bp": "95"}
    )
    series = emr.vital_series(session, actor=NURSE, patient_id=paula, key="systolic_bp")
    assert [(p.value, p.patient_reported) for p in series] == [(142.0, True), (150.0, False)]
    # The chart's latest vitals say which the patient entered: her pulse; the nurse's pressure is newer.
    chart = emr.open_chart(session, actor=NURSE, patient_id=paula)
    assert chart.patient_reported == {"heart_rate"}
    assert chart.latest_vitals["systolic_bp"][0] == 150.0
    # FHIR names the patient as the performer of a home measurement, and nobody for the nurse's.
    home = next(o for o in observations if o.code == "8480-6")
    assert MAPPER.to_fhir(home)["performer"] == [{"reference": f"Patient/{paula}"}]
    nurse_row = session.execute(
        select(Observation).where(Observation.code == "8480-6", Observation.recorded_by == "nina")
    ).scalar_one()
    assert "performer" not in MAPPER.to_fhir(nurse_row)

    [audit] = _audits(session, "reading.record")
    assert (audit.patient_id, audit.username, audit.target_type) == (paula, "paula", "home_reading")
    assert "142/91" in audit.detail


def test_implausible_values_are_refused_field_by_field_with_the_charts_limits(session, two, notices):
    paula, _ = two
    with pytest.raises(InvalidFields) as refused:
        _bp(session, paula, "400", "", "900")
    assert refused.value.errors == {
        "systolic": "A systolic pressure of 400 mmHg is not possible; expected 40 to 300 mmHg. Check the number.",
        "diastolic": "Enter the diastolic pressure.",
        "pulse": "A pulse of 900 /min is not possible; expected 20 to 300 /min. Check the number.",
    }
    with pytest.raises(InvalidFields) as refused:
        _bp(session, paula, "120", "130")
    assert refused.value.errors == {
        "diastolic": "The lower number (diastolic) must be below the upper number (systolic)."
    }
    with pytest.raises(InvalidFields) as refused:
        _bp(session, paula, "12o", "80")
    assert refused.value.errors == {"systolic": "Systolic pressure must be a number in mmHg."}
    for kind, values, field, words in (
        ("temperature", {"temperature": "52"}, "temperature", "expected 25 to 45 °C"),
        ("spo2", {"spo2": "101"}, "spo2", "expected 40 to 100 %"),
        ("weight", {"weight": "0.1"}, "weight", "expected 0.3 to 500 kg"),
    ):
        with pytest.raises(InvalidFields) as refused:
            record_home_reading(session, actor=_me(paula), patient_id=paula, kind=kind, values=values)
        assert words in refused.value.errors[field]
    assert session.execute(select(HomeReading.id)).first() is None
    assert session.execute(select(Observation.id)).first() is None
    assert notices == []


def test_glucose_in_mmol_per_litre_is_kept_in_mg_per_dl_and_checked_in_the_unit_typed(session, two):
    paula, _ = two
    done = record_home_reading(
        session,
        actor=_me(paula),
        patient_id=paula,
        kind="glucose",
        values={"glucose": "7,8"},
        glucose_unit="mmol/L",
    )
    assert done.values == "141 mg/dL"
    row = session.execute(select(Observation).where(Observation.patient_id == paula)).scalar_one()
    assert (row.code, row.value, row.unit, row.category) == ("41653-7", 141.0, "mg/dL", "laboratory")
    assert session.get(HomeReading, done.reading_id).entered_text == "7.8 mmol/L"
    with pytest.raises(InvalidFields) as refused:
        record_home_reading(
            session,
            actor=_me(paula),
            patient_id=paula,
            kind="glucose",
            values={"glucose": "0.3"},
            glucose_unit="mmol/L",
        )
    assert refused.value.errors["glucose"].startswith("A blood glucose of 0.3 mmol/L is not possible")
    with pytest.raises(ValidationError):
        record_home_reading(
            session,
            actor=_me(paula),
            patient_id=paula,
            kind="glucose",
            values={"glucose": "5"},
            glucose_unit="g/L",
        )
    # The chart has a trend for meter glucose, marked patient-reported.
    [point] = emr.vital_series(session, actor=NURSE, patient_id=paula, key="glucose")
    assert (point.value, point.patient_reported) == (141.0, True)


def test_the_time_measured_is_neither_in_the_future_nor_older_than_thirty_days(session, two, monkeypatch):
    monkeypatch.setenv("HMS_TIME_ZONE", "America/New_York")
    get_settings.cache_clear()
    paula, _ = two
    now = datetime(2026, 12, 6, 15, 0, tzinfo=UTC)  # 10:00 in New York
    with held_at(now):
        with pytest.raises(InvalidFields) as refused:
            _bp(session, paula, "130", "80", measured_at="2026-12-06T10:30")  # half an hour ahead
        assert refused.value.errors == {"measured_at": "The time you measured cannot be in the future."}
        with pytest.raises(InvalidFields) as refused:
            _bp(session, paula, "130", "80", measured_at=now - timedelta(days=31))
        assert "last 30 days" in refused.value.errors["measured_at"]
        with pytest.raises(InvalidFields) as refused:
            _bp(session, paula, "130", "", measured_at="yesterday")
        assert set(refused.value.errors) == {"diastolic", "measured_at"}  # every wrong box at once
        done = _bp(session, paula, "130", "80", measured_at="2026-12-06T07:45")  # local time
    assert done.measured_at == datetime(2026, 12, 6, 12, 45, tzinfo=UTC)
    get_settings.cache_clear()


def test_a_patient_cannot_enter_or_read_another_patients_readings_and_staff_cannot_enter(
    session, two, notices
):
    paula, otto = two
    with pytest.raises(Forbidden):
        _bp(session, otto, "190", "100", actor=_me(paula))
    with pytest.raises(Forbidden):
        _bp(session, paula, "190", "100", actor=NURSE)  # staff do not enter a patient's home readings
    with pytest.raises(Forbidden):
        _bp(session, paula, "190", "100", actor=SYSTEM_ACTOR)
    assert session.execute(select(HomeReading.id)).first() is None and notices == []
    _bp(session, otto, "130", "80", actor=_me(otto, "otto"))
    with pytest.raises(Forbidden):
        readings_page(session, actor=_me(paula), patient_id=otto)
    with pytest.raises(Forbidden):
        home_series(session, actor=_me(paula), patient_id=otto, measure="systolic")
    with pytest.raises(Forbidden):
        readings_page(session, actor=RECEPTION, patient_id=otto)
    own = readings_page(session, actor=_me(otto, "otto"), patient_id=otto)
    assert [row.values for row in own.rows] == ["130/80 mmHg"]


# --------------------------------------------------------------------------- limits and alerts


def test_default_limits_apply_until_staff_set_the_patients_own(session, two):
    paula, _ = two
    assert _bp(session, paula, "172", "96").alert_text == ""  # within the default 90-180 / 50-110
    assert _bp(session, paula, "185", "96").alert_text == (
        "Systolic pressure 185 mmHg is above the alert limit of 180 mmHg"
    )
    low = record_home_reading(
        session, actor=_me(paula), patient_id=paula, kind="glucose", values={"glucose": "62"}
    )
    assert low.alert_text == "Blood glucose 62 mg/dL is below the alert limit of 70 mg/dL"
    assert (
        record_home_reading(
            session, actor=_me(paula), patient_id=paula, kind="spo2", values={"spo2": "93"}
        ).alert_text
        == ""
    )

    changed = set_limits(
        session,
        actor=NURSE,
        patient_id=paula,
        limits={"systolic_low": "95", "systolic_high": "160", "diastolic_low": "50", "diastolic_high": "110"},
        reason="per Dr Grey",
    )
    assert changed == ["systolic"]  # the diastolic limits typed are the defaults: nothing new
    assert _bp(session, paula, "172", "96").alert_text == (
        "Systolic pressure 172 mmHg is above the alert limit of 160 mmHg"
    )
    lines = {line.measure: line for line in patient_limits(session, actor=NURSE, patient_id=paula)}
    assert (lines["systolic"].low, lines["systolic"].high, lines["systolic"].is_default) == (95, 160, False)
    assert lines["systolic"].set_by == "nina"
    assert (lines["glucose"].low, lines["glucose"].high, lines["glucose"].is_default) == (70, 300, True)
    [audit] = _audits(session, "reading.limits_set")
    assert audit.patient_id == paula and "95–160" in audit.detail and "per Dr Grey" in audit.detail

    # A limit emptied on one side: no alert on that side any more.
    set_limits(session, actor=NURSE, patient_id=paula, limits={"glucose_low": "", "glucose_high": "250"})
    assert (
        record_home_reading(
            session, actor=_me(paula), patient_id=paula, kind="glucose", values={"glucose": "60"}
        ).alert_text
        == ""
    )


def test_limits_are_checked_and_only_reviewers_set_them(session, two):
    paula, _ = two
    with pytest.raises(InvalidFields) as refused:
        set_limits(
            session,
            actor=NURSE,
            patient_id=paula,
            limits={"systolic_low": "170", "systolic_high": "160", "pulse_low": "abc", "spo2_low": "120"},
        )
    assert set(refused.value.errors) == {"systolic_high", "pulse_low", "spo2_low"}
    with pytest.raises(ValidationError, match="No limit was changed"):
        set_limits(
            session, actor=NURSE, patient_id=paula, limits={"systolic_low": "90", "systolic_high": "180"}
        )
    for intruder in (_me(paula), RECEPTION):
        with pytest.raises(Forbidden):
            set_limits(session, actor=intruder, patient_id=paula, limits={"systolic_high": "250"})
        with pytest.raises(Forbidden):
            patient_limits(session, actor=intruder, patient_id=paula)
    assert session.execute(select(HomeReadingLimit.id)).first() is None


def test_the_board_pages_open_alerts_and_clearing_one_needs_a_note_and_is_audited(session, two, notices):
    paula, otto = two
    base = utcnow() - timedelta(hours=30)
    for hour in range(5):
        _bp(session, paula, str(181 + hour), "90", measured_at=base + timedelta(hours=hour))
    _bp(session, paula, "130", "80")  # within limits: not on the board
    _bp(session, otto, "120", "75", actor=_me(otto, "otto"))

    first = alert_board(session, actor=NURSE, page=1, page_size=3)
    assert (first.total, first.open_count, first.patients_open) == (5, 5, 1)
    assert [row.values for row in first.rows] == ["185/90 mmHg", "184/90 mmHg", "183/90 mmHg"]
    second = alert_board(session, actor=NURSE, page=2, page_size=3)
    assert [row.values for row in second.rows] == ["182/90 mmHg", "181/90 mmHg"]
    top = first.rows[0]
    assert (top.patient_name, top.kind_label, top.crossed) == (
        "Paula Pressure",
        "Blood pressure",
        "Systolic pressure 185 mmHg is above the alert limit of 180 mmHg",
    )
    assert [a.detail.split(":")[0] for a in _audits(session, "reading.board")] == [
        "open alerts page 1",
        "open alerts page 2",
    ]
    alert_board(session, actor=NURSE, audit=False)  # a live refresh of an open board
    assert len(_audits(session, "reading.board")) == 2

    with pytest.raises(ValidationError):
        clear_alert(session, actor=NURSE, reading_id=top.reading_id, note="  ")
    with pytest.raises(Forbidden):
        clear_alert(session, actor=_me(paula), reading_id=top.reading_id, note="fine")
    with pytest.raises(Forbidden):
        alert_board(session, actor=RECEPTION)
    notices.clear()
    clear_alert(
        session, actor=NURSE, reading_id=top.reading_id, note="Called: rechecked 150/88, no symptoms."
    )
    assert notices == [("readings", None)]
    with pytest.raises(Conflict):
        clear_alert(session, actor=NURSE, reading_id=top.reading_id, note="again")
    within = session.execute(select(HomeReading.id).where(HomeReading.alert_status == "")).scalars().first()
    with pytest.raises(NotFound):
        clear_alert(session, actor=NURSE, reading_id=within, note="nothing to clear")
    with pytest.raises(NotFound):
        clear_alert(session, actor=NURSE, reading_id=999_999, note="no such reading")

    board = alert_board(session, actor=NURSE)
    assert board.open_count == 4 and top.reading_id not in {row.reading_id for row in board.rows}
    cleared = alert_board(session, actor=NURSE, show="cleared")
    [line] = cleared.rows
    assert (line.reading_id, line.cleared_by, line.cleared_note) == (
        top.reading_id,
        "nina",
        "Called: rechecked 150/88, no symptoms.",
    )
    [audit] = _audits(session, "reading.alert_clear")
    assert audit.patient_id == paula and "rechecked 150/88" in audit.detail
    with pytest.raises(ValidationError):
        alert_board(session, actor=NURSE, show="everything")
    # The patient sees it reviewed in their own list, the note not included.
    own = readings_page(session, actor=_me(paula), patient_id=paula)
    assert {row.alert_status for row in own.rows} == {"open", "cleared", ""}
    assert own.open_alerts == 4


def test_the_patients_own_list_and_trend_are_paged_audited_and_only_home_values(session, two):
    paula, _ = two
    start = utcnow() - timedelta(days=10)
    for day in range(12):
        _bp(session, paula, str(120 + day), "80", measured_at=start + timedelta(hours=20 * day))
    emr.record_vitals(
        session, actor=NURSE, patient_id=paula, values={"systolic_bp": "170", "diastolic_bp": "95"}
    )
    page = readings_page(session, actor=_me(paula), patient_id=paula, page=2, page_size=5)
    assert page.total == 12 and [row.values for row in page.rows][0] == "126/80 mmHg"
    points = home_series(session, actor=_me(paula), patient_id=paula, measure="systolic", days=30)
    assert [p.value for p in points] == [120.0 + d for d in range(12)]  # the nurse's 170 is not a home value
    with pytest.raises(ValidationError):
        home_series(session, actor=_me(paula), patient_id=paula, measure="systolic", days=1000)
    reads = [a.detail for a in _audits(session, "reading.read") if a.username == "paula"]
    assert reads == ["home readings page 2", "home trend systolic, 30 days"]


# --------------------------------------------------------------------------- weekly counts


def test_weekly_counts_match_the_rows_counted_by_hand(session, two, monkeypatch):
    monkeypatch.setenv("HMS_TIME_ZONE", "America/New_York")
    get_settings.cache_clear()
    paula, otto = two
    today = date(2026, 12, 9)  # a Wednesday
    moments = [
        datetime(2026, 12, 7, 4, 30, tzinfo=UTC),  # Sunday 23:30 in New York: the week before
        datetime(2026, 12, 7, 5, 30, tzinfo=UTC),  # Monday 00:30: this week
        datetime(2026, 12, 1, 15, 0, tzinfo=UTC),
        datetime(2026, 11, 20, 15, 0, tzinfo=UTC),
        datetime(2026, 12, 9, 14, 0, tzinfo=UTC),
    ]
    for index, moment in enumerate(moments):
        with held_at(moment):
            who = paula if index % 2 else otto
            _bp(session, who, "190" if index == 1 else "130", "80", actor=_me(who, f"p{who}"))
            record_home_reading(
                session, actor=_me(who, f"p{who}"), patient_id=who, kind="weight", values={"weight": "80"}
            )
    frame = weekly_home_readings(session, weeks=4, today=today)
    assert list(frame.columns) == ["week_start", "kind", "kind_label", "readings", "alerts", "patients"]
    assert sorted(set(frame.week_start)) == ["2026-11-16", "2026-11-23", "2026-11-30", "2026-12-07"]

    raw = pd.DataFrame(
        session.execute(
            select(HomeReading.entered_at, HomeReading.kind, HomeReading.alert_status, HomeReading.patient_id)
        ).all(),
        columns=["entered_at", "kind", "alert", "patient"],
    )
    local = pd.to_datetime(raw.entered_at, utc=True).dt.tz_convert("America/New_York")
    raw["week_start"] = (local.dt.normalize() - pd.to_timedelta(local.dt.weekday, unit="D")).dt.strftime(
        "%Y-%m-%d"
    )
    expected = raw.groupby(["week_start", "kind"]).agg(
        readings=("kind", "size"),
        alerts=("alert", lambda s: int((s != "").sum())),
        patients=("patient", "nunique"),
    )
    shown = frame[frame.readings > 0].set_index(["week_start", "kind"])[["readings", "alerts", "patients"]]
    assert shown.sort_index().to_dict() == expected.sort_index().astype(int).to_dict()
    this_week = frame[(frame.week_start == "2026-12-07") & (frame.kind == "blood_pressure")].iloc[0]
    assert (this_week.readings, this_week.alerts, this_week.patients) == (2, 1, 2)
    assert frame[frame.kind == "glucose"].readings.sum() == 0  # a kind without readings still has its rows
    get_settings.cache_clear()
