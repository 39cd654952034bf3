"""What the laboratory's screens read: the worklist, a patient's cumulative results, trends and
pending orders, the portal's results and the turnaround figures; and (re-exported from ``rows``)
the row types every laboratory service hands out.

Every list is paged and filtered in SQL and every figure is aggregated in SQL: a screen holds one
page of rows, never a table.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from hms_app.analytics.laboratory import turnaround_frame
from hms_app.cds.lab_flags import age_in_days, format_number, select_range
from hms_app.clock import format_local, utcnow
from hms_app.errors import Forbidden, ValidationError
from hms_app.models.laboratory import (
    PRIORITIES,
    REJECTION_REASONS,
    LabOrder,
    LabRequest,
    LabResult,
    LabTest,
    Specimen,
)
from hms_app.models.patients import Patient
from hms_app.services.audit import audit_read
from hms_app.services.laboratory.common import (
    LIVE_ORDER_STATUSES,
    PORTAL,
    READ,
    RELEASED_STATUSES,
    collection_day,
    get_patient,
    get_test,
    patient_name,
    priority_rank,
    test_ranges,
)
from hms_app.services.laboratory.rows import (  # noqa: F401 - re-exported: the row types live with the views
    Cell,
    Cumulative,
    CumulativeRow,
    OrderRow,
    PlacedOrder,
    PortalResult,
    RangeRow,
    ResultRow,
    SpecimenPage,
    SpecimenRow,
    TestChoice,
    TestDetail,
    TestPage,
    TestRow,
    TrendPoint,
    TurnaroundStage,
    WorklistPage,
    WorklistRow,
)
from hms_app.services.permissions import Actor, authorize

WORKLIST_STATUSES = {
    "open": "Received, waiting for a result",
    "to_verify": "Resulted, waiting for verification",
    "collect": "Ordered, waiting for collection",
    "all": "All",
}
_STATUS_OF = {"open": ("received",), "to_verify": ("resulted",), "collect": ("ordered",)}
MAX_PAGE = 200
MAX_CHART_ROWS = 200
MAX_TREND_POINTS = 1000
MAX_PORTAL_ROWS = 500
MAX_COLUMNS = 50


def _like(text: str) -> str:
    return "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _paging(page, size, default: int) -> tuple[int, int]:
    page = max(0, page if isinstance(page, int) and not isinstance(page, bool) else 0)
    size = size if isinstance(size, int) and not isinstance(size, bool) else default
    return page, max(1, min(size, MAX_PAGE))


def _shown(value_numeric, value_text, decimals: int) -> str:
    return format_number(value_numeric, decimals) if value_numeric is not None else (value_text or "")


def worklist(
    session: Session,
    *,
    actor: Actor,
    status: str = "open",
    priority: str = "",
    query: str = "",
    page: int = 0,
    page_size: int = 50,
) -> WorklistPage:
    """One page of the laboratory's worklist (``lab.read``), STAT first then oldest first.

    ``status``: "open" (received, no result yet), "to_verify" (resulted, not yet verified),
    "collect" (ordered, specimen not yet collected) or "all" (every order not cancelled);
    ``priority`` one of routine/urgent/stat or "" for all; ``query`` matches the accession,
    the request reference, the patient's MRN or name, or the test's code or short name.
    A work board: not audited on every refresh (like the clinic and ward boards)."""
    authorize(actor, READ)
    if status not in WORKLIST_STATUSES:
        raise ValidationError("Choose a status from the list.", field="status")
    priority = str(priority or "").strip().lower()
    if priority and priority not in PRIORITIES:
        raise ValidationError("Choose a priority from the list.", field="priority")
    page, page_size = _paging(page, page_size, 50)
    conditions = [
        LabOrder.status.in_(_STATUS_OF[status]) if status in _STATUS_OF else LabOrder.status != "cancelled"
    ]
    if priority:
        conditions.append(LabOrder.priority == priority)
    text = " ".join(str(query or "").split())[:60]
    if text:
        pattern = _like(text)
        conditions.append(
            or_(
                func.lower(Specimen.accession).like(pattern, escape="\\"),
                func.lower(LabRequest.reference).like(pattern, escape="\\"),
                func.lower(Patient.mrn).like(pattern, escape="\\"),
                func.lower(Patient.family_name).like(pattern, escape="\\"),
                func.lower(Patient.given_name).like(pattern, escape="\\"),
                func.lower(LabTest.code).like(pattern, escape="\\"),
                func.lower(LabTest.short_name).like(pattern, escape="\\"),
            )
        )
    joined = (
        select(LabOrder.id)
        .join(LabRequest, LabRequest.id == LabOrder.request_id)
        .join(Patient, Patient.id == LabOrder.patient_id)
        .join(LabTest, LabTest.id == LabOrder.test_id)
        .outerjoin(Specimen, Specimen.id == LabOrder.specimen_id)
    )
    counted = select(func.count(LabOrder.id)).where(*conditions)
    if text:
        counted = select(func.count()).select_from(joined.where(*conditions).subquery())
    total = session.execute(counted).scalar_one()
    # The page's ids first (sorted on the order table alone), then their details: the sort never
    # drags the joined columns of every open order along.
    page_ids = (joined.where(*conditions) if text else select(LabOrder.id).where(*conditions)).order_by(
        priority_rank(LabOrder.priority), LabOrder.ordered_at, LabOrder.id
    )
    ids = list(session.execute(page_ids.offset(page * page_size).limit(page_size)).scalars())
    if not ids:
        return WorklistPage(rows=[], total=int(total))
    current = aliased(LabResult)
    details = {
        row.order_id: row
        for row in session.execute(
            select(
                LabOrder.id.label("order_id"),
                LabRequest.reference,
                Specimen.accession,
                Specimen.received_at,
                LabOrder.patient_id,
                Patient.family_name,
                Patient.given_name,
                Patient.mrn,
                LabTest.code,
                LabTest.short_name,
                LabTest.unit,
                LabTest.result_type,
                LabTest.choices,
                LabTest.decimals,
                LabOrder.priority,
                LabOrder.status,
                LabOrder.ordered_at,
                current.id.label("result_id"),
                current.value_numeric,
                current.value_text,
                current.flag,
                current.entered_by,
            )
            .join(LabRequest, LabRequest.id == LabOrder.request_id)
            .join(Patient, Patient.id == LabOrder.patient_id)
            .join(LabTest, LabTest.id == LabOrder.test_id)
            .outerjoin(Specimen, Specimen.id == LabOrder.specimen_id)
            .outerjoin(current, and_(current.order_id == LabOrder.id, current.superseded_by_id.is_(None)))
            .where(LabOrder.id.in_(ids))
        ).all()
    }
    rows = []
    for order_id in ids:
        r = details[order_id]
        rows.append(
            WorklistRow(
                order_id=r.order_id,
                request_reference=r.reference,
                accession=r.accession or "",
                patient_id=r.patient_id,
                patient_name=patient_name(r.family_name, r.given_name),
                mrn=r.mrn,
                test_code=r.code,
                short_name=r.short_name,
                unit=r.unit or "",
                result_type=r.result_type,
                choices=[c for c in (r.choices or "").split("|") if c],
                priority=r.priority,
                status=r.status,
                ordered_at=r.ordered_at,
                received_at=r.received_at,
                result_id=r.result_id,
                value=_shown(r.value_numeric, r.value_text, r.decimals),
                flag=r.flag or "",
                entered_by=r.entered_by or "",
            )
        )
    return WorklistPage(rows=rows, total=int(total))


def _released(patient_id: int):
    return (
        LabResult.patient_id == patient_id,
        LabResult.status.in_(RELEASED_STATUSES),
        LabResult.superseded_by_id.is_(None),
    )


def cumulative(
    session: Session, *, actor: Actor, patient_id: int, page: int = 0, columns: int = 10
) -> Cumulative:
    """A patient's released results as a cumulative table (``lab.read``): one row per test (by
    name), one column per collection time, newest first, ``columns`` times per page. Audited."""
    authorize(actor, READ, patient_id=patient_id)
    patient = get_patient(session, patient_id)
    page = max(0, page if isinstance(page, int) and not isinstance(page, bool) else 0)
    columns = max(
        1, min(columns if isinstance(columns, int) and not isinstance(columns, bool) else 10, MAX_COLUMNS)
    )
    collected = func.coalesce(Specimen.collected_at, LabResult.resulted_at)
    base = (
        select(collected.label("at"))
        .select_from(LabResult)
        .join(LabOrder, LabOrder.id == LabResult.order_id)
        .outerjoin(Specimen, Specimen.id == LabOrder.specimen_id)
        .where(*_released(patient.id))
        .distinct()
    )
    total_times = session.execute(select(func.count()).select_from(base.subquery())).scalar_one()
    times = list(
        session.execute(base.order_by(collected.desc()).offset(page * columns).limit(columns)).scalars()
    )
    rows: list[CumulativeRow] = []
    if times:
        found = session.execute(
            select(
                LabResult.id,
                LabResult.test_id,
                LabResult.value_numeric,
                LabResult.value_text,
                LabResult.flag,
                LabResult.reference_text,
                LabResult.unit,
                collected.label("at"),
                LabTest.code,
                LabTest.name,
                LabTest.short_name,
                LabTest.decimals,
                LabTest.unit.label("test_unit"),
            )
            .join(LabOrder, LabOrder.id == LabResult.order_id)
            .outerjoin(Specimen, Specimen.id == LabOrder.specimen_id)
            .join(LabTest, LabTest.id == LabResult.test_id)
            .where(*_released(patient.id), collected.between(times[-1], times[0]))
            .order_by(LabTest.name, LabResult.id)
        ).all()
        column_of = {at: n for n, at in enumerate(times)}
        by_test: dict[int, dict] = {}
        for r in found:
            if r.at not in column_of:
                continue  # between two shown times but on another page: not possible, kept for safety
            entry = by_test.setdefault(
                r.test_id,
                {"row": r, "cells": [Cell("", "", None)] * len(times), "newest": None},
            )
            n = column_of[r.at]
            entry["cells"][n] = Cell(_shown(r.value_numeric, r.value_text, r.decimals), r.flag or "", r.id)
            if entry["newest"] is None or n < entry["newest"][0]:
                entry["newest"] = (n, r.reference_text or "", r.unit or r.test_unit or "")
        for entry in by_test.values():
            r = entry["row"]
            rows.append(
                CumulativeRow(
                    test_id=r.test_id,
                    code=r.code,
                    short_name=r.short_name,
                    unit=entry["newest"][2],
                    reference_text=entry["newest"][1],
                    cells=list(entry["cells"]),
                )
            )
    audit_read(
        session,
        actor,
        "lab.cumulative",
        patient_id=patient.id,
        detail=f"page {page}: {len(times)} times, {len(rows)} tests",
    )
    return Cumulative(times=[format_local(t) for t in times], rows=rows, total_times=int(total_times))


def trend(session: Session, *, actor: Actor, patient_id: int, test_id: int) -> list[TrendPoint]:
    """A patient's released numeric results of one test, oldest first (the latest 1,000), with the
    normal range that applied to the patient's age on each day (``lab.read``). Audited."""
    authorize(actor, READ, patient_id=patient_id)
    patient = get_patient(session, patient_id)
    test = get_test(session, test_id)
    collected = func.coalesce(Specimen.collected_at, LabResult.resulted_at)
    points = session.execute(
        select(collected.label("at"), LabResult.value_numeric, LabResult.flag)
        .join(LabOrder, LabOrder.id == LabResult.order_id)
        .outerjoin(Specimen, Specimen.id == LabOrder.specimen_id)
        .where(*_released(patient.id), LabResult.test_id == test.id, LabResult.value_numeric.is_not(None))
        .order_by(collected.desc(), LabResult.id.desc())
        .limit(MAX_TREND_POINTS)
    ).all()
    ranges = test_ranges(session, test.id)
    result = []
    for at, value, flag in reversed(points):
        day = collection_day(at)
        limits = select_range(ranges, sex=patient.sex, age_days=age_in_days(patient.birth_date, day))
        result.append(
            TrendPoint(
                at=at,
                value=float(value),
                flag=flag or "",
                low=float(limits.low) if limits is not None and limits.low is not None else None,
                high=float(limits.high) if limits is not None and limits.high is not None else None,
            )
        )
    audit_read(
        session,
        actor,
        "lab.trend",
        patient_id=patient.id,
        target_type="lab_test",
        target_id=test.id,
        detail=test.code,
    )
    return result


