"""The medical record's rules as a clinician and an auditor see them, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
import simple_icd_10_cm as icd
from argon2 import PasswordHasher
from sqlalchemy import func, select, update

from hms_app.cds import vitals as vital_rules
from hms_app.clock import utcnow
from hms_app.errors import Conflict, Forbidden, ValidationError, Withheld
from hms_app.models.emr import ClinicalNote, DocumentReference, Encounter, Observation
from hms_app.models.security import AuditEvent
from hms_app.services import accounts, file_store, security
from hms_app.services.emr.allergies import add_allergy, set_allergy_status
from hms_app.services.emr.chart import open_chart
from hms_app.services.emr.documents import open_document, store_document
from hms_app.services.emr.encounters import finish_encounter, start_encounter
from hms_app.services.emr.immunizations import add_immunization
from hms_app.services.emr.medications import add_medication, stop_medication
from hms_app.services.emr.notes import amend_note, encounter_notes, save_note, sign_note
from hms_app.services.emr.problems import add_condition, search_icd10, set_condition_status
from hms_app.services.emr.vitals import latest_vitals, record_vitals, vital_series
from hms_app.services.patients import register_patient
from hms_app.services.permissions import SYSTEM_ACTOR, Actor

PASSWORD = "Ward-round-42"
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@dataclass
class Ward:
    doctor: Actor
    nurse: Actor
    clerk: Actor
    patient_id: int
    other_patient_id: int
    portal: Actor  # the portal account of ``patient_id``


def _person(session, username: str, roles: list[str], patient_id: int | None = None) -> Actor:
    accounts.create_user(
        session,
        actor=SYSTEM_ACTOR,
        username=username,
        display_name=username.title(),
        password=PASSWORD,
        roles=roles,
        patient_id=patient_id,
    )
    token = security.sign_in(session, username=username, password=PASSWORD).token
    return security.resolve_session(session, token=token, screen="/patients/chart")


def _patient(session, given: str, family: str, birth: str) -> int:
    return register_patient(
        session,
        actor=SYSTEM_ACTOR,
        data={"given_name": given, "family_name": family, "sex": "female", "birth_date": birth},
    ).id


@pytest.fixture
def ward(session, monkeypatch) -> Ward:
    # The people are a means here, not the subject: hash their passwords cheaply.
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    accounts.ensure_roles(session)
    patient_id = _patient(session, "Amara", "Okonkwo", "1980-05-14")
    other_id = _patient(session, "Bruno", "Fischer", "1962-11-02")
    return Ward(
        doctor=_person(session, "dr.house", ["physician"]),
        nurse=_person(session, "nurse.ratched", ["nurse"]),
        clerk=_person(session, "bill.clerk", ["billing_clerk"]),
        patient_id=patient_id,
        other_patient_id=other_id,
        portal=_person(session, "amara", ["patient"], patient_id=patient_id),
    )


def _audit_rows(session, after_seq: int = 0) -> list[AuditEvent]:
    return list(
        session.execute(select(AuditEvent).where(AuditEvent.id > after_seq).order_by(AuditEvent.id)).scalars()
    )


def _last_seq(session) -> int:
    return session.execute(select(func.coalesce(func.max(AuditEvent.id), 0))).scalar_one()


def _observations(session, patient_id: int) -> dict[str, list[float]]:
    rows = session.execute(
        select(Observation.code, Observation.value)
        .where(Observation.patient_id == patient_id)
        .order_by(Observation.effective_at, Observation.id)
    ).all()
    found: dict[str, list[float]] = {}
    for code, value in rows:
        found.setdefault(vital_rules.BY_LOINC[code].key, []).append(value)
    return found


# --------------------------------------------------------------------------- vitals


def _with_partner(key: str, value: float) -> dict:
    """A vitals form with ``key`` first; a blood pressure gets a plausible partner so the pair rule holds."""
    if key == "systolic_bp":
        return {key: value, "diastolic_bp": max(20, min(value - 10, 200))}
    if key == "diastolic_bp":
        return {key: value, "systolic_bp": 250 if value >= 120 else 120}
    return {key: value}


@pytest.mark.parametrize("key", list(vital_rules.VITALS))
def test_each_vital_accepts_its_plausible_edges_and_refuses_what_lies_beyond(session, ward, key):
    spec = vital_rules.VITALS[key]
    step = 10**-spec.decimals
    for beyond in (round(spec.low - step, spec.decimals), round(spec.high + step, spec.decimals)):
        with pytest.raises(ValidationError) as refused:
            record_vitals(
                session, actor=ward.nurse, patient_id=ward.patient_id, values=_with_partner(key, beyond)
            )
        assert refused.value.field == key
        assert f"{beyond:g}" in str(refused.value) and "not possible" in str(refused.value)
    assert _observations(session, ward.patient_id) == {}  # nothing half-written

    for edge in (spec.low, spec.high):
        record_vitals(session, actor=ward.nurse, patient_id=ward.patient_id, values=_with_partner(key, edge))
    assert _observations(session, ward.patient_id)[key] == [spec.low, spec.high]


def test_a_pulse_of_900_is_refused_with_a_message_naming_the_field(session, ward):
    with pytest.raises(ValidationError) as refused:
        record_vitals(
            session,
            actor=ward.nurse,
            patient_id=ward.patient_id,
            values={"heart_rate": "900", "temperature": "36.8"},
        )
    assert refused.value.field == "heart_rate"
    assert (
        str(refused.value)
        == "A heart rate of 900 /min is not possible; expected 20 to 300 /min. Check the number."
    )
    assert _observations(session, ward.patient_id) == {}


def test_a_value_that_is_not_a_number_is_refused_with_its_unit(session, ward):
    with pytest.raises(ValidationError) as refused:
        record_vitals(session, actor=ward.nurse, patient_id=ward.patient_id, values={"weight": "heavy"})
    assert refused.value.field == "weight" and "kg" in str(refused.value)


def test_bmi_is_derived_from_weight_and_height_and_later_from_the_latest_height(session, ward):
    start = utcnow() - timedelta(days=30)
    record_vitals(
        session,
        actor=ward.nurse,
        patient_id=ward.patient_id,
        values={"weight": "70", "height": "175"},
        taken_at=start,
    )
    record_vitals(
        session,
        actor=ward.nurse,
        patient_id=ward.patient_id,
        values={"height": "180"},
        taken_at=start + timedelta(days=1),
    )
    rows = record_vitals(
        session,
        actor=ward.nurse,
        patient_id=ward.patient_id,
        values={"weight": "81"},
        taken_at=start + timedelta(days=2),
    )
    # 70 / 1.75² = 22.86; then 81 kg with the latest height (180 cm, not 175): 81 / 1.8² = 25.0
    # The exact value is stored (its category is taken from it); displays round it.
    assert [round(v, 2) for v in _observations(session, ward.patient_id)["bmi"]] == [22.86, 25.0]
    assert [(r.display, r.value, r.unit) for r in rows] == [
        ("Body weight", 81.0, "kg"),
        ("Body mass index (BMI)", 25.0, "kg/m2"),
    ]
    latest = latest_vitals(session, ward.patient_id)
    assert latest["bmi"][0] == 25.0 and latest["height"][0] == 180.0


def test_no_bmi_without_any_height(session, ward):
    record_vitals(session, actor=ward.nurse, patient_id=ward.other_patient_id, values={"weight": "64"})
    assert _observations(session, ward.other_patient_id) == {"weight": [64.0]}


def test_blood_pressure_needs_both_values_with_the_diastolic_below_the_systolic(session, ward):
    for values in (
        {"systolic_bp": "120"},
        {"diastolic_bp": "80"},
        {"systolic_bp": "120", "diastolic_bp": "120"},
        {"systolic_bp": "110", "diastolic_bp": "130"},
    ):
        with pytest.raises(ValidationError) as refused:
            record_vitals(session, actor=ward.nurse, patient_id=ward.patient_id, values=values)
        assert refused.value.field == "diastolic_bp", values
    assert _observations(session, ward.patient_id) == {}
    record_vitals(
        session,
        actor=ward.nurse,
        patient_id=ward.patient_id,
        values={"systolic_bp": "121", "diastolic_bp": "79"},
    )
    assert _observations(session, ward.patient_id) == {"systolic_bp": [121.0], "diastolic_bp": [79.0]}


def test_vitals_cannot_name_another_patients_encounter(session, ward):
    theirs = start_encounter(
        session, actor=ward.doctor, patient_id=ward.other_patient_id, encounter_class="outpatient"
    )
    with pytest.raises(ValidationError) as refused:
        record_vitals(
            session,
            actor=ward.nurse,
            patient_id=ward.patient_id,
            values={"heart_rate": 70},
            encounter_id=theirs.id,
        )
    assert refused.value.field == "encounter_id"


def test_the_trend_series_is_oldest_first_and_capped(session, ward):
    start = utcnow() - timedelta(days=10)
    for day in range(5):
        record_vitals(
            session,
            actor=ward.nurse,
            patient_id=ward.patient_id,
            values={"heart_rate": 60 + day},
            taken_at=start + timedelta(days=day),
        )
    series = vital_series(session, actor=ward.doctor, patient_id=ward.patient_id, key="heart_rate", limit=3)
    assert [p.value for p in series] == [62, 63, 64]  # the latest three, drawn left to right
    assert series[0].taken_at < series[-1].taken_at


# --------------------------------------------------------------------------- notes


def _encounter(session, ward, **kwargs) -> Encounter:
    return start_encounter(
        session,
        actor=ward.doctor,
        patient_id=ward.patient_id,
        encounter_class=kwargs.pop("encounter_class", "outpatient"),
        reason=kwargs.pop("reason", "Check-up"),
        **kwargs,
    )


def test_signing_locks_a_note(session, ward):
    encounter = _encounter(session, ward)
    note = save_note(session, actor=ward.doctor, encounter_id=encounter.id, subjective="Cough for 3 days")
    note = save_note(
        session,
        actor=ward.doctor,
        encounter_id=encounter.id,
        note_id=note.id,
        subjective="Cough for 3 days",
        plan="Rest, fluids",
    )
    signed = sign_note(session, actor=ward.doctor, note_id=note.id)
    assert (signed.status, signed.signed_by) == ("signed", "dr.house") and signed.signed_at is not None

    with pytest.raises(Conflict, match="signed and locked"):
        save_note(session, actor=ward.doctor, encounter_id=encounter.id, note_id=note.id, plan="Antibiotics")
    with pytest.raises(Conflict):
        sign_note(session, actor=ward.doctor, note_id=note.id)
    session.expire_all()
    stored = session.get(ClinicalNote, note.id)
    assert (stored.subjective, stored.plan, stored.status) == ("Cough for 3 days", "Rest, fluids", "signed")


def test_an_empty_note_is_refused(session, ward):
    encounter = _encounter(session, ward)
    with pytest.raises(ValidationError, match="at least one part"):
        save_note(session, actor=ward.doctor, encounter_id=encounter.id, subjective="  ")


def test_an_amendment_keeps_the_original_unchanged_and_links_both(session, ward):
    encounter = _encounter(session, ward)
    original = save_note(
        session, actor=ward.doctor, encounter_id=encounter.id, assessment="Viral infection", plan="Rest"
    )
    sign_note(session, actor=ward.doctor, note_id=original.id)
    with pytest.raises(Conflict):
        amend_note(session, actor=ward.doctor, note_id=_draft(session, ward, encounter).id)

    amendment = amend_note(session, actor=ward.doctor, note_id=original.id)
    assert (amendment.status, amendment.amends_id, amendment.plan) == ("draft", original.id, "Rest")
    save_note(
        session,
        actor=ward.doctor,
        encounter_id=encounter.id,
        note_id=amendment.id,
        assessment="Bacterial pneumonia",
        plan="Amoxicillin",
    )
    sign_note(session, actor=ward.doctor, note_id=amendment.id)

    notes = {n.id: n for n in encounter_notes(session, actor=ward.nurse, encounter_id=encounter.id)}
    first, second = notes[original.id], notes[amendment.id]
    assert (first.status, first.assessment, first.plan) == ("signed", "Viral infection", "Rest")
    assert first.amended_by_id == amendment.id and first.amends_id is None
    assert second.amends_id == original.id and second.amended_by_id is None
    assert (second.assessment, second.status) == ("Bacterial pneumonia", "signed")


def _draft(session, ward, encounter) -> ClinicalNote:
    return save_note(session, actor=ward.doctor, encounter_id=encounter.id, objective="Temp 38.2")


def test_finishing_an_encounter_records_its_end(session, ward):
    encounter = _encounter(session, ward)
    finished = finish_encounter(session, actor=ward.nurse, encounter_id=encounter.id)
    assert finished.status == "finished" and finished.end_at is not None
    with pytest.raises(ValidationError):
        start_encounter(session, actor=ward.doctor, patient_id=ward.patient_id, encounter_class="telepathy")


# --------------------------------------------------------------------------- problems (ICD-10-CM)


def test_only_billable_icd10_codes_go_on_the_problem_list(session, ward):
    with pytest.raises(ValidationError) as category:
        add_condition(session, actor=ward.doctor, patient_id=ward.patient_id, code="E11")
    assert category.value.field == "code" and "category, not a billable code" in str(category.value)
    with pytest.raises(ValidationError) as unknown:
        add_condition(session, actor=ward.doctor, patient_id=ward.patient_id, code="Q99.99")
    assert unknown.value.field == "code"

    condition = add_condition(
        session, actor=ward.doctor, patient_id=ward.patient_id, code="e119", onset_date="2021-06-01"
    )
    assert (condition.code, condition.display, condition.onset_date) == (
        "E11.9",
        "Type 2 diabetes mellitus without complications",
        date(2021, 6, 1),
    )
    with pytest.raises(Conflict):
        add_condition(session, actor=ward.doctor, patient_id=ward.patient_id, code="E11.9")


def test_a_problem_is_resolved_with_a_date_and_can_be_reactivated(session, ward):
    condition = add_condition(
        session, actor=ward.doctor, patient_id=ward.patient_id, code="J45.909", onset_date="2020-01-10"
    )
    with pytest.raises(ValidationError) as early:
        set_condition_status(
            session,
            actor=ward.doctor,
            condition_id=condition.id,
            clinical_status="resolved",
            abatement_date="2019-12-31",
        )
    assert early.value.field == "abatement_date"
    resolved = set_condition_status(
        session,
        actor=ward.doctor,
        condition_id=condition.id,
        clinical_status="resolved",
        abatement_date="2023-04-02",
    )
    assert (resolved.clinical_status, resolved.abatement_date) == ("resolved", date(2023, 4, 2))
    active = set_condition_status(
        session, actor=ward.doctor, condition_id=condition.id, clinical_status="active"
    )
    assert (active.clinical_status, active.abatement_date) == ("active", None)


def test_icd10_search_finds_billable_codes_by_code_prefix():
    found = search_icd10("E11.6")
    assert found and all(c.code.startswith("E11.6") for c in found)
    assert all(icd.is_leaf(c.code) for c in found)
    codes = [c.code for c in search_icd10("E11", limit=50)]
    assert len(codes) == 50 and all(c.startswith("E11.") for c in codes)
    assert "E11" not in codes and "E11.6" not in codes and "E11.0" not in codes  # categories are not billable
    assert [c.code for c in search_icd10("E11.9")] == ["E11.9"]
    assert [c.code for c in search_icd10("e119")] == ["E11.9"]  # typed without the dot


def test_icd10_search_finds_codes_by_all_their_words():
    found = search_icd10("type 2 diabetes without complications")
    assert "E11.9" in [c.code for c in found]
    for result in search_icd10("diabetes kidney", limit=50):
        assert "diabetes" in result.description.lower() and "kidney" in result.description.lower()
        assert icd.is_leaf(result.code)
    assert search_icd10("d") == []  # too short to mean anything


# --------------------------------------------------------------------------- allergies, medications, immunizations


def test_a_second_active_allergy_to_the_same_substance_is_refused(session, ward):
    allergy = add_allergy(
        session,
        actor=ward.nurse,
        patient_id=ward.patient_id,
        substance="Penicillin",
        reaction="Hives",
        severity="moderate",
    )
    with pytest.raises(Conflict, match="already recorded"):
        add_allergy(session, actor=ward.nurse, patient_id=ward.patient_id, substance=" penicillin ")
    with pytest.raises(ValidationError) as severity:
        add_allergy(
            session, actor=ward.nurse, patient_id=ward.patient_id, substance="Latex", severity="fatal"
        )
    assert severity.value.field == "severity"
    set_allergy_status(session, actor=ward.nurse, allergy_id=allergy.id, status="inactive")
    again = add_allergy(
        session, actor=ward.nurse, patient_id=ward.patient_id, substance="Penicillin", severity="severe"
    )
    chart = open_chart(session, actor=ward.doctor, patient_id=ward.patient_id)
    assert chart.banner.allergies == ("Penicillin (severe)",) and "Severe allergy" in chart.banner.alerts
    assert again.id != allergy.id


def test_stopping_a_medication_needs_a_reason_and_a_date_after_its_start(session, ward):
    row = add_medication(
        session,
        actor=ward.doctor,
        patient_id=ward.patient_id,
        medication="Metformin",
        dosage="500 mg twice daily",
        started_on="2024-02-01",
    )
    with pytest.raises(ValidationError) as no_reason:
        stop_medication(session, actor=ward.doctor, medication_id=row.id, reason="  ")
    assert no_reason.value.field == "stop_reason"
    with pytest.raises(ValidationError) as early:
        stop_medication(
            session, actor=ward.doctor, medication_id=row.id, reason="Nausea", stopped_on="2024-01-15"
        )
    assert early.value.field == "stopped_on"
    stopped = stop_medication(
        session, actor=ward.doctor, medication_id=row.id, reason="Nausea", stopped_on="2024-03-01"
    )
    assert (stopped.status, stopped.stop_reason, stopped.stopped_on) == (
        "stopped",
        "Nausea",
        date(2024, 3, 1),
    )
    with pytest.raises(Conflict):
        stop_medication(session, actor=ward.doctor, medication_id=row.id, reason="Again")


def test_an_immunization_before_birth_or_in_the_future_is_refused(session, ward):
    for day in ("1980-05-13", (utcnow().date() + timedelta(days=2)).isoformat()):
        with pytest.raises(ValidationError) as refused:
            add_immunization(
                session, actor=ward.nurse, patient_id=ward.patient_id, vaccine="Tdap", occurrence_date=day
            )
        assert refused.value.field == "occurrence_date"
    given = add_immunization(
        session,
        actor=ward.nurse,
        patient_id=ward.patient_id,
        vaccine="Tdap",
        occurrence_date="1980-05-14",
        lot_number="AB123",
    )
    assert (given.occurrence_date, given.lot_number, given.recorded_by) == (
        date(1980, 5, 14),
        "AB123",
        "nurse.ratched",
    )


# --------------------------------------------------------------------------- documents


def _files() -> set[str]:
    return {p.name for p in file_store.documents_dir().iterdir()}


def test_a_document_is_checked_by_its_bytes_and_its_size(session, ward, monkeypatch):
    cases = [
        (PDF, "image/png", "do not match"),
        (PNG, "application/pdf", "do not match"),
        (b"MZ\x90\x00", "application/x-msdownload", "Only PDF, PNG and JPEG"),
        (b"", "application/pdf", "empty"),
    ]
    for content, content_type, message in cases:
        with pytest.raises(ValidationError, match=message) as refused:
            store_document(
                session,
                actor=ward.nurse,
                patient_id=ward.patient_id,
                title="Scan",
                content=content,
                content_type=content_type,
            )
        assert refused.value.field == "file"
    monkeypatch.setattr(file_store, "MAX_DOCUMENT_BYTES", 1024)
    with pytest.raises(ValidationError, match="larger than"):
        store_document(
            session,
            actor=ward.nurse,
            patient_id=ward.patient_id,
            title="Big scan",
            content=PDF + b"x" * 1024,
            content_type="application/pdf",
        )
    assert _files() == set()
    assert session.execute(select(func.count()).select_from(DocumentReference)).scalar_one() == 0


def test_a_document_is_stored_outside_the_public_upload_folder(session, ward, tmp_path, monkeypatch):
    import reflex as rx

    monkeypatch.chdir(tmp_path)  # Reflex's public upload folder is relative to the working directory
    row = store_document(
        session,
        actor=ward.nurse,
        patient_id=ward.patient_id,
        title="Referral letter",
        content=PDF,
        content_type="application/pdf",
    )
    stored = file_store.documents_dir() / row.storage_key
    assert stored.read_bytes() == PDF and _files() == {row.storage_key}
    upload_dir = rx.get_upload_dir().resolve()
    assert upload_dir not in stored.resolve().parents
    assert not upload_dir.exists() or not any(upload_dir.rglob("*"))
    assert (row.size_bytes, row.content_type, row.created_by) == (
        len(PDF),
        "application/pdf",
        "nurse.ratched",
    )


def test_the_file_is_removed_when_the_record_cannot_be_written(session, ward, monkeypatch):
    def failing_audit(*_args, **_kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(file_store, "record_audit", failing_audit)
    with pytest.raises(RuntimeError):
        store_document(
            session,
            actor=ward.nurse,
            patient_id=ward.patient_id,
            title="Referral",
            content=PDF,
            content_type="application/pdf",
        )
    session.rollback()
    assert _files() == set()
    assert session.execute(select(func.count()).select_from(DocumentReference)).scalar_one() == 0


def test_a_portal_patient_opens_only_their_own_documents_and_every_read_is_audited(session, ward):
    mine = store_document(
        session,
        actor=ward.nurse,
        patient_id=ward.patient_id,
        title="My letter",
        content=PDF,
        content_type="application/pdf",
    )
    theirs = store_document(
        session,
        actor=ward.nurse,
        patient_id=ward.other_patient_id,
        title="Their scan",
        content=PNG,
        content_type="image/png",
    )
    with pytest.raises(Withheld, match="^That document does not exist.$"):  # as if it were not there
        open_document(session, actor=ward.portal, document_id=theirs.id)
    session.rollback()
    seq = _last_seq(session)
    row, path = open_document(session, actor=ward.portal, document_id=mine.id)
    assert path.read_bytes() == PDF and row.title == "My letter"
    row, path = open_document(session, actor=ward.clerk, document_id=theirs.id)  # staff with patient.read
    assert path.read_bytes() == PNG
    reads = [(a.action, a.username, a.patient_id, a.target_id) for a in _audit_rows(session, seq)]
    assert reads == [
        ("document.read", "amara", ward.patient_id, str(mine.id)),
        ("document.read", "bill.clerk", ward.other_patient_id, str(theirs.id)),
    ]


# --------------------------------------------------------------------------- the chart


def test_the_chart_opens_with_the_newest_encounters_first_and_one_audit_row(session, ward):
    now = utcnow()
    for days_ago, reason in ((30, "oldest"), (1, "newest"), (10, "middle")):
        encounter = _encounter(session, ward, reason=reason)
        session.execute(
            update(Encounter)
            .where(Encounter.id == encounter.id)
            .values(start_at=now - timedelta(days=days_ago))
        )
    session.commit()
    save_note(session, actor=ward.doctor, encounter_id=encounter.id, plan="Follow up")
    seq = _last_seq(session)

    chart = open_chart(session, actor=ward.nurse, patient_id=ward.patient_id)
    assert [e.reason for e in chart.timeline] == ["newest", "middle", "oldest"]
    assert chart.timeline_total == 3 and [e.notes for e in chart.timeline] == [0, 1, 0]
    assert (chart.banner.name, chart.banner.sex) == ("Amara Okonkwo", "female")
    audit = [(a.action, a.username, a.patient_id, a.detail) for a in _audit_rows(session, seq)]
    assert audit == [("patient.read", "nurse.ratched", ward.patient_id, "chart opened")]

    page_two = open_chart(
        session, actor=ward.nurse, patient_id=ward.patient_id, page_size=2, page=2, refresh=True
    )
    assert [e.reason for e in page_two.timeline] == ["oldest"]
    assert _audit_rows(session, seq)[-1].detail == "chart refreshed"


def test_every_write_is_audited_with_the_patient_and_the_writer(session, ward):
    seq = _last_seq(session)
    p = ward.patient_id
    encounter = _encounter(session, ward)
    note = save_note(session, actor=ward.doctor, encounter_id=encounter.id, subjective="Fine")
    sign_note(session, actor=ward.doctor, note_id=note.id)
    amend_note(session, actor=ward.doctor, note_id=note.id)
    finish_encounter(session, actor=ward.doctor, encounter_id=encounter.id)
    record_vitals(session, actor=ward.doctor, patient_id=p, values={"heart_rate": "72"})
    condition = add_condition(session, actor=ward.doctor, patient_id=p, code="I10")
    set_condition_status(session, actor=ward.doctor, condition_id=condition.id, clinical_status="inactive")
    allergy = add_allergy(session, actor=ward.doctor, patient_id=p, substance="Latex")
    set_allergy_status(session, actor=ward.doctor, allergy_id=allergy.id, status="resolved")
    medication = add_medication(session, actor=ward.doctor, patient_id=p, medication="Lisinopril")
    stop_medication(session, actor=ward.doctor, medication_id=medication.id, reason="Cough")
    add_immunization(
        session, actor=ward.doctor, patient_id=p, vaccine="Influenza", occurrence_date="2024-10-01"
    )
    store_document(
        session, actor=ward.doctor, patient_id=p, title="ECG", content=PNG, content_type="image/png"
    )
    rows = _audit_rows(session, seq)
    assert [r.action for r in rows] == [
        "encounter.start",
        "note.save",
        "note.sign",
        "note.amend",
        "encounter.finish",
        "vitals.record",
        "condition.add",
        "condition.status",
        "allergy.add",
        "allergy.status",
        "medication.add",
        "medication.stop",
        "immunization.add",
        "document.store",
    ]
    assert {(r.username, r.patient_id, r.outcome) for r in rows} == {("dr.house", p, "success")}


def test_a_nurse_writes_the_record_and_a_billing_clerk_cannot(session, ward):
    p = ward.patient_id
    record_vitals(session, actor=ward.nurse, patient_id=p, values={"spo2": "97"})
    add_allergy(session, actor=ward.nurse, patient_id=p, substance="Iodine")
    encounter = start_encounter(session, actor=ward.nurse, patient_id=p, encounter_class="inpatient")
    seq = _last_seq(session)
    writes = [
        lambda: record_vitals(session, actor=ward.clerk, patient_id=p, values={"spo2": "97"}),
        lambda: add_allergy(session, actor=ward.clerk, patient_id=p, substance="Aspirin"),
        lambda: start_encounter(session, actor=ward.clerk, patient_id=p, encounter_class="outpatient"),
        lambda: save_note(session, actor=ward.clerk, encounter_id=encounter.id, plan="Discharge"),
        lambda: add_condition(session, actor=ward.clerk, patient_id=p, code="I10"),
        lambda: store_document(
            session, actor=ward.clerk, patient_id=p, title="Bill", content=PDF, content_type="application/pdf"
        ),
    ]
    for write in writes:
        with pytest.raises(Forbidden):
            write()
    assert _audit_rows(session, seq) == []  # nothing was written, not even half
    chart = open_chart(session, actor=ward.clerk, patient_id=p)  # reading is their right
    assert chart.banner.allergies == ("Iodine (moderate)",) and chart.latest_vitals["spo2"][0] == 97.0
    with pytest.raises(Forbidden):
        open_chart(session, actor=ward.portal, patient_id=p)  # the portal has its own read-only view


def test_a_vital_is_kept_to_its_precision_with_an_aware_time(session, ward):
    record_vitals(
        session,
        actor=ward.nurse,
        patient_id=ward.patient_id,
        values={"temperature": "36,66", "heart_rate": "71.6"},
    )
    latest = latest_vitals(session, ward.patient_id)
    assert latest["temperature"][:2] == (36.7, "Cel") and latest["heart_rate"][:2] == (72.0, "/min")
    taken = latest["temperature"][2]
    assert isinstance(taken, datetime) and taken.tzinfo is not None
