"""The critical-result loop: a value beyond a critical limit raises an alert to the clinician who
ordered it; they acknowledge it with a read-back, or it escalates up the chain until someone does.

The chain (``ALERT_LEVELS``): level 0 the ordering clinician, level 1 the charge nurse of the
alert's department, level 2 that department's lead. An alert left unacknowledged until its
``escalate_at`` (``HMS_CRITICAL_ESCALATE_MINUTES`` after it reached its current recipient, 15 by
default) moves one level up; a level nobody holds (no active user with that role in the
department) is skipped. At the top it stays open, first on the critical board, until someone
acknowledges it. Every step is audited and published on the ``critical`` topic.

Who may acknowledge (all need ``lab.acknowledge``):
- the current recipient;
- the ordering clinician, at every level (the result is theirs; escalation adds people, it does
  not take the result away from them);
- anyone who holds the role of the current level or a higher one in the alert's department (the
  second charge nurse on the unit, the department lead at any time).
Nobody else: not another physician (the alert is not theirs to close), and not the laboratory
(``lab.verify``): an acknowledgement records that the clinical side received the value, which the
laboratory that phoned it through cannot say for them. The read-back must repeat the value (the
first number of the summary; a summary without a number: one of its words), as a read-back on
the telephone does.

A result whose specimen is rejected takes its open alert with it (``withdraw_alerts``, called by
``specimens.reject_specimen``): status "withdrawn", audited, off the board and the banners.

Radiology reuses the loop with ``source_type="imaging"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy import event, or_, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.errors import Conflict, Forbidden, NotFound, ValidationError
from hms_app.models.laboratory import ALERT_LEVELS, CriticalAlert
from hms_app.models.organization import Department
from hms_app.models.patients import Patient
from hms_app.models.security import AppUser, Role, UserRole
from hms_app.plurals import counted
from hms_app.services import live
from hms_app.services.audit import record_audit
from hms_app.services.laboratory.common import patient_name
from hms_app.services.permissions import SYSTEM_ACTOR, Actor, authorize
from hms_app.settings import get_settings

SOURCE_TYPES = ("lab_result", "imaging")
TOP_LEVEL = max(ALERT_LEVELS)
# The role each level above the clinician goes to, in the alert's department.
LEVEL_ROLES = {1: "charge_nurse", 2: "department_lead"}
LIVE_TOPIC = "critical"
BOARD_LIMIT = 200
ALERT_MISSING = "That critical alert does not exist."
READ_BACK_MAX = 200
_NUMBER = re.compile(r"(?<![\w.,])[-+]?\d+(?:[.,]\d+)?(?![\w])")
_WORD = re.compile(r"[^\W\d_][\w-]{3,}")
_PUBLISH_PENDING = "hms_critical_publish"


@dataclass(frozen=True)
class AlertRow:
    """One critical alert as the board and the clinician's banner show it."""

    id: int
    patient_id: int
    patient_name: str
    mrn: str
    summary: str
    level: int
    level_name: str
    recipient: str  # the current recipient's name ("" when nobody could be found)
    status: str  # open | acknowledged
    raised_at: datetime
    escalate_at: datetime | None  # None once acknowledged
    acknowledged_at: datetime | None
    acknowledged_by: str
    read_back: str
    minutes_open: int  # until acknowledged, or until now


# ---------------------------------------------------------------------------- live notices


def _publish_after_commit(session: Session) -> None:
    """Publish on the critical topic once the caller's transaction commits (``raise_alert`` does
    not commit: the result that raised it is committed by its own service). A rollback drops it."""
    session.info[_PUBLISH_PENDING] = True
    if not event.contains(session, "after_commit", _committed):
        event.listen(session, "after_commit", _committed)
        event.listen(session, "after_soft_rollback", _rolled_back)


def _committed(session: Session) -> None:
    if session.info.pop(_PUBLISH_PENDING, False):
        live.publish(LIVE_TOPIC)


def _rolled_back(session: Session, _previous_transaction) -> None:
    if not session.in_transaction():  # the whole transaction went back, not just a savepoint
        session.info.pop(_PUBLISH_PENDING, None)


# ---------------------------------------------------------------------------- raising


def _escalation_delay() -> timedelta:
    return timedelta(minutes=get_settings().critical_escalate_minutes)


