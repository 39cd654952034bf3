"""Purchasing in the browser: a storekeeper turns a suggested order into a draft purchase order, a
manager approves it (the storekeeper who created it cannot), the storekeeper marks it sent and
receives the delivery with lot and expiry; the stock, the order and the expense are there after.

The set-up the screens cannot do yet (stores, items, reorder levels: the catalogue screens are
another change) is written straight into the server's database, as an import would.
"""

from __future__ import annotations

from datetime import timedelta

from playwright.sync_api import Browser, Page, expect
from sqlalchemy import func, select

from tests.e2e.conftest import DEMO_PASSWORD, SCREENS_DIR, Server, server_db, sign_in

STOREKEEPER = ("stores", "Sam Storekeeper")
SHOTS = SCREENS_DIR


def ensure_storekeeper(session) -> None:
    """The demo storekeeper, if the demo seed did not make one."""
    from hms_app.models.security import AppUser, Role, UserRole
    from hms_app.services import security

    username, name = STOREKEEPER
    if session.execute(select(AppUser.id).where(AppUser.username == username)).first() is None:
        user = AppUser(
            username=username,
            display_name=name,
            email=f"{username}@hms.example",
            password_hash=security.hash_password(DEMO_PASSWORD),
        )
        session.add(user)
        session.flush()
        role = session.execute(select(Role.id).where(Role.name == "storekeeper")).scalar_one()
        session.add(UserRole(user_id=user.id, role_id=role))
        session.commit()


def ensure_stores(session) -> dict[str, int]:
    """A central store and a ward store, two suppliers, a few items with reorder levels below which
    the central store has fallen: the suggested orders have something to say. Returns ids by name."""
    from hms_app.models.inventory import StockItem, StockLevel, StockLocation, StockPackUnit, Supplier
    from hms_app.models.organization import Department

    def one(model, where, **values):
        row = session.execute(select(model).filter_by(**where)).scalar_one_or_none()
        if row is None:
            row = model(**where, **values)
            session.add(row)
            session.flush()
        return row

    gen = session.execute(select(Department.id).where(Department.code == "GEN")).scalar()
    central = one(StockLocation, {"code": "CS"}, name="Central store", kind="central")
    ward = one(StockLocation, {"code": "W-GEN"}, name="Ward 3 store", kind="ward", department_id=gen)
    medsupply = one(
        Supplier,
        {"name": "MedSupply Ltd"},
        lead_time_days=5,
        contact="Jo Mensah",
        email="orders@medsupply.example",
        phone="+1 555 010 2030",
    )
    pharma = one(Supplier, {"name": "PharmaDirect"}, lead_time_days=2, email="sales@pharmadirect.example")
    one(Supplier, {"name": "Linen Services Co"}, lead_time_days=14, phone="+1 555 010 7788")
    items = {
        "gloves": one(
            StockItem,
            {"code": "GLV-M"},
            name="Examination gloves, M",
            category="supply",
            base_unit="each",
            track_lots=False,
            supplier_id=medsupply.id,
            order_pack_size=100,
            average_cost_cents=9,
        ),
        "syringe": one(
            StockItem,
            {"code": "SYR-10"},
            name="Syringe 10 ml",
            category="supply",
            base_unit="each",
            supplier_id=medsupply.id,
            order_pack_size=50,
            average_cost_cents=18,
        ),
        "cannula": one(
            StockItem,
            {"code": "CAN-20G"},
            name="IV cannula 20G",
            category="supply",
            base_unit="each",
            supplier_id=medsupply.id,
            average_cost_cents=95,
        ),
        "paracetamol": one(
            StockItem,
            {"code": "PCM-500"},
            name="Paracetamol 500 mg tablet",
            category="medicine",
            base_unit="tablet",
            supplier_id=pharma.id,
            order_pack_size=100,
            average_cost_cents=2,
        ),
    }
    one(StockPackUnit, {"item_id": items["gloves"].id, "name": "box"}, base_quantity=100)
    for key, (reorder, most) in {
        "gloves": (400, 2000),
        "syringe": (200, 1000),
        "cannula": (40, 150),
        "paracetamol": (1000, 5000),
    }.items():
        one(
            StockLevel,
            {"item_id": items[key].id, "location_id": central.id},
            min_quantity=reorder // 2,
            reorder_point=reorder,
            max_quantity=most,
        )
    one(
        StockLevel,
        {"item_id": items["gloves"].id, "location_id": ward.id},
        min_quantity=50,
        reorder_point=100,
        max_quantity=300,
    )
    session.commit()
    return {
        "central": central.id,
        "ward": ward.id,
        "medsupply": medsupply.id,
        **{key: item.id for key, item in items.items()},
    }


def _page(browser: Browser, base: str, username: str) -> Page:
    context = browser.new_context(base_url=base, viewport={"width": 1366, "height": 900})
    page = context.new_page()
    sign_in(page, username)
    return page


def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.mouse.move(0, 0)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True, animations="disabled")


