"""The analyser interface: HL7 v2.5 ORU^R01 result messages in, one ACK out for each.

Parsing, escaping and the ACK are python-hl7's (``hl7.parse``, ``Message.create_ack``); the MLLP
listener is ``hl7_listener``. What this module decides:

**Matching.** Each OBR opens a group of results for one specimen. The specimen is the accession
on its label, taken from the group's SPM-2 (v2.5's specimen id: the filler-assigned identifier,
else the placer-assigned one) when the analyser sends an SPM, otherwise from OBR-3 (the filler
order number: the laboratory is the filler and the accession is its number), otherwise from
OBR-2. Each OBX before the group's SPM is one result: OBX-3.1 the test's LOINC code, OBX-5 the
value (a coded value's text, a structured numeric's comparator and number), OBX-6.1 its unit
(UCUM), OBX-14 when it was observed (without a zone: the hospital's). An OBX with result status
X (no result possible) is skipped; OBXs after an SPM describe the specimen, not a test.

**Answers** (MSA-1; the reason in MSA-3 and an ERR segment with its HL7 table 0357 code):
- AA: every result of the message is stored (unverified), in one transaction.
- AE: the message is well formed but a result cannot be stored: an unknown specimen, a test
  code the specimen carries no order of, a value or unit that does not fit the test. Nothing of
  the message is stored (all or nothing), only the message itself with its answer.
- AR: the message cannot be read: not HL7, a malformed segment (a bad segment name, an OBX
  before any OBR, a required field missing, an unreadable time), not an ORU^R01, an unsupported
  version (2.3 to 2.5.1 are read; their fields used here are the same), no MSH-10.

**Exactly once.** Every message is kept in ``hl7_message`` under its sender (MSH-3^MSH-4) and
control id (MSH-10), unique together. A message sent again with the same control id (its ACK was
lost) is answered with the same ACK, byte for byte, and nothing is stored twice; two copies
arriving at the same moment meet at that unique constraint. The ACK is returned only after the
commit: a listener killed before it has sent nothing, and the analyser sends the message again.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

import hl7
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.errors import NotFound, ValidationError
from hms_app.models.laboratory import Hl7Message
from hms_app.services import live
from hms_app.services.laboratory import analyser
from hms_app.settings import get_settings

log = logging.getLogger("hms.hl7")

MESSAGE_TYPE = ("ORU", "R01")
VERSIONS = ("2.3", "2.3.1", "2.4", "2.5", "2.5.1")
RECEIVING_APPLICATION = "HMS"
UNKNOWN_SENDER = "unknown"
CONTROL_ID_MAX = 40
SKIPPED_RESULT_STATUSES = {"X"}  # OBX-11: no result can be obtained for this observation
_SEGMENT_NAME = re.compile(r"[A-Z][A-Z0-9]{2}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
NOT_TEXT = "\ufffd"
_DTM = re.compile(r"(\d{8})(\d{4}(?:\d{2}(?:\.\d{1,4})?)?)?([+-]\d{4})?")

# HL7 table 0357 (message error condition codes) for the ERR segment.
SEGMENT_SEQUENCE_ERROR = "100"
REQUIRED_FIELD_MISSING = "101"
DATA_TYPE_ERROR = "102"
TABLE_VALUE_NOT_FOUND = "103"
UNSUPPORTED_MESSAGE_TYPE = "200"
UNSUPPORTED_VERSION = "203"
UNKNOWN_KEY = "204"
APPLICATION_ERROR = "207"
ERROR_TEXTS = {
    SEGMENT_SEQUENCE_ERROR: "Segment sequence error",
    REQUIRED_FIELD_MISSING: "Required field missing",
    DATA_TYPE_ERROR: "Data type error",
    TABLE_VALUE_NOT_FOUND: "Table value not found",
    UNSUPPORTED_MESSAGE_TYPE: "Unsupported message type",
    UNSUPPORTED_VERSION: "Unsupported version id",
    UNKNOWN_KEY: "Unknown key identifier",
    APPLICATION_ERROR: "Application internal error",
}
_TEMPLATE = hl7.parse("MSH|^~\\&|||||||ORU^R01||P|2.5")  # its separators escape what ACKs echo


@dataclass(frozen=True)
class Observation:
    """One analyser result, as found in an OBX of an OBR group."""

    accession: str
    test_code: str
    value: str
    unit: str | None
    observed_at: datetime | None


@dataclass(frozen=True)
class OruMessage:
    sender: str
    control_id: str
    message_type: str
    observations: list[Observation] = field(default_factory=list)
    parsed: hl7.Message | None = field(default=None, compare=False, repr=False)  # for its ACK


class Rejected(Exception):
    """The message cannot be read (answered AR)."""

    def __init__(self, reason: str, code: str, *, location: str = ""):
        super().__init__(reason)
        self.reason, self.code, self.location = reason, code, location


@dataclass(frozen=True)
class Hl7Outcome:
    """What one message got: the ACK's text and what the listener logs."""

    ack: str
    ack_code: str
    sender: str
    control_id: str
    message_type: str
    results: int
    reason: str = ""
    duplicate: bool = False


