"""/portal/book: the booking steps, one screen each: service, provider, day, time, confirm, and
the reference once booked (or moved).

Phone-first: every step works at 390 px wide (one column, no sideways scrolling, buttons at
least 44 px tall) and spreads out on larger screens.
"""

from __future__ import annotations

import reflex as rx

from hms_app.components.portal_shell import portal_page
from hms_app.components.ui import count_text, empty_state
from hms_app.pages.portal.parts import loading_list
from hms_app.state.portal.booking import PortalBookingState

STEP_TITLES = {
    "service": "What would you like to book?",
    "provider": "Who would you like to see?",
    "day": "Choose a day",
    "slot": "Choose a time",
    "confirm": "Check and confirm",
    "done": "You are booked",
}
STEP_NUMBERS = {"service": "1", "provider": "2", "day": "3", "slot": "4", "confirm": "5"}


@portal_page(route="/portal/book", title="Book", on_load=PortalBookingState.load, max_width="40rem")
def book_page() -> rx.Component:
    return rx.fragment(
        step_header(),
        rx.cond(
            PortalBookingState.loading,
            loading_list(),
            rx.match(
                PortalBookingState.step,
                ("service", service_step()),
                ("provider", provider_step()),
                ("day", day_step()),
                ("slot", slot_step()),
                ("confirm", confirm_step()),
                ("done", done_step()),
                service_step(),
            ),
        ),
    )


def step_header() -> rx.Component:
    return rx.vstack(
        rx.cond(
            (PortalBookingState.move_id > 0) & (PortalBookingState.step != "done"),
            rx.callout(
                rx.text(
                    "Moving appointment ",
                    rx.code(PortalBookingState.move_reference),
                    " (now ",
                    PortalBookingState.move_from,
                    "). Choose the new time; the old one is released when you confirm.",
                ),
                icon="calendar-sync",
                color_scheme="blue",
                width="100%",
                data_testid="move-banner",
            ),
        ),
        rx.cond(
            (PortalBookingState.invite_id > 0) & (PortalBookingState.step != "done"),
            rx.callout(
                rx.text(
                    "Your care team invited you to book ",
                    rx.text.strong(PortalBookingState.invite_label),
                    ".",
                ),
                icon="calendar-plus",
                color_scheme="teal",
                width="100%",
                data_testid="invite-banner",
            ),
        ),
        rx.hstack(
            rx.cond(
                (PortalBookingState.step != "service") & (PortalBookingState.step != "done"),
                rx.icon_button(
                    rx.icon("arrow-left"),
                    variant="soft",
                    size="3",
                    aria_label="Back",
                    on_click=PortalBookingState.back,
                    data_testid="book-back",
                ),
            ),
            rx.vstack(
                rx.cond(
                    PortalBookingState.step != "done",
                    rx.text(
                        "Step ",
                        rx.match(PortalBookingState.step, *STEP_NUMBERS.items(), "1"),
                        " of 5",
                        size="1",
                        color_scheme="gray",
                    ),
                ),
                rx.heading(
                    rx.cond(
                        (PortalBookingState.step == "done") & (PortalBookingState.move_id > 0),
                        "Your appointment is moved",
                        rx.match(PortalBookingState.step, *STEP_TITLES.items(), ""),
                    ),
                    size="5",
                    data_testid="book-step",
                ),
                spacing="0",
            ),
            align="center",
            spacing="3",
            width="100%",
        ),
        rx.cond(
            (PortalBookingState.service_label != "")
            & (PortalBookingState.step != "service")
            & (PortalBookingState.step != "done"),
            rx.flex(
                rx.badge(
                    rx.icon("stethoscope", size=12),
                    PortalBookingState.service_label,
                    size="2",
                    variant="soft",
                ),
                rx.cond(
                    (PortalBookingState.step == "slot")
                    | (PortalBookingState.step == "confirm")
                    | (PortalBookingState.step == "day"),
                    rx.badge(
                        rx.icon("user", size=12),
                        PortalBookingState.provider_label,
                        size="2",
                        variant="soft",
                        color_scheme="gray",
                    ),
                ),
                rx.cond(
                    (PortalBookingState.step == "slot") | (PortalBookingState.step == "confirm"),
                    rx.badge(
                        rx.icon("calendar", size=12),
                        PortalBookingState.day_label,
                        size="2",
                        variant="soft",
                        color_scheme="gray",
                    ),
                ),
                wrap="wrap",
                gap="0.4rem",
            ),
        ),
        spacing="3",
        width="100%",
    )


