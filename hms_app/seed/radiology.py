"""The radiology seeders: the imaging catalogue (twenty examinations across radiographs, CT, MR and
ultrasound, each with its preparation, report template and billing code; the billing codes the
billing catalogue lacks are added), the scanners' visit types (one per examination, so a booking
holds the scanner for the examination's length; an X-ray room and its service for radiographs),
and the demo's imaging orders: a few patients' orders waiting to be booked, booked for today on
free scanner time, arrived, on the scanner, and one cancelled.

Everything goes through the radiology services as a demo physician and radiographer would, so the
demo's orders pass the same safety checks and book the same slots.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import insert, select

from hms_app.errors import DomainError
from hms_app.models.billing import ChargeItemDefinition
from hms_app.models.organization import Department
from hms_app.models.patients import Patient
from hms_app.models.radiology import ImagingOrder, ImagingProcedure
from hms_app.models.scheduling import (
    AppointmentType,
    AvailabilityRule,
    HealthcareService,
    Resource,
    ResourceService,
)
from hms_app.seed.actors import demo_actors
from hms_app.seed.registry import SeedContext, seeder
from hms_app.services.audit import record_audit
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.services.radiology.catalogue import add_procedure
from hms_app.services.radiology.orders import cancel_order, place_order
from hms_app.services.radiology.schedule import MODALITY_SERVICES, free_slots, schedule_order
from hms_app.services.radiology.worklist import mark_arrived, start_exam
from hms_app.settings import get_settings

# Billing codes the billing catalogue does not have yet: code, name, price in cents.
CHARGES = [
    ("IMG-XR-SPINE", "X-ray of the spine", 11000),
    ("IMG-XR-ABD", "Abdominal X-ray", 10500),
    ("IMG-CT-CHEST", "CT chest with contrast", 72000),
    ("IMG-CT-ABD", "CT abdomen and pelvis with contrast", 78000),
    ("IMG-CT-CTPA", "CT pulmonary angiogram", 80000),
    ("IMG-CT-KUB", "CT kidneys, ureters and bladder", 52000),
    ("IMG-MRI-BRAIN", "MRI brain", 120000),
    ("IMG-MRI-BRAINC", "MRI brain with gadolinium", 135000),
    ("IMG-MRI-SPINE", "MRI of the spine", 118000),
    ("IMG-MRI-SHLDR", "MRI shoulder", 115000),
    ("IMG-US-PELVIS", "Pelvic ultrasound", 24000),
    ("IMG-US-DOPPLER", "Venous Doppler ultrasound", 28000),
    ("IMG-US-NECK", "Neck and thyroid ultrasound", 21000),
]
BONES = "Alignment:\nBones:\nJoint spaces:\nSoft tissues:"
CT_BODY = "Technique:\nLungs and pleura:\nMediastinum:\nUpper abdomen:\nBones:"
ABDOMEN = "Liver:\nGallbladder and bile ducts:\nPancreas:\nSpleen:\nKidneys:\nBowel:\nFree fluid:"
KNEE = "Menisci:\nCruciate ligaments:\nCollateral ligaments:\nCartilage:\nBone marrow:\nEffusion:"
BRAIN = "Brain parenchyma:\nVentricles and sulci:\nPosterior fossa:\nExtra-axial spaces:\nSkull and sinuses:"
SPINE = "Alignment:\nVertebral bodies:\nDiscs:\nSpinal canal:\nExit foramina:\nConus:"
NIL_4H = "Nil by mouth for 4 hours before the scan; drink water freely."
CONTRAST_PREP = "Nil by mouth for 4 hours; recent creatinine needed; IV cannula on arrival."
MR_PREP = "Remove all metal; complete the MR safety questionnaire on arrival."
# code, name, modality, body part, contrast, preparation, charge code, minutes, report template
PROCEDURES = [
    ("IMG-XR-CHEST", "Chest X-ray, 2 views", "CR", "CHEST", False, None, "IMG-XR-CHEST", 10,
     "Lungs:\nPleura:\nHeart and mediastinum:\nBones:"),
    ("IMG-XR-KNEE", "X-ray knee", "CR", "KNEE", False, None, "IMG-XR-LIMB", 10, BONES),
    ("IMG-XR-WRIST", "X-ray wrist", "CR", "HAND", False, None, "IMG-XR-LIMB", 10, BONES),
    ("IMG-XR-ANKLE", "X-ray ankle", "CR", "ANKLE", False, None, "IMG-XR-LIMB", 10, BONES),
    ("IMG-XR-LSPINE", "X-ray lumbar spine", "CR", "LSPINE", False, None, "IMG-XR-SPINE", 15, SPINE),
    ("IMG-XR-ABD", "Abdominal X-ray", "CR", "ABDOMEN", False, None, "IMG-XR-ABD", 10,
     "Bowel gas pattern:\nSoft tissues:\nBones:"),
    ("IMG-CT-HEAD", "CT head without contrast", "CT", "HEAD", False, None, "IMG-CT-HEAD", 15, BRAIN),
    ("IMG-CT-CHEST", "CT chest with contrast", "CT", "CHEST", True, CONTRAST_PREP, "IMG-CT-CHEST", 20,
     CT_BODY),
    ("IMG-CT-ABD", "CT abdomen and pelvis with contrast", "CT", "ABDOMEN", True,
     CONTRAST_PREP + " Oral contrast 1 hour before.", "IMG-CT-ABD", 30, ABDOMEN),
    ("IMG-CT-CTPA", "CT pulmonary angiogram", "CT", "CHEST", True, CONTRAST_PREP, "IMG-CT-CTPA", 20,
     "Pulmonary arteries:\nRight heart:\nLungs:\nPleura:"),
    ("IMG-CT-KUB", "CT kidneys, ureters and bladder (stones)", "CT", "ABDOMEN", False, None, "IMG-CT-KUB",
     15, "Kidneys:\nUreters:\nBladder:\nOther findings:"),
    ("IMG-MRI-KNEE", "MRI knee", "MR", "KNEE", False, MR_PREP, "IMG-MRI-KNEE", 45, KNEE),
    ("IMG-MRI-BRAIN", "MRI brain", "MR", "HEAD", False, MR_PREP, "IMG-MRI-BRAIN", 40, BRAIN),
    ("IMG-MRI-BRAINC", "MRI brain with gadolinium", "MR", "HEAD", True, MR_PREP + " " + CONTRAST_PREP,
     "IMG-MRI-BRAINC", 45, BRAIN + "\nEnhancement:"),
    ("IMG-MRI-LSPINE", "MRI lumbar spine", "MR", "LSPINE", False, MR_PREP, "IMG-MRI-SPINE", 40, SPINE),
    ("IMG-MRI-SHOULDER", "MRI shoulder", "MR", "SHOULDER", False, MR_PREP, "IMG-MRI-SHLDR", 45,
     "Rotator cuff:\nLabrum:\nBiceps tendon:\nAcromioclavicular joint:\nBone marrow:"),
    ("IMG-US-ABD", "Abdominal ultrasound", "US", "ABDOMEN", False, "Nil by mouth for 6 hours.", "IMG-US-ABD",
     30, ABDOMEN),
    ("IMG-US-PELVIS", "Pelvic ultrasound", "US", "PELVIS", False,
     "Full bladder: drink 1 litre of water an hour before.", "IMG-US-PELVIS", 30,
     "Uterus:\nEndometrium:\nOvaries:\nFree fluid:\nBladder:"),
    ("IMG-US-DVT", "Leg veins Doppler (DVT)", "US", "LEG", False, None, "IMG-US-DOPPLER", 30,
     "Common femoral vein:\nFemoral vein:\nPopliteal vein:\nCalf veins:"),
    ("IMG-US-THYROID", "Thyroid ultrasound", "US", "NECK", False, None, "IMG-US-NECK", 20,
     "Right lobe:\nLeft lobe:\nIsthmus:\nNodules:\nLymph nodes:"),
]  # fmt: skip
XRAY_ROOM = ("X-ray room 1", "xray", range(6), (time(8), time(18)))


def load_catalogue(session) -> dict[str, int]:
    """The catalogue's examinations by code (idempotent: only missing codes are added), with the
    billing codes they need."""
    departments = dict(session.execute(select(Department.code, Department.id)).all())
    have_codes = set(session.execute(select(ChargeItemDefinition.code)).scalars())
    missing = [
        {"code": code, "name": name, "category": "imaging", "department_id": departments.get("RAD"),
         "price_cents": price, "tax_rate_bp": 0, "active": True}
        for code, name, price in CHARGES
        if code not in have_codes
    ]  # fmt: skip
    if missing:
        session.execute(insert(ChargeItemDefinition), missing)
        session.flush()
    known = set(session.execute(select(ChargeItemDefinition.code)).scalars())
    existing = set(session.execute(select(ImagingProcedure.code)).scalars())
    for code, name, modality, body_part, contrast, prep, charge, minutes, template in PROCEDURES:
        if code in existing:
            continue
        add_procedure(
            session,
            actor=SYSTEM_ACTOR,
            data={
                "code": code, "name": name, "modality": modality, "body_part": body_part,
                "contrast": contrast, "preparation": prep or "", "duration_minutes": minutes,
                "charge_code": charge if charge in known else "", "report_template": template,
            },
        )  # fmt: skip
    return dict(session.execute(select(ImagingProcedure.code, ImagingProcedure.id)).all())


def add_scanner_types(session, valid_from) -> int:
    """One visit type per examination on its modality's scanner service (no price: the exam is
    charged by its report), and the X-ray room with its service. Returns the types added."""
    departments = dict(session.execute(select(Department.code, Department.id)).all())
    if "RAD" not in departments:
        return 0
    services = {s.code: s for s in session.execute(select(HealthcareService)).scalars()}
    if "XR" not in services and services:
        service = HealthcareService(code="XR", name="X-ray", department_id=departments["RAD"])
        name, capability, days, (start, end) = XRAY_ROOM
        room = Resource(kind="equipment", name=name, department_id=departments["RAD"], capability=capability)
        session.add_all([service, room])
        session.flush()
        session.add(ResourceService(resource_id=room.id, service_id=service.id))
        session.add_all(
            AvailabilityRule(
                resource_id=room.id, weekday=d, start_time=start, end_time=end, valid_from=valid_from
            )
            for d in days
        )
        services["XR"] = service
    have = set(session.execute(select(AppointmentType.service_id, AppointmentType.code)).all())
    added = 0
    for code, name, modality, _part, _contrast, _prep, _charge, minutes, _template in PROCEDURES:
        service = services.get(MODALITY_SERVICES.get(modality, ""))
        if service is None or (service.id, code) in have:
            continue
        session.add(
            AppointmentType(
                service_id=service.id, code=code, name=name, duration_minutes=minutes, price_code=None
            )
        )
        added += 1
    session.flush()
    return added


@seeder("radiology_catalogue", order=48)
def seed_catalogue(ctx: SeedContext) -> None:
    """The imaging catalogue (after billing's, whose codes it charges)."""
    before = len(set(ctx.session.execute(select(ImagingProcedure.code)).scalars()))
    codes = load_catalogue(ctx.session)
    if len(codes) != before:
        record_audit(
            ctx.session,
            SYSTEM_ACTOR,
            "seed.radiology_catalogue",
            detail=f"{len(codes) - before} examinations",
        )
    ctx.session.commit()


# patient index, examination, priority, question, status to reach, safety answers
DEMO = [
    (0, "IMG-CT-HEAD", "stat", "Fall on warfarin, GCS 14: intracranial bleed?", "arrived", {}),
    (1, "IMG-XR-CHEST", "urgent", "Fever and crackles at the right base: pneumonia?", "in_progress", {}),
    (2, "IMG-MRI-KNEE", "routine", "Locking of the left knee after a twisting injury: meniscal tear?",
     "scheduled", {"implants": "none"}),
    (3, "IMG-US-ABD", "routine", "Right upper quadrant pain after meals: gallstones?", "scheduled", {}),
    (4, "IMG-CT-ABD", "urgent", "Left iliac fossa pain and raised CRP: diverticular abscess?", "scheduled",
     {"contrast_allergy": False}),
    (5, "IMG-MRI-BRAIN", "routine", "New daily headaches for six weeks: structural cause?", "requested",
     {"implants": "none"}),
    (6, "IMG-US-DVT", "urgent", "Swollen painful left calf: DVT?", "requested", {}),
    (7, "IMG-XR-WRIST", "routine", "Fall on outstretched hand: scaphoid fracture?", "cancelled", {}),
]  # fmt: skip


def _book_one(session, actor, order_id: int, slots, now) -> bool:
    """Book the first of ``slots`` the patient is free at (the clinics' demo visits may clash)."""
    for slot in slots[:20]:
        try:
            schedule_order(session, actor=actor, order_id=order_id, start_at=slot.start_at, now=now)
        except DomainError:
            session.rollback()
            continue
        return True
    return False


@seeder("radiology_demo", order=76)
def seed_demo(ctx: SeedContext) -> None:
    """The scanners' visit types, and today's imaging orders in several states of the work list."""
    session = ctx.session
    add_scanner_types(session, ctx.as_of - timedelta(days=365))
    session.commit()
    if session.execute(select(ImagingOrder.id).limit(1)).first():
        return
    actors = demo_actors(session)
    physician, radiographer = actors.get("dr.grey"), actors.get("radiographer")
    codes = dict(session.execute(select(ImagingProcedure.code, ImagingProcedure.id)).all())
    if physician is None or radiographer is None or not codes:
        return
    patients = session.execute(
        select(Patient.id, Patient.sex, Patient.birth_date)
        .where(Patient.active.is_(True), Patient.deceased_at.is_(None), Patient.merged_into_id.is_(None))
        .order_by(Patient.id)
        .limit(40)
    ).all()
    # Adults only, and no woman of child-bearing age for the ionising examinations' demo (no note needed).
    adults = [p for p in patients if (ctx.as_of - p.birth_date).days >= 18 * 365]
    tz = get_settings().tz
    today = datetime.now(UTC).astimezone(tz).date()
    now = datetime.now(UTC) if ctx.as_of == today else datetime.combine(ctx.as_of, time(7), tzinfo=tz)
    for n, (index, code, priority, question, status, answers) in enumerate(DEMO):
        if index >= len(adults) or code not in codes:
            continue
        patient = adults[index]
        answers = dict(answers)
        if patient.sex == "female":
            answers.setdefault("pregnancy", "not_pregnant")
        try:
            placed = place_order(
                session,
                actor=physician,
                patient_id=patient.id,
                procedure_id=codes[code],
                priority=priority,
                clinical_question=question,
                **answers,
            )
        except DomainError:  # this patient's chart asks for a safety note (a contrast allergy): skip
            session.rollback()
            continue
        if status == "cancelled":
            cancel_order(
                session, actor=physician, order_id=placed.id, reason="Clinically improved: not needed"
            )
            continue
        if status == "requested":
            continue
        slots = free_slots(
            session, actor=radiographer, order_id=placed.id, day=now.astimezone(tz).date(), days=3, now=now
        )
        if not slots:
            continue
        if not _book_one(session, radiographer, placed.id, slots[n:] + slots[:n], now):
            continue
        if status in ("arrived", "in_progress"):
            mark_arrived(session, actor=radiographer, order_id=placed.id)
        if status == "in_progress":
            start_exam(session, actor=radiographer, order_id=placed.id)
