"""A Synthea-like generator: a CSV folder in Synthea 3.x's export format, seeded and repeatable.

For tests and the import benchmark, where running Synthea itself (a Java program) is not an
option. Each patient gets yearly wellness visits with a vital-signs series (height, weight, BMI,
blood pressure, heart and respiratory rate, SpO2 as Synthea codes it, 2708-6), a smoking status
(a text observation, which the import leaves out), chronic conditions by age with their
medications and HbA1c or creatinine results, acute visits (sinusitis, bronchitis, sprains ...)
with a temperature, immunizations, some allergies, procedures, payer transitions and one claim
per encounter. Names carry Synthea's digits (``Jose871``); columns and codes are Synthea's.
"""

from __future__ import annotations

import csv
import random
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from faker import Faker

HEADERS = {
    "patients.csv": "Id,BIRTHDATE,DEATHDATE,SSN,DRIVERS,PASSPORT,PREFIX,FIRST,MIDDLE,LAST,SUFFIX,MAIDEN,MARITAL,RACE,ETHNICITY,GENDER,BIRTHPLACE,ADDRESS,CITY,STATE,COUNTY,FIPS,ZIP,LAT,LON,HEALTHCARE_EXPENSES,HEALTHCARE_COVERAGE,INCOME",
    "organizations.csv": "Id,NAME,ADDRESS,CITY,STATE,ZIP,LAT,LON,PHONE,REVENUE,UTILIZATION",
    "providers.csv": "Id,ORGANIZATION,NAME,GENDER,SPECIALITY,ADDRESS,CITY,STATE,ZIP,LAT,LON,ENCOUNTERS,PROCEDURES",
    "payers.csv": "Id,NAME,OWNERSHIP,ADDRESS,CITY,STATE_HEADQUARTERED,ZIP,PHONE,AMOUNT_COVERED,AMOUNT_UNCOVERED,REVENUE,COVERED_ENCOUNTERS,UNCOVERED_ENCOUNTERS,COVERED_MEDICATIONS,UNCOVERED_MEDICATIONS,COVERED_PROCEDURES,UNCOVERED_PROCEDURES,COVERED_IMMUNIZATIONS,UNCOVERED_IMMUNIZATIONS,UNIQUE_CUSTOMERS,QOLS_AVG,MEMBER_MONTHS",
    "payer_transitions.csv": "PATIENT,MEMBERID,START_DATE,END_DATE,PAYER,SECONDARY_PAYER,PLAN_OWNERSHIP,OWNER_NAME",
    "encounters.csv": "Id,START,STOP,PATIENT,ORGANIZATION,PROVIDER,PAYER,ENCOUNTERCLASS,CODE,DESCRIPTION,BASE_ENCOUNTER_COST,TOTAL_CLAIM_COST,PAYER_COVERAGE,REASONCODE,REASONDESCRIPTION",
    "conditions.csv": "START,STOP,PATIENT,ENCOUNTER,SYSTEM,CODE,DESCRIPTION",
    "observations.csv": "DATE,PATIENT,ENCOUNTER,CATEGORY,CODE,DESCRIPTION,VALUE,UNITS,TYPE",
    "medications.csv": "START,STOP,PATIENT,PAYER,ENCOUNTER,CODE,DESCRIPTION,BASE_COST,PAYER_COVERAGE,DISPENSES,TOTALCOST,REASONCODE,REASONDESCRIPTION",
    "immunizations.csv": "DATE,PATIENT,ENCOUNTER,CODE,DESCRIPTION,BASE_COST",
    "allergies.csv": "START,STOP,PATIENT,ENCOUNTER,CODE,SYSTEM,DESCRIPTION,TYPE,CATEGORY,REACTION1,DESCRIPTION1,SEVERITY1,REACTION2,DESCRIPTION2,SEVERITY2",
    "procedures.csv": "START,STOP,PATIENT,ENCOUNTER,SYSTEM,CODE,DESCRIPTION,BASE_COST,REASONCODE,REASONDESCRIPTION",
    "claims.csv": "Id,PATIENTID,PROVIDERID,PRIMARYPATIENTINSURANCEID,SECONDARYPATIENTINSURANCEID,DEPARTMENTID,PATIENTDEPARTMENTID,DIAGNOSIS1,DIAGNOSIS2,DIAGNOSIS3,DIAGNOSIS4,DIAGNOSIS5,DIAGNOSIS6,DIAGNOSIS7,DIAGNOSIS8,REFERRINGPROVIDERID,APPOINTMENTID,CURRENTILLNESSDATE,SERVICEDATE,SUPERVISINGPROVIDERID,STATUS1,STATUS2,STATUSP,OUTSTANDING1,OUTSTANDING2,OUTSTANDINGP,LASTBILLEDDATE1,LASTBILLEDDATE2,LASTBILLEDDATEP,HEALTHCARECLAIMTYPEID1,HEALTHCARECLAIMTYPEID2",
}  # fmt: skip
PAYERS = [("Medicare", "GOVERNMENT"), ("Medicaid", "GOVERNMENT"), ("Aetna", "PRIVATE"), ("Cigna Health", "PRIVATE"),
          ("Blue Cross Blue Shield", "PRIVATE"), ("UnitedHealthcare", "PRIVATE"), ("NO_INSURANCE", "NO_INSURANCE")]  # fmt: skip
