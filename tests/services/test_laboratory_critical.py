"""The critical-result loop: an alert reaches the ordering clinician, escalates to the unit's
charge nurse and then its department lead when nobody acknowledges in time (exactly at the limit,
on a fake clock), skips a level nobody holds, stops when acknowledged with a read-back of the
value, refuses those it is not for, and leaves its steps in the audit trail."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from hms_app import db as hms_db
from hms_app import jobs
from hms_app.clock import held_at
from hms_app.errors import Conflict, Forbidden, NotFound, ValidationError
from hms_app.models.laboratory import CriticalAlert
from hms_app.models.organization import Department
from hms_app.models.security import AppUser, AuditEvent, Role, UserRole
from hms_app.services import accounts, live, patients
from hms_app.services.laboratory.critical import (
    acknowledge_alert,
    check_read_back,
    critical_board,
    escalate_due_alerts,
    my_open_alerts,
    raise_alert,
)
from hms_app.services.permissions import DEFAULT_GRANTS, SYSTEM_ACTOR, Actor
from hms_app.settings import get_settings

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
SECOND = timedelta(seconds=1)
POTASSIUM = "Potassium 6.9 mmol/L (HH)"


@dataclass(frozen=True)
class Ward:
    medicine: int  # General Medicine: a charge nurse and a lead
    cardiology: int  # a lead only
    orthopaedics: int  # nobody in the chain
    patient: int
    grey: Actor  # physician, General Medicine: orders the potassium
    house: Actor  # physician, General Medicine: not theirs
    carla: Actor  # charge nurse, General Medicine
    derek: Actor  # department lead, General Medicine
    cora: Actor  # charge nurse, Cardiology
    cardio_lead: Actor
    bones: Actor  # physician, Orthopaedics
    joy: Actor  # nurse without lab.acknowledge
    lars: Actor  # lab technician (lab.verify)


def _person(session, username: str, name: str, roles: list[str], department: int | None) -> Actor:
    user = AppUser(username=username, display_name=name, password_hash="x", department_id=department)
    session.add(user)
    session.flush()
    for role in roles:
        role_id = session.execute(select(Role.id).where(Role.name == role)).scalar_one()
        session.add(UserRole(user_id=user.id, role_id=role_id))
    permissions = frozenset().union(*(DEFAULT_GRANTS[role] for role in roles))
    return Actor(user.id, username, name, roles=frozenset(roles), permissions=permissions)


@pytest.fixture
def ward(session) -> Ward:
    accounts.ensure_roles(session)
    med = Department(code="GEN", name="General Medicine")
    card = Department(code="CARD", name="Cardiology")
    orth = Department(code="ORTH", name="Orthopaedics")
    session.add_all([med, card, orth])
    session.flush()
    patient = patients.register_patient(
        session,
        actor=SYSTEM_ACTOR,
        data={"given_name": "Kal", "family_name": "Emia", "sex": "male", "birth_date": "1951-04-02"},
    )
    world = Ward(
        medicine=med.id,
        cardiology=card.id,
        orthopaedics=orth.id,
        patient=patient.id,
        grey=_person(session, "dr.grey", "Dr Meredith Grey", ["physician"], med.id),
        house=_person(session, "dr.house", "Dr Greg House", ["physician"], med.id),
        carla=_person(session, "charge.nurse", "Carla Charge, RN", ["charge_nurse", "nurse"], med.id),
        derek=_person(session, "dr.lead", "Dr Derek Lead", ["department_lead", "physician"], med.id),
        cora=_person(session, "cora.charge", "Cora Cardio, RN", ["charge_nurse"], card.id),
        cardio_lead=_person(session, "dr.heart", "Dr Hart Lead", ["department_lead"], card.id),
        bones=_person(session, "dr.bones", "Dr Bo Nes", ["physician"], orth.id),
        joy=_person(session, "nurse.joy", "Joy Okafor, RN", ["nurse"], med.id),
        lars=_person(session, "lab.tech", "Lars Labtech", ["lab_technician"], None),
    )
    session.commit()
    return world


@pytest.fixture
def published(monkeypatch):
    sent: list[tuple[str, str | None]] = []
    monkeypatch.setattr(
        live, "publish", lambda topic, key=None: sent.append((topic, None if key is None else str(key)))
    )
    return sent


def _raise(session, ward: Ward, *, source_id=1, recipient: Actor | None = None, department=None, at=T0, **kw):
    recipient = ward.grey if recipient is None else recipient
    with held_at(at):
        alert = raise_alert(
            session,
            source_type="lab_result",
            source_id=source_id,
            patient_id=ward.patient,
            summary=kw.get("summary", POTASSIUM),
            recipient_id=recipient.user_id if recipient else None,
            department_id=ward.medicine if department is None else department,
        )
        session.commit()
    return alert.id


def _alert(session, alert_id: int) -> CriticalAlert:
    session.expire_all()
    return session.get(CriticalAlert, alert_id)


def _audit(session, action: str) -> list[AuditEvent]:
    return list(
        session.execute(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        ).scalars()
    )


def _escalate(session, at: datetime) -> int:
    return escalate_due_alerts(session, actor=SYSTEM_ACTOR, now=at)


# ---------------------------------------------------------------------------- raising


def test_a_critical_value_alerts_the_ordering_clinician_due_to_escalate_after_15_minutes(
    session, ward, published
):
    alert_id = _raise(session, ward)
    alert = _alert(session, alert_id)
    assert (alert.recipient_id, alert.clinician_id, alert.level, alert.status) == (
        ward.grey.user_id,
        ward.grey.user_id,
        0,
        "open",
    )
    assert (alert.raised_at, alert.escalate_at, alert.department_id) == (T0, T0 + 15 * MINUTE, ward.medicine)
    (raised,) = _audit(session, "critical.raise")
    assert raised.patient_id == ward.patient and raised.target_id == str(alert_id)
    assert "Potassium 6.9 mmol/L (HH)" in raised.detail and "Dr Meredith Grey" in raised.detail
    assert published == [("critical", None)]  # when the result's transaction committed


def test_the_board_hears_of_an_alert_only_when_the_result_commits(session, ward, published):
    raise_alert(
        session,
        source_type="lab_result",
        source_id=5,
        patient_id=ward.patient,
        summary=POTASSIUM,
        recipient_id=ward.grey.user_id,
        department_id=ward.medicine,
    )
    assert published == []
    session.rollback()  # the result was not stored: neither is its alert, and nobody is told
    session.commit()
    assert published == []
    assert session.execute(select(func.count()).select_from(CriticalAlert)).scalar_one() == 0


def test_raising_again_for_the_same_result_returns_the_alert_already_raised(session, ward, published):
    first = _raise(session, ward, source_id=7)
    again = _raise(session, ward, source_id=7, at=T0 + 5 * MINUTE, summary="Potassium 7.1 mmol/L (HH)")
    assert again == first
    assert session.execute(select(func.count()).select_from(CriticalAlert)).scalar_one() == 1
    assert len(_audit(session, "critical.raise")) == 1
    assert _alert(session, first).raised_at == T0


def test_without_a_department_the_alert_belongs_to_the_recipients_unit(session, ward):
    with held_at(T0):
        alert = raise_alert(
            session,
            source_type="lab_result",
            source_id=3,
            patient_id=ward.patient,
            summary=POTASSIUM,
            recipient_id=ward.bones.user_id,
            department_id=None,
        )
        session.commit()
    assert alert.department_id == ward.orthopaedics


def test_an_alert_nobody_ordered_is_due_for_the_charge_nurse_at_once(session, ward):
    alert_id = _raise(session, ward, recipient=False)
    assert _alert(session, alert_id).escalate_at == T0
    assert _escalate(session, T0) == 1
    assert _alert(session, alert_id).recipient_id == ward.carla.user_id


def test_the_escalation_time_is_a_setting_checked_at_start(session, ward, monkeypatch):
    monkeypatch.setenv("HMS_CRITICAL_ESCALATE_MINUTES", "30")
    get_settings.cache_clear()
    alert_id = _raise(session, ward)
    assert _alert(session, alert_id).escalate_at == T0 + 30 * MINUTE
    for wrong in ("0", "241", "soon"):
        monkeypatch.setenv("HMS_CRITICAL_ESCALATE_MINUTES", wrong)
        get_settings.cache_clear()
        with pytest.raises(RuntimeError, match="HMS_CRITICAL_ESCALATE_MINUTES"):
            get_settings()
    monkeypatch.delenv("HMS_CRITICAL_ESCALATE_MINUTES")
    get_settings.cache_clear()
    assert get_settings().critical_escalate_minutes == 15


def test_raise_alert_refuses_an_unknown_source_or_an_empty_summary(session, ward):
    with pytest.raises(ValueError, match="source"):
        raise_alert(
            session,
            source_type="pharmacy",
            source_id=1,
            patient_id=ward.patient,
            summary=POTASSIUM,
            recipient_id=None,
            department_id=None,
        )
    with pytest.raises(ValueError, match="summary"):
        raise_alert(
            session,
            source_type="imaging",
            source_id=1,
            patient_id=ward.patient,
            summary="   ",
            recipient_id=None,
            department_id=None,
        )


# ---------------------------------------------------------------------------- escalating


def test_escalation_happens_exactly_at_the_limit_to_the_charge_nurse_then_the_lead(session, ward, published):
    alert_id = _raise(session, ward)
    published.clear()
    assert _escalate(session, T0 + 15 * MINUTE - SECOND) == 0
    assert _alert(session, alert_id).level == 0 and published == []

    assert _escalate(session, T0 + 15 * MINUTE) == 1
    alert = _alert(session, alert_id)
    assert (alert.level, alert.recipient_id, alert.clinician_id) == (1, ward.carla.user_id, ward.grey.user_id)
    assert (alert.escalated_at, alert.escalate_at) == (T0 + 15 * MINUTE, T0 + 30 * MINUTE)
    assert published == [("critical", None)]

    assert _escalate(session, T0 + 30 * MINUTE - SECOND) == 0
    assert _escalate(session, T0 + 30 * MINUTE) == 1
    alert = _alert(session, alert_id)
    assert (alert.level, alert.recipient_id, alert.status) == (2, ward.derek.user_id, "open")

    # At the top it stays open with the lead, however long nobody answers.
    assert _escalate(session, T0 + 6 * 60 * MINUTE) == 0
    assert (_alert(session, alert_id).level, _alert(session, alert_id).status) == (2, "open")

    steps = [event.detail for event in _audit(session, "critical.escalate")]
    assert len(steps) == 2
    assert "unacknowledged by Dr Meredith Grey" in steps[0] and "to charge nurse Carla Charge, RN" in steps[0]
    assert "unacknowledged by Carla Charge, RN" in steps[1] and "to department lead Dr Derek Lead" in steps[1]
    assert {e.patient_id for e in _audit(session, "critical.escalate")} == {ward.patient}
    assert {e.username for e in _audit(session, "critical.escalate")} == {"system"}


def test_a_unit_without_a_charge_nurse_goes_straight_to_its_lead(session, ward):
    cardiologist = _person(session, "dr.cardio", "Dr Cara Diol", ["physician"], ward.cardiology)
    # Cardiology's only charge nurse is away: her account is disabled.
    session.get(AppUser, ward.cora.user_id).is_active = False
    session.commit()
    alert_id = _raise(session, ward, recipient=cardiologist, department=ward.cardiology)
    assert _escalate(session, T0 + 15 * MINUTE) == 1
    alert = _alert(session, alert_id)
    assert (alert.level, alert.recipient_id) == (2, ward.cardio_lead.user_id)
    (step,) = _audit(session, "critical.escalate")
    assert (
        "to department lead Dr Hart Lead" in step.detail
        and "no charge nurse to tell in Cardiology" in step.detail
    )


def test_a_unit_with_nobody_above_keeps_the_alert_with_its_clinician_at_the_top(session, ward):
    alert_id = _raise(session, ward, recipient=ward.bones, department=ward.orthopaedics)
    assert _escalate(session, T0 + 15 * MINUTE) == 1
    alert = _alert(session, alert_id)
    assert (alert.level, alert.recipient_id, alert.status) == (2, ward.bones.user_id, "open")
    (step,) = _audit(session, "critical.escalate")
    assert "stays with Dr Bo Nes" in step.detail
    assert "no charge nurse or department lead to tell in Orthopaedics" in step.detail
    assert [row.id for row in my_open_alerts(session, actor=ward.bones)] == [alert_id]


def test_a_lead_who_ordered_the_test_is_not_their_own_next_step(session, ward):
    alert_id = _raise(session, ward, recipient=ward.derek)
    _escalate(session, T0 + 15 * MINUTE)
    _escalate(session, T0 + 30 * MINUTE)
    alert = _alert(session, alert_id)
    assert (alert.level, alert.recipient_id) == (2, ward.carla.user_id)
    last = _audit(session, "critical.escalate")[-1]
    assert "stays with Carla Charge, RN" in last.detail and "no department lead to tell" in last.detail


def test_acknowledging_stops_the_escalation(session, ward, published):
    alert_id = _raise(session, ward)
    with held_at(T0 + 9 * MINUTE):
        acknowledge_alert(session, actor=ward.grey, alert_id=alert_id, read_back="K 6.9, repeating it now")
    assert published[-1] == ("critical", None)
    assert _escalate(session, T0 + 15 * MINUTE) == 0
    assert _escalate(session, T0 + 60 * MINUTE) == 0
    alert = _alert(session, alert_id)
    assert (alert.status, alert.level, alert.recipient_id) == ("acknowledged", 0, ward.grey.user_id)
    assert (alert.acknowledged_at, alert.acknowledged_by) == (T0 + 9 * MINUTE, "Dr Meredith Grey")
    assert alert.read_back == "K 6.9, repeating it now"
    (ack,) = _audit(session, "critical.acknowledge")
    assert (ack.username, ack.patient_id, ack.target_id) == ("dr.grey", ward.patient, str(alert_id))
    assert "read back: K 6.9, repeating it now" in ack.detail and "after 9 minutes" in ack.detail
    assert _audit(session, "critical.escalate") == []


def test_two_workers_escalating_at_the_same_moment_move_an_alert_once(session, ward, configured_db):
    alert_id = _raise(session, ward)
    moved: list[int] = []
    start = threading.Barrier(2)

    def worker():
        with hms_db.session_scope(configured_db) as own:
            start.wait()
            moved.append(_escalate(own, T0 + 15 * MINUTE))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(moved) == [0, 1]
    assert _alert(session, alert_id).level == 1
    assert len(_audit(session, "critical.escalate")) == 1


def test_the_periodic_jobs_escalate_what_is_due(session, ward):
    alert_id = _raise(session, ward, at=datetime.now(UTC) - 16 * MINUTE)
    assert jobs.run_due_jobs()["critical_escalated"] == 1
    assert _alert(session, alert_id).recipient_id == ward.carla.user_id


# ---------------------------------------------------------------------------- who may acknowledge


def test_a_role_without_lab_acknowledge_is_refused_before_anything_is_read(session, ward):
    alert_id = _raise(session, ward)
    for actor in (ward.joy, ward.lars):  # a ward nurse; the laboratory that phoned it through
        with pytest.raises(Forbidden):
            acknowledge_alert(session, actor=actor, alert_id=alert_id, read_back="6.9")
    assert _alert(session, alert_id).status == "open"
    assert _audit(session, "critical.acknowledge") == []


def test_another_physicians_alert_cannot_be_acknowledged(session, ward):
    alert_id = _raise(session, ward)
    with pytest.raises(Forbidden, match="Dr Meredith Grey"):
        acknowledge_alert(session, actor=ward.house, alert_id=alert_id, read_back="potassium 6.9")
    # Nor by the charge nurse of another unit.
    with pytest.raises(Forbidden):
        acknowledge_alert(session, actor=ward.cora, alert_id=alert_id, read_back="potassium 6.9")
    assert _alert(session, alert_id).status == "open"


def test_the_unit_can_acknowledge_at_or_above_the_alerts_level_and_the_clinician_always(session, ward):
    # The unit's charge nurse may answer for the clinician before it reaches her.
    first = _raise(session, ward, source_id=1)
    acknowledge_alert(session, actor=ward.carla, alert_id=first, read_back="6.9 read back")
    assert _alert(session, first).acknowledged_by == "Carla Charge, RN"

    # Once with the lead, the charge nurse it passed may not close it; the ordering clinician may.
    second = _raise(session, ward, source_id=2)
    _escalate(session, T0 + 15 * MINUTE)
    _escalate(session, T0 + 30 * MINUTE)
    assert _alert(session, second).recipient_id == ward.derek.user_id
    with pytest.raises(Forbidden):
        acknowledge_alert(session, actor=ward.carla, alert_id=second, read_back="6.9")
    acknowledge_alert(session, actor=ward.grey, alert_id=second, read_back="potassium 6.9 mmol/L")
    assert _alert(session, second).status == "acknowledged"

    # The lead may answer at any level.
    third = _raise(session, ward, source_id=3)
    acknowledge_alert(session, actor=ward.derek, alert_id=third, read_back="6.9")
    assert _alert(session, third).acknowledged_by == "Dr Derek Lead"


def test_an_alert_is_acknowledged_once(session, ward):
    alert_id = _raise(session, ward)
    acknowledge_alert(session, actor=ward.grey, alert_id=alert_id, read_back="6.9 mmol/L")
    with pytest.raises(Conflict, match="Dr Meredith Grey already acknowledged"):
        acknowledge_alert(session, actor=ward.derek, alert_id=alert_id, read_back="6.9")
    assert len(_audit(session, "critical.acknowledge")) == 1


def test_an_unknown_alert_is_not_found(session, ward):
    with pytest.raises(NotFound):
        acknowledge_alert(session, actor=ward.grey, alert_id=4242, read_back="6.9")


def test_the_read_back_is_required_and_must_repeat_the_value(session, ward):
    alert_id = _raise(session, ward)
    for empty_or_vague in ("", "   ", "ok", "acknowledged", "K 6.8", "69", "16.9"):
        with pytest.raises(ValidationError) as refused:
            acknowledge_alert(session, actor=ward.grey, alert_id=alert_id, read_back=empty_or_vague)
        assert refused.value.field == "read_back"
    with pytest.raises(ValidationError, match="under 200"):
        acknowledge_alert(session, actor=ward.grey, alert_id=alert_id, read_back="6.9 " + "x" * 200)
    assert _alert(session, alert_id).status == "open"
    acknowledge_alert(session, actor=ward.grey, alert_id=alert_id, read_back="  potassium   6,90 ")
    assert _alert(session, alert_id).read_back == "potassium 6,90"


def test_a_read_back_of_a_finding_without_a_number_repeats_its_words():
    summary = "Blood culture: Gram-negative rods (critical)"
    assert check_read_back(summary, "gram-negative rods in the blood culture") == (
        "gram-negative rods in the blood culture"
    )
    with pytest.raises(ValidationError):
        check_read_back(summary, "yes, seen")
    # A test name's digits are not its value: HbA1c's "1" does not count.
    with pytest.raises(ValidationError, match=r"\(21\)"):
        check_read_back("HbA1c 21 % (HH)", "HbA1c 1")


# ---------------------------------------------------------------------------- the board and the banner


def test_the_board_shows_open_alerts_escalated_first_and_acknowledged_ones_on_request(session, ward):
    old = _raise(session, ward, source_id=1, summary="Potassium 6.9 mmol/L (HH)")
    newer = _raise(session, ward, source_id=2, at=T0 + 20 * MINUTE, summary="Sodium 118 mmol/L (LL)")
    done = _raise(session, ward, source_id=3, at=T0 + 1 * MINUTE, summary="Glucose 1.8 mmol/L (LL)")
    with held_at(T0 + 3 * MINUTE):
        acknowledge_alert(session, actor=ward.grey, alert_id=done, read_back="glucose 1.8")
    _escalate(session, T0 + 15 * MINUTE)  # the oldest goes to the charge nurse

    with held_at(T0 + 30 * MINUTE):
        board = critical_board(session, actor=ward.lars)
        with_done = critical_board(session, actor=ward.lars, include_acknowledged_hours=2)
    assert [row.id for row in board] == [old, newer]
    assert [row.id for row in with_done] == [old, newer, done]
    top = board[0]
    assert (top.patient_name, top.summary, top.level, top.level_name, top.recipient, top.status) == (
        "EMIA, Kal",  # as every laboratory list names a patient
        POTASSIUM,
        1,
        "Charge nurse",
        "Carla Charge, RN",
        "open",
    )
    assert top.mrn and (top.raised_at, top.escalate_at, top.minutes_open) == (T0, T0 + 30 * MINUTE, 30)
    acked = with_done[-1]
    assert (acked.status, acked.acknowledged_by, acked.read_back, acked.minutes_open) == (
        "acknowledged",
        "Dr Meredith Grey",
        "glucose 1.8",
        2,
    )
    assert acked.escalate_at is None
    assert len(_audit(session, "critical.board")) == 2  # opening the board names patients


def test_live_refreshes_of_the_board_are_not_audited_again_and_it_needs_lab_read(session, ward):
    _raise(session, ward)
    assert len(critical_board(session, actor=ward.lars, audit=False)) == 1
    assert _audit(session, "critical.board") == []
    with pytest.raises(Forbidden):
        critical_board(session, actor=Actor(999, "desk", permissions=frozenset({"patient.read"})))
    with pytest.raises(ValidationError):
        critical_board(session, actor=ward.lars, include_acknowledged_hours=24 * 8)


def test_my_open_alerts_are_those_i_must_answer_now(session, ward):
    mine = _raise(session, ward, source_id=1)
    _raise(session, ward, source_id=2, recipient=ward.house)
    assert [row.id for row in my_open_alerts(session, actor=ward.grey)] == [mine]
    assert my_open_alerts(session, actor=ward.carla) == []
    _escalate(session, T0 + 15 * MINUTE)
    # Escalated to the charge nurse, the result is still the ordering clinician's: it stays on his banner.
    assert [(row.id, row.level) for row in my_open_alerts(session, actor=ward.grey)] == [(mine, 1)]
    assert {row.recipient for row in my_open_alerts(session, actor=ward.carla)} == {"Carla Charge, RN"}
    with pytest.raises(Forbidden):
        my_open_alerts(session, actor=ward.joy)
