"""Demo data for billing: a service catalogue, two payer price lists, and about twelve months of
money history built from the seeded encounters: charges, invoices (some void and re-billed),
payments (partial, over, refunded), claims in every status with remittances, and expenses.

Amounts follow the same rules as ``services/billing/money.py`` (``compute_lines``), numbers come from the
same gap-free counter in issue order, and every derived amount (paid, credit, shares moved by a
claim) is computed here once, so the tables agree with each other exactly as the services would
leave them. Rows are bulk inserted with explicit ids; the history is capped (``ENCOUNTER_CAP``)
so that a 100,000-patient seed stays fast.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, insert, select, text

from hms_app.models.billing import (
    ChargeItem,
    ChargeItemDefinition,
    Claim,
    CreditEntry,
    Expense,
    Invoice,
    InvoiceLine,
    Payment,
    PriceList,
    PriceListItem,
    Remittance,
)
from hms_app.models.emr import Encounter
from hms_app.models.organization import Department
from hms_app.models.patients import Coverage, Patient, Payer
from hms_app.seed.registry import SeedContext, seeder
from hms_app.services.audit import record_audit
from hms_app.services.billing import LineInput, ShareTerms, compute_lines, format_invoice_number
from hms_app.services.counters import take_numbers
from hms_app.services.patients import format_mrn
from hms_app.services.permissions import SYSTEM_ACTOR

CHUNK = 5000
ENCOUNTER_CAP = 30_000  # encounters of the last year that get billed (the most recent ones)

# code, name, category, department code, price (cents), tax (basis points)
CATALOGUE = [
    ("VISIT-GP", "General practice consultation", "visit", "GEN", 9500, 0),
    ("VISIT-SPEC", "Specialist consultation", "visit", None, 18000, 0),
    ("VISIT-VIRTUAL", "Video consultation", "visit", "GEN", 6500, 0),
    ("VISIT-FOLLOWUP", "Follow-up consultation", "visit", "GEN", 6000, 0),
    ("VISIT-PED", "Paediatric consultation", "visit", "PED", 11000, 0),
    ("VISIT-OBG", "Antenatal visit", "visit", "OBG", 12500, 0),
    ("VISIT-CARD", "Cardiology consultation", "visit", "CARD", 21000, 0),
    ("VISIT-ORTH", "Orthopaedic consultation", "visit", "ORTH", 19500, 0),
    ("ED-VISIT-3", "Emergency visit, level 3", "visit", "ED", 32000, 0),
    ("ED-VISIT-5", "Emergency visit, level 5", "visit", "ED", 78000, 0),
    ("ROOM-WARD", "Ward bed, per day", "room", None, 145000, 0),
    ("ROOM-ICU", "Intensive care bed, per day", "room", None, 420000, 0),
    ("PROC-ECG", "12-lead ECG", "procedure", "CARD", 7500, 0),
    ("PROC-ECHO", "Echocardiogram", "procedure", "CARD", 62000, 0),
    ("PROC-CAST", "Plaster cast application", "procedure", "ORTH", 16500, 0),
    ("PROC-SUTURE", "Wound suturing", "procedure", "ED", 14500, 0),
    ("PROC-US-OB", "Obstetric ultrasound", "procedure", "OBG", 21000, 0),
    ("PROC-VACC", "Vaccine administration", "procedure", "PED", 2500, 0),
    ("LAB-CBC", "Complete blood count", "lab", "LAB", 2800, 0),
    ("LAB-BMP", "Basic metabolic panel", "lab", "LAB", 3600, 0),
    ("LAB-LIPID", "Lipid panel", "lab", "LAB", 4200, 0),
    ("LAB-HBA1C", "Haemoglobin A1c", "lab", "LAB", 3900, 0),
    ("LAB-TSH", "Thyroid stimulating hormone", "lab", "LAB", 4500, 0),
    ("LAB-UA", "Urinalysis", "lab", "LAB", 1800, 0),
    ("LAB-CRP", "C-reactive protein", "lab", "LAB", 2600, 0),
    ("LAB-TROP", "Troponin I", "lab", "LAB", 5200, 0),
    ("IMG-XR-CHEST", "Chest X-ray, 2 views", "imaging", "RAD", 12000, 0),
    ("IMG-XR-LIMB", "X-ray of a limb", "imaging", "RAD", 9500, 0),
    ("IMG-US-ABD", "Abdominal ultrasound", "imaging", "RAD", 26000, 0),
    ("IMG-CT-HEAD", "CT head without contrast", "imaging", "RAD", 68000, 0),
    ("IMG-MRI-KNEE", "MRI knee", "imaging", "RAD", 115000, 0),
    ("IMG-MAMMO", "Screening mammogram", "imaging", "RAD", 22000, 0),
    ("DRUG-AMOX", "Amoxicillin 500 mg, 21 capsules", "drug", "PHAR", 1450, 500),
    ("DRUG-METF", "Metformin 500 mg, 60 tablets", "drug", "PHAR", 1200, 500),
    ("DRUG-ATORVA", "Atorvastatin 20 mg, 30 tablets", "drug", "PHAR", 1850, 500),
    ("DRUG-LISIN", "Lisinopril 10 mg, 30 tablets", "drug", "PHAR", 1100, 500),
    ("DRUG-SALB", "Salbutamol inhaler", "drug", "PHAR", 2900, 500),
    ("DRUG-PARA", "Paracetamol 500 mg, 32 tablets", "drug", "PHAR", 450, 500),
    ("DRUG-IBU", "Ibuprofen 400 mg, 24 tablets", "drug", "PHAR", 650, 500),
    ("SUP-DRESS", "Wound dressing pack", "procedure", "ED", 1350, 825),
    ("SUP-CRUTCH", "Crutches, pair", "procedure", "ORTH", 4800, 825),
]
# payer code -> (price list name, share of the list price it pays for visits/labs/imaging)
PRICE_LISTS = {
    "BLUESHIELD": ("Blue Shield 2026 contract", 85),
    "MEDICARE": ("Medicare fee schedule 2026", 72),
}
SPECIALTY_VISIT = {"CARD": "VISIT-CARD", "ORTH": "VISIT-ORTH", "PED": "VISIT-PED", "OBG": "VISIT-OBG"}
EXTRAS = {
    "lab": ["LAB-CBC", "LAB-BMP", "LAB-LIPID", "LAB-HBA1C", "LAB-TSH", "LAB-UA", "LAB-CRP"],
    "imaging": ["IMG-XR-CHEST", "IMG-XR-LIMB", "IMG-US-ABD", "IMG-CT-HEAD", "IMG-MAMMO"],
    "drug": ["DRUG-AMOX", "DRUG-METF", "DRUG-ATORVA", "DRUG-LISIN", "DRUG-SALB", "DRUG-PARA", "DRUG-IBU"],
}
VOID_REASONS = ["Wrong service code", "Charged to the wrong visit", "Coverage added after issue", "Duplicate"]
DENIAL_REASONS = [
    "Service not covered by the plan",
    "Prior authorization missing",
    "Member not eligible on the date of service",
    "Duplicate claim",
]
STAFF = ["billing", "reception"]
# category -> (percent of the month's costs, suppliers, departments it is booked to; None: all clinical)
EXPENSES = {
    "staff": (52, ["Payroll"], None),
    "supplies": (10, ["MedSupply Co", "Henry Schein", "Owens & Minor"], None),
    "drugs": (9, ["McKesson", "Cardinal Health"], ["PHAR", "ED", "GEN"]),
    "equipment": (6, ["GE Healthcare", "Philips Medical", "Siemens Healthineers"], ["RAD", "LAB", "CARD"]),
    "utilities": (4, ["City Power & Light", "Metro Water"], ["FIN"]),
    "maintenance": (4, ["FacilityPro Services", "BioMed Repairs"], None),
    "services": (6, ["CleanCare Ltd", "Quest Reference Lab", "LinenWorks"], ["LAB", "FIN", "GEN"]),
    "rent": (9, ["Harbor Properties"], ["FIN"]),
}


def _ids(session, model) -> int:
    return int(session.execute(select(func.coalesce(func.max(model.id), 0))).scalar_one())


def _bulk(session, model, rows: list[dict]) -> None:
    for start in range(0, len(rows), CHUNK):
        session.execute(insert(model.__table__), rows[start : start + CHUNK])


@seeder("billing_catalogue", order=46)
def seed_catalogue(ctx: SeedContext) -> None:
    """The service catalogue and the payers' price lists (idempotent by code)."""
    session = ctx.session
    departments = dict(session.execute(select(Department.code, Department.id)).all())
    existing = set(session.execute(select(ChargeItemDefinition.code)).scalars())
    rows = [
        {
            "code": code,
            "name": name,
            "category": category,
            "department_id": departments.get(dept) if dept else None,
            "price_cents": price,
            "tax_rate_bp": tax,
            "active": True,
        }
        for code, name, category, dept, price, tax in CATALOGUE
        if code not in existing
    ]
    if rows:
        _bulk(session, ChargeItemDefinition, rows)
    payers = dict(session.execute(select(Payer.code, Payer.id)).all())
    have_lists = set(session.execute(select(PriceList.payer_id)).scalars())
    for payer_code, (name, percent) in PRICE_LISTS.items():
        payer_id = payers.get(payer_code)
        if payer_id is None or payer_id in have_lists:
            continue
        price_list = PriceList(payer_id=payer_id, name=name, valid_from=date(ctx.as_of.year - 1, 1, 1))
        session.add(price_list)
        session.flush()
        items = [
            {"price_list_id": price_list.id, "code": code, "price_cents": price * percent // 100}
            for code, _n, category, _d, price, _t in CATALOGUE
            if category in ("visit", "lab", "imaging", "procedure")
        ]
        _bulk(session, PriceListItem, items)
    session.commit()


def _prices(session) -> tuple[dict[str, tuple[str, int, int, int | None]], dict[tuple[int, str], int]]:
    catalogue = {
        code: (name, price, tax, dept)
        for code, name, price, tax, dept in session.execute(
            select(
                ChargeItemDefinition.code,
                ChargeItemDefinition.name,
                ChargeItemDefinition.price_cents,
                ChargeItemDefinition.tax_rate_bp,
                ChargeItemDefinition.department_id,
            )
        ).all()
    }
    negotiated = {
        (payer_id, code): price
        for payer_id, code, price in session.execute(
            select(PriceList.payer_id, PriceListItem.code, PriceListItem.price_cents).join(
                PriceList, PriceList.id == PriceListItem.price_list_id
            )
        ).all()
    }
    return catalogue, negotiated


@seeder("billing_history", order=70)
def seed_billing(ctx: SeedContext) -> None:
    """A year of charges, invoices, payments, claims and expenses (see the module docstring)."""
    session, rng = ctx.session, ctx.rng
    if session.execute(select(Invoice.id).limit(1)).first():
        return  # already seeded
    catalogue, negotiated = _prices(session)
    if "VISIT-GP" not in catalogue:
        return
    departments = dict(session.execute(select(Department.code, Department.id)).all())
    dept_code = {v: k for k, v in departments.items()}
    as_of_noon = datetime.combine(ctx.as_of, time(12, 0), tzinfo=UTC)
    year_ago = as_of_noon - timedelta(days=365)
    encounters = session.execute(
        select(
            Encounter.id,
            Encounter.patient_id,
            Encounter.encounter_class,
            Encounter.department_id,
            Encounter.start_at,
            Encounter.end_at,
        )
        .where(Encounter.start_at >= year_ago, Encounter.start_at <= as_of_noon)
        .order_by(Encounter.start_at.desc(), Encounter.id.desc())
        .limit(ENCOUNTER_CAP)
    ).all()
    encounters = sorted(encounters, key=lambda e: (e.start_at, e.id))
    coverages = {}
    for cov in session.execute(
        select(
            Coverage.id,
            Coverage.patient_id,
            Coverage.payer_id,
            Coverage.copay_cents,
            Coverage.coinsurance_percent,
            Coverage.valid_from,
        )
        .where(Coverage.active.is_(True))
        .order_by(Coverage.patient_id, Coverage.priority.desc())
    ).all():
        coverages[cov.patient_id] = cov  # the lowest priority number wins (ordered last)
    self_payer = session.execute(select(Payer.id).where(Payer.kind == "self")).scalar_one_or_none()

    # The portal demo patient gets a visit of their own five days ago, left unpaid, so that
    # the portal's bills page has something to pay.
    portal_patient = None
    first = ctx.shared.get("first_mrn_number")
    if first is not None:
        portal_patient = session.execute(
            select(Patient.id).where(Patient.mrn == format_mrn(first))
        ).scalar_one_or_none()

    next_charge = _ids(session, ChargeItem)
    next_invoice = _ids(session, Invoice)
    next_line = _ids(session, InvoiceLine)
    next_payment = _ids(session, Payment)
    next_claim = _ids(session, Claim)
    charges, invoices, lines, payments, credits, claims, remits = [], [], [], [], [], [], []
    key_seq = 0

    def new_key() -> str:
        nonlocal key_seq
        key_seq += 1
        return f"seed-{ctx.seed}-{key_seq:08d}"

    def visit_codes(klass: str, department_id: int | None) -> list[tuple[str, int]]:
        code = dept_code.get(department_id, "GEN")
        if klass == "virtual":
            codes = [("VISIT-VIRTUAL", 1)]
        elif klass == "emergency":
            codes = [("ED-VISIT-5" if rng.random() < 0.2 else "ED-VISIT-3", 1)]
            if rng.random() < 0.3:
                codes.append(("PROC-SUTURE", 1))
        elif klass == "inpatient":
            codes = [
                ("VISIT-SPEC", 1),
                ("ROOM-ICU" if rng.random() < 0.1 else "ROOM-WARD", rng.randint(1, 5)),
            ]
        else:
            codes = [(SPECIALTY_VISIT.get(code, "VISIT-GP" if rng.random() < 0.8 else "VISIT-FOLLOWUP"), 1)]
            if code == "CARD" and rng.random() < 0.5:
                codes.append(("PROC-ECG", 1))
        if klass != "virtual":
            for kind, chance in (("lab", 0.45), ("imaging", 0.15), ("drug", 0.35)):
                if rng.random() < chance:
                    extra = rng.choice(EXTRAS[kind])
                    codes.append((extra, rng.randint(1, 2) if kind == "drug" else 1))
        return codes

    # 1. Charges, one group per encounter (plus the portal patient's own visit).
    groups = []  # (patient_id, moment, [charge dicts], coverage or None)
    sources = [
        (e.id, e.patient_id, e.encounter_class, e.department_id, e.end_at or e.start_at) for e in encounters
    ]
    if portal_patient is not None:
        sources.append(
            (None, portal_patient, "outpatient", departments.get("GEN"), as_of_noon - timedelta(days=5))
        )
    for encounter_id, patient_id, klass, department_id, moment in sources:
        cov = coverages.get(patient_id)
        if cov is not None and (cov.valid_from > moment.date() or cov.payer_id == self_payer):
            cov = None
        group = []
        seen_codes = set()
        for code, quantity in visit_codes(klass, department_id):
            if code in seen_codes or code not in catalogue:
                continue
            seen_codes.add(code)
            name, price, tax, dept = catalogue[code]
            if cov is not None:
                price = negotiated.get((cov.payer_id, code), price)
            next_charge += 1
            group.append(
                {
                    "id": next_charge,
                    "patient_id": patient_id,
                    "code": code,
                    "description": name,
                    "department_id": dept if dept is not None else department_id,
                    "quantity": quantity,
                    "unit_price_cents": price,
                    "tax_rate_bp": tax,
                    "status": "open",
                    "source_type": "encounter" if encounter_id else "manual",
                    "source_id": encounter_id,
                    "reason": None if encounter_id else "Follow-up consultation",
                    "invoice_id": None,
                    "entered_at": moment,
                    "entered_by": "dr.grey",
                    "voided_at": None,
                    "voided_by": None,
                    "void_reason": None,
                }
            )
        charges.extend(group)
        groups.append((patient_id, moment, group, cov, encounter_id is None))

    # 2. Invoices: visits of the last three days wait (open charges, a few on a draft); older ones were billed.
    def make_invoice(patient_id, group, cov, created, status, issued_at=None) -> dict:
        nonlocal next_invoice, next_line
        next_invoice += 1
        terms = ShareTerms(cov.copay_cents, cov.coinsurance_percent) if cov is not None else None
        amounts = compute_lines(
            [LineInput(c["quantity"], c["unit_price_cents"], 0, c["tax_rate_bp"]) for c in group], terms
        )
        for charge, amount in zip(group, amounts, strict=True):
            next_line += 1
            lines.append(
                {
                    "id": next_line,
                    "invoice_id": next_invoice,
                    "charge_item_id": charge["id"],
                    "code": charge["code"],
                    "description": charge["description"],
                    "department_id": charge["department_id"],
                    "quantity": charge["quantity"],
                    "unit_price_cents": charge["unit_price_cents"],
                    "discount_cents": 0,
                    "tax_rate_bp": charge["tax_rate_bp"],
                    "tax_cents": amount.tax_cents,
                    "line_total_cents": amount.total_cents,
                    "patient_share_cents": amount.patient_cents,
                    "payer_share_cents": amount.payer_cents,
                }
            )
            charge["status"], charge["invoice_id"] = "invoiced", next_invoice
        invoice = {
            "id": next_invoice,
            "number": None,
            "status": status,
            "patient_id": patient_id,
            "payer_id": cov.payer_id if cov is not None else None,
            "coverage_id": cov.id if cov is not None else None,
            "period_from": None,
            "period_to": None,
            "subtotal_cents": sum(a.gross_cents for a in amounts),
            "discount_cents": 0,
            "tax_cents": sum(a.tax_cents for a in amounts),
            "total_cents": sum(a.total_cents for a in amounts),
            "patient_share_cents": sum(a.patient_cents for a in amounts),
            "payer_share_cents": sum(a.payer_cents for a in amounts),
            "patient_paid_cents": 0,
            "payer_paid_cents": 0,
            "created_at": created,
            "created_by": rng.choice(STAFF),
            "issued_at": issued_at,
            "issued_by": rng.choice(STAFF) if issued_at else None,
            "voided_at": None,
            "voided_by": None,
            "void_reason": None,
            "replaced_by_id": None,
        }
        invoices.append(invoice)
        return invoice

    issued = []  # (invoice, portal demo?)
    for patient_id, moment, group, cov, is_portal_demo in groups:
        if not group:
            continue
        age_days = (as_of_noon - moment).total_seconds() / 86400
        if age_days < 3 and not is_portal_demo:
            if age_days < 1.5 and rng.random() < 0.15:
                make_invoice(patient_id, group, cov, moment + timedelta(hours=1), "draft")
            continue  # the rest stay open charges, waiting at the billing desk
        issued_at = min(moment + timedelta(hours=rng.randint(1, 48)), as_of_noon - timedelta(hours=1))
        invoice = make_invoice(patient_id, group, cov, issued_at - timedelta(minutes=20), "issued", issued_at)
        if not is_portal_demo and age_days > 20 and rng.random() < 0.025:
            # Voided a few days later and re-billed: the original keeps its lines and number.
            voided_at = min(issued_at + timedelta(days=rng.randint(1, 10)), as_of_noon - timedelta(hours=1))
            invoice.update(
                status="void", voided_at=voided_at, voided_by="manager", void_reason=rng.choice(VOID_REASONS)
            )
            replacement = make_invoice(
                patient_id, group, cov, voided_at, "issued", voided_at + timedelta(minutes=5)
            )
            invoice["replaced_by_id"] = replacement["id"]
            issued.append((replacement, False))
            continue
        issued.append((invoice, is_portal_demo))

    # Gap-free numbers in issue order, from the same counter the service uses.
    numbered = sorted(
        (inv for inv in invoices if inv["issued_at"] is not None), key=lambda i: (i["issued_at"], i["id"])
    )
    if numbered:
        for invoice, number in zip(numbered, take_numbers(session, "invoice", len(numbered)), strict=True):
            invoice["number"] = format_invoice_number(number)

    # 3. Claims for the payer shares, then the patient's payments on what is theirs to pay.
    def pay(invoice, amount, method, when, applied, claim_id=None, kind="payment", refund_of=None):
        nonlocal next_payment
        next_payment += 1
        payments.append(
            {
                "id": next_payment,
                "patient_id": invoice["patient_id"],
                "invoice_id": invoice["id"],
                "kind": kind,
                "method": method,
                "amount_cents": amount,
                "applied_cents": applied,
                "idempotency_key": new_key(),
                "reference": f"RCPT-{next_payment:07d}"
                if method != "insurer"
                else f"ERA-{rng.randint(10**6, 10**7)}",
                "refund_of_id": refund_of,
                "claim_id": claim_id,
                "received_at": when,
                "received_by": "system" if method == "insurer" else rng.choice(STAFF),
                "note": None,
            }
        )
        return next_payment

    for invoice, is_portal_demo in issued:
        issued_at = invoice["issued_at"]
        age_days = (as_of_noon - issued_at).total_seconds() / 86400
        if invoice["payer_share_cents"] > 0 and not is_portal_demo:
            r = rng.random()
            if age_days < 7:
                status = "draft" if r < 0.6 else "submitted"
            elif age_days < 30:
                status = "submitted" if r < 0.5 else ("accepted" if r < 0.85 else "paid")
            else:
                status = rng.choices(
                    ["paid", "partially_paid", "denied", "accepted", "submitted"], [68, 12, 9, 6, 5]
                )[0]
            next_claim += 1
            claimed = invoice["payer_share_cents"]
            submitted = issued_at + timedelta(days=rng.randint(0, 3)) if status != "draft" else None
            decided = None
            if status in ("accepted", "paid", "partially_paid", "denied") and submitted is not None:
                decided = min(submitted + timedelta(days=rng.randint(5, 25)), as_of_noon - timedelta(hours=2))
            paid = {"paid": claimed, "partially_paid": claimed * rng.choice([50, 60, 70, 80]) // 100}.get(
                status, 0
            )
            moved = claimed - paid if status in ("partially_paid", "denied") else 0
            payment_id = None
            if paid:
                payment_id = pay(invoice, paid, "insurer", decided, paid, claim_id=next_claim)
                invoice["payer_paid_cents"] = paid
                remits.append(
                    {
                        "claim_id": next_claim,
                        "payment_id": payment_id,
                        "amount_cents": paid,
                        "reference": payments[-1]["reference"],
                        "posted_at": decided,
                        "posted_by": "billing",
                    }
                )
            if moved:
                invoice["payer_share_cents"] -= moved
                invoice["patient_share_cents"] += moved
            claims.append(
                {
                    "id": next_claim,
                    "invoice_id": invoice["id"],
                    "payer_id": invoice["payer_id"],
                    "coverage_id": invoice["coverage_id"],
                    "patient_id": invoice["patient_id"],
                    "status": status,
                    "amount_claimed_cents": claimed,
                    "amount_approved_cents": paid or (claimed if status == "accepted" else None),
                    "amount_paid_cents": paid,
                    "moved_to_patient_cents": moved,
                    "denial_reason": rng.choice(DENIAL_REASONS) if status == "denied" else None,
                    "created_at": issued_at + timedelta(minutes=30),
                    "created_by": "billing",
                    "submitted_at": submitted,
                    "decided_at": decided,
                    "closed_at": decided if status in ("paid", "partially_paid", "denied") else None,
                }
            )
        due = invoice["patient_share_cents"]
        if due <= 0 or is_portal_demo:
            continue
        # Older bills are more often settled; some are paid in part, a few paid twice over.
        r = rng.random()
        settled_chance = min(0.9, 0.35 + age_days / 60)
        method = rng.choices(["card", "cash", "transfer"], [55, 30, 15])[0]
        when = min(
            issued_at + timedelta(days=rng.randint(0, 21), hours=rng.randint(0, 8)),
            as_of_noon - timedelta(minutes=30),
        )
        if r < settled_chance * 0.92:
            pay(invoice, due, method, when, due)
            invoice["patient_paid_cents"] = due
        elif r < settled_chance:
            over = due + rng.choice([500, 1000, 2000, 5000])
            payment_id = pay(invoice, over, method, when, due)
            invoice["patient_paid_cents"] = due
            credits.append(
                {
                    "patient_id": invoice["patient_id"],
                    "amount_cents": over - due,
                    "payment_id": payment_id,
                    "invoice_id": invoice["id"],
                    "reason": "Overpayment",
                    "created_at": when,
                }
            )
            if rng.random() < 0.5:  # the overpayment was given back a few days later
                back = min(when + timedelta(days=rng.randint(1, 6)), as_of_noon - timedelta(minutes=10))
                refund_id = pay(invoice, -(over - due), method, back, 0, kind="refund", refund_of=payment_id)
                payments[-1]["invoice_id"] = None
                payments[-1]["note"] = "Overpayment returned"
                credits.append(
                    {
                        "patient_id": invoice["patient_id"],
                        "amount_cents": -(over - due),
                        "payment_id": refund_id,
                        "invoice_id": None,
                        "reason": "Refunded",
                        "created_at": back,
                    }
                )
        elif r < settled_chance + 0.15:
            part = max(100, due * rng.choice([25, 40, 50]) // 100)
            pay(invoice, part, method, when, part)
            invoice["patient_paid_cents"] = part

    # 4. The last days' completed appointments (the scheduling demo) wait at the billing desk as open
    #    charges, keyed like the ones complete_appointment posts, so nothing is charged twice.
    charges.extend(_recent_visit_charges(ctx, catalogue, negotiated, coverages, self_payer, next_charge))

    # An original points at its replacement, a later row: link them once both exist.
    replaced = [(inv["id"], inv.pop("replaced_by_id")) for inv in invoices]
    _bulk(session, Invoice, [{**inv, "replaced_by_id": None} for inv in invoices])
    for start in range(0, len(replaced), CHUNK):
        pairs = [{"i": i, "r": r} for i, r in replaced[start : start + CHUNK] if r is not None]
        if pairs:
            session.execute(text("UPDATE invoice SET replaced_by_id = :r WHERE id = :i"), pairs)
    _bulk(session, ChargeItem, charges)
    _bulk(session, InvoiceLine, lines)
    _bulk(session, Claim, claims)
    _bulk(session, Payment, payments)
    _bulk(session, Remittance, remits)
    _bulk(session, CreditEntry, credits)
    revenue: dict[tuple[int, int], int] = {}
    for inv in invoices:
        if inv["status"] == "issued":
            month = (inv["issued_at"].year, inv["issued_at"].month)
            revenue[month] = revenue.get(month, 0) + inv["total_cents"]
    expense_count = _seed_expenses(ctx, departments, revenue)
    if session.get_bind().dialect.name == "postgresql":
        # Ids were given explicitly (rows point at each other): move the sequences on.
        for table in ("charge_item", "invoice", "invoice_line", "payment", "claim"):
            session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT COALESCE(MAX(id), 1) FROM {table}))"
                )
            )
    record_audit(
        session,
        SYSTEM_ACTOR,
        "seed.billing",
        detail=f"{len(charges)} charges, {len(invoices)} invoices, {len(payments)} payments, "
        f"{len(claims)} claims, {expense_count} expenses",
    )
    session.commit()


