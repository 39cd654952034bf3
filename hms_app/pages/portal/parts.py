"""Small pieces the portal's screens share: a text input and the placeholder while a list loads."""

from __future__ import annotations

import reflex as rx


def text_input(name: str, max_length: int = 80, **props) -> rx.Component:
    return rx.input(name=name, id=name, max_length=max_length, width="100%", size="3", **props)


def loading_list() -> rx.Component:
    return rx.vstack(
        *[rx.skeleton(rx.box(height="3rem", width="100%")) for _ in range(4)],
        width="100%",
        spacing="2",
    )
