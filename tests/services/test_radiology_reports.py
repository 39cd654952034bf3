"""Imaging reports as a radiologist, a clinician and an auditor see them: a draft starts from the
procedure's template and is the radiologist's alone; signing needs an impression; preliminary then
final, and a final report is locked (its text never changes; an addendum is kept beside it); a
critical finding raises the laboratory loop's alert to the ordering physician in the same
transaction; the exam is charged once; other roles, cancelled orders and orders without images are
refused."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from hms_app.errors import Conflict, Forbidden, NotFound, ValidationError
from hms_app.models.billing import ChargeItem, ChargeItemDefinition
from hms_app.models.laboratory import CriticalAlert
from hms_app.models.organization import Department
from hms_app.models.radiology import ImagingOrder, ImagingProcedure, ImagingReport
from hms_app.models.security import AuditEvent
from hms_app.services.laboratory.critical import acknowledge_alert
from hms_app.services.radiology.reports import add_addendum, report_of, save_draft, sign_report
from tests.services.lab_world import _patient, role_actor, years_ago

TEMPLATE = "Brain parenchyma:\nVentricles:\nSkull:"


@pytest.fixture
def world(session):
    rad = Department(code="RAD", name="Radiology", kind="diagnostic")
    gen = Department(code="GEN", name="General Medicine")
    session.add_all([rad, gen])
    session.flush()
    session.add(
        ChargeItemDefinition(code="IMG-CT-HEAD", name="CT head", category="imaging", price_cents=18000)
    )
    procedure = ImagingProcedure(
        code="IMG-CT-HEAD", name="CT head without contrast", modality="CT", body_part="HEAD",
        charge_code="IMG-CT-HEAD", report_template=TEMPLATE,
    )  # fmt: skip
    session.add(procedure)
    session.flush()
    world = {
        "procedure": procedure.id,
        "patient": _patient(session, "Rae", "Diology", "female", years_ago(60)),
        "other": _patient(session, "Otto", "Other", "male", years_ago(40)),
        "physician": role_actor(session, "dr.order", "physician", gen.id),
        "radiologist": role_actor(session, "dr.read", "radiologist", rad.id),
        "radiographer": role_actor(session, "rad.tech", "radiographer", rad.id),
        "nurse": role_actor(session, "nurse.w", "nurse", gen.id),
        "receptionist": role_actor(session, "desk.r", "receptionist", gen.id),
    }
    session.commit()
    return world


def an_order(session, world, status="images_received", accession="ACC00000001") -> int:
    order = ImagingOrder(
        accession=accession, patient_id=world["patient"], procedure_id=world["procedure"],
        clinical_question="Fall, on warfarin: bleed?", status=status,
        ordered_by_id=world["physician"].user_id, ordered_by="dr.order",
    )  # fmt: skip
    session.add(order)
    session.commit()
    return order.id


def charges(session) -> list[tuple[str, str, int]]:
    session.expire_all()
    return [(c.code, c.source_type, c.source_id) for c in session.execute(select(ChargeItem)).scalars()]


def test_a_draft_starts_from_the_template_and_is_the_radiologists_alone(session, world):
    order_id = an_order(session, world)
    view = report_of(session, actor=world["radiologist"], order_id=order_id)
    assert view.status == "none" and view.findings == TEMPLATE
    save_draft(session, actor=world["radiologist"], order_id=order_id, findings="Left SDH.", impression="")
    assert report_of(session, actor=world["radiologist"], order_id=order_id).findings == "Left SDH."
    seen = report_of(session, actor=world["physician"], order_id=order_id)
    assert seen.status == "none" and seen.findings == "" and seen.impression == ""


def test_preliminary_then_final_locks_the_report_and_charges_once(session, world):
    order_id = an_order(session, world)
    with pytest.raises(ValidationError, match="impression") as missing:
        sign_report(
            session, actor=world["radiologist"], order_id=order_id, findings="x", impression=" ", final=False
        )
    assert missing.value.field == "impression"
    prelim = sign_report(
        session, actor=world["radiologist"], order_id=order_id, findings="Thin SDH.", impression="Small SDH.",
        final=False,
    )  # fmt: skip
    assert prelim.status == "preliminary" and prelim.order_status == "preliminary"
    assert charges(session) == [("IMG-CT-HEAD", "imaging", order_id)]
    final = sign_report(
        session, actor=world["radiologist"], order_id=order_id, findings="Thin left SDH, 4 mm.",
        impression="Small acute left SDH.", final=True,
    )  # fmt: skip
    assert final.status == "final" and final.order_status == "final" and final.final_at is not None
    assert final.released_at > final.final_at
    assert charges(session) == [("IMG-CT-HEAD", "imaging", order_id)]  # charged once
    for attempt in (
        lambda: save_draft(
            session, actor=world["radiologist"], order_id=order_id, findings="changed", impression="x"
        ),
        lambda: sign_report(
            session,
            actor=world["radiologist"],
            order_id=order_id,
            findings="changed",
            impression="x",
            final=True,
        ),
    ):
        with pytest.raises(Conflict, match="final: add an addendum"):
            attempt()
    session.expire_all()
    report = session.execute(select(ImagingReport)).scalar_one()
    assert report.findings == "Thin left SDH, 4 mm." and report.signed_by == "dr.read"
    actions = [
        a
        for (a,) in session.execute(
            select(AuditEvent.action).where(AuditEvent.action.like("imaging.report_%"))
        )
    ]
    assert "imaging.report_preliminary" in actions and "imaging.report_final" in actions


def test_an_addendum_keeps_the_original(session, world):
    order_id = an_order(session, world)
    with pytest.raises(Conflict, match="not final"):
        add_addendum(session, actor=world["radiologist"], order_id=order_id, text="More")
    sign_report(
        session, actor=world["radiologist"], order_id=order_id, findings="F", impression="I", final=True
    )
    with pytest.raises(ValidationError, match="Write the addendum"):
        add_addendum(session, actor=world["radiologist"], order_id=order_id, text="   ")
    view = add_addendum(
        session, actor=world["radiologist"], order_id=order_id, text="Compared with MRI: unchanged."
    )
    assert view.findings == "F" and view.impression == "I"
    assert [(a.text, a.signed_by) for a in view.addenda] == [("Compared with MRI: unchanged.", "dr.read")]


def test_a_critical_finding_goes_to_the_ordering_physician_through_the_lab_loop(session, world):
    order_id = an_order(session, world)
    sign_report(
        session, actor=world["radiologist"], order_id=order_id, findings="Large SDH with midline shift.",
        impression="Acute subdural haematoma with midline shift.", final=False,
        critical_finding="Acute subdural haematoma with midline shift",
    )  # fmt: skip
    alert = session.execute(select(CriticalAlert)).scalar_one()
    assert (alert.source_type, alert.patient_id, alert.recipient_id) == (
        "imaging", world["patient"], world["physician"].user_id,
    )  # fmt: skip
    assert "subdural haematoma" in alert.summary and alert.status == "open"
    with pytest.raises(ValidationError, match="repeat the finding"):
        acknowledge_alert(session, actor=world["physician"], alert_id=alert.id, read_back="ok thanks")
    acknowledge_alert(
        session, actor=world["physician"], alert_id=alert.id, read_back="Subdural haematoma, shift"
    )
    session.expire_all()
    assert session.get(CriticalAlert, alert.id).status == "acknowledged"


def test_orders_that_cannot_be_reported(session, world):
    for status, message in (("scheduled", "no images yet"), ("cancelled", "was cancelled")):
        order_id = an_order(session, world, status=status, accession=f"ACC-{status}"[:16])
        with pytest.raises(Conflict, match=message):
            sign_report(
                session,
                actor=world["radiologist"],
                order_id=order_id,
                findings="",
                impression="I",
                final=True,
            )
    with pytest.raises(NotFound):
        report_of(session, actor=world["radiologist"], order_id=99999)
    with pytest.raises(ValidationError):
        report_of(session, actor=world["radiologist"], order_id="1 OR 1=1")


def test_other_roles_are_refused_and_nothing_is_written(session, world):
    order_id = an_order(session, world)
    for role in ("physician", "radiographer", "nurse", "receptionist"):
        with pytest.raises(Forbidden):
            sign_report(
                session, actor=world[role], order_id=order_id, findings="F", impression="I", final=True
            )
        with pytest.raises(Forbidden):
            save_draft(session, actor=world[role], order_id=order_id, findings="F", impression="I")
    with pytest.raises(Forbidden):
        report_of(session, actor=world["receptionist"], order_id=order_id)
    assert session.execute(select(func.count(ImagingReport.id))).scalar_one() == 0
    assert charges(session) == []


def test_the_portal_shows_the_patient_their_own_final_reports_after_the_delay(session, world):
    from datetime import timedelta

    from hms_app.clock import held_at, utcnow
    from hms_app.services.radiology.reports import PORTAL_DELAY, portal_reports
    from tests.services.lab_world import portal_actor

    order_id = an_order(session, world)
    patient = portal_actor(world["patient"])
    sign_report(
        session, actor=world["radiologist"], order_id=order_id, findings="F", impression="I", final=False
    )
    later = utcnow() + PORTAL_DELAY + timedelta(minutes=1)
    with held_at(later):
        assert portal_reports(session, actor=patient) == []  # preliminary: not for the portal
    sign_report(
        session,
        actor=world["radiologist"],
        order_id=order_id,
        findings="F",
        impression="No bleed.",
        final=True,
    )
    add_addendum(session, actor=world["radiologist"], order_id=order_id, text="Reviewed again: no change.")
    assert portal_reports(session, actor=patient) == []  # final, not released yet
    with held_at(later + timedelta(minutes=5)):
        (shown,) = portal_reports(session, actor=patient)
        assert (shown.procedure, shown.impression, shown.addenda) == (
            "CT head without contrast", "No bleed.", ("Reviewed again: no change.",)
        )  # fmt: skip
        assert portal_reports(session, actor=portal_actor(world["other"])) == []
    with pytest.raises(Forbidden):
        portal_reports(session, actor=world["physician"])


def test_imaging_turnaround_medians_per_stage(session, world):
    from datetime import timedelta

    from hms_app.analytics.radiology import imaging_turnaround_frame
    from hms_app.clock import utcnow
    from hms_app.models.radiology import ImagingStudy

    start = utcnow() - timedelta(days=2)
    # Three orders: images after 30, 60 and 90 min; reports 20, 40 (preliminary then final at 100) min later.
    for index, (images, first, final) in enumerate(((30, 20, 20), (60, 40, 100), (90, None, None))):
        order_id = an_order(session, world, accession=f"ACC0000010{index}")
        order = session.get(ImagingOrder, order_id)
        order.ordered_at = start + timedelta(hours=index)
        images_at = order.ordered_at + timedelta(minutes=images)
        session.add(
            ImagingStudy(
                study_uid=f"1.2.3.{index}",
                order_id=order_id,
                patient_id=world["patient"],
                received_at=images_at,
            )
        )
        if first is not None:
            session.add(
                ImagingReport(
                    order_id=order_id, patient_id=world["patient"], status="final", findings="F", impression="I",
                    drafted_by="dr.read", signed_by_id=world["radiologist"].user_id, signed_by="dr.read",
                    preliminary_at=images_at + timedelta(minutes=first) if final != first else None,
                    final_at=images_at + timedelta(minutes=final),
                )
            )  # fmt: skip
    cancelled = session.get(
        ImagingOrder, an_order(session, world, status="cancelled", accession="ACC00000199")
    )
    cancelled.ordered_at = start
    session.commit()
    frame = imaging_turnaround_frame(session, since=start - timedelta(hours=1), until=utcnow())
    got = {row.stage: (row.median_minutes, row.count) for row in frame.itertuples()}
    assert got == {
        "Order to images": (60.0, 3),
        "Images to first report": (30.0, 2),
        "Images to final report": (60.0, 2),
        "Order to final report": (105.0, 2),  # 50 and 160 minutes
    }
