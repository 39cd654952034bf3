"""The chart's states driven as a clinician's browser tab would drive them, against the test database.

Nothing is patched except the argon2 work factor: the actor comes from a real session token. The
chart is one small state (the patient, the banner, the tab) and a substate per tab: opening the
chart fills every tab from one audited read, and a change on one tab re-reads and sends only what
it shows (the banner, the summary where it shows there, the tab itself).
"""

from __future__ import annotations

import pytest
import reflex as rx
from argon2 import PasswordHasher
from reflex_base import constants
from sqlalchemy import select

import hms_app.hms_app  # noqa: F401  (the app module: registers every page and state)
from hms_app import db as hms_db
from hms_app.models.security import AuditEvent
from hms_app.services import accounts, security
from hms_app.services import patients as svc
from hms_app.services.emr.allergies import add_allergy
from hms_app.services.emr.vitals import record_vitals
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.state.chart.allergies import ChartAllergiesState
from hms_app.state.chart.documents import ChartDocumentsState
from hms_app.state.chart.encounters import SHOW_DETAIL, ChartEncountersState
from hms_app.state.chart.immunizations import ChartImmunizationsState
from hms_app.state.chart.medications import ChartMedicationsState
from hms_app.state.chart.page import ChartState
from hms_app.state.chart.problems import ChartProblemsState
from hms_app.state.chart.summary import ChartSummaryState
from hms_app.state.chart.vitals import ChartVitalsState
from tests.state.chart_tab import Tab

PASSWORD = "Ward-round-42"
TABS = (
    ChartSummaryState,
    ChartEncountersState,
    ChartVitalsState,
    ChartProblemsState,
    ChartAllergiesState,
    ChartMedicationsState,
    ChartImmunizationsState,
    ChartDocumentsState,
)


@pytest.fixture(autouse=True, scope="module")
def route_argument():
    """The chart's [patient_id], as compiling the app's routes declares it on the root state."""
    rx.State.setup_dynamic_args({"patient_id": constants.RouteArgType.SINGLE})


@pytest.fixture(autouse=True)
def fast_hasher(monkeypatch):
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def ward(session):
    accounts.ensure_roles(session)
    accounts.create_user(
        session,
        actor=SYSTEM_ACTOR,
        username="dr.grey",
        display_name="Dr Grey",
        password=PASSWORD,
        roles=["physician"],
    )
    patient = svc.register_patient(
        session,
        actor=SYSTEM_ACTOR,
        data={"given_name": "Ada", "family_name": "Brook", "sex": "female", "birth_date": "1948-02-03"},
    )
    return patient.id


def _name(cls) -> str:
    return cls.get_full_name().rsplit(".", 1)[-1]


def _reads(pid: int) -> list[str]:
    with hms_db.session_scope() as s:
        return list(
            s.execute(
                select(AuditEvent.detail)
                .where(AuditEvent.action == "patient.read", AuditEvent.patient_id == pid)
                .order_by(AuditEvent.id)
            ).scalars()
        )


async def test_the_chart_takes_the_bmi_category_from_the_exact_value(ward, session, configured_db):
    """68 kg at 165 cm is 24.977 kg/m²: it shows as 25.0 but is a healthy weight, not overweight."""
    record_vitals(session, actor=SYSTEM_ACTOR, patient_id=ward, values={"weight": "68", "height": "165"})
    tab = Tab(ward, "dr.grey", PASSWORD)
    await tab.call(ChartState, "load")
    summary = tab[ChartSummaryState]
    assert (summary.bmi_value, summary.bmi_category) == ("25.0", "healthy weight")
    (card,) = [c for c in summary.score_cards if c.key == "bmi"]
    assert (card.value, card.band) == ("25.0", "healthy weight")
    assert next(v for v in summary.vitals if v.key == "bmi").flag == ""