def _recent_visit_charges(
    ctx: SeedContext, catalogue, negotiated, coverages, self_payer, last_id: int
) -> list[dict]:
    from hms_app.models.scheduling import Appointment, AppointmentType

    session = ctx.session
    since = datetime.combine(ctx.as_of - timedelta(days=3), time(0, 0), tzinfo=UTC)
    visits = session.execute(
        select(
            Appointment.id,
            Appointment.patient_id,
            Appointment.department_id,
            Appointment.completed_at,
            AppointmentType.price_code,
        )
        .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
        .where(
            Appointment.status == "completed",
            Appointment.completed_at >= since,
            AppointmentType.price_code.is_not(None),
        )
        .order_by(Appointment.completed_at, Appointment.id)
        .limit(5000)
    ).all()
    charged = set(
        session.execute(select(ChargeItem.source_id).where(ChargeItem.source_type == "appointment")).scalars()
    )
    rows = []
    for appointment_id, patient_id, department_id, completed_at, code in visits:
        if appointment_id in charged or code not in catalogue:
            continue
        name, price, tax, dept = catalogue[code]
        cov = coverages.get(patient_id)
        if cov is not None and cov.payer_id != self_payer:
            price = negotiated.get((cov.payer_id, code), price)
        last_id += 1
        rows.append(
            {
                "id": last_id,
                "patient_id": patient_id,
                "code": code,
                "description": name,
                "department_id": department_id if department_id is not None else dept,
                "quantity": 1,
                "unit_price_cents": price,
                "tax_rate_bp": tax,
                "status": "open",
                "source_type": "appointment",
                "source_id": appointment_id,
                "reason": None,
                "invoice_id": None,
                "entered_at": completed_at,
                "entered_by": "system",
                "voided_at": None,
                "voided_by": None,
                "void_reason": None,
            }
        )
    return rows


