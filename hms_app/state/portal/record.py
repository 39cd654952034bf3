"""The patient portal's start screen: the signed-in patient's own record, read-only."""

from __future__ import annotations

import reflex as rx

from hms_app.cds import vitals as vital_rules
from hms_app.clock import format_local
from hms_app.errors import DomainError
from hms_app.services import emr
from hms_app.state.session import SessionState, public, requires


def _rows(record: emr.PortalRecord) -> dict:
    vitals = []
    for key, (value, unit, taken) in record.latest_vitals.items():
        spec = vital_rules.TREND_SPECS[key]
        vitals.append(
            {
                "label": spec.display,
                "value": vital_rules.display_value(key, value, unit),
                "when": format_local(taken),
            }
        )
    return {
        "vitals": vitals,
        "problems": [
            {"code": c.code, "name": c.display, "since": c.onset_date.isoformat() if c.onset_date else ""}
            for c in record.conditions
        ],
        "allergies": [
            {"substance": a.substance, "reaction": a.reaction or "", "severity": a.severity}
            for a in record.allergies
        ],
        "medications": [{"name": m.medication, "dosage": m.dosage or ""} for m in record.medications],
        "immunizations": [
            {"vaccine": i.vaccine, "date": i.occurrence_date.isoformat()} for i in record.immunizations
        ],
        "documents": [
            {"id": str(d.id), "title": d.title, "date": format_local(d.created_at, "%Y-%m-%d")}
            for d in record.documents
        ],
    }


class PortalState(SessionState):
    mrn: str = ""
    name: str = ""
    birth_date: str = ""
    age: str = ""
    vitals: list[dict[str, str]] = []
    problems: list[dict[str, str]] = []
    allergies: list[dict[str, str]] = []
    medications: list[dict[str, str]] = []
    immunizations: list[dict[str, str]] = []
    documents: list[dict[str, str]] = []
    # A visitor without a session sees the portal's front door (sign in / create an account).
    signed_out: bool = False

    @rx.event
    @public("only tells whether this tab is signed in; the record itself is read by the guarded load")
    async def open(self):
        if not self.auth_token or await self._current_actor() is None:
            self.signed_out = True
            return None
        self.signed_out = False
        return PortalState.load

    @rx.event
    @requires("portal.self")
    async def load(self):
        try:
            # The record is the one on the server-side session, never an id the browser sent.
            record = await self._run(emr.portal_record)
        except DomainError as error:
            return rx.toast.error(str(error))
        banner = record.banner
        self.mrn, self.name, self.birth_date, self.age = (
            banner.mrn,
            banner.name,
            banner.birth_date.isoformat(),
            banner.age,
        )
        rows = _rows(record)
        self.vitals, self.problems, self.allergies = rows["vitals"], rows["problems"], rows["allergies"]
        self.medications, self.immunizations, self.documents = (
            rows["medications"],
            rows["immunizations"],
            rows["documents"],
        )
        return None
