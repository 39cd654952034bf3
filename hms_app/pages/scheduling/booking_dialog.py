"""The staff booking dialog: patient, service, visit type, who and which day, then a free time (or
the waitlist), optionally repeated as a series."""

from __future__ import annotations

import reflex as rx

from hms_app.pages.scheduling.common import field_error, general_error, labelled, option_select
from hms_app.state.scheduling import BookingState, PatientPick, SlotLine


def booking_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Book an appointment"),
            rx.dialog.description(
                "Choose the patient, the visit and one of the free times.",
                size="2",
                color_scheme="gray",
                margin_bottom="0.75rem",
            ),
            rx.vstack(
                labelled("Patient", patient_picker(), BookingState, "patient_id"),
                rx.grid(
                    labelled(
                        "Service",
                        rx.select.root(
                            rx.select.trigger(
                                placeholder="Choose the service", data_testid="booking-service", width="100%"
                            ),
                            rx.select.content(
                                rx.foreach(
                                    BookingState.services, lambda sv: rx.select.item(sv.name, value=sv.id)
                                )
                            ),
                            value=BookingState.service_id,
                            on_change=BookingState.set_service,
                        ),
                        BookingState,
                        "service_id",
                    ),
                    labelled(
                        "Visit type",
                        rx.select.root(
                            rx.select.trigger(
                                placeholder="Choose the visit type", data_testid="booking-type", width="100%"
                            ),
                            rx.select.content(
                                rx.foreach(
                                    BookingState.type_choices, lambda t: rx.select.item(t.label, value=t.id)
                                )
                            ),
                            value=BookingState.type_id,
                            on_change=BookingState.set_type,
                        ),
                        BookingState,
                        "appointment_type_id",
                    ),
                    labelled(
                        "With",
                        option_select(
                            BookingState.resource_options,
                            BookingState.resource_id,
                            BookingState.set_booking_resource,
                            "Any",
                            "booking-resource",
                            any_label="Anyone free",
                            width="100%",
                        ),
                        BookingState,
                        "resource_id",
                    ),
                    labelled(
                        "Day",
                        rx.hstack(
                            rx.icon_button(
                                rx.icon("chevron-left", size=16),
                                variant="soft",
                                on_click=BookingState.booking_day_step(-1),
                                aria_label="Previous day",
                            ),
                            rx.input(
                                type="date",
                                value=BookingState.day,
                                on_change=BookingState.set_booking_day,
                                data_testid="booking-day",
                                flex="1",
                            ),
                            rx.icon_button(
                                rx.icon("chevron-right", size=16),
                                variant="soft",
                                on_click=BookingState.booking_day_step(1),
                                aria_label="Next day",
                                data_testid="booking-next-day",
                            ),
                            spacing="2",
                            width="100%",
                        ),
                        BookingState,
                        "day",
                    ),
                    columns=rx.breakpoints(initial="1", sm="2"),
                    spacing="3",
                    width="100%",
                ),
                labelled("Free times", slot_list(), BookingState, "start_at"),
                repeat_fields(),
                general_error(
                    BookingState,
                    (
                        "patient_id",
                        "service_id",
                        "appointment_type_id",
                        "resource_id",
                        "day",
                        "start_at",
                        "count",
                        "every_days",
                    ),
                ),
                rx.flex(
                    rx.button("Cancel", variant="soft", color_scheme="gray", on_click=BookingState.close),
                    rx.button(
                        rx.icon("calendar-check", size=16),
                        rx.cond(BookingState.repeat, "Book the series", "Book"),
                        on_click=BookingState.book,
                        loading=BookingState.saving,
                        disabled=(BookingState.patient_id == 0) | (BookingState.slot_key == ""),
                        data_testid="booking-submit",
                    ),
                    spacing="3",
                    justify="end",
                    width="100%",
                ),
                spacing="3",
                width="100%",
            ),
            max_width="44rem",
            data_testid="booking-dialog",
        ),
        open=BookingState.open,
        on_open_change=BookingState.on_open_change,
    )


