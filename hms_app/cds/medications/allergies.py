"""Drug-allergy checks by ingredient and by class, with cross-sensitivity between classes.

A recorded allergy may name an ingredient ("amoxicillin") or a class ("Penicillin", "sulfa drugs"). An
ingredient allergy counts as an allergy to every allergy class the ingredient belongs to, so an amoxicillin
allergy warns on ampicillin (same class) and, as a lesser warning, on cephalosporins. Recorded names the
knowledge base does not know cannot be checked; the chart shows them to the prescriber as written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hms_app.cds.medications.model import SEVERITIES, Alert

if TYPE_CHECKING:
    from hms_app.cds.medications.knowledge import Knowledge
    from hms_app.cds.medications.model import PatientContext
    from hms_app.cds.medications.records import AllergyRule, Ingredient

ASSESSED = ("no_known", "recorded")


def allergies_assessed(patient: PatientContext) -> bool:
    """Anything but "no known allergies" or a recorded list counts as not assessed (the safe reading)."""
    return patient.allergy_status in ASSESSED


def not_assessed_alert(drugs: tuple[str, ...]) -> Alert:
    return Alert(
        kind="allergy_not_assessed",
        drugs=drugs,
        severity="info",
        interrupt=False,
        message="This patient's allergies have not been assessed, so the order could not be checked against them.",
        action="Ask about allergies and record them, or record 'no known allergies'.",
        rule="allergy:not-assessed",
    )


def _strongest(rules: list[AllergyRule]) -> AllergyRule:
    return min(rules, key=lambda rule: (not rule.interrupt, SEVERITIES.index(rule.severity)))


def allergy_alerts(kb: Knowledge, drug: Ingredient, patient: PatientContext) -> list[Alert]:
    """Alerts for ordering ``drug`` given the patient's recorded allergies (none unless status "recorded")."""
    if patient.allergy_status != "recorded":
        return []
    alerts: dict[str, Alert] = {}
    for recorded in patient.allergies:
        text = " ".join(recorded.split())
        if not text:
            continue
        allergen = kb.ingredient(text)
        if allergen is not None and allergen.name == drug.name:
            alerts.setdefault(
                "allergy:ingredient",
                Alert(
                    kind="allergy",
                    drugs=(drug.name,),
                    severity="contraindicated",
                    interrupt=True,
                    message=f"Recorded allergy to {text}: {drug.name} is the same drug.",
                    action="Do not give; choose an alternative unless the allergy has been disproved.",
                    rule="allergy:ingredient",
                ),
            )
            continue
        if allergen is not None:
            # An ingredient allergy means its narrowest class (amoxicillin -> penicillins), not every broader
            # class that happens to contain it (beta-lactams), or cross-sensitivity would read as same-class.
            containing = [c for c in kb.allergy_classes.values() if allergen.name in c.members]
            narrowest = min((len(c.members) for c in containing), default=0)
            classes = [c.id for c in containing if len(c.members) == narrowest]
        else:
            cid = kb.allergy_class_of(text)
            classes = [cid] if cid else []
        matching = [
            rule for cid in classes for rule in kb.allergy_rules.get(cid, ()) if drug.name in rule.targets
        ]
        if not matching:
            continue
        rule = _strongest(matching)
        action = (
            "Do not give unless the allergy has been re-assessed; choose an alternative."
            if rule.interrupt
            else "Check what the reaction was; if it was not severe, give with monitoring."
        )
        alerts.setdefault(
            rule.rule,
            Alert(
                kind="allergy",
                drugs=(drug.name,),
                severity=rule.severity,
                interrupt=rule.interrupt,
                message=f"{drug.name.capitalize()} ordered with a recorded allergy to {text}: {rule.note}.",
                action=action,
                rule=rule.rule,
            ),
        )
    return list(alerts.values())
