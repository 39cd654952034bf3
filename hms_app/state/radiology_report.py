"""The radiologist's reporting screen (/radiology/orders/[order_id]/report): the order (patient,
accession, procedure, clinical question), a link to the images, the findings and impression with
Save draft / Sign preliminary / Sign final, a critical finding that goes to the ordering clinician,
and, once final, the locked text with its addenda and an addendum box. Clinicians with
``imaging.read`` see the signed report read-only; the services decide what each may see and do."""

from __future__ import annotations

import re

import reflex as rx

from hms_app.clock import format_local
from hms_app.errors import DomainError, NotFound
from hms_app.services.radiology.reports import ReportView, add_addendum, report_of, save_draft, sign_report
from hms_app.state.forms import form_text
from hms_app.state.session import SessionState, requires

READ = "imaging.read"
REPORT = "imaging.report"
STATUS_LABELS = {"none": "Not started", "draft": "Draft", "preliminary": "Preliminary", "final": "Final"}
FIELDS = ("findings", "impression", "critical", "addendum")


def route_order_id(path: str) -> int:
    match = re.match(r"^/radiology/orders/(\d{1,12})/report/?$", path or "")
    if match is None or int(match.group(1)) <= 0:
        raise NotFound("This address does not name an imaging order. Open the report from the work list.")
    return int(match.group(1))


class ImagingReportState(SessionState):
    loaded: bool = False
    problem: str = ""
    accession: str = ""
    patient_id: int = 0
    patient_name: str = ""
    mrn: str = ""
    study_id: int = 0
    procedure: str = ""
    modality: str = ""
    clinical_question: str = ""
    order_status: str = ""
    status: str = "none"
    status_label: str = ""
    findings: str = ""
    impression: str = ""
    critical: bool = False
    signed_line: str = ""  # "Final, signed by dr.ray on 06 Dec 14:02"
    addenda: list[dict[str, str]] = []
    is_critical: bool = False
    critical_text: str = ""
    form_key: int = 0
    saving: bool = False
    error: str = ""
    error_field: str = ""

    _order_id: int = 0

    def _show(self, view: ReportView) -> None:
        self._order_id = view.order_id
        self.accession, self.patient_id, self.patient_name, self.mrn = (
            view.accession,
            view.patient_id,
            view.patient_name,
            view.mrn,
        )
        self.study_id = view.study_id or 0
        self.procedure, self.modality, self.clinical_question = (
            view.procedure,
            view.modality,
            view.clinical_question,
        )
        self.order_status = view.order_status.replace("_", " ")
        self.status, self.status_label = view.status, STATUS_LABELS.get(view.status, view.status)
        self.findings, self.impression, self.critical = view.findings, view.impression, view.critical
        self.is_critical, self.critical_text = False, ""
        moment = view.final_at or view.preliminary_at
        self.signed_line = (
            f"{self.status_label}, signed by {view.signed_by} on {format_local(moment, '%d %b %Y %H:%M')}"
            if moment
            else ""
        )
        self.addenda = [
            {"text": a.text, "by": a.signed_by, "at": format_local(a.signed_at, "%d %b %Y %H:%M")}
            for a in view.addenda
        ]
        self.form_key += 1
        self.loaded, self.problem = True, ""

    @rx.event
    @requires(READ)
    async def load(self):
        self.loaded, self.error, self.error_field = False, "", ""
        try:
            view = await self._read(report_of, order_id=route_order_id(self.router.url.path))
        except DomainError as error:
            self.loaded, self.problem = True, str(error)
            return None
        self._show(view)
        return None

    def _fail(self, error: DomainError) -> None:
        self.saving = False
        self.error = str(error)
        self.error_field = error.field if error.field in FIELDS else ""

    async def _write(self, fn, message: str, **kwargs):
        if not self._order_id or self.saving:
            return
        self.saving, self.error, self.error_field = True, "", ""
        yield
        try:
            view = await self._run(fn, order_id=self._order_id, **kwargs)
        except DomainError as error:
            self._fail(error)
            yield rx.toast.error(str(error))
            return
        self.saving = False
        self._show(view)
        yield rx.toast.success(message)

    # The text boxes report what was typed when they lose focus (a click on a button blurs them
    # first, so the button's handler sees the latest text).
    @rx.event
    @requires(REPORT)
    async def set_findings(self, value: str):
        self.findings = value[:9000] if isinstance(value, str) else self.findings

    @rx.event
    @requires(REPORT)
    async def set_impression(self, value: str):
        self.impression = value[:2500] if isinstance(value, str) else self.impression

    @rx.event
    @requires(REPORT)
    async def set_critical_text(self, value: str):
        self.critical_text = value[:200] if isinstance(value, str) else self.critical_text

    @rx.event
    @requires(REPORT)
    async def set_is_critical(self, value: bool):
        self.is_critical = value is True

    @rx.event
    @requires(REPORT)
    async def save(self):
        async for event in self._write(
            save_draft, "Draft saved.", findings=self.findings, impression=self.impression
        ):
            yield event

    @rx.event
    @requires(REPORT)
    async def sign(self, level: str):
        if level not in ("preliminary", "final"):
            yield rx.toast.error("Sign the report preliminary or final.")
            return
        if self.is_critical and not self.critical_text.strip():
            self.error, self.error_field = "Say what the critical finding is, in a few words.", "critical"
            return
        critical = self.critical_text if self.is_critical else ""
        message = f"Report signed {level}." + (" The ordering clinician is alerted." if critical else "")
        async for event in self._write(
            sign_report,
            message,
            findings=self.findings,
            impression=self.impression,
            final=level == "final",
            critical_finding=critical,
        ):
            yield event

    @rx.event
    @requires(REPORT)
    async def add(self, form: dict):
        async for event in self._write(
            add_addendum, "Addendum added.", text=form_text(form, "addendum", limit=4500)
        ):
            yield event
