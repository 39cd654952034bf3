"""A patient's medication administration record (/patients/[patient_id]/mar): the inpatient orders
as rows, the shift's twelve hours as columns, each scheduled dose in its hour with its state, and the
dialog that records a dose after scanning the wristband and the medicine.

The grid is live: a dose recorded on another device, or a dose turning late as the clock passes,
redraws it (``live_changes`` on the ``mar`` topic for this patient, and once a minute). The dose a
dialog acts on is kept on the server as it was shown; the service checks everything again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import reflex as rx

from hms_app.clock import format_local, to_local
from hms_app.errors import DomainError, NotFound, ValidationError
from hms_app.plurals import counted
from hms_app.services.pharmacy.administration import ADMINISTER, record_administration
from hms_app.services.pharmacy.mar import (
    DOSE_STATES,
    SHIFT_HOURS,
    Mar,
    MarDose,
    MarOrder,
    mar,
    parse_shift,
)
from hms_app.services.pharmacy.mar import ROUTE_CHOICES as SERVICE_ROUTES
from hms_app.state.forms import form_text
from hms_app.state.live import live_changes
from hms_app.state.session import SessionState, browser_id, public, requires

READ = "medication.read"
LIVE_EVERY_SECONDS = 60.0
DIALOG_FIELDS = ("outcome", "wristband", "medicine", "dose", "route", "reason", "scheduled_at")

ROUTE_CHOICES = list(SERVICE_ROUTES)  # the dialog's routes: (code, label)
OUTCOME_CHOICES = [
    ("given", "Given"),
    ("held", "Held"),
    ("refused", "Refused"),
    ("not_available", "Not available"),
]


def route_patient_id(path: str) -> int:
    match = re.match(r"^/patients/(\d{1,12})/mar/?$", path or "")
    if match is None or int(match.group(1)) <= 0:
        raise NotFound("This address does not name a patient. Open the MAR from the ward board or the chart.")
    return int(match.group(1))


@dataclass(frozen=True)
class MarCell:
    state: str = ""  # "" (no dose this hour) or a DOSE_STATES key
    label: str = ""  # "08:00" or "2 PRN"
    title: str = ""  # the tooltip: who recorded it, when, why
    key: str = ""  # the dose's scheduled time (ISO) the dialog is opened with; "" for PRN


@dataclass(frozen=True)
class MarRow:
    order_id: int = 0
    reference: str = ""
    product: str = ""
    sig: str = ""
    instructions: str = ""
    status: str = ""
    prn: bool = False
    verified: bool = False
    returned_reason: str = ""
    prn_note: str = ""  # "1 dose given in 24 h (at most 4)"
    dose: str = ""  # as ordered: "5"
    dose_unit: str = ""
    route: str = ""
    route_label: str = ""
    cells: list[MarCell] | None = None


@dataclass(frozen=True)
class MarEntry:
    time: str = ""
    product: str = ""
    outcome: str = ""
    outcome_label: str = ""
    by: str = ""
    note: str = ""


def _hour_of(moment: datetime, start: datetime) -> int:
    return int((moment - start).total_seconds() // 3600)


def _tooltip(dose: MarDose) -> str:
    if dose.recorded_at is None:
        return DOSE_STATES.get(dose.state, dose.state)
    text = f"{DOSE_STATES.get(dose.state, dose.state)} by {dose.recorded_by} at {format_local(dose.recorded_at, '%H:%M')}"
    if dose.late_minutes:
        text += f", {dose.late_minutes} min late"
    return text + (f": {dose.reason}" if dose.reason else "")


def _row(order: MarOrder, shift_start: datetime) -> MarRow:
    cells: list[MarCell] = [MarCell() for _ in range(SHIFT_HOURS)]
    prn_by_hour: dict[int, list[MarDose]] = {}
    for dose in order.doses:
        if dose.scheduled_at is None:
            if dose.recorded_at is not None:
                prn_by_hour.setdefault(_hour_of(dose.recorded_at, shift_start), []).append(dose)
            continue
        hour = _hour_of(dose.scheduled_at, shift_start)
        if 0 <= hour < SHIFT_HOURS:
            cells[hour] = MarCell(
                dose.state,
                format_local(dose.scheduled_at, "%H:%M"),
                _tooltip(dose),
                dose.scheduled_at.isoformat(),
            )
    for hour, doses in prn_by_hour.items():
        if 0 <= hour < SHIFT_HOURS:
            last = doses[-1]
            label = format_local(last.recorded_at, "%H:%M") if len(doses) == 1 else f"{len(doses)} PRN"
            cells[hour] = MarCell(last.state, label, "; ".join(_tooltip(d) for d in doses), "")
    prn_note = ""
    if order.prn:
        prn_note = f"{counted(order.prn_given_24h, 'dose')} given in 24 h" + (
            f" (at most {order.max_doses_per_day})" if order.max_doses_per_day else ""
        )
    return MarRow(
        order.order_id,
        order.reference,
        order.product,
        order.sig,
        order.instructions,
        order.status,
        order.prn,
        order.verified,
        order.returned_reason,
        prn_note,
        order.dose,
        order.dose_unit,
        order.route,
        order.route_label,
        cells,
    )


def _entries(record: Mar) -> list[MarEntry]:
    entries = []
    for order in record.orders:
        for dose in order.doses:
            if dose.recorded_at is None:
                continue
            when = format_local(dose.scheduled_at, "%H:%M") if dose.scheduled_at else "PRN"
            entries.append(
                (
                    dose.recorded_at,
                    MarEntry(
                        format_local(dose.recorded_at, "%H:%M"),
                        f"{order.product} ({when})",
                        dose.state,
                        DOSE_STATES.get(dose.state, dose.state),
                        dose.recorded_by,
                        dose.reason + (f" ({dose.late_minutes} min late)" if dose.late_minutes else ""),
                    ),
                )
            )
    return [entry for _, entry in sorted(entries, key=lambda pair: pair[0], reverse=True)]


class MarState(SessionState):
    """One patient's MAR over one shift, and the record-a-dose dialog."""

    loaded: bool = False
    problem: str = ""
    version: int = 0
    mar_patient_id: int = 0
    patient_name: str = ""
    mrn: str = ""
    birth_date: str = ""
    allergies: str = ""
    allergy_state: str = ""
    placement: str = ""  # "Ward 3 · bed 12", "" when not admitted
    shift_label: str = ""
    shift_key: str = ""  # the shift's start on the hospital's clock: "2026-12-06T07:00"
    previous_shift: str = ""
    next_shift: str = ""
    current_shift: bool = True
    hours: list[str] = []
    rows: list[MarRow] = []
    entries: list[MarEntry] = []
    late: int = 0
    due: int = 0
    updated_at: str = ""

    dialog_open: bool = False
    dialog_title: str = ""
    dialog_detail: str = ""
    dialog_prn: bool = False
    dialog_dose: str = ""  # the ordered dose, prefilled
    dialog_unit: str = ""
    dialog_route: str = ""
    dialog_route_label: str = ""
    outcome: str = "given"
    dialog_error: str = ""
    dialog_error_field: str = ""
    saving: bool = False
    form_key: int = 0

    _order_id: int = 0
    _scheduled: str = ""

    def _show(self, record: Mar) -> None:
        patient, shift = record.patient, record.shift
        self.mar_patient_id, self.patient_name, self.mrn = patient.id, patient.name, patient.mrn
        self.birth_date = patient.birth_date.isoformat()
        if patient.allergy_state == "allergies":
            self.allergies = ", ".join(patient.allergies)
        elif patient.allergy_state == "none_known":
            self.allergies = "No known allergies"
        else:
            self.allergies = "Allergies not assessed"
        self.allergy_state = patient.allergy_state
        self.placement = f"{patient.ward} · bed {patient.bed}" if patient.bed else patient.ward
        start_local = to_local(shift.start)
        self.shift_label, self.shift_key = shift.label, start_local.strftime("%Y-%m-%dT%H:%M")
        self.previous_shift = (start_local - timedelta(hours=SHIFT_HOURS)).strftime("%Y-%m-%dT%H:%M")
        self.next_shift = (start_local + timedelta(hours=SHIFT_HOURS)).strftime("%Y-%m-%dT%H:%M")
        self.current_shift = shift.start <= record.now < shift.end
        self.hours = [(start_local + timedelta(hours=h)).strftime("%H") for h in range(SHIFT_HOURS)]
        self.rows = [_row(order, shift.start) for order in record.orders]
        self.entries = _entries(record)
        states = [cell.state for row in self.rows for cell in row.cells or []]
        self.late, self.due = states.count("late"), states.count("due")
        self.loaded, self.problem = True, ""
        self.version += 1
        self.updated_at = format_local(record.now, "%H:%M:%S")

    async def _reload(self, *, audit: bool):
        try:
            patient_id = route_patient_id(self.router.url.path)
            shift = parse_shift(self.shift_key)
            record = await self._read(mar, patient_id=patient_id, shift=shift, audit=audit)
        except DomainError as error:
            self.loaded, self.problem = True, str(error)
            return None
        self._show(record)
        return None

    @rx.event
    @requires(READ)
    async def load(self):
        """Open the MAR at the shift named in ?shift=, else now's (audited)."""
        self._close()
        wanted = self.router.url.query_parameters.get("shift", "") if self.router else ""
        self.shift_key = wanted if isinstance(wanted, str) and len(wanted) <= 25 else ""
        self.loaded = False
        return await self._reload(audit=True)

    @rx.event
    @requires(READ)
    async def refresh(self):
        """A live change or the minute passing: the same shift again, not audited again."""
        if not self.mar_patient_id:
            return None
        return await self._reload(audit=False)

    @rx.event(background=True)
    @public("waits for change notices only after live_changes has checked medication.read; reads no data")
    async def watch(self):
        async with self:
            try:
                patient_id = route_patient_id(self.router.url.path)
            except DomainError:
                return
        async for _ in live_changes(self, "mar", [patient_id], permission=READ, every=LIVE_EVERY_SECONDS):
            yield MarState.refresh

    @rx.event
    @requires(READ)
    async def show_shift(self, key: str):
        if not isinstance(key, str) or len(key) > 25:
            return rx.toast.error("Choose a shift from the buttons.")
        self.shift_key = key
        self._close()
        try:
            parse_shift(key)
        except DomainError as error:
            return rx.toast.error(str(error))
        return await self._reload(audit=True)

    @rx.event
    @requires(READ)
    async def show_current_shift(self):
        self.shift_key = ""
        self._close()
        return await self._reload(audit=True)

    # ------------------------------------------------------------------ the dialog

    def _close(self) -> None:
        self.dialog_open, self.saving = False, False
        self.dialog_error = self.dialog_error_field = ""
        self._order_id, self._scheduled = 0, ""

    def _shown_row(self, order_id) -> MarRow:
        wanted = browser_id(order_id, "medication order")
        for row in self.rows:
            if row.order_id == wanted:
                return row
        raise ValidationError("Choose a dose on the MAR.")

    def _open(self, row: MarRow, scheduled: str, detail: str) -> None:
        self._order_id, self._scheduled = row.order_id, scheduled
        self.dialog_title, self.dialog_detail, self.dialog_prn = row.product, detail, row.prn
        self.dialog_dose, self.dialog_unit = row.dose, row.dose_unit
        self.dialog_route, self.dialog_route_label = row.route, row.route_label
        self.outcome = "given"
        self.dialog_error = self.dialog_error_field = ""
        self.form_key += 1
        self.dialog_open = True

    @rx.event
    @requires(ADMINISTER)
    async def open_dose(self, order_id: str, scheduled: str):
        try:
            row = self._shown_row(order_id)
            cell = next((c for c in row.cells or [] if c.key and c.key == scheduled), None)
            if cell is None or cell.state not in ("due", "late", "later"):
                raise ValidationError("That dose is already recorded, or not on this shift.")
            self._open(row, cell.key, f"{row.sig} · dose due {cell.label}")
        except DomainError as error:
            return rx.toast.error(str(error))
        return None

    @rx.event
    @requires(ADMINISTER)
    async def open_prn(self, order_id: str):
        try:
            row = self._shown_row(order_id)
            if not row.prn:
                raise ValidationError("That order has scheduled doses: choose one on the grid.")
            self._open(row, "", f"{row.sig} · {row.prn_note}")
        except DomainError as error:
            return rx.toast.error(str(error))
        return None

    @rx.event
    @requires(ADMINISTER)
    async def set_outcome(self, value: str | list[str]):
        if isinstance(value, str) and value in dict(OUTCOME_CHOICES):
            self.outcome = value
            self.dialog_error = self.dialog_error_field = ""

    @rx.event
    @requires(ADMINISTER)
    async def on_dialog_change(self, is_open: bool):
        if not is_open:
            self._close()

    @rx.event
    @requires(ADMINISTER)
    async def close_dialog(self):
        self._close()

    @rx.event
    @requires(ADMINISTER)
    async def record(self, form: dict):
        if not self._order_id or self.saving:
            return
        self.saving, self.dialog_error, self.dialog_error_field = True, "", ""
        yield
        try:
            done = await self._run(
                record_administration,
                patient_id=self.mar_patient_id,
                order_id=self._order_id,
                outcome=self.outcome,
                scheduled_at=self._scheduled or None,
                wristband=form_text(form, "wristband", limit=100),
                medicine=form_text(form, "medicine", limit=100),
                dose=form_text(form, "dose", limit=30),
                route=form_text(form, "route", limit=30),
                reason=form_text(form, "reason", limit=400),
            )
        except DomainError as error:
            self.saving = False
            self.dialog_error = str(error)
            self.dialog_error_field = error.field if error.field in DIALOG_FIELDS else ""
            return
        self._close()
        await self._reload(audit=False)
        yield rx.toast.success(done.message)
