"""The audit trail screen (/admin/audit): filters, one page of rows, and the chain check."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import reflex as rx

from hms_app import words
from hms_app.clock import format_local, utcnow
from hms_app.errors import DomainError, ValidationError
from hms_app.services import audit
from hms_app.services.permissions import ROLES, Actor
from hms_app.state.forms import day_in_range, form_text
from hms_app.state.session import SessionState, call_service, pages_for, public, requires, turn_page

PAGE_SIZE = 50
DETAIL_CHARS = 300  # what a table cell can show; the full text stays in the database
MAX_PATIENT_ID = 2_147_483_647
FILTER_FIELDS = ("username", "patient_id", "action", "date_from", "date_to")


@dataclass
class AuditLine:
    seq: int = 0
    time: str = ""
    username: str = ""
    roles: str = ""
    action: str = ""
    patient: str = ""
    target: str = ""
    outcome: str = ""
    screen: str = ""
    detail: str = ""


def _line(row: audit.AuditEntry) -> AuditLine:
    target = f"{row.target_type or ''} {row.target_id or ''}".strip()
    detail = row.detail or ""
    if len(detail) > DETAIL_CHARS:
        detail = detail[: DETAIL_CHARS - 1] + "…"
    return AuditLine(
        seq=row.seq,
        time=format_local(row.occurred_at, "%Y-%m-%d %H:%M:%S"),
        username=row.username,
        roles=", ".join(ROLES.get(role, words.humanise(role)) for role in row.roles.split(",") if role),
        action=row.action,
        patient="" if row.patient_id is None else str(row.patient_id),
        target=target,
        outcome=row.outcome,
        screen=row.screen or "",
        detail=detail,
    )


def _text(form: dict, key: str, limit: int, label: str) -> str:
    return form_text(form, key, limit=limit, label=label).strip()


def _date(value: str, key: str, label: str) -> date | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError as error:
        raise ValidationError(
            f"The {label} date is not a date; use the calendar or type 2026-01-31.", field=key
        ) from error
    return day_in_range(day, key, label)


def parse_filters(form: dict) -> tuple[dict[str, str], audit.AuditFilter]:
    """The filter form as typed (to show again) and as the service takes it; clear messages otherwise."""
    username = _text(form, "username", 60, "username").lower()
    patient = _text(form, "patient_id", 12, "patient id")
    action = _text(form, "action", 80, "action")
    date_from = _text(form, "date_from", 10, "from date")
    date_to = _text(form, "date_to", 10, "to date")
    patient_id = None
    if patient:
        if not (patient.isascii() and patient.isdigit()):
            raise ValidationError("The patient id is a whole number, such as 1024.", field="patient_id")
        patient_id = int(patient)
        if not 1 <= patient_id <= MAX_PATIENT_ID:
            raise ValidationError("There is no patient with that id.", field="patient_id")
    start, end = _date(date_from, "date_from", "from"), _date(date_to, "date_to", "to")
    if start and end and start > end:
        raise ValidationError("The from date is after the to date.", field="date_to")
    typed = {
        "username": username,
        "patient_id": patient,
        "action": action,
        "date_from": date_from,
        "date_to": date_to,
    }
    return typed, audit.AuditFilter(
        username=username, patient_id=patient_id, action=action, date_from=start, date_to=end
    )


class AuditState(SessionState):
    """The applied filters, one page of audit rows and the result of the last chain check."""

    username: str = ""
    patient_id: str = ""
    action: str = ""
    date_from: str = ""
    date_to: str = ""
    form_version: int = 0  # bumped to redraw the filter form from the applied filters
    error_field: str = ""
    error_text: str = ""

    page: int = 1
    total: int = 0
    rows: list[AuditLine] = []
    loading: bool = False
    loaded: bool = False

    verifying: bool = False
    verified: bool = False
    verify_ok: bool = False
    verify_rows: int = 0
    verify_message: str = ""
    verify_at: str = ""

    _filters: audit.AuditFilter = audit.AuditFilter()
    # Set only by the guarded ``verify`` handler: the background check runs as this actor.
    _verify_actor: Actor | None = None

    @rx.var
    def page_count(self) -> int:
        return pages_for(self.total, PAGE_SIZE)

    async def _reload(self):
        self.loading = True
        try:
            rows, total = await self._run(
                audit.search_audit, filters=self._filters, page=self.page, page_size=PAGE_SIZE
            )
        except DomainError as error:
            self.loading = False
            return rx.toast.error(str(error))
        self.rows, self.total = [_line(r) for r in rows], total
        self.loading, self.loaded = False, True
        return None

    @rx.event
    @requires("audit.read")
    async def load(self):
        return await self._reload()

    @rx.event
    @requires("audit.read")
    async def apply(self, form: dict):
        try:
            typed, filters = parse_filters(form)
        except ValidationError as error:
            self.error_field = error.field if error.field in FILTER_FIELDS else ""
            self.error_text = str(error)
            # Shown under its field; a message without a field has nowhere to go but a toast.
            return None if self.error_field else rx.toast.error(str(error))
        self.error_field, self.error_text = "", ""
        self.username, self.patient_id, self.action = typed["username"], typed["patient_id"], typed["action"]
        self.date_from, self.date_to = typed["date_from"], typed["date_to"]
        self._filters, self.page = filters, 1
        return await self._reload()

    @rx.event
    @requires("audit.read")
    async def clear(self):
        self.username = self.patient_id = self.action = self.date_from = self.date_to = ""
        self.error_field, self.error_text = "", ""
        self._filters, self.page = audit.AuditFilter(), 1
        self.form_version += 1
        return await self._reload()

    @rx.event
    @requires("audit.read")
    async def move(self, step: int):
        return await turn_page(self, "page", step, self.page_count, self._reload)

    @rx.event
    @requires("audit.read")
    async def verify(self):
        """Start the chain check; it runs in the background so the tab stays usable."""
        if self.verifying:
            return None
        self.verifying, self.verified = True, False
        self._verify_actor = self.acting()
        return AuditState.run_verification

    @rx.event(background=True)
    @public(
        "does nothing unless this tab's guarded verify handler has just armed it with the checked actor; "
        "the service checks audit.read again"
    )
    async def run_verification(self):
        async with self:
            actor, self._verify_actor = self._verify_actor, None
        if actor is None:
            return
        try:
            # A whole chain can take a while: the state is not locked meanwhile, and the
            # service reads in a worker thread.
            report = await call_service(audit.verify_audit_chain, actor=actor)
        except DomainError as error:
            async with self:
                self.verifying = False
            yield rx.toast.error(str(error))
            return
        async with self:
            self.verifying, self.verified = False, True
            self.verify_ok, self.verify_rows, self.verify_message = (
                report.ok,
                report.rows_checked,
                report.message,
            )
            self.verify_at = format_local(utcnow(), "%Y-%m-%d %H:%M:%S")
        if report.ok:
            yield rx.toast.success(f"Audit chain intact: {report.rows_checked:,} rows checked.")
        else:
            yield rx.toast.error(f"The audit chain is broken: {report.message}.")
