"""Imaging orders as a physician, a radiographer and an auditor see them: the safety questions each
examination asks of each patient (pregnancy, implants and pacemakers for MR, contrast allergy and
the latest eGFR for contrast) and what they refuse without a safety note; accession numbers are
unique; booking a scanner really takes its time (nobody else can book it, cancelling frees it);
the work list's steps go in order; other roles and ids of other patients are refused."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from hms_app.errors import Conflict, Forbidden, InvalidFields, NotFound, ValidationError
from hms_app.models.emr import AllergyIntolerance, Observation
from hms_app.models.organization import Department
from hms_app.models.radiology import ImagingOrder, ImagingReport
from hms_app.models.scheduling import Appointment, ResourceBlock
from hms_app.models.security import AuditEvent
from hms_app.seed.radiology import add_scanner_types, load_catalogue
from hms_app.seed.scheduling import VALID_FROM
from hms_app.services.radiology.catalogue import search_procedures
from hms_app.services.radiology.orders import cancel_order, patient_orders, place_order, safety_questions
from hms_app.services.radiology.schedule import free_slots, schedule_order
from hms_app.services.radiology.worklist import mark_arrived, start_exam, worklist
from hms_app.services.scheduling.policy import SlotTaken
from hms_app.settings import get_settings
from tests.services.lab_world import _patient, role_actor, years_ago

DAY = datetime.now(UTC).date() + timedelta(days=2)


def at(hh: int, mm: int = 0) -> datetime:
    return datetime.combine(DAY, time(hh, mm), tzinfo=UTC)


NOW = datetime.combine(DAY, time(6), tzinfo=UTC)


@pytest.fixture
def world(session, monkeypatch):
    monkeypatch.setenv("HMS_TIME_ZONE", "UTC")
    get_settings.cache_clear()
    rad = Department(code="RAD", name="Radiology", kind="diagnostic")
    gen = Department(code="GEN", name="General Medicine")
    session.add_all([rad, gen])
    session.flush()
    from hms_app.models.scheduling import AvailabilityRule, HealthcareService, Resource, ResourceService

    for code, name, capability in (
        ("MRI", "MRI scan", "mri"),
        ("CT", "CT scan", "ct"),
        ("US", "Ultrasound", "us"),
    ):
        service = HealthcareService(code=code, name=name, department_id=rad.id)
        scanner = Resource(
            kind="equipment", name=f"{code} scanner", department_id=rad.id, capability=capability
        )
        session.add_all([service, scanner])
        session.flush()
        session.add(ResourceService(resource_id=scanner.id, service_id=service.id))
        session.add_all(
            AvailabilityRule(
                resource_id=scanner.id,
                weekday=d,
                start_time=time(7),
                end_time=time(19),
                valid_from=VALID_FROM,
            )
            for d in range(7)
        )
    session.flush()
    codes = load_catalogue(session)
    add_scanner_types(session, VALID_FROM)
    w = {
        "codes": codes,
        "woman": _patient(session, "Wanda", "Young", "female", years_ago(30)),
        "man": _patient(session, "Max", "Older", "male", years_ago(70)),
        "girl": _patient(session, "Gina", "Small", "female", years_ago(8)),
        "physician": role_actor(session, "dr.order", "physician", gen.id),
        "radiographer": role_actor(session, "rad.tech", "radiographer", rad.id),
        "radiologist": role_actor(session, "dr.read", "radiologist", rad.id),
        "nurse": role_actor(session, "nurse.w", "nurse", gen.id),
        "receptionist": role_actor(session, "desk.r", "receptionist", gen.id),
    }
    session.commit()
    yield w
    get_settings.cache_clear()


def order(session, w, code, patient="man", **answers):
    answers.setdefault("clinical_question", "Pain: cause?")
    return place_order(
        session, actor=w["physician"], patient_id=w[patient], procedure_id=w["codes"][code], **answers
    )


def creatinine(session, patient_id: int, mg_dl: float) -> None:
    session.add(
        Observation(
            patient_id=patient_id, category="laboratory", code="2160-0", display="Creatinine",
            value=mg_dl, unit="mg/dL", effective_at=datetime.now(UTC) - timedelta(days=1),
        )
    )  # fmt: skip
    session.commit()


def field_errors(excinfo) -> dict[str, str]:
    return excinfo.value.errors


# ------------------------------------------------------------------ the catalogue and the questions


def test_the_catalogue_has_twenty_examinations_with_billing_codes_and_is_searched_by_words(session, world):
    assert len(world["codes"]) == 20
    hits = search_procedures(session, actor=world["physician"], query="mri knee")
    assert [h.code for h in hits] == ["IMG-MRI-KNEE"]
    assert {h.modality for h in search_procedures(session, actor=world["physician"], limit=30)} == {
        "CR", "CT", "MR", "US",
    }  # fmt: skip
    with pytest.raises(Forbidden):
        search_procedures(session, actor=world["receptionist"], query="ct")


def test_the_questions_follow_the_examination_and_the_patient(session, world):
    ask = lambda patient, code: safety_questions(  # noqa: E731
        session, actor=world["physician"], patient_id=world[patient], procedure_id=world["codes"][code]
    )
    woman_ct = ask("woman", "IMG-CT-HEAD")
    assert woman_ct.pregnancy and woman_ct.ionising and not woman_ct.implants and not woman_ct.contrast
    assert not ask("man", "IMG-CT-HEAD").pregnancy and not ask("girl", "IMG-CT-HEAD").pregnancy
    mri = ask("man", "IMG-MRI-BRAINC")
    assert mri.implants and mri.contrast and mri.egfr_level == "none"


# ------------------------------------------------------------------ safety rules


def test_pregnancy_is_required_of_a_young_woman_and_pregnant_needs_a_note_for_ionising(session, world):
    with pytest.raises(InvalidFields) as missing:
        order(session, world, "IMG-CT-HEAD", "woman")
    assert "pregnancy" in field_errors(missing)
    for answer in ("pregnant", "unknown"):
        with pytest.raises(InvalidFields) as refused:
            order(session, world, "IMG-CT-HEAD", "woman", pregnancy=answer)
        assert "safety note" in field_errors(refused)["safety_note"]
    placed = order(
        session, world, "IMG-CT-HEAD", "woman", pregnancy="pregnant",
        safety_note="Life-threatening head injury: benefit outweighs the risk, abdomen shielded",
    )  # fmt: skip
    stored = session.get(ImagingOrder, placed.id)
    assert stored.pregnancy == "pregnant" and stored.safety_note.startswith("Life-threatening")
    # Ultrasound is not ionising: "pregnant" needs no note; a man is never asked.
    assert order(session, world, "IMG-US-ABD", "woman", pregnancy="pregnant").accession
    assert session.get(ImagingOrder, order(session, world, "IMG-CT-HEAD", "man").id).pregnancy is None


def test_mr_needs_the_implants_answer_and_a_pacemaker_stops_it_unless_mr_conditional(session, world):
    with pytest.raises(InvalidFields) as missing:
        order(session, world, "IMG-MRI-KNEE")
    assert "implants" in field_errors(missing)
    with pytest.raises(InvalidFields) as pacemaker:
        order(session, world, "IMG-MRI-KNEE", implants="Pacemaker (2019)")
    assert "MR-conditional" in field_errors(pacemaker)["safety_note"]
    with pytest.raises(InvalidFields):
        order(session, world, "IMG-MRI-KNEE", implants="Pacemaker (2019)", safety_note="cardiology aware")
    ok = order(
        session, world, "IMG-MRI-KNEE", implants="Pacemaker (2019)",
        safety_note="Medtronic Azure, MR-conditional, cardiology will reprogram",
    )  # fmt: skip
    assert session.get(ImagingOrder, ok.id).implants == "Pacemaker (2019)"
    assert (
        session.get(ImagingOrder, order(session, world, "IMG-MRI-KNEE", implants="None").id).implants
        == "none"
    )


def test_contrast_needs_the_allergy_answer_and_a_charted_allergy_needs_a_note(session, world):
    with pytest.raises(InvalidFields) as missing:
        order(session, world, "IMG-CT-CHEST")
    assert "contrast_allergy" in field_errors(missing)
    with pytest.raises(InvalidFields) as allergic:
        order(session, world, "IMG-CT-CHEST", contrast_allergy=True)
    assert "allergic to contrast" in field_errors(allergic)["safety_note"]
    session.add(
        AllergyIntolerance(patient_id=world["man"], substance="Iodinated contrast media", severity="severe")
    )
    session.commit()
    with pytest.raises(InvalidFields) as charted:
        order(session, world, "IMG-CT-CHEST", contrast_allergy=False)
    assert "Iodinated contrast media" in field_errors(charted)["safety_note"]
    placed = order(
        session,
        world,
        "IMG-CT-CHEST",
        contrast_allergy=False,
        safety_note="Premedicated with steroids 13/7/1 h",
    )
    assert session.get(ImagingOrder, placed.id).contrast_allergy is True  # the chart wins


def test_an_egfr_below_30_refuses_contrast_without_a_note_and_30_to_45_warns(session, world):
    creatinine(session, world["man"], 3.0)  # a 70-year-old man: eGFR about 21
    with pytest.raises(InvalidFields) as low:
        order(session, world, "IMG-CT-CHEST", contrast_allergy=False)
    assert "eGFR" in field_errors(low)["safety_note"]
    placed = order(
        session,
        world,
        "IMG-CT-CHEST",
        contrast_allergy=False,
        safety_note="Nephrology agreed, post-scan fluids",
    )
    stored = session.get(ImagingOrder, placed.id)
    assert stored.egfr is not None and stored.egfr < 30 and stored.egfr_at is not None
    creatinine(session, world["man"], 1.8)  # later: about 39
    warned = order(session, world, "IMG-CT-CHEST", contrast_allergy=False)
    egfr = session.get(ImagingOrder, warned.id).egfr
    assert 30 <= egfr < 45 and any("eGFR" in w for w in warned.warnings)
    # Without contrast nothing of the kidneys is asked or stored.
    assert session.get(ImagingOrder, order(session, world, "IMG-CT-HEAD").id).egfr is None


def test_the_clinical_question_and_priority_are_checked(session, world):
    with pytest.raises(InvalidFields) as bad:
        order(session, world, "IMG-CT-HEAD", clinical_question="  ", priority="asap")
    assert set(field_errors(bad)) >= {"clinical_question", "priority"}


# ------------------------------------------------------------------ accession numbers


def test_accession_numbers_are_unique_and_dicom_sized(session, world):
    numbers = [order(session, world, "IMG-XR-CHEST").accession for _ in range(5)]
    assert len(set(numbers)) == 5 and all(len(n) <= 16 and n.startswith("ACC") for n in numbers)
    assert numbers == sorted(numbers)


# ------------------------------------------------------------------ scheduling


def test_scheduling_takes_the_scanners_slot_and_cancelling_frees_it(session, world):
    first = order(session, world, "IMG-CT-HEAD")
    second = order(session, world, "IMG-CT-HEAD", "woman", pregnancy="not_pregnant")
    slots = free_slots(session, actor=world["physician"], order_id=first.id, day=DAY, days=1, now=NOW)
    assert at(9) in [s.start_at for s in slots] and {s.scanner for s in slots} == {"CT scanner"}
    booked = schedule_order(session, actor=world["physician"], order_id=first.id, start_at=at(9), now=NOW)
    assert booked.scanner == "CT scanner"
    stored = session.get(ImagingOrder, first.id)
    assert stored.status == "scheduled" and stored.scheduled_at.replace(tzinfo=UTC) == at(9)
    appointment = session.get(Appointment, stored.appointment_id)
    assert appointment.status == "booked" and appointment.patient_id == world["man"]
    assert (
        session.execute(
            select(func.count())
            .select_from(ResourceBlock)
            .where(ResourceBlock.appointment_id == appointment.id)
        ).scalar_one()
        == 3
    )  # 15 minutes of 5-minute blocks
    after = free_slots(session, actor=world["radiographer"], order_id=second.id, day=DAY, days=1, now=NOW)
    assert at(9) not in [s.start_at for s in after]
    with pytest.raises(SlotTaken):
        schedule_order(session, actor=world["radiographer"], order_id=second.id, start_at=at(9), now=NOW)
    cancel_order(session, actor=world["physician"], order_id=first.id, reason="Patient transferred")
    session.expire_all()
    assert session.get(Appointment, stored.appointment_id).status == "cancelled"
    schedule_order(session, actor=world["radiographer"], order_id=second.id, start_at=at(9), now=NOW)
    assert session.get(ImagingOrder, second.id).status == "scheduled"


def test_moving_a_booking_frees_the_old_time(session, world):
    placed = order(session, world, "IMG-US-ABD")
    schedule_order(session, actor=world["radiographer"], order_id=placed.id, start_at=at(10), now=NOW)
    old = session.get(ImagingOrder, placed.id).appointment_id
    schedule_order(session, actor=world["radiographer"], order_id=placed.id, start_at=at(14), now=NOW)
    session.expire_all()
    assert session.get(Appointment, old).status == "cancelled"
    assert session.get(ImagingOrder, placed.id).scheduled_at.replace(tzinfo=UTC) == at(14)
    live = session.execute(
        select(func.count()).select_from(Appointment).where(Appointment.status == "booked")
    ).scalar_one()
    assert live == 1


def test_a_time_in_the_past_or_off_the_grid_is_refused(session, world):
    placed = order(session, world, "IMG-CT-HEAD")
    with pytest.raises(ValidationError, match="passed"):
        schedule_order(session, actor=world["physician"], order_id=placed.id, start_at=at(5), now=NOW)
    with pytest.raises(ValidationError, match="free times"):
        schedule_order(session, actor=world["physician"], order_id=placed.id, start_at=at(9, 7), now=NOW)


# ------------------------------------------------------------------ the work list


def test_the_work_list_steps_go_in_order_and_the_appointment_follows(session, world):
    placed = order(session, world, "IMG-CT-HEAD", priority="stat")
    routine = order(session, world, "IMG-XR-CHEST")
    tech = world["radiographer"]
    with pytest.raises(Conflict, match="requested"):
        mark_arrived(session, actor=tech, order_id=placed.id)
    schedule_order(session, actor=tech, order_id=placed.id, start_at=at(11), now=NOW)
    with pytest.raises(Conflict):
        start_exam(session, actor=tech, order_id=placed.id)
    assert mark_arrived(session, actor=tech, order_id=placed.id) == "arrived"
    assert start_exam(session, actor=tech, order_id=placed.id) == "in_progress"
    session.expire_all()
    stored = session.get(ImagingOrder, placed.id)
    assert session.get(Appointment, stored.appointment_id).status == "in_room"
    with pytest.raises(Conflict, match="cannot be cancelled"):
        cancel_order(session, actor=tech, order_id=placed.id, reason="Changed our minds")
    page = worklist(session, actor=tech)
    assert [r.accession for r in page.rows] == [placed.accession, routine.accession]  # STAT first
    assert page.counts["in_progress"] == 1 and page.counts["requested"] == 1
    assert [r.accession for r in worklist(session, actor=tech, modality="CR").rows] == [routine.accession]
    assert worklist(session, actor=tech, status="in_progress").rows[0].scanner == "CT scanner"
    assert worklist(session, actor=tech, query="xray").total == 0
    assert worklist(session, actor=tech, query=routine.accession.lower()).total == 1
    actions = set(
        session.execute(select(AuditEvent.action).where(AuditEvent.action.like("imaging.%"))).scalars()
    )
    assert {"imaging.order", "imaging.order_scheduled", "imaging.arrived", "imaging.started"} <= actions


def test_the_work_list_shows_safety_flags(session, world):
    order(session, world, "IMG-MRI-KNEE", implants="Pacemaker", safety_note="MR-conditional device, checked")
    row = worklist(session, actor=world["radiographer"]).rows[0]
    assert "Implant: Pacemaker" in row.flags and any(f.startswith("Note:") for f in row.flags)


def test_the_chart_lists_orders_with_the_signed_impression_only(session, world):
    placed = order(session, world, "IMG-CT-HEAD")
    session.add(
        ImagingReport(
            order_id=placed.id,
            patient_id=world["man"],
            status="draft",
            impression="draft words",
            drafted_by="x",
        )
    )
    session.commit()
    rows = patient_orders(session, actor=world["nurse"], patient_id=world["man"])
    assert [(r.accession, r.impression) for r in rows] == [(placed.accession, "")]
    report = session.execute(select(ImagingReport)).scalar_one()
    report.status, report.impression, report.signed_by_id = "final", "No bleed.", world["radiologist"].user_id
    session.commit()
    assert patient_orders(session, actor=world["nurse"], patient_id=world["man"])[0].impression == "No bleed."
    assert patient_orders(session, actor=world["nurse"], patient_id=world["woman"]) == []


# ------------------------------------------------------------------ who may do what


def test_other_roles_are_refused(session, world):
    for who in ("nurse", "receptionist", "radiographer"):
        with pytest.raises(Forbidden):
            place_order(
                session, actor=world[who], patient_id=world["man"], procedure_id=world["codes"]["IMG-CT-HEAD"],
                clinical_question="x?",
            )  # fmt: skip
    placed = order(session, world, "IMG-CT-HEAD")
    for who in ("nurse", "receptionist", "physician"):
        with pytest.raises(Forbidden):
            worklist(session, actor=world[who])
        with pytest.raises(Forbidden):
            mark_arrived(session, actor=world[who], order_id=placed.id)
    for who in ("nurse", "receptionist"):
        with pytest.raises(Forbidden):
            schedule_order(session, actor=world[who], order_id=placed.id, start_at=at(9), now=NOW)
        with pytest.raises(Forbidden):
            cancel_order(session, actor=world[who], order_id=placed.id, reason="Not mine to cancel")
    with pytest.raises(Forbidden):
        patient_orders(session, actor=world["receptionist"], patient_id=world["man"])
    assert session.get(ImagingOrder, placed.id).status == "requested"


def test_unknown_and_foreign_ids_are_refused(session, world):
    with pytest.raises(NotFound):
        place_order(
            session, actor=world["physician"], patient_id=999_999, procedure_id=world["codes"]["IMG-CT-HEAD"],
            clinical_question="x?",
        )  # fmt: skip
    with pytest.raises(NotFound):
        place_order(
            session,
            actor=world["physician"],
            patient_id=world["man"],
            procedure_id=999_999,
            clinical_question="x?",
        )
    for bad in ("1 OR 1=1", -3, True, None):
        with pytest.raises(ValidationError):
            mark_arrived(session, actor=world["radiographer"], order_id=bad)
    with pytest.raises(NotFound):
        cancel_order(session, actor=world["physician"], order_id=999_999, reason="Gone away")
    assert session.execute(select(func.count()).select_from(ImagingOrder)).scalar_one() == 0
