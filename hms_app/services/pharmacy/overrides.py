"""The order-check override report: per rule, how many orders were shown its alert and how many
were signed past it, so that noisy rules (shown often, nearly always overridden) can be tuned.

Counted in SQL over ``medication_order_alert`` (one row per order and rule shown) and
``medication_override`` (one per order and rule signed past). An alert shown on a draft that was
never signed counts as shown and not overridden: the prescriber heeded it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, func, select
from sqlmodel import Session

from hms_app.errors import ValidationError
from hms_app.models.pharmacy import MedicationOrderAlert, MedicationOverride
from hms_app.services.audit import record_audit
from hms_app.services.permissions import Actor, authorize
from hms_app.services.pharmacy.common import FORMULARY
from hms_app.services.pharmacy.rows import OverrideRate
from hms_app.settings import get_settings

MAX_REPORT_DAYS = 3 * 366  # a longer span is an archive question, not a tuning one


def override_rates(
    session: Session,
    *,
    actor: Actor,
    since: datetime | None = None,
    until: datetime | None = None,
    interrupting_only: bool = True,
) -> list[OverrideRate]:
    """Alerts shown and overridden per rule, most overridden first (``pharmacy.formulary``).
    Counts only, no patient named; the report's reading is audited."""
    authorize(actor, FORMULARY)
    shown = MedicationOrderAlert
    conditions = []
    if since is not None:
        conditions.append(shown.shown_at >= since)
    if until is not None:
        conditions.append(shown.shown_at < until)
    if interrupting_only:
        conditions.append(shown.interrupt.is_(True))
    overridden = func.count(MedicationOverride.id)
    rows = session.execute(
        select(shown.rule, func.min(shown.kind), func.count(shown.id), overridden)
        .outerjoin(
            MedicationOverride,
            and_(MedicationOverride.order_id == shown.order_id, MedicationOverride.rule == shown.rule),
        )
        .where(*conditions)
        .group_by(shown.rule)
        .order_by(overridden.desc(), func.count(shown.id).desc(), shown.rule)
    ).all()
    record_audit(
        session,
        actor,
        "medication.override_report",
        target_type="medication_override",
        detail=f"{len(rows)} rule(s)",
    )
    session.commit()
    return [OverrideRate(rule, kind, int(count), int(over)) for rule, kind, count, over in rows]


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=get_settings().tz).astimezone(UTC)


def override_report(
    session: Session,
    *,
    actor: Actor,
    start_day: date,
    end_day: date,
    interrupting_only: bool = True,
) -> list[OverrideRate]:
    """The override rates of the alerts shown over the local days [start_day, end_day]
    (``pharmacy.formulary``): what the report screen shows."""
    authorize(actor, FORMULARY)
    if not isinstance(start_day, date) or not isinstance(end_day, date):
        raise ValidationError("Choose the first and the last day of the report.", field="date_from")
    if start_day > end_day:
        raise ValidationError("The from date is after the to date.", field="date_to")
    if (end_day - start_day).days >= MAX_REPORT_DAYS:
        raise ValidationError("Choose at most three years at a time.", field="date_from")
    return override_rates(
        session,
        actor=actor,
        since=_local_midnight(start_day),
        until=_local_midnight(end_day + timedelta(days=1)),
        interrupting_only=interrupting_only is True,
    )
