"""The reminder outbox: rows written with each booking, each sent exactly once when due, failures retried."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from hms_app import db as hms_db
from hms_app.errors import Forbidden
from hms_app.models.scheduling import ReminderMessage
from hms_app.models.security import AuditEvent
from hms_app.services import reminders
from hms_app.services import scheduling as sched
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.services.rows import reload
from hms_app.settings import get_settings
from tests.services.test_scheduling import NURSE, RECEPTION, build_clinic


@pytest.fixture
def clinic(session, monkeypatch):
    monkeypatch.setenv("HMS_TIME_ZONE", "Europe/Berlin")
    get_settings.cache_clear()
    return build_clinic(session, patients=6)


class Recorder:
    def __init__(self, fail_with: Exception | None = None):
        self.sent: list[reminders.OutgoingMessage] = []
        self.fail_with = fail_with
        self.lock = threading.Lock()

    def __call__(self, message):
        if self.fail_with:
            raise self.fail_with
        with self.lock:
            self.sent.append(message)


def booked(session, clinic, n=0, hh=9):
    return sched.book_appointment(
        session, actor=RECEPTION, patient_id=clinic.patients[n], service_id=clinic.gp,
        appointment_type_id=clinic.gp_visit, start_at=clinic.at(hh), resource_id=clinic.dr_a,
    )  # fmt: skip


def test_due_reminders_are_sent_once_and_not_before_their_time(session, clinic):
    appointment = booked(session, clinic)
    recorder = Recorder()
    early = reminders.send_due_reminders(
        session, actor=SYSTEM_ACTOR, now=appointment.start_at - timedelta(hours=25), sender=recorder
    )
    assert (early.sent, recorder.sent) == (0, [])
    day_before = appointment.start_at - timedelta(hours=23)
    report = reminders.send_due_reminders(session, actor=SYSTEM_ACTOR, now=day_before, sender=recorder)
    assert report.sent == 1
    (message,) = recorder.sent
    assert message.recipient == "p0@example.org" and appointment.reference in message.body
    assert "09:00" in message.body  # the local time, not UTC
    again = reminders.send_due_reminders(session, actor=SYSTEM_ACTOR, now=day_before, sender=recorder)
    assert again.sent == 0 and len(recorder.sent) == 1
    later = reminders.send_due_reminders(
        session, actor=SYSTEM_ACTOR, now=appointment.start_at - timedelta(hours=1), sender=recorder
    )
    assert later.sent == 1
    statuses = session.execute(select(ReminderMessage.status, ReminderMessage.sent_at.is_not(None))).all()
    assert sorted(statuses) == [("sent", True), ("sent", True)]
    audited = session.execute(select(AuditEvent.action).where(AuditEvent.action == "reminder.sent")).scalars()
    assert len(list(audited)) == 2


def test_a_cancelled_appointment_gets_no_reminder(session, clinic):
    appointment = booked(session, clinic)
    sched.cancel_appointment(session, actor=RECEPTION, appointment_id=appointment.id, reason="Not needed")
    recorder = Recorder()
    report = reminders.send_due_reminders(
        session, actor=SYSTEM_ACTOR, now=appointment.start_at, sender=recorder
    )
    assert report.sent == 0 and recorder.sent == []


def test_a_reminder_whose_appointment_has_begun_is_withdrawn_not_sent(session, clinic):
    appointment = booked(session, clinic)
    recorder = Recorder()
    report = reminders.send_due_reminders(
        session, actor=SYSTEM_ACTOR, now=appointment.start_at + timedelta(minutes=5), sender=recorder
    )
    assert report.sent == 0 and recorder.sent == []
    statuses = session.execute(select(ReminderMessage.status, ReminderMessage.last_error)).all()
    assert statuses and all(
        s == ("cancelled", "not sent: the appointment had already begun") for s in statuses
    )


def test_failures_are_retried_then_given_up_and_audited(session, clinic):
    appointment = booked(session, clinic)
    sched.reschedule_appointment(
        session, actor=RECEPTION, appointment_id=appointment.id, start_at=clinic.at(10)
    )
    now = clinic.at(10) - timedelta(hours=23)
    broken = Recorder(fail_with=OSError("connection refused"))
    first = reminders.send_due_reminders(session, actor=SYSTEM_ACTOR, now=now, sender=broken)
    assert (first.sent, first.retried, first.failed) == (0, 1, 0)
    row = session.execute(select(ReminderMessage).where(ReminderMessage.status != "cancelled")
                          .order_by(ReminderMessage.due_at)).scalars().first()  # fmt: skip
    row = reload(session, row)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "connection refused")
    assert row.due_at == now + timedelta(minutes=5)
    moment = now
    for _ in range(reminders.MAX_ATTEMPTS - 1):
        moment += timedelta(hours=3)
        reminders.send_due_reminders(session, actor=SYSTEM_ACTOR, now=moment, sender=broken)
    row = reload(session, row)
    assert (row.status, row.attempts) == ("failed", reminders.MAX_ATTEMPTS)
    assert (
        session.execute(select(AuditEvent.outcome).where(AuditEvent.action == "reminder.failed"))
        .scalars()
        .all()
    )


def test_two_workers_sending_at_once_send_each_message_once(session, clinic, configured_db):
    for n in range(5):
        booked(session, clinic, n=n, hh=9 + n)
    recorder = Recorder()
    now = clinic.at(0)  # every 24-hour reminder is due, no 2-hour one yet
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def worker():
        try:
            with hms_db.session_scope(configured_db) as s:
                barrier.wait(timeout=30)
                reminders.send_due_reminders(s, actor=SYSTEM_ACTOR, now=now, sender=recorder)
        except BaseException as error:  # noqa: BLE001  (a worker's failure must fail the test)
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a worker never finished"
    assert not errors, errors
    ids = [m.id for m in recorder.sent]
    assert len(ids) == 5 and len(set(ids)) == 5


def test_file_sender_writes_the_outbox_log(session, clinic):
    booked(session, clinic)
    reminders.send_due_reminders(session, actor=SYSTEM_ACTOR, now=clinic.at(0), sender=reminders.FileSender())
    log = (get_settings().data_dir / "outbox.log").read_text()
    assert "to p0@example.org" in log and "Reminder: GP consultation" in log


def test_smtp_is_used_for_email_when_configured(monkeypatch, session, clinic):
    sent = []

    class FakeSMTP:
        def __init__(self, host, port, timeout):
            self.host, self.port = host, port

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def starttls(self):
            pass

        def login(self, user, password):
            sent.append(("login", user))

        def send_message(self, mail):
            sent.append((self.host, self.port, mail["To"], mail["Subject"]))

    monkeypatch.setattr(reminders.smtplib, "SMTP", FakeSMTP)
    assert isinstance(reminders.default_sender(), reminders.FileSender)
    monkeypatch.setenv("HMS_SMTP_HOST", "mail.example.org")
    monkeypatch.setenv("HMS_SMTP_PORT", "2525")
    monkeypatch.setenv("HMS_SMTP_USER", "hms")
    get_settings.cache_clear()  # settings are read once; the operator restarts after changing them
    sender = reminders.default_sender()
    assert isinstance(sender, reminders.SmtpSender)
    booked(session, clinic)
    report = reminders.send_due_reminders(session, actor=SYSTEM_ACTOR, now=clinic.at(0), sender=sender)
    assert report.sent == 1
    assert sent[0] == ("login", "hms") and sent[1][:3] == ("mail.example.org", 2525, "p0@example.org")


def test_sending_needs_permission(session, clinic):
    with pytest.raises(Forbidden):
        reminders.send_due_reminders(session, actor=NURSE, sender=Recorder())
