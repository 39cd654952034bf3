"""The formulary a new hospital starts with: about sixty common products, every dose form the
quantity rules know, each ingredient named as the bundled medication knowledge names it (US
generic names: acetaminophen, albuterol, epinephrine; the British names are synonyms). Data only;
``seed/pharmacy.py`` loads it.

The products the inventory catalogue stocks name its item (``MED-*``). ATC codes are the WHO's;
RxNorm clinical-drug CUIs are left for the pharmacy to fill in from RxNorm (the knowledge base
carries the ingredients' CUIs), rather than typed from memory here. Powders for injection are
described as reconstituted (ceftriaxone 1 g in 10 mL), so that a dose in mg becomes mL and vials.
Combination products list the ingredients the knowledge knows: co-amoxiclav and
piperacillin/tazobactam name their penicillin (what the allergy and interaction checks need), the
beta-lactamase inhibitor being in the name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class Product:
    code: str
    name: str
    form: str  # models.pharmacy.FORMS
    routes: str  # "oral", "iv|im"
    ingredients: str  # "sulfamethoxazole 800 mg + trimethoprim 160 mg" (per counting unit or volume)
    dispense: str  # the dispense unit
    package: str = "1"  # counting units in one dispense unit
    volume: str = "1"  # strength per this many mL (liquids, injections)
    pack: int = 1
    atc: str = ""
    synonyms: str = ""
    status: str = "formulary"
    restriction: str = ""
    stock: str = ""  # the inventory item's code
    extra: dict = field(default_factory=dict)  # scored, wear_hours, priming_units, drops_per_ml

    def parsed_ingredients(self) -> list[tuple[str, Decimal, str]]:
        result = []
        for part in self.ingredients.split(" + "):
            *name, strength, unit = part.split()
            result.append((" ".join(name), Decimal(strength), unit))
        return result


P = Product
SCORED = {"scored": True}
CONTROLLED = {"controlled": True}  # written in the controlled drug register when dispensed
TAB, CAP = "tablet", "capsule"

# fmt: off
PRODUCTS = [
    # ------------------------------------------------------------------ analgesics
    P("RX-APAP-500-TAB", "Paracetamol (acetaminophen) 500 mg tablet", TAB, "oral", "acetaminophen 500 mg", TAB,
      pack=100, atc="N02BE01", synonyms="Paracetamol|Panadol|Tylenol", stock="MED-PCM-500"),
    P("RX-APAP-120-LIQ", "Paracetamol 120 mg/5 mL oral suspension", "liquid", "oral", "acetaminophen 120 mg",
      "bottle", package="100", volume="5", atc="N02BE01", synonyms="Paracetamol|Calpol"),
    P("RX-APAP-1G-INF", "Paracetamol 1 g/100 mL infusion", "infusion", "iv", "acetaminophen 1000 mg", "bottle",
      package="100", volume="100", pack=12, atc="N02BE01", synonyms="Paracetamol|Perfalgan|Ofirmev",
      stock="MED-PCM-IV"),
    P("RX-IBU-400-TAB", "Ibuprofen 400 mg tablet", TAB, "oral", "ibuprofen 400 mg", TAB, pack=84, atc="M01AE01",
      synonyms="Brufen|Advil|Nurofen", stock="MED-IBU-400"),
    P("RX-IBU-100-LIQ", "Ibuprofen 100 mg/5 mL oral suspension", "liquid", "oral", "ibuprofen 100 mg", "bottle",
      package="100", volume="5", atc="M01AE01", synonyms="Nurofen for Children|Motrin"),
    P("RX-NAPROX-250-TAB", "Naproxen 250 mg tablet", TAB, "oral", "naproxen 250 mg", TAB, pack=28, atc="M01AE02",
      synonyms="Naprosyn|Aleve"),
    P("RX-COCOD-30-TAB", "Co-codamol 30/500 tablet", TAB, "oral", "acetaminophen 500 mg + codeine 30 mg", TAB,
      pack=100, atc="N02AJ06", synonyms="Co-codamol|Tylenol with Codeine|Solpadol"),
    P("RX-TRAM-50-CAP", "Tramadol 50 mg capsule", CAP, "oral", "tramadol 50 mg", CAP, pack=30, atc="N02AX02",
      synonyms="Zydol|Ultram"),
    P("RX-MORPH-10-INJ", "Morphine sulfate 10 mg/1 mL injection", "injection", "iv|im|sc", "morphine 10 mg",
      "ampoule", pack=10, atc="N02AA01", stock="MED-MORPH-10", extra=CONTROLLED),
    P("RX-OXY-5-CAP", "Oxycodone 5 mg capsule", CAP, "oral", "oxycodone 5 mg", CAP, pack=56, atc="N02AA05",
      synonyms="OxyNorm|Roxicodone", status="restricted",
      restriction="Acute pain service or palliative care only; controlled drug register.", extra=CONTROLLED),
    P("RX-FENT-25-PATCH", "Fentanyl 25 micrograms/hour transdermal patch", "patch", "transdermal",
      "fentanyl 25 mcg/h", "patch", pack=5, atc="N02AB03", synonyms="Durogesic|Duragesic",
      status="restricted", restriction="Opioid-tolerant patients only, on the pain team's advice.",
      extra={"wear_hours": 72, **CONTROLLED}),
    P("RX-BUPRE-5-PATCH", "Buprenorphine 5 micrograms/hour 7-day patch", "patch", "transdermal",
      "buprenorphine 5 mcg/h", "patch", pack=4, atc="N02AE01", synonyms="BuTrans|Butec",
      extra={"wear_hours": 168}),
    # ------------------------------------------------------------------ anti-infectives
    P("RX-AMOX-500-CAP", "Amoxicillin 500 mg capsule", CAP, "oral", "amoxicillin 500 mg", CAP, pack=21,
      atc="J01CA04", synonyms="Amoxil|Amoxycillin", stock="MED-AMOX-500"),
    P("RX-AMOX-250-LIQ", "Amoxicillin 250 mg/5 mL oral suspension", "liquid", "oral", "amoxicillin 250 mg",
      "bottle", package="100", volume="5", atc="J01CA04", synonyms="Amoxil"),
    P("RX-COAMOX-1G2-INJ", "Co-amoxiclav 1.2 g (amoxicillin 1 g, clavulanic acid 200 mg) injection", "injection",
      "iv", "amoxicillin 1000 mg", "vial", package="20", volume="20", pack=10, atc="J01CR02",
      synonyms="Co-amoxiclav|Augmentin|amoxicillin-clavulanate", stock="MED-COAMOX-IV"),
    P("RX-FLUCLOX-500-CAP", "Flucloxacillin 500 mg capsule", CAP, "oral", "flucloxacillin 500 mg", CAP, pack=28,
      atc="J01CF05", synonyms="Floxapen"),
    P("RX-CEFALEX-500-CAP", "Cefalexin 500 mg capsule", CAP, "oral", "cephalexin 500 mg", CAP, pack=28,
      atc="J01DB01", synonyms="Cefalexin|Keflex"),
    P("RX-CEFTRI-1G-INJ", "Ceftriaxone 1 g injection (reconstituted to 10 mL)", "injection", "iv|im",
      "ceftriaxone 1000 mg", "vial", package="10", volume="10", pack=10, atc="J01DD04", synonyms="Rocephin",
      stock="MED-CEF-1G"),
    P("RX-PIPTAZ-4G5-INJ", "Piperacillin/tazobactam 4.5 g infusion (reconstituted to 20 mL)", "injection", "iv",
      "piperacillin 4000 mg", "vial", package="20", volume="20", pack=10, atc="J01CR05",
      synonyms="Tazocin|Zosyn", status="restricted",
      restriction="Hospital-acquired or neutropenic sepsis, or on microbiology advice.", stock="MED-PIPTAZ"),
    P("RX-MEROP-1G-INJ", "Meropenem 1 g injection (reconstituted to 20 mL)", "injection", "iv",
      "meropenem 1000 mg", "vial", package="20", volume="20", pack=10, atc="J01DH02", synonyms="Meronem|Merrem",
      status="restricted", restriction="On microbiology advice only."),
    P("RX-GENT-80-INJ", "Gentamicin 80 mg/2 mL injection", "injection", "iv|im", "gentamicin 80 mg", "ampoule",
      package="2", volume="2", pack=10, atc="J01GB03", synonyms="Cidomycin", stock="MED-GENT-80"),
    P("RX-VANC-500-INJ", "Vancomycin 500 mg infusion (reconstituted to 10 mL)", "injection", "iv",
      "vancomycin 500 mg", "vial", package="10", volume="10", pack=10, atc="J01XA01", synonyms="Vancocin"),
    P("RX-CLARI-500-TAB", "Clarithromycin 500 mg tablet", TAB, "oral", "clarithromycin 500 mg", TAB, pack=14,
      atc="J01FA09", synonyms="Klaricid|Biaxin"),
    P("RX-DOXY-100-CAP", "Doxycycline 100 mg capsule", CAP, "oral", "doxycycline 100 mg", CAP, pack=8,
      atc="J01AA02", synonyms="Vibramycin"),
    P("RX-CIPRO-500-TAB", "Ciprofloxacin 500 mg tablet", TAB, "oral", "ciprofloxacin 500 mg", TAB, pack=10,
      atc="J01MA02", synonyms="Ciproxin|Cipro"),
    P("RX-COTRIM-960-TAB", "Co-trimoxazole 960 mg (800/160) tablet", TAB, "oral",
      "sulfamethoxazole 800 mg + trimethoprim 160 mg", TAB, pack=100, atc="J01EE01",
      synonyms="Co-trimoxazole|Septrin|Bactrim DS", extra=SCORED),
    P("RX-NITRO-100-CAP", "Nitrofurantoin 100 mg modified-release capsule", CAP, "oral", "nitrofurantoin 100 mg",
      CAP, pack=14, atc="J01XE01", synonyms="Macrobid"),
    P("RX-METRO-400-TAB", "Metronidazole 400 mg tablet", TAB, "oral", "metronidazole 400 mg", TAB, pack=21,
      atc="P01AB01", synonyms="Flagyl"),
    P("RX-FLUCON-150-CAP", "Fluconazole 150 mg capsule", CAP, "oral", "fluconazole 150 mg", CAP, pack=1,
      atc="J02AC01", synonyms="Diflucan"),
    P("RX-LINEZ-600-TAB", "Linezolid 600 mg tablet", TAB, "oral", "linezolid 600 mg", TAB, pack=10,
      atc="J01XX08", synonyms="Zyvox", status="restricted", restriction="On microbiology advice only."),
    # ------------------------------------------------------------------ cardiovascular and blood
    P("RX-WARF-1-TAB", "Warfarin 1 mg tablet", TAB, "oral", "warfarin 1 mg", TAB, pack=28, atc="B01AA03",
      synonyms="Coumadin|Marevan"),
    P("RX-WARF-5-TAB", "Warfarin 5 mg tablet", TAB, "oral", "warfarin 5 mg", TAB, pack=28, atc="B01AA03",
      synonyms="Coumadin|Marevan", extra=SCORED, stock="MED-WARF-5"),
    P("RX-APIX-5-TAB", "Apixaban 5 mg tablet", TAB, "oral", "apixaban 5 mg", TAB, pack=56, atc="B01AF02",
      synonyms="Eliquis"),
    P("RX-ENOX-40-INJ", "Enoxaparin 40 mg/0.4 mL prefilled syringe", "injection", "sc", "enoxaparin 40 mg",
      "syringe", package="0.4", volume="0.4", pack=10, atc="B01AB05", synonyms="Clexane|Lovenox",
      stock="MED-ENOX-40"),
    P("RX-HEPARIN-5000-INJ", "Heparin 5,000 units/1 mL injection", "injection", "sc|iv", "heparin 5000 unit",
      "ampoule", pack=10, atc="B01AB01"),
    P("RX-ASA-75-TAB", "Aspirin 75 mg dispersible tablet", TAB, "oral", "aspirin 75 mg", TAB, pack=28,
      atc="B01AC06", synonyms="Acetylsalicylic acid"),
    P("RX-CLOP-75-TAB", "Clopidogrel 75 mg tablet", TAB, "oral", "clopidogrel 75 mg", TAB, pack=28,
      atc="B01AC04", synonyms="Plavix"),
    P("RX-AMLO-5-TAB", "Amlodipine 5 mg tablet", TAB, "oral", "amlodipine 5 mg", TAB, pack=28, atc="C08CA01",
      synonyms="Norvasc|Istin"),
    P("RX-RAMI-5-CAP", "Ramipril 5 mg capsule", CAP, "oral", "ramipril 5 mg", CAP, pack=28, atc="C09AA05",
      synonyms="Tritace|Altace"),
    P("RX-LISIN-10-TAB", "Lisinopril 10 mg tablet", TAB, "oral", "lisinopril 10 mg", TAB, pack=28,
      atc="C09AA03", synonyms="Zestril|Prinivil"),
    P("RX-LOSAR-50-TAB", "Losartan 50 mg tablet", TAB, "oral", "losartan 50 mg", TAB, pack=28, atc="C09CA01",
      synonyms="Cozaar"),
    P("RX-BISO-5-TAB", "Bisoprolol 5 mg tablet", TAB, "oral", "bisoprolol 5 mg", TAB, pack=28, atc="C07AB07",
      synonyms="Cardicor|Zebeta", extra=SCORED),
    P("RX-FUROS-40-TAB", "Furosemide 40 mg tablet", TAB, "oral", "furosemide 40 mg", TAB, pack=28,
      atc="C03CA01", synonyms="Frusemide|Lasix", extra=SCORED),
    P("RX-FUROS-20-INJ", "Furosemide 20 mg/2 mL injection", "injection", "iv|im", "furosemide 20 mg", "ampoule",
      package="2", volume="2", pack=10, atc="C03CA01", synonyms="Frusemide|Lasix", stock="MED-FUROS-20"),
    P("RX-SPIRO-25-TAB", "Spironolactone 25 mg tablet", TAB, "oral", "spironolactone 25 mg", TAB, pack=28,
      atc="C03DA01", synonyms="Aldactone"),
    P("RX-DIGOX-125-TAB", "Digoxin 125 microgram tablet", TAB, "oral", "digoxin 125 mcg", TAB, pack=28,
      atc="C01AA05", synonyms="Lanoxin"),
    P("RX-AMIOD-200-TAB", "Amiodarone 200 mg tablet", TAB, "oral", "amiodarone 200 mg", TAB, pack=28,
      atc="C01BD01", synonyms="Cordarone"),
    P("RX-ATOR-20-TAB", "Atorvastatin 20 mg tablet", TAB, "oral", "atorvastatin 20 mg", TAB, pack=28,
      atc="C10AA05", synonyms="Lipitor", stock="MED-ATOR-20"),
    P("RX-SIMVA-40-TAB", "Simvastatin 40 mg tablet", TAB, "oral", "simvastatin 40 mg", TAB, pack=28,
      atc="C10AA01", synonyms="Zocor"),
    P("RX-GTN-5-PATCH", "Glyceryl trinitrate 5 mg/24 hours transdermal patch", "patch", "transdermal",
      "nitroglycerin 5 mg/24h", "patch", pack=28, atc="C01DA02", synonyms="Glyceryl trinitrate|GTN|Transiderm-Nitro",
      extra={"wear_hours": 24}),
    P("RX-EPI-1-INJ", "Adrenaline (epinephrine) 1 mg/1 mL injection", "injection", "im|iv", "epinephrine 1 mg",
      "ampoule", pack=10, atc="C01CA24", synonyms="Adrenaline", stock="MED-ADR-1"),
    # ------------------------------------------------------------------ diabetes and endocrine
    P("RX-METF-500-TAB", "Metformin 500 mg tablet", TAB, "oral", "metformin 500 mg", TAB, pack=84,
      atc="A10BA02", synonyms="Glucophage", stock="MED-METF-500"),
    P("RX-GLICL-80-TAB", "Gliclazide 80 mg tablet", TAB, "oral", "gliclazide 80 mg", TAB, pack=28,
      atc="A10BB09", synonyms="Diamicron", extra=SCORED),
    P("RX-EMPA-10-TAB", "Empagliflozin 10 mg tablet", TAB, "oral", "empagliflozin 10 mg", TAB, pack=28,
      atc="A10BK03", synonyms="Jardiance"),
    P("RX-GLARG-PEN", "Insulin glargine 100 units/mL, 3 mL pen", "insulin_pen", "sc", "insulin glargine 1 unit",
      "pen", package="300", pack=5, atc="A10AE04", synonyms="Lantus|Abasaglar|Basaglar",
      extra={"priming_units": 2}),
    P("RX-ASPART-PEN", "Insulin aspart 100 units/mL, 3 mL pen", "insulin_pen", "sc", "insulin aspart 1 unit",
      "pen", package="300", pack=5, atc="A10AB05", synonyms="NovoRapid|NovoLog", extra={"priming_units": 2}),
    P("RX-INSREG-VIAL", "Insulin human soluble 100 units/mL, 10 mL vial", "insulin_vial", "sc|iv",
      "insulin regular 1 unit", "vial", package="1000", atc="A10AB01", synonyms="Actrapid|Humulin S|Humulin R",
      stock="MED-INS-SOL"),
    P("RX-LEVO-50-TAB", "Levothyroxine 50 microgram tablet", TAB, "oral", "levothyroxine 50 mcg", TAB, pack=28,
      atc="H03AA01", synonyms="Thyroxine|Synthroid"),
    P("RX-PRED-5-TAB", "Prednisolone 5 mg tablet", TAB, "oral", "prednisolone 5 mg", TAB, pack=28,
      atc="H02AB06"),
    # ------------------------------------------------------------------ respiratory and allergy
    P("RX-SALB-100-INH", "Salbutamol (albuterol) 100 micrograms/dose inhaler, 200 doses", "inhaler", "inhaled",
      "albuterol 100 mcg", "inhaler", package="200", atc="R03AC02", synonyms="Salbutamol|Ventolin|ProAir"),
    P("RX-SALB-2.5-NEB", "Salbutamol 2.5 mg/2.5 mL nebuliser solution", "nebule", "inhaled", "albuterol 2.5 mg",
      "nebule", package="2.5", volume="2.5", pack=20, atc="R03AC02", synonyms="Salbutamol|Ventolin Nebules",
      stock="MED-SALB-NEB"),
    P("RX-IPRA-500-NEB", "Ipratropium 500 micrograms/2 mL nebuliser solution", "nebule", "inhaled",
      "ipratropium 500 mcg", "nebule", package="2", volume="2", pack=20, atc="R03BB01", synonyms="Atrovent"),
    P("RX-BUDES-200-INH", "Budesonide 200 micrograms/dose inhaler, 200 doses", "inhaler", "inhaled",
      "budesonide 200 mcg", "inhaler", package="200", atc="R03BA02", synonyms="Pulmicort|Easyhaler Budesonide"),
    P("RX-MONTE-10-TAB", "Montelukast 10 mg tablet", TAB, "oral", "montelukast 10 mg", TAB, pack=28,
      atc="R03DC03", synonyms="Singulair"),
    P("RX-CETIR-10-TAB", "Cetirizine 10 mg tablet", TAB, "oral", "cetirizine 10 mg", TAB, pack=30,
      atc="R06AE07", synonyms="Zyrtec"),
    # ------------------------------------------------------------------ gastrointestinal
    P("RX-OMEP-20-CAP", "Omeprazole 20 mg capsule", CAP, "oral", "omeprazole 20 mg", CAP, pack=28,
      atc="A02BC01", synonyms="Losec|Prilosec"),
    P("RX-OMEP-40-INJ", "Omeprazole 40 mg infusion (reconstituted to 10 mL)", "injection", "iv",
      "omeprazole 40 mg", "vial", package="10", volume="10", pack=5, atc="A02BC01", synonyms="Losec",
      stock="MED-OMEP-IV"),
    P("RX-ONDAN-4-INJ", "Ondansetron 4 mg/2 mL injection", "injection", "iv|im", "ondansetron 4 mg", "ampoule",
      package="2", volume="2", pack=5, atc="A04AA01", synonyms="Zofran", stock="MED-ONDAN-4"),
    P("RX-METOC-10-TAB", "Metoclopramide 10 mg tablet", TAB, "oral", "metoclopramide 10 mg", TAB, pack=28,
      atc="A03FA01", synonyms="Maxolon|Reglan"),
    # ------------------------------------------------------------------ nervous system
    P("RX-SERT-50-TAB", "Sertraline 50 mg tablet", TAB, "oral", "sertraline 50 mg", TAB, pack=28,
      atc="N06AB06", synonyms="Lustral|Zoloft"),
    P("RX-CITAL-20-TAB", "Citalopram 20 mg tablet", TAB, "oral", "citalopram 20 mg", TAB, pack=28,
      atc="N06AB04", synonyms="Cipramil|Celexa"),
    P("RX-AMITR-10-TAB", "Amitriptyline 10 mg tablet", TAB, "oral", "amitriptyline 10 mg", TAB, pack=28,
      atc="N06AA09"),
    P("RX-LORAZ-1-TAB", "Lorazepam 1 mg tablet", TAB, "oral", "lorazepam 1 mg", TAB, pack=28, atc="N05BA06",
      synonyms="Ativan", extra=SCORED),
    P("RX-HALOP-5-INJ", "Haloperidol 5 mg/1 mL injection", "injection", "im", "haloperidol 5 mg", "ampoule",
      pack=10, atc="N05AD01", synonyms="Haldol"),
    P("RX-LEVET-500-TAB", "Levetiracetam 500 mg tablet", TAB, "oral", "levetiracetam 500 mg", TAB, pack=60,
      atc="N03AX14", synonyms="Keppra"),
    P("RX-GABA-300-CAP", "Gabapentin 300 mg capsule", CAP, "oral", "gabapentin 300 mg", CAP, pack=100,
      atc="N03AX12", synonyms="Neurontin"),
    P("RX-ZOLP-5-TAB", "Zolpidem 5 mg tablet", TAB, "oral", "zolpidem 5 mg", TAB, pack=28, atc="N05CF02",
      synonyms="Stilnoct|Ambien", status="non_formulary"),
    # ------------------------------------------------------------------ eye
    P("RX-OFLOX-EYE", "Ofloxacin 0.3 % eye drops, 5 mL", "eye_drops", "ophthalmic", "ofloxacin 0.3 %", "bottle",
      package="5", atc="S01AE01", synonyms="Exocin|Ocuflox", extra={"drops_per_ml": 20}),
    P("RX-DEXA-EYE", "Dexamethasone 0.1 % eye drops, 5 mL", "eye_drops", "ophthalmic", "dexamethasone 0.1 %",
      "bottle", package="5", atc="S01BA01", synonyms="Maxidex", extra={"drops_per_ml": 20}),
    # ------------------------------------------------------------------ gout, supplements
    P("RX-ALLOP-100-TAB", "Allopurinol 100 mg tablet", TAB, "oral", "allopurinol 100 mg", TAB, pack=28,
      atc="M04AA01", synonyms="Zyloric|Zyloprim"),
    P("RX-FOLIC-5-TAB", "Folic acid 5 mg tablet", TAB, "oral", "folic acid 5 mg", TAB, pack=28, atc="B03BB01"),
]
# fmt: on
