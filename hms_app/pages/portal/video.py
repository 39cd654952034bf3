"""/portal/video/[visit_id]: the patient's video visit: check camera and microphone, wait to be
admitted (the page changes by itself when the clinician admits), then the call.

Phone-first: one column at 390 px wide, buttons at least 44 px tall.
"""

from __future__ import annotations

import reflex as rx

from hms_app.components.portal_shell import portal_page
from hms_app.components.ui import empty_state
from hms_app.components.video_call import video_call
from hms_app.state.portal.video import PortalVideoState as S


def waiting_text() -> rx.Component:
    return rx.match(
        S.status,
        (
            "waiting",
            rx.callout(
                "You are in the waiting room. Your clinician will let you in shortly; keep this page open.",
                icon="hourglass",
                color_scheme="amber",
                width="100%",
                data_testid="waiting-room",
            ),
        ),
        (
            "ended",
            rx.callout(
                "This visit has ended. Thank you. Any follow-up appears under My appointments.",
                icon="circle-check",
                color_scheme="grass",
                width="100%",
                data_testid="visit-ended",
            ),
        ),
        (
            "admitted",
            rx.fragment(),
        ),
        rx.cond(
            S.open_now,
            rx.vstack(
                rx.text(
                    "Check that you can see yourself and that the bar moves when you speak, then enter the "
                    "waiting room.",
                    size="2",
                ),
                rx.button(
                    rx.icon("door-open", size=16),
                    "Enter the waiting room",
                    size="3",
                    width="100%",
                    min_height="44px",
                    on_click=S.enter,
                    data_testid="enter-waiting-room",
                ),
                width="100%",
                spacing="2",
            ),
            rx.callout(
                rx.text("The waiting room opens at ", S.opens, ", 10 minutes before your visit."),
                icon="clock",
                width="100%",
                data_testid="waiting-room-closed",
            ),
        ),
    )


def body() -> rx.Component:
    return rx.cond(
        S.loaded,
        rx.cond(
            S.problem != "",
            rx.card(empty_state(S.problem, "video-off"), width="100%", data_testid="video-problem"),
            rx.vstack(
                rx.text("Video visit · ", S.starts, size="2", color_scheme="gray"),
                waiting_text(),
                rx.cond(
                    S.status != "ended",
                    video_call(
                        visit_id=S.visit_id,
                        side="patient",
                        ice=S.ice,
                        mode=rx.cond(S.status == "admitted", "call", "preview"),
                        active=S.status == "admitted",
                    ),
                ),
                spacing="3",
                width="100%",
            ),
        ),
        rx.skeleton(rx.box(height="20rem"), width="100%"),
    )


@portal_page(route="/portal/video/[visit_id]", title="Video visit", on_load=S.load, max_width="48rem")
def portal_video_page() -> rx.Component:
    return rx.fragment(
        rx.flex(
            rx.heading("Video visit", size="6"),
            rx.link(rx.button("My appointments", variant="soft", size="2"), href="/portal/appointments"),
            justify="between",
            align="center",
            width="100%",
        ),
        body(),
    )
