"""Patient services as the front desk and an auditor see them, on SQLite and PostgreSQL.

Registration validates every field and numbers records with a check digit; duplicate
detection catches typos, swapped dates, shared phones and names that sound alike; search
ranks the obvious match first and pages in SQL; a merge moves every linked row and an undo
moves every one of them back.
"""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from hms_app.errors import Conflict, Forbidden, InvalidFields, NotFound, ValidationError
from hms_app.models.emr import (
    AllergyAssessment,
    AllergyIntolerance,
    ClinicalNote,
    Condition,
    DocumentReference,
    Encounter,
    Immunization,
    MedicationStatement,
    Observation,
    Procedure,
)
from hms_app.models.fhir_access import FhirAccessToken, FhirClient
from hms_app.models.home_readings import HomeReading, HomeReadingLimit
from hms_app.models.messaging import MessageThread
from hms_app.models.patients import Coverage, Patient, PatientHistory, Payer
from hms_app.models.security import AppUser, AuditEvent
from hms_app.models.video_visits import VideoVisit
from hms_app.services.patient_keys import search_keys
from hms_app.services.patients.demographics import validate_demographics
from hms_app.services.patients.duplicates import DuplicateCandidate, DuplicateSuspected, find_duplicates
from hms_app.services.patients.merge import list_merges, merge_patients, patient_links, undo_merge
from hms_app.services.patients.mrn import format_mrn, is_valid_mrn
from hms_app.services.patients.records import (
    patient_history,
    register_patient,
    set_patient_status,
    update_patient,
)
from hms_app.services.patients.search import COUNT_CAP, search_patients
from hms_app.services.patients.wristband import wristband
from hms_app.services.permissions import DEFAULT_GRANTS, Actor

CLERK = Actor(
    user_id=11,
    username="clerk",
    display_name="Front Desk",
    roles=frozenset({"receptionist"}),
    permissions=DEFAULT_GRANTS["receptionist"],
)
NURSE = Actor(
    user_id=12,
    username="nurse",
    display_name="Ward Nurse",
    roles=frozenset({"nurse"}),
    permissions=DEFAULT_GRANTS["nurse"],
)
PORTAL = Actor(
    user_id=13,
    username="pat",
    roles=frozenset({"patient"}),
    permissions=DEFAULT_GRANTS["patient"],
    patient_id=1,
)
TODAY = date(2026, 6, 15)

CATHERINE = {
    "given_name": "Catherine",
    "family_name": "Johnson",
    "sex": "female",
    "birth_date": "1984-03-07",
    "phone": "+1 555 010 2030",
}


def person(**overrides) -> dict:
    return {**CATHERINE, **overrides}


def register(session, *, reason: str | None = None, **overrides) -> Patient:
    return register_patient(session, actor=CLERK, data=person(**overrides), duplicate_reason=reason)


def audit(session, action: str) -> list[AuditEvent]:
    return list(
        session.execute(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        ).scalars()
    )


# --------------------------------------------------------------------------- validation

VALID = {
    "given_name": "  Anne-Marie ",
    "middle_name": "O'Neil",
    "family_name": "Núñez  de la Cruz",
    "sex": "Female",
    "birth_date": "21/03/1984",
    "phone": "+1 (555) 010-2030",
    "email": "Anne@Example.ORG",
    "address_line": "1 Main Street",
    "city": "Springfield",
    "postal_code": "AB1 2CD",
    "country": "United Kingdom",
    "preferred_language": "Spanish",
    "emergency_contact_name": "Jo Núñez",
    "emergency_contact_phone": "555 123 4567",
    "emergency_contact_relation": "sister",
    "consent_data_sharing": "on",
    "consent_sms": True,
}


def test_a_valid_form_is_cleaned_for_storage():
    clean = validate_demographics(VALID, today=TODAY)
    assert clean["given_name"] == "Anne-Marie" and clean["family_name"] == "Núñez de la Cruz"
    assert clean["sex"] == "female" and clean["birth_date"] == date(1984, 3, 21)
    assert clean["email"] == "anne@example.org"
    assert (clean["consent_data_sharing"], clean["consent_sms"], clean["consent_research"]) == (
        True,
        True,
        False,
    )


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("given_name", ""),
        ("given_name", "R2D2"),
        ("middle_name", "J@y"),
        ("family_name", "   "),
        ("family_name", "x" * 81),
        ("sex", "robot"),
        ("sex", ""),
        ("birth_date", ""),
        ("birth_date", "1984-13-40"),
        ("birth_date", "next tuesday"),
        ("birth_date", (TODAY + timedelta(days=1)).isoformat()),
        ("birth_date", "1880-01-01"),
        ("phone", "call me"),
        ("phone", "12-34"),
        ("email", "anne.example.org"),
        ("email", "anne@example"),
        ("address_line", "x" * 201),
        ("city", "y" * 81),
        ("postal_code", "#1!"),
        ("postal_code", "1234567890ABC"),
        ("country", "z" * 61),
        ("preferred_language", "l" * 41),
        ("emergency_contact_name", "Mum 2"),
        ("emergency_contact_phone", "555"),
        ("emergency_contact_relation", "r" * 41),
    ],
)
def test_one_bad_value_is_refused_and_named(field, bad):
    with pytest.raises(ValidationError) as caught:
        validate_demographics({**VALID, field: bad}, today=TODAY)
    assert caught.value.field == field
    assert str(caught.value)  # a sentence the clerk can act on