def test_a_suggested_order_is_approved_by_a_manager_sent_and_received_with_lot_and_expiry(
    browser: Browser, hms_server: Server
):
    from hms_app.clock import local_today

    with server_db(hms_server) as session:
        ensure_storekeeper(session)
        ids = ensure_stores(session)
    keeper = _page(browser, hms_server.url, STOREKEEPER[0])

    # ---------------------------------------------------------------- the suggestion becomes a draft
    keeper.goto("/inventory/orders")
    card = keeper.locator(f"[data-testid='suggestion-{ids['central']}-{ids['medsupply']}']")
    expect(card).to_be_visible()
    expect(card.locator("[data-testid=suggested-GLV-M]")).to_contain_text("2,000 each")
    expect(card.locator("[data-testid=suggested-SYR-10]")).to_contain_text("1,000 each")
    _shot(keeper, "purch-01-suggestions")
    card.locator("[data-testid=create-draft]").click()
    keeper.wait_for_url("**/inventory/orders/*")
    expect(keeper.locator("[data-testid=order-status]")).to_have_text("Draft")
    reference = keeper.locator("[data-testid=order-reference]").inner_text()
    order_url = keeper.url
    expect(keeper.locator("[data-testid=line-CAN-20G]")).to_contain_text("150 each")
    # The storekeeper created it: no approve button for them, only the disabled reminder.
    expect(keeper.locator("[data-testid=approve-order]")).to_have_count(0)

    # ---------------------------------------------------------------- a manager approves
    manager = _page(browser, hms_server.url, "manager")
    manager.goto(order_url)
    manager.locator("[data-testid=approve-order]").click()
    dialog = manager.locator("[data-testid=dialog-approve]")
    expect(dialog).to_contain_text(reference)
    dialog.locator("[data-testid=dialog-submit]").click()
    expect(manager.locator("[data-testid=order-status]")).to_have_text("Approved")
    # The manager approves but does not run the stores: no send or receive buttons.
    expect(manager.locator("[data-testid=send-order]")).to_have_count(0)
    manager.context.close()

    # ---------------------------------------------------------------- sent, then received
    keeper.reload()
    expect(keeper.locator("[data-testid=order-status]")).to_have_text("Approved")
    keeper.locator("[data-testid=send-order]").click()
    keeper.locator("[data-testid=dialog-send] [data-testid=dialog-submit]").click()
    expect(keeper.locator("[data-testid=order-status]")).to_have_text("Sent")
    expected = (local_today() + timedelta(days=5)).strftime("%d %b %Y")
    expect(keeper.locator("[data-testid=order-expected]")).to_have_text(expected)

    keeper.locator("[data-testid=receive-order]").click()
    receive = keeper.locator("[data-testid=dialog-receive]")
    expect(receive).to_be_visible()
    later = (local_today() + timedelta(days=400)).isoformat()
    for code, lot in (("SYR-10", "SY-2291"), ("CAN-20G", "CN-0457")):
        receive.locator(f"[data-testid=receive-lot-{code}]").fill(lot)
        receive.locator(f"[data-testid=receive-expiry-{code}]").fill(later)
    # Only 100 of the cannulas came: the order stays partly received.
    receive.locator("[data-testid=receive-quantity-CAN-20G]").fill("100")
    receive.locator("[data-testid=delivery-note]").fill("DN-88121")
    _shot(keeper, "purch-03-receive-dialog")
    receive.locator("[data-testid=dialog-submit]").click()
    expect(receive).to_be_hidden()
    expect(keeper.locator("[data-testid=order-status]")).to_have_text("Partly received")
    expect(keeper.locator("[data-testid=receipt-row]")).to_have_count(3)
    expect(keeper.locator("[data-testid=receipts-table]")).to_contain_text("SY-2291")
    _shot(keeper, "purch-02-order-detail")

    with server_db(hms_server) as session:
        from hms_app.models.billing import Expense
        from hms_app.models.inventory import PurchaseOrder, StockBalance, StockLot
        from hms_app.services.inventory.balances import balance_mismatches

        order = session.execute(
            select(PurchaseOrder).where(PurchaseOrder.reference == reference)
        ).scalar_one()
        assert (order.status, order.created_by, order.approved_by) == ("partly_received", "stores", "manager")
        held = dict(
            session.execute(
                select(StockLot.lot_number, func.sum(StockBalance.quantity))
                .join(StockLot, StockLot.id == StockBalance.lot_id)
                .where(
                    StockBalance.location_id == ids["central"],
                    # The demo hospital's own stock sits in the same store: count this order's items only.
                    StockBalance.item_id.in_((ids["gloves"], ids["syringe"], ids["cannula"])),
                )
                .group_by(StockLot.lot_number)
            ).all()
        )
        assert held == {"-": 2000, "SY-2291": 1000, "CN-0457": 100}
        assert (
            session.get(
                StockLot,
                session.execute(select(StockLot.id).where(StockLot.lot_number == "SY-2291")).scalar_one(),
            ).expiry_date.isoformat()
            == later
        )
        spent = session.execute(
            select(func.sum(Expense.amount_cents)).where(Expense.description.like(f"{reference}%"))
        ).scalar_one()
        assert spent == 2000 * 9 + 1000 * 18 + 100 * 95
        assert balance_mismatches(session) == []
    keeper.context.close()
