"""Video visits, the clinician's side: the call page (/video/[visit_id]: the video, the patient's
chart summary and the visit note) and the flow board's video waiting room (who waits, admit, join).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import reflex as rx

from hms_app.clock import format_local, utcnow
from hms_app.errors import DomainError, NotFound
from hms_app.services import video_visits as video
from hms_app.services.emr import open_chart
from hms_app.services.emr.notes import save_note, sign_note
from hms_app.state.boards.common import WATCH_REASON
from hms_app.state.forms import form_fields
from hms_app.state.live import live_changes
from hms_app.state.session import SessionState, browser_id, public, requires

CONDUCT = "telehealth.conduct"
SOAP = ("subjective", "objective", "assessment", "plan")
NOTE_LIMIT = 20000


def route_visit_id(path: str, prefix: str = "/video") -> int:
    match = re.match(rf"^{prefix}/(\d{{1,12}})/?$", path or "")
    if match is None or int(match.group(1)) <= 0:
        raise NotFound(video.MISSING)
    return int(match.group(1))


def ice_json(actor) -> str:
    return json.dumps(video.ice_servers_for(None, actor=actor, now=utcnow()))


async def visit_now(state: SessionState) -> video.VisitState | None:
    """Where the screen's visit stands now (either side's screen), or None before one is open.
    Raises the service's ``DomainError`` (the caller shows it)."""
    if not state.visit_id:
        return None
    return await state._run(video.visit_state, appointment_id=state.visit_id)


async def visit_changes(state: SessionState, refresh, permission: str):
    """A visit screen's live loop (its background ``watch``): ``refresh`` after each change to
    this visit, for as long as the tab is open and the user still holds ``permission``."""
    async with state:
        key = state.visit_id
    async for _ in live_changes(state, video.visits_topic(), (key,), permission=permission):
        yield refresh


class VideoCallState(SessionState):
    """The clinician's call page: the video beside the chart summary and the visit note."""

    loaded: bool = False
    problem: str = ""
    visit_id: int = 0
    reference: str = ""
    patient: str = ""
    patient_id: int = 0
    when: str = ""
    status: str = ""  # not_started | waiting | admitted | ended
    mrn: str = ""
    age_sex: str = ""
    allergies: list[str] = []
    problems: list[str] = []
    alerts: list[str] = []
    medications: list[str] = []
    encounter_id: int = 0
    note_id: int = 0
    note_status: str = ""
    note_saved: str = ""
    subjective: str = ""
    objective: str = ""
    assessment: str = ""
    plan: str = ""
    ice: str = "[]"
    _ending: bool = False

    def _show(self, screen: video.CallScreen) -> None:
        self.visit_id, self.reference, self.patient = screen.appointment_id, screen.reference, screen.patient
        self.patient_id, self.when, self.status = screen.patient_id, screen.when, screen.status
        self.encounter_id, self.note_id = screen.encounter_id or 0, screen.note_id or 0
        self.note_status = screen.note_status
        self.subjective, self.objective = screen.subjective, screen.objective
        self.assessment, self.plan = screen.assessment, screen.plan

    @rx.event
    @requires(CONDUCT)
    async def load(self):
        self.loaded, self.problem, self.note_saved = False, "", ""
        try:
            visit_id = route_visit_id(self.router.url.path)
            self._show(await self._run(video.call_screen, appointment_id=visit_id))
            chart = await self._read(open_chart, patient_id=self.patient_id, page_size=1)
        except DomainError as error:
            self.problem, self.loaded, self.visit_id = str(error), True, 0
            return None
        banner = chart.banner
        self.mrn, self.age_sex = banner.mrn, f"{banner.age} · {banner.sex}"
        self.allergies, self.problems, self.alerts = (
            list(banner.allergies),
            list(banner.problems),
            list(banner.alerts),
        )
        self.medications = [
            f"{m.medication} {m.dosage or ''}".strip() for m in chart.medications if m.status == "active"
        ][:12]
        self.ice = ice_json(self.acting())
        self.loaded = True
        return VideoCallState.watch

    @rx.event
    @requires(CONDUCT)
    async def refresh(self):
        try:
            screen = await visit_now(self)
        except DomainError as error:
            return rx.toast.error(str(error))
        if screen is not None:
            self.status = screen.status
        return None

    @rx.event(background=True)
    @public(WATCH_REASON)
    async def watch(self):
        async for refresh in visit_changes(self, VideoCallState.refresh, CONDUCT):
            yield refresh

    @rx.event
    @requires(CONDUCT)
    async def admit(self):
        try:
            state = await self._run(video.admit_patient, appointment_id=self.visit_id)
        except DomainError as error:
            return rx.toast.error(str(error))
        self.status = state.status
        self._show(await self._run(video.call_screen, appointment_id=self.visit_id))
        return rx.toast.success(f"{self.patient} admitted: the call is starting.")

    async def _save(self, form) -> str | None:
        texts = form_fields(form, SOAP, limit=NOTE_LIMIT)
        if not self.encounter_id:
            return "Admit the patient first: the note belongs to the visit's encounter."
        if not any(t.strip() for t in texts.values()):
            return None
        note = await self._run(
            save_note, encounter_id=self.encounter_id, note_id=self.note_id or None, **texts
        )
        self.note_id, self.note_status = note.id, note.status
        self.subjective, self.objective, self.assessment, self.plan = (texts[k] for k in SOAP)
        self.note_saved = f"Draft saved {format_local(utcnow(), '%H:%M')}"
        return None

    @rx.event
    @requires(CONDUCT)
    async def arm_end(self):
        """The End visit confirmation: the note form's submission that follows ends the visit."""
        self._ending = True

    @rx.event
    @requires(CONDUCT)
    async def submit_note(self, form: dict):
        """Save the note's draft; after ``arm_end``, then end the visit."""
        ending, self._ending = self._ending, False
        try:
            problem = await self._save(form) if self.note_status != "signed" else None
        except DomainError as error:
            return rx.toast.error(str(error))
        if problem:
            return rx.toast.error(problem)
        if not ending:
            return None
        try:
            state = await self._run(video.end_visit, appointment_id=self.visit_id)
        except DomainError as error:
            return rx.toast.error(str(error))
        self.status = state.status
        return rx.toast.success("Visit ended: the appointment is completed and its charge posted.")

    @rx.event
    @requires(CONDUCT)
    async def sign(self):
        if not self.note_id:
            return rx.toast.error("Save the note first.")
        try:
            note = await self._run(sign_note, note_id=self.note_id)
        except DomainError as error:
            return rx.toast.error(str(error))
        self.note_status = note.status
        return rx.toast.success("Note signed.")


