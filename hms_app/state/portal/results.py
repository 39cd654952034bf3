"""The portal's results page (/portal/results): the signed-in patient's released laboratory results,
by the day the sample was taken, each with its value, units, the usual range and, in plain words,
whether it lies outside it; and their final imaging reports once released.

The patient is the one on the server-side session: the service reads ``actor.patient_id`` and no
handler here takes a patient id (there is nothing a browser could send to see someone else's).
Which results are shown, and from when, is the service's decision: a released result appears once
its test's portal delay has passed (some tests are first discussed with the patient).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import reflex as rx

from hms_app.clock import local_today, to_local
from hms_app.errors import DomainError
from hms_app.services.laboratory.views import PortalResult, portal_results
from hms_app.services.radiology.reports import PortalReport, portal_reports
from hms_app.state.session import SessionState, requires

PORTAL = "portal.self"
# What a flag means, in the patient's words.
FLAG_WORDS = {
    "LL": "far below the usual range",
    "L": "below the usual range",
    "H": "above the usual range",
    "HH": "far above the usual range",
    "A": "not the usual result",
}
IN_RANGE = "within the usual range"


@dataclass(frozen=True)
class ResultLine:
    test_name: str = ""
    value: str = ""
    unit: str = ""
    reference: str = ""  # "3.5-5.1 mmol/L"; "" when the test has none
    flag: str = ""  # the laboratory's flag (H, LL...), "" for none
    words: str = ""  # "above the usual range"
    tone: str = "gray"  # the badge's colour: red far out, amber out, green within


@dataclass(frozen=True)
class ResultDay:
    day: str = ""  # "Today", "Monday 3 March 2026"
    results: list[ResultLine] = field(default_factory=list)


def result_line(row: PortalResult) -> ResultLine:
    flag = row.flag if row.flag != "N" else ""
    if flag:
        words = FLAG_WORDS.get(flag, "outside the usual range")
        tone = "red" if flag in ("LL", "HH") else "amber"
    else:
        words, tone = (IN_RANGE, "green") if row.reference_text else ("", "gray")
    reference = row.reference_text
    if reference and row.unit and any(c.isdigit() for c in reference) and row.unit not in reference:
        reference = f"{reference} {row.unit}"  # "3.5-5.1 mmol/L": a range of numbers needs its units
    return ResultLine(
        test_name=row.test_name,
        value=row.value,
        unit=row.unit,
        reference=reference,
        flag=flag,
        words=words,
        tone=tone,
    )


def _day_label(row: PortalResult) -> str:
    local = to_local(row.at)
    if local is None:
        return "Date not recorded"
    if local.date() == local_today():
        return "Today"
    return f"{local.strftime('%A')} {local.day} {local.strftime('%B %Y')}"


def result_days(rows: list[PortalResult]) -> list[ResultDay]:
    """The results by day, newest day first, in the order the service gave them within a day."""
    days: list[ResultDay] = []
    for row in rows:
        label = _day_label(row)
        if not days or days[-1].day != label:
            days.append(ResultDay(label, []))
        days[-1].results.append(result_line(row))
    return days


@dataclass(frozen=True)
class ReportCard:
    procedure: str = ""
    day: str = ""
    impression: str = ""
    findings: str = ""
    addenda: list[str] = field(default_factory=list)


def report_card(report: PortalReport) -> ReportCard:
    local = to_local(report.performed_at)
    day = f"{local.strftime('%A')} {local.day} {local.strftime('%B %Y')}" if local else ""
    return ReportCard(report.procedure, day, report.impression, report.findings, list(report.addenda))


class PortalResultsState(SessionState):
    loaded: bool = False
    days: list[ResultDay] = []
    count: int = 0
    reports: list[ReportCard] = []

    @rx.event
    @requires(PORTAL)
    async def load(self):
        # No argument: the patient is the session's, read by the service from the actor.
        try:
            rows = await self._run(portal_results)
            reports = await self._run(portal_reports)
        except DomainError as error:
            self.days, self.count, self.reports = [], 0, []
            return rx.toast.error(str(error))
        self.days, self.count, self.loaded = result_days(rows), len(rows), True
        self.reports = [report_card(report) for report in reports]
        return None
