"""Issue 5 figures: every finance dashboard figure over 2,000,000 invoice lines on PostgreSQL.

For each figure two numbers are printed, each the median of ``RUNS`` runs after ``WARM_UPS``
warm-up runs:

* ``finance_<figure>_ms``: the dashboard's own function (``hms_app/analytics/finance/``) as the
  page calls it: in the read-only session the page opens once for all its figures (opened
  outside the clock, like the SQL side's connection), the SQL aggregate, the small DataFrame;
* ``finance_<figure>_sql_ms``: the best single hand-written SQL query for the same numbers (the
  fastest of the formulations listed in ``SQL`` below, each checked to return the same numbers),
  sent straight through psycopg;
* ``finance_<figure>_ratio``: the first divided by the second.

Targets: under 1,000 ms, and a ratio of at most 1.5. A miss is said on stderr. Function and SQL
runs are interleaved round by round, so a shared machine's changing load falls on both alike.

Where the time goes at this size (PostgreSQL 15, 2 cores): revenue by department, by service
and for one department's months join all 2,000,000 lines to their invoices (a hash join, about
0.5 s on a quiet machine); charges against collections reads 700,000 charge items through the
``entered_at`` index with a heap visit each. Both are as fast as the best hand-written SQL on
today's schema; what would make them faster is asked of billing in ``/tmp/coord/billing-requests.md``
(a covering index on ``charge_item.entered_at``, measured 1.5 s -> 0.86 s under load; the issue
moment copied onto the lines with a covering index, measured 0.73 s -> 0.30 s). Receivables use
the paid amounts billing keeps on each invoice, less the payments received after the chosen day,
instead of summing every payment ever made (2.3 s -> 0.2 s for today).

Figures (``--only`` takes the names in the first column; ``finance_2m`` means all of them):

================================  =======================================================
finance_revenue_by_month          the default view: the last twelve months and this one
finance_revenue_by_month_dept     the same for one department (reads the lines)
finance_revenue_by_department     revenue per department of the lines
finance_revenue_by_service        revenue per service code
finance_payer_mix                 revenue per payer
finance_charges_vs_collections    charges entered and money received per month
finance_ar_aging                  receivables on today by age bucket
finance_ar_aging_past             the same as of six months ago (payments after that day count back)
finance_top_outstanding           the ten largest balances, with patient names
finance_expenses_vs_revenue       revenue and expenses per month
finance_expenses_by_category      expenses per category
finance_drilldown                 the first page (20 invoices) behind last month's bar, with its count and
                                  sum (without the audit row each listing also writes: a write, not a number)
================================  =======================================================

The database ``hms_bench_fin`` (``HMS_BENCH_FIN_POSTGRES_DB``, on ``HMS_BENCH_POSTGRES_SERVER``)
is built once and reused while it is at the current Alembic head and carries this generator's
version: the project's seeders for departments, staff, 50,000 patients, coverage and the service
catalogue, then, in SQL (``INSERT ... SELECT generate_series``, deterministic with ``setseed``),
500,000 invoices over three years (3 % voided, the newest 2,000 drafts), 2,000,000 invoice lines
(4 per invoice) with their 2,000,000 charge items, about 600,000 payments (desk payments, some
partial or overpaid, insurer payments, refunds) whose sums are kept on the invoices exactly as the
billing services keep them, and about 7,000 expenses. Building takes a few minutes; progress goes
to stderr. Times are grouped by months of ``HMS_TIME_ZONE`` (default here: America/New_York).
"""

from __future__ import annotations

import contextlib
import os
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bench.run import Skip, _postgres_server, hms_environment, report, say

POSTGRES_DB = os.environ.get("HMS_BENCH_FIN_POSTGRES_DB", "hms_bench_fin")
GENERATOR_VERSION = "hms-bench-fin v1"
TIME_ZONE = os.environ.get("HMS_TIME_ZONE", "America/New_York")
PATIENTS = 50_000
INVOICES = 500_000
LINES_PER_INVOICE = 4
LINES = INVOICES * LINES_PER_INVOICE
DRAFTS = 2_000
SEED = 5
WARM_UPS = 2
RUNS = 7
TARGET_MS = 1000.0
TARGET_RATIO = 1.5

FIGURES = (
    "finance_revenue_by_month",
    "finance_revenue_by_month_dept",
    "finance_revenue_by_department",
    "finance_revenue_by_service",
    "finance_payer_mix",
    "finance_charges_vs_collections",
    "finance_ar_aging",
    "finance_ar_aging_past",
    "finance_top_outstanding",
    "finance_expenses_vs_revenue",
    "finance_expenses_by_category",
    "finance_drilldown",
)


# --------------------------------------------------------------------------- building the database

