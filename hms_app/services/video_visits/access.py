"""Who may take part in a video visit: the booked patient's portal account, and the clinician
booked on the appointment (a provider resource of theirs) who holds ``telehealth.conduct``.

Anyone else is told exactly what they would be told for an appointment that does not exist
(``Withheld``), so trying ids reveals nothing; the callers audit the refusal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlmodel import Session

from hms_app.errors import Conflict, NotFound, Withheld
from hms_app.models.scheduling import Appointment, AppointmentParticipant, AppointmentType, Resource
from hms_app.models.video_visits import VideoVisit
from hms_app.services.permissions import Actor, authorize
from hms_app.services.scheduling.parsing import as_int

MISSING = "That video visit does not exist."
# The waiting room opens this long before the start; a visit can still be joined this long after its end.
OPENS_BEFORE = timedelta(minutes=10)
CLOSES_AFTER = timedelta(minutes=60)
CLOSED_STATUSES = ("cancelled", "no_show", "offered")


@dataclass(frozen=True)
class Seat:
    """A participant's place in one visit: which side they are on."""

    appointment_id: int
    side: str  # patient | clinician
    patient_id: int
    department_id: int
    start_at: datetime
    end_at: datetime
    status: str  # the appointment's status


def provider_user_ids(session: Session, appointment_id: int) -> list[int]:
    """The signed-in accounts of the providers booked on an appointment."""
    return list(
        session.execute(
            select(Resource.user_id)
            .join(AppointmentParticipant, AppointmentParticipant.resource_id == Resource.id)
            .where(
                AppointmentParticipant.appointment_id == appointment_id,
                Resource.kind == "provider",
                Resource.user_id.is_not(None),
            )
        ).scalars()
    )


def authorize_participant(actor: Actor | None) -> Actor:
    """A patient (their portal) or a clinician who holds video visits; which visits is ``seat_for``'s."""
    if actor is not None and actor.patient_id is not None:
        return authorize(actor, "portal.self")
    return authorize(actor, "telehealth.conduct")


def seat_for(session: Session, actor: Actor | None, appointment_id, *, lock: bool = False) -> Seat:
    """The actor's side in the virtual appointment, or ``Withheld`` (as if it did not exist)."""
    authorize_participant(actor)
    try:
        appointment_id = as_int(appointment_id, field="appointment_id", label="visit")
    except Exception as error:  # noqa: BLE001 - a malformed id is a missing one
        raise NotFound(MISSING) from error
    statement = select(Appointment, AppointmentType.mode).join(
        AppointmentType, AppointmentType.id == Appointment.appointment_type_id
    )
    statement = statement.where(Appointment.id == appointment_id)
    if lock:
        statement = statement.with_for_update(of=Appointment)
    found = session.execute(statement).first()
    if found is None or found[1] != "virtual":
        raise NotFound(MISSING)
    appointment = found[0]
    if actor.patient_id is not None:
        if appointment.patient_id != actor.patient_id:
            raise Withheld(MISSING)
        side = "patient"
    else:
        if actor.user_id not in provider_user_ids(session, appointment.id):
            raise Withheld(MISSING)
        side = "clinician"
    return Seat(
        appointment.id,
        side,
        appointment.patient_id,
        appointment.department_id,
        appointment.start_at,
        appointment.end_at,
        appointment.status,
    )


def require_open(seat: Seat, now: datetime) -> None:
    """The visit can be joined now: not cancelled or missed, and inside its window."""
    if seat.status in CLOSED_STATUSES:
        raise Conflict("This visit was cancelled or missed; it cannot be joined.")
    if seat.status == "completed":
        raise Conflict("This video visit has ended.")
    if now < seat.start_at - OPENS_BEFORE:
        raise Conflict("The waiting room opens 10 minutes before the start of the visit.")
    if now > seat.end_at + CLOSES_AFTER:
        raise Conflict("This visit's time has passed; please book a new one.")


def visit_of(session: Session, appointment_id: int, *, lock: bool = False) -> VideoVisit | None:
    statement = select(VideoVisit).where(VideoVisit.appointment_id == appointment_id)
    if lock:
        statement = statement.with_for_update()
    return session.execute(statement).scalar_one_or_none()


def ice_servers_for(
    _session: Session | None, *, actor: Actor, now: datetime | None = None, ttl_hours: int = 12
) -> list[dict]:
    """The ICE servers a participant's browser uses (settings). With a TURN secret (coturn's
    ``use-auth-secret``), TURN entries without their own credential get a short-lived one: the
    username is ``<expiry>:hms<user id>`` and the credential its HMAC-SHA1 under the secret."""
    import base64
    import hashlib
    import hmac

    from hms_app.clock import utcnow
    from hms_app.settings import get_settings

    authorize_participant(actor)
    now = now or utcnow()
    settings = get_settings()
    servers = []
    for server in settings.ice_servers:
        server = dict(server)
        urls = server["urls"] if isinstance(server["urls"], list) else [server["urls"]]
        is_turn = any(u.startswith(("turn:", "turns:")) for u in urls)
        if is_turn and settings.turn_secret and not server.get("credential"):
            username = f"{int(now.timestamp()) + ttl_hours * 3600}:hms{actor.user_id}"
            digest = hmac.new(settings.turn_secret.encode(), username.encode(), hashlib.sha1).digest()
            server["username"], server["credential"] = username, base64.b64encode(digest).decode()
        servers.append(server)
    return servers
