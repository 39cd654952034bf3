"""The chart's Summary tab: the clinical scores, the latest vitals and what is active now."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar

from hms_app.analytics.vitals import spec_for, unit_label
from hms_app.cds import vitals as vital_rules
from hms_app.clock import format_local
from hms_app.errors import DomainError
from hms_app.services import cds
from hms_app.services.emr.chart import Chart
from hms_app.state.chart.page import ChartState, day_text
from hms_app.state.chart.vitals import TREND_KEYS
from hms_app.state.session import error_toast

# Colour of a score's band by how alarming it is (cds.scores CALM, WATCH, ACT, URGENT).
LEVEL_COLORS = {0: "green", 1: "amber", 2: "orange", 3: "red"}
SCORE_UNITS = {"egfr": "mL/min/1.73 m²", "bmi": "kg/m²"}
RECENT_IMMUNIZATIONS = 5


@dataclass
class VitalLine:
    key: str = ""
    label: str = ""
    value: str = ""
    unit: str = ""
    when: str = ""
    flag: str = ""  # "" | low | high: outside the normal band
    patient_reported: bool = False  # entered by the patient at home


@dataclass
class ScoreInputLine:
    label: str = ""
    value: str = ""
    unit: str = ""
    points: str = ""  # "" for scores without points
    when: str = ""  # when measured or recorded, in the hospital's zone; "" for registration data
    source: str = ""


@dataclass
class ScoreCard:
    key: str = ""
    name: str = ""
    value: str = ""
    unit: str = ""
    band: str = ""
    color: str = "gray"
    interpretation: str = ""
    has_points: bool = False
    taken: str = ""  # when every dated input was taken at the same moment: said once, not per row
    inputs: list[ScoreInputLine] = field(default_factory=list)


def _vital_line(key: str, value: float, unit: str, taken) -> VitalLine:
    if key == "consciousness" or (key == "oxygen_flow" and value == 0):
        # Words, not numbers: "C · New confusion", "Room air (0 L/min)".
        flag = "altered" if key == "consciousness" and value != 0 else ""
        shown = vital_rules.display_value(key, value, unit)
        return VitalLine(key, vital_rules.VITALS[key].display, shown, "", format_local(taken), flag)
    spec = spec_for(key)
    flag = ""
    if spec.normal_low is not None and value < spec.normal_low:
        flag = "low"
    elif spec.normal_high is not None and value > spec.normal_high:
        flag = "high"
    return VitalLine(
        key, spec.display, f"{value:.{spec.decimals}f}", unit_label(unit), format_local(taken), flag
    )


def _score_card(shown: cds.ChartScore) -> ScoreCard:
    score = shown.score
    has_points = any(i.points is not None for i in shown.inputs)
    band = score.band if shown.key in ("egfr", "bmi", "qsofa") else f"{score.band} risk"
    moments = {i.taken_at for i in shown.inputs if i.taken_at is not None}
    return ScoreCard(
        shown.key,
        score.name,
        f"{score.value:.1f}" if shown.key == "bmi" else f"{score.value:g}",
        SCORE_UNITS.get(shown.key, ""),
        band,
        LEVEL_COLORS.get(score.level, "gray"),
        score.interpretation,
        has_points,
        format_local(next(iter(moments))) if len(moments) == 1 else "",
        [
            ScoreInputLine(
                i.label,
                i.value,
                i.unit,
                "" if i.points is None else str(i.points),
                format_local(i.taken_at),
                i.source,
            )
            for i in shown.inputs
        ],
    )


class ChartSummaryState(ChartState):
    """What the summary shows; every change to vitals, problems or medicines shows here too."""

    TAB: ClassVar[str] = "summary"

    score_cards: list[ScoreCard] = []
    score_notes: list[str] = []  # why a score that could apply is not shown
    vitals: list[VitalLine] = []
    bmi_value: str = ""
    bmi_category: str = ""
    summary_problems: list[str] = []
    summary_medications: list[str] = []
    summary_immunizations: list[str] = []

    async def _show(self, chart: Chart):
        vitals = [
            replace(_vital_line(key, value, unit, taken), patient_reported=key in chart.patient_reported)
            for key, (value, unit, taken) in chart.latest_vitals.items()
        ]
        order = {key: i for i, key in enumerate(TREND_KEYS)}
        self.vitals = sorted(vitals, key=lambda v: order.get(v.key, 99))
        bmi = chart.latest_vitals.get(vital_rules.BMI.key)
        self.bmi_value = f"{bmi[0]:.1f}" if bmi else ""
        self.bmi_category = vital_rules.bmi_category(bmi[0]) if bmi else ""
        self.summary_problems = [
            f"{c.code} · {c.display}" for c in chart.conditions if c.clinical_status == "active"
        ]
        self.summary_medications = [
            f"{m.medication} {m.dosage or ''}".strip() for m in chart.medications if m.status == "active"
        ]
        self.summary_immunizations = [
            f"{i.vaccine} · {day_text(i.occurrence_date)}" for i in chart.immunizations[:RECENT_IMMUNIZATIONS]
        ]
        return await self._load_scores()

    async def _load_scores(self):
        """The clinical scores whose inputs are on the record, and the NEWS2 alert."""
        try:
            # Not audited apart: the chart's opening or refresh, just audited, covers the same reading.
            found = await self._read(cds.chart_scores, patient_id=self.pid, audit=False)
        except DomainError as error:
            self.score_cards, self.score_notes, self.score_alert = [], [], ""
            return error_toast(error)
        self.score_cards = [_score_card(s) for s in found.scores]
        self.score_notes = list(found.missing)
        self.score_alert = found.alert
        return None