BUILD_SQL: list[tuple[str, str]] = [
    ("settings", "SELECT setseed(0.5)"),
    (
        "service catalogue (200 services)",
        """
        INSERT INTO charge_item_definition (code, name, category, department_id, price_cents, tax_rate_bp, active)
        SELECT 'SVC-' || lpad(g::text, 4, '0'), 'Service ' || g,
               (ARRAY['visit','lab','imaging','drug','procedure','room'])[1 + g % 6],
               d.ids[1 + g % array_length(d.ids, 1)], 1500 + (g * 7919) % 48000,
               CASE WHEN g % 3 = 0 THEN 825 ELSE 0 END, true
        FROM generate_series(1, 200) g, (SELECT array_agg(id ORDER BY id) AS ids FROM department) d
        """,
    ),
    (
        f"{INVOICES:,} invoices over three years",
        f"""
        INSERT INTO invoice (id, number, status, patient_id, payer_id, coverage_id, subtotal_cents, discount_cents,
                             tax_cents, total_cents, patient_share_cents, payer_share_cents, patient_paid_cents,
                             payer_paid_cents, created_at, created_by, issued_at, issued_by, voided_at, voided_by,
                             void_reason)
        SELECT s.g,
               CASE WHEN s.draft THEN NULL ELSE 'INV-' || lpad(s.g::text, 7, '0') END,
               CASE WHEN s.draft THEN 'draft' WHEN s.v < 0.03 THEN 'void' ELSE 'issued' END,
               p.low + floor(s.x * p.n)::int,
               CASE WHEN s.w < 0.6 THEN y.ids[1 + floor(s.z * array_length(y.ids, 1))::int] END,
               NULL, 0, 0, 0, 0, 0, 0, 0, 0,
               s.at - interval '2 hours', 'bench',
               CASE WHEN s.draft THEN NULL ELSE s.at END,
               CASE WHEN s.draft THEN NULL ELSE 'bench' END,
               CASE WHEN NOT s.draft AND s.v < 0.03 THEN least(s.at + interval '5 days', now()) END,
               CASE WHEN NOT s.draft AND s.v < 0.03 THEN 'bench' END,
               CASE WHEN NOT s.draft AND s.v < 0.03 THEN 'billed twice' END
        FROM (
            SELECT g, g > {INVOICES - DRAFTS} AS draft, random() AS v, random() AS w, random() AS x, random() AS z,
                   now() - interval '1095 days' * (1 - g::float8 / {INVOICES}) - interval '1 second' * (random() * 600)
                   AS at
            FROM generate_series(1, {INVOICES}) g
        ) s,
        (SELECT min(id) AS low, count(*) AS n FROM patient) p,
        (SELECT array_agg(id ORDER BY id) AS ids FROM payer WHERE kind <> 'self') y
        """,
    ),
    (
        f"{LINES:,} charge items",
        f"""
        INSERT INTO charge_item (id, patient_id, code, description, department_id, quantity, unit_price_cents,
                                 tax_rate_bp, status, source_type, source_id, invoice_id, entered_at, entered_by)
        SELECT s.g, i.patient_id, d.code, d.name, d.department_id, s.quantity, d.price_cents,
               d.tax_rate_bp, CASE WHEN i.status = 'void' THEN 'open' ELSE 'invoiced' END, 'bench', s.g,
               CASE WHEN i.status = 'void' THEN NULL ELSE i.id END,
               coalesce(i.issued_at, i.created_at) - interval '1 minute' * s.minutes, 'bench'
        FROM (
            SELECT g, 'SVC-' || lpad((1 + (g::bigint * 2654435761 % 4294967296) % 200)::text, 4, '0') AS code,
                   1 + floor(random() * 3)::int AS quantity, floor(random() * 4320) AS minutes
            FROM generate_series(1, {LINES}) g
        ) s
        JOIN invoice i ON i.id = (s.g - 1) / {LINES_PER_INVOICE} + 1
        JOIN charge_item_definition d ON d.code = s.code
        """,
    ),
    (
        f"{LINES:,} invoice lines",
        f"""
        INSERT INTO invoice_line (id, invoice_id, charge_item_id, code, description, department_id, quantity,
                                  unit_price_cents, discount_cents, tax_rate_bp, tax_cents, line_total_cents,
                                  patient_share_cents, payer_share_cents)
        SELECT c.id, (c.id - 1) / {LINES_PER_INVOICE} + 1, c.id, c.code, c.description, c.department_id, c.quantity,
               c.unit_price_cents, x.discount, c.tax_rate_bp, x.tax, x.net + x.tax,
               x.net + x.tax - x.payer, x.payer
        FROM charge_item c
        JOIN invoice i ON i.id = (c.id - 1) / {LINES_PER_INVOICE} + 1
        CROSS JOIN LATERAL (
            SELECT CASE WHEN c.id % 20 = 0 THEN c.quantity * c.unit_price_cents / 10 ELSE 0 END AS discount
        ) dd
        CROSS JOIN LATERAL (
            SELECT c.quantity * c.unit_price_cents - dd.discount AS net,
                   ((c.quantity * c.unit_price_cents - dd.discount) * c.tax_rate_bp * 2 + 10000) / 20000 AS tax,
                   dd.discount AS discount
        ) y
        CROSS JOIN LATERAL (
            SELECT y.net, y.tax, y.discount,
                   CASE WHEN i.payer_id IS NULL THEN 0 ELSE (y.net + y.tax) * 80 / 100 END AS payer
        ) x
        """,
    ),
    (
        "invoice totals from their lines",
        """
        UPDATE invoice i SET subtotal_cents = s.gross, discount_cents = s.discount, tax_cents = s.tax,
               total_cents = s.total, patient_share_cents = s.patient, payer_share_cents = s.payer
        FROM (SELECT invoice_id, sum(quantity * unit_price_cents) AS gross, sum(discount_cents) AS discount,
                     sum(tax_cents) AS tax, sum(line_total_cents) AS total, sum(patient_share_cents) AS patient,
                     sum(payer_share_cents) AS payer
              FROM invoice_line GROUP BY invoice_id) s
        WHERE s.invoice_id = i.id
        """,
    ),
    (
        "payments: patients, insurers, refunds",
        """
        WITH issued AS (
            SELECT id, patient_id, payer_id, patient_share_cents AS patient, payer_share_cents AS payer, issued_at,
                   status, random() AS r, random() AS s, random() AS t
            FROM invoice WHERE status IN ('issued', 'void')
        ), patient_pay AS (
            SELECT id AS invoice_id, patient_id,
                   CASE WHEN r < 0.10 THEN patient / 2 WHEN r < 0.12 THEN patient + 500 ELSE patient END AS amount,
                   CASE WHEN r < 0.10 THEN patient / 2 ELSE patient END AS applied,
                   (ARRAY['cash','card','transfer'])[1 + floor(s * 3)::int] AS method,
                   issued_at + interval '1 hour' * floor(t * 24 * 75) AS received_at
            FROM issued WHERE r < 0.80 AND patient > 0 AND issued_at + interval '1 hour' * floor(t * 24 * 75) < now()
              AND status = 'issued'
        ), insurer_pay AS (
            SELECT id AS invoice_id, patient_id, payer AS amount, payer AS applied, 'insurer' AS method,
                   issued_at + interval '1 hour' * floor(24 * (20 + s * 80)) AS received_at
            FROM issued WHERE payer > 0 AND t < 0.88 AND status = 'issued'
              AND issued_at + interval '1 hour' * floor(24 * (20 + s * 80)) < now()
        ), paid_on_voided AS (
            SELECT id AS invoice_id, patient_id, patient AS amount, patient AS applied, 'card' AS method,
                   issued_at + interval '1 day' AS received_at
            FROM issued WHERE status = 'void' AND r < 0.5 AND patient > 0
        ), everything AS (
            SELECT * FROM patient_pay UNION ALL SELECT * FROM insurer_pay UNION ALL SELECT * FROM paid_on_voided
        )
        INSERT INTO payment (id, patient_id, invoice_id, kind, method, amount_cents, applied_cents, idempotency_key,
                             received_at, received_by)
        SELECT row_number() OVER (ORDER BY received_at, invoice_id, method), patient_id, invoice_id, 'payment', method,
               amount, applied, 'bench-' || invoice_id || '-' || method, received_at, 'bench'
        FROM everything
        """,
    ),
    (
        "refunds",
        """
        INSERT INTO payment (id, patient_id, invoice_id, kind, method, amount_cents, applied_cents, idempotency_key,
                             refund_of_id, received_at, received_by)
        SELECT m.top + row_number() OVER (ORDER BY p.id), p.patient_id, p.invoice_id, 'refund', p.method,
               -least(1000, p.applied_cents), -least(1000, p.applied_cents), 'bench-refund-' || p.id, p.id,
               least(p.received_at + interval '9 days', now()), 'bench'
        FROM payment p JOIN invoice i ON i.id = p.invoice_id CROSS JOIN (SELECT max(id) AS top FROM payment) m
        WHERE i.status = 'issued' AND p.method IN ('cash', 'card', 'transfer') AND p.applied_cents > 1000
          AND p.id % 97 = 0
        """,
    ),
    (
        "credit used on invoices",
        """
        INSERT INTO payment (id, patient_id, invoice_id, kind, method, amount_cents, applied_cents, idempotency_key,
                             received_at, received_by)
        SELECT m.top + row_number() OVER (ORDER BY i.id), i.patient_id, i.id, 'payment', 'credit',
               i.patient_share_cents / 2, i.patient_share_cents / 2, 'bench-credit-' || i.id,
               i.issued_at + interval '10 days', 'bench'
        FROM invoice i CROSS JOIN (SELECT max(id) AS top FROM payment) m
        WHERE i.status = 'issued' AND i.id % 50 = 7 AND i.patient_share_cents > 1
          AND i.issued_at + interval '10 days' < now()
          AND NOT EXISTS (SELECT 1 FROM payment p WHERE p.invoice_id = i.id AND p.method <> 'insurer')
        """,
    ),
    (
        "paid amounts kept on the invoices",
        """
        UPDATE invoice i SET patient_paid_cents = s.patient, payer_paid_cents = s.payer
        FROM (SELECT invoice_id,
                     sum(CASE WHEN method <> 'insurer' THEN applied_cents ELSE 0 END) AS patient,
                     sum(CASE WHEN method = 'insurer' THEN applied_cents ELSE 0 END) AS payer
              FROM payment WHERE invoice_id IS NOT NULL GROUP BY invoice_id) s
        WHERE s.invoice_id = i.id
        """,
    ),
    (
        "expenses",
        """
        INSERT INTO expense (category, department_id, supplier, description, amount_cents, incurred_on, entered_at,
                             entered_by)
        SELECT c.category, d.id, 'Supplier ' || (1 + (d.id + m) % 17), 'Monthly ' || c.category,
               50000 + floor(random() * 5000000)::int, (date_trunc('month', now()) - interval '1 month' * m)::date
               + floor(random() * 28)::int, now(), 'bench'
        FROM generate_series(0, 36) m, department d,
             unnest(ARRAY['staff','supplies','drugs','equipment','utilities','maintenance','services','rent'])
               AS c(category), generate_series(1, 2) k
        WHERE random() < 0.8
        """,
    ),
    (
        "sequences",
        """
        SELECT setval(pg_get_serial_sequence('invoice', 'id'), (SELECT max(id) FROM invoice)),
               setval(pg_get_serial_sequence('invoice_line', 'id'), (SELECT max(id) FROM invoice_line)),
               setval(pg_get_serial_sequence('charge_item', 'id'), (SELECT max(id) FROM charge_item)),
               setval(pg_get_serial_sequence('payment', 'id'), (SELECT max(id) FROM payment))
        """,
    ),
]


