"""The audit trail: append-only, hash-chained, searchable, and itself audited when read.

Tampering is done the way an intruder with database access would do it: plain SQL
against the table, then ``verify_chain`` in a fresh session (nothing cached).
"""

from __future__ import annotations

import hashlib
import json
import stat
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from hms_app import db as hms_db
from hms_app.errors import Forbidden
from hms_app.models.security import AuditEvent, AuditHead
from hms_app.services import audit, audit_chain
from hms_app.services.audit import AuditFilter, record_audit, search_audit, verify_chain
from hms_app.services.audit_chain import seal_all
from hms_app.services.permissions import Actor

AUDITOR = Actor(
    user_id=7, username="auditor", roles=frozenset({"admin"}), permissions=frozenset({"audit.read"})
)
CLERK = Actor(
    user_id=8, username="clerk", roles=frozenset({"receptionist"}), permissions=frozenset({"patient.read"})
)


def _write(session, count: int, *, actor: Actor = CLERK, action: str = "patient.read") -> None:
    """Write ``count`` rows, each in its own transaction, then let the sequencer seal them."""
    for index in range(count):
        record_audit(
            session,
            actor,
            action,
            patient_id=100 + index,
            target_type="patient",
            target_id=100 + index,
            detail=f"row {index + 1}",
        )
        session.commit()
    seal_all(session)


def _verify(url: str):
    """Verify in a session of its own, as `hms audit verify` would: no identity-map shortcuts."""
    with hms_db.session_scope(url) as fresh:
        return verify_chain(fresh)


def _sql(url: str, statement: str, **params) -> None:
    with hms_db.get_engine(url).begin() as conn:
        conn.execute(text(statement), params)