def test_an_emergency_phone_needs_the_contacts_name():
    with pytest.raises(ValidationError) as caught:
        validate_demographics({**VALID, "emergency_contact_name": ""}, today=TODAY)
    assert caught.value.field == "emergency_contact_name"


def test_every_bad_value_is_named_at_once():
    bad = {
        **VALID,
        "given_name": "",
        "sex": "robot",
        "birth_date": "31/31/1980",
        "email": "a@",
        "city": "c" * 81,
    }
    with pytest.raises(InvalidFields) as caught:
        validate_demographics(bad, today=TODAY)
    assert list(caught.value.errors) == ["given_name", "sex", "birth_date", "email", "city"]
    assert caught.value.errors["birth_date"] == "Date of birth must be a date like 1984-03-21."
    assert (caught.value.field, str(caught.value)) == ("given_name", "Given name is required.")


# --------------------------------------------------------------------------- registration


def test_registration_numbers_records_with_valid_distinct_mrns_and_is_audited(session):
    people = [
        register(session, given_name=g, family_name=f, birth_date=b, phone=p)
        for g, f, b, p in (
            ("Ada", "Lovelace", "1915-12-10", None),
            ("Alan", "Turing", "1912-06-23", "555 111 2222"),
            ("Grace", "Hopper", "1906-12-09", "555 333 4444"),
        )
    ]
    mrns = [p.mrn for p in people]
    # Exactly the first three numbers, in order, with their check digits: no gaps, no skips.
    assert mrns == ["H0000001-8", "H0000002-6", "H0000003-4"] == [format_mrn(n) for n in (1, 2, 3)]
    assert all(is_valid_mrn(m) for m in mrns)
    stored = session.execute(select(Patient).where(Patient.mrn == mrns[1])).scalar_one()
    assert (stored.family_key, stored.phone_digits, stored.active) == ("turing", "5551112222", True)
    assert [(a.username, a.patient_id) for a in audit(session, "patient.create")] == [
        ("clerk", p.id) for p in people
    ]


def test_a_nurse_cannot_register_or_edit_a_patient(session):
    with pytest.raises(Forbidden):
        register_patient(session, actor=NURSE, data=person())
    catherine = register(session)
    with pytest.raises(Forbidden):
        update_patient(session, actor=NURSE, patient_id=catherine.id, data=person(city="Leeds"))
    with pytest.raises(Forbidden):
        merge_patients(session, actor=NURSE, survivor_id=catherine.id, merged_id=catherine.id, reason="tests")
    assert session.execute(select(Patient.id)).scalars().all() == [catherine.id]


def test_a_portal_patient_cannot_search_the_register(session):
    register(session)
    with pytest.raises(Forbidden):
        search_patients(session, actor=PORTAL, query="johnson")


# --------------------------------------------------------------------------- duplicates


def _matches(session, **typed) -> list[DuplicateCandidate]:
    fields = {"given_name": CATHERINE["given_name"], "family_name": CATHERINE["family_name"], **typed}
    return find_duplicates(session, actor=CLERK, **fields)


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ({"family_name": "Jonhson", "birth_date": "1984-03-07"}, "same date of birth"),  # letters swapped
        ({"birth_date": "1984-07-03"}, "day and month swapped in date of birth"),
        (
            {"family_name": "Miller", "birth_date": "1984-03-07", "phone": "(555) 010-2030"},
            "same phone number",
        ),
        (
            {"given_name": "Kathryn", "family_name": "Jonson", "birth_date": "1984-03-07"},
            "same date of birth",
        ),
        (
            {"given_name": "Johnson", "family_name": "Catherine", "birth_date": "1984-03-07"},
            "given and family names swapped",
        ),
    ],
    ids=["typo", "swapped-date", "married-name-same-phone", "sounds-alike", "names-swapped"],
)
def test_duplicate_detection_finds_the_existing_record(session, typed, reason):
    catherine = register(session)
    register(session, given_name="Robert", family_name="Smith", birth_date="1990-01-01", phone="555 999 8888")
    matches = _matches(session, **typed)
    assert [m.mrn for m in matches] == [catherine.mrn]
    assert reason in matches[0].reasons and 0.6 <= matches[0].score <= 1.0
    assert audit(session, "patient.duplicate_check")[-1].detail == f"candidates shown: {catherine.id}"


def test_the_exact_match_ranks_first(session):
    exact = register(session)
    typo = register(session, family_name="Jonhson", phone=None, reason="a cousin, confirmed by her passport")
    matches = _matches(session, birth_date="1984-03-07", phone="555 010 2030")
    assert [m.mrn for m in matches] == [exact.mrn, typo.mrn]
    assert matches[0].score == 1.0 and matches[0].score > matches[1].score


def test_nothing_is_suggested_for_a_different_person(session):
    register(session)
    assert _matches(session, given_name="Robert", family_name="Smith", birth_date="1990-01-01") == []
    assert audit(session, "patient.duplicate_check") == []  # nothing shown, nothing disclosed


def test_a_likely_duplicate_needs_a_reason_and_the_reason_is_audited(session):
    original = register(session)
    for reason in (None, "", "  ok "):
        with pytest.raises(DuplicateSuspected) as caught:
            register(session, family_name="Jonhson", reason=reason)
        assert [c.mrn for c in caught.value.candidates] == [original.mrn]
        assert original.mrn in str(caught.value)
    assert session.execute(select(Patient.id)).scalars().all() == [original.id]

    twin = register(session, family_name="Jonhson", reason="Twin sister, checked her ID card")
    assert twin.mrn != original.mrn and is_valid_mrn(twin.mrn)
    created = audit(session, "patient.create")[-1]
    assert created.patient_id == twin.id
    assert original.mrn in created.detail and "Twin sister, checked her ID card" in created.detail


