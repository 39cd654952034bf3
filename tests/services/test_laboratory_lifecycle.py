"""An order's path: ordered (panels expand, one specimen per container, duplicates warn) ->
collected (charged once, all or nothing) -> received by scan -> rejected and re-collected (the
chart says why) -> resulted -> verified by a second person -> released into the chart and the
observations population health reads -> corrected by a superseding row."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from hms_app.clock import held_at, utcnow
from hms_app.errors import Forbidden, ValidationError
from hms_app.models.billing import ChargeItem, ChargeItemDefinition
from hms_app.models.emr import Observation
from hms_app.models.laboratory import CriticalAlert, LabOrder, LabResult, LabTest, Specimen
from hms_app.models.security import AuditEvent
from hms_app.services.laboratory.orders import (
    DuplicateOrderWarning,
    cancel_order,
    duplicate_warnings,
    place_order,
)
from hms_app.services.laboratory.results import correct_result, enter_result, verify_results
from hms_app.services.laboratory.specimens import (
    collect_specimen,
    collection_list,
    receive_specimen,
    reception_list,
    reject_specimen,
    specimen_label_svg,
)
from hms_app.services.laboratory.views import patient_orders
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.services.population.refresh import refresh_population
from tests.services.lab_world import build_lab_world, received_order


@pytest.fixture
def world(session):
    return build_lab_world(session)


def _orders(session, request_id):
    return list(
        session.execute(
            select(LabOrder).where(LabOrder.request_id == request_id).order_by(LabOrder.id)
        ).scalars()
    )


def _charges(session, patient_id):
    return sorted(
        session.execute(
            select(ChargeItem.code).where(ChargeItem.patient_id == patient_id, ChargeItem.status != "void")
        )
        .scalars()
        .all()
    )


def test_a_panel_expands_to_its_members_and_each_container_gets_one_specimen(session, world):
    placed = place_order(
        session,
        actor=world.physician,
        patient_id=world.man,
        test_ids=[world.test("51990-0"), world.test("58410-2"), world.test("4548-4"), world.test("2823-3")],
        priority="urgent",
        clinical_question="Polyuria, query diabetes",
        fasting=True,
    )
    orders = _orders(session, placed.request_id)
    # BMP (8) + CBC (10) + HbA1c; potassium chosen alone as well is ordered once, with the BMP.
    assert len(orders) == 19
    potassium = [o for o in orders if o.test_id == world.test("2823-3")]
    assert len(potassium) == 1 and potassium[0].panel_id == world.test("51990-0")
    assert {o.panel_id for o in orders if o.test_id == world.test("4548-4")} == {None}
    # Serum (BMP) and EDTA (CBC + HbA1c share the lavender tube): two specimens.
    specimens = (
        session.execute(select(Specimen).where(Specimen.request_id == placed.request_id)).scalars().all()
    )
    assert sorted(s.container for s in specimens) == ["EDTA (lavender)", "Serum separator (gold)"]
    assert sorted(placed.accessions) == sorted(s.accession for s in specimens)
    assert all(a.startswith("S-") and len(a) == 10 for a in placed.accessions)
    assert placed.reference.startswith("LR-") and {o.priority for o in orders} == {"urgent"}
    assert all(o.status == "ordered" and o.specimen_id in placed.specimen_ids for o in orders)


def test_ordering_the_same_test_within_its_window_warns_until_confirmed(session, world):
    first = place_order(session, actor=world.physician, patient_id=world.man, test_ids=[world.test("2823-3")])
    assert (
        duplicate_warnings(
            session, actor=world.physician, patient_id=world.woman, test_ids=[world.test("2823-3")]
        )
        == []
    )
    warnings = duplicate_warnings(
        session, actor=world.physician, patient_id=world.man, test_ids=[world.test("24326-1")]
    )  # the electrolyte panel holds potassium
    # The test by the short name the lab screens use, not its long LOINC name.
    assert (
        len(warnings) == 1
        and warnings[0].startswith("K was already ordered")
        and first.reference in warnings[0]
    )
    with pytest.raises(DuplicateOrderWarning) as warned:
        place_order(session, actor=world.physician, patient_id=world.man, test_ids=[world.test("2823-3")])
    assert warned.value.warnings == warnings
    assert session.execute(select(func.count(LabOrder.id))).scalar_one() == 1  # nothing was written
    second = place_order(
        session,
        actor=world.physician,
        patient_id=world.man,
        test_ids=[world.test("2823-3")],
        confirm_duplicates=True,
    )
    assert second.warnings and second.warnings[0].startswith("K was already ordered")
    # Outside the 24-hour window, or after a cancellation, there is nothing to warn about.
    for order in session.execute(select(LabOrder)).scalars():
        cancel_order(session, actor=world.physician, order_id=order.id, reason="entered twice")
    assert (
        duplicate_warnings(
            session, actor=world.physician, patient_id=world.man, test_ids=[world.test("2823-3")]
        )
        == []
    )
    with held_at(utcnow() + timedelta(hours=25)):
        place_order(session, actor=world.physician, patient_id=world.woman, test_ids=[world.test("2823-3")])
    with held_at(utcnow() + timedelta(hours=50)):
        assert (
            duplicate_warnings(
                session, actor=world.physician, patient_id=world.woman, test_ids=[world.test("2823-3")]
            )
            == []
        )


def test_orders_are_validated_with_plain_messages(session, world):
    with pytest.raises(ValidationError, match="at least one"):
        place_order(session, actor=world.physician, patient_id=world.man, test_ids=[])
    with pytest.raises(ValidationError, match="routine, urgent or STAT"):
        place_order(
            session,
            actor=world.physician,
            patient_id=world.man,
            test_ids=[world.test("2823-3")],
            priority="asap",
        )
    with pytest.raises(ValidationError, match="does not exist"):
        place_order(session, actor=world.physician, patient_id=world.man, test_ids=[999999])
    with pytest.raises(ValidationError, match="300"):
        place_order(
            session,
            actor=world.physician,
            patient_id=world.man,
            test_ids=[world.test("2823-3")],
            clinical_question="x" * 301,
        )


def test_collection_charges_each_test_once_and_a_panel_by_its_own_price(session, world):
    placed = place_order(
        session,
        actor=world.physician,
        patient_id=world.woman,
        test_ids=[world.test("51990-0"), world.test("4548-4"), world.test("58410-2")],
    )
    for specimen_id in placed.specimen_ids:
        row = collect_specimen(session, actor=world.nurse, specimen_id=specimen_id)
        assert row.status == "collected" and row.collected_by == "nurse.ward" and row.collected_at is not None
    # BMP and CBC by their panel prices (not their members'), HbA1c by its own.
    assert _charges(session, world.woman) == ["LAB-BMP", "LAB-CBC", "LAB-HBA1C"]
    bmp = session.execute(select(ChargeItem).where(ChargeItem.code == "LAB-BMP")).scalar_one()
    assert bmp.source_type == "lab" and bmp.unit_price_cents == 3600 and bmp.entered_by == "nurse.ward"
    with pytest.raises(ValidationError, match="already collected"):
        collect_specimen(session, actor=world.nurse, specimen_id=placed.specimen_ids[0])
    assert _charges(session, world.woman) == ["LAB-BMP", "LAB-CBC", "LAB-HBA1C"]
    audit = (
        session.execute(
            select(AuditEvent.detail).where(AuditEvent.action == "lab.collect").order_by(AuditEvent.id)
        )
        .scalars()
        .all()
    )
    assert any("LAB-BMP" in detail for detail in audit)


def test_a_charge_that_fails_leaves_the_specimen_uncollected(session, world):
    placed = place_order(
        session, actor=world.physician, patient_id=world.man, test_ids=[world.test("3016-3")]
    )
    definition = session.execute(
        select(ChargeItemDefinition).where(ChargeItemDefinition.code == "LAB-TSH")
    ).scalar_one()
    definition.active = False  # billing withdrew the service after the order was placed
    session.commit()
    with pytest.raises(ValidationError, match="LAB-TSH"):
        collect_specimen(session, actor=world.nurse, specimen_id=placed.specimen_ids[0])
    session.rollback()
    specimen = session.get(Specimen, placed.specimen_ids[0])
    session.refresh(specimen)
    assert specimen.status == "pending" and specimen.collected_at is None
    assert {o.status for o in _orders(session, placed.request_id)} == {"ordered"}
    assert _charges(session, world.man) == []


def test_reception_by_scan_then_rejection_asks_for_a_new_sample_and_tells_the_chart(session, world):
    placed = place_order(
        session, actor=world.physician, patient_id=world.man, test_ids=[world.test("51990-0")]
    )
    specimen_id, accession = placed.specimen_ids[0], placed.accessions[0]
    assert [r.accession for r in collection_list(session, actor=world.nurse, patient_id=world.man)] == [
        accession
    ]
    with pytest.raises(ValidationError, match="not been collected"):
        receive_specimen(session, actor=world.tech, scan=accession)
    collect_specimen(session, actor=world.nurse, specimen_id=specimen_id)
    assert collection_list(session, actor=world.nurse, patient_id=world.man) == []
    waiting = reception_list(session, actor=world.tech)
    assert [r.accession for r in waiting.rows] == [accession] and waiting.rows[0].tests.startswith("Na, K")
    with pytest.raises(ValidationError, match="No specimen has the label"):
        receive_specimen(session, actor=world.tech, scan="S-99999999")
    received = receive_specimen(
        session, actor=world.tech, scan=f" {accession.lower()} \n"
    )  # scanners add noise
    assert received.status == "received" and received.received_at is not None
    with pytest.raises(ValidationError, match="already received"):
        receive_specimen(session, actor=world.tech, scan=accession)
    assert {o.status for o in _orders(session, placed.request_id)} == {"received"}
    potassium = next(o for o in _orders(session, placed.request_id) if o.test_id == world.test("2823-3"))
    enter_result(session, actor=world.tech, order_id=potassium.id, value="7.9")  # haemolysed: falsely high

    with pytest.raises(ValidationError, match="Choose why"):
        reject_specimen(session, actor=world.tech, specimen_id=specimen_id, reason="ugly")
    new = reject_specimen(
        session, actor=world.tech, specimen_id=specimen_id, reason="haemolysed", note="pink serum"
    )
    assert new.status == "pending" and new.accession != accession and new.id != specimen_id
    old = session.get(Specimen, specimen_id)
    session.refresh(old)
    assert (old.status, old.rejection_reason, old.rejected_by) == ("rejected", "haemolysed", "tech.one")
    orders = _orders(session, placed.request_id)
    assert {(o.status, o.specimen_id) for o in orders} == {("ordered", new.id)}
    assert (
        session.execute(select(func.count(LabResult.id))).scalar_one() == 0
    )  # the false result is withdrawn
    withdrawn = session.execute(
        select(AuditEvent.detail).where(AuditEvent.action == "lab.reject").order_by(AuditEvent.id)
    ).scalar_one()
    assert "7.9" in withdrawn and "Haemolysed" in withdrawn
    chart = patient_orders(session, actor=world.physician, patient_id=world.man)
    assert {"Na", "K"} <= {r.short_name for r in chart}
    assert {r.test_name for r in chart if r.short_name == "K"} == {
        "Potassium [Moles/volume] in Serum or Plasma"
    }
    assert {r.rejection_reason for r in chart} == {"Haemolysed: pink serum"}
    assert {(r.accession, r.specimen_status) for r in chart} == {(new.accession, "pending")}
    with pytest.raises(ValidationError, match="rejected"):
        receive_specimen(session, actor=world.tech, scan=accession)
    with pytest.raises(ValidationError, match="already rejected"):
        reject_specimen(session, actor=world.tech, specimen_id=specimen_id, reason="clotted")
    # Re-collection is not charged again.
    collect_specimen(session, actor=world.nurse, specimen_id=new.id)
    assert _charges(session, world.man) == ["LAB-BMP"]
    receive_specimen(session, actor=world.tech, scan=new.accession)
    assert {
        r.rejection_reason for r in patient_orders(session, actor=world.physician, patient_id=world.man)
    } == {""}


def test_the_label_carries_the_accession_as_code_128_and_is_audited(session, world):
    placed = place_order(
        session, actor=world.physician, patient_id=world.woman, test_ids=[world.test("718-7")]
    )
    svg = specimen_label_svg(session, actor=world.nurse, specimen_id=placed.specimen_ids[0])
    assert svg.startswith("<svg") and "FRAU, Eve" in svg and "EDTA (lavender)" in svg
    assert "data:image/svg+xml;base64," in svg
    audited = session.execute(
        select(AuditEvent).where(AuditEvent.action == "lab.label").order_by(AuditEvent.id)
    ).scalar_one()
    assert audited.patient_id == world.woman and audited.username == "nurse.ward"


def test_results_are_verified_by_someone_else_and_released_into_the_chart(session, world):
    order_id, _ = received_order(session, world, world.man, "4548-4")
    row = enter_result(session, actor=world.tech, order_id=order_id, value="8.4", comment="diabetic range")
    assert (row.value, row.unit, row.flag, row.status, row.reference_text) == (
        "8.4",
        "%",
        "H",
        "preliminary",
        "4.0-5.6",
    )
    with pytest.raises(Forbidden, match="someone else"):
        verify_results(session, actor=world.tech, result_ids=[row.id])
    session.rollback()
    # Before verification the technician may enter it again; the audit keeps the first value.
    row = enter_result(session, actor=world.tech, order_id=order_id, value="8.5")
    assert session.execute(select(func.count(LabResult.id))).scalar_one() == 1
    assert (
        "replaced 8.4"
        in session.execute(
            select(AuditEvent.detail).where(AuditEvent.action == "lab.result").order_by(AuditEvent.id.desc())
        )
        .scalars()
        .first()
    )
    assert session.execute(select(func.count(Observation.id))).scalar_one() == 0  # not in the chart yet
    assert verify_results(session, actor=world.second_tech, result_ids=[row.id]) == 1
    result = session.get(LabResult, row.id)
    session.refresh(result)
    assert (result.status, result.verified_by) == ("final", "tech.two")
    assert result.released_at is not None and result.portal_visible_from == result.released_at
    assert session.get(LabOrder, order_id).status == "released"
    copy = session.execute(select(Observation)).scalar_one()
    specimen = session.execute(select(Specimen).where(Specimen.patient_id == world.man)).scalar_one()
    assert (copy.code, copy.category, copy.value, copy.unit, copy.status) == (
        "4548-4",
        "laboratory",
        8.5,
        "%",
        "final",
    )
    assert copy.effective_at == specimen.collected_at and copy.patient_id == world.man
    with pytest.raises(ValidationError, match="already verified"):
        verify_results(session, actor=world.second_tech, result_ids=[row.id])
    with pytest.raises(ValidationError, match="correct it"):
        enter_result(session, actor=world.tech, order_id=order_id, value="9.0")
    # Population health reads the released HbA1c.
    refresh_population(session, actor=SYSTEM_ACTOR)
    from hms_app.models.population import PopulationSummary

    summary = session.execute(
        select(PopulationSummary).where(PopulationSummary.patient_id == world.man)
    ).scalar_one()
    assert summary.hba1c == pytest.approx(8.5)


def test_a_portal_delay_holds_a_sensitive_result_back(session, world):
    order_id, _ = received_order(session, world, world.woman, "56888-1")
    row = enter_result(session, actor=world.tech, order_id=order_id, value="non-reactive")
    verify_results(session, actor=world.second_tech, result_ids=[row.id])
    result = session.get(LabResult, row.id)
    assert result.portal_visible_from - result.released_at == timedelta(hours=72)
    assert session.execute(select(func.count(Observation.id))).scalar_one() == 0  # coded: no numeric copy


def test_a_critical_result_raises_one_alert_to_the_ordering_physician(session, world):
    order_id, _ = received_order(session, world, world.man, "2823-3")
    row = enter_result(session, actor=world.tech, order_id=order_id, value="6.9")
    assert row.flag == "HH"
    alert = session.execute(select(CriticalAlert)).scalar_one()
    assert (alert.source_type, alert.source_id, alert.patient_id) == ("lab_result", row.id, world.man)
    assert alert.recipient_id == world.physician.user_id and alert.status == "open"
    assert alert.summary == "K 6.9 mmol/L (HH)"  # the short name the lab screens use
    assert alert.escalate_at - alert.raised_at == timedelta(minutes=15)
    enter_result(session, actor=world.tech, order_id=order_id, value="7.0")  # re-entered: still one alert
    assert session.execute(select(func.count(CriticalAlert.id))).scalar_one() == 1
    enter_result(session, actor=world.tech, order_id=order_id, value="4.9")
    assert session.execute(select(func.count(CriticalAlert.id))).scalar_one() == 1


def test_a_correction_supersedes_the_released_result_and_the_chart_follows(session, world):
    order_id, _ = received_order(session, world, world.woman, "2160-0")
    row = enter_result(session, actor=world.tech, order_id=order_id, value="1.50")
    verify_results(session, actor=world.second_tech, result_ids=[row.id])
    with pytest.raises(ValidationError, match="Reason"):
        correct_result(session, actor=world.tech, result_id=row.id, value="0.95", comment="")
    corrected = correct_result(
        session, actor=world.second_tech, result_id=row.id, value="0.95", comment="Transcription error"
    )
    assert (corrected.value, corrected.flag, corrected.status) == ("0.95", "N", "preliminary")
    old = session.get(LabResult, row.id)
    session.refresh(old)
    assert old.superseded_by_id == corrected.id and old.value_numeric == pytest.approx(1.5)
    assert session.execute(select(Observation.status)).scalars().all() == ["entered-in-error"]
    assert session.get(LabOrder, order_id).status == "resulted"
    with pytest.raises(ValidationError, match="current"):
        correct_result(session, actor=world.tech, result_id=row.id, value="1.0", comment="again")
    specimen_id = session.get(LabOrder, order_id).specimen_id
    with pytest.raises(ValidationError, match="released results"):  # the corrected original was released
        reject_specimen(session, actor=world.tech, specimen_id=specimen_id, reason="clotted")
    with pytest.raises(Forbidden):
        verify_results(session, actor=world.second_tech, result_ids=[corrected.id])  # they typed it
    session.rollback()
    verify_results(session, actor=world.tech, result_ids=[corrected.id])
    statuses = session.execute(select(Observation.status, Observation.value).order_by(Observation.id)).all()
    assert statuses == [("entered-in-error", 1.5), ("corrected", 0.95)]
    assert session.get(LabResult, corrected.id).status == "corrected"
    detail = session.execute(
        select(AuditEvent.detail).where(AuditEvent.action == "lab.correct").order_by(AuditEvent.id)
    ).scalar_one()
    assert "1.50 -> 0.95" in detail and "Transcription error" in detail


def test_manual_results_wait_for_the_specimen_and_are_checked(session, world):
    placed = place_order(
        session, actor=world.physician, patient_id=world.man, test_ids=[world.test("5802-4")]
    )
    order = _orders(session, placed.request_id)[0]
    with pytest.raises(ValidationError, match="not been received"):
        enter_result(session, actor=world.tech, order_id=order.id, value="Negative")
    collect_specimen(session, actor=world.nurse, specimen_id=placed.specimen_ids[0])
    receive_specimen(session, actor=world.tech, scan=placed.accessions[0])
    with pytest.raises(ValidationError, match="Choose one of: Negative, Positive"):
        enter_result(session, actor=world.tech, order_id=order.id, value="maybe")
    numeric, _ = received_order(session, world, world.man, "2951-2")
    for bad in ("", "abc", "1,5", "140.12345", "1e99"):
        with pytest.raises(ValidationError):
            enter_result(session, actor=world.tech, order_id=numeric, value=bad)
    culture, _ = received_order(session, world, world.man, "630-4")
    text = enter_result(
        session,
        actor=world.tech,
        order_id=culture,
        value="Escherichia coli >10^5 CFU/mL; sensitive to nitrofurantoin",
    )
    assert text.flag == "A" and text.value.startswith("Escherichia coli")
    cancelled, accession = received_order(session, world, world.woman, "2951-2")
    cancel_order(session, actor=world.physician, order_id=cancelled, reason="patient discharged")
    with pytest.raises(ValidationError, match="cancelled"):
        enter_result(session, actor=world.tech, order_id=cancelled, value="140")
    specimen_id = session.execute(select(Specimen.id).where(Specimen.accession == accession)).scalar_one()
    with pytest.raises(ValidationError, match="nothing to re-collect"):
        reject_specimen(session, actor=world.tech, specimen_id=specimen_id, reason="leaked")


@pytest.mark.parametrize(
    ("who", "call"),
    [
        ("tech", lambda s, w: place_order(s, actor=w.tech, patient_id=w.man, test_ids=[w.test("2823-3")])),
        ("receptionist", lambda s, w: place_order(s, actor=w.receptionist, patient_id=w.man, test_ids=[1])),
        ("receptionist", lambda s, w: collect_specimen(s, actor=w.receptionist, specimen_id=1)),
        ("nurse", lambda s, w: receive_specimen(s, actor=w.nurse, scan="S-00000001")),
        ("nurse", lambda s, w: enter_result(s, actor=w.nurse, order_id=1, value="4.0")),
        ("physician", lambda s, w: verify_results(s, actor=w.physician, result_ids=[1])),
        ("physician", lambda s, w: reject_specimen(s, actor=w.physician, specimen_id=1, reason="clotted")),
        ("receptionist", lambda s, w: patient_orders(s, actor=w.receptionist, patient_id=w.man)),
    ],
)
def test_the_wrong_role_is_refused_before_anything_happens(session, world, who, call):
    with pytest.raises(Forbidden):
        call(session, world)
    assert session.execute(select(func.count(LabOrder.id))).scalar_one() == 0


def test_the_test_catalogue_is_what_the_orders_use(session, world):
    assert session.execute(select(func.count(LabTest.id))).scalar_one() >= 80
