"""Order checks at the moment of ordering: the patient's context gathered from the chart, then the
bundled medication knowledge's engine (``hms_app.cds.medications``, pure, no database) run on it.

What the context is read from, and why:

* age and sex from registration; weight from the latest body-weight observation (LOINC 29463-7);
* eGFR by the CKD-EPI 2021 equation (``cds.scores``) from the latest serum creatinine (LOINC
  2160-0, mg/dL or µmol/L), for adults with a recorded sex only, as the chart's scores do;
* pregnancy from an active problem O00-O9A or Z33.1, lactation from Z39.1; a male patient is not
  pregnant or lactating; otherwise "not known" (None), never assumed false;
* allergies and the allergy assessment as the banner shows them: "not assessed" is not "no known
  allergies", and the engine warns on the first;
* the current medications: every active medication order (each ingredient with its dose and doses
  a day), and every active medication-list entry not written by an order (a home medicine typed
  in the chart), matched to an ingredient by its leading words ("Amlodipine 5 mg" -> amlodipine);
  an entry no ingredient matches is left out, as the engine could not check it anyway.

The engine is imported where it is used, so that this module (and the prescribing that calls it)
imports even where the knowledge package is replaced in a test.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlmodel import Session

from hms_app.cds import scores
from hms_app.clock import local_today
from hms_app.models.emr import Condition, MedicationStatement, Observation
from hms_app.models.patients import Patient
from hms_app.models.pharmacy import FormularyIngredient, FormularyProduct, MedicationOrder
from hms_app.services.allergy_status import ALLERGIES, NONE_KNOWN, allergy_status
from hms_app.services.audit import audit_read
from hms_app.services.cds import CREATININE_LOINC, CREATININE_UNITS
from hms_app.services.patients import age_years
from hms_app.services.permissions import Actor, authorize
from hms_app.services.pharmacy.common import READ, get_patient, spec_of
from hms_app.services.pharmacy.frequencies import frequency
from hms_app.services.pharmacy.quantity import per_dose
from hms_app.services.pharmacy.rows import AlertView

WEIGHT_LOINC = "29463-7"
PREGNANCY_CODES = ("O", "Z33.1")  # ICD-10-CM prefixes: pregnancy chapter, pregnant state
LACTATION_CODES = ("Z39.1",)
ENGINE_UNITS = ("mg", "mcg", "g", "unit", "mL")
SEVERITY_RANK = {"contraindicated": 0, "major": 1, "moderate": 2, "minor": 3, "info": 4}


def _engine():
    from hms_app.cds import medications  # imported here: see the module docstring

    return medications


def _latest(session: Session, patient_id: int, code: str) -> Observation | None:
    return session.execute(
        select(Observation)
        .where(
            Observation.patient_id == patient_id,
            Observation.code == code,
            Observation.status != "entered-in-error",
        )
        .order_by(Observation.effective_at.desc(), Observation.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def _egfr(session: Session, patient: Patient) -> Decimal | None:
    creatinine = _latest(session, patient.id, CREATININE_LOINC)
    if creatinine is None or patient.sex not in ("female", "male") or creatinine.unit not in CREATININE_UNITS:
        return None
    age = age_years(patient.birth_date, creatinine.effective_at.date())
    if age < 18:
        return None
    mg_dl = (
        creatinine.value
        if CREATININE_UNITS[creatinine.unit] is not None
        else scores.creatinine_umol_l_to_mg_dl(creatinine.value)
    )
    try:
        return Decimal(scores.egfr_ckd_epi_2021(creatinine_mg_dl=mg_dl, age_years=age, sex=patient.sex).value)
    except ValueError:  # a value no living adult has: no eGFR rather than a wrong one
        return None


def _flags(session: Session, patient: Patient) -> tuple[bool | None, bool | None]:
    if patient.sex == "male":
        return False, False
    codes = session.execute(
        select(Condition.code).where(
            Condition.patient_id == patient.id, Condition.clinical_status == "active"
        )
    ).scalars()
    pregnant = lactating = None
    for code in codes:
        if code.startswith(PREGNANCY_CODES):
            pregnant = True
        if code.startswith(LACTATION_CODES):
            lactating = True
    return pregnant, lactating


def drug_uses(
    product: FormularyProduct,
    ingredients: list[FormularyIngredient],
    *,
    dose: Decimal,
    dose_unit: str,
    frequency_code: str,
    prn: bool,
    max_doses_per_day: int | None,
    route: str,
) -> tuple:
    """One engine DrugUse per ingredient of an order: the ingredient's amount a dose (in its own
    strength unit) and the doses a day (a PRN order: its maximum)."""
    kb = _engine()
    units = per_dose(spec_of(product, ingredients), Decimal(dose), dose_unit)
    code = frequency(frequency_code)
    if prn or (code is not None and code.prn_only):
        per_day = Decimal(max_doses_per_day) if max_doses_per_day else None
    elif code is not None and code.code == "once":
        per_day = Decimal(1)
    else:
        per_day = code.per_day if code is not None else None
    uses = []
    for item in ingredients:
        amount = units * Decimal(item.strength) / Decimal(product.strength_volume)
        known = item.strength_unit in ENGINE_UNITS
        uses.append(
            kb.DrugUse(
                ingredient=item.ingredient,
                dose=amount.normalize() if known else None,
                dose_unit=item.strength_unit if known else None,
                doses_per_day=per_day,
                route=route,
            )
        )
    return tuple(uses)


def _order_uses(session: Session, patient_id: int, excluding_order_id: int | None) -> tuple[list, set[int]]:
    orders = session.execute(
        select(MedicationOrder, FormularyProduct)
        .join(FormularyProduct, FormularyProduct.id == MedicationOrder.product_id)
        .where(MedicationOrder.patient_id == patient_id, MedicationOrder.status == "active")
        .order_by(MedicationOrder.id)
    ).all()
    product_ids = {product.id for _order, product in orders}
    ingredients: dict[int, list[FormularyIngredient]] = {}
    if product_ids:
        for item in session.execute(
            select(FormularyIngredient)
            .where(FormularyIngredient.product_id.in_(product_ids))
            .order_by(FormularyIngredient.position, FormularyIngredient.id)
        ).scalars():
            ingredients.setdefault(item.product_id, []).append(item)
    uses, statements = [], set()
    for order, product in orders:
        if order.statement_id is not None:
            statements.add(order.statement_id)
        if order.id == excluding_order_id or not ingredients.get(product.id):
            continue
        uses.extend(
            drug_uses(
                product,
                ingredients[product.id],
                dose=Decimal(order.dose),
                dose_unit=order.dose_unit,
                frequency_code=order.frequency,
                prn=order.prn,
                max_doses_per_day=order.max_doses_per_day,
                route=order.route,
            )
        )
    return uses, statements


def ingredient_of_text(text: str):
    """The knowledge's ingredient a medication-list entry names by its leading words, if any."""
    words = re.sub(r"[^a-z' ]+", " ", (text or "").lower()).split()
    knowledge = _engine().knowledge()
    for n in range(min(len(words), 4), 0, -1):
        found = knowledge.ingredient(" ".join(words[:n]))
        if found is not None:
            return found
    return None


