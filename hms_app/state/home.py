"""The home screen: the signed-in role's figures, and for managers a registrations chart."""

from __future__ import annotations

from dataclasses import dataclass, field

import plotly.graph_objects as go
import reflex as rx

from hms_app.analytics import EMPTY_FIGURE, home
from hms_app.errors import DomainError
from hms_app.services import home as home_service
from hms_app.services import home_work
from hms_app.state.session import SessionState, call_service, requires


@dataclass
class WorkLine:
    time: str = ""
    title: str = ""
    detail: str = ""
    link: str = ""
    tone: str = ""


@dataclass
class WorkPanel:
    key: str = ""
    title: str = ""
    count: int = 0
    empty: str = ""
    link: str = ""
    items: list[WorkLine] = field(default_factory=list)


def _panel(work: home_work.WorkList) -> WorkPanel:
    return WorkPanel(
        work.key,
        work.title,
        work.count,
        work.empty,
        work.link,
        [WorkLine(i.time, i.title, i.detail, i.link, i.tone) for i in work.items],
    )


class HomeState(SessionState):
    figures: list[dict] = []
    months: list[dict] = []
    work: list[WorkPanel] = []  # today's work for the receptionist, the physician, the nurse
    loaded: bool = False

    @rx.var
    def registrations_chart(self) -> go.Figure:
        if not self.loaded:
            return EMPTY_FIGURE
        import pandas as pd

        return home.registrations_figure(pd.DataFrame(self.months, columns=["month", "patients"]))

    @rx.event
    @requires()
    async def load(self):
        actor = self.acting()
        if actor.patient_id is not None:
            return rx.redirect("/portal")
        try:
            self.figures, self.months = await call_service(home_service.load_home, actor=actor)
            self.work = [_panel(w) for w in await call_service(home_work.todays_work, actor=actor)]
        except DomainError as error:
            return rx.toast.error(str(error))
        self.loaded = True
        return None
