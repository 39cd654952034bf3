"""Appointment: booked visits (``appointment`` table) with the patient and the resources they hold
(``appointment_participant``), read-only: booking goes through the scheduling services' slot
checks on the schedule screens and the portal, not through FHIR (yet)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import object_session

from hms_app.interop.fhir.elements import concept, instant, ref
from hms_app.interop.fhir.mapper import Mapper
from hms_app.interop.fhir.outcome import fail
from hms_app.interop.fhir.resources.location import resource_actor
from hms_app.interop.fhir.search import Param, date_param, identifier, reference_id, split_values, token
from hms_app.models.scheduling import (
    Appointment,
    AppointmentParticipant,
    AppointmentType,
    HealthcareService,
    Resource,
)

APPOINTMENT_SYSTEM = "urn:hms:appointment"
SERVICE_SYSTEM = "urn:hms:service"
VISIT_TYPE_SYSTEM = "urn:hms:appointment-type"
PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
# HMS's statuses as FHIR's. A patient called into the room is further on than "arrived" but not
# yet "fulfilled"; FHIR has no in-progress appointment, so "checked-in" is the nearest.
STATUSES = {
    "offered": "proposed",  # a waitlist offer the patient has not accepted yet
    "booked": "booked",
    "arrived": "arrived",
    "in_room": "checked-in",
    "completed": "fulfilled",
    "cancelled": "cancelled",
    "no_show": "noshow",
}
FHIR_STATUSES = {fhir: ours for ours, fhir in STATUSES.items()}


def held_by(target: str, resource_column) -> Param:
    """``practitioner`` / ``location``: appointments holding a resource the reference names."""

    def build(raw: str, modifier: str | None, name: str):
        if modifier is not None and modifier != target:
            raise fail(400, f"The modifier :{modifier} is not supported on {name}.", code="not-supported")
        wanted = [reference_id(value, target, name) for value in split_values(raw, name)]
        holding = (
            select(AppointmentParticipant.appointment_id)
            .join(Resource, Resource.id == AppointmentParticipant.resource_id)
            .where(resource_column.in_(wanted))
        )
        if target == "Location":
            holding = holding.where(Resource.kind == "room")
        return Appointment.id.in_(holding)

    return Param("reference", build)


class AppointmentMapper(Mapper):
    resource_type = "Appointment"
    table = Appointment
    documentation = "Booked visits: the patient, the provider (Practitioner) and room (Location) they hold."
    read_permission = "appointment.read"
    patient_column = "patient_id"
    patient_params = ("patient",)
    owned = frozenset(
        {
            "identifier",
            "status",
            "cancelationReason",
            "serviceType",
            "appointmentType",
            "start",
            "end",
            "minutesDuration",
            "created",
            "comment",
            "participant",
        }
    )
    sorts = {"date": Appointment.start_at, "_lastUpdated": Appointment.updated_at}

    def search_params(self) -> dict[str, Param]:
        return {
            "identifier": identifier(
                "Appointment", Appointment.id, {APPOINTMENT_SYSTEM: Appointment.reference}
            ),
            "date": date_param(Appointment.start_at),
            "status": token(
                Appointment.status, system="http://hl7.org/fhir/appointmentstatus", values=FHIR_STATUSES
            ),
            "practitioner": held_by("Practitioner", Resource.user_id),
            "location": held_by("Location", Resource.id),
        }

    def to_fhir(self, row: Appointment) -> dict:
        # The core hands a mapper the row alone; the row's own session (still open while the
        # answer is rendered) reads the service, visit type and participants.
        session = object_session(row)
        service = session.get(HealthcareService, row.service_id)
        visit_type = session.get(AppointmentType, row.appointment_type_id)
        held = session.execute(
            select(Resource)
            .join(AppointmentParticipant, AppointmentParticipant.resource_id == Resource.id)
            .where(AppointmentParticipant.appointment_id == row.id)
            .order_by(Resource.kind, Resource.id)
        ).scalars()
        cancelled = row.status in ("cancelled", "no_show")
        participants = [
            {"actor": ref("Patient", row.patient_id), "required": "required", "status": "accepted"}
        ]
        participants += [_participant(resource, row.status) for resource in held]
        return {
            "identifier": [{"system": APPOINTMENT_SYSTEM, "value": row.reference}],
            "status": STATUSES.get(row.status, "booked"),
            "cancelationReason": {"text": row.cancel_reason} if cancelled and row.cancel_reason else None,
            "serviceType": [concept(SERVICE_SYSTEM, service.code, service.name)] if service else None,
            "appointmentType": concept(VISIT_TYPE_SYSTEM, visit_type.code, visit_type.name)
            if visit_type
            else None,
            "start": instant(row.start_at),
            "end": instant(row.end_at),
            "minutesDuration": max(int((row.end_at - row.start_at).total_seconds() // 60), 1),
            "created": instant(row.created_at),
            "comment": row.note,
            "participant": participants,
        }


def _participant(resource: Resource, status: str) -> dict:
    participant = {
        "actor": resource_actor(resource),
        "required": "required",
        "status": "declined" if status == "cancelled" else "accepted",
    }
    if resource.kind == "provider":
        participant["type"] = [concept(PARTICIPATION_TYPE, "PPRF", "primary performer")]
    return participant


MAPPER = AppointmentMapper()