# ---------------------------------------------------------------------------- reading


def normalise(raw: str | bytes) -> str:
    """The message text with segments ended by CR, whatever line ends the sender used."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raw = raw.decode("latin-1")  # older analysers send their own 8-bit character set
    text = raw.replace("\r\n", "\r").replace("\n", "\r").strip("\r\x00 \t")
    # Control characters have no place in HL7 text (and PostgreSQL stores no NUL): each becomes
    # U+FFFD, which the message is then rejected for, and kept as received otherwise.
    return _CONTROL.sub(NOT_TEXT, text)


def _get(segment, field_num: int, component: int = 1, sub: int = 1, repeat: int = 1) -> str:
    try:
        value = segment.extract_field(1, field_num, repeat, component, sub)
    except IndexError:  # a path deeper than what the sender wrote: an empty component
        return ""
    return str(value).strip()


def _header(message) -> tuple[str, str, str]:
    """Sender, control id and message type of a parsed message (what is there of them)."""
    msh = message.segment("MSH")
    application, facility = _get(msh, 3), _get(msh, 4)
    sender = "^".join(part for part in (application, facility) if part)[:60] or UNKNOWN_SENDER
    message_type = "^".join(part for part in (_get(msh, 9, 1), _get(msh, 9, 2)) if part)[:20]
    return sender, _get(msh, 10), message_type


def parse_oru(text: str) -> OruMessage:
    """Read an ORU^R01 into its observations; Rejected (AR) when it cannot be read."""
    if NOT_TEXT in text:
        raise Rejected(
            f"The message holds control characters or bytes that are not text (at character {text.index(NOT_TEXT) + 1})",
            DATA_TYPE_ERROR,
        )
    try:
        message = hl7.parse(text)
        sender, control_id, message_type = _header(message)
    except Exception as error:  # noqa: BLE001 - python-hl7 raises several kinds on garbage
        raise Rejected(f"Not an HL7 v2 message: {error}", SEGMENT_SEQUENCE_ERROR, location="MSH") from error
    if not control_id:
        raise Rejected("MSH-10 (message control id) is missing", REQUIRED_FIELD_MISSING, location="MSH^1^10")
    if len(control_id) > CONTROL_ID_MAX:
        raise Rejected(
            f"MSH-10 is longer than {CONTROL_ID_MAX} characters", DATA_TYPE_ERROR, location="MSH^1^10"
        )
    if tuple(message_type.split("^")[:2]) != MESSAGE_TYPE:
        raise Rejected(
            f"Only ORU^R01 result messages are accepted here, not {message_type or 'no type'}",
            UNSUPPORTED_MESSAGE_TYPE,
            location="MSH^1^9",
        )
    version = _get(message.segment("MSH"), 12)
    if version not in VERSIONS:
        raise Rejected(
            f"HL7 version {version or '(none)'} is not supported; send 2.5 (2.3 to 2.5.1 are read)",
            UNSUPPORTED_VERSION,
            location="MSH^1^12",
        )
    try:
        observations = _observations(message)
    except Rejected:
        raise
    except Exception as error:  # noqa: BLE001 - a segment mangled past python-hl7's paths
        raise Rejected(f"A segment is malformed: {error}", SEGMENT_SEQUENCE_ERROR) from error
    return OruMessage(sender, control_id, message_type, observations, message)


def _observations(message) -> list[Observation]:
    groups: list[dict] = []
    for position, segment in enumerate(message, start=1):
        name = str(segment[0][0]) if len(segment) and len(segment[0]) else ""
        if not _SEGMENT_NAME.fullmatch(name):
            raise Rejected(
                f"Segment {position} is malformed (its name is {name[:10]!r})",
                SEGMENT_SEQUENCE_ERROR,
                location=f"^{position}",
            )
        if name == "OBR":
            groups.append({"obr": segment, "position": position, "obx": [], "spm": None})
        elif name == "OBX":
            if not groups:
                raise Rejected(
                    f"Segment {position} (OBX) comes before any OBR",
                    SEGMENT_SEQUENCE_ERROR,
                    location=f"OBX^{position}",
                )
            if groups[-1]["spm"] is None:
                groups[-1]["obx"].append((position, segment))
        elif name == "SPM" and groups and groups[-1]["spm"] is None:
            groups[-1]["spm"] = segment
    found = []
    for group in groups:
        accession = _accession(group)
        for position, obx in group["obx"]:
            if _get(obx, 11).upper() in SKIPPED_RESULT_STATUSES:
                continue
            found.append(_observation(accession, position, obx))
    if not found:
        raise Rejected(
            "The message carries no results (no OBX under an OBR)", REQUIRED_FIELD_MISSING, location="OBX"
        )
    return found


def _accession(group: dict) -> str:
    spm = group["spm"]
    candidates = [_get(spm, 2, 2), _get(spm, 2, 1)] if spm is not None else []
    candidates += [_get(group["obr"], 3), _get(group["obr"], 2)]
    accession = next((value for value in candidates if value), "")
    if not accession:
        raise Rejected(
            f"OBR at segment {group['position']} names no specimen (SPM-2, OBR-3 or OBR-2)",
            REQUIRED_FIELD_MISSING,
            location=f"OBR^{group['position']}^3",
        )
    return accession[:40]


def _observation(accession: str, position: int, obx) -> Observation:
    code = _get(obx, 3)
    if not code:
        raise Rejected(
            f"OBX at segment {position} has no test code (OBX-3)",
            REQUIRED_FIELD_MISSING,
            location=f"OBX^{position}^3",
        )
    value = _value(obx)
    if not value:
        raise Rejected(
            f"OBX at segment {position} ({code}) has no value (OBX-5)",
            REQUIRED_FIELD_MISSING,
            location=f"OBX^{position}^5",
        )
    stamp = _get(obx, 14)
    try:
        observed_at = parse_dtm(stamp) if stamp else None
    except ValueError as error:
        raise Rejected(
            f"OBX at segment {position} ({code}) has an unreadable time {stamp!r} (OBX-14)",
            DATA_TYPE_ERROR,
            location=f"OBX^{position}^14",
        ) from error
    return Observation(accession, code[:20], value, _get(obx, 6) or None, observed_at)


def _value(obx) -> str:
    kind = _get(obx, 2).upper()
    if kind in ("CE", "CWE", "CNE", "CF"):
        return _get(obx, 5, 2) or _get(obx, 5, 1)  # the coded value's text, else its code
    if kind == "SN":  # structured numeric: comparator, number, separator, number
        parts = [_get(obx, 5, n) for n in (1, 2, 3, 4)]
        return "".join(parts).strip()
    return _get(obx, 5)


def parse_dtm(stamp: str) -> datetime:
    """An HL7 DTM (YYYYMMDD[HHMM[SS[.S]]][+/-ZZZZ]) as an aware moment; without a zone, the hospital's."""
    match = _DTM.fullmatch(stamp.strip())
    if not match:
        raise ValueError(stamp)
    day, clock, zone = match.groups()
    clock = (clock or "0000").ljust(6, "0") if "." not in (clock or "") else clock
    moment = datetime.strptime(day + clock, "%Y%m%d%H%M%S.%f" if "." in clock else "%Y%m%d%H%M%S")
    if zone:
        offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5])) * (-1 if zone[0] == "-" else 1)
        return moment.replace(tzinfo=timezone(offset)).astimezone(UTC)
    return moment.replace(tzinfo=get_settings().tz).astimezone(UTC)


