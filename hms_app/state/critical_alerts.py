"""The critical-results banner of the staff layout: the signed-in clinician's open critical alerts,
on every staff page, live, and acknowledging one with a read-back of its value.

It starts with every staff page's load (``components.shell.staff_page``) and follows the live topic
"critical" on whatever page the tab shows, so a critical potassium raised while the physician reads
the home page appears there by itself. Only a user who holds ``lab.acknowledge`` gets a banner:
for anyone else the load reads nothing and the watcher never subscribes, without a refusal on every
page (a receptionist is not probing anything); the handlers that act are refused by name.

The state holds only the lines on screen (at most ``MAX_SHOWN`` alerts) and the one alert being
acknowledged; the service decides who may acknowledge what, and checks the read-back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import reflex as rx

from hms_app.clock import utcnow
from hms_app.errors import Conflict, DomainError, ValidationError
from hms_app.services.laboratory.critical import AlertRow, acknowledge_alert, my_open_alerts
from hms_app.state.boards.common import WATCH_REASON
from hms_app.state.laboratory.common import FLAG_LABELS, LIVE_CRITICAL, duration_label, moment_label
from hms_app.state.live import live_changes
from hms_app.state.session import SessionState, browser_id, public, requires

ACKNOWLEDGE = "lab.acknowledge"
MAX_SHOWN = 5  # more than that at once: the banner says how many others wait
READ_BACK_FIELD_MAX = 400  # the service keeps 200; anything longer is not a read-back
# "Potassium 6.9 mmol/L (HH)": the value's words, then the flag in brackets (services' critical_summary).
_FLAGGED = re.compile(r"^(?P<text>.*?)\s*\((?P<flag>LL|HH|L|H|A)\)$")
NOT_ON_BANNER = "That critical result is not on your list any more."


@dataclass(frozen=True)
class BannerAlert:
    id: int = 0
    patient_name: str = ""
    mrn: str = ""
    result: str = ""  # "Potassium 6.9 mmol/L"
    flag: str = ""  # "HH"
    flag_label: str = ""  # "Critically high"
    since: str = ""  # "14:05"
    waited: str = ""  # "12 min"
    escalated_to: str = ""  # "charge nurse Cora Charge" once it went up the chain


def banner_line(row: AlertRow, now=None) -> BannerAlert:
    """One alert as the banner writes it."""
    found = _FLAGGED.match(row.summary)
    result, flag = (found["text"], found["flag"]) if found else (row.summary, "")
    minutes = max(0, int(((now or utcnow()) - row.raised_at).total_seconds() // 60))
    escalated_to = ""
    if row.level > 0:
        escalated_to = f"{row.level_name.lower()} {row.recipient}".strip() if row.recipient else ""
    return BannerAlert(
        id=row.id,
        patient_name=row.patient_name,
        mrn=row.mrn,
        result=result,
        flag=flag,
        flag_label=FLAG_LABELS.get(flag, flag),
        since=moment_label(row.raised_at),
        waited=duration_label(minutes),
        escalated_to=escalated_to,
    )


def _gets_a_banner(actor) -> bool:
    return (
        actor is not None
        and actor.can(ACKNOWLEDGE)
        and actor.patient_id is None
        and not actor.must_change_password
    )


class CriticalBannerState(SessionState):
    """The red banner of the staff shell and its acknowledge dialog."""

    alerts: list[BannerAlert] = []
    others: int = 0  # open alerts beyond those shown
    # the alert being acknowledged
    ack_open: bool = False
    ack_patient: str = ""
    ack_result: str = ""
    ack_error: str = ""
    _ack_id: int = 0

    def _clear(self) -> None:
        self.alerts, self.others = [], 0
        self._close()

    def _close(self) -> None:
        self.ack_open, self.ack_patient, self.ack_result, self.ack_error = False, "", "", ""
        self._ack_id = 0

    async def _reload(self) -> None:
        rows = await self._read(my_open_alerts)
        now = utcnow()
        self.alerts = [banner_line(row, now) for row in rows[:MAX_SHOWN]]
        self.others = max(0, len(rows) - MAX_SHOWN)
        if self._ack_id and all(line.id != self._ack_id for line in self.alerts):
            self._close()  # acknowledged elsewhere meanwhile: nothing left to read back

    @rx.event
    @requires(before_password_change=True)
    async def load(self):
        """Every staff page's load: the banner of a user who may acknowledge, nothing for others."""
        if not _gets_a_banner(self.acting()):
            self._clear()
            return None
        try:
            await self._reload()
        except DomainError:
            self._clear()  # the page itself says what went wrong; the banner stays out of the way
        return None

    @rx.event(background=True)
    @public(WATCH_REASON + "; subscribes only for a user who holds lab.acknowledge")
    async def watch(self):
        async with self:
            actor = await self._current_actor()
        if not _gets_a_banner(actor):
            return  # no subscription (and no audited refusal on every page for other roles)
        async for _ in live_changes(self, LIVE_CRITICAL, permission=ACKNOWLEDGE, any_page=True):
            yield CriticalBannerState.refresh

    @rx.event
    @requires(ACKNOWLEDGE)
    async def refresh(self):
        if not _gets_a_banner(self.acting()):
            return None
        try:
            await self._reload()
        except DomainError:
            return None  # a notice that cannot be read now: the next one, or the next page, reads again
        return None

    @rx.event
    @requires(ACKNOWLEDGE)
    async def open_acknowledge(self, alert_id: int):
        try:
            wanted = browser_id(alert_id, "critical result")
        except ValidationError as error:
            return rx.toast.error(str(error))
        line = next((line for line in self.alerts if line.id == wanted), None)
        if line is None:
            return rx.toast.error(NOT_ON_BANNER)
        self._ack_id = line.id
        self.ack_patient, self.ack_result = f"{line.patient_name} ({line.mrn})", line.result
        if line.flag_label:
            self.ack_result += f", {line.flag_label.lower()}"
        self.ack_error, self.ack_open = "", True
        return None

    @rx.event
    @requires(ACKNOWLEDGE)
    async def set_ack_open(self, is_open: bool):
        if is_open is not True:
            self._close()

    @rx.event
    @requires(ACKNOWLEDGE)
    async def acknowledge(self, form: dict):
        if not self.ack_open or not self._ack_id:
            return rx.toast.error("Choose a critical result on the banner first.")
        read_back = form.get("read_back") if isinstance(form, dict) else None
        if not isinstance(read_back, str) or len(read_back) > READ_BACK_FIELD_MAX:
            self.ack_error = "Read the value back in the box, as on the telephone."
            return None
        alert_id, what = self._ack_id, f"{self.ack_result} for {self.ack_patient}"
        try:
            await self._run(acknowledge_alert, alert_id=alert_id, read_back=read_back)
        except ValidationError as error:
            self.ack_error = str(error)  # the dialog stays open: read it back again
            return None
        except Conflict as error:  # someone else acknowledged it meanwhile
            self._close()
            await self._quiet_reload()
            return rx.toast.info(str(error))
        except DomainError as error:  # not theirs (any more), or gone
            self._close()
            await self._quiet_reload()
            return rx.toast.error(str(error))
        self._close()
        await self._quiet_reload()
        return rx.toast.success(f"Acknowledged: {what}.")

    async def _quiet_reload(self) -> None:
        try:
            await self._reload()
        except DomainError:
            self._clear()
