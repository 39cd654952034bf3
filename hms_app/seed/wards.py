"""Demo wards: four wards with 60 beds, about seven in ten occupied by patients whose stays
look real (days on the medical ward, hours to days in paediatrics), a few beds being cleaned,
one out of service, and the stays that ended in the days before (each bed's own timeline)."""

from __future__ import annotations

import math
from datetime import datetime, time, timedelta

from sqlalchemy import select

from hms_app.clock import utcnow
from hms_app.models.emr import Encounter
from hms_app.models.organization import Department
from hms_app.models.patients import Patient
from hms_app.models.wards import Admission, Bed, BedAssignment, Ward
from hms_app.seed.registry import SeedContext, seeder
from hms_app.services.audit import record_audit
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.settings import get_settings

# name, department code, bed prefix, beds, median stay in hours, reasons for admission, children's ward
WARDS = [
    (
        "Medical Ward",
        "GEN",
        "MED",
        20,
        110,
        [
            "Community-acquired pneumonia",
            "Exacerbation of COPD",
            "Heart failure, decompensated",
            "Cellulitis of the leg",
            "Urinary tract infection with delirium",
            "Diabetic ketoacidosis",
            "Acute kidney injury",
            "Fall with syncope, under investigation",
        ],
        False,
    ),
    (
        "Surgical Ward",
        "ORTH",
        "SUR",
        18,
        80,
        [
            "Hip fracture, after fixation",
            "Elective knee replacement",
            "Appendicectomy",
            "Laparoscopic cholecystectomy",
            "Small bowel obstruction",
            "Ankle fracture, after fixation",
        ],
        False,
    ),
    (
        "Paediatrics",
        "PED",
        "PED",
        12,
        40,
        [
            "Bronchiolitis",
            "Asthma attack",
            "Gastroenteritis with dehydration",
            "Febrile seizure",
            "Pneumonia",
        ],
        True,
    ),
    (
        "Intensive Care",
        "CARD",
        "ICU",
        10,
        90,
        [
            "Septic shock",
            "Post-cardiac arrest care",
            "Respiratory failure",
            "Major trauma",
            "After cardiac surgery",
        ],
        False,
    ),
]
OCCUPIED_SHARE = 0.72
CLEANING_SHARE = 0.08
HISTORY_DAYS = 10
DISPOSITIONS = ["home"] * 16 + ["other-hcf", "long", "hosp", "aadvice"]


def _stay_hours(rng, median: float) -> int:
    """Log-normal lengths of stay: most short, a long tail (the patient waiting for a care home)."""
    return max(3, int(rng.lognormvariate(math.log(median), 0.6)))


@seeder("wards", order=60)
def seed_wards(ctx: SeedContext) -> None:
    session, rng = ctx.session, ctx.rng
    if session.execute(select(Ward.id).limit(1)).first():
        return
    departments = dict(session.execute(select(Department.code, Department.id)).all())
    # The morning ward round of the seeded day: every stay is seen from here.
    # (Or now, on a demo started before 8 in the morning: no bed may change status in the future.)
    anchor = min(datetime.combine(ctx.as_of, time(8, 0), tzinfo=get_settings().tz), utcnow())
    children_cutoff = ctx.as_of - timedelta(days=16 * 365)
    adults_cutoff = ctx.as_of - timedelta(days=18 * 365)
    pool_size = 400
    adults = list(
        session.execute(
            select(Patient.id)
            .where(
                Patient.birth_date <= adults_cutoff,
                Patient.merged_into_id.is_(None),
                Patient.deceased_at.is_(None),
            )
            .order_by(Patient.id)
            .limit(pool_size)
        ).scalars()
    )
    children = list(
        session.execute(
            select(Patient.id)
            .where(
                Patient.birth_date > children_cutoff,
                Patient.merged_into_id.is_(None),
                Patient.deceased_at.is_(None),
            )
            .order_by(Patient.id)
            .limit(pool_size)
        ).scalars()
    )
    rng.shuffle(adults)
    rng.shuffle(children)
    in_bed: set[int] = set()
    total_beds = sum(w[3] for w in WARDS)
    ctx.progress("wards and beds", 0, total_beds)
    done = admissions = 0
    out_of_service_done = False
    # First who is in each bed now (every ward gets its inpatients before any history is drawn
    # from the same pool of patients), then each bed's earlier stays, walking back from there.
    timelines = []
    for name, department, prefix, bed_count, median, reasons, for_children in WARDS:
        ward = Ward(name=name, department_id=departments.get(department))
        session.add(ward)
        session.flush()
        pool = children if for_children else adults
        for number in range(1, bed_count + 1):
            bed = Bed(ward_id=ward.id, label=f"{prefix}-{number:02d}", status="free", status_since=anchor)
            session.add(bed)
            session.flush()
            roll = rng.random()
            cursor = anchor
            if roll < OCCUPIED_SHARE and pool:
                patient_id = pool.pop()
                in_bed.add(patient_id)
                admitted = anchor - timedelta(hours=_stay_hours(rng, median), minutes=rng.randint(0, 59))
                _stay(session, ward, bed, patient_id, rng.choice(reasons), admitted, None, rng)
                bed.status, bed.status_since = "occupied", admitted
                cursor = admitted
                admissions += 1
            elif roll < OCCUPIED_SHARE + CLEANING_SHARE:
                bed.status, bed.status_since = "cleaning", anchor - timedelta(minutes=rng.randint(10, 80))
                cursor = bed.status_since
            elif not out_of_service_done and not for_children:
                bed.status, bed.status_note = "out_of_service", "Broken bed motor, engineer booked"
                bed.status_since = anchor - timedelta(days=1, hours=3)
                out_of_service_done = True
            session.add(bed)
            timelines.append((ward, bed, cursor, pool, median, reasons))
            done += 1
            ctx.progress("wards and beds", done, total_beds)
    for ward, bed, cursor, pool, median, reasons in timelines:
        # Earlier stays in the same bed, each ending an hour or more before the next began.
        while pool:
            ended = cursor - timedelta(hours=rng.randint(1, 18))
            admitted = ended - timedelta(hours=_stay_hours(rng, median))
            if admitted < anchor - timedelta(days=HISTORY_DAYS):
                break
            patient_id = pool.pop()
            _stay(session, ward, bed, patient_id, rng.choice(reasons), admitted, ended, rng)
            cursor = admitted
            admissions += 1
    record_audit(
        session,
        SYSTEM_ACTOR,
        "seed.wards",
        detail=f"{len(WARDS)} wards, {total_beds} beds, {len(in_bed)} inpatients, {admissions} stays",
    )
    session.commit()


def _stay(session, ward: Ward, bed: Bed, patient_id: int, reason: str, admitted, discharged, rng) -> None:
    encounter = Encounter(
        patient_id=patient_id,
        encounter_class="inpatient",
        status="finished" if discharged else "in-progress",
        department_id=ward.department_id,
        reason=reason,
        start_at=admitted,
        end_at=discharged,
    )
    session.add(encounter)
    session.flush()
    admission = Admission(
        patient_id=patient_id,
        encounter_id=encounter.id,
        ward_id=ward.id,
        admitted_at=admitted,
        discharged_at=discharged,
        status="discharged" if discharged else "active",
        reason=reason,
        admitted_by="nurse.joy",
        discharged_by="nurse.joy" if discharged else None,
        discharge_disposition=rng.choice(DISPOSITIONS) if discharged else None,
    )
    session.add(admission)
    session.flush()
    session.add(
        BedAssignment(
            admission_id=admission.id, bed_id=bed.id, from_at=admitted, to_at=discharged, moved_by="nurse.joy"
        )
    )
