"""Coverage: a patient's insurance (``coverage`` table), read-only: registration records it on the
patient's screen, where the coverage service checks the member id and the dates."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import object_session

from hms_app.interop.fhir.elements import UCUM, concept, day, ref
from hms_app.interop.fhir.mapper import Mapper
from hms_app.interop.fhir.outcome import fail
from hms_app.interop.fhir.resources._finance import PAYER_SYSTEM, money, payer_reference, status_param
from hms_app.interop.fhir.search import Param, identifier, split_values, string
from hms_app.models.patients import Coverage, Payer

MEMBER_SYSTEM = "urn:hms:member-id"  # the id on the member's card; unique within its payer (the assigner)
STATUS_SYSTEM = "http://hl7.org/fhir/fm-status"
IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
CLASS_SYSTEM = "http://terminology.hl7.org/CodeSystem/coverage-class"
COPAY_TYPE = "http://terminology.hl7.org/CodeSystem/coverage-copay-type"
SELF_PAY = "http://terminology.hl7.org/CodeSystem/coverage-selfpay"


def payor_param() -> Param:
    """``payor=Organization/pay-3`` or ``payor:identifier=urn:hms:payer|ACME``: coverages paid by
    that payer."""

    def build(raw: str, modifier: str | None, name: str):
        if modifier is None:
            ids = []
            for value in split_values(raw, name):
                tail = value.strip().rpartition("/")[2]
                if (
                    not value.strip().startswith(("Organization/pay-", "pay-"))
                    and "/Organization/pay-" not in value
                ):
                    raise fail(
                        400,
                        f"Search {name} by a payer: Organization/pay-<id>, or {name}:identifier={PAYER_SYSTEM}|<code>.",
                    )
                digits = tail.removeprefix("pay-")
                ids.append(int(digits) if digits.isdigit() and len(digits) <= 18 else -1)
            return Coverage.payer_id.in_(ids)
        if modifier != "identifier":
            raise fail(400, f"The modifier :{modifier} is not supported on {name}.", code="not-supported")
        codes = []
        for value in split_values(raw, name):
            system, bar, code = value.rpartition("|") if "|" in value else ("", "", value)
            if (bar and system and system != PAYER_SYSTEM) or not code or len(code) > 200:
                continue  # another system's identifier: no payer here has it
            codes.append(code)
        return Coverage.payer_id.in_(select(Payer.id).where(Payer.code.in_(codes)))

    return Param("reference", build)


class CoverageMapper(Mapper):
    resource_type = "Coverage"
    table = Coverage
    documentation = (
        "A patient's insurance: the payer (by its code, system urn:hms:payer), the plan, the member id "
        "(identifier of system urn:hms:member-id), validity, primary/secondary order, co-pay and co-insurance."
    )
    # The coverage service shows a patient's coverage to whoever reads the patient's record
    # (registration, the billing desk, clinicians): the same permission here.
    read_permission = "patient.read"
    patient_column = "patient_id"
    patient_params = ("patient", "beneficiary")
    owned = frozenset(
        {
            "identifier",
            "status",
            "type",
            "subscriberId",
            "beneficiary",
            "period",
            "payor",
            "class",
            "order",
            "costToBeneficiary",
        }
    )
    sorts = {"_lastUpdated": Coverage.created_at}

    def search_params(self) -> dict[str, Param]:
        return {
            "identifier": identifier("Coverage", Coverage.id, {MEMBER_SYSTEM: Coverage.member_id}),
            "status": status_param(
                STATUS_SYSTEM, {"active": Coverage.active.is_(True), "cancelled": Coverage.active.is_(False)}
            ),
            "payor": payor_param(),
            "class-value": string(Coverage.plan_name),
        }

    def to_fhir(self, row: Coverage) -> dict:
        payer = object_session(row).get(Payer, row.payer_id)
        costs = []
        if row.copay_cents:
            costs.append(
                {"type": concept(COPAY_TYPE, "copay", "Copay Amount"), "valueMoney": money(row.copay_cents)}
            )
        if row.coinsurance_percent:
            costs.append(
                {
                    "type": concept(COPAY_TYPE, "copaypct", "Copay Percentage"),
                    "valueQuantity": {
                        "value": row.coinsurance_percent,
                        "unit": "%",
                        "system": UCUM,
                        "code": "%",
                    },
                }
            )
        return {
            "identifier": [
                {
                    "type": concept(IDENTIFIER_TYPE, "MB", "Member Number"),
                    "system": MEMBER_SYSTEM,
                    "value": row.member_id,
                    "assigner": payer_reference(payer),
                }
            ],
            "status": "active" if row.active else "cancelled",
            "type": concept(SELF_PAY, "pay", "PAY") if payer and payer.kind == "self" else None,
            "subscriberId": row.member_id,
            "beneficiary": ref("Patient", row.patient_id),
            "period": {"start": day(row.valid_from), "end": day(row.valid_to)}
            if row.valid_to
            else {"start": day(row.valid_from)},
            "payor": [payer_reference(payer)],
            "class": [
                {"type": concept(CLASS_SYSTEM, "plan", "Plan"), "value": row.plan_name, "name": row.plan_name}
            ],
            "order": row.priority,
            "costToBeneficiary": costs,
        }


MAPPER = CoverageMapper()
