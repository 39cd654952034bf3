"""Clinical scores for the patient chart: read only what each score needs, then call ``cds.scores``.

A score is shown only when every one of its inputs is on the record; otherwise the chart says what
is missing. Each input shown carries when it was taken (observations) or recorded (problems).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlmodel import Session

from hms_app.cds import scores
from hms_app.cds import vitals as vital_rules
from hms_app.clock import utcnow
from hms_app.models.emr import Condition, Encounter, Observation
from hms_app.models.patients import Patient
from hms_app.services.audit import record_audit
from hms_app.services.patients import age_years
from hms_app.services.permissions import Actor, authorize
from hms_app.services.rows import get_row

CREATININE_LOINC = "2160-0"  # Creatinine [Mass/volume] in Serum or Plasma
# A NEWS2 or qSOFA is one set of observations: every parameter must have been taken within this
# time of the newest of them, or the values describe different moments and no score is shown.
SET_WINDOW = timedelta(hours=1)
# The banner's alert is about the patient now: a NEWS2 set taken within this time, or during an
# encounter still in progress (the patient is here, and maybe overdue for observations). An older
# set from a finished visit still shows, dated, in the scores panel, but calls for no urgent review.
ALERT_WINDOW = timedelta(hours=24)
# Each NEWS2 argument and the vital sign (cds.vitals.VITALS key) it is read from.
NEWS2_SOURCES = {
    "respiratory_rate_per_min": "respiratory_rate",
    "spo2_percent": "spo2",
    "on_supplemental_oxygen": "oxygen_flow",
    "systolic_mmhg": "systolic_bp",
    "pulse_per_min": "heart_rate",
    "consciousness": "consciousness",
    "temperature_celsius": "temperature",
}
NEWS2_KEYS = tuple(NEWS2_SOURCES.values())
QSOFA_KEYS = ("respiratory_rate", "systolic_bp", "consciousness")
# SpO2 scale 2 is for confirmed hypercapnic respiratory failure (RCP 2017): ICD-10-CM J96.x2.
HYPERCAPNIC_FAILURE = ("J96.02", "J96.12", "J96.22", "J96.92")
ATRIAL_FIBRILLATION = ("I48",)
# CHA2DS2-VASc criteria by ICD-10-CM prefix. The first three count while the problem is active; a
# past stroke or infarction counts whatever its status now (it happened).
CHA2DS2_CRITERIA = {
    "congestive_heart_failure": (("I50",), True),
    "hypertension": (("I10", "I11", "I12", "I13", "I15", "I16"), True),
    "diabetes": (("E10", "E11", "E13"), True),
    "stroke_tia_thromboembolism": (("I63", "G45", "I74", "Z86.73"), False),
    "vascular_disease": (("I21", "I22", "I23", "I24", "I25", "I70", "I73.9"), False),
}
CREATININE_UNITS = {"mg/dL": 1.0, "mg/dl": 1.0, "umol/L": None, "µmol/L": None, "umol/l": None}


@dataclass(frozen=True)
class ShownInput:
    label: str
    value: str
    unit: str
    points: int | None
    taken_at: datetime | None  # when measured or recorded; None for what comes from registration
    source: str  # the code it was read from: "LOINC 9279-1", "ICD-10-CM I50.9", "registration"


@dataclass(frozen=True)
class ChartScore:
    key: str  # news2 | qsofa | cha2ds2_vasc | egfr | bmi
    score: scores.Score
    inputs: tuple[ShownInput, ...]


@dataclass(frozen=True)
class ChartScores:
    scores: tuple[ChartScore, ...]  # only the scores whose inputs are all on the record
    missing: tuple[str, ...]  # why a score that could apply is not shown, in plain words
    alert: str = ""  # NEWS2 5 or more, or 3 in one parameter, of a current set (see ALERT_WINDOW)

    def get(self, key: str) -> ChartScore | None:
        return next((s for s in self.scores if s.key == key), None)


def news2_alert(shown: ChartScore | None, now: datetime, *, encounter_open: bool = False) -> str:
    """The banner's warning for a current NEWS2 at a trigger (RCP 2017: 5 or more, or 3 in one parameter)."""
    if shown is None or not shown.score.alert:
        return ""
    if not encounter_open and now - max(i.taken_at for i in shown.inputs if i.taken_at) > ALERT_WINDOW:
        return ""
    news = shown.score
    reason = f"{news.red_parameter} scores 3" if news.value < 5 else news.band + " clinical risk"
    return f"NEWS2 {news.value} ({reason}): urgent clinical review"


