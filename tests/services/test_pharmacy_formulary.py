"""The formulary as a pharmacist keeps it: the seeded products (every dose form, linked to the
stock items the inventory catalogue has, every ingredient known to the medication knowledge),
searched by name, brand or ingredient, and saved only with every field right."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from hms_app.errors import Forbidden, InvalidFields
from hms_app.models.inventory import StockItem
from hms_app.models.pharmacy import FORMS, FormularyIngredient, FormularyProduct
from hms_app.models.security import AuditEvent
from hms_app.seed.pharmacy import load_formulary
from hms_app.seed.pharmacy_formulary import PRODUCTS
from hms_app.services.pharmacy.common import ingredients_of, spec_of
from hms_app.services.pharmacy.formulary import get_formulary_product, save_product, search_formulary
from hms_app.services.pharmacy.quantity import dose_units
from tests.services.pharmacy_world import build_rx_world, engine  # noqa: F401 - the fixture


@pytest.fixture
def world(session, engine):  # noqa: F811
    return build_rx_world(session)


def new_product(**fields) -> dict:
    data = {
        "code": "RX-NAPROX-500-TAB",
        "name": "Naproxen 500 mg tablet",
        "dose_form": "tablet",
        "routes": ["oral"],
        "dispense_unit": "tablet",
        "pack_size": "28",
        "atc": "M01AE02",
        "synonyms": "Naprosyn| Aleve ",
        "ingredients": [{"ingredient": "Naproxen", "strength": "500", "strength_unit": "mg"}],
    }
    data.update(fields)
    return data


def test_the_seeded_formulary_covers_every_form_and_each_product_can_be_dosed(session):
    ids = load_formulary(session)
    assert len(ids) == len(PRODUCTS) >= 60
    assert load_formulary(session) == ids  # a second run adds nothing
    products = session.execute(select(FormularyProduct)).scalars().all()
    assert {p.dose_form for p in products} == set(FORMS)
    assert {p.formulary_status for p in products} == {"formulary", "restricted", "non_formulary"}
    for product in products:
        ingredients = ingredients_of(session, product.id)
        assert ingredients, product.code
        assert dose_units(spec_of(product, ingredients)), product.code
        if product.formulary_status == "restricted":
            assert product.restriction, product.code
    cotrim = session.execute(
        select(FormularyProduct).where(FormularyProduct.code == "RX-COTRIM-960-TAB")
    ).scalar_one()
    assert [(i.ingredient, i.strength) for i in ingredients_of(session, cotrim.id)] == [
        ("sulfamethoxazole", Decimal(800)),
        ("trimethoprim", Decimal(160)),
    ]


def test_products_link_the_inventory_items_they_are_dispensed_from_even_when_loaded_first(session):
    load_formulary(session)
    session.add(
        StockItem(
            code="MED-AMOX-500", name="Amoxicillin 500 mg capsule", category="medicine", base_unit="capsule"
        )
    )
    session.commit()
    load_formulary(session)
    amox = session.execute(
        select(FormularyProduct).where(FormularyProduct.code == "RX-AMOX-500-CAP")
    ).scalar_one()
    item = session.execute(select(StockItem).where(StockItem.code == "MED-AMOX-500")).scalar_one()
    assert amox.stock_item_id == item.id
    stocked = {p.stock for p in PRODUCTS if p.stock}
    assert len(stocked) >= 15  # the inventory seed's medicines that have a formulary product


def test_every_formulary_ingredient_is_known_to_the_medication_knowledge():
    from hms_app.cds.medications import knowledge as bundled_knowledge

    knowledge = bundled_knowledge()
    unknown = sorted(
        {
            name
            for p in PRODUCTS
            for name, _s, _u in p.parsed_ingredients()
            if knowledge.ingredient(name) is None
        }
    )
    assert unknown == []


def test_search_finds_by_name_code_brand_and_ingredient(session, world):
    by = lambda text: [p.code for p in search_formulary(session, actor=world.nurse, query=text)]  # noqa: E731
    assert "RX-APAP-500-TAB" in by("Tylenol")
    assert "RX-APAP-500-TAB" in by("acetaminophen")
    assert by("ventolin") == ["RX-SALB-100-INH", "RX-SALB-2.5-NEB"]  # by name
    assert "RX-COCOD-30-TAB" in by("codeine")
    assert by("100%") == []  # a wildcard typed is a character
    found = get_formulary_product(session, actor=world.physician, product_id=world.product("RX-GLARG-PEN"))
    assert (found.counting_unit, found.dose_units, found.package_size, found.priming_units) == (
        "unit",
        ("unit",),
        300,
        2,
    )
    with pytest.raises(Forbidden):
        search_formulary(session, actor=world.receptionist, query="warfarin")


def test_saving_a_product_checks_every_field_and_a_restriction_needs_its_reason(session, world):
    with pytest.raises(Forbidden):
        save_product(session, actor=world.physician, data=new_product())
    with pytest.raises(InvalidFields) as error:
        save_product(
            session,
            actor=world.pharmacist,
            data=new_product(
                code="rx amox",
                dose_form="lozenge",
                routes=["nasal"],
                atc="XYZ",
                formulary_status="restricted",
                ingredients=[{"ingredient": "unobtainium", "strength": "5", "strength_unit": "mg"}],
            ),
        )
    assert error.value.errors == {
        "code": "The code is 2 to 30 capital letters, digits and dashes.",
        "dose_form": "Choose the dose form.",
        "routes": "Choose at least one route from the list.",
        "atc": "That is not a valid ATC code.",
        "ingredients": "Unknown ingredient 'unobtainium': use the generic name (for example 'acetaminophen').",
        "restriction": "A restricted product needs the restriction: who may order it, for what.",
    }
    with pytest.raises(InvalidFields) as error:
        save_product(
            session, actor=world.pharmacist, data=new_product(code="RX-WARF-5-TAB", stock_item_id=99999)
        )
    assert error.value.errors == {
        "code": "Another product already has the code RX-WARF-5-TAB.",
        "stock_item_id": "Choose a medicine from the stock catalogue.",
    }
    saved = save_product(session, actor=world.pharmacist, data=new_product())
    assert (saved.synonyms, saved.ingredients[0].ingredient) == (("Naprosyn", "Aleve"), "naproxen")
    changed = save_product(
        session,
        actor=world.pharmacist,
        product_id=saved.id,
        data=new_product(formulary_status="restricted", restriction="Rheumatology only"),
    )
    assert (changed.formulary_status, changed.restriction) == ("restricted", "Rheumatology only")
    assert (
        session.execute(
            select(func.count(FormularyIngredient.id)).where(FormularyIngredient.product_id == saved.id)
        ).scalar_one()
        == 1
    )
    details = (
        session.execute(
            select(AuditEvent.detail).where(AuditEvent.action == "formulary.save").order_by(AuditEvent.id)
        )
        .scalars()
        .all()
    )
    assert (
        details[-1]
        == "RX-NAPROX-500-TAB Naproxen 500 mg tablet: restricted (was formulary); Rheumatology only"
    )


def test_the_seed_registry_loads_the_formulary_after_the_stock_catalogue_and_links_it(session):
    from hms_app.seed.registry import run_seeders

    only = ["departments", "staff", "billing_catalogue", "inventory", "pharmacy_formulary"]
    run_seeders(session, patients=5, seed=7, only=only, stock_days=30)
    linked = dict(
        session.execute(
            select(FormularyProduct.code, StockItem.code).join(
                StockItem, StockItem.id == FormularyProduct.stock_item_id
            )
        ).all()
    )
    assert linked == {p.code: p.stock for p in PRODUCTS if p.stock}
    assert session.execute(select(func.count(FormularyProduct.id))).scalar_one() == len(PRODUCTS)
