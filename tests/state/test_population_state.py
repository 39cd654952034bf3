"""The population screens' states driven as a browser tab would, against the test database.

The actor comes from a real session token. What a manager and a physician do: open the
dashboard and click a bar, build a cohort and watch the count, save and export it, work the
care-gap list and send outreach, edit a registry's code set. Which handlers refuse whom is
covered for every handler by ``test_handler_guards.py``.
"""

from __future__ import annotations

import base64
import csv
import io
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

import hms_app.hms_app  # noqa: F401  (the app module: registers every page and state)
from hms_app import db as hms_db
from hms_app.clock import local_today
from hms_app.models.emr import Condition
from hms_app.models.patients import Patient
from hms_app.models.population import OutreachMessage, SavedCohort
from hms_app.models.security import AuditEvent
from hms_app.services import accounts, security
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.services.population.cohorts import CohortRow
from hms_app.services.population.refresh import HBA1C
from hms_app.state.population.cohorts import CohortState
from hms_app.state.population.common import cohort_line
from hms_app.state.population.dashboard import PopulationDashboardState
from hms_app.state.population.measures import MeasuresState
from hms_app.state.population.registries import RegistriesState
from tests.services.test_population import World
from tests.state.test_patients_state import PASSWORD, _arguments, _call, _tab


@pytest.fixture(autouse=True)
def fast_hasher(monkeypatch):
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def clinic(session):
    accounts.ensure_roles(session)
    for username, role in (("mona", "manager"), ("phil", "physician")):
        accounts.create_user(
            session,
            actor=SYSTEM_ACTOR,
            username=username,
            display_name=username.title(),
            password=PASSWORD,
            roles=[role],
        )
    w = World(session)
    people = {}
    for name, sex, hba1c in (
        ("Ada", "female", 10.5),
        ("Bob", "male", 7.0),
        ("Cy", "male", None),
        ("Di", "female", 9.6),
    ):
        pid = w.patient(name, sex=sex)
        w.problem(pid, "E11.9")
        if hba1c is not None:
            w.result(pid, HBA1C, hba1c, 20)
        w.visit(pid, 20, "dr.a")
        people[name] = pid
    pid = w.patient("Eli", sex="female")
    w.problem(pid, "I10")
    w.bp(pid, 150, 95, 3)
    people["Eli"] = pid
    w.refresh()
    return people


def _said(events, message: str) -> bool:
    """Whether one toast among ``events`` says exactly ``message``."""
    return any(f'("{message}")' in text for text in _toast_texts(events))


def _toast_texts(events) -> list[str]:
    texts = []
    for event in events:
        args = _arguments(event)
        if "function" in args:
            texts.append(str(args["function"]._js_expr))
    return texts


def _audits(action: str) -> list[AuditEvent]:
    with hms_db.session_scope() as s:
        return list(
            s.execute(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).scalars()
        )


async def test_the_dashboard_draws_every_figure_and_a_clicked_bar_lists_its_patients(clinic, configured_db):
    dash = _tab(PopulationDashboardState, "/population", "phil")
    await _call(dash, "load")
    assert dash.loaded and dash.total_patients == 5 and "refreshed in" in dash.as_of
    diabetes = next(t for t in dash.prevalence_figure.data if t.name == "Female")
    assert list(diabetes.customdata)[dash._prevalence_x.index("diabetes")] == 2  # Ada and Di
    female = dash._prevalence_sexes.index("female")
    point = {
        "x": "Diabetes mellitus",
        "curveNumber": female,
        "pointNumber": dash._prevalence_x.index("diabetes"),
    }
    await _call(dash, "click_prevalence", [point])
    assert dash.drill_total == 2 and sorted(r.name for r in dash.drill_rows) == ["Ada Test", "Di Test"]
    assert dash.drill_title == "Diabetes mellitus · female"
    read = _audits("population.read")[-1]
    assert read.target_type == "population-dashboard" and "registries=diabetes" in read.detail
    # The measure chart: the bar of Dr A lists that provider's care gaps.
    await _call(dash, "set_measure", "hba1c_poor")
    index = next(i for i, p in enumerate(dash._measure_providers) if p > 0)
    await _call(dash, "click_measure", [{"x": "Dr A", "curveNumber": 0, "pointNumber": index}])
    assert sorted(r.name for r in dash.drill_rows) == ["Ada Test", "Cy Test", "Di Test"]
    # What a crafted request might send is refused without a traceback.
    events = await _call(dash, "click_bmi", [{"x": "x", "curveNumber": 0, "pointNumber": 99}])
    assert events and dash.drill_rows  # the list on screen stays as it was
    events = await _call(dash, "click_egfr", "not a list")
    assert events
    await _call(dash, "set_months", "7")
    assert dash.months == "12"