@dataclass(frozen=True)
class _Obs:
    value: float
    unit: str
    taken_at: datetime
    code: str
    encounter_id: int | None = None


# Built once (run once per vital sign of every chart opening; building it cost more than running it).
_LATEST = (
    select(Observation.value, Observation.unit, Observation.effective_at, Observation.encounter_id)
    .where(
        Observation.patient_id == bindparam("patient_id"),
        Observation.code == bindparam("code"),
        Observation.status != "entered-in-error",
    )
    .order_by(Observation.effective_at.desc(), Observation.id.desc())
    .limit(1)
)


def _latest(session: Session, patient_id: int, code: str) -> _Obs | None:
    """The newest observation of one LOINC code; of two taken at the same moment, the later recorded."""
    row = session.execute(_LATEST, {"patient_id": patient_id, "code": code}).first()
    return _Obs(row.value, row.unit, row.effective_at, code, row.encounter_id) if row else None


def _one_set(latest: dict[str, _Obs | None], keys: tuple[str, ...], name: str) -> tuple[dict, str]:
    """The named vitals if all are present and were taken together; else why not."""
    absent = [vital_rules.VITALS[k].display.lower() for k in keys if latest.get(k) is None]
    if absent:
        return {}, f"{name} needs {', '.join(absent)} recorded."
    chosen = {k: latest[k] for k in keys}
    newest = max(o.taken_at for o in chosen.values())
    stale = [
        vital_rules.VITALS[k].display.lower() for k, o in chosen.items() if newest - o.taken_at > SET_WINDOW
    ]
    if stale:
        return {}, (
            f"{name} needs one set of observations: the latest {', '.join(stale)} "
            f"was taken more than an hour before the rest."
        )
    return chosen, ""


def _vital_input(item: scores.ScoreInput, obs: _Obs, unit: str | None = None) -> ShownInput:
    return ShownInput(
        item.label,
        item.value,
        item.unit if unit is None else unit,
        item.points,
        obs.taken_at,
        f"LOINC {obs.code}",
    )


def _news2(latest, spo2_scale: int, scale_source: str) -> tuple[ChartScore | None, str]:
    chosen, why = _one_set(latest, NEWS2_KEYS, "NEWS2")
    if not chosen:
        return None, why
    result = scores.news2(
        respiratory_rate_per_min=chosen["respiratory_rate"].value,
        spo2_percent=chosen["spo2"].value,
        on_supplemental_oxygen=chosen["oxygen_flow"].value > 0,
        systolic_mmhg=chosen["systolic_bp"].value,
        pulse_per_min=chosen["heart_rate"].value,
        consciousness=vital_rules.acvpu_letter(chosen["consciousness"].value),
        temperature_celsius=chosen["temperature"].value,
        spo2_scale=spo2_scale,
    )
    shown = []
    for item in result.inputs:
        obs = chosen[NEWS2_SOURCES[item.key]]
        if item.key == "on_supplemental_oxygen":
            value = f"Oxygen {obs.value:g} L/min" if obs.value > 0 else "Air"
            shown.append(ShownInput(item.label, value, "", item.points, obs.taken_at, f"LOINC {obs.code}"))
        elif item.key == "spo2_percent" and spo2_scale == 2:
            shown.append(
                ShownInput(
                    f"{item.label}, target 88-92 %",
                    item.value,
                    item.unit,
                    item.points,
                    obs.taken_at,
                    f"LOINC {obs.code}; {scale_source}",
                )
            )
        else:
            shown.append(_vital_input(item, obs))
    return ChartScore("news2", result, tuple(shown)), ""