def raise_alert(
    session: Session,
    *,
    source_type: str,
    source_id: int,
    patient_id: int,
    summary: str,
    recipient_id: int | None,
    department_id: int | None,
) -> CriticalAlert:
    """Raise the critical alert of one result to the clinician who ordered it, in the caller's
    transaction (NO commit; the critical board hears of it when the caller commits). Raising it
    again for the same source returns the alert already raised. Without a department the
    recipient's own is used; without a recipient it is due at once for the next level."""
    if source_type not in SOURCE_TYPES:
        raise ValueError(f"unknown critical alert source {source_type!r}")
    summary = " ".join(str(summary or "").split())[:200]
    if not summary:
        raise ValueError("a critical alert needs a summary of the value")
    existing = _alert_of(session, source_type, source_id)
    if existing is not None:
        return existing
    if department_id is None and recipient_id is not None:
        department_id = session.execute(
            select(AppUser.department_id).where(AppUser.id == recipient_id)
        ).scalar_one_or_none()
    now = utcnow()
    alert = CriticalAlert(
        source_type=source_type,
        source_id=source_id,
        patient_id=patient_id,
        summary=summary,
        department_id=department_id,
        clinician_id=recipient_id,
        recipient_id=recipient_id,
        level=0,
        status="open",
        raised_at=now,
        escalate_at=now + _escalation_delay() if recipient_id is not None else now,
    )
    try:
        with session.begin_nested():  # another transaction raising it at the same moment wins
            session.add(alert)
    except IntegrityError:
        existing = _alert_of(session, source_type, source_id)
        if existing is None:
            raise
        return existing
    recipient = _user_name(session, recipient_id) or "nobody (goes to the charge nurse)"
    record_audit(
        session,
        SYSTEM_ACTOR,
        "critical.raise",
        patient_id=patient_id,
        target_type="critical_alert",
        target_id=alert.id,
        detail=f"{summary}; to {recipient}; {source_type} {source_id}",
    )
    _publish_after_commit(session)
    return alert


def _alert_of(session: Session, source_type: str, source_id: int) -> CriticalAlert | None:
    return session.execute(
        select(CriticalAlert).where(
            CriticalAlert.source_type == source_type, CriticalAlert.source_id == source_id
        )
    ).scalar_one_or_none()


def _user_name(session: Session, user_id: int | None) -> str:
    if user_id is None:
        return ""
    return (
        session.execute(select(AppUser.display_name).where(AppUser.id == user_id)).scalar_one_or_none() or ""
    )


def withdraw_alerts(
    session: Session, *, actor: Actor, source_type: str, source_ids: list[int], why: str
) -> int:
    """Withdraw the open alerts of results that no longer stand (their specimen was rejected), in
    the caller's transaction (NO commit): status "withdrawn", off the board and the banners, out of
    the escalation, each audited with ``why``; acknowledged ones stay as they were. How many.
    Only the laboratory withdraws (``lab.work``: it rejects the specimen)."""
    authorize(actor, "lab.work")
    if not source_ids:
        return 0
    alerts = (
        session.execute(
            select(CriticalAlert)
            .where(
                CriticalAlert.source_type == source_type,
                CriticalAlert.source_id.in_(sorted(set(source_ids))),
                CriticalAlert.status == "open",
            )
            .order_by(CriticalAlert.id)
            .with_for_update()
        )
        .scalars()
        .all()
    )
    for alert in alerts:
        alert.status = "withdrawn"
        record_audit(
            session,
            actor,
            "critical.withdraw",
            patient_id=alert.patient_id,
            target_type="critical_alert",
            target_id=alert.id,
            detail=f"{alert.summary}: withdrawn at level {alert.level} ({ALERT_LEVELS[alert.level]}); {why}",
        )
    if alerts:
        _publish_after_commit(session)
    return len(alerts)


# ---------------------------------------------------------------------------- acknowledging


def _numbers(text: str) -> list[Decimal]:
    found = []
    for token in _NUMBER.findall(text):
        try:
            found.append(Decimal(token.replace(",", ".")))
        except InvalidOperation:  # pragma: no cover - the pattern only matches numbers
            continue
    return found


def check_read_back(summary: str, read_back: str) -> str:
    """The read-back as recorded, if it repeats the value of ``summary``; ValidationError if not."""
    text = " ".join(str(read_back or "").split())
    if not text:
        raise ValidationError("Read the value back before acknowledging it.", field="read_back")
    if len(text) > READ_BACK_MAX:
        raise ValidationError(f"Keep the read-back under {READ_BACK_MAX} characters.", field="read_back")
    values = _numbers(summary)
    if values:
        if values[0] not in _numbers(text):
            raise ValidationError(
                f"The read-back must repeat the value ({_plain(values[0])}), as read back on the telephone.",
                field="read_back",
            )
        return text
    words = {word.lower() for word in _WORD.findall(summary)}
    if not words & {word.lower() for word in _WORD.findall(text)}:
        raise ValidationError(
            "The read-back must repeat the finding in the alert's own words.", field="read_back"
        )
    return text


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral() else str(value)


