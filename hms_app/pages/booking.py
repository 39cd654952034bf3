"""The portal's self-service pages: sign-up, booking, and the patient's own appointments.

Phone-first: every page works at 390 px wide (one column, no sideways scrolling, buttons at
least 44 px tall) and spreads out on larger screens.
"""

from __future__ import annotations

import reflex as rx

from hms_app.components.ui import empty_state
from hms_app.pages.portal import portal_brand, portal_shell
from hms_app.state.booking import AppointmentsState, BookingState, SignupState

# ====================================================================== small pieces


def error_line(message, test_id: str) -> rx.Component:
    return rx.flex(
        rx.icon("circle-alert", size=14, flex_shrink="0", margin_top="0.2em"),
        rx.text(message, size="2"),
        spacing="1",
        color=rx.color("red", 11),
        data_testid=test_id,
    )


def labelled(state, label: str, name: str, control: rx.Component, hint: str = "") -> rx.Component:
    """A label, its control, an optional hint and the field's error when the server named it."""
    return rx.vstack(
        rx.el.label(
            label,
            html_for=name,
            font_size="var(--font-size-2)",
            font_weight="500",
        ),
        control,
        rx.text(hint, size="1", color_scheme="gray") if hint else rx.fragment(),
        rx.cond(state.error_field == name, error_line(state.error_text, "error-" + name)),
        spacing="1",
        width="100%",
        align="start",
    )


def text_input(name: str, max_length: int = 80, **props) -> rx.Component:
    return rx.input(name=name, id=name, max_length=max_length, width="100%", size="3", **props)


def two_columns(*children) -> rx.Component:
    return rx.grid(*children, columns=rx.breakpoints(initial="1", sm="2"), spacing="3", width="100%")


# ====================================================================== /portal/signup


def signup_form() -> rx.Component:
    S = SignupState
    return rx.form(
        rx.vstack(
            rx.heading("About you", size="3"),
            two_columns(
                labelled(S, "Given name", "given_name", text_input("given_name", auto_complete="given-name")),
                labelled(
                    S, "Family name", "family_name", text_input("family_name", auto_complete="family-name")
                ),
                labelled(
                    S,
                    "Date of birth",
                    "birth_date",
                    text_input("birth_date", max_length=10, type="date", auto_complete="bday"),
                ),
                labelled(
                    S,
                    "Sex",
                    "sex",
                    rx.select.root(
                        rx.select.trigger(
                            placeholder="Choose", width="100%", id="sex", data_testid="sex-select"
                        ),
                        rx.select.content(
                            rx.select.item("Female", value="female"),
                            rx.select.item("Male", value="male"),
                            rx.select.item("Other", value="other"),
                            rx.select.item("Prefer not to say", value="unknown"),
                        ),
                        name="sex",
                        size="3",
                    ),
                ),
                labelled(
                    S,
                    "Mobile phone",
                    "phone",
                    text_input(
                        "phone", max_length=30, type="tel", auto_complete="tel", placeholder="+1 555 010 2030"
                    ),
                ),
                labelled(
                    S,
                    "Email",
                    "email",
                    text_input("email", max_length=200, type="email", auto_complete="email"),
                ),
            ),
            rx.heading("Your sign-in", size="3", padding_top="0.5rem"),
            labelled(
                S,
                "Username",
                "username",
                text_input("username", max_length=60, auto_complete="username", auto_capitalize="none"),
                "3 to 60 lowercase letters, digits, dots, dashes or underscores.",
            ),
            two_columns(
                labelled(
                    S,
                    "Password",
                    "password",
                    text_input("password", max_length=256, type="password", auto_complete="new-password"),
                    "At least 10 characters, with letters and digits.",
                ),
                labelled(
                    S,
                    "Repeat the password",
                    "password_confirm",
                    text_input(
                        "password_confirm", max_length=256, type="password", auto_complete="new-password"
                    ),
                ),
            ),
            rx.vstack(
                rx.el.label(
                    rx.hstack(
                        rx.checkbox(name="consent", id="consent", size="3", data_testid="consent"),
                        rx.text(
                            "I agree to the terms of use and the privacy notice: the hospital keeps my "
                            "details to provide my care and lets me see them here.",
                            size="2",
                        ),
                        align="start",
                        spacing="2",
                    ),
                    html_for="consent",
                    cursor="pointer",
                ),
                rx.cond(S.error_field == "consent", error_line(S.error_text, "error-consent")),
                width="100%",
                spacing="1",
            ),
            rx.cond(
                (S.error_text != "") & (S.error_field == ""),
                rx.callout(
                    S.error_text,
                    icon="triangle-alert",
                    color_scheme="red",
                    width="100%",
                    id="signup-error",
                    data_testid="signup-error",
                ),
            ),
            rx.button(
                "Create my account",
                type="submit",
                size="3",
                width="100%",
                loading=S.busy,
                data_testid="signup-submit",
            ),
            rx.text(
                "Been our patient before? Show an ID at your next visit and the front desk will "
                "connect your earlier records to this account.",
                size="1",
                color_scheme="gray",
            ),
            spacing="3",
            width="100%",
        ),
        on_submit=SignupState.submit,
        reset_on_submit=False,
        width="100%",
    )


