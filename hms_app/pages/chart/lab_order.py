"""The chart's laboratory order dialog (search tests and panels as one types, pick several, priority,
clinical question, fasting; duplicates need an explicit "Order anyway") and the cancel dialog."""

from __future__ import annotations

import reflex as rx

from hms_app.pages.chart.common import icon_text, muted
from hms_app.state.chart.lab_order import MAX_QUESTION, Orderable
from hms_app.state.chart.lab_order import ChartLabOrderState as S


def error_at(name: str) -> rx.Component:
    return rx.cond(
        S.error_field == name,
        icon_text(
            "circle-alert",
            S.error_text,
            color=rx.color("red", 11),
            align="start",
            data_testid="error-" + name,
        ),
    )


def hit_row(hit: Orderable) -> rx.Component:
    chosen = S.picked_ids.contains(hit.id)
    return rx.hstack(
        rx.vstack(
            rx.hstack(
                rx.text(hit.name, size="2", weight="medium"),
                rx.cond(hit.is_panel, rx.badge("Panel", color_scheme="violet", variant="soft", size="1")),
                spacing="2",
                align="center",
            ),
            muted(hit.code, " · ", hit.detail),
            spacing="0",
            align="start",
        ),
        rx.spacer(),
        rx.button(
            rx.cond(chosen, rx.icon("check", size=14), rx.icon("plus", size=14)),
            rx.cond(chosen, "Added", "Add"),
            size="1",
            variant=rx.cond(chosen, "ghost", "soft"),
            disabled=chosen,
            type="button",
            on_click=S.pick(hit.id),
            data_testid="pick-" + hit.code,
        ),
        width="100%",
        align="center",
        padding="0.35rem 0.5rem",
        border_radius="var(--radius-2)",
        _hover={"background": rx.color("gray", 3)},
    )


def picked_badge(item: Orderable) -> rx.Component:
    return rx.badge(
        item.short_name,
        rx.icon(
            "x",
            size=12,
            cursor="pointer",
            on_click=S.unpick(item.id),
            aria_label="Remove " + item.name,
            data_testid="unpick-" + item.code,
        ),
        color_scheme=rx.cond(item.is_panel, "violet", "teal"),
        variant="soft",
        size="2",
        title=item.name,
        data_testid="picked-" + item.code,
    )


def search_box() -> rx.Component:
    return rx.vstack(
        rx.text("Tests and panels", size="2", weight="medium", as_="label", html_for="lab-order-search"),
        rx.input(
            rx.input.slot(rx.icon("search", size=16)),
            rx.input.slot(rx.cond(S.searching, rx.spinner(size="1"))),
            placeholder="Name, short name or LOINC code (e.g. potassium, BMP, 2823-3)",
            value=S.query,
            on_change=S.search,
            debounce_timeout=250,
            max_length=60,
            width="100%",
            id="lab-order-search",
            auto_complete="off",
            data_testid="lab-order-search",
        ),
        rx.cond(
            S.hits.length() > 0,
            rx.vstack(
                rx.foreach(S.hits, hit_row),
                spacing="0",
                width="100%",
                max_height="11rem",
                overflow_y="auto",
                border=f"1px solid {rx.color('gray', 5)}",
                border_radius="var(--radius-3)",
                padding="0.25rem",
                data_testid="lab-order-hits",
            ),
            muted("Nothing orderable matches. Try another name or code."),
        ),
        rx.cond(
            S.picked.length() > 0,
            rx.flex(rx.foreach(S.picked, picked_badge), wrap="wrap", spacing="2", data_testid="lab-picked"),
            muted("No tests chosen yet."),
        ),
        error_at("test_ids"),
        spacing="2",
        width="100%",
        align="start",
    )


def priority_choice() -> rx.Component:
    return rx.vstack(
        rx.text("Priority", size="2", weight="medium"),
        rx.radio_group.root(
            rx.flex(
                rx.radio_group.item("Routine", value="routine"),
                rx.radio_group.item("Urgent", value="urgent"),
                rx.radio_group.item("STAT", value="stat", data_testid="priority-stat"),
                spacing="4",
            ),
            value=S.priority,
            on_change=S.set_priority,
            data_testid="lab-priority",
        ),
        error_at("priority"),
        spacing="1",
        align="start",
        width="100%",
    )