def service_step() -> rx.Component:
    return rx.cond(
        PortalBookingState.services.length() > 0,
        rx.vstack(
            rx.foreach(
                PortalBookingState.services,
                lambda c: choice_button(
                    rx.vstack(
                        rx.flex(
                            rx.text(c.service, weight="bold", size="3"),
                            rx.cond(c.virtual, rx.badge(rx.icon("video", size=12), "Online", size="1")),
                            gap="0.5rem",
                            align="center",
                            wrap="wrap",
                        ),
                        rx.text(c.visit_type, " · ", c.minutes.to_string(), " min", size="2"),
                        rx.text(c.department, size="1", color_scheme="gray"),
                        spacing="0",
                        align="start",
                    ),
                    on_click=PortalBookingState.choose_service(c.key),
                    test_id="service-" + c.key,
                ),
            ),
            spacing="2",
            width="100%",
        ),
        empty_state("Nothing can be booked online at the moment. Please call the clinic.", "calendar-x"),
    )


def provider_step() -> rx.Component:
    return rx.vstack(
        choice_button(
            rx.hstack(rx.icon("users", size=18), rx.text("Any available", weight="bold"), align="center"),
            on_click=PortalBookingState.choose_provider(0),
            test_id="provider-any",
        ),
        rx.foreach(
            PortalBookingState.providers,
            lambda p: choice_button(
                rx.hstack(rx.icon("user", size=18), rx.text(p.name), align="center"),
                on_click=PortalBookingState.choose_provider(p.id),
                test_id="provider-" + p.id.to_string(),
            ),
        ),
        spacing="2",
        width="100%",
    )


def day_step() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.box(width="0.5rem", height="0.5rem", border_radius="50%", background=rx.color("grass", 9)),
            rx.text("free times", size="1", color_scheme="gray"),
            rx.text(
                "· grey days are full or closed (you can join a waitlist)", size="1", color_scheme="gray"
            ),
            align="center",
            spacing="1",
            wrap="wrap",
        ),
        rx.grid(
            rx.foreach(PortalBookingState.days, day_button),
            columns=rx.breakpoints(initial="5", sm="7"),
            spacing="2",
            width="100%",
        ),
        spacing="3",
        width="100%",
    )


def day_button(d) -> rx.Component:
    return rx.button(
        rx.vstack(
            rx.text(d.weekday, size="1"),
            rx.text(d.day, size="4", weight="bold"),
            rx.text(d.month, size="1"),
            rx.box(
                width="0.4rem",
                height="0.4rem",
                border_radius="50%",
                background=rx.cond(d.free, rx.color("grass", 9), "transparent"),
            ),
            spacing="0",
            align="center",
        ),
        on_click=PortalBookingState.choose_day(d.iso),
        variant=rx.cond(d.free, "surface", "soft"),
        color_scheme=rx.cond(d.free, "teal", "gray"),
        aria_label=d.weekday
        + " "
        + d.day
        + " "
        + d.month
        + rx.cond(d.free, ", free times", ", no free times"),
        height="auto",
        min_height="4.5rem",
        padding_y="0.4rem",
        padding_x="0",
        width="100%",
        data_testid="day-" + d.iso,
        data_free=rx.cond(d.free, "yes", "no"),
    )


