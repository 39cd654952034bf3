"""Appointment reminders: an outbox written with each booking, sent exactly once when due.

Booking, rescheduling and waitlist offers write ``reminder_message`` rows in their own
transaction; cancelling cancels the pending ones. ``send_due_reminders`` (run by
``hms reminders send`` and a periodic in-app task) claims each due row with a conditional
UPDATE pending -> sending, so several workers never send the same message twice, then
records the outcome. Failures are retried a few times with a growing delay.

Senders: a file sender (default; appends to ``HMS_DATA_DIR/outbox.log``) and an SMTP sender
(stdlib ``smtplib``) used for e-mail when ``HMS_SMTP_HOST`` is set. Text messages have no
gateway yet: they go to the outbox file.
"""

from __future__ import annotations

import smtplib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import select, update
from sqlmodel import Session

from hms_app.clock import format_local, utcnow
from hms_app.models.patients import Patient
from hms_app.models.scheduling import Appointment, ReminderMessage
from hms_app.services.audit import record_audit
from hms_app.services.permissions import Actor, authorize
from hms_app.settings import get_settings

MAX_ATTEMPTS = 4
RETRY_MINUTES = (5, 30, 120)  # delay before the 2nd, 3rd and 4th attempts


@dataclass(frozen=True)
class OutgoingMessage:
    id: int
    channel: str
    recipient: str
    subject: str
    body: str


Sender = Callable[[OutgoingMessage], None]  # raises on failure


class FileSender:
    """Appends each message to a file (the default outbox: ``HMS_DATA_DIR/outbox.log``)."""

    _lock = threading.Lock()

    def __init__(self, path: Path | None = None):
        self.path = path or get_settings().data_dir / "outbox.log"

    def __call__(self, message: OutgoingMessage) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        stamp = utcnow().isoformat(timespec="seconds")
        text = (
            f"--- {stamp} #{message.id} {message.channel} to {message.recipient}\n"
            f"Subject: {message.subject}\n{message.body}\n"
        )
        with self._lock, self.path.open("a", encoding="utf-8") as out:
            out.write(text)


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 587
    username: str | None = None
    password: str | None = None
    sender: str = "no-reply@hms.local"
    starttls: bool = True


def smtp_config_from_environment() -> SmtpConfig | None:
    """SMTP settings from ``HMS_SMTP_*`` (None when ``HMS_SMTP_HOST`` is not set)."""
    settings = get_settings()
    if not settings.smtp_host:
        return None
    return SmtpConfig(
        host=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_user,
        password=settings.smtp_password,
        sender=settings.smtp_from,
        starttls=settings.smtp_starttls,
    )


class SmtpSender:
    """Sends e-mail through an SMTP server; text messages fall back to the outbox file."""

    def __init__(self, config: SmtpConfig, fallback: Sender | None = None):
        self.config = config
        self.fallback = fallback or FileSender()

    def __call__(self, message: OutgoingMessage) -> None:
        if message.channel != "email":
            self.fallback(message)
            return
        mail = EmailMessage()
        mail["From"] = self.config.sender
        mail["To"] = message.recipient
        mail["Subject"] = message.subject
        mail.set_content(message.body)
        with smtplib.SMTP(self.config.host, self.config.port, timeout=20) as smtp:
            if self.config.starttls:
                smtp.starttls()
            if self.config.username:
                smtp.login(self.config.username, self.config.password or "")
            smtp.send_message(mail)


def default_sender() -> Sender:
    """SMTP when configured, else the outbox file."""
    config = smtp_config_from_environment()
    return SmtpSender(config) if config else FileSender()


# --- writing the outbox (in the caller's transaction) ---------------------------------------


def _channel(patient: Patient) -> tuple[str, str] | None:
    if patient.email:
        return "email", patient.email
    if patient.phone and patient.consent_sms:
        return "sms", patient.phone
    return None


def enqueue_reminders(
    session: Session,
    appointment: Appointment,
    patient: Patient,
    *,
    service_name: str,
    lead_hours: tuple[int, ...],
    now: datetime | None = None,
) -> list[ReminderMessage]:
    """Reminder rows ahead of an appointment (only those still in the future); no commit."""
    now = now or utcnow()
    channel = _channel(patient)
    if channel is None:
        return []
    kind, recipient = channel
    when = format_local(appointment.start_at, "%A %d %B %Y at %H:%M")
    rows = []
    for hours in lead_hours:
        due = appointment.start_at - timedelta(hours=hours)
        if due <= now:
            continue
        rows.append(
            ReminderMessage(
                appointment_id=appointment.id,
                patient_id=patient.id,
                kind="reminder",
                channel=kind,
                recipient=recipient,
                subject=f"Reminder: {service_name} on {format_local(appointment.start_at, '%d %b %H:%M')}",
                body=(
                    f"Dear {patient.given_name}, this is a reminder of your {service_name} appointment "
                    f"on {when} (reference {appointment.reference}). "
                    "If you cannot come, please cancel or reschedule in the patient portal."
                ),
                due_at=due,
            )
        )
    session.add_all(rows)
    return rows


def enqueue_offer_notice(
    session: Session, appointment: Appointment, patient: Patient, *, service_name: str
) -> ReminderMessage | None:
    """Tell a waiting patient that a time is held for them until the offer expires; no commit."""
    channel = _channel(patient)
    if channel is None:
        return None
    kind, recipient = channel
    row = ReminderMessage(
        appointment_id=appointment.id,
        patient_id=patient.id,
        kind="offer",
        channel=kind,
        recipient=recipient,
        subject=f"A time has become free: {service_name}",
        body=(
            f"Dear {patient.given_name}, a {service_name} appointment on "
            f"{format_local(appointment.start_at, '%A %d %B %Y at %H:%M')} has become free and is held "
            f"for you until {format_local(appointment.offer_expires_at, '%H:%M')}. "
            f"Accept it in the patient portal (reference {appointment.reference})."
        ),
        due_at=utcnow(),
    )
    session.add(row)
    return row