def _chain_level_of(session: Session, actor: Actor, department_id: int | None) -> int | None:
    """The highest chain level ``actor`` holds in ``department_id`` (None: none)."""
    held = [level for level, role in LEVEL_ROLES.items() if role in actor.roles]
    if not held or department_id is None:
        return None
    their_department = session.execute(
        select(AppUser.department_id).where(AppUser.id == actor.user_id)
    ).scalar_one_or_none()
    return max(held) if their_department == department_id else None


def acknowledge_alert(session: Session, *, actor: Actor, alert_id: int, read_back: str) -> None:
    """Acknowledge a critical result with the value read back (``lab.acknowledge``): the current
    recipient, the ordering clinician, or someone at or above the alert's level in its department."""
    authorize(actor, "lab.acknowledge")
    alert = session.get(CriticalAlert, alert_id, with_for_update=True)
    if alert is None:
        raise NotFound(ALERT_MISSING)
    authorize(actor, "lab.acknowledge", patient_id=alert.patient_id)
    if alert.status == "withdrawn":
        raise Conflict(
            "This critical result was withdrawn: its specimen was rejected and will be taken again."
        )
    if alert.status != "open":
        raise Conflict(
            f"{alert.acknowledged_by or 'Someone'} already acknowledged this result "
            f"({alert.read_back or 'no read-back'})."
        )
    chain_level = _chain_level_of(session, actor, alert.department_id)
    allowed = actor.user_id in (alert.recipient_id, alert.clinician_id) or (
        chain_level is not None and chain_level >= alert.level
    )
    if not allowed:  # the screen's call records the refusal in the audit trail (state.session)
        recipient = _user_name(session, alert.recipient_id) or "the unit's charge nurse"
        raise Forbidden(
            f"This critical result is for {recipient}; only they, the ordering clinician or someone "
            "above them in the unit can acknowledge it."
        )
    text = check_read_back(alert.summary, read_back)
    now = utcnow()
    level = alert.level
    alert.status = "acknowledged"
    alert.acknowledged_at = now
    alert.acknowledged_by = (actor.display_name or actor.username)[:60]
    alert.read_back = text
    minutes = int((now - alert.raised_at).total_seconds() // 60)
    record_audit(
        session,
        actor,
        "critical.acknowledge",
        patient_id=alert.patient_id,
        target_type="critical_alert",
        target_id=alert.id,
        detail=f"{alert.summary}; read back: {text}; at level {level} ({ALERT_LEVELS[level]}) "
        f"after {counted(minutes, 'minute')}",
    )
    session.commit()
    live.publish(LIVE_TOPIC)


# ---------------------------------------------------------------------------- escalating


def _holder(session: Session, role: str, department_id: int | None, told: set[int]) -> AppUser | None:
    """The active user with ``role`` in the department (the longest-standing one if several), not
    one of those already ``told`` (a department lead who ordered the test is not its next step)."""
    if department_id is None:
        return None
    return session.execute(
        select(AppUser)
        .join(UserRole, UserRole.user_id == AppUser.id)
        .join(Role, Role.id == UserRole.role_id)
        .where(
            Role.name == role,
            AppUser.department_id == department_id,
            AppUser.is_active.is_(True),
            AppUser.id.not_in(told or {0}),
        )
        .order_by(AppUser.id)
        .limit(1)
    ).scalar_one_or_none()


def escalate_due_alerts(
    session: Session, *, actor: Actor = SYSTEM_ACTOR, now: datetime | None = None, limit: int = 200
) -> int:
    """Move every open alert whose time ran out one level up the chain (the periodic job; every
    worker runs it, each alert is claimed under a row lock). Returns how many moved."""
    authorize(actor, "lab.acknowledge")
    now = now or utcnow()
    due = (
        session.execute(
            select(CriticalAlert.id)
            .where(
                CriticalAlert.status == "open",
                CriticalAlert.level < TOP_LEVEL,
                CriticalAlert.escalate_at <= now,
            )
            .order_by(CriticalAlert.escalate_at)
            .limit(limit)
        )
        .scalars()
        .all()
    )
    session.commit()
    moved = 0
    for alert_id in due:
        alert = session.get(CriticalAlert, alert_id, with_for_update=True, populate_existing=True)
        if alert is None or alert.status != "open" or alert.level >= TOP_LEVEL or alert.escalate_at > now:
            session.commit()  # acknowledged or escalated by someone else meanwhile
            continue
        _escalate(session, actor, alert, now)
        session.commit()
        moved += 1
    if moved:
        live.publish(LIVE_TOPIC)
    return moved


def _escalate(session: Session, actor: Actor, alert: CriticalAlert, now: datetime) -> None:
    before = _user_name(session, alert.recipient_id) or "nobody"
    skipped = []
    for level in range(alert.level + 1, TOP_LEVEL + 1):
        told = {user for user in (alert.recipient_id, alert.clinician_id) if user is not None}
        holder = _holder(session, LEVEL_ROLES[level], alert.department_id, told)
        if holder is not None:
            alert.level, alert.recipient_id = level, holder.id
            detail = f"to {ALERT_LEVELS[level].lower()} {holder.display_name}"
            break
        skipped.append(ALERT_LEVELS[level].lower())
    else:
        # Nobody above: the alert stays with whoever has it, at the top, first on the board.
        alert.level = TOP_LEVEL
        detail = f"nobody above in the chain; stays with {before}"
    department = (
        session.execute(
            select(Department.name).where(Department.id == alert.department_id)
        ).scalar_one_or_none()
        if alert.department_id is not None
        else None
    )
    if skipped:
        detail += f" (no {' or '.join(skipped)} to tell in {department or 'the unit'})"
    alert.escalated_at = now
    alert.escalate_at = now + _escalation_delay()
    record_audit(
        session,
        actor,
        "critical.escalate",
        patient_id=alert.patient_id,
        target_type="critical_alert",
        target_id=alert.id,
        detail=f"{alert.summary}: unacknowledged by {before}; {detail}",
    )


# ---------------------------------------------------------------------------- reading


def _rows(session: Session, conditions, order, now: datetime, limit: int) -> list[AlertRow]:
    recipient = AppUser.display_name
    found = session.execute(
        select(CriticalAlert, Patient, recipient)
        .join(Patient, Patient.id == CriticalAlert.patient_id)
        .outerjoin(AppUser, AppUser.id == CriticalAlert.recipient_id)
        .where(*conditions)
        .order_by(*order)
        .limit(limit)
    ).all()
    rows = []
    for alert, patient, recipient_name in found:
        until = alert.acknowledged_at or now
        rows.append(
            AlertRow(
                id=alert.id,
                patient_id=patient.id,
                patient_name=patient_name(patient.family_name, patient.given_name),  # as the lab lists
                mrn=patient.mrn,
                summary=alert.summary,
                level=alert.level,
                level_name=ALERT_LEVELS.get(alert.level, str(alert.level)),
                recipient=recipient_name or "",
                status=alert.status,
                raised_at=alert.raised_at,
                escalate_at=alert.escalate_at if alert.status == "open" else None,
                acknowledged_at=alert.acknowledged_at,
                acknowledged_by=alert.acknowledged_by or "",
                read_back=alert.read_back or "",
                minutes_open=max(0, int((until - alert.raised_at).total_seconds() // 60)),
            )
        )
    return rows


def critical_board(
    session: Session, *, actor: Actor, include_acknowledged_hours: int = 0, audit: bool = True
) -> list[AlertRow]:
    """The laboratory's board of critical results (``lab.read``): every open alert, the highest
    level and then the oldest first; below them those acknowledged in the last hours asked for.
    Opening it is audited (it names patients); live refreshes of an open board pass ``audit=False``."""
    authorize(actor, "lab.read")
    hours = int(include_acknowledged_hours or 0)
    if not 0 <= hours <= 24 * 7:
        raise ValidationError("Show acknowledged alerts of at most the last 7 days.", field="hours")
    now = utcnow()
    shown = CriticalAlert.status == "open"
    if hours:
        shown = or_(shown, CriticalAlert.acknowledged_at >= now - timedelta(hours=hours))
    rows = _rows(
        session,
        [shown],
        [
            (CriticalAlert.status != "open"),  # open first (False sorts before True)
            CriticalAlert.level.desc(),
            CriticalAlert.raised_at,
            CriticalAlert.id,
        ],
        now,
        BOARD_LIMIT,
    )
    if audit:
        open_count = sum(1 for row in rows if row.status == "open")
        record_audit(
            session,
            actor,
            "critical.board",
            detail=f"{counted(open_count, 'open critical result')} shown, {len(rows) - open_count} acknowledged",
        )
        session.commit()
    return rows


def my_open_alerts(session: Session, *, actor: Actor) -> list[AlertRow]:
    """The open alerts ``actor`` must answer (``lab.acknowledge``): those whose current recipient they
    are, and those they ordered, also once escalated (the result stays theirs, and they may still
    acknowledge it); the highest level and the oldest first: the clinician's banner."""
    authorize(actor, "lab.acknowledge")
    return _rows(
        session,
        [
            CriticalAlert.status == "open",
            or_(CriticalAlert.recipient_id == actor.user_id, CriticalAlert.clinician_id == actor.user_id),
        ],
        [CriticalAlert.level.desc(), CriticalAlert.raised_at, CriticalAlert.id],
        utcnow(),
        BOARD_LIMIT,
    )
