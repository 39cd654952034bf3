"""What the equipment screens share: the tabs, badges, tables, form fields and dialogs, and the
register / edit and status dialogs that both the register and the item page open."""

from __future__ import annotations

import reflex as rx

from hms_app.components.ui import scroll_box
from hms_app.state.session import SessionState

WIDE_CELL = ["none", "none", "none", "table-cell"]
STATUS_COLOURS = {
    "in_service": "grass",
    "under_maintenance": "amber",
    "out_of_service": "red",
    "retired": "gray",
}
DUE_COLOURS = {"overdue": "red", "soon": "amber", "later": "gray"}
ORDER_COLOURS = {"open": "blue", "in_progress": "amber", "done": "grass", "cancelled": "gray"}


def _badge(value, label, colours: dict[str, str], test_id: str = "") -> rx.Component:
    extra = {"data_testid": test_id} if test_id else {}
    return rx.match(
        value,
        *[
            (code, rx.badge(label, color_scheme=colour, variant="soft", white_space="nowrap", **extra))
            for code, colour in colours.items()
        ],
        rx.badge(label, variant="outline", white_space="nowrap", **extra),
    )


def status_badge(status, label, test_id: str = "equipment-status") -> rx.Component:
    return _badge(status, label, STATUS_COLOURS, test_id)


def due_badge(tone, words) -> rx.Component:
    return _badge(tone, words, DUE_COLOURS, "due")


def order_badge(status, label) -> rx.Component:
    return _badge(status, label, ORDER_COLOURS, "work-order-status")


def equipment_tabs() -> rx.Component:
    path = SessionState.router.url.path
    items = [
        ("Register", "/equipment", "wrench"),
        ("Maintenance board", "/equipment/board", "calendar-clock"),
    ]
    return rx.flex(
        *[
            rx.link(
                rx.button(rx.icon(icon, size=16), label, variant=rx.cond(path == route, "solid", "soft")),
                href=route,
                data_testid="equipment-tab-" + route.strip("/").replace("/", "-"),
            )
            for label, route, icon in items
        ],
        spacing="2",
        wrap="wrap",
    )


def table(header: list[str], body: rx.Component, test_id: str, wide: tuple[int, ...] = ()) -> rx.Component:
    return scroll_box(
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *[
                        rx.table.column_header_cell(
                            h, display=WIDE_CELL if i in wide else None, white_space="nowrap"
                        )
                        for i, h in enumerate(header)
                    ]
                )
            ),
            rx.table.body(body),
            variant="surface",
            size="2",
            width="100%",
        ),
        data_testid=test_id,
    )


def field_message(errors, name: str) -> rx.Component:
    return rx.cond(
        errors.contains(name),
        rx.flex(
            rx.icon("circle-alert", size=12, flex_shrink="0", margin_top="0.2em"),
            rx.text(errors[name], size="1"),
            spacing="1",
            color=rx.color("red", 11),
            data_testid="error-" + name,
        ),
    )


def _shows(hint) -> bool:
    """A hint to draw: any text but "", or a var (decided in the browser)."""
    return not isinstance(hint, str) or bool(hint)


def labelled(state, label, name: str, control: rx.Component, hint="") -> rx.Component:
    """A field with its label, a hint, and its own message from ``state.field_errors``."""
    return rx.vstack(
        rx.el.label(label, html_for=name, font_size="var(--font-size-2)", font_weight="500"),
        control,
        rx.text(hint, size="1", color_scheme="gray") if _shows(hint) else rx.fragment(),
        field_message(state.field_errors, name),
        spacing="1",
        width="100%",
        align="start",
    )


def text_input(name: str, default, max_length: int = 120, **props) -> rx.Component:
    return rx.input(
        name=name,
        id=name,
        default_value=default,
        max_length=max_length,
        width="100%",
        data_testid="field-" + name,
        **props,
    )


def text_area(name: str, placeholder: str = "", max_length: int = 300, **props) -> rx.Component:
    return rx.text_area(
        name=name,
        id=name,
        placeholder=placeholder,
        max_length=max_length,
        width="100%",
        data_testid="field-" + name,
        **props,
    )


def choice(name: str, options, default, placeholder: str = "", none_label: str = "") -> rx.Component:
    """A select over ``options`` (a list var of Option); ``none_label`` adds a "none" choice."""
    return rx.select.root(
        rx.select.trigger(placeholder=placeholder or "Choose", width="100%", data_testid="field-" + name),
        rx.select.content(
            rx.select.item(none_label, value="none") if none_label else rx.fragment(),
            rx.foreach(options, lambda o: rx.select.item(o.label, value=o.value)),
        ),
        name=name,
        default_value=default,
    )