# ---------------------------------------------------------------------------- answering


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%S+0000")


def _safe(segment, field_num: int, component: int = 1) -> str:
    try:
        return _get(segment, field_num, component)
    except Exception:  # noqa: BLE001 - a header mangled past python-hl7's paths: nothing there
        return ""


def _echoed(message: hl7.Message | None) -> dict[int, str]:
    """What an ACK echoes of the sender's header (sender, receiver, trigger, control id,
    processing id, version) by MSH field number, escaped, from whatever header the sender wrote."""
    try:
        msh = message.segment("MSH") if message is not None else None
    except Exception:  # noqa: BLE001 - no MSH segment
        msh = None
    esc = _TEMPLATE.escape

    def field(number: int, component: int = 1, default: str = "") -> str:
        value = _safe(msh, number, component) if msh is not None else ""
        return esc(value) if value else default

    return {
        **{n: field(n) for n in (3, 4, 5, 6)},
        9: field(9, 2, "R01"),
        10: field(10)[: CONTROL_ID_MAX * 2],
        11: field(11, default="P"),
        12: field(12, default="2.5"),
    }


def _reply_header(echoed: dict[int, str]) -> str:
    """A clean MSH carrying what the ACK echoes: every ACK can then be built and read."""
    fields = [echoed[n] for n in (3, 4, 5, 6)]
    return "|".join(["MSH", "^~\\&", *fields, "", "", f"ORU^{echoed[9]}", *(echoed[n] for n in (10, 11, 12))])


