"""The page shown for an address that does not exist."""

import reflex as rx


def not_found_page() -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.icon("map-pin-off", size=48, color=rx.color("gray", 9)),
            rx.heading("Page not found", size="7", data_testid="not-found"),
            rx.text(
                "There is no page at this address. It may have moved, or the link may be mistyped.",
                color_scheme="gray",
            ),
            rx.link(rx.button("Go to the home screen"), href="/"),
            align="center",
            spacing="4",
        ),
        min_height="100vh",
        padding="1rem",
    )