def form_error(message) -> rx.Component:
    return rx.cond(
        message != "",
        rx.callout(
            message, icon="circle-alert", color_scheme="red", size="1", width="100%", data_testid="form-error"
        ),
    )


def dialog_buttons(state, label: str, color: str = "teal") -> rx.Component:
    return rx.flex(
        rx.button(
            "Cancel",
            type="button",
            variant="soft",
            color_scheme="gray",
            on_click=state.dialog_open_change(False),
        ),
        rx.button(
            label, type="submit", color_scheme=color, loading=state.saving, data_testid="dialog-submit"
        ),
        spacing="3",
        justify="end",
        width="100%",
        padding_top="0.5rem",
    )


def dialog(
    state,
    name: str,
    title,
    description,
    *fields: rx.Component,
    button: str,
    on_submit,
    color: str = "teal",
    max_width: str = "32rem",
) -> rx.Component:
    """A dialog with one form: its fields, the message for no field, Cancel and the action."""
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(title),
            rx.dialog.description(description, size="2", color_scheme="gray", margin_bottom="1rem"),
            rx.form(
                rx.vstack(
                    *fields,
                    form_error(state.form_error),
                    dialog_buttons(state, button, color),
                    spacing="3",
                    width="100%",
                ),
                on_submit=on_submit,
                reset_on_submit=False,
                key=state.form_key,
            ),
            max_width=max_width,
            data_testid="dialog-" + name,
        ),
        open=state.dialog == name,
        on_open_change=state.dialog_open_change,
    )


def equipment_dialog(state) -> rx.Component:
    """Register or edit a piece of equipment (``state`` holds the ``EquipmentDialogs`` mixin)."""
    e = state.editing
    editing = e.id > 0
    grid = {"columns": rx.breakpoints(initial="1", sm="2"), "spacing": "3", "width": "100%"}
    return dialog(
        state,
        "equipment",
        rx.cond(editing, "Edit equipment", "Register equipment"),
        rx.cond(
            editing,
            "Every change is kept in the audit trail with the reason you give.",
            "The item goes on the register in service; plan its maintenance on its page.",
        ),
        rx.grid(
            labelled(
                state,
                "Asset tag",
                "asset_tag",
                text_input("asset_tag", e.asset_tag, 30, required=True, placeholder="e.g. BME-00412"),
            ),
            labelled(
                state,
                "Name",
                "name",
                text_input("name", e.name, 120, required=True, placeholder="e.g. Infusion pump"),
            ),
            labelled(state, "Manufacturer", "manufacturer", text_input("manufacturer", e.manufacturer, 80)),
            labelled(state, "Model", "model", text_input("model", e.model, 80)),
            labelled(
                state, "Serial number", "serial_number", text_input("serial_number", e.serial_number, 60)
            ),
            labelled(
                state,
                "Location",
                "location_id",
                choice("location_id", state.locations, e.location_id, none_label="Not set"),
            ),
            labelled(
                state,
                "Department",
                "department_id",
                choice("department_id", state.departments, e.department_id, none_label="Not set"),
            ),
            labelled(
                state,
                "Bookable as",
                "resource_id",
                choice("resource_id", state.resources, e.resource_id, none_label="Not bookable"),
                hint="A scanner booked in the schedule: not bookable while out of use.",
            ),
            labelled(
                state,
                "Purchase date",
                "purchase_date",
                text_input("purchase_date", e.purchase_date, 10, type="date"),
            ),
            labelled(
                state,
                "Purchase cost",
                "purchase_cost",
                text_input(
                    "purchase_cost", e.purchase_cost, 20, inputmode="decimal", placeholder="e.g. 2450.00"
                ),
            ),
            labelled(
                state,
                "Warranty ends",
                "warranty_end",
                text_input("warranty_end", e.warranty_end, 10, type="date"),
            ),
            **grid,
        ),
        rx.cond(
            editing,
            labelled(
                state,
                "Reason for the change",
                "reason",
                text_area("reason", "e.g. Moved to the ICU; serial number corrected", required=True),
            ),
        ),
        button="Save",
        on_submit=state.save_equipment,
        max_width="40rem",
    )


def status_dialog(state) -> rx.Component:
    return dialog(
        state,
        "status",
        "Change status",
        rx.text(
            rx.text.strong(state.status_subject), ". Retired is final; a scanner out of use cannot be booked."
        ),
        labelled(
            state, "New status", "status", choice("status", state.status_options, "", "Choose a status")
        ),
        labelled(state, "Reason", "reason", text_area("reason", "e.g. Alarm fails self-test", required=True)),
        button="Change status",
        on_submit=state.save_status,
    )
