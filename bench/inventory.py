"""Issue 12 figures: stock on hand, the inventory dashboard and concurrent issues over a
5,000,000-row stock ledger on PostgreSQL.

Figures (``--only`` takes the names in the first column; ``inventory_5m`` means all of them):

==================================  ============================================================
stock_on_hand_p95_ms                ``balances.stock_on_hand`` for one item across every store,
                                    p50/p95 over ``LOOKUPS`` items (each its own read-only session,
                                    opened outside the clock; target: p95 under 20 ms)
inventory_figures                   each dashboard figure's service function as the page calls it
                                    (permission and filter checks, the SQL aggregate, the small
                                    DataFrame), median of ``RUNS`` after a warm-up, as
                                    ``inventory_<figure>_ms`` (target: under 1 s), beside the best
                                    of the hand-written PostgreSQL queries for the same numbers
                                    (each checked to return them), ``inventory_<figure>_best_sql_ms``,
                                    and ``inventory_<figure>_ratio`` (target: at most 1.5)
stock_issues_per_second_postgresql  ``CLIENTS`` concurrent clients, each with its own session,
                                    issuing one to five units of two hot items from one ward store
                                    (half to patients, charged, half to the ward) for ``SECONDS``;
                                    accepted issues per second. Then
                                    ``stock_balance_mismatches_postgresql``: balances that differ
                                    from the ledger's sums (over all 5M+ rows) plus hot lots whose
                                    balance is not what it was less what the clients were told
                                    they took, and ``stock_negative_balances_postgresql`` (both 0)
==================================  ============================================================

The ledger is generated with numpy and loaded with COPY into a scratch database
(``HMS_BENCH_INV_DB``, default ``hms_bench_inv``, on ``HMS_BENCH_POSTGRES_SERVER``) that is
dropped afterwards: 2,000 items in 24 stores, about 102,000 lots received over five years at the
central store, each transferred to four other stores and issued from there in ten issues (a
quarter to patients), 20 % of receipts against purchase orders from 20 suppliers; balances are
the ledger's sums by construction, stock levels for six stores per item. The plain indexes are
dropped for the load and built after it, then VACUUM ANALYZE. ``HMS_BENCH_INV_ROWS`` makes a
smaller ledger for a trial. Times are grouped by months of America/New_York.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import random
import statistics
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bench.run import Skip, _postgres_server, hms_environment, percentiles, report, say, scratch_postgres

ROWS = int(os.environ.get("HMS_BENCH_INV_ROWS") or 5_000_000)
DB = os.environ.get("HMS_BENCH_INV_DB", "hms_bench_inv")
TIME_ZONE = "America/New_York"
ITEMS = 2000
WARDS = 20
SUPPLIERS = 20
TRANSFERS = 4  # stores each lot goes to from the central store
ISSUES = 10  # issues from each of those stores
YEARS = 5
LOTS_PER_CHUNK = 20_000
LOOKUPS = 200
RUNS = 5
WARM_UPS = 1
CLIENTS = 50
SECONDS = float(os.environ.get("HMS_BENCH_INV_SECONDS") or 20)
HOT_LOTS = 3
HOT_QUANTITY = 3000
TARGET_MS, TARGET_RATIO = 1000.0, 1.5
SEED = 12
NAMES = ("stock_on_hand_p95_ms", "inventory_figures", "stock_issues_per_second_postgresql")


# --------------------------------------------------------------------------- build


def _copy(conn, table: str, frame) -> None:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False, na_rep="")
    buffer.seek(0)
    statement = f"COPY {table} ({', '.join(frame.columns)}) FROM STDIN WITH (FORMAT csv)"
    with conn.cursor() as cursor, cursor.copy(statement) as copy:
        while data := buffer.read(1 << 20):
            copy.write(data)


def _catalogue(url: str) -> dict:
    """Departments, stores, suppliers, items, a price code, patients and ward nurses, through the
    models and services (a few thousand rows); their ids for the generator."""
    from hms_app.db import session_scope
    from hms_app.models.billing import ChargeItemDefinition
    from hms_app.models.inventory import StockItem, StockLocation, Supplier
    from hms_app.models.organization import Department
    from hms_app.models.security import AppUser
    from hms_app.services import patients
    from hms_app.services.permissions import SYSTEM_ACTOR

    rng = random.Random(SEED)
    with session_scope(url) as session:
        kinds = [
            ("PH", "Main pharmacy", "pharmacy"),
            ("LAB", "Laboratory store", "lab"),
            ("RAD", "Radiology store", "radiology"),
        ]
        kinds += [(f"W{n:02d}", f"Ward {n} store", "ward") for n in range(1, WARDS + 1)]
        stores = [StockLocation(code="CS", name="Central store", kind="central")]
        for code, name, kind in kinds:
            department = Department(code=f"D-{code}", name=f"{name.removesuffix(' store')} department")
            session.add(department)
            session.flush()
            stores.append(StockLocation(code=code, name=name, kind=kind, department_id=department.id))
        session.add_all(stores)
        suppliers = [
            Supplier(name=f"Supplier {n:02d}", lead_time_days=rng.randint(3, 28)) for n in range(SUPPLIERS)
        ]
        session.add_all(suppliers)
        session.add(
            ChargeItemDefinition(code="BENCH-CHG", name="Bench supply", category="procedure", price_cents=250)
        )
        session.flush()
        categories = ["supply", "medicine", "reagent", "implant", "linen", "contrast", "consumable"]
        items = []
        for n in range(ITEMS):
            items.append(
                StockItem(
                    code=f"IT-{n:05d}",
                    name=f"Bench item {n:05d}",
                    category=categories[n % len(categories)],
                    base_unit="each",
                    chargeable=n % 3 == 0,
                    charge_code="BENCH-CHG" if n % 3 == 0 else None,
                    supplier_id=suppliers[n % SUPPLIERS].id,
                    average_cost_cents=rng.choice([3, 12, 45, 180, 950, 4200, 26000]),
                )
            )
        session.add_all(items)
        session.flush()
        ward = stores[4]  # Ward 1 store: the concurrency run's
        nurses = []
        for n in range(CLIENTS):
            user = AppUser(
                username=f"bench.nurse{n}",
                display_name=f"Nurse {n}",
                password_hash="x",
                department_id=ward.department_id,
            )
            session.add(user)
            session.flush()
            nurses.append(user.id)
        session.commit()
        pool = [
            patients.register_patient(
                session,
                actor=SYSTEM_ACTOR,
                data={
                    "given_name": ["Ana", "Ben", "Cara", "Dev", "Eli"][n % 5],
                    "family_name": ["Smith", "Lopez", "Okafor", "Chen"][n // 5],
                    "sex": "female",
                    "birth_date": f"19{50 + n}-0{1 + n % 9}-1{n % 10}",
                },
                duplicate_reason="benchmark patients",
            ).id
            for n in range(20)
        ]
        return {
            "stores": [s.id for s in stores],
            "departments": [s.department_id for s in stores],
            "suppliers": [s.id for s in suppliers],
            "leads": [s.lead_time_days for s in suppliers],
            "items": [i.id for i in items],
            "costs": [i.average_cost_cents for i in items],
            "item_suppliers": [i.supplier_id for i in items],
            "patients": pool,
            "nurses": nurses,
            "ward": ward.id,
            "ward_department": ward.department_id,
            "central": stores[0].id,
            "hot_items": [items[0].id, items[1].id],
        }


def _generate(conn, ids: dict, now: datetime) -> int:
    """The ledger, balances, lots, purchase orders and stock levels, chunk by chunk; the moves written."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(SEED)
    stores = np.array(ids["stores"])
    departments = np.array([d if d is not None else -1 for d in ids["departments"]])
    items = np.array(ids["items"])
    costs = np.array(ids["costs"])
    item_supplier = np.array(ids["item_suppliers"])
    lead = dict(zip(ids["suppliers"], ids["leads"], strict=True))
    lead_of = np.vectorize(lead.get)
    pool = np.array(ids["patients"])
    per_lot = 1 + 2 * TRANSFERS + TRANSFERS * ISSUES
    lots_total = math.ceil(ROWS / per_lot)
    now_s = now.timestamp()
    day = 86400.0
    # Lots received in time order, so that the ledger's ids run roughly with time as a real one's.
    received = np.sort(now_s - rng.uniform(3 * day, YEARS * 365 * day, lots_total))
    move_id = balance_id = line_id = 0
    started = time.perf_counter()

    def stamp(seconds):
        return pd.to_datetime(seconds, unit="s", utc=True)

    for first in range(0, lots_total, LOTS_PER_CHUNK):
        n = min(LOTS_PER_CHUNK, lots_total - first)
        lot = np.arange(first + 1, first + n + 1)
        t0 = received[first : first + n]
        which = rng.integers(0, len(items), n)
        item = items[which]
        cost = np.maximum(1, np.round(costs[which] * rng.uniform(0.9, 1.1, n))).astype(np.int64)
        expiry = pd.to_datetime(t0 + rng.uniform(180, 1100, n) * day, unit="s").date
        transfer_qty = rng.integers(50, 500, (n, TRANSFERS))
        receipt_qty = transfer_qty.sum(axis=1) + rng.integers(0, 200, n)
        order = np.argsort(rng.random((n, len(stores) - 1)), axis=1)[:, :TRANSFERS] + 1
        dest = stores[order]
        dest_department = departments[order]
        t_transfer = t0[:, None] + rng.uniform(1, 20, (n, TRANSFERS)) * day
        t_transfer = np.minimum(t_transfer, now_s - 7200)
        fresh = (now_s - t_transfer) < 120 * day
        share = np.where(fresh, rng.uniform(0.2, 0.6, (n, TRANSFERS)), rng.uniform(0.6, 1.0, (n, TRANSFERS)))
        issued = np.maximum(ISSUES, np.floor(transfer_qty * share).astype(np.int64))
        parts = 1 + rng.multinomial((issued - ISSUES).ravel(), [1 / ISSUES] * ISSUES).reshape(
            n, TRANSFERS, ISSUES
        )
        t_issue = np.minimum(
            t_transfer[:, :, None] + rng.uniform(0, 120, (n, TRANSFERS, ISSUES)) * day, now_s - 3600
        )
        to_patient = rng.random((n, TRANSFERS, ISSUES)) < 0.25

        pd.DataFrame(
            {
                "id": lot,
                "item_id": item,
                "lot_number": [f"B{x}" for x in lot],
                "expiry_date": expiry,
                "unit_cost_cents": cost,
                "received_at": stamp(t0),
            }
        ).pipe(lambda f: _copy(conn, "stock_lot", f))

        # A fifth of the receipts come against a purchase order with one line.
        ordered = rng.random(n) < 0.2
        k = int(ordered.sum())
        order_line = np.full(n, -1)
        if k:
            line_ids = np.arange(line_id + 1, line_id + k + 1)
            line_id += k
            order_line[ordered] = line_ids
            supplier = item_supplier[which][ordered]
            promised = lead_of(supplier)
            sent = t0[ordered] - (promised + rng.uniform(-2, 6, k)) * day
            pd.DataFrame(
                {
                    "id": line_ids,
                    "reference": [f"PO-B{x:07d}" for x in line_ids],
                    "supplier_id": supplier,
                    "location_id": ids["central"],
                    "status": "received",
                    "created_at": stamp(sent - 3600),
                    "created_by": "bench",
                    "sent_at": stamp(sent),
                    "expected_on": pd.to_datetime(sent + promised * day, unit="s").date,
                    "received_at": stamp(t0[ordered]),
                }
            ).pipe(lambda f: _copy(conn, "purchase_order", f))
            pd.DataFrame(
                {
                    "id": line_ids,
                    "order_id": line_ids,
                    "item_id": item[ordered],
                    "quantity_ordered": receipt_qty[ordered],
                    "quantity_received": receipt_qty[ordered],
                    "unit_cost_cents": cost[ordered],
                }
            ).pipe(lambda f: _copy(conn, "purchase_order_line", f))

        rep_t = np.repeat(item, TRANSFERS)
        rep_lot = np.repeat(lot, TRANSFERS)
        rep_cost = np.repeat(cost, TRANSFERS)
        rep_i = np.repeat(item, TRANSFERS * ISSUES)
        frames = [
            pd.DataFrame(
                {
                    "moved_at": t0,
                    "kind": "receipt",
                    "item_id": item,
                    "location_id": ids["central"],
                    "lot_id": lot,
                    "quantity": receipt_qty,
                    "unit_cost_cents": cost,
                    "patient_id": None,
                    "department_id": None,
                    "other_location_id": None,
                    "reference": "DN-bench",
                    "order_line_id": np.where(order_line > 0, order_line, None),
                }
            ),
            pd.DataFrame(
                {
                    "moved_at": t_transfer.ravel(),
                    "kind": "transfer_out",
                    "item_id": rep_t,
                    "location_id": ids["central"],
                    "lot_id": rep_lot,
                    "quantity": -transfer_qty.ravel(),
                    "unit_cost_cents": rep_cost,
                    "patient_id": None,
                    "department_id": None,
                    "other_location_id": dest.ravel(),
                    "reference": None,
                    "order_line_id": None,
                }
            ),
            pd.DataFrame(
                {
                    "moved_at": t_transfer.ravel() + 1,
                    "kind": "transfer_in",
                    "item_id": rep_t,
                    "location_id": dest.ravel(),
                    "lot_id": rep_lot,
                    "quantity": transfer_qty.ravel(),
                    "unit_cost_cents": rep_cost,
                    "patient_id": None,
                    "department_id": None,
                    "other_location_id": ids["central"],
                    "reference": None,
                    "order_line_id": None,
                }
            ),
            pd.DataFrame(
                {
                    "moved_at": t_issue.ravel(),
                    "kind": np.where(to_patient.ravel(), "issue_patient", "issue_department"),
                    "item_id": rep_i,
                    "location_id": np.repeat(dest.ravel(), ISSUES),
                    "lot_id": np.repeat(lot, TRANSFERS * ISSUES),
                    "quantity": -parts.ravel(),
                    "unit_cost_cents": np.repeat(cost, TRANSFERS * ISSUES),
                    "patient_id": np.where(
                        to_patient.ravel(), pool[rng.integers(0, len(pool), to_patient.size)], None
                    ),
                    "department_id": np.repeat(dest_department.ravel(), ISSUES),
                    "other_location_id": None,
                    "reference": None,
                    "order_line_id": None,
                }
            ),
        ]
        moves = pd.concat(frames, ignore_index=True).sort_values("moved_at", kind="stable")
        moves.insert(0, "id", np.arange(move_id + 1, move_id + len(moves) + 1))
        move_id += len(moves)
        moves["moved_at"] = stamp(moves["moved_at"].to_numpy())
        moves["moved_by"] = "bench"
        for column in ("patient_id", "department_id", "other_location_id", "order_line_id"):
            moves[column] = moves[column].astype("Int64")
        _copy(conn, "stock_move", moves)

        left_central = receipt_qty - transfer_qty.sum(axis=1)
        left_store = transfer_qty - parts.sum(axis=2)
        balances = pd.DataFrame(
            {
                "item_id": np.concatenate([item, rep_t]),
                "location_id": np.concatenate([np.full(n, ids["central"]), dest.ravel()]),
                "lot_id": np.concatenate([lot, rep_lot]),
                "quantity": np.concatenate([left_central, left_store.ravel()]),
            }
        )
        balances.insert(0, "id", np.arange(balance_id + 1, balance_id + len(balances) + 1))
        balance_id += len(balances)
        balances["updated_at"] = now
        _copy(conn, "stock_balance", balances)
        say(
            f"  {move_id:,} moves, {balance_id:,} balances, {first + n:,} lots ({time.perf_counter() - started:.0f} s)"
        )

    levels = []
    for item in items:
        chosen = [ids["central"], *rng.choice(stores[1:], 5, replace=False)]
        for store in chosen:
            point = int(rng.integers(50, 500))
            levels.append((int(item), int(store), point // 2, point, point * 3))
    frame = pd.DataFrame(
        levels, columns=["item_id", "location_id", "min_quantity", "reorder_point", "max_quantity"]
    )
    frame.insert(0, "id", np.arange(1, len(frame) + 1))
    _copy(conn, "stock_level", frame)
    for table in (
        "stock_lot",
        "stock_move",
        "stock_balance",
        "stock_level",
        "purchase_order",
        "purchase_order_line",
    ):
        conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT COALESCE(MAX(id), 1) FROM {table}))"
        )
    return move_id


