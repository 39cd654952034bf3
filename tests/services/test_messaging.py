"""Secure messaging: patients and the care team write in threads with read receipts and files;
the team inbox filters, pages and counts in SQL; threads are assigned, closed and reopened; a
message becomes an invitation to book; every read and write is audited; another patient's
threads, files and invitations are answered as missing ones."""

from __future__ import annotations

from datetime import UTC, date, timedelta

import pandas as pd
import pytest
from sqlalchemy import select, update

from hms_app.analytics.messaging import weekly_message_frame
from hms_app.clock import utcnow
from hms_app.errors import Conflict, Forbidden, NotFound, ValidationError, Withheld
from hms_app.models.messaging import SecureMessage
from hms_app.models.security import AppUser, AuditEvent
from hms_app.services import live, messaging, patients
from hms_app.services import scheduling as sched
from hms_app.services.file_store import documents_dir
from hms_app.services.messaging import NewFile
from hms_app.services.permissions import DEFAULT_GRANTS, SYSTEM_ACTOR, Actor

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n" + b"x" * 100


def _user(session, username: str, patient_id: int | None = None) -> int:
    user = AppUser(username=username, display_name=username.title(), password_hash="!", patient_id=patient_id)
    session.add(user)
    session.flush()
    return user.id


def _patient_actor(session, given: str) -> Actor:
    patient = patients.register_patient(
        session,
        actor=SYSTEM_ACTOR,
        data={"given_name": given, "family_name": "Messenger", "sex": "female", "birth_date": "1980-04-05"},
    )
    uid = _user(session, given.lower(), patient.id)
    session.commit()
    return Actor(
        user_id=uid,
        username=given.lower(),
        roles=frozenset({"patient"}),
        permissions=DEFAULT_GRANTS["patient"],
        patient_id=patient.id,
    )


def _staff(session, username: str, role: str = "nurse") -> Actor:
    from hms_app.models.security import Role, UserRole
    from hms_app.services.accounts import ensure_roles

    ensure_roles(session)
    uid = _user(session, username)
    role_id = session.execute(select(Role.id).where(Role.name == role)).scalar_one()
    session.add(UserRole(user_id=uid, role_id=role_id))
    session.commit()
    return Actor(
        user_id=uid,
        username=username,
        display_name=username.title(),
        roles=frozenset({role}),
        permissions=DEFAULT_GRANTS[role],
    )


@pytest.fixture
def people(session):
    paula, otto = _patient_actor(session, "Paula"), _patient_actor(session, "Otto")
    nina, noor = _staff(session, "nina"), _staff(session, "noor")
    return paula, otto, nina, noor


def _audits(session, action: str):
    return session.execute(
        select(AuditEvent.username, AuditEvent.patient_id, AuditEvent.target_id, AuditEvent.outcome)
        .where(AuditEvent.action == action)
        .order_by(AuditEvent.id)
    ).all()


