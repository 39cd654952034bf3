"""Demo clinical records: encounters with signed notes, vitals over time, coded problems,
allergies, medications, immunizations, and some near-duplicate registrations to merge."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import insert, select, text

from hms_app.cds import vitals as vital_rules
from hms_app.models.emr import (
    AllergyAssessment,
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
    ("I25.10", 0.05, "Aspirin", "75 mg once daily"),
    ("Z86.73", 0.02, None, None),
]
# Atrial fibrillation is a disease of age: the share of people with it by age band (the base rate
# in PROBLEMS is replaced by these), so the demo's older patients show a CHA2DS2-VASc.
AF_BY_AGE = ((75, 0.13), (65, 0.07), (55, 0.03), (0, 0.005))
HYPERCAPNIC_SHARE = 0.2  # of COPD patients, who also have chronic hypercapnic respiratory failure
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
    "I25.10": "Atherosclerotic heart disease of native coronary artery without angina pectoris",
    "Z86.73": "Personal history of transient ischemic attack (TIA), and cerebral infarction without residual deficits",
    "J96.12": "Chronic respiratory failure with hypercapnia",
}
CREATININE = ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL")
HBA1C = ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%")
# Who has a creatinine on file (diabetes, CKD and hypertension are monitored), and HbA1c for diabetics.
CREATININE_SHARE = {"E11.9": 0.7, "N18.30": 0.9, "I10": 0.6}
# Deteriorating patients (a few per hundred adults): an emergency attendance still in progress
# whose observations reach a NEWS2 trigger, so the chart's alert shows in the demo.
DETERIORATING_SHARE = 0.03
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
CLINICAL_LIMIT = 5000


def _chronic(rng, age: int) -> list[tuple]:
    """The chronic problems of one adult, drawn by prevalence (atrial fibrillation by age)."""
    found = []
    for problem in PROBLEMS:
        code, prevalence = problem[0], problem[1]
        if code == "I48.91":
            chance = next(share for edge, share in AF_BY_AGE if age >= edge)
        else:
            chance = prevalence * (1.6 if age > 55 else 0.7)
        if rng.random() < chance:
            found.append(problem)
    return found


def _creatinine_for(egfr: float, age: int, female: bool) -> float:
    """The serum creatinine (mg/dL) that gives ``egfr`` by CKD-EPI 2021: the equation solved for Scr."""
    kappa, alpha = (0.7, -0.241) if female else (0.9, -0.302)
    at_kappa = 142 * 0.9938**age * (1.012 if female else 1.0)  # the eGFR when Scr equals kappa
    exponent = -1 / 1.2 if egfr <= at_kappa else 1 / alpha
    return round(kappa * (egfr / at_kappa) ** exponent, 2)


def _lab_rows(rng, patient_id, age, sex, codes, visits, now) -> list[dict]:
    """Creatinine and HbA1c results at some of the patient's visits (or on their own if none)."""
    rows = []
    diabetic = "E11.9" in codes
    wants_creatinine = max([CREATININE_SHARE.get(c, 0.0) for c in codes] + [0.2 if age >= 18 else 0.0])
    moments = visits or [(now - timedelta(days=rng.randint(3, 700), hours=rng.randint(0, 8)), None)]

    def results(spec, values):
        picked = sorted(rng.sample(moments, min(len(moments), len(values))), key=lambda m: m[0])
        code, display, unit = spec
        for (moment, encounter_id), value in zip(picked, values, strict=False):
            rows.append(
                {
                    "patient_id": patient_id,
                    "encounter_id": encounter_id,
                    "category": "laboratory",
                    "code": code,
                    "display": display,
                    "value": value,
                    "unit": unit,
                    "effective_at": moment + timedelta(minutes=20),
                    "recorded_by": "lab.tech",
                    "status": "final",
                }
            )

    if age >= 18 and sex in ("female", "male") and rng.random() < wants_creatinine:
        if "N18.30" in codes:
            egfr = rng.uniform(32, 58)  # stage 3
        else:
            egfr = max(35.0, rng.gauss(108 - 0.8 * max(age - 30, 0) - (6 if diabetic else 0), 12))
        count = rng.randint(1, 4)
        values = [_creatinine_for(egfr * rng.uniform(0.93, 1.07), age, sex == "female") for _ in range(count)]
        results(CREATININE, values)
    if diabetic and rng.random() < 0.85:
        baseline = min(13.5, max(5.6, rng.gauss(8.0, 1.6)))
        values = [
            round(min(14.0, max(5.0, baseline + rng.gauss(0, 0.5))), 1) for _ in range(rng.randint(1, 4))
        ]
        results(HBA1C, values)
    return rows


