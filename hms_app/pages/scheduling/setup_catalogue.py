"""The set-up tabs of what can be booked: resources (providers, rooms, equipment) and services with
their visit types and who offers them."""

from __future__ import annotations

import reflex as rx

from hms_app.components.ui import empty_state, scroll_box
from hms_app.pages.scheduling.common import active_badge
from hms_app.state.scheduling import Option, ResourceLine, ScheduleSetupState, ServiceLine, TypeLine


def resources_tab() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text(
                "Providers, rooms and equipment that appointments book. A scanner is booked like a doctor.",
                size="2",
                color_scheme="gray",
            ),
            rx.spacer(),
            rx.button(
                rx.icon("plus", size=16),
                "Add resource",
                on_click=ScheduleSetupState.open_resource(0),
                data_testid="add-resource",
            ),
            width="100%",
            align="center",
            wrap="wrap",
        ),
        rx.cond(
            ScheduleSetupState.resources.length() > 0,
            scroll_box(
                rx.table.root(
                    rx.table.header(
                        rx.table.row(
                            *[
                                rx.table.column_header_cell(h)
                                for h in ("Name", "Kind", "Department", "Capability", "Status", "")
                            ]
                        )
                    ),
                    rx.table.body(rx.foreach(ScheduleSetupState.resources, resource_row)),
                    variant="surface",
                    size="1",
                    width="100%",
                ),
                data_testid="resource-table",
            ),
            empty_state("No resources yet: add the first provider, room or scanner.", icon="box"),
        ),
        spacing="3",
        width="100%",
    )


def resource_row(r: ResourceLine) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(rx.text(r.name, weight="medium")),
        rx.table.cell(r.kind_label),
        rx.table.cell(r.department),
        rx.table.cell(r.capability),
        rx.table.cell(active_badge(r.active)),
        rx.table.cell(
            rx.button(
                "Edit",
                size="1",
                variant="soft",
                on_click=ScheduleSetupState.open_resource(r.id),
                data_testid="edit-resource-" + r.id.to_string(),
            )
        ),
        align="center",
    )


def services_tab() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text(
                "What can be booked, its visit types (length, price code, in person or virtual) and who offers it.",
                size="2",
                color_scheme="gray",
            ),
            rx.spacer(),
            rx.button(
                rx.icon("plus", size=16),
                "Add service",
                on_click=ScheduleSetupState.open_service(0),
                data_testid="add-service",
            ),
            width="100%",
            align="center",
            wrap="wrap",
        ),
        rx.cond(
            ScheduleSetupState.services.length() > 0,
            rx.vstack(rx.foreach(ScheduleSetupState.services, service_card), spacing="3", width="100%"),
            empty_state("No services yet.", icon="clipboard-list"),
        ),
        spacing="3",
        width="100%",
    )


def service_card(service: ServiceLine) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading(service.name, size="3"),
                rx.code(service.code, variant="ghost"),
                rx.text(service.department, size="2", color_scheme="gray"),
                rx.cond(
                    service.self_bookable,
                    rx.badge(rx.icon("globe", size=12), "Patients can book online", color_scheme="teal"),
                ),
                rx.cond(
                    service.eligibility != "",
                    rx.badge(
                        rx.icon("users", size=12),
                        "For patients " + service.eligibility,
                        color_scheme="violet",
                        data_testid="service-eligibility",
                    ),
                ),
                active_badge(service.active),
                rx.spacer(),
                rx.button(
                    "Edit", size="1", variant="soft", on_click=ScheduleSetupState.open_service(service.id)
                ),
                rx.button(
                    rx.icon("plus", size=14),
                    "Visit type",
                    size="1",
                    on_click=ScheduleSetupState.open_type(service.id, 0),
                    data_testid="add-type-" + service.code,
                ),
                align="center",
                wrap="wrap",
                width="100%",
            ),
            rx.cond(
                service.types.length() > 0,
                scroll_box(
                    rx.table.root(
                        rx.table.header(
                            rx.table.row(
                                *[
                                    rx.table.column_header_cell(h)
                                    for h in (
                                        "Visit type",
                                        "Length",
                                        "Mode",
                                        "Price code",
                                        "Needs",
                                        "Status",
                                        "",
                                    )
                                ]
                            )
                        ),
                        rx.table.body(rx.foreach(service.types, type_row)),
                        variant="ghost",
                        size="1",
                        width="100%",
                    )
                ),
                rx.text(
                    "No visit type yet: the service cannot be booked until it has one.",
                    size="2",
                    color=rx.color("amber", 11),
                ),
            ),
            rx.flex(
                rx.text("Offered by:", size="2", weight="medium"),
                rx.foreach(service.linked, lambda r: linked_chip(service, r)),
                rx.cond(
                    service.linked.length() == 0, rx.text("nobody yet", size="2", color=rx.color("amber", 11))
                ),
                rx.select.root(
                    rx.select.trigger(placeholder="Add a resource…", variant="soft", size="1"),
                    rx.select.content(
                        rx.foreach(
                            ScheduleSetupState.resources,
                            lambda r: rx.select.item(r.name, value=r.id.to_string()),
                        )
                    ),
                    value="",
                    on_change=lambda value: ScheduleSetupState.link(service.id, value),
                ),
                spacing="2",
                align="center",
                wrap="wrap",
                width="100%",
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
        data_testid="service-" + service.code,
    )


def type_row(t: TypeLine) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.text(t.name, weight="medium"), rx.text(t.code, size="1", color_scheme="gray")
        ),
        rx.table.cell(t.minutes.to_string(), " min"),
        rx.table.cell(
            rx.cond(
                t.mode == "virtual",
                rx.badge("Virtual", color_scheme="cyan"),
                rx.badge("In person", color_scheme="gray"),
            )
        ),
        rx.table.cell(rx.cond(t.price_code != "", rx.code(t.price_code, variant="ghost"), "—")),
        rx.table.cell(
            rx.cond(t.needs_room, "Room", ""),
            rx.cond(t.needs_room & (t.needs_equipment != ""), " · ", ""),
            rx.cond(t.needs_equipment != "", t.needs_equipment, ""),
            text_transform="capitalize",
        ),
        rx.table.cell(active_badge(t.active)),
        rx.table.cell(
            rx.button(
                "Edit", size="1", variant="soft", on_click=ScheduleSetupState.open_type(t.service_id, t.id)
            )
        ),
        align="center",
    )


def linked_chip(service: ServiceLine, r: Option) -> rx.Component:
    return rx.badge(
        rx.match(
            r.kind,
            ("room", rx.icon("door-closed", size=12)),
            ("equipment", rx.icon("scan", size=12)),
            rx.icon("user-round", size=12),
        ),
        r.label,
        rx.icon_button(
            rx.icon("x", size=10),
            size="1",
            variant="ghost",
            color_scheme="gray",
            on_click=ScheduleSetupState.unlink(service.id, r.id),
            aria_label="Remove",
        ),
        variant="surface",
        color_scheme="gray",
        size="2",
    )