def test_a_patient_writes_with_a_file_the_team_answers_and_each_side_sees_the_other_read(session, people):
    paula, _otto, nina, _noor = people
    thread_id = messaging.start_thread(
        session,
        actor=paula,
        subject="  Rash   after the new cream ",
        body="It started on Monday.",
        upload=NewFile("../../rash photo.png", "image/png", PNG),
    )
    seen = messaging.open_thread(session, actor=paula, thread_id=thread_id)
    assert seen.subject == "Rash after the new cream"
    (first,) = seen.messages
    assert first.from_patient and first.read_at is None  # "Delivered": nobody in the team opened it
    assert [(a.filename, a.content_type, a.size_bytes) for a in first.attachments] == [
        ("rash photo.png", "image/png", len(PNG))
    ]

    inbox = messaging.team_inbox(session, actor=nina, view="unassigned")
    assert [(r.id, r.unread) for r in inbox.rows] == [(thread_id, 1)]
    assert inbox.counts.unread == 1 and inbox.counts.unassigned == 1

    opened = messaging.open_thread(session, actor=nina, thread_id=thread_id)
    assert opened.marked_read == 1
    assert opened.messages[0].read_at is not None  # the patient's side now shows "Read 14:32"
    assert messaging.open_thread(session, actor=paula, thread_id=thread_id).messages[0].read_at is not None
    assert messaging.inbox_counts(session, actor=nina).unread == 0

    file = messaging.open_attachment(session, actor=nina, attachment_id=first.attachments[0].id)
    assert file.path.read_bytes() == PNG and file.path.parent == documents_dir()
    assert "upload" not in str(file.path)

    messaging.post_message(
        session, actor=nina, thread_id=thread_id, body="Please stop the cream; photo looks mild."
    )
    # Answering an unassigned thread takes it.
    assert [r.id for r in messaging.team_inbox(session, actor=nina, view="mine").rows] == [thread_id]
    (mine,) = messaging.portal_threads(session, actor=paula)
    assert mine.unread == 1
    reply = messaging.open_thread(session, actor=paula, thread_id=thread_id).messages[-1]
    assert not reply.from_patient and reply.author_name == "Nina" and reply.read_at is not None
    assert messaging.portal_threads(session, actor=paula)[0].unread == 0

    assert [a[:3] for a in _audits(session, "message.thread_start")] == [
        ("paula", paula.patient_id, str(thread_id))
    ]
    assert [a[0] for a in _audits(session, "message.thread_read")] == ["paula", "nina", "paula", "paula"]
    assert [a[0] for a in _audits(session, "message.attachment_read")] == ["nina"]
    assert [a[0] for a in _audits(session, "message.send")] == ["nina"]


def test_every_input_is_checked_with_a_plain_message(session, people):
    paula, _otto, nina, _noor = people
    with pytest.raises(ValidationError, match="Write a subject"):
        messaging.start_thread(session, actor=paula, subject="   ", body="hello")
    with pytest.raises(ValidationError, match="Write a message"):
        messaging.start_thread(session, actor=paula, subject="Hi", body=" \n ")
    with pytest.raises(ValidationError, match="keep it under 4,000"):
        messaging.start_thread(session, actor=paula, subject="Hi", body="x" * 4001)
    with pytest.raises(ValidationError, match="subject under 120"):
        messaging.start_thread(session, actor=paula, subject="s" * 121, body="hello")
    with pytest.raises(ValidationError, match="Only PDF, PNG and JPEG"):
        messaging.start_thread(
            session,
            actor=paula,
            subject="Hi",
            body="",
            upload=NewFile("a.exe", "application/x-msdownload", b"MZ"),
        )
    with pytest.raises(ValidationError, match="do not match its type"):
        messaging.start_thread(
            session, actor=paula, subject="Hi", body="", upload=NewFile("a.png", "image/png", PDF)
        )
    with pytest.raises(ValidationError, match="larger than"):
        big = PNG + b"\x00" * (messaging.attachments.store_file.__globals__["MAX_DOCUMENT_BYTES"])
        messaging.start_thread(
            session, actor=paula, subject="Hi", body="", upload=NewFile("a.png", "image/png", big)
        )
    # A file alone is a message.
    thread_id = messaging.start_thread(
        session, actor=paula, subject="Letter", body="", upload=NewFile("letter.pdf", "application/pdf", PDF)
    )
    assert (
        list(documents_dir().iterdir()) and len(list(documents_dir().iterdir())) == 1
    )  # refused files left nothing
    with pytest.raises(ValidationError, match="Choose a conversation"):
        messaging.post_message(session, actor=paula, thread_id="1; drop table", body="x")
    with pytest.raises(ValidationError, match="Choose a patient"):
        messaging.start_thread(session, actor=nina, subject="Hi", body="x", patient_id=None)
    messaging.close_thread(session, actor=nina, thread_id=thread_id)
    with pytest.raises(Conflict, match="closed. Start a new message"):
        messaging.post_message(session, actor=paula, thread_id=thread_id, body="one more thing")
    with pytest.raises(Conflict, match="Reopen it first"):
        messaging.post_message(session, actor=nina, thread_id=thread_id, body="one more thing")
    with pytest.raises(ValidationError, match="already closed"):
        messaging.close_thread(session, actor=nina, thread_id=thread_id)
    messaging.reopen_thread(session, actor=nina, thread_id=thread_id)
    messaging.post_message(session, actor=paula, thread_id=thread_id, body="one more thing")
    assert [a[0] for a in _audits(session, "message.close")] == ["nina"]
    assert [a[0] for a in _audits(session, "message.reopen")] == ["nina"]


