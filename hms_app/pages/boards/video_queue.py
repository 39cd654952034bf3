"""The flow board's video waiting room: patients waiting in a video visit (admit them) and video
calls in progress (join them); live on the "video" topic."""

from __future__ import annotations

import reflex as rx

from hms_app.state.video_visits import QueueLine, VideoQueueState


def queue_entry(line: QueueLine) -> rx.Component:
    return rx.card(
        rx.flex(
            rx.icon(
                "video", size=18, color=rx.cond(line.status == "waiting", "var(--amber-10)", "var(--blue-10)")
            ),
            rx.vstack(
                rx.text(line.patient, weight="bold", size="2"),
                rx.text(line.time, " · ", line.reference, " · ", line.since, size="1", color_scheme="gray"),
                spacing="0",
            ),
            rx.spacer(),
            rx.cond(
                line.mine,
                rx.cond(
                    line.status == "waiting",
                    rx.button(
                        rx.icon("door-open", size=14),
                        "Admit",
                        size="1",
                        color_scheme="amber",
                        on_click=VideoQueueState.admit(line.appointment_id),
                        data_testid="video-admit",
                    ),
                    rx.link(
                        rx.button(rx.icon("video", size=14), "Join", size="1"),
                        href="/video/" + line.appointment_id.to_string(),
                        data_testid="video-join",
                    ),
                ),
                rx.badge(
                    rx.cond(line.status == "waiting", "waiting", "in call"),
                    color_scheme=rx.cond(line.status == "waiting", "amber", "blue"),
                ),
            ),
            align="center",
            gap="3",
            width="100%",
        ),
        width="100%",
        data_testid="video-entry",
        custom_attrs={"data-status": line.status, "data-appointment": line.appointment_id},
    )


def video_waiting_room() -> rx.Component:
    """Shown when a video visit waits or is in progress."""
    return rx.cond(
        VideoQueueState.entries.length() > 0,
        rx.vstack(
            rx.heading("Video waiting room", size="3"),
            rx.grid(
                rx.foreach(VideoQueueState.entries, queue_entry),
                columns=rx.breakpoints(initial="1", sm="2", lg="3"),
                spacing="2",
                width="100%",
            ),
            spacing="2",
            width="100%",
            data_testid="video-waiting-room",
        ),
    )
