"""The finance dashboard's state driven as a manager's browser tab would, against the test database.

The actor comes from a real session token. What the figures add up to is proven in
``tests/services/test_finance_figures.py``; these tests follow the manager: open the page, filter,
click a bar, page through what is behind it, download CSVs, and send nonsense a browser could send.
"""

from __future__ import annotations

import inspect
from datetime import timedelta

import pytest
import reflex as rx
from argon2 import PasswordHasher
from reflex_base import constants
from sqlalchemy import select

import hms_app.hms_app  # noqa: F401  (the app module: registers every page and state)
from hms_app import db as hms_db
from hms_app.analytics.finance.common import PAGE_SIZE, TOP_SERVICES, default_filters, money
from hms_app.clock import utcnow
from hms_app.models.billing import ChargeItemDefinition, Invoice, Payment
from hms_app.models.organization import Department
from hms_app.models.patients import Coverage, Payer
from hms_app.models.security import AuditEvent
from hms_app.services import accounts, patients, security
from hms_app.services.billing import expenses
from hms_app.services.billing import finance_reports as reports
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.state.finance import FinanceState
from tests.services.test_finance_figures import _invoice, _pay, _retime

PASSWORD = "Ledger-check-42"


@pytest.fixture(autouse=True)
def fast_hasher(monkeypatch):
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def books(session):
    """A manager, a billing clerk, and a few months of invoices, payments and expenses."""
    accounts.ensure_roles(session)
    for username, role in (("mona", "manager"), ("bill", "billing_clerk")):
        accounts.create_user(
            session,
            actor=SYSTEM_ACTOR,
            username=username,
            display_name=username.title(),
            password=PASSWORD,
            roles=[role],
        )
    gen, card = Department(code="GEN", name="General Medicine"), Department(code="CARD", name="Cardiology")
    session.add_all([gen, card])
    session.flush()
    session.add_all(
        [
            ChargeItemDefinition(code="VISIT", name="Consultation", department_id=gen.id, price_cents=8000),
            ChargeItemDefinition(
                code="ECG", name="Electrocardiogram", department_id=card.id, price_cents=4575, tax_rate_bp=825
            ),
        ]
    )
    acme = Payer(code="ACME", name="Acme Health")
    session.add(acme)
    session.commit()
    people = []
    for given, family in (("Sam", "Selfpay"), ("Ina", "Insured"), ("Olga", "Older")):
        people.append(
            patients.register_patient(
                session,
                actor=SYSTEM_ACTOR,
                data={
                    "given_name": given,
                    "family_name": family,
                    "sex": "female",
                    "birth_date": "1970-05-06",
                },
            ).id
        )
    session.add(
        Coverage(
            patient_id=people[1],
            payer_id=acme.id,
            plan_name="Gold",
            member_id="ACM-1",
            valid_from=utcnow().date() - timedelta(days=900),
            coinsurance_percent=20,
        )
    )
    session.commit()
    now = utcnow()
    invoices = []
    for index, (person, codes, days_ago) in enumerate(
        [(people[0], ("VISIT", "ECG"), 3), (people[1], ("VISIT",), 40), (people[2], ("ECG", "VISIT"), 75)]
        + [(people[0], ("VISIT",), 100 + d) for d in range(25)]
    ):
        invoice, _charges = _invoice(session, person, *codes)
        _retime(session, Invoice, invoice.id, issued_at=now - timedelta(days=days_ago))
        invoices.append(invoice.id)
        if index == 0:
            payment = _pay(session, person, invoice.id, 3000)
            _retime(session, Payment, payment.id, received_at=now - timedelta(days=2))
    expenses.record_expense(
        session,
        actor=SYSTEM_ACTOR,
        data={
            "category": "supplies",
            "department_id": str(gen.id),
            "supplier": "Medline",
            "description": "Gloves",
            "amount": "250.00",
            "incurred_on": (utcnow().date() - timedelta(days=10)).isoformat(),
        },
    )
    return {"gen": gen.id, "card": card.id, "invoices": invoices, "people": people}