def _qsofa(latest) -> tuple[ChartScore | None, str]:
    chosen, why = _one_set(latest, QSOFA_KEYS, "qSOFA")
    if not chosen:
        return None, why
    letter = vital_rules.acvpu_letter(chosen["consciousness"].value)
    result = scores.qsofa(
        respiratory_rate_per_min=chosen["respiratory_rate"].value,
        systolic_mmhg=chosen["systolic_bp"].value,
        altered_mentation=scores.altered_mentation_from_acvpu(letter),
    )
    rr, sbp, mentation = result.inputs
    consciousness = chosen["consciousness"]
    shown = (
        _vital_input(rr, chosen["respiratory_rate"]),
        _vital_input(sbp, chosen["systolic_bp"]),
        ShownInput(
            mentation.label,
            f"{mentation.value} (ACVPU {letter})",
            "",
            mentation.points,
            consciousness.taken_at,
            f"LOINC {consciousness.code}",
        ),
    )
    return ChartScore("qsofa", result, shown), ""


def _matches(code: str, prefixes: tuple[str, ...]) -> bool:
    return any(code.startswith(p) for p in prefixes)


def _cha2ds2_vasc(patient: Patient, conditions: list, today) -> tuple[ChartScore | None, str]:
    if not any(_matches(c.code, ATRIAL_FIBRILLATION) and c.clinical_status == "active" for c in conditions):
        return None, ""  # only for atrial fibrillation: nothing to say otherwise
    if patient.sex not in ("female", "male"):
        return None, "CHA2DS2-VASc needs the patient's sex recorded as female or male."
    found = {}
    for criterion, (prefixes, active_only) in CHA2DS2_CRITERIA.items():
        found[criterion] = next(
            (
                c
                for c in conditions
                if _matches(c.code, prefixes) and (c.clinical_status == "active" or not active_only)
            ),
            None,
        )
    age = age_years(patient.birth_date, today)
    result = scores.cha2ds2_vasc(
        age_years=age, sex=patient.sex, **{criterion: c is not None for criterion, c in found.items()}
    )
    shown = []
    for item in result.inputs:
        condition = found.get(item.key)
        if condition is not None:
            shown.append(
                ShownInput(
                    item.label,
                    f"{item.value}: {condition.code} {condition.display}",
                    "",
                    item.points,
                    condition.recorded_at,
                    f"ICD-10-CM {condition.code}",
                )
            )
        elif item.key in found:
            shown.append(
                ShownInput(item.label, "Not on the problem list", "", item.points, None, "problem list")
            )
        else:  # age and sex
            shown.append(ShownInput(item.label, item.value, item.unit, item.points, None, "registration"))
    return ChartScore("cha2ds2_vasc", result, tuple(shown)), ""


