"""Each role's home screen."""

from __future__ import annotations

import reflex as rx

from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, section, stat_card
from hms_app.state.home import HomeState

# The icons home figures name (analytics/home.py); rx.icon needs its name when the page compiles.
FIGURE_ICONS = (
    "users",
    "user-plus",
    "calendar-plus",
    "id-card",
    "lock",
    "shield-alert",
    "scroll-text",
    "eye",
    "building-2",
)


def figure_icon(name: rx.Var) -> rx.Component:
    style = {"size": 28, "color": rx.color("accent", 9)}
    return rx.match(
        name, *[(icon, rx.icon(icon, **style)) for icon in FIGURE_ICONS], rx.icon("activity", **style)
    )


def figure_card(figure: rx.Var) -> rx.Component:
    return stat_card(
        figure["label"],
        figure["value"],
        figure["hint"],
        icon=figure_icon(figure["icon"]),
        test_id="figure-" + figure["key"].to(str),
    )


@staff_page(route="/", title="Home", on_load=HomeState.load)
def home_page() -> rx.Component:
    return rx.vstack(
        rx.heading("Welcome, ", HomeState.user_name, size="5"),
        rx.cond(
            HomeState.loaded,
            rx.cond(
                HomeState.figures.length() > 0,
                rx.grid(
                    rx.foreach(HomeState.figures, figure_card),
                    columns=rx.breakpoints(initial="1", sm="2", lg="3"),
                    spacing="4",
                    width="100%",
                ),
                empty_state("Nothing to show for your role yet."),
            ),
            rx.grid(
                *[rx.skeleton(rx.box(height="6rem"), loading=True) for _ in range(3)],
                columns="3",
                spacing="4",
                width="100%",
            ),
        ),
        rx.cond(
            HomeState.months.length() > 0,
            section(
                "Patient registrations per month",
                rx.plotly(data=HomeState.registrations_chart, width="100%", height="300px"),
            ),
        ),
        spacing="5",
        width="100%",
    )
