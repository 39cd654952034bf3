"""The medication administration record as a nurse and an auditor see it: scheduled doses follow the
order's frequency times within its start and end; a dose is recorded only after the wristband and
the medicine scanned are this patient's and this order's, with the dose and route ordered, inside
its time window (late needs a reason); held, refused and not available need a reason; a dose is
charted once; PRN doses stay within the order's maximum; unverified, sent-back, outpatient and
stopped orders are refused; other roles are refused; late doses are counted for the ward board."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from hms_app.clock import held_at, local_today
from hms_app.errors import Conflict, Forbidden, ValidationError
from hms_app.models.patients import Patient
from hms_app.models.pharmacy import MedicationAdministration
from hms_app.models.security import AuditEvent
from hms_app.services.pharmacy.administration import record_administration
from hms_app.services.pharmacy.changes import stop_order
from hms_app.services.pharmacy.dispensing import dispense_order
from hms_app.services.pharmacy.mar import late_doses, mar, scheduled_doses, shift_of
from hms_app.services.pharmacy.verification import send_back_order, verify_order
from hms_app.settings import get_settings
from tests.services.dispensing_world import build_dispense_world, signed_order
from tests.services.pharmacy_world import engine  # noqa: F401 - the fixture

DAY = local_today() + timedelta(days=1)


def at(hour: int, minute: int = 0, day=DAY) -> datetime:
    """A moment on the hospital's clock."""
    return datetime.combine(day, time(hour, minute), tzinfo=get_settings().tz)


@pytest.fixture
def world(session, engine):  # noqa: F811
    return build_dispense_world(session)


def inpatient_order(session, world, *, patient_id=None, verify=True, **fields) -> int:
    """Paracetamol 1 g QID (08, 12, 16, 20) for 2 days, signed at 06:30 on DAY, verified."""
    data = {"setting": "inpatient", "duration_days": "2"}
    data.update(fields)
    with held_at(at(6, 30)):
        order_id = signed_order(session, world, patient_id=patient_id, **data)
        if verify:
            verify_order(session, actor=world.pharmacist, order_id=order_id)
    return order_id


def mrn(session, patient_id: int) -> str:
    return session.get(Patient, patient_id).mrn


def give(session, world, order_id, moment, *, when=None, patient_id=None, **overrides):
    patient_id = patient_id or world.rx.man
    fields = {
        "outcome": "given",
        "scheduled_at": moment.isoformat() if moment else None,
        "wristband": mrn(session, patient_id),
        "medicine": "RX-APAP-500-TAB",
        "dose": "1",
        "route": "oral",
    }
    fields.update(overrides)
    with held_at(when or moment or at(9)):
        return record_administration(
            session, actor=world.rx.nurse, patient_id=patient_id, order_id=order_id, **fields
        )


def charted(session) -> int:
    return session.execute(select(func.count()).select_from(MedicationAdministration)).scalar_one()


# ---------------------------------------------------------------- the schedule


def test_doses_follow_the_frequency_times_from_the_start_to_the_end(session, world):
    order_id = inpatient_order(session, world)
    from hms_app.models.pharmacy import MedicationOrder

    order = session.get(MedicationOrder, order_id)
    doses = scheduled_doses(order, at(0), at(0, day=DAY + timedelta(days=5)))
    # Signed at 06:30 for two days: QID on DAY and DAY+1, nothing after the end.
    assert [d.astimezone(get_settings().tz).strftime("%d %H") for d in doses] == [
        f"{DAY.day:02d} 08",
        f"{DAY.day:02d} 12",
        f"{DAY.day:02d} 16",
        f"{DAY.day:02d} 20",
        f"{(DAY + timedelta(days=1)).day:02d} 08",
        f"{(DAY + timedelta(days=1)).day:02d} 12",
        f"{(DAY + timedelta(days=1)).day:02d} 16",
        f"{(DAY + timedelta(days=1)).day:02d} 20",
    ]


