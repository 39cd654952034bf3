"""The inventory dashboard's state driven as a manager's browser tab would, against the test database.

What the figures add up to is proven in ``tests/services/test_inventory_figures.py``; these tests
follow the manager: open the page, filter, switch the valuation, click a bar or a heatmap cell,
download CSVs, and send nonsense a browser could send.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import reflex as rx
from argon2 import PasswordHasher
from reflex_base import constants

import hms_app.hms_app  # noqa: F401  (the app module: registers every page and state)
from hms_app import db as hms_db
from hms_app.analytics.inventory.common import default_filters, money
from hms_app.clock import local_today
from hms_app.models.inventory import StockLevel
from hms_app.services import accounts, security
from hms_app.services.inventory import dashboard as reports
from hms_app.services.inventory.ledger import issue_stock, receive_stock
from hms_app.services.inventory.moves import transfer_stock
from hms_app.services.permissions import SYSTEM_ACTOR
from hms_app.state.inventory import dashboard as dashboard_state
from hms_app.state.inventory.dashboard import InventoryDashboardState
from tests.services.inventory_world import build_world
from tests.state.test_finance_state import _audit, _call, _said, _text

PASSWORD = "Ledger-check-42"


@pytest.fixture(autouse=True)
def fast_hasher(monkeypatch):
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def stores(session):
    """The inventory world's stores with stock at two prices, a lot expiring soon, an issue, a
    transfer, stock levels (one item out, one low), a manager and a storekeeper."""
    accounts.ensure_roles(session)
    for username, role in (("mona", "manager"), ("sam", "storekeeper")):
        accounts.create_user(
            session, actor=SYSTEM_ACTOR, username=username, display_name=username.title(), password=PASSWORD,
            roles=[role],
        )  # fmt: skip
    w = build_world(session)
    keeper, today = w.storekeeper, local_today()
    receive_stock(
        session, actor=keeper, item_id=w.gloves, location_id=w.central, quantity=500, unit_cost_cents=5
    )
    receive_stock(
        session, actor=keeper, item_id=w.gloves, location_id=w.central, quantity=500, unit_cost_cents=9
    )
    for lot, expiry, cost in (("SOON", 20, 11), ("LATE", 400, 13)):
        receive_stock(
            session, actor=keeper, item_id=w.syringe, location_id=w.central, quantity=100, lot_number=lot,
            expiry_date=today + timedelta(days=expiry), unit_cost_cents=cost,
        )  # fmt: skip
    receive_stock(
        session, actor=keeper, item_id=w.paracetamol, location_id=w.pharmacy, quantity=300, lot_number="P1",
        expiry_date=today + timedelta(days=70), unit_cost_cents=2,
    )  # fmt: skip
    receive_stock(
        session, actor=keeper, item_id=w.gloves, location_id=w.pharmacy, quantity=50, unit_cost_cents=7
    )
    transfer_stock(session, actor=keeper, item_id=w.syringe, from_location_id=w.central,
                   to_location_id=w.ward_store, quantity=30)  # fmt: skip
    issue_stock(
        session, actor=w.nurse, item_id=w.syringe, location_id=w.ward_store, quantity=4, patient_id=w.patient
    )
    issue_stock(session, actor=keeper, item_id=w.gloves, location_id=w.central, quantity=40,
                department_id=w.ward_department, reason="Clinic")  # fmt: skip
    session.add_all(
        [
            StockLevel(item_id=w.syringe, location_id=w.other_ward_store, min_quantity=1, reorder_point=5, max_quantity=20),
            StockLevel(item_id=w.syringe, location_id=w.ward_store, min_quantity=5, reorder_point=40, max_quantity=80),
        ]
    )  # fmt: skip
    session.commit()
    return w


def _tab(username: str):
    root = rx.State()
    root._update_router_vars(
        {
            constants.RouteVar.PATH: "/analytics/inventory",
            constants.RouteVar.ORIGIN: "/analytics/inventory",
            constants.RouteVar.QUERY: {},
            constants.RouteVar.HEADERS: {"origin": "http://localhost:3000"},
            constants.RouteVar.CLIENT_IP: "10.1.2.3",
        },
        {},
    )
    state = root.get_substate(InventoryDashboardState.get_full_name().split(".")[1:])
    with hms_db.session_scope() as s:
        state.auth_token = security.sign_in(s, username=username, password=PASSWORD).token
    return state


def _form(state, **changes) -> dict:
    return {
        "start": state.start,
        "end": state.end,
        "store": state.store or "all",
        "category": state.category or "all",
        "idle_days": state.idle_days,
        **changes,
    }


async def test_the_manager_sees_the_figures_the_analytics_compute(stores, configured_db):
    tab = _tab("mona")
    await _call(tab, "load")
    assert tab.loaded and not tab.loading and tab.valuation == "fifo"
    defaults = default_filters()
    assert (tab.start, tab.end) == (defaults.start.isoformat(), defaults.end.isoformat())
    with hms_db.session_scope() as s:
        board = reports.load_dashboard(s, actor=SYSTEM_ACTOR, filters=defaults)
    kpis = board.kpis
    assert tab.kpi_value == money(kpis["stock_value_cents"]) != "$0.00"
    assert tab.kpi_consumption == money(kpis["consumption_cents"]) != "$0.00"
    assert (tab.kpi_out, tab.kpi_low) == (kpis["out"], kpis["low"]) == (1, 1)
    assert {s["name"] for s in tab.stores} >= {"Central store", "Main pharmacy"}
    assert list(tab.value_chart.data[0].x) == [r["value_cents"] / 100 for r in tab.stock_value_by_store]
    assert tab.has_stock and tab.has_consumption and tab.has_expiring and tab.has_outs
    assert len(tab.expiring_chart.data[0].z) == len({r["key"] for r in tab.expiring_by_store})
    # Nothing here names a patient: reading the dashboard writes no audit row of its own.
    assert _audit("access.denied") == []


async def test_filters_and_the_valuation_switch(stores, configured_db):
    tab = _tab("mona")
    await _call(tab, "load")
    everything = tab.kpi_value
    await _call(tab, "set_valuation", "average")
    assert tab.valuation == "average" and tab.kpi_value != everything  # gloves at 5 and 9 cents
    await _call(tab, "set_valuation", "fifo")
    assert tab.kpi_value == everything
    await _call(tab, "set_valuation", ["fifo", "average"])  # what a segmented control could send
    assert tab.valuation == "fifo"
    await _call(tab, "apply", _form(tab, store=str(stores.pharmacy)))
    assert {r["store"] for r in tab.stock_value_by_store} == {"Main pharmacy"}
    assert "Main pharmacy" in tab.applied_label
    await _call(tab, "apply", _form(tab, store="all", category="medicine", idle_days="30"))
    assert tab.store == "" and tab.category == "medicine"
    before = (tab.start, tab.end, tab.kpi_value)
    for bad in (
        _form(tab, start="2026-05-01", end="2026-04-01"),
        _form(tab, start="not a date"),
        _form(tab, store="DROP TABLE"),
        _form(tab, category="sweets"),
        _form(tab, idle_days="7"),
        _form(tab, store=["1"]),
        "not a form",
    ):
        tab.filter_error = ""
        events = await _call(tab, "apply", bad)
        assert events or tab.filter_error, bad
        assert (tab.start, tab.end, tab.kpi_value) == before
    assert (
        _said(await _call(tab, "apply", _form(tab, store=["1"])))
        == "This value could not be read; enter it again."
    )
    generation = tab.form_generation
    await _call(tab, "reset_filters")
    assert (tab.store, tab.category, tab.idle_days) == (
        "",
        "",
        "90",
    ) and tab.form_generation == generation + 1


async def test_clicking_a_bar_or_a_cell_lists_what_is_behind_it(stores, configured_db):
    tab = _tab("mona")
    await _call(tab, "load")
    central = next(i for i, r in enumerate(tab.stock_value_by_store) if r["store"] == "Central store")
    await _call(tab, "drill", "stock_value_by_store", [{"pointNumber": central, "curveNumber": 1}])
    assert tab.drill_open and tab.drill_title == "Stock held at Central store"
    assert tab.drill_amount == money(tab.stock_value_by_store[central]["value_cents"])
    assert {r.c1 for r in tab.drill_rows} >= {"Examination gloves, M (GLV-M)"}
    # A heatmap cell: [row, column]; the central store's syringes of lot SOON expire within 30 days.
    keys = list(dict.fromkeys(r["key"] for r in tab.expiring_by_store))
    row = keys.index(str(stores.central))
    await _call(tab, "drill", "expiring_by_store", [{"pointNumber": [row, 1], "curveNumber": 0}])
    assert tab.drill_key == f"{stores.central}|0-30" and [r.c2 for r in tab.drill_rows] == ["SOON"]
    # Stock-outs: the second trace is "low".
    ward = next(i for i, r in enumerate(tab.stock_outs) if r["key"] == str(stores.ward_store))
    await _call(tab, "drill", "stock_outs", [{"pointNumber": ward, "curveNumber": 1}])
    assert tab.drill_key == f"{stores.ward_store}|low" and tab.drill_amount == ""
    assert [r.c1 for r in tab.drill_rows] == ["Syringe 10 ml (SYR-10)"]
    # Consumption: the trace is the department, the point the month.
    month = tab.months.index(local_today().strftime("%Y-%m"))
    await _call(tab, "drill", "consumption_by_department", [{"pointNumber": month, "curveNumber": 0}])
    assert tab.drill_open and tab.drill_total >= 1
    await _call(tab, "set_drill_open", False)
    assert not tab.drill_open and tab.drill_rows == []


@pytest.mark.parametrize(
    "figure, points",
    [
        ("stock_value_by_store", [{"pointNumber": 999}]),
        ("stock_value_by_store", [{"pointNumber": -1}]),
        ("stock_value_by_store", [{"pointNumber": "0"}]),
        ("stock_value_by_store", [{"pointNumber": True}]),
        ("stock_value_by_store", "0"),
        ("expiring_by_store", [{"pointNumber": 0}]),  # a heatmap point is [row, column]
        ("expiring_by_store", [{"pointNumber": [0, 9]}]),
        ("stock_outs", [{"pointNumber": 0, "curveNumber": 2}]),
        ("slow_movers", [{"pointNumber": 15}]),
        ("audit_trail", [{"pointNumber": 0}]),
    ],
)
async def test_a_click_the_page_never_draws_lists_nothing(stores, configured_db, figure, points):
    tab = _tab("mona")
    await _call(tab, "load")
    events = await _call(tab, "drill", figure, points)
    assert not tab.drill_open and events


async def test_csv_downloads_of_the_tables_and_of_what_is_behind_a_bar(stores, configured_db, monkeypatch):
    tab = _tab("mona")
    await _call(tab, "load")
    events = await _call(tab, "export_table", "stock_value_by_store")
    assert "inventory_stock_value_by_store_" in _text(events) and "download" in repr(events[0]).lower()
    refused = await _call(tab, "export_table", "app_user")
    assert "no such table" in _text(refused) and "download" not in repr(refused).lower()
    # Slow movers: the screen keeps the few worth most, the file has every one (read again).
    assert tab.slow_count == 2 and {r["store"] for r in tab.slow_movers} == {"Main pharmacy"}
    keys = [r["item"] for r in tab.slow_movers]
    tab.slow_movers = tab.slow_movers[:1]
    written = []
    monkeypatch.setattr(dashboard_state, "frame_csv", lambda frame: written.append(frame) or "csv")
    await _call(tab, "export_table", "slow_movers")
    assert list(written[0]["item"]) == keys
    await _call(tab, "drill", "stock_value_by_store", [{"pointNumber": 0}])
    events = await _call(tab, "export_drill")
    assert "inventory_stock_value_by_store_" in _text(events)


async def test_a_storekeeper_without_analytics_is_refused_on_the_server(stores, configured_db):
    tab = _tab("sam")
    await _call(tab, "load")
    assert not tab.loaded and tab.stock_value_by_store == []
    await _call(tab, "drill", "stock_value_by_store", [{"pointNumber": 0}])
    assert not tab.drill_open
    denied = _audit("access.denied")
    assert len(denied) == 2 and all("analytics.read" in e.detail for e in denied)


def test_each_chart_is_redrawn_when_its_rows_change():
    """Reflex recomputes a var only when a var it reads changes: every chart reads its own table."""
    charts = {
        "value_chart": {"stock_value_by_store"},
        "consumption_chart": {"consumption_by_department", "months"},
        "expiring_chart": {"expiring_by_store"},
        "outs_chart": {"stock_outs"},
        "slow_chart": {"slow_movers"},
        "lead_chart": {"supplier_lead_times"},
    }
    for chart, tables in charts.items():
        (reads,) = (
            InventoryDashboardState.computed_vars[chart]._deps(objclass=InventoryDashboardState).values()
        )
        assert reads == {"loaded", *tables}, chart
