"""The chart's Prescribe dialog (also change, renew and continuing a draft): write the order, "Check"
it (the quantity computed and the order checks shown), give a reason for each interrupting alert,
then "Sign". See ``state.chart.prescribe``."""

from __future__ import annotations

import reflex as rx

from hms_app.pages.chart.common import icon_text, muted
from hms_app.state.chart.prescribe import FREQUENCY_CHOICES, OVERRIDE_REASONS, AlertLine, ProductHit
from hms_app.state.chart.prescribe import ChartPrescribeState as S

SEVERITY_COLORS = {"contraindicated": "red", "major": "red", "moderate": "orange", "minor": "amber"}


def error_at(name: str) -> rx.Component:
    return rx.cond(
        S.errors.contains(name),
        icon_text(
            "circle-alert",
            S.errors[name],
            color=rx.color("red", 11),
            align="start",
            data_testid="error-" + name,
        ),
    )


def field(label: str, control: rx.Component, name: str, hint: str = "") -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", weight="medium", as_="label"),
        control,
        muted(hint) if hint else rx.fragment(),
        error_at(name),
        spacing="1",
        width="100%",
        align="start",
    )


def text_input(name: str, **props) -> rx.Component:
    return rx.input(
        name=name, default_value=S.values.get(name, ""), width="100%", data_testid="rx-" + name, **props
    )


def select(name: str, items, labels=None, **props) -> rx.Component:
    """A select of ``items`` (a list var of values, or (value, label) pairs known when compiling)."""
    if labels is None:
        options = rx.foreach(items, lambda value: rx.select.item(value, value=value))
    else:
        options = [rx.select.item(label, value=value) for value, label in labels]
    return rx.select.root(
        rx.select.trigger(width="100%", data_testid="rx-" + name),
        rx.select.content(options),
        name=name,
        default_value=S.values.get(name, ""),
        **props,
    )


def hit_row(hit: ProductHit) -> rx.Component:
    return rx.hstack(
        rx.vstack(
            rx.hstack(
                rx.text(hit.name, size="2", weight="medium"),
                rx.match(
                    hit.status,
                    ("restricted", rx.badge("Restricted", color_scheme="amber", variant="soft", size="1")),
                    (
                        "non_formulary",
                        rx.badge("Not on formulary", color_scheme="gray", variant="outline", size="1"),
                    ),
                    rx.fragment(),
                ),
                rx.cond(hit.brand != "", muted("brand ", hit.brand)),
                spacing="2",
                align="center",
                wrap="wrap",
            ),
            muted(hit.detail),
            rx.cond(hit.restriction != "", rx.text(hit.restriction, size="1", color=rx.color("amber", 11))),
            spacing="0",
            align="start",
        ),
        rx.spacer(),
        rx.button(
            "Choose",
            size="1",
            variant="soft",
            type="button",
            disabled=~hit.pickable,
            on_click=S.pick(hit.id),
            data_testid="rx-pick-" + hit.code,
        ),
        width="100%",
        align="center",
        padding="0.35rem 0.5rem",
        border_radius="var(--radius-2)",
        _hover={"background": rx.color("gray", 3)},
    )


def product_picker() -> rx.Component:
    chosen = rx.hstack(
        rx.icon("pill", size=16, color=rx.color("accent", 10)),
        rx.text(S.product_name, weight="bold", size="2", data_testid="rx-product"),
        rx.spacer(),
        rx.cond(
            (S.mode != "renew") & (S.step == "write"),
            rx.button("Change product", size="1", variant="ghost", type="button", on_click=S.clear_product),
        ),
        width="100%",
        align="center",
    )
    search = rx.vstack(
        rx.input(
            rx.input.slot(rx.icon("search", size=16)),
            rx.input.slot(rx.cond(S.searching, rx.spinner(size="1"))),
            placeholder="Generic or brand name, or code (e.g. warfarin, Coumadin)",
            value=S.query,
            on_change=S.search,
            debounce_timeout=250,
            max_length=80,
            width="100%",
            id="rx-search",
            auto_complete="off",
            data_testid="rx-search",
        ),
        rx.cond(
            S.hits.length() > 0,
            rx.vstack(
                rx.foreach(S.hits, hit_row),
                spacing="0",
                width="100%",
                max_height="13rem",
                overflow_y="auto",
                border=f"1px solid {rx.color('gray', 5)}",
                border_radius="var(--radius-3)",
                padding="0.25rem",
                data_testid="rx-hits",
            ),
            rx.cond(S.query != "", muted("Nothing on the formulary matches. Try the generic name.")),
        ),
        spacing="2",
        width="100%",
    )
    return rx.vstack(
        rx.text("Medicine", size="2", weight="medium"),
        rx.cond(S.product_id > 0, chosen, search),
        rx.cond(
            S.product_restriction != "",
            rx.callout(
                rx.text(rx.text.strong("Restricted: "), S.product_restriction),
                icon="shield-alert",
                color_scheme="amber",
                size="1",
                width="100%",
                data_testid="rx-restriction",
            ),
        ),
        error_at("product_id"),
        spacing="2",
        width="100%",
        align="start",
    )