def _tab(username: str):
    root = rx.State()
    root._update_router_vars(
        {
            constants.RouteVar.PATH: "/finance",
            constants.RouteVar.ORIGIN: "/finance",
            constants.RouteVar.QUERY: {},
            constants.RouteVar.HEADERS: {"origin": "http://localhost:3000"},
            constants.RouteVar.CLIENT_IP: "10.1.2.3",
        },
        {},
    )
    state = root.get_substate(FinanceState.get_full_name().split(".")[1:])
    with hms_db.session_scope() as s:
        state.auth_token = security.sign_in(s, username=username, password=PASSWORD).token
    return state


async def _call(state, name: str, *args) -> list:
    fn = type(state).event_handlers[name].fn
    if inspect.isasyncgenfunction(fn):
        produced = [item async for item in fn(state, *args)]
    else:
        result = fn(state, *args)
        produced = [await result if inspect.isawaitable(result) else result]
    flat: list = []

    def walk(item):
        if isinstance(item, (list, tuple)):
            for inner in item:
                walk(inner)
        elif item is not None:
            flat.append(item)

    walk(produced)
    return flat


def _text(events) -> str:
    return " ".join(str(getattr(e, "args", "")) for e in events)


def _audit(action: str) -> list[AuditEvent]:
    with hms_db.session_scope() as s:
        return list(
            s.execute(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)).scalars()
        )


def _said(events) -> str:
    """The text of the one toast among ``events``."""
    (toast,) = [e for e in events if "function" in {n._js_expr for n, _v in getattr(e, "args", ())}]
    call = dict((n._js_expr, v) for n, v in toast.args)["function"]._js_expr
    return call.split('("')[-1].rsplit('")', 1)[0]


def _form(state, **changes) -> dict:
    return {
        "start": state.start,
        "end": state.end,
        "department": state.department or "all",
        "as_of": state.as_of,
        **changes,
    }


async def test_the_manager_sees_the_figures_the_analytics_compute(books, configured_db):
    tab = _tab("mona")
    await _call(tab, "load")
    assert tab.loaded and not tab.loading
    defaults = default_filters()
    assert (tab.start, tab.end) == (defaults.start.isoformat(), defaults.end.isoformat())
    with hms_db.session_scope() as s:
        dashboard = reports.load_dashboard(s, actor=SYSTEM_ACTOR, filters=defaults)
    assert tab.kpi_revenue == money(dashboard.kpis["revenue_cents"]) != "$0.00"
    assert tab.kpi_outstanding == money(dashboard.kpis["outstanding_cents"])
    assert tab.kpi_collections == money(3000)
    assert tab.kpi_expenses == money(25000)
    assert [r["month"] for r in tab.revenue_by_month] == list(dashboard.revenue_month["month"])
    assert {d["name"] for d in tab.departments} == {"General Medicine", "Cardiology"}
    # The figures are drawn from the same rows.
    figure = tab.revenue_month_chart
    assert list(figure.data[0].text) == [money(r["revenue_cents"]) for r in tab.revenue_by_month]
    assert tab.has_revenue and tab.has_receivables and tab.has_expenses
    # The top balances name patients: one audited read per load.
    assert len(tab.balances) == 10 and all("(" in b.patient for b in tab.balances)
    assert [e.username for e in _audit("finance.balances_listed") if e.username != "system"] == ["mona"]


