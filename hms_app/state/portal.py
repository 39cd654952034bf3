"""The patient portal's start screen: the signed-in patient's own summary."""

from __future__ import annotations

import reflex as rx

from hms_app.errors import DomainError
from hms_app.services import patients
from hms_app.state.session import SessionState, requires


class PortalState(SessionState):
    mrn: str = ""
    name: str = ""
    birth_date: str = ""
    phone: str = ""
    email: str = ""

    @rx.event
    @requires("portal.self")
    async def load(self):
        actor = self.acting()
        try:
            # The patient id is the one on the server-side session, never one the browser sent.
            summary = await self._run(patients.get_patient_summary, patient_id=actor.patient_id)
        except DomainError as error:
            return rx.toast.error(str(error))
        self.mrn, self.name = summary.mrn, summary.name
        self.birth_date, self.phone, self.email = summary.birth_date.isoformat(), summary.phone, summary.email
        return None
