"""`hms backup` / `hms restore`: every table comes back row for row, damaged files are refused.

These run on SQLite and PostgreSQL (the ``configured_db`` fixture), the same code path on both.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import shutil
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from hms_app import db as hms_db
from hms_app.cli import main as cli_main
from hms_app.errors import DomainError
from hms_app.models import metadata
from hms_app.models.organization import Counter
from hms_app.models.patients import Patient
from hms_app.models.security import AuditEvent, AuditHead, UserSession
from hms_app.seed.registry import DEMO_PASSWORD
from hms_app.services import audit_chain, security
from hms_app.services import backup as backup_service
from hms_app.services.audit import record_audit, verify_chain
from hms_app.services.audit_chain import seal_all
from hms_app.services.backup import backup_database, restore_database
from hms_app.services.patients import merge_patients, register_patient
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.settings import get_settings
from tests.services.hospital_snapshot import seed_args, seeded_hospital

AUDIT_TABLES = {"audit_event", "audit_head"}
# A month of stock history fills every inventory table; the demo's year only makes the seed slower.
STOCK_DAYS = 30
SMALL = 40  # patients, for the tests of refusals: what they check is the refusal, not every table


def _hashable(value):
    # JSON columns (a merge's list of moved rows) come back as dicts and lists.
    return json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value


def _contents(url: str) -> dict[str, set[tuple]]:
    """Every row of every table, as sets of tuples (the test hospital is small)."""
    with hms_db.get_engine(url).connect() as conn:
        return {
            table.name: {tuple(map(_hashable, row)) for row in conn.execute(select(table))}
            for table in metadata.sorted_tables
        }


def _hospital(session, patients: int = 300) -> None:
    """A small hospital with sign-ins, a failed sign-in and patient reads in the audit trail."""
    seeded_hospital(session, **seed_args(patients, STOCK_DAYS))
    for username in ("dr.grey", "nurse.joy", "admin"):
        security.sign_in(session, username=username, password=DEMO_PASSWORD, client_ip="10.0.0.7")
    with pytest.raises(DomainError):
        security.sign_in(session, username="reception", password="not-the-password")
    survivor = session.execute(select(func.max(Patient.id))).scalar_one()
    merge_patients(
        session, actor=SYSTEM_ACTOR, survivor_id=survivor, merged_id=1, reason="Registered twice at the desk"
    )
    for patient_id in (1, 2, 3):
        record_audit(
            session,
            SYSTEM_ACTOR,
            "patient.read",
            patient_id=patient_id,
            target_type="patient",
            target_id=patient_id,
        )
    session.commit()


def _foreign_keys_enforced(url: str) -> bool:
    """On SQLite, every pooled connection still checks foreign keys (a restore turns them off on its own)."""
    engine = hms_db.get_engine(url)
    if engine.dialect.name != "sqlite":
        return True
    with contextlib.ExitStack() as stack:
        connections = [stack.enter_context(engine.connect()) for _ in range(engine.pool.checkedin() + 1)]
        # Asked on the driver's connection: SQLAlchemy would open a writing transaction on each.
        return all(
            conn.connection.dbapi_connection.execute("PRAGMA foreign_keys").fetchone()[0] == 1
            for conn in connections
        )


def _chain_ok(url: str) -> bool:
    with hms_db.session_scope(url) as s:
        return verify_chain(s).ok


def _letters(number: int) -> str:
    """A name part from a number (names may hold letters only): 0 -> "a", 27 -> "bb"."""
    text = ""
    while True:
        number, digit = divmod(number, 26)
        text = chr(ord("a") + digit) + text
        if number == 0:
            return text


def _new_patient(session, given: str, number: int = 0) -> Patient:
    """Register a patient through the service (MRN counter, search keys, audit row)."""
    return register_patient(
        session,
        actor=SYSTEM_ACTOR,
        data={
            "given_name": given.capitalize(),
            "family_name": "Restore",
            "sex": "female",
            # Wraps around so that a long-running writer never reaches a birth date in the future.
            "birth_date": date(1950, 1, 1) + timedelta(days=37 * (number % 600)),
        },
        duplicate_reason="a different person, registered by the backup tests",
    )


def test_restore_brings_back_every_table_row_for_row(configured_db, session, tmp_path):
    _hospital(session)
    seal_all(session)  # the sequencer has caught up, so the trail can be compared verbatim
    before = _contents(configured_db)
    assert len(before["patient"]) >= 300 and before["user_session"] and len(before["audit_event"]) > 5
    # A merged record points at a survivor with a higher id: rows cannot simply go back in id order.
    assert any(
        row[0] < row[1] for row in session.execute(select(Patient.id, Patient.merged_into_id)) if row[1]
    )
    session.rollback()  # on SQLite the fixture's transaction holds the write lock until it ends
    path = tmp_path / "hms.backup.gz"

    summary = backup_database(path)
    assert summary == f"{len(before)} tables, {sum(len(rows) for rows in before.values()):,} rows"
    with hms_db.session_scope(configured_db) as s:
        assert (
            s.execute(select(AuditEvent.action).order_by(AuditEvent.id.desc())).scalars().first()
            == "system.backup"
        )

    # Life goes on after the backup: rows are added, changed and deleted in several tables.
    _new_patient(session, "Added")
    first = session.get(Patient, 1)
    first.family_name = "Changed"
    session.add(first)
    for row in session.execute(select(UserSession)).scalars():
        session.delete(row)
    session.commit()
    security.sign_in(session, username="billing", password=DEMO_PASSWORD)
    session.rollback()  # end the fixture's read transaction: a restore replaces whole tables
    assert _contents(configured_db) != before

    assert restore_database(path) == summary
    after = _contents(configured_db)
    for name in before.keys() - AUDIT_TABLES:
        assert after[name] == before[name], f"table {name} differs after restore"
    # The audit trail comes back verbatim, followed by exactly one entry for the restore itself.
    added = after["audit_event"] - before["audit_event"]
    assert before["audit_event"] <= after["audit_event"] and len(added) == 1
    with hms_db.session_scope(configured_db) as s:
        last = s.execute(select(AuditEvent).order_by(AuditEvent.id.desc())).scalars().first()
        assert last.action == "system.restore" and last.seq == len(before["audit_event"]) + 1
        assert s.get(AuditHead, 1).seq == last.seq
    assert _chain_ok(configured_db)
    assert _foreign_keys_enforced(configured_db)

    # New rows continue after the restored ids (PostgreSQL's sequences were reset).
    with hms_db.session_scope(configured_db) as s:
        assert _new_patient(s, "After").id == max(row[0] for row in before["patient"]) + 1


def test_backup_taken_while_others_write_is_one_consistent_moment(
    configured_db, session, tmp_path, monkeypatch
):
    _hospital(session)
    for i in range(400):  # a longer audit trail, so reading it takes many batches
        record_audit(session, SYSTEM_ACTOR, "patient.read", patient_id=1 + i % 300)
    session.commit()
    session.rollback()

    writes = 0
    stop = threading.Event()
    errors: list[BaseException] = []

    def register_patients() -> None:
        nonlocal writes
        try:
            while not stop.is_set():
                with hms_db.session_scope(configured_db) as s:
                    _new_patient(s, f"Concurrent{_letters(writes)}", writes)
                writes += 1
        except BaseException as error:  # noqa: BLE001 - reported by the test below
            errors.append(error)

    # Between tables the backup waits until the writer has committed again, so that rows
    # really are added while the snapshot is being read: a backup that read each table at
    # a different moment would hold an audit head ahead of its rows, patients without
    # their audit entries, or a counter that disagrees with the patients.
    real_line = backup_service._line

    def slow_line(item):
        if isinstance(item, dict) and "table" in item:
            target = writes + 2
            deadline = time.monotonic() + 10
            while writes < target and time.monotonic() < deadline and not errors:
                time.sleep(0.002)
        return real_line(item)

    monkeypatch.setattr(backup_service, "_line", slow_line)
    writer = threading.Thread(target=register_patients, daemon=True)
    writer.start()
    try:
        while writes < 3 and not errors:
            time.sleep(0.005)
        started_at = writes
        backup_database(tmp_path / "live.gz", batch_size=25)
        finished_at = writes
        while writes < finished_at + 2 and not errors:
            time.sleep(0.005)
    finally:
        stop.set()
        writer.join(timeout=30)
    assert not errors, errors
    assert finished_at - started_at >= 2 * len(metadata.sorted_tables)  # the writer kept going throughout

    monkeypatch.setattr(backup_service, "_line", real_line)
    restore_database(tmp_path / "live.gz")
    assert _chain_ok(configured_db)
    with hms_db.session_scope(configured_db) as s:
        patients = s.execute(select(func.count()).select_from(Patient)).scalar_one()
        concurrent = set(
            s.execute(select(Patient.id).where(Patient.given_name.startswith("Concurrent"))).scalars()
        )
        audited = set(
            s.execute(select(AuditEvent.patient_id).where(AuditEvent.action == "patient.create")).scalars()
        )
        counter = s.execute(select(Counter.value).where(Counter.name == "mrn")).scalar_one()
    assert started_at <= len(concurrent) <= finished_at
    assert concurrent == audited  # every patient with its audit entry, no entry without its patient
    assert counter == patients  # the MRN counter agrees with the patients it numbered


def _damage_flipped_bytes(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for offset in range(len(data) // 2, len(data) // 2 + 8):
        data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def _damage_truncated(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3])


def _rewrite_lines(path: Path, change) -> None:
    with gzip.open(path, "rb") as stream:
        lines = stream.read().splitlines(keepends=True)
    with gzip.open(path, "wb") as stream:
        stream.write(b"".join(change(lines)))


def _damage_edited_row(path: Path) -> None:
    """A well-formed file whose content was changed after it was written."""

    def edit(lines):
        index = lines.index(b'{"table":"patient"}\n') + 1
        row = json.loads(lines[index])
        row[2] = "Mallory"  # the first patient's given name
        lines[index] = json.dumps(row).encode() + b"\n"
        return lines

    _rewrite_lines(path, edit)


def _damage_cut_at_a_line(path: Path) -> None:
    """Cut short at a line boundary and re-compressed: only the missing end marker tells."""
    _rewrite_lines(path, lambda lines: lines[: len(lines) // 2])


def _damage_other_revision(path: Path) -> None:
    def other(lines):
        header = json.loads(lines[0])
        header["revision"] = "0123456789ab"
        return [json.dumps(header).encode() + b"\n", *lines[1:]]

    _rewrite_lines(path, other)


DAMAGES = [
    (_damage_flipped_bytes, "not a complete, unaltered HMS backup"),
    (_damage_truncated, "not a complete, unaltered HMS backup"),
    (_damage_edited_row, "checksum does not match"),
    (_damage_cut_at_a_line, "end marker is missing"),
    (_damage_other_revision, "hms migrate"),
]


def test_a_damaged_or_foreign_backup_is_refused_and_nothing_changes(configured_db, session, tmp_path):
    """Each damage on its own copy of one backup of one hospital: seeding it took ~15 s a damage."""
    # A small hospital: what is checked is the refusal, not the coverage of every table.
    seeded_hospital(session, **seed_args(SMALL, STOCK_DAYS))
    pristine = tmp_path / "pristine.backup.gz"
    backup_database(pristine)
    _new_patient(session, "KeptAfterRefusal")
    session.rollback()

    for damage, message in DAMAGES:
        path = tmp_path / f"{damage.__name__}.backup.gz"
        shutil.copyfile(pristine, path)
        damage(path)
        before = _contents(configured_db)

        with pytest.raises(DomainError, match=message) as refused:
            restore_database(path)
        assert "Traceback" not in str(refused.value), damage.__name__
        assert _contents(configured_db) == before, f"{damage.__name__} changed the database"
        assert _chain_ok(configured_db), damage.__name__


def test_a_forged_backup_whose_rows_do_not_fit_together_is_refused(configured_db, session, tmp_path):
    """Even with a recomputed checksum, a role given to a user who does not exist is refused."""
    _hospital(session)
    session.rollback()
    path = tmp_path / "hms.backup.gz"
    backup_database(path)
    before = _contents(configured_db)

    def forge(lines):
        body = lines[:-1]
        index = body.index(b'{"table":"user_role"}\n') + 1
        row = json.loads(body[index])
        row[1] = 999_999  # user_id
        body[index] = json.dumps(row).encode() + b"\n"
        trailer = json.loads(lines[-1])
        trailer["trailer"]["sha256"] = hashlib.sha256(b"".join(body)).hexdigest()
        return [*body, json.dumps(trailer).encode() + b"\n"]

    _rewrite_lines(path, forge)
    with pytest.raises(DomainError, match="do not fit together"):
        restore_database(path)
    assert _contents(configured_db) == before
    assert _foreign_keys_enforced(configured_db)


def test_a_missing_backup_file_is_a_plain_error(configured_db, tmp_path):
    with pytest.raises(DomainError, match="There is no backup file"):
        restore_database(tmp_path / "nowhere.gz")
    with pytest.raises(DomainError, match="does not exist"):
        backup_database(tmp_path / "no-such-folder" / "b.gz")


def test_a_restore_that_fails_midway_leaves_the_database_as_it_was(configured_db, session, tmp_path):
    seeded_hospital(session, **seed_args(SMALL, STOCK_DAYS))
    path = tmp_path / "hms.backup.gz"
    backup_database(path)
    _new_patient(session, "StillHere")
    session.rollback()
    before = _contents(configured_db)

    engine = hms_db.get_engine(configured_db)

    def fail_on_patients(conn, cursor, statement, *args):
        # The tables have been emptied and some are refilled by now; then the disk "fills up".
        if statement.lstrip().upper().startswith("INSERT INTO PATIENT"):
            raise OSError("No space left on device")

    event.listen(engine, "before_cursor_execute", fail_on_patients)
    try:
        with pytest.raises(Exception, match="No space left"):
            restore_database(path)
    finally:
        event.remove(engine, "before_cursor_execute", fail_on_patients)
    assert _contents(configured_db) == before
    assert _chain_ok(configured_db)
    assert _foreign_keys_enforced(configured_db)


def test_backup_leaves_no_partial_file_when_it_fails(configured_db, session, tmp_path, monkeypatch):
    seeded_hospital(session, **seed_args(SMALL, STOCK_DAYS))
    session.rollback()
    path = tmp_path / "hms.backup.gz"

    def broken(value):
        raise RuntimeError("disk unplugged")

    monkeypatch.setattr(backup_service, "_encode", broken)
    with pytest.raises(RuntimeError):
        backup_database(path)
    # Nothing beside the hospital's own data folder (the seeded message attachments live there).
    data_dir = get_settings().data_dir
    assert [p for p in tmp_path.iterdir() if p != data_dir] == []


def test_command_line_backup_and_restore(configured_db, session, tmp_path, capsys):
    _hospital(session)
    session.rollback()
    before = _contents(configured_db)
    path = tmp_path / "cli.backup.gz"

    assert cli_main(["backup", str(path)]) == 0
    assert f"backup written to {path}: {len(before)} tables" in capsys.readouterr().out
    with hms_db.session_scope(configured_db) as s:
        _new_patient(s, "Gone")

    assert cli_main(["restore", str(path), "--yes"]) == 0
    assert f"restored from {path}: {len(before)} tables" in capsys.readouterr().out
    after = _contents(configured_db)
    assert all(after[name] == before[name] for name in before.keys() - AUDIT_TABLES)
    assert cli_main(["audit", "verify"]) == 0

    assert cli_main(["restore", str(tmp_path / "missing.gz"), "--yes"]) == 2
    assert "There is no backup file" in capsys.readouterr().err


def test_restore_without_a_terminal_asks_for_yes_and_changes_nothing(
    configured_db, session, tmp_path, capsys, monkeypatch
):
    """A restore from a script or cron with no --yes: a clear message and exit 2, no EOFError."""
    _new_patient(session, "Kept")
    session.commit()
    path = tmp_path / "cli.backup.gz"
    assert cli_main(["backup", str(path)]) == 0
    _new_patient(session, "Later")
    session.commit()
    before = _contents(configured_db)
    capsys.readouterr()
    with open(os.devnull) as no_terminal:
        monkeypatch.setattr(sys, "stdin", no_terminal)
        assert cli_main(["restore", str(path)]) == 2
    out, err = capsys.readouterr()
    assert "Pass --yes" in err and "Traceback" not in out + err
    assert _contents(configured_db) == before


def test_a_restore_starts_the_audit_checkpoints_afresh_and_the_chain_verifies(
    configured_db, session, tmp_path
):
    """Restoring an older backup moves the head back on purpose: the signed restore line says
    so, so the checkpoints of the newer rows are not taken for a cut tail."""
    _new_patient(session, "Early")
    session.commit()
    seal_all(session)
    path = tmp_path / "early.backup.gz"
    backup_database(path)
    for number in range(3):
        _new_patient(session, "Later", number)
        session.commit()
    seal_all(session)
    session.rollback()
    restore_database(path)
    with hms_db.session_scope(configured_db) as s:
        report = verify_chain(s)
    assert report.ok, report.message
    lines = audit_chain.read_checkpoints()
    assert lines[0].kind == "restore" and all(line.kind == "head" for line in lines[1:])