def test_a_stopped_order_has_no_doses_after_its_stop(session, world):
    order_id = inpatient_order(session, world)
    with held_at(at(13)):
        stop_order(
            session, actor=world.rx.physician, patient_id=world.rx.man, order_id=order_id, reason="Not needed"
        )
    with held_at(at(13, 30)):
        record = mar(session, actor=world.rx.nurse, patient_id=world.rx.man)
    (row,) = record.orders
    assert [(d.scheduled_at.astimezone(get_settings().tz).hour, d.state) for d in row.doses] == [
        (8, "missed"),
        (12, "missed"),
    ]
    assert row.status == "stopped"


def test_prn_and_once_orders(session, world):
    prn = inpatient_order(
        session,
        world,
        frequency="PRN",
        prn="on",
        prn_indication="pain",
        max_doses_per_day="2",
        duration_days="3",
    )
    once = inpatient_order(session, world, frequency="once", duration_days="1")
    from hms_app.models.pharmacy import MedicationOrder

    assert scheduled_doses(session.get(MedicationOrder, prn), at(0), at(23)) == []
    assert scheduled_doses(session.get(MedicationOrder, once), at(0), at(23)) == [at(6, 30)]


def test_shifts_are_day_and_night_by_the_hospital_clock():
    assert shift_of(at(7)).start == at(7) and shift_of(at(7)).end == at(19)
    assert shift_of(at(6, 59)).start == at(19, day=DAY - timedelta(days=1))
    assert shift_of(at(23, 30)).start == at(19) and shift_of(at(23, 30)).label.startswith("Night")
    assert shift_of(at(18, 59)).label.startswith("Day")


# ---------------------------------------------------------------- recording with the five rights


def test_a_dose_given_with_both_scans_is_on_the_mar_and_audited(session, world):
    order_id = inpatient_order(session, world)
    done = give(session, world, order_id, at(8), when=at(8, 10))
    assert done.outcome == "given" and done.late_minutes == 0
    with held_at(at(8, 15)):
        record = mar(session, actor=world.rx.nurse, patient_id=world.rx.man)
    states = {d.scheduled_at.astimezone(get_settings().tz).hour: d.state for d in record.orders[0].doses}
    assert states == {8: "given", 12: "later", 16: "later"}
    assert record.orders[0].doses[0].recorded_by == "nurse.rx"
    row = session.execute(select(MedicationAdministration)).scalar_one()
    assert row.wristband_code == mrn(session, world.rx.man) and row.medicine_code == "RX-APAP-500-TAB"
    audit = session.execute(
        select(AuditEvent).where(AuditEvent.action == "medication.administer")
    ).scalar_one()
    assert audit.patient_id == world.rx.man and "given" in audit.detail


def test_the_same_dose_cannot_be_charted_twice(session, world):
    order_id = inpatient_order(session, world)
    give(session, world, order_id, at(8), when=at(8, 5))
    with pytest.raises(Conflict, match="recorded a moment ago"):
        give(session, world, order_id, at(8), when=at(8, 6))
    assert charted(session) == 1


def test_another_patients_wristband_is_refused(session, world):
    order_id = inpatient_order(session, world)
    with pytest.raises(ValidationError, match="Wrong patient") as refused:
        give(session, world, order_id, at(8), wristband=mrn(session, world.rx.woman))
    assert refused.value.field == "wristband"
    with pytest.raises(ValidationError, match="Scan the patient's wristband"):
        give(session, world, order_id, at(8), wristband="  ")
    with pytest.raises(ValidationError, match="not a patient's MRN"):
        give(session, world, order_id, at(8), wristband="NOPE-123")
    assert charted(session) == 0


def test_the_wrong_medicine_or_strength_is_refused(session, world):
    order_id = inpatient_order(session, world)
    with pytest.raises(ValidationError, match="Wrong medicine"):
        give(session, world, order_id, at(8), medicine="RX-MORPH-10-INJ")
    with pytest.raises(ValidationError, match="Wrong strength or form"):
        give(session, world, order_id, at(8), medicine="RX-APAP-120-LIQ")
    with pytest.raises(ValidationError, match="not a medicine in the formulary"):
        give(session, world, order_id, at(8), medicine="1234567890123")
    assert charted(session) == 0