def order_form() -> rx.Component:
    two = {"columns": rx.breakpoints(initial="1", sm="2"), "spacing": "3", "width": "100%"}
    return rx.form(
        rx.vstack(
            rx.cond(
                (S.mode == "change") | (S.mode == "renew"),
                field(
                    rx.cond(S.mode == "change", "Reason for the change", "Reason for renewing"),
                    text_input("reason", max_length=300, placeholder="e.g. INR above range"),
                    "reason",
                ),
            ),
            rx.grid(
                field(
                    "Dose",
                    text_input("dose", max_length=12, input_mode="decimal", placeholder="e.g. 5"),
                    "dose",
                ),
                field(
                    "Unit",
                    rx.box(select("dose_unit", S.dose_units), key=S.product_id.to_string(), width="100%"),
                    "dose_unit",
                ),
                field(
                    "Route",
                    rx.box(select("route", S.routes), key=S.product_id.to_string(), width="100%"),
                    "route",
                ),
                field("Frequency", select("frequency", None, FREQUENCY_CHOICES), "frequency"),
                field(
                    "Duration (days)",
                    text_input("duration_days", max_length=3, input_mode="numeric"),
                    "duration_days",
                ),
                field("or end date", text_input("end_date", type="date"), "end_date"),
                field("Start", text_input("start", type="date"), "start", "Now if left empty."),
                field(
                    "Setting",
                    select(
                        "setting",
                        None,
                        (("outpatient", "Outpatient (prescription)"), ("inpatient", "Inpatient")),
                    ),
                    "setting",
                ),
                **two,
            ),
            rx.text(
                rx.flex(
                    rx.checkbox(
                        name="prn", default_checked=S.values.get("prn", "") == "on", data_testid="rx-prn"
                    ),
                    "When required (PRN)",
                    spacing="2",
                ),
                as_="label",
                size="2",
            ),
            rx.grid(
                field(
                    "PRN indication",
                    text_input("prn_indication", max_length=120, placeholder="e.g. pain"),
                    "prn_indication",
                ),
                field(
                    "At most doses a day (PRN)",
                    text_input("max_doses_per_day", max_length=2),
                    "max_doses_per_day",
                ),
                **two,
            ),
            field(
                "Instructions (optional)",
                text_input("instructions", max_length=300, placeholder="e.g. with food"),
                "instructions",
            ),
            general_error(),
            rx.flex(
                rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
                rx.button("Check", type="submit", loading=S.busy, data_testid="rx-check"),
                spacing="3",
                justify="end",
                width="100%",
            ),
            spacing="3",
            width="100%",
        ),
        on_submit=S.check,
        reset_on_submit=False,
        key=S.form_key.to_string(),
        width="100%",
    )


def general_error() -> rx.Component:
    return rx.cond(
        S.error_text != "",
        rx.callout(
            S.error_text,
            icon="triangle-alert",
            color_scheme="red",
            size="1",
            width="100%",
            data_testid="rx-error",
        ),
    )


