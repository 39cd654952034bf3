"""The image viewer (/radiology/studies/[study_id]/view): the study's patient and series, which series
is on screen, and the viewport's tool, window preset and cine. The images themselves never pass
through the state: the viewport reads them from the DICOMweb routes with the user's session."""

from __future__ import annotations

import re

import reflex as rx

from hms_app.errors import DomainError, NotFound
from hms_app.services.radiology.dicomweb import OpenedStudy, open_study
from hms_app.state.session import SessionState, requires

READ = "imaging.read"
TOOLS = ("window", "pan", "zoom", "scroll", "length", "angle")
PRESETS = ("soft_tissue", "lung", "bone", "brain")
SEX = {"male": "M", "female": "F", "other": "O", "unknown": "U"}


def route_study_id(path: str) -> int:
    match = re.match(r"^/radiology/studies/(\d{1,12})/view/?$", path or "")
    if match is None or int(match.group(1)) <= 0:
        raise NotFound("This address does not name an imaging study. Open the images from the chart.")
    return int(match.group(1))


def _date(value: str) -> str:
    return f"{value[0:4]}-{value[4:6]}-{value[6:8]}" if re.fullmatch(r"\d{8}", value or "") else value


class RadiologyViewerState(SessionState):
    loaded: bool = False
    problem: str = ""
    study_uid: str = ""
    patient_id: int = 0
    patient_name: str = ""
    mrn: str = ""
    patient_line: str = ""  # "F · born 1968-03-14"
    study_line: str = ""  # "ACC00001234 · 2026-12-06 · CT chest"
    series: list[dict[str, str]] = []
    series_uid: str = ""
    multiframe: bool = False
    tool: str = "window"
    preset: str = ""
    preset_key: int = 0
    reset_key: int = 0
    playing: bool = False

    def _show(self, study: OpenedStudy) -> None:
        self.study_uid, self.patient_id = study.study_uid, study.patient_id
        self.patient_name, self.mrn = study.patient_name, study.mrn
        self.patient_line = f"{SEX.get(study.sex, study.sex)} · born {study.birth_date}"
        self.study_line = " · ".join(
            x for x in (study.accession, _date(study.study_date), study.description) if x
        )
        self.series = [
            {
                "uid": s.series_uid,
                "label": f"{s.modality} {s.number or ''}".strip(),
                "description": s.description or s.modality,
                "count": f"{s.instance_count} image{'s' if s.instance_count != 1 else ''}"
                + (f" · {s.frames} frames" if s.frames > 1 else ""),
                "frames": str(s.frames),
            }
            for s in study.series
        ]
        self._pick(self.series[0]["uid"] if self.series else "")
        self.tool, self.preset, self.preset_key = "window", "", 0
        self.loaded, self.problem = True, ""

    def _pick(self, series_uid: str) -> None:
        chosen = next((s for s in self.series if s["uid"] == series_uid), None)
        self.series_uid = chosen["uid"] if chosen else ""
        self.multiframe = bool(chosen) and int(chosen["frames"]) > 1
        self.playing = False

    @rx.event
    @requires(READ)
    async def load(self):
        self.loaded, self.problem, self.series, self.series_uid = False, "", [], ""
        try:
            study = await self._read(open_study, study_id=route_study_id(self.router.url.path))
        except DomainError as error:
            self.loaded, self.problem = True, str(error)
            return
        self._show(study)

    @rx.event
    @requires(READ)
    async def show_series(self, series_uid: str):
        if isinstance(series_uid, str) and any(s["uid"] == series_uid for s in self.series):
            self._pick(series_uid)

    @rx.event
    @requires(READ)
    async def set_tool(self, tool: str | list[str]):
        if isinstance(tool, str) and tool in TOOLS:
            self.tool = tool

    @rx.event
    @requires(READ)
    async def apply_preset(self, preset: str):
        if preset in PRESETS:
            self.preset, self.preset_key = preset, self.preset_key + 1

    @rx.event
    @requires(READ)
    async def reset_view(self):
        self.preset, self.reset_key = "", self.reset_key + 1

    @rx.event
    @requires(READ)
    async def toggle_cine(self):
        self.playing = not self.playing
