"""Load a read Synthea export into HMS: reference data first, then patients in batches.

Each batch (``batch_size`` patients with every record they have) is one transaction: its rows
go in as bulk Core inserts, with an ``imported_record`` row for each patient, encounter, booked
visit (``visits``), claim, organization, clinician and payer, and one audit row naming the import. A kill loses at most
the open batch; a re-run skips every patient the map already has (a patient is imported whole
or not at all, so skipping by patient is exact). A row that cannot be read is reported with its
file and line and skipped; the rest of its patient goes in.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.db import analyze
from hms_app.interop.synthea import mapper
from hms_app.interop.synthea.mapper import IMPORTER, BadRow
from hms_app.interop.synthea.rows import SOURCE, insert_ids, insert_rows, map_rows, mapped
from hms_app.interop.synthea.source import PatientRecords, SyntheaSource
from hms_app.interop.synthea.visits import VisitSetup, book_visits, load_setup
from hms_app.models.billing import ChargeItem, Claim, Invoice, InvoiceLine, Payment, Remittance
from hms_app.models.emr import (
    AllergyIntolerance,
    Condition,
    Encounter,
    Immunization,
    MedicationStatement,
    Observation,
    Procedure,
)
from hms_app.models.imports import ImportedRecord
from hms_app.models.organization import Department
from hms_app.models.patients import Coverage, Patient, Payer
from hms_app.models.security import AppUser
from hms_app.services.audit import audit_row, record_audits
from hms_app.services.billing import format_invoice_number
from hms_app.services.counters import take_numbers
from hms_app.services.patient_keys import search_keys
from hms_app.services.patients import format_mrn
from hms_app.services.permissions import Actor

# The summary's types, in its order (``IMPORTED <type> <new rows>``).
TYPES = (
    "organization",
    "practitioner",
    "payer",
    "patient",
    "encounter",
    "appointment",
    "condition",
    "observation",
    "medication",
    "immunization",
    "allergy",
    "procedure",
    "coverage",
    "claim",
)
# Patient records kind -> (summary type, table, mapper function).
CLINICAL = (
    ("conditions", "condition", Condition, mapper.condition),
    ("observations", "observation", Observation, mapper.observation),
    ("medications", "medication", MedicationStatement, mapper.medication),
    ("immunizations", "immunization", Immunization, mapper.immunization),
    ("allergies", "allergy", AllergyIntolerance, mapper.allergy),
    ("procedures", "procedure", Procedure, mapper.procedure),
)
LOADED_TABLES = (
    "department", "app_user", "payer", "patient", "encounter", "condition", "observation",
    "medication_statement", "immunization", "allergy_intolerance", "procedure", "coverage",
    "invoice", "charge_item", "invoice_line", "claim", "payment", "remittance", "imported_record",
    "healthcare_service", "appointment_type", "resource", "appointment", "appointment_participant",
)  # fmt: skip

Progress = Callable[[str, int, int], None]


@dataclass
class ImportReport:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TYPES, 0))
    problems: list[str] = field(default_factory=list)
    patients_in_source: int = 0
    patients_already: int = 0
    rows: int = 0  # every HMS row written (billing rows and the id map included)
    seconds: float = 0.0


@dataclass
class _Refs:
    departments: dict[str, int]
    users: dict[str, int]
    payers: dict[str, int]
    payer_kinds: dict[int, str]
    payer_names: dict[int, str]
    visits: VisitSetup


def _clean(values: dict) -> dict:
    return {key: value for key, value in values.items() if not key.startswith("_")}


def _convert(function, row: dict, problems: list[str]):
    try:
        return function(row)
    except BadRow as error:
        problems.append(f"{row.get('_where', '?')}: {error}; skipped")
        return None


def _load_reference(session: Session, source: SyntheaSource, report: ImportReport) -> _Refs:
    """Organizations (as departments), clinicians (as disabled accounts) and payers, once each,
    and what imported visits are booked on (``visits.load_setup``)."""
    now = utcnow()
    written = 0
    for resource_type, kind, rows, table, function in (
        ("Organization", "organization", source.organizations, Department.__table__, mapper.organization),
        ("Payer", "payer", source.payers, Payer.__table__, mapper.payer),
    ):
        known = mapped(session, resource_type)
        fresh = {}
        for row in rows:
            if row["Id"] not in known and row["Id"] not in fresh:
                values = _convert(function, row, report.problems)
                if values is not None:
                    fresh[row["Id"]] = values
        ids = insert_ids(session, table, list(fresh.values()))
        pairs = [(external, row_id, None) for external, row_id in zip(fresh, ids, strict=True)]
        insert_rows(session, ImportedRecord.__table__, map_rows(resource_type, pairs, now))
        report.counts[kind] += len(ids)
        written += 2 * len(ids)
    departments = mapped(session, "Organization")
    known = mapped(session, "Practitioner")
    fresh = {}
    for row in source.providers:
        if row["Id"] not in known and row["Id"] not in fresh:
            values = _convert(mapper.provider, row, report.problems)
            if values is not None:
                values["department_id"] = departments.get(values.pop("_organization") or "")
                values["created_at"] = values["password_changed_at"] = now
                fresh[row["Id"]] = values
    ids = insert_ids(session, AppUser.__table__, list(fresh.values()))
    pairs = [(external, row_id, None) for external, row_id in zip(fresh, ids, strict=True)]
    insert_rows(session, ImportedRecord.__table__, map_rows("Practitioner", pairs, now))
    report.counts["practitioner"] += len(ids)
    report.rows += written + 2 * len(ids)
    payers = mapped(session, "Payer")
    payer_rows = session.execute(
        select(Payer.id, Payer.kind, Payer.name).where(Payer.id.in_(list(payers.values())))
    )
    kinds, names = {}, {}
    for payer_id, kind, name in payer_rows:
        kinds[payer_id], names[payer_id] = kind, name
    users = mapped(session, "Practitioner")
    visits, visit_rows = load_setup(session, departments=departments, users=users, now=now)
    report.rows += visit_rows
    return _Refs(departments, users, payers, kinds, names, visits)


def _billing(claims: list[tuple[str, dict]], encounters: dict[str, dict]) -> list[tuple[str, dict, dict]]:
    """The encounters to bill: each encounter with a claim and a cost, once."""
    plans: list[tuple[str, dict, dict]] = []
    billed: set[str] = set()
    for external, values in claims:
        encounter = encounters.get(values["_encounter"])
        if encounter is None or encounter["_total_cents"] <= 0 or values["_encounter"] in billed:
            continue  # a second claim on an encounter (medication) is billed with the encounter
        billed.add(values["_encounter"])
        plans.append((external, values, encounter))
    return plans


def _write_billing(
    session: Session, plans: list, refs: _Refs, report: ImportReport
) -> list[tuple[str, int, int]]:
    """Per billed encounter: an issued invoice with one line and its charge, the payer's claim
    (paid in full, with its payment and remittance) and what the patient paid. Returns the map
    pairs (claim id, invoice id, patient id)."""
    if not plans:
        return []
    numbers = take_numbers(session, "invoice", len(plans))
    invoices, shares = [], []
    for number, (_external, claim, encounter) in zip(numbers, plans, strict=True):
        total = encounter["_total_cents"]
        payer_id = refs.payers.get(encounter["_payer"] or "")
        if payer_id is not None and refs.payer_kinds.get(payer_id) == "self":
            payer_id = None
        payer_share = min(encounter["_payer_cents"], total) if payer_id else 0
        patient_share = total - payer_share
        patient_paid = patient_share - min(claim["_patient_outstanding_cents"], patient_share)
        at = claim["_service_at"] or encounter["start_at"]
        shares.append((total, payer_id, payer_share, patient_share, patient_paid, at))
        invoices.append(
            {
                "number": format_invoice_number(number), "status": "issued",
                "patient_id": encounter["patient_id"], "payer_id": payer_id if payer_share else None,
                "period_from": at.date(), "period_to": at.date(), "subtotal_cents": total,
                "discount_cents": 0, "tax_cents": 0, "total_cents": total,
                "patient_share_cents": patient_share, "payer_share_cents": payer_share,
                "patient_paid_cents": patient_paid, "payer_paid_cents": payer_share,
                "created_at": at, "created_by": IMPORTER, "issued_at": at, "issued_by": IMPORTER,
            }
        )  # fmt: skip
    invoice_ids = insert_ids(session, Invoice.__table__, invoices)
    charges = [
        {
            "patient_id": encounter["patient_id"], "code": encounter["_code"][:40],
            "description": encounter["_description"], "department_id": encounter["department_id"],
            "quantity": 1, "unit_price_cents": total, "tax_rate_bp": 0, "status": "invoiced",
            "source_type": "synthea", "source_id": encounter["id"], "invoice_id": invoice_id,
            "entered_at": at, "entered_by": IMPORTER,
        }
        for invoice_id, (_e, _c, encounter), (total, _p, _ps, _pt, _pp, at) in zip(invoice_ids, plans, shares, strict=True)
    ]  # fmt: skip
    charge_ids = insert_ids(session, ChargeItem.__table__, charges)
    lines, claims, claim_plan = [], [], []
    for index, (invoice_id, charge_id) in enumerate(zip(invoice_ids, charge_ids, strict=True)):
        total, payer_id, payer_share, patient_share, _paid, at = shares[index]
        charge = charges[index]
        lines.append(
            {
                "invoice_id": invoice_id, "charge_item_id": charge_id, "code": charge["code"],
                "description": charge["description"], "department_id": charge["department_id"],
                "quantity": 1, "unit_price_cents": total, "discount_cents": 0, "tax_rate_bp": 0,
                "tax_cents": 0, "line_total_cents": total, "patient_share_cents": patient_share,
                "payer_share_cents": payer_share,
            }
        )  # fmt: skip
        if payer_share:
            claim_plan.append(index)
            claims.append(
                {
                    "invoice_id": invoice_id, "payer_id": payer_id, "patient_id": charge["patient_id"],
                    "status": "paid", "amount_claimed_cents": payer_share,
                    "amount_approved_cents": payer_share, "amount_paid_cents": payer_share,
                    "created_at": at, "created_by": IMPORTER, "submitted_at": at, "decided_at": at,
                    "closed_at": at,
                }
            )  # fmt: skip
    insert_rows(session, InvoiceLine.__table__, lines)
    claim_ids = insert_ids(session, Claim.__table__, claims)
    payments = []
    for index, claim_id in zip(claim_plan, claim_ids, strict=True):
        _t, _payer, payer_share, _ps, _pp, at = shares[index]
        payments.append(
            {
                "patient_id": charges[index]["patient_id"], "invoice_id": invoice_ids[index],
                "kind": "payment", "method": "insurer", "amount_cents": payer_share,
                "applied_cents": payer_share, "idempotency_key": f"synthea:{plans[index][0]}:payer"[:80],
                "claim_id": claim_id, "received_at": at, "received_by": IMPORTER,
            }
        )  # fmt: skip
    payment_ids = insert_ids(session, Payment.__table__, payments)
    insert_rows(
        session,
        Remittance.__table__,
        [
            {"claim_id": p["claim_id"], "payment_id": pid, "amount_cents": p["amount_cents"],
             "posted_at": p["received_at"], "posted_by": IMPORTER}
            for p, pid in zip(payments, payment_ids, strict=True)
        ],
    )  # fmt: skip
    own = [
        {
            "patient_id": charges[i]["patient_id"], "invoice_id": invoice_ids[i], "kind": "payment",
            "method": "card", "amount_cents": shares[i][4], "applied_cents": shares[i][4],
            "idempotency_key": f"synthea:{plans[i][0]}:patient"[:80], "received_at": shares[i][5],
            "received_by": IMPORTER,
        }
        for i in range(len(plans))
        if shares[i][4] > 0
    ]  # fmt: skip
    insert_rows(session, Payment.__table__, own)
    report.counts["claim"] += len(invoice_ids)
    report.rows += 3 * len(invoice_ids) + len(claims) + 2 * len(payments) + len(own)
    return [(plans[i][0], invoice_ids[i], charges[i]["patient_id"]) for i in range(len(plans))]


def _load_batch(
    session: Session,
    batch: list[PatientRecords],
    refs: _Refs,
    report: ImportReport,
    *,
    actor: Actor,
    label: str,
) -> None:
    now = utcnow()
    already = mapped(session, "Patient", [b.patient["Id"] for b in batch])
    report.patients_already += len(already)
    todo: list[tuple[PatientRecords, dict]] = []
    for bundle in batch:
        if bundle.patient["Id"] in already or any(bundle.patient["Id"] == b.patient["Id"] for b, _ in todo):
            continue
        values = _convert(mapper.patient, bundle.patient, report.problems)
        if values is not None:
            todo.append((bundle, values))
    if not todo:
        return
    before = dict(report.counts)
    numbers = take_numbers(session, "mrn", len(todo))
    patients = []
    for number, (_bundle, values) in zip(numbers, todo, strict=True):
        keys = search_keys(
            given_name=values["given_name"], family_name=values["family_name"], phone=values["phone"]
        )
        patients.append(
            values | keys | {"mrn": format_mrn(number), "active": True, "created_at": now, "updated_at": now}
        )
    patient_ids = insert_ids(session, Patient.__table__, patients)
    maps = map_rows(
        "Patient", [(b.patient["Id"], pid, pid) for (b, _v), pid in zip(todo, patient_ids, strict=True)], now
    )

    encounters: dict[str, dict] = {}
    for (bundle, _values), patient_id in zip(todo, patient_ids, strict=True):
        for row in bundle.records["encounters"]:
            if row["Id"] in encounters:
                report.problems.append(
                    f"{row['_where']}: encounter {row['Id']} appears twice; the second is skipped"
                )
                continue
            values = _convert(mapper.encounter, row, report.problems)
            if values is not None:
                values["patient_id"] = patient_id
                values["department_id"] = refs.departments.get(values["_organization"] or "")
                values["practitioner_id"] = refs.users.get(values["_provider"] or "")
                encounters[row["Id"]] = values
    encounter_ids = insert_ids(session, Encounter.__table__, [_clean(v) for v in encounters.values()])
    for (external, values), row_id in zip(encounters.items(), encounter_ids, strict=True):
        values["id"] = row_id
        maps += map_rows("Encounter", [(external, row_id, values["patient_id"])], now)
    booked, participants = book_visits(session, encounters, refs.visits, now)
    maps += map_rows("Appointment", booked, now)
    report.counts["appointment"] += len(booked)
    report.rows += participants

    for (bundle, _values), patient_id in zip(todo, patient_ids, strict=True):
        own = {e["Id"] for e in bundle.records["encounters"]}
        for kind, summary, model, function in CLINICAL:
            rows = []
            for row in bundle.records[kind]:
                values = _convert(function, row, report.problems)
                if values is None:
                    continue
                values["patient_id"] = patient_id
                if "_encounter" in values:
                    linked = values["_encounter"]
                    values["encounter_id"] = (
                        encounters[linked]["id"] if linked in own and linked in encounters else None
                    )
                rows.append(_clean(values))
            insert_rows(session, model.__table__, rows)
            report.counts[summary] += len(rows)
        coverages = []
        for row in bundle.records["coverages"]:
            values = _convert(mapper.coverage, row, report.problems)
            payer_id = refs.payers.get(values["_payer"]) if values else None
            if payer_id is None or refs.payer_kinds.get(payer_id) == "self":
                continue  # years without insurance are not a coverage
            values |= {
                "patient_id": patient_id,
                "payer_id": payer_id,
                "plan_name": refs.payer_names[payer_id],
            }
            values["active"] = values["valid_to"] is None or values["valid_to"] >= now.date()
            values["created_at"] = now
            coverages.append(_clean(values))
        insert_rows(session, Coverage.__table__, coverages)
        report.counts["coverage"] += len(coverages)
        claims = []
        for row in bundle.records["claims"]:
            values = _convert(mapper.claim, row, report.problems)
            if values is not None and values["_encounter"] in own:
                claims.append((row["Id"], values))
        plans = _billing(claims, encounters)
        maps += map_rows("Claim", _write_billing(session, plans, refs, report), now)

    insert_rows(session, ImportedRecord.__table__, maps)
    report.counts["patient"] += len(patient_ids)
    report.counts["encounter"] += len(encounter_ids)
    new = {kind: report.counts[kind] - before[kind] for kind in TYPES if report.counts[kind] != before[kind]}
    report.rows += len(maps) + sum(new[k] for k in new if k != "claim")
    detail = f"{label}: " + ", ".join(f"{count} {kind}" for kind, count in new.items())
    record_audits(
        session, [audit_row(actor, "data.import", target_type="import", target_id=SOURCE, detail=detail)]
    )


def _batches(items: Iterator[PatientRecords], size: int) -> Iterator[list[PatientRecords]]:
    while batch := list(islice(items, size)):
        yield batch


def load_source(
    session: Session,
    *,
    actor: Actor,
    source: SyntheaSource,
    label: str,
    batch_size: int = 50,
    progress: Progress | None = None,
) -> ImportReport:
    """Write ``source`` (the caller has authorized ``actor``); commits once per batch."""
    started = time.perf_counter()
    report = ImportReport(patients_in_source=source.patient_count)
    refs = _load_reference(session, source, report)
    session.commit()
    done = 0
    for batch in _batches(source.patients, batch_size):
        snapshot = (dict(report.counts), len(report.problems), report.rows, report.patients_already)
        try:
            _load_batch(session, batch, refs, report, actor=actor, label=label)
            session.commit()
        except IntegrityError:
            # Another import wrote some of these patients first: start the batch again, and
            # the map now skips what it wrote.
            session.rollback()
            report.counts, report.rows, report.patients_already = snapshot[0], snapshot[2], snapshot[3]
            del report.problems[snapshot[1] :]
            _load_batch(session, batch, refs, report, actor=actor, label=label)
            session.commit()
        done += len(batch)
        if progress:
            progress("patients", done, source.patient_count)
    report.problems[:0] = source.problems
    analyze(session, LOADED_TABLES)
    session.commit()
    report.seconds = time.perf_counter() - started
    return report
