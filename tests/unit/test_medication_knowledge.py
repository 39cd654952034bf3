"""The bundled medication knowledge: tables load, names resolve, every ONC high-priority pair fires for
every member of its classes, and the ONC pairs that should not interrupt inform without interrupting."""

from __future__ import annotations

import itertools

import pytest

from hms_app.cds.medications import DrugUse, UnknownDrug, check_drugs, knowledge
from hms_app.cds.medications.knowledge import BUNDLED_DIR, INTERACTION_COLUMNS
from hms_app.cds.medications.tables import TableError, parse_table, read_table

# One hand-picked example per pair of Phansalkar et al. 2012 (JAMIA 19:735), written out independently of
# the tables so that a class that loses a member, or a pair that goes missing, fails here.
ONC_EXAMPLES = {
    "ddi:onc-hp:amphetamine+maoi": ("lisdexamfetamine", "phenelzine"),
    "ddi:onc-hp:atazanavir+ppi": ("atazanavir", "pantoprazole"),
    "ddi:onc-hp:febuxostat+thiopurine": ("febuxostat", "mercaptopurine"),
    "ddi:onc-hp:ssri+maoi": ("sertraline", "tranylcypromine"),
    "ddi:onc-hp:irinotecan+cyp3a4-inhibitor": ("irinotecan", "ketoconazole"),
    "ddi:onc-hp:opioid+maoi": ("meperidine", "selegiline"),
    "ddi:onc-hp:tca+maoi": ("amitriptyline", "isocarboxazid"),
    "ddi:onc-hp:qt+qt": ("sotalol", "dofetilide"),
    "ddi:onc-hp:ramelteon+cyp1a2": ("ramelteon", "fluvoxamine"),
    "ddi:onc-hp:cyp3a4-inducer+pi": ("rifampin", "darunavir"),
    "ddi:onc-hp:statin+cyp3a4-inhibitor": ("simvastatin", "clarithromycin"),
    "ddi:onc-hp:ergot+cyp3a4-inhibitor": ("ergotamine", "ritonavir"),
    "ddi:onc-hp:tizanidine+cyp1a2": ("tizanidine", "ciprofloxacin"),
    "ddi:onc-hp:tranylcypromine+procarbazine": ("tranylcypromine", "procarbazine"),
    "ddi:onc-hp:triptan+maoi": ("sumatriptan", "rasagiline"),
}