def test_another_patients_threads_files_and_invitations_are_answered_as_missing_ones(session, people):
    paula, otto, nina, _noor = people
    thread_id = messaging.start_thread(
        session, actor=paula, subject="Private", body="mine", upload=NewFile("p.png", "image/png", PNG)
    )
    attachment_id = (
        messaging.open_thread(session, actor=paula, thread_id=thread_id).messages[0].attachments[0].id
    )
    for call in (
        lambda: messaging.open_thread(session, actor=otto, thread_id=thread_id),
        lambda: messaging.post_message(session, actor=otto, thread_id=thread_id, body="hi"),
    ):
        with pytest.raises(Withheld, match=messaging.THREAD_MISSING):
            call()
        session.rollback()
    with pytest.raises(NotFound, match=messaging.THREAD_MISSING):
        messaging.open_thread(session, actor=otto, thread_id=thread_id + 1000)  # same words as someone else's
    with pytest.raises(Withheld, match=messaging.ATTACHMENT_MISSING):
        messaging.open_attachment(session, actor=otto, attachment_id=attachment_id)
    session.rollback()
    # A patient writes only as themselves: a staff-only argument is ignored.
    own = messaging.start_thread(session, actor=otto, subject="Mine", body="x", patient_id=paula.patient_id)
    assert messaging.open_thread(session, actor=otto, thread_id=own).patient_id == otto.patient_id
    assert [t.id for t in messaging.portal_threads(session, actor=otto)] == [own]
    # Patients hold no staff powers; other roles none at all.
    for call in (
        lambda: messaging.team_inbox(session, actor=otto),
        lambda: messaging.assign_thread(session, actor=otto, thread_id=own, user_id=otto.user_id),
        lambda: messaging.close_thread(session, actor=otto, thread_id=own),
    ):
        with pytest.raises(Forbidden):
            call()
    billing = Actor(
        user_id=nina.user_id,
        username="bill",
        roles=frozenset({"lab_technician"}),
        permissions=DEFAULT_GRANTS.get("lab_technician", frozenset({"lab.read"})),
    )
    with pytest.raises(Forbidden):
        messaging.open_thread(session, actor=billing, thread_id=thread_id)
    with pytest.raises(Forbidden):
        messaging.open_attachment(session, actor=billing, attachment_id=attachment_id)
    assert messaging.open_thread(session, actor=nina, thread_id=thread_id).patient_id == paula.patient_id


