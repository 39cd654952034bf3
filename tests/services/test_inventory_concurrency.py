"""Never negative, never lost: fifty nurses issue the same lot at the same moment. Each issue runs in
its own thread with its own session and connection, all released together by a barrier. The final
balance is exactly what was received minus what was accepted, no balance is ever below zero, the
balances still equal the ledger's sums, every accepted patient issue has its one charge, and every
refused one got the plain shortage message."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, func, select
from sqlmodel import Session

from hms_app import db as hms_db
from hms_app.clock import local_today
from hms_app.errors import ValidationError
from hms_app.models.billing import ChargeItem
from hms_app.models.inventory import StockBalance, StockLot, StockMove
from hms_app.services.inventory.balances import balance_mismatches, negative_balances
from hms_app.services.inventory.ledger import issue_stock, receive_stock
from tests.services.inventory_world import build_world

CLIENTS = 50
RECEIVED = 60
LATER = local_today() + timedelta(days=200)
# The two refusals a shortage can get: a named lot that holds too little, or the store as a whole.
NAMED_LOT_SHORT = re.compile(r"^Cannot issue \d+ each from lot RACE-1: Ward 3 store holds \d+ each of it\.$")
STORE_SHORT = re.compile(
    r"^Cannot issue \d+ each: Ward 3 store (has no Syringe 10 ml that can be issued"
    r"|holds only \d+ each of Syringe 10 ml \(\d+ in lot RACE-1\))\.$"
)


@pytest.fixture
def world(session):
    world = build_world(session)
    receive_stock(
        session,
        actor=world.storekeeper,
        item_id=world.syringe,
        location_id=world.ward_store,
        quantity=RECEIVED,
        lot_number="RACE-1",
        expiry_date=LATER,
    )
    return world


def _engine(url: str):
    """An engine that can hold every client's connection at once (the app's pool holds 30)."""
    if url.startswith("sqlite"):
        return hms_db.make_engine(url)
    return create_engine(url, pool_size=CLIENTS + 2, max_overflow=0, pool_timeout=60)


def _race(
    url: str, quantities: list[int], issue_kwargs: dict
) -> tuple[list[int], list[tuple[int, str]], list[BaseException]]:
    engine = _engine(url)
    # On SQLite a writing transaction holds the database from its BEGIN: the clients open theirs
    # when released, and wait their turn (busy timeout) instead of holding it at the barrier.
    sqlite = url.startswith("sqlite")
    barrier = threading.Barrier(len(quantities))
    accepted: list[int] = []
    refused: list[tuple[int, str]] = []
    crashed: list[BaseException] = []
    lock = threading.Lock()

    def client(quantity: int) -> None:
        with Session(engine, expire_on_commit=False) as session:
            if not sqlite:
                session.connection()  # a connection in hand before the start: all fifty race at once
            barrier.wait()
            try:
                issue_stock(session, quantity=quantity, **issue_kwargs)
            except ValidationError as error:
                session.rollback()
                with lock:
                    refused.append((quantity, str(error)))
                return
            except BaseException as error:  # noqa: BLE001 - anything else is the failure under test
                session.rollback()
                with lock:
                    crashed.append(error)
                return
        with lock:
            accepted.append(quantity)

    threads = [threading.Thread(target=client, args=(q,)) for q in quantities]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    engine.dispose()
    return accepted, refused, crashed


def _check_the_books(session, world, accepted: list[int]) -> None:
    session.expire_all()
    lot = session.execute(select(StockLot.id).where(StockLot.lot_number == "RACE-1")).scalar_one()
    balance = session.execute(
        select(StockBalance.quantity).where(
            StockBalance.location_id == world.ward_store, StockBalance.lot_id == lot
        )
    ).scalar_one()
    issued = session.execute(
        select(func.coalesce(-func.sum(StockMove.quantity), 0)).where(StockMove.kind == "issue_patient")
    ).scalar_one()
    assert balance == RECEIVED - sum(accepted) >= 0
    assert issued == sum(accepted)
    assert balance_mismatches(session) == []
    assert negative_balances(session) == 0
    charges = session.execute(
        select(func.count(), func.coalesce(func.sum(ChargeItem.quantity), 0)).where(
            ChargeItem.source_type == "stock"
        )
    ).one()
    assert tuple(charges) == (len(accepted), sum(accepted))


@pytest.mark.parametrize("named_lot", [True, False], ids=["scanned-lot", "first-expiry-first-out"])
def test_fifty_simultaneous_issues_of_one_lot_never_take_more_than_it_holds(
    configured_db, session, world, named_lot
):
    lot_id = session.execute(select(StockLot.id).where(StockLot.lot_number == "RACE-1")).scalar_one()
    session.rollback()  # on SQLite an open transaction here would hold the database during the race
    quantities = [1 + (n % 3) for n in range(CLIENTS)]  # 1, 2, 3 ...: 99 asked for, 60 held
    accepted, refused, crashed = _race(
        configured_db,
        quantities,
        {
            "actor": world.nurse,
            "item_id": world.syringe,
            "location_id": world.ward_store,
            "patient_id": world.patient,
            "lot_id": lot_id if named_lot else None,
        },
    )
    assert crashed == []
    assert len(accepted) + len(refused) == CLIENTS
    assert refused, "more was asked for than the lot holds: some issues must be refused"
    pattern = NAMED_LOT_SHORT if named_lot else STORE_SHORT
    assert all(pattern.match(message) for _, message in refused), refused
    # Nothing was refused that the lot could have served: balances only fall, so what is left at the
    # end is less than the smallest request that was turned away.
    assert RECEIVED - sum(accepted) < min(quantity for quantity, _ in refused)
    _check_the_books(session, world, accepted)


def test_fifty_simultaneous_single_issues_take_the_lot_exactly_to_zero(configured_db, session, world):
    lot_id = session.execute(select(StockLot.id).where(StockLot.lot_number == "RACE-1")).scalar_one()
    session.rollback()  # on SQLite an open transaction here would hold the database during the race
    accepted, refused, crashed = _race(
        configured_db,
        [2] * CLIENTS,  # 100 asked for, 60 held: exactly 30 succeed
        {
            "actor": world.nurse,
            "item_id": world.syringe,
            "location_id": world.ward_store,
            "patient_id": world.patient,
            "lot_id": lot_id,
        },
    )
    assert crashed == []
    assert (len(accepted), len(refused)) == (30, 20)
    assert {message for _, message in refused} == {
        "Cannot issue 2 each from lot RACE-1: Ward 3 store holds 0 each of it."
    }
    _check_the_books(session, world, accepted)
    assert sum(accepted) == RECEIVED
