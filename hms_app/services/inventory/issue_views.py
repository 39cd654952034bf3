"""What the issue screen reads besides the stock: the patients on the wards a store serves, and the
store's recent issues with what came back of each and the charge each posted.

Both show patients' names, so both are audited; both are open to those who may issue from the
store (``inventory.issue`` at their own department's stores, a storekeeper anywhere).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, and_, cast, func, literal, or_, select
from sqlmodel import Session

from hms_app.models.billing import ChargeItem
from hms_app.models.inventory import UNTRACKED_LOT, StockItem, StockLot, StockMove
from hms_app.models.organization import Department
from hms_app.models.patients import Patient
from hms_app.models.wards import Admission, Bed, BedAssignment, Ward
from hms_app.plurals import counted
from hms_app.services.inventory.common import (
    ISSUE,
    audit_stock,
    authorize_store,
    get_location,
    may_work_stores,
)
from hms_app.services.inventory.ledger import CHARGE_SOURCE
from hms_app.services.permissions import Actor

MAX_PATIENTS = 60
ISSUE_KINDS = ("issue_patient", "issue_department")


@dataclass(frozen=True)
class WardPatient:
    id: int
    name: str
    mrn: str
    ward: str
    bed: str


def ward_patients(session: Session, *, actor: Actor, location_id: int, query: str = "") -> list[WardPatient]:
    """The patients admitted now to the ward(s) a store serves: its own ward, or its department's."""
    may_work_stores(actor, ISSUE)
    location = get_location(session, location_id)
    authorize_store(session, actor, location, ISSUE)
    served = []
    if location.ward_id is not None:
        served.append(Ward.id == location.ward_id)
    if location.department_id is not None:
        served.append(Ward.department_id == location.department_id)
    if not served:
        return []
    conditions = [Admission.status == "active", or_(*served)]
    text = " ".join(str(query or "").split())[:60]
    if text:
        like = f"%{text.replace('%', '').replace('_', '')}%"
        conditions.append(
            or_(Patient.mrn.ilike(like), Patient.family_name.ilike(like), Patient.given_name.ilike(like))
        )
    rows = session.execute(
        select(Patient.id, Patient.given_name, Patient.family_name, Patient.mrn, Ward.name, Bed.label)
        .select_from(Admission)
        .join(Patient, Patient.id == Admission.patient_id)
        .join(Ward, Ward.id == Admission.ward_id)
        .outerjoin(
            BedAssignment, and_(BedAssignment.admission_id == Admission.id, BedAssignment.to_at.is_(None))
        )
        .outerjoin(Bed, Bed.id == BedAssignment.bed_id)
        .where(*conditions)
        .order_by(Ward.name, Bed.label, Patient.family_name)
        .limit(MAX_PATIENTS)
    ).all()
    patients = [
        WardPatient(pid, f"{given} {family}", mrn, ward, bed or "")
        for pid, given, family, mrn, ward, bed in rows
    ]
    audit_stock(
        session,
        actor,
        "inventory.ward_patients",
        target_type="stock_location",
        target_id=location.id,
        detail=f"{location.name}: {counted(len(patients), 'inpatient')} shown",
    )
    session.commit()
    return patients


@dataclass(frozen=True)
class IssueLine:
    move_id: int
    moved_at: datetime
    item_id: int
    item: str
    base_unit: str
    lot: str
    quantity: int  # base units issued (positive)
    returned: int
    patient_id: int | None
    patient: str
    mrn: str
    department: str
    reason: str
    moved_by: str
    charge_id: int | None
    charge_code: str
    charge_cents: int  # quantity x unit price, before tax
    charge_status: str


def recent_issues(
    session: Session,
    *,
    actor: Actor,
    location_id: int,
    patient_id: int | None = None,
    move_ids: list[int] | None = None,
    limit: int = 15,
) -> list[IssueLine]:
    """A store's latest issues (to one patient, or the moves named), newest first, each with what
    was returned of it and the charge it posted."""
    may_work_stores(actor, ISSUE)
    location = get_location(session, location_id, active=False)
    authorize_store(session, actor, location, ISSUE)
    issue = StockMove.__table__.alias("issue")
    back = StockMove.__table__.alias("back")
    returned = (
        select(func.coalesce(func.sum(back.c.quantity), 0))
        .where(back.c.kind == "return", back.c.reference == literal("issue ") + cast(issue.c.id, String))
        .scalar_subquery()
    )
    conditions = [issue.c.location_id == location.id, issue.c.kind.in_(ISSUE_KINDS)]
    if patient_id is not None:
        conditions.append(issue.c.patient_id == patient_id)
    if move_ids:
        conditions.append(issue.c.id.in_(move_ids[:50]))
    rows = session.execute(
        select(
            issue.c.id,
            issue.c.moved_at,
            issue.c.item_id,
            issue.c.quantity,
            issue.c.patient_id,
            issue.c.reason,
            issue.c.moved_by,
            StockItem.name.label("item"),
            StockItem.base_unit,
            StockLot.lot_number,
            Patient.given_name,
            Patient.family_name,
            Patient.mrn,
            Department.name.label("department"),
            ChargeItem.id.label("charge_id"),
            ChargeItem.code.label("charge_code"),
            (ChargeItem.quantity * ChargeItem.unit_price_cents).label("charge_cents"),
            ChargeItem.status.label("charge_status"),
            returned.label("returned"),
        )
        .select_from(issue)
        .join(StockItem, StockItem.id == issue.c.item_id)
        .join(StockLot, StockLot.id == issue.c.lot_id)
        .outerjoin(Patient, Patient.id == issue.c.patient_id)
        .outerjoin(Department, Department.id == issue.c.department_id)
        .outerjoin(
            ChargeItem, and_(ChargeItem.source_type == CHARGE_SOURCE, ChargeItem.source_id == issue.c.id)
        )
        .where(*conditions)
        .order_by(issue.c.moved_at.desc(), issue.c.id.desc())
        .limit(max(1, min(int(limit), 50)))
    ).all()
    lines = [
        IssueLine(
            move_id=r.id,
            moved_at=r.moved_at,
            item_id=r.item_id,
            item=r.item,
            base_unit=r.base_unit,
            lot="" if r.lot_number == UNTRACKED_LOT else r.lot_number,
            quantity=-r.quantity,
            returned=int(r.returned),
            patient_id=r.patient_id,
            patient=f"{r.given_name} {r.family_name}" if r.given_name else "",
            mrn=r.mrn or "",
            department=r.department or "",
            reason=r.reason or "",
            moved_by=r.moved_by,
            charge_id=r.charge_id,
            charge_code=r.charge_code or "",
            charge_cents=int(r.charge_cents or 0),
            charge_status=r.charge_status or "",
        )
        for r in rows
    ]
    patients = {line.patient_id for line in lines if line.patient_id}
    if patients:
        audit_stock(
            session,
            actor,
            "inventory.issues_read",
            patient_id=next(iter(patients)) if len(patients) == 1 else None,
            target_type="stock_location",
            target_id=location.id,
            detail=f"{location.name}: {counted(len(lines), 'issue')} to {counted(len(patients), 'patient')}",
        )
        session.commit()
    return lines