def _stale_reason(admin, server: str) -> str | None:
    import psycopg

    from hms_app import migrations

    exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (POSTGRES_DB,)).fetchone()
    if not exists:
        return "it does not exist yet"
    comment = admin.execute(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", (POSTGRES_DB,)
    ).fetchone()[0]
    if comment != GENERATOR_VERSION:
        return f"it was made by {comment or 'another generator'!r}, not {GENERATOR_VERSION!r}"
    with psycopg.connect(f"{server}/{POSTGRES_DB}") as conn:
        heads = sorted(r[0] for r in conn.execute("SELECT version_num FROM alembic_version"))
        lines = conn.execute("SELECT count(*) FROM invoice_line").fetchone()[0]
    if "+".join(heads) != migrations.head_revision():
        return f"it is at revision {'+'.join(heads)}, the head is {migrations.head_revision()}"
    if lines != LINES:
        return f"it holds {lines:,} invoice lines, not {LINES:,}"
    return None


def finance_database(stack: contextlib.ExitStack) -> str:
    """The cached database's SQLAlchemy URL, built first if missing or stale."""
    import psycopg
    from psycopg import sql

    server = _postgres_server()
    try:
        admin = psycopg.connect(f"{server}/postgres", autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        raise Skip(f"PostgreSQL is not reachable at {server}: {error}".strip()) from error
    stack.callback(admin.close)
    driver_server = server.replace("postgresql://", "postgresql+psycopg://", 1)
    url = f"{driver_server}/{POSTGRES_DB}"
    reason = _stale_reason(admin, server)
    if reason is None:
        say(f"reusing the cached PostgreSQL database {POSTGRES_DB!r} ({LINES:,} invoice lines)")
        return url
    say(f"building {POSTGRES_DB!r}: {reason}")
    building = f"{POSTGRES_DB}_building"

    def drop(name: str) -> None:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    drop(POSTGRES_DB)
    drop(building)
    admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(building)))
    stack.callback(drop, building)  # a no-op once renamed
    started = time.perf_counter()
    _build(f"{driver_server}/{building}", f"{server}/{building}", stack)
    admin.execute(
        sql.SQL("COMMENT ON DATABASE {} IS {}").format(
            sql.Identifier(building), sql.Literal(GENERATOR_VERSION)
        )
    )
    admin.execute(
        sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
            sql.Identifier(building), sql.Identifier(POSTGRES_DB)
        )
    )
    seconds = time.perf_counter() - started
    say(f"  built in {seconds:.0f} s")
    report("finance_build_seconds", seconds, "s")
    return url