@rx.page(route="/portal/signup", title="Create an account · HMS", on_load=SignupState.load)
def signup_page() -> rx.Component:
    return rx.center(
        rx.card(
            rx.vstack(
                portal_brand(),
                rx.heading("Create your account", size="6", padding_top="0.25rem"),
                rx.text(
                    "Book and manage your appointments and see your record online.",
                    size="2",
                    color_scheme="gray",
                ),
                signup_form(),
                rx.separator(width="100%"),
                rx.text(
                    "Already have an account? ",
                    rx.link("Sign in", href="/login?next=/portal", data_testid="signup-sign-in"),
                    size="2",
                ),
                spacing="3",
                width="100%",
            ),
            size="3",
            width="100%",
            max_width="36rem",
            on_mount=SignupState.clear_form,
        ),
        min_height="100vh",
        padding=["0.5rem", "1rem"],
        background=rx.color("gray", 2),
        align="start",
    )


# ====================================================================== /portal/book

B = BookingState
STEP_TITLES = {
    "service": "What would you like to book?",
    "provider": "Who would you like to see?",
    "day": "Choose a day",
    "slot": "Choose a time",
    "confirm": "Check and confirm",
    "done": "You are booked",
}
STEP_NUMBERS = {"service": "1", "provider": "2", "day": "3", "slot": "4", "confirm": "5"}


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