async def test_opening_the_chart_fills_every_tab_from_one_audited_read(ward, session, configured_db):
    record_vitals(session, actor=SYSTEM_ACTOR, patient_id=ward, values={"weight": "70", "height": "170"})
    add_allergy(session, actor=SYSTEM_ACTOR, patient_id=ward, substance="Latex", severity="mild")
    tab = Tab(ward, "dr.grey", PASSWORD)
    await tab.call(ChartState, "load")
    chart = tab.chart
    assert (chart.pid, chart.loaded, chart.problem, chart.shown_path) == (ward, True, "", f"/patients/{ward}")
    assert (chart.name, chart.sex_label, chart.birth_date) == ("Ada Brook", "Female", "1948-02-03")
    assert chart.banner_allergies == ["Latex (mild)"] and chart.tab == "summary"
    summary = tab[ChartSummaryState]
    assert [v.key for v in summary.vitals] == ["weight", "height", "bmi"]
    assert (summary.bmi_value, [c.key for c in summary.score_cards]) == ("24.2", ["bmi"])
    assert [a.substance for a in tab[ChartAllergiesState].allergies] == ["Latex"]
    assert _reads(ward) == ["chart opened"]
    assert {_name(cls) for cls in TABS} <= tab.sent() | {_name(ChartDocumentsState)}

    await tab.call(ChartState, "set_tab", "vitals")
    assert tab[ChartVitalsState].trend_loaded and chart.tab == "vitals"
    assert _reads(ward) == ["chart opened", "trend heart_rate"]


async def test_the_allergy_status_has_three_states_on_the_chart(ward, configured_db):
    """Not yet assessed until a clinician records "no known allergies" (who and when), which an
    allergy then supersedes; "no known allergies" is refused while an allergy is active."""
    tab = Tab(ward, "dr.grey", PASSWORD)
    await tab.call(ChartState, "load")
    assert (tab.chart.allergy_state, tab.chart.banner_allergies) == ("unassessed", [])
    tab.sent()
    await tab.call(ChartAllergiesState, "record_no_known_allergies")
    assert tab.chart.allergy_state == "none_known" and tab.chart.allergy_assessed.startswith("dr.grey, ")
    assert _name(ChartState) in tab.sent()  # the banner changes at once
    await tab.call(
        ChartAllergiesState,
        "submit_allergy",
        {"substance": "Latex", "reaction": "", "severity": "mild"},
    )
    assert (tab.chart.allergy_state, tab.chart.banner_allergies) == ("allergies", ["Latex (mild)"])
    refused = await tab.call(ChartAllergiesState, "record_no_known_allergies")
    assert any("active allergy is recorded" in str(e) for e in refused)
    assert tab.chart.allergy_state == "allergies"


async def test_an_address_that_names_no_patient_shows_a_problem_not_a_chart(ward, configured_db):
    tab = Tab("12abc", "dr.grey", PASSWORD)
    await tab.call(ChartState, "load")
    assert tab.chart.loaded and "does not name a patient" in tab.chart.problem and tab.chart.pid == 0


async def test_a_change_on_one_tab_sends_that_tab_the_banner_and_the_summary_only(ward, configured_db):
    tab = Tab(ward, "dr.grey", PASSWORD)
    await tab.call(ChartState, "load")
    tab.sent()

    await tab.call(ChartVitalsState, "submit_vitals", {"heart_rate": "72", "encounter_id": "none"})
    assert tab[ChartVitalsState].vital_error_text == ""
    assert tab.sent() == {_name(ChartState), _name(ChartVitalsState), _name(ChartSummaryState)}
    assert [v.value for v in tab[ChartSummaryState].vitals] == ["72"]

    await tab.call(ChartState, "open_dialog", "allergy")
    assert tab[ChartAllergiesState].dialog == "allergy"
    assert tab.sent() == {_name(ChartAllergiesState)}
    await tab.call(
        ChartAllergiesState,
        "submit_allergy",
        {"substance": "Penicillin", "reaction": "Hives", "severity": "severe"},
    )
    allergies = tab[ChartAllergiesState]
    assert allergies.dialog == "" and [a.substance for a in allergies.allergies] == ["Penicillin"]
    assert tab.chart.banner_allergies == ["Penicillin (severe)"] and "Severe allergy" in tab.chart.alerts
    assert _name(ChartEncountersState) not in tab.sent()
    assert _reads(ward) == ["chart opened", "chart refreshed", "chart refreshed"]