def test_the_team_inbox_filters_pages_and_counts_in_sql_and_threads_are_assigned(
    session, people, monkeypatch
):
    paula, otto, nina, noor = people
    monkeypatch.setattr(messaging.threads, "PATIENT_THREADS_PER_DAY", 100)  # a busy inbox, quickly
    ids = [
        messaging.start_thread(session, actor=paula if i % 2 else otto, subject=f"Question {i}", body="?")
        for i in range(25)
    ]
    first = messaging.team_inbox(session, actor=nina, view="unassigned", page=1)
    assert first.total == 25 and len(first.rows) == messaging.PAGE_SIZE
    assert first.rows[0].id == ids[-1]  # newest activity first
    second = messaging.team_inbox(session, actor=nina, view="unassigned", page=2)
    assert {r.id for r in first.rows} | {r.id for r in second.rows} == set(ids)
    assert {
        r.id for r in messaging.team_inbox(session, actor=nina, view="open", query="question 1").rows
    } == {ids[1], *ids[10:20]}
    assert {r.id for r in messaging.team_inbox(session, actor=nina, view="open", query="otto").rows} == set(
        ids[0::2]
    )

    messaging.assign_thread(session, actor=nina, thread_id=ids[0], user_id=noor.user_id)
    messaging.assign_thread(session, actor=nina, thread_id=ids[1], user_id=nina.user_id)
    counts = messaging.inbox_counts(session, actor=nina)
    assert (counts.unassigned, counts.mine, counts.open, counts.unread) == (23, 1, 25, 25)
    assert [r.assigned_name for r in messaging.team_inbox(session, actor=noor, view="mine").rows] == ["Noor"]
    messaging.assign_thread(session, actor=noor, thread_id=ids[0], user_id=None)  # back to the team
    assert messaging.inbox_counts(session, actor=nina).unassigned == 24
    with pytest.raises(ValidationError, match="does not answer"):
        messaging.assign_thread(session, actor=nina, thread_id=ids[0], user_id=paula.user_id)
    messaging.open_thread(session, actor=nina, thread_id=ids[2])
    unread = messaging.team_inbox(session, actor=nina, view="open", unread_only=True, page_size=100)
    assert ids[2] not in {r.id for r in unread.rows} and unread.total == 24
    messaging.close_thread(session, actor=nina, thread_id=ids[3])
    assert [r.id for r in messaging.team_inbox(session, actor=nina, view="closed").rows] == [ids[3]]
    with pytest.raises(ValidationError):
        messaging.team_inbox(session, actor=nina, view="everything")
    with pytest.raises(ValidationError):
        messaging.team_inbox(session, actor=nina, page=0)
    assert [a[2] for a in _audits(session, "message.assign")] == [str(ids[0]), str(ids[1]), str(ids[0])]
    assert len(_audits(session, "message.inbox_read")) == 7  # one per page of the inbox shown


def _bookable(session):
    from hms_app.models.organization import Department

    department = session.execute(select(Department).limit(1)).scalar_one_or_none()
    if department is None:
        department = Department(name="General Medicine", code="GM")
        session.add(department)
        session.commit()
    service = sched.save_service(
        session,
        actor=SYSTEM_ACTOR,
        data={
            "code": "TRAVEL",
            "name": "Travel clinic",
            "department_id": department.id,
            "self_bookable": True,
        },
    )
    vtype = sched.save_appointment_type(
        session,
        actor=SYSTEM_ACTOR,
        data={"service_id": service.id, "code": "STD", "name": "Vaccination advice", "duration_minutes": 15},
    )
    return service.id, vtype.id


