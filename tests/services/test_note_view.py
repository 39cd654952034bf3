"""Who signed a note is shown by name, while the note keeps the username the audit trail uses."""

from __future__ import annotations

from hms_app.services import accounts, patients
from hms_app.services.emr.encounters import start_encounter
from hms_app.services.emr.notes import encounter_notes, save_note, sign_note
from hms_app.services.permissions import SYSTEM_ACTOR, Actor


def test_a_signed_note_shows_the_signers_full_name(session):
    accounts.ensure_roles(session)
    accounts.create_user(
        session,
        actor=SYSTEM_ACTOR,
        username="dr.who",
        display_name="Dr Wanda Who",
        password="Tardis-travel-42",
        roles=["physician"],
    )
    doctor = Actor(
        user_id=1,
        username="dr.who",
        roles=frozenset({"physician"}),
        permissions=frozenset({"patient.read", "emr.write"}),
    )
    patient = patients.register_patient(
        session,
        actor=SYSTEM_ACTOR,
        data={"given_name": "Nora", "family_name": "Notes", "sex": "female", "birth_date": "1990-01-01"},
    )
    encounter = start_encounter(session, actor=doctor, patient_id=patient.id, encounter_class="outpatient")
    note = save_note(session, actor=doctor, encounter_id=encounter.id, subjective="Well.")
    signed = sign_note(session, actor=doctor, note_id=note.id)
    assert signed.signed_by == "dr.who"
    [view] = encounter_notes(session, actor=doctor, encounter_id=encounter.id)
    assert view.signed_by == "Dr Wanda Who"
