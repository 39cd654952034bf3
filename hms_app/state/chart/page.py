"""The patient chart (/patients/[patient_id]): the patient, the banner and the tab on screen.

The first screen is one ``open_chart`` call; each tab's state (a substate of ``ChartState``) takes
its part of it, so that an event on one tab sends only that tab's vars. Ids the browser sends
back are looked up among the rows it was shown; the services check the permission and the
patient again on every write.
"""

from __future__ import annotations

from typing import ClassVar

import reflex as rx

from hms_app.errors import DomainError, NotFound, ValidationError
from hms_app.services.emr.chart import Banner, Chart, open_chart
from hms_app.state.chart.dialogs import ChartDialogs
from hms_app.state.session import SessionState, browser_id, requires

PAGE_SIZE = 20  # encounters on one page of the timeline
BANNER_PROBLEMS = 3  # active problems shown as badges in the banner; the rest are counted
TABS = ("summary", "encounters", "vitals", "problems", "allergies", "results", "imaging", "documents")


def parse_patient_id(raw) -> int:
    """The route's patient id: a positive whole number, nothing else."""
    text = raw if isinstance(raw, str) else ""
    if not text.isascii() or not text.isdigit() or len(text) > 12 or int(text) <= 0:
        raise NotFound("This address does not name a patient. Find the patient from the patient list.")
    return int(text)


def day_text(value) -> str:
    return value.isoformat() if value else ""


class ChartState(SessionState):
    """One patient's chart as the signed-in user sees it: which patient, the banner, which tab."""

    TAB: ClassVar[str] = ""  # the tab a substate's vars are shown on

    pid: int = 0  # the patient on screen (from the route, validated); 0 until one is loaded
    # The address this state was loaded for. Until it matches the browser's, the page shows the skeleton:
    # after moving to another patient's address, the last patient's chart must never show under it.
    shown_path: str = ""
    loaded: bool = False
    problem: str = ""  # why no chart is shown (a bad address, an unknown patient)
    tab: str = "summary"

    # the banner
    name: str = ""
    mrn: str = ""
    sex_label: str = ""
    age: str = ""
    birth_date: str = ""
    banner_allergies: list[str] = []
    allergy_state: str = "unassessed"  # unassessed | none_known | allergies (services.allergy_status)
    allergy_assessed: str = ""  # who recorded "no known allergies", and when
    banner_problems: list[str] = []
    banner_problem_badges: list[str] = []
    banner_problems_more: int = 0
    alerts: list[str] = []
    score_alert: str = ""  # NEWS2 5 or more, or 3 in one parameter: shown in the sticky banner

    # ------------------------------------------------------------------ loading

    def _show_banner(self, banner: Banner) -> None:
        self.name, self.mrn, self.age = banner.name, banner.mrn, banner.age
        self.sex_label = banner.sex.capitalize()
        self.birth_date = banner.birth_date.isoformat()
        self.banner_allergies, self.alerts = list(banner.allergies), list(banner.alerts)
        self.allergy_state, self.allergy_assessed = banner.allergy_state, banner.allergy_assessed
        self.banner_problems = list(banner.problems)
        self.banner_problem_badges = self.banner_problems[:BANNER_PROBLEMS]
        self.banner_problems_more = max(0, len(self.banner_problems) - BANNER_PROBLEMS)

    # Each tab's state says what it shows of a chart just read (``_show``), what it reads when its tab
    # is chosen (``_open``: the vitals trend) and what it re-reads after a change on it (``_refresh``).
    # Each returns an event to send (a toast) or None.

    async def _show(self, chart: Chart):
        return None

    async def _open(self):
        return None

    async def _tab_states(self, tab: str | None = None) -> list[ChartState]:
        """The states of the tabs (of the one named ``tab``): the substates of ``ChartState``."""
        return [await self.get_state(cls) for cls in ChartState.get_substates() if tab in (None, cls.TAB)]

    def _route_patient_id(self) -> int:
        # Reflex puts the route's [patient_id] on the root state; any text may arrive there.
        return parse_patient_id(self.patient_id)

    async def _start_afresh(self) -> None:
        """Nothing of the last patient may stay on screen, in the banner or on any tab."""
        self.reset()
        # reset() reaches the tabs' states already in memory; with Redis, the others load here.
        for tab in await self._tab_states():
            tab.reset()

    @rx.event
    @requires("patient.read")
    async def load(self):
        path = self.router.url.path
        try:
            pid = self._route_patient_id()
        except DomainError as error:
            await self._start_afresh()
            self.problem, self.loaded, self.shown_path = str(error), True, path
            return
        await self._start_afresh()  # the skeleton shows meanwhile
        yield
        try:
            chart = await self._read(open_chart, patient_id=pid, page_size=PAGE_SIZE)
        except DomainError as error:
            await self._start_afresh()
            self.problem, self.loaded, self.shown_path = str(error), True, path
            yield rx.toast.error(str(error))
            return
        self.pid = pid
        self._show_banner(chart.banner)
        notices = [await tab._show(chart) for tab in await self._tab_states()]
        self.loaded, self.shown_path = True, path
        notices = [notice for notice in notices if notice is not None]
        if notices:
            yield notices

    async def _reread(self, *, page: int = 1, with_summary: bool = True) -> Chart:
        """Re-read the chart after a change (audited as a refresh; ``page`` the timeline's) and show its
        banner and, unless the change cannot show there, the summary; the tab that changed shows its part."""
        chart = await self._read(
            open_chart, patient_id=self.pid, page_size=PAGE_SIZE, page=page, refresh=True
        )
        self._show_banner(chart.banner)
        if with_summary:
            for summary in await self._tab_states("summary"):
                await summary._show(chart)
        return chart

    async def _refresh(self) -> None:
        return None

    async def _done(self, message: str, toast_id: str | None = None):
        """Re-read what the change shows and say what happened."""
        # Given an id, the success replaces that form's earlier error toast instead of stacking under it.
        success = rx.toast.success(message, id=toast_id) if toast_id else rx.toast.success(message)
        try:
            await self._refresh()
        except DomainError as error:
            return [success, rx.toast.error(str(error))]
        return success

    def _pick(self, rows: list, row_id, what: str):
        """The row on screen the browser names by id; refused when it is not (or no longer) there."""
        wanted = browser_id(row_id)
        for row in rows:
            if row.id == wanted:
                return row
        raise ValidationError(f"That {what} is no longer on screen. Reload the chart and try again.")

    # ------------------------------------------------------------------ tabs and dialogs

    @rx.event
    @requires("patient.read")
    async def set_tab(self, tab: str):
        if tab not in TABS:
            return None
        self.tab = tab
        if not self.pid:
            return None
        events = [await state._open() for state in await self._tab_states(tab)]
        return [event for event in events if event is not None] or None

    async def _dialog_states(self) -> list[ChartDialogs]:
        return [
            await self.get_state(cls) for cls in ChartState.get_substates() if issubclass(cls, ChartDialogs)
        ]

    @rx.event
    @requires("emr.write")
    async def open_dialog(self, name: str):
        """The dialogs that add something; those acting on a row open from that row."""
        for state in await self._dialog_states():
            if name in state.ADD_DIALOGS:
                state._open_dialog(name)
                return None
        return rx.toast.error("Choose an action from the page.")

    @rx.event
    @requires("patient.read")
    async def on_dialog_change(self, is_open: bool):
        # Radix reports closing by Escape, the overlay or the close button.
        if not is_open:
            for state in await self._dialog_states():
                if state.dialog:
                    state._open_dialog("")
