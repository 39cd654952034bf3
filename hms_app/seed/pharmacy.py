"""The pharmacy's demo data: the starting formulary (``pharmacy_formulary``), each product linked
to the inventory item it is dispensed from where the stock catalogue has one. After the inventory
seeder (order 72), whose items it links; a product whose item is missing is loaded unlinked."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlmodel import Session

from hms_app.models.inventory import StockItem
from hms_app.models.pharmacy import FormularyIngredient, FormularyProduct
from hms_app.seed.pharmacy_formulary import PRODUCTS
from hms_app.seed.registry import SeedContext, seeder
from hms_app.services.audit import record_audit
from hms_app.services.permissions import SYSTEM_ACTOR

# A fixed moment, so that the same seed gives the same rows.
LOADED_AT = datetime(2026, 1, 1, tzinfo=UTC)


def load_formulary(session: Session) -> dict[str, int]:
    """Insert the products not yet in the formulary (by code); returns every seeded code's id.
    Links products to stock items by code, also those loaded before their item existed."""
    items = dict(
        session.execute(select(StockItem.code, StockItem.id).where(StockItem.category == "medicine")).all()
    )
    existing = {p.code: p for p in session.execute(select(FormularyProduct)).scalars()}
    for spec in PRODUCTS:
        product = existing.get(spec.code)
        if product is not None:
            if product.stock_item_id is None and spec.stock in items:
                product.stock_item_id = items[spec.stock]
                session.add(product)
            continue
        product = FormularyProduct(
            code=spec.code,
            name=spec.name,
            dose_form=spec.form,
            routes=spec.routes,
            atc=spec.atc or None,
            synonyms=spec.synonyms or None,
            strength_volume=Decimal(spec.volume),
            dispense_unit=spec.dispense,
            package_size=Decimal(spec.package),
            pack_size=spec.pack,
            formulary_status=spec.status,
            restriction=spec.restriction or None,
            stock_item_id=items.get(spec.stock),
            updated_at=LOADED_AT,
            updated_by="system",
            **spec.extra,
        )
        session.add(product)
        session.flush()
        for position, (name, strength, unit) in enumerate(spec.parsed_ingredients()):
            session.add(
                FormularyIngredient(
                    product_id=product.id,
                    ingredient=name,
                    strength=strength,
                    strength_unit=unit,
                    position=position,
                )
            )
        existing[spec.code] = product
    session.flush()
    return {code: existing[code].id for code in (p.code for p in PRODUCTS)}


@seeder("pharmacy_formulary", order=73)
def seed_formulary(ctx: SeedContext) -> None:
    """The starting formulary (after the inventory's stock catalogue, which it links to)."""
    before = len(ctx.session.execute(select(FormularyProduct.id)).all())
    ids = load_formulary(ctx.session)
    if len(ids) != before:
        record_audit(
            ctx.session, SYSTEM_ACTOR, "seed.pharmacy_formulary", detail=f"{len(ids) - before} products"
        )
    ctx.session.commit()
