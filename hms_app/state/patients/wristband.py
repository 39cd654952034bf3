"""The printable wristband and labels (/patients/[patient_id]/wristband)."""

from __future__ import annotations

import reflex as rx

from hms_app.errors import DomainError
from hms_app.services.patients.wristband import wristband
from hms_app.state.patients.common import (
    route_patient_id,
)
from hms_app.state.session import SessionState, requires


class WristbandState(SessionState):
    """What the printed wristband and the sheet of labels show."""

    problem: str = ""
    loaded: bool = False
    record_id: int = 0
    mrn: str = ""
    name: str = ""
    birth_date: str = ""
    sex: str = ""
    allergies: list[str] = []
    allergy_state: str = "unassessed"  # unassessed | none_known | allergies: the band prints what is recorded
    barcode: str = ""

    @rx.event
    @requires("patient.read")
    async def load(self):
        self.loaded, self.problem = False, ""
        try:
            self.record_id = route_patient_id(self.router.url.path)
            band = await self._run(wristband, patient_id=self.record_id)
        except DomainError as error:
            self.problem = str(error)
            return None
        self.mrn, self.name, self.birth_date, self.sex = (
            band.mrn,
            band.name,
            band.birth_date.isoformat(),
            band.sex,
        )
        self.allergies, self.barcode = list(band.allergies), band.barcode_svg_data_url
        self.allergy_state = band.allergy_state
        self.loaded = True
        return None