def test_the_wrong_dose_or_route_is_refused(session, world):
    order_id = inpatient_order(session, world)
    with pytest.raises(ValidationError, match="Wrong dose: the order is for 1 g") as wrong:
        give(session, world, order_id, at(8), dose="2")
    assert wrong.value.field == "dose"
    with pytest.raises(ValidationError, match="Wrong route") as wrong:
        give(session, world, order_id, at(8), route="iv")
    assert wrong.value.field == "route"
    with pytest.raises(ValidationError, match="Choose the route"):
        give(session, world, order_id, at(8), route="by magic")
    assert charted(session) == 0


def test_too_early_is_refused_and_late_needs_a_reason(session, world):
    order_id = inpatient_order(session, world)
    with pytest.raises(
        ValidationError, match="Too early: this dose is due at 12:00 and may be given from 11:00"
    ):
        give(session, world, order_id, at(12), when=at(10, 30))
    with pytest.raises(ValidationError, match="late") as late:
        give(session, world, order_id, at(8), when=at(9, 30))
    assert late.value.field == "reason"
    done = give(session, world, order_id, at(8), when=at(9, 30), reason="Patient was in radiology")
    assert done.late_minutes == 90
    assert session.execute(select(MedicationAdministration.late_minutes)).scalar_one() == 90


def test_a_dose_that_is_not_scheduled_is_refused(session, world):
    order_id = inpatient_order(session, world)
    with pytest.raises(ValidationError, match="no dose at that time"):
        give(session, world, order_id, at(9))
    with pytest.raises(ValidationError, match="Choose a dose"):
        give(session, world, order_id, None, scheduled_at="yesterday", when=at(8))


def test_held_refused_and_not_available_need_a_reason_and_no_scans(session, world):
    order_id = inpatient_order(session, world)
    with pytest.raises(ValidationError, match="Say why the dose was held") as missing, held_at(at(7, 30)):
        record_administration(
            session, actor=world.rx.nurse, patient_id=world.rx.man, order_id=order_id,
            outcome="held", scheduled_at=at(8).isoformat(),
        )  # fmt: skip
    assert missing.value.field == "reason"
    with held_at(at(7, 30)):
        record_administration(
            session, actor=world.rx.nurse, patient_id=world.rx.man, order_id=order_id,
            outcome="held", scheduled_at=at(8).isoformat(), reason="Nil by mouth for theatre",
        )  # fmt: skip
        record_administration(
            session, actor=world.rx.nurse, patient_id=world.rx.man, order_id=order_id,
            outcome="refused", scheduled_at=at(12).isoformat(), reason="Declined",
        )  # fmt: skip
    with pytest.raises(ValidationError, match="Choose given, held"):
        give(session, world, order_id, at(16), outcome="lost")
    rows = session.execute(select(MedicationAdministration.outcome, MedicationAdministration.reason)).all()
    assert sorted(rows) == [("held", "Nil by mouth for theatre"), ("refused", "Declined")]


def test_prn_doses_stay_within_the_orders_maximum(session, world):
    order_id = inpatient_order(
        session,
        world,
        frequency="PRN",
        prn="on",
        prn_indication="pain",
        max_doses_per_day="2",
        duration_days="3",
    )
    give(session, world, order_id, None, when=at(9))
    give(session, world, order_id, None, when=at(15))
    with pytest.raises(ValidationError, match="At most 2 doses in 24 hours: 2 given, the last at 15:00"):
        give(session, world, order_id, None, when=at(20))
    with pytest.raises(ValidationError, match="PRN: it has no scheduled doses"):
        give(session, world, order_id, at(8), when=at(20))
    give(session, world, order_id, None, when=at(9, 30, day=DAY + timedelta(days=1)))
    assert charted(session) == 3


