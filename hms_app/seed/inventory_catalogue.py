"""The demo hospital's stock catalogue: suppliers with their lead times and GS1 company prefixes,
and about ninety items with their packs, costs, shelf lives and how much each store or department
uses in a week. Data only; ``seed/inventory.py`` turns it into stores, levels and a year of moves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# key: (name, contact, promised lead time in days, GS1 company prefix, days late it usually runs)
SUPPLIERS = {
    "meridian": ("Meridian Medical Supplies", "Order desk", 5, "5031234", (-1, 2)),
    "northgate": ("Northgate Surgical", "Karen Holt", 10, "5061987", (0, 3)),
    "apex": ("Apex Pharma Wholesale", "Pharmacy orders", 3, "5012876", (0, 1)),
    "baxcare": ("Baxcare Fluids", "Customer service", 7, "5413765", (-1, 2)),
    "lumen": ("Lumen Diagnostics", "Lab accounts", 14, "4047623", (3, 8)),  # runs late
    "radiant": ("Radiant Imaging Pharma", "Contrast orders", 10, "7612379", (0, 2)),
    "ortholine": ("OrthoLine Implants", "Theatre liaison", 21, "0885432", (-2, 4)),
    "cardiotech": ("CardioTech Devices", "Cath lab desk", 28, "0813456", (-3, 3)),
    "cleancare": ("CleanCare Linen & Hygiene", "Depot", 4, "5019283", (0, 1)),
}
# Ward stores use stock at different rates (an intensive care bed uses far more than a cot).
WARD_FACTORS = {"GEN": 1.0, "ORTH": 0.9, "PED": 0.5, "CARD": 1.4}
# Items that the supplier stopped delivering some weeks ago: their orders stay open and they run out.
BACKORDERED = ("SUP-CAN-22G", "MED-PIPTAZ")
BACKORDER_DAYS = 100


@dataclass(frozen=True)
class Spec:
    code: str
    name: str
    category: str
    unit: str  # the base unit
    pack: tuple[str, int]  # the pack it is ordered in: ("box", 100)
    cost: int  # cents per base unit
    supplier: str
    life: int | None = None  # shelf life in days (None: lot and expiry not tracked)
    price: int | None = None  # cents per base unit charged to a patient (None: not chargeable)
    ward: int = 0  # base units a ward store uses in a week (scaled by WARD_FACTORS)
    wards: tuple[str, ...] = ("GEN", "ORTH", "PED", "CARD")  # the wards that stock it
    depts: dict[str, int] = field(default_factory=dict)  # department -> base units a week from home
    unit_gtin: bool = True  # the base unit carries its own GTIN (a tablet does not)


def S(*args, **kwargs) -> Spec:  # noqa: N802 - a table reads better with a short constructor
    return Spec(*args, **kwargs)


ITEMS = [
    # ---------------------------------------------------------------- medical supplies (central)
    S("SUP-GLV-NIT-S", "Nitrile examination gloves, small", "supply", "each", ("box", 100), 6, "meridian",
      depts={"ED": 150, "OBG": 100}),
    S("SUP-GLV-NIT-M", "Nitrile examination gloves, medium", "supply", "each", ("box", 100), 6, "meridian",
      ward=700, depts={"ED": 500, "OBG": 200, "LAB": 150}),
    S("SUP-GLV-NIT-L", "Nitrile examination gloves, large", "supply", "each", ("box", 100), 6, "meridian",
      depts={"ED": 250}),
    S("SUP-GLV-STER-7", "Sterile surgical gloves, size 7", "supply", "pair", ("box", 50), 88, "northgate",
      life=1825, depts={"ORTH": 60, "OBG": 30}),
    S("SUP-GLV-STER-8", "Sterile surgical gloves, size 8", "supply", "pair", ("box", 50), 88, "northgate",
      life=1825),
    S("SUP-SYR-2", "Syringe 2 ml, Luer slip", "supply", "each", ("box", 100), 5, "meridian", life=1825,
      depts={"GEN": 120}),
    S("SUP-SYR-5", "Syringe 5 ml, Luer lock", "supply", "each", ("box", 100), 7, "meridian", life=1825,
      depts={"ED": 200}),
    S("SUP-SYR-10", "Syringe 10 ml, Luer lock", "supply", "each", ("box", 100), 9, "meridian", life=1825,
      ward=140),
    S("SUP-SYR-50", "Syringe 50 ml, Luer lock, for pumps", "supply", "each", ("box", 60), 54, "meridian",
      life=1825),
    S("SUP-NDL-21G", "Hypodermic needle 21G x 1.5 in, green", "supply", "each", ("box", 100), 3, "meridian",
      life=1825),
    S("SUP-NDL-23G", "Hypodermic needle 23G x 1 in, blue", "supply", "each", ("box", 100), 3, "meridian",
      life=1825, depts={"GEN": 100}),
    S("SUP-CAN-18G", "IV cannula 18G, green, with port", "supply", "each", ("box", 50), 96, "northgate",
      life=1825, price=650, depts={"ED": 40}),
    S("SUP-CAN-20G", "IV cannula 20G, pink, with port", "supply", "each", ("box", 50), 92, "northgate",
      life=1825, price=650, ward=30, wards=("GEN", "ORTH", "CARD")),
    S("SUP-CAN-22G", "IV cannula 22G, blue, with port", "supply", "each", ("box", 50), 92, "northgate",
      life=1825, price=650, ward=18, wards=("PED", "GEN")),
    S("SUP-CAN-24G", "IV cannula 24G, yellow, paediatric", "supply", "each", ("box", 50), 118, "northgate",
      life=1825, price=700),
    S("SUP-GIVSET", "IV administration set, 20 drops/ml", "supply", "each", ("box", 50), 140, "baxcare",
      life=1825, price=900, ward=35),
    S("SUP-EXT-3WAY", "Extension set with three-way tap", "supply", "each", ("box", 50), 121, "baxcare",
      life=1825, price=800),
    S("SUP-DRS-FILM", "Transparent film dressing 6 x 7 cm", "supply", "each", ("box", 100), 38, "meridian",
      life=1825, depts={"GEN": 40}),
    S("SUP-DRS-FOAM", "Silicone foam dressing 10 x 10 cm", "supply", "each", ("box", 10), 415, "meridian",
      life=1825, price=1200, depts={"ORTH": 12}),
    S("SUP-DRS-GAUZE", "Gauze swabs 10 x 10 cm, sterile, pack of 5", "supply", "pack", ("case", 40), 24,
      "meridian", life=1825, depts={"ED": 120}),
    S("SUP-DRS-ISLAND", "Adhesive island dressing 9 x 15 cm", "supply", "each", ("box", 50), 33, "meridian",
      life=1825),
    S("SUP-BND-CREPE", "Crepe bandage 10 cm x 4.5 m", "supply", "each", ("box", 12), 62, "meridian"),
    S("SUP-TAPE-25", "Surgical tape 2.5 cm x 9 m", "supply", "roll", ("box", 12), 71, "meridian"),
    S("SUP-CATH-14F", "Foley catheter 14 Fr, two-way, silicone", "supply", "each", ("box", 10), 460,
      "northgate", life=1825, price=1500, depts={"OBG": 8}),
    S("SUP-CATH-16F", "Foley catheter 16 Fr, two-way, silicone", "supply", "each", ("box", 10), 460,
      "northgate", life=1825, price=1500),
    S("SUP-UBAG-2L", "Urine drainage bag 2 l, with tap", "supply", "each", ("box", 30), 88, "northgate",
      life=1825),
    S("SUP-NGT-12F", "Nasogastric tube 12 Fr", "supply", "each", ("box", 20), 215, "northgate", life=1825,
      price=900),
    S("SUP-SUCT-14F", "Suction catheter 14 Fr", "supply", "each", ("box", 100), 29, "northgate", life=1825),
    S("SUP-O2-MASK", "Oxygen mask, adult, with 2 m tubing", "supply", "each", ("box", 50), 105, "meridian",
      life=1825),
    S("SUP-NEB-KIT", "Nebuliser mask kit, adult", "supply", "each", ("box", 50), 138, "meridian", life=1825),
    S("SUP-NASAL-CAN", "Nasal oxygen cannula, adult", "supply", "each", ("box", 50), 64, "meridian",
      life=1825),
    S("SUP-ECG-ELEC", "ECG electrodes, foam, adult", "supply", "each", ("bag", 50), 8, "meridian",
      life=730, depts={"CARD": 300, "ED": 150}),
    S("SUP-ALC-SWAB", "Alcohol swabs, 70 % isopropyl", "supply", "each", ("box", 200), 1, "meridian",
      depts={"GEN": 200, "ED": 150}),
    S("SUP-SHARPS-5L", "Sharps container 5 l", "supply", "each", ("case", 25), 290, "meridian"),
    S("SUP-APRON", "Disposable apron, white, on a roll", "supply", "each", ("roll", 100), 4, "cleancare"),
    S("SUP-MASK-IIR", "Surgical mask, type IIR", "supply", "each", ("box", 50), 9, "meridian",
      depts={"ED": 200, "OBG": 80}),
    S("SUP-MASK-FFP3", "FFP3 respirator, valved", "supply", "each", ("box", 20), 210, "meridian", life=1825),
    S("SUP-SUT-3-0", "Suture polyglactin 3-0, 70 cm, taper needle", "supply", "each", ("box", 12), 395,
      "northgate", life=1825, price=1100, depts={"OBG": 12, "ORTH": 10}),
    S("SUP-SUT-4-0", "Suture nylon 4-0, 45 cm, cutting needle", "supply", "each", ("box", 12), 310,
      "northgate", life=1825, price=950, depts={"ED": 15}),
    S("SUP-BLADE-11", "Scalpel blade No. 11, sterile", "supply", "each", ("box", 100), 14, "northgate",
      life=1825),
    S("SUP-TUBE-EDTA", "Blood collection tube, EDTA 4 ml, lavender", "supply", "each", ("rack", 100), 11,
      "lumen", life=540, depts={"LAB": 500}),
    S("SUP-TUBE-SST", "Blood collection tube, SST 5 ml, gold", "supply", "each", ("rack", 100), 13, "lumen",
      life=540, depts={"LAB": 450}),
    S("SUP-BC-SET", "Blood culture bottle set, aerobic and anaerobic", "supply", "set", ("box", 25), 690,
      "lumen", life=365, price=1800),
    # ---------------------------------------------------------------- medicines (pharmacy)
    S("MED-PCM-500", "Paracetamol 500 mg tablet", "medicine", "tablet", ("box", 100), 2, "apex", life=1095,
      price=15, ward=280, depts={"ED": 300}, unit_gtin=False),
    S("MED-PCM-IV", "Paracetamol 1 g/100 ml infusion", "medicine", "bottle", ("box", 12), 165, "apex",
      life=730, price=650, ward=20, wards=("ORTH", "CARD")),
    S("MED-IBU-400", "Ibuprofen 400 mg tablet", "medicine", "tablet", ("box", 84), 3, "apex", life=1095,
      price=20, depts={"GEN": 150}, unit_gtin=False),
    S("MED-AMOX-500", "Amoxicillin 500 mg capsule", "medicine", "capsule", ("box", 21), 9, "apex", life=1095,
      price=45, depts={"GEN": 210, "ED": 84}, unit_gtin=False),
    S("MED-COAMOX-IV", "Co-amoxiclav 1.2 g powder for injection", "medicine", "vial", ("box", 10), 310, "apex",
      life=1095, price=1400),
    S("MED-CEF-1G", "Ceftriaxone 1 g powder for injection", "medicine", "vial", ("box", 10), 195, "apex",
      life=1095, price=1250, ward=25, wards=("GEN", "CARD", "PED")),
    S("MED-PIPTAZ", "Piperacillin/tazobactam 4.5 g powder for infusion", "medicine", "vial", ("box", 10), 620,
      "apex", life=1095, price=2400, ward=14, wards=("CARD", "GEN")),
    S("MED-GENT-80", "Gentamicin 80 mg/2 ml ampoule", "medicine", "ampoule", ("box", 10), 115, "apex",
      life=1095, price=600),
    S("MED-MORPH-10", "Morphine sulfate 10 mg/ml ampoule", "medicine", "ampoule", ("box", 10), 135, "apex",
      life=1095, price=700, depts={"ED": 25}),
    S("MED-ONDAN-4", "Ondansetron 4 mg/2 ml ampoule", "medicine", "ampoule", ("box", 5), 48, "apex",
      life=1095, price=350, depts={"ED": 20}),
    S("MED-ENOX-40", "Enoxaparin 40 mg/0.4 ml prefilled syringe", "medicine", "syringe", ("box", 10), 280,
      "apex", life=1095, price=1100, ward=22, wards=("GEN", "ORTH")),
    S("MED-INS-SOL", "Insulin human soluble 100 units/ml, 10 ml vial", "medicine", "vial", ("box", 1), 1240,
      "apex", life=730, price=3500),
    S("MED-FUROS-20", "Furosemide 20 mg/2 ml ampoule", "medicine", "ampoule", ("box", 10), 62, "apex",
      life=1095, price=300),
    S("MED-SALB-NEB", "Salbutamol 2.5 mg/2.5 ml nebule", "medicine", "nebule", ("box", 20), 21, "apex",
      life=730, price=150),
    S("MED-OMEP-IV", "Omeprazole 40 mg powder for infusion", "medicine", "vial", ("box", 5), 390, "apex",
      life=1095, price=1500),
    S("MED-METF-500", "Metformin 500 mg tablet", "medicine", "tablet", ("box", 84), 2, "apex", life=1095,
      price=10, depts={"GEN": 300}, unit_gtin=False),
    S("MED-ATOR-20", "Atorvastatin 20 mg tablet", "medicine", "tablet", ("box", 28), 4, "apex", life=1095,
      price=20, depts={"GEN": 140}, unit_gtin=False),
    S("MED-LIDO-1", "Lidocaine 1 % 5 ml ampoule", "medicine", "ampoule", ("box", 10), 58, "apex", life=1095,
      price=300),
    S("MED-ADR-1", "Adrenaline 1 mg/ml ampoule", "medicine", "ampoule", ("box", 10), 96, "apex", life=548,
      price=600, depts={"ED": 6}),
    S("MED-NACL-1L", "Sodium chloride 0.9 % infusion 1000 ml bag", "medicine", "bag", ("carton", 10), 118,
      "baxcare", life=730, price=700, ward=45, depts={"ED": 40}),
    S("MED-NACL-500", "Sodium chloride 0.9 % infusion 500 ml bag", "medicine", "bag", ("carton", 20), 96,
      "baxcare", life=730, price=600),
    S("MED-HART-1L", "Compound sodium lactate (Hartmann's) 1000 ml bag", "medicine", "bag", ("carton", 10),
      132, "baxcare", life=730, price=750),
    S("MED-GLU5-500", "Glucose 5 % infusion 500 ml bag", "medicine", "bag", ("carton", 20), 104, "baxcare",
      life=730, price=650),
    S("MED-NACL-FLUSH", "Sodium chloride 0.9 % 10 ml prefilled flush syringe", "medicine", "syringe",
      ("box", 30), 36, "baxcare", life=730, ward=60),
    # ---------------------------------------------------------------- reagents (laboratory)
    S("RGT-HEM-DIL", "Haematology analyser diluent, 20 l", "reagent", "container", ("case", 1), 8900,
      "lumen", life=270, depts={"LAB": 1}),
    S("RGT-HEM-LYSE", "Haematology lyse reagent, 500 ml", "reagent", "bottle", ("case", 4), 12400, "lumen",
      life=240, depts={"LAB": 1}),
    S("RGT-GLU", "Glucose hexokinase reagent, 4 x 20 ml", "reagent", "kit", ("case", 1), 9600, "lumen",
      life=300, depts={"LAB": 1}),
    S("RGT-CREA", "Creatinine enzymatic reagent, 4 x 25 ml", "reagent", "kit", ("case", 1), 13800, "lumen",
      life=300, depts={"LAB": 1}),
    S("RGT-CRP", "CRP immunoturbidimetric reagent, 200 tests", "reagent", "kit", ("case", 1), 21500, "lumen",
      life=210),
    S("RGT-TROP", "High-sensitivity troponin I cartridges, 100 tests", "reagent", "test", ("pack", 100), 410,
      "lumen", life=180, depts={"LAB": 60}),
    S("RGT-HBA1C", "HbA1c reagent kit, 150 tests", "reagent", "kit", ("case", 1), 24900, "lumen", life=270),
    S("RGT-UA-STRIP", "Urinalysis test strips, 10 parameters", "reagent", "strip", ("bottle", 100), 38,
      "lumen", life=540, depts={"LAB": 120}),
    S("RGT-QC-CHEM", "Chemistry control serum, levels 1 and 2", "reagent", "vial", ("box", 6), 2850, "lumen",
      life=150, depts={"LAB": 2}),
    # ---------------------------------------------------------------- contrast (radiology)
    S("CON-IOHEX-350", "Iohexol 350 mgI/ml, 100 ml bottle", "contrast", "bottle", ("box", 10), 2380,
      "radiant", life=730, price=9500, depts={"RAD": 25}),
    S("CON-IOHEX-300", "Iohexol 300 mgI/ml, 50 ml bottle", "contrast", "bottle", ("box", 10), 1310,
      "radiant", life=730, price=5800, depts={"RAD": 12}),
    S("CON-GADO-15", "Gadobutrol 1 mmol/ml, 15 ml prefilled syringe", "contrast", "syringe", ("box", 5),
      6450, "radiant", life=1095, price=21000, depts={"RAD": 6}),
    S("CON-BARIUM", "Barium sulfate oral suspension, 450 ml", "contrast", "bottle", ("box", 24), 890,
      "radiant", life=730, price=3200),
    # ---------------------------------------------------------------- implants (central)
    S("IMP-HIP-STEM-12", "Cemented femoral hip stem, size 12", "implant", "each", ("each", 1), 145000,
      "ortholine", life=1825, price=390000, depts={"ORTH": 1}),
    S("IMP-HIP-CUP-52", "Cemented acetabular cup, 52 mm", "implant", "each", ("each", 1), 98000, "ortholine",
      life=1825, price=260000, depts={"ORTH": 1}),
    S("IMP-KNEE-FEM-4", "Total knee femoral component, size 4", "implant", "each", ("each", 1), 212000,
      "ortholine", life=1825, price=540000),
    S("IMP-SCREW-35", "Cortical screw 3.5 x 30 mm, titanium", "implant", "each", ("box", 10), 4200,
      "ortholine", life=1825, price=11500, depts={"ORTH": 8}),
    S("IMP-PLATE-LCP8", "Locking compression plate, 8 holes", "implant", "each", ("each", 1), 61000,
      "ortholine", life=1825, price=165000),
    S("IMP-PACER-DDD", "Dual-chamber pacemaker with leads", "implant", "each", ("each", 1), 485000,
      "cardiotech", life=1825, price=1150000),
    S("IMP-STENT-DES", "Drug-eluting coronary stent 3.0 x 18 mm", "implant", "each", ("each", 1), 74000,
      "cardiotech", life=730, price=210000, depts={"CARD": 2}),
    # ---------------------------------------------------------------- linen and other consumables
    S("LIN-SHEET", "Flat bed sheet, cotton", "linen", "each", ("bundle", 10), 690, "cleancare", depts={"GEN": 80, "ED": 40}),
    S("LIN-PILLOW", "Pillowcase, cotton", "linen", "each", ("bundle", 10), 240, "cleancare"),
    S("LIN-GOWN", "Patient gown, wrap-around", "linen", "each", ("bundle", 10), 820, "cleancare",
      depts={"ED": 30}),
    S("LIN-TOWEL", "Bath towel", "linen", "each", ("bundle", 10), 450, "cleancare"),
    S("LIN-BLANKET", "Cellular blanket, single", "linen", "each", ("bundle", 5), 1590, "cleancare"),
    S("CNS-HANDRUB", "Alcohol hand rub 500 ml, pump bottle", "consumable", "bottle", ("carton", 12), 395,
      "cleancare", depts={"GEN": 8}),
    S("CNS-WIPES", "Disinfectant wipes, tub of 200", "consumable", "tub", ("carton", 6), 640, "cleancare",
      depts={"ED": 4}),
    S("CNS-WASTE-BAG", "Clinical waste bag, yellow, 90 l", "consumable", "each", ("roll", 50), 19,
      "cleancare"),
    # Last, so that adding it left the draws for the items above as they were.
    S("MED-WARF-5", "Warfarin 5 mg tablet", "medicine", "tablet", ("box", 28), 6, "apex", life=1095,
      price=25, depts={"GEN": 56}, unit_gtin=False),
]  # fmt: skip

# The store a category is delivered to (and issued from to departments).
HOME_KIND = {
    "supply": "central",
    "implant": "central",
    "linen": "central",
    "consumable": "central",
    "medicine": "pharmacy",
    "reagent": "lab",
    "contrast": "radiology",
}


def gs1_check_digit(digits: str) -> str:
    """The GS1 mod-10 check digit of a GTIN's other digits (weights 3 and 1 from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return str((10 - total % 10) % 10)


def gtins(prefix: str, reference: int) -> tuple[str, str]:
    """A base unit's GTIN-13 (written as 14 digits) and its pack's GTIN-14 (indicator digit 1)."""
    body = (prefix + str(reference).zfill(12 - len(prefix)))[:12]
    unit = "0" + body + gs1_check_digit(body)
    pack_body = "1" + body
    return unit, pack_body + gs1_check_digit(pack_body)
