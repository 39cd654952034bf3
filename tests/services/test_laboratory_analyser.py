"""An analyser's message stored in one go (``analyser.record_analyser_results``): each result judged
exactly as the same value typed on the worklist (flag by sex and age, delta check against the
patient's own previous released value, critical alert, reference text), the first bad result
reported by its position, and the lookups batched: a message of eight results asks the database no
more questions than a message of one."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import event, select

from hms_app.errors import ValidationError
from hms_app.models.laboratory import CriticalAlert, LabResult
from hms_app.models.security import AuditEvent
from hms_app.services.laboratory.analyser import (
    AnalyserReading,
    ReadingRefused,
    UnknownSpecimen,
    UnknownTest,
    record_analyser_results,
)
from hms_app.services.laboratory.results import enter_result, verify_results
from tests.services.lab_world import build_lab_world, received_order, released_value

D = Decimal


@pytest.fixture
def world(session):
    return build_lab_world(session)


def _reading(accession: str, code: str, value: str, unit: str | None = None) -> AnalyserReading:
    return AnalyserReading(accession, code, value, unit, None)


def _by_hand(session, world, patient_id, code, value):
    order_id, _ = received_order(session, world, patient_id, code)
    row = enter_result(session, actor=world.tech, order_id=order_id, value=value)
    return row.flag, row.delta_flag, row.reference_text


CASES = [
    ("man", "718-7", "13.0"),  # haemoglobin: low for a man
    ("woman", "718-7", "13.0"),  # normal for a woman
    ("child", "2823-3", "6.2"),  # potassium: critical for a child
    ("man", "2823-3", "5.1"),  # +1.1 from his released 4.0: beyond the delta limit
    ("woman", "2823-3", "5.0"),  # +1.0 from her released 4.0: not beyond
    ("woman", "5802-4", "positive"),  # coded: abnormal
]


def test_each_result_of_a_message_is_judged_as_the_same_value_typed_by_hand(session, world):
    for patient in (world.man, world.woman):
        released_value(session, world, patient, "2823-3", "4.0")
    accessions = [received_order(session, world, getattr(world, who), code)[1] for who, code, _ in CASES]
    stored = record_analyser_results(
        session,
        readings=[
            _reading(acc, code, value) for acc, (_, code, value) in zip(accessions, CASES, strict=True)
        ],
        sender="COBAS",
    )
    session.commit()
    by_analyser = [(r.flag or "", bool(r.delta_flag), r.reference_text or "") for r in stored]
    by_hand = [_by_hand(session, world, getattr(world, who), code, value) for who, code, value in CASES]
    assert by_analyser == by_hand
    assert [flag for flag, *_ in by_analyser] == ["L", "N", "HH", "N", "N", "A"]
    assert [delta for _, delta, _ in by_analyser] == [False, False, False, True, False, False]
    # The child's critical potassium raised its alert (and so did the same value typed by hand).
    alerts = session.execute(select(CriticalAlert.source_id).order_by(CriticalAlert.id)).scalars().all()
    assert alerts[0] == stored[2].id and len(alerts) == 2
    details = (
        session.execute(
            select(AuditEvent.detail)
            .where(AuditEvent.action == "lab.result", AuditEvent.username == "analyser COBAS")
            .order_by(AuditEvent.id)
        )
        .scalars()
        .all()
    )
    assert [detail.split()[0] for detail in details] == [code for _, code, _ in CASES]


def test_the_first_bad_result_is_the_one_reported(session, world):
    _, accession = received_order(session, world, world.man, "2823-3")
    good = _reading(accession, "2823-3", "4.2")
    for readings, number, kind in (
        ([good, _reading("S-99999999", "2823-3", "4")], 2, UnknownSpecimen),
        ([good, _reading(accession, "2951-2", "140"), _reading("S-9", "x", "1")], 2, UnknownTest),
        ([_reading(accession, "2823-3", "high"), _reading("S-9", "x", "1")], 1, ValidationError),
    ):
        with pytest.raises(ReadingRefused) as refused:
            record_analyser_results(session, readings=readings, sender="AU680")
        session.rollback()
        assert refused.value.number == number and isinstance(refused.value.error, kind)
    assert session.execute(select(LabResult.id)).first() is None


def test_the_same_test_twice_in_one_message_keeps_the_last_value(session, world):
    _, accession = received_order(session, world, world.man, "2823-3")
    first, second = record_analyser_results(
        session,
        readings=[_reading(accession, "2823-3", "4.2"), _reading(accession, "2823-3", "4.4")],
        sender="AU680",
    )
    session.commit()
    assert first is second and second.value_numeric == D("4.4")
    details = session.execute(
        select(AuditEvent.detail).where(AuditEvent.action == "lab.result").order_by(AuditEvent.id)
    ).scalars()
    assert [("replaced 4.2 by AU680" in detail) for detail in details] == [False, True]
    assert verify_results(session, actor=world.tech, result_ids=[second.id]) == 1


def _lookups(session, readings) -> int:
    """How many SELECTs storing ``readings`` takes (writes are one row each on SQLite)."""
    seen = []
    connection = session.connection()

    def count(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    event.listen(connection, "before_cursor_execute", count)
    try:
        record_analyser_results(session, readings=readings, sender="AU680")
        session.flush()
    finally:
        event.remove(connection, "before_cursor_execute", count)
    session.commit()
    return len(seen)


def test_a_bigger_message_asks_the_database_no_more_questions(session, world):
    _, one = received_order(session, world, world.man, "2823-3")
    single = _lookups(session, [_reading(one, "2823-3", "4.2")])
    _, panel = received_order(session, world, world.woman, "51990-0")  # one specimen, eight tests
    values = {
        "2951-2": "139",
        "2823-3": "4.2",
        "2075-0": "102",
        "2028-9": "25",
        "3094-0": "14",
        "2160-0": "0.92",
        "2345-7": "90",
        "17861-6": "9.4",
    }
    eight = _lookups(session, [_reading(panel, code, value) for code, value in values.items()])
    assert eight == single == 1  # the specimens with their orders and all that judging needs
    assert session.execute(select(LabResult.id)).all().__len__() == 9