def _plain_sha256(row: AuditEvent) -> str:
    """What an intruder without the key can compute: the old unkeyed chain's hash."""
    parts = [
        str(row.seq),
        row.occurred_at.isoformat(timespec="microseconds"),
        "" if row.user_id is None else str(row.user_id),
    ]
    parts += [row.username, row.roles, row.action, "" if row.patient_id is None else str(row.patient_id)]
    parts += [
        row.target_type or "",
        row.target_id or "",
        row.outcome,
        row.screen or "",
        row.detail or "",
        row.prev_hash,
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


# --------------------------------------------------------------------------- the chain


def test_an_empty_trail_verifies(configured_db):
    report = _verify(configured_db)
    assert report.ok and report.rows_checked == 0


def test_a_written_row_waits_unsealed_and_the_sequencer_links_every_row_to_the_one_before(
    session, configured_db
):
    record_audit(session, CLERK, "patient.read", patient_id=100)
    session.commit()
    with hms_db.session_scope(configured_db) as fresh:
        waiting = fresh.execute(select(AuditEvent)).scalar_one()
        assert (waiting.seq, waiting.prev_hash, waiting.hash) == (None, None, None)
        assert fresh.get(AuditHead, 1) is None  # writing locked and moved nothing shared
    assert "1 newer rows wait to be sealed" in _verify(configured_db).message
    _write(session, 4)
    report = _verify(configured_db)
    assert report.ok, report.message
    assert report.rows_checked == 5
    with hms_db.session_scope(configured_db) as fresh:
        rows = fresh.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars().all()
        head = fresh.get(AuditHead, 1)
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert [r.patient_id for r in rows] == [100, 100, 101, 102, 103]  # sealed in the order written
    assert rows[0].prev_hash == audit.GENESIS
    assert all(later.prev_hash == earlier.hash for earlier, later in zip(rows, rows[1:], strict=False))
    assert (head.seq, head.hash) == (5, rows[-1].hash)


def test_a_read_on_a_read_only_session_is_audited_in_a_transaction_of_its_own(session, configured_db):
    """A search or a chart opening reads on a read-only session (on SQLite: no write lock). Its
    audit row must still be written, at once, even when another user committed after the read
    began; inside the read's own SQLite snapshot that insert would fail ("database is locked")."""
    with hms_db.session_scope(configured_db, read_only=True) as reader:
        assert reader.execute(select(func.count()).select_from(AuditEvent)).scalar_one() == 0
        record_audit(session, AUDITOR, "patient.read", patient_id=1)  # another user, meanwhile
        session.commit()
        record_audit(reader, CLERK, "patient.search", target_type="patient", detail="query='sm'")
        with hms_db.session_scope(configured_db) as fresh:  # committed before the read has ended
            actions = fresh.execute(select(AuditEvent.username, AuditEvent.action)).all()
        assert sorted(actions) == [("auditor", "patient.read"), ("clerk", "patient.search")]
        assert not reader.new and not reader.dirty  # the read itself wrote nothing
        reader.rollback()  # a read that fails after auditing keeps its audit row
    seal_all(session)
    report = _verify(configured_db)
    assert report.ok and report.rows_checked == 2, report.message


def test_an_edited_row_is_detected(session, configured_db):
    _write(session, 5)
    _sql(configured_db, "UPDATE audit_event SET detail = 'nothing to see' WHERE seq = 3")
    report = _verify(configured_db)
    assert not report.ok
    assert report.first_bad_seq == 3
    assert "altered" in report.message


def test_an_edited_row_resealed_without_the_key_is_detected(session, configured_db):
    """The intruder recomputes the hash the way a plain hash chain would: without the key
    the seal does not match, however consistent the rest looks."""
    _write(session, 5)
    with hms_db.session_scope(configured_db) as fresh:
        row = fresh.execute(select(AuditEvent).where(AuditEvent.seq == 3)).scalar_one()
        row.username = "someone-else"
        forged_hash = _plain_sha256(row)
    _sql(
        configured_db,
        "UPDATE audit_event SET username = 'someone-else', hash = :h WHERE seq = 3",
        h=forged_hash,
    )
    report = _verify(configured_db)
    assert not report.ok
    assert report.first_bad_seq == 3
    assert "altered" in report.message


def test_a_whole_chain_rewritten_without_the_key_fails_at_its_first_row(session, configured_db):
    _write(session, 3)
    with hms_db.session_scope(configured_db) as fresh:
        previous = audit.GENESIS
        for row in fresh.execute(select(AuditEvent).order_by(AuditEvent.id)).scalars().all():
            row.prev_hash = previous
            row.hash = previous = _plain_sha256(row)
        fresh.get(AuditHead, 1).hash = previous
        fresh.commit()
    report = _verify(configured_db)
    assert not report.ok and report.first_bad_seq == 1


def test_a_deleted_middle_row_is_detected(session, configured_db):
    _write(session, 5)
    _sql(configured_db, "DELETE FROM audit_event WHERE seq = 3")
    report = _verify(configured_db)
    assert not report.ok
    assert report.first_bad_seq == 3
    assert "missing" in report.message


def test_a_deleted_last_row_is_detected_by_the_head(session, configured_db):
    _write(session, 5)
    _sql(configured_db, "DELETE FROM audit_event WHERE seq = 5")
    report = _verify(configured_db)
    assert not report.ok
    assert report.first_bad_seq == 5
    assert report.rows_checked == 4


def test_a_cut_tail_with_the_head_moved_back_is_caught_by_the_signed_checkpoints(session, configured_db):
    """The attack a plain chain cannot see: delete the newest rows and move the head back to
    the last row left. Every remaining row and the head agree; the checkpoint file does not."""
    _write(session, 3)
    _write(session, 2)
    with hms_db.session_scope(configured_db) as fresh:
        third = fresh.execute(select(AuditEvent).where(AuditEvent.seq == 3)).scalar_one()
    _sql(configured_db, "DELETE FROM audit_event WHERE seq > 3")
    _sql(configured_db, "UPDATE audit_head SET seq = 3, hash = :h", h=third.hash)
    report = _verify(configured_db)
    assert not report.ok
    assert report.first_bad_seq == 4
    assert "rows 4 to 5 are gone" in report.message


def test_a_cut_tail_refilled_with_other_rows_is_caught_by_the_checkpoints(session, configured_db):
    """Cut rows 4-5, then let new rows be sealed in their place: the numbers are back, but the
    checkpoint of row 5 names a different seal."""
    _write(session, 5)
    with hms_db.session_scope(configured_db) as fresh:
        third = fresh.execute(select(AuditEvent).where(AuditEvent.seq == 3)).scalar_one()
    _sql(configured_db, "DELETE FROM audit_event WHERE seq > 3")
    _sql(configured_db, "UPDATE audit_head SET seq = 3, hash = :h", h=third.hash)
    _write(session, 2, action="harmless.read")
    report = _verify(configured_db)
    assert not report.ok
    assert report.first_bad_seq == 5  # the checkpoints saw row 5 twice, as two different rows
    assert "row 5 was replaced" in report.message


def test_a_checkpoint_line_not_signed_with_the_key_is_tampering(session, configured_db):
    _write(session, 2)
    path = audit_chain.checkpoint_path()
    lines = path.read_text().splitlines()
    forged = json.loads(lines[-1]) | {"seq": 1}
    path.write_text("\n".join([*lines[:-1], json.dumps(forged)]) + "\n")
    report = _verify(configured_db)
    assert not report.ok
    assert "not signed with this server's key" in report.message


def test_the_key_lives_outside_the_database_in_a_file_only_the_server_can_read(session, configured_db):
    _write(session, 1)
    key_file = audit_chain.checkpoint_path().parent / "audit.key"
    assert key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(audit_chain.checkpoint_path().stat().st_mode) == 0o600
    key_text = key_file.read_text().strip()
    with hms_db.get_engine(configured_db).connect() as conn:
        for table in ("audit_event", "audit_head"):
            dump = " ".join(
                str(value) for row in conn.execute(text(f"SELECT * FROM {table}")) for value in row
            )
            assert key_text not in dump


def test_a_key_from_the_environment_is_used_and_a_bad_one_is_refused(session, configured_db, monkeypatch):
    from hms_app.keys import KeyProblem, new_key_text

    monkeypatch.setenv("HMS_AUDIT_KEY", new_key_text())
    _write(session, 2)
    assert _verify(configured_db).ok
    monkeypatch.setenv("HMS_AUDIT_KEY", new_key_text())  # another key: nothing sealed verifies
    report = _verify(configured_db)
    assert not report.ok
    monkeypatch.setenv("HMS_AUDIT_KEY", "c2hvcnQ=")
    with pytest.raises(KeyProblem, match="at least 32"):
        _verify(configured_db)


def test_a_forged_row_with_the_wrong_predecessor_is_detected(session, configured_db):
    _write(session, 5)
    _sql(configured_db, "DELETE FROM audit_event WHERE seq = 3")
    with hms_db.session_scope(configured_db) as fresh:
        forged = AuditEvent(
            seq=3,
            occurred_at=datetime.now(UTC),
            user_id=1,
            username="intruder",
            roles="admin",
            action="patient.read",
            patient_id=999,
            outcome="success",
            prev_hash="f" * 64,
        )
        forged.hash = _plain_sha256(forged)
        fresh.add(forged)
        fresh.commit()
    report = _verify(configured_db)
    assert not report.ok
    assert report.first_bad_seq == 3
    assert "does not follow" in report.message


def test_a_row_appended_behind_the_heads_back_is_detected(session, configured_db):
    _write(session, 3)
    with hms_db.session_scope(configured_db) as fresh:
        last = fresh.execute(select(AuditEvent).where(AuditEvent.seq == 3)).scalar_one()
        extra = AuditEvent(
            seq=4,
            occurred_at=last.occurred_at,
            username="intruder",
            action="patient.read",
            outcome="success",
            roles="",
            prev_hash=last.hash,
        )
        extra.hash = _plain_sha256(extra)
        fresh.add(extra)  # a plain INSERT that bypasses the sequencer, so the head is not moved
        fresh.commit()
    report = _verify(configured_db)
    assert not report.ok
    assert report.first_bad_seq == 4


def test_verification_reads_in_batches_across_the_whole_chain(session, configured_db):
    _write(session, 7)
    with hms_db.session_scope(configured_db) as fresh:
        assert verify_chain(fresh, batch=2).ok
    _sql(configured_db, "UPDATE audit_event SET outcome = 'denied' WHERE seq = 6")
    with hms_db.session_scope(configured_db) as fresh:
        report = verify_chain(fresh, batch=2)
    assert not report.ok and report.first_bad_seq == 6


def test_concurrent_writers_and_sequencers_give_one_unbroken_chain(configured_db):
    """8 writers x 25 rows on their own sessions while 3 sequencers seal as they go, from an
    empty trail (no head row yet): every row gets exactly one place, numbers have no gap."""
    writers, per_writer, sequencers = 8, 25, 3
    errors: list[BaseException] = []
    start = threading.Barrier(writers + sequencers)
    writing = threading.Event()
    writing.set()

    def write(number: int) -> None:
        actor = Actor(user_id=number, username=f"writer{number}", permissions=frozenset())
        try:
            start.wait()
            for index in range(per_writer):
                with hms_db.session_scope(configured_db) as own:
                    record_audit(own, actor, "test.write", detail=f"{number}/{index}")
                    own.commit()
        except BaseException as error:  # noqa: BLE001  (reported below)
            errors.append(error)

    def seal() -> None:
        try:
            start.wait()
            while writing.is_set():
                with hms_db.session_scope(configured_db) as own:
                    audit_chain.seal_pending(own, limit=7)
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    writer_threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    sealer_threads = [threading.Thread(target=seal) for _ in range(sequencers)]
    for thread in writer_threads + sealer_threads:
        thread.start()
    for thread in writer_threads:
        thread.join(timeout=120)
    writing.clear()
    for thread in sealer_threads:
        thread.join(timeout=120)
    assert not errors, errors
    with hms_db.session_scope(configured_db) as fresh:
        seal_all(fresh)
        seqs = fresh.execute(select(AuditEvent.seq).order_by(AuditEvent.seq)).scalars().all()
        per_user = dict(
            fresh.execute(select(AuditEvent.username, func.count()).group_by(AuditEvent.username)).all()
        )
    assert seqs == list(range(1, writers * per_writer + 1))
    assert per_user == {f"writer{n}": per_writer for n in range(writers)}
    report = _verify(configured_db)
    assert report.ok, report.message
    assert report.rows_checked == writers * per_writer


def test_long_details_are_cut_so_that_a_row_always_fits(session, configured_db):
    row = record_audit(session, CLERK, "patient.read", detail="x" * 10_000)
    session.commit()
    assert len(row.detail) == 4000
    assert _verify(configured_db).ok


# --------------------------------------------------------------------------- search


@pytest.fixture
def dated_trail(session, monkeypatch):
    """Rows written at known moments (the audit clock is moved, not the rows edited)."""
    moments = iter(
        [
            datetime(2026, 1, 10, 9, 0, tzinfo=UTC),  # 1 clerk  patient.read 100
            datetime(2026, 1, 10, 23, 30, tzinfo=UTC),  # 2 clerk  patient.write 100
            datetime(2026, 1, 11, 3, 0, tzinfo=UTC),  # 3 nurse  patient.read 101
            datetime(2026, 1, 11, 12, 0, tzinfo=UTC),  # 4 nurse  emr.note 101
            datetime(2026, 1, 12, 8, 0, tzinfo=UTC),  # 5 clerk  patient.read 102
        ]
    )
    monkeypatch.setattr(audit, "utcnow", lambda: next(moments))
    nurse = Actor(
        user_id=9, username="nurse", roles=frozenset({"nurse"}), permissions=frozenset({"patient.read"})
    )
    for actor, action, patient in [
        (CLERK, "patient.read", 100),
        (CLERK, "patient.write", 100),
        (nurse, "patient.read", 101),
        (nurse, "emr.note", 101),
        (CLERK, "patient.read", 102),
    ]:
        record_audit(session, actor, action, patient_id=patient)
    session.commit()
    seal_all(session)
    monkeypatch.setattr(audit, "utcnow", lambda: datetime(2026, 1, 13, 9, 0, tzinfo=UTC))
    return session


def _seqs(rows) -> list[int]:
    return [r.seq for r in rows]


def test_search_filters_by_user_patient_action_and_date(dated_trail):
    s = dated_trail

    def search(**filters):
        return search_audit(s, actor=AUDITOR, filters=AuditFilter(**filters), page_size=50)

    rows, total = search(username="clerk")
    assert (_seqs(rows), total) == ([5, 2, 1], 3)
    rows, total = search(patient_id=101)
    assert (_seqs(rows), total) == ([4, 3], 2)
    rows, total = search(action="patient.")  # an action prefix: every patient.* action
    assert (_seqs(rows), total) == ([5, 3, 2, 1], 4)
    rows, total = search(action="patient.read", username="nurse")
    assert (_seqs(rows), total) == ([3], 1)
    rows, total = search(date_from=date(2026, 1, 11), date_to=date(2026, 1, 11))
    assert (_seqs(rows), total) == ([4, 3], 2)
    rows, total = search(date_to=date(2026, 1, 9))
    assert (rows, total) == ([], 0)


def test_search_dates_are_days_in_the_hospitals_time_zone(dated_trail, monkeypatch):
    from hms_app.settings import get_settings

    monkeypatch.setenv("HMS_TIME_ZONE", "America/New_York")
    get_settings.cache_clear()
    rows, total = search_audit(
        dated_trail,
        actor=AUDITOR,
        page_size=50,
        filters=AuditFilter(date_from=date(2026, 1, 10), date_to=date(2026, 1, 10)),
    )
    # 10 Jan in New York runs from 05:00 UTC on the 10th to 05:00 UTC on the 11th.
    assert (_seqs(rows), total) == ([3, 2, 1], 3)


def test_search_pages_newest_first_and_reports_the_total(dated_trail):
    first, total = search_audit(dated_trail, actor=AUDITOR, filters=AuditFilter(), page=1, page_size=2)
    second, _ = search_audit(dated_trail, actor=AUDITOR, filters=AuditFilter(), page=2, page_size=2)
    assert total == 5
    assert _seqs(first) == [5, 4]
    # The first search wrote its own audit row (seq 6) on top, so page 2 now starts at 4.
    assert _seqs(second) == [4, 3]
    third, total_after = search_audit(
        dated_trail, actor=AUDITOR, filters=AuditFilter(action="patient"), page=2, page_size=3
    )
    assert total_after == 4 and _seqs(third) == [1]
    beyond, _ = search_audit(dated_trail, actor=AUDITOR, filters=AuditFilter(), page=99, page_size=2)
    assert beyond == []


def test_searching_the_trail_is_itself_audited(dated_trail, configured_db):
    search_audit(dated_trail, actor=AUDITOR, filters=AuditFilter(username="clerk", patient_id=100))
    with hms_db.session_scope(configured_db) as fresh:
        last = fresh.execute(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).scalar_one()
    assert last.action == "audit.search"
    assert last.username == "auditor" and last.user_id == 7 and last.outcome == "success"
    assert "username=clerk" in last.detail and "patient_id=100" in last.detail
    assert _verify(configured_db).ok


def test_search_needs_the_audit_permission_and_leaves_no_row_when_refused(dated_trail, configured_db):
    with pytest.raises(Forbidden):
        search_audit(dated_trail, actor=CLERK, filters=AuditFilter())
    with hms_db.session_scope(configured_db) as fresh:
        assert fresh.execute(select(func.count()).select_from(AuditEvent)).scalar_one() == 5


def test_search_page_size_is_capped(session):
    _write(session, 3)
    rows, total = search_audit(session, actor=AUDITOR, filters=AuditFilter(), page=0, page_size=10_000)
    assert total == 3 and len(rows) == 3  # page 0 is read as page 1; the size is capped, not refused
    assert timedelta(0) <= datetime.now(UTC) - rows[0].occurred_at < timedelta(minutes=5)