def patient_orders(session: Session, *, actor: Actor, patient_id: int) -> list[OrderRow]:
    """The chart's pending orders (``lab.read``): ordered, collected, received or resulted but not
    yet released, newest first (at most 200), with the rejection reason when the specimen was
    rejected and a new one waits to be collected. Audited."""
    authorize(actor, READ, patient_id=patient_id)
    patient = get_patient(session, patient_id)
    previous = aliased(Specimen)
    found = session.execute(
        select(
            LabOrder.id,
            LabRequest.reference,
            LabTest.name,
            LabTest.short_name,
            LabOrder.priority,
            LabOrder.status,
            LabOrder.ordered_at,
            Specimen.id.label("specimen_id"),
            Specimen.accession,
            Specimen.status.label("specimen_status"),
            previous.rejection_reason,
            previous.rejection_note,
        )
        .join(LabRequest, LabRequest.id == LabOrder.request_id)
        .join(LabTest, LabTest.id == LabOrder.test_id)
        .outerjoin(Specimen, Specimen.id == LabOrder.specimen_id)
        .outerjoin(previous, previous.id == Specimen.replaces_id)
        .where(LabOrder.patient_id == patient.id, LabOrder.status.in_(LIVE_ORDER_STATUSES))
        .order_by(LabOrder.ordered_at.desc(), LabOrder.id)
        .limit(MAX_CHART_ROWS)
    ).all()
    rows = []
    for r in found:
        reason = ""
        if r.rejection_reason and r.specimen_status == "pending":
            reason = REJECTION_REASONS.get(r.rejection_reason, r.rejection_reason)
            if r.rejection_note:
                reason = f"{reason}: {r.rejection_note}"
        rows.append(
            OrderRow(
                order_id=r.id,
                request_reference=r.reference,
                test_name=r.name,
                short_name=r.short_name,
                priority=r.priority,
                status=r.status,
                ordered_at=r.ordered_at,
                specimen_id=r.specimen_id,
                accession=r.accession or "",
                specimen_status=r.specimen_status or "",
                rejection_reason=reason,
            )
        )
    audit_read(session, actor, "lab.orders_read", patient_id=patient.id, detail=f"{len(rows)} pending orders")
    return rows


