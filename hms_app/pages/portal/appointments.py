"""/portal/appointments: the patient's upcoming visits (cancel, move, or answer an offer), the
waitlist places they hold and their past visits.

Phone-first: works at 390 px wide (one column, no sideways scrolling, buttons at least 44 px
tall) and spreads out on larger screens.
"""

from __future__ import annotations

import reflex as rx

from hms_app.components.portal_shell import portal_page
from hms_app.components.ui import empty_state
from hms_app.pages.portal.parts import loading_list, text_input
from hms_app.state.portal.appointments import PortalAppointmentsState

JOIN_TICK_MS = 15000


@portal_page(
    route="/portal/appointments",
    title="My appointments",
    on_load=PortalAppointmentsState.load,
    max_width="40rem",
)
def appointments_page() -> rx.Component:
    return rx.fragment(
        rx.flex(
            rx.heading("My appointments", size="6"),
            rx.link(
                rx.button(rx.icon("calendar-plus", size=16), "Book", size="3"),
                href="/portal/book",
                data_testid="book-new",
            ),
            justify="between",
            align="center",
            width="100%",
        ),
        rx.cond(
            PortalAppointmentsState.join_pending,
            # Turns "Join video visit" on when the waiting room opens, without a reload.
            rx.moment(interval=JOIN_TICK_MS, on_change=PortalAppointmentsState.tick, display="none"),
        ),
        rx.cond(
            PortalAppointmentsState.loaded,
            rx.vstack(
                waitlist_section(),
                rx.heading("Upcoming", size="4"),
                rx.cond(
                    PortalAppointmentsState.upcoming.length() > 0,
                    rx.vstack(
                        rx.foreach(PortalAppointmentsState.upcoming, upcoming_card), spacing="3", width="100%"
                    ),
                    empty_state("No upcoming appointments. Book one when you need it.", "calendar"),
                ),
                rx.cond(
                    PortalAppointmentsState.cancelled.length() > 0,
                    rx.vstack(
                        rx.heading("Cancelled", size="4", padding_top="0.5rem"),
                        rx.foreach(
                            PortalAppointmentsState.cancelled,
                            lambda line: past_card(line, test_prefix="cancelled-"),
                        ),
                        spacing="2",
                        width="100%",
                    ),
                ),
                rx.heading("Past", size="4", padding_top="0.5rem"),
                rx.cond(
                    PortalAppointmentsState.past.length() > 0,
                    rx.vstack(
                        rx.foreach(PortalAppointmentsState.past, past_card),
                        rx.cond(
                            PortalAppointmentsState.past_pages > 1,
                            past_pager(),
                        ),
                        spacing="2",
                        width="100%",
                    ),
                    empty_state("No past appointments yet.", "history"),
                ),
                spacing="3",
                width="100%",
            ),
            loading_list(),
        ),
        cancel_dialog(),
    )


def waitlist_section() -> rx.Component:
    return rx.cond(
        PortalAppointmentsState.waitlist.length() > 0,
        rx.vstack(
            rx.heading("Waiting for a place", size="4"),
            rx.foreach(
                PortalAppointmentsState.waitlist,
                lambda w: rx.flex(
                    rx.vstack(
                        rx.text(w.day, size="3", weight="bold"),
                        rx.text(w.what, " · ", w.with_whom, size="2", color_scheme="gray"),
                        spacing="0",
                    ),
                    rx.button(
                        "Leave",
                        size="3",
                        variant="soft",
                        color_scheme="gray",
                        on_click=PortalAppointmentsState.leave_waitlist(w.id),
                        data_testid="leave-waitlist-" + w.id.to_string(),
                    ),
                    justify="between",
                    align="center",
                    gap="0.75rem",
                    padding="0.75rem",
                    border=f"1px dashed {rx.color('amber', 7)}",
                    border_radius="var(--radius-3)",
                    width="100%",
                    data_testid="waitlist-entry",
                ),
            ),
            spacing="2",
            width="100%",
        ),
    )


