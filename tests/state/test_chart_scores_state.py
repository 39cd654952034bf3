"""The chart's scores panel and NEWS2 alert, driven as a nurse's browser tab would drive them."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

import hms_app.hms_app  # noqa: F401  (the app module: registers every page and state)
from hms_app import db as hms_db
from hms_app.models.emr import Observation
from hms_app.services import accounts, security
from hms_app.services import patients as svc
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.state.chart.summary import ChartSummaryState
from hms_app.state.chart.vitals import ChartVitalsState
from tests.state.chart_tab import Tab

PASSWORD = "Ward-round-42"
# RR 25 (3), SpO2 93 % (2), oxygen 2 L/min (2), BP 100/60 (2), pulse 120 (2), new confusion (3),
# 38.5 °C (1): NEWS2 15, high clinical risk.
DETERIORATING = {
    "respiratory_rate": "25",
    "spo2": "93",
    "oxygen_flow": "2",
    "systolic_bp": "100",
    "diastolic_bp": "60",
    "heart_rate": "120",
    "temperature": "38.5",
    "consciousness": "C",
    "encounter_id": "none",
}


@pytest.fixture(autouse=True)
def fast_hasher(monkeypatch):
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def ward(session):
    accounts.ensure_roles(session)
    accounts.create_user(
        session, actor=SYSTEM_ACTOR, username="nina", display_name="Nina", password=PASSWORD, roles=["nurse"]
    )
    patient = svc.register_patient(
        session,
        actor=SYSTEM_ACTOR,
        data={"given_name": "Ada", "family_name": "Brook", "sex": "female", "birth_date": "1948-02-03"},
    )
    return patient.id


def _toasts(events) -> list[str]:
    found = []
    for event in events:
        arguments = {name._js_expr: value for name, value in getattr(event, "args", ())}
        if "function" in arguments:
            found.append(str(arguments["function"]))
    return found


async def test_recording_a_deteriorating_set_shows_news2_and_raises_the_alert(ward, configured_db):
    tab = Tab(ward, "nina", PASSWORD)
    tab.chart.pid = ward  # what load() takes from the address
    vitals, summary = tab[ChartVitalsState], tab[ChartSummaryState]
    assert summary.score_cards == [] and vitals.score_alert == ""
    events = await tab.call(ChartVitalsState, "submit_vitals", DETERIORATING)
    assert vitals.vital_error_text == ""
    assert vitals.score_alert == "NEWS2 15 (high clinical risk): urgent clinical review"
    cards = {c.key: c for c in summary.score_cards}
    news = cards["news2"]
    assert (news.value, news.band, news.color, news.has_points) == ("15", "high risk", "red", True)
    rows = {i.label: i for i in news.inputs}
    assert rows["Consciousness"].value == "C (New confusion)" and rows["Consciousness"].points == "3"
    assert rows["Air or oxygen"].value == "Oxygen 2 L/min" and rows["Air or oxygen"].points == "2"
    assert all(i.when for i in news.inputs)  # each input says when it was taken
    assert cards["qsofa"].value == "3" and cards["qsofa"].band == "positive"
    assert any("warning" in t and "NEWS2 15" in t for t in _toasts(events))
    with hms_db.session_scope() as s:
        stored = s.execute(
            select(Observation.value).where(Observation.patient_id == ward, Observation.code == "67775-7")
        ).scalar_one()
    assert stored == 1  # ACVPU position: C
    latest = {v.key: v for v in summary.vitals}
    assert latest["consciousness"].value == "C · New confusion" and latest["consciousness"].flag == "altered"


async def test_a_calm_set_shows_scores_without_an_alert_and_an_unknown_level_is_refused(ward, configured_db):
    tab = Tab(ward, "nina", PASSWORD)
    tab.chart.pid = ward
    vitals, summary = tab[ChartVitalsState], tab[ChartSummaryState]
    calm = {
        **DETERIORATING,
        "respiratory_rate": "16",
        "spo2": "97",
        "oxygen_flow": "0",
        "systolic_bp": "124",
        "diastolic_bp": "78",
        "heart_rate": "72",
        "temperature": "36.8",
        "consciousness": "A",
    }
    await tab.call(ChartVitalsState, "submit_vitals", calm)
    assert vitals.score_alert == ""
    news = next(c for c in summary.score_cards if c.key == "news2")
    assert (news.value, news.band, news.color) == ("0", "low risk", "green")
    assert {v.key: v.value for v in summary.vitals}["oxygen_flow"] == "Room air (0 L/min)"

    await tab.call(ChartVitalsState, "submit_vitals", {**calm, "consciousness": "Z"})
    assert vitals.vital_error_field == "consciousness"
    assert "Choose a level of consciousness" in vitals.vital_error_text
