"""The set-up dialog: one form for a resource, a service or a visit type."""

from __future__ import annotations

import reflex as rx

from hms_app.pages.scheduling.common import general_error, labelled
from hms_app.state.scheduling import ANY, KIND_LABELS, ScheduleSetupState


def setup_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(
                rx.match(
                    ScheduleSetupState.dialog,
                    ("resource", "Resource"),
                    ("service", "Service"),
                    ("type", "Visit type"),
                    "",
                )
            ),
            rx.form(
                rx.vstack(
                    rx.match(
                        ScheduleSetupState.dialog,
                        ("resource", resource_form()),
                        ("service", service_form()),
                        ("type", type_form()),
                        rx.fragment(),
                    ),
                    general_error(
                        ScheduleSetupState,
                        (
                            "kind",
                            "name",
                            "department_id",
                            "capability",
                            "code",
                            "duration_minutes",
                            "mode",
                            "price_code",
                            "needs_equipment",
                        ),
                    ),
                    rx.flex(
                        rx.button(
                            "Cancel",
                            type="button",
                            variant="soft",
                            color_scheme="gray",
                            on_click=ScheduleSetupState.close_dialog,
                        ),
                        rx.button(
                            "Save", type="submit", loading=ScheduleSetupState.saving, data_testid="form-save"
                        ),
                        spacing="3",
                        justify="end",
                        width="100%",
                    ),
                    spacing="3",
                    width="100%",
                ),
                on_submit=ScheduleSetupState.save_dialog,
                reset_on_submit=False,
            ),
            max_width="36rem",
            data_testid="setup-dialog",
        ),
        open=ScheduleSetupState.dialog != "",
        on_open_change=ScheduleSetupState.on_dialog_change,
    )


def resource_form() -> rx.Component:
    return rx.grid(
        labelled(
            "Kind",
            rx.select.root(
                rx.select.trigger(width="100%"),
                rx.select.content(
                    *[rx.select.item(label, value=kind) for kind, label in KIND_LABELS.items()]
                ),
                name="kind",
                default_value=ScheduleSetupState.form["kind"],
            ),
            ScheduleSetupState,
            "kind",
        ),
        name_input(),
        department_select(),
        setup_input(
            "Capability (equipment)", "capability", max_length=30, placeholder="e.g. mri, ct, ultrasound"
        ),
        dialog_checkbox("active", "Active (can be booked)"),
        columns=rx.breakpoints(initial="1", sm="2"),
        spacing="3",
        width="100%",
    )


def service_form() -> rx.Component:
    return rx.grid(
        code_input(),
        name_input(),
        department_select(),
        rx.vstack(
            dialog_checkbox("self_bookable", "Patients can book it online"),
            dialog_checkbox("active", "Active"),
            spacing="2",
            justify="end",
        ),
        setup_input(
            "Youngest age",
            "min_age",
            hint="Whole years; empty for any age",
            max_length=3,
            inputmode="numeric",
            data_testid="form-min-age",
        ),
        setup_input(
            "Oldest age",
            "max_age",
            hint="The portal offers the service only to patients it fits",
            max_length=3,
            inputmode="numeric",
            data_testid="form-max-age",
        ),
        labelled(
            "For",
            rx.select.root(
                rx.select.trigger(width="100%", data_testid="form-for-sex"),
                rx.select.content(
                    rx.select.item("Anyone", value=ANY),
                    rx.select.item("Female patients", value="female"),
                    rx.select.item("Male patients", value="male"),
                ),
                name="for_sex",
                default_value=ScheduleSetupState.form["for_sex"],
            ),
            ScheduleSetupState,
            "for_sex",
        ),
        columns=rx.breakpoints(initial="1", sm="2"),
        spacing="3",
        width="100%",
    )


def type_form() -> rx.Component:
    return rx.vstack(
        rx.text("Service: ", rx.text.strong(ScheduleSetupState.form["service"]), size="2"),
        rx.grid(
            code_input(),
            name_input(),
            labelled(
                "Length (minutes)",
                rx.input(
                    name="duration_minutes",
                    id="duration_minutes",
                    type="number",
                    min="5",
                    max="480",
                    step="5",
                    default_value=ScheduleSetupState.form["duration_minutes"],
                    width="100%",
                    data_testid="form-duration",
                ),
                ScheduleSetupState,
                "duration_minutes",
            ),
            labelled(
                "Mode",
                rx.select.root(
                    rx.select.trigger(width="100%"),
                    rx.select.content(
                        rx.select.item("In person", value="in_person"),
                        rx.select.item("Virtual", value="virtual"),
                    ),
                    name="mode",
                    default_value=ScheduleSetupState.form["mode"],
                ),
                ScheduleSetupState,
                "mode",
            ),
            setup_input("Price code", "price_code", "the billing catalogue code", max_length=30),
            setup_input(
                "Needs equipment",
                "needs_equipment",
                "a capability, or empty",
                max_length=30,
                placeholder="e.g. mri",
            ),
            dialog_checkbox("needs_room", "Needs a room"),
            dialog_checkbox("active", "Active"),
            columns=rx.breakpoints(initial="1", sm="2"),
            spacing="3",
            width="100%",
        ),
        spacing="3",
        width="100%",
    )


def dialog_checkbox(name: str, label: str) -> rx.Component:
    return rx.checkbox(
        label, name=name, default_checked=ScheduleSetupState.form[name] == "on", data_testid="form-" + name
    )


def setup_input(label: str, name: str, hint: str = "", **props) -> rx.Component:
    """A labelled text input bound to the setup dialog's form field `name`."""
    return labelled(
        label,
        rx.input(name=name, id=name, default_value=ScheduleSetupState.form[name], width="100%", **props),
        ScheduleSetupState,
        name,
        hint,
    )


def code_input() -> rx.Component:
    return setup_input("Code", "code", max_length=30, data_testid="form-code")


def name_input() -> rx.Component:
    return setup_input("Name", "name", max_length=120, data_testid="form-name")


def department_select() -> rx.Component:
    return labelled(
        "Department",
        rx.select.root(
            rx.select.trigger(placeholder="Choose", width="100%", data_testid="form-department"),
            rx.select.content(
                rx.foreach(ScheduleSetupState.departments, lambda d: rx.select.item(d.label, value=d.id))
            ),
            name="department_id",
            default_value=ScheduleSetupState.form["department_id"],
        ),
        ScheduleSetupState,
        "department_id",
    )