async def test_the_cohort_count_follows_the_filters_and_the_cohort_is_saved_and_exported(
    clinic, configured_db
):
    builder = _tab(CohortState, "/population/cohorts", "mona")
    await _call(builder, "load")
    assert builder.count == 5
    await _call(builder, "toggle_registry", "diabetes", True)
    assert builder.count == 4
    await _call(builder, "set_value", "hba1c_min", "9")
    assert builder.count == 2
    await _call(builder, "set_value", "age_min", "abc")
    assert builder.error_field == "age_min" and builder.count == 2  # the last good count stays
    await _call(builder, "set_value", "age_min", "")
    assert builder.error_text == ""
    await _call(builder, "set_value", "sex", "male")
    assert builder.count == 0
    await _call(builder, "set_value", "sex", "all")
    await _call(builder, "show_patients")
    assert builder.listed and [r.name for r in builder.rows] == ["Ada Test", "Di Test"]
    refused = await _call(builder, "set_value", "password", "x")
    assert refused and builder.count == 2
    # The inline inputs are read as every form is (state/forms): refused with the same words.
    refused = await _call(builder, "set_value", "hba1c_min", ["9"])
    assert _said(refused, "This value could not be read; enter it again.")
    refused = await _call(builder, "set_value", "age_min", "1" * 201)
    assert _said(refused, "Keep this under 200 characters.") and builder.count == 2
    refused = await _call(builder, "set_save_name", "x" * 121)  # refused, not cut short
    assert _said(refused, "The cohort name can be at most 120 characters long.")
    assert builder.save_name == ""
    await _call(builder, "set_save_name", "Poorly controlled diabetics")
    await _call(builder, "save")
    with hms_db.session_scope() as s:
        stored = s.execute(select(SavedCohort.filters)).scalar_one()
    assert stored == {"registries": ["diabetes"], "hba1c_min": 9.0}
    assert [c.name for c in builder.saved] == ["Poorly controlled diabetics"]
    events = await _call(builder, "export_csv")
    url = next(str(_arguments(e)["url"]._var_value) for e in events if "url" in _arguments(e))
    text = base64.b64decode(url.split("base64,", 1)[1]).decode()
    assert [r["name"] for r in csv.DictReader(io.StringIO(text))] == ["Ada Test", "Di Test"]
    assert _audits("population.export")[-1].detail.endswith("| 2 patients")
    await _call(builder, "clear")
    assert builder.count == 5
    await _call(builder, "apply_saved", builder.saved[0].id)
    assert builder.count == 2 and builder.registries == ["diabetes"] and builder.values["hba1c_min"] == "9.0"

    physician = _tab(CohortState, "/population/cohorts", "phil")
    await _call(physician, "load")
    await _call(physician, "set_save_name", "Mine")
    await _call(physician, "save")
    with hms_db.session_scope() as s:
        assert s.execute(select(SavedCohort.name)).scalars().all() == ["Poorly controlled diabetics"]