def _build(url: str, plain_url: str, stack: contextlib.ExitStack) -> None:
    import psycopg

    from hms_app import migrations
    from hms_app.db import session_scope
    from hms_app.seed.registry import ConsoleProgress, run_seeders

    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hms-bench-fin-")))
    with hms_environment(url, workdir):
        started = time.perf_counter()
        migrations.upgrade(url)
        say(f"  migrated in {time.perf_counter() - started:.1f} s")
        with session_scope(url) as session:
            started = time.perf_counter()
            run_seeders(
                session,
                patients=PATIENTS,
                seed=SEED,
                only=["departments", "staff", "patients", "coverage", "billing_catalogue"],
                progress=ConsoleProgress(),
            )
            say(f"  seeded {PATIENTS:,} patients in {time.perf_counter() - started:.0f} s")
    with psycopg.connect(plain_url, autocommit=True) as conn:
        conn.execute("SET work_mem = '256MB'")
        conn.execute("SET maintenance_work_mem = '512MB'")
        for step, statement in BUILD_SQL:
            started = time.perf_counter()
            conn.execute(statement)
            say(f"  {step}: {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        # The two bulk UPDATEs left every invoice row three times over; a table that has lived
        # with autovacuum does not carry that, so it is compacted as a fresh load would be.
        conn.execute("VACUUM FULL invoice")
        conn.execute("VACUUM ANALYZE")
        say(f"  vacuumed and analysed in {time.perf_counter() - started:.0f} s")
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM invoice), (SELECT count(*) FROM invoice_line), "
            "(SELECT count(*) FROM charge_item), (SELECT count(*) FROM payment), (SELECT count(*) FROM expense)"
        ).fetchone()
        say(
            "  rows: {:,} invoices, {:,} lines, {:,} charge items, {:,} payments, {:,} expenses".format(
                *counts
            )
        )


# --------------------------------------------------------------------------- the hand-written SQL

