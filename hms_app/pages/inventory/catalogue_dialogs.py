"""The catalogue's dialogs: an item, one of its packs, its levels at a store, and a store. Every
field's message shows under the field; a message for no field shows above the buttons."""

from __future__ import annotations

import reflex as rx

from hms_app.pages.inventory.stock_ui import dialog, dialog_buttons, field_message, form_error, labelled
from hms_app.state.inventory.catalogue import CatalogueState as S
from hms_app.state.inventory.catalogue_stores import CatalogueStoresState as T


def _input(name: str, default, errors, *, label: str, hint: str = "", **props) -> rx.Component:
    return labelled(
        label,
        rx.input(name=name, default_value=default, width="100%", data_testid="field-" + name, **props),
        field_message(errors, name),
        hint=hint,
    )


def _check(name: str, checked, label: str, errors) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.checkbox(name=name, default_checked=checked, data_testid="field-" + name),
            rx.text(label, size="2"),
            spacing="2",
            align="center",
        ),
        field_message(errors, name),
        spacing="1",
    )


def _select(name: str, choices, default, errors, *, label: str, none_label: str = "") -> rx.Component:
    items = [rx.select.item(none_label, value="none")] if none_label else []
    return labelled(
        label,
        rx.select.root(
            rx.select.trigger(width="100%", data_testid="field-" + name),
            rx.select.content(*items, rx.foreach(choices, lambda c: rx.select.item(c.label, value=c.value))),
            name=name,
            default_value=default,
        ),
        field_message(errors, name),
    )


def _grid(*children: rx.Component) -> rx.Component:
    return rx.grid(*children, columns=rx.breakpoints(initial="1", xs="2"), spacing="3", width="100%")


def item_dialog() -> rx.Component:
    item, errors = S.editing, S.field_errors
    return dialog(
        rx.cond(item.id > 0, "Edit item", "New item"),
        "Chargeable items are billed at their price code when issued to a patient.",
        rx.form(
            rx.vstack(
                _grid(
                    _input(
                        "code",
                        item.code,
                        errors,
                        label="Code",
                        required=True,
                        max_length=30,
                        placeholder="e.g. SYR-10",
                    ),
                    _select("category", S.categories, item.category, errors, label="Category"),
                ),
                _input("name", item.name, errors, label="Name", required=True, max_length=160),
                _grid(
                    _input(
                        "base_unit",
                        item.unit,
                        errors,
                        label="Counted in",
                        required=True,
                        max_length=20,
                        hint="each, ml, tablet, vial ...",
                    ),
                    _input(
                        "gtin",
                        item.gtin,
                        errors,
                        label="GTIN (optional)",
                        max_length=18,
                        inputmode="numeric",
                        hint="The product number of one unit",
                    ),
                ),
                _grid(
                    _select(
                        "supplier_id",
                        S.suppliers,
                        rx.cond(item.supplier_id != "", item.supplier_id, "none"),
                        errors,
                        label="Supplier",
                        none_label="None",
                    ),
                    _input(
                        "order_pack_size",
                        item.order_pack_size,
                        errors,
                        label="Ordered in packs of",
                        type="number",
                        min=1,
                    ),
                ),
                _grid(
                    _check("chargeable", item.chargeable, "Charge patients for it", errors),
                    _input(
                        "charge_code",
                        item.charge_code,
                        errors,
                        label="Price code",
                        max_length=40,
                        placeholder="e.g. SUP-SYR",
                    ),
                ),
                rx.hstack(
                    _check("track_lots", item.track_lots, "Track lots and expiry", errors),
                    _check("active", item.active, "Stocked", errors),
                    spacing="6",
                ),
                form_error(S.form_error),
                dialog_buttons("Save item", S.on_dialog_change(False), S.saving),
                spacing="3",
                width="100%",
            ),
            on_submit=S.save_item,
            reset_on_submit=False,
            key=item.id.to_string() + item.code,
        ),
        S.dialog == "item",
        S.on_dialog_change,
        "item",
        width="36rem",
    )


