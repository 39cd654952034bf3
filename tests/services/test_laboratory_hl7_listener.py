"""The analyser listener as the operator runs it: `hms lab listen` in a process of its own, killed
in the middle of a stream (nothing it answered is lost, nothing sent again is stored twice), and
several listener processes sharing the port on PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from hl7.mllp import open_hl7_connection

from hms_app.interop import hl7_listener
from hms_app.models.laboratory import Hl7Message, LabResult
from hms_app.settings import PROJECT_ROOT
from tests.services.analyser_world import (
    POTASSIUM,
    SODIUM,
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


def test_the_command_line_starts_the_listener(monkeypatch):
    from hms_app import cli

    started = {}

    def fake_run(host, port, *, workers):
        started.update(host=host, port=port, workers=workers)

    monkeypatch.setattr(hl7_listener, "run_listener", fake_run)
    assert cli.main(["lab", "listen", "--port", "2575"]) == 0
    assert started == {"host": "127.0.0.1", "port": 2575, "workers": 1}
    assert cli.main(["lab", "listen", "--port", "2576", "--host", "0.0.0.0", "--workers", "3"]) == 0
    assert started == {"host": "0.0.0.0", "port": 2576, "workers": 3}


def test_several_listener_processes_only_on_postgresql(backend, capsys):
    from hms_app import cli

    if backend == "sqlite":
        assert cli.main(["lab", "listen", "--port", "2575", "--workers", "2"]) == 2
        assert "one writer at a time" in capsys.readouterr().err
    with pytest.raises(ValueError, match="fixed port"):
        hl7_listener.run_listener("127.0.0.1", 0, workers=2)


def _start_listener(url: str, data_dir, *options: str) -> tuple[subprocess.Popen, int]:
    """`hms lab listen` as the operator starts it, in a process of its own; it and its port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "HMS_DATABASE_URL": url, "HMS_DATA_DIR": str(data_dir)}
    process = subprocess.Popen(
        [sys.executable, "-m", "hms_app.cli", "lab", "listen", "--port", str(port), *options],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, port
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("hms lab listen did not start")


async def _send_until_cut(port: int, messages: list[str], acked: list[str]) -> None:
    """Send one by one, each after the last ACK, until the listener goes away."""
    reader, writer = await open_hl7_connection("127.0.0.1", port)
    try:
        for message in messages:
            writer.writeblock(message.encode())
            await writer.drain()
            acked.append(ack_of((await asyncio.wait_for(reader.readblock(), 30)).decode())["control"])
    except (asyncio.IncompleteReadError, ConnectionError):
        return
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def test_a_listener_killed_mid_stream_loses_nothing_it_answered_and_stores_nothing_twice(
    session, lab, configured_db, tmp_path
):
    total = 30
    for n in range(total):
        received_specimen(session, lab, f"K-{n:06d}", [POTASSIUM, SODIUM], number=n + 1)
    messages = [
        oru(
            f"KILL{n:03d}", groups=[(f"K-{n:06d}", [(POTASSIUM, "4.3", "mmol/L"), (SODIUM, "140", "mmol/L")])]
        )
        for n in range(total)
    ]
    process, port = _start_listener(configured_db, tmp_path)
    acked: list[str] = []
    sender = asyncio.create_task(_send_until_cut(port, messages, acked))
    while len(acked) < 8 and not sender.done():
        await asyncio.sleep(0.005)
    process.send_signal(signal.SIGKILL)  # the plug pulled while the analyser is still sending
    process.wait()
    await sender
    assert 8 <= len(acked) < total
    stored = {control for control, *_ in stored_messages(session)}
    assert set(acked) <= stored  # every message answered AA was committed first

    # The analyser sends again everything it got no answer for, and for good measure all the rest.
    process, port = _start_listener(configured_db, tmp_path)
    try:
        acks = await exchange(port, *messages)
    finally:
        process.terminate()
        process.wait()
    assert [ack_of(a)["code"] for a in acks] == ["AA"] * total
    assert count(session, Hl7Message) == total
    assert count(session, LabResult) == 2 * total  # each result once


@pytest.mark.parametrize(
    "database_url", ["postgresql"], indirect=True
)  # SQLite runs one listener (see above)
async def test_two_listener_processes_share_the_port_on_postgresql(session, lab, configured_db, tmp_path):
    for n in range(12):
        received_specimen(session, lab, f"W-{n:06d}", [POTASSIUM], number=n + 1)
    process, port = _start_listener(configured_db, tmp_path, "--workers", "2")
    try:
        batches = await asyncio.gather(
            *(
                exchange(
                    port,
                    *(
                        oru(f"W{n:03d}", groups=[(f"W-{n:06d}", [(POTASSIUM, "4.0", "mmol/L")])])
                        for n in range(start, 12, 4)
                    ),
                )
                for start in range(4)
            )
        )
    finally:
        process.terminate()
        assert process.wait(timeout=60) == 0  # the workers stopped with it
    assert [ack_of(a)["code"] for batch in batches for a in batch] == ["AA"] * 12
    assert count(session, LabResult) == 12


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite has no server to drop it
def test_a_database_connection_the_server_dropped_costs_one_unanswered_attempt(session, lab, configured_db):
    # The listener's PostgreSQL pool does not test a connection before each message (a round trip
    # per message): a connection the server dropped fails that message, unanswered, and the
    # analyser's next attempt is stored on a fresh connection.
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    received_specimen(session, lab, "S-00000001", [POTASSIUM])
    received_specimen(session, lab, "S-00000002", [POTASSIUM], number=2)
    quiet = hl7_listener.GatheredNotices(publish=lambda topic: None)

    def receive(control: str, accession: str) -> str:
        message = oru(control, groups=[(accession, [(POTASSIUM, "4.1", "mmol/L")])])
        return hl7_listener.receive_in_own_session(message.encode(), configured_db, quiet).ack

    hl7_listener._server_engine(configured_db).dispose()  # earlier tests' connections gone: one in the pool
    assert ack_of(receive("DROP1", "S-00000001"))["code"] == "AA"
    with hl7_listener._server_engine(configured_db).connect() as pooled:  # the one the listener used
        listener_pid = pooled.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": listener_pid})
    session.commit()
    with pytest.raises(OperationalError):
        receive("DROP2", "S-00000002")
    assert stored_messages(session) == [("DROP1", "stored", "AA", 1)]
    assert ack_of(receive("DROP2", "S-00000002"))["code"] == "AA"  # the analyser sends it again
    assert count(session, LabResult) == 2
