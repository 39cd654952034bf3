"""What the laboratory's screens read: the worklist (by status, STAT first, searched and paged in
SQL), a patient's cumulative table and trend, the portal's results (one's own, released, after the
delay; never another patient's) and the turnaround medians, recomputed here from raw rows."""

from __future__ import annotations

import statistics
from datetime import timedelta

import pandas as pd
import pytest
from sqlalchemy import select

from hms_app.analytics.laboratory import turnaround_rows
from hms_app.clock import held_at, utcnow
from hms_app.errors import Forbidden, ValidationError
from hms_app.models.laboratory import LabOrder, LabResult, Specimen
from hms_app.models.security import AuditEvent
from hms_app.services.laboratory.orders import place_order
from hms_app.services.laboratory.results import enter_result, verify_results
from hms_app.services.laboratory.specimens import collect_specimen, receive_specimen
from hms_app.services.laboratory.views import cumulative, portal_results, trend, turnaround, worklist
from hms_app.services.operations import operations_dashboard
from tests.services.lab_world import build_lab_world, portal_actor, received_order, released_value


@pytest.fixture
def world(session):
    return build_lab_world(session)


def _place(session, world, patient_id, code, priority="routine"):
    return place_order(
        session,
        actor=world.physician,
        patient_id=patient_id,
        test_ids=[world.test(code)],
        priority=priority,
        confirm_duplicates=True,
    )


def test_the_worklist_shows_each_status_stat_first_then_oldest(session, world):
    start = utcnow() - timedelta(hours=3)
    placed = []
    for minutes, (patient_id, code, priority) in enumerate(
        [
            (world.man, "2823-3", "routine"),
            (world.woman, "2951-2", "stat"),
            (world.child, "718-7", "urgent"),
            (world.man, "5802-4", "stat"),
        ]
    ):
        with held_at(start + timedelta(minutes=10 * minutes)):
            placed.append(_place(session, world, patient_id, code, priority))
    assert worklist(session, actor=world.tech).total == 0
    collect = worklist(session, actor=world.tech, status="collect")
    assert [r.priority for r in collect.rows] == ["stat", "stat", "urgent", "routine"]
    assert [r.short_name for r in collect.rows] == ["Na", "U nitrite", "Hb", "K"]  # STAT first, then oldest
    for p in placed:
        collect_specimen(session, actor=world.nurse, specimen_id=p.specimen_ids[0])
        receive_specimen(session, actor=world.tech, scan=p.accessions[0])
    open_rows = worklist(session, actor=world.tech, status="open").rows
    assert [r.short_name for r in open_rows] == ["Na", "U nitrite", "Hb", "K"]
    nitrite = open_rows[1]
    assert (nitrite.result_type, nitrite.choices, nitrite.unit) == ("coded", ["Negative", "Positive"], "")
    assert nitrite.patient_name == "MANN, Adam" and nitrite.accession == placed[3].accessions[0]
    assert nitrite.received_at is not None and nitrite.result_id is None and nitrite.value == ""
    row = enter_result(session, actor=world.tech, order_id=open_rows[0].order_id, value="121")
    assert [r.short_name for r in worklist(session, actor=world.tech, status="open").rows] == [
        "U nitrite",
        "Hb",
        "K",
    ]
    to_verify = worklist(session, actor=world.second_tech, status="to_verify").rows
    assert [(r.result_id, r.value, r.flag, r.entered_by) for r in to_verify] == [
        (row.id, "121", "L", "tech.one")
    ]
    assert worklist(session, actor=world.tech, status="all").total == 4
    assert [
        r.short_name for r in worklist(session, actor=world.tech, status="open", priority="stat").rows
    ] == ["U nitrite"]
    assert worklist(session, actor=world.tech, status="all", query="frau").total == 1  # the patient's name
    assert worklist(session, actor=world.tech, status="all", query=placed[2].accessions[0].lower()).total == 1
    assert worklist(session, actor=world.tech, status="all", query="2823-3").rows[0].short_name == "K"
    with pytest.raises(ValidationError):
        worklist(session, actor=world.tech, status="everything")
    with pytest.raises(Forbidden):
        worklist(session, actor=world.receptionist)


def test_the_worklist_pages_in_sql(session, world):
    for _ in range(7):
        p = _place(session, world, world.woman, "2951-2")
        collect_specimen(session, actor=world.nurse, specimen_id=p.specimen_ids[0])
        receive_specimen(session, actor=world.tech, scan=p.accessions[0])
    pages = [worklist(session, actor=world.tech, page=n, page_size=3) for n in range(3)]
    assert [len(p.rows) for p in pages] == [3, 3, 1] and {p.total for p in pages} == {7}
    ids = [r.order_id for p in pages for r in p.rows]
    assert len(set(ids)) == 7 and ids == sorted(ids)