# Each figure's best single SQL query, written by hand for PostgreSQL. Parameters: %(lo)s, %(hi)s
# (the period in UTC), %(tz)s, %(dept)s, %(cutoff)s (end of the AR day in UTC), %(d30)s/%(d60)s/
# %(d90)s (local midnights 30/60/90 days before the AR day), %(start)s/%(end)s (local days).
# Where several formulations exist, all are timed and the fastest counts. MONTHCASE(col) stands for
# the hospital's month of a moment written out as CASE WHEN col >= <local first of the month in
# UTC> THEN 'YYYY-MM' ..., newest month first (PostgreSQL's AT TIME ZONE per row is slower).
MONTH = "to_char({col} AT TIME ZONE %(tz)s, 'YYYY-MM')"
SQL: dict[str, list[str]] = {
    "revenue_by_month": [
        f"""SELECT {MONTH.format(col="issued_at")} AS m, sum(total_cents), sum(tax_cents) FROM invoice
            WHERE status = 'issued' AND issued_at >= %(lo)s AND issued_at < %(hi)s GROUP BY 1""",
        """SELECT to_char(date_trunc('month', issued_at AT TIME ZONE %(tz)s), 'YYYY-MM'), sum(total_cents),
                  sum(tax_cents)
           FROM invoice WHERE status = 'issued' AND issued_at >= %(lo)s AND issued_at < %(hi)s GROUP BY 1""",
        """SELECT MONTHCASE(issued_at), sum(total_cents), sum(tax_cents)
           FROM invoice WHERE status = 'issued' AND issued_at >= %(lo)s AND issued_at < %(hi)s GROUP BY 1""",
    ],
    "revenue_by_month_dept": [
        f"""SELECT {MONTH.format(col="i.issued_at")}, sum(l.line_total_cents), sum(l.tax_cents)
            FROM invoice_line l JOIN invoice i ON i.id = l.invoice_id
            WHERE i.status = 'issued' AND i.issued_at >= %(lo)s AND i.issued_at < %(hi)s
              AND l.department_id = %(dept)s GROUP BY 1""",
        """SELECT MONTHCASE(i.issued_at), sum(l.line_total_cents), sum(l.tax_cents)
           FROM invoice_line l JOIN invoice i ON i.id = l.invoice_id
           WHERE i.status = 'issued' AND i.issued_at >= %(lo)s AND i.issued_at < %(hi)s
             AND l.department_id = %(dept)s GROUP BY 1""",
    ],
    "revenue_by_department": [
        """SELECT l.department_id, sum(l.line_total_cents), sum(l.tax_cents), count(*)
           FROM invoice_line l JOIN invoice i ON i.id = l.invoice_id
           WHERE i.status = 'issued' AND i.issued_at >= %(lo)s AND i.issued_at < %(hi)s GROUP BY 1""",
    ],
    "revenue_by_service": [
        """SELECT l.code, sum(l.line_total_cents), sum(l.tax_cents), sum(l.quantity), count(*)
           FROM invoice_line l JOIN invoice i ON i.id = l.invoice_id
           WHERE i.status = 'issued' AND i.issued_at >= %(lo)s AND i.issued_at < %(hi)s GROUP BY 1""",
    ],
    "payer_mix": [
        """SELECT payer_id, sum(total_cents), count(*) FROM invoice
           WHERE status = 'issued' AND issued_at >= %(lo)s AND issued_at < %(hi)s GROUP BY 1""",
    ],
    "charges_vs_collections": [
        f"""SELECT 'charges', {MONTH.format(col="entered_at")}, sum(quantity * unit_price_cents), count(*)
            FROM charge_item WHERE status <> 'void' AND entered_at >= %(lo)s AND entered_at < %(hi)s GROUP BY 2
            UNION ALL
            SELECT 'collections', {MONTH.format(col="received_at")}, sum(amount_cents), count(*)
            FROM payment WHERE method <> 'credit' AND received_at >= %(lo)s AND received_at < %(hi)s GROUP BY 2""",
        """SELECT 'charges', MONTHCASE(entered_at), sum(quantity * unit_price_cents), count(*)
           FROM charge_item WHERE status <> 'void' AND entered_at >= %(lo)s AND entered_at < %(hi)s GROUP BY 2
           UNION ALL
           SELECT 'collections', MONTHCASE(received_at), sum(amount_cents), count(*)
           FROM payment WHERE method <> 'credit' AND received_at >= %(lo)s AND received_at < %(hi)s GROUP BY 2""",
    ],
    "ar_aging": [
        """WITH paid AS (SELECT invoice_id, sum(applied_cents) AS cents FROM payment
                         WHERE invoice_id IS NOT NULL AND received_at < %(cutoff)s GROUP BY invoice_id),
                open AS (SELECT i.issued_at, i.total_cents - coalesce(p.cents, 0) AS balance
                         FROM invoice i LEFT JOIN paid p ON p.invoice_id = i.id
                         WHERE i.status IN ('issued', 'void') AND i.issued_at < %(cutoff)s
                           AND (i.voided_at IS NULL OR i.voided_at >= %(cutoff)s))
           SELECT CASE WHEN issued_at >= %(d30)s THEN '0-30' WHEN issued_at >= %(d60)s THEN '31-60'
                       WHEN issued_at >= %(d90)s THEN '61-90' ELSE '90+' END, count(*), sum(balance)
           FROM open WHERE balance > 0 GROUP BY 1""",
        # The paid amounts billing keeps on each invoice, less what arrived after the day.
        """WITH later AS (SELECT invoice_id, sum(applied_cents) AS cents FROM payment
                          WHERE invoice_id IS NOT NULL AND received_at >= %(cutoff)s GROUP BY invoice_id),
                open AS (SELECT i.issued_at,
                                i.total_cents - i.patient_paid_cents - i.payer_paid_cents + coalesce(l.cents, 0)
                                  AS balance
                         FROM invoice i LEFT JOIN later l ON l.invoice_id = i.id
                         WHERE i.status IN ('issued', 'void') AND i.issued_at < %(cutoff)s
                           AND (i.voided_at IS NULL OR i.voided_at >= %(cutoff)s))
           SELECT CASE WHEN issued_at >= %(d30)s THEN '0-30' WHEN issued_at >= %(d60)s THEN '31-60'
                       WHEN issued_at >= %(d90)s THEN '61-90' ELSE '90+' END, count(*), sum(balance)
           FROM open WHERE balance > 0 GROUP BY 1""",
    ],
    "top_outstanding": [
        """WITH later AS (SELECT invoice_id, sum(applied_cents) AS cents FROM payment
                          WHERE invoice_id IS NOT NULL AND received_at >= %(cutoff)s GROUP BY invoice_id),
                open AS (SELECT i.id, i.number, i.patient_id, i.payer_id, i.issued_at, i.total_cents,
                                i.total_cents - i.patient_paid_cents - i.payer_paid_cents + coalesce(l.cents, 0)
                                  AS balance
                         FROM invoice i LEFT JOIN later l ON l.invoice_id = i.id
                         WHERE i.status IN ('issued', 'void') AND i.issued_at < %(cutoff)s
                           AND (i.voided_at IS NULL OR i.voided_at >= %(cutoff)s))
           SELECT o.id, o.number, pt.given_name, pt.family_name, pt.mrn, y.name, o.issued_at, o.total_cents, o.balance
           FROM open o JOIN patient pt ON pt.id = o.patient_id LEFT JOIN payer y ON y.id = o.payer_id
           WHERE o.balance > 0 ORDER BY o.balance DESC, o.issued_at, o.id LIMIT 10""",
    ],
    "expenses_vs_revenue": [
        f"""SELECT 'revenue', {MONTH.format(col="issued_at")}, sum(total_cents) FROM invoice
            WHERE status = 'issued' AND issued_at >= %(lo)s AND issued_at < %(hi)s GROUP BY 2
            UNION ALL
            SELECT 'expenses', to_char(incurred_on, 'YYYY-MM'), sum(amount_cents) FROM expense
            WHERE incurred_on BETWEEN %(start)s AND %(end)s GROUP BY 2""",
        """SELECT 'revenue', MONTHCASE(issued_at), sum(total_cents) FROM invoice
           WHERE status = 'issued' AND issued_at >= %(lo)s AND issued_at < %(hi)s GROUP BY 2
           UNION ALL
           SELECT 'expenses', to_char(incurred_on, 'YYYY-MM'), sum(amount_cents) FROM expense
           WHERE incurred_on BETWEEN %(start)s AND %(end)s GROUP BY 2""",
    ],
    "expenses_by_category": [
        """SELECT category, sum(amount_cents), count(*) FROM expense
           WHERE incurred_on BETWEEN %(start)s AND %(end)s GROUP BY 1""",
    ],
    "drilldown": [
        """SELECT count(*), sum(total_cents) FROM invoice
           WHERE status = 'issued' AND issued_at >= %(mlo)s AND issued_at < %(mhi)s;
           SELECT i.id, i.issued_at, i.number, pt.given_name, pt.family_name, pt.mrn, y.name, i.total_cents
           FROM invoice i JOIN patient pt ON pt.id = i.patient_id LEFT JOIN payer y ON y.id = i.payer_id
           WHERE i.status = 'issued' AND i.issued_at >= %(mlo)s AND i.issued_at < %(mhi)s
           ORDER BY i.issued_at, i.id LIMIT 20""",
    ],
}


