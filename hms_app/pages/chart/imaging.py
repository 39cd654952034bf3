"""The chart's Imaging tab (the patient's imaging orders with status, booked time, safety flags and
the signed report's impression), the "Order imaging" dialog (examination type-ahead, priority,
clinical question, the safety questions the examination asks, then the scanner's free times) and
the cancel dialog."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, no_access
from hms_app.components.ui import empty_state, skeleton_rows
from hms_app.pages.chart.common import card_title, icon_text, muted
from hms_app.pages.laboratory.common import priority_badge
from hms_app.state.chart.imaging import (
    MAX_IMPLANTS,
    MAX_NOTE,
    MAX_QUESTION,
    ImagingLine,
    ProcedureHit,
    SlotLine,
)
from hms_app.state.chart.imaging import ChartImagingOrderState as O
from hms_app.state.chart.imaging import ChartImagingState as S

CAN_ORDER = can("imaging.order")
STATUS_COLOURS = {
    "requested": "gray",
    "scheduled": "blue",
    "arrived": "amber",
    "in_progress": "violet",
    "images_received": "cyan",
    "preliminary": "teal",
    "final": "green",
    "cancelled": "red",
}


def error_at(name: str) -> rx.Component:
    return rx.cond(
        O.errors.contains(name),
        icon_text(
            "circle-alert",
            O.errors[name],
            color=rx.color("red", 11),
            align="start",
            data_testid="error-" + name,
        ),
    )


# ------------------------------------------------------------------ the tab


def order_line(line: ImagingLine) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.badge(line.modality, variant="surface"),
                rx.text(line.procedure, weight="bold", size="3"),
                priority_badge(line.priority, line.priority_label),
                rx.badge(
                    line.status_label,
                    color_scheme=rx.match(line.status, *STATUS_COLOURS.items(), "gray"),
                    variant="soft",
                    data_testid="imaging-status-" + line.accession,
                ),
                rx.spacer(),
                rx.code(line.accession, variant="ghost", size="2"),
                spacing="2",
                align="center",
                wrap="wrap",
                width="100%",
            ),
            muted(
                "Ordered ",
                line.ordered,
                " by ",
                line.ordered_by,
                rx.cond(line.scheduled != "", " · booked for " + line.scheduled, ""),
            ),  # fmt: skip
            rx.text(rx.text.strong("Question: "), line.question, size="2"),
            rx.cond(
                line.flags.length() > 0,
                rx.flex(
                    rx.foreach(
                        line.flags,
                        lambda flag: rx.badge(
                            rx.icon("triangle-alert", size=12), flag, color_scheme="amber", variant="soft"
                        ),
                    ),
                    spacing="1",
                    wrap="wrap",
                ),
            ),
            rx.cond(
                line.impression != "",
                rx.callout.root(
                    rx.callout.icon(rx.icon("file-text", size=16)),
                    rx.vstack(
                        rx.text(
                            rx.cond(line.report_status == "final", "Final report", "Preliminary report"),
                            weight="bold",
                            size="2",
                        ),
                        rx.text(line.impression, size="2", white_space="pre-wrap"),
                        rx.link(
                            "Full report and images",
                            href="/radiology/orders/" + line.id.to_string() + "/report",
                            size="2",
                            data_testid="full-report-" + line.accession,
                        ),
                        spacing="1",
                        align="start",
                    ),
                    color_scheme=rx.cond(line.report_status == "final", "green", "teal"),
                    width="100%",
                    data_testid="impression-" + line.accession,
                ),
            ),
            rx.cond(line.cancel_reason != "", muted("Cancelled: ", line.cancel_reason)),
            rx.cond(
                CAN_ORDER & (line.bookable | line.cancellable),
                rx.flex(
                    rx.cond(
                        line.bookable,
                        rx.button(
                            rx.icon("calendar-plus", size=14),
                            rx.cond(line.status == "scheduled", "Move booking", "Book a scanner"),
                            size="1",
                            variant="soft",
                            on_click=O.open_booking(line.id),
                            data_testid="book-" + line.accession,
                        ),
                    ),
                    rx.cond(
                        line.cancellable,
                        rx.button(
                            "Cancel order",
                            size="1",
                            variant="ghost",
                            color_scheme="red",
                            on_click=O.ask_cancel(line.id),
                            data_testid="cancel-" + line.accession,
                        ),
                    ),
                    spacing="3",
                    justify="end",
                    align="center",
                    width="100%",
                ),
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
        data_testid="imaging-" + line.accession,
    )


def imaging_tab() -> rx.Component:
    return rx.cond(
        S.imaging_forbidden,
        no_access("Your role does not give access to imaging orders and reports.", width="100%"),
        rx.vstack(
            rx.flex(
                card_title("Imaging", "scan"),
                rx.spacer(),
                rx.cond(
                    CAN_ORDER,
                    rx.button(
                        rx.icon("scan", size=14),
                        "Order imaging",
                        size="2",
                        on_click=O.open_order,
                        data_testid="order-imaging",
                    ),
                ),
                align="center",
                width="100%",
            ),
            rx.cond(
                S.imaging_loading & ~S.imaging_loaded,
                skeleton_rows(3),
                rx.cond(
                    S.imaging.length() > 0,
                    rx.vstack(rx.foreach(S.imaging, order_line), spacing="3", width="100%"),
                    rx.card(
                        empty_state("No imaging has been ordered for this patient.", "scan"), width="100%"
                    ),
                ),
            ),
            spacing="3",
            width="100%",
            data_testid="imaging-tab",
        ),
    )


# ------------------------------------------------------------------ the order dialog


def hit_row(hit: ProcedureHit) -> rx.Component:
    chosen = O.chosen.id == hit.id
    return rx.hstack(
        rx.vstack(
            rx.text(hit.name, size="2", weight="medium"),
            muted(hit.code, " · ", hit.detail),
            spacing="0",
            align="start",
        ),
        rx.spacer(),
        rx.button(
            rx.cond(chosen, rx.icon("check", size=14), rx.icon("plus", size=14)),
            rx.cond(chosen, "Chosen", "Choose"),
            size="1",
            variant=rx.cond(chosen, "solid", "soft"),
            type="button",
            on_click=O.choose(hit.id),
            data_testid="choose-" + hit.code,
        ),
        width="100%",
        align="center",
        padding="0.35rem 0.5rem",
        border_radius="var(--radius-2)",
        background=rx.cond(chosen, rx.color("teal", 3), "transparent"),
        _hover={"background": rx.color("gray", 3)},
    )


def search_box() -> rx.Component:
    return rx.vstack(
        rx.text("Examination", size="2", weight="medium", as_="label", html_for="imaging-order-search"),
        rx.input(
            rx.input.slot(rx.icon("search", size=16)),
            rx.input.slot(rx.cond(O.searching, rx.spinner(size="1"))),
            placeholder="Modality, body part or name (e.g. CT head, MRI knee, chest)",
            value=O.query,
            on_change=O.search,
            debounce_timeout=250,
            max_length=60,
            width="100%",
            id="imaging-order-search",
            auto_complete="off",
            data_testid="imaging-order-search",
        ),
        rx.cond(
            O.hits.length() > 0,
            rx.vstack(
                rx.foreach(O.hits, hit_row),
                spacing="0",
                width="100%",
                max_height="10rem",
                overflow_y="auto",
                border=f"1px solid {rx.color('gray', 5)}",
                border_radius="var(--radius-3)",
                padding="0.25rem",
                data_testid="imaging-hits",
            ),
            muted("No examination matches. Try another name or body part."),
        ),
        rx.cond(O.chosen.preparation != "", muted(rx.text.strong("Preparation: "), O.chosen.preparation)),
        error_at("procedure_id"),
        spacing="2",
        width="100%",
        align="start",
    )


def radio(name: str, items: list[tuple[str, str]], value, on_change, test_id: str) -> rx.Component:
    return rx.radio_group.root(
        rx.flex(*[rx.radio_group.item(label, value=v) for v, label in items], spacing="4", wrap="wrap"),
        value=value,
        on_change=on_change,
        name=name,
        data_testid=test_id,
    )


def safety_questions() -> rx.Component:
    return rx.cond(
        O.chosen.id > 0,
        rx.vstack(
            rx.cond(
                O.ask_pregnancy,
                rx.vstack(
                    rx.text("Could the patient be pregnant?", size="2", weight="medium"),
                    radio(
                        "pregnancy",
                        [("not_pregnant", "Not pregnant"), ("pregnant", "Pregnant"), ("unknown", "Unknown")],
                        O.pregnancy,
                        O.set_pregnancy,
                        "imaging-pregnancy",
                    ),
                    rx.cond(
                        O.ionising & (O.pregnancy != "") & (O.pregnancy != "not_pregnant"),
                        muted("An ionising examination: write a safety note (justification, shielding)."),
                    ),
                    error_at("pregnancy"),
                    spacing="1",
                    width="100%",
                ),
            ),
            rx.cond(
                O.ask_implants,
                rx.vstack(
                    rx.text("Implants or pacemaker (MR safety)", size="2", weight="medium", as_="label"),
                    rx.input(
                        name="implants",
                        max_length=MAX_IMPLANTS,
                        width="100%",
                        placeholder="none, or describe: e.g. knee prosthesis 2018, pacemaker …",
                        data_testid="imaging-implants",
                    ),
                    muted("A pacemaker or defibrillator needs a safety note saying it is MR-conditional."),
                    error_at("implants"),
                    spacing="1",
                    width="100%",
                ),
            ),
            rx.cond(
                O.ask_contrast,
                rx.vstack(
                    rx.text("Allergic to contrast?", size="2", weight="medium"),
                    rx.cond(
                        O.chart_allergies.length() > 0,
                        rx.callout(
                            "The chart records: " + O.chart_allergies.join(", "),
                            icon="triangle-alert",
                            color_scheme="red",
                            size="1",
                            width="100%",
                            data_testid="chart-contrast-allergy",
                        ),
                    ),
                    radio(
                        "contrast_allergy",
                        [("no", "No"), ("yes", "Yes")],
                        O.contrast_allergy,
                        O.set_contrast_allergy,
                        "imaging-contrast-allergy",
                    ),
                    error_at("contrast_allergy"),
                    rx.match(
                        O.egfr_level,
                        (
                            "stop",
                            rx.callout(
                                "Latest eGFR " + O.egfr_text + ": below 30, contrast needs a safety note.",
                                icon="octagon-alert",
                                color_scheme="red",
                                size="1",
                                width="100%",
                                data_testid="egfr",
                            ),
                        ),
                        (
                            "warn",
                            rx.callout(
                                "Latest eGFR " + O.egfr_text + ": 30–45, consider hydration and dose.",
                                icon="triangle-alert",
                                color_scheme="amber",
                                size="1",
                                width="100%",
                                data_testid="egfr",
                            ),
                        ),
                        ("ok", muted("Latest eGFR " + O.egfr_text)),
                        (
                            "none",
                            rx.callout(
                                "No eGFR on record: check the renal function before contrast.",
                                icon="info",
                                color_scheme="amber",
                                size="1",
                                width="100%",
                                data_testid="egfr",
                            ),
                        ),
                        rx.fragment(),
                    ),  # fmt: skip
                    spacing="1",
                    width="100%",
                ),
            ),
            spacing="3",
            width="100%",
            data_testid="imaging-safety",
        ),
    )


def order_step() -> rx.Component:
    return rx.vstack(
        search_box(),
        rx.vstack(
            rx.text("Priority", size="2", weight="medium"),
            radio(
                "priority",
                [("routine", "Routine"), ("urgent", "Urgent"), ("stat", "STAT")],
                O.priority,
                O.set_priority,
                "imaging-priority",
            ),
            error_at("priority"),
            spacing="1",
            width="100%",
        ),
        rx.form(
            rx.vstack(
                rx.vstack(
                    rx.text("Clinical question", size="2", weight="medium", as_="label"),
                    rx.text_area(
                        name="clinical_question",
                        max_length=MAX_QUESTION,
                        rows="2",
                        width="100%",
                        placeholder="e.g. Fall on warfarin, GCS 14: intracranial bleed?",
                        data_testid="imaging-question",
                    ),
                    error_at("clinical_question"),
                    spacing="1",
                    width="100%",
                ),
                safety_questions(),
                rx.cond(
                    O.chosen.id > 0,
                    rx.vstack(
                        rx.text(
                            "Safety note (when an answer needs one)", size="2", weight="medium", as_="label"
                        ),
                        rx.input(
                            name="safety_note",
                            max_length=MAX_NOTE,
                            width="100%",
                            data_testid="imaging-safety-note",
                        ),
                        error_at("safety_note"),
                        spacing="1",
                        width="100%",
                    ),
                ),
                rx.cond(
                    O.errors.contains(""),
                    rx.callout(
                        O.errors[""], icon="triangle-alert", color_scheme="red", size="1", width="100%"
                    ),
                ),
                rx.flex(
                    rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
                    rx.button(
                        "Order",
                        type="submit",
                        loading=O.busy,
                        disabled=O.chosen.id == 0,
                        data_testid="place-imaging-order",
                    ),
                    spacing="3",
                    justify="end",
                    width="100%",
                    padding_top="0.5rem",
                ),
                spacing="3",
                width="100%",
            ),
            on_submit=O.submit_order,
            reset_on_submit=False,
            key=O.form_key.to_string(),
            width="100%",
        ),
        spacing="4",
        width="100%",
    )


def slot_button(slot: SlotLine) -> rx.Component:
    return rx.button(
        rx.vstack(
            rx.text(slot.label, size="2", weight="medium"),
            rx.text(slot.scanner, size="1"),
            spacing="0",
            align="start",
        ),
        variant="surface",
        height="auto",
        padding="0.4rem 0.6rem",
        disabled=O.busy,
        on_click=O.book(slot.key),
        data_testid="slot",
    )


def book_step() -> rx.Component:
    return rx.vstack(
        rx.text("Choose a free time on the scanner for ", rx.text.strong(O.book_subject), ".", size="2"),
        rx.cond(
            O.slots_loading,
            skeleton_rows(3),
            rx.cond(
                O.slots.length() > 0,
                rx.grid(rx.foreach(O.slots, slot_button), columns=rx.breakpoints(initial="2", sm="3"), spacing="2", width="100%", max_height="18rem", overflow_y="auto", data_testid="imaging-slots"),
                muted("No free time in the next 7 days. Book later, or ask the radiology desk."),
            ),
        ),
        error_at("start_at"),
        rx.cond(O.errors.contains(""), rx.callout(O.errors[""], icon="triangle-alert", color_scheme="red", size="1", width="100%")),
        rx.flex(
            rx.dialog.close(rx.button("Book later", variant="soft", color_scheme="gray", type="button", data_testid="book-later")),
            justify="end",
            width="100%",
        ),
        spacing="3",
        width="100%",
    )  # fmt: skip


def order_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.cond(O.step == "book", "Book a scanner", "Order imaging")),
            rx.dialog.description(
                "For ",
                rx.text.strong(O.name),
                " · ",
                O.mrn,
                size="2",
                color_scheme="gray",
                margin_bottom="1rem",
            ),
            rx.cond(O.step == "book", book_step(), order_step()),
            max_width="42rem",
            data_testid="dialog-imaging-order",
        ),
        open=O.order_open,
        on_open_change=O.on_order_dialog_change,
    )


def cancel_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Cancel imaging order"),
            rx.dialog.description(
                rx.text("Cancels ", rx.text.strong(O.cancel_subject), "; its scanner time is freed."),
                size="2",
                color_scheme="gray",
                margin_bottom="1rem",
            ),
            rx.form(
                rx.vstack(
                    rx.text("Reason", size="2", weight="medium", as_="label"),
                    rx.input(name="reason", max_length=300, width="100%", data_testid="imaging-cancel-reason"),
                    error_at("reason"),
                    rx.cond(O.errors.contains(""), rx.callout(O.errors[""], icon="triangle-alert", color_scheme="red", size="1")),
                    rx.flex(
                        rx.dialog.close(rx.button("Keep the order", variant="soft", color_scheme="gray", type="button")),
                        rx.button("Cancel order", type="submit", color_scheme="red", loading=O.busy, data_testid="imaging-confirm-cancel"),
                        spacing="3",
                        justify="end",
                        width="100%",
                        padding_top="0.5rem",
                    ),
                    spacing="2",
                    width="100%",
                ),
                on_submit=O.submit_cancel,
                reset_on_submit=False,
            ),
            max_width="30rem",
            data_testid="dialog-imaging-cancel",
        ),
        open=O.cancel_open,
        on_open_change=O.on_cancel_dialog_change,
    )  # fmt: skip


def imaging_dialogs() -> rx.Component:
    return rx.fragment(order_dialog(), cancel_dialog())