def _egfr(session: Session, patient: Patient) -> tuple[ChartScore | None, str]:
    creatinine = _latest(session, patient.id, CREATININE_LOINC)
    if creatinine is None:
        return None, ""
    if patient.sex not in ("female", "male"):
        return None, "eGFR needs the patient's sex recorded as female or male."
    age = age_years(patient.birth_date, creatinine.taken_at.date())  # age when the blood was taken
    if age < 18:
        return None, "eGFR by CKD-EPI is for adults; this creatinine was taken before the 18th birthday."
    if creatinine.unit not in CREATININE_UNITS:
        return None, f"eGFR: the latest creatinine is in {creatinine.unit}, not mg/dL or µmol/L."
    if CREATININE_UNITS[creatinine.unit] is None:
        mg_dl = scores.creatinine_umol_l_to_mg_dl(creatinine.value)
        measured = f"{creatinine.value:g} µmol/L = {mg_dl:.2f}"
    else:
        mg_dl = creatinine.value
        measured = f"{mg_dl:.2f}"
    result = scores.egfr_ckd_epi_2021(creatinine_mg_dl=mg_dl, age_years=age, sex=patient.sex)
    scr, age_item, sex_item = result.inputs
    shown = (
        ShownInput(scr.label, measured, "mg/dL", None, creatinine.taken_at, f"LOINC {creatinine.code}"),
        ShownInput("Age when taken", age_item.value, age_item.unit, None, None, "registration"),
        ShownInput(sex_item.label, sex_item.value, "", None, None, "registration"),
    )
    return ChartScore("egfr", result, shown), ""


def _bmi(latest, age: int) -> tuple[ChartScore | None, str]:
    weight, height = latest.get("weight"), latest.get("height")
    if weight is None or height is None or age < 18:  # WHO's adult categories; children need centiles
        return None, ""
    result = scores.body_mass_index(weight_kg=weight.value, height_cm=height.value)
    w, h = result.inputs
    return ChartScore("bmi", result, (_vital_input(w, weight), _vital_input(h, height))), ""


def chart_scores(session: Session, *, actor: Actor, patient_id: int, audit: bool = True) -> ChartScores:
    """The clinical scores whose inputs are on the patient's record, with the inputs used."""
    authorize(actor, "patient.read", patient_id=patient_id)
    patient = get_row(session, Patient, patient_id, "That patient does not exist.")
    now = utcnow()
    today = now.date()
    age = age_years(patient.birth_date, today)
    keys = dict.fromkeys((*NEWS2_KEYS, "weight", "height"))
    latest = {key: _latest(session, patient_id, vital_rules.VITALS[key].loinc) for key in keys}
    conditions = list(
        session.execute(
            select(Condition.code, Condition.display, Condition.clinical_status, Condition.recorded_at)
            .where(Condition.patient_id == patient_id)
            .order_by(Condition.recorded_at.desc(), Condition.id.desc())
            .limit(500)
        ).all()
    )
    hypercapnic = next(
        (c for c in conditions if c.clinical_status == "active" and _matches(c.code, HYPERCAPNIC_FAILURE)),
        None,
    )
    spo2_scale = 2 if hypercapnic else 1
    scale_source = f"scale 2 for ICD-10-CM {hypercapnic.code}" if hypercapnic else ""

    found, missing = [], []
    if age >= 16:  # NEWS2 is not for children under 16 (RCP 2017)
        for score, why in (_news2(latest, spo2_scale, scale_source), _qsofa(latest)):
            if score:
                found.append(score)
            elif why and any(latest[k] is not None for k in NEWS2_KEYS):
                missing.append(
                    why
                )  # said only once some vitals exist: a clinic patient needs no NEWS2 nagging
    for score, why in (_cha2ds2_vasc(patient, conditions, today), _egfr(session, patient), _bmi(latest, age)):
        if score:
            found.append(score)
        elif why:
            missing.append(why)
    if audit:
        record_audit(
            session,
            actor,
            "patient.read",
            patient_id=patient_id,
            target_type="observation",
            detail="clinical scores",
        )
        session.commit()
    result = ChartScores(tuple(found), tuple(missing))
    news = result.get("news2")
    encounter_ids = {latest[k].encounter_id for k in NEWS2_KEYS if news and latest[k].encounter_id}
    encounter_open = bool(encounter_ids) and (
        session.execute(
            select(Encounter.id)
            .where(Encounter.id.in_(encounter_ids), Encounter.status == "in-progress")
            .limit(1)
        ).first()
        is not None
    )
    return ChartScores(result.scores, result.missing, news2_alert(news, now, encounter_open=encounter_open))