def test_the_cumulative_table_has_a_column_per_collection_newest_first(session, world):
    moments = [utcnow() - timedelta(days=d) for d in (30, 20, 10)]
    for moment, value in zip(moments, ("3.9", "4.6", "5.6"), strict=True):
        with held_at(moment):
            released_value(session, world, world.man, "2823-3", value)
    with held_at(moments[1] + timedelta(minutes=5)):
        released_value(session, world, world.man, "4548-4", "7.9")
    with held_at(moments[2]):
        order_id, _ = received_order(session, world, world.man, "2951-2")
        enter_result(session, actor=world.tech, order_id=order_id, value="139")  # not verified: not shown
    table = cumulative(session, actor=world.physician, patient_id=world.man, columns=2)
    assert table.total_times == 4 and len(table.times) == 2
    potassium = next(r for r in table.rows if r.code == "2823-3")
    assert [(c.value, c.flag) for c in potassium.cells] == [("5.6", "H"), ("", "")]
    assert (potassium.unit, potassium.reference_text, potassium.short_name) == ("mmol/L", "3.5-5.1", "K")
    # Rows by test name; the HbA1c was taken with the second column's collection.
    assert [r.code for r in table.rows] == ["4548-4", "2823-3"]
    assert [c.value for c in table.rows[0].cells] == ["", "7.9"]
    older = cumulative(session, actor=world.physician, patient_id=world.man, page=1, columns=2)
    assert [(r.code, [c.value for c in r.cells]) for r in older.rows] == [("2823-3", ["4.6", "3.9"])]
    assert older.times[0] > older.times[1] and table.times[1] > older.times[0]
    assert cumulative(session, actor=world.physician, patient_id=world.woman).rows == []
    assert session.execute(
        select(AuditEvent.patient_id).where(AuditEvent.action == "lab.cumulative").order_by(AuditEvent.id)
    ).scalars().all() == [world.man, world.man, world.woman]
    with pytest.raises(Forbidden):
        cumulative(session, actor=world.receptionist, patient_id=world.man)


def test_a_trend_lists_released_numbers_oldest_first_with_the_range_for_the_age(session, world):
    for days, value in ((40, "13.1"), (20, "12.2"), (5, "14.0")):
        with held_at(utcnow() - timedelta(days=days)):
            released_value(session, world, world.woman, "718-7", value)
    points = trend(session, actor=world.nurse, patient_id=world.woman, test_id=world.test("718-7"))
    assert [(p.value, p.flag, p.low, p.high) for p in points] == [
        (13.1, "N", 12.0, 15.5),
        (12.2, "N", 12.0, 15.5),
        (14.0, "N", 12.0, 15.5),
    ]
    assert points[0].at < points[1].at < points[2].at
    assert trend(session, actor=world.nurse, patient_id=world.man, test_id=world.test("718-7")) == []


def test_the_portal_shows_only_ones_own_released_results_after_their_delay(session, world):
    released_value(session, world, world.woman, "2823-3", "4.4")
    released_value(session, world, world.man, "2823-3", "5.9")  # someone else's
    hiv = released_value(session, world, world.woman, "56888-1", "Non-reactive")
    order_id, _ = received_order(session, world, world.woman, "2951-2")
    enter_result(session, actor=world.tech, order_id=order_id, value="141")  # not verified
    eve = portal_actor(world.woman)
    shown = portal_results(session, actor=eve)
    assert [(r.test_name, r.value, r.unit, r.flag, r.reference_text) for r in shown] == [
        ("Potassium [Moles/volume] in Serum or Plasma", "4.4", "mmol/L", "N", "3.5-5.1")
    ]
    released = session.get(LabResult, hiv).released_at
    with held_at(released + timedelta(hours=71, minutes=59)):
        assert len(portal_results(session, actor=eve)) == 1  # the HIV test waits 72 hours
    with held_at(released + timedelta(hours=72)):
        assert {r.value for r in portal_results(session, actor=eve)} == {"4.4", "Non-reactive"}
    assert [r.value for r in portal_results(session, actor=portal_actor(world.man))] == ["5.9"]
    assert portal_results(session, actor=portal_actor(world.child)) == []
    with pytest.raises(Forbidden):
        portal_results(session, actor=world.physician)  # staff have no portal
    with pytest.raises(Forbidden):
        cumulative(session, actor=eve, patient_id=world.man)  # the portal cannot reach the chart's reads
    audited = session.execute(
        select(AuditEvent.patient_id).where(AuditEvent.action == "lab.portal_results").order_by(AuditEvent.id)
    )
    assert set(audited.scalars()) == {world.woman, world.man, world.child}


