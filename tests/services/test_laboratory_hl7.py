"""The analyser interface: ORU^R01 messages over MLLP on a real socket, each answered with an ACK
(AA stored; AE unknown specimen, unknown test, bad value, with nothing of the message stored; AR
malformed, wrong type, no control id), every message kept once under its control id (a resend
gets the same answer and stores nothing twice), and nothing answered that was not stored."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from decimal import Decimal

import hl7
import pytest
from hl7.mllp import open_hl7_connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from hms_app.interop import hl7_lab, hl7_listener
from hms_app.interop.hl7_lab import ingest_hl7, parse_dtm, receive_hl7
from hms_app.models.laboratory import CriticalAlert, Hl7Message, LabOrder, LabResult, Specimen
from hms_app.models.security import AuditEvent
from hms_app.services import live
from tests.services.analyser_world import (
    DIPSTICK_PROTEIN,
    GLUCOSE,
    POTASSIUM,
    SODIUM,
    STAMP,
    ack_of,
    build_lab,
    count,
    exchange,
    oru,
    received_specimen,
    stored_messages,
)


@pytest.fixture
def lab(session):
    return build_lab(session)


@pytest.fixture
def published(monkeypatch):
    sent: list[str] = []
    monkeypatch.setattr(live, "publish", lambda topic, key=None: sent.append(topic))
    return sent


# ---------------------------------------------------------------------------- reading and answering


def test_a_well_formed_result_is_stored_unverified_and_accepted(session, lab, published):
    received_specimen(session, lab, "S-00000001", [POTASSIUM, SODIUM])
    message = oru(groups=[("S-00000001", [(POTASSIUM, "4.2", "mmol/L"), (SODIUM, "139", "mmol/L")])])
    ack = ack_of(ingest_hl7(session, message))
    assert (ack["type"], ack["code"], ack["control"]) == ("ACK^R01^ACK", "AA", "MSG00001")
    assert "error" not in ack
    session.expire_all()
    stored = session.execute(select(LabResult).order_by(LabResult.id)).scalars().all()
    assert [(r.value_numeric, r.status, r.source, r.flag) for r in stored] == [
        (Decimal("4.2"), "preliminary", "analyser", "N"),
        (Decimal("139"), "preliminary", "analyser", "N"),
    ]
    assert stored[0].resulted_at == datetime(2026, 12, 7, 8, 30, tzinfo=UTC)  # OBX-14, hospital zone UTC
    assert stored_messages(session) == [("MSG00001", "stored", "AA", 2)]
    row = session.execute(select(Hl7Message)).scalar_one()
    assert (row.sender, row.message_type, row.raw) == ("COBAS^HOSPLAB", "ORU^R01", message.rstrip("\r"))
    assert published == ["lab"]
    stored_by = session.execute(
        select(AuditEvent.username).where(AuditEvent.action == "lab.result").order_by(AuditEvent.id)
    ).scalars()
    assert [name.startswith("analyser") for name in stored_by] == [True, True]


def test_the_specimen_id_of_an_spm_segment_is_used_when_the_analyser_sends_one(session, lab):
    received_specimen(session, lab, "S-00000002", [GLUCOSE])
    ack = ack_of(ingest_hl7(session, oru(groups=[("S-00000002", [(GLUCOSE, "5.5", "mmol/L")])], spm=True)))
    assert ack["code"] == "AA"
    assert count(session, LabResult) == 1


def test_a_coded_result_and_a_skipped_observation(session, lab):
    received_specimen(session, lab, "S-00000003", [DIPSTICK_PROTEIN, SODIUM])
    message = oru(
        groups=[
            (
                "S-00000003",
                [
                    (DIPSTICK_PROTEIN, "LA6577-6^Trace", "", "CWE"),
                    (SODIUM, "", "mmol/L", "NM", STAMP, "X"),  # X: the analyser could not measure it
                ],
            )
        ]
    )
    assert ack_of(ingest_hl7(session, message))["code"] == "AA"
    session.expire_all()
    (result,) = session.execute(select(LabResult)).scalars().all()
    assert result.value_text == "Trace"
    assert stored_messages(session) == [("MSG00001", "stored", "AA", 1)]


def test_a_critical_value_from_the_analyser_raises_the_alert_and_tells_the_board(session, lab, published):
    received_specimen(session, lab, "S-00000004", [POTASSIUM])
    assert (
        ack_of(ingest_hl7(session, oru(groups=[("S-00000004", [(POTASSIUM, "6.9", "mmol/L")])])))["code"]
        == "AA"
    )
    session.expire_all()
    alert = session.execute(select(CriticalAlert)).scalar_one()
    assert (alert.recipient_id, alert.department_id, alert.status) == (lab.physician, lab.department, "open")
    assert "6.9" in alert.summary
    assert set(published) == {"lab", "critical"}


@pytest.mark.parametrize(
    ("groups", "error", "words"),
    [
        ([("S-99999999", [(POTASSIUM, "4.2", "mmol/L")])], "204", "Unknown specimen S-99999999"),
        ([("S-00000005", [("1234-5", "4.2", "mmol/L")])], "103", "Unknown test code 1234-5"),
        ([("S-00000005", [(POTASSIUM, "four", "mmol/L")])], "102", "Bad value 'four mmol/L'"),
        ([("S-00000005", [(POTASSIUM, "4.2", "furlongs")])], "102", "Bad value '4.2 furlongs'"),
    ],
    ids=["unknown specimen", "unknown test", "bad value", "bad unit"],
)
def test_a_result_that_cannot_be_stored_is_answered_ae_with_its_reason(
    session, lab, published, groups, error, words
):
    received_specimen(session, lab, "S-00000005", [POTASSIUM])
    ack = ack_of(ingest_hl7(session, oru(groups=groups)))
    assert (ack["code"], ack["control"], ack["error"]) == ("AE", "MSG00001", error)
    assert words in ack["reason"] and words in ack["text"]
    assert count(session, LabResult) == 0
    assert stored_messages(session) == [("MSG00001", "error", "AE", 0)]
    assert published == []


def test_a_specimen_not_yet_collected_is_answered_ae(session, lab):
    specimen_id = received_specimen(session, lab, "S-00000008", [POTASSIUM])
    session.get(Specimen, specimen_id).status = "pending"  # ordered, the tube never taken
    session.commit()
    ack = ack_of(ingest_hl7(session, oru(groups=[("S-00000008", [(POTASSIUM, "4.2", "mmol/L")])])))
    assert (ack["code"], ack["error"]) == ("AE", "207")
    assert "S-00000008" in ack["reason"] and "collected" in ack["reason"]
    assert count(session, LabResult) == 0


def test_one_bad_result_keeps_the_whole_message_out(session, lab):
    received_specimen(session, lab, "S-00000006", [POTASSIUM, SODIUM])
    message = oru(
        groups=[
            ("S-00000006", [(POTASSIUM, "6.9", "mmol/L")]),  # good, and critical
            ("S-00000007", [(SODIUM, "140", "mmol/L")]),  # no such specimen
        ]
    )
    ack = ack_of(ingest_hl7(session, message))
    assert ack["code"] == "AE" and "S-00000007" in ack["reason"]
    assert count(session, LabResult) == 0 and count(session, CriticalAlert) == 0
    session.expire_all()
    assert {o.status for o in session.execute(select(LabOrder)).scalars()} == {"received"}


@pytest.mark.parametrize(
    ("message", "error", "words"),
    [
        ("this is not hl7", "100", "Not an HL7 v2 message"),
        (oru().replace("PID|1", "P!D|1"), "100", "Segment 2 is malformed"),
        (oru(groups=[("S-00000001", [])]), "101", "no results"),
        (
            oru().replace("OBR|1||S-00000001|24326-1^Electrolytes^LN\r", "") + "OBR|1||S-1\r",
            "100",
            "before any OBR",
        ),
        (oru(kind="ADT^A01"), "200", "not ADT^A01"),
        (oru(control=""), "101", "MSH-10"),
        (oru(version="2.7"), "203", "version 2.7"),
        (oru().replace(f"|||||F|||{STAMP}", "|||||F|||yesterday"), "102", "unreadable time"),
        (oru().replace("|2823-3^^LN|", "|^^LN|"), "101", "no test code"),
    ],
    ids=[
        "not hl7",
        "bad segment name",
        "no results",
        "obx before obr",
        "wrong message type",
        "no control id",
        "unsupported version",
        "bad time",
        "no test code",
    ],
)
def test_a_message_that_cannot_be_read_is_rejected_ar(session, lab, message, error, words):
    received_specimen(session, lab, "S-00000001", [POTASSIUM])
    ack = ack_of(ingest_hl7(session, message))
    assert (ack["code"], ack["error"]) == ("AR", error)
    assert words in ack["reason"]
    assert count(session, LabResult) == 0
    ((control, status, code, results),) = stored_messages(session)
    assert (status, code, results) == ("rejected", "AR", 0)
    if "MSG00001" in message:
        assert control == "MSG00001" and ack["control"] == "MSG00001"


def test_a_resent_message_gets_the_same_ack_and_is_stored_once(session, lab, published):
    received_specimen(session, lab, "S-00000001", [POTASSIUM])
    first = ingest_hl7(session, oru())
    again = ingest_hl7(session, oru())
    assert again == first and ack_of(again)["code"] == "AA"
    assert count(session, LabResult) == 1 and count(session, Hl7Message) == 1
    assert published == ["lab"]  # the resend changed nothing
    # The same control id from another analyser is another message.
    other = ack_of(ingest_hl7(session, oru(sender="SYSMEX|HOSPLAB")))
    assert other["code"] == "AA" and count(session, Hl7Message) == 2


def test_a_resent_rejected_or_failed_message_gets_the_same_answer(session, lab):
    bad_type = oru(kind="ADT^A01", control="MSG-AR")
    unknown = oru(control="MSG-AE", groups=[("S-404", [(POTASSIUM, "4.2", "mmol/L")])])
    answers = [ingest_hl7(session, bad_type), ingest_hl7(session, unknown)]
    received_specimen(session, lab, "S-404", [POTASSIUM])  # the specimen turns up meanwhile
    assert [ingest_hl7(session, bad_type), ingest_hl7(session, unknown)] == answers
    assert [ack_of(a)["code"] for a in answers] == ["AR", "AE"]
    assert count(session, Hl7Message) == 2 and count(session, LabResult) == 0


def test_messages_without_a_control_id_are_each_kept(session, lab):
    for _ in range(2):
        assert ack_of(ingest_hl7(session, oru(control="")))["code"] == "AR"
    controls = [control for control, *_ in stored_messages(session)]
    assert len(set(controls)) == 2 and all(c.startswith("none-") for c in controls)


def test_an_ack_escapes_the_senders_separators_in_its_reason(session, lab):
    # The sender escaped its own separators in the specimen id: S-1|2^3.
    ack = ingest_hl7(session, oru(groups=[("S-1\\F\\2\\S\\3", [(POTASSIUM, "4.2", "mmol/L")])]))
    assert ack_of(ack)["code"] == "AE"
    assert "S-1|2^3" in ack_of(ack)["reason"]
    assert "S-1\\F\\2\\S\\3" in ack
    assert len(hl7.parse(ack)) == 3  # MSH, MSA, ERR: nothing split by the sender's characters


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    edits=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=10_000),
            st.sampled_from(["|", "^", "~", "\\", "&", "\r", "\n", "", "X", "9", "\x00", "é"]),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_whatever_arrives_gets_an_answer_an_analyser_can_read(session, lab, edits):
    # A message an analyser garbled in any of these ways is answered (never a fault that would
    # close the connection unanswered and make the analyser send it again for ever).
    message = list(oru(f"FZ{abs(hash(tuple(edits))) % 10**12}"))
    for position, replacement in edits:
        message[position % len(message)] = replacement
    ack = hl7.parse(ingest_hl7(session, "".join(message)))
    assert ack.segment("MSA")(1)[0] in ("AA", "AE", "AR")
    assert str(ack.segment("MSH")(9)).startswith("ACK^")


_HEADER_TEXT = st.lists(
    st.sampled_from(["A", "9", "é", " ", "^", "&", "~", "\\", "\\F\\", "\\S\\", "\\T\\", "\\E\\", ""]),
    max_size=6,
).map("".join)


@settings(max_examples=150, deadline=None)
@given(fields=st.lists(_HEADER_TEXT, min_size=8, max_size=8), message_id=st.integers(1, 10**9))
def test_an_accepted_ack_is_written_as_python_hl7_writes_it(fields, message_id):
    # The AA answer is written directly (it is the one every stored message gets); the other
    # answers go through python-hl7. Both must read the sender's header the same way.
    app, facility, receiver, receiving_facility, trigger, control, processing, version = fields
    text = (
        f"MSH|^~\\&|{app}|{facility}|{receiver}|{receiving_facility}|{STAMP}||ORU^{trigger}|{control}"
        f"|{processing}|{version}\rPID|1"
    )
    parsed = hl7.parse(text)
    row = Hl7Message(id=message_id, ack_code="AA", received_at=datetime(2026, 12, 7, 8, 30, tzinfo=UTC))
    generic = hl7_lab._generic_ack(hl7_lab._echoed(parsed), row)
    assert hl7_lab.build_ack(text, row, parsed) == generic
    assert hl7_lab.build_ack(text, row) == generic  # a resend, answered from the stored text


def test_hl7_times_read_with_their_zone_or_in_the_hospitals(monkeypatch):
    assert parse_dtm("20261207083000+0100") == datetime(2026, 12, 7, 7, 30, tzinfo=UTC)
    assert parse_dtm("202612070830") == datetime(2026, 12, 7, 8, 30, tzinfo=UTC)
    assert parse_dtm("20261207083015.25-0500") == datetime(2026, 12, 7, 13, 30, 15, 250000, tzinfo=UTC)
    assert parse_dtm("20261207") == datetime(2026, 12, 7, tzinfo=UTC)
    for bad in ("2026-12-07", "20261307083000", "yesterday", "2026120708"):
        with pytest.raises(ValueError):
            parse_dtm(bad)


def test_the_sender_and_its_answers_are_what_the_listener_logs(session, lab):
    outcome = receive_hl7(session, oru(kind="ADT^A01"))
    line = hl7_listener._log_line("127.0.0.1:5000", outcome, 3.2)
    assert (
        line
        == "127.0.0.1:5000 COBAS^HOSPLAB #MSG00001 ADT^A01 AR Only ORU^R01 result messages are accepted here, not ADT^A01 3 ms"
    )


# ---------------------------------------------------------------------------- over MLLP


@pytest.fixture
async def listener(configured_db):
    server = await hl7_listener.serve("127.0.0.1", 0, database_url=configured_db)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


async def test_a_round_trip_over_mllp_on_a_real_socket(session, lab, configured_db):
    received_specimen(session, lab, "S-00000001", [POTASSIUM, SODIUM])
    published: list[str] = []
    notices = hl7_listener.GatheredNotices(delay=0.1, publish=published.append)
    server = await hl7_listener.serve("127.0.0.1", 0, database_url=configured_db, notices=notices)
    try:
        port = server.sockets[0].getsockname()[1]
        (ack,) = await exchange(port, oru(groups=[("S-00000001", [(POTASSIUM, "4.4", "mmol/L")])]))
    finally:
        server.close()
        await server.wait_closed()
    assert (ack_of(ack)["code"], ack_of(ack)["control"]) == ("AA", "MSG00001")
    assert count(session, LabResult) == 1
    await asyncio.sleep(0.3)
    assert published == ["lab"]  # the lab's boards hear of it, after the commit


def test_a_burst_of_stored_messages_tells_the_boards_once_after_the_last_commit():
    published: list[str] = []
    notices = hl7_listener.GatheredNotices(delay=0.2, publish=published.append)
    for _ in range(50):
        notices("lab")
    assert published == []  # not before the burst's notice is due
    time.sleep(0.4)
    assert published == ["lab"]
    notices("lab")  # the next burst gets its own
    time.sleep(0.4)
    assert published == ["lab", "lab"]


async def test_every_kind_of_answer_over_mllp(session, lab, listener):
    received_specimen(session, lab, "S-00000001", [POTASSIUM])
    acks = await exchange(
        listener,
        oru("M1"),
        oru("M2").replace("PID|1", "P!D|1"),  # malformed segment
        oru("M3", groups=[("S-404", [(POTASSIUM, "4.2", "mmol/L")])]),  # unknown specimen
        oru("M4", groups=[("S-00000001", [("9999-9", "4.2", "mmol/L")])]),  # unknown test
        oru("M1"),  # the first again: same answer, nothing stored twice
    )
    assert [(ack_of(a)["control"], ack_of(a)["code"]) for a in acks] == [
        ("M1", "AA"),
        ("M2", "AR"),
        ("M3", "AE"),
        ("M4", "AE"),
        ("M1", "AA"),
    ]
    assert acks[4] == acks[0]
    assert count(session, LabResult) == 1
    assert [(c, s) for c, s, *_ in stored_messages(session)] == [
        ("M1", "stored"),
        ("M2", "rejected"),
        ("M3", "error"),
        ("M4", "error"),
    ]


async def test_two_messages_sent_at_once_on_one_connection_are_answered_in_order(session, lab, listener):
    received_specimen(session, lab, "S-00000001", [POTASSIUM], number=1)
    received_specimen(session, lab, "S-00000002", [SODIUM], number=2)
    acks = await exchange(
        listener,
        oru("P1", groups=[("S-00000001", [(POTASSIUM, "4.1", "mmol/L")])]),
        oru("P2", groups=[("S-00000002", [(SODIUM, "141", "mmol/L")])]),
        pipelined=True,
    )
    assert [(ack_of(a)["control"], ack_of(a)["code"]) for a in acks] == [("P1", "AA"), ("P2", "AA")]
    assert count(session, LabResult) == 2


async def test_several_analysers_at_once(session, lab, listener):
    for number in range(1, 5):
        received_specimen(session, lab, f"S-0000000{number}", [POTASSIUM], number=number)
    batches = await asyncio.gather(
        *(
            exchange(listener, oru(f"C{n}", groups=[(f"S-0000000{n}", [(POTASSIUM, "4.0", "mmol/L")])]))
            for n in range(1, 5)
        ),
        exchange(listener, oru("C1", groups=[("S-00000001", [(POTASSIUM, "4.0", "mmol/L")])])),
    )
    assert all(ack_of(a)["code"] == "AA" for batch in batches for a in batch)
    assert count(session, LabResult) == 4 and count(session, Hl7Message) == 4


async def test_a_message_cut_off_by_a_dropped_connection_is_neither_stored_nor_answered(
    session, lab, listener
):
    received_specimen(session, lab, "S-00000001", [POTASSIUM])
    reader, writer = await open_hl7_connection("127.0.0.1", listener)
    writer.write(b"\x0b" + oru().encode()[:60])  # half a message, then the analyser is switched off
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    await asyncio.sleep(0.2)
    assert count(session, Hl7Message) == 0
    (ack,) = await exchange(listener, oru())  # the listener still serves; the resend is stored
    assert ack_of(ack)["code"] == "AA" and count(session, LabResult) == 1


async def test_a_fault_while_storing_closes_the_connection_without_an_answer(session, lab, configured_db):
    def database_away(raw, url, notify):
        raise ConnectionError("the database went away")

    server = await hl7_listener.serve("127.0.0.1", 0, database_url=configured_db, receive=database_away)
    port = server.sockets[0].getsockname()[1]
    try:
        reader, writer = await open_hl7_connection("127.0.0.1", port)
        writer.writeblock(oru().encode())
        await writer.drain()
        with pytest.raises(asyncio.IncompleteReadError):
            await asyncio.wait_for(reader.readblock(), 10)
        writer.close()
    finally:
        server.close()
        await server.wait_closed()
    assert count(session, Hl7Message) == 0


async def test_bytes_outside_an_mllp_frame_are_rejected_and_the_connection_goes_on(session, lab, listener):
    received_specimen(session, lab, "S-00000001", [POTASSIUM])
    reader, writer = await open_hl7_connection("127.0.0.1", listener)
    writer.write(b"garbage\x1c\r")
    writer.writeblock(oru().encode())
    await writer.drain()
    first = (await asyncio.wait_for(reader.readblock(), 30)).decode()
    second = (await asyncio.wait_for(reader.readblock(), 30)).decode()
    writer.close()
    await writer.wait_closed()
    assert (ack_of(first)["code"], ack_of(second)["code"]) == ("AR", "AA")
