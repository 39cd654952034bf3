"""UCUM conversions of an analyser's unit to the test's: by dimension, by molar mass where the
analyte's is known, by charge for equivalents, refused otherwise; and the analyser's results
through ``record_analyser_result`` (no permission, no commit, matched by accession and code)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from hms_app.errors import NotFound, ValidationError
from hms_app.models.laboratory import CriticalAlert, LabOrder, LabResult, Specimen
from hms_app.models.security import AuditEvent
from hms_app.services.laboratory.orders import place_order
from hms_app.services.laboratory.results import (
    UnknownSpecimen,
    UnknownTest,
    record_analyser_result,
    verify_results,
)
from hms_app.services.laboratory.specimens import collect_specimen
from hms_app.services.laboratory.units import convert, is_valid_unit
from tests.services.lab_world import build_lab_world, received_order

D = Decimal


@pytest.mark.parametrize(
    ("value", "source", "target", "code", "decimals", "expected"),
    [
        ("5.5", "mmol/L", "mg/dL", "2345-7", 0, "99"),  # glucose by its molar mass, 180.156 g/mol
        ("99", "mg/dL", "mmol/L", "14749-6", 1, "5.5"),
        ("88.4", "umol/L", "mg/dL", "2160-0", 2, "1.00"),  # creatinine, 113.12 g/mol
        ("135", "g/L", "g/dL", "718-7", 1, "13.5"),  # same dimension: no molar mass needed
        ("7.2", "10*9/L", "10*3/uL", "6690-2", 1, "7.2"),
        ("4.5", "meq/L", "mmol/L", "2823-3", 1, "4.5"),  # potassium carries one charge
        ("5.0", "meq/L", "mmol/L", "17861-6", 2, "2.50"),  # calcium two (a made-up pairing of units)
        ("40", "ng/mL", "ug/L", "2276-4", 0, "40"),
        ("4.2", "mmol/L", "mmol/L", "2823-3", 1, "4.2"),  # the same unit is left alone
        ("4.2", None, "mmol/L", "2823-3", 1, "4.2"),  # no unit sent: taken to be the test's
        ("0.034", "ng/mL", "ng/L", "89579-7", 0, "34"),
        ("1.35", "mg/dL", "umol/L", "2160-0", 0, "119"),
    ],
)
def test_units_convert_by_dimension_molar_mass_or_charge(value, source, target, code, decimals, expected):
    converted = convert(D(value), source=source, target=target, test_code=code, decimals=decimals)
    assert str(converted) == expected


@pytest.mark.parametrize(
    ("source", "target", "code", "message"),
    [
        ("mmol/mol", "%", "4548-4", "cannot be converted"),  # HbA1c IFCC to NGSP is a regression
        ("mg/dL", "U/L", "1742-6", "cannot be converted"),  # a mass is not an enzyme activity
        ("mg/dL", "mmol/L", "2524-7", "no molar mass"),  # lactate's molar mass is not listed
        ("meq/L", "mmol/L", "2160-0", "charge of the ion"),
        ("furlongs", "mmol/L", "2823-3", "not a unit"),
        ("mg/dL", "{INR}", "6301-6", "not a unit"),
        ("mmol/L", None, "5811-5", "no unit"),
    ],
)
def test_units_that_cannot_be_converted_are_refused_with_a_reason(source, target, code, message):
    with pytest.raises(ValidationError, match=message):
        convert(D("1"), source=source, target=target, test_code=code, decimals=1)


def test_catalogue_units_are_checked_against_ucum():
    for unit in ("mmol/L", "10*9/L", "m[IU]/L", "{INR}", "[pH]", "mm[Hg]", "%", "fL", "mL/min/{1.73_m2}"):
        assert is_valid_unit(unit), unit
    for unit in ("", "mmoll", "furlongs", "x" * 21, "mg/dL/"):
        assert not is_valid_unit(unit), unit


# --------------------------------------------------------------------------- from the analyser


@pytest.fixture
def world(session):
    return build_lab_world(session)


def test_an_analyser_result_is_converted_flagged_and_left_for_the_caller_to_commit(session, world):
    _order_id, accession = received_order(session, world, world.man, "51990-0")
    result = record_analyser_result(
        session,
        accession=accession,
        test_code="2345-7",
        value="3.0",
        unit="mmol/L",
        observed_at=datetime(2026, 5, 1, 8, 30, tzinfo=UTC),
        sender="COBAS^LAB",
    )
    assert result.value_numeric == D("54") and result.unit == "mg/dL" and result.flag == "L"
    assert (result.status, result.source, result.entered_by) == ("preliminary", "analyser", "COBAS^LAB")
    assert (
        "sent 3.0 mmol/L"
        in session.execute(
            select(AuditEvent.detail).where(AuditEvent.action == "lab.result").order_by(AuditEvent.id)
        ).scalar_one()
    )
    session.rollback()  # the listener did not store the message: nothing of the result remains
    assert session.execute(select(func.count(LabResult.id))).scalar_one() == 0
    record_analyser_result(
        session,
        accession=accession,
        test_code="2345-7",
        value="3.0",
        unit="mmol/L",
        observed_at=None,
        sender="COBAS",
    )
    session.commit()
    assert (
        session.execute(select(LabOrder.status).where(LabOrder.id == result.order_id)).scalar_one()
        == "resulted"
    )


def test_an_analyser_result_may_be_verified_by_any_technician(session, world):
    _order_id, accession = received_order(session, world, world.woman, "2823-3")
    result = record_analyser_result(
        session,
        accession=accession,
        test_code="2823-3",
        value="3.1",
        unit=None,
        observed_at=None,
        sender="tech.one",
    )
    session.commit()
    assert verify_results(session, actor=world.tech, result_ids=[result.id]) == 1


def test_a_critical_analyser_result_raises_its_alert_in_the_same_transaction(session, world):
    _order_id, accession = received_order(session, world, world.man, "2823-3")
    result = record_analyser_result(
        session,
        accession=accession,
        test_code="2823-3",
        value="2.5",
        unit="mmol/L",
        observed_at=None,
        sender="AU680",
    )
    assert result.flag == "LL"
    assert session.execute(select(CriticalAlert.source_id)).scalar_one() == result.id
    session.rollback()
    assert session.execute(select(func.count(CriticalAlert.id))).scalar_one() == 0


def test_unknown_specimens_tests_and_bad_values_are_refused(session, world):
    _order_id, accession = received_order(session, world, world.man, "2823-3")
    with pytest.raises(UnknownSpecimen):
        record_analyser_result(
            session,
            accession="S-12345678",
            test_code="2823-3",
            value="4",
            unit=None,
            observed_at=None,
            sender="X",
        )
    with pytest.raises(UnknownTest):
        record_analyser_result(
            session,
            accession=accession,
            test_code="2951-2",
            value="140",
            unit=None,
            observed_at=None,
            sender="X",
        )
    assert issubclass(UnknownSpecimen, NotFound) and issubclass(UnknownTest, NotFound)
    with pytest.raises(ValidationError, match="number"):
        record_analyser_result(
            session,
            accession=accession,
            test_code="2823-3",
            value="high",
            unit=None,
            observed_at=None,
            sender="X",
        )
    with pytest.raises(ValidationError, match="cannot be converted"):
        record_analyser_result(
            session,
            accession=accession,
            test_code="2823-3",
            value="4",
            unit="mg/dL",
            observed_at=None,
            sender="X",
        )


def test_an_analyser_receives_a_collected_specimen_that_was_not_scanned(session, world):
    placed = place_order(
        session, actor=world.physician, patient_id=world.woman, test_ids=[world.test("2951-2")]
    )
    with pytest.raises(ValidationError, match="not been collected"):
        record_analyser_result(
            session,
            accession=placed.accessions[0],
            test_code="2951-2",
            value="140",
            unit=None,
            observed_at=None,
            sender="X",
        )
    collect_specimen(session, actor=world.nurse, specimen_id=placed.specimen_ids[0])
    record_analyser_result(
        session,
        accession=placed.accessions[0],
        test_code="2951-2",
        value="140",
        unit=None,
        observed_at=None,
        sender="X",
    )
    session.commit()
    specimen = session.get(Specimen, placed.specimen_ids[0])
    assert (specimen.status, specimen.received_by) == ("received", "X")