def _statement_uses(session: Session, patient_id: int, from_orders: set[int]) -> list:
    kb = _engine()
    uses = []
    for statement_id, medication in session.execute(
        select(MedicationStatement.id, MedicationStatement.medication)
        .where(MedicationStatement.patient_id == patient_id, MedicationStatement.status == "active")
        .order_by(MedicationStatement.id)
    ).all():
        if statement_id in from_orders:
            continue
        found = ingredient_of_text(medication)
        if found is not None:
            uses.append(kb.DrugUse(ingredient=found.name))
    return uses


def patient_context(session: Session, patient_id: int, *, excluding_order_id: int | None = None):
    """The engine's PatientContext for a patient, from the chart (see the module docstring).
    ``excluding_order_id``: an order being changed or renewed, not to be checked against itself.
    Reads only; the caller has checked that the actor may read the patient."""
    kb = _engine()
    patient = get_patient(session, patient_id)
    today: date = local_today()
    weight = _latest(session, patient.id, WEIGHT_LOINC)
    pregnant, lactating = _flags(session, patient)
    status = allergy_status(session, patient.id, limit=100)
    allergy_state = {ALLERGIES: "recorded", NONE_KNOWN: "no_known"}.get(status.state, "not_assessed")
    order_uses, from_orders = _order_uses(session, patient.id, excluding_order_id)
    return kb.PatientContext(
        age_years=Decimal(age_years(patient.birth_date, today)),
        weight_kg=Decimal(str(weight.value)) if weight is not None and weight.unit == "kg" else None,
        sex=patient.sex if patient.sex in ("female", "male") else "unknown",
        egfr=_egfr(session, patient),
        pregnant=pregnant,
        lactating=lactating,
        allergy_status=allergy_state,
        allergies=tuple(substance for substance, _severity in status.allergies),
        current=tuple(order_uses + _statement_uses(session, patient.id, from_orders)),
    )


def alert_view(alert) -> AlertView:
    return AlertView(
        rule=alert.rule,
        kind=alert.kind,
        severity=alert.severity,
        interrupt=bool(alert.interrupt),
        message=alert.message,
        action=alert.action,
        drugs=tuple(alert.drugs),
    )


def run_checks(session: Session, patient_id: int, uses, *, excluding_order_id: int | None = None) -> list:
    """The engine's alerts for every ingredient of a new order, each rule once, interrupting first
    and then by severity. No permission check, no audit: the caller has done both."""
    kb = _engine()
    context = patient_context(session, patient_id, excluding_order_id=excluding_order_id)
    alerts: dict[str, object] = {}
    for use in uses:
        for alert in kb.check_order(use, context):
            alerts.setdefault(alert.rule, alert)
    return sorted(alerts.values(), key=lambda a: (not a.interrupt, SEVERITY_RANK.get(a.severity, 9)))


def order_checks(session: Session, *, actor: Actor, patient_id: int, drug) -> list:
    """The engine's alerts for ``drug`` (a DrugUse) given to this patient now (``medication.read``):
    the read of the patient's context is audited."""
    authorize(actor, READ, patient_id=patient_id)
    alerts = run_checks(session, patient_id, (drug,))
    audit_read(
        session,
        actor,
        "medication.check",
        patient_id=patient_id,
        target_type="patient",
        target_id=patient_id,
        detail=f"{drug.ingredient}: {len(alerts)} alert(s)",
    )
    return alerts
