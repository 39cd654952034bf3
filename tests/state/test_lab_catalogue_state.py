"""The laboratory catalogue (/lab/catalogue and /lab/catalogue/[test_id]) driven as browser tabs
would: the administrator who keeps it searches, adds a test with a message under each wrong field,
gives it reference ranges (and is told when the limits are out of order), makes a panel of tests;
a technician reads the catalogue but changes nothing; a receptionist is refused."""

from __future__ import annotations

from sqlalchemy import select

import hms_app.hms_app  # noqa: F401  (the app module: registers every page and state)
from hms_app import db as hms_db
from hms_app.models.laboratory import LabPanelMember, LabReferenceRange, LabTest
from hms_app.state.laboratory.catalogue import LabCatalogueState
from hms_app.state.laboratory.test_detail import LabTestState
from tests.state.lab_desk_world import build_desk, quiet  # noqa: F401  (quiet: an autouse fixture)
from tests.state.test_patients_state import _call, _redirects, _tab, _toasts

NEW_TEST = {
    "code": "14804-9",
    "name": "Lactate dehydrogenase, second method",
    "short_name": "LDH-2",
    "specimen_type": "Serum",
    "container": "Gold SST",
    "result_type": "numeric",
    "unit": "U/L",
    "decimals": "0",
    "price_code": "",
    "duplicate_window_hours": "24",
    "portal_delay_hours": "0",
    "active": "on",
}


def _test(code: str) -> LabTest | None:
    with hms_db.session_scope() as s:
        return s.execute(select(LabTest).where(LabTest.code == code)).scalar_one_or_none()