def pack_dialog() -> rx.Component:
    pack, errors = S.editing_pack, S.field_errors
    return dialog(
        rx.cond(pack.id > 0, "Edit pack", "New pack"),
        rx.text("A pack ", rx.text.strong(S.opened.name), " comes in; receipts and issues may count in it."),
        rx.form(
            rx.vstack(
                _grid(
                    _input(
                        "name",
                        pack.name,
                        errors,
                        label="Pack",
                        required=True,
                        max_length=20,
                        placeholder="box",
                    ),
                    _input(
                        "base_quantity",
                        pack.base_quantity,
                        errors,
                        label="Holds (" + S.opened.unit + ")",
                        required=True,
                        type="number",
                        min=2,
                    ),
                ),
                _input(
                    "gtin",
                    pack.gtin,
                    errors,
                    label="GTIN of the pack (optional)",
                    max_length=18,
                    inputmode="numeric",
                ),
                form_error(S.form_error),
                dialog_buttons("Save pack", S.on_dialog_change(False), S.saving),
                spacing="3",
                width="100%",
            ),
            on_submit=S.save_pack,
            reset_on_submit=False,
            key="pack-" + pack.id.to_string(),
        ),
        S.dialog == "pack",
        S.on_dialog_change,
        "pack",
    )


def level_dialog() -> rx.Component:
    level, errors = S.editing_level, S.field_errors
    return dialog(
        "Levels at a store",
        rx.text(
            rx.text.strong(S.opened.name),
            ": the low-stock board shows it when the usable stock falls to the reorder point; orders fill up to the maximum.",
        ),
        rx.form(
            rx.vstack(
                _select("location_id", S.stores, level.location_id, errors, label="Store"),
                rx.grid(
                    _input(
                        "min_quantity",
                        level.min_quantity,
                        errors,
                        label="Minimum",
                        type="number",
                        min=0,
                        required=True,
                    ),
                    _input(
                        "reorder_point",
                        level.reorder_point,
                        errors,
                        label="Reorder at",
                        type="number",
                        min=0,
                        required=True,
                    ),
                    _input(
                        "max_quantity",
                        level.max_quantity,
                        errors,
                        label="Maximum",
                        type="number",
                        min=1,
                        required=True,
                    ),
                    columns="3",
                    spacing="3",
                    width="100%",
                ),
                _input(
                    "bin", level.bin, errors, label="Bin (optional)", max_length=20, placeholder="e.g. A-03-2"
                ),
                form_error(S.form_error),
                dialog_buttons("Save levels", S.on_dialog_change(False), S.saving),
                spacing="3",
                width="100%",
            ),
            on_submit=S.save_level,
            reset_on_submit=False,
            key="level-" + level.location_id,
        ),
        S.dialog == "level",
        S.on_dialog_change,
        "level",
    )


def store_dialog() -> rx.Component:
    store, errors = T.editing, T.field_errors
    return dialog(
        rx.cond(store.id > 0, "Edit store", "New store"),
        "Staff of the store's department issue from it (and pharmacists keep theirs); storekeepers work every store.",
        rx.form(
            rx.vstack(
                _grid(
                    _input(
                        "code",
                        store.code,
                        errors,
                        label="Code",
                        required=True,
                        max_length=20,
                        placeholder="e.g. W3-STORE",
                    ),
                    _select("kind", T.kinds, store.kind, errors, label="Kind"),
                ),
                _input("name", store.name, errors, label="Name", required=True, max_length=120),
                _grid(
                    _select(
                        "department_id",
                        T.departments,
                        rx.cond(store.department_id != "", store.department_id, "none"),
                        errors,
                        label="Department",
                        none_label="None (storekeepers only)",
                    ),
                    _select(
                        "ward_id",
                        T.wards,
                        rx.cond(store.ward_id != "", store.ward_id, "none"),
                        errors,
                        label="Ward it serves",
                        none_label="None",
                    ),
                ),
                _check("active", store.active, "Open", errors),
                form_error(T.form_error),
                dialog_buttons("Save store", T.on_dialog_change(False), T.saving),
                spacing="3",
                width="100%",
            ),
            on_submit=T.save,
            reset_on_submit=False,
            key="store-" + store.id.to_string(),
        ),
        T.dialog_open,
        T.on_dialog_change,
        "store",
    )