# --------------------------------------------------------------------------- measuring


@dataclass(frozen=True)
class Case:
    figure: str  # key of SQL
    call: Callable  # (session, actor, filters) -> anything
    filters: object
    numbers: Callable  # what the function returned -> comparable numbers (a sorted list)
    sql_numbers: Callable  # rows of the hand-written SQL -> the same


def _cases(filters, dept_filters, past_filters, month_key):
    from hms_app.services.billing import finance_reports as fin

    def frame_numbers(*columns):
        return lambda frame: sorted(
            tuple(int(x) if not isinstance(x, str) else x for x in row)
            for row in frame[list(columns)].itertuples(index=False)
        )

    def sql_rows(*indexes):
        return lambda rows: sorted(
            tuple(int(r[i]) if not isinstance(r[i], str) else r[i] for i in indexes) for r in rows
        )

    def keyed(frame, key_column, value_column, none_key):
        return sorted(
            (
                (None if k == none_key else (int(k) if k.isdigit() else k), int(v))
                for k, v in zip(frame[key_column], frame[value_column], strict=True)
            ),
            key=str,
        )

    nonzero = lambda pairs: sorted(p for p in pairs if any(v for v in p[1:]))  # noqa: E731  SQL omits empty months
    return {
        "revenue_by_month": Case(
            "revenue_by_month",
            fin.revenue_by_month,
            filters,
            lambda f: nonzero(frame_numbers("month", "revenue_cents", "tax_cents")(f)),
            sql_rows(0, 1, 2),
        ),
        "revenue_by_month_dept": Case(
            "revenue_by_month_dept",
            fin.revenue_by_month,
            dept_filters,
            lambda f: nonzero(frame_numbers("month", "revenue_cents", "tax_cents")(f)),
            sql_rows(0, 1, 2),
        ),
        "revenue_by_department": Case(
            "revenue_by_department",
            fin.revenue_by_department,
            filters,
            lambda f: keyed(f, "key", "revenue_cents", "none"),
            lambda rows: sorted(((r[0], int(r[1])) for r in rows), key=str),
        ),
        "revenue_by_service": Case(
            "revenue_by_service",
            fin.revenue_by_service,
            filters,
            lambda f: keyed(f, "key", "revenue_cents", None),
            lambda rows: sorted(((r[0], int(r[1])) for r in rows), key=str),
        ),
        "payer_mix": Case(
            "payer_mix",
            fin.payer_mix,
            filters,
            lambda f: keyed(f, "key", "revenue_cents", "self"),
            lambda rows: sorted(((r[0], int(r[1])) for r in rows), key=str),
        ),
        "charges_vs_collections": Case(
            "charges_vs_collections",
            fin.charges_vs_collections,
            filters,
            lambda f: nonzero(frame_numbers("month", "charges_cents", "collections_cents")(f)),
            lambda rows: sorted(
                (
                    m,
                    int(sum(r[2] for r in rows if r[1] == m and r[0] == "charges")),
                    int(sum(r[2] for r in rows if r[1] == m and r[0] == "collections")),
                )
                for m in {r[1] for r in rows}
            ),
        ),
        "ar_aging": Case(
            "ar_aging",
            fin.ar_aging,
            filters,
            lambda f: nonzero(frame_numbers("bucket", "invoices", "balance_cents")(f)),
            sql_rows(0, 1, 2),
        ),
        "ar_aging_past": Case(
            "ar_aging",
            fin.ar_aging,
            past_filters,
            lambda f: nonzero(frame_numbers("bucket", "invoices", "balance_cents")(f)),
            sql_rows(0, 1, 2),
        ),
        "top_outstanding": Case(
            "top_outstanding",
            lambda s, actor, filters: fin.top_outstanding(s, actor=actor, filters=filters, audit=False),
            filters,
            lambda f: [(int(i), int(b)) for i, b in zip(f["invoice_id"], f["balance_cents"], strict=True)],
            lambda rows: [(int(r[0]), int(r[8])) for r in rows],
        ),
        "expenses_vs_revenue": Case(
            "expenses_vs_revenue",
            fin.expenses_vs_revenue,
            filters,
            lambda f: nonzero(frame_numbers("month", "revenue_cents", "expenses_cents")(f)),
            lambda rows: sorted(
                (
                    m,
                    int(sum(r[2] for r in rows if r[1] == m and r[0] == "revenue")),
                    int(sum(r[2] for r in rows if r[1] == m and r[0] == "expenses")),
                )
                for m in {r[1] for r in rows}
            ),
        ),
        "expenses_by_category": Case(
            "expenses_by_category",
            fin.expenses_by_category,
            filters,
            lambda f: keyed(f, "key", "expenses_cents", None),
            lambda rows: sorted(((r[0], int(r[1])) for r in rows), key=str),
        ),
        "drilldown": Case(
            "drilldown",
            lambda s, actor, filters: fin.invoices_behind(
                s, actor=actor, figure="revenue_by_month", key=month_key, filters=filters, audit=False
            ),
            filters,
            lambda page: [page.total, page.amount_cents, *[r.row_id for r in page.rows]],
            lambda rows: rows,
        ),
    }


