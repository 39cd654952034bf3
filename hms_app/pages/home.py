"""Each role's home screen."""

from __future__ import annotations

import reflex as rx

from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, section, stat_card
from hms_app.state.home import HomeState


def figure_card(figure: rx.Var) -> rx.Component:
    return stat_card(figure["label"], figure["value"], figure["hint"], icon="activity",
                     test_id="figure-" + figure["key"].to(str))


@staff_page(route="/", title="Home", on_load=HomeState.load)
def home_page() -> rx.Component:
    return rx.vstack(
        rx.heading("Welcome, ", HomeState.user_name, size="5"),
        rx.cond(
            HomeState.loaded,
            rx.cond(
                HomeState.figures.length() > 0,
                rx.grid(rx.foreach(HomeState.figures, figure_card), columns=rx.breakpoints(initial="1", sm="2", lg="3"),
                        spacing="4", width="100%"),
                empty_state("Nothing to show for your role yet."),
            ),
            rx.grid(*[rx.skeleton(rx.box(height="6rem"), loading=True) for _ in range(3)], columns="3", spacing="4",
                    width="100%"),
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
