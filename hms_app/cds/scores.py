"""Clinical risk scores: NEWS2, qSOFA, CHA2DS2-VASc, eGFR (CKD-EPI 2021) and BMI. Pure functions.

Each score takes explicit keyword arguments whose names carry their units and returns a frozen
``Score``: the value, its band, every input with its unit and the points it earned, and what the
band means in plain words. Inputs outside what a living adult can have raise ``ValueError`` with
a message naming the input and its unit; a score never guesses a missing input.

Sources (each function cites the part it implements):
- Royal College of Physicians. National Early Warning Score (NEWS) 2: Standardising the assessment
  of acute-illness severity in the NHS. Updated report of a working party. London: RCP, 2017.
- Seymour CW, Liu VX, Iwashyna TJ, et al. Assessment of clinical criteria for sepsis: for the Third
  International Consensus Definitions for Sepsis and Septic Shock (Sepsis-3). JAMA 2016;315(8):762-774.
- Lip GYH, Nieuwlaat R, Pisters R, Lane DA, Crijns HJGM. Refining clinical risk stratification for
  predicting stroke and thromboembolism in atrial fibrillation using a novel risk factor-based
  approach: the Euro Heart Survey on Atrial Fibrillation. Chest 2010;137(2):263-272.
- Inker LA, Eneanya ND, Coresh J, et al. New creatinine- and cystatin C-based equations to estimate
  GFR without race. N Engl J Med 2021;385:1737-1749.
- KDIGO 2012 Clinical Practice Guideline for the Evaluation and Management of CKD (GFR categories).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hms_app.cds import vitals as vital_rules

# How alarming a band is, for colour: 0 nothing to act on, 1 watch, 2 act soon, 3 act now.
CALM, WATCH, ACT, URGENT = 0, 1, 2, 3
UMOL_PER_MG_CREATININE = 88.4  # µmol/L in one mg/dL of creatinine (molar mass 113.12 g/mol)


@dataclass(frozen=True)
class ScoreInput:
    key: str  # the argument it came from, e.g. "respiratory_rate_per_min"
    label: str  # what a clinician calls it
    value: str  # as shown, e.g. "22" or "Oxygen"
    unit: str  # "" for yes/no and categories
    points: int | None = None  # what this input added to the score; None where a score has no points


@dataclass(frozen=True)
class Score:
    name: str
    value: int | float
    band: str  # the band's short name: "high", "G3a", "obesity" ...
    level: int  # CALM, WATCH, ACT or URGENT
    inputs: tuple[ScoreInput, ...]
    interpretation: str  # what the band means, in plain words

    @property
    def points(self) -> dict[str, int]:
        """Points per input, for the scores that add points up."""
        return {i.key: i.points for i in self.inputs if i.points is not None}


@dataclass(frozen=True)
class News2(Score):
    spo2_scale: int = 1
    red_parameter: str = ""  # the label of the first parameter that scored 3 on its own, if any

    @property
    def alert(self) -> bool:
        """An aggregate of 5 or more, or 3 in one parameter: the RCP's triggers for an urgent review."""
        return self.value >= 5 or bool(self.red_parameter)


# ------------------------------------------------------------------------------------- validation


