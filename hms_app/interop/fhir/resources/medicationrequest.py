"""MedicationRequest: the pharmacy's structured prescriptions (``medication_order``): the
product with its RxNorm code, the dose, route and frequency, the dispense quantity. A new one is
prepared and signed through the prescribing service, with its order checks (see ``create``)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import false, or_, select, true
from sqlmodel import Session

from hms_app.errors import InvalidFields
from hms_app.interop.fhir.elements import RXNORM, UCUM, coding, instant, ref, reference_to
from hms_app.interop.fhir.mapper import Mapper
from hms_app.interop.fhir.outcome import FhirError, Issue, fail
from hms_app.interop.fhir.resources._clinical import server_sets, service_paths
from hms_app.interop.fhir.resources._orders import coded, custom, related
from hms_app.interop.fhir.search import Param, date_param, identifier, reference
from hms_app.models.pharmacy import ROUTES, FormularyProduct, MedicationOrder
from hms_app.services.pharmacy.changes import stop_order
from hms_app.services.pharmacy.frequencies import frequency
from hms_app.services.pharmacy.prescribing import OverrideRequired, prepare_order, sig_text, sign_order

ORDER_SYSTEM = "urn:hms:medication-order"  # the order's reference, "RX-000123"
FORMULARY_SYSTEM = "urn:hms:formulary"  # the hospital's product code, "RX-AMOX-500-CAP"
FREQUENCY_SYSTEM = "urn:hms:frequency"  # services.pharmacy.frequencies codes
ROUTE_SYSTEM = "urn:hms:route"
SNOMED = "http://snomed.info/sct"
GTS = "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation"
CATEGORY = "http://terminology.hl7.org/CodeSystem/medicationrequest-category"
# SNOMED CT route of administration codes for HMS's routes.
SNOMED_ROUTES = {
    "oral": "26643006",
    "sublingual": "37839007",
    "iv": "47625008",
    "im": "78421000",
    "sc": "34206005",
    "inhaled": "447694001",
    "transdermal": "45890007",
    "ophthalmic": "54485002",
    "rectal": "37161004",
}
ROUTE_OF_SNOMED = {code: route for route, code in SNOMED_ROUTES.items()}
# HL7 timing abbreviations where one means the same as HMS's frequency code.
GTS_CODES = {
    "QD": "QD",
    "BID": "BID",
    "TID": "TID",
    "QID": "QID",
    "q4h": "Q4H",
    "q6h": "Q6H",
    "q8h": "Q8H",
    "QHS": "BED",
    "weekly": "WK",
}
FREQUENCY_OF_GTS = {gts: code for code, gts in GTS_CODES.items()}
# FHIR status -> HMS's. A changed order was halted early and replaced; a draft is unsigned and is
# not served (see ``select``).
STATUSES = {"active": ("active",), "stopped": ("stopped", "changed"), "completed": ("completed",)}
STATUS_OF = {"active": "active", "stopped": "stopped", "changed": "stopped", "completed": "completed"}


def _code_param() -> Param:
    """``code``: the product's RxNorm code or the hospital's formulary code."""

    def build(value: str, modifier: str | None, name: str):
        system, bar, code = value.rpartition("|") if "|" in value else ("", "", value)
        if len(code) > 200:
            raise fail(400, f"Search parameter {name} has a code longer than 200 characters.")
        columns = {RXNORM: FormularyProduct.rxcui, FORMULARY_SYSTEM: FormularyProduct.code}
        chosen = [c for s, c in columns.items() if not (bar and system) or system == s]
        if not chosen:
            return false()
        products = select(FormularyProduct.id).where(or_(*(c == code for c in chosen)) if code else true())
        return MedicationOrder.product_id.in_(products)

    return custom(build)


def _intent_param() -> Param:
    def build(value: str, modifier: str | None, name: str):
        system, _bar, code = value.rpartition("|")
        intent_system = "http://hl7.org/fhir/CodeSystem/medicationrequest-intent"
        return true() if code == "order" and system in ("", intent_system) else false()

    return custom(build)


def _number(value: Decimal) -> float | int:
    value = Decimal(value).normalize()
    return int(value) if value == value.to_integral_value() else float(value)


def _dosage(row: MedicationOrder) -> dict:
    found = frequency(row.frequency)
    codings = [coding(FREQUENCY_SYSTEM, row.frequency, found.label if found else None)]
    if row.frequency in GTS_CODES:
        codings.append(coding(GTS, GTS_CODES[row.frequency]))
    route = [coding(ROUTE_SYSTEM, row.route, ROUTES.get(row.route))]
    if row.route in SNOMED_ROUTES:
        route.insert(0, coding(SNOMED, SNOMED_ROUTES[row.route], ROUTES.get(row.route)))
    bounds = {"start": instant(row.start_at), "end": instant(row.end_at)}
    dosage: dict = {
        "text": sig_text(row),
        "patientInstruction": row.instructions,
        "timing": {
            "code": {"coding": codings, "text": found.label if found else row.frequency},
            "repeat": {"boundsPeriod": {k: v for k, v in bounds.items() if v}},
        },
        "route": {"coding": route, "text": ROUTES.get(row.route, row.route)},
        "doseAndRate": [{"doseQuantity": {"value": _number(row.dose), "unit": row.dose_unit}}],
    }
    if row.prn:
        dosage["asNeededCodeableConcept"] = {"text": row.prn_indication or "when required"}
    if row.max_doses_per_day:
        dosage["maxDosePerPeriod"] = {
            "numerator": {"value": row.max_doses_per_day},
            "denominator": {"value": 1, "unit": "day", "system": UCUM, "code": "d"},
        }
    return {k: v for k, v in dosage.items() if v}


class MedicationRequestMapper(Mapper):
    resource_type = "MedicationRequest"
    table = MedicationOrder
    documentation = (
        "Signed medication orders (drafts are not served): medicationCodeableConcept with the "
        "RxNorm code and the formulary code, dosageInstruction (dose, route, frequency), the "
        "dispense quantity. Created through the prescribing service: refused with the alerts' "
        "messages (422) when an order check needs an override reason."
    )
    read_permission = "medication.read"
    write_permission = "medication.order"
    owned = frozenset(
        {
            "identifier",
            "status",
            "statusReason",
            "intent",
            "category",
            "medicationCodeableConcept",
            "subject",
            "encounter",
            "authoredOn",
            "requester",
            "dosageInstruction",
            "dispenseRequest",
            "priorPrescription",
        }
    )
    sorts = {"authoredon": MedicationOrder.signed_at}
    default_descending = True

    def select(self):
        return super().select().where(MedicationOrder.status != "draft")

    def search_params(self) -> dict[str, Param]:
        return {
            "identifier": identifier(
                "MedicationRequest", MedicationOrder.id, {ORDER_SYSTEM: MedicationOrder.reference}
            ),
            "status": coded(MedicationOrder.status, STATUSES),
            "intent": _intent_param(),
            "authoredon": date_param(MedicationOrder.signed_at),
            "code": _code_param(),
            "encounter": reference(MedicationOrder.encounter_id, "Encounter"),
            "requester": reference(MedicationOrder.prescriber_id, "Practitioner"),
        }

    def last_updated(self, row: MedicationOrder):
        return row.ended_at or row.signed_at or row.created_at

    def to_fhir(self, row: MedicationOrder) -> dict:
        product = related(row, FormularyProduct, row.product_id)
        medication = {
            "coding": [
                c
                for c in (
                    coding(RXNORM, product.rxcui, product.name) if product and product.rxcui else None,
                    coding(FORMULARY_SYSTEM, product.code, product.name) if product else None,
                )
                if c
            ],
            "text": product.name if product else None,
        }
        dispense = {
            "quantity": {"value": row.dispense_quantity, "unit": row.dispense_unit},
            "expectedSupplyDuration": (
                {"value": row.duration_days, "unit": "days", "system": UCUM, "code": "d"}
                if row.duration_days
                else None
            ),
        }
        return {
            "identifier": [{"system": ORDER_SYSTEM, "value": row.reference}],
            "status": STATUS_OF.get(row.status, "unknown"),
            "statusReason": {"text": row.end_reason} if row.end_reason and row.status != "active" else None,
            "intent": "order",
            "category": [{"coding": [coding(CATEGORY, row.setting, row.setting.capitalize())]}],
            "medicationCodeableConcept": {k: v for k, v in medication.items() if v},
            "subject": ref("Patient", row.patient_id),
            "encounter": ref("Encounter", row.encounter_id),
            "authoredOn": instant(row.signed_at or row.created_at),
            "requester": ref("Practitioner", row.prescriber_id, row.prescriber),
            "dosageInstruction": [_dosage(row)],
            "dispenseRequest": {k: v for k, v in dispense.items() if v},
            "priorPrescription": ref("MedicationRequest", row.replaces_id),
        }

    # --- writing -------------------------------------------------------------------------------
    def patient_of_resource(self, session: Session, resource: dict) -> int | None:
        return reference_to(resource, "subject", "Patient")

    def create(self, session: Session, *, actor, resource: dict) -> int:
        if resource["status"] != "active" or resource["intent"] != "order":
            raise fail(
                422,
                "A new MedicationRequest is a signed order here: status active, intent order.",
                code="business-rule",
                expression="MedicationRequest.status",
            )
        patient_id = reference_to(resource, "subject", "Patient")
        data = order_form(session, resource)
        # Who prescribed it, when, and what the pharmacy dispenses are the hospital's record of
        # the signing (the quantity is computed from the dose, frequency and duration).
        server_sets(resource, "requester", "authoredOn", "dispenseRequest")
        with service_paths("MedicationRequest", PATHS):
            try:
                prepared = prepare_order(session, actor=actor, patient_id=patient_id, data=data)
            except InvalidFields as error:  # every wrong field, each named as its element
                raise FhirError(
                    422,
                    [
                        Issue(
                            message,
                            code="business-rule",
                            expression=(f"MedicationRequest.{PATHS.get(field, field)}",),
                        )
                        for field, message in error.errors.items()
                    ],
                ) from error
            refuse_interrupting(prepared.alerts)
            try:
                sign_order(session, actor=actor, order_id=prepared.order_id)
            except OverrideRequired as error:  # an alert that first fired at signing
                refuse_interrupting(error.alerts)
        return prepared.order_id

    def update(self, session: Session, *, actor, row: MedicationOrder, resource: dict) -> None:
        status = resource["status"]
        if status == STATUS_OF.get(row.status):
            return
        if status != "stopped" or row.status != "active":
            raise fail(
                422,
                "MedicationRequest.status can only change from active to stopped here (a change of "
                f"dose or product is a new order), not from {STATUS_OF.get(row.status)} to {status}.",
                code="business-rule",
                expression="MedicationRequest.status",
            )
        reason = (resource.get("statusReason") or {}).get("text") or ""
        with service_paths("MedicationRequest", {"reason": "statusReason"}):
            stop_order(session, actor=actor, patient_id=row.patient_id, order_id=row.id, reason=reason)


def refuse_interrupting(alerts) -> None:
    """No override reasons over FHIR: an order that needs one is refused with the alerts, for a
    prescriber to sign on the pharmacy screen where the reasons are asked for and audited."""
    interrupting = [alert for alert in alerts if alert.interrupt]
    if interrupting:
        raise FhirError(
            422,
            [
                Issue(
                    f"Order check ({alert.severity}): {alert.message} An override reason is needed; "
                    "sign this order on the prescribing screen.",
                    code="business-rule",
                    expression=("MedicationRequest.medicationCodeableConcept",),
                )
                for alert in interrupting
            ],
        )


# The prescribing form's fields -> the elements they come from.
PATHS = {
    "product_id": "medicationCodeableConcept",
    "setting": "category",
    "dose": "dosageInstruction[0].doseAndRate[0].doseQuantity.value",
    "dose_unit": "dosageInstruction[0].doseAndRate[0].doseQuantity.unit",
    "route": "dosageInstruction[0].route",
    "frequency": "dosageInstruction[0].timing.code",
    "prn_indication": "dosageInstruction[0].asNeededCodeableConcept",
    "max_doses_per_day": "dosageInstruction[0].maxDosePerPeriod",
    "start": "dosageInstruction[0].timing.repeat.boundsPeriod.start",
    "duration_days": "dispenseRequest.expectedSupplyDuration",
    "end_date": "dispenseRequest.expectedSupplyDuration",
    "instructions": "dosageInstruction[0].patientInstruction",
    "encounter_id": "encounter",
    "patient_id": "subject",
    "overrides": "medicationCodeableConcept",
}


def _codes(concept_value: dict | None) -> dict[str, str]:
    return {
        c.get("system"): c.get("code") for c in (concept_value or {}).get("coding") or [] if c.get("code")
    }


def _product(session: Session, resource: dict) -> int:
    if "medicationReference" in resource:
        raise fail(
            422,
            "MedicationRequest.medicationReference is not supported here: send medicationCodeableConcept.",
            code="not-supported",
            expression="MedicationRequest.medicationReference",
        )
    codes = _codes(resource.get("medicationCodeableConcept"))
    query = select(FormularyProduct.id).where(FormularyProduct.active)
    if FORMULARY_SYSTEM in codes:
        query = query.where(FormularyProduct.code == codes[FORMULARY_SYSTEM][:30])
    elif RXNORM in codes:
        query = query.where(FormularyProduct.rxcui == codes[RXNORM][:12])
    else:
        query = None
    found = list(session.execute(query.limit(2)).scalars()) if query is not None else []
    if len(found) != 1:
        raise fail(
            422,
            "MedicationRequest.medicationCodeableConcept must name one product of the formulary: "
            f"an RxNorm code ({RXNORM}) the formulary stocks, or a formulary code ({FORMULARY_SYSTEM}).",
            code="value" if codes else "required",
            expression="MedicationRequest.medicationCodeableConcept",
        )
    return found[0]


def _setting(resource: dict) -> str | None:
    for item in resource.get("category") or []:
        code = _codes(item).get(CATEGORY)
        if code:
            return code
    return None


def order_form(session: Session, resource: dict) -> dict:
    """The prescribing form as the service reads it, filled from a client's MedicationRequest.
    The service checks every field and names what is wrong (re-said as the element)."""
    dosages = resource.get("dosageInstruction") or []
    if len(dosages) != 1:
        raise fail(
            422,
            "MedicationRequest.dosageInstruction must hold exactly one dosage (dose, route, timing code).",
            code="required",
            expression="MedicationRequest.dosageInstruction",
        )
    dosage = dosages[0]
    dose = ((dosage.get("doseAndRate") or [{}])[0].get("doseQuantity")) or {}
    routes = _codes(dosage.get("route"))
    route = routes.get(ROUTE_SYSTEM) or ROUTE_OF_SNOMED.get(routes.get(SNOMED, ""), "")
    timing = _codes((dosage.get("timing") or {}).get("code"))
    code = timing.get(FREQUENCY_SYSTEM) or FREQUENCY_OF_GTS.get(timing.get(GTS, ""), "")
    as_needed = dosage.get("asNeededCodeableConcept")
    bounds = ((dosage.get("timing") or {}).get("repeat") or {}).get("boundsPeriod") or {}
    supply = (resource.get("dispenseRequest") or {}).get("expectedSupplyDuration") or {}
    if supply and supply.get("code", "d") != "d":
        raise fail(
            422,
            "MedicationRequest.dispenseRequest.expectedSupplyDuration is counted in days (UCUM code d).",
            code="value",
            expression="MedicationRequest.dispenseRequest.expectedSupplyDuration",
        )
    maximum = (dosage.get("maxDosePerPeriod") or {}).get("numerator") or {}
    return {
        "product_id": _product(session, resource),
        "setting": _setting(resource) or "",
        "dose": str(dose.get("value", "")),
        "dose_unit": dose.get("unit") or dose.get("code") or "",
        "route": route,
        "frequency": code,
        "prn": bool(dosage.get("asNeededBoolean") or as_needed),
        "prn_indication": (as_needed or {}).get("text") or "",
        "max_doses_per_day": str(maximum.get("value", "")),
        "start": bounds.get("start") or "",
        "duration_days": str(supply.get("value", "")),
        "instructions": dosage.get("patientInstruction") or "",
        "encounter_id": reference_to(resource, "encounter", "Encounter", required=False),
    }


MAPPER = MedicationRequestMapper()
