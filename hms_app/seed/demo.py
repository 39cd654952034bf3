"""The platform's demo hospital: departments, staff in every role, patients, a portal user."""

from __future__ import annotations

import os
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import insert, select

from hms_app.models.organization import Department
from hms_app.models.patients import Patient
from hms_app.models.security import AppUser, Role, UserRole
from hms_app.seed.registry import DEMO_PASSWORD, SeedContext, seeder
from hms_app.services import accounts, security
from hms_app.services.audit import record_audit
from hms_app.services.counters import take_numbers
from hms_app.services.patient_keys import search_keys
from hms_app.services.patients import format_mrn
from hms_app.services.permissions import SYSTEM_ACTOR

DEPARTMENTS = [
    ("GEN", "General Medicine", "clinical"),
    ("CARD", "Cardiology", "clinical"),
    ("PED", "Paediatrics", "clinical"),
    ("OBG", "Obstetrics & Gynaecology", "clinical"),
    ("ORTH", "Orthopaedics", "clinical"),
    ("ED", "Emergency", "clinical"),
    ("LAB", "Laboratory", "diagnostic"),
    ("RAD", "Radiology", "diagnostic"),
    ("PHAR", "Pharmacy", "support"),
    ("FIN", "Finance", "support"),
    ("BME", "Biomedical Engineering", "support"),
]

# username, display name, roles, department code. One account per role, listed in
# data/demo-logins.txt by `hms serve --demo` (never printed: logs are read by more people).
DEMO_STAFF = [
    ("admin", "Ada Admin", ["admin"], None),
    ("dr.grey", "Dr Meredith Grey", ["physician"], "GEN"),
    ("nurse.joy", "Joy Okafor, RN", ["nurse"], "GEN"),
    ("reception", "Rita Reception", ["receptionist"], "GEN"),
    ("lab.tech", "Lars Labtech", ["lab_technician"], "LAB"),
    ("radiology", "Dr Rachel Ray", ["radiologist"], "RAD"),
    ("radiographer", "Rafa Radiographer", ["radiographer"], "RAD"),
    ("pharmacy", "Phil Pharmacist", ["pharmacist"], "PHAR"),
    ("billing", "Bill Clerk", ["billing_clerk"], "FIN"),
    ("manager", "Maya Manager", ["manager"], None),
    # Biomedical Engineering's own department: its engineers issue spare parts from its workshop store.
    ("biomed", "Ben Biomed", ["biomed"], "BME"),
    ("stores", "Sam Storekeeper", ["storekeeper"], None),
    # Who an unacknowledged critical result of dr.grey's patients escalates to (General Medicine).
    ("charge.nurse", "Carla Charge, RN", ["charge_nurse", "nurse"], "GEN"),
    ("dr.lead", "Dr Derek Lead", ["department_lead", "physician"], "GEN"),
]
DEMO_PATIENT_USERNAME = "patient"
# The demo administrator's password is in the source and the logins file: it must be replaced at
# the first sign-in before the account can do anything (security.CHANGE_PASSWORD_HOME).
DEMO_ADMIN_USERNAME = "admin"
DEMO_LOGINS_FILE = "demo-logins.txt"

CHUNK = 5000
POOL = 1500


@seeder("departments", order=10)
def seed_departments(ctx: SeedContext) -> None:
    existing = set(ctx.session.execute(select(Department.code)).scalars())
    for code, name, kind in DEPARTMENTS:
        if code not in existing:
            ctx.session.add(Department(code=code, name=name, kind=kind))
    ctx.session.commit()
    ctx.shared["departments"] = dict(ctx.session.execute(select(Department.code, Department.id)).all())


@seeder("staff", order=20)
def seed_staff(ctx: SeedContext) -> None:
    accounts.ensure_roles(ctx.session)
    roles = dict(ctx.session.execute(select(Role.name, Role.id)).all())
    existing = set(ctx.session.execute(select(AppUser.username)).scalars())
    departments = ctx.shared.get("departments", {})
    password_hash = security.hash_password(DEMO_PASSWORD)  # one hash: the same demo password for all
    created = 0
    for username, name, role_names, department in DEMO_STAFF:
        if username in existing:
            continue
        user = AppUser(
            username=username,
            display_name=name,
            email=f"{username}@hms.example",
            password_hash=password_hash,
            department_id=departments.get(department),
            must_change_password=username == DEMO_ADMIN_USERNAME,
        )
        ctx.session.add(user)
        ctx.session.flush()
        for role in role_names:
            ctx.session.add(UserRole(user_id=user.id, role_id=roles[role]))
        created += 1
    if created:
        record_audit(ctx.session, SYSTEM_ACTOR, "seed.staff", detail=f"{created} demo staff accounts")
    ctx.session.commit()