async def test_a_problem_is_found_added_and_resolved_through_its_dialogs(ward, configured_db):
    tab = Tab(ward, "dr.grey", PASSWORD)
    await tab.call(ChartState, "load")
    problems = tab[ChartProblemsState]
    await tab.call(ChartState, "open_dialog", "problem")
    await tab.call(ChartProblemsState, "set_icd_query", "type 2 diabetes without complications")
    assert "E11.9" in [r.code for r in problems.icd_results]
    await tab.call(ChartProblemsState, "submit_problem", {"onset_date": ""})
    assert problems.error_field == "code" and problems.dialog == "problem"
    await tab.call(ChartProblemsState, "pick_icd", "E11.9")
    await tab.call(ChartProblemsState, "submit_problem", {"onset_date": "2020-01-10"})
    assert problems.dialog == "" and [(c.code, c.status) for c in problems.conditions] == [
        ("E11.9", "active")
    ]
    assert tab.chart.banner_problem_badges == ["E11.9 Type 2 diabetes mellitus without complications"]
    assert tab[ChartSummaryState].summary_problems == [
        "E11.9 · Type 2 diabetes mellitus without complications"
    ]

    # Opening the add dialog again starts a new search; closing it forgets what it was about.
    await tab.call(ChartState, "open_dialog", "problem")
    assert (problems.icd_query, problems.icd_code, problems.icd_results) == ("", "", [])
    await tab.call(ChartState, "on_dialog_change", False)
    assert problems.dialog == ""

    condition_id = problems.conditions[0].id
    await tab.call(ChartProblemsState, "ask_resolve", condition_id)
    assert (problems.dialog, problems.dialog_subject) == (
        "resolve",
        "E11.9 Type 2 diabetes mellitus without complications",
    )
    await tab.call(ChartProblemsState, "submit_resolve", {"abatement_date": "2024-05-01"})
    assert [(c.status, c.resolved) for c in problems.conditions] == [("resolved", "2024-05-01")]
    assert tab.chart.banner_problems == [] and tab[ChartSummaryState].summary_problems == []
    events = await tab.call(ChartState, "open_dialog", "resolve")  # opens only from its row
    assert events and problems.dialog == ""


async def test_an_encounter_note_is_written_signed_and_amended(ward, configured_db):
    tab = Tab(ward, "dr.grey", PASSWORD)
    await tab.call(ChartState, "load")
    encounters = tab[ChartEncountersState]
    await tab.call(ChartState, "open_dialog", "encounter")
    refused = await tab.call(ChartEncountersState, "submit_encounter", {"encounter_class": "telepathy"})
    assert (encounters.dialog, encounters.error_field, encounters.enc_total) == (
        "encounter",
        "encounter_class",
        0,
    )
    assert SHOW_DETAIL not in refused
    shown = await tab.call(
        ChartEncountersState, "submit_encounter", {"encounter_class": "outpatient", "reason": "Review"}
    )
    assert SHOW_DETAIL in shown
    assert encounters.dialog == "" and encounters.enc_total == 1 and encounters.editor_open
    assert encounters.selected.reason == "Review" and encounters.open_encounters == encounters.encounters

    await tab.call(
        ChartEncountersState, "save_note", {"subjective": "Feels well", "plan": "Review in 3 months"}
    )
    [note] = encounters.notes
    assert (note.status, note.subjective, encounters.encounters[0].notes) == ("draft", "Feels well", 1)
    tab.sent()
    await tab.call(ChartEncountersState, "ask_sign", note.id)
    assert (encounters.dialog, encounters.dialog_subject) == ("sign", f"note #{note.id}")
    await tab.call(ChartEncountersState, "confirm_sign")
    assert encounters.dialog == "" and encounters.notes[0].status == "signed"
    sent = tab.sent()
    assert _name(ChartEncountersState) in sent and _name(ChartSummaryState) not in sent

    await tab.call(ChartEncountersState, "amend", note.id)
    assert encounters.editor_open and encounters.editor_amends == note.id
    assert [n.amended_by_id > 0 for n in encounters.notes] == [True, False]

    # Vitals can be attached to the encounter still in progress, and to nothing else.
    vitals = tab[ChartVitalsState]
    await tab.call(
        ChartVitalsState, "submit_vitals", {"heart_rate": "70", "encounter_id": str(note.id + 999)}
    )
    assert vitals.vital_error_text.startswith("That encounter is no longer on screen")
    await tab.call(
        ChartVitalsState, "submit_vitals", {"heart_rate": "70", "encounter_id": str(encounters.selected_id)}
    )
    assert vitals.vital_error_text == ""

    await tab.call(ChartEncountersState, "finish_encounter", encounters.selected_id)
    assert encounters.selected.status == "finished" and encounters.open_encounters == []
    await tab.call(ChartEncountersState, "move_encounters", 1)  # one page: nowhere to go
    assert encounters.enc_page == 1


