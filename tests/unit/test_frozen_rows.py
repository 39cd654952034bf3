"""Services hand out frozen copies, never live table rows (issue 10): what a screen's state, the
API or the command line gets back cannot be changed and flushed by whoever holds a session next."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pickle
import pkgutil
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from sqlmodel import SQLModel

import hms_app.models
import hms_app.services
from hms_app.models.scheduling import Appointment
from hms_app.services import rows

# Services that return rows on purpose: building blocks other services call inside their own
# transaction, to change the row further before committing.
KEEP_ROWS = {
    "hms_app.services.audit.record_audit": "the caller's transaction still flushes the audit row",
    "hms_app.services.scheduling.appointments.insert_appointment": "booking and moving finish the row",
    "hms_app.services.scheduling.slots.service_and_type": "read inside the booking transaction",
    "hms_app.services.accounts.create_user": "returns the account to its callers in the service layer",
    "hms_app.services.inventory.ledger.record_move": "a ledger line written inside the calling move's transaction",
    "hms_app.services.fhir_clients.clients.create_client": "the caller (register, the operator's token) commits it",
    "hms_app.services.messaging.common.thread_for": "the messaging services' lookup, changed in their own transaction",
}


def _tables() -> set[str]:
    for module in pkgutil.walk_packages(hms_app.models.__path__, "hms_app.models."):
        importlib.import_module(module.name)
    return {mapper.class_.__name__ for mapper in SQLModel._sa_registry.mappers}


def _services():
    for module in pkgutil.walk_packages(hms_app.services.__path__, "hms_app.services."):
        loaded = importlib.import_module(module.name)
        for name, fn in vars(loaded).items():
            if name.startswith("_") or not callable(fn) or getattr(fn, "__module__", "") != loaded.__name__:
                continue
            yield f"{loaded.__name__}.{name}", fn


def test_every_service_that_returns_a_table_row_hands_out_a_frozen_copy():
    tables = _tables()
    offenders = []
    for qualified, fn in _services():
        target = inspect.unwrap(fn)
        if not inspect.isfunction(target) or "actor" not in inspect.signature(target).parameters:
            continue
        returned = str(inspect.signature(target).return_annotation)
        names = set(returned.replace("[", " ").replace("]", " ").replace(",", " ").replace("|", " ").split())
        if names & tables and not getattr(fn, "returns_frozen", False) and qualified not in KEEP_ROWS:
            offenders.append(f"{qualified} -> {returned}")
    assert offenders == []


def _appointment() -> Appointment:
    start = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    return Appointment(
        id=7,
        reference="AP-TEST01",
        patient_id=1,
        service_id=2,
        appointment_type_id=3,
        department_id=4,
        start_at=start,
        end_at=start.replace(hour=10),
        status="booked",
    )


def test_a_frozen_copy_reads_like_the_row_and_cannot_be_written():
    copy = rows.frozen(_appointment())
    assert type(copy).__name__ == "AppointmentView" and dataclasses.is_dataclass(copy)
    assert (copy.id, copy.reference, copy.status) == (7, "AP-TEST01", "booked")
    with pytest.raises(dataclasses.FrozenInstanceError):
        copy.status = "cancelled"
    assert rows.model_of(copy) is Appointment
    nested = rows.frozen(([_appointment()], None, 3))
    assert type(nested[0][0]).__name__ == "AppointmentView" and nested[1:] == (None, 3)


def test_a_frozen_copy_survives_pickling_into_a_worker_that_never_made_its_class():
    """Tab states travel through Redis between workers as pickles."""
    data = pickle.dumps(rows.frozen(_appointment()))
    script = (
        "import pickle, sys; import hms_app.models.scheduling; "
        "copy = pickle.loads(sys.stdin.buffer.read()); print(type(copy).__name__, copy.reference)"
    )
    result = subprocess.run([sys.executable, "-c", script], input=data, capture_output=True, timeout=120)
    assert result.stdout.decode().split() == ["AppointmentView", "AP-TEST01"], result.stderr.decode()