def build_ack(text: str, row: Hl7Message, parsed: hl7.Message | None = None) -> str:
    """The ACK of a stored message: the same text every time it is asked for again."""
    if parsed is None:
        try:
            parsed = hl7.parse(text)
        except Exception:  # noqa: BLE001 - unreadable: answered as an anonymous ORU^R01
            parsed = None
    echoed = _echoed(parsed)
    if row.ack_code == "AA":
        # What python-hl7's create_ack below writes for an AA, written directly: every stored
        # message is answered so, and building it through the parser costs more than storing it.
        return (
            f"MSH|^~\\&|{RECEIVING_APPLICATION}|{echoed[6]}|{echoed[3]}|{echoed[4]}|{_stamp(row.received_at)}"
            f"||ACK^{echoed[9]}^ACK|HMS{row.id}|{echoed[11]}|{echoed[12]}\rMSA|AA|{echoed[10]}\r"
        )
    return _generic_ack(echoed, row)


def _generic_ack(echoed: dict[int, str], row: Hl7Message) -> str:
    source = hl7.parse(_reply_header(echoed))
    ack = source.create_ack(row.ack_code, message_id=f"HMS{row.id}", application=RECEIVING_APPLICATION)
    msh, msa = ack.segment("MSH"), ack.segment("MSA")
    msh.assign_field(_stamp(row.received_at), 7)
    if row.ack_code != "AA":
        code, _, location_and_reason = (row.error or "").partition(" ")
        location, _, reason = location_and_reason.partition(" ")
        reason = reason or "Rejected"
        msa.assign_field(ack.escape(reason[:80]), 3)
        err = ack.create_segment([ack.create_field(["ERR"])])
        if location and location != "-":
            err.assign_field(location, 2)
        err.assign_field(code, 3, 1, 1)
        err.assign_field(ERROR_TEXTS.get(code, "Application error"), 3, 1, 2)
        err.assign_field("HL70357", 3, 1, 3)
        err.assign_field("E", 4)
        err.assign_field(ack.escape(reason), 8)
        ack.append(err)
    return str(ack)


def _error_text(code: str, location: str, reason: str) -> str:
    # Kept in one column as "<0357 code> <ERR-2 location or -> <reason>" to rebuild the same ACK.
    return f"{code} {location or '-'} {reason}"[:300]


def _error_reason(row: Hl7Message) -> str:
    return (row.error or "").split(" ", 2)[-1] if row.error else ""


# ---------------------------------------------------------------------------- storing


def _stored(session: Session, sender: str, control_id: str) -> Hl7Message | None:
    return session.execute(
        select(Hl7Message).where(Hl7Message.sender == sender, Hl7Message.control_id == control_id)
    ).scalar_one_or_none()


def _outcome(text: str, row: Hl7Message, *, duplicate: bool = False, parsed=None) -> Hl7Outcome:
    return Hl7Outcome(
        ack=build_ack(text, row, parsed),
        ack_code=row.ack_code,
        sender=row.sender,
        control_id=row.control_id,
        message_type=row.message_type,
        results=row.results,
        reason=_error_reason(row),
        duplicate=duplicate,
    )


def _keep(session: Session, text: str, row: Hl7Message) -> Hl7Outcome:
    """Store a rejected or failed message with its answer and commit; a copy that got there first wins."""
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        earlier = _stored(session, row.sender, row.control_id)
        if earlier is None:
            raise
        return _outcome(text, earlier, duplicate=True)
    return _outcome(text, row)