async def test_medications_and_immunizations_are_added_and_a_medication_stopped(ward, configured_db):
    tab = Tab(ward, "dr.grey", PASSWORD)
    await tab.call(ChartState, "load")
    medications, immunizations = tab[ChartMedicationsState], tab[ChartImmunizationsState]
    await tab.call(ChartState, "open_dialog", "medication")
    await tab.call(
        ChartMedicationsState,
        "submit_medication",
        {"medication": "Metformin", "dosage": "500 mg", "started_on": ""},
    )
    assert [m.medication for m in medications.medications] == ["Metformin"]
    assert tab[ChartSummaryState].summary_medications == ["Metformin 500 mg"]
    await tab.call(ChartMedicationsState, "ask_stop", medications.medications[0].id)
    await tab.call(ChartMedicationsState, "submit_stop", {"stop_reason": "", "stopped_on": ""})
    assert medications.dialog == "stop" and medications.error_field == "stop_reason"
    await tab.call(ChartMedicationsState, "submit_stop", {"stop_reason": "Nausea", "stopped_on": ""})
    assert medications.medications[0].status == "stopped" and tab[ChartSummaryState].summary_medications == []

    await tab.call(ChartState, "open_dialog", "immunization")
    await tab.call(
        ChartImmunizationsState,
        "submit_immunization",
        {"vaccine": "Tdap", "occurrence_date": "2020-03-01", "lot_number": "AB1"},
    )
    assert [(i.vaccine, i.date, i.lot) for i in immunizations.immunizations] == [
        ("Tdap", "2020-03-01", "AB1")
    ]
    assert tab[ChartSummaryState].summary_immunizations == ["Tdap · 2020-03-01"]


async def test_loading_the_chart_again_starts_afresh(ward, configured_db):
    tab = Tab(ward, "dr.grey", PASSWORD)
    await tab.call(ChartState, "load")
    encounters = tab[ChartEncountersState]
    await tab.call(ChartState, "open_dialog", "encounter")
    await tab.call(ChartEncountersState, "submit_encounter", {"encounter_class": "virtual", "reason": "Call"})
    await tab.call(ChartState, "set_tab", "vitals")
    await tab.call(ChartState, "open_dialog", "encounter")
    assert (encounters.selected_id > 0, encounters.editor_open, encounters.dialog) == (
        True,
        True,
        "encounter",
    )
    assert tab[ChartVitalsState].trend_loaded
    await tab.call(ChartState, "load")  # the address again, or another patient's: nothing of before stays
    assert (encounters.selected_id, encounters.editor_open, encounters.dialog, tab.chart.tab) == (
        0,
        False,
        "",
        "summary",
    )
    assert encounters.enc_total == 1 and not tab[ChartVitalsState].trend_loaded