# Three NEWS2 pictures seen on an acute take; every value is drawn inside the band named.
def _deteriorating_set(rng) -> tuple[str, dict]:
    kind = rng.choice(["single-3", "medium", "high"])
    if kind == "single-3":  # new confusion in an otherwise stable patient: 3 in one parameter
        return "Confusion", {
            "respiratory_rate": rng.randint(14, 19),
            "spo2": rng.randint(96, 99),
            "oxygen_flow": 0,
            "systolic_bp": rng.randint(118, 150),
            "heart_rate": rng.randint(62, 88),
            "temperature": round(rng.uniform(36.4, 37.6), 1),
            "consciousness": 1,
        }
    if kind == "medium":  # RR 2, SpO2 1, SBP 1, pulse 1, temperature 1: NEWS2 6
        return "Fever and cough", {
            "respiratory_rate": rng.randint(21, 24),
            "spo2": rng.randint(94, 95),
            "oxygen_flow": 0,
            "systolic_bp": rng.randint(101, 110),
            "heart_rate": rng.randint(91, 110),
            "temperature": round(rng.uniform(38.1, 39.0), 1),
            "consciousness": 0,
        }
    return "Shortness of breath", {  # RR 3, SpO2 2, oxygen 2, SBP 2, pulse 2: NEWS2 11 or more
        "respiratory_rate": rng.randint(25, 30),
        "spo2": rng.randint(92, 93),
        "oxygen_flow": rng.choice([2, 4, 6]),
        "systolic_bp": rng.randint(91, 100),
        "heart_rate": rng.randint(111, 130),
        "temperature": round(rng.uniform(37.2, 39.4), 1),
        "consciousness": 0,
    }  # patients that get a clinical history; the rest are registrations only


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
    assessments: list[dict] = []  # "no known allergies", recorded
    total = len(patients)
    ctx.progress("clinical records", 0, total)
    encounter_id = session.execute(select(Encounter.id).order_by(Encounter.id.desc()).limit(1)).scalar() or 0
    for index, (patient_id, birth, sex, created) in enumerate(patients, start=1):
        age = (ctx.as_of - birth).days // 365
        adult = age >= 18
        chronic = _chronic(rng, age) if adult else []
        codes = {p[0] for p in chronic}
        if "J44.9" in codes and rng.random() < HYPERCAPNIC_SHARE:
            chronic.append(("J96.12", 0.0, None, None))
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
        elif patient_id % 4:
            # Three in four of the others were asked and have none (decided by id, not by the
            # random stream, so the rest of the demo hospital stays as it was); the fourth shows
            # the chart's "not yet assessed".
            assessments.append({"patient_id": patient_id, "recorded_at": now, "recorded_by": "nurse.joy"})
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
        # Treated hypertension is often not at target: about 4 in 10 end up at 140 mmHg or more.
        systolic = rng.gauss(138, 14) if "I10" in codes else rng.gauss(118, 10)
        start_window = max(created, now - timedelta(days=730))
        visit_moments = []
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
            visit_moments.append((moment, encounter_id))
            weight += rng.gauss(0, 0.8)
            measured = {
                "heart_rate": rng.gauss(76, 9),
                "respiratory_rate": rng.gauss(15, 2),
                "systolic_bp": systolic + rng.gauss(0, 9),
                "temperature": rng.gauss(36.8, 0.35),
                "spo2": min(100, rng.gauss(97, 1.3)),
                "weight": weight,
                "height": height,
                # A full NEWS2 set: on room air and alert, as almost everyone at a visit is.
                "oxygen_flow": 0,
                "consciousness": 0,
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
        if adult and rng.random() < DETERIORATING_SHARE:
            reason, observed = _deteriorating_set(rng)
            # Came in last night and still in the department: before the seed day starts, so never
            # in the future whenever the demo is started, and alerting while the encounter is open.
            moment = datetime.combine(ctx.as_of, time(0, 0), tzinfo=UTC) - timedelta(hours=rng.uniform(1, 5))
            encounter_id += 1
            encounter_rows.append(
                {
                    "id": encounter_id,
                    "patient_id": patient_id,
                    "encounter_class": "emergency",
                    "status": "in-progress",
                    "department_id": rng.choice(departments),
                    "practitioner_id": clinicians[0][0],
                    "reason": reason,
                    "start_at": moment - timedelta(minutes=20),
                    "end_at": None,
                }
            )
            sbp = observed["systolic_bp"]
            observed["diastolic_bp"] = round(sbp * 0.62)
            for key, value in observed.items():
                spec = vital_rules.VITALS[key]
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
                        "recorded_by": "nurse.joy",
                        "status": "final",
                    }
                )
        vitals.extend(_lab_rows(rng, patient_id, age, sex, codes, visit_moments, now))
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
        (AllergyAssessment.__table__, assessments),
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