def test_turnaround_medians_match_the_raw_rows(session, world):
    start = utcnow() - timedelta(days=2)
    gaps = [(20, 30, 45, 10), (40, 15, 90, 25), (10, 60, 30, 5), (25, 20, 50, 20)]
    for n, (to_collect, to_receive, to_result, to_verify) in enumerate(gaps):
        moment = start + timedelta(hours=n)
        with held_at(moment):
            placed = _place(session, world, world.man, "2823-3")
        moment += timedelta(minutes=to_collect)
        with held_at(moment):
            collect_specimen(session, actor=world.nurse, specimen_id=placed.specimen_ids[0])
        moment += timedelta(minutes=to_receive)
        with held_at(moment):
            receive_specimen(session, actor=world.tech, scan=placed.accessions[0])
        if n == 3:
            continue  # still waiting for its result
        order_id = session.execute(
            select(LabOrder.id).where(LabOrder.request_id == placed.request_id)
        ).scalar_one()
        moment += timedelta(minutes=to_result)
        with held_at(moment):
            row = enter_result(session, actor=world.tech, order_id=order_id, value="4.0")
        moment += timedelta(minutes=to_verify)
        with held_at(moment):
            verify_results(session, actor=world.second_tech, result_ids=[row.id])
    _place(session, world, world.woman, "2823-3")  # ordered just now: counted in no stage but its own
    stages = turnaround(
        session, actor=world.manager, since=start - timedelta(hours=1), until=utcnow() + timedelta(hours=1)
    )
    # Recomputed from the raw rows with pandas.
    raw = pd.DataFrame(
        session.execute(
            select(
                LabOrder.ordered_at,
                Specimen.collected_at,
                Specimen.received_at,
                LabResult.resulted_at,
                LabResult.verified_at,
            )
            .join(Specimen, Specimen.id == LabOrder.specimen_id)
            .outerjoin(LabResult, LabResult.order_id == LabOrder.id)
        ).all(),
        columns=["ordered", "collected", "received", "resulted", "verified"],
    )

    def median(later, earlier):
        minutes = ((raw[later] - raw[earlier]).dt.total_seconds() / 60).dropna()
        return round(statistics.median(minutes), 1), len(minutes)

    expected = [
        median("collected", "ordered"),
        median("received", "collected"),
        median("resulted", "received"),
        median("verified", "resulted"),
        median("verified", "ordered"),
    ]
    assert [(s.median_minutes, s.count) for s in stages] == expected
    assert expected[0] == (22.5, 4) and expected[2] == (45.0, 3)
    assert [s.stage for s in stages][0] == "Order to collection"
    empty = turnaround(
        session, actor=world.tech, since=start - timedelta(days=30), until=start - timedelta(days=20)
    )
    assert [(s.median_minutes, s.count) for s in empty] == [(None, 0)] * 5
    with pytest.raises(ValidationError):
        turnaround(session, actor=world.tech, since=utcnow(), until=utcnow() - timedelta(days=1))
    with pytest.raises(Forbidden):
        turnaround(session, actor=world.receptionist, since=start, until=utcnow())
    dashboard = operations_dashboard(session, actor=world.manager, days=7, department_id=None)
    assert turnaround_rows(dashboard.lab_turnaround)[0] == ["Order to collection", "22 min", "4"]
    assert turnaround_rows(dashboard.lab_turnaround)[3] == ["Result to verification", "10 min", "3"]


def test_reception_lists_stat_specimens_first_on_every_page_and_counts_all_waiting(session, world):
    from hms_app.services.laboratory.specimens import reception_list

    start = utcnow() - timedelta(hours=2)
    accessions = {}
    # Three routine specimens collected early, then a STAT one collected last: the STAT one still
    # tops page one, though by collection time it would be on page two.
    for minutes, priority in enumerate(["routine", "routine", "routine", "stat"]):
        with held_at(start + timedelta(minutes=10 * minutes)):
            placed = _place(session, world, world.man, "2823-3", priority)
            collect_specimen(session, actor=world.nurse, specimen_id=placed.specimen_ids[0])
        accessions[placed.accessions[0]] = priority
    first = reception_list(session, actor=world.tech, page=0, page_size=2)
    second = reception_list(session, actor=world.tech, page=1, page_size=2)
    assert [accessions[r.accession] for r in first.rows] == ["stat", "routine"]
    assert [accessions[r.accession] for r in second.rows] == ["routine", "routine"]
    assert (first.total, first.waiting, second.waiting) == (4, 4, 4)
    receive_specimen(session, actor=world.tech, scan=first.rows[0].accession)
    after = reception_list(session, actor=world.tech, page=0, page_size=2)
    assert (after.total, after.waiting) == (4, 3)  # the received one is listed, no longer waiting