def warning_box() -> rx.Component:
    return rx.cond(
        S.warnings.length() > 0,
        rx.callout.root(
            rx.callout.icon(rx.icon("copy", size=16)),
            rx.vstack(
                rx.text("Already ordered recently", weight="bold", size="2"),
                rx.el.ul(
                    rx.foreach(S.warnings, lambda w: rx.el.li(rx.text(w, size="1"))),
                    style={"padding_left": "1.1rem", "margin": "0"},
                    max_height="7.5rem",
                    overflow_y="auto",
                    width="100%",
                ),
                rx.text(
                    "Order these again only if a repeat is needed; otherwise change the tests.",
                    size="1",
                ),
                spacing="1",
                align="start",
            ),
            color_scheme="amber",
            width="100%",
            data_testid="duplicate-warning",
        ),
    )


def order_dialog() -> rx.Component:
    warned = S.warnings.length() > 0
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Order laboratory tests"),
            rx.dialog.description(
                "For ",
                rx.text.strong(S.name),
                " · ",
                S.mrn,
                size="2",
                color_scheme="gray",
                margin_bottom="1rem",
            ),
            rx.vstack(
                search_box(),
                priority_choice(),
                rx.form(
                    rx.vstack(
                        rx.vstack(
                            rx.text("Clinical question (optional)", size="2", weight="medium", as_="label"),
                            rx.text_area(
                                name="clinical_question",
                                max_length=MAX_QUESTION,
                                rows="2",
                                width="100%",
                                placeholder="e.g. Weakness, on spironolactone: hyperkalaemia?",
                                data_testid="clinical-question",
                            ),
                            error_at("clinical_question"),
                            spacing="1",
                            width="100%",
                        ),
                        rx.text(
                            rx.flex(
                                rx.checkbox(name="fasting", data_testid="fasting"),
                                "The patient is fasting",
                                spacing="2",
                            ),
                            as_="label",
                            size="2",
                        ),
                        rx.el.input(type="hidden", name="confirm", value=rx.cond(warned, "yes", "")),
                        warning_box(),
                        rx.cond(
                            (S.error_text != "") & (S.error_field == ""),
                            rx.callout(
                                S.error_text,
                                icon="triangle-alert",
                                color_scheme="red",
                                size="1",
                                width="100%",
                                data_testid="dialog-error",
                            ),
                        ),
                        rx.flex(
                            rx.dialog.close(
                                rx.button("Cancel", variant="soft", color_scheme="gray", type="button")
                            ),
                            rx.button(
                                rx.cond(warned, "Order anyway", "Order"),
                                type="submit",
                                color_scheme=rx.cond(warned, "amber", "teal"),
                                loading=S.ordering,
                                data_testid=rx.cond(warned, "order-anyway", "place-order"),
                            ),
                            spacing="3",
                            justify="end",
                            width="100%",
                            padding_top="0.5rem",
                        ),
                        spacing="3",
                        width="100%",
                    ),
                    on_submit=S.submit_order,
                    reset_on_submit=False,
                    key=S.order_form_key.to_string(),
                    width="100%",
                ),
                spacing="4",
                width="100%",
            ),
            max_width="40rem",
            data_testid="dialog-lab-order",
        ),
        open=S.order_open,
        on_open_change=S.on_order_dialog_change,
    )


def cancel_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Cancel laboratory order"),
            rx.dialog.description(
                rx.text("Cancels ", rx.text.strong(S.cancel_subject), "; the reason is kept in the record."),
                size="2",
                color_scheme="gray",
                margin_bottom="1rem",
            ),
            rx.form(
                rx.vstack(
                    rx.text("Reason", size="2", weight="medium", as_="label"),
                    rx.input(
                        name="reason",
                        max_length=300,
                        width="100%",
                        placeholder="e.g. Ordered on the wrong patient",
                        data_testid="cancel-reason",
                    ),
                    rx.cond(
                        S.cancel_error != "",
                        icon_text(
                            "circle-alert",
                            S.cancel_error,
                            color=rx.color("red", 11),
                            align="start",
                            data_testid="error-reason",
                        ),
                    ),
                    rx.flex(
                        rx.dialog.close(
                            rx.button("Keep the order", variant="soft", color_scheme="gray", type="button")
                        ),
                        rx.button(
                            "Cancel order",
                            type="submit",
                            color_scheme="red",
                            loading=S.cancelling,
                            data_testid="confirm-cancel",
                        ),
                        spacing="3",
                        justify="end",
                        width="100%",
                        padding_top="0.5rem",
                    ),
                    spacing="2",
                    width="100%",
                ),
                on_submit=S.submit_cancel,
                reset_on_submit=False,
            ),
            max_width="30rem",
            data_testid="dialog-lab-cancel",
        ),
        open=S.cancel_open,
        on_open_change=S.on_cancel_dialog_change,
    )


def lab_dialogs() -> rx.Component:
    return rx.fragment(order_dialog(), cancel_dialog())