def patient_picker() -> rx.Component:
    return rx.cond(
        BookingState.patient_id > 0,
        rx.hstack(
            rx.icon("user-round-check", size=18, color=rx.color("green", 10)),
            rx.text(BookingState.patient_label, size="2", weight="medium", data_testid="chosen-patient"),
            rx.spacer(),
            rx.button("Change", variant="ghost", size="1", on_click=BookingState.clear_patient),
            align="center",
            width="100%",
            padding="0.5rem",
            border=f"1px solid {rx.color('green', 6)}",
            border_radius="var(--radius-3)",
            background=rx.color("green", 2),
        ),
        rx.vstack(
            rx.input(
                rx.input.slot(rx.icon("search", size=16)),
                placeholder="Name, MRN, phone or date of birth",
                value=BookingState.patient_query,
                on_change=BookingState.set_patient_query,
                debounce_timeout=300,
                max_length=100,
                width="100%",
                id="patient_id",
                data_testid="booking-patient-search",
            ),
            rx.cond(
                BookingState.patient_hits.length() > 0,
                rx.vstack(
                    rx.foreach(BookingState.patient_hits, patient_hit),
                    spacing="1",
                    width="100%",
                    max_height="12rem",
                    overflow_y="auto",
                ),
                rx.cond(
                    BookingState.patient_query.length() >= 2,
                    rx.text("No active patient matches.", size="1", color_scheme="gray"),
                ),
            ),
            spacing="1",
            width="100%",
        ),
    )


def patient_hit(p: PatientPick) -> rx.Component:
    return rx.button(
        rx.hstack(
            rx.text(p.name, weight="medium", size="2"),
            rx.code(p.mrn, variant="ghost", size="1"),
            rx.spacer(),
            rx.text("born ", p.born, size="1", color_scheme="gray"),
            width="100%",
            align="center",
        ),
        variant="ghost",
        width="100%",
        justify="start",
        on_click=BookingState.pick_patient(p.id),
        data_testid="patient-hit-" + p.mrn,
    )


def slot_list() -> rx.Component:
    return rx.cond(
        BookingState.searched,
        rx.cond(
            BookingState.slots.length() > 0,
            rx.box(
                rx.grid(
                    rx.foreach(BookingState.slots, booking_slot),
                    columns=rx.breakpoints(initial="2", sm="4"),
                    spacing="2",
                    width="100%",
                ),
                max_height="15rem",
                overflow_y="auto",
                width="100%",
                padding="2px",
                data_testid="booking-slots",
            ),
            rx.vstack(
                rx.text(
                    "No free time on this day for this visit type.",
                    size="2",
                    color_scheme="gray",
                    data_testid="booking-none",
                ),
                rx.hstack(
                    rx.button(
                        "Next day", variant="soft", size="1", on_click=BookingState.booking_day_step(1)
                    ),
                    rx.button(
                        rx.icon("list-plus", size=14),
                        "Add to the waitlist for this day",
                        variant="soft",
                        size="1",
                        color_scheme="amber",
                        on_click=BookingState.add_to_waitlist,
                        data_testid="waitlist-add",
                    ),
                    spacing="2",
                    wrap="wrap",
                ),
                rx.cond(
                    BookingState.waitlisted != "",
                    rx.callout(BookingState.waitlisted, icon="list-checks", color_scheme="green", size="1"),
                ),
                spacing="2",
                width="100%",
            ),
        ),
        rx.text("Choose the service and visit type to see the free times.", size="2", color_scheme="gray"),
    )


def booking_slot(slot: SlotLine) -> rx.Component:
    chosen = BookingState.slot_key == slot.key
    return rx.button(
        rx.vstack(
            rx.text(slot.time, weight="bold", size="2"),
            rx.text(
                slot.resources,
                size="1",
                white_space="nowrap",
                overflow="hidden",
                text_overflow="ellipsis",
                max_width="8.5rem",
            ),
            spacing="0",
            align="start",
        ),
        variant=rx.cond(chosen, "solid", "surface"),
        height="auto",
        padding_y="0.35rem",
        on_click=BookingState.pick_slot(slot.key),
        data_testid="slot-" + slot.time,
        data_chosen=rx.cond(chosen, "true", "false"),
    )


def repeat_fields() -> rx.Component:
    return rx.vstack(
        rx.checkbox(
            "Repeat (a series of visits at the same time)",
            checked=BookingState.repeat,
            on_change=BookingState.set_repeat,
            data_testid="repeat",
        ),
        rx.cond(
            BookingState.repeat,
            rx.hstack(
                rx.text("every", size="2"),
                rx.input(
                    type="number",
                    min="1",
                    max="91",
                    value=BookingState.every_days,
                    on_change=BookingState.set_every_days,
                    debounce_timeout=300,
                    width="4.5rem",
                    aria_label="Repeat every how many days",
                    data_testid="repeat-every",
                ),
                rx.text("days (7: weekly),", size="2"),
                rx.input(
                    type="number",
                    min="2",
                    max="52",
                    value=BookingState.count,
                    on_change=BookingState.set_count,
                    debounce_timeout=300,
                    width="4.5rem",
                    aria_label="Number of visits",
                    data_testid="repeat-count",
                ),
                rx.text("visits", size="2"),
                align="center",
                spacing="2",
                wrap="wrap",
            ),
        ),
        field_error(BookingState, "count"),
        field_error(BookingState, "every_days"),
        spacing="2",
        width="100%",
    )
