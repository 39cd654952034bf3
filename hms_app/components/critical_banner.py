"""The red critical-results banner the staff shell draws above every page, and its acknowledge
dialog (a read-back of the value, as on the telephone). Drawn only while there is an alert."""

from __future__ import annotations

import reflex as rx

from hms_app.state.critical_alerts import BannerAlert
from hms_app.state.critical_alerts import CriticalBannerState as S


def alert_line(line: BannerAlert) -> rx.Component:
    return rx.flex(
        rx.vstack(
            rx.hstack(
                rx.text(line.patient_name, weight="bold", size="3"),
                rx.text(line.mrn, size="2", color=rx.color("red", 11), font_family="monospace"),
                spacing="2",
                align="baseline",
                wrap="wrap",
            ),
            rx.hstack(
                rx.text(line.result, size="3", weight="bold", data_testid="critical-result"),
                rx.cond(
                    line.flag != "",
                    rx.badge(
                        line.flag_label, color_scheme="red", variant="solid", data_testid="critical-flag"
                    ),
                ),
                spacing="2",
                align="center",
                wrap="wrap",
            ),
            rx.text(
                "Raised at ",
                line.since,
                " · waiting ",
                line.waited,
                rx.cond(line.escalated_to != "", rx.fragment(" · escalated to ", line.escalated_to)),
                size="1",
                color=rx.color("red", 11),
            ),
            spacing="1",
            min_width="0",
        ),
        rx.spacer(),
        rx.button(
            rx.icon("phone-incoming", size=16),
            "Acknowledge",
            color_scheme="red",
            variant="solid",
            on_click=S.open_acknowledge(line.id),
            data_testid="critical-acknowledge",
        ),
        align="center",
        spacing="3",
        wrap="wrap",
        width="100%",
        padding_y="0.5rem",
        border_top=f"1px solid {rx.color('red', 6)}",
        data_testid="critical-alert-" + line.id.to_string(),
    )


def acknowledge_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Acknowledge a critical result"),
            rx.dialog.description(
                rx.text.strong(S.ack_result),
                rx.text(" for ", S.ack_patient, as_="span"),
                size="2",
            ),
            rx.form(
                rx.vstack(
                    rx.text(
                        "Read the value back as you would on the telephone, for example “potassium 6.9”.",
                        size="2",
                        color_scheme="gray",
                    ),
                    rx.input(
                        name="read_back",
                        placeholder="Read-back of the value",
                        max_length=200,
                        required=True,
                        auto_focus=True,
                        size="3",
                        width="100%",
                        data_testid="read-back",
                    ),
                    rx.cond(
                        S.ack_error != "",
                        rx.callout(
                            S.ack_error,
                            icon="circle-alert",
                            color_scheme="red",
                            size="1",
                            width="100%",
                            data_testid="read-back-error",
                        ),
                    ),
                    rx.flex(
                        rx.dialog.close(
                            rx.button("Cancel", type="button", variant="soft", color_scheme="gray")
                        ),
                        rx.button(
                            rx.icon("check", size=16),
                            "Acknowledge",
                            type="submit",
                            color_scheme="red",
                            data_testid="read-back-submit",
                        ),
                        spacing="3",
                        justify="end",
                        width="100%",
                    ),
                    spacing="3",
                    width="100%",
                    padding_top="0.75rem",
                ),
                on_submit=S.acknowledge,
                reset_on_submit=False,
            ),
            max_width="30rem",
            data_testid="acknowledge-dialog",
        ),
        open=S.ack_open,
        on_open_change=S.set_ack_open,
    )


def critical_banner() -> rx.Component:
    """The signed-in clinician's open critical results, red, above the page; nothing without any."""
    return rx.fragment(
        rx.cond(
            S.alerts.length() > 0,
            rx.box(
                rx.hstack(
                    rx.icon("siren", size=20, color=rx.color("red", 11)),
                    rx.heading(
                        rx.cond(
                            (S.alerts.length() == 1) & (S.others == 0),
                            "A critical result waits for your acknowledgement",
                            "Critical results wait for your acknowledgement",
                        ),
                        size="3",
                        color=rx.color("red", 11),
                    ),
                    align="center",
                    spacing="2",
                    padding_bottom="0.25rem",
                ),
                rx.foreach(S.alerts, alert_line),
                rx.cond(
                    S.others > 0,
                    rx.link(
                        "and ",
                        S.others.to_string(),
                        " more: see the critical results board",
                        href="/lab/critical",
                        size="2",
                        color_scheme="red",
                    ),
                ),
                width="100%",
                padding_x=["1rem", "1rem", "1rem", "1.5rem"],
                padding_y="0.75rem",
                background=rx.color("red", 3),
                border_bottom=f"2px solid {rx.color('red', 9)}",
                role="alert",
                data_testid="critical-banner",
            ),
        ),
        acknowledge_dialog(),
    )
