"""The formulary: searching it (by name, code, ingredient or brand), reading one product, and
saving one with its ingredients (``pharmacy.formulary``).

Decisions written down:

* an ingredient is named by the generic name the bundled medication knowledge knows (``warfarin``,
  ``acetaminophen``), because the order checks look it up by that name; saving a product with a
  name the knowledge does not know is refused with the knowledge's own message; brand and local
  names (``Panadol``, ``paracetamol``) go in the synonyms, which the search also reads;
* a restricted product needs the restriction in words (who may order it, for what); the table's
  CHECK constraint stands behind the service;
* the stock item a product is dispensed from must be a medicine of the inventory catalogue.
"""

from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlmodel import Session

from hms_app.clock import utcnow
from hms_app.errors import InvalidFields, ValidationError
from hms_app.models.inventory import StockItem
from hms_app.models.pharmacy import FORMS, FORMULARY_STATUSES, ROUTES, FormularyIngredient, FormularyProduct
from hms_app.services.permissions import Actor, authorize
from hms_app.services.pharmacy.common import (
    FORMULARY,
    READ,
    actor_name,
    as_id,
    audit_rx,
    clean_text,
    get_product,
    ingredients_of,
    parse_count,
    parse_decimal,
    routes_of,
    spec_of,
)
from hms_app.services.pharmacy.quantity import dose_units
from hms_app.services.pharmacy.rows import IngredientView, ProductView

CODE = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,29}$")
RXCUI = re.compile(r"^[0-9]{1,12}$")
ATC = re.compile(r"^[A-Z][0-9]{2}[A-Z]{0,2}[0-9]{0,2}$")
STRENGTH_UNITS = ("mg", "mcg", "g", "unit", "mmol", "%", "mcg/h", "mg/24h")
MAX_INGREDIENTS = 5
SEARCH_LIMIT = 50


def may_read_formulary(actor: Actor) -> None:
    """Prescribers, nurses and pharmacists read the formulary; formulary editors too."""
    if actor is not None and actor.can(FORMULARY):
        authorize(actor, FORMULARY)
    else:
        authorize(actor, READ)


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def product_view(session: Session, product: FormularyProduct) -> ProductView:
    ingredients = ingredients_of(session, product.id)
    stock_code = (
        session.execute(
            select(StockItem.code).where(StockItem.id == product.stock_item_id)
        ).scalar_one_or_none()
        if product.stock_item_id
        else None
    )
    spec = spec_of(product, ingredients) if ingredients else None
    return ProductView(
        id=product.id,
        code=product.code,
        name=product.name,
        dose_form=product.dose_form,
        form_label=FORMS[product.dose_form][0],
        routes=tuple(routes_of(product)),
        ingredients=tuple(
            IngredientView(i.ingredient, Decimal(i.strength), i.strength_unit) for i in ingredients
        ),
        strength_volume=Decimal(product.strength_volume),
        counting_unit=FORMS[product.dose_form][1],
        dose_units=tuple(dose_units(spec)) if spec else (),
        dispense_unit=product.dispense_unit,
        package_size=Decimal(product.package_size),
        pack_size=product.pack_size,
        rxcui=product.rxcui,
        atc=product.atc,
        synonyms=tuple(s for s in (product.synonyms or "").split("|") if s),
        formulary_status=product.formulary_status,
        restriction=product.restriction,
        stock_item_id=product.stock_item_id,
        stock_code=stock_code,
        active=product.active,
        scored=product.scored,
        priming_units=product.priming_units,
        wear_hours=product.wear_hours,
        drops_per_ml=product.drops_per_ml,
    )


def search_formulary(
    session: Session, *, actor: Actor, query: str = "", include_inactive: bool = False, limit: int = 20
) -> list[ProductView]:
    """Products whose name, code, synonym (brand) or ingredient contains ``query``, by name."""
    may_read_formulary(actor)
    text = clean_text(query, field="query", label="Search", maximum=80).lower()
    statement = select(FormularyProduct).order_by(FormularyProduct.name, FormularyProduct.id)
    if text:
        pattern = _like(text)
        by_ingredient = select(FormularyIngredient.product_id).where(
            func.lower(FormularyIngredient.ingredient).like(pattern, escape="\\")
        )
        statement = statement.where(
            or_(
                func.lower(FormularyProduct.name).like(pattern, escape="\\"),
                func.lower(FormularyProduct.code).like(pattern, escape="\\"),
                func.lower(func.coalesce(FormularyProduct.synonyms, "")).like(pattern, escape="\\"),
                FormularyProduct.id.in_(by_ingredient),
            )
        )
    if not include_inactive:
        statement = statement.where(FormularyProduct.active.is_(True))
    rows = session.execute(statement.limit(max(1, min(int(limit), SEARCH_LIMIT)))).scalars().all()
    return [product_view(session, row) for row in rows]