# (SNOMED, description, chance from 40, medication (RxNorm, name) or None, lab (LOINC, name, unit, low, high) or None)
CHRONIC = [
    ("59621000", "Essential hypertension (disorder)", 0.35, ("314076", "lisinopril 10 MG Oral Tablet"), None),
    ("44054006", "Diabetes mellitus type 2 (disorder)", 0.12, ("860975", "24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet"), ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", 6.2, 10.5)),
    ("15777000", "Prediabetes (finding)", 0.2, None, ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", 5.7, 6.4)),
    ("55822004", "Hyperlipidemia (disorder)", 0.2, ("259255", "atorvastatin 80 MG Oral Tablet"), None),
    ("162864005", "Body mass index 30+ - obesity (finding)", 0.25, None, None),
    ("433144002", "Chronic kidney disease stage 3 (disorder)", 0.05, None, ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", 1.3, 2.4)),
    ("88805009", "Chronic congestive heart failure (disorder)", 0.03, ("310798", "Furosemide 40 MG Oral Tablet"), None),
    ("53741008", "Coronary Heart Disease", 0.05, ("243670", "aspirin 81 MG Oral Tablet"), None),
    ("185086009", "Chronic obstructive bronchitis (disorder)", 0.04, ("896209", "60 ACTUAT Fluticasone propionate 0.25 MG/ACTUAT / salmeterol 0.05 MG/ACTUAT Dry Powder Inhaler"), None),
    ("195967001", "Asthma (disorder)", 0.08, ("895994", "120 ACTUAT Fluticasone propionate 0.044 MG/ACTUAT Metered Dose Inhaler"), None),
    ("239873007", "Osteoarthritis of knee (disorder)", 0.1, ("198405", "Ibuprofen 100 MG Oral Tablet"), None),
    ("370143000", "Major depression disorder (disorder)", 0.06, ("312938", "Sertraline 100 MG Oral Tablet"), None),
    ("160903007", "Full-time employment (finding)", 0.5, None, None),
    ("73595000", "Stress (finding)", 0.3, None, None),
]  # fmt: skip
ACUTE = [
    ("444814009", "Viral sinusitis (disorder)", "ambulatory"), ("10509002", "Acute bronchitis (disorder)", "ambulatory"),
    ("195662009", "Acute viral pharyngitis (disorder)", "ambulatory"), ("65363002", "Otitis media (disorder)", "ambulatory"),
    ("44465007", "Sprain of ankle (disorder)", "urgentcare"), ("65966004", "Fracture of forearm (disorder)", "emergency"),
    ("68235000", "Nasal congestion (finding)", "ambulatory"),
]  # fmt: skip
VACCINES = [("140", "Influenza  seasonal  injectable  preservative free"), ("113", "Td (adult) preservative free"),
            ("133", "Pneumococcal conjugate PCV 13"), ("08", "Hep B  adolescent or pediatric")]  # fmt: skip
ALLERGIES = [("300916003", "Latex (substance)", "environment", "247472004", "Wheal (finding)"),
             ("419474003", "Allergy to mold", "environment", "271807003", "Eruption of skin (disorder)"),
             ("91936005", "Allergy to penicillin", "medication", "39579001", "Anaphylaxis (disorder)"),
             ("714035009", "Allergy to soya", "food", "267036007", "Dyspnea (finding)")]  # fmt: skip
PROCEDURES = [("430193006", "Medication Reconciliation (procedure)"), ("171207006", "Depression screening (procedure)"),
              ("710824005", "Assessment of health and social care needs (procedure)")]  # fmt: skip
YEARS = 6  # of history per patient


class _Writer:
    def __init__(self, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        self.handles = {name: (folder / name).open("w", newline="", encoding="utf-8") for name in HEADERS}
        self.writers = {
            name: csv.writer(handle, lineterminator="\n") for name, handle in self.handles.items()
        }
        for name, header in HEADERS.items():
            self.writers[name].writerow(header.split(","))
        self.width = {name: len(header.split(",")) for name, header in HEADERS.items()}

    def row(self, name: str, **values) -> None:
        columns = HEADERS[name].split(",")
        self.writers[name].writerow([values.get(column, "") for column in columns])

    def close(self) -> None:
        for handle in self.handles.values():
            handle.close()


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def generate(folder: Path, patients: int, *, seed: int = 1, today: date | None = None) -> dict[str, int]:
    """Write ``patients`` patients and their history to ``folder``; returns rows per file."""
    rng, fake = random.Random(seed), Faker("en_US")
    fake.seed_instance(seed)
    today = today or date(2026, 12, 1)
    ids = lambda: str(uuid.UUID(int=rng.getrandbits(128), version=4))  # noqa: E731
    out = _Writer(folder)
    counts: dict[str, int] = dict.fromkeys(HEADERS, 0)

    def put(name: str, **values) -> None:
        out.row(name, **values)
        counts[name] += 1

    orgs = []
    for _ in range(max(3, patients // 100)):
        org = ids()
        put(
            "organizations.csv",
            Id=org,
            NAME=f"{fake.last_name().upper()} MEDICAL CENTER",
            CITY=fake.city(),
            STATE="MA",
            ZIP=fake.zipcode(),
        )
        doctors = [ids() for _ in range(3)]
        for doctor in doctors:
            sex = rng.choice("MF")
            name = fake.first_name_male() if sex == "M" else fake.first_name_female()
            put(
                "providers.csv",
                Id=doctor,
                ORGANIZATION=org,
                NAME=f"{name}{rng.randint(1, 999)} {fake.last_name()}{rng.randint(1, 999)}",
                GENDER=sex,
                SPECIALITY="GENERAL PRACTICE",
            )
        orgs.append((org, doctors))
    payers = {}
    for name, ownership in PAYERS:
        payers[name] = ids()
        put("payers.csv", Id=payers[name], NAME=name, OWNERSHIP=ownership)

    def one_patient() -> None:
        pid, sex = ids(), rng.choice("MF")
        age = rng.randint(1, 90)
        birth = today - timedelta(days=365 * age + rng.randint(0, 364))
        first = fake.first_name_male() if sex == "M" else fake.first_name_female()
        put("patients.csv", Id=pid, BIRTHDATE=birth.isoformat(), SSN=f"999-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}",
            FIRST=f"{first}{rng.randint(1, 999)}", MIDDLE="", LAST=f"{fake.last_name()}{rng.randint(1, 999)}", GENDER=sex,
            RACE="white", ETHNICITY="nonhispanic", ADDRESS=fake.street_address(), CITY=fake.city(), STATE="Massachusetts",
            ZIP=fake.zipcode(), HEALTHCARE_EXPENSES="0", HEALTHCARE_COVERAGE="0", INCOME=str(rng.randint(20_000, 150_000)))  # fmt: skip
        payer_name = "Medicare" if age >= 65 else "Medicaid" if age < 18 else rng.choice(PAYERS[2:])[0]
        payer = payers[payer_name]
        start = max(birth, today - timedelta(days=365 * YEARS))
        put("payer_transitions.csv", PATIENT=pid, MEMBERID=str(rng.randint(10**7, 10**8)), START_DATE=_stamp(datetime.combine(start, datetime.min.time(), UTC)),
            PAYER=payer, PLAN_OWNERSHIP="Self", OWNER_NAME=first)  # fmt: skip
        org, doctors = rng.choice(orgs)
        doctor = rng.choice(doctors)
        chronic = [c for c in CHRONIC if age >= 40 and rng.random() < c[2]] + (
            [CHRONIC[9]] if age < 40 and rng.random() < 0.08 else []
        )
        height = rng.uniform(150, 190) if age >= 18 else 50 + age * 6.5
        weight = height / 100 * height / 100 * rng.uniform(19, 34)

        def encounter(moment: datetime, kind: str, code: str, description: str, reason=("", "")) -> str:
            eid = ids()
            cost = {"wellness": 136.8, "ambulatory": 85.55, "urgentcare": 142.58, "emergency": 210.0}[kind]
            total = round(cost * rng.uniform(1, 4), 2)
            coverage = 0.0 if payer_name == "NO_INSURANCE" else round(total * rng.uniform(0.6, 0.9), 2)
            put("encounters.csv", Id=eid, START=_stamp(moment), STOP=_stamp(moment + timedelta(minutes=30)), PATIENT=pid,
                ORGANIZATION=org, PROVIDER=doctor, PAYER=payer, ENCOUNTERCLASS=kind, CODE=code, DESCRIPTION=description,
                BASE_ENCOUNTER_COST=f"{cost:.2f}", TOTAL_CLAIM_COST=f"{total:.2f}", PAYER_COVERAGE=f"{coverage:.2f}",
                REASONCODE=reason[0], REASONDESCRIPTION=reason[1])  # fmt: skip
            outstanding = 0 if rng.random() < 0.8 else round(total - coverage, 2)
            put("claims.csv", Id=ids(), PATIENTID=pid, PROVIDERID=doctor, PRIMARYPATIENTINSURANCEID=payer, APPOINTMENTID=eid,
                SERVICEDATE=_stamp(moment), STATUS1="CLOSED", STATUSP="CLOSED" if not outstanding else "BILLED",
                OUTSTANDING1="0", OUTSTANDINGP=str(outstanding), HEALTHCARECLAIMTYPEID1="1")  # fmt: skip
            return eid

        def observe(moment, eid, category, code, description, value, unit, kind="numeric"):
            put("observations.csv", DATE=_stamp(moment), PATIENT=pid, ENCOUNTER=eid, CATEGORY=category, CODE=code,
                DESCRIPTION=description, VALUE=value, UNITS=unit, TYPE=kind)  # fmt: skip

        first_visit = None
        for year in range(YEARS):
            day = today - timedelta(days=365 * (YEARS - year) - rng.randint(0, 300))
            if day <= birth:
                continue
            moment = datetime(
                day.year, day.month, day.day, rng.randint(8, 16), rng.randint(0, 59), tzinfo=UTC
            )
            eid = encounter(
                moment,
                "wellness",
                "410620009",
                "Well child visit (procedure)" if age < 18 else "General examination of patient (procedure)",
            )
            first_visit = first_visit or (moment, eid)
            weight *= rng.uniform(0.97, 1.04)
            bmi = weight / (height / 100) ** 2
            systolic = rng.randint(105, 135) + (18 if chronic and chronic[0][0] == "59621000" else 0)
            for code, description, value, unit in (
                ("8302-2", "Body Height", f"{height:.1f}", "cm"), ("29463-7", "Body Weight", f"{weight:.1f}", "kg"),
                ("39156-5", "Body mass index (BMI) [Ratio]", f"{bmi:.1f}", "kg/m2"),
                ("8462-4", "Diastolic Blood Pressure", str(rng.randint(65, 92)), "mm[Hg]"),
                ("8480-6", "Systolic Blood Pressure", str(systolic), "mm[Hg]"),
                ("8867-4", "Heart rate", str(rng.randint(58, 96)), "/min"), ("9279-1", "Respiratory rate", str(rng.randint(12, 18)), "/min"),
                ("2708-6", "Oxygen saturation in Arterial blood", str(rng.randint(94, 99)), "%"),
            ):  # fmt: skip
                observe(moment, eid, "vital-signs", code, description, value, unit)
            observe(
                moment,
                eid,
                "survey",
                "72166-2",
                "Tobacco smoking status",
                "Never smoked tobacco (finding)",
                "{nominal}",
                "text",
            )
            for _code, _name, _chance, _drug, lab in chronic:
                if lab:
                    observe(
                        moment,
                        eid,
                        "laboratory",
                        lab[0],
                        lab[1],
                        f"{rng.uniform(lab[3], lab[4]):.1f}",
                        lab[2],
                    )
            if year % 2 == 0 and age >= 18:
                code, description = rng.choice(PROCEDURES)
                put("procedures.csv", START=_stamp(moment), STOP=_stamp(moment + timedelta(minutes=15)), PATIENT=pid, ENCOUNTER=eid,
                    SYSTEM="http://snomed.info/sct", CODE=code, DESCRIPTION=description, BASE_COST="431.40")  # fmt: skip
            code, vaccine = VACCINES[0] if rng.random() < 0.7 else rng.choice(VACCINES)
            put(
                "immunizations.csv",
                DATE=_stamp(moment),
                PATIENT=pid,
                ENCOUNTER=eid,
                CODE=code,
                DESCRIPTION=vaccine,
                BASE_COST="136.00",
            )
        if first_visit is None:
            return
        onset, onset_eid = first_visit
        for code, description, _chance, drug, _lab in chronic:
            put(
                "conditions.csv",
                START=onset.date().isoformat(),
                PATIENT=pid,
                ENCOUNTER=onset_eid,
                SYSTEM="http://snomed.info/sct",
                CODE=code,
                DESCRIPTION=description,
            )
            if drug:
                put("medications.csv", START=_stamp(onset), PATIENT=pid, PAYER=payer, ENCOUNTER=onset_eid, CODE=drug[0], DESCRIPTION=drug[1],
                    BASE_COST="12.50", PAYER_COVERAGE="10.00", DISPENSES="12", TOTALCOST="150.00", REASONCODE=code, REASONDESCRIPTION=description)  # fmt: skip
        for _ in range(rng.choice((0, 0, 1, 2))):
            day = today - timedelta(days=rng.randint(10, 365 * YEARS))
            if day <= birth:
                continue
            code, description, kind = rng.choice(ACUTE)
            moment = datetime(
                day.year, day.month, day.day, rng.randint(8, 20), rng.randint(0, 59), tzinfo=UTC
            )
            eid = encounter(moment, kind, "185345009", "Encounter for symptom", (code, description))
            ended = day + timedelta(days=rng.randint(7, 40))
            put(
                "conditions.csv",
                START=day.isoformat(),
                STOP=ended.isoformat() if ended < today else "",
                PATIENT=pid,
                ENCOUNTER=eid,
                SYSTEM="http://snomed.info/sct",
                CODE=code,
                DESCRIPTION=description,
            )
            observe(
                moment,
                eid,
                "vital-signs",
                "8310-5",
                "Body temperature",
                f"{rng.uniform(36.6, 39.2):.1f}",
                "Cel",
            )
        if rng.random() < 0.15:
            code, description, category, reaction, manifestation = rng.choice(ALLERGIES)
            put("allergies.csv", START=onset.date().isoformat(), PATIENT=pid, ENCOUNTER=onset_eid, CODE=code, SYSTEM="SNOMED-CT", DESCRIPTION=description,
                TYPE="allergy", CATEGORY=category, REACTION1=reaction, DESCRIPTION1=manifestation, SEVERITY1=rng.choice(["MILD", "MODERATE", "SEVERE"]))  # fmt: skip

    for _ in range(patients):
        one_patient()
    out.close()
    return counts