# --------------------------------------------------------------------------- search


def _names(rows) -> list[str]:
    return [r.name for r in rows]


@pytest.fixture
def register_of_names(session):
    for given, family, birth, phone in (
        ("Bob", "Smyth", "1970-01-01", None),
        ("Anna", "Smithers", "1980-02-02", None),
        ("John", "Smith", "1975-05-05", "+44 20 7946 0958"),
        ("Smith", "Jones", "1999-09-09", None),
        ("Ana", "Goldsmith", "1960-06-06", None),
        ("José", "Núñez", "1984-03-21", "555 222 3333"),
    ):
        register_patient(
            session,
            actor=CLERK,
            duplicate_reason="different people in the test register",
            data={
                "given_name": given,
                "family_name": family,
                "sex": "unknown",
                "birth_date": birth,
                "phone": phone,
            },
        )


def test_search_ranks_exact_family_name_then_prefix_then_given_name_then_sound(session, register_of_names):
    rows, total = search_patients(session, actor=CLERK, query="smith")
    assert _names(rows) == ["John Smith", "Anna Smithers", "Smith Jones", "Bob Smyth"]
    assert total == 4  # Goldsmith does not start with "smith"
    rows, _ = search_patients(session, actor=CLERK, query="Smith, John")
    assert _names(rows)[0] == "John Smith"
    rows, _ = search_patients(session, actor=CLERK, query="john smith")
    assert _names(rows)[0] == "John Smith"


def test_search_ignores_accents_and_case(session, register_of_names):
    rows, _ = search_patients(session, actor=CLERK, query="NUNEZ")
    assert _names(rows) == ["José Núñez"]


def test_search_by_mrn_phone_and_birth_date(session, register_of_names):
    john = session.execute(select(Patient).where(Patient.family_name == "Smith")).scalar_one()
    for query in (
        john.mrn,
        john.mrn.lower(),
        "020 7946 0958",
        "+44 (20) 7946-0958",
        "1975-05-05",
        "05/05/1975",
    ):
        rows, total = search_patients(session, actor=CLERK, query=query)
        assert (_names(rows), total) == (["John Smith"], 1), query
    rows, total = search_patients(session, actor=CLERK, query=john.mrn[:6])  # an MRN prefix
    assert john.mrn in [r.mrn for r in rows] and total == 6
    assert search_patients(session, actor=CLERK, query="s") == ([], 0)  # too short to search


def test_search_is_audited_with_the_query(session, register_of_names):
    search_patients(session, actor=CLERK, query="smith")
    assert audit(session, "patient.search")[-1].detail == "query='smith' results=4"


