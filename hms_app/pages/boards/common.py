"""What the boards share: the access notice and the "live" note."""

from __future__ import annotations

import reflex as rx


def live_note(updated_at: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.box(width="0.5rem", height="0.5rem", border_radius="50%", background=rx.color("grass", 9)),
        rx.text("Live · updated ", updated_at, size="1", color_scheme="gray", data_testid="board-updated"),
        align="center",
        spacing="2",
    )
