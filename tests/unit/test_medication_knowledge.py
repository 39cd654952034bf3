"""The bundled medication knowledge: tables load, names resolve, every ONC high-priority pair fires for
every member of its classes."""

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


def test_non_interrupting_onc_2013_interactions_inform_without_interrupting():
    fired = _rules(("levothyroxine", "calcium carbonate"))
    alert = fired["ddi:onc-ni:levothyroxine+cation"]
    assert not alert.interrupt and alert.severity == "minor"


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