async def test_filters_narrow_the_figures_and_nonsense_is_refused(books, configured_db):
    tab = _tab("mona")
    await _call(tab, "load")
    everything = tab.kpi_revenue
    assert set(tab.revenue_department_chart.data[0].y) == {"General Medicine", "Cardiology"}
    await _call(tab, "apply", _form(tab, department=str(books["card"])))
    assert tab.department == str(books["card"]) and tab.kpi_revenue != everything
    assert {r["department"] for r in tab.revenue_by_department} == {"Cardiology"}
    # The drawn chart follows the new rows (its var depends on them, not only on "loaded").
    assert set(tab.revenue_department_chart.data[0].y) == {"Cardiology"}
    assert "Cardiology" in tab.applied_label
    before = (tab.start, tab.end, tab.kpi_revenue)
    for bad in (
        _form(tab, start="2026-05-01", end="2026-04-01"),
        _form(tab, start="not a date"),
        _form(tab, start="2001-01-01"),
        _form(tab, end="9999-12-31"),
        _form(tab, as_of="9999-12-31"),
        _form(tab, department="DROP TABLE"),
        _form(tab, department=["1"]),
        _form(tab, as_of="2026-04-01" * 3),
        "not a form",
    ):
        tab.filter_error = ""
        events = await _call(tab, "apply", bad)
        assert events or tab.filter_error, bad  # a toast, or the line under the form, says what is wrong
        assert (tab.start, tab.end, tab.kpi_revenue) == before
    # Read as every form is read (state/forms): the same words as on the other screens.
    assert _said(await _call(tab, "apply", _form(tab, department=["1"]))) == (
        "This value could not be read; enter it again."
    )
    assert _said(await _call(tab, "apply", _form(tab, as_of="2026-04-01" * 3))) == (
        "Keep this under 20 characters."
    )
    # A reversed range is said under the form, at the field, not only in a passing toast.
    assert await _call(tab, "apply", _form(tab, start="2026-05-01", end="2026-04-01")) == []
    assert tab.filter_error and tab.filter_error_field in ("start", "end")
    generation = tab.form_generation
    await _call(tab, "reset_filters")
    assert tab.department == "" and tab.kpi_revenue == everything
    # Reset redraws the inputs (new keys) even where the defaults equal what was applied, and
    # clears the message.
    assert tab.form_generation == generation + 1 and tab.filter_error == ""


async def test_clicking_a_bar_lists_the_invoices_behind_it_page_by_page(books, configured_db):
    tab = _tab("mona")
    await _call(tab, "load")
    older = next(
        i
        for i, r in enumerate(tab.revenue_by_month)
        if r["revenue_cents"] and i < len(tab.revenue_by_month) - 4
    )
    await _call(tab, "drill", "revenue_by_month", [{"pointNumber": older, "curveNumber": 0, "x": "ignored"}])
    assert tab.drill_open and not tab.drill_loading
    assert tab.drill_key == tab.revenue_by_month[older]["month"]
    assert tab.drill_amount == money(tab.revenue_by_month[older]["revenue_cents"])
    assert tab.drill_kind == "invoices" and len(tab.drill_rows) == min(tab.drill_total, PAGE_SIZE)
    assert all("Selfpay, Sam" in row.who for row in tab.drill_rows)
    # Each invoice number opens its invoice.
    assert all(row.link == f"/billing/invoices/{row.row_id}" for row in tab.drill_rows)
    assert len(_audit("finance.invoices_listed")) == 1
    # The aging chart: the 61-90 bucket holds Olga's invoice.
    await _call(tab, "drill", "ar_aging", [{"pointNumber": 2, "curveNumber": 0}])
    assert tab.drill_kind == "balances" and [r.who.split(" (")[0] for r in tab.drill_rows] == ["Older, Olga"]
    # Paging, on a bar with more invoices than a page.
    biggest = max(range(len(tab.payer_mix)), key=lambda i: tab.payer_mix[i]["invoices"])
    await _call(tab, "drill", "payer_mix", [{"pointNumber": biggest}])
    if tab.drill_total > PAGE_SIZE:
        first = [r.row_id for r in tab.drill_rows]
        await _call(tab, "drill_next")
        assert tab.drill_page == 2 and not set(first) & {r.row_id for r in tab.drill_rows}
        await _call(tab, "drill_prev")
        assert tab.drill_page == 1 and [r.row_id for r in tab.drill_rows] == first
    # The charges bar of the two-series chart lists charge items.
    month = next(i for i, r in enumerate(tab.charges_vs_collections) if r["charges_cents"])
    await _call(tab, "drill", "charges_vs_collections", [{"pointNumber": month, "curveNumber": 0}])
    assert tab.drill_kind == "charges" and tab.drill_total > 0
    await _call(tab, "set_drill_open", False)
    assert not tab.drill_open and tab.drill_rows == []