@dataclass(frozen=True)
class QueueLine:
    appointment_id: int = 0
    reference: str = ""
    patient: str = ""
    time: str = ""
    status: str = ""
    since: str = ""
    mine: bool = False


class VideoQueueState(SessionState):
    """The flow board's video waiting room: patients waiting to be admitted and calls in progress."""

    entries: list[QueueLine] = []
    can_conduct: bool = False
    _opened: bool = False

    async def _reload(self):
        try:
            entries = await self._read(video.video_queue)
        except DomainError as error:
            return rx.toast.error(str(error))
        now = utcnow()
        self.entries = [
            QueueLine(
                e.appointment_id,
                e.reference,
                e.patient,
                e.time,
                e.status,
                (
                    f"waiting {max(0, int((now - e.since).total_seconds() // 60))} min"
                    if e.status == "waiting" and e.since
                    else f"in call since {format_local(e.since, '%H:%M')}"
                    if e.since
                    else ""
                ),
                e.mine,
            )
            for e in entries
        ]
        self.can_conduct = self.acting().can(CONDUCT)
        self._opened = True
        return None

    @rx.event
    @requires("appointment.read")
    async def load(self):
        return await self._reload()

    @rx.event
    @requires("appointment.read")
    async def refresh(self):
        return await self._reload() if self._opened else None

    @rx.event(background=True)
    @public(WATCH_REASON)
    async def watch(self):
        async for _ in live_changes(self, video.visits_topic(), permission="appointment.read"):
            yield VideoQueueState.refresh

    @rx.event
    @requires(CONDUCT)
    async def admit(self, appointment_id: str):
        try:
            wanted = browser_id(appointment_id, "appointment")
            line = next((e for e in self.entries if e.appointment_id == wanted), None)
            if line is None:
                return rx.toast.error("Choose a patient in the video waiting room.")
            await self._run(video.admit_patient, appointment_id=wanted)
        except DomainError as error:
            return rx.toast.error(str(error))
        await self._reload()
        return [rx.toast.success(f"{line.patient} admitted."), rx.redirect(f"/video/{wanted}")]
