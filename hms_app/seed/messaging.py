"""Demo data for secure messaging: the demo patient's conversations (one answered and read, one
waiting unassigned with a photo attached, one with an invitation to book) and a few weeks of
other patients' messages, so the team inbox and the weekly counts have something to show.

Everything goes through the messaging services as the demo staff and patients, so the demo's
audit trail, read receipts and files are exactly what the screens produce.
"""

from __future__ import annotations

import struct
import zlib
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select, update

from hms_app.models.messaging import MessageThread, SecureMessage
from hms_app.models.patients import Patient
from hms_app.models.security import AppUser
from hms_app.seed.actors import demo_actors
from hms_app.seed.demo import DEMO_PATIENT_USERNAME
from hms_app.seed.registry import SeedContext, seeder
from hms_app.services import messaging
from hms_app.services.messaging import NewFile
from hms_app.services.permissions import DEFAULT_GRANTS, Actor

OTHER_THREADS = 14
QUESTIONS = (
    ("Repeat prescription", "Could I have a repeat of my blood pressure tablets? I have five days left."),
    (
        "Question about my results",
        "I saw my cholesterol result in the portal. Is it something to worry about?",
    ),
    ("Side effects", "Since starting the new tablets I have had a dry cough, mostly at night."),
    ("Sick note", "I need a note for my employer for last week's absence."),
    ("Travel vaccines", "I am travelling to Kenya in six weeks. Which vaccines do I need?"),
    ("Wound dressing", "The dressing on my knee came loose. Should I come in or change it myself?"),
    ("Appointment letter", "I did not receive the letter for my follow-up. When is it?"),
)
ANSWERS = (
    "Thank you for your message. I have passed this to the doctor and we will come back to you today.",
    "That is nothing to worry about; we will go through it at your next visit.",
    "Please book a short visit so we can take a look.",
)


def _png(width: int = 48, height: int = 32) -> bytes:
    """A small real PNG (a skin-coloured gradient), standing in for a patient's photo."""
    raw = b"".join(
        b"\x00" + b"".join(bytes((230, 180 - y * 2, 150 - x)) for x in range(width)) for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _patient_actor(user: AppUser) -> Actor:
    return Actor(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        roles=frozenset({"patient"}),
        permissions=DEFAULT_GRANTS["patient"],
        patient_id=user.patient_id,
    )


def _backdate(ctx: SeedContext, thread_id: int, days_ago: int) -> None:
    """Move a seeded thread's messages back in time, keeping their order (an hour apart)."""
    base = datetime.combine(ctx.as_of - timedelta(days=days_ago), time(9, 0), tzinfo=UTC)
    ids = ctx.session.execute(
        select(SecureMessage.id).where(SecureMessage.thread_id == thread_id).order_by(SecureMessage.id)
    ).scalars()
    last = base
    for n, message_id in enumerate(ids):
        last = base + timedelta(hours=n)
        read = last + timedelta(minutes=20)
        ctx.session.execute(
            update(SecureMessage)
            .where(SecureMessage.id == message_id)
            .values(created_at=last, read_at=read if days_ago else SecureMessage.read_at)
        )
    ctx.session.execute(
        update(MessageThread)
        .where(MessageThread.id == thread_id)
        .values(created_at=base, last_message_at=last)
    )
    ctx.session.commit()


@seeder("messaging", order=80)
def seed_messaging(ctx: SeedContext) -> None:
    session = ctx.session
    if session.execute(select(MessageThread.id).limit(1)).first():
        return
    staff = demo_actors(session)
    nurse, doctor = staff.get("nurse.joy"), staff.get("dr.grey")
    if nurse is None or doctor is None:
        return
    ctx.progress("secure messages", 0, 1)
    user = session.execute(
        select(AppUser).where(AppUser.username == DEMO_PATIENT_USERNAME)
    ).scalar_one_or_none()
    if user is not None and user.patient_id is not None:
        me = _patient_actor(user)
        answered = messaging.start_thread(
            session, actor=me, subject="Repeat prescription", body=QUESTIONS[0][1]
        )
        messaging.open_thread(session, actor=nurse, thread_id=answered)
        messaging.post_message(
            session, actor=nurse, thread_id=answered, body="Done: collect it from the pharmacy from tomorrow."
        )
        messaging.open_thread(session, actor=me, thread_id=answered)
        _backdate(ctx, answered, 9)
        options = messaging.invitation_options(session, actor=doctor)
        if options:
            invited = messaging.start_thread(
                session, actor=me, subject="Travel vaccines", body=QUESTIONS[4][1]
            )
            messaging.open_thread(session, actor=doctor, thread_id=invited)
            option = options[ctx.rng.randrange(len(options))]
            messaging.invite_to_book(
                session,
                actor=doctor,
                thread_id=invited,
                service_id=option.service_id,
                appointment_type_id=option.appointment_type_id,
                note="Book a visit about four weeks before you travel and bring your vaccination card.",
            )
            _backdate(ctx, invited, 3)
        # Waiting for the team: unassigned, with a photo, nobody has read it yet.
        messaging.start_thread(
            session,
            actor=me,
            subject="Rash after the new cream",
            body="The rash on my arm is worse since I started the cream. Photo attached.",
            upload=NewFile("rash.png", "image/png", _png()),
        )
    # Other patients have no portal account in the demo: their conversations were started by the
    # team (follow-ups), spread over the last ten weeks for the weekly counts.
    patients = (
        session.execute(
            select(Patient.id)
            .where(Patient.merged_into_id.is_(None), Patient.deceased_at.is_(None))
            .order_by(Patient.id)
            .limit(200)
        )
        .scalars()
        .all()
    )
    for n in range(min(OTHER_THREADS, len(patients))):
        subject, _question = QUESTIONS[n % len(QUESTIONS)]
        thread_id = messaging.start_thread(
            session,
            actor=nurse if n % 2 else doctor,
            subject=f"Follow-up: {subject.lower()}",
            body=f"{ctx.faker.sentence(nb_words=10)} {ANSWERS[n % len(ANSWERS)]}",
            patient_id=patients[ctx.rng.randrange(len(patients))],
        )
        days_ago = ctx.rng.randrange(1, 70)
        if days_ago > 30:
            messaging.close_thread(session, actor=nurse, thread_id=thread_id)  # long settled
        _backdate(ctx, thread_id, days_ago)
    ctx.progress("secure messages", 1, 1)
