"""The laboratory catalogue a new hospital starts with: common LOINC-coded tests and panels, their
UCUM units, specimen and container, reference ranges by sex and age band, critical limits and
price codes (with the billing services they name).

Ranges are conventional adult (and, where they differ most, paediatric) intervals in US units, as
printed by common reference laboratories; a hospital adjusts them to its own analysers on the
catalogue screens. Ages are in days: a band runs from its first day (inclusive) up to its last
(exclusive). Critical limits follow widely published call lists (potassium 2.8/6.2 mmol/L, sodium
120/160 mmol/L, glucose 40/500 mg/dL, haemoglobin 7 g/dL, platelets 20 x10^3/uL, INR 5 ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Ages in days.
D30, Y1, Y12, Y18, Y75 = 30, 365, 4383, 6575, 27394

# key -> (specimen type, container): tests sharing one are drawn into one tube.
SPECIMENS = {
    "sst": ("Venous blood, serum", "Serum separator (gold)"),
    "lith": ("Venous blood, plasma", "Lithium heparin (green)"),
    "edta": ("Venous blood", "EDTA (lavender)"),
    "edta_ice": ("Venous blood, on ice", "EDTA (lavender) on ice"),
    "citrate": ("Venous blood, plasma", "Sodium citrate (light blue)"),
    "fluoride": ("Venous blood, plasma", "Fluoride oxalate (grey)"),
    "abg": ("Arterial blood", "Heparinised blood gas syringe"),
    "urine": ("Urine, midstream", "Sterile urine container"),
    "blood_culture": ("Venous blood", "Blood culture bottle set"),
    "swab": ("Wound swab", "Swab in transport medium"),
    "throat": ("Throat swab", "Swab in transport medium"),
    "sputum": ("Sputum", "Sterile sputum container"),
    "stool": ("Stool", "Stool container"),
    "np_swab": ("Nasopharyngeal swab", "Viral transport medium"),
}

# code, name, category (for the department's reports), price in cents. Codes billing's own seed
# already has (LAB-CBC, LAB-BMP, LAB-LIPID, LAB-HBA1C, LAB-TSH, LAB-UA, LAB-CRP, LAB-TROP) are
# listed with the same values so that either seed can run first.
PRICES = [
    ("LAB-CBC", "Complete blood count", 2800),
    ("LAB-CBCD", "Complete blood count with differential", 3400),
    ("LAB-BMP", "Basic metabolic panel", 3600),
    ("LAB-CMP", "Comprehensive metabolic panel", 4800),
    ("LAB-LFT", "Hepatic function panel", 3900),
    ("LAB-RFP", "Renal function panel", 3800),
    ("LAB-LYTES", "Electrolyte panel", 2400),
    ("LAB-LIPID", "Lipid panel", 4200),
    ("LAB-HBA1C", "Haemoglobin A1c", 3900),
    ("LAB-TSH", "Thyroid stimulating hormone", 4500),
    ("LAB-THY", "Thyroid panel (TSH and free T4)", 6200),
    ("LAB-UA", "Urinalysis", 1800),
    ("LAB-CRP", "C-reactive protein", 2600),
    ("LAB-TROP", "Troponin I", 5200),
    ("LAB-IRON", "Iron studies panel", 5400),
    ("LAB-ABG", "Arterial blood gas", 4800),
    ("LAB-CHEM", "Chemistry test, single analyte", 1400),
    ("LAB-HEME", "Haematology test, single", 1500),
    ("LAB-HORM", "Hormone or marker immunoassay", 3800),
    ("LAB-VIT", "Vitamin or iron test", 3400),
    ("LAB-COAG", "Coagulation test", 1900),
    ("LAB-DRUG", "Therapeutic drug level", 4200),
    ("LAB-URINE", "Urine chemistry test", 1600),
    ("LAB-CULT", "Culture and sensitivity", 6500),
    ("LAB-MICRO", "Microscopy (stain or smear)", 2200),
    ("LAB-SERO", "Serology or blood group", 3200),
    ("LAB-PCR", "Molecular (PCR) test", 9500),
    ("LAB-RAPID", "Rapid antigen or occult blood test", 1800),
]


@dataclass(frozen=True)
class R:
    """One reference range: (sex, from day, up to day) and its limits as text."""

    sex: str = "any"
    age_min: int = 0
    age_max: int | None = None
    low: str | None = None
    high: str | None = None
    critical_low: str | None = None
    critical_high: str | None = None
    delta: str | None = None
    normal: str | None = None


@dataclass(frozen=True)
class T:
    code: str
    name: str
    short: str
    specimen: str
    unit: str | None = None
    decimals: int = 1
    price: str | None = None
    kind: str = "numeric"  # numeric | coded | text
    choices: str | None = None
    ranges: tuple[R, ...] = ()
    window: int = 24  # duplicate window, hours
    portal_delay: int = 0
    members: tuple[str, ...] = field(default=())  # a panel's tests by code

    @property
    def is_panel(self) -> bool:
        return bool(self.members)


def adult(low=None, high=None, cl=None, ch=None, delta=None) -> tuple[R, ...]:
    return (R(low=low, high=high, critical_low=cl, critical_high=ch, delta=delta),)


def by_sex(male: tuple, female: tuple, cl=None, ch=None, delta=None, age_min: int = 0) -> tuple[R, ...]:
    return (
        R("male", age_min, None, male[0], male[1], cl, ch, delta),
        R("female", age_min, None, female[0], female[1], cl, ch, delta),
    )


NEG = "Negative"
PRESENCE = "Negative|Trace|1+|2+|3+|4+"
REACTIVE = "Non-reactive|Reactive|Indeterminate"

# One test per entry, kept compact so that the catalogue reads as a table.
# fmt: off
TESTS: list[T] = [
    # --- haematology (EDTA) ------------------------------------------------------------------------
    T("6690-2", "Leukocytes [#/volume] in Blood by Automated count", "WBC", "edta", "10*3/uL", 1, "LAB-HEME",
      ranges=(
          R("any", 0, D30, "9.0", "30.0", "2.0", "40.0"),
          R("any", D30, Y1, "6.0", "17.5", "2.0", "35.0"),
          R("any", Y1, Y12, "5.0", "14.5", "1.5", "30.0"),
          R("any", Y12, Y18, "4.5", "13.0", "1.5", "30.0"),
          R("any", Y18, None, "4.0", "11.0", "1.5", "30.0", "10.0"),
      )),
    T("789-8", "Erythrocytes [#/volume] in Blood by Automated count", "RBC", "edta", "10*6/uL", 2, "LAB-HEME",
      ranges=(
          R("any", 0, Y18, "3.90", "5.50"),
          R("male", Y18, None, "4.50", "5.90"),
          R("female", Y18, None, "4.00", "5.20"),
      )),
    T("718-7", "Hemoglobin [Mass/volume] in Blood", "Hb", "edta", "g/dL", 1, "LAB-HEME",
      ranges=(
          R("any", 0, D30, "14.0", "22.0", "9.5", "25.0", "2.0"),
          R("any", D30, Y1, "9.5", "14.0", "7.0", "20.0", "2.0"),
          R("any", Y1, Y12, "11.0", "14.5", "7.0", "20.0", "2.0"),
          R("male", Y12, Y18, "12.5", "16.1", "7.0", "20.0", "2.0"),
          R("female", Y12, Y18, "12.0", "15.0", "7.0", "20.0", "2.0"),
          R("male", Y18, None, "13.5", "17.5", "7.0", "20.0", "2.0"),
          R("female", Y18, None, "12.0", "15.5", "7.0", "20.0", "2.0"),
      )),
    T("4544-3", "Hematocrit [Volume Fraction] of Blood by Automated count", "Hct", "edta", "%", 1, "LAB-HEME",
      ranges=(
          R("any", 0, Y18, "33.0", "45.0", "20.0", "60.0"),
          R("male", Y18, None, "41.0", "53.0", "20.0", "60.0"),
          R("female", Y18, None, "36.0", "46.0", "20.0", "60.0"),
      )),
    T("787-2", "MCV [Entitic volume] by Automated count", "MCV", "edta", "fL", 0, "LAB-HEME", ranges=(R("any", 0, None, "80", "100"),)),
    T("785-6", "MCH [Entitic mass] by Automated count", "MCH", "edta", "pg", 1, "LAB-HEME", ranges=(R("any", 0, None, "27.0", "33.0"),)),
    T("786-4", "MCHC [Entitic Mass/volume] in Red Blood Cells by Automated count", "MCHC", "edta", "g/dL", 1, "LAB-HEME", ranges=(R("any", 0, None, "32.0", "36.0"),)),
    T("788-0", "Erythrocyte distribution width [Ratio] by Automated count", "RDW", "edta", "%", 1, "LAB-HEME", ranges=(R("any", 0, None, "11.5", "14.5"),)),
    T("777-3", "Platelets [#/volume] in Blood by Automated count", "Plt", "edta", "10*3/uL", 0, "LAB-HEME", ranges=(R("any", 0, None, "150", "400", "20", "1000", "150"),)),
    T("32623-1", "Platelet [Entitic mean volume] in Blood by Automated count", "MPV", "edta", "fL", 1, "LAB-HEME", ranges=(R("any", 0, None, "7.5", "11.5"),)),
    T("751-8", "Neutrophils [#/volume] in Blood by Automated count", "Neut", "edta", "10*3/uL", 2, "LAB-HEME", ranges=(R("any", 0, None, "1.80", "7.70", "0.50"),)),
    T("731-0", "Lymphocytes [#/volume] in Blood by Automated count", "Lymph", "edta", "10*3/uL", 2, "LAB-HEME", ranges=(R("any", 0, None, "1.00", "4.80"),)),
    T("742-7", "Monocytes [#/volume] in Blood by Automated count", "Mono", "edta", "10*3/uL", 2, "LAB-HEME", ranges=(R("any", 0, None, "0.20", "0.90"),)),
    T("711-2", "Eosinophils [#/volume] in Blood by Automated count", "Eos", "edta", "10*3/uL", 2, "LAB-HEME", ranges=(R("any", 0, None, "0.00", "0.50"),)),
    T("704-7", "Basophils [#/volume] in Blood by Automated count", "Baso", "edta", "10*3/uL", 2, "LAB-HEME", ranges=(R("any", 0, None, "0.00", "0.20"),)),
    T("4537-7", "Erythrocyte sedimentation rate by Westergren method", "ESR", "edta", "mm/h", 0, "LAB-HEME",
      ranges=(
          R("male", 0, None, "0", "15"),
          R("female", 0, None, "0", "20"),
      )),
    T("17849-1", "Reticulocytes/100 erythrocytes in Blood by Automated count", "Retic", "edta", "%", 1, "LAB-HEME", ranges=(R("any", 0, None, "0.5", "2.5"),)),
    T("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "HbA1c", "edta", "%", 1, "LAB-HBA1C", window=1440, ranges=(R("any", 0, None, "4.0", "5.6"),)),
    # --- chemistry (serum) -------------------------------------------------------------------------
    T("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "Na", "sst", "mmol/L", 0, "LAB-CHEM", ranges=(R("any", 0, None, "135", "145", "120", "160", "8"),)),
    T("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "K", "sst", "mmol/L", 1, "LAB-CHEM",
      ranges=(
          R("any", 0, D30, "3.7", "5.9", "2.8", "7.0", "1.0"),
          R("any", D30, Y1, "4.1", "5.3", "2.8", "6.5", "1.0"),
          R("any", Y1, Y18, "3.4", "4.7", "2.8", "6.2", "1.0"),
          R("any", Y18, None, "3.5", "5.1", "2.8", "6.2", "1.0"),
      )),
    T("2075-0", "Chloride [Moles/volume] in Serum or Plasma", "Cl", "sst", "mmol/L", 0, "LAB-CHEM", ranges=(R("any", 0, None, "98", "107", "80", "120"),)),
    T("2028-9", "Carbon dioxide, total [Moles/volume] in Serum or Plasma", "CO2", "sst", "mmol/L", 0, "LAB-CHEM", ranges=(R("any", 0, None, "22", "29", "10", "40"),)),
    T("3094-0", "Urea nitrogen [Mass/volume] in Serum or Plasma", "BUN", "sst", "mg/dL", 0, "LAB-CHEM",
      ranges=(
          R("any", 0, Y18, "5", "18"),
          R("any", Y18, None, "7", "20", None, "100"),
      )),
    T("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "Creat", "sst", "mg/dL", 2, "LAB-CHEM",
      ranges=(
          R("any", 0, D30, "0.30", "1.00"),
          R("any", D30, Y1, "0.20", "0.40"),
          R("any", Y1, Y12, "0.30", "0.70"),
          R("any", Y12, Y18, "0.50", "1.00"),
          R("male", Y18, None, "0.74", "1.35", None, "7.00", "0.30"),
          R("female", Y18, None, "0.59", "1.04", None, "7.00", "0.30"),
      )),
    T("2345-7", "Glucose [Mass/volume] in Serum or Plasma", "Glu", "sst", "mg/dL", 0, "LAB-CHEM",
      ranges=(
          R("any", 0, D30, "50", "90", "30", "300"),
          R("any", D30, None, "70", "99", "40", "500"),
      )),
    T("17861-6", "Calcium [Mass/volume] in Serum or Plasma", "Ca", "sst", "mg/dL", 1, "LAB-CHEM",
      ranges=(
          R("any", 0, Y18, "8.8", "10.8", "6.0", "13.0"),
          R("any", Y18, None, "8.6", "10.3", "6.0", "13.0"),
      )),
    T("2885-2", "Protein [Mass/volume] in Serum or Plasma", "TP", "sst", "g/dL", 1, "LAB-CHEM", ranges=(R("any", 0, None, "6.0", "8.3"),)),
    T("1751-7", "Albumin [Mass/volume] in Serum or Plasma", "Alb", "sst", "g/dL", 1, "LAB-CHEM", ranges=(R("any", 0, None, "3.5", "5.0"),)),
    T("1975-2", "Bilirubin.total [Mass/volume] in Serum or Plasma", "TBil", "sst", "mg/dL", 1, "LAB-CHEM",
      ranges=(
          R("any", 0, D30, "0.1", "12.0", None, "15.0"),
          R("any", D30, None, "0.1", "1.2", None, "15.0"),
      )),
    T("1968-7", "Bilirubin.direct [Mass/volume] in Serum or Plasma", "DBil", "sst", "mg/dL", 1, "LAB-CHEM", ranges=(R("any", 0, None, "0.0", "0.3"),)),
    T("6768-6", "Alkaline phosphatase [Enzymatic activity/volume] in Serum or Plasma", "ALP", "sst", "U/L", 0, "LAB-CHEM",
      ranges=(
          R("any", 0, Y18, "100", "390"),
          R("any", Y18, None, "44", "147"),
      )),
    T("1920-8", "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "AST", "sst", "U/L", 0, "LAB-CHEM", ranges=(R("any", 0, None, "10", "40"),)),
    T("1742-6", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "ALT", "sst", "U/L", 0, "LAB-CHEM",
      ranges=(
          R("male", 0, None, "7", "56"),
          R("female", 0, None, "7", "45"),
      )),
    T("2324-2", "Gamma glutamyl transferase [Enzymatic activity/volume] in Serum or Plasma", "GGT", "sst", "U/L", 0, "LAB-CHEM",
      ranges=(
          R("male", 0, None, "8", "61"),
          R("female", 0, None, "5", "36"),
      )),
    T("2532-0", "Lactate dehydrogenase [Enzymatic activity/volume] in Serum or Plasma", "LDH", "sst", "U/L", 0, "LAB-CHEM", ranges=(R("any", 0, None, "140", "280"),)),
    T("2157-6", "Creatine kinase [Enzymatic activity/volume] in Serum or Plasma", "CK", "sst", "U/L", 0, "LAB-CHEM",
      ranges=(
          R("male", 0, None, "39", "308"),
          R("female", 0, None, "26", "192"),
      )),
    T("1798-8", "Amylase [Enzymatic activity/volume] in Serum or Plasma", "Amyl", "sst", "U/L", 0, "LAB-CHEM", ranges=(R("any", 0, None, "30", "110"),)),
    T("3040-3", "Lipase [Enzymatic activity/volume] in Serum or Plasma", "Lipase", "sst", "U/L", 0, "LAB-CHEM", ranges=(R("any", 0, None, "0", "160"),)),
    T("19123-9", "Magnesium [Mass/volume] in Serum or Plasma", "Mg", "sst", "mg/dL", 1, "LAB-CHEM", ranges=(R("any", 0, None, "1.7", "2.2", "1.0", "4.9"),)),
    T("2777-1", "Phosphate [Mass/volume] in Serum or Plasma", "Phos", "sst", "mg/dL", 1, "LAB-CHEM",
      ranges=(
          R("any", 0, Y18, "4.0", "7.0", "1.0"),
          R("any", Y18, None, "2.5", "4.5", "1.0"),
      )),
    T("3084-1", "Urate [Mass/volume] in Serum or Plasma", "Urate", "sst", "mg/dL", 1, "LAB-CHEM",
      ranges=(
          R("male", 0, None, "3.4", "7.0"),
          R("female", 0, None, "2.4", "6.0"),
      )),
    T("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "Chol", "sst", "mg/dL", 0, "LAB-CHEM", ranges=(R("any", 0, None, None, "199"),)),
    T("2571-8", "Triglyceride [Mass/volume] in Serum or Plasma", "TG", "sst", "mg/dL", 0, "LAB-CHEM", ranges=(R("any", 0, None, None, "149", None, "1000"),)),
    T("2085-9", "Cholesterol in HDL [Mass/volume] in Serum or Plasma", "HDL", "sst", "mg/dL", 0, "LAB-CHEM",
      ranges=(
          R("male", 0, None, "40", None),
          R("female", 0, None, "50", None),
      )),
    T("13457-7", "Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation", "LDL", "sst", "mg/dL", 0, "LAB-CHEM", ranges=(R("any", 0, None, None, "99"),)),
    T("3016-3", "Thyrotropin [Units/volume] in Serum or Plasma", "TSH", "sst", "m[IU]/L", 2, "LAB-TSH",
      ranges=(
          R("any", 0, D30, "1.00", "39.00"),
          R("any", D30, Y1, "0.70", "8.00"),
          R("any", Y1, Y18, "0.70", "5.70"),
          R("any", Y18, None, "0.45", "4.50"),
      )),
    T("3024-7", "Thyroxine (T4) free [Mass/volume] in Serum or Plasma", "FT4", "sst", "ng/dL", 2, "LAB-HORM", ranges=(R("any", 0, None, "0.80", "1.80"),)),
    T("3051-0", "Triiodothyronine (T3) Free [Mass/volume] in Serum or Plasma", "FT3", "sst", "pg/mL", 1, "LAB-HORM", ranges=(R("any", 0, None, "2.3", "4.2"),)),
    T("1988-5", "C reactive protein [Mass/volume] in Serum or Plasma", "CRP", "sst", "mg/L", 1, "LAB-CRP", ranges=(R("any", 0, None, None, "5.0"),)),
    T("30522-7", "C reactive protein [Mass/volume] in Serum or Plasma by High sensitivity method", "hsCRP", "sst", "mg/L", 2, "LAB-CRP", ranges=(R("any", 0, None, None, "3.00"),)),
    T("33959-8", "Procalcitonin [Mass/volume] in Serum or Plasma", "PCT", "sst", "ng/mL", 2, "LAB-HORM", ranges=(R("any", 0, None, None, "0.49"),)),
    T("2276-4", "Ferritin [Mass/volume] in Serum or Plasma", "Ferritin", "sst", "ng/mL", 0, "LAB-VIT",
      ranges=(
          R("male", 0, None, "24", "336"),
          R("female", 0, None, "11", "307"),
      )),
    T("2498-4", "Iron [Mass/volume] in Serum or Plasma", "Fe", "sst", "ug/dL", 0, "LAB-VIT",
      ranges=(
          R("male", 0, None, "65", "175"),
          R("female", 0, None, "50", "170"),
      )),
    T("2500-7", "Iron binding capacity [Mass/volume] in Serum or Plasma", "TIBC", "sst", "ug/dL", 0, "LAB-VIT", ranges=(R("any", 0, None, "250", "450"),)),
    T("2502-3", "Iron saturation [Mass Fraction] in Serum or Plasma", "TSAT", "sst", "%", 0, "LAB-VIT", ranges=(R("any", 0, None, "20", "50"),)),
    T("2132-9", "Cobalamin (Vitamin B12) [Mass/volume] in Serum or Plasma", "B12", "sst", "pg/mL", 0, "LAB-VIT", window=168, ranges=(R("any", 0, None, "232", "1245"),)),
    T("2284-8", "Folate [Mass/volume] in Serum or Plasma", "Folate", "sst", "ng/mL", 1, "LAB-VIT", window=168, ranges=(R("any", 0, None, "3.0", "20.0"),)),
    T("1989-3", "25-Hydroxyvitamin D3 [Mass/volume] in Serum or Plasma", "Vit D", "sst", "ng/mL", 0, "LAB-VIT", window=720, ranges=(R("any", 0, None, "30", "100"),)),
    T("2857-1", "Prostate specific Ag [Mass/volume] in Serum or Plasma", "PSA", "sst", "ng/mL", 2, "LAB-HORM", window=720, ranges=(R("male", Y18, None, None, "4.00"),)),
    T("21198-7", "Choriogonadotropin.beta subunit [Units/volume] in Serum or Plasma", "bhCG", "sst", "m[IU]/mL", 0, "LAB-HORM",
      ranges=(
          R("female", Y12, None, None, "5"),
          R("male", 0, None, None, "2"),
      )),
    T("2986-8", "Testosterone [Mass/volume] in Serum or Plasma", "Testo", "sst", "ng/dL", 0, "LAB-HORM",
      ranges=(
          R("male", Y18, None, "264", "916"),
          R("female", Y18, None, "15", "70"),
      )),
    T("2842-3", "Prolactin [Mass/volume] in Serum or Plasma", "PRL", "sst", "ng/mL", 1, "LAB-HORM",
      ranges=(
          R("male", 0, None, "4.0", "15.2"),
          R("female", 0, None, "4.8", "23.3"),
      )),
    T("2143-6", "Cortisol [Mass/volume] in Serum or Plasma", "Cortisol", "sst", "ug/dL", 1, "LAB-HORM", ranges=(R("any", 0, None, "6.2", "19.4", "2.0"),)),
    T("10535-3", "Digoxin [Mass/volume] in Serum or Plasma", "Digoxin", "sst", "ng/mL", 1, "LAB-DRUG", window=12, ranges=(R("any", 0, None, "0.8", "2.0", None, "2.5"),)),
    T("4092-3", "Vancomycin [Mass/volume] in Serum or Plasma --trough", "Vanc tr", "sst", "ug/mL", 1, "LAB-DRUG", window=12, ranges=(R("any", 0, None, "10.0", "20.0", None, "30.0"),)),
    T("14334-7", "Lithium [Moles/volume] in Serum or Plasma", "Li", "sst", "mmol/L", 2, "LAB-DRUG", window=12, ranges=(R("any", 0, None, "0.60", "1.20", None, "2.00"),)),
    # --- plasma tests needing their own tube -------------------------------------------------------
    T("10839-9", "Troponin I.cardiac [Mass/volume] in Serum or Plasma", "TnI", "lith", "ng/mL", 3, "LAB-TROP", window=0, ranges=(R("any", 0, None, None, "0.040", None, "0.500"),)),
    T("89579-7", "Troponin I.cardiac [Mass/volume] in Serum or Plasma by High sensitivity method", "hsTnI", "lith", "ng/L", 0, "LAB-TROP", window=0,
      ranges=(
          R("male", 0, None, None, "34", None, "100"),
          R("female", 0, None, None, "16", None, "100"),
      )),
    T("30934-4", "Natriuretic peptide B [Mass/volume] in Serum or Plasma", "BNP", "edta", "pg/mL", 0, "LAB-HORM", ranges=(R("any", 0, None, None, "99"),)),
    T("33762-6", "Natriuretic peptide.B prohormone N-Terminal [Mass/volume] in Serum or Plasma", "NT-proBNP", "lith", "pg/mL", 0, "LAB-HORM",
      ranges=(
          R("any", 0, Y75, None, "125"),
          R("any", Y75, None, None, "450"),
      )),
    T("1558-6", "Fasting glucose [Mass/volume] in Serum or Plasma", "FPG", "fluoride", "mg/dL", 0, "LAB-CHEM", ranges=(R("any", 0, None, "70", "99", "40", "500"),)),
    T("2524-7", "Lactate [Moles/volume] in Serum or Plasma", "Lactate", "fluoride", "mmol/L", 1, "LAB-CHEM", window=0, ranges=(R("any", 0, None, "0.5", "2.2", None, "4.0"),)),
    T("16362-6", "Ammonia [Moles/volume] in Plasma", "NH3", "edta_ice", "umol/L", 0, "LAB-CHEM", ranges=(R("any", 0, None, "11", "51", None, "100"),)),
    # --- coagulation (citrate) ---------------------------------------------------------------------
    T("5902-2", "Prothrombin time (PT)", "PT", "citrate", "s", 1, "LAB-COAG", window=0, ranges=(R("any", 0, None, "11.0", "13.5"),)),
    T("6301-6", "INR in Platelet poor plasma by Coagulation assay", "INR", "citrate", "{INR}", 1, "LAB-COAG", window=0, ranges=(R("any", 0, None, "0.8", "1.2", None, "5.0", "1.5"),)),
    T("14979-9", "aPTT in Platelet poor plasma by Coagulation assay", "aPTT", "citrate", "s", 1, "LAB-COAG", window=0, ranges=(R("any", 0, None, "25.0", "35.0", None, "100.0"),)),
    T("3255-7", "Fibrinogen [Mass/volume] in Platelet poor plasma by Coagulation assay", "Fib", "citrate", "mg/dL", 0, "LAB-COAG", ranges=(R("any", 0, None, "200", "400", "100"),)),
    T("48065-7", "Fibrin D-dimer FEU [Mass/volume] in Platelet poor plasma", "D-dimer", "citrate", "ng/mL", 0, "LAB-COAG", ranges=(R("any", 0, None, None, "500"),)),
    # --- blood gas ---------------------------------------------------------------------------------
    T("2744-1", "pH of Arterial blood", "pH", "abg", "[pH]", 2, "LAB-ABG", window=0, ranges=(R("any", 0, None, "7.35", "7.45", "7.20", "7.60"),)),
    T("2019-8", "Carbon dioxide [Partial pressure] in Arterial blood", "pCO2", "abg", "mm[Hg]", 0, "LAB-ABG", window=0, ranges=(R("any", 0, None, "35", "45", "20", "70"),)),
    T("2703-7", "Oxygen [Partial pressure] in Arterial blood", "pO2", "abg", "mm[Hg]", 0, "LAB-ABG", window=0, ranges=(R("any", 0, None, "80", "100", "40"),)),
    T("1960-4", "Bicarbonate [Moles/volume] in Arterial blood", "HCO3", "abg", "mmol/L", 0, "LAB-ABG", window=0, ranges=(R("any", 0, None, "22", "26", "10", "40"),)),
    T("1925-7", "Base excess in Arterial blood by calculation", "BE", "abg", "mmol/L", 1, "LAB-ABG", window=0, ranges=(R("any", 0, None, "-2.0", "2.0"),)),
    T("1994-3", "Calcium.ionized [Moles/volume] in Blood", "iCa", "abg", "mmol/L", 2, "LAB-ABG", window=0, ranges=(R("any", 0, None, "1.15", "1.33", "0.80", "1.60"),)),
    # --- urine -------------------------------------------------------------------------------------
    T("5778-6", "Color of Urine", "U colour", "urine", price="LAB-URINE", kind="coded", choices="Colourless|Pale yellow|Yellow|Dark yellow|Amber|Orange|Red|Brown"),
    T("5767-9", "Appearance of Urine", "U appear", "urine", price="LAB-URINE", kind="coded", choices="Clear|Slightly cloudy|Cloudy|Turbid", ranges=(R(normal="Clear"),)),
    T("5811-5", "Specific gravity of Urine by Test strip", "U SG", "urine", None, 3, "LAB-URINE", ranges=(R("any", 0, None, "1.005", "1.030"),)),
    T("5803-2", "pH of Urine by Test strip", "U pH", "urine", "[pH]", 1, "LAB-URINE", ranges=(R("any", 0, None, "5.0", "8.0"),)),
    T("20454-5", "Protein [Presence] in Urine by Test strip", "U prot", "urine", price="LAB-URINE", kind="coded", choices=PRESENCE, ranges=(R(normal=NEG),)),
    T("25428-4", "Glucose [Presence] in Urine by Test strip", "U glu", "urine", price="LAB-URINE", kind="coded", choices=PRESENCE, ranges=(R(normal=NEG),)),
    T("2514-8", "Ketones [Presence] in Urine by Test strip", "U ket", "urine", price="LAB-URINE", kind="coded", choices="Negative|Trace|Small|Moderate|Large", ranges=(R(normal=NEG),)),
    T("5794-3", "Hemoglobin [Presence] in Urine by Test strip", "U blood", "urine", price="LAB-URINE", kind="coded", choices="Negative|Trace|1+|2+|3+", ranges=(R(normal=NEG),)),
    T("5802-4", "Nitrite [Presence] in Urine by Test strip", "U nitrite", "urine", price="LAB-URINE", kind="coded", choices="Negative|Positive", ranges=(R(normal=NEG),)),
    T("5799-2", "Leukocyte esterase [Presence] in Urine by Test strip", "U LE", "urine", price="LAB-URINE", kind="coded", choices="Negative|Trace|1+|2+|3+", ranges=(R(normal=NEG),)),
    T("5770-3", "Bilirubin.total [Presence] in Urine by Test strip", "U bili", "urine", price="LAB-URINE", kind="coded", choices="Negative|1+|2+|3+", ranges=(R(normal=NEG),)),
    T("20405-7", "Urobilinogen [Mass/volume] in Urine by Test strip", "U urobil", "urine", "mg/dL", 1, "LAB-URINE", ranges=(R("any", 0, None, "0.2", "1.0"),)),
    T("9318-7", "Albumin/Creatinine [Mass Ratio] in Urine", "UACR", "urine", "mg/g", 0, "LAB-URINE", window=720, ranges=(R("any", 0, None, None, "29"),)),
    T("2106-3", "Choriogonadotropin (pregnancy test) [Presence] in Urine", "U hCG", "urine", price="LAB-RAPID", kind="coded", choices="Negative|Positive|Invalid", window=0),
    # --- microbiology (text results) ---------------------------------------------------------------
    T("600-7", "Bacteria identified in Blood by Culture", "Blood cx", "blood_culture", price="LAB-CULT", kind="text", window=0, ranges=(R(normal="No growth"),)),
    T("630-4", "Bacteria identified in Urine by Culture", "Urine cx", "urine", price="LAB-CULT", kind="text", window=48, ranges=(R(normal="No growth"),)),
    T("6462-6", "Bacteria identified in Wound by Culture", "Wound cx", "swab", price="LAB-CULT", kind="text", ranges=(R(normal="No growth"),)),
    T("626-2", "Bacteria identified in Throat by Culture", "Throat cx", "throat", price="LAB-CULT", kind="text", ranges=(R(normal="Normal flora"),)),
    T("624-7", "Bacteria identified in Sputum by Culture", "Sputum cx", "sputum", price="LAB-CULT", kind="text", ranges=(R(normal="Normal flora"),)),
    T("625-4", "Bacteria identified in Stool by Culture", "Stool cx", "stool", price="LAB-CULT", kind="text", ranges=(R(normal="No pathogens isolated"),)),
    T("664-3", "Microscopic observation [Identifier] in Specimen by Gram stain", "Gram", "swab", price="LAB-MICRO", kind="text", window=0),
    T("32700-7", "Microscopic observation [Identifier] in Blood by Malaria smear", "Malaria", "edta", price="LAB-MICRO", kind="text", window=0, ranges=(R(normal="No malaria parasites seen"),)),
    # --- serology, blood bank, molecular, rapid tests ----------------------------------------------
    T("56888-1", "HIV 1+2 Ab+HIV1 p24 Ag [Presence] in Serum or Plasma by Immunoassay", "HIV Ag/Ab", "sst", price="LAB-SERO", kind="coded", choices=REACTIVE, window=720, portal_delay=72, ranges=(R(normal="Non-reactive"),)),
    T("5196-1", "Hepatitis B virus surface Ag [Presence] in Serum by Immunoassay", "HBsAg", "sst", price="LAB-SERO", kind="coded", choices=REACTIVE, window=720, portal_delay=24, ranges=(R(normal="Non-reactive"),)),
    T("16128-1", "Hepatitis C virus Ab [Presence] in Serum", "HCV Ab", "sst", price="LAB-SERO", kind="coded", choices=REACTIVE, window=720, portal_delay=24, ranges=(R(normal="Non-reactive"),)),
    T("20507-0", "Reagin Ab [Presence] in Serum by RPR", "RPR", "sst", price="LAB-SERO", kind="coded", choices="Non-reactive|Reactive", window=720, portal_delay=24, ranges=(R(normal="Non-reactive"),)),
    T("883-9", "ABO group [Type] in Blood", "ABO", "edta", price="LAB-SERO", kind="coded", choices="A|B|AB|O", window=8760),
    T("10331-7", "Rh [Type] in Blood", "Rh", "edta", price="LAB-SERO", kind="coded", choices="Positive|Negative", window=8760),
    T("94500-6", "SARS-CoV-2 (COVID-19) RNA [Presence] in Respiratory specimen by NAA with probe detection", "SARS-CoV-2", "np_swab", price="LAB-PCR", kind="coded", choices="Not detected|Detected|Invalid", ranges=(R(normal="Not detected"),)),
    T("78012-2", "Streptococcus pyogenes Ag [Presence] in Throat by Rapid immunoassay", "Strep A", "throat", price="LAB-RAPID", kind="coded", choices="Negative|Positive|Invalid", ranges=(R(normal=NEG),)),
    T("2335-8", "Hemoglobin.gastrointestinal [Presence] in Stool", "FOBT", "stool", price="LAB-RAPID", kind="coded", choices="Negative|Positive", ranges=(R(normal=NEG),)),
]

CBC = ("6690-2", "789-8", "718-7", "4544-3", "787-2", "785-6", "786-4", "788-0", "777-3", "32623-1")
BMP = ("2951-2", "2823-3", "2075-0", "2028-9", "3094-0", "2160-0", "2345-7", "17861-6")
LIVER = ("2885-2", "1751-7", "1975-2", "6768-6", "1920-8", "1742-6")

PANELS: list[T] = [
    T("58410-2", "CBC panel - Blood by Automated count", "CBC", "edta", price="LAB-CBC", kind="text",
      members=CBC),
    T("57021-8", "CBC W Auto Differential panel - Blood", "CBC+diff", "edta", price="LAB-CBCD", kind="text",
      members=(*CBC, "751-8", "731-0", "742-7", "711-2", "704-7")),
    T("51990-0", "Basic metabolic panel - Blood", "BMP", "sst", price="LAB-BMP", kind="text",
      members=BMP),
    T("24323-8", "Comprehensive metabolic 2000 panel - Serum or Plasma", "CMP", "sst", price="LAB-CMP", kind="text",
      members=(*BMP, *LIVER)),
    T("24325-3", "Hepatic function 2000 panel - Serum or Plasma", "LFT", "sst", price="LAB-LFT", kind="text",
      members=("2885-2", "1751-7", "1975-2", "1968-7", "6768-6", "1920-8", "1742-6")),
    T("24362-6", "Renal function 2000 panel - Serum or Plasma", "RFP", "sst", price="LAB-RFP", kind="text",
      members=(*BMP, "2777-1", "1751-7")),
    T("24326-1", "Electrolytes 1998 panel - Serum or Plasma", "Lytes", "sst", price="LAB-LYTES", kind="text",
      members=("2951-2", "2823-3", "2075-0", "2028-9")),
    T("24331-1", "Lipid 1996 panel - Serum or Plasma", "Lipids", "sst", price="LAB-LIPID", kind="text",
      members=("2093-3", "2571-8", "2085-9", "13457-7")),
    T("24348-5", "Free T4 and TSH panel - Serum or Plasma", "TFT", "sst", price="LAB-THY", kind="text",
      members=("3016-3", "3024-7")),
    T("50190-8", "Iron and Iron binding capacity panel - Serum or Plasma", "Iron studies", "sst", price="LAB-IRON", kind="text",
      members=("2498-4", "2500-7", "2502-3")),
    T("24336-0", "Gas panel - Arterial blood", "ABG", "abg", price="LAB-ABG", kind="text",
      members=("2744-1", "2019-8", "2703-7", "1960-4", "1925-7")),
    T("24357-6", "Urinalysis macro (dipstick) panel - Urine", "UA", "urine", price="LAB-UA", kind="text",
      members=("5778-6", "5767-9", "5811-5", "5803-2", "20454-5", "25428-4", "2514-8", "5794-3", "5802-4", "5799-2", "5770-3", "20405-7")),
]
# fmt: on