def cancel_reminders(session: Session, appointment_id: int) -> int:
    """Cancel an appointment's unsent messages; no commit."""
    result = session.execute(
        update(ReminderMessage)
        .where(ReminderMessage.appointment_id == appointment_id, ReminderMessage.status == "pending")
        .values(status="cancelled")
    )
    return result.rowcount or 0


# --- sending ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SendReport:
    sent: int
    retried: int
    failed: int


def send_due_reminders(
    session: Session,
    *,
    actor: Actor,
    now: datetime | None = None,
    sender: Sender | None = None,
    limit: int = 200,
) -> SendReport:
    """Send every pending message whose time has come, each exactly once."""
    authorize(actor, "appointment.book")
    now = now or utcnow()
    sender = sender or default_sender()
    # A reminder whose appointment has already begun is stale (the server was down, or the
    # appointment was booked late): withdraw it in one statement rather than send it.
    session.execute(
        update(ReminderMessage)
        .where(
            ReminderMessage.status == "pending",
            ReminderMessage.kind == "reminder",
            ReminderMessage.due_at <= now,
            ReminderMessage.appointment_id.in_(select(Appointment.id).where(Appointment.start_at <= now)),
        )
        .values(status="cancelled", last_error="not sent: the appointment had already begun")
        .execution_options(synchronize_session=False)
    )
    due_ids = (
        session.execute(
            select(ReminderMessage.id)
            .where(ReminderMessage.status == "pending", ReminderMessage.due_at <= now)
            .order_by(ReminderMessage.due_at, ReminderMessage.id)
            .limit(limit)
        )
        .scalars()
        .all()
    )
    session.commit()
    sent = retried = failed = 0
    for message_id in due_ids:
        # Claim the row: only one worker's UPDATE matches "pending".
        claimed = session.execute(
            update(ReminderMessage)
            .where(ReminderMessage.id == message_id, ReminderMessage.status == "pending")
            # due_at becomes the claim time, so that release_stuck can tell an abandoned claim.
            .values(status="sending", attempts=ReminderMessage.attempts + 1, due_at=now)
            .returning(
                ReminderMessage.channel,
                ReminderMessage.recipient,
                ReminderMessage.subject,
                ReminderMessage.body,
                ReminderMessage.attempts,
                ReminderMessage.patient_id,
                ReminderMessage.kind,
            )
        ).first()
        session.commit()
        if claimed is None:
            continue
        channel, recipient, subject, body, attempts, patient_id, kind = claimed
        try:
            sender(OutgoingMessage(message_id, channel, recipient, subject, body))
        except Exception as error:  # noqa: BLE001  (any transport failure is recorded, not raised)
            final = attempts >= MAX_ATTEMPTS
            delay = RETRY_MINUTES[min(attempts - 1, len(RETRY_MINUTES) - 1)]
            session.execute(
                update(ReminderMessage)
                .where(ReminderMessage.id == message_id)
                .values(
                    status="failed" if final else "pending",
                    last_error=str(error)[:300] or error.__class__.__name__,
                    due_at=now if final else now + timedelta(minutes=delay),
                )
            )
            if final:
                failed += 1
                record_audit(
                    session,
                    actor,
                    "reminder.failed",
                    patient_id=patient_id,
                    target_type="reminder_message",
                    target_id=message_id,
                    outcome="failure",
                    detail=f"{kind} {channel}: {str(error)[:200]}",
                )
            else:
                retried += 1
            session.commit()
            continue
        session.execute(
            update(ReminderMessage)
            .where(ReminderMessage.id == message_id)
            .values(status="sent", sent_at=utcnow(), last_error=None)
        )
        record_audit(
            session,
            actor,
            "reminder.sent",
            patient_id=patient_id,
            target_type="reminder_message",
            target_id=message_id,
            detail=f"{kind} {channel}",
        )
        session.commit()
        sent += 1
    return SendReport(sent, retried, failed)


def release_stuck(session: Session, *, older_than_minutes: int = 15, now: datetime | None = None) -> int:
    """Put messages back that a worker claimed and never finished (it died while sending)."""
    now = now or utcnow()
    # A claim sets due_at to the claim time; a row "sending" for that long was abandoned.
    result = session.execute(
        update(ReminderMessage)
        .where(
            ReminderMessage.status == "sending",
            ReminderMessage.due_at <= now - timedelta(minutes=older_than_minutes),
        )
        .values(status="pending")
    )
    session.commit()
    return result.rowcount or 0


# Each reminder is its own short write; a small batch per round leaves the write lock to the
# people using the app (SQLite has one writer at a time).
REMINDERS_PER_ROUND = 50


def run_reminder_round(session: Session, *, actor: Actor) -> dict[str, int]:
    """The periodic job: put abandoned claims back, then send a batch of due reminders."""
    authorize(actor, "appointment.book")
    released = release_stuck(session)
    report = send_due_reminders(session, actor=actor, limit=REMINDERS_PER_ROUND)
    return {
        "reminders_released": released,
        "reminders_sent": report.sent,
        "reminders_retried": report.retried,
        "reminders_failed": report.failed,
    }
