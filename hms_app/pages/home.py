"""Each role's home screen."""

from __future__ import annotations

import reflex as rx

from hms_app.components.shell import staff_page
from hms_app.components.ui import empty_state, section, stat_card
from hms_app.state.home import HomeState, WorkLine, WorkPanel

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
    "package-x",
    "calendar-x",
    "truck",
    "alarm-clock",
    "calendar-clock",
    "wrench",
    "siren",
    "list-checks",
    "triangle-alert",
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


def work_line(line: WorkLine) -> rx.Component:
    return rx.link(
        rx.hstack(
            rx.text(line.time, size="2", weight="medium", min_width="3.2rem", color_scheme="gray"),
            rx.vstack(
                rx.text(line.title, size="2", weight="medium"),
                rx.text(line.detail, size="1", color_scheme="gray"),
                spacing="0",
                min_width="0",
            ),
            rx.spacer(),
            rx.cond(line.tone == "red", rx.icon("siren", size=16, color=rx.color("red", 9))),
            rx.cond(line.tone == "amber", rx.icon("clock-alert", size=16, color=rx.color("amber", 9))),
            align="center",
            spacing="3",
            width="100%",
            padding_y="0.35rem",
        ),
        href=line.link,
        underline="none",
        color="inherit",
        width="100%",
        data_testid="work-line",
    )


def work_panel(panel: WorkPanel) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading(panel.title, size="3"),
                rx.badge(panel.count.to_string(), variant="soft", radius="full"),
                rx.spacer(),
                rx.cond(panel.link != "", rx.link("Open", href=panel.link, size="2")),
                align="center",
                width="100%",
            ),
            rx.cond(
                panel["items"].length() > 0,
                rx.vstack(rx.foreach(panel["items"], work_line), spacing="0", width="100%"),
                rx.text(panel.empty, size="2", color_scheme="gray", padding_y="0.5rem"),
            ),
            rx.cond(
                panel.count > panel["items"].length(),
                rx.text(
                    "and ",
                    (panel.count - panel["items"].length()).to_string(),
                    " more",
                    size="1",
                    color_scheme="gray",
                ),
            ),
            spacing="2",
            width="100%",
        ),
        data_testid="work-" + panel.key,
    )


@staff_page(route="/", title="Home", on_load=HomeState.load)
def home_page() -> rx.Component:
    return rx.vstack(
        rx.heading("Welcome, ", HomeState.user_name, size="5"),
        rx.cond(
            HomeState.work.length() > 0,
            rx.vstack(
                rx.heading("Today", size="4"),
                rx.grid(
                    rx.foreach(HomeState.work, work_panel),
                    columns=rx.breakpoints(initial="1", md="2", xl="3"),
                    spacing="4",
                    width="100%",
                ),
                spacing="3",
                width="100%",
            ),
        ),
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
