"""The two entry points: a new order against a patient, and every pair among a list of drugs."""

from __future__ import annotations

from hms_app.cds.medications.allergies import allergies_assessed, allergy_alerts, not_assessed_alert
from hms_app.cds.medications.dosing import dose_alerts, renal_alerts
from hms_app.cds.medications.duplicates import duplicate_alerts
from hms_app.cds.medications.interactions import interaction_alerts
from hms_app.cds.medications.knowledge import Knowledge, knowledge
from hms_app.cds.medications.model import Alert, DrugUse, PatientContext, alert_order
from hms_app.cds.medications.pregnancy import pregnancy_alerts
from hms_app.cds.medications.records import Ingredient


def _finish(alerts: list[Alert]) -> list[Alert]:
    """One alert per (kind, drugs, rule), interrupting first, then by severity."""
    unique = {(alert.kind, alert.drugs, alert.rule): alert for alert in reversed(alerts)}
    return sorted(unique.values(), key=alert_order)


def _pair(kb: Knowledge, first: Ingredient, second: Ingredient) -> list[Alert]:
    return [*interaction_alerts(kb, first.name, second.name), *duplicate_alerts(kb, first, second)]


def _patient_specific(kb: Knowledge, drug: Ingredient, use: DrugUse, patient: PatientContext) -> list[Alert]:
    return [
        *allergy_alerts(kb, drug, patient),
        *dose_alerts(kb, drug.name, use, patient),
        *renal_alerts(kb, drug.name, use, patient),
        *pregnancy_alerts(kb, drug.name, patient),
    ]


def _against_current(kb: Knowledge, drug: Ingredient, patient: PatientContext) -> list[Alert]:
    alerts = []
    for current in patient.current:
        other = kb.ingredient(current.ingredient)
        if other is None:
            # A name on the chart the knowledge base does not know: say so rather than pass it silently.
            alerts.append(
                Alert(
                    kind="interaction",
                    drugs=(" ".join(current.ingredient.split()).lower(),),
                    severity="info",
                    interrupt=False,
                    message=f"{current.ingredient!r} on the medication list is not in the knowledge base, so "
                    "interactions with it were not checked.",
                    action="Check this drug's interactions by hand.",
                    rule="kb:unknown-current-drug",
                )
            )
            continue
        alerts += _pair(kb, drug, other)
    return alerts


def check_order(new: DrugUse, patient: PatientContext) -> list[Alert]:
    """Every check for a new order against the patient's medications, allergies and state.

    Raises ``UnknownDrug`` when the ordered ingredient is not known.
    """
    kb = knowledge()
    drug = kb.resolve(new.ingredient)
    alerts = _against_current(kb, drug, patient) + _patient_specific(kb, drug, new, patient)
    if not allergies_assessed(patient):
        alerts.append(not_assessed_alert((drug.name,)))
    return _finish(alerts)


def check_drugs(drugs: list[DrugUse], patient: PatientContext | None = None) -> list[Alert]:
    """Every pair among ``drugs``; with a patient also each drug against the patient (as ``check_order``).

    Raises ``UnknownDrug`` for the first name that is not known.
    """
    kb = knowledge()
    resolved = [(kb.resolve(use.ingredient), use) for use in drugs]
    alerts: list[Alert] = []
    for index, (first, _) in enumerate(resolved):
        for second, _ in resolved[index + 1 :]:
            alerts += _pair(kb, first, second)
    if patient is not None:
        for drug, use in resolved:
            alerts += _against_current(kb, drug, patient) + _patient_specific(kb, drug, use, patient)
        if resolved and not allergies_assessed(patient):
            alerts.append(not_assessed_alert(tuple(dict.fromkeys(drug.name for drug, _ in resolved))))
    return _finish(alerts)
