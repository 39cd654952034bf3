"""Prescribing as a physician and an auditor see it: a structured order is prepared (each wrong
field named with its message, the quantity computed, the checks run on what the chart says),
signed only with a reason for every interrupting alert (stored and audited), shown on the chart's
medication list, stopped, changed and renewed with reasons; and refused to the wrong role or for
another patient's order."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from hms_app.clock import utcnow
from hms_app.errors import Conflict, Forbidden, InvalidFields, NotFound, ValidationError
from hms_app.models.emr import AllergyIntolerance, Condition, MedicationStatement, Observation
from hms_app.models.pharmacy import MedicationOrder, MedicationOrderAlert, MedicationOverride
from hms_app.models.security import AuditEvent
from hms_app.services.emr.chart import open_chart
from hms_app.services.pharmacy.changes import patient_orders, prepare_change, prepare_renewal, stop_order
from hms_app.services.pharmacy.checks import order_checks, patient_context
from hms_app.services.pharmacy.overrides import override_rates
from hms_app.services.pharmacy.prescribing import OverrideRequired, prepare_order, sign_order
from tests.services.pharmacy_world import (
    NOT_ASSESSED,
    PENICILLIN_ALLERGY,
    WARFARIN_NSAID,
    DrugUse,
    build_rx_world,
    engine,  # noqa: F401 - the fixture
)


@pytest.fixture
def world(session, engine):  # noqa: F811
    return build_rx_world(session)


def form(world, code: str, **fields) -> dict:
    data = {
        "product_id": world.product(code),
        "setting": "outpatient",
        "dose": "1",
        "dose_unit": "tablet",
        "route": "oral",
        "frequency": "QD",
        "duration_days": "7",
    }
    data.update(fields)
    return data


def ibuprofen(session, world, patient_id: int) -> int:
    prepared = prepare_order(
        session,
        actor=world.physician,
        patient_id=patient_id,
        data=form(world, "RX-IBU-400-TAB", dose="400", dose_unit="mg", frequency="TID", duration_days="5"),
    )
    return sign_order(session, actor=world.physician, order_id=prepared.order_id).order_id


def audits(session, action: str) -> list[AuditEvent]:
    return list(
        session.execute(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        ).scalars()
    )


def test_preparing_computes_the_quantity_and_shows_the_checks_before_signing(session, world):
    prepared = prepare_order(
        session,
        actor=world.physician,
        patient_id=world.man,
        data=form(world, "RX-APAP-500-TAB", dose="1", dose_unit="g", frequency="QID", duration_days="5"),
    )
    assert (prepared.dispense_quantity, prepared.dispense_unit) == (40, "tablet")
    assert prepared.sig == "1 g oral QID for 5 days"
    assert prepared.quantity_basis == "2 tablets x 20 doses = 40 tablets"
    assert [a.rule for a in prepared.alerts] == [NOT_ASSESSED]
    assert prepared.needs_override == ()
    order = session.get(MedicationOrder, prepared.order_id)
    assert (order.status, order.reference) == ("draft", prepared.reference)
    assert prepared.reference.startswith("RX-")
    shown = session.execute(select(MedicationOrderAlert.rule)).scalars().all()
    assert shown == [NOT_ASSESSED]
    assert audits(session, "medication.prepare")[0].patient_id == world.man


def test_every_wrong_field_is_named_with_its_message_at_once(session, world):
    with pytest.raises(InvalidFields) as error:
        prepare_order(
            session,
            actor=world.physician,
            patient_id=world.man,
            data=form(
                world,
                "RX-AMOX-500-CAP",
                dose="-2",
                dose_unit="mg",
                route="iv",
                frequency="sometimes",
                setting="home",
                duration_days="",
                start="tomorrow",
            ),
        )
    assert error.value.errors == {
        "dose": "Dose must be more than 0.",
        "frequency": "Choose a frequency from the list (QD, BID, TID, q8h ...).",
        "setting": "Choose inpatient or outpatient.",
        "start": "Write the start as a date (2026-05-01) or date and time.",
        "route": "Amoxicillin 500 mg capsule is given by mouth.",
    }
    with pytest.raises(InvalidFields) as error:
        prepare_order(
            session,
            actor=world.physician,
            patient_id=world.man,
            data=form(world, "RX-MORPH-10-INJ", dose="5", dose_unit="tablet", route="iv", frequency="PRN"),
        )
    assert error.value.errors == {
        "dose_unit": "Write the dose of Morphine sulfate 10 mg/1 mL injection in mg or g or mcg or mL.",
        "prn_indication": "Say what the medicine is for when required (pain, nausea ...).",
        "max_doses_per_day": "Maximum doses a day is required.",
    }
    with pytest.raises(InvalidFields) as error:
        prepare_order(
            session,
            actor=world.physician,
            patient_id=world.man,
            data=form(world, "RX-AMLO-5-TAB", duration_days=None),
        )
    assert error.value.errors == {"duration_days": "A prescription needs a duration or an end date."}
    with pytest.raises(InvalidFields) as error:
        prepare_order(
            session,
            actor=world.physician,
            patient_id=world.man,
            data=form(world, "RX-MORPH-10-INJ", dose="5", dose_unit="mg", route="iv", frequency="q4h", prn=True,
                      prn_indication="pain", max_doses_per_day="8"),
        )  # fmt: skip
    assert error.value.errors == {"max_doses_per_day": "q4h allows at most 6 doses a day."}
    with pytest.raises(InvalidFields, match="not on the formulary"):
        prepare_order(session, actor=world.physician, patient_id=world.man, data=form(world, "RX-ZOLP-5-TAB"))
    assert session.execute(select(MedicationOrder.id)).first() is None


def test_an_inpatient_order_without_an_end_is_supplied_a_week_and_an_end_date_counts_its_days(session, world):
    open_ended = prepare_order(
        session,
        actor=world.physician,
        patient_id=world.man,
        data=form(world, "RX-AMOX-500-CAP", dose="500", dose_unit="mg", frequency="TID", setting="inpatient",
                  duration_days=None),
    )  # fmt: skip
    assert open_ended.dispense_quantity == 21
    today = utcnow().date()
    until = prepare_order(
        session,
        actor=world.physician,
        patient_id=world.man,
        data=form(world, "RX-AMOX-500-CAP", dose="500", dose_unit="mg", frequency="TID", duration_days=None,
                  end_date=(today + timedelta(days=4)).isoformat()),
    )  # fmt: skip
    assert until.dispense_quantity == 15  # today and four more days


def test_signing_needs_a_reason_for_every_interrupting_alert_and_stores_and_audits_each(session, world):
    ibuprofen(session, world, world.man)
    prepared = prepare_order(
        session,
        actor=world.physician,
        patient_id=world.man,
        data=form(world, "RX-WARF-5-TAB", dose="5", dose_unit="mg"),
    )
    assert prepared.needs_override == (WARFARIN_NSAID,)
    assert prepared.alerts[0].interrupt and prepared.alerts[-1].rule == NOT_ASSESSED  # interrupting first
    with pytest.raises(OverrideRequired) as refused:
        sign_order(session, actor=world.physician, order_id=prepared.order_id)
    assert refused.value.field == "overrides"
    assert "Warfarin with an NSAID: bleeding." in str(refused.value)
    with pytest.raises(OverrideRequired):
        sign_order(
            session, actor=world.physician, order_id=prepared.order_id, overrides={WARFARIN_NSAID: "   "}
        )
    assert session.get(MedicationOrder, prepared.order_id).status == "draft"

    signed = sign_order(
        session,
        actor=world.physician,
        order_id=prepared.order_id,
        overrides={WARFARIN_NSAID: "Short course, INR checked on day 3", "no-such-rule": "ignored"},
    )
    assert session.get(MedicationOrder, signed.order_id).status == "active"
    overrides = session.execute(select(MedicationOverride)).scalars().all()
    assert [(o.rule, o.kind, o.severity, o.reason, o.overridden_by) for o in overrides] == [
        (WARFARIN_NSAID, "interaction", "major", "Short course, INR checked on day 3", "dr.rx")
    ]
    (audit,) = audits(session, "medication.override")
    assert audit.patient_id == world.man and "Short course, INR checked on day 3" in audit.detail
    assert WARFARIN_NSAID in audit.detail
    assert len(audits(session, "medication.order")) == 2


def test_the_checks_see_what_the_chart_says(session, world, engine):  # noqa: F811
    now = utcnow()
    session.add_all(
        [
            AllergyIntolerance(patient_id=world.woman, substance="Penicillin", severity="severe"),
            Observation(patient_id=world.woman, code="29463-7", display="Body weight", value=61.5, unit="kg",
                        effective_at=now),
            Observation(patient_id=world.woman, code="2160-0", display="Creatinine", value=1.8, unit="mg/dL",
                        effective_at=now),
            Condition(patient_id=world.woman, code="Z33.1", display="Pregnant state, incidental"),
            MedicationStatement(patient_id=world.woman, medication="Amlodipine 5 mg daily"),
            MedicationStatement(patient_id=world.woman, medication="Grandma's herbal tea"),
        ]
    )  # fmt: skip
    session.commit()
    context = patient_context(session, world.woman)
    assert (context.sex, context.weight_kg, context.pregnant, context.lactating) == (
        "female",
        Decimal("61.5"),
        True,
        None,
    )
    assert context.age_years == 35 and 30 <= context.egfr <= 45  # CKD-EPI 2021: 36 for 1.8 mg/dL at 35
    assert (context.allergy_status, context.allergies) == ("recorded", ("Penicillin",))
    assert [u.ingredient for u in context.current] == ["amlodipine"]

    alerts = order_checks(session, actor=world.physician, patient_id=world.woman, drug=DrugUse("amoxicillin"))
    assert [a.rule for a in alerts] == [PENICILLIN_ALLERGY]
    assert audits(session, "medication.check")[0].patient_id == world.woman

    ibuprofen(session, world, world.woman)
    new, seen = engine.contexts[-1]
    assert new == DrugUse("ibuprofen", Decimal("400"), "mg", Decimal(3), "oral")
    context = patient_context(session, world.woman)
    assert sorted(u.ingredient for u in context.current) == ["amlodipine", "ibuprofen"]
    ordered = next(u for u in context.current if u.ingredient == "ibuprofen")
    assert (ordered.dose, ordered.dose_unit, ordered.doses_per_day) == (Decimal(400), "mg", 3)


def test_a_combination_product_is_checked_for_each_ingredient(session, world, engine):  # noqa: F811
    prepare_order(
        session,
        actor=world.physician,
        patient_id=world.man,
        data=form(world, "RX-COCOD-30-TAB", dose="2", frequency="QID", duration_days="3"),
    )
    assert [(u.ingredient, u.dose) for u, _ctx in engine.contexts] == [
        ("acetaminophen", Decimal(1000)),
        ("codeine", Decimal(60)),
    ]


def test_the_charts_medication_list_shows_active_orders_and_follows_stop_change_and_renew(session, world):
    order_id = ibuprofen(session, world, world.man)

    def chart_medications():
        return [
            (m.medication, m.dosage, m.status)
            for m in open_chart(session, actor=world.physician, patient_id=world.man).medications
        ]

    assert chart_medications() == [("Ibuprofen 400 mg tablet", "400 mg oral TID for 5 days", "active")]

    changed = prepare_change(
        session,
        actor=world.physician,
        patient_id=world.man,
        order_id=order_id,
        reason="Pain worse at night",
        data=form(world, "RX-IBU-400-TAB", dose="400", dose_unit="mg", frequency="QID", duration_days="5"),
    )
    assert session.get(MedicationOrder, order_id).status == "active"  # until the change is signed
    sign_order(session, actor=world.physician, order_id=changed.order_id)
    old = session.get(MedicationOrder, order_id)
    assert (old.status, old.end_reason) == ("changed", "Pain worse at night")
    new = session.get(MedicationOrder, changed.order_id)
    assert (new.replaces_id, new.replace_kind, new.statement_id) == (order_id, "change", old.statement_id)
    assert chart_medications() == [("Ibuprofen 400 mg tablet", "400 mg oral QID for 5 days", "active")]

    renewed = prepare_renewal(
        session, actor=world.physician, patient_id=world.man, order_id=new.id, reason="Still needed"
    )
    assert renewed.dispense_quantity == 20
    sign_order(session, actor=world.physician, order_id=renewed.order_id)
    assert session.get(MedicationOrder, new.id).status == "completed"
    assert len(chart_medications()) == 1

    with pytest.raises(ValidationError, match="Reason is required"):
        stop_order(
            session, actor=world.physician, patient_id=world.man, order_id=renewed.order_id, reason=" "
        )
    stopped = stop_order(
        session,
        actor=world.physician,
        patient_id=world.man,
        order_id=renewed.order_id,
        reason="Gastric upset",
    )
    assert (stopped.status, stopped.end_reason) == ("stopped", "Gastric upset")
    assert chart_medications() == [("Ibuprofen 400 mg tablet", "400 mg oral QID for 5 days", "stopped")]
    with pytest.raises(Conflict, match="is stopped, not active"):
        stop_order(
            session, actor=world.physician, patient_id=world.man, order_id=renewed.order_id, reason="again"
        )
    history = patient_orders(session, actor=world.nurse, patient_id=world.man, include_ended=True)
    assert [(o.status, o.replace_kind) for o in history] == [
        ("stopped", "renew"),
        ("completed", "change"),
        ("changed", None),
    ]
    assert patient_orders(session, actor=world.nurse, patient_id=world.man) == []
    assert {a.action for a in audits(session, "medication.stop")} == {"medication.stop"}


def test_a_change_is_not_checked_against_the_order_it_replaces(session, world):
    order_id = ibuprofen(session, world, world.man)
    warfarin = prepare_order(
        session,
        actor=world.physician,
        patient_id=world.man,
        data=form(world, "RX-WARF-5-TAB", dose="5", dose_unit="mg"),
    )
    sign_order(
        session, actor=world.physician, order_id=warfarin.order_id, overrides={WARFARIN_NSAID: "INR weekly"}
    )
    # Changing the ibuprofen still meets the warfarin (another order), not the ibuprofen it replaces.
    changed = prepare_change(
        session, actor=world.physician, patient_id=world.man, order_id=order_id, reason="lower dose",
        data=form(world, "RX-IBU-400-TAB", dose="400", dose_unit="mg", frequency="BID", duration_days="3"),
    )  # fmt: skip
    assert changed.needs_override == (WARFARIN_NSAID,)


def test_wrong_roles_and_other_patients_orders_are_refused(session, world):
    order_id = ibuprofen(session, world, world.man)
    draft = prepare_order(
        session, actor=world.physician, patient_id=world.woman, data=form(world, "RX-AMLO-5-TAB")
    )
    for actor in (world.nurse, world.pharmacist, world.receptionist):
        with pytest.raises(Forbidden):
            prepare_order(session, actor=actor, patient_id=world.man, data=form(world, "RX-AMLO-5-TAB"))
        with pytest.raises(Forbidden):
            stop_order(session, actor=actor, patient_id=world.man, order_id=order_id, reason="no")
    with pytest.raises(Forbidden):
        patient_orders(session, actor=world.receptionist, patient_id=world.man)
    with pytest.raises(Forbidden, match="Only the prescriber who prepared"):
        sign_order(session, actor=world.other_physician, order_id=draft.order_id)
    with pytest.raises(Forbidden, match="not yours"):
        prepare_order(
            session, actor=world.other_physician, patient_id=world.woman, data=form(world, "RX-AMLO-5-TAB"),
            draft_id=draft.order_id,
        )  # fmt: skip
    # The man's order id sent from the woman's chart is answered as if it did not exist.
    with pytest.raises(NotFound, match="That medication order does not exist."):
        stop_order(
            session, actor=world.physician, patient_id=world.woman, order_id=order_id, reason="wrong chart"
        )
    with pytest.raises(NotFound):
        prepare_renewal(session, actor=world.physician, patient_id=world.woman, order_id=order_id, reason="x")
    assert session.get(MedicationOrder, order_id).status == "active"


def test_the_override_report_counts_alerts_shown_and_overridden_per_rule(session, world):
    ibuprofen(session, world, world.man)
    for reason in ("INR monitored", None):
        prepared = prepare_order(
            session,
            actor=world.physician,
            patient_id=world.man,
            data=form(world, "RX-WARF-5-TAB", dose="5", dose_unit="mg"),
        )
        if reason:
            sign_order(
                session, actor=world.physician, order_id=prepared.order_id, overrides={WARFARIN_NSAID: reason}
            )
    with pytest.raises(Forbidden):
        override_rates(session, actor=world.physician)
    (row,) = override_rates(session, actor=world.pharmacist)
    assert (row.rule, row.kind, row.shown, row.overridden, row.rate) == (
        WARFARIN_NSAID,
        "interaction",
        2,
        1,
        0.5,
    )
    everything = {
        r.rule: (r.shown, r.overridden)
        for r in override_rates(session, actor=world.pharmacist, interrupting_only=False)
    }
    assert everything[NOT_ASSESSED] == (3, 0)
    assert audits(session, "medication.override_report")


def test_the_chart_cannot_stop_a_list_entry_an_active_order_feeds(session, world):
    from hms_app.services.emr.medications import stop_medication

    order = session.get(MedicationOrder, ibuprofen(session, world, world.man))
    with pytest.raises(
        Conflict, match=f"Stop it through its order {order.reference} on the Medication orders card"
    ):
        stop_medication(session, actor=world.physician, medication_id=order.statement_id, reason="done")
    session.rollback()
    assert session.get(MedicationStatement, order.statement_id).status == "active"