def _header_of_unreadable(text: str) -> tuple[str, str, str]:
    try:
        sender, control_id, message_type = _header(hl7.parse(text))
    except Exception:  # noqa: BLE001 - not even a header to read
        return UNKNOWN_SENDER, "", ""
    return sender, control_id if len(control_id) <= CONTROL_ID_MAX else "", message_type


def receive_hl7(
    session: Session, raw: str | bytes, *, notify: Callable[[str], None] | None = None
) -> Hl7Outcome:
    """Store one message's results (or why not) and commit; its ACK and what happened. ``notify``
    tells the lab's boards after the commit (the listener passes one that gathers a burst)."""
    text = normalise(raw)
    received_at = utcnow()
    try:
        message = parse_oru(text)
    except Rejected as rejected:
        sender, control_id, message_type = _header_of_unreadable(text)
        if control_id:
            earlier = _stored(session, sender, control_id)
            if earlier is not None:
                return _outcome(text, earlier, duplicate=True)
        row = Hl7Message(
            sender=sender,
            # No control id to answer to: the row still needs a unique one of its own.
            control_id=control_id or f"none-{uuid.uuid4().hex[:24]}",
            message_type=message_type or "?",
            received_at=received_at,
            status="rejected",
            ack_code="AR",
            error=_error_text(rejected.code, rejected.location, rejected.reason),
            raw=text,
        )
        return _keep(session, text, row)

    row = Hl7Message(
        sender=message.sender,
        control_id=message.control_id,
        message_type=message.message_type,
        received_at=received_at,
        status="stored",
        ack_code="AA",
        results=len(message.observations),
        raw=text,
    )
    try:
        # The message row first: a message sent again meets its first copy at the unique key
        # (one arriving at the same moment waits there for the first to commit) and is answered
        # from it, instead of storing the results a second time.
        session.add(row)
        session.flush()
        analyser.record_analyser_results(session, readings=message.observations, sender=message.sender)
    except analyser.ReadingRefused as refused:
        session.rollback()  # all or nothing: not one result of the message stays
        failed = _not_stored(refused.number, message.observations[refused.number - 1], refused.error)
        error_row = Hl7Message(
            sender=message.sender,
            control_id=message.control_id,
            message_type=message.message_type,
            received_at=received_at,
            status="error",
            ack_code="AE",
            error=_error_text(failed.code, failed.location, failed.reason),
            raw=text,
        )
        return _keep(session, text, error_row)
    except IntegrityError:
        session.rollback()
        earlier = _stored(session, message.sender, message.control_id)
        if earlier is None:
            raise
        return _outcome(text, earlier, duplicate=True)
    except Exception:
        session.rollback()  # the database is away, or a fault: no answer, the analyser sends it again
        raise
    session.commit()
    (notify or live.publish)("lab")
    return _outcome(text, row, parsed=message.parsed)


class _NotStored(Exception):
    def __init__(self, reason: str, code: str, location: str):
        super().__init__(reason)
        self.reason, self.code, self.location = reason, code, location


def _not_stored(number: int, observation: Observation, error: Exception) -> _NotStored:
    """Why the ``number``-th result of a message was refused, as its AE answer says it."""
    where = f"OBX^{number}"
    if isinstance(error, analyser.UnknownSpecimen):
        return _NotStored(f"Unknown specimen {observation.accession}: {error}", UNKNOWN_KEY, where)
    if isinstance(error, analyser.UnknownTest):
        return _NotStored(
            f"Unknown test code {observation.test_code} for specimen {observation.accession}: {error}",
            TABLE_VALUE_NOT_FOUND,
            where + "^3",
        )
    if isinstance(error, NotFound):
        return _NotStored(str(error), UNKNOWN_KEY, where)
    if isinstance(error, ValidationError):
        if error.field not in (None, "value", "unit"):  # the specimen is not ready for results
            return _NotStored(f"{observation.accession}: {error}", APPLICATION_ERROR, where)
        shown = f"{observation.value[:40]} {observation.unit or ''}".strip()
        return _NotStored(
            f"Bad value {shown!r} for {observation.test_code} on {observation.accession}: {error}",
            DATA_TYPE_ERROR,
            where + ("^6" if error.field == "unit" else "^5"),
        )
    raise error


def ingest_hl7(session: Session, raw: str) -> str:
    """Store one ORU^R01's results and commit; return the ACK (AA, AE or AR) to send back."""
    return receive_hl7(session, raw).ack
