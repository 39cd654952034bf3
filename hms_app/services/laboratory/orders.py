"""Ordering tests: a request of one or more tests and panels for a patient, its orders (a panel
expands to one order per member test, each naming the panel) and its specimens (one per distinct
container), with a warning when the same test was ordered within its duplicate window.

Decisions written down:

* a test chosen both on its own and inside a chosen panel is ordered once, as the panel's member;
* the duplicate check looks at every test that would be ordered (a panel's members included)
  against this patient's orders of that test placed within the test's ``duplicate_window_hours``
  and not cancelled; a window of 0 never warns;
* specimens are grouped by (specimen type, container): a CBC and an HbA1c share one EDTA tube, a
  potassium goes in the lithium heparin one;
* the request's department is the encounter's when one is named, else the orderer's own.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from sqlalchemy import select
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.errors import ValidationError
from hms_app.models.emr import Encounter
from hms_app.models.laboratory import LabOrder, LabPanelMember, LabRequest, LabTest, Specimen
from hms_app.models.security import AppUser
from hms_app.services import live
from hms_app.services.laboratory.common import (
    ORDER,
    accessions,
    actor_name,
    as_id,
    as_ids,
    audit_lab,
    check_priority,
    clean_text,
    get_order,
    get_patient,
    request_reference,
)
from hms_app.services.laboratory.rows import PlacedOrder
from hms_app.services.permissions import Actor, authorize

MAX_TESTS = 30


class DuplicateOrderWarning(ValidationError):
    """Some tests were ordered for this patient within their duplicate window; ``warnings`` lists
    them. Placing the order again with ``confirm_duplicates=True`` goes ahead."""

    def __init__(self, warnings: list[str]):
        super().__init__(" ".join(warnings), field="test_ids")
        self.warnings = list(warnings)


def _hours_ago(hours: float) -> str:
    if hours < 1:
        return "less than an hour ago"
    if hours < 48:
        whole = int(hours)
        return f"{whole} hour{'s' if whole != 1 else ''} ago"
    return f"{int(hours // 24)} days ago"


def _expand(session: Session, test_ids: list[int]) -> list[tuple[LabTest, LabTest | None]]:
    """(test, panel it comes with) for every test to order, each test once, in the chosen order."""
    chosen = {t.id: t for t in session.execute(select(LabTest).where(LabTest.id.in_(test_ids))).scalars()}
    missing = [i for i in test_ids if i not in chosen]
    if missing:
        raise ValidationError("One of the chosen tests does not exist.", field="test_ids")
    for test in chosen.values():
        if not test.active:
            raise ValidationError(f"{test.name} can no longer be ordered.", field="test_ids")
    panel_ids = [i for i in test_ids if chosen[i].is_panel]
    members: dict[int, list[LabTest]] = defaultdict(list)
    if panel_ids:
        for panel_id, member in session.execute(
            select(LabPanelMember.panel_id, LabTest)
            .join(LabTest, LabTest.id == LabPanelMember.test_id)
            .where(LabPanelMember.panel_id.in_(panel_ids), LabTest.active.is_(True))
            .order_by(LabPanelMember.panel_id, LabPanelMember.position, LabPanelMember.id)
        ).all():
            members[panel_id].append(member)
    expanded: dict[int, tuple[LabTest, LabTest | None]] = {}
    for test_id in test_ids:  # panels first claim their members, so a single repeat joins the panel
        test = chosen[test_id]
        if test.is_panel:
            if not members[test_id]:
                raise ValidationError(f"{test.name} has no tests in it yet.", field="test_ids")
            for member in members[test_id]:
                expanded.setdefault(member.id, (member, test))
    for test_id in test_ids:
        test = chosen[test_id]
        if not test.is_panel:
            expanded.setdefault(test.id, (test, None))
    return list(expanded.values())


def _duplicates(session: Session, patient_id: int, tests: list[LabTest]) -> list[str]:
    now = utcnow()
    windows = {t.id: t.duplicate_window_hours for t in tests if t.duplicate_window_hours > 0}
    if not windows:
        return []
    earliest = now - timedelta(hours=max(windows.values()))
    latest = {
        test_id: (ordered_at, reference)
        for test_id, ordered_at, reference in session.execute(
            select(LabOrder.test_id, LabOrder.ordered_at, LabRequest.reference)
            .join(LabRequest, LabRequest.id == LabOrder.request_id)
            .where(
                LabOrder.patient_id == patient_id,
                LabOrder.test_id.in_(list(windows)),
                LabOrder.status != "cancelled",
                LabOrder.ordered_at >= earliest,
            )
            .order_by(LabOrder.ordered_at)
        ).all()
    }
    warnings = []
    for test in tests:
        if test.id not in latest:
            continue
        ordered_at, reference = latest[test.id]
        hours = (now - ordered_at).total_seconds() / 3600
        if hours <= windows[test.id]:
            warnings.append(f"{test.short_name} was already ordered {_hours_ago(hours)} ({reference}).")
    return warnings


def duplicate_warnings(session: Session, *, actor: Actor, patient_id: int, test_ids: list[int]) -> list[str]:
    """One sentence per test (a panel's members included) this patient already has an order of
    within the test's duplicate window, not cancelled (``lab.order``)."""
    authorize(actor, ORDER, patient_id=patient_id)
    patient = get_patient(session, patient_id)
    ids = as_ids(test_ids, field="test_ids", label="test", maximum=MAX_TESTS)
    return _duplicates(session, patient.id, [test for test, _panel in _expand(session, ids)])


def place_order(
    session: Session,
    *,
    actor: Actor,
    patient_id: int,
    test_ids: list[int],
    priority: str = "routine",
    clinical_question: str = "",
    fasting: bool = False,
    encounter_id: int | None = None,
    confirm_duplicates: bool = False,
) -> PlacedOrder:
    """Order tests and panels for a patient (``lab.order``): one request, one order per test (a
    panel's members each), one pending specimen per distinct container. Raises
    DuplicateOrderWarning unless ``confirm_duplicates``."""
    authorize(actor, ORDER, patient_id=patient_id)
    patient = get_patient(session, patient_id)
    if not patient.active or patient.deceased_at is not None:
        raise ValidationError(
            "Tests cannot be ordered for an inactive or deceased patient.", field="patient_id"
        )
    ids = as_ids(test_ids, field="test_ids", label="test", maximum=MAX_TESTS)
    priority = check_priority(priority)
    question = clean_text(
        clinical_question, field="clinical_question", label="Clinical question", maximum=300
    )
    department_id = None
    if encounter_id is not None:
        encounter = session.get(Encounter, as_id(encounter_id, field="encounter_id", label="encounter"))
        if encounter is None or encounter.patient_id != patient.id:
            raise ValidationError("That encounter is not this patient's.", field="encounter_id")
        department_id = encounter.department_id
    if department_id is None:
        department_id = session.execute(
            select(AppUser.department_id).where(AppUser.id == actor.user_id)
        ).scalar_one_or_none()
    expanded = _expand(session, ids)
    warnings = _duplicates(session, patient.id, [test for test, _panel in expanded])
    if warnings and not confirm_duplicates:
        raise DuplicateOrderWarning(warnings)
    now = utcnow()
    request = LabRequest(
        reference=request_reference(session),
        patient_id=patient.id,
        encounter_id=encounter_id,
        ordered_by_id=actor.user_id,
        ordered_by=actor_name(actor),
        department_id=department_id,
        ordered_at=now,
        priority=priority,
        clinical_question=question or None,
        fasting=bool(fasting),
    )
    session.add(request)
    session.flush()
    containers = list(dict.fromkeys((test.specimen_type, test.container) for test, _panel in expanded))
    numbers = accessions(session, len(containers))
    specimens = {}
    for (specimen_type, container), accession in zip(containers, numbers, strict=True):
        specimen = Specimen(
            accession=accession,
            request_id=request.id,
            patient_id=patient.id,
            specimen_type=specimen_type,
            container=container,
            status="pending",
        )
        session.add(specimen)
        specimens[(specimen_type, container)] = specimen
    session.flush()
    for test, panel in expanded:
        session.add(
            LabOrder(
                request_id=request.id,
                patient_id=patient.id,
                test_id=test.id,
                panel_id=panel.id if panel is not None else None,
                specimen_id=specimens[(test.specimen_type, test.container)].id,
                priority=priority,
                status="ordered",
                ordered_at=now,
            )
        )
    session.flush()
    codes = ", ".join(test.code for test, _panel in expanded)
    audit_lab(
        session,
        actor,
        "lab.order",
        patient_id=patient.id,
        target_type="lab_request",
        target_id=request.id,
        detail=f"{request.reference} {priority}: {codes}"
        + (f"; duplicates confirmed: {' '.join(warnings)}" if warnings else ""),
    )
    session.commit()
    live.publish("lab", patient.id)
    return PlacedOrder(
        request_id=request.id,
        reference=request.reference,
        specimen_ids=[s.id for s in specimens.values()],
        accessions=[s.accession for s in specimens.values()],
        warnings=warnings,
    )


def cancel_order(session: Session, *, actor: Actor, order_id: int, reason: str) -> None:
    """Cancel an order not yet resulted (``lab.order``), with a reason. A specimen left carrying no
    live order drops off the collection and reception lists; a collected one was already charged
    (billing handles the credit)."""
    authorize(actor, ORDER)
    order = get_order(session, order_id, lock=True)
    authorize(actor, ORDER, patient_id=order.patient_id)
    reason = clean_text(reason, field="reason", label="Reason", maximum=300, required=True)
    if order.status not in ("ordered", "collected", "received"):
        state = "cancelled" if order.status == "cancelled" else "resulted"
        raise ValidationError(f"This order is already {state} and cannot be cancelled.", field="order_id")
    order.status = "cancelled"
    order.cancelled_at = utcnow()
    order.cancelled_by = actor_name(actor)
    order.cancel_reason = reason
    test = session.get(LabTest, order.test_id)
    audit_lab(
        session,
        actor,
        "lab.order_cancelled",
        patient_id=order.patient_id,
        target_type="lab_order",
        target_id=order.id,
        detail=f"{test.code} {test.name}: {reason}",
    )
    session.commit()
    live.publish("lab", order.patient_id)
