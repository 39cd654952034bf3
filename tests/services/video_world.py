"""A clinic with video visits for the telehealth tests: a virtual visit type that bills, a doctor
booked on a visit, a second doctor who is not, the visit's patient and another patient, each with
a real account and session (so the API tests use their cookies)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from argon2 import PasswordHasher

from hms_app.clock import utcnow
from hms_app.models.billing import ChargeItemDefinition
from hms_app.models.organization import Department
from hms_app.models.scheduling import (
    Appointment,
    AppointmentParticipant,
    AppointmentType,
    HealthcareService,
    Resource,
)
from hms_app.services import accounts, patients, security
from hms_app.services.permissions import SYSTEM_ACTOR, Actor

PASSWORD = "Video-visit-42"
PRICE_CODE = "VISIT-VIDEO-T"


def fast_hashes(monkeypatch) -> None:
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@dataclass
class VideoWorld:
    session: object
    now: datetime = field(default_factory=utcnow)
    tokens: dict[str, str] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)
    count: int = 0

    def build(self) -> VideoWorld:
        s = self.session
        accounts.ensure_roles(s)
        self.department = Department(code="TELE", name="Telehealth clinic")
        s.add(self.department)
        s.flush()
        s.add(
            ChargeItemDefinition(
                code=PRICE_CODE,
                name="Video consultation",
                category="visit",
                department_id=self.department.id,
                price_cents=4500,
            )
        )
        self.service = HealthcareService(code="TELE", name="Video clinic", department_id=self.department.id)
        s.add(self.service)
        s.flush()
        self.virtual = AppointmentType(
            service_id=self.service.id,
            code="VID",
            name="Video consultation",
            duration_minutes=15,
            price_code=PRICE_CODE,
            mode="virtual",
        )
        self.in_person = AppointmentType(
            service_id=self.service.id,
            code="STD",
            name="Standard",
            duration_minutes=15,
            price_code=PRICE_CODE,
        )
        s.add_all([self.virtual, self.in_person])
        self.patient_a = self._patient("Ada", "Video")
        self.patient_b = self._patient("Bea", "Other")
        s.commit()
        for name, roles, patient_id in (
            ("dr.video", ["physician"], None),
            ("dr.other", ["physician"], None),
            ("nurse.video", ["nurse"], None),
            ("clerk.video", ["receptionist"], None),
            ("patient.a", ["patient"], self.patient_a),
            ("patient.b", ["patient"], self.patient_b),
        ):
            user = accounts.create_user(
                s,
                actor=SYSTEM_ACTOR,
                username=name,
                display_name=name.title(),
                password=PASSWORD,
                roles=roles,
                patient_id=patient_id,
            )
            self.users[name] = user.id
            self.tokens[name] = security.sign_in(s, username=name, password=PASSWORD).token
        self.provider = Resource(
            kind="provider", name="Dr Video", department_id=self.department.id, user_id=self.users["dr.video"]
        )
        s.add(self.provider)
        s.commit()
        return self

    def _patient(self, given: str, family: str) -> int:
        return patients.register_patient(
            self.session,
            actor=SYSTEM_ACTOR,
            data={"given_name": given, "family_name": family, "sex": "female", "birth_date": "1980-02-03"},
        ).id

    def actor(self, name: str) -> Actor:
        actor = security.resolve_session(self.session, token=self.tokens[name], screen="/test")
        self.session.commit()
        return actor

    def visit(self, *, start: timedelta = timedelta(minutes=5), virtual: bool = True, patient=None) -> int:
        """A booked appointment ``start`` from now with Dr Video; its id."""
        self.count += 1
        at = self.now + start
        appointment = Appointment(
            reference=f"AP-VID{self.count:03d}",
            patient_id=patient or self.patient_a,
            service_id=self.service.id,
            appointment_type_id=(self.virtual if virtual else self.in_person).id,
            department_id=self.department.id,
            start_at=at,
            end_at=at + timedelta(minutes=15),
            status="booked",
        )
        self.session.add(appointment)
        self.session.flush()
        self.session.add(AppointmentParticipant(appointment_id=appointment.id, resource_id=self.provider.id))
        self.session.commit()
        return appointment.id