def _bulk(session, family: str, count: int) -> None:
    letters = "abcdefghijklmnopqrstuvwxyz"
    rows = []
    for i in range(count):
        given = "B" + letters[i // 676 % 26] + letters[i // 26 % 26] + letters[i % 26]
        rows.append(
            {
                "mrn": format_mrn(500_000 + len(family) * 10_000 + i),
                "given_name": given,
                "family_name": family,
                "sex": "unknown",
                "birth_date": date(1950, 1, 1) + timedelta(days=i),
                "active": True,
                "consent_data_sharing": False,
                "consent_sms": False,
                "consent_research": False,
                "created_at": datetime(2026, 1, 1, tzinfo=UTC),
                "updated_at": datetime(2026, 1, 1, tzinfo=UTC),
                **search_keys(given_name=given, family_name=family, phone=None),
            }
        )
    session.execute(insert(Patient.__table__), rows)
    session.commit()


def test_search_pages_in_a_stable_order_and_caps_the_count_at_1000(session):
    _bulk(session, "Bulk", 1005)
    _bulk(session, "Zed", 25)
    first, total = search_patients(session, actor=CLERK, query="bulk")
    second, _ = search_patients(session, actor=CLERK, query="bulk", page=2)
    assert total == COUNT_CAP == 1000
    assert len(first) == len(second) == 20 and not {r.id for r in first} & {r.id for r in second}
    names = _names(first + second)
    assert names == sorted(names) and names[0] == "Baaa Bulk"
    assert len(search_patients(session, actor=CLERK, query="bulk", page=50)[0]) == 20

    rows, total = search_patients(session, actor=CLERK, query="zed", page=2)
    assert total == 25 and len(rows) == 5
    assert search_patients(session, actor=CLERK, query="zed", page=3) == ([], 25)


def test_search_leaves_out_merged_records_and_optionally_inactive_ones(session, register_of_names):
    smith = session.execute(select(Patient).where(Patient.family_name == "Smith")).scalar_one()
    smyth = session.execute(select(Patient).where(Patient.family_name == "Smyth")).scalar_one()
    set_patient_status(session, actor=CLERK, patient_id=smith.id, status="inactive", reason="moved away")
    merge_patients(session, actor=CLERK, survivor_id=smith.id, merged_id=smyth.id, reason="same man, typo")
    rows, _ = search_patients(session, actor=CLERK, query="smith")
    assert _names(rows) == ["John Smith", "Anna Smithers", "Smith Jones"]
    rows, _ = search_patients(session, actor=CLERK, query="smith", include_inactive=False)
    assert _names(rows) == ["Anna Smithers", "Smith Jones"]
    assert rows[0].active and not rows[0].deceased


# --------------------------------------------------------------------------- edits, history and status


def test_an_edit_keeps_every_changed_field_in_the_history(session):
    catherine = register(session)
    updated = update_patient(
        session,
        actor=CLERK,
        patient_id=catherine.id,
        reason="married last month",
        data=person(family_name="Miller", city="Leeds"),
    )
    assert (updated.family_name, updated.family_key, updated.family_sound) == ("Miller", "miller", "MLR")
    history = patient_history(session, actor=NURSE, patient_id=catherine.id)
    assert sorted((h.field, h.old_value, h.new_value, h.reason, h.changed_by) for h in history) == [
        ("city", "", "Leeds", "married last month", "clerk"),
        ("family_name", "Johnson", "Miller", "married last month", "clerk"),
    ]
    rows, _ = search_patients(session, actor=CLERK, query="miller")
    assert [r.id for r in rows] == [catherine.id]
    assert [a.detail for a in audit(session, "patient.update")] == ["changed: family_name, city"]

    update_patient(
        session, actor=CLERK, patient_id=catherine.id, data=person(family_name="Miller", city="Leeds")
    )
    assert len(patient_history(session, actor=CLERK, patient_id=catherine.id)) == 2  # nothing changed
    with pytest.raises(ValidationError) as caught:
        update_patient(session, actor=CLERK, patient_id=catherine.id, data=person(email="nope"))
    assert caught.value.field == "email"
    with pytest.raises(NotFound):
        update_patient(session, actor=CLERK, patient_id=999_999, data=person())


def test_status_changes_need_a_reason_and_are_kept(session):
    catherine = register(session)
    with pytest.raises(ValidationError) as caught:
        set_patient_status(session, actor=CLERK, patient_id=catherine.id, status="inactive", reason="")
    assert caught.value.field == "reason"
    set_patient_status(
        session, actor=CLERK, patient_id=catherine.id, status="inactive", reason="moved abroad"
    )
    assert session.get(Patient, catherine.id).active is False

    for day, field in ((None, "deceased_on"), ("2999-01-01", "deceased_on"), ("1980-01-01", "deceased_on")):
        with pytest.raises(ValidationError) as caught:
            set_patient_status(
                session,
                actor=CLERK,
                patient_id=catherine.id,
                status="deceased",
                reason="death certificate",
                deceased_on=day,
            )
        assert caught.value.field == field
    set_patient_status(
        session,
        actor=CLERK,
        patient_id=catherine.id,
        status="deceased",
        reason="death certificate",
        deceased_on="2026-01-02",
    )
    stored = session.get(Patient, catherine.id)
    assert stored.deceased_at.date() == date(2026, 1, 2) and not stored.active
    set_patient_status(
        session, actor=CLERK, patient_id=catherine.id, status="active", reason="recorded in error"
    )
    stored = session.get(Patient, catherine.id)
    assert stored.active and stored.deceased_at is None
    history = [
        (h.field, h.old_value, h.new_value, h.reason)
        for h in patient_history(session, actor=CLERK, patient_id=catherine.id)
    ]
    assert history == [
        ("status", "deceased", "active", "recorded in error"),
        ("status", "inactive", "deceased 2026-01-02", "death certificate"),
        ("status", "active", "inactive", "moved abroad"),
    ]
    with pytest.raises(Forbidden):
        set_patient_status(session, actor=NURSE, patient_id=catherine.id, status="inactive", reason="no role")


# --------------------------------------------------------------------------- merge and undo


def _payer(session) -> int:
    payer = Payer(code="ACME", name="Acme Health")
    session.add(payer)
    session.flush()
    return payer.id


def _rows_for(session, patient_id: int, payer_id: int, tag: str) -> None:
    """One or two rows in every table that points at a patient."""
    start = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    visits = [
        Encounter(patient_id=patient_id, encounter_class=kind, start_at=start)
        for kind in ("outpatient", "virtual")
    ]
    session.add_all(visits)
    session.flush()
    session.add_all(
        [
            ClinicalNote(encounter_id=visits[0].id, patient_id=patient_id, subjective=f"{tag} feels fine"),
            Observation(
                patient_id=patient_id,
                encounter_id=visits[0].id,
                code="8867-4",
                display="Heart rate",
                value=72,
                unit="/min",
                effective_at=start,
            ),
            Observation(
                patient_id=patient_id,
                encounter_id=visits[1].id,
                code="8310-5",
                display="Body temperature",
                value=37.1,
                unit="Cel",
                effective_at=start,
            ),
            Condition(patient_id=patient_id, code="I10", display="Essential (primary) hypertension"),
            AllergyIntolerance(patient_id=patient_id, substance=f"Penicillin ({tag})"),
            # A "no known allergies" assessment superseded by that allergy: the history moves too.
            AllergyAssessment(patient_id=patient_id, recorded_by="nurse", superseded_at=start),
            MedicationStatement(patient_id=patient_id, medication="Amlodipine 5 mg"),
            Immunization(patient_id=patient_id, vaccine="Influenza", occurrence_date=date(2025, 10, 1)),
            Procedure(
                patient_id=patient_id,
                encounter_id=visits[1].id,
                code="430193006",
                display="Medication Reconciliation (procedure)",
                performed_at=start,
            ),
            DocumentReference(
                patient_id=patient_id,
                title=f"{tag} referral",
                content_type="application/pdf",
                size_bytes=10,
                sha256="0" * 64,
                storage_key=f"doc-{tag}",
            ),
            Coverage(
                patient_id=patient_id,
                payer_id=payer_id,
                plan_name="Gold",
                member_id=f"M-{tag}",
                valid_from=date(2026, 1, 1),
            ),
            AppUser(username=f"portal.{tag}", display_name=tag, password_hash="x", patient_id=patient_id),
        ]
    )
    _module_rows(session, patient_id, payer_id, tag, start)
    _lab_rows(session, patient_id, tag, start)
    _pharmacy_rows(session, patient_id, tag, start)
    _imaging_rows(session, patient_id, tag)
    session.commit()


def _imaging_rows(session, patient_id: int, tag: str) -> None:
    """An imaging order with its study and report."""
    from hms_app.models.radiology import ImagingOrder, ImagingProcedure, ImagingReport, ImagingStudy

    procedure = session.execute(
        select(ImagingProcedure).where(ImagingProcedure.code == "IMG-MERGE")
    ).scalar_one_or_none()
    if procedure is None:
        procedure = ImagingProcedure(code="IMG-MERGE", name="CT head", modality="CT", body_part="HEAD")
        session.add(procedure)
    orderer = AppUser(username=f"img.doc.{tag}", display_name=tag, password_hash="x")
    session.add(orderer)
    session.flush()
    order = ImagingOrder(
        accession=f"ACC-{tag[:6].upper()}",
        patient_id=patient_id,
        procedure_id=procedure.id,
        clinical_question="Headache",
        status="final",
        ordered_by_id=orderer.id,
        ordered_by="doc",
    )
    session.add(order)
    session.flush()
    session.add_all(
        [
            ImagingStudy(
                study_uid=f"1.2.826.0.1.{len(tag)}.{order.id}", order_id=order.id, patient_id=patient_id
            ),
            ImagingReport(order_id=order.id, patient_id=patient_id, drafted_by="rad", findings="F"),
        ]
    )
    from hms_app.models.fhir import FhirResourceVersion

    # A version a FHIR client wrote of the patient's record: it follows the record like its rows.
    session.add(
        FhirResourceVersion(
            resource_type="Patient",
            resource_id=str(patient_id),
            version_id=1,
            patient_id=patient_id,
            body="{}",
        )
    )


def _pharmacy_rows(session, patient_id: int, tag: str, start: datetime) -> None:
    """A signed medication order on the medication list, with an alert it showed and its override."""
    from hms_app.models.pharmacy import (
        FormularyProduct,
        MedicationOrder,
        MedicationOrderAlert,
        MedicationOverride,
    )

    product = session.execute(
        select(FormularyProduct).where(FormularyProduct.code == "RX-MERGE")
    ).scalar_one_or_none()
    if product is None:
        product = FormularyProduct(
            code="RX-MERGE",
            name="Warfarin 5 mg tablet",
            dose_form="tablet",
            routes="oral",
            dispense_unit="tablet",
        )
        session.add(product)
    prescriber = AppUser(username=f"rx.doc.{tag}", display_name=tag, password_hash="x")
    statement = MedicationStatement(patient_id=patient_id, medication="Warfarin 5 mg tablet")
    session.add_all([prescriber, statement])
    session.flush()
    order = MedicationOrder(
        reference=f"RX-{tag[:6].upper()}",
        patient_id=patient_id,
        product_id=product.id,
        setting="outpatient",
        dose=5,
        dose_unit="mg",
        route="oral",
        frequency="QD",
        start_at=start,
        dispense_unit="tablet",
        quantity_basis="1 tablet x 7 doses = 7 tablets",
        status="active",
        prescriber_id=prescriber.id,
        prescriber="doc",
        statement_id=statement.id,
    )
    session.add(order)
    session.flush()
    alert = dict(
        order_id=order.id, patient_id=patient_id, rule="ddi:test", kind="interaction", severity="major"
    )
    session.add_all(
        [
            MedicationOrderAlert(**alert, interrupt=True, message="Bleeding risk."),
            MedicationOverride(
                **alert, reason="INR monitored", overridden_by_id=prescriber.id, overridden_by="doc"
            ),
        ]
    )
    _dispensing_rows(session, patient_id, tag, order.id, product.id, prescriber.id)


def _dispensing_rows(
    session, patient_id: int, tag: str, order_id: int, product_id: int, user_id: int
) -> None:
    """The pharmacist's verification of the order, a dispense of it and its controlled register line."""
    from hms_app.models.inventory import StockLocation
    from hms_app.models.pharmacy import (
        ControlledDrugRegister,
        MedicationAdministration,
        MedicationDispense,
        MedicationVerification,
    )

    store = session.execute(
        select(StockLocation).where(StockLocation.code == "PH-MERGE")
    ).scalar_one_or_none()
    if store is None:
        store = StockLocation(code="PH-MERGE", name="Pharmacy", kind="pharmacy")
        session.add(store)
    witness = AppUser(username=f"rx.witness.{tag}", display_name=tag, password_hash="x")
    session.add(witness)
    session.flush()
    session.add(
        MedicationVerification(
            order_id=order_id,
            patient_id=patient_id,
            outcome="verified",
            decided_by_id=user_id,
            decided_by="ph",
        )
    )
    dispense = MedicationDispense(
        reference=f"DSP-{tag[:6].upper()}",
        order_id=order_id,
        patient_id=patient_id,
        product_id=product_id,
        location_id=store.id,
        quantity=7,
        dispensed_by_id=user_id,
        dispensed_by="ph",
    )
    session.add(dispense)
    session.flush()
    session.add(
        MedicationAdministration(
            order_id=order_id,
            patient_id=patient_id,
            outcome="held",
            reason="Nil by mouth",
            recorded_by_id=user_id,
            recorded_by="nurse",
        )
    )
    session.add(
        ControlledDrugRegister(
            product_id=product_id,
            location_id=store.id,
            kind="dispense",
            quantity=-7,
            balance=3,
            dispense_id=dispense.id,
            patient_id=patient_id,
            lots="L1 x 7",
            recorded_by_id=user_id,
            recorded_by="ph",
            witness_id=witness.id,
            witness="w",
        )
    )


def _lab_rows(session, patient_id: int, tag: str, start: datetime) -> None:
    """A laboratory request with its specimen, order, result and critical alert."""
    from hms_app.models.laboratory import CriticalAlert, LabOrder, LabRequest, LabResult, LabTest, Specimen

    test = session.execute(select(LabTest).where(LabTest.code == "2823-3")).scalar_one_or_none()
    if test is None:
        test = LabTest(
            code="2823-3", name="Potassium", short_name="K", specimen_type="Blood", container="Green"
        )
        session.add(test)
    clinician = AppUser(username=f"lab.doc.{tag}", display_name=tag, password_hash="x")
    session.add(clinician)
    session.flush()
    request = LabRequest(
        reference=f"LR-{tag[:6].upper()}", patient_id=patient_id, ordered_by_id=clinician.id, ordered_by="doc"
    )
    session.add(request)
    session.flush()
    specimen = Specimen(
        accession=f"S-{tag[:6].upper()}",
        request_id=request.id,
        patient_id=patient_id,
        specimen_type="Blood",
        container="Green",
    )
    session.add(specimen)
    session.flush()
    order = LabOrder(request_id=request.id, patient_id=patient_id, test_id=test.id, specimen_id=specimen.id)
    session.add(order)
    session.flush()
    result = LabResult(
        order_id=order.id, patient_id=patient_id, test_id=test.id, value_text="6.9", entered_by="tech"
    )
    session.add(result)
    session.flush()
    session.add(
        CriticalAlert(
            source_type="lab_result",
            source_id=result.id,
            patient_id=patient_id,
            summary="K 6.9 (HH)",
            escalate_at=start,
        )
    )


def _module_rows(session, patient_id: int, payer_id: int, tag: str, start: datetime) -> None:
    """Rows in the tables that scheduling, wards, billing and population health link to a patient."""
    from hms_app.models.billing import ChargeItem, Claim, CreditEntry, Invoice, Payment
    from hms_app.models.organization import Department
    from hms_app.models.population import OutreachMessage
    from hms_app.models.scheduling import (
        Appointment,
        AppointmentType,
        HealthcareService,
        ReminderMessage,
        WaitlistEntry,
    )
    from hms_app.models.wards import Admission, Ward

    department = session.execute(select(Department).where(Department.code == "MERGE")).scalar_one_or_none()
    if department is None:
        department = Department(code="MERGE", name="Merge test clinic")
        session.add(department)
        session.flush()
        service = HealthcareService(code="MERGE", name="Merge test clinic", department_id=department.id)
        session.add_all([service, Ward(name="Merge test ward", department_id=department.id)])
        session.flush()
        session.add(AppointmentType(service_id=service.id, code="STD", name="Visit", duration_minutes=20))
        session.flush()
    service = session.execute(select(HealthcareService).where(HealthcareService.code == "MERGE")).scalar_one()
    visit_type = session.execute(
        select(AppointmentType).where(AppointmentType.service_id == service.id)
    ).scalar_one()
    ward = session.execute(select(Ward).where(Ward.name == "Merge test ward")).scalar_one()
    appointment = Appointment(
        reference=f"AP-{tag[:6].upper()}",
        patient_id=patient_id,
        service_id=service.id,
        appointment_type_id=visit_type.id,
        department_id=department.id,
        start_at=start,
        end_at=start + timedelta(minutes=20),
    )
    invoice = Invoice(patient_id=patient_id, created_by="clerk")
    session.add_all([appointment, invoice])
    session.flush()
    payment = Payment(
        patient_id=patient_id,
        invoice_id=invoice.id,
        method="cash",
        amount_cents=1000,
        idempotency_key=f"merge-{tag}",
        received_by="clerk",
    )
    session.add(payment)
    session.flush()
    session.add_all(
        [
            # A video visit belongs to its appointment's patient (its signalling rows only to the visit).
            VideoVisit(
                appointment_id=appointment.id,
                patient_id=patient_id,
                department_id=department.id,
                status="ended",
            ),
            ReminderMessage(
                appointment_id=appointment.id,
                patient_id=patient_id,
                channel="email",
                recipient=f"{tag}@example.org",
                subject="Reminder",
                body="See you",
                due_at=start - timedelta(hours=24),
            ),
            WaitlistEntry(
                patient_id=patient_id,
                service_id=service.id,
                appointment_type_id=visit_type.id,
                wanted_date=start.date(),
            ),
            Admission(
                patient_id=patient_id,
                ward_id=ward.id,
                reason="observation",
                admitted_by="nurse",
                status="discharged",
                discharged_at=start + timedelta(days=1),
            ),
            ChargeItem(
                patient_id=patient_id,
                code="VISIT-GP",
                description="GP visit",
                unit_price_cents=5000,
                source_type="appointment",
                source_id=appointment.id,
                entered_by="clerk",
            ),
            Claim(
                invoice_id=invoice.id,
                payer_id=payer_id,
                patient_id=patient_id,
                amount_claimed_cents=4000,
                created_by="clerk",
            ),
            CreditEntry(patient_id=patient_id, amount_cents=500, reason="overpayment", payment_id=payment.id),
            OutreachMessage(
                patient_id=patient_id,
                kind="portal_message",
                measure="diabetes-hba1c",
                body="Please book an HbA1c test",
                created_by="manager",
            ),
            # A home reading with its open alert, and an alert limit set for the patient.
            HomeReading(
                patient_id=patient_id,
                kind="blood_pressure",
                measured_at=start,
                entered_at=start,
                entered_text="172/96 mmHg",
                alert_status="open",
                alert_text="Systolic pressure 172 mmHg is above the alert limit of 160 mmHg",
            ),
            HomeReadingLimit(
                patient_id=patient_id, measure="systolic", low=90, high=160, set_at=start, set_by="dr"
            ),
        ]
    )
    # A secure-messaging thread (its messages and files follow it: only the thread names the patient).
    writer = AppUser(username=f"msg-{tag}", display_name=f"Nurse {tag}", password_hash="!")
    session.add(writer)
    session.flush()
    session.add(
        MessageThread(patient_id=patient_id, subject=f"{tag} asks about tablets", started_by_id=writer.id)
    )
    # A patient-facing FHIR token follows its patient: the survivor is the same person.
    service_user = AppUser(username=f"fhir:merge-{tag}", display_name=f"FHIR client {tag}", password_hash="!")
    session.add(service_user)
    session.flush()
    client = FhirClient(name=f"merge-{tag}", service_user_id=service_user.id, allowed_scopes="patient/*.read")
    session.add(client)
    session.flush()
    session.add(
        FhirAccessToken(
            token_hash=f"{tag:0>64}",
            client_id=client.id,
            scopes="patient/*.read",
            patient_id=patient_id,
            expires_at=start + timedelta(minutes=5),
        )
    )


def _linked_rows(session) -> dict[str, list[tuple]]:
    """Every row of every table that references a patient, in full, in primary-key order."""
    snapshot = {}
    for table, _column in patient_links():
        pk = next(iter(table.primary_key.columns))
        snapshot[table.name] = [tuple(row) for row in session.execute(select(table).order_by(pk))]
    return snapshot


def _moved(snapshot: dict, frm: int, to: int) -> dict:
    """What the snapshot looks like once every patient reference ``frm`` points at ``to``."""
    result = {}
    for table, column in patient_links():
        index = list(table.columns.keys()).index(column)
        result[table.name] = [
            row[:index] + ((to if row[index] == frm else row[index]),) + row[index + 1 :]
            for row in snapshot[table.name]
        ]
    return result


@pytest.fixture
def three_people(session):
    payer = _payer(session)
    survivor = register(session)
    merged = register(session, family_name="Jonhson", reason="registered twice in the emergency room")
    bystander = register(
        session, given_name="Robert", family_name="Smith", birth_date="1990-01-01", phone=None
    )
    for patient, tag in ((survivor, "survivor"), (merged, "merged"), (bystander, "bystander")):
        _rows_for(session, patient.id, payer, tag)
    return survivor, merged, bystander


def test_every_table_that_points_at_a_patient_has_rows_in_the_merge_test(session, three_people):
    """A module that adds a table linked to patients must add rows for it to ``_rows_for``."""
    empty = [name for name, rows in _linked_rows(session).items() if len(rows) < 3]
    assert empty == []
    # The stock ledger is the one module table that stays with the record it was written for.
    assert ("stock_move", "patient_id") not in {(table.name, column) for table, column in patient_links()}


def test_a_merge_moves_every_linked_row_and_undo_moves_every_row_back(session, three_people):
    survivor, merged, _bystander = three_people
    before = _linked_rows(session)

    result = merge_patients(
        session,
        actor=CLERK,
        survivor_id=survivor.id,
        merged_id=merged.id,
        reason="same woman, family name misspelt",
    )
    session.expire_all()
    assert _linked_rows(session) == _moved(before, merged.id, survivor.id)
    assert result.moved == {
        "admission": 1,
        "allergy_assessment": 1,
        "allergy_intolerance": 1,
        "app_user": 1,
        "appointment": 1,
        "charge_item": 1,
        "claim": 1,
        "clinical_note": 1,
        "condition": 1,
        "controlled_drug_register": 1,
        "coverage": 1,
        "credit_entry": 1,
        "critical_alert": 1,
        "document_reference": 1,
        "encounter": 2,
        "fhir_access_token": 1,
        "fhir_resource_version": 1,
        "home_reading": 1,
        "home_reading_limit": 1,
        "imaging_order": 1,
        "imaging_report": 1,
        "imaging_study": 1,
        "immunization": 1,
        "invoice": 1,
        "lab_order": 1,
        "lab_request": 1,
        "lab_result": 1,
        "medication_administration": 1,
        "medication_dispense": 1,
        "medication_order": 1,
        "medication_order_alert": 1,
        "medication_override": 1,
        "medication_statement": 2,
        "medication_verification": 1,
        "message_thread": 1,
        "observation": 2,
        "outreach_message": 1,
        "payment": 1,
        "procedure": 1,
        "reminder_message": 1,
        "specimen": 1,
        "video_visit": 1,
        "waitlist_entry": 1,
    }
    gone = session.get(Patient, merged.id)
    assert (gone.merged_into_id, gone.active) == (survivor.id, False)
    merge_audits = audit(session, "patient.merge")
    assert {a.patient_id for a in merge_audits} == {survivor.id, merged.id}
    assert all("same woman, family name misspelt" in a.detail for a in merge_audits)

    undone = undo_merge(session, actor=CLERK, merge_id=result.merge_id, reason="they are twins after all")
    session.expire_all()
    assert _linked_rows(session) == before
    assert undone.moved == result.moved
    back = session.get(Patient, merged.id)
    assert (back.merged_into_id, back.active) == (None, True)
    assert {a.patient_id for a in audit(session, "patient.merge_undo")} == {survivor.id, merged.id}


def test_two_records_that_both_have_an_active_stay_are_not_merged_and_nothing_moves(session, three_people):
    from hms_app.models.wards import Admission, Ward

    survivor, merged, _bystander = three_people
    ward = session.execute(select(Ward)).scalars().first()
    for patient in (survivor, merged):
        session.add(
            Admission(patient_id=patient.id, ward_id=ward.id, reason="chest pain", admitted_by="nurse")
        )
    session.commit()
    before = _linked_rows(session)
    with pytest.raises(Conflict, match="both have an active admission"):
        merge_patients(session, actor=CLERK, survivor_id=survivor.id, merged_id=merged.id, reason="duplicate")
    session.expire_all()
    assert _linked_rows(session) == before
    assert session.get(Patient, merged.id).merged_into_id is None


def test_a_merged_record_cannot_be_merged_or_edited_again(session, three_people):
    survivor, merged, bystander = three_people
    result = merge_patients(
        session, actor=CLERK, survivor_id=survivor.id, merged_id=merged.id, reason="duplicate registration"
    )
    with pytest.raises(Conflict):
        merge_patients(session, actor=CLERK, survivor_id=bystander.id, merged_id=merged.id, reason="again!")
    with pytest.raises(Conflict):
        merge_patients(session, actor=CLERK, survivor_id=merged.id, merged_id=bystander.id, reason="into it")
    with pytest.raises(Conflict):
        update_patient(session, actor=CLERK, patient_id=merged.id, data=person(city="Leeds"))
    undo_merge(session, actor=CLERK, merge_id=result.merge_id, reason="wrong pair")
    with pytest.raises(Conflict):
        undo_merge(session, actor=CLERK, merge_id=result.merge_id, reason="wrong pair")


def test_a_merge_needs_two_records_and_a_reason(session, three_people):
    survivor, merged, _ = three_people
    with pytest.raises(ValidationError) as caught:
        merge_patients(session, actor=CLERK, survivor_id=survivor.id, merged_id=merged.id, reason="dup")
    assert caught.value.field == "reason"
    with pytest.raises(ValidationError):
        merge_patients(
            session, actor=CLERK, survivor_id=survivor.id, merged_id=survivor.id, reason="the same"
        )
    with pytest.raises(NotFound):
        merge_patients(session, actor=CLERK, survivor_id=survivor.id, merged_id=987_654, reason="not there")
    with pytest.raises(NotFound):
        undo_merge(session, actor=CLERK, merge_id=987_654, reason="not there")
    assert session.get(Patient, merged.id).merged_into_id is None


def test_the_merges_of_a_record_are_listed_for_both_sides(session, three_people):
    survivor, merged, bystander = three_people
    result = merge_patients(
        session, actor=CLERK, survivor_id=survivor.id, merged_id=merged.id, reason="duplicate registration"
    )
    undo_merge(session, actor=CLERK, merge_id=result.merge_id, reason="wrong pair")
    again = merge_patients(
        session,
        actor=CLERK,
        survivor_id=survivor.id,
        merged_id=merged.id,
        reason="checked twice: the same woman",
    )
    for patient in (survivor, merged):
        rows = list_merges(session, actor=NURSE, patient_id=patient.id)
        assert [(r.id, r.survivor_mrn, r.merged_mrn, r.undone_by, r.moved_rows) for r in rows] == [
            (again.merge_id, survivor.mrn, merged.mrn, None, sum(again.moved.values())),
            (result.merge_id, survivor.mrn, merged.mrn, "clerk", sum(result.moved.values())),
        ]
    assert list_merges(session, actor=NURSE, patient_id=bystander.id) == []
    assert [a.detail for a in audit(session, "patient.read")][-1] == "merges"


def test_history_stays_with_the_record_it_describes(session, three_people):
    survivor, merged, _ = three_people
    update_patient(
        session, actor=CLERK, patient_id=merged.id, data=person(family_name="Jonhson", city="York")
    )
    merge_patients(
        session, actor=CLERK, survivor_id=survivor.id, merged_id=merged.id, reason="duplicate record"
    )
    kept = (
        session.execute(select(PatientHistory.field).where(PatientHistory.patient_id == merged.id))
        .scalars()
        .all()
    )
    assert sorted(kept) == ["city", "merged_into"]
    assert (
        session.execute(select(PatientHistory).where(PatientHistory.patient_id == survivor.id)).first()
        is None
    )


# --------------------------------------------------------------------------- wristband


def test_the_wristband_shows_name_mrn_allergies_and_a_barcode(session, three_people):
    survivor, _, _ = three_people
    band = wristband(session, actor=NURSE, patient_id=survivor.id)
    assert (band.mrn, band.name, band.birth_date, band.sex) == (
        survivor.mrn,
        "JOHNSON, Catherine",
        date(1984, 3, 7),
        "female",
    )
    assert band.allergies == ("Penicillin (survivor)",)
    svg = base64.b64decode(band.barcode_svg_data_url.removeprefix("data:image/svg+xml;base64,")).decode()
    assert "<svg" in svg and "<rect" in svg
    assert audit(session, "patient.wristband")[-1].patient_id == survivor.id
