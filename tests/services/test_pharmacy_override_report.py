"""The order-check override report over a span of local days: per rule, orders shown its alert and
how many were signed past it, recomputed here from the raw rows with pandas; noisy rules (shown at
least 10 times, overridden at least 90 %) flagged; the figure of the most overridden rules' rates
and the CSV a spreadsheet opens safely."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pandas as pd
import pytest
from sqlalchemy import select

from hms_app.analytics.pharmacy import NOISY_COLOR, override_csv, override_frame, override_rate_figure
from hms_app.clock import local_today, utcnow
from hms_app.errors import Forbidden, ValidationError
from hms_app.models.pharmacy import MedicationOrder, MedicationOrderAlert, MedicationOverride
from hms_app.models.security import AuditEvent
from hms_app.services.pharmacy.overrides import override_report
from hms_app.services.pharmacy.rows import OverrideRate
from tests.services.pharmacy_world import build_rx_world, engine  # noqa: F401 - the fixture


@pytest.fixture
def world(session, engine):  # noqa: F811
    return build_rx_world(session)


def alerts(
    session,
    world,
    rule: str,
    *,
    shown: int,
    overridden: int,
    kind: str = "interaction",
    interrupt: bool = True,
    days_ago: float = 1,
) -> None:
    """``shown`` orders (signed ``days_ago``) shown the rule's alert, the first ``overridden`` signed
    past it. Written as rows: the report counts rows, however they came to be."""
    at = utcnow() - timedelta(days=days_ago)
    product = world.product("RX-APAP-500-TAB")
    existing = session.execute(select(MedicationOrder.id)).scalars().all()
    for n in range(shown):
        order = MedicationOrder(
            reference=f"RX-T{len(existing) + n:05d}",
            patient_id=world.man,
            product_id=product,
            setting="outpatient",
            dose=Decimal(1),
            dose_unit="g",
            route="oral",
            frequency="QID",
            start_at=at,
            dispense_unit="tablet",
            quantity_basis="test",
            status="active",
            prescriber_id=world.physician.user_id,
            prescriber=world.physician.username,
            signed_at=at,
        )
        session.add(order)
        session.flush()
        session.add(
            MedicationOrderAlert(
                order_id=order.id,
                patient_id=world.man,
                rule=rule,
                kind=kind,
                severity="major",
                interrupt=interrupt,
                message=rule,
                shown_at=at,
            )
        )
        if n < overridden:
            session.add(
                MedicationOverride(
                    order_id=order.id,
                    patient_id=world.man,
                    rule=rule,
                    kind=kind,
                    severity="major",
                    reason="monitored",
                    overridden_by_id=world.physician.user_id,
                    overridden_by=world.physician.username,
                    overridden_at=at,
                )
            )
    session.commit()


def last_90_days() -> dict:
    today = local_today()
    return {"start_day": today - timedelta(days=89), "end_day": today}


def test_the_report_counts_each_rule_over_the_days_chosen_as_pandas_does_from_the_rows(session, world):
    alerts(session, world, "ddi:warfarin+nsaid", shown=12, overridden=11)
    alerts(session, world, "dup:same-ingredient", shown=6, overridden=2, kind="duplicate_therapy")
    alerts(
        session, world, "dup:same-ingredient", shown=4, overridden=4, kind="duplicate_therapy", days_ago=120
    )
    alerts(
        session,
        world,
        "allergy:not-assessed",
        shown=7,
        overridden=0,
        kind="allergy_not_assessed",
        interrupt=False,
    )

    rows = override_report(session, actor=world.pharmacist, **last_90_days())
    assert [(r.rule, r.kind, r.shown, r.overridden) for r in rows] == [
        ("ddi:warfarin+nsaid", "interaction", 12, 11),
        ("dup:same-ingredient", "duplicate_therapy", 6, 2),
    ]
    everything = override_report(session, actor=world.pharmacist, interrupting_only=False, **last_90_days())
    longer = override_report(
        session, actor=world.pharmacist, start_day=local_today() - timedelta(days=200), end_day=local_today()
    )

    # The same numbers from the raw rows.
    shown = pd.read_sql(select(MedicationOrderAlert.__table__), session.connection())
    over = pd.read_sql(select(MedicationOverride.__table__), session.connection())
    shown["overridden"] = shown.set_index(["order_id", "rule"]).index.isin(
        over.set_index(["order_id", "rule"]).index
    )
    since = pd.Timestamp(utcnow() - timedelta(days=90))
    recent = shown[pd.to_datetime(shown["shown_at"], utc=True) >= since]
    for frame, report in ((recent, everything), (shown[shown["interrupt"].astype(bool)], longer)):
        expected = frame.groupby("rule").agg(shown=("id", "count"), overridden=("overridden", "sum"))
        assert {r.rule: (r.shown, r.overridden) for r in report} == {
            rule: (int(row.shown), int(row.overridden)) for rule, row in expected.iterrows()
        }
    assert {r.rule: (r.shown, r.overridden) for r in longer}["dup:same-ingredient"] == (10, 6)
    assert session.execute(
        select(AuditEvent.id).where(AuditEvent.action == "medication.override_report")
    ).first()


def test_a_rule_is_noisy_from_ten_shown_and_ninety_percent_overridden():
    def rate(shown: int, overridden: int) -> OverrideRate:
        return OverrideRate("r", "interaction", shown, overridden)

    assert rate(10, 9).noisy and rate(11, 10).noisy and rate(40, 40).noisy
    assert not rate(10, 8).noisy  # 80 %
    assert not rate(9, 9).noisy  # 100 %, but too few to call
    assert not rate(0, 0).noisy


def test_the_days_are_checked_and_only_the_formulary_permission_reads_the_report(session, world):
    today = local_today()
    with pytest.raises(ValidationError, match="The from date is after the to date"):
        override_report(session, actor=world.pharmacist, start_day=today, end_day=today - timedelta(days=1))
    with pytest.raises(ValidationError, match="at most three years"):
        override_report(
            session, actor=world.pharmacist, start_day=today - timedelta(days=1200), end_day=today
        )
    for actor in (world.physician, world.nurse, world.receptionist):
        with pytest.raises(Forbidden):
            override_report(session, actor=actor, **last_90_days())


def test_the_figure_draws_the_most_overridden_rules_and_the_csv_is_safe():
    rows = [
        OverrideRate("ddi:warfarin+nsaid", "interaction", 24, 23),
        OverrideRate("dup:same-ingredient", "duplicate_therapy", 18, 9),
        OverrideRate("=HYPERLINK(1)", "dose_per_day", 3, 3),
    ] + [OverrideRate(f"rule:{n}", "renal", 2, 1) for n in range(20)]
    frame = override_frame(rows)
    assert list(frame.loc[0]) == ["ddi:warfarin+nsaid", "interaction", 24, 23, 95.8, True]
    figure = override_rate_figure(rows)
    (bars,) = figure.data
    assert list(bars.y[:3]) == ["ddi:warfarin+nsaid", "dup:same-ingredient", "=HYPERLINK(1)"]
    assert len(bars.y) == 15 and list(bars.x[:3]) == [95.8, 50.0, 100.0]
    assert bars.marker.color[0] == NOISY_COLOR and bars.marker.color[2] != NOISY_COLOR  # 3 shown: not noisy
    text = override_csv(rows)
    lines = text.splitlines()
    assert lines[0] == "rule,kind,shown,overridden,override_rate_percent,noisy"
    assert lines[1] == "ddi:warfarin+nsaid,interaction,24,23,95.8,yes"
    assert lines[3].startswith("'=HYPERLINK(1),")