async def test_the_administrator_adds_a_test_its_ranges_and_a_panel(session, configured_db):
    build_desk(session)
    listing = _tab(LabCatalogueState, "/lab/catalogue", "ada")
    await _call(listing, "load")
    assert listing.can_edit and listing.total >= 80 and len(listing.rows) == 50
    await _call(listing, "search", "potassium")
    assert [(r.code, r.short_name, r.kind, r.unit) for r in listing.rows][:1] == [
        ("2823-3", "K", "Number", "mmol/L")
    ]
    assert listing.rows[0].ranges == 4

    new = _tab(LabTestState, "/lab/catalogue/new", "ada")
    await _call(new, "load")
    assert new.can_edit and new.test_id == 0 and new.problem == ""
    # Every wrong field says what is wrong with it, at once.
    events = await _call(
        new,
        "save",
        {
            **NEW_TEST,
            "code": "14804-8",
            "name": "",
            "unit": "furlongs",
            "decimals": "9",
            "price_code": "NOPE",
        },
    )
    assert new.field_errors == {
        "code": "Enter a LOINC code such as 2823-3 (its last digit is a check digit).",
        "name": "Name is required.",
        "unit": "furlongs is not a UCUM unit (for example mmol/L, g/dL, 10*9/L, %).",
        "decimals": "Decimals must be a whole number from 0 to 4.",
        "price_code": "Billing has no active service with the code NOPE.",
    }
    assert any("not saved" in t for t in _toasts(events)) and _test("14804-8") is None
    # The code of a test already in the catalogue.
    await _call(new, "save", {**NEW_TEST, "code": "2823-3"})
    assert new.field_errors == {"code": "2823-3 is already in the catalogue."}
    # An unticked "active" box is not in the form's data: the test is saved inactive, not active.
    events = await _call(new, "save", {k: v for k, v in NEW_TEST.items() if k != "active"})
    saved = _test("14804-9")
    assert saved is not None and not saved.active and saved.unit == "U/L"
    assert _redirects(events) == [f"/lab/catalogue/{saved.id}"]

    detail = _tab(LabTestState, f"/lab/catalogue/{saved.id}", "ada")
    await _call(detail, "load")
    assert (detail.title, detail.form.unit, detail.form.active, detail.ranges) == (
        "14804-9 · Lactate dehydrogenase, second method",
        "U/L",
        False,
        [],
    )
    await _call(detail, "save", NEW_TEST)
    assert detail.form.active and detail.field_errors == {}

    await _call(detail, "new_range")
    assert detail.range_open
    await _call(
        detail,
        "save_range",
        {
            "sex": "any",
            "age_min_days": "6575",
            "age_max_days": "",
            "low": "40",
            "high": "7",
            "critical_high": "5",
        },
    )
    assert detail.range_errors == {
        "high": "The high limit cannot be below the low limit.",
        "critical_high": "The critical high limit must be above the high limit.",
    }
    await _call(
        detail,
        "save_range",
        {
            "sex": "any",
            "age_min_days": "6575",
            "age_max_days": "",
            "low": "7",
            "high": "40",
            "critical_high": "1000",
        },
    )
    assert not detail.range_open
    [line] = detail.ranges
    assert (line.sex_label, line.ages, line.normal, line.critical_high) == (
        "Any",
        "18 y and over",
        "7 – 40",
        "1000",
    )
    await _call(detail, "new_range")
    await _call(detail, "save_range", {"sex": "any", "age_min_days": "0", "age_max_days": "7000", "low": "5"})
    assert detail.range_errors == {"age_min_days": "This age band overlaps another any range of the test."}
    await _call(detail, "on_range_dialog", False)
    events = await _call(detail, "delete_range", line.id)
    assert any("range for 18 y and over is removed" in t for t in _toasts(events)) and detail.ranges == []
    with hms_db.session_scope() as s:
        assert (
            s.execute(select(LabReferenceRange.id).where(LabReferenceRange.test_id == saved.id)).first()
            is None
        )

    # A panel of two tests, in the order chosen.
    await _call(new, "load")
    await _call(
        new,
        "save",
        {
            **NEW_TEST,
            "code": "34555-3",
            "name": "Liver enzymes",
            "short_name": "LFT-2",
            "is_panel": "on",
            "unit": "",
        },
    )
    panel = _test("34555-3")
    assert panel is not None and panel.is_panel
    tab = _tab(LabTestState, f"/lab/catalogue/{panel.id}", "ada")
    await _call(tab, "load")
    assert tab.saved_panel and tab.members == []
    await _call(tab, "search_members", "lactate dehydrogenase")
    assert "14804-9" in [m.code for m in tab.member_options]
    assert all(m.id != panel.id for m in tab.member_options)
    await _call(tab, "add_member", next(m.id for m in tab.member_options if m.code == "14804-9"))
    await _call(tab, "search_members", "alanine")
    await _call(tab, "add_member", next(m.id for m in tab.member_options if m.code == "1742-6"))
    await _call(tab, "move_member", tab.members[1].id, -1)
    assert tab.members_changed and [m.code for m in tab.members] == ["1742-6", "14804-9"]
    events = await _call(tab, "save_members")
    assert any("holds 2 tests" in t for t in _toasts(events)) and not tab.members_changed
    with hms_db.session_scope() as s:
        members = s.execute(
            select(LabTest.code)
            .join(LabPanelMember, LabPanelMember.test_id == LabTest.id)
            .where(LabPanelMember.panel_id == panel.id)
            .order_by(LabPanelMember.position)
        ).scalars()
        assert list(members) == ["1742-6", "14804-9"]


async def test_a_technician_reads_the_catalogue_and_a_receptionist_is_refused(session, configured_db):
    build_desk(session)
    potassium = _test("2823-3")
    lara = _tab(LabTestState, f"/lab/catalogue/{potassium.id}", "lara")
    await _call(lara, "load")
    assert not lara.can_edit and len(lara.ranges) == 4 and lara.form.short_name == "K"
    events = await _call(lara, "save", {**NEW_TEST, "code": "2823-3", "name": "Renamed"})
    assert any("Your role does not allow this" in t for t in _toasts(events))
    events = await _call(lara, "delete_range", lara.ranges[0].id)
    assert any("Your role does not allow this" in t for t in _toasts(events))
    assert _test("2823-3").name.startswith("Potassium")
    new = _tab(LabTestState, "/lab/catalogue/new", "lara")
    await _call(new, "load")
    assert new.problem == "Your role does not allow adding laboratory tests."

    bad = _tab(LabTestState, "/lab/catalogue/12abc", "lara")
    await _call(bad, "load")
    assert bad.problem.startswith("This address does not name a laboratory test")

    rita = _tab(LabCatalogueState, "/lab/catalogue", "rita")
    events = await _call(rita, "load")
    assert rita.rows == [] and not rita.can_edit and _toasts(events)
    rita_detail = _tab(LabTestState, f"/lab/catalogue/{potassium.id}", "rita")
    await _call(rita_detail, "load")
    assert rita_detail.problem and rita_detail.ranges == [] and rita_detail.form.code == ""
