"""Every inventory dashboard figure equals an independent pandas recomputation over the raw rows.

The ledger is written through the stock services, with the clock held at each move's moment
(``clock.held_at``): the ledger cannot be retimed afterwards, its rows are immutable. The moments
sit on the awkward edges: the last minutes of a month in the hospital's time zone that are already
the next month in UTC, local midnight itself, the day before the period. Lots expire in each
window (0-30, 31-60, 61-90 days), one has expired on a shelf and one was written off; receipts at
two prices move the average cost; untracked stock, a patient issue, a department issue, a repair's
parts, a return, an adjustment, transfers. Purchase orders (their services belong to the purchasing
screens) are rows with receipts against their lines: on time, late, split over two deliveries,
waiting, overdue, cancelled, a draft, one sent before the period.

The pandas side reads ``SELECT *`` of each table and applies the written definitions
(``hms_app/analytics/inventory/__init__.py``); nothing of the SQL side is reused. Both run on
SQLite and PostgreSQL, in UTC and in New York.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import func, select, text

from hms_app.analytics.inventory import charts
from hms_app.analytics.inventory.common import IDLE_DAYS, InventoryFilters, frame_csv
from hms_app.clock import held_at
from hms_app.errors import Forbidden, ValidationError
from hms_app.models.inventory import (
    Equipment,
    PurchaseOrder,
    PurchaseOrderLine,
    StockItem,
    StockLevel,
    StockLot,
    StockMove,
    Supplier,
    WorkOrder,
)
from hms_app.services.inventory import dashboard as reports
from hms_app.services.inventory.balances import balance_mismatches, negative_balances
from hms_app.services.inventory.ledger import issue_stock, receive_stock
from hms_app.services.inventory.moves import adjust_stock, return_stock, transfer_stock, write_off_expired
from hms_app.services.permissions import Actor
from hms_app.settings import get_settings
from tests.services.inventory_world import build_world

MANAGER = Actor(
    user_id=8, username="manager", roles=frozenset({"manager"}), permissions=frozenset({"analytics.read"})
)
KEEPER_ONLY = Actor(
    user_id=9,
    username="stores",
    roles=frozenset({"storekeeper"}),
    permissions=frozenset({"inventory.read", "inventory.manage"}),
)
TODAY = date(2026, 3, 15)
OUT_KINDS = ["issue_patient", "issue_department", "maintenance_use", "transfer_out"]
CONSUMED = ["issue_patient", "issue_department", "maintenance_use", "return"]


def at(day: date, hour: int = 10, minute: int = 0) -> datetime:
    """A local moment of the hospital, as an aware UTC datetime."""
    return datetime.combine(day, time(hour, minute), tzinfo=get_settings().tz).astimezone(UTC)


# --------------------------------------------------------------------------- the ledger


@pytest.fixture(params=["UTC", "America/New_York"])
def ledger(request, session, monkeypatch):
    monkeypatch.setenv("HMS_TIME_ZONE", request.param)
    get_settings.cache_clear()
    w = build_world(session)
    keeper, nurse, pharmacist = w.storekeeper, w.nurse, w.pharmacist
    knee = StockItem(code="IMP-KNEE", name="Knee femoral component", category="implant", base_unit="each")
    gauze = StockItem(code="OLD-GAUZE", name="Old gauze", category="supply", base_unit="pack", active=False)
    other = Supplier(name="Quick Pharma", lead_time_days=3)
    session.add_all([knee, gauze, other])
    session.flush()
    equipment = Equipment(asset_tag="EQ-1", name="Infusion pump")
    session.add(equipment)
    session.flush()
    repair = WorkOrder(
        reference="WO-000001", equipment_id=equipment.id, kind="corrective", problem="Alarm", opened_by="x"
    )
    session.add(repair)
    session.commit()

    def receive(moment, item, location, quantity, cost, lot=None, expiry=None, line=None, actor=keeper):
        with held_at(moment):
            return receive_stock(
                session, actor=actor, item_id=item, location_id=location, quantity=quantity, lot_number=lot,
                expiry_date=expiry, unit_cost_cents=cost, order_line_id=line,
            )  # fmt: skip

    def issue(moment, actor, item, location, quantity, **target):
        with held_at(moment):
            return issue_stock(
                session, actor=actor, item_id=item, location_id=location, quantity=quantity, **target
            )

    def order(supplier, location, sent, lines, status="sent"):
        po = PurchaseOrder(
            reference=f"PO-{session.execute(select(func.count()).select_from(PurchaseOrder)).scalar_one() + 1:06d}",
            supplier_id=supplier, location_id=location, status=status, created_by="stores",
            sent_at=sent, expected_on=None,
        )  # fmt: skip
        session.add(po)
        session.flush()
        made = []
        for item, quantity in lines:
            line = PurchaseOrderLine(
                order_id=po.id, item_id=item, quantity_ordered=quantity, unit_cost_cents=9
            )
            session.add(line)
            session.flush()
            made.append(line.id)
        session.commit()
        return made

    # Orders: one sent before the period (its delivery opens the books), one on time, one late and
    # split, one waiting and overdue, one waiting in time, one cancelled, one draft.
    (before,) = order(w.supplier, w.central, at(date(2025, 9, 10), 9), [(w.gloves, 1000)])
    (on_time,) = order(w.supplier, w.central, at(date(2025, 11, 10), 9), [(w.gloves, 1000)])
    late_gloves, late_pcm = order(
        w.supplier, w.central, at(date(2026, 2, 1), 0, 0), [(w.gloves, 500), (w.paracetamol, 200)]
    )
    order(other.id, w.pharmacy, at(date(2026, 3, 1), 8), [(w.paracetamol, 100)])
    order(other.id, w.pharmacy, at(date(2026, 3, 14), 20), [(w.paracetamol, 100)])
    order(other.id, w.pharmacy, at(date(2026, 1, 5), 8), [(w.paracetamol, 100)], status="cancelled")
    order(other.id, w.pharmacy, None, [(w.paracetamol, 100)], status="draft")

    # Opening stock (before the period), at two prices for the untracked gloves.
    receive(at(date(2025, 9, 15), 9), w.gloves, w.central, 1000, 5, line=before)
    receive(at(date(2025, 9, 15), 9), w.syringe, w.central, 100, 12, "S-OLD", date(2026, 3, 1))
    receive(at(date(2025, 9, 15), 9), w.syringe, w.central, 200, 10, "S-20", TODAY + timedelta(days=20))
    receive(at(date(2025, 9, 15), 9), w.syringe, w.central, 50, 11, "S-EXP", date(2026, 3, 10))
    receive(at(date(2025, 9, 15), 9), w.paracetamol, w.pharmacy, 500, 2, "P-45", TODAY + timedelta(days=45))
    receive(at(date(2025, 9, 15), 9), w.paracetamol, w.pharmacy, 300, 3, "P-75", TODAY + timedelta(days=75))
    receive(at(date(2025, 9, 15), 9), w.paracetamol, w.pharmacy, 1000, 2, "P-LATE", date(2027, 6, 1))
    receive(at(date(2025, 9, 15), 9), w.paracetamol, w.pharmacy, 40, 4, "P-90", TODAY + timedelta(days=90))
    receive(at(date(2025, 9, 15), 9), knee.id, w.central, 3, 150000, "K1", date(2030, 1, 1))
    receive(at(date(2025, 11, 15), 11), w.gloves, w.central, 1000, 7, line=on_time)
    receive(at(date(2026, 2, 12), 10), w.paracetamol, w.central, 120, 3, "P-PO", date(2027, 1, 1), late_pcm)
    receive(at(date(2026, 2, 20), 10), w.gloves, w.central, 300, 6, line=late_gloves)
    receive(at(date(2026, 2, 27), 10), w.gloves, w.central, 200, 6, line=late_gloves)

    with held_at(at(date(2025, 12, 1), 8)):
        transfer_stock(session, actor=keeper, item_id=w.gloves, from_location_id=w.central,
                       to_location_id=w.ward_store, quantity=300)  # fmt: skip
        transfer_stock(session, actor=keeper, item_id=w.syringe, from_location_id=w.central,
                       to_location_id=w.ward_store, quantity=120)  # fmt: skip
    # Before the period: excluded from consumption in October onwards.
    issue(
        at(date(2025, 9, 30), 23, 0),
        keeper,
        w.gloves,
        w.central,
        7,
        department_id=w.ward_department,
        reason="Clinic",
    )
    # The month edges: 23:30 on 31 January local is February in UTC when the hospital is in New York.
    issue(
        at(date(2026, 1, 31), 23, 30),
        nurse,
        w.gloves,
        w.ward_store,
        40,
        department_id=w.ward_department,
        reason="Ward use",
    )
    patient_issue = issue(at(date(2026, 2, 1), 0, 0), nurse, w.syringe, w.ward_store, 5, patient_id=w.patient)
    issue(at(date(2026, 2, 28), 23, 59), pharmacist, w.paracetamol, w.pharmacy, 50,
          department_id=w.pharmacy_department, reason="Ward round")  # fmt: skip
    issue(at(date(2026, 3, 1), 0, 30), nurse, w.gloves, w.ward_store, 10, patient_id=w.patient)
    issue(at(date(2025, 12, 31), 23, 45), pharmacist, w.paracetamol, w.pharmacy, 30, patient_id=w.patient)
    issue(
        at(date(2026, 1, 15), 14),
        keeper,
        w.syringe,
        w.central,
        6,
        department_id=w.ward_department,
        reason="Clinic",
    )
    issue(at(date(2026, 3, 10), 9), keeper, w.syringe, w.central, 2, patient_id=w.patient)  # no department
    issue(at(date(2026, 2, 10), 16), keeper, w.gloves, w.central, 4, work_order_id=repair.id)
    with held_at(at(date(2026, 2, 2), 12)):
        return_stock(session, actor=nurse, move_id=patient_issue[0].id, quantity=2, reason="Unopened")
    with held_at(at(date(2026, 2, 15), 12)):
        ward_gloves = (
            session.execute(
                select(StockMove.lot_id).where(
                    StockMove.location_id == w.ward_store, StockMove.item_id == w.gloves
                )
            )
            .scalars()
            .first()
        )
        adjust_stock(session, actor=keeper, item_id=w.gloves, location_id=w.ward_store, lot_id=ward_gloves,
                     change=-3, reason="Torn box")  # fmt: skip
    with held_at(at(date(2026, 3, 5), 8)):
        old = session.execute(
            select(StockLot.id).where(StockLot.item_id == w.syringe, StockLot.lot_number == "S-OLD")
        ).scalar_one()
        write_off_expired(session, actor=keeper, location_id=w.ward_store, lot_id=old, item_id=w.syringe)

    session.add_all(
        [
            StockLevel(item_id=w.gloves, location_id=w.ward_store, min_quantity=50, reorder_point=300, max_quantity=600),
            StockLevel(item_id=w.syringe, location_id=w.other_ward_store, min_quantity=5, reorder_point=10, max_quantity=50),
            StockLevel(item_id=w.paracetamol, location_id=w.pharmacy, min_quantity=50, reorder_point=100, max_quantity=3000),
            StockLevel(item_id=w.syringe, location_id=w.central, min_quantity=1, reorder_point=5, max_quantity=500),
            StockLevel(item_id=knee.id, location_id=w.central, min_quantity=1, reorder_point=1, max_quantity=4),
            StockLevel(item_id=gauze.id, location_id=w.central, min_quantity=1, reorder_point=5, max_quantity=10),
            StockLevel(item_id=w.syringe, location_id=w.ward_store, min_quantity=1, reorder_point=200, max_quantity=400),
        ]
    )  # fmt: skip
    session.commit()
    assert balance_mismatches(session) == [] and negative_balances(session) == 0
    with held_at(at(TODAY, 15)):
        yield {"world": w, "knee": knee.id, "other": other.id, "tz": request.param}


def filter_cases(ledger) -> list[InventoryFilters]:
    w = ledger["world"]
    base = InventoryFilters(start=date(2025, 10, 1), end=TODAY, today=TODAY)
    return [
        base,
        InventoryFilters(start=date(2025, 10, 1), end=TODAY, today=TODAY, valuation="average"),
        InventoryFilters(
            start=date(2026, 2, 1), end=date(2026, 2, 28), today=TODAY, location_id=w.ward_store
        ),
        InventoryFilters(start=date(2025, 10, 1), end=TODAY, today=TODAY, category="medicine", idle_days=30),
        InventoryFilters(
            start=date(2026, 1, 31),
            end=date(2026, 3, 1),
            today=TODAY,
            location_id=w.central,
            category="supply",
            idle_days=180,
        ),  # fmt: skip
        InventoryFilters(start=date(2025, 10, 1), end=TODAY, today=TODAY + timedelta(days=31), idle_days=365),
    ]


# --------------------------------------------------------------------------- the pandas side


def raw(session, table: str) -> pd.DataFrame:
    frame = pd.read_sql(text(f"SELECT * FROM {table}"), session.connection())
    for column in frame.columns:
        if column.endswith("_at"):
            frame[column] = pd.to_datetime(frame[column], utc=True, format="mixed")
        if column in ("expiry_date", "expected_on"):
            frame[column] = [
                pd.Timestamp(v).date() if v is not None and not pd.isna(v) else None for v in frame[column]
            ]
    return frame


def local(series: pd.Series) -> pd.Series:
    return series.dt.tz_convert(get_settings().time_zone)


def on_hand(session, filters: InventoryFilters) -> pd.DataFrame:
    """Balances above zero with lot and item, the filters applied, each with its unit value."""
    lots = raw(session, "stock_lot").rename(columns={"id": "lot_pk", "unit_cost_cents": "lot_cost"})
    items = raw(session, "stock_item").rename(columns={"id": "item_pk"})
    rows = raw(session, "stock_balance")
    rows = rows[rows["quantity"] > 0].merge(lots[["lot_pk", "lot_number", "expiry_date", "lot_cost", "received_at"]],
                                            left_on="lot_id", right_on="lot_pk")  # fmt: skip
    rows = rows.merge(items[["item_pk", "code", "name", "category", "base_unit", "average_cost_cents", "active"]],
                      left_on="item_id", right_on="item_pk")  # fmt: skip
    if filters.location_id is not None:
        rows = rows[rows["location_id"] == filters.location_id]
    if filters.category is not None:
        rows = rows[rows["category"] == filters.category]
    if filters.valuation == "average":
        value = rows["average_cost_cents"]
    else:
        value = np.where(
            rows["lot_number"] == "-",
            rows["average_cost_cents"],
            np.where(rows["lot_cost"] > 0, rows["lot_cost"], rows["average_cost_cents"]),
        )
    day = filters.day
    good = rows["expiry_date"].map(lambda e: e is None or e >= day)
    return rows.assign(unit=value, worth=rows["quantity"] * value, good=good)


def expected_value(session, filters) -> dict:
    rows = on_hand(session, filters)
    found = {}
    for location, part in rows.groupby("location_id"):
        found[str(location)] = (
            int(part.loc[part["good"], "worth"].sum()),
            int(part.loc[~part["good"], "worth"].sum()),
            int(part["item_id"].nunique()),
            len(part),
        )
    return found


def expected_expiring(session, filters) -> dict:
    rows = on_hand(session, filters)
    day = filters.day
    rows = rows[rows["expiry_date"].map(lambda e: e is not None and e <= day + timedelta(days=90))]

    def window(e):
        left = (e - day).days
        return "expired" if left < 0 else "0-30" if left <= 30 else "31-60" if left <= 60 else "61-90"

    rows = rows.assign(window=rows["expiry_date"].map(window))
    return {
        (str(loc), win): (int(part["worth"].sum()), len(part), int(part["item_id"].nunique()))
        for (loc, win), part in rows.groupby(["location_id", "window"])
    }


def expected_outs(session, filters) -> dict:
    levels = raw(session, "stock_level")
    items = raw(session, "stock_item")
    levels = levels.merge(
        items[["id", "active", "category"]], left_on="item_id", right_on="id", suffixes=("", "_i")
    )
    levels = levels[levels["active"].astype(bool)]
    if filters.location_id is not None:
        levels = levels[levels["location_id"] == filters.location_id]
    if filters.category is not None:
        levels = levels[levels["category"] == filters.category]
    stock = on_hand(session, InventoryFilters(start=filters.start, end=filters.end, today=filters.today))
    usable = stock[stock["good"]].groupby(["item_id", "location_id"])["quantity"].sum()
    held = [
        int(usable.get((i, loc), 0)) for i, loc in zip(levels["item_id"], levels["location_id"], strict=True)
    ]
    levels = levels.assign(held=held)
    return {
        str(loc): (
            int((part["held"] <= 0).sum()),
            int(((part["held"] > 0) & (part["held"] <= part["reorder_point"])).sum()),
            len(part),
        )
        for loc, part in levels.groupby("location_id")
    }


def expected_slow(session, filters) -> dict:
    rows = on_hand(session, filters)
    moves = raw(session, "stock_move")
    out = moves[moves["kind"].isin(OUT_KINDS)]
    cutoff = pd.Timestamp(filters.day - timedelta(days=filters.idle_days)).tz_localize(
        get_settings().time_zone
    )
    recent = set(
        zip(
            out.loc[out["moved_at"] >= cutoff, "item_id"],
            out.loc[out["moved_at"] >= cutoff, "location_id"],
            strict=True,
        )
    )
    last = out.groupby(["item_id", "location_id"])["moved_at"].max()
    found = {}
    for (item, loc), part in rows.groupby(["item_id", "location_id"]):
        if (item, loc) in recent:
            continue
        when = last.get((item, loc))
        found[f"{item}-{loc}"] = (
            int(part.loc[part["good"], "worth"].sum()),
            int(part["quantity"].sum()),
            len(part),
            "" if when is None else str(when.tz_convert(get_settings().time_zone).date()),
        )
    return found


def in_period(moments: pd.Series, filters) -> pd.Series:
    days = local(moments).dt.date
    return (days >= filters.start) & (days <= filters.end)


def expected_consumption(session, filters) -> dict:
    moves = raw(session, "stock_move").merge(raw(session, "stock_item")[["id", "category"]], left_on="item_id",
                                             right_on="id", suffixes=("", "_item"))  # fmt: skip
    moves = moves[moves["kind"].isin(CONSUMED) & in_period(moves["moved_at"], filters)]
    if filters.location_id is not None:
        moves = moves[moves["location_id"] == filters.location_id]
    if filters.category is not None:
        moves = moves[moves["category"] == filters.category]
    moves = moves.assign(
        month=local(moves["moved_at"]).dt.strftime("%Y-%m"),
        key=moves["department_id"].map(lambda d: "none" if pd.isna(d) else str(int(d))),
        value=-moves["quantity"] * moves["unit_cost_cents"],
    )
    return {(m, k): (int(part["value"].sum()), len(part)) for (m, k), part in moves.groupby(["month", "key"])}


def expected_lead_times(session, filters, now: datetime) -> dict:
    orders = raw(session, "purchase_order")
    lines = raw(session, "purchase_order_line").merge(raw(session, "stock_item")[["id", "category"]],
                                                      left_on="item_id", right_on="id", suffixes=("", "_item"))  # fmt: skip
    moves = raw(session, "stock_move")
    receipts = moves[(moves["kind"] == "receipt") & moves["order_line_id"].notna()]
    suppliers = raw(session, "supplier").set_index("id")
    orders = orders[orders["sent_at"].notna() & (orders["status"] != "cancelled")]
    orders = orders[in_period(orders["sent_at"], filters)]
    if filters.location_id is not None:
        orders = orders[orders["location_id"] == filters.location_id]
    found: dict = {}
    for _, po in orders.iterrows():
        own = lines[lines["order_id"] == po["id"]]
        if filters.category is not None:
            own = own[own["category"] == filters.category]
        if own.empty:
            continue
        firsts = receipts[receipts["order_line_id"].isin(own["id"])]["moved_at"]
        promised = int(suppliers.loc[po["supplier_id"], "lead_time_days"])
        entry = found.setdefault(str(po["supplier_id"]), {"days": [], "orders": 0, "late": 0, "waiting": 0, "overdue": 0,
                                                           "promised": promised})  # fmt: skip
        entry["orders"] += 1
        if firsts.empty:
            entry["waiting"] += 1
            entry["overdue"] += int((now - po["sent_at"]).total_seconds() / 86400 > promised + 1)
        else:
            took = (firsts.min() - po["sent_at"]).total_seconds() / 86400
            entry["days"].append(took)
            entry["late"] += int(took > promised + 1)
    return found


# --------------------------------------------------------------------------- the figures


def test_stock_value_by_store_fifo_and_average_written_down(session, ledger):
    for filters in filter_cases(ledger):
        frame = reports.stock_value_by_store(session, actor=MANAGER, filters=filters)
        got = {
            r["key"]: (r["value_cents"], r["written_down_cents"], r["items"], r["lots"])
            for r in frame.to_dict("records")
            if r["lots"]
        }
        assert got == expected_value(session, filters), filters
        assert list(frame["value_cents"]) == sorted(frame["value_cents"], reverse=True)
    w = ledger["world"]
    base = filter_cases(ledger)[0]
    central = (
        reports.stock_value_by_store(session, actor=MANAGER, filters=base)
        .set_index("key")
        .loc[str(w.central)]
    )
    # The syringe transfer to the ward took S-OLD, then 20 of S-EXP (first expiry first); the central
    # store issued 8 more of S-EXP, which expired on 10 March: its last 22 are worth nothing.
    assert central["written_down_cents"] == 22 * 11
    # Every active store is drawn, the empty ones at nothing.
    assert str(w.other_ward_store) in set(
        reports.stock_value_by_store(session, actor=MANAGER, filters=base)["key"]
    )


def test_expiring_heatmap_has_every_store_and_window(session, ledger):
    for filters in filter_cases(ledger):
        frame = reports.expiring_by_store(session, actor=MANAGER, filters=filters)
        got = {
            (r["key"], r["window"]): (r["value_cents"], r["lots"], r["items"])
            for r in frame.to_dict("records")
            if r["lots"]
        }
        assert got == expected_expiring(session, filters), filters
        stores = frame["key"].nunique()
        assert len(frame) == stores * 4
    w = ledger["world"]
    base = reports.expiring_by_store(session, actor=MANAGER, filters=filter_cases(ledger)[0])
    cells = {(r["key"], r["window"]): r["lots"] for r in base.to_dict("records")}
    pharmacy = str(w.pharmacy)
    assert (cells[(pharmacy, "31-60")], cells[(pharmacy, "61-90")]) == (1, 2)  # P-45; P-75 and P-90
    assert cells[(str(w.central), "expired")] == 1 and cells[(str(w.central), "0-30")] == 1


def test_stock_outs_count_usable_stock_against_the_reorder_point(session, ledger):
    for filters in filter_cases(ledger):
        frame = reports.stock_outs(session, actor=MANAGER, filters=filters)
        got = {r["key"]: (r["out"], r["low"], r["stocked"]) for r in frame.to_dict("records") if r["stocked"]}
        assert got == expected_outs(session, filters), filters
    w = ledger["world"]
    base = reports.stock_outs(session, actor=MANAGER, filters=filter_cases(ledger)[0]).set_index("key")
    assert base.loc[str(w.other_ward_store), "out"] == 1  # nothing there at all
    assert base.loc[str(w.ward_store), "out"] == 1  # S-OLD written off, the 20 of S-EXP expired
    assert base.loc[str(w.ward_store), "low"] == 1  # 247 gloves, reorder at 300
    assert base.loc[str(w.central), "stocked"] == 2  # the inactive gauze is not counted


def test_slow_movers_are_stock_nothing_moved_out_of(session, ledger):
    for filters in filter_cases(ledger):
        frame = reports.slow_movers(session, actor=MANAGER, filters=filters, limit=None)
        got = {
            r["key"]: (r["value_cents"], r["quantity"], r["lots"], r["last_issue"])
            for r in frame.to_dict("records")
        }
        expected = expected_slow(session, filters)
        assert got == expected, filters
        assert list(frame["value_cents"]) == sorted(frame["value_cents"], reverse=True)
        top = reports.slow_movers(session, actor=MANAGER, filters=filters, limit=1)
        assert list(top["key"]) == list(frame["key"][:1])
        assert top.attrs == {
            "idle_rows": len(expected),
            "idle_value_cents": sum(v[0] for v in expected.values()),
        }
    w = ledger["world"]
    base = reports.slow_movers(session, actor=MANAGER, filters=filter_cases(ledger)[0])
    assert base.iloc[0]["key"] == f"{ledger['knee']}-{w.central}"  # 3 knees at 1,500.00, never moved
    assert base.iloc[0]["last_issue"] == ""


def test_consumption_by_department_and_month_in_the_hospitals_months(session, ledger):
    for filters in filter_cases(ledger):
        frame = reports.consumption_by_department(session, actor=MANAGER, filters=filters)
        got = {(r["month"], r["key"]): (r["value_cents"], r["moves"]) for r in frame.to_dict("records")}
        assert got == expected_consumption(session, filters), filters
    w = ledger["world"]
    base = reports.consumption_by_department(session, actor=MANAGER, filters=filter_cases(ledger)[0])
    months = {(r["month"], r["key"]) for r in base.to_dict("records")}
    ward = str(w.ward_department)
    # 40 gloves at 23:30 on 31 January local: January in the hospital, whatever UTC says.
    assert ("2026-01", ward) in months
    assert ("2026-03", "none") in months  # the central store has no department
    assert not any(m == "2025-09" for m, _k in months)


def test_supplier_lead_times_from_sending_to_the_first_delivery(session, ledger):
    now = at(TODAY, 15)
    for filters in filter_cases(ledger):
        frame = reports.supplier_lead_times(session, actor=MANAGER, filters=filters)
        expected = expected_lead_times(session, filters, now)
        assert set(frame["key"]) == set(expected), filters
        for r in frame.to_dict("records"):
            e = expected[r["key"]]
            assert (r["orders"], r["received"], r["late"], r["waiting"], r["overdue"], r["promised_days"]) == (
                e["orders"], len(e["days"]), e["late"], e["waiting"], e["overdue"], e["promised"],
            )  # fmt: skip
            if e["days"]:
                assert r["actual_days"] == pytest.approx(sum(e["days"]) / len(e["days"]), abs=1e-5)
            else:
                assert r["actual_days"] is None or pd.isna(r["actual_days"])
    base = reports.supplier_lead_times(session, actor=MANAGER, filters=filter_cases(ledger)[0]).set_index(
        "key"
    )
    quick = base.loc[str(ledger["other"])]
    assert (quick["orders"], quick["waiting"], quick["overdue"]) == (
        2,
        2,
        1,
    )  # the cancelled and the draft left out
    medsupply = base.loc[str(ledger["world"].supplier)]
    assert (medsupply["orders"], medsupply["late"]) == (2, 1)  # sent in September: before the period


def test_every_bar_lists_exactly_what_is_behind_it(session, ledger):
    for filters in filter_cases(ledger)[:4]:
        board = reports.load_dashboard(session, actor=MANAGER, filters=filters)
        cases = [
            ("stock_value_by_store", r["key"], r["value_cents"], r["items"])
            for r in board.stock_value.to_dict("records")
        ]
        cases += [("consumption_by_department", f"{r['month']}|{r['key']}", r["value_cents"], None)
                  for r in board.consumption.to_dict("records")]  # fmt: skip
        cases += [("expiring_by_store", f"{r['key']}|{r['window']}", r["value_cents"], r["lots"])
                  for r in board.expiring.to_dict("records")]  # fmt: skip
        cases += [("stock_outs", f"{r['key']}|out", None, r["out"]) for r in board.outs.to_dict("records")]
        cases += [("stock_outs", f"{r['key']}|low", None, r["low"]) for r in board.outs.to_dict("records")]
        cases += [
            ("slow_movers", r["key"], r["value_cents"], r["lots"]) for r in board.slow.to_dict("records")
        ]
        cases += [
            ("supplier_lead_times", r["key"], None, r["orders"]) for r in board.lead_times.to_dict("records")
        ]
        for figure, key, amount, count in cases:
            page = reports.items_behind(
                session, actor=MANAGER, figure=figure, key=key, filters=filters, page_size=2
            )
            if amount is not None:
                assert page.amount_cents == amount, (figure, key)
                listed = []
                for number in range(1, -(-page.total // 2) + 1):
                    rows = reports.items_behind(
                        session,
                        actor=MANAGER,
                        figure=figure,
                        key=key,
                        filters=filters,
                        page=number,
                        page_size=2,
                    ).rows
                    listed.extend(row.amount_cents for row in rows)
                assert sum(listed) == amount and len(listed) == page.total, (figure, key)
            if count is not None:
                assert page.total == count, (figure, key)
            text_csv, rows = reports.drill_csv(
                session, actor=MANAGER, figure=figure, key=key, filters=filters
            )
            assert rows == page.total and len(list(csv.reader(io.StringIO(text_csv)))) == rows + 1


def test_kpis_are_the_sums_of_the_figures(session, ledger):
    board = reports.load_dashboard(session, actor=MANAGER, filters=filter_cases(ledger)[0])
    kpis = board.kpis
    assert kpis["stock_value_cents"] == sum(v[0] for v in expected_value(session, board.filters).values())
    assert kpis["written_down_cents"] == (22 + 20) * 11
    assert kpis["out"] == 2 and kpis["low"] == 1
    assert kpis["expired_lots"] == 2
    assert kpis["consumption_cents"] == sum(
        v[0] for v in expected_consumption(session, board.filters).values()
    )
    slow = expected_slow(session, board.filters)
    assert (kpis["slow_rows"], kpis["slow_cents"]) == (len(slow), sum(v[0] for v in slow.values()))


def test_charts_draw_every_bar_with_its_exact_amount(session, ledger):
    board = reports.load_dashboard(session, actor=MANAGER, filters=filter_cases(ledger)[0])
    value = charts.stock_value_figure(board.stock_value)
    assert list(value.data[0].x) == [v / 100 for v in board.stock_value["value_cents"]]
    months = sorted(set(board.consumption["month"]))
    drawn = charts.consumption_figure(board.consumption, months)
    assert sum(sum(trace.y) for trace in drawn.data) == pytest.approx(
        board.consumption["value_cents"].sum() / 100
    )
    keys, stores, cents, _texts = charts.expiring_grid(board.expiring)
    assert sum(map(sum, cents)) == board.expiring["value_cents"].sum() and len(stores) == len(keys)
    heat = charts.expiring_figure(board.expiring)
    assert [len(row) for row in heat.data[0].z] == [4] * len(stores)
    charts.stock_outs_figure(board.outs)
    charts.slow_movers_figure(board.slow)
    charts.lead_times_figure(board.lead_times)
    assert "value" in frame_csv(board.stock_value).splitlines()[0]


def test_refusals_and_nonsense_from_the_browser(session, ledger):
    filters = filter_cases(ledger)[0]
    for actor in (KEEPER_ONLY, None):
        for call in (
            lambda a: reports.load_dashboard(session, actor=a, filters=filters),
            lambda a: reports.stock_value_by_store(session, actor=a, filters=filters),
            lambda a: reports.slow_movers(session, actor=a, filters=filters, limit=None),
            lambda a: reports.filter_choices(session, actor=a),
            lambda a: reports.items_behind(
                session, actor=a, figure="stock_outs", key="1|out", filters=filters
            ),
            lambda a: reports.drill_csv(session, actor=a, figure="stock_outs", key="1|out", filters=filters),
        ):
            with pytest.raises(Forbidden if actor else Exception):
                call(actor)
    bad = [
        InventoryFilters(start=TODAY, end=TODAY - timedelta(days=1)),
        InventoryFilters(start=TODAY, end=TODAY, category="sweets"),
        InventoryFilters(start=TODAY, end=TODAY, valuation="lifo"),
        InventoryFilters(start=TODAY, end=TODAY, idle_days=7),
        InventoryFilters(start=TODAY, end=TODAY, location_id=-1),
        InventoryFilters(start=date(2010, 1, 1), end=TODAY),
    ]
    for filters_bad in bad:
        with pytest.raises(ValidationError):
            reports.load_dashboard(session, actor=MANAGER, filters=filters_bad)
    assert 90 in IDLE_DAYS
    for figure, key in [
        ("nonsense", "1"),
        ("stock_value_by_store", "x"),
        ("stock_value_by_store", "999999"),
        ("consumption_by_department", "2026-13|none"),
        ("consumption_by_department", "2024-01|none"),  # outside the period
        ("expiring_by_store", "1|soon"),
        ("stock_outs", "1|maybe"),
        ("slow_movers", "1"),
        ("supplier_lead_times", "' OR 1=1"),
        ("stock_value_by_store", "1" * 70),
    ]:
        with pytest.raises(ValidationError):
            reports.items_behind(session, actor=MANAGER, figure=figure, key=key, filters=filters)
    with pytest.raises(ValidationError):
        reports.items_behind(
            session, actor=MANAGER, figure="stock_outs", key="1|out", filters=filters, page=0
        )
    for limit in (0, 5000, True, "15"):
        with pytest.raises(ValidationError):
            reports.slow_movers(session, actor=MANAGER, filters=filters, limit=limit)
    narrowed = InventoryFilters(start=filters.start, end=filters.end, location_id=ledger["world"].pharmacy)
    with pytest.raises(ValidationError):
        reports.items_behind(
            session,
            actor=MANAGER,
            figure="stock_value_by_store",
            key=str(ledger["world"].central),
            filters=narrowed,
        )


def test_filter_choices_offer_active_stores_and_the_hospitals_valuation(session, ledger, monkeypatch):
    choices = reports.filter_choices(session, actor=MANAGER)
    assert {name for _id, name in choices["stores"]} >= {"Central store", "Main pharmacy"}
    assert choices["valuation"] == "fifo"
    monkeypatch.setenv("HMS_STOCK_VALUATION", "average")
    get_settings.cache_clear()
    assert reports.filter_choices(session, actor=MANAGER)["valuation"] == "average"
    monkeypatch.setenv("HMS_STOCK_VALUATION", "lifo")
    get_settings.cache_clear()
    with pytest.raises(RuntimeError):
        get_settings()
    monkeypatch.delenv("HMS_STOCK_VALUATION")
    get_settings.cache_clear()


# --------------------------------------------------------------------------- the demo seed


def test_the_seed_builds_a_year_of_stock_that_the_ledger_proves(session):
    from hms_app.seed.registry import run_seeders

    only = ["departments", "staff", "patients", "wards", "billing_catalogue", "inventory"]
    run_seeders(session, patients=150, seed=7, only=only)
    assert balance_mismatches(session) == [] and negative_balances(session) == 0
    moves = session.execute(select(func.count()).select_from(StockMove)).scalar_one()
    kinds = dict(session.execute(select(StockMove.kind, func.count()).group_by(StockMove.kind)).all())
    assert moves > 1000 and {
        "receipt",
        "transfer_out",
        "issue_department",
        "expiry_writeoff",
        "adjustment",
    } <= set(kinds)
    first, last = session.execute(select(func.min(StockMove.moved_at), func.max(StockMove.moved_at))).one()
    assert (last - first).days >= 360  # a year of history, each move at its own moment
    items = session.execute(select(func.count()).select_from(StockItem)).scalar_one()
    assert 60 <= items <= 120
    gtins = session.execute(select(StockItem.gtin).where(StockItem.gtin.is_not(None))).scalars().all()
    for gtin in gtins:
        digits = [int(d) for d in gtin]
        assert (
            sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits[:-1]))) % 10
            == (10 - digits[-1]) % 10
        )
    board = reports.load_dashboard(
        session,
        actor=MANAGER,
        filters=InventoryFilters(start=date.today() - timedelta(days=365), end=date.today()),
    )
    kpis = board.kpis
    assert kpis["stock_value_cents"] > 0 and kpis["consumption_cents"] > 0 and kpis["expiring_90_cents"] > 0
    assert kpis["out"] > 0 and kpis["low"] > 0 and len(board.slow) > 0 and len(board.lead_times) > 3
    assert int(board.lead_times["late"].sum()) > 0
    # Seeding again adds nothing.
    run_seeders(session, patients=150, seed=7, only=["inventory"])
    assert session.execute(select(func.count()).select_from(StockMove)).scalar_one() == moves
