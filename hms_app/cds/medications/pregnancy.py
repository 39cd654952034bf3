"""Pregnancy and lactation flags. A contraindicated flag interrupts; the others inform."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from hms_app.cds.medications.model import Alert

if TYPE_CHECKING:
    from hms_app.cds.medications.knowledge import Knowledge
    from hms_app.cds.medications.model import PatientContext

CHILDBEARING_AGE = (Decimal(12), Decimal(56))  # [from, below): when an unknown pregnancy status matters
_PREGNANCY_ACTION = {
    "contraindicated": "Do not use in pregnancy; choose an alternative.",
    "major": "Use only if the benefit clearly outweighs the risk; discuss with the patient and a specialist.",
    "moderate": "Prefer an alternative when one exists.",
}
_LACTATION_ACTION = {
    "contraindicated": "Do not use while breastfeeding, or stop breastfeeding.",
    "major": "Prefer an alternative while breastfeeding; if used, watch the infant.",
    "moderate": "Usually acceptable with care; watch the infant.",
}


def _may_be_pregnant(patient: PatientContext) -> bool:
    if patient.sex != "female" or patient.pregnant is not None:
        return False
    age = patient.age_years
    return age is None or CHILDBEARING_AGE[0] <= age < CHILDBEARING_AGE[1]


def pregnancy_alerts(kb: Knowledge, name: str, patient: PatientContext | None) -> list[Alert]:
    flag = kb.pregnancy.get(name)
    if flag is None or patient is None:
        return []
    alerts = []
    if flag.pregnancy and patient.pregnant:
        alerts.append(
            Alert(
                kind="pregnancy",
                drugs=(name,),
                severity=flag.pregnancy,
                interrupt=flag.pregnancy == "contraindicated",
                message=f"The patient is pregnant. {flag.pregnancy_note}",
                action=_PREGNANCY_ACTION[flag.pregnancy],
                rule=f"pregnancy:{name}",
            )
        )
    elif flag.pregnancy == "contraindicated" and _may_be_pregnant(patient):
        alerts.append(
            Alert(
                kind="pregnancy",
                drugs=(name,),
                severity="info",
                interrupt=False,
                message=f"{name.capitalize()} is contraindicated in pregnancy and this patient's pregnancy status "
                "is not recorded.",
                action="Ask about pregnancy (test if in doubt) and record the status.",
                rule=f"pregnancy:{name}:status-unknown",
            )
        )
    if flag.lactation and patient.lactating:
        alerts.append(
            Alert(
                kind="lactation",
                drugs=(name,),
                severity=flag.lactation,
                interrupt=flag.lactation == "contraindicated",
                message=f"The patient is breastfeeding. {flag.lactation_note}",
                action=_LACTATION_ACTION[flag.lactation],
                rule=f"lactation:{name}",
            )
        )
    return alerts