# One example per mapped pair of the 33 in Phansalkar et al. 2013 (JAMIA 20:489; the list as transcribed in
# dbmi-pitt/public-PDDI-analysis), written out independently of the tables. The paper's number is in the comment;
# 2, 26, 27 and 32 have no member in the formulary and 23 (ACE inhibitors/ARBs) is the hms rule ddi:acei+arb.
ONC_NI_EXAMPLES = {
    "ddi:onc-ni:acei+salicylate": ("lisinopril", "aspirin"),  # 1
    "ddi:onc-ni:beta-blocker+ssri": ("metoprolol", "fluoxetine"),  # 3
    "ddi:onc-ni:iron+ppi": ("ferrous sulfate", "omeprazole"),  # 4
    "ddi:onc-ni:thiazide+acei": ("hydrochlorothiazide", "enalapril"),  # 5
    "ddi:onc-ni:thyroid+calcium": ("levothyroxine", "calcium carbonate"),  # 6
    "ddi:onc-ni:thyroid+statin": ("levothyroxine", "atorvastatin"),  # 7
    "ddi:onc-ni:thiazide+nsaid": ("chlorthalidone", "ibuprofen"),  # 8
    "ddi:onc-ni:beta-blocker+thyroid": ("propranolol", "levothyroxine"),  # 9
    "ddi:onc-ni:macrolide-immunosuppressant+corticosteroid": ("tacrolimus", "prednisone"),  # 10
    "ddi:onc-ni:antacid+corticosteroid": ("aluminum hydroxide", "dexamethasone"),  # 11
    "ddi:onc-ni:bisphosphonate+calcium": ("alendronate", "calcium carbonate"),  # 12
    "ddi:onc-ni:cyanocobalamin+omeprazole": ("cyanocobalamin", "omeprazole"),  # 13
    "ddi:onc-ni:folic-acid+methotrexate": ("folic acid", "methotrexate"),  # 14
    "ddi:onc-ni:sulfonylurea+acei": ("glipizide", "ramipril"),  # 15
    "ddi:onc-ni:iron+thyroid": ("ferrous sulfate", "levothyroxine"),  # 16
    "ddi:onc-ni:anticoagulant+corticosteroid": ("enoxaparin", "methylprednisolone"),  # 17
    "ddi:onc-ni:acetaminophen+warfarin": ("acetaminophen", "warfarin"),  # 18
    "ddi:onc-ni:antacid+iron": ("magnesium hydroxide", "ferrous sulfate"),  # 19
    "ddi:onc-ni:warfarin+ppi": ("warfarin", "esomeprazole"),  # 20
    "ddi:onc-ni:ppi+imidazole": ("pantoprazole", "ketoconazole"),  # 21
    "ddi:onc-ni:beta-blocker+calcium": ("atenolol", "calcium carbonate"),  # 22
    "ddi:onc-ni:warfarin+statin": ("warfarin", "rosuvastatin"),  # 24
    "ddi:onc-ni:omeprazole+benzodiazepine": ("omeprazole", "diazepam"),  # 25
    "ddi:onc-ni:nsaid+beta-blocker": ("naproxen", "carvedilol"),  # 28
    "ddi:onc-ni:clopidogrel+aspirin": ("clopidogrel", "aspirin"),  # 29
    "ddi:onc-ni:oral-contraceptive+corticosteroid": ("ethinyl estradiol", "prednisolone"),  # 30
    "ddi:onc-ni:beta-blocker+dihydropyridine": ("bisoprolol", "amlodipine"),  # 31
    "ddi:onc-ni:nsaid+acei": ("diclofenac", "captopril"),  # 33
}


def _rules(drugs: tuple[str, ...]) -> dict[str, object]:
    return {alert.rule: alert for alert in check_drugs([DrugUse(name) for name in drugs])}


def test_the_knowledge_covers_the_common_drugs_with_codes():
    kb = knowledge()
    assert len(kb.ingredients) >= 150
    warfarin = kb.ingredient("warfarin")
    assert (
        warfarin.rxcui == "11289" and "B01AA03" in warfarin.atc and "oral_anticoagulant" in warfarin.classes
    )
    assert kb.version == kb.versions["interactions.csv"] and kb.source == "bundled"


@pytest.mark.parametrize(
    ("typed", "name"),
    [
        ("Warfarin", "warfarin"),
        ("COUMADIN", "warfarin"),
        ("paracetamol", "acetaminophen"),
        ("  Advil ", "ibuprofen"),
    ],
)
def test_names_resolve_by_generic_name_or_brand_in_any_case(typed, name):
    assert knowledge().ingredient(typed).name == name


def test_an_unknown_name_is_refused_with_a_suggestion():
    with pytest.raises(UnknownDrug) as caught:
        knowledge().resolve("warfarine")
    assert caught.value.name == "warfarine"
    assert "warfarin" in str(caught.value) and "generic ingredient name" in str(caught.value)
    assert knowledge().ingredient("xyzzy") is None


def test_the_table_holds_exactly_the_fifteen_onc_high_priority_pairs_all_interrupting():
    kb = knowledge()
    onc = {rule.rule: rule for rule in kb.interactions if rule.source == "onc-hp-2012"}
    assert set(onc) == set(ONC_EXAMPLES)
    assert all(rule.interrupt and rule.severity == "contraindicated" for rule in onc.values())


@pytest.mark.parametrize(("rule", "pair"), sorted(ONC_EXAMPLES.items()))
def test_each_onc_pair_fires_as_an_interrupting_alert(rule, pair):
    fired = _rules(pair)
    assert rule in fired, f"{pair} did not fire {rule}"
    assert fired[rule].interrupt and fired[rule].kind == "interaction"
    assert fired[rule].drugs == tuple(sorted(pair))