def test_a_message_becomes_an_invitation_to_book_that_the_patient_follows(session, people):
    paula, otto, nina, _noor = people
    service_id, type_id = _bookable(session)
    thread_id = messaging.start_thread(session, actor=paula, subject="Trip to Peru", body="Which vaccines?")
    asked = messaging.open_thread(session, actor=nina, thread_id=thread_id).messages[0]
    options = messaging.invitation_options(session, actor=nina)
    assert [(o.service_id, o.appointment_type_id) for o in options] == [(service_id, type_id)]
    with pytest.raises(ValidationError, match="book online"):
        messaging.invite_to_book(
            session, actor=nina, thread_id=thread_id, service_id=service_id, appointment_type_id=999
        )
    invitation_id = messaging.invite_to_book(
        session,
        actor=nina,
        thread_id=thread_id,
        service_id=service_id,
        appointment_type_id=type_id,
        note="Bring your vaccination card.",
        from_message_id=asked.id,
    )
    shown = messaging.open_thread(session, actor=paula, thread_id=thread_id).messages[-1]
    assert shown.invitation.id == invitation_id and shown.invitation.status == "open"
    assert "Travel clinic · Vaccination advice" in shown.body and "vaccination card" in shown.body
    assert [i.id for i in messaging.open_invitations(session, actor=paula)] == [invitation_id]
    assert (
        messaging.portal_invitation(session, actor=paula, invitation_id=invitation_id).service_id
        == service_id
    )
    with pytest.raises(Withheld, match=messaging.INVITATION_MISSING):
        messaging.portal_invitation(session, actor=otto, invitation_id=invitation_id)
    session.rollback()
    assert messaging.open_invitations(session, actor=otto) == []
    # A patient's invitation is marked booked only with their own appointment of that visit.
    from hms_app.models.scheduling import Appointment, HealthcareService

    appointment = Appointment(
        reference="AP-TEST01",
        department_id=session.execute(select(HealthcareService.department_id)).scalars().first(),
        patient_id=paula.patient_id,
        service_id=service_id,
        appointment_type_id=type_id,
        start_at=utcnow() + timedelta(days=2),
        end_at=utcnow() + timedelta(days=2, minutes=15),
        status="booked",
    )
    session.add(appointment)
    session.commit()
    with pytest.raises(Withheld):
        messaging.invitation_booked(
            session, actor=otto, invitation_id=invitation_id, appointment_id=appointment.id
        )
    session.rollback()
    messaging.invitation_booked(
        session, actor=paula, invitation_id=invitation_id, appointment_id=appointment.id
    )
    assert (
        messaging.open_thread(session, actor=nina, thread_id=thread_id).messages[-1].invitation.status
        == "booked"
    )
    with pytest.raises(Conflict):
        messaging.invitation_booked(
            session, actor=paula, invitation_id=invitation_id, appointment_id=appointment.id
        )
    assert [a[:2] for a in _audits(session, "message.invite")] == [("nina", paula.patient_id)]
    assert [a[0] for a in _audits(session, "message.invitation_booked")] == ["paula"]


def test_changes_are_announced_to_the_inbox_and_to_the_patients_portal(session, people, monkeypatch):
    paula, _otto, nina, _noor = people
    sent = []
    monkeypatch.setattr(live, "publish", lambda topic, key=None: sent.append((topic, key)))
    thread_id = messaging.start_thread(session, actor=paula, subject="Hello", body="there")
    messaging.open_thread(session, actor=nina, thread_id=thread_id)
    assert sent == [("messages", "team"), ("messages", f"patient-{paula.patient_id}")] * 2
    sent.clear()
    messaging.open_thread(session, actor=nina, thread_id=thread_id)
    assert sent == []  # nothing new was read: nobody needs to refresh


def test_weekly_message_counts_match_the_raw_rows(session, people):
    paula, _otto, nina, _noor = people
    thread_id = messaging.start_thread(session, actor=paula, subject="Hello", body="one")
    for n in range(4):
        messaging.post_message(session, actor=nina if n % 2 else paula, thread_id=thread_id, body=str(n))
    # Move some messages back in time: two weeks ago and outside the window.
    ids = [m.id for m in session.execute(select(SecureMessage).order_by(SecureMessage.id)).scalars()]
    session.execute(
        update(SecureMessage)
        .where(SecureMessage.id == ids[0])
        .values(created_at=utcnow() - timedelta(days=14))
    )
    session.execute(
        update(SecureMessage)
        .where(SecureMessage.id == ids[1])
        .values(created_at=utcnow() - timedelta(days=400))
    )
    session.commit()
    frame = weekly_message_frame(session, weeks=4)
    assert list(frame.columns) == ["week_start", "from_patients", "from_staff", "total"]
    assert len(frame) == 4 and all(isinstance(d, date) and d.weekday() == 0 for d in frame.week_start)
    raw = pd.DataFrame(
        [(m.created_at, m.from_patient) for m in session.execute(select(SecureMessage)).scalars()],
        columns=["sent", "from_patient"],
    )
    from hms_app.clock import to_local

    raw["week"] = [to_local(sent if sent.tzinfo else sent.replace(tzinfo=UTC)).date() for sent in raw.sent]
    raw["week"] = [d - timedelta(days=d.weekday()) for d in raw.week]
    inside = raw[raw.week >= frame.week_start.iloc[0]]
    assert frame.total.sum() == len(inside) == 4
    assert frame.from_staff.sum() == int((~inside.from_patient).sum())
    for _, row in frame.iterrows():
        assert row.total == int((inside.week == row.week_start).sum())