def override_inputs(alert: AlertLine) -> rx.Component:
    return rx.vstack(
        rx.text("Override reason", size="1", weight="bold"),
        rx.grid(
            rx.select.root(
                rx.select.trigger(placeholder="Choose a reason", width="100%", data_testid="override-choice"),
                rx.select.content(*[rx.select.item(r, value=r) for r in OVERRIDE_REASONS]),
                value=S.override_choice.get(alert.rule, ""),
                on_change=lambda v: S.set_override_choice(alert.rule, v),
            ),
            rx.input(
                placeholder="Details (e.g. INR checked twice weekly)",
                default_value=S.override_text.get(alert.rule, ""),
                on_change=lambda v: S.set_override_text(alert.rule, v),
                debounce_timeout=300,
                max_length=300,
                width="100%",
                data_testid="override-text",
            ),
            columns=rx.breakpoints(initial="1", sm="2"),
            spacing="2",
            width="100%",
        ),
        spacing="1",
        width="100%",
    )


def alert_card(alert: AlertLine) -> rx.Component:
    return rx.cond(
        alert.interrupt,
        rx.callout.root(
            rx.callout.icon(rx.icon("octagon-alert", size=18)),
            rx.vstack(
                rx.hstack(
                    rx.badge(
                        alert.severity, color_scheme="red", variant="solid", data_testid="alert-severity"
                    ),
                    rx.text(alert.kind, size="1", color=rx.color("red", 11)),
                    spacing="2",
                    align="center",
                ),
                rx.text(alert.message, size="2", weight="medium"),
                rx.text(rx.text.strong("What to do: "), alert.action, size="2"),
                override_inputs(alert),
                spacing="2",
                width="100%",
            ),
            color_scheme="red",
            width="100%",
            data_testid="alert-interrupting",
            data_rule=alert.rule,
        ),
        rx.callout.root(
            rx.callout.icon(rx.icon("info", size=16)),
            rx.vstack(
                rx.text(alert.message, size="2"),
                rx.text(alert.action, size="1"),
                spacing="1",
            ),
            color_scheme="blue",
            size="1",
            width="100%",
            data_testid="alert-info",
        ),
    )


def review() -> rx.Component:
    return rx.vstack(
        rx.card(
            rx.vstack(
                rx.hstack(
                    rx.text(S.product_name, weight="bold"),
                    rx.spacer(),
                    muted(S.reference, " · draft"),
                    width="100%",
                ),
                rx.text(S.sig, size="2", data_testid="rx-sig"),
                rx.hstack(
                    rx.text("Dispense", size="2", color_scheme="gray"),
                    rx.text(S.quantity, size="4", weight="bold", data_testid="rx-quantity"),
                    spacing="2",
                    align="baseline",
                ),
                muted(S.quantity_basis),
                spacing="1",
                width="100%",
            ),
            width="100%",
        ),
        rx.cond(
            S.alerts.length() > 0,
            rx.vstack(rx.foreach(S.alerts, alert_card), spacing="2", width="100%", data_testid="rx-alerts"),
            icon_text("circle-check", "No alerts for this order.", size="2", color=rx.color("green", 11)),
        ),
        general_error(),
        rx.flex(
            rx.button("Edit", variant="soft", color_scheme="gray", type="button", on_click=S.edit),
            rx.spacer(),
            rx.cond(S.missing_overrides > 0, muted("Give a reason for each red alert to sign.")),
            rx.button(
                "Sign",
                type="button",
                on_click=S.sign,
                disabled=S.missing_overrides > 0,
                loading=S.busy,
                data_testid="rx-sign",
            ),
            spacing="3",
            align="center",
            width="100%",
        ),
        spacing="3",
        width="100%",
    )


def prescribe_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(S.title),
            rx.dialog.description(
                "For ",
                rx.text.strong(S.name),
                " · ",
                S.mrn,
                rx.cond(S.subject != "", rx.text(S.subject, size="1")),
                size="2",
                color_scheme="gray",
                margin_bottom="1rem",
            ),
            rx.vstack(
                product_picker(),
                rx.cond(S.step == "write", order_form(), review()),
                spacing="4",
                width="100%",
            ),
            max_width="44rem",
            data_testid="dialog-prescribe",
        ),
        open=S.rx_open,
        on_open_change=S.on_rx_dialog_change,
    )
