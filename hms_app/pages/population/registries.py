"""The registries and their ICD-10-CM code sets (/population/registries)."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, refused
from hms_app.components.shell import staff_page
from hms_app.components.ui import count_text, field, section, skeleton_rows
from hms_app.pages.population.common import NO_ACCESS, tabs
from hms_app.state.population.registries import RegistriesState, RegistryLine


def registry_form(r: RegistryLine) -> rx.Component:
    editable = can("population.manage")
    return rx.card(
        rx.form(
            rx.vstack(
                rx.hstack(
                    rx.heading(r.name, size="4"),
                    rx.badge(r.code, variant="soft", color_scheme="gray"),
                    rx.cond(
                        r.active,
                        rx.badge("Active", color_scheme="green"),
                        rx.badge("Inactive", color_scheme="gray"),
                    ),
                    rx.spacer(),
                    rx.text(
                        count_text(r.members, "patient"),
                        size="2",
                        weight="medium",
                        data_testid="registry-members-" + r.code,
                    ),
                    align="center",
                    width="100%",
                    wrap="wrap",
                ),
                rx.el.input(type="hidden", name="registry_id", value=r.id.to_string()),
                field("Name", rx.input(name="name", default_value=r.name, width="100%", disabled=~editable)),
                field(
                    "ICD-10-CM codes or prefixes",
                    rx.text_area(
                        name="prefixes",
                        default_value=r.prefixes,
                        width="100%",
                        rows="2",
                        disabled=~editable,
                        data_testid="registry-prefixes-" + r.code,
                    ),
                    "Separated by commas or spaces. A prefix matches every code under it: E11 matches E11.9 and E11.65.",
                ),
                rx.cond(
                    RegistriesState.error_registry == r.id,
                    rx.callout(
                        RegistriesState.error_text, icon="triangle-alert", color_scheme="red", size="1"
                    ),
                ),
                rx.cond(
                    editable,
                    rx.hstack(
                        rx.checkbox("Active", name="active", default_checked=r.active),
                        rx.spacer(),
                        rx.button(
                            "Save code set",
                            type="submit",
                            loading=RegistriesState.saving,
                            data_testid="registry-save-" + r.code,
                        ),
                        width="100%",
                        align="center",
                    ),
                ),
                spacing="3",
                width="100%",
            ),
            on_submit=RegistriesState.save,
            key=RegistriesState.form_key.to_string() + "-" + r.id.to_string(),
            width="100%",
        ),
        width="100%",
    )


def new_registry_form() -> rx.Component:
    return rx.cond(
        can("population.manage"),
        section(
            "New registry",
            rx.form(
                rx.vstack(
                    rx.el.input(type="hidden", name="registry_id", value="0"),
                    rx.grid(
                        field("Short code", rx.input(name="code", placeholder="e.g. afib", width="100%")),
                        field(
                            "Name",
                            rx.input(name="name", placeholder="e.g. Atrial fibrillation", width="100%"),
                        ),
                        columns=rx.breakpoints(initial="1", sm="2"),
                        spacing="3",
                        width="100%",
                    ),
                    field(
                        "ICD-10-CM codes or prefixes",
                        rx.input(name="prefixes", placeholder="e.g. I48", width="100%"),
                    ),
                    rx.el.input(type="hidden", name="active", value="on"),
                    rx.cond(
                        RegistriesState.error_registry == 0,
                        rx.callout(
                            RegistriesState.error_text, icon="triangle-alert", color_scheme="red", size="1"
                        ),
                    ),
                    rx.button("Create registry", type="submit", loading=RegistriesState.saving),
                    spacing="3",
                    width="100%",
                    align="start",
                ),
                on_submit=RegistriesState.save,
                reset_on_submit=False,
                key="new-" + RegistriesState.form_key.to_string(),
                width="100%",
            ),
        ),
    )


@staff_page(route="/population/registries", title="Registries", on_load=RegistriesState.load)
def registries_page() -> rx.Component:
    return rx.vstack(
        refused("population.read", NO_ACCESS),
        rx.cond(
            can("population.read"),
            rx.vstack(
                tabs("/population/registries"),
                rx.text(
                    "A registry holds every active patient with an active problem whose ICD-10-CM code starts "
                    "with one of its codes. Saving recomputes the registry's members at once.",
                    size="2",
                    color_scheme="gray",
                ),
                rx.cond(
                    RegistriesState.loaded,
                    rx.grid(
                        rx.foreach(RegistriesState.rows, registry_form),
                        columns=rx.breakpoints(initial="1", lg="2"),
                        spacing="4",
                        width="100%",
                    ),
                    skeleton_rows(4),
                ),
                new_registry_form(),
                spacing="4",
                width="100%",
            ),
        ),
        width="100%",
    )
