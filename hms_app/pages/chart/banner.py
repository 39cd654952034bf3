"""The chart's banner: who the patient is, allergies, alerts and problems, always in view."""

from __future__ import annotations

import reflex as rx

from hms_app.pages.chart.common import HEADER_HEIGHT, muted
from hms_app.state.chart.page import ChartState

MEASURE_JS = """
(() => {
  const root = document.documentElement.style;
  const watch = (el, name) => {
    if (!el || el.__hmsWatched) return;
    el.__hmsWatched = true;
    const set = () => root.setProperty(name, el.getBoundingClientRect().height + "px");
    set();
    new ResizeObserver(set).observe(el);
  };
  const title = document.querySelector("[data-testid=page-title]");
  watch(title && title.parentElement, "--hms-header-height");
  watch(document.querySelector("[data-testid=chart-banner]"), "--hms-banner-height");
})()
"""


def banner() -> rx.Component:
    links = rx.hstack(
        rx.link(
            rx.button(
                rx.icon("id-card", size=14), "Demographics", size="1", variant="soft", color_scheme="gray"
            ),
            href="/patients/" + ChartState.pid.to_string() + "/details",
            data_testid="link-demographics",
        ),
        rx.link(
            rx.button(rx.icon("tag", size=14), "Wristband", size="1", variant="soft", color_scheme="gray"),
            href="/patients/" + ChartState.pid.to_string() + "/wristband",
            data_testid="link-wristband",
        ),
        spacing="2",
    )
    identity = rx.vstack(
        rx.hstack(
            rx.heading(ChartState.name, size="5", data_testid="chart-name"),
            rx.text(
                ChartState.sex_label,
                " · ",
                ChartState.age,
                size="2",
                color_scheme="gray",
                white_space="nowrap",
            ),
            align="baseline",
            spacing="3",
            wrap="wrap",
        ),
        rx.text(
            "MRN ",
            rx.code(ChartState.mrn, data_testid="chart-mrn"),
            " · born ",
            ChartState.birth_date,
            size="2",
            color_scheme="gray",
        ),
        links,
        spacing="1",
        align="start",
    )
    # Three states: the allergies; "no known allergies" only when a clinician recorded it (who
    # and when on hover); otherwise amber, because nobody has asked yet.
    allergy = rx.match(
        ChartState.allergy_state,
        (
            "allergies",
            rx.badge(
                rx.icon("triangle-alert", size=13),
                "Allergies: ",
                ChartState.banner_allergies.join(", "),
                color_scheme="red",
                variant="solid",
                size="2",
                white_space="normal",
                data_testid="allergy-badge",
            ),
        ),
        (
            "none_known",
            rx.tooltip(
                rx.badge(
                    rx.icon("check", size=13),
                    "No known allergies",
                    color_scheme="green",
                    variant="soft",
                    size="2",
                    data_testid="allergy-badge",
                ),
                content="Recorded by " + ChartState.allergy_assessed,
            ),
        ),
        rx.badge(
            rx.icon("circle-help", size=13),
            "Allergies not yet assessed",
            color_scheme="amber",
            variant="solid",
            size="2",
            data_testid="allergy-badge",
        ),
    )
    alerts = rx.foreach(
        ChartState.alerts,
        lambda a: rx.badge(
            rx.icon("siren", size=13),
            a,
            color_scheme="red",
            variant="surface",
            size="2",
            data_testid="banner-alert",
        ),
    )
    problems = rx.flex(
        rx.foreach(
            ChartState.banner_problem_badges,
            lambda p: rx.badge(
                p,
                variant="surface",
                color_scheme="gray",
                max_width="13rem",
                overflow="hidden",
                text_overflow="ellipsis",
                white_space="nowrap",
                display="block",
                title=p,
            ),
        ),
        rx.cond(
            ChartState.banner_problems_more > 0,
            rx.badge(
                "+",
                ChartState.banner_problems_more.to_string(),
                " more",
                variant="outline",
                color_scheme="gray",
                title=ChartState.banner_problems.join("\n"),
            ),
        ),
        rx.cond(ChartState.banner_problems.length() == 0, muted("No active problems")),
        spacing="1",
        wrap="wrap",
        data_testid="banner-problems",
    )
    return rx.box(
        rx.flex(
            identity,
            rx.vstack(
                rx.flex(allergy, alerts, spacing="2", wrap="wrap"),
                problems,
                spacing="2",
                align="start",
                flex="1",
                min_width="16rem",
            ),
            column_gap="1.5rem",
            row_gap="0.5rem",
            align="start",
            wrap="wrap",
            width="100%",
        ),
        score_alert(),
        position="sticky",
        top=HEADER_HEIGHT,
        z_index="5",
        width="100%",
        padding="0.75rem 1rem",
        background=rx.color("gray", 1),
        border=f"1px solid {rx.color('gray', 5)}",
        border_radius="var(--radius-3)",
        box_shadow="0 4px 10px -6px rgba(0,0,0,0.18)",
        on_mount=rx.call_script(MEASURE_JS),
        data_testid="chart-banner",
    )


# After switching to the summary, bring the scores into view just below the sticky banner.
SHOW_SCORES = rx.call_script(
    'setTimeout(() => document.getElementById("scores-panel")?.scrollIntoView({behavior: "smooth"}), 150)'
)


def score_alert() -> rx.Component:
    """NEWS2 5 or more, or 3 in one parameter: in the sticky banner, so it stays in view on every tab."""
    return rx.cond(
        ChartState.score_alert != "",
        rx.callout(
            rx.hstack(
                rx.text(ChartState.score_alert, weight="bold", size="2"),
                rx.spacer(),
                rx.button(
                    "See scores",
                    size="1",
                    variant="surface",
                    color_scheme="red",
                    on_click=[ChartState.set_tab("summary"), SHOW_SCORES],
                    data_testid="news2-alert-open",
                ),
                align="center",
                width="100%",
                wrap="wrap",
            ),
            icon="siren",
            color_scheme="red",
            variant="surface",
            size="1",
            width="100%",
            margin_top="0.6rem",
            role="alert",
            data_testid="news2-alert",
        ),
    )