def _run_sql(conn, statement: str, params: dict):
    """One round trip per statement; the drill-down's count and page are two statements."""
    rows = []
    for part in [p for p in statement.split(";") if p.strip()]:
        rows.append(conn.execute(part, params).fetchall())
    return rows[0] if len(rows) == 1 else rows


def _drill_sql_numbers(result) -> list:
    (count, amount), page = result[0][0], result[1]
    return [int(count), int(amount), *[int(r[0]) for r in page]]


def run(stack: contextlib.ExitStack, figures: set[str]) -> None:
    import psycopg

    url = finance_database(stack)
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hms-bench-fin-run-")))
    saved_tz = os.environ.get("HMS_TIME_ZONE")
    os.environ["HMS_TIME_ZONE"] = TIME_ZONE
    stack.callback(
        lambda: (
            os.environ.__setitem__("HMS_TIME_ZONE", saved_tz)
            if saved_tz
            else os.environ.pop("HMS_TIME_ZONE", None)
        )
    )
    with hms_environment(url, workdir):
        from dataclasses import replace

        from hms_app.analytics.finance import common as fin
        from hms_app.db import session_scope
        from hms_app.services.permissions import SYSTEM_ACTOR

        today = datetime.now(UTC).astimezone(fin.get_settings().tz).date()
        filters = fin.default_filters(today)
        with session_scope(url, read_only=True) as session:
            busiest = session.execute(
                fin.select(fin.LINE.c.department_id, fin.func.count())
                .group_by(fin.LINE.c.department_id)
                .order_by(fin.func.count().desc())
                .limit(1)
            ).first()[0]
        dept_filters = replace(filters, department_id=int(busiest))
        past_filters = replace(filters, as_of=today - timedelta(days=182))
        month_first = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
        month_key = fin.month_label(month_first)
        cases = _cases(filters, dept_filters, past_filters, month_key)
        say(
            f"  period {filters.start} .. {filters.end} in {TIME_ZONE}; department filter: {busiest}; "
            f"AR past day {past_filters.ar_day}; drill-down month {month_key}"
        )
        server = _postgres_server()
        with psycopg.connect(f"{server}/{POSTGRES_DB}") as conn:
            for name, case in cases.items():
                figure_name = f"finance_{name}"
                if figure_name not in figures:
                    continue
                chosen = case.filters
                params = _params(fin, chosen, month_first)

                def call(session, case=case, chosen=chosen):
                    return case.call(session, actor=SYSTEM_ACTOR, filters=chosen)

                statements = [_month_case(statement, fin, chosen) for statement in SQL[case.figure]]
                # Interleaved rounds: on a shared machine the load drifts, and both sides see the same drift.
                function_samples: list[float] = []
                sql_samples: list[list[float]] = [[] for _ in statements]
                sql_results: list[object] = [None for _ in statements]
                for round_number in range(WARM_UPS + RUNS):
                    # The page computes every figure in one read-only session, so the session is
                    # opened outside the clock, as the psycopg connection of the SQL side is.
                    with session_scope(url, read_only=True) as session:
                        session.connection()
                        started = time.perf_counter()
                        result = call(session)
                        elapsed = (time.perf_counter() - started) * 1000
                    if round_number >= WARM_UPS:
                        function_samples.append(elapsed)
                    for index, statement in enumerate(statements):
                        started = time.perf_counter()
                        sql_results[index] = _run_sql(conn, statement, params)
                        elapsed = (time.perf_counter() - started) * 1000
                        conn.rollback()
                        if round_number >= WARM_UPS:
                            sql_samples[index].append(elapsed)
                function_ms = statistics.median(function_samples)
                medians = [statistics.median(samples) for samples in sql_samples]
                best = medians.index(min(medians))
                best_ms, best_rows = medians[best], sql_results[best]
                expected = (
                    _drill_sql_numbers(best_rows) if name == "drilldown" else case.sql_numbers(best_rows)
                )
                got = case.numbers(result)
                if _normalise(got) != _normalise(expected):
                    raise RuntimeError(
                        f"{figure_name}: the function and the SQL disagree:\n{got[:5]}\n{expected[:5]}"
                    )
                ratio = function_ms / best_ms if best_ms else float("inf")
                report(f"{figure_name}_ms", function_ms, "ms")
                report(f"{figure_name}_sql_ms", best_ms, "ms")
                report(f"{figure_name}_ratio", ratio, "x")
                verdict = []
                if function_ms > TARGET_MS:
                    verdict.append(f"over {TARGET_MS:.0f} ms")
                if ratio > TARGET_RATIO:
                    verdict.append(f"over {TARGET_RATIO}x the SQL")
                    if best_ms < 5:
                        verdict.append(
                            f"the SQL takes {best_ms:.1f} ms, so the ratio measures the fixed cost of "
                            f"SQLAlchemy and the DataFrame ({function_ms - best_ms:.1f} ms), not the query"
                        )
                say(f"  {figure_name}: {'MISSED: ' + ', '.join(verdict) if verdict else 'on target'}")


