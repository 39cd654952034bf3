"""Duplicate therapy: the same ingredient twice, or two members of a class that is not meant to be combined."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hms_app.cds.medications.model import Alert

if TYPE_CHECKING:
    from hms_app.cds.medications.knowledge import Knowledge
    from hms_app.cds.medications.records import Ingredient


def duplicate_alerts(kb: Knowledge, first: Ingredient, second: Ingredient) -> list[Alert]:
    if first.name == second.name:
        # A second order of the same ingredient (e.g. regular and "as needed" acetaminophen) is the classic
        # route to an accidental overdose; it informs, since PRN-plus-regular is sometimes intended.
        return [
            Alert(
                kind="duplicate_therapy",
                drugs=(first.name,),
                severity="major",
                interrupt=False,
                message=f"{first.name.capitalize()} is already on the medication list.",
                action="Stop one order or make sure the combined daily dose stays within the maximum.",
                rule="dup:same-ingredient",
            )
        ]
    alerts = []
    drugs = tuple(sorted((first.name, second.name)))
    for gid in sorted(set(first.classes) & set(second.classes)):
        group = kb.groups[gid]
        if not group.duplicate_severity:
            continue
        alerts.append(
            Alert(
                kind="duplicate_therapy",
                drugs=drugs,
                severity=group.duplicate_severity,
                interrupt=group.duplicate_interrupt,
                message=f"{drugs[0].capitalize()} and {drugs[1]} are both {group.label}.",
                action=f"Confirm that two {group.label} are intended; otherwise stop one.",
                rule=f"dup:{gid}",
            )
        )
    return alerts