def _pools(ctx: SeedContext) -> dict[str, list[str]]:
    fake = ctx.faker
    return {
        "female": [fake.first_name_female() for _ in range(POOL)],
        "male": [fake.first_name_male() for _ in range(POOL)],
        "family": [fake.last_name() for _ in range(POOL * 2)],
        "street": [fake.street_address() for _ in range(POOL)],
        "city": [f"{fake.city()}|{fake.postcode()}" for _ in range(300)],
    }


LANGUAGES = ["English"] * 14 + ["Spanish"] * 4 + ["French", "Arabic", "Chinese", "Portuguese"]


@seeder("patients", order=30)
def seed_patients(ctx: SeedContext) -> None:
    """Bulk-insert ``ctx.patients`` patients, registered over the two years before ``as_of``."""
    total = ctx.patients
    if total <= 0:
        return
    rng, pools = ctx.rng, _pools(ctx)
    numbers = take_numbers(ctx.session, "mrn", total)
    as_of_end = datetime.combine(ctx.as_of, time(17, 0), tzinfo=UTC)
    span_seconds = 730 * 86400
    table = Patient.__table__
    done = 0
    ctx.progress("patients", 0, total)
    while done < total:
        rows = []
        for number in numbers[done : done + CHUNK]:
            sex = "female" if rng.random() < 0.51 else "male"
            given = rng.choice(pools[sex])
            middle = rng.choice(pools[sex]) if rng.random() < 0.3 else None
            family = rng.choice(pools["family"])
            age_days = int(rng.triangular(0, 95 * 365, 38 * 365))
            city, postcode = rng.choice(pools["city"]).split("|")
            # Registrations lean towards recent months, as a growing hospital's do.
            created = as_of_end - timedelta(seconds=int(span_seconds * rng.random() ** 1.6))
            phone = f"+1-{rng.randint(201, 989)}-{rng.randint(200, 999)}-{rng.randint(0, 9999):04d}"
            rows.append(
                {
                    "mrn": format_mrn(number),
                    "given_name": given,
                    "middle_name": middle,
                    "family_name": family,
                    "sex": sex,
                    "birth_date": ctx.as_of - timedelta(days=age_days),
                    "phone": phone,
                    "email": f"{given}.{family}{number % 100}@example.org".lower().replace("'", "")
                    if rng.random() < 0.7
                    else None,
                    "address_line": rng.choice(pools["street"]),
                    "city": city,
                    "postal_code": postcode,
                    "country": "US",
                    "preferred_language": rng.choice(LANGUAGES),
                    "active": True,
                    "deceased_at": None,
                    "consent_data_sharing": rng.random() < 0.8,
                    "consent_sms": rng.random() < 0.6,
                    "consent_research": rng.random() < 0.2,
                    "created_at": created,
                    "updated_at": created,
                    **search_keys(given_name=given, family_name=family, phone=phone),
                }
            )
        ctx.session.execute(insert(table), rows)
        done += len(rows)
        ctx.progress("patients", done, total)
    record_audit(ctx.session, SYSTEM_ACTOR, "seed.patients", detail=f"{total} patients (seed {ctx.seed})")
    ctx.session.commit()
    ctx.shared["first_mrn_number"] = numbers[0]


