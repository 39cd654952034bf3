"""The catalogue a hospital starts with (LOINC codes with right check digits, UCUM units, prices
billing knows, ranges that never overlap, critical limits where a laboratory must phone, some
paediatric bands), and editing it: every form field checked, every change audited."""

from __future__ import annotations

from collections import defaultdict

import pytest
from sqlalchemy import func, select

from hms_app.errors import Forbidden, InvalidFields, ValidationError
from hms_app.models.billing import ChargeItemDefinition
from hms_app.models.laboratory import LabPanelMember, LabReferenceRange, LabTest
from hms_app.models.security import AuditEvent
from hms_app.seed.laboratory import load_catalogue
from hms_app.services.laboratory.catalogue import (
    delete_range,
    list_tests,
    loinc_valid,
    orderable_tests,
    save_range,
    save_test,
    set_panel_members,
    test_detail,
)
from hms_app.services.laboratory.orders import place_order
from hms_app.services.laboratory.units import is_valid_unit
from tests.services.lab_world import build_lab_world


@pytest.fixture
def world(session):
    return build_lab_world(session)


def test_the_seeded_catalogue_is_complete_and_consistent(session, world):
    tests = session.execute(select(LabTest)).scalars().all()
    singles = [t for t in tests if not t.is_panel]
    assert len(tests) >= 80 and len(singles) >= 80
    assert all(loinc_valid(t.code) for t in tests)
    assert all(is_valid_unit(t.unit) for t in singles if t.unit)
    assert {t.result_type for t in singles} == {"numeric", "coded", "text"}
    assert all(t.choices and len(t.choices.split("|")) >= 2 for t in singles if t.result_type == "coded")
    prices = set(
        session.execute(
            select(ChargeItemDefinition.code).where(ChargeItemDefinition.active.is_(True))
        ).scalars()
    )
    assert all(t.price_code in prices for t in tests)  # every test can be charged at collection
    by_code = {t.code: t for t in tests}
    for code in (
        "58410-2",
        "51990-0",
        "24323-8",
        "24331-1",
        "4548-4",
        "3016-3",
        "3024-7",
        "10839-9",
        "24357-6",
        "5902-2",
        "6301-6",
        "14979-9",
        "600-7",
        "1988-5",
        "2276-4",
        "2132-9",
    ):
        assert code in by_code, code
    assert by_code["600-7"].result_type == "text" and by_code["5802-4"].result_type == "coded"
    members = defaultdict(list)
    for panel_id, test_id in session.execute(select(LabPanelMember.panel_id, LabPanelMember.test_id)).all():
        members[panel_id].append(test_id)
    ids = {t.id: t for t in tests}
    assert {ids[m].code for m in members[by_code["51990-0"].id]} >= {"2951-2", "2823-3", "2160-0", "2345-7"}
    assert all(not ids[m].is_panel for ms in members.values() for m in ms)
    assert {t.id for t in tests if t.is_panel} == set(members)


def test_ranges_never_overlap_and_critical_limits_sit_outside_the_normal_ones(session, world):
    ranges = session.execute(select(LabReferenceRange)).scalars().all()
    by_test_sex = defaultdict(list)
    for r in ranges:
        by_test_sex[(r.test_id, r.sex)].append(r)
        if r.low is not None and r.high is not None:
            assert r.low <= r.high
        if r.critical_low is not None and r.low is not None:
            assert r.critical_low < r.low
        if r.critical_high is not None and r.high is not None:
            assert r.critical_high > r.high
    for bands in by_test_sex.values():
        bands.sort(key=lambda r: r.age_min_days)
        for before, after in zip(bands, bands[1:], strict=False):
            assert before.age_max_days is not None and before.age_max_days <= after.age_min_days
    codes = dict(session.execute(select(LabTest.id, LabTest.code)).all())
    adult_potassium = next(r for r in ranges if codes[r.test_id] == "2823-3" and r.age_max_days is None)
    assert (str(adult_potassium.critical_low), str(adult_potassium.critical_high)) == ("2.8000", "6.2000")
    critical = {codes[r.test_id] for r in ranges if r.critical_low is not None or r.critical_high is not None}
    assert {"2823-3", "2951-2", "2345-7", "718-7", "777-3", "6301-6", "10839-9"} <= critical
    paediatric = {codes[r.test_id] for r in ranges if r.age_max_days is not None and r.age_max_days <= 6575}
    assert {"2823-3", "718-7", "6690-2", "2160-0", "3016-3"} <= paediatric
    by_sex = {codes[r.test_id] for r in ranges if r.sex != "any"}
    assert {"718-7", "2160-0", "89579-7", "2276-4"} <= by_sex