def step_header() -> rx.Component:
    return rx.vstack(
        rx.cond(
            (B.move_id > 0) & (B.step != "done"),
            rx.callout(
                rx.text(
                    "Moving appointment ",
                    rx.code(B.move_reference),
                    " (now ",
                    B.move_from,
                    "). Choose the new time; the old one is released when you confirm.",
                ),
                icon="calendar-sync",
                color_scheme="blue",
                width="100%",
                data_testid="move-banner",
            ),
        ),
        rx.hstack(
            rx.cond(
                (B.step != "service") & (B.step != "done"),
                rx.icon_button(
                    rx.icon("arrow-left"),
                    variant="soft",
                    size="3",
                    aria_label="Back",
                    on_click=B.back,
                    data_testid="book-back",
                ),
            ),
            rx.vstack(
                rx.cond(
                    B.step != "done",
                    rx.text(
                        "Step ",
                        rx.match(B.step, *STEP_NUMBERS.items(), "1"),
                        " of 5",
                        size="1",
                        color_scheme="gray",
                    ),
                ),
                rx.heading(
                    rx.cond(
                        (B.step == "done") & (B.move_id > 0),
                        "Your appointment is moved",
                        rx.match(B.step, *STEP_TITLES.items(), ""),
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
            (B.service_label != "") & (B.step != "service") & (B.step != "done"),
            rx.flex(
                rx.badge(rx.icon("stethoscope", size=12), B.service_label, size="2", variant="soft"),
                rx.cond(
                    (B.step == "slot") | (B.step == "confirm") | (B.step == "day"),
                    rx.badge(
                        rx.icon("user", size=12),
                        B.provider_label,
                        size="2",
                        variant="soft",
                        color_scheme="gray",
                    ),
                ),
                rx.cond(
                    (B.step == "slot") | (B.step == "confirm"),
                    rx.badge(
                        rx.icon("calendar", size=12),
                        B.day_label,
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


def loading_list() -> rx.Component:
    return rx.vstack(
        *[rx.skeleton(rx.box(height="3rem", width="100%")) for _ in range(4)],
        width="100%",
        spacing="2",
    )


def service_step() -> rx.Component:
    return rx.cond(
        B.services.length() > 0,
        rx.vstack(
            rx.foreach(
                B.services,
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
                    on_click=B.choose_service(c.key),
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
            on_click=B.choose_provider(0),
            test_id="provider-any",
        ),
        rx.foreach(
            B.providers,
            lambda p: choice_button(
                rx.hstack(rx.icon("user", size=18), rx.text(p.name), align="center"),
                on_click=B.choose_provider(p.id),
                test_id="provider-" + p.id.to_string(),
            ),
        ),
        spacing="2",
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
        on_click=B.choose_day(d.iso),
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
            rx.foreach(B.days, day_button),
            columns=rx.breakpoints(initial="5", sm="7"),
            spacing="2",
            width="100%",
        ),
        spacing="3",
        width="100%",
    )


def slot_step() -> rx.Component:
    return rx.cond(
        B.day_full,
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.icon("calendar-x", size=20, color=rx.color("amber", 10)),
                    rx.heading("This day is full", size="4"),
                    align="center",
                ),
                rx.cond(
                    B.waitlisted,
                    rx.text(
                        "You are on the waitlist for this day. If a place opens up, we offer it to you "
                        "on your Appointments page (and by message) and you can accept it there.",
                        size="2",
                        data_testid="waitlist-joined",
                    ),
                    rx.cond(
                        B.move_id > 0,
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
                                loading=B.busy,
                                on_click=B.join_waitlist,
                                data_testid="join-waitlist",
                            ),
                            spacing="3",
                            width="100%",
                        ),
                    ),
                ),
                rx.button("Choose another day", variant="soft", size="3", width="100%", on_click=B.back),
                spacing="3",
                width="100%",
            ),
            width="100%",
            data_testid="day-full",
        ),
        rx.grid(
            rx.foreach(
                B.slots,
                lambda s: rx.button(
                    rx.vstack(
                        rx.text(s.time, size="4", weight="bold"),
                        rx.text(s.provider, size="1", color_scheme="gray", truncate=True, max_width="100%"),
                        spacing="0",
                        align="center",
                        width="100%",
                        overflow="hidden",
                    ),
                    on_click=B.choose_slot(s.index),
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


def summary_row(icon: str, text) -> rx.Component:
    return rx.hstack(
        rx.icon(icon, size=18, color=rx.color("accent", 10), flex_shrink="0"),
        rx.text(text, size="3"),
        align="center",
        spacing="3",
    )


def confirm_step() -> rx.Component:
    return rx.card(
        rx.vstack(
            summary_row("stethoscope", B.service_label),
            summary_row("calendar", B.slot_label),
            summary_row("user", B.slot_provider),
            rx.button(
                rx.cond(B.move_id > 0, "Move my appointment", "Book this appointment"),
                size="4",
                width="100%",
                loading=B.busy,
                on_click=B.confirm,
                data_testid="book-confirm",
            ),
            rx.text(
                "You can cancel or move it online until ",
                rx.text.span(B.cutoff_hours.to_string(), " hours"),
                " before it starts.",
                size="1",
                color_scheme="gray",
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def done_step() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.icon("circle-check", size=40, color=rx.color("grass", 9)),
            rx.text("Your reference", size="2", color_scheme="gray"),
            rx.heading(
                B.reference,
                size=rx.breakpoints(initial="8", sm="9"),
                white_space="nowrap",
                letter_spacing="0.04em",
                data_testid="booking-reference",
            ),
            rx.text(B.booked_what, size="3", weight="medium", text_align="center"),
            rx.text(B.booked_when, size="4", weight="bold", text_align="center", data_testid="booked-when"),
            rx.cond(B.booked_with != "", rx.text("with ", B.booked_with, size="3")),
            rx.box(
                rx.text("Add to your calendar", size="2", weight="bold"),
                rx.text(B.calendar_text, size="2", data_testid="calendar-text"),
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
                on_click=B.download_calendar,
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


@rx.page(route="/portal/book", title="Book · HMS", on_load=BookingState.load)
def book_page() -> rx.Component:
    return portal_shell(
        step_header(),
        rx.cond(
            B.loading,
            loading_list(),
            rx.match(
                B.step,
                ("service", service_step()),
                ("provider", provider_step()),
                ("day", day_step()),
                ("slot", slot_step()),
                ("confirm", confirm_step()),
                ("done", done_step()),
                service_step(),
            ),
        ),
        max_width="40rem",
    )


# ====================================================================== /portal/appointments

A = AppointmentsState


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
                    on_click=A.accept_offer(line.id),
                    loading=A.busy,
                    disabled=line.offer_expired,
                    data_testid="accept-" + line.reference,
                ),
                rx.button(
                    "Decline",
                    size="3",
                    variant="soft",
                    color_scheme="gray",
                    on_click=A.decline_offer(line.id),
                    loading=A.busy,
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


def upcoming_card(line) -> rx.Component:
    return rx.cond(
        line.status == "offered",
        offer_card(line),
        rx.card(
            rx.vstack(
                appointment_head(line),
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
                                on_click=A.reschedule(line.id),
                                data_testid="reschedule-" + line.reference,
                            ),
                            rx.button(
                                rx.icon("x", size=16),
                                "Cancel",
                                size="3",
                                variant="soft",
                                color_scheme="red",
                                on_click=A.open_cancel(line.id),
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
                                A.cutoff_hours.to_string(),
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


def past_card(line) -> rx.Component:
    return rx.box(
        appointment_head(line),
        rx.cond(line.note != "", rx.text(line.note, size="1", color_scheme="gray", padding_top="0.25rem")),
        padding="0.75rem",
        border=f"1px solid {rx.color('gray', 5)}",
        border_radius="var(--radius-3)",
        width="100%",
        data_testid="past-" + line.reference,
    )


def past_pager() -> rx.Component:
    return rx.flex(
        rx.button(
            rx.icon("chevron-left", size=16),
            "Newer",
            variant="soft",
            size="3",
            disabled=A.past_page <= 1,
            on_click=A.previous_past,
        ),
        rx.text("Page ", A.past_page.to_string(), " of ", A.past_pages.to_string(), size="2"),
        rx.button(
            "Older",
            rx.icon("chevron-right", size=16),
            variant="soft",
            size="3",
            disabled=A.past_page >= A.past_pages,
            on_click=A.next_past,
        ),
        justify="between",
        align="center",
        width="100%",
    )


def cancel_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Cancel this appointment?"),
            rx.dialog.description(A.cancel_title, size="2"),
            rx.form(
                rx.vstack(
                    rx.text("Why are you cancelling?", size="2", weight="medium"),
                    rx.radio_group(
                        A.cancel_reasons,
                        name="reason",
                        direction="column",
                        size="3",
                        spacing="3",
                        data_testid="cancel-reason",
                    ),
                    text_input("details", max_length=200, placeholder="Anything to add (optional)"),
                    rx.cond(
                        A.cancel_error != "",
                        rx.callout(
                            A.cancel_error,
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
                            on_click=A.close_cancel,
                        ),
                        rx.button(
                            "Yes, cancel",
                            type="submit",
                            color_scheme="red",
                            size="3",
                            loading=A.busy,
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
                on_submit=A.submit_cancel,
                reset_on_submit=False,
            ),
            max_width="28rem",
        ),
        open=A.cancel_id > 0,
        on_open_change=lambda _open: A.close_cancel(),
    )


def waitlist_section() -> rx.Component:
    return rx.cond(
        A.waitlist.length() > 0,
        rx.vstack(
            rx.heading("Waiting for a place", size="4"),
            rx.foreach(
                A.waitlist,
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
                        on_click=A.leave_waitlist(w.id),
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


@rx.page(route="/portal/appointments", title="My appointments · HMS", on_load=AppointmentsState.load)
def appointments_page() -> rx.Component:
    return portal_shell(
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
            A.loaded,
            rx.vstack(
                waitlist_section(),
                rx.heading("Upcoming", size="4"),
                rx.cond(
                    A.upcoming.length() > 0,
                    rx.vstack(rx.foreach(A.upcoming, upcoming_card), spacing="3", width="100%"),
                    empty_state("No upcoming appointments. Book one when you need it.", "calendar"),
                ),
                rx.heading("Past", size="4", padding_top="0.5rem"),
                rx.cond(
                    A.past.length() > 0,
                    rx.vstack(
                        rx.foreach(A.past, past_card),
                        rx.cond(
                            A.past_pages > 1,
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
        max_width="40rem",
    )
