"""The order-check override report (/pharmacy/overrides): per rule, how many orders were shown its
alert and how many were signed past it, over a span of days (the last 90 by default), interrupting
alerts only or every alert; the most overridden rules' rates as bars; noisy rules (shown at least
10 times, overridden at least 90 %) flagged for tuning; the table as CSV. ``pharmacy.formulary`` on
the server for every handler; the service checks again and audits each read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import plotly.graph_objects as go
import reflex as rx

from hms_app.analytics import EMPTY_FIGURE
from hms_app.analytics.pharmacy import override_csv, override_rate_figure
from hms_app.clock import local_today
from hms_app.errors import DomainError, ValidationError
from hms_app.plurals import counted
from hms_app.services.pharmacy.overrides import override_report
from hms_app.services.pharmacy.rows import NOISY_MIN_SHOWN, NOISY_PERCENT, OverrideRate
from hms_app.state.forms import day_in_range, form_text
from hms_app.state.session import SessionState, requires

FORMULARY = "pharmacy.formulary"
DEFAULT_DAYS = 90
DATE_FIELDS = ("date_from", "date_to")
KIND_LABELS = {
    "interaction": "Interaction",
    "allergy": "Allergy",
    "allergy_not_assessed": "Allergies not assessed",
    "duplicate_therapy": "Duplicate therapy",
    "dose_per_dose": "Dose (single)",
    "dose_per_day": "Dose (daily)",
    "renal": "Renal dosing",
    "pregnancy": "Pregnancy",
    "lactation": "Breastfeeding",
}
NOISY_NOTE = f"Noisy: overridden {NOISY_PERCENT} % or more of at least {NOISY_MIN_SHOWN} times shown."


@dataclass(frozen=True)
class OverrideLine:
    rule: str = ""
    kind: str = ""
    shown: int = 0
    overridden: int = 0
    rate: str = ""  # "92.0 %"
    noisy: bool = False


def _line(row: OverrideRate) -> OverrideLine:
    return OverrideLine(
        row.rule,
        KIND_LABELS.get(row.kind, row.kind.replace("_", " ").capitalize()),
        row.shown,
        row.overridden,
        f"{row.rate * 100:.1f} %",
        row.noisy,
    )


def _day(text: str, field: str, label: str) -> date:
    if not text:
        raise ValidationError(f"Choose the {label} date.", field=field)
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            f"The {label} date is not a date; use the calendar or type 2026-01-31.", field=field
        ) from None
    return day_in_range(day, field, label)


def parse_span(form: dict) -> tuple[date, date]:
    """The from and to days typed, or the message of the field that is wrong."""
    start = _day(form_text(form, "date_from", limit=10, label="from date").strip(), "date_from", "from")
    end = _day(form_text(form, "date_to", limit=10, label="to date").strip(), "date_to", "to")
    if start > end:
        raise ValidationError("The from date is after the to date.", field="date_to")
    if end > local_today():
        raise ValidationError("The to date is in the future: choose today at the latest.", field="date_to")
    return start, end


class OverrideReportState(SessionState):
    """The report's filters, one row per rule, the figure of the top rules' rates."""

    date_from: str = ""
    date_to: str = ""
    interrupting_only: bool = True
    form_version: int = 0  # bumped to redraw the date form from the applied span
    error_field: str = ""
    error_text: str = ""

    rows: list[OverrideLine] = []
    figure: go.Figure = EMPTY_FIGURE
    loaded: bool = False
    loading: bool = False
    exporting: bool = False

    @rx.var
    def noisy_count(self) -> int:
        return sum(1 for row in self.rows if row.noisy)

    @rx.var
    def summary(self) -> str:
        if not self.rows:
            return ""
        shown = sum(row.shown for row in self.rows)
        overridden = sum(row.overridden for row in self.rows)
        return (
            f"{counted(len(self.rows), 'rule')} · {counted(shown, 'alert')} shown · {overridden:,} overridden"
        )

    def _span(self) -> tuple[date, date]:
        return date.fromisoformat(self.date_from), date.fromisoformat(self.date_to)

    async def _rates(self) -> list[OverrideRate]:
        start, end = self._span()
        return await self._read(
            override_report, start_day=start, end_day=end, interrupting_only=self.interrupting_only
        )

    async def _reload(self):
        self.loading = True
        yield
        try:
            rates = await self._rates()
        except DomainError as error:
            self.loading, self.loaded = False, True
            yield rx.toast.error(str(error))
            return
        self.rows = [_line(r) for r in rates]
        self.figure = override_rate_figure(rates) if rates else EMPTY_FIGURE
        self.loading, self.loaded = False, True

    def _default_span(self) -> None:
        """The last 90 days, today included, unless a span was chosen."""
        if not self.date_from or not self.date_to:
            today = local_today()
            self.date_from = (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat()
            self.date_to = today.isoformat()
            self.form_version += 1

    @rx.event
    @requires(FORMULARY)
    async def load(self):
        self._default_span()
        async for event in self._reload():
            yield event

    @rx.event
    @requires(FORMULARY)
    async def apply(self, form: dict):
        try:
            start, end = parse_span(form)
        except ValidationError as error:
            self.error_field = error.field if error.field in DATE_FIELDS else ""
            self.error_text = str(error)
            # Shown under its field; a message without a field has nowhere to go but a toast.
            if not self.error_field:
                yield rx.toast.error(str(error))
            return
        self.error_field, self.error_text = "", ""
        self.date_from, self.date_to = start.isoformat(), end.isoformat()
        async for event in self._reload():
            yield event

    @rx.event
    @requires(FORMULARY)
    async def reset_span(self):
        """Back to the last 90 days."""
        self.date_from = self.date_to = ""
        self.error_field, self.error_text = "", ""
        self._default_span()
        async for event in self._reload():
            yield event

    @rx.event
    @requires(FORMULARY)
    async def set_interrupting_only(self, value: bool):
        self.interrupting_only = value is True
        async for event in self._reload():
            yield event

    @rx.event
    @requires(FORMULARY)
    async def download_csv(self):
        if not self.date_from or not self.date_to or self.exporting:
            return
        self.exporting = True
        yield
        try:
            rates = await self._rates()
        except DomainError as error:
            self.exporting = False
            yield rx.toast.error(str(error))
            return
        self.exporting = False
        scope = "interrupting" if self.interrupting_only else "all"
        name = f"order-check-overrides_{scope}_{self.date_from}_{self.date_to}.csv"
        # The CSV goes to the browser once, as a download; the state does not keep it.
        yield rx.download(data=override_csv(rates), filename=name, mime_type="text/csv")
