"""Equipment that is a bookable scheduling resource (a scanner) cannot be booked while it is
under maintenance, out of service or retired: its slots are gone and a booking is refused with
the reason; back in service, it is bookable again."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from hms_app.errors import ValidationError
from hms_app.models.scheduling import Appointment
from hms_app.services.inventory.equipment import change_equipment_status, register_equipment
from hms_app.services.inventory.maintenance import complete_work_order, open_work_order
from hms_app.services.inventory.maintenance_board import equipment_detail
from hms_app.services.scheduling.booking import book_appointment
from hms_app.services.scheduling.slots import find_free_slots
from hms_app.settings import get_settings
from tests.services.test_equipment import BIOMED
from tests.services.test_scheduling import RECEPTION, build_clinic


@pytest.fixture
def clinic(session, monkeypatch):
    monkeypatch.setenv("HMS_TIME_ZONE", "Europe/Berlin")
    get_settings.cache_clear()
    return build_clinic(session)


def _scanner(session, clinic) -> int:
    return register_equipment(
        session,
        actor=BIOMED,
        data={
            "asset_tag": "RAD-MRI-01",
            "name": "MRI scanner 1.5 T",
            "manufacturer": "Siemens Healthineers",
            "model": "MAGNETOM Sola",
            "resource_id": str(clinic.mri),
        },
    ).id


def _slots(session, clinic, **kwargs):
    return find_free_slots(
        session,
        actor=RECEPTION,
        service_id=clinic.mri_service,
        appointment_type_id=clinic.mri_scan,
        day=clinic.day,
        limit=500,
        **kwargs,
    )


def _book(session, clinic, hh: int, patient: int, **kwargs):
    return book_appointment(
        session,
        actor=RECEPTION,
        patient_id=clinic.patients[patient],
        service_id=clinic.mri_service,
        appointment_type_id=clinic.mri_scan,
        start_at=clinic.at(hh),
        **kwargs,
    )


def test_a_scanner_out_of_service_loses_its_slots_and_refuses_bookings(session, clinic):
    scanner = _scanner(session, clinic)
    offered = _slots(session, clinic)
    assert clinic.at(10) in [s.start_at for s in offered]
    booked = _book(session, clinic, 9, patient=0)
    assert booked.status == "booked"

    change = change_equipment_status(
        session, actor=BIOMED, equipment_id=scanner, status="out_of_service", reason="Helium level low"
    )
    assert change.appointments_ahead == 1  # the 09:00 scan needs moving: the screen says so
    assert _slots(session, clinic) == []
    with pytest.raises(ValidationError) as caught:
        _book(session, clinic, 10, patient=1)
    assert (
        str(caught.value) == "MRI scanner is out of service and cannot be booked until it is back in service."
    )
    with pytest.raises(ValidationError) as caught:
        _book(session, clinic, 11, patient=1, resource_id=clinic.mri)
    assert caught.value.field == "resource_id" and "out of service" in str(caught.value)
    with pytest.raises(ValidationError):
        _slots(session, clinic, resource_id=clinic.mri)
    assert session.execute(select(func.count(Appointment.id))).scalar_one() == 1
    assert equipment_detail(session, actor=BIOMED, equipment_id=scanner).appointments_ahead == 1

    # A work order takes it on (under maintenance: still not bookable) and gives it back.
    change_equipment_status(
        session, actor=BIOMED, equipment_id=scanner, status="in_service", reason="Refilled"
    )
    order = open_work_order(
        session, actor=BIOMED, equipment_id=scanner, problem="Gradient coil noise", take_out_of_service=True
    )
    assert _slots(session, clinic) == []
    with pytest.raises(ValidationError, match="under maintenance"):
        _book(session, clinic, 10, patient=1)
    complete_work_order(
        session, actor=BIOMED, work_order_id=order.id, findings="Coil re-seated", downtime="2h"
    )
    assert clinic.at(10) in [s.start_at for s in _slots(session, clinic)]
    assert _book(session, clinic, 10, patient=1).status == "booked"


def test_a_retired_scanner_is_never_bookable_again(session, clinic):
    scanner = _scanner(session, clinic)
    change_equipment_status(session, actor=BIOMED, equipment_id=scanner, status="retired", reason="Replaced")
    assert _slots(session, clinic) == []
    with pytest.raises(ValidationError, match="retired"):
        _book(session, clinic, 10, patient=0)