def _month_case(statement: str, fin, filters) -> str:
    firsts = fin.month_firsts(filters.start, filters.end)

    def expand(match: re.Match) -> str:
        column = match.group(1)
        whens = " ".join(
            f"WHEN {column} >= '{fin.local_midnight(first).isoformat()}' THEN '{fin.month_label(first)}'"
            for first in reversed(firsts[1:])
        )
        return f"CASE {whens} ELSE '{fin.month_label(firsts[0])}' END"

    return re.sub(r"MONTHCASE\(([\w.]+)\)", expand, statement)


def _normalise(numbers):
    """Month labels from to_char and from the dashboard agree; drop PostgreSQL's None ordering quirks."""
    return [tuple(str(x) for x in n) if isinstance(n, tuple) else str(n) for n in numbers]


def _params(fin, filters, month_first: date) -> dict:
    lo, hi = fin.period_bounds(filters)
    cutoff = fin.local_midnight(filters.ar_day + timedelta(days=1))
    month_next = (month_first + timedelta(days=32)).replace(day=1)
    return {
        "lo": lo,
        "hi": hi,
        "tz": TIME_ZONE,
        "dept": filters.department_id,
        "cutoff": cutoff,
        "d30": fin.local_midnight(filters.ar_day - timedelta(days=30)),
        "d60": fin.local_midnight(filters.ar_day - timedelta(days=60)),
        "d90": fin.local_midnight(filters.ar_day - timedelta(days=90)),
        "start": filters.start,
        "end": filters.end,
        "mlo": fin.local_midnight(max(month_first, filters.start)),
        "mhi": fin.local_midnight(min(month_next, filters.end + timedelta(days=1))),
    }


BENCHMARKS: list = [(FIGURES, run)]  # (figure names, run(stack, figures)), hooked into bench/run.py
GROUPS: dict[str, list[str]] = {"finance_2m": list(FIGURES)}
