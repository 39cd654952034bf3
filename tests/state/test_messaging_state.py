"""The messaging screens driven as browsers would: a patient writes from the portal with a file,
the nurse's inbox lists it, she opens, answers, assigns and invites to book; read receipts on both
sides. And the attacker's cases: raw event calls with another patient's thread and invitation
ids, forged choices, wrong roles, an anonymous tab, and setvar planting a thread id."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from hms_app import db as hms_db
from hms_app.hms_app import app  # noqa: F401  (the app module: registers every page and state)
from hms_app.models.messaging import MessageThread
from hms_app.models.security import AuditEvent
from hms_app.services import accounts, patients, security
from hms_app.services import scheduling as sched
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.state.messaging.inbox import InboxState
from hms_app.state.portal.booking import PortalBookingState
from hms_app.state.portal.messages import PortalMessagesState
from tests.state.test_patients_state import PASSWORD, _call, _redirects, _tab, _toasts

PNG = b"\x89PNG\r\n\x1a\n" + b"\x02" * 50


class FakeUpload:
    """What Reflex hands an upload handler for one chosen file."""

    def __init__(self, filename: str, content_type: str, content: bytes):
        self.filename, self.content_type, self.content = filename, content_type, content
        self.size = len(content)

    async def read(self, limit: int = -1) -> bytes:
        return self.content if limit < 0 else self.content[:limit]


@pytest.fixture(autouse=True)
def fast_hasher(monkeypatch):
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def clinic(session):
    """Two patients with portal accounts, a nurse, a receptionist, a lab technician, and a
    service patients may book online."""
    accounts.ensure_roles(session)
    ids = {}
    for given in ("Paula", "Otto"):
        patient = patients.register_patient(
            session,
            actor=SYSTEM_ACTOR,
            data={"given_name": given, "family_name": "Portal", "sex": "female", "birth_date": "1980-01-01"},
        )
        ids[given.lower()] = patient.id
    for username, role, patient_id in (
        ("paula", "patient", ids["paula"]),
        ("otto", "patient", ids["otto"]),
        ("nina", "nurse", None),
        ("rita", "receptionist", None),
        ("lab", "lab_technician", None),
    ):
        accounts.create_user(
            session,
            actor=SYSTEM_ACTOR,
            username=username,
            display_name=username.title(),
            password=PASSWORD,
            roles=[role],
            patient_id=patient_id,
        )
    from hms_app.models.organization import Department

    department = Department(name="General Medicine", code="GM")
    session.add(department)
    session.commit()
    service = sched.save_service(
        session,
        actor=SYSTEM_ACTOR,
        data={"code": "TRV", "name": "Travel clinic", "department_id": department.id, "self_bookable": True},
    )
    vtype = sched.save_appointment_type(
        session,
        actor=SYSTEM_ACTOR,
        data={"service_id": service.id, "code": "STD", "name": "Vaccination advice", "duration_minutes": 15},
    )
    session.commit()
    ids["visit"] = f"{service.id}:{vtype.id}"
    return ids


async def _paula_writes(body: str = "It itches.") -> PortalMessagesState:
    paula = _tab(PortalMessagesState, "/portal/messages", "paula")
    await _call(paula, "load")
    await _call(paula, "compose")
    events = await _call(paula, "start", [FakeUpload("arm.png", "image/png", PNG)], "Rash", body)
    assert "Your message was sent" in " ".join(_toasts(events))
    return paula


async def test_a_patient_writes_with_a_file_and_the_nurse_reads_answers_and_invites(clinic, configured_db):
    paula = await _paula_writes()
    assert paula.subject == "Rash" and paula.thread_id
    (mine,) = paula.messages
    assert (mine.mine, mine.receipt, mine.read) == (True, "Delivered", False)
    assert [f.name for f in mine.files] == ["arm.png"]
    assert mine.files[0].href.startswith("/api/portal/messages/attachments/")

    nina = _tab(InboxState, "/messages", "nina")
    await _call(nina, "load")
    assert [(r.subject, r.patient, r.unread, r.assigned) for r in nina.rows] == [
        ("Rash", "Paula Portal", 1, "")
    ]
    assert (nina.count_unassigned, nina.count_unread) == (1, 1)
    await _call(nina, "open", nina.rows[0].id)
    assert nina.messages[0].files[0].href.startswith("/api/messages/attachments/")
    assert nina.count_unread == 0 and nina.rows[0].unread == 0
    await _call(nina, "take")
    assert nina.assigned == "Nina" and nina.count_mine == 1
    await _call(nina, "send", [], "Please send another photo tomorrow.")
    assert nina.messages[-1].mine and nina.messages[-1].receipt == "Delivered"

    await _call(paula, "refresh")  # what the live notice makes the portal do
    assert paula.messages[0].receipt.startswith("Read ")
    assert paula.messages[-1].body == "Please send another photo tomorrow." and not paula.messages[-1].mine
    await _call(nina, "refresh")
    assert nina.messages[-1].receipt.startswith("Read ")

    # The nurse turns the patient's message into an invitation to book.
    await _call(nina, "start_invite", nina.messages[0].id)
    await _call(nina, "set_invite_visit", clinic["visit"])
    events = await _call(nina, "invite", {"note": "Bring your vaccination card."})
    assert "Invitation sent." in " ".join(_toasts(events))
    await _call(paula, "refresh")
    assert [i.label for i in paula.invitations] == ["Travel clinic · Vaccination advice (15 min)"]
    invitation = paula.messages[-1]
    assert invitation.invitation_status == "open" and invitation.invitation_href == paula.invitations[0].href

    booking = _tab(PortalBookingState, invitation.invitation_href.split("?")[0], "paula")
    # The tab opened at the link: /portal/book?invite=<id>.
    object.__setattr__(booking.router.url, "query_parameters", {"invite": str(invitation.invitation_id)})
    await _call(booking, "load")
    assert booking.invite_id == invitation.invitation_id
    assert booking.service_key == clinic["visit"] and booking.step in ("provider", "day")


async def test_another_patients_thread_and_invitation_ids_are_answered_as_missing_ones(clinic, configured_db):
    paula = await _paula_writes("private")
    nina = _tab(InboxState, "/messages", "nina")
    await _call(nina, "load")
    await _call(nina, "open", paula.thread_id)
    await _call(nina, "start_invite", 0)
    await _call(nina, "set_invite_visit", clinic["visit"])
    await _call(nina, "invite", {"note": ""})
    await _call(paula, "refresh")
    invitation_id = paula.invitations[0].id

    otto = _tab(PortalMessagesState, "/portal/messages", "otto")
    await _call(otto, "load")
    events = await _call(otto, "open", paula.thread_id)
    assert "That conversation does not exist." in " ".join(_toasts(events))
    assert otto.thread_id == 0 and otto.messages == []
    # No setter plants a thread id, so a reply has nowhere to go.
    await _call(otto, "setvar", "thread_id", paula.thread_id)
    assert otto.thread_id == 0
    await _call(otto, "send", [], "I am Paula now")
    events = await _call(otto, "open", "1 OR 1=1")
    assert "Choose a conversation" in " ".join(_toasts(events))
    booking = _tab(PortalBookingState, "/portal/book", "otto")
    object.__setattr__(booking.router.url, "query_parameters", {"invite": str(invitation_id)})
    events = await _call(booking, "load")
    assert "That invitation does not exist." in " ".join(_toasts(events)) and booking.invite_id == 0
    with hms_db.session_scope() as s:
        bodies = s.execute(select(MessageThread.patient_id)).scalars().all()
        withheld = (
            s.execute(
                select(AuditEvent.action).where(
                    AuditEvent.username == "otto", AuditEvent.outcome != "success"
                )
            )
            .scalars()
            .all()
        )
    assert len(bodies) == 1  # Otto's reply went nowhere
    assert len(withheld) >= 2  # both refusals are on the audit trail


async def test_wrong_roles_and_anonymous_tabs_get_nothing(clinic, configured_db):
    paula = await _paula_writes()
    # A patient on the staff inbox: sent back to the portal, nothing loaded.
    as_patient = _tab(InboxState, "/messages", "paula")
    events = await _call(as_patient, "load")
    assert "/portal" in _redirects(events) and as_patient.rows == []
    events = await _call(as_patient, "open", paula.thread_id)
    assert as_patient.messages == []
    # A lab technician does not answer patients' messages.
    lab = _tab(InboxState, "/messages", "lab")
    events = await _call(lab, "open", paula.thread_id)
    assert "does not allow" in " ".join(_toasts(events)) and lab.messages == []
    # Staff have no portal conversations.
    nina_portal = _tab(PortalMessagesState, "/portal/messages", "nina")
    await _call(nina_portal, "load")
    assert nina_portal.threads == []
    # A receptionist may (message.staff): she sees the thread.
    rita = _tab(InboxState, "/messages", "rita")
    await _call(rita, "load")
    assert [r.subject for r in rita.rows] == ["Rash"]
    # Forged choices are refused with a message.
    await _call(rita, "open", paula.thread_id)
    assert "Choose a staff member" in " ".join(_toasts(await _call(rita, "assign", "-3")))
    assert "Choose a visit" in " ".join(_toasts(await _call(rita, "set_invite_visit", "999:999")))
    assert "Choose a list" in " ".join(_toasts(await _call(rita, "set_view", "everyone")))
    assert "Choose a message" in " ".join(_toasts(await _call(rita, "start_invite", 987654)))
    # An empty reply and a closed thread.
    assert "Write a message." in " ".join(_toasts(await _call(rita, "send", [], "   ")))
    await _call(rita, "close_thread")
    assert "Reopen it first" in " ".join(_toasts(await _call(rita, "send", [], "hello")))
    await _call(paula, "refresh")
    assert "closed" in " ".join(_toasts(await _call(paula, "send", [], "one more")))
    # Anonymous: sign in first.
    anonymous = _tab(PortalMessagesState, "/portal/messages", "paula")
    anonymous.auth_token = ""
    events = await _call(anonymous, "load")
    assert any("/login" in r for r in _redirects(events)) and anonymous.threads == []


async def test_files_are_checked_before_and_by_the_service(clinic, configured_db):
    paula = _tab(PortalMessagesState, "/portal/messages", "paula")
    await _call(paula, "load")
    two = [FakeUpload("a.png", "image/png", PNG), FakeUpload("b.png", "image/png", PNG)]
    assert "one file at a time" in " ".join(_toasts(await _call(paula, "start", two, "Hi", "x")))
    fake = FakeUpload("virus.png", "image/png", b"MZ\x90\x00")
    assert "do not match its type" in " ".join(_toasts(await _call(paula, "start", [fake], "Hi", "x")))
    exe = FakeUpload("tool.exe", "application/x-msdownload", b"MZ\x90\x00")
    assert "Only PDF, PNG and JPEG" in " ".join(_toasts(await _call(paula, "start", [exe], "Hi", "x")))
    big = FakeUpload("big.png", "image/png", PNG)
    big.size = 10**10
    assert "larger than" in " ".join(_toasts(await _call(paula, "start", [big], "Hi", "x")))
    assert "Write a subject" in " ".join(_toasts(await _call(paula, "start", [], " ", "x")))
    assert "keep it under 4,000" in " ".join(_toasts(await _call(paula, "start", [], "Hi", "x" * 9000)))
    with hms_db.session_scope() as s:
        assert s.execute(select(MessageThread.id)).first() is None


async def test_staff_write_first_to_a_patient_named_by_mrn(clinic, configured_db):
    from hms_app.models.patients import Patient

    with hms_db.session_scope() as s:
        mrn = s.get(Patient, clinic["paula"]).mrn
    rita = _tab(InboxState, "/messages", "rita")
    await _call(rita, "load")
    await _call(rita, "compose")
    assert rita.composing
    events = await _call(rita, "start", [], "H0000000-0", "Your letter", "It is ready.")
    assert "No patient has the MRN" in " ".join(_toasts(events)) and rita.composing
    events = await _call(
        rita, "start", [FakeUpload("letter.pdf", "application/pdf", b"%PDF-1.4 x")], mrn, "Your letter", ""
    )
    assert "Message sent to the patient." in " ".join(_toasts(events))
    assert not rita.composing and rita.subject == "Your letter" and rita.assigned == "Rita"
    assert [f.name for f in rita.messages[0].files] == ["letter.pdf"]
    paula = _tab(PortalMessagesState, "/portal/messages", "paula")
    await _call(paula, "load")
    assert [(t.subject, t.unread, t.waiting) for t in paula.threads] == [("Your letter", 1, False)]
    lab = _tab(InboxState, "/messages", "lab")
    events = await _call(lab, "start", [], mrn, "Hi", "x")
    assert "does not allow" in " ".join(_toasts(events))
    with hms_db.session_scope() as s:
        assert len(s.execute(select(MessageThread.id)).all()) == 1


async def test_only_an_open_invitation_on_screen_can_be_withdrawn(clinic, configured_db):
    paula = await _paula_writes()
    nina = _tab(InboxState, "/messages", "nina")
    await _call(nina, "load")
    await _call(nina, "open", paula.thread_id)
    await _call(nina, "start_invite", 0)
    await _call(nina, "set_invite_visit", clinic["visit"])
    await _call(nina, "invite", {"note": ""})
    invitation_id = nina.messages[-1].invitation_id
    assert "not used yet" in " ".join(_toasts(await _call(nina, "withdraw", invitation_id + 50)))
    assert "not used yet" in " ".join(_toasts(await _call(nina, "withdraw", "x")))
    assert "Invitation withdrawn." in " ".join(_toasts(await _call(nina, "withdraw", invitation_id)))
    assert nina.messages[-1].invitation_status == "withdrawn"
    assert "not used yet" in " ".join(_toasts(await _call(nina, "withdraw", invitation_id)))
    await _call(paula, "refresh")
    assert paula.invitations == [] and paula.messages[-1].invitation_words == "Withdrawn"