def test_staff_start_a_conversation_by_the_patients_mrn_and_it_is_theirs(session, people):
    paula, _otto, nina, _noor = people
    from hms_app.models.patients import Patient

    mrn = session.get(Patient, paula.patient_id).mrn
    with pytest.raises(ValidationError, match="Enter the patient's MRN"):
        messaging.start_thread(session, actor=nina, subject="Results", body="x", patient_mrn="  ")
    with pytest.raises(ValidationError, match="No patient has the MRN H9999999-9"):
        messaging.start_thread(session, actor=nina, subject="Results", body="x", patient_mrn="h9999999-9")
    thread_id = messaging.start_thread(
        session, actor=nina, subject="Your results", body="All normal.", patient_mrn=f" {mrn.lower()} "
    )
    (row,) = messaging.team_inbox(session, actor=nina, view="mine").rows
    assert (row.id, row.patient_id, row.assigned_name, row.last_from_patient) == (
        thread_id,
        paula.patient_id,
        "Nina",
        False,
    )
    (mine,) = messaging.portal_threads(session, actor=paula)
    assert (mine.subject, mine.unread) == ("Your results", 1)
    # A patient cannot pick someone else by MRN either: they always write as themselves.
    own = messaging.start_thread(session, actor=paula, subject="Thanks", body="ok", patient_mrn="H0000001-8")
    assert messaging.open_thread(session, actor=paula, thread_id=own).patient_id == paula.patient_id


def test_a_patient_starts_at_most_ten_conversations_a_day(session, people):
    paula, _otto, nina, _noor = people
    for n in range(messaging.threads.PATIENT_THREADS_PER_DAY):
        messaging.start_thread(session, actor=paula, subject=f"Question {n}", body="?")
    with pytest.raises(ValidationError, match="started 10 conversations today"):
        messaging.start_thread(session, actor=paula, subject="One more", body="?")
    # Replies are not limited, and the team may still write first.
    messaging.post_message(
        session, actor=paula, thread_id=messaging.portal_threads(session, actor=paula)[0].id, body="!"
    )
    messaging.start_thread(
        session, actor=nina, subject="Checking in", body="Hello", patient_id=paula.patient_id
    )


def test_an_invitation_not_yet_used_can_be_withdrawn_by_staff_only(session, people):
    paula, _otto, nina, _noor = people
    service_id, type_id = _bookable(session)
    thread_id = messaging.start_thread(session, actor=paula, subject="Trip", body="Vaccines?")
    invitation_id = messaging.invite_to_book(
        session, actor=nina, thread_id=thread_id, service_id=service_id, appointment_type_id=type_id
    )
    with pytest.raises(Forbidden):
        messaging.withdraw_invitation(session, actor=paula, invitation_id=invitation_id)
    messaging.withdraw_invitation(session, actor=nina, invitation_id=invitation_id)
    assert messaging.open_invitations(session, actor=paula) == []
    assert (
        messaging.portal_invitation(session, actor=paula, invitation_id=invitation_id).status == "withdrawn"
    )
    with pytest.raises(Conflict):
        messaging.withdraw_invitation(session, actor=nina, invitation_id=invitation_id)
    assert [a[0] for a in _audits(session, "message.invitation_withdraw")] == ["nina"]
