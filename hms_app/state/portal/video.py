"""/portal/video/[visit_id]: the patient's side of a video visit: camera and microphone check, the
waiting room, then the call once the clinician admits them."""

from __future__ import annotations

import reflex as rx

from hms_app.clock import format_local, utcnow
from hms_app.errors import DomainError
from hms_app.services import video_visits as video
from hms_app.state.boards.common import WATCH_REASON
from hms_app.state.session import SessionState, public, requires
from hms_app.state.video_visits import ice_json, route_visit_id, visit_changes, visit_now

SELF = "portal.self"


class PortalVideoState(SessionState):
    """The patient's video visit: the device check, the waiting room and the call."""

    loaded: bool = False
    problem: str = ""
    visit_id: int = 0
    status: str = ""  # not_started | waiting | admitted | ended
    appointment_status: str = ""
    starts: str = ""
    opens: str = ""
    open_now: bool = False
    ice: str = "[]"

    def _show(self, state: video.VisitState) -> None:
        self.visit_id, self.status, self.appointment_status = (
            state.appointment_id,
            state.status,
            state.appointment_status,
        )
        self.starts = format_local(state.start_at, "%a %d %b at %H:%M")
        self.opens = format_local(state.opens_at, "%H:%M")
        self.open_now = utcnow() >= state.opens_at

    @rx.event
    @requires(SELF)
    async def load(self):
        self.loaded, self.problem = False, ""
        try:
            visit_id = route_visit_id(self.router.url.path, "/portal/video")
            self._show(await self._run(video.visit_state, appointment_id=visit_id))
        except DomainError as error:
            self.problem, self.loaded, self.visit_id = str(error), True, 0
            return None
        self.ice = ice_json(self.acting())
        self.loaded = True
        return PortalVideoState.watch

    @rx.event
    @requires(SELF)
    async def refresh(self):
        try:
            state = await visit_now(self)
        except DomainError as error:
            return rx.toast.error(str(error))
        if state is not None:
            self._show(state)
        return None

    @rx.event(background=True)
    @public(WATCH_REASON)
    async def watch(self):
        async for refresh in visit_changes(self, PortalVideoState.refresh, SELF):
            yield refresh

    @rx.event
    @requires(SELF)
    async def enter(self):
        """Camera and microphone checked: wait to be admitted."""
        if not self.visit_id:
            return rx.toast.error("Open your video visit from My appointments.")
        try:
            self._show(await self._run(video.enter_waiting_room, appointment_id=self.visit_id))
        except DomainError as error:
            return rx.toast.error(str(error))
        return None