def _number(name: str, value, low: float, high: float, unit: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise ValueError(f"{name} must be a number in {unit}.")
    if not low <= value <= high:
        raise ValueError(f"{name} of {value:g} {unit} is outside {low:g} to {high:g} {unit}.")
    return float(value)


def _flag(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be yes or no (True or False).")
    return value


def _sex(value) -> str:
    if value not in ("female", "male"):
        raise ValueError("Sex must be 'female' or 'male' for this score.")
    return value


def _age(value, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("Age must be a whole number of years.")
    if not low <= value <= 130:
        raise ValueError(f"An age of {value} years is outside {low} to 130 years for this score.")
    return value


def _shown(value: float) -> str:
    return f"{value:g}"


# ------------------------------------------------------------------------------------------ NEWS2
# RCP 2017, chart 1 (the NEWS2 scoring system). The chart prints whole numbers (temperature to one
# decimal); a value between two printed ranges (RR 20.5) falls in the higher one, i.e. each test is
# "at most the printed upper edge".


def news2_respiration_points(respiratory_rate_per_min: float) -> int:
    rate = respiratory_rate_per_min
    if rate <= 8:
        return 3
    if rate <= 11:
        return 1
    if rate <= 20:
        return 0
    if rate <= 24:
        return 2
    return 3


def news2_spo2_points(spo2_percent: float, *, scale: int, on_oxygen: bool) -> int:
    """SpO2 scale 1, or scale 2 for hypercapnic respiratory failure (target 88-92 %).

    On scale 2 a saturation of 93 % or more scores 0 on air but 1-3 on oxygen: oxygen is then
    pushing the patient above the prescribed target.
    """
    s = spo2_percent
    if scale == 1:
        if s <= 91:
            return 3
        if s <= 93:
            return 2
        if s <= 95:
            return 1
        return 0
    if s <= 83:
        return 3
    if s <= 85:
        return 2
    if s <= 87:
        return 1
    if s <= 92 or not on_oxygen:
        return 0
    if s <= 94:
        return 1
    if s <= 96:
        return 2
    return 3


def news2_systolic_points(systolic_mmhg: float) -> int:
    if systolic_mmhg <= 90:
        return 3
    if systolic_mmhg <= 100:
        return 2
    if systolic_mmhg <= 110:
        return 1
    if systolic_mmhg <= 219:
        return 0
    return 3


def news2_pulse_points(pulse_per_min: float) -> int:
    if pulse_per_min <= 40:
        return 3
    if pulse_per_min <= 50:
        return 1
    if pulse_per_min <= 90:
        return 0
    if pulse_per_min <= 110:
        return 1
    if pulse_per_min <= 130:
        return 2
    return 3


def news2_temperature_points(temperature_celsius: float) -> int:
    if temperature_celsius <= 35.0:
        return 3
    if temperature_celsius <= 36.0:
        return 1
    if temperature_celsius <= 38.0:
        return 0
    if temperature_celsius <= 39.0:
        return 1
    return 2


NEWS2_RESPONSES = {
    # RCP 2017, chart 3 (clinical risk) and chart 4 (clinical response).
    "low0": "Low clinical risk. Continue routine NEWS2 monitoring, at least every 12 hours.",
    "low": (
        "Low clinical risk. A registered nurse assesses the patient and decides whether to observe "
        "more often (at least every 4-6 hours) or to escalate care."
    ),
    "low-medium": (
        "Low-medium clinical risk: {parameter} scores 3 on its own. Urgent ward-based response: the "
        "registered nurse informs the medical team, who review the patient and decide whether to "
        "escalate care. Observe at least hourly."
    ),
    "medium": (
        "Medium clinical risk: the key threshold for an urgent response. The registered nurse informs "
        "the medical team immediately; a clinician competent in acute illness assesses the patient "
        "urgently. Observe at least hourly."
    ),
    "high": (
        "High clinical risk: emergency response. Immediate assessment by a team with critical-care "
        "competencies, usually with transfer to a higher level of care. Monitor continuously."
    ),
}


def news2(
    *,
    respiratory_rate_per_min: float,
    spo2_percent: float,
    on_supplemental_oxygen: bool,
    systolic_mmhg: float,
    pulse_per_min: float,
    consciousness: str,
    temperature_celsius: float,
    spo2_scale: int = 1,
) -> News2:
    """National Early Warning Score 2 (Royal College of Physicians, 2017) for adults (16 and over).

    ``consciousness`` is an ACVPU letter: A alert, C new confusion, V voice, P pain, U unresponsive;
    anything but A scores 3. Supplemental oxygen scores 2. ``spo2_scale`` 2 is only for patients with
    hypercapnic respiratory failure whose clinician prescribed a target saturation of 88-92 %.
    Aggregate bands: 0-4 low, 3 in any single parameter low-medium, 5-6 medium, 7 or more high.
    """
    rate = _number("Respiratory rate", respiratory_rate_per_min, 0, 100, "/min")
    spo2 = _number("SpO2", spo2_percent, 0, 100, "%")
    oxygen = _flag("Supplemental oxygen", on_supplemental_oxygen)
    systolic = _number("Systolic blood pressure", systolic_mmhg, 0, 400, "mmHg")
    pulse = _number("Pulse", pulse_per_min, 0, 400, "/min")
    temperature = _number("Temperature", temperature_celsius, 20, 46, "°C")
    if consciousness not in vital_rules.ACVPU:
        raise ValueError("Consciousness must be one of A, C, V, P or U (ACVPU).")
    if spo2_scale not in (1, 2) or isinstance(spo2_scale, bool):
        raise ValueError("The SpO2 scale must be 1 or 2.")
    inputs = (
        ScoreInput(
            "respiratory_rate_per_min",
            "Respiration rate",
            _shown(rate),
            "/min",
            news2_respiration_points(rate),
        ),
        ScoreInput(
            "spo2_percent",
            f"SpO2 (scale {spo2_scale})",
            _shown(spo2),
            "%",
            news2_spo2_points(spo2, scale=spo2_scale, on_oxygen=oxygen),
        ),
        ScoreInput(
            "on_supplemental_oxygen", "Air or oxygen", "Oxygen" if oxygen else "Air", "", 2 if oxygen else 0
        ),
        ScoreInput(
            "systolic_mmhg",
            "Systolic blood pressure",
            _shown(systolic),
            "mmHg",
            news2_systolic_points(systolic),
        ),
        ScoreInput("pulse_per_min", "Pulse", _shown(pulse), "/min", news2_pulse_points(pulse)),
        ScoreInput(
            "consciousness",
            "Consciousness",
            f"{consciousness} ({vital_rules.ACVPU_LABELS[consciousness]})",
            "",
            0 if consciousness == "A" else 3,
        ),
        ScoreInput(
            "temperature_celsius",
            "Temperature",
            f"{temperature:.1f}",
            "°C",
            news2_temperature_points(temperature),
        ),
    )
    total = sum(i.points for i in inputs)
    red = next((i.label for i in inputs if i.points == 3), "")
    if total >= 7:
        band, level, text = "high", URGENT, NEWS2_RESPONSES["high"]
    elif total >= 5:
        band, level, text = "medium", ACT, NEWS2_RESPONSES["medium"]
    elif red:
        band, level, text = "low-medium", ACT, NEWS2_RESPONSES["low-medium"].format(parameter=red)
    else:
        band, level = "low", CALM if total == 0 else WATCH
        text = NEWS2_RESPONSES["low0" if total == 0 else "low"]
    return News2("NEWS2", total, band, level, inputs, text, spo2_scale=spo2_scale, red_parameter=red)


# ------------------------------------------------------------------------------------------ qSOFA


def altered_mentation_from_gcs(gcs_total: int) -> bool:
    """Seymour 2016 defines altered mentation as a Glasgow Coma Scale score below 15."""
    if isinstance(gcs_total, bool) or not isinstance(gcs_total, int) or not 3 <= gcs_total <= 15:
        raise ValueError("The Glasgow Coma Scale total must be a whole number from 3 to 15.")
    return gcs_total < 15


def altered_mentation_from_acvpu(consciousness: str) -> bool:
    """Anything but Alert on ACVPU (new confusion, voice, pain, unresponsive) means a GCS below 15."""
    if consciousness not in vital_rules.ACVPU:
        raise ValueError("Consciousness must be one of A, C, V, P or U (ACVPU).")
    return consciousness != "A"


def qsofa(*, respiratory_rate_per_min: float, systolic_mmhg: float, altered_mentation: bool) -> Score:
    """quick SOFA (Seymour CW et al., JAMA 2016;315(8):762-774; Sepsis-3).

    One point each for a respiratory rate of 22/min or more, a systolic pressure of 100 mmHg or
    less, and altered mentation (GCS < 15). Two or more is positive.
    """
    rate = _number("Respiratory rate", respiratory_rate_per_min, 0, 100, "/min")
    systolic = _number("Systolic blood pressure", systolic_mmhg, 0, 400, "mmHg")
    altered = _flag("Altered mentation", altered_mentation)
    inputs = (
        ScoreInput(
            "respiratory_rate_per_min", "Respiratory rate ≥ 22/min", _shown(rate), "/min", int(rate >= 22)
        ),
        ScoreInput(
            "systolic_mmhg",
            "Systolic blood pressure ≤ 100 mmHg",
            _shown(systolic),
            "mmHg",
            int(systolic <= 100),
        ),
        ScoreInput(
            "altered_mentation", "Altered mentation (GCS < 15)", "Yes" if altered else "No", "", int(altered)
        ),
    )
    total = sum(i.points for i in inputs)
    if total >= 2:
        return Score(
            "qSOFA",
            total,
            "positive",
            URGENT,
            inputs,
            "Positive (2 or more of 3). In a patient with suspected infection this predicts a higher risk "
            "of death or of a long intensive-care stay: look for organ dysfunction (full SOFA, lactate), "
            "treat the infection and consider critical-care referral. It does not by itself diagnose sepsis.",
        )
    return Score(
        "qSOFA",
        total,
        "negative",
        CALM if total == 0 else WATCH,
        inputs,
        "Negative (fewer than 2 of 3). This does not rule out sepsis: keep reassessing a patient with "
        "suspected infection.",
    )


# ----------------------------------------------------------------------------------- CHA2DS2-VASc


def cha2ds2_vasc(
    *,
    age_years: int,
    sex: str,
    congestive_heart_failure: bool,
    hypertension: bool,
    diabetes: bool,
    stroke_tia_thromboembolism: bool,
    vascular_disease: bool,
) -> Score:
    """CHA2DS2-VASc stroke risk in atrial fibrillation (Lip GYH et al., Chest 2010;137(2):263-272).

    C congestive heart failure 1, H hypertension 1, A2 age 75 or over 2, D diabetes 1, S2 prior
    stroke, TIA or thromboembolism 2, V vascular disease (prior myocardial infarction, peripheral
    arterial disease, aortic plaque) 1, A age 65-74 1, Sc sex category female 1; 0 to 9.

    Sex convention: ``sex`` is the sex recorded at registration and must be "female" or "male";
    the score is not defined for other values, and callers show no score rather than guess. Female
    sex is a risk modifier, not a risk factor on its own: a woman whose only point is her sex is at
    low risk. The bands therefore use the points other than sex: 0 low, 1 intermediate, 2 or more
    high, which is Lip's 0 / 1 / 2+ for men and 1 / 2 / 3+ for women, as in the ESC 2020 atrial
    fibrillation guideline (Hindricks G et al., Eur Heart J 2021;42:373-498).
    """
    age = _age(age_years)
    female = _sex(sex) == "female"
    chf = _flag("Congestive heart failure", congestive_heart_failure)
    htn = _flag("Hypertension", hypertension)
    dm = _flag("Diabetes", diabetes)
    stroke = _flag("Stroke, TIA or thromboembolism", stroke_tia_thromboembolism)
    vascular = _flag("Vascular disease", vascular_disease)
    yes = {True: "Yes", False: "No"}
    inputs = (
        ScoreInput("congestive_heart_failure", "Congestive heart failure", yes[chf], "", int(chf)),
        ScoreInput("hypertension", "Hypertension", yes[htn], "", int(htn)),
        ScoreInput("age_years", "Age", str(age), "years", 2 if age >= 75 else 1 if age >= 65 else 0),
        ScoreInput("diabetes", "Diabetes mellitus", yes[dm], "", int(dm)),
        ScoreInput(
            "stroke_tia_thromboembolism", "Stroke, TIA or thromboembolism", yes[stroke], "", 2 * stroke
        ),
        ScoreInput(
            "vascular_disease", "Vascular disease (MI, PAD, aortic plaque)", yes[vascular], "", int(vascular)
        ),
        ScoreInput("sex", "Sex category", "Female" if female else "Male", "", int(female)),
    )
    total = sum(i.points for i in inputs)
    risk_points = total - int(female)
    if risk_points >= 2:
        band, level = "high", URGENT
        text = "High stroke risk: oral anticoagulation is recommended unless contraindicated."
    elif risk_points == 1:
        band, level = "intermediate", ACT
        text = "Intermediate stroke risk: oral anticoagulation should be considered, weighing bleeding risk."
    else:
        band, level = "low", CALM
        text = "Low stroke risk: no antithrombotic therapy is needed for stroke prevention."
    return Score("CHA2DS2-VASc", total, band, level, inputs, text)


# ------------------------------------------------------------------------- eGFR, CKD-EPI 2021


def creatinine_umol_l_to_mg_dl(creatinine_umol_l: float) -> float:
    """Serum creatinine from µmol/L to mg/dL (88.4 µmol/L per mg/dL)."""
    value = _number("Creatinine", creatinine_umol_l, 0, 4000, "µmol/L")
    if value <= 0:
        raise ValueError("Creatinine must be more than 0 µmol/L.")
    return value / UMOL_PER_MG_CREATININE


# KDIGO 2012 GFR categories, from the lowest edge up (mL/min/1.73 m²).
GFR_CATEGORIES = (
    (90, "G1", CALM, "Normal or high kidney function (G1)."),
    (60, "G2", CALM, "Mildly decreased kidney function (G2); CKD only with other markers of kidney damage."),
    (45, "G3a", WATCH, "Mildly to moderately decreased kidney function (G3a)."),
    (30, "G3b", ACT, "Moderately to severely decreased kidney function (G3b): review drug doses."),
    (15, "G4", URGENT, "Severely decreased kidney function (G4): review drug doses; nephrology care."),
    (0, "G5", URGENT, "Kidney failure range (G5)."),
)


def gfr_category(egfr: float) -> tuple[str, int, str]:
    """KDIGO G-stage, colour level and meaning of an eGFR in mL/min/1.73 m²."""
    for edge, stage, level, text in GFR_CATEGORIES:
        if egfr >= edge:
            return stage, level, text
    raise ValueError("eGFR cannot be negative.")


def egfr_ckd_epi_2021(*, creatinine_mg_dl: float, age_years: int, sex: str) -> Score:
    """Estimated GFR by the 2021 CKD-EPI creatinine equation, without race (Inker LA et al., NEJM 2021).

    eGFR = 142 × min(Scr/κ, 1)^α × max(Scr/κ, 1)^-1.200 × 0.9938^age × 1.012 [if female], with Scr
    in mg/dL, κ 0.7 (female) or 0.9 (male), α -0.241 (female) or -0.302 (male); adults (18+) only.
    The result is rounded to a whole mL/min/1.73 m², as laboratories and the NKF calculator report
    it, and the KDIGO G-category is taken from that reported number.
    """
    scr = _number("Creatinine", creatinine_mg_dl, 0, 40, "mg/dL")
    if scr <= 0:
        raise ValueError("Creatinine must be more than 0 mg/dL.")
    age = _age(age_years, low=18)
    female = _sex(sex) == "female"
    kappa, alpha = (0.7, -0.241) if female else (0.9, -0.302)
    ratio = scr / kappa
    exact = 142 * min(ratio, 1) ** alpha * max(ratio, 1) ** -1.200 * 0.9938**age * (1.012 if female else 1.0)
    value = math.floor(exact + 0.5)  # half up, as a person rounds; Python's round() would round half to even
    stage, level, text = gfr_category(value)
    inputs = (
        ScoreInput("creatinine_mg_dl", "Serum creatinine", f"{scr:.2f}", "mg/dL"),
        ScoreInput("age_years", "Age", str(age), "years"),
        ScoreInput("sex", "Sex", "Female" if female else "Male", ""),
    )
    return Score("eGFR (CKD-EPI 2021)", value, stage, level, inputs, text)


# ------------------------------------------------------------------------------------------- BMI


BMI_LEVELS = {"underweight": ACT, "healthy weight": CALM, "overweight": WATCH, "obesity": ACT}


def body_mass_index(*, weight_kg: float, height_cm: float) -> Score:
    """Body mass index (kg/m²) and its WHO adult category, from ``cds.vitals.bmi``."""
    weight = _number("Weight", weight_kg, 0.3, 500, "kg")
    height = _number("Height", height_cm, 20, 260, "cm")
    value = vital_rules.bmi(weight, height)
    category = vital_rules.bmi_category(value)
    inputs = (
        ScoreInput("weight_kg", "Weight", f"{weight:.1f}", "kg"),
        ScoreInput("height_cm", "Height", f"{height:.1f}", "cm"),
    )
    text = {
        "underweight": "Underweight (below 18.5 kg/m²).",
        "healthy weight": "Healthy weight (18.5 to 24.9 kg/m²).",
        "overweight": "Overweight (25 to 29.9 kg/m²).",
        "obesity": "Obesity (30 kg/m² or more).",
    }[category]
    return Score("BMI", value, category, BMI_LEVELS[category], inputs, text)