def get_formulary_product(session: Session, *, actor: Actor, product_id: int) -> ProductView:
    may_read_formulary(actor)
    return product_view(session, get_product(session, product_id))


def _known_ingredient(name: str) -> None:
    from hms_app.cds import medications as kb  # the bundled knowledge, loaded once per process

    if kb.knowledge().ingredient(name) is None:
        raise ValidationError(
            f"Unknown ingredient '{name}': use the generic name (for example 'acetaminophen').",
            field="ingredients",
        )


def _ingredients(raw) -> list[tuple[str, Decimal, str]]:
    if not isinstance(raw, list | tuple) or not raw:
        raise ValidationError("Add at least one active ingredient with its strength.", field="ingredients")
    if len(raw) > MAX_INGREDIENTS:
        raise ValidationError(f"A product has at most {MAX_INGREDIENTS} ingredients.", field="ingredients")
    seen, result = set(), []
    for entry in raw:
        entry = entry if isinstance(entry, dict) else {}
        name = clean_text(
            entry.get("ingredient"), field="ingredients", label="Ingredient", maximum=80
        ).lower()
        if not name:
            raise ValidationError("Name every ingredient.", field="ingredients")
        if name in seen:
            raise ValidationError(f"{name} is listed twice.", field="ingredients")
        seen.add(name)
        strength = parse_decimal(entry.get("strength"), field="ingredients", label=f"The strength of {name}")
        unit = str(entry.get("strength_unit") or "").strip()
        if unit not in STRENGTH_UNITS:
            raise ValidationError(
                f"Choose the strength unit of {name} ({', '.join(STRENGTH_UNITS)}).", field="ingredients"
            )
        _known_ingredient(name)
        result.append((name, strength, unit))
    return result


