"""A specimen's printable label (/lab/specimens/[specimen_id]/label), opened from the chart's
Results tab in a tab of its own: the Code 128 label the service draws (patient, MRN, birth date,
container, tests, the accession under the bars) and, beside it, what a nurse checks before sticking
it on the tube. ``lab.collect`` on the server; printing it is audited by the service."""

from __future__ import annotations

import re

import reflex as rx

from hms_app.errors import DomainError, NotFound
from hms_app.services.laboratory.specimens import specimen_label
from hms_app.state.laboratory.common import PRIORITY_LABELS, SPECIMEN_STATUS_LABELS, long_moment
from hms_app.state.session import SessionState, requires

COLLECT = "lab.collect"


def route_specimen_id(path: str) -> int:
    """The route's specimen id: a positive whole number, nothing else."""
    match = re.match(r"^/lab/specimens/(\d{1,12})/label/?$", path or "")
    if match is None or int(match.group(1)) <= 0:
        raise NotFound("This address does not name a specimen. Print its label from the patient's chart.")
    return int(match.group(1))


class SpecimenLabelState(SessionState):
    problem: str = ""
    loaded: bool = False
    specimen_id: int = 0
    patient_id: int = 0
    svg: str = ""
    accession: str = ""
    patient_name: str = ""
    mrn: str = ""
    birth_date: str = ""
    sex: str = ""
    specimen: str = ""  # "Serum · Gold SST"
    tests: str = ""
    priority_label: str = ""
    status_label: str = ""
    collected: str = ""  # "2026-03-04 09:12 by nurse.joy", "" while not collected
    reference: str = ""

    @rx.event
    @requires(COLLECT)
    async def load(self):
        self.reset()
        try:
            specimen_id = route_specimen_id(self.router.url.path)
            label = await self._read(specimen_label, specimen_id=specimen_id)
        except DomainError as error:
            self.problem, self.loaded = str(error), True
            return None
        row = label.specimen
        self.specimen_id, self.patient_id, self.svg = row.id, row.patient_id, label.svg
        self.accession, self.patient_name, self.mrn = row.accession, row.patient_name, row.mrn
        self.birth_date, self.sex = label.birth_date.isoformat(), label.sex.capitalize()
        self.specimen, self.tests = f"{row.specimen_type} · {row.container}", row.tests
        self.priority_label = PRIORITY_LABELS.get(row.priority, row.priority)
        self.status_label = SPECIMEN_STATUS_LABELS.get(row.status, row.status)
        self.collected = (
            long_moment(row.collected_at) + (f" by {row.collected_by}" if row.collected_by else "")
            if row.collected_at
            else ""
        )
        self.reference, self.loaded = row.request_reference, True
        return None