def test_loading_the_catalogue_again_changes_nothing(session, world):
    before = session.execute(select(func.count(LabTest.id))).scalar_one()
    ranges = session.execute(select(func.count(LabReferenceRange.id))).scalar_one()
    potassium = session.execute(select(LabTest).where(LabTest.code == "2823-3")).scalar_one()
    potassium.name = "Potassium (edited by the hospital)"
    session.commit()
    load_catalogue(session)
    session.commit()
    assert session.execute(select(func.count(LabTest.id))).scalar_one() == before
    assert session.execute(select(func.count(LabReferenceRange.id))).scalar_one() == ranges
    assert session.get(LabTest, potassium.id).name == "Potassium (edited by the hospital)"


def test_the_order_dialog_finds_tests_and_panels_panels_first(session, world):
    found = orderable_tests(session, actor=world.physician, query="glucose")
    assert found and all("glucose" in (t.name + t.short_name).lower() for t in found)
    panels = orderable_tests(session, actor=world.physician, query="panel", limit=5)
    assert len(panels) == 5 and all(p.is_panel and p.members > 0 for p in panels)
    assert orderable_tests(session, actor=world.physician, query="4548-4")[0].short_name == "HbA1c"
    with pytest.raises(Forbidden):
        orderable_tests(session, actor=world.tech, query="glucose")


def test_the_catalogue_pages_in_sql_and_shows_a_test_with_its_ranges(session, world):
    first = list_tests(session, actor=world.tech, page=0, page_size=50)
    second = list_tests(session, actor=world.tech, page=1, page_size=50)
    assert first.total == second.total >= 80 and len(first.rows) == 50
    assert not {r.id for r in first.rows} & {r.id for r in second.rows}
    assert list_tests(session, actor=world.admin, query="HbA1c").rows[0].code == "4548-4"
    potassium = test_detail(session, actor=world.tech, test_id=world.test("2823-3"))
    assert potassium.test.unit == "mmol/L" and potassium.test.ranges == 4 and potassium.decimals == 1
    adult = next(r for r in potassium.ranges if r.age_max_days is None)
    assert (adult.low, adult.critical_high, adult.normal_text) == ("3.5000", "6.2000", "")
    bmp = test_detail(session, actor=world.tech, test_id=world.test("51990-0"))
    assert [m.short_name for m in bmp.members][:2] == ["Na", "K"]
    with pytest.raises(Forbidden):
        list_tests(session, actor=world.receptionist)


FORM = {
    "code": "2339-0",
    "name": "Glucose [Mass/volume] in Blood",
    "short_name": "BGlu",
    "specimen_type": "Capillary blood",
    "container": "Fingerstick",
    "result_type": "numeric",
    "unit": "mg/dL",
    "decimals": "0",
    "price_code": "LAB-CHEM",
}


def test_a_new_test_is_checked_field_by_field_and_audited(session, world):
    with pytest.raises(InvalidFields) as refused:
        save_test(
            session,
            actor=world.admin,
            test_id=None,
            form={
                **FORM,
                "code": "2339-1",
                "unit": "mg/dl/",
                "price_code": "NOPE",
                "decimals": "9",
                "name": "",
            },
        )
    assert set(refused.value.errors) == {"code", "unit", "price_code", "decimals", "name"}
    assert "check digit" in refused.value.errors["code"]
    with pytest.raises(InvalidFields) as taken:
        save_test(session, actor=world.admin, test_id=None, form={**FORM, "code": "2823-3"})
    assert "already in the catalogue" in taken.value.errors["code"]
    with pytest.raises(InvalidFields) as coded:
        save_test(session, actor=world.admin, test_id=None, form={**FORM, "result_type": "coded", "unit": ""})
    assert "choices" in coded.value.errors
    test_id = save_test(session, actor=world.admin, test_id=None, form=FORM)
    created = session.get(LabTest, test_id)
    assert (created.unit, created.decimals, created.price_code, created.active) == (
        "mg/dL",
        0,
        "LAB-CHEM",
        True,
    )
    save_test(session, actor=world.admin, test_id=test_id, form={**FORM, "short_name": "POC Glu"})
    details = (
        session.execute(
            select(AuditEvent.detail).where(AuditEvent.action == "lab.catalogue.test").order_by(AuditEvent.id)
        )
        .scalars()
        .all()
    )
    assert details[0].endswith("created") and "short_name=POC Glu" in details[1]
    with pytest.raises(Forbidden):
        save_test(session, actor=world.tech, test_id=None, form=FORM)


