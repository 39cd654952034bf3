"""Drug-drug interactions: one dictionary look-up per pair of ingredients (classes expanded at load)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hms_app.cds.medications.model import Alert

if TYPE_CHECKING:
    from hms_app.cds.medications.knowledge import Knowledge


def interaction_alerts(kb: Knowledge, first: str, second: str) -> list[Alert]:
    """Every interaction rule that holds between two ingredients (names as the knowledge base spells them)."""
    drugs = tuple(sorted((first, second)))
    return [
        Alert(
            kind="interaction",
            drugs=drugs,
            severity=rule.severity,
            interrupt=rule.interrupt,
            message=f"{drugs[0].capitalize()} + {drugs[1]}: {rule.message}",
            action=rule.action,
            rule=rule.rule,
        )
        for rule in kb.rules_between(first, second)
    ]
