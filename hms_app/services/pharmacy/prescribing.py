"""Structured prescribing: prepare an order (every field checked, the dispense quantity computed,
the order checks run and what they showed recorded), then sign it (every interrupting alert needs
an override reason; the overrides are stored and audited). Changes and renewals are prepared as
new orders naming the one they replace (``changes``); signing one ends the old order.

Decisions written down:

* **the chart's medication list is fed by orders by writing it**: signing an order writes a
  ``medication_statement`` in the same transaction (the order keeps its id in ``statement_id``),
  a change or renewal rewrites that same entry, stopping stops it. Every reader of the list (the
  chart's tab, the portal's record, population health's registries, the checks' home medicines)
  then sees ordered medicines without learning about orders; a union in the read would have had
  to be repeated in each of them;
* a non-formulary product cannot be ordered (not stocked; the pharmacy adds it first); a
  restricted one can, its restriction shown with the prepared order for the pharmacist's review;
* the quantity counts the order's days: its duration, or the days from its start to its end date
  inclusive (1 to 7 May is 7 days); an inpatient order without an end is supplied a week at a time
  (``INPATIENT_SUPPLY_DAYS``); an outpatient prescription needs a duration or an end date;
* a draft is the prescriber's own: only they sign it; signing re-runs the checks (the chart may
  have changed since preparing), so an alert first seen at signing also needs its reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlmodel import Session

from hms_app.clock import local_today, to_local, utcnow
from hms_app.errors import Conflict, Forbidden, InvalidFields, ValidationError
from hms_app.models.emr import Encounter, MedicationStatement
from hms_app.models.pharmacy import (
    ROUTES,
    SETTINGS,
    FormularyProduct,
    MedicationOrder,
    MedicationOrderAlert,
    MedicationOverride,
)
from hms_app.plurals import counted
from hms_app.services import live
from hms_app.services.permissions import Actor, authorize
from hms_app.services.pharmacy.checks import alert_view, drug_uses, run_checks
from hms_app.services.pharmacy.common import (
    ORDER,
    actor_name,
    as_id,
    audit_rx,
    clean_text,
    get_order,
    get_patient,
    get_product,
    ingredients_of,
    order_reference,
    parse_count,
    parse_decimal,
    routes_of,
    spec_of,
)
from hms_app.services.pharmacy.frequencies import frequency
from hms_app.services.pharmacy.quantity import compute_quantity, dose_units
from hms_app.services.pharmacy.rows import PreparedOrder

INPATIENT_SUPPLY_DAYS = 7
MAX_DAYS = 365
BACKDATE = timedelta(hours=24)  # a start may be written up to a day late (a dose given overnight)


class OverrideRequired(ValidationError):
    """Some interrupting alerts have no override reason; ``alerts`` lists every alert shown."""

    def __init__(self, missing: list[str], alerts: tuple):
        super().__init__(
            "Give a reason to override each interrupting alert: " + "; ".join(missing) + ".",
            field="overrides",
        )
        self.missing = list(missing)
        self.alerts = alerts


@dataclass(frozen=True)
class OrderFields:
    product: FormularyProduct
    ingredients: list
    setting: str
    dose: Decimal
    dose_unit: str
    route: str
    frequency: str
    prn: bool
    prn_indication: str | None
    max_doses_per_day: int | None
    start_at: datetime
    duration_days: int | None
    end_at: datetime | None
    days: int  # what the quantity counts
    instructions: str | None
    encounter_id: int | None


def _start(value) -> datetime:
    now = utcnow()
    if value in (None, ""):
        return now
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time())
    else:
        try:
            moment = datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise ValidationError(
                "Write the start as a date (2026-05-01) or date and time.", field="start"
            ) from None
    if moment.tzinfo is None:  # typed on the ward: the hospital's clock
        moment = moment.replace(tzinfo=to_local(now).tzinfo)
    if to_local(moment).date() == local_today() and moment < now and not isinstance(value, datetime):
        moment = now  # "today" means from now
    if moment < now - BACKDATE:
        raise ValidationError("The start can be at most a day in the past.", field="start")
    if moment > now + timedelta(days=MAX_DAYS):
        raise ValidationError("The start can be at most a year ahead.", field="start")
    return moment


def _end_date(value) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValidationError("Write the end date as 2026-05-01.", field="end_date") from None


def validate_order(session: Session, patient_id: int, data: dict) -> OrderFields:
    """Every field of an order checked; all the messages come back together (InvalidFields)."""
    errors: dict[str, str] = {}
    values: dict = {}

    def check(field: str, fn):
        try:
            values[field] = fn()
        except ValidationError as error:
            errors.setdefault(error.field or field, str(error))

    def product():
        found = get_product(session, data.get("product_id"))
        if not found.active:
            raise ValidationError(f"{found.name} is no longer on the formulary.", field="product_id")
        if found.formulary_status == "non_formulary":
            raise ValidationError(
                f"{found.name} is not on the formulary: ask the pharmacy to add it first.", field="product_id"
            )
        ingredients = ingredients_of(session, found.id)
        if not ingredients:
            raise ValidationError(f"{found.name} has no ingredients recorded.", field="product_id")
        return found, ingredients

    def code():
        found = frequency(data.get("frequency"))
        if found is None:
            raise ValidationError(
                "Choose a frequency from the list (QD, BID, TID, q8h ...).", field="frequency"
            )
        return found

    def setting():
        value = str(data.get("setting") or "").strip()
        if value not in SETTINGS:
            raise ValidationError("Choose inpatient or outpatient.", field="setting")
        return value

    check("product_id", product)
    check("dose", lambda: parse_decimal(data.get("dose"), field="dose", label="Dose"))
    check("frequency", code)
    check("setting", setting)
    check("start", lambda: _start(data.get("start")))
    check("end_date", lambda: _end_date(data.get("end_date")))
    check(
        "duration_days",
        lambda: parse_count(
            data.get("duration_days"),
            field="duration_days",
            label="Duration",
            maximum=MAX_DAYS,
            required=False,
        ),
    )
    check(
        "instructions",
        lambda: clean_text(data.get("instructions"), field="instructions", label="Instructions", maximum=300),
    )
    found, ingredients = values.get("product_id") or (None, None)
    unit = str(data.get("dose_unit") or "").strip()
    route = str(data.get("route") or "").strip().lower()
    if found is not None:
        allowed = dose_units(spec_of(found, ingredients))
        if unit not in allowed:
            errors.setdefault("dose_unit", f"Write the dose of {found.name} in {' or '.join(allowed)}.")
        if route not in routes_of(found):
            names = " or ".join(ROUTES[r].lower() for r in routes_of(found))
            errors.setdefault("route", f"{found.name} is given {names}.")
    code_value = values.get("frequency")
    prn = bool(data.get("prn")) or bool(code_value and code_value.prn_only)
    indication = clean_text(
        data.get("prn_indication"), field="prn_indication", label="Indication", maximum=120
    )
    maximum = None
    if prn:
        if not indication:
            errors.setdefault(
                "prn_indication", "Say what the medicine is for when required (pain, nausea ...)."
            )
        check(
            "max_doses_per_day",
            lambda: parse_count(
                data.get("max_doses_per_day"),
                field="max_doses_per_day",
                label="Maximum doses a day",
                maximum=24,
            ),
        )
        maximum = values.get("max_doses_per_day")
        if code_value and maximum and code_value.per_day >= 1 and maximum > code_value.per_day:
            errors.setdefault(
                "max_doses_per_day",
                f"{code_value.code} allows at most {int(code_value.per_day)} doses a day.",
            )
    duration, end = values.get("duration_days"), values.get("end_date")
    start = values.get("start")
    days, end_at = None, None
    if duration and end:
        errors.setdefault("end_date", "Give a duration or an end date, not both.")
    elif duration:
        days = duration
    elif end and start:
        days = (end - to_local(start).date()).days + 1
        if days < 1:
            errors.setdefault("end_date", "The end date is before the start.")
        elif days > MAX_DAYS:
            errors.setdefault("end_date", f"An order can run at most {MAX_DAYS} days.")
    if code_value and code_value.code == "once":
        days = days or 1
    if days is None and values.get("setting") == "outpatient" and "end_date" not in errors:
        errors.setdefault("duration_days", "A prescription needs a duration or an end date.")
    if days and start:
        end_at = start + timedelta(days=days)
    encounter_id = data.get("encounter_id")
    if encounter_id not in (None, ""):
        try:
            encounter = session.get(Encounter, as_id(encounter_id, field="encounter_id", label="encounter"))
        except ValidationError as error:
            encounter, errors["encounter_id"] = None, str(error)
        if encounter is None or encounter.patient_id != patient_id:
            errors.setdefault("encounter_id", "That encounter is not this patient's.")
        encounter_id = encounter.id if encounter is not None else None
    else:
        encounter_id = None
    if errors:
        raise InvalidFields(errors)
    return OrderFields(
        product=found,
        ingredients=ingredients,
        setting=values["setting"],
        dose=values["dose"],
        dose_unit=unit,
        route=route,
        frequency=code_value.code,
        prn=prn,
        prn_indication=indication or None if prn else None,
        max_doses_per_day=maximum,
        start_at=start,
        duration_days=duration,
        end_at=end_at,
        days=days or INPATIENT_SUPPLY_DAYS,
        instructions=values["instructions"] or None,
        encounter_id=encounter_id,
    )


def sig_text(order: MedicationOrder, product_name: str | None = None) -> str:
    """The order as one line: "500 mg oral TID for 7 days" (the chart's dosage column)."""
    parts = [f"{Decimal(order.dose).normalize():f} {order.dose_unit}", order.route]
    if order.frequency != "PRN":
        parts.append(order.frequency)
    if order.prn:
        parts.append(f"when required for {order.prn_indication} (at most {order.max_doses_per_day} a day)")
    if order.duration_days:
        parts.append(f"for {counted(order.duration_days, 'day')}")
    elif order.end_at:
        parts.append(f"until {(to_local(order.end_at) - timedelta(days=1)).date().isoformat()}")
    text = " ".join(parts)
    return f"{product_name}: {text}" if product_name else text


def _record_shown(session: Session, order: MedicationOrder, alerts: list) -> None:
    """Every alert shown for this order, once per rule (what override rates count against)."""
    seen = set(
        session.execute(
            select(MedicationOrderAlert.rule).where(MedicationOrderAlert.order_id == order.id)
        ).scalars()
    )
    for alert in alerts:
        if alert.rule in seen:
            continue
        seen.add(alert.rule)
        session.add(
            MedicationOrderAlert(
                order_id=order.id,
                patient_id=order.patient_id,
                rule=alert.rule[:120],
                kind=alert.kind,
                severity=alert.severity,
                interrupt=bool(alert.interrupt),
                message=alert.message[:500],
            )
        )
    session.flush()


def order_uses(order: MedicationOrder, product: FormularyProduct, ingredients: list) -> tuple:
    return drug_uses(
        product,
        ingredients,
        dose=Decimal(order.dose),
        dose_unit=order.dose_unit,
        frequency_code=order.frequency,
        prn=order.prn,
        max_doses_per_day=order.max_doses_per_day,
        route=order.route,
    )


def prepare(
    session: Session,
    *,
    actor: Actor,
    patient_id: int,
    data: dict,
    draft_id: int | None = None,
    replaces: MedicationOrder | None = None,
    replace_kind: str | None = None,
    replace_reason: str | None = None,
) -> PreparedOrder:
    """The work of ``prepare_order`` and of the change and renewal preparations (``medication.order``,
    checked again here: this is the function that writes)."""
    authorize(actor, ORDER, patient_id=patient_id)
    patient = get_patient(session, patient_id)
    if not patient.active or patient.deceased_at is not None:
        raise ValidationError(
            "Medicines cannot be ordered for an inactive or deceased patient.", field="patient_id"
        )
    fields = validate_order(session, patient.id, data or {})
    spec = spec_of(fields.product, fields.ingredients)
    quantity = compute_quantity(
        spec,
        dose=fields.dose,
        dose_unit=fields.dose_unit,
        frequency=frequency(fields.frequency),
        days=fields.days,
        prn=fields.prn,
        max_doses_per_day=fields.max_doses_per_day,
    )
    if draft_id is not None:
        order = get_order(session, draft_id, lock=True)
        if order.patient_id != patient.id or order.prescriber_id != actor.user_id or order.status != "draft":
            raise Forbidden("That draft is not yours to change.")
    else:
        order = MedicationOrder(
            reference=order_reference(session),
            patient_id=patient.id,
            prescriber_id=actor.user_id,
            prescriber=actor_name(actor),
            status="draft",
        )
    for name in (
        "setting", "dose", "dose_unit", "route", "frequency", "prn", "prn_indication", "max_doses_per_day",
        "start_at", "duration_days", "end_at", "instructions", "encounter_id",
    ):  # fmt: skip
        setattr(order, name, getattr(fields, name))
    order.product_id = fields.product.id
    order.dispense_quantity, order.dispense_unit = quantity.dispense_quantity, quantity.dispense_unit
    order.quantity_basis = quantity.basis[:300]
    if replaces is not None:
        order.replaces_id, order.replace_kind, order.replace_reason = (
            replaces.id,
            replace_kind,
            replace_reason,
        )
    session.add(order)
    session.flush()
    uses = order_uses(order, fields.product, fields.ingredients)
    alerts = run_checks(session, patient.id, uses, excluding_order_id=order.replaces_id)
    _record_shown(session, order, alerts)
    sig = sig_text(order)
    audit_rx(
        session,
        actor,
        "medication.prepare",
        patient_id=patient.id,
        target_type="medication_order",
        target_id=order.id,
        detail=f"{order.reference} {fields.product.name}: {sig}; {len(alerts)} alert(s)"
        + (
            f"; {order.replace_kind} of order {order.replaces_id}: {order.replace_reason}"
            if order.replaces_id
            else ""
        ),
    )
    session.commit()
    return PreparedOrder(
        order_id=order.id,
        reference=order.reference,
        product=fields.product.name,
        sig=sig,
        dispense_quantity=quantity.dispense_quantity,
        dispense_unit=quantity.dispense_unit,
        quantity_basis=quantity.basis,
        alerts=tuple(alert_view(a) for a in alerts),
    )


def prepare_order(
    session: Session, *, actor: Actor, patient_id: int, data: dict, draft_id: int | None = None
) -> PreparedOrder:
    """Prepare a draft order for a patient (``medication.order``): every field checked with its
    message, the dispense quantity computed and the order checks run; what they showed is recorded.
    ``draft_id``: one's own draft to prepare again with changed fields."""
    authorize(actor, ORDER, patient_id=patient_id)
    return prepare(session, actor=actor, patient_id=patient_id, data=data, draft_id=draft_id)


def _write_statement(
    session: Session, order: MedicationOrder, product: FormularyProduct, actor: Actor
) -> None:
    """The chart's medication-list entry for a signed order: a change or renewal rewrites the entry
    of the order it replaces, so the list keeps one line for one medicine the patient takes."""
    statement = None
    if order.replaces_id is not None:
        old = session.get(MedicationOrder, order.replaces_id)
        statement = session.get(MedicationStatement, old.statement_id) if old and old.statement_id else None
    if statement is None:
        statement = MedicationStatement(patient_id=order.patient_id)
    statement.medication = product.name[:200]
    statement.code = product.rxcui
    statement.dosage = sig_text(order)[:200]
    statement.status, statement.stopped_on, statement.stop_reason = "active", None, None
    statement.started_on = statement.started_on or to_local(order.start_at).date()
    statement.recorded_at, statement.recorded_by = utcnow(), actor_name(actor)
    session.add(statement)
    session.flush()
    order.statement_id = statement.id


def _end_replaced(session: Session, order: MedicationOrder, actor: Actor) -> MedicationOrder | None:
    if order.replaces_id is None:
        return None
    old = get_order(session, order.replaces_id, lock=True)
    if old.status != "active":
        raise Conflict(
            f"Order {old.reference} is no longer active ({old.status}): prepare a new order instead."
        )
    old.status = "changed" if order.replace_kind == "change" else "completed"
    old.ended_at, old.ended_by, old.end_reason = utcnow(), actor_name(actor), order.replace_reason
    session.add(old)
    return old


def sign_order(
    session: Session, *, actor: Actor, order_id: int, overrides: dict[str, str] | None = None
) -> PreparedOrder:
    """Sign one's own draft (``medication.order``). The checks run again; every interrupting alert
    needs a reason in ``overrides`` (rule -> reason), else OverrideRequired lists them. Each
    override is stored and audited; the order goes on the chart's medication list."""
    authorize(actor, ORDER)
    order = get_order(session, order_id, lock=True)
    authorize(actor, ORDER, patient_id=order.patient_id)
    if order.prescriber_id != actor.user_id:
        raise Forbidden("Only the prescriber who prepared an order can sign it.")
    if order.status != "draft":
        raise Conflict(f"Order {order.reference} is already {order.status}.")
    product = session.get(FormularyProduct, order.product_id)
    ingredients = ingredients_of(session, product.id)
    alerts = run_checks(
        session,
        order.patient_id,
        order_uses(order, product, ingredients),
        excluding_order_id=order.replaces_id,
    )
    _record_shown(session, order, alerts)
    given = {str(rule): " ".join(str(reason or "").split()) for rule, reason in (overrides or {}).items()}
    missing = [a.message for a in alerts if a.interrupt and not given.get(a.rule)]
    if missing:
        session.commit()  # what was shown stays recorded, whether or not the order is signed
        raise OverrideRequired(missing, tuple(alert_view(a) for a in alerts))
    for alert in alerts:
        if alert.interrupt and len(given[alert.rule]) > 300:
            raise ValidationError("An override reason can be at most 300 characters.", field="overrides")
    old = _end_replaced(session, order, actor)
    now = utcnow()
    order.status, order.signed_at = "active", now
    _write_statement(session, order, product, actor)
    session.add(order)
    audit_rx(
        session,
        actor,
        "medication.order",
        patient_id=order.patient_id,
        target_type="medication_order",
        target_id=order.id,
        detail=f"{order.reference} {product.name}: {sig_text(order)}; dispense {order.dispense_quantity} "
        f"{order.dispense_unit}"
        + (f"; {order.replace_kind} of {old.reference}: {order.replace_reason}" if old else ""),
    )
    for alert in alerts:
        if not alert.interrupt:
            continue
        session.add(
            MedicationOverride(
                order_id=order.id,
                patient_id=order.patient_id,
                rule=alert.rule[:120],
                kind=alert.kind,
                severity=alert.severity,
                reason=given[alert.rule],
                overridden_by_id=actor.user_id,
                overridden_by=actor_name(actor),
                overridden_at=now,
            )
        )
        audit_rx(
            session,
            actor,
            "medication.override",
            patient_id=order.patient_id,
            target_type="medication_order",
            target_id=order.id,
            detail=f"{order.reference} {alert.rule} ({alert.severity}): {given[alert.rule]}",
        )
    session.commit()
    live.publish("pharmacy", order.patient_id)
    return PreparedOrder(
        order_id=order.id,
        reference=order.reference,
        product=product.name,
        sig=sig_text(order),
        dispense_quantity=order.dispense_quantity,
        dispense_unit=order.dispense_unit,
        quantity_basis=order.quantity_basis,
        alerts=tuple(alert_view(a) for a in alerts),
    )