def _seed_expenses(ctx: SeedContext, departments: dict[str, int], revenue: dict[tuple[int, int], int]) -> int:
    """Twelve months of costs per category and department, running at 80-97 % of each month's
    billed revenue (so the finance dashboard shows a hospital near break-even)."""
    rng = ctx.rng
    average = sum(revenue.values()) // max(len(revenue), 1) or 2_000_000
    rows = []
    first_month = date(ctx.as_of.year, ctx.as_of.month, 1)
    for back in range(12, -1, -1):
        year, month = divmod(first_month.year * 12 + first_month.month - 1 - back, 12)
        month_start = date(year, month + 1, 1)
        budget = revenue.get((month_start.year, month_start.month), average) * rng.uniform(0.80, 0.97)
        if back == 0:  # the month is not over yet
            budget *= min(ctx.as_of.day / 30, 1)
        for category, (weight, suppliers, where) in EXPENSES.items():
            codes = [c for c in (where or [c for c in departments if c != "FIN"]) if c in departments]
            for code in codes:
                entries = 1 if category in ("staff", "rent", "utilities") else rng.randint(1, 3)
                for _ in range(entries):
                    day = month_start + timedelta(days=rng.randint(0, 27))
                    if day > ctx.as_of:
                        day = ctx.as_of
                    amount = int(budget * weight / 100 / len(codes) / entries * rng.uniform(0.8, 1.2))
                    rows.append(
                        {
                            "category": category,
                            "department_id": departments[code],
                            "supplier": rng.choice(suppliers),
                            "description": f"{category.capitalize()}, {month_start:%B %Y}",
                            "amount_cents": max(amount, 100),
                            "incurred_on": day,
                            "entered_at": datetime.combine(day, time(15, 0), tzinfo=UTC),
                            "entered_by": "billing",
                        }
                    )
    _bulk(ctx.session, Expense, rows)
    return len(rows)