async def test_the_care_gap_worklist_sends_outreach_to_a_listed_patient(clinic, configured_db):
    measures = _tab(MeasuresState, "/population/measures", "mona")
    await _call(measures, "load")
    overall = measures.results[-1]
    assert (overall.provider, overall.eligible, overall.numerator, overall.rate) == ("Overall", 4, 3, "75.0%")
    assert sorted(r.name for r in measures.gap_rows) == ["Ada Test", "Cy Test", "Di Test"]
    # Each value says when it was measured (20 days ago: within the 12-month period).
    ada_line = next(r for r in measures.gap_rows if r.name == "Ada Test")
    assert (ada_line.hba1c, ada_line.hba1c_old) == ("10.5", False)
    assert ada_line.hba1c_when == (local_today() - timedelta(days=20)).isoformat()
    cy_line = next(r for r in measures.gap_rows if r.name == "Cy Test")
    assert (cy_line.hba1c, cy_line.hba1c_when) == ("", "")  # never measured: nothing to date
    ada = clinic["Ada"]
    await _call(measures, "send_outreach", ada, "booking_invitation")
    again = await _call(measures, "send_outreach", ada, "booking_invitation")
    assert any("already sent" in t for t in _toast_texts(again))
    bob = clinic["Bob"]  # in control: not on the worklist, so not a target from this screen
    await _call(measures, "send_outreach", bob, "portal_message")
    with hms_db.session_scope() as s:
        sent = s.execute(select(OutreachMessage.patient_id, OutreachMessage.kind)).all()
    assert sent == [(ada, "booking_invitation")]
    assert next(r for r in measures.gap_rows if r.id == ada).last_outreach != ""
    assert [a.patient_id for a in _audits("population.outreach")] == [ada]

    physician = _tab(MeasuresState, "/population/measures", "phil")
    await _call(physician, "load")
    await _call(physician, "send_outreach", clinic["Cy"], "portal_message")
    with hms_db.session_scope() as s:
        assert len(s.execute(select(OutreachMessage.id)).all()) == 1  # physicians read, managers send


async def test_a_registry_code_set_is_edited_from_its_form(clinic, configured_db):
    registries = _tab(RegistriesState, "/population/registries", "mona")
    await _call(registries, "load")
    row = next(r for r in registries.rows if r.code == "hypertension")
    assert row.members == 1
    form = {"registry_id": str(row.id), "name": row.name, "prefixes": "I10, E11", "active": "on"}
    await _call(registries, "save", form)
    assert next(r for r in registries.rows if r.code == "hypertension").members == 5
    await _call(registries, "save", {**form, "prefixes": "not a code"})
    assert registries.error_registry == row.id and "not an ICD-10-CM code" in registries.error_text
    await _call(
        registries,
        "save",
        {"registry_id": "0", "code": "afib", "name": "Atrial fibrillation", "prefixes": "I48"},
    )
    assert "afib" in [r.code for r in registries.rows]
    refused = await _call(registries, "save", {**form, "registry_id": ["0"]})
    assert _said(refused, "This value could not be read; enter it again.")


async def test_a_manager_recomputes_the_figures_and_a_physician_may_not(clinic, configured_db):
    physician = _tab(PopulationDashboardState, "/population", "phil")
    await _call(physician, "load")
    await _call(physician, "refresh_now")
    assert len(_audits("population.refresh")) == 1  # only the fixture's own refresh
    with hms_db.session_scope() as s:
        pid = s.execute(select(Patient.id).where(Patient.given_name == "Bob")).scalar_one()
        s.add(Condition(patient_id=pid, code="I50.9", display="Heart failure"))
        s.commit()
    manager = _tab(PopulationDashboardState, "/population", "mona")
    await _call(manager, "load")
    before = {r["name"]: r["members"] for r in manager.registry_counts}
    events = await _call(manager, "refresh_now")
    assert any("load" in str(e) for e in events)  # the dashboard reloads itself afterwards
    await _call(manager, "load")
    after = {r["name"]: r["members"] for r in manager.registry_counts}
    assert (before["Heart failure"], after["Heart failure"]) == ("0", "1")
    assert len(_audits("population.refresh")) == 2 and not manager.refreshing


def test_a_worklist_value_from_before_the_period_is_dated_and_marked():
    """The state's words for a value measured before the measurement period."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    row = CohortRow(
        1,
        "H1",
        "Dot Test",
        "female",
        date(1970, 1, 1),
        56,
        "",
        None,
        6.7,
        None,
        None,
        None,
        None,
        None,
        hba1c_at=datetime(2025, 3, 14, 12, tzinfo=UTC),
        period_start=start,
    )
    line = cohort_line(row)
    assert (line.hba1c, line.hba1c_old) == ("6.7", True)
    assert line.hba1c_when == "2025-03-14 · not measured in the period"
    within = cohort_line(replace(row, hba1c_at=datetime(2026, 2, 1, 12, tzinfo=UTC)))
    assert (within.hba1c_when, within.hba1c_old) == ("2026-02-01", False)
    cohort = cohort_line(replace(row, period_start=None))  # a cohort: no period, only the date
    assert (cohort.hba1c_when, cohort.hba1c_old) == ("2025-03-14", False)