def upcoming_card(line) -> rx.Component:
    return rx.cond(
        line.status == "offered",
        offer_card(line),
        rx.card(
            rx.vstack(
                appointment_head(line),
                rx.cond(line.virtual, join_button(line)),
                rx.cond(
                    (line.status == "booked") & ~line.online,
                    rx.text(
                        "Booked by the clinic: to change it, please call the clinic.",
                        size="1",
                        color_scheme="gray",
                    ),
                ),
                rx.cond(
                    (line.status == "booked") & line.online,
                    rx.vstack(
                        rx.grid(
                            rx.button(
                                rx.icon("calendar-sync", size=16),
                                "Reschedule",
                                size="3",
                                variant="soft",
                                on_click=PortalAppointmentsState.reschedule(line.id),
                                data_testid="reschedule-" + line.reference,
                            ),
                            rx.button(
                                rx.icon("x", size=16),
                                "Cancel",
                                size="3",
                                variant="soft",
                                color_scheme="red",
                                on_click=PortalAppointmentsState.open_cancel(line.id),
                                data_testid="cancel-" + line.reference,
                            ),
                            columns="2",
                            spacing="2",
                            width="100%",
                        ),
                        rx.cond(
                            ~line.changeable,
                            rx.text(
                                "Online changes close ",
                                PortalAppointmentsState.cutoff_hours.to_string(),
                                " hours before the start: please call the clinic.",
                                size="1",
                                color_scheme="gray",
                            ),
                        ),
                        spacing="2",
                        width="100%",
                    ),
                ),
                spacing="3",
                width="100%",
            ),
            width="100%",
            data_testid="appointment-" + line.reference,
        ),
    )


def join_button(line) -> rx.Component:
    """A video visit's way in: open from 10 minutes before the start."""
    return rx.cond(
        line.joinable,
        rx.link(
            rx.button(rx.icon("video", size=16), "Join video visit", size="3", width="100%"),
            href="/portal/video/" + line.id.to_string(),
            width="100%",
            data_testid="join-" + line.reference,
        ),
        rx.vstack(
            rx.button(
                rx.icon("video", size=16),
                "Join video visit",
                size="3",
                width="100%",
                disabled=True,
                data_testid="join-" + line.reference,
            ),
            rx.text("You can join from ", line.join_from, ".", size="1", color_scheme="gray"),
            spacing="1",
            width="100%",
        ),
    )


def offer_card(line) -> rx.Component:
    return rx.callout.root(
        rx.vstack(
            rx.hstack(
                rx.callout.icon(rx.icon("bell-ring")),
                rx.text("A place opened up on ", line.day, " at ", line.time, weight="bold", size="3"),
                align="start",
            ),
            rx.text(line.what, rx.cond(line.with_whom != "", " with " + line.with_whom, ""), size="2"),
            rx.cond(
                line.offer_expired,
                rx.text("This offer has expired.", size="2", weight="medium"),
                rx.text("Accept by ", line.offer_until, size="2", weight="medium", data_testid="offer-until"),
            ),
            rx.grid(
                rx.button(
                    "Accept",
                    size="3",
                    color_scheme="grass",
                    on_click=PortalAppointmentsState.accept_offer(line.id),
                    loading=PortalAppointmentsState.busy,
                    disabled=line.offer_expired,
                    data_testid="accept-" + line.reference,
                ),
                rx.button(
                    "Decline",
                    size="3",
                    variant="soft",
                    color_scheme="gray",
                    on_click=PortalAppointmentsState.decline_offer(line.id),
                    loading=PortalAppointmentsState.busy,
                    data_testid="decline-" + line.reference,
                ),
                columns="2",
                spacing="2",
                width="100%",
            ),
            spacing="2",
            width="100%",
        ),
        color_scheme="amber",
        width="100%",
        data_testid="offer-" + line.reference,
    )


