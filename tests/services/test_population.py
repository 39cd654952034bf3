"""Population health on hand-built patients: registries, measure logic (missing results, ties on
dates, exclusions, age limits, periods), care gaps, outreach, cohorts, audit and permissions."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select, text

from hms_app.clock import local_today, to_local, utcnow
from hms_app.errors import Conflict, Forbidden, ValidationError
from hms_app.models.emr import Condition, Encounter, MedicationStatement, Observation
from hms_app.models.patients import Patient
from hms_app.models.population import OutreachMessage
from hms_app.models.security import AppUser, AuditEvent
from hms_app.seed.registry import run_seeders
from hms_app.services.permissions import DEFAULT_GRANTS, SYSTEM_ACTOR, Actor
from hms_app.services.population.cohorts import (
    count_cohort,
    export_cohort_csv,
    list_cohort,
    list_saved_cohorts,
    save_cohort,
)
from hms_app.services.population.filters import parse_filter
from hms_app.services.population.measures import measure_results
from hms_app.services.population.outreach import patient_outreach, send_outreach
from hms_app.services.population.refresh import (
    BMI,
    DIASTOLIC,
    HBA1C,
    SOURCE_TABLES,
    SYSTOLIC,
    refresh_info,
    refresh_population,
)
from hms_app.services.population.registries import ensure_default_registries, list_registries, save_registry

MANAGER = Actor(
    user_id=0, username="mona", roles=frozenset({"manager"}), permissions=DEFAULT_GRANTS["manager"]
)
PHYSICIAN = Actor(
    user_id=0, username="phil", roles=frozenset({"physician"}), permissions=DEFAULT_GRANTS["physician"]
)
NURSE = Actor(user_id=0, username="nina", roles=frozenset({"nurse"}), permissions=DEFAULT_GRANTS["nurse"])


class World:
    """Builds patients with problems, results and visits, directly in the tables."""

    def __init__(self, session):
        self.session = session
        self.today = local_today()
        self.now = utcnow()
        self.count = 0
        ensure_default_registries(session, actor=SYSTEM_ACTOR)
        self.providers = {}
        for name in ("dr.a", "dr.b"):
            user = AppUser(username=name, display_name=f"Dr {name[-1].upper()}", password_hash="x")
            session.add(user)
            session.flush()
            self.providers[name] = user.id
        session.commit()

    def patient(self, name: str, *, age: int = 50, sex: str = "female", **status) -> int:
        self.count += 1
        birth = self.today.replace(year=self.today.year - age) - timedelta(days=10)
        p = Patient(
            mrn=f"T{self.count:05d}",
            given_name=name,
            family_name="Test",
            sex=sex,
            birth_date=birth,
            **status,
        )
        self.session.add(p)
        self.session.flush()
        return p.id

    def problem(self, pid: int, code: str, status: str = "active") -> None:
        self.session.add(
            Condition(
                patient_id=pid, code=code, display=code, clinical_status=status, onset_date=date(2020, 1, 1)
            )
        )

    def result(self, pid: int, code: str, value: float, days_ago: float, at: datetime | None = None) -> None:
        self.session.add(
            Observation(
                patient_id=pid,
                code=code,
                display=code,
                value=value,
                unit="x",
                category="laboratory",
                effective_at=at or self.now - timedelta(days=days_ago),
            )
        )
        self.session.flush()  # ids in the order written: the later row wins a tie on time

    def bp(self, pid: int, systolic: float, diastolic: float, days_ago: float) -> None:
        at = self.now - timedelta(days=days_ago)
        self.result(pid, SYSTOLIC, systolic, 0, at)
        self.result(pid, DIASTOLIC, diastolic, 0, at)

    def visit(self, pid: int, days_ago: float, provider: str | None = None) -> None:
        at = self.now - timedelta(days=days_ago)
        self.session.add(
            Encounter(
                patient_id=pid,
                encounter_class="outpatient",
                status="finished",
                practitioner_id=self.providers.get(provider) if provider else None,
                start_at=at,
            )
        )

    def refresh(self) -> None:
        self.session.commit()
        refresh_population(self.session, actor=SYSTEM_ACTOR)


@pytest.fixture
def world(session) -> World:
    return World(session)


def _result(rows, provider_id=None):
    return next(r for r in rows if r.provider_id == provider_id)


def _gap_names(session, measure: str, months: int = 12, **extra) -> list[str]:
    rows, total = list_cohort(
        session,
        actor=MANAGER,
        filters={"measure_gap": measure, "period_months": months, **extra},
        page_size=100,
    )
    assert total == len(rows)
    return sorted(r.name.split()[0] for r in rows)


def test_a_worklist_dates_each_value_and_marks_one_from_before_the_period(session, world):
    """An HbA1c of 6.7 from 20 months ago is on the "above 9 % or not measured" worklist: the
    list says when it was measured, and that it was not measured in the 12-month period."""
    w = world
    old = w.patient("Dot")
    w.problem(old, "E11.9")
    w.result(old, HBA1C, 6.7, 600)
    recent = w.patient("Ann")
    w.problem(recent, "E11.9")
    w.result(recent, HBA1C, 10.0, 30)
    w.refresh()
    rows, _ = list_cohort(session, actor=MANAGER, filters={"measure_gap": "hba1c_poor", "period_months": 12})
    by_name = {r.name.split()[0]: r for r in rows}
    dot, ann = by_name["Dot"], by_name["Ann"]
    assert dot.period_start is not None and dot.hba1c == 6.7
    assert (w.now - dot.hba1c_at).days in (599, 600) and not dot.measured_in_period(dot.hba1c_at)
    assert ann.hba1c == 10.0 and ann.measured_in_period(ann.hba1c_at)
    # A cohort has no measurement period: its values are dated, never "not measured in the period".
    cohort, _ = list_cohort(session, actor=MANAGER, filters={"registries": ["diabetes"]})
    assert all(r.period_start is None and r.measured_in_period(r.hba1c_at) for r in cohort)
    text, _count = export_cohort_csv(session, actor=MANAGER, filters={"measure_gap": "hba1c_poor"})
    lines = {line["name"].split()[0]: line for line in csv.DictReader(io.StringIO(text))}
    assert lines["Dot"]["hba1c_percent"] == "6.7"
    assert lines["Dot"]["hba1c_date"] == to_local(dot.hba1c_at).date().isoformat()


def test_hba1c_poor_control_counts_missing_results_ties_exclusions_and_ages(session, world):
    w = world
    a = w.patient("Ann")  # latest 10.0: poor
    w.problem(a, "E11.9")
    w.result(a, HBA1C, 10.0, 30)
    w.visit(a, 30, "dr.a")
    b = w.patient("Bea")  # 10.0 then 7.0: controlled now
    w.problem(b, "E11.65")
    w.result(b, HBA1C, 10.0, 200)
    w.result(b, HBA1C, 7.0, 20)
    w.visit(b, 20, "dr.a")
    c = w.patient("Cid")  # diabetic, never measured: counts as poor
    w.problem(c, "E10.9")
    w.visit(c, 40, "dr.b")
    d = w.patient("Dot")  # measured only 20 months ago: none in a 12-month period
    w.problem(d, "E11.9")
    w.result(d, HBA1C, 6.5, 600)
    e = w.patient("Eve")  # two results at the same moment: the one recorded last (9.5) counts
    w.problem(e, "E13.9")
    same = w.now - timedelta(days=10)
    w.result(e, HBA1C, 8.0, 0, same)
    w.result(e, HBA1C, 9.5, 0, same)
    f = w.patient("Fay")  # palliative care: excluded
    w.problem(f, "E11.9")
    w.problem(f, "Z51.5")
    g = w.patient("Gus", age=80)  # too old for the measure
    w.problem(g, "E11.9")
    h = w.patient("Hal")  # not diabetic
    w.result(h, HBA1C, 11.0, 5)
    i = w.patient("Ivy")  # exactly 9.0 is not above 9
    w.problem(i, "E11.9")
    w.result(i, HBA1C, 9.0, 5)
    j = w.patient("Jon")  # diabetes resolved: not in the registry
    w.problem(j, "E11.9", status="resolved")
    w.result(j, HBA1C, 12.0, 5)
    w.refresh()

    rows = measure_results(session, actor=MANAGER, measure="hba1c_poor", months=12)
    overall = rows[-1]
    assert overall.provider == "Overall"
    assert (overall.denominator, overall.excluded, overall.eligible, overall.numerator) == (7, 1, 6, 4)
    assert overall.rate == pytest.approx(100 * 4 / 6)
    dr_a = _result(rows, w.providers["dr.a"])
    assert (dr_a.provider, dr_a.eligible, dr_a.numerator) == ("Dr A", 2, 1)
    unattributed = _result(rows, 0)
    assert (unattributed.denominator, unattributed.excluded, unattributed.numerator) == (4, 1, 2)
    assert _gap_names(session, "hba1c_poor") == ["Ann", "Cid", "Dot", "Eve"]
    assert _gap_names(session, "hba1c_poor", provider_id=w.providers["dr.b"]) == ["Cid"]
    # A 24-month period reaches Dot's old result: she is in control over that period.
    assert _gap_names(session, "hba1c_poor", months=24) == ["Ann", "Cid", "Eve"]


def test_blood_pressure_control_needs_both_numbers_below_the_limit_in_the_period(session, world):
    w = world
    for name, systolic, diastolic, days in (
        ("Kim", 130, 80, 10),  # controlled
        ("Lou", 150, 85, 10),  # systolic too high
        ("Max", 135, 92, 10),  # diastolic too high
        ("Ned", 139, 89, 10),  # just below both: controlled
        ("Ola", 120, 70, 250),  # controlled, but eight months ago
    ):
        pid = w.patient(name)
        w.problem(pid, "I10")
        w.bp(pid, systolic, diastolic, days)
    pid = w.patient("Pam")  # no blood pressure at all
    w.problem(pid, "I10")
    pid = w.patient("Quy")  # end-stage renal disease: excluded
    w.problem(pid, "I12.0")
    w.problem(pid, "N18.6")
    w.bp(pid, 170, 100, 5)
    pid = w.patient("Rex")  # latest is controlled though an older one was not
    w.problem(pid, "I10")
    w.bp(pid, 170, 100, 60)
    w.bp(pid, 128, 78, 3)
    w.refresh()

    overall = measure_results(session, actor=MANAGER, measure="bp_control", months=12)[-1]
    assert (overall.denominator, overall.excluded, overall.eligible, overall.numerator) == (8, 1, 7, 4)
    assert _gap_names(session, "bp_control") == ["Lou", "Max", "Pam"]
    six = measure_results(session, actor=MANAGER, measure="bp_control", months=6)[-1]
    assert six.numerator == 3  # Ola's reading falls outside six months
    assert _gap_names(session, "bp_control", months=6) == ["Lou", "Max", "Ola", "Pam"]


def test_bmi_screening_counts_adults_seen_in_the_period(session, world):
    w = world
    s = w.patient("Sam")
    w.visit(s, 30)
    w.result(s, BMI, 24.0, 30)
    t = w.patient("Tia")  # seen, no BMI: a gap
    w.visit(t, 30)
    u = w.patient("Uma")  # not seen in the period: not in the denominator
    w.visit(u, 500)
    v = w.patient("Val")  # pregnant: excluded
    w.visit(v, 10)
    w.problem(v, "Z33.1")
    x = w.patient("Xia", age=12)  # a child
    w.visit(x, 10)
    y = w.patient("Yan")  # BMI measured but 14 months ago
    w.visit(y, 5)
    w.result(y, BMI, 31.0, 420)
    w.refresh()
    overall = measure_results(session, actor=MANAGER, measure="bmi_screening", months=12)[-1]
    assert (overall.denominator, overall.excluded, overall.eligible, overall.numerator) == (4, 1, 3, 1)
    assert _gap_names(session, "bmi_screening") == ["Tia", "Yan"]


def test_refresh_leaves_out_deceased_inactive_and_merged_patients(session, world):
    w = world
    alive = w.patient("Liv")
    gone = w.patient("Ded", deceased_at=utcnow() - timedelta(days=3), active=False)
    idle = w.patient("Ina", active=False)
    merged = w.patient("Meg")
    session.flush()
    session.get(Patient, merged).merged_into_id = alive
    for pid in (alive, gone, idle, merged):
        w.problem(pid, "I50.9")
    w.refresh()
    rows = {r.code: r for r in list_registries(session, actor=PHYSICIAN)}
    assert rows["heart_failure"].members == 1
    assert refresh_info(session, actor=PHYSICIAN).patients == 1


def test_editing_a_code_set_recomputes_membership_and_is_audited(session, world):
    w = world
    a = w.patient("Afi")
    w.problem(a, "I48.91")
    b = w.patient("Bo")
    w.problem(b, "I48.0")
    w.refresh()
    row = save_registry(
        session, actor=MANAGER, registry_id=None, code="afib", name="Atrial fibrillation", prefixes="I48.9"
    )
    assert row.members == 1
    row = save_registry(
        session, actor=MANAGER, registry_id=row.id, name="Atrial fibrillation", prefixes="i48"
    )
    assert (row.prefixes, row.members) == (["I48"], 2)
    detail = session.execute(
        select(AuditEvent.detail).where(AuditEvent.action == "registry.update").order_by(AuditEvent.id.desc())
    ).scalar()
    assert "added I48" in detail and "removed I48.9" in detail
    row = save_registry(
        session, actor=MANAGER, registry_id=row.id, name="Atrial fibrillation", prefixes="I48", active=False
    )
    assert row.members == 0  # an inactive registry has no members
    with pytest.raises(ValidationError) as caught:
        save_registry(session, actor=MANAGER, registry_id=row.id, name="Atrial fibrillation", prefixes="I48%")
    assert caught.value.field == "prefixes"
    with pytest.raises(Conflict):
        save_registry(session, actor=MANAGER, registry_id=None, code="afib", name="Again", prefixes="I48")
    with pytest.raises(Forbidden):
        save_registry(session, actor=PHYSICIAN, registry_id=row.id, name="Atrial fibrillation", prefixes="I4")


def test_outreach_is_recorded_per_patient_audited_and_not_repeated_within_a_week(session, world):
    w = world
    pid = w.patient("Ora")
    w.problem(pid, "E11.9")
    w.refresh()
    message = send_outreach(
        session, actor=MANAGER, patient_id=pid, kind="booking_invitation", measure="hba1c_poor"
    )
    assert "HbA1c" in message.body and message.created_by == "mona"
    audit = session.execute(
        select(AuditEvent.action, AuditEvent.patient_id, AuditEvent.detail).where(
            AuditEvent.action == "population.outreach"
        )
    ).all()
    assert audit == [("population.outreach", pid, "booking_invitation about hba1c_poor")]
    with pytest.raises(Conflict):
        send_outreach(session, actor=MANAGER, patient_id=pid, kind="booking_invitation", measure="hba1c_poor")
    send_outreach(session, actor=MANAGER, patient_id=pid, kind="portal_message", measure="hba1c_poor")
    with pytest.raises(ValidationError):
        send_outreach(session, actor=MANAGER, patient_id=pid, kind="sms", measure="hba1c_poor")
    with pytest.raises(Forbidden):
        send_outreach(session, actor=PHYSICIAN, patient_id=pid, kind="portal_message", measure="bp_control")
    assert session.execute(select(OutreachMessage.kind).order_by(OutreachMessage.id)).scalars().all() == [
        "booking_invitation",
        "portal_message",
    ]
    rows, _ = list_cohort(session, actor=MANAGER, filters={"measure_gap": "hba1c_poor"})
    assert rows[0].last_outreach_at is not None
    # The patient reads what was sent to them in the portal; nobody else's.
    patient = Actor(
        user_id=0,
        username="ora",
        roles=frozenset({"patient"}),
        permissions=DEFAULT_GRANTS["patient"],
        patient_id=pid,
    )
    assert [m.kind for m in patient_outreach(session, actor=patient, patient_id=pid)] == [
        "portal_message",
        "booking_invitation",
    ]
    with pytest.raises(Forbidden):
        patient_outreach(session, actor=patient, patient_id=pid + 1)


def test_cohort_filters_count_list_export_and_save(session, world):
    w = world
    a = w.patient("Abe", age=70, sex="male")
    w.problem(a, "E11.9")
    w.problem(a, "I10")
    w.result(a, HBA1C, 9.8, 10)
    w.bp(a, 150, 90, 10)
    w.visit(a, 10, "dr.a")
    session.add(MedicationStatement(patient_id=a, medication="Metformin", status="active"))
    b = w.patient("Bel", age=45)
    w.problem(b, "E11.9")
    w.result(b, HBA1C, 7.1, 10)
    w.visit(b, 400, "dr.b")
    session.add(MedicationStatement(patient_id=b, medication="Metformin", status="stopped"))
    c = w.patient("Cal", age=30, sex="male")
    w.result(c, BMI, 32.5, 3)
    w.refresh()

    def count(**filters) -> int:
        return count_cohort(session, actor=PHYSICIAN, filters=filters)

    assert count() == 3
    assert count(registries=["diabetes"]) == 2
    assert count(registries=["diabetes", "hypertension"]) == 1
    assert count(age_min=45, age_max=45) == 1
    assert count(age_min="46") == 1
    assert count(sex="male") == 2
    assert count(hba1c_min="9") == 1
    assert count(hba1c_max="9") == 1
    assert count(sbp_min=140) == 1
    assert count(bmi_min=30, bmi_max=32.5) == 0  # "below" 32.5
    assert count(bmi_min=30) == 1
    assert count(medication="Metformin") == 1  # Bel stopped hers
    assert count(visit_within_days=30) == 1
    assert count(no_visit_days=365) == 2  # Bel (400 days) and Cal (never)
    assert count(provider_id=w.providers["dr.b"]) == 1
    assert count(provider_id=0) == 1  # nobody attributed: Cal

    before = session.execute(select(AuditEvent.id).where(AuditEvent.action == "population.read")).all()
    rows, total = list_cohort(session, actor=PHYSICIAN, filters={"registries": ["diabetes"]}, page_size=1)
    assert (total, len(rows), rows[0].name) == (2, 1, "Abe Test")
    reads = session.execute(
        select(AuditEvent.detail, AuditEvent.patient_id).where(AuditEvent.action == "population.read")
    ).all()
    assert len(reads) == len(before) + 1  # one row per listing, not per patient
    assert "registries=diabetes" in reads[-1][0] and reads[-1][1] is None

    text, written = export_cohort_csv(session, actor=PHYSICIAN, filters={"registries": ["diabetes"]})
    lines = list(csv.DictReader(io.StringIO(text)))
    assert written == 2 and [line["name"] for line in lines] == ["Abe Test", "Bel Test"]
    assert lines[0]["hba1c_percent"] == "9.8" and lines[0]["systolic_mmhg"] == "150"
    assert "population.export" in session.execute(select(AuditEvent.action)).scalars().all()

    with pytest.raises(Forbidden):
        save_cohort(session, actor=PHYSICIAN, name="Diabetics", filters={"registries": ["diabetes"]})
    saved = save_cohort(
        session, actor=MANAGER, name="Diabetics", filters={"registries": ["diabetes"], "sex": ""}
    )
    assert saved.filters == {"registries": ["diabetes"]}
    with pytest.raises(Conflict):
        save_cohort(session, actor=MANAGER, name="Diabetics", filters={})
    assert [c.name for c in list_saved_cohorts(session, actor=PHYSICIAN)] == ["Diabetics"]
    assert count_cohort(session, actor=PHYSICIAN, filters=saved.filters) == 2
    with pytest.raises(Forbidden):
        count_cohort(session, actor=NURSE, filters={})


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"age_min": "abc"}, "age_min"),
        ({"age_min": 70, "age_max": 60}, "age_max"),
        ({"sex": "robot"}, "sex"),
        ({"registries": ["diabetes; drop"]}, "registries"),
        ({"hba1c_min": "nan"}, "hba1c_min"),
        ({"sbp_min": "1e9"}, "sbp_min"),
        ({"bmi_min": 40, "bmi_max": 30}, "bmi_max"),
        ({"measure_gap": "made_up"}, "measure_gap"),
        ({"period_months": 5}, "period_months"),
        ({"visit_within_days": 0}, "visit_within_days"),
    ],
)
def test_bad_filters_are_refused_with_the_field(filters, field):
    with pytest.raises(ValidationError) as caught:
        parse_filter(filters, known_registries={"diabetes"})
    assert caught.value.field == field


def _planner_rows(session, table: str) -> float:
    """What PostgreSQL's planner believes the table holds (-1: never analysed)."""
    return session.execute(
        text("SELECT reltuples FROM pg_class WHERE relname = :t"), {"t": table}
    ).scalar_one()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_refresh_after_a_bulk_load_first_gives_the_planner_statistics(session, world):
    """The refresh that never finished after a 100,000-patient load: the planner had no statistics.
    Here the load's statistics are wiped as a fresh bulk load leaves them; the refresh samples the
    source tables before it rebuilds, and still counts right."""
    for number in range(30):
        world.patient(f"Bulk {number}", age=30 + number)
    session.commit()
    for table in SOURCE_TABLES:
        session.execute(text("DELETE FROM pg_statistic WHERE starelid = CAST(:t AS regclass)"), {"t": table})
        session.execute(text("UPDATE pg_class SET reltuples = -1 WHERE relname = :t"), {"t": table})
    session.commit()
    assert _planner_rows(session, "patient") == -1
    info = refresh_population(session, actor=SYSTEM_ACTOR)
    assert info.patients == 30
    assert _planner_rows(session, "patient") == 30
    assert all(_planner_rows(session, table) >= 0 for table in SOURCE_TABLES)
    # the rebuild's hash-join setting lasted only for its own transaction
    assert session.execute(text("SHOW enable_nestloop")).scalar_one() == "on"


def test_seeding_leaves_the_planner_statistics_of_what_it_loaded(session, backend):
    run_seeders(session, patients=40, seed=5, as_of=date(2026, 11, 1), only=["departments", "patients"])
    if backend == "postgresql":
        assert _planner_rows(session, "patient") == 40
    else:
        analysed = session.execute(text("SELECT DISTINCT tbl FROM sqlite_stat1")).scalars().all()
        assert "patient" in analysed and "department" in analysed