def build(stack: contextlib.ExitStack) -> tuple[str, dict]:
    import psycopg

    from bench.population import _without_indexes
    from hms_app import migrations

    url = scratch_postgres(stack, DB)
    server = _postgres_server()
    started = time.perf_counter()
    migrations.upgrade(url)
    ids = _catalogue(url)
    now = datetime.now(UTC)
    with psycopg.connect(f"{server}/{DB}") as conn:
        # The generated rows agree with each other by construction: the foreign keys are not
        # checked row by row while they load (a superuser's replica mode), the CHECKs still are.
        conn.execute("SET session_replication_role = replica")
        indexes = _without_indexes(conn, ["stock_move", "stock_balance", "stock_lot"])
        moves = _generate(conn, ids, now)
        conn.execute("SET session_replication_role = origin")
        say(f"  recreating {len(indexes)} indexes ...")
        for ddl in indexes:
            conn.execute(ddl)
        conn.commit()
    with psycopg.connect(f"{server}/{DB}", autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    seconds = time.perf_counter() - started
    say(f"  {moves:,} ledger rows loaded, indexed and analysed in {seconds:.0f} s")
    report("inventory_build_s", seconds, "s")
    ids["moves"] = moves
    return url, ids


# --------------------------------------------------------------------------- stock on hand


def bench_stock_on_hand(url: str, ids: dict) -> None:
    from hms_app.db import session_scope
    from hms_app.services.inventory.balances import stock_on_hand
    from hms_app.services.permissions import SYSTEM_ACTOR

    rng = random.Random(SEED)
    chosen = [rng.choice(ids["items"]) for _ in range(LOOKUPS + 20)]
    samples, stores = [], []
    for number, item in enumerate(chosen):
        with session_scope(url, read_only=True) as session:
            session.connection()
            started = time.perf_counter()
            found = stock_on_hand(session, actor=SYSTEM_ACTOR, item_id=item)
            elapsed = (time.perf_counter() - started) * 1000
        if number >= 20:  # the first ones warm the caches
            samples.append(elapsed)
            stores.append(len(found))
    p50, p95 = percentiles(samples)
    say(f"  stock_on_hand over {len(samples)} items (about {statistics.mean(stores):.0f} stores each)")
    report("stock_on_hand_p50_ms", p50, "ms")
    report("stock_on_hand_p95_ms", p95, "ms")
    say(f"  stock_on_hand p95: {'on target' if p95 < 20 else 'MISSED: over 20 ms'}")


# --------------------------------------------------------------------------- the figures

UV = (
    "CASE WHEN l.lot_number = '-' THEN i.average_cost_cents WHEN l.unit_cost_cents > 0 "
    "THEN l.unit_cost_cents ELSE i.average_cost_cents END"
)
USABLE = "(l.expiry_date IS NULL OR l.expiry_date >= %(day)s)"
ON_HAND = "stock_balance b JOIN stock_lot l ON l.id = b.lot_id JOIN stock_item i ON i.id = b.item_id"
OUT = "('issue_patient', 'issue_department', 'maintenance_use', 'transfer_out')"
CONSUMED = "('issue_patient', 'issue_department', 'maintenance_use', 'return')"
LAST_IDLE = (
    f"(SELECT MAX(m.moved_at) FROM stock_move m WHERE m.item_id = idle.item_id "
    f"AND m.location_id = idle.location_id AND m.kind IN {OUT})"
)
SQL = {
    "stock_value_by_store": [
        f"""SELECT b.location_id, SUM(CASE WHEN {USABLE} THEN b.quantity * {UV} ELSE 0 END),
            SUM(CASE WHEN {USABLE} THEN 0 ELSE b.quantity * {UV} END), COUNT(DISTINCT b.item_id), COUNT(*)
            FROM {ON_HAND} WHERE b.quantity > 0 GROUP BY b.location_id""",
    ],
    "expiring_by_store": [
        f"""SELECT b.location_id, CASE WHEN l.expiry_date < %(day)s THEN 'expired' WHEN l.expiry_date <= %(d30)s
            THEN '0-30' WHEN l.expiry_date <= %(d60)s THEN '31-60' ELSE '61-90' END,
            SUM(b.quantity * {UV}), COUNT(*), COUNT(DISTINCT b.item_id)
            FROM {ON_HAND} WHERE b.quantity > 0 AND l.expiry_date <= %(d90)s GROUP BY 1, 2""",
        f"""SELECT b.location_id, CASE WHEN l.expiry_date < %(day)s THEN 'expired' WHEN l.expiry_date <= %(d30)s
            THEN '0-30' WHEN l.expiry_date <= %(d60)s THEN '31-60' ELSE '61-90' END,
            SUM(b.quantity * {UV}), COUNT(*), COUNT(DISTINCT b.item_id)
            FROM (SELECT * FROM stock_lot WHERE expiry_date <= %(d90)s) l
            JOIN stock_balance b ON b.lot_id = l.id AND b.quantity > 0 JOIN stock_item i ON i.id = b.item_id
            GROUP BY 1, 2""",
    ],
    "stock_outs": [
        f"""SELECT location_id, SUM(CASE WHEN u <= 0 THEN 1 ELSE 0 END),
            SUM(CASE WHEN u > 0 AND u <= reorder_point THEN 1 ELSE 0 END), COUNT(*) FROM (
              SELECT lv.id, lv.location_id, lv.reorder_point,
                     COALESCE(SUM(CASE WHEN {USABLE} THEN b.quantity ELSE 0 END), 0) AS u
              FROM stock_level lv JOIN stock_item i ON i.id = lv.item_id AND i.active
              LEFT JOIN stock_balance b ON b.item_id = lv.item_id AND b.location_id = lv.location_id AND b.quantity > 0
              LEFT JOIN stock_lot l ON l.id = b.lot_id
              GROUP BY lv.id, lv.location_id, lv.reorder_point) x GROUP BY location_id""",
        f"""WITH held AS (SELECT b.item_id, b.location_id, SUM(b.quantity) AS u FROM stock_balance b
              JOIN stock_lot l ON l.id = b.lot_id WHERE b.quantity > 0 AND {USABLE} GROUP BY 1, 2)
            SELECT lv.location_id, SUM(CASE WHEN COALESCE(h.u, 0) <= 0 THEN 1 ELSE 0 END),
                   SUM(CASE WHEN h.u > 0 AND h.u <= lv.reorder_point THEN 1 ELSE 0 END), COUNT(*)
            FROM stock_level lv JOIN stock_item i ON i.id = lv.item_id AND i.active
            LEFT JOIN held h ON h.item_id = lv.item_id AND h.location_id = lv.location_id GROUP BY 1""",
    ],
    "slow_movers": [
        f"""WITH idle AS (SELECT b.item_id, b.location_id, SUM(CASE WHEN {USABLE} THEN b.quantity * {UV} ELSE 0 END)
              AS value, SUM(b.quantity) AS quantity, COUNT(*) AS lots
              FROM {ON_HAND} WHERE b.quantity > 0 AND NOT EXISTS (SELECT 1 FROM stock_move m
                WHERE m.item_id = b.item_id AND m.location_id = b.location_id AND m.kind IN {OUT}
                AND m.moved_at >= %(cutoff)s)
              GROUP BY b.item_id, b.location_id)
            SELECT idle.item_id, idle.location_id, value, quantity, lots, {LAST_IDLE},
                   COUNT(*) OVER (), SUM(value) OVER ()
            FROM idle ORDER BY value DESC, quantity DESC, idle.item_id, idle.location_id LIMIT %(top)s""",
        f"""WITH recent AS (SELECT DISTINCT item_id, location_id FROM stock_move
              WHERE kind IN {OUT} AND moved_at >= %(cutoff)s),
            idle AS (SELECT b.item_id, b.location_id, SUM(CASE WHEN {USABLE} THEN b.quantity * {UV} ELSE 0 END)
              AS value, SUM(b.quantity) AS quantity, COUNT(*) AS lots
              FROM {ON_HAND} LEFT JOIN recent r ON r.item_id = b.item_id AND r.location_id = b.location_id
              WHERE b.quantity > 0 AND r.item_id IS NULL GROUP BY b.item_id, b.location_id)
            SELECT idle.item_id, idle.location_id, value, quantity, lots, {LAST_IDLE},
                   COUNT(*) OVER (), SUM(value) OVER ()
            FROM idle ORDER BY value DESC, quantity DESC, idle.item_id, idle.location_id LIMIT %(top)s""",
    ],
    "consumption_by_department": [
        f"""SELECT to_char(moved_at AT TIME ZONE %(tz)s, 'YYYY-MM'), department_id,
            -SUM(quantity * unit_cost_cents), COUNT(*) FROM stock_move
            WHERE kind IN {CONSUMED} AND moved_at >= %(lo)s AND moved_at < %(hi)s GROUP BY 1, 2""",
        f"""SELECT MONTHCASE(moved_at), department_id, -SUM(quantity * unit_cost_cents), COUNT(*)
            FROM stock_move WHERE kind IN {CONSUMED} AND moved_at >= %(lo)s AND moved_at < %(hi)s GROUP BY 1, 2""",
    ],
    "supplier_lead_times": [
        """WITH o AS (SELECT po.id, po.supplier_id, po.sent_at, MIN(m.moved_at) AS first_at
              FROM purchase_order po JOIN purchase_order_line pl ON pl.order_id = po.id
              LEFT JOIN stock_move m ON m.order_line_id = pl.id AND m.kind = 'receipt'
              WHERE po.sent_at >= %(lo)s AND po.sent_at < %(hi)s AND po.status <> 'cancelled'
              GROUP BY po.id, po.supplier_id, po.sent_at)
            SELECT s.id, s.lead_time_days, AVG(EXTRACT(EPOCH FROM first_at - sent_at) / 86400), COUNT(*),
              COUNT(first_at),
              SUM(CASE WHEN first_at IS NOT NULL AND EXTRACT(EPOCH FROM first_at - sent_at) / 86400
                  > s.lead_time_days + 1 THEN 1 ELSE 0 END),
              SUM(CASE WHEN first_at IS NULL THEN 1 ELSE 0 END),
              SUM(CASE WHEN first_at IS NULL AND EXTRACT(EPOCH FROM %(now)s - sent_at) / 86400
                  > s.lead_time_days + 1 THEN 1 ELSE 0 END)
            FROM o JOIN supplier s ON s.id = o.supplier_id GROUP BY s.id, s.lead_time_days""",
    ],
}


def _month_case(statement: str, common, filters) -> str:
    firsts = common.month_firsts(filters.start, filters.end)
    whens = " ".join(
        f"WHEN moved_at >= '{common.local_midnight(first).isoformat()}' THEN '{common.month_label(first)}'"
        for first in reversed(firsts[1:])
    )
    return statement.replace(
        "MONTHCASE(moved_at)", f"CASE {whens} ELSE '{common.month_label(firsts[0])}' END"
    )


def _local_day(moment) -> str:
    from hms_app.clock import to_local

    return "" if moment is None else to_local(moment).date().isoformat()


def _days(value) -> float | None:
    """An average of days to compare (four decimals: the two sides' float sums may differ below)."""
    if value is None or value != value:
        return None
    return round(float(value), 4)


def _numbers(figure: str, frame=None, rows=None) -> list:
    """The figure's numbers, from the app's frame or from the SQL's rows, in one sorted form."""
    if frame is not None:
        records = frame.to_dict("records")
        if figure == "stock_value_by_store":
            out = [
                (int(r["key"]), r["value_cents"], r["written_down_cents"], r["items"], r["lots"])
                for r in records
                if r["lots"]
            ]
        elif figure == "expiring_by_store":
            out = [
                (int(r["key"]), r["window"], r["value_cents"], r["lots"], r["items"])
                for r in records
                if r["lots"]
            ]
        elif figure == "stock_outs":
            out = [(int(r["key"]), r["out"], r["low"], r["stocked"]) for r in records if r["stocked"]]
        elif figure == "slow_movers":
            out = [
                (*map(int, r["key"].split("-")), r["value_cents"], r["quantity"], r["lots"], r["last_issue"])
                for r in records
            ]
            return out + [("all", frame.attrs["idle_rows"], frame.attrs["idle_value_cents"])]
        elif figure == "consumption_by_department":
            out = [
                (r["month"], None if r["key"] == "none" else int(r["key"]), r["value_cents"], r["moves"])
                for r in records
            ]
        else:
            out = [
                (int(r["key"]), r["promised_days"], _days(r["actual_days"]), r["orders"], r["received"], r["late"],
                 r["waiting"], r["overdue"])
                for r in records
            ]  # fmt: skip
    else:
        if figure == "slow_movers":
            out = [(r[0], r[1], int(r[2]), int(r[3]), int(r[4]), _local_day(r[5])) for r in rows]
            return out + [("all", int(rows[0][6]) if rows else 0, int(rows[0][7]) if rows else 0)]
        elif figure == "supplier_lead_times":
            out = [(r[0], r[1], _days(r[2]), *map(int, r[3:])) for r in rows]
        else:
            out = [
                tuple(
                    int(v) if isinstance(v, int | float) or hasattr(v, "as_integer_ratio") else v for v in r
                )
                for r in rows
            ]
    return sorted(out, key=lambda t: tuple(str(v) for v in t))


def bench_figures(url: str) -> None:
    import psycopg

    from hms_app.analytics.inventory import common
    from hms_app.clock import local_today
    from hms_app.db import session_scope
    from hms_app.services.inventory import dashboard as reports
    from hms_app.services.permissions import SYSTEM_ACTOR

    today = local_today()
    filters = common.default_filters(today)
    low, high = common.period_bounds(filters)
    params = {
        "day": today,
        "d30": today + timedelta(days=30),
        "d60": today + timedelta(days=60),
        "d90": today + timedelta(days=90),
        "cutoff": common.local_midnight(today - timedelta(days=filters.idle_days)),
        "lo": low,
        "hi": high,
        "tz": TIME_ZONE,
        "now": datetime.now(UTC),
        "top": common.TOP_SLOW,
    }
    say(
        f"  period {filters.start} .. {filters.end} in {TIME_ZONE}, FIFO, slow after {filters.idle_days} days"
    )
    server = _postgres_server()
    with psycopg.connect(f"{server}/{DB}") as conn:
        for figure, statements in SQL.items():
            call = getattr(reports, figure)
            statements = [_month_case(s, common, filters) for s in statements]
            app_samples: list[float] = []
            sql_samples: list[list[float]] = [[] for _ in statements]
            sql_rows: list = [None] * len(statements)
            frame = None
            for round_number in range(WARM_UPS + RUNS):
                with session_scope(url, read_only=True) as session:
                    session.connection()
                    started = time.perf_counter()
                    frame = call(session, actor=SYSTEM_ACTOR, filters=filters)
                    elapsed = (time.perf_counter() - started) * 1000
                if round_number >= WARM_UPS:
                    app_samples.append(elapsed)
                for index, statement in enumerate(statements):
                    started = time.perf_counter()
                    sql_rows[index] = conn.execute(statement, params).fetchall()
                    elapsed = (time.perf_counter() - started) * 1000
                    conn.rollback()
                    if round_number >= WARM_UPS:
                        sql_samples[index].append(elapsed)
            app_ms = statistics.median(app_samples)
            medians = [statistics.median(s) for s in sql_samples]
            best = medians.index(min(medians))
            expected = _numbers(figure, rows=sql_rows[best])
            got = _numbers(figure, frame=frame)
            if got != expected:
                raise RuntimeError(f"{figure}: the app and the SQL disagree:\n{got[:4]}\n{expected[:4]}")
            ratio = app_ms / medians[best] if medians[best] else float("inf")
            report(f"inventory_{figure}_ms", app_ms, "ms")
            report(f"inventory_{figure}_best_sql_ms", medians[best], "ms")
            report(f"inventory_{figure}_ratio", ratio, "x")
            verdict = [
                m
                for m, bad in (
                    (f"over {TARGET_MS:.0f} ms", app_ms > TARGET_MS),
                    (f"over {TARGET_RATIO}x the SQL", ratio > TARGET_RATIO),
                )
                if bad
            ]
            say(
                f"  {figure}: {len(frame)} rows; {'MISSED: ' + ', '.join(verdict) if verdict else 'on target'}"
            )


# --------------------------------------------------------------------------- concurrent issues


def bench_issues(url: str, ids: dict, figures: set[str]) -> None:
    from sqlalchemy import create_engine, select
    from sqlmodel import Session

    from hms_app.errors import DomainError
    from hms_app.models.inventory import StockBalance
    from hms_app.services.inventory.balances import balance_mismatches, negative_balances
    from hms_app.services.inventory.ledger import issue_stock, receive_stock
    from hms_app.services.permissions import DEFAULT_GRANTS, SYSTEM_ACTOR, Actor

    engine = create_engine(url, pool_size=CLIENTS + 5, max_overflow=0)
    ward, hot = ids["ward"], ids["hot_items"]
    expiry = date.today() + timedelta(days=400)
    with Session(engine) as session:
        for item in hot:
            for n in range(HOT_LOTS):
                receive_stock(session, actor=SYSTEM_ACTOR, item_id=item, location_id=ward, quantity=HOT_QUANTITY,
                              lot_number=f"HOT-{item}-{n}", expiry_date=expiry, unit_cost_cents=40)  # fmt: skip
        before = {
            lot: quantity
            for lot, quantity in session.execute(
                select(StockBalance.lot_id, StockBalance.quantity).where(
                    StockBalance.location_id == ward, StockBalance.item_id.in_(hot)
                )
            ).all()
        }
    taken: dict[int, int] = {}
    tally = {"issued": 0, "refused": 0, "errors": []}
    lock = threading.Lock()
    barrier = threading.Barrier(CLIENTS + 1)
    stop = threading.Event()
    permissions = DEFAULT_GRANTS["nurse"]

    def client(number: int) -> None:
        rng = random.Random(SEED * 100 + number)
        actor = Actor(
            ids["nurses"][number], f"bench.nurse{number}", roles=frozenset({"nurse"}), permissions=permissions
        )
        barrier.wait(timeout=120)
        while not stop.is_set():
            item = rng.choice(hot)
            target = (
                {"patient_id": rng.choice(ids["patients"])}
                if rng.random() < 0.5
                else {"department_id": ids["ward_department"], "reason": "Ward use"}
            )
            try:
                with Session(engine) as session:
                    moves = issue_stock(session, actor=actor, item_id=item, location_id=ward,
                                        quantity=rng.randint(1, 5), **target)  # fmt: skip
                with lock:
                    tally["issued"] += 1
                    for move in moves:
                        taken[move.lot_id] = taken.get(move.lot_id, 0) + move.quantity
            except DomainError:
                with lock:
                    tally["refused"] += 1
            except Exception as error:  # noqa: BLE001 - counted and shown: the figure is then wrong
                with lock:
                    tally["errors"].append(f"{type(error).__name__}: {error}"[:300])

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    barrier.wait(timeout=120)
    started = time.perf_counter()
    time.sleep(SECONDS)
    stop.set()
    for thread in threads:
        thread.join(timeout=120)
    elapsed = time.perf_counter() - started
    say(
        f"  {CLIENTS} clients, {elapsed:.1f} s: {tally['issued']:,} issues accepted, {tally['refused']:,} refused "
        f"(stock ran out), {len(tally['errors'])} unexpected errors"
        + (f", e.g. {tally['errors'][0]}" if tally["errors"] else "")
    )
    with Session(engine) as session:
        after = dict(
            session.execute(
                select(StockBalance.lot_id, StockBalance.quantity).where(
                    StockBalance.location_id == ward, StockBalance.item_id.in_(hot)
                )
            ).all()
        )
        wrong = [lot for lot in after if after[lot] != before.get(lot, 0) + taken.get(lot, 0)]
        started_check = time.perf_counter()
        mismatches = balance_mismatches(session, limit=1000)
        negative = negative_balances(session)
        say(f"  the ledger proof over every row took {time.perf_counter() - started_check:.1f} s; "
            f"{len(wrong)} hot lots off the clients' tally")  # fmt: skip
    engine.dispose()
    report("stock_issues_per_second_postgresql", tally["issued"] / elapsed, "issues/s")
    report("stock_balance_mismatches_postgresql", len(mismatches) + len(wrong) + len(tally["errors"]), "")
    report("stock_negative_balances_postgresql", int(negative), "")


# --------------------------------------------------------------------------- entry point


def run(stack: contextlib.ExitStack, figures: set[str]) -> None:
    saved = os.environ.get("HMS_TIME_ZONE")
    os.environ["HMS_TIME_ZONE"] = TIME_ZONE
    stack.callback(
        lambda: (
            os.environ.__setitem__("HMS_TIME_ZONE", saved) if saved else os.environ.pop("HMS_TIME_ZONE", None)
        )
    )
    try:
        import psycopg  # noqa: F401
    except ImportError as error:
        raise Skip("psycopg is not installed") from error
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hms-bench-inv-")))
    url = f"{_postgres_server().replace('postgresql://', 'postgresql+psycopg://', 1)}/{DB}"
    with hms_environment(url, workdir):
        url, ids = build(stack)
        if "stock_on_hand_p95_ms" in figures:
            bench_stock_on_hand(url, ids)
        if "inventory_figures" in figures:
            bench_figures(url)
        if "stock_issues_per_second_postgresql" in figures:
            bench_issues(url, ids, figures)


BENCHMARKS = [(NAMES, run)]  # hooked into bench/run.py
GROUPS: dict[str, list[str]] = {"inventory_5m": list(NAMES)}
