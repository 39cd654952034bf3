"""The appointments that imported visits stand for, so that the operations figures count them.

Synthea writes encounters, not bookings, while the operations dashboard (appointment volume,
no-show rate by provider) counts ``appointment`` rows. A planned visit becomes a *completed*
appointment with the encounter's times, department and note, its clinician taking part: Synthea's
wellness, ambulatory and outpatient classes and virtual visits (FHIR bundles code all clinic
visits ``AMB``, urgent care included, and virtual ones ``VR``). Walk-ins (urgent care, emergency),
admissions and home visits were never booked at a clinic and get none.

What they hang on is written once per organization or clinician and mapped in ``imported_record``
like the rest: an inactive service "Imported visits" per imported department with two inactive
visit types (in person, virtual), and an inactive provider resource per imported clinician
(``PractitionerRole``: the clinician at their organization). Inactive, none of them can be booked
or chosen on the calendars, the booking screens or the portal.

They hold no ``resource_block`` rows: blocks guard future bookings against double booking; these
visits are over, their resources can never be booked, and Synthea's clinicians see simulated
patients at overlapping times, which the guard would refuse. Arrival and call times are not in
the export, so the waiting-time figure leaves imported visits out rather than invent them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlmodel import Session

from hms_app.interop.synthea.mapper import IMPORTER, short_key
from hms_app.interop.synthea.rows import insert_ids, insert_rows, map_rows, mapped
from hms_app.models.imports import ImportedRecord
from hms_app.models.scheduling import (
    Appointment,
    AppointmentParticipant,
    AppointmentType,
    HealthcareService,
    Resource,
)
from hms_app.models.security import AppUser
from hms_app.services.counters import take_numbers

# Synthea's classes (CSV, lower case) and FHIR's class codes of visits that were booked.
BOOKED_CLASSES = frozenset({"wellness", "ambulatory", "outpatient", "virtual", "amb", "vr"})
VIRTUAL_CLASSES = frozenset({"virtual", "vr"})
SERVICE_NAME = "Imported visits"
VISIT_TYPES = (("visit", "Visit", "in_person"), ("virtual", "Virtual visit", "virtual"))
VISIT_MINUTES = 30  # the visit types' length; a visit without an end is given it
REFERENCE_COUNTER = "synthea_appointment"  # references SY-000000001 ...: never an AP- one


@dataclass
class VisitSetup:
    types: dict[int, dict[str, tuple[int, int]]]  # department id -> mode -> (service id, visit type id)
    providers: dict[int, int]  # the clinician's app_user id -> their provider resource id


def _services(session: Session, departments: dict[str, int], now: datetime) -> int:
    known = mapped(session, "HealthcareService")
    fresh = [(external, department) for external, department in departments.items() if external not in known]
    service_ids = insert_ids(
        session,
        HealthcareService.__table__,
        [
            {"code": f"SY{short_key(external)}", "name": SERVICE_NAME, "department_id": department,
             "self_bookable": False, "active": False, "min_age": None, "max_age": None, "for_sex": None}
            for external, department in fresh
        ],
    )  # fmt: skip
    insert_rows(
        session,
        AppointmentType.__table__,
        [
            {"service_id": service_id, "code": code, "name": name, "duration_minutes": VISIT_MINUTES,
             "price_code": None, "mode": mode, "needs_room": False, "needs_equipment": None, "active": False}
            for service_id in service_ids
            for code, name, mode in VISIT_TYPES
        ],
    )  # fmt: skip
    pairs = [(external, row_id, None) for (external, _d), row_id in zip(fresh, service_ids, strict=True)]
    insert_rows(session, ImportedRecord.__table__, map_rows("HealthcareService", pairs, now))
    return len(service_ids) * (2 + len(VISIT_TYPES))


def _providers(session: Session, users: dict[str, int], now: datetime) -> int:
    known = mapped(session, "PractitionerRole")
    wanted = {user_id: external for external, user_id in users.items() if external not in known}
    if not wanted:
        return 0
    accounts = session.execute(
        select(AppUser.id, AppUser.display_name, AppUser.department_id).where(AppUser.id.in_(list(wanted)))
    ).all()
    # A resource belongs to a department: a clinician without an organization takes part in none.
    fresh = [(user_id, name, department) for user_id, name, department in accounts if department is not None]
    resource_ids = insert_ids(
        session,
        Resource.__table__,
        [
            {"kind": "provider", "name": name[:120], "department_id": department, "user_id": user_id,
             "capability": None, "active": False}
            for user_id, name, department in fresh
        ],
    )  # fmt: skip
    pairs = [
        (wanted[user_id], row_id, None) for (user_id, _n, _d), row_id in zip(fresh, resource_ids, strict=True)
    ]
    insert_rows(session, ImportedRecord.__table__, map_rows("PractitionerRole", pairs, now))
    return 2 * len(resource_ids)


def load_setup(
    session: Session, *, departments: dict[str, int], users: dict[str, int], now: datetime
) -> tuple[VisitSetup, int]:
    """The services, visit types and provider resources imported visits are booked on, written for
    the departments and clinicians that lack them; returns them with the rows written."""
    written = _services(session, departments, now) + _providers(session, users, now)
    services = list(mapped(session, "HealthcareService").values())
    types: dict[int, dict[str, tuple[int, int]]] = {}
    for department, service_id, type_id, mode in session.execute(
        select(
            HealthcareService.department_id, HealthcareService.id, AppointmentType.id, AppointmentType.mode
        )
        .join(AppointmentType, AppointmentType.service_id == HealthcareService.id)
        .where(HealthcareService.id.in_(services))
    ):
        types.setdefault(department, {})[mode] = (service_id, type_id)
    roles = mapped(session, "PractitionerRole")
    providers = {users[external]: row_id for external, row_id in roles.items() if external in users}
    return VisitSetup(types, providers), written


def book_visits(
    session: Session, encounters: dict[str, dict], setup: VisitSetup, now: datetime
) -> tuple[list[tuple[str, int, int]], int]:
    """Completed appointments for the booked visits among ``encounters`` (Synthea id -> values with
    the row's ``id``); returns the map pairs (Synthea encounter id, appointment id, patient id)
    and the participant rows written."""
    chosen = [
        (external, values)
        for external, values in encounters.items()
        if values["_class"] in BOOKED_CLASSES and values["department_id"] in setup.types
    ]
    if not chosen:
        return [], 0
    rows = []
    for number, (_external, values) in zip(
        take_numbers(session, REFERENCE_COUNTER, len(chosen)), chosen, strict=True
    ):
        mode = "virtual" if values["_class"] in VIRTUAL_CLASSES else "in_person"
        service_id, type_id = setup.types[values["department_id"]][mode]
        start, end = values["start_at"], values["end_at"]
        if end is None or end <= start:
            end = start + timedelta(minutes=VISIT_MINUTES)
        rows.append(
            {
                "reference": f"SY-{number:09d}", "patient_id": values["patient_id"], "service_id": service_id,
                "appointment_type_id": type_id, "department_id": values["department_id"],
                "start_at": start, "end_at": end, "status": "completed", "booked_via": "import",
                "series_id": None, "note": values["reason"], "cancel_reason": None, "queue_token": None,
                "arrived_at": None, "in_room_at": None, "completed_at": end, "cancelled_at": None,
                "offer_expires_at": None, "created_at": start, "created_by": IMPORTER, "updated_at": now,
            }
        )  # fmt: skip
    appointment_ids = insert_ids(session, Appointment.__table__, rows)
    participants = [
        {"appointment_id": appointment_id, "resource_id": setup.providers[values["practitioner_id"]]}
        for appointment_id, (_external, values) in zip(appointment_ids, chosen, strict=True)
        if values["practitioner_id"] in setup.providers
    ]
    insert_rows(session, AppointmentParticipant.__table__, participants)
    pairs = [
        (external, appointment_id, values["patient_id"])
        for appointment_id, (external, values) in zip(appointment_ids, chosen, strict=True)
    ]
    return pairs, len(participants)