def appointment_head(line) -> rx.Component:
    return rx.vstack(
        rx.flex(
            rx.text(line.day, " · ", line.time, size="3", weight="bold"),
            status_badge(line),
            justify="between",
            align="center",
            wrap="wrap",
            gap="0.5rem",
            width="100%",
        ),
        rx.text(line.what, size="2"),
        rx.text(
            rx.cond(line.with_whom != "", "with " + line.with_whom + " · ", ""),
            "Ref ",
            rx.code(line.reference, variant="ghost"),
            rx.cond(line.virtual, " · video call", ""),
            size="2",
            color_scheme="gray",
        ),
        spacing="1",
        width="100%",
    )


def status_badge(line) -> rx.Component:
    return rx.badge(
        line.status_label,
        color_scheme=rx.match(
            line.status,
            ("booked", "teal"),
            ("offered", "amber"),
            ("completed", "grass"),
            ("cancelled", "gray"),
            ("no_show", "red"),
            "blue",
        ),
        variant="soft",
        size="2",
    )


def past_card(line, *, test_prefix: str = "past-") -> rx.Component:
    return rx.box(
        appointment_head(line),
        rx.cond(line.note != "", rx.text(line.note, size="1", color_scheme="gray", padding_top="0.25rem")),
        padding="0.75rem",
        border=f"1px solid {rx.color('gray', 5)}",
        border_radius="var(--radius-3)",
        width="100%",
        data_testid=test_prefix + line.reference,
    )


def past_pager() -> rx.Component:
    return rx.flex(
        rx.button(
            rx.icon("chevron-left", size=16),
            "Newer",
            variant="soft",
            size="3",
            disabled=PortalAppointmentsState.past_page <= 1,
            on_click=PortalAppointmentsState.move_past(-1),
        ),
        rx.text(
            "Page ",
            PortalAppointmentsState.past_page.to_string(),
            " of ",
            PortalAppointmentsState.past_pages.to_string(),
            size="2",
        ),
        rx.button(
            "Older",
            rx.icon("chevron-right", size=16),
            variant="soft",
            size="3",
            disabled=PortalAppointmentsState.past_page >= PortalAppointmentsState.past_pages,
            on_click=PortalAppointmentsState.move_past(1),
        ),
        justify="between",
        align="center",
        width="100%",
    )


def cancel_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Cancel this appointment?"),
            rx.dialog.description(PortalAppointmentsState.cancel_title, size="2"),
            rx.form(
                rx.vstack(
                    rx.text("Why are you cancelling?", size="2", weight="medium"),
                    rx.radio_group(
                        PortalAppointmentsState.cancel_reasons,
                        name="reason",
                        direction="column",
                        size="3",
                        spacing="3",
                        data_testid="cancel-reason",
                    ),
                    text_input("details", max_length=200, placeholder="Anything to add (optional)"),
                    rx.cond(
                        PortalAppointmentsState.cancel_error != "",
                        rx.callout(
                            PortalAppointmentsState.cancel_error,
                            icon="triangle-alert",
                            color_scheme="red",
                            width="100%",
                            data_testid="cancel-error",
                        ),
                    ),
                    rx.grid(
                        rx.button(
                            "Keep it",
                            type="button",
                            variant="soft",
                            color_scheme="gray",
                            size="3",
                            on_click=PortalAppointmentsState.close_cancel,
                        ),
                        rx.button(
                            "Yes, cancel",
                            type="submit",
                            color_scheme="red",
                            size="3",
                            loading=PortalAppointmentsState.busy,
                            data_testid="cancel-confirm",
                        ),
                        columns="2",
                        spacing="2",
                        width="100%",
                    ),
                    spacing="3",
                    width="100%",
                    padding_top="0.75rem",
                ),
                on_submit=PortalAppointmentsState.submit_cancel,
                reset_on_submit=False,
            ),
            max_width="28rem",
        ),
        open=PortalAppointmentsState.cancel_id > 0,
        on_open_change=lambda _open: PortalAppointmentsState.close_cancel(),
    )
