"""The insurance tab of the patient details page: list, add and end coverages."""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from hms_app.errors import DomainError
from hms_app.services import coverage
from hms_app.state.forms import form_fields
from hms_app.state.patients.common import route_patient_id
from hms_app.state.session import SessionState, requires

# The coverage dialog's fields (pages/patients/coverage.py), read as the other patient forms are.
COVERAGE_FIELDS = (
    "payer_id",
    "plan_name",
    "member_id",
    "valid_from",
    "valid_to",
    "priority",
    "copay",
    "coinsurance_percent",
)
COVERAGE_LIMIT = 200


@dataclass
class CoverageLine:
    id: int = 0
    payer: str = ""
    plan: str = ""
    member_id: str = ""
    valid: str = ""
    priority: str = ""
    shares: str = ""
    status: str = ""


def _coverage_line(row) -> CoverageLine:
    valid = row.valid_from.isoformat() + " – " + (row.valid_to.isoformat() if row.valid_to else "open")
    copay = (
        f"${row.copay_cents // 100}.{row.copay_cents % 100:02d} co-pay" if row.copay_cents else "no co-pay"
    )
    status = "current" if row.current else ("ended" if not row.active else "not in force")
    priority = {1: "primary", 2: "secondary"}.get(row.priority, f"priority {row.priority}")
    return CoverageLine(
        row.id,
        row.payer,
        row.plan_name,
        row.member_id,
        valid,
        priority,
        f"{copay}, {row.coinsurance_percent}% co-insurance",
        status,
    )


class PatientCoverageState(SessionState):
    """The patient's insurance on the details page: list, add, end."""

    record_id: int = 0
    lines: list[CoverageLine] = []
    payers: list[list[str]] = []  # [id, name] pairs for the select
    dialog_open: bool = False
    error_field: str = ""
    error_text: str = ""

    _end_id: int = 0

    async def _reload(self):
        rows = await self._run(coverage.list_coverage, patient_id=self.record_id)
        self.lines = [_coverage_line(r) for r in rows]

    @rx.event
    @requires("patient.read")
    async def load(self):
        self.dialog_open, self.error_field, self.error_text = False, "", ""
        try:
            self.record_id = route_patient_id(self.router.url.path)
            await self._reload()
            self.payers = [[str(p.id), p.name] for p in await self._run(coverage.list_payers)]
        except DomainError as error:
            self.record_id, self.lines = 0, []
            return rx.toast.error(str(error))
        return None

    @rx.event
    @requires("patient.write")
    async def open_add(self):
        self.dialog_open, self.error_field, self.error_text = True, "", ""

    @rx.event
    @requires("patient.read")
    async def close_dialog(self):
        self.dialog_open = False

    @rx.event
    @requires("patient.write")
    async def add(self, form: dict):
        try:
            data = form_fields(form, COVERAGE_FIELDS, limit=COVERAGE_LIMIT)
            await self._run(coverage.add_coverage, patient_id=self.record_id, data=data)
            await self._reload()
        except DomainError as error:
            self.error_field, self.error_text = error.field or "", str(error)
            return None
        self.dialog_open, self.error_field, self.error_text = False, "", ""
        return rx.toast.success("Coverage recorded.")

    @rx.event
    @requires("patient.write")
    async def end(self, coverage_id: int):
        # Only a coverage on the screen of this patient can be ended from here.
        if coverage_id not in {line.id for line in self.lines}:
            return rx.toast.error("That coverage is not on this record.")
        try:
            await self._run(coverage.end_coverage, coverage_id=coverage_id, reason="ended at the front desk")
            await self._reload()
        except DomainError as error:
            return rx.toast.error(str(error))
        return rx.toast.success("Coverage ended.")
