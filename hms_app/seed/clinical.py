"""Demo clinical records: encounters with signed notes, vitals over time, coded problems,
allergies, medications, immunizations, and some near-duplicate registrations to merge."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import insert, select, text

from hms_app.cds import vitals as vital_rules
from hms_app.models.emr import (
    AllergyIntolerance,
    ClinicalNote,
    Condition,
    Encounter,
    Immunization,
    MedicationStatement,
    Observation,
)
from hms_app.models.organization import Department
from hms_app.models.patients import Patient
from hms_app.models.security import AppUser
from hms_app.seed.registry import SeedContext, seeder
from hms_app.services.audit import record_audit
from hms_app.services.counters import take_numbers
from hms_app.services.patient_keys import search_keys
from hms_app.services.patients import format_mrn
from hms_app.services.permissions import SYSTEM_ACTOR

# Chronic problems with a rough adult prevalence, and what is usually taken for them.
PROBLEMS = [
    ("I10", 0.30, "Lisinopril", "10 mg once daily"),
    ("E11.9", 0.11, "Metformin", "500 mg twice daily"),
    ("E78.5", 0.20, "Atorvastatin", "20 mg at night"),
    ("J45.909", 0.08, "Salbutamol inhaler", "2 puffs as needed"),
    ("E66.9", 0.15, None, None),
    ("N18.30", 0.05, None, None),
    ("I50.9", 0.03, "Furosemide", "40 mg in the morning"),
    ("J44.9", 0.05, "Tiotropium inhaler", "1 puff daily"),
    ("F32.A", 0.07, "Sertraline", "50 mg daily"),
    ("I48.91", 0.03, "Apixaban", "5 mg twice daily"),
]
DESCRIPTIONS = {
    "I10": "Essential (primary) hypertension",
    "E11.9": "Type 2 diabetes mellitus without complications",
    "E78.5": "Hyperlipidemia, unspecified",
    "J45.909": "Unspecified asthma, uncomplicated",
    "E66.9": "Obesity, unspecified",
    "N18.30": "Chronic kidney disease, stage 3 unspecified",
    "I50.9": "Heart failure, unspecified",
    "J44.9": "Chronic obstructive pulmonary disease, unspecified",
    "F32.A": "Depression, unspecified",
    "I48.91": "Unspecified atrial fibrillation",
}
ALLERGIES = [
    ("Penicillin", "Hives", "moderate"),
    ("Peanuts", "Anaphylaxis", "severe"),
    ("Latex", "Rash", "mild"),
    ("Sulfonamides", "Rash", "moderate"),
    ("Ibuprofen", "Wheezing", "moderate"),
    ("Shellfish", "Swelling", "severe"),
]
VACCINES = [
    ("Influenza, seasonal", "150"),
    ("COVID-19 mRNA", "208"),
    ("Tdap", "115"),
    ("Pneumococcal PCV20", "216"),
    ("Hepatitis B", "08"),
]
REASONS = [
    "Routine check-up",
    "Follow-up of chronic conditions",
    "Cough and fever",
    "Back pain",
    "Chest pain",
    "Medication review",
    "Headache",
    "Abdominal pain",
    "Shortness of breath",
    "Vaccination",
]
CLINICAL_LIMIT = 5000  # patients that get a clinical history; the rest are registrations only
CHUNK = 5000


def _flush(session, table, rows: list[dict]) -> None:
    if rows:
        session.execute(insert(table), rows)
        rows.clear()


@seeder("clinical", order=50)
def seed_clinical(ctx: SeedContext) -> None:
    first = ctx.shared.get("first_mrn_number")
    if first is None:
        return
    rng, session = ctx.rng, ctx.session
    first_id = session.execute(select(Patient.id).where(Patient.mrn == format_mrn(first))).scalar_one()
    patients = session.execute(
        select(Patient.id, Patient.birth_date, Patient.sex, Patient.created_at)
        .where(Patient.id >= first_id)
        .order_by(Patient.id)
        .limit(min(ctx.patients, CLINICAL_LIMIT))
    ).all()
    clinicians = list(
        session.execute(
            select(AppUser.id, AppUser.username).where(AppUser.username.in_(["dr.grey", "nurse.joy"]))
        ).all()
    ) or [(None, "system")]
    departments = list(
        session.execute(select(Department.id).where(Department.kind == "clinical")).scalars()
    ) or [None]
    now = datetime.combine(ctx.as_of, time(12, 0), tzinfo=UTC)
    encounter_rows, vitals, notes, problems, allergies, meds, shots = [], [], [], [], [], [], []
    total = len(patients)
    ctx.progress("clinical records", 0, total)
    encounter_id = session.execute(select(Encounter.id).order_by(Encounter.id.desc()).limit(1)).scalar() or 0
    for index, (patient_id, birth, sex, created) in enumerate(patients, start=1):
        age = (ctx.as_of - birth).days // 365
        adult = age >= 18
        chronic = [p for p in PROBLEMS if adult and rng.random() < p[1] * (1.6 if age > 55 else 0.7)]
        for code, _prev, drug, dose in chronic:
            onset = max(birth + timedelta(days=18 * 365), ctx.as_of - timedelta(days=rng.randint(90, 3650)))
            problems.append(
                {
                    "patient_id": patient_id,
                    "code": code,
                    "display": DESCRIPTIONS[code],
                    "clinical_status": "active",
                    "onset_date": onset,
                    "abatement_date": None,
                    "recorded_at": now - timedelta(days=rng.randint(1, 700)),
                    "recorded_by": "dr.grey",
                }
            )
            if drug:
                meds.append(
                    {
                        "patient_id": patient_id,
                        "medication": drug,
                        "code": None,
                        "dosage": dose,
                        "status": "active",
                        "started_on": onset,
                        "stopped_on": None,
                        "stop_reason": None,
                        "recorded_at": now,
                        "recorded_by": "dr.grey",
                    }
                )
        if rng.random() < 0.18:
            substance, reaction, severity = rng.choice(ALLERGIES)
            allergies.append(
                {
                    "patient_id": patient_id,
                    "substance": substance,
                    "reaction": reaction,
                    "severity": severity,
                    "status": "active",
                    "recorded_at": now,
                    "recorded_by": "nurse.joy",
                }
            )
        for vaccine, cvx in VACCINES:
            if rng.random() < 0.35:
                day = max(birth, ctx.as_of - timedelta(days=rng.randint(10, 1500)))
                shots.append(
                    {
                        "patient_id": patient_id,
                        "vaccine": vaccine,
                        "code": cvx,
                        "occurrence_date": day,
                        "lot_number": f"L{rng.randint(10000, 99999)}",
                        "status": "completed",
                        "recorded_at": now,
                        "recorded_by": "nurse.joy",
                    }
                )
        # Vitals drift around a personal baseline; sicker patients come more often.
        visits = rng.randint(0, 3) + 2 * len(chronic)
        height = (rng.gauss(176, 7) if sex == "male" else rng.gauss(163, 6)) if adult else 60 + age * 6
        weight = max(3.0, (height / 100) ** 2 * rng.gauss(27 if adult else 17, 4))
        systolic = rng.gauss(128 if any(p[0] == "I10" for p in chronic) else 117, 8)
        start_window = max(created, now - timedelta(days=730))
        for visit in range(visits):
            moment = start_window + (now - start_window) * ((visit + rng.random()) / max(visits, 1))
            clinician_id, clinician = rng.choice(clinicians)
            encounter_id += 1
            klass = rng.choices(["outpatient", "emergency", "inpatient", "virtual"], [78, 9, 5, 8])[0]
            encounter_rows.append(
                {
                    "id": encounter_id,
                    "patient_id": patient_id,
                    "encounter_class": klass,
                    "status": "finished",
                    "department_id": rng.choice(departments),
                    "practitioner_id": clinician_id,
                    "reason": rng.choice(REASONS),
                    "start_at": moment,
                    "end_at": moment + timedelta(minutes=rng.randint(10, 60)),
                }
            )
            notes.append(
                {
                    "encounter_id": encounter_id,
                    "patient_id": patient_id,
                    "subjective": "Patient reports feeling generally well.",
                    "objective": "Alert and oriented. See recorded vitals.",
                    "assessment": "; ".join(DESCRIPTIONS[p[0]] for p in chronic) or "No acute problem.",
                    "plan": "Continue current management. Review in 3 months.",
                    "status": "signed",
                    "amends_id": None,
                    "author_id": clinician_id,
                    "created_at": moment,
                    "signed_at": moment + timedelta(minutes=15),
                    "signed_by": clinician,
                }
            )
            weight += rng.gauss(0, 0.8)
            measured = {
                "heart_rate": rng.gauss(76, 9),
                "respiratory_rate": rng.gauss(15, 2),
                "systolic_bp": systolic + rng.gauss(0, 9),
                "temperature": rng.gauss(36.8, 0.35),
                "spo2": min(100, rng.gauss(97, 1.3)),
                "weight": weight,
                "height": height,
            }
            measured["diastolic_bp"] = measured["systolic_bp"] * 0.64 + rng.gauss(0, 4)
            for key, value in measured.items():
                spec = vital_rules.VITALS[key]
                value = round(min(max(value, spec.low), spec.high), spec.decimals)
                vitals.append(
                    {
                        "patient_id": patient_id,
                        "encounter_id": encounter_id,
                        "category": "vital-signs",
                        "code": spec.loinc,
                        "display": spec.display,
                        "value": value,
                        "unit": spec.unit,
                        "effective_at": moment,
                        "recorded_by": clinician,
                        "status": "final",
                    }
                )
            vitals.append(
                {
                    "patient_id": patient_id,
                    "encounter_id": encounter_id,
                    "category": "vital-signs",
                    "code": vital_rules.BMI.loinc,
                    "display": vital_rules.BMI.display,
                    "value": vital_rules.bmi(round(weight, 1), round(height, 1)),
                    "unit": vital_rules.BMI.unit,
                    "effective_at": moment,
                    "recorded_by": clinician,
                    "status": "final",
                }
            )
        if len(vitals) >= CHUNK:
            _flush(session, Encounter.__table__, encounter_rows)
            _flush(session, ClinicalNote.__table__, notes)
            _flush(session, Observation.__table__, vitals)
        ctx.progress("clinical records", index, total)
    _flush(session, Encounter.__table__, encounter_rows)
    _flush(session, ClinicalNote.__table__, notes)
    _flush(session, Observation.__table__, vitals)
    for table, rows in (
        (Condition.__table__, problems),
        (AllergyIntolerance.__table__, allergies),
        (MedicationStatement.__table__, meds),
        (Immunization.__table__, shots),
    ):
        for start in range(0, len(rows), CHUNK):
            session.execute(insert(table), rows[start : start + CHUNK])
    if session.get_bind().dialect.name == "postgresql":
        # Encounter ids were given explicitly (notes and vitals point at them): move the sequence on.
        session.execute(
            text(
                "SELECT setval(pg_get_serial_sequence('encounter', 'id'), "
                "(SELECT COALESCE(MAX(id), 1) FROM encounter))"
            )
        )
    record_audit(session, SYSTEM_ACTOR, "seed.clinical", detail=f"{total} patients with clinical history")
    session.commit()


@seeder("near_duplicates", order=35)
def seed_near_duplicates(ctx: SeedContext) -> None:
    """About 1 in 100 patients registered a second time with a typo, a swapped date or a nickname."""
    first = ctx.shared.get("first_mrn_number")
    if first is None or ctx.patients < 20:
        return
    rng, session = ctx.rng, ctx.session
    count = max(3, ctx.patients // 100)
    first_id = session.execute(select(Patient.id).where(Patient.mrn == format_mrn(first))).scalar_one()
    # This run's patients got consecutive ids: pick positions, then load only those rows,
    # never all of a million-patient seed.
    positions = sorted(rng.sample(range(ctx.patients), min(count, ctx.patients)))
    wanted = [first_id + position for position in positions]
    found = {}
    for start in range(0, len(wanted), 1000):
        batch = wanted[start : start + 1000]
        found.update(
            (p.id, p) for p in session.execute(select(Patient).where(Patient.id.in_(batch))).scalars()
        )
    chosen = [found[i] for i in wanted if i in found]
    numbers = take_numbers(session, "mrn", len(chosen))
    rows = []
    for number, original in zip(numbers, chosen, strict=True):
        given, family, birth, phone = (
            original.given_name,
            original.family_name,
            original.birth_date,
            original.phone,
        )
        kind = rng.choice(["typo", "swap_date", "phone_only", "nickname"])
        if kind == "typo" and len(family) > 3:
            i = rng.randrange(1, len(family) - 1)
            family = family[:i] + family[i + 1] + family[i] + family[i + 2 :]
        elif kind == "swap_date" and birth.day <= 12 and birth.day != birth.month:
            birth = date(birth.year, birth.day, birth.month)
        elif kind == "nickname":
            given = given[:3]
        created = original.created_at + timedelta(days=rng.randint(1, 200))
        created = min(created, datetime.combine(ctx.as_of, time(17, 0), tzinfo=UTC))
        rows.append(
            {
                "mrn": format_mrn(number),
                "given_name": given,
                "middle_name": None,
                "family_name": family,
                "sex": original.sex,
                "birth_date": birth,
                "phone": phone,
                "email": None,
                "address_line": original.address_line,
                "city": original.city,
                "postal_code": original.postal_code,
                "country": original.country,
                "preferred_language": original.preferred_language,
                "active": True,
                "deceased_at": None,
                "consent_data_sharing": False,
                "consent_sms": False,
                "consent_research": False,
                "created_at": created,
                "updated_at": created,
                **search_keys(given_name=given, family_name=family, phone=phone),
            }
        )
    session.execute(insert(Patient.__table__), rows)
    record_audit(
        session, SYSTEM_ACTOR, "seed.near_duplicates", detail=f"{len(rows)} near-duplicate registrations"
    )
    session.commit()