@pytest.mark.parametrize(
    "figure, points",
    [
        ("revenue_by_month", [{"pointNumber": 999}]),
        ("revenue_by_month", [{"pointNumber": -1}]),
        ("revenue_by_month", [{"pointNumber": "0"}]),
        ("revenue_by_month", [{"pointNumber": True}]),
        ("revenue_by_month", "0"),
        ("revenue_by_month", []),
        ("expenses_vs_revenue", [{"pointNumber": 0, "curveNumber": 2}]),  # the margin line
        ("audit_trail", [{"pointNumber": 0}]),
        ("revenue_by_service", [{"pointNumber": TOP_SERVICES}]),
    ],
)
async def test_a_click_the_page_never_draws_lists_nothing(books, configured_db, figure, points):
    tab = _tab("mona")
    await _call(tab, "load")
    events = await _call(tab, "drill", figure, points)
    assert not tab.drill_open and events
    assert _audit("finance.invoices_listed") == []


async def test_csv_downloads_of_the_tables_and_of_the_invoices_behind_a_bar(books, configured_db):
    tab = _tab("mona")
    await _call(tab, "load")
    events = await _call(tab, "export_table", "revenue_by_department")
    assert "finance_revenue_by_department_" in _text(events) and ".csv" in _text(events)
    assert "download" in repr(events[0]).lower()
    events = await _call(tab, "export_table", "top_outstanding")
    assert "finance_top_outstanding_" in _text(events)
    assert [e.detail for e in _audit("finance.invoices_exported")] == [
        "top outstanding balances: 10 rows as CSV"
    ]
    refused = await _call(tab, "export_table", "app_user")
    assert "no such table" in _text(refused)
    assert "download" not in repr(refused).lower()
    await _call(tab, "drill", "revenue_by_month", [{"pointNumber": len(tab.revenue_by_month) - 1}])
    events = await _call(tab, "export_drill")
    assert "finance_revenue_by_month_" in _text(events)
    exported = _audit("finance.invoices_exported")
    assert len(exported) == 2 and {e.username for e in exported} == {"mona"}


async def test_a_billing_clerk_without_analytics_is_refused_on_the_server(books, configured_db):
    tab = _tab("bill")
    await _call(tab, "load")
    assert not tab.loaded and tab.revenue_by_month == [] and tab.top_outstanding == []
    await _call(tab, "drill", "revenue_by_month", [{"pointNumber": 0}])
    assert not tab.drill_open
    denied = _audit("access.denied")
    assert len(denied) == 2 and all("analytics.read" in e.detail for e in denied)


def test_each_chart_is_redrawn_when_its_rows_change():
    """Reflex recomputes a var only when a var it reads changes: every chart reads its own table."""
    charts = {
        "revenue_month_chart": "revenue_by_month",
        "revenue_department_chart": "revenue_by_department",
        "revenue_service_chart": "revenue_by_service",
        "payer_chart": "payer_mix",
        "charges_collections_chart": "charges_vs_collections",
        "aging_chart": "ar_aging",
        "expenses_revenue_chart": "expenses_vs_revenue",
        "expenses_category_chart": "expenses_by_category",
    }
    for chart, table in charts.items():
        (reads,) = FinanceState.computed_vars[chart]._deps(objclass=FinanceState).values()
        assert reads == {"loaded", table}, chart
