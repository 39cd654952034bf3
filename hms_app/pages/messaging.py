"""/messages (telehealth): being built."""

from __future__ import annotations

import reflex as rx

from hms_app.components.shell import staff_page


@staff_page("/messages", "Messages")
def inbox() -> rx.Component:
    return rx.text("Being built.")