def _product_fields(session: Session, data: dict, product_id: int | None) -> dict:
    """Every field of the product form checked at once (InvalidFields lists each message)."""
    errors: dict[str, str] = {}
    values: dict = {}

    def check(field: str, fn):
        try:
            values[field] = fn()
        except ValidationError as error:
            errors.setdefault(error.field or field, str(error))

    def code():
        text = str(data.get("code") or "").strip().upper()
        if not CODE.match(text):
            raise ValidationError("The code is 2 to 30 capital letters, digits and dashes.", field="code")
        taken = session.execute(select(FormularyProduct.id).where(FormularyProduct.code == text)).scalar()
        if taken is not None and taken != product_id:
            raise ValidationError(f"Another product already has the code {text}.", field="code")
        return text

    def form():
        value = str(data.get("dose_form") or "").strip()
        if value not in FORMS:
            raise ValidationError("Choose the dose form.", field="dose_form")
        return value

    def routes():
        raw = data.get("routes") or []
        names = [r.strip() for r in (raw.split("|") if isinstance(raw, str) else raw) if str(r).strip()]
        if not names or any(r not in ROUTES for r in names):
            raise ValidationError("Choose at least one route from the list.", field="routes")
        return "|".join(dict.fromkeys(names))

    def coded(field: str, pattern: re.Pattern, label: str):
        text = str(data.get(field) or "").strip().upper()
        parts = [p for p in text.split("|") if p]
        if any(not pattern.match(p) for p in parts):
            raise ValidationError(f"That is not a valid {label}.", field=field)
        return "|".join(parts) or None

    def synonyms():
        raw = data.get("synonyms") or []
        names = [" ".join(str(s).split()) for s in (raw.split("|") if isinstance(raw, str) else raw)]
        text = "|".join(dict.fromkeys(n for n in names if n))
        if len(text) > 300:
            raise ValidationError("The synonyms can be at most 300 characters in all.", field="synonyms")
        return text or None

    def status():
        value = str(data.get("formulary_status") or "formulary").strip()
        if value not in FORMULARY_STATUSES:
            raise ValidationError(
                "Choose on formulary, restricted or non-formulary.", field="formulary_status"
            )
        return value

    def stock_item():
        raw = data.get("stock_item_id")
        if raw in (None, ""):
            return None
        item = session.get(StockItem, as_id(raw, field="stock_item_id", label="stock item"))
        if item is None or item.category != "medicine":
            raise ValidationError("Choose a medicine from the stock catalogue.", field="stock_item_id")
        return item.id

    check("code", code)
    check(
        "name", lambda: clean_text(data.get("name"), field="name", label="Name", maximum=160, required=True)
    )
    check("dose_form", form)
    check("routes", routes)
    check("rxcui", lambda: coded("rxcui", RXCUI, "RxNorm CUI"))
    check("atc", lambda: coded("atc", ATC, "ATC code"))
    check("synonyms", synonyms)
    check(
        "strength_volume",
        lambda: parse_decimal(
            data.get("strength_volume") or "1", field="strength_volume", label="Volume", places=3
        ),
    )
    check(
        "dispense_unit",
        lambda: clean_text(
            data.get("dispense_unit"), field="dispense_unit", label="Dispense unit", maximum=20, required=True
        ).lower(),
    )
    check(
        "package_size",
        lambda: parse_decimal(
            data.get("package_size") or "1", field="package_size", label="Package size", places=3
        ),
    )
    check(
        "pack_size",
        lambda: parse_count(data.get("pack_size") or 1, field="pack_size", label="Pack", maximum=10000),
    )
    check("formulary_status", status)
    check(
        "restriction",
        lambda: (
            clean_text(data.get("restriction"), field="restriction", label="Restriction", maximum=300) or None
        ),
    )
    check("stock_item_id", stock_item)
    check("ingredients", lambda: _ingredients(data.get("ingredients")))
    form_value = values.get("dose_form")
    if form_value == "patch":
        check(
            "wear_hours",
            lambda: parse_count(data.get("wear_hours"), field="wear_hours", label="Wear time", maximum=168),
        )
    if form_value == "insulin_pen":
        check(
            "priming_units",
            lambda: parse_count(
                data.get("priming_units") or 2, field="priming_units", label="Priming", maximum=10
            ),
        )
    if form_value == "eye_drops":
        check(
            "drops_per_ml",
            lambda: parse_count(
                data.get("drops_per_ml") or 20, field="drops_per_ml", label="Drops a mL", maximum=60
            ),
        )
    if values.get("formulary_status") == "restricted" and not values.get("restriction"):
        errors.setdefault(
            "restriction", "A restricted product needs the restriction: who may order it, for what."
        )
    if errors:
        raise InvalidFields(errors)
    if values.get("formulary_status") != "restricted":
        values["restriction"] = None
    values["scored"] = bool(data.get("scored")) and form_value == "tablet"
    values.setdefault("wear_hours", None)
    values.setdefault("priming_units", 0)
    values.setdefault("drops_per_ml", None)
    return values


def save_product(session: Session, *, actor: Actor, data: dict, product_id: int | None = None) -> ProductView:
    """Add a product to the formulary, or change one (``pharmacy.formulary``); every field is
    checked and the messages come back together."""
    authorize(actor, FORMULARY)
    product = get_product(session, product_id) if product_id is not None else FormularyProduct()
    values = _product_fields(session, data or {}, product.id)
    ingredients = values.pop("ingredients")
    before = product.formulary_status if product.id else None
    for name, value in values.items():
        setattr(product, name, value)
    if "active" in (data or {}):
        product.active = bool(data["active"])
    product.updated_at, product.updated_by = utcnow(), actor_name(actor)
    session.add(product)
    session.flush()
    for old in ingredients_of(session, product.id):
        session.delete(old)
    session.flush()
    for position, (name, strength, unit) in enumerate(ingredients):
        session.add(
            FormularyIngredient(
                product_id=product.id,
                ingredient=name,
                strength=strength,
                strength_unit=unit,
                position=position,
            )
        )
    session.flush()
    detail = f"{product.code} {product.name}: {product.formulary_status}"
    if before and before != product.formulary_status:
        detail += f" (was {before})"
    if product.restriction:
        detail += f"; {product.restriction}"
    audit_rx(
        session,
        actor,
        "formulary.save",
        patient_id=None,
        target_type="formulary_product",
        target_id=product.id,
        detail=detail,
    )
    session.commit()
    return product_view(session, product)