def portal_results(session: Session, *, actor: Actor) -> list[PortalResult]:
    """The portal user's own released results whose portal delay has passed (``portal.self``),
    newest first (at most 500). Another patient's results can never be asked for: the patient is
    the signed-in one. Audited."""
    authorize(actor, PORTAL)
    if actor.patient_id is None:
        raise Forbidden("Only a patient signed in to the portal has portal results.")
    collected = func.coalesce(Specimen.collected_at, LabResult.resulted_at)
    found = session.execute(
        select(
            collected.label("at"),
            LabTest.name,
            LabTest.decimals,
            LabResult.value_numeric,
            LabResult.value_text,
            LabResult.unit,
            LabResult.flag,
            LabResult.reference_text,
        )
        .join(LabOrder, LabOrder.id == LabResult.order_id)
        .outerjoin(Specimen, Specimen.id == LabOrder.specimen_id)
        .join(LabTest, LabTest.id == LabResult.test_id)
        .where(
            *_released(actor.patient_id),
            LabResult.portal_visible_from.is_not(None),
            LabResult.portal_visible_from <= utcnow(),
        )
        .order_by(collected.desc(), LabTest.name)
        .limit(MAX_PORTAL_ROWS)
    ).all()
    rows = [
        PortalResult(
            at=r.at,
            test_name=r.name,
            value=_shown(r.value_numeric, r.value_text, r.decimals),
            unit=r.unit or "",
            flag=r.flag or "",
            reference_text=r.reference_text or "",
        )
        for r in found
    ]
    audit_read(
        session, actor, "lab.portal_results", patient_id=actor.patient_id, detail=f"{len(rows)} results"
    )
    return rows