def test_orders_that_may_not_be_given(session, world):
    unverified = inpatient_order(session, world, verify=False)
    with pytest.raises(Conflict, match="has not verified"):
        give(session, world, unverified, at(8))
    sent_back = inpatient_order(session, world, verify=False)
    send_back_order(session, actor=world.pharmacist, order_id=sent_back, reason="Dose too high for weight")
    with pytest.raises(Conflict, match="sent order .* back"):
        give(session, world, sent_back, at(8))
    with held_at(at(6, 30)):
        outpatient = signed_order(session, world)
        verify_order(session, actor=world.pharmacist, order_id=outpatient)
    with pytest.raises(ValidationError, match="outpatient prescription"):
        give(session, world, outpatient, at(8))
    assert charted(session) == 0


def test_other_roles_and_other_patients_are_refused(session, world):
    order_id = inpatient_order(session, world)
    for actor in (world.rx.physician, world.pharmacist, world.rx.receptionist):
        with pytest.raises(Forbidden), held_at(at(8)):
            record_administration(
                session, actor=actor, patient_id=world.rx.man, order_id=order_id, outcome="given",
                scheduled_at=at(8).isoformat(), wristband=mrn(session, world.rx.man),
                medicine="RX-APAP-500-TAB", dose="1", route="oral",
            )  # fmt: skip
    with pytest.raises(Exception, match="does not exist"):
        give(session, world, order_id, at(8), patient_id=world.rx.woman)
    assert charted(session) == 0


def test_a_pharmacy_label_is_a_medicine_scan_for_its_own_patient_only(session, world):
    order_id = inpatient_order(session, world)
    with held_at(at(7)):
        dispense = dispense_order(session, actor=world.pharmacist, order_id=order_id, location_id=world.store)
    give(session, world, order_id, at(8), medicine=dispense.reference.lower())
    row = session.execute(select(MedicationAdministration)).scalar_one()
    assert row.dispense_id == dispense.id
    other = inpatient_order(session, world, patient_id=world.rx.woman)
    with pytest.raises(ValidationError, match="dispensed for another patient"):
        give(session, world, other, at(8), patient_id=world.rx.woman, medicine=dispense.reference)
    with pytest.raises(ValidationError, match="No pharmacy label DSP-999999"):
        give(session, world, other, at(8), patient_id=world.rx.woman, medicine="DSP-999999")


def test_late_doses_are_counted_per_patient_for_the_board(session, world):
    order_id = inpatient_order(session, world)
    assert late_doses(session, [world.rx.man], at(8, 59)) == {}
    assert late_doses(session, [world.rx.man], at(13, 30)) == {world.rx.man: 2}  # 08:00 and 12:00
    give(session, world, order_id, at(8), when=at(13, 30), reason="Busy ward")
    assert late_doses(session, [world.rx.man], at(13, 30)) == {world.rx.man: 1}
    with held_at(at(13, 40)):
        record = mar(session, actor=world.rx.nurse, patient_id=world.rx.man)
    assert [d.state for d in record.orders[0].doses] == ["given", "late", "later"]
    with held_at(at(14)):
        stop_order(
            session, actor=world.rx.physician, patient_id=world.rx.man, order_id=order_id, reason="Done"
        )
    assert late_doses(session, [world.rx.man], at(14, 30)) == {}  # a stopped order asks for nothing


def test_reading_the_mar_needs_medication_read_and_is_audited(session, world):
    inpatient_order(session, world)
    with pytest.raises(Forbidden):
        mar(session, actor=world.rx.receptionist, patient_id=world.rx.man)
    with held_at(at(9)):
        record = mar(session, actor=world.rx.nurse, patient_id=world.rx.man)
    assert record.shift.label.startswith("Day") and len(record.orders) == 1
    assert (
        session.execute(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "medication.mar")
        ).scalar_one()
        == 1
    )
