"""/schedule/setup: one tab each for resources, services, weekly templates and time off, and the
dialog that edits a resource, a service or a visit type."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, refused
from hms_app.components.shell import staff_page
from hms_app.components.ui import skeleton_rows
from hms_app.pages.scheduling.setup_availability import exceptions_tab, templates_tab
from hms_app.pages.scheduling.setup_catalogue import resources_tab, services_tab
from hms_app.pages.scheduling.setup_dialog import setup_dialog
from hms_app.state.scheduling import ScheduleSetupState


@staff_page(route="/schedule/setup", title="Schedule setup", on_load=ScheduleSetupState.load)
def schedule_setup_page() -> rx.Component:
    return rx.vstack(
        refused("schedule.manage", "Your role does not allow setting up schedules."),
        rx.cond(
            can("schedule.manage"),
            rx.cond(
                ScheduleSetupState.loaded,
                rx.tabs.root(
                    rx.tabs.list(
                        rx.tabs.trigger("Resources", value="resources", data_testid="tab-resources"),
                        rx.tabs.trigger(
                            "Services & visit types", value="services", data_testid="tab-services"
                        ),
                        rx.tabs.trigger("Weekly templates", value="templates", data_testid="tab-templates"),
                        rx.tabs.trigger("Leave & closures", value="exceptions", data_testid="tab-exceptions"),
                    ),
                    rx.tabs.content(resources_tab(), value="resources", padding_top="1rem"),
                    rx.tabs.content(services_tab(), value="services", padding_top="1rem"),
                    rx.tabs.content(templates_tab(), value="templates", padding_top="1rem"),
                    rx.tabs.content(exceptions_tab(), value="exceptions", padding_top="1rem"),
                    value=ScheduleSetupState.tab,
                    on_change=ScheduleSetupState.set_tab,
                    width="100%",
                ),
                skeleton_rows(8),
            ),
        ),
        setup_dialog(),
        spacing="4",
        width="100%",
    )