def turnaround(session: Session, *, actor: Actor, since: datetime, until: datetime) -> list[TurnaroundStage]:
    """Median minutes of each stage (order→collection, collection→receipt, receipt→result,
    result→verification, and order→verification overall) for orders placed in [since, until)
    (``lab.read`` or ``analytics.read``). Definitions: ``hms_app.analytics.laboratory``."""
    if actor is not None and actor.can("analytics.read"):
        authorize(actor, "analytics.read")
    else:
        authorize(actor, READ)
    if (
        not isinstance(since, datetime)
        or not isinstance(until, datetime)
        or since.tzinfo is None
        or until.tzinfo is None
    ):
        raise ValidationError("Choose the period (two moments with a time zone).", field="since")
    if until <= since:
        raise ValidationError("The period must end after it starts.", field="until")
    frame = turnaround_frame(session, since=since, until=until)
    return [
        TurnaroundStage(
            stage=row.stage,
            median_minutes=None if pd.isna(row.median_minutes) else float(row.median_minutes),
            count=int(row.count),
        )
        for row in frame.itertuples()
    ]


__all__ = [
    "Cell",
    "Cumulative",
    "CumulativeRow",
    "OrderRow",
    "PlacedOrder",
    "PortalResult",
    "RangeRow",
    "ResultRow",
    "SpecimenPage",
    "SpecimenRow",
    "TestChoice",
    "TestDetail",
    "TestPage",
    "TestRow",
    "TrendPoint",
    "TurnaroundStage",
    "WorklistPage",
    "WorklistRow",
]