def slot_step() -> rx.Component:
    return rx.cond(
        PortalBookingState.day_full,
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.icon("calendar-x", size=20, color=rx.color("amber", 10)),
                    rx.heading("This day is full", size="4"),
                    align="center",
                ),
                rx.cond(
                    PortalBookingState.waitlisted,
                    rx.text(
                        "You are on the waitlist for this day. If a place opens up, we offer it to you "
                        "on your Appointments page (and by message) and you can accept it there.",
                        size="2",
                        data_testid="waitlist-joined",
                    ),
                    rx.cond(
                        PortalBookingState.move_id > 0,
                        rx.text("Choose another day.", size="2"),
                        rx.vstack(
                            rx.text(
                                "Join the waitlist: when a place frees up, the first patient waiting is "
                                "offered it automatically.",
                                size="2",
                            ),
                            rx.button(
                                rx.icon("list-plus"),
                                "Join the waitlist",
                                size="3",
                                width="100%",
                                loading=PortalBookingState.busy,
                                on_click=PortalBookingState.join_waitlist,
                                data_testid="join-waitlist",
                            ),
                            spacing="3",
                            width="100%",
                        ),
                    ),
                ),
                rx.button(
                    "Choose another day",
                    variant="soft",
                    size="3",
                    width="100%",
                    on_click=PortalBookingState.back,
                ),
                spacing="3",
                width="100%",
            ),
            width="100%",
            data_testid="day-full",
        ),
        rx.grid(
            rx.foreach(
                PortalBookingState.slots,
                lambda s: rx.button(
                    rx.vstack(
                        rx.text(s.time, size="4", weight="bold"),
                        rx.text(s.provider, size="1", color_scheme="gray", truncate=True, max_width="100%"),
                        spacing="0",
                        align="center",
                        width="100%",
                        overflow="hidden",
                    ),
                    on_click=PortalBookingState.choose_slot(s.index),
                    variant="surface",
                    height="auto",
                    min_height="3.5rem",
                    padding_y="0.4rem",
                    width="100%",
                    white_space="normal",
                    data_testid="slot-" + s.time,
                ),
            ),
            columns=rx.breakpoints(initial="3", sm="4", md="6"),
            spacing="2",
            width="100%",
        ),
    )


def confirm_step() -> rx.Component:
    return rx.card(
        rx.vstack(
            summary_row("stethoscope", PortalBookingState.service_label),
            summary_row("calendar", PortalBookingState.slot_label),
            summary_row("user", PortalBookingState.slot_provider),
            rx.button(
                rx.cond(PortalBookingState.move_id > 0, "Move my appointment", "Book this appointment"),
                size="4",
                width="100%",
                loading=PortalBookingState.busy,
                on_click=PortalBookingState.confirm,
                data_testid="book-confirm",
            ),
            rx.text(
                "You can cancel or move it online until ",
                rx.text.span(count_text(PortalBookingState.cutoff_hours, "hour")),
                " before it starts.",
                size="1",
                color_scheme="gray",
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def summary_row(icon: str, text) -> rx.Component:
    return rx.hstack(
        rx.icon(icon, size=18, color=rx.color("accent", 10), flex_shrink="0"),
        rx.text(text, size="3"),
        align="center",
        spacing="3",
    )


def done_step() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.icon("circle-check", size=40, color=rx.color("grass", 9)),
            rx.text("Your reference", size="2", color_scheme="gray"),
            rx.heading(
                PortalBookingState.reference,
                size=rx.breakpoints(initial="8", sm="9"),
                white_space="nowrap",
                letter_spacing="0.04em",
                data_testid="booking-reference",
            ),
            rx.text(PortalBookingState.booked_what, size="3", weight="medium", text_align="center"),
            rx.text(
                PortalBookingState.booked_when,
                size="4",
                weight="bold",
                text_align="center",
                data_testid="booked-when",
            ),
            rx.cond(
                PortalBookingState.booked_with != "",
                rx.text("with ", PortalBookingState.booked_with, size="3"),
            ),
            rx.box(
                rx.text("Add to your calendar", size="2", weight="bold"),
                rx.text(PortalBookingState.calendar_text, size="2", data_testid="calendar-text"),
                padding="0.75rem",
                border_radius="var(--radius-3)",
                background=rx.color("gray", 3),
                width="100%",
            ),
            rx.button(
                rx.icon("calendar-plus"),
                "Add to calendar",
                size="3",
                variant="soft",
                width="100%",
                on_click=PortalBookingState.download_calendar,
                data_testid="add-to-calendar",
            ),
            rx.link(
                rx.button("See my appointments", size="3", width="100%"),
                href="/portal/appointments",
                width="100%",
                data_testid="to-appointments",
            ),
            align="center",
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def choice_button(*children, on_click, test_id, **props) -> rx.Component:
    """A big, full-width tappable choice (at least 44 px high on a phone)."""
    return rx.button(
        *children,
        on_click=on_click,
        variant="surface",
        size="3",
        width="100%",
        height="auto",
        min_height="3rem",
        padding_y="0.6rem",
        justify_content="start",
        text_align="left",
        white_space="normal",
        data_testid=test_id,
        **props,
    )