def test_every_member_of_every_onc_class_fires_its_pair():
    kb = knowledge()
    missing = []
    for rule in (r for r in kb.interactions if r.source == "onc-hp-2012"):
        for first, second in itertools.product(sorted(rule.a), sorted(rule.b)):
            if first != second and rule.rule not in _rules((first, second)):
                missing.append((rule.rule, first, second))
    assert not missing


def test_class_expansion_lists_the_expected_members():
    groups = knowledge().groups
    assert groups["maoi"].members == {
        "phenelzine",
        "tranylcypromine",
        "isocarboxazid",
        "selegiline",
        "rasagiline",
    }
    assert groups["ppi"].members >= {
        "omeprazole",
        "esomeprazole",
        "lansoprazole",
        "pantoprazole",
        "rabeprazole",
    }
    assert {"simvastatin", "lovastatin"} <= groups["statin_cyp3a4"].members
    assert "rosuvastatin" not in groups["statin_cyp3a4"].members


def test_the_onc_2013_rows_are_exactly_the_mapped_pairs_and_none_interrupts():
    onc = {rule.rule: rule for rule in knowledge().interactions if rule.source == "onc-ni-2013"}
    assert set(onc) == set(ONC_NI_EXAMPLES)
    assert all(not rule.interrupt and rule.severity in ("minor", "moderate") for rule in onc.values())


@pytest.mark.parametrize(("rule", "pair"), sorted(ONC_NI_EXAMPLES.items()))
def test_each_onc_2013_pair_informs_without_interrupting(rule, pair):
    fired = _rules(pair)
    assert rule in fired, f"{pair} did not fire {rule}"
    assert not fired[rule].interrupt and fired[rule].drugs == tuple(sorted(pair))


@pytest.mark.parametrize(
    ("pair", "rule"),
    [
        (("levothyroxine", "calcium carbonate"), "ddi:onc-ni:thyroid+calcium"),
        (("alendronate", "calcium carbonate"), "ddi:onc-ni:bisphosphonate+calcium"),
        (("hydrochlorothiazide", "ibuprofen"), "ddi:onc-ni:thiazide+nsaid"),
        (("lisinopril", "ibuprofen"), "ddi:onc-ni:nsaid+acei"),
    ],
)
def test_a_pair_split_out_of_a_broader_row_fires_one_rule_only(pair, rule):
    assert [name for name in _rules(pair) if name.startswith("ddi:")] == [rule]


@pytest.mark.parametrize(
    ("pair", "rule"),
    [
        (("ciprofloxacin", "calcium carbonate"), "ddi:quinolone+cation"),  # the paper has zinc only
        (
            ("levothyroxine", "aluminum hydroxide"),
            "ddi:levothyroxine+antacid",
        ),  # the paper has calcium and iron
        (("furosemide", "ibuprofen"), "ddi:nsaid+loop"),  # the paper has thiazides only
        (("losartan", "naproxen"), "ddi:nsaid+arb"),  # the paper has ACE inhibitors only
        (("lisinopril", "valsartan"), "ddi:acei+arb"),  # pair 23: kept as the major hms rule
    ],
)
def test_pairs_outside_the_paper_are_labelled_hms_and_still_do_not_interrupt(pair, rule):
    fired = _rules(pair)
    assert rule in fired and not fired[rule].interrupt
    assert not any(name.startswith("ddi:onc-ni:") for name in fired)
    assert next(r for r in knowledge().interactions if r.rule == rule).source == "hms"


def test_a_pair_without_any_interaction_gives_no_alert():
    assert check_drugs([DrugUse("amoxicillin"), DrugUse("acetaminophen")]) == []


def test_a_table_without_version_or_with_a_wrong_header_is_refused():
    good = (BUNDLED_DIR / "interactions.csv").read_text()
    with pytest.raises(TableError, match="version"):
        parse_table(
            "\n".join(line for line in good.splitlines() if "version:" not in line),
            "t.csv",
            INTERACTION_COLUMNS,
        )
    with pytest.raises(TableError, match="line 2: the header"):
        parse_table("# version: 1\nrule,a,b\n", "t.csv", INTERACTION_COLUMNS)
    assert read_table(BUNDLED_DIR / "interactions.csv", INTERACTION_COLUMNS).version == knowledge().version