def test_a_test_that_was_ordered_cannot_become_a_panel(session, world):
    place_order(session, actor=world.physician, patient_id=world.man, test_ids=[world.test("2823-3")])
    detail = test_detail(session, actor=world.admin, test_id=world.test("2823-3"))
    form = {
        "code": "2823-3",
        "name": detail.test.name,
        "short_name": "K",
        "is_panel": "true",
        "specimen_type": detail.test.specimen_type,
        "container": detail.test.container,
        "result_type": "numeric",
    }
    with pytest.raises(InvalidFields) as refused:
        save_test(session, actor=world.admin, test_id=world.test("2823-3"), form=form)
    assert "is_panel" in refused.value.errors


def test_ranges_are_checked_for_order_of_limits_and_overlapping_ages(session, world):
    test_id = save_test(session, actor=world.admin, test_id=None, form=FORM)
    adult = {
        "sex": "any",
        "age_min_days": "6575",
        "low": "70",
        "high": "140",
        "critical_low": "40",
        "critical_high": "500",
    }
    range_id = save_range(session, actor=world.admin, test_id=test_id, range_id=None, form=adult)
    with pytest.raises(InvalidFields, match="overlaps"):
        save_range(
            session, actor=world.admin, test_id=test_id, range_id=None, form={**adult, "age_min_days": "7000"}
        )
    child = {"sex": "any", "age_min_days": "0", "age_max_days": "6575", "low": "60", "high": "120"}
    save_range(
        session, actor=world.admin, test_id=test_id, range_id=None, form=child
    )  # touching, not overlapping
    save_range(session, actor=world.admin, test_id=test_id, range_id=range_id, form={**adult, "high": "150"})
    assert str(session.get(LabReferenceRange, range_id).high) == "150.0000"
    with pytest.raises(InvalidFields) as refused:
        save_range(
            session,
            actor=world.admin,
            test_id=test_id,
            range_id=None,
            form={
                "sex": "male",
                "age_min_days": "10",
                "age_max_days": "5",
                "low": "9",
                "high": "3",
                "critical_low": "10",
            },
        )
    assert {"age_max_days", "high", "critical_low"} <= set(refused.value.errors)
    with pytest.raises(InvalidFields, match="at least one limit"):
        save_range(session, actor=world.admin, test_id=test_id, range_id=None, form={"sex": "female"})
    nitrite = world.test("5802-4")
    with pytest.raises(InvalidFields, match="one of the test's choices"):
        save_range(
            session,
            actor=world.admin,
            test_id=nitrite,
            range_id=None,
            form={"sex": "male", "normal_text": "Clear"},
        )
    delete_range(session, actor=world.admin, range_id=range_id)
    assert session.get(LabReferenceRange, range_id) is None
    assert (
        session.execute(
            select(func.count(AuditEvent.id)).where(AuditEvent.action.like("lab.catalogue.range%"))
        ).scalar_one()
        == 4
    )
    with pytest.raises(ValidationError, match="panel"):
        save_range(session, actor=world.admin, test_id=world.test("51990-0"), range_id=None, form=adult)


def test_a_panel_holds_single_active_tests_in_the_order_given(session, world):
    bedside = {
        **FORM,
        "code": "34714-6",
        "name": "Bedside panel",
        "short_name": "Bedside",
        "is_panel": "true",
    }
    panel_id = save_test(
        session, actor=world.admin, test_id=None, form={**bedside, "unit": "", "result_type": "text"}
    )
    set_panel_members(
        session, actor=world.admin, panel_id=panel_id, test_ids=[world.test("2823-3"), world.test("2951-2")]
    )
    assert [m.short_name for m in test_detail(session, actor=world.admin, test_id=panel_id).members] == [
        "K",
        "Na",
    ]
    with pytest.raises(ValidationError, match="a panel holds single tests"):
        set_panel_members(session, actor=world.admin, panel_id=panel_id, test_ids=[world.test("51990-0")])
    with pytest.raises(ValidationError, match="single test"):
        set_panel_members(
            session, actor=world.admin, panel_id=world.test("2823-3"), test_ids=[world.test("2951-2")]
        )
    placed = place_order(session, actor=world.physician, patient_id=world.woman, test_ids=[panel_id])
    assert len(placed.specimen_ids) == 1