@seeder("portal_user", order=40)
def seed_portal_user(ctx: SeedContext) -> None:
    """A portal login for the first demo patient."""
    if ctx.session.execute(select(AppUser.id).where(AppUser.username == DEMO_PATIENT_USERNAME)).first():
        return
    first = ctx.shared.get("first_mrn_number")
    if first is None:
        return
    patient = ctx.session.execute(select(Patient).where(Patient.mrn == format_mrn(first))).scalar_one()
    role_id = ctx.session.execute(select(Role.id).where(Role.name == "patient")).scalar_one()
    user = AppUser(
        username=DEMO_PATIENT_USERNAME,
        display_name=f"{patient.given_name} {patient.family_name}",
        email=patient.email,
        password_hash=security.hash_password(DEMO_PASSWORD),
        patient_id=patient.id,
    )
    ctx.session.add(user)
    ctx.session.flush()
    ctx.session.add(UserRole(user_id=user.id, role_id=role_id))
    record_audit(
        ctx.session,
        SYSTEM_ACTOR,
        "seed.portal_user",
        patient_id=patient.id,
        target_type="user",
        target_id=user.id,
    )
    ctx.session.commit()


def demo_logins() -> list[tuple[str, str, str]]:
    """(username, password, role) for every demo account, as data/demo-logins.txt lists them."""
    rows = [(u, DEMO_PASSWORD, ", ".join(r)) for u, _n, r, _d in DEMO_STAFF]
    rows.append((DEMO_PATIENT_USERNAME, DEMO_PASSWORD, "patient (portal)"))
    return rows


def write_demo_logins(data_dir: Path) -> Path:
    """Write the demo logins to ``data_dir/demo-logins.txt``, readable by the server's user only."""
    path = data_dir / DEMO_LOGINS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        "HMS demo logins (username / password / role). Keep this file private.",
        f"The {DEMO_ADMIN_USERNAME} account must choose a new password at its first sign-in.",
        "",
        *[f"{username:<12} {password:<14} {role}" for username, password, role in demo_logins()],
    ]
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)  # an older file may have been created looser
        handle.write("\n".join(lines) + "\n")
    return path


def is_seeded(session) -> bool:
    return session.execute(select(AppUser.id).limit(1)).first() is not None


PAYERS = [
    ("MEDICARE", "Medicare", "government"),
    ("MEDICAID", "Medicaid", "government"),
    ("BLUESHIELD", "Blue Shield", "insurer"),
    ("AETNA", "Aetna", "insurer"),
    ("UNITED", "UnitedHealthcare", "insurer"),
    ("SELF", "Self-pay", "self"),
]
PLANS = {
    "government": ["Part B", "Standard"],
    "insurer": ["Silver PPO", "Gold HMO", "Bronze EPO"],
    "self": ["Self-pay"],
}


@seeder("coverage", order=45)
def seed_coverage(ctx: SeedContext) -> None:
    """Payers, and insurance for most demo patients (the rest pay themselves)."""
    from hms_app.models.patients import Coverage, Payer

    existing = set(ctx.session.execute(select(Payer.code)).scalars())
    for code, name, kind in PAYERS:
        if code not in existing:
            ctx.session.add(Payer(code=code, name=name, kind=kind))
    ctx.session.flush()
    payers = ctx.session.execute(select(Payer.id, Payer.kind).where(Payer.kind != "self")).all()
    first = ctx.shared.get("first_mrn_number")
    if first is None or not payers:
        ctx.session.commit()
        return
    rng = ctx.rng
    first_id = ctx.session.execute(select(Patient.id).where(Patient.mrn == format_mrn(first))).scalar_one()
    ids = (
        ctx.session.execute(
            select(Patient.id)
            .where(Patient.id >= first_id)
            .order_by(Patient.id)
            .limit(min(ctx.patients, 20000))
        )
        .scalars()
        .all()
    )
    rows = []
    for patient_id in ids:
        if rng.random() < 0.15:
            continue
        payer_id, kind = rng.choice(payers)
        rows.append(
            {
                "patient_id": patient_id,
                "payer_id": payer_id,
                "plan_name": rng.choice(PLANS[kind]),
                "member_id": f"M{rng.randint(10**8, 10**9 - 1)}",
                "valid_from": ctx.as_of - timedelta(days=rng.randint(30, 1500)),
                "valid_to": None,
                "priority": 1,
                "copay_cents": rng.choice([0, 1000, 2000, 2500, 3000]),
                "coinsurance_percent": rng.choice([0, 10, 20]),
                "active": True,
                "created_at": datetime.combine(ctx.as_of, time(8, 0), tzinfo=UTC),
            }
        )
    for start in range(0, len(rows), CHUNK):
        ctx.session.execute(insert(Coverage.__table__), rows[start : start + CHUNK])
    ctx.session.commit()
