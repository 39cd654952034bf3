"""The item page's maintenance dialogs: a plan (new or edit), opening a work order, completing
one (findings, downtime, parts from stock) and cancelling one."""

from __future__ import annotations

import reflex as rx

from hms_app.pages.equipment.common import choice, dialog, field_message, labelled, text_area, text_input
from hms_app.state.equipment.item import PART_LINES, EquipmentItemState

S = EquipmentItemState


def plan_dialog() -> rx.Component:
    p = S.plan_form
    editing = p.id > 0
    return dialog(
        S,
        "plan",
        rx.cond(editing, "Edit maintenance plan", "Plan maintenance"),
        rx.text(
            rx.text.strong(S.dialog_subject),
            rx.cond(
                editing,
                ". Changes are audited with your reason.",
                ". A work order opens a week before it is due.",
            ),
        ),
        rx.cond(
            editing,
            rx.fragment(),
            labelled(S, "Kind", "kind", choice("kind", S.plan_kinds, p.kind)),
        ),
        labelled(
            S,
            "What is done",
            "description",
            text_input(
                "description",
                p.description,
                200,
                required=True,
                placeholder="e.g. Annual electrical safety test",
            ),
        ),
        rx.grid(
            labelled(
                S,
                "Every (days)",
                "interval_days",
                text_input(
                    "interval_days", p.interval_days, 4, required=True, inputmode="numeric", placeholder="365"
                ),
            ),
            labelled(
                S,
                "Next due",
                "next_due",
                text_input("next_due", p.next_due, 10, type="date"),
                hint=rx.cond(editing, "", "Empty: one interval from today."),
            ),
            columns="2",
            spacing="3",
            width="100%",
        ),
        rx.cond(
            editing,
            rx.vstack(
                rx.checkbox(
                    "Plan is active", name="active", default_checked=p.active, data_testid="field-active"
                ),
                labelled(
                    S,
                    "Reason for the change",
                    "reason",
                    text_area("reason", "e.g. Manufacturer changed the interval", required=True),
                ),
                spacing="3",
                width="100%",
            ),
        ),
        button="Save plan",
        on_submit=S.save_plan,
    )


def open_order_dialog() -> rx.Component:
    return dialog(
        S,
        "open_order",
        "Open a work order",
        rx.text(rx.text.strong(S.dialog_subject), ". A planned job or a repair."),
        labelled(
            S,
            "For",
            "plan_id",
            rx.select.root(
                rx.select.trigger(width="100%", data_testid="field-plan_id"),
                rx.select.content(
                    rx.select.item("A repair (corrective)", value="none"),
                    rx.foreach(S.plan_choices, lambda o: rx.select.item(o.label, value=o.value)),
                ),
                name="plan_id",
                value=S.chosen_plan,
                on_change=S.choose_plan,
            ),
        ),
        labelled(
            S,
            rx.cond(S.chosen_plan == "none", "Problem", "Work to do (optional)"),
            "problem",
            text_area("problem", "e.g. Occlusion alarm sounds with no occlusion"),
        ),
        rx.checkbox(
            "Take it out of use while the work is open (under maintenance; not bookable)",
            name="take_out_of_service",
            default_checked=S.take_out_default,
            data_testid="field-take_out_of_service",
        ),
        button="Open work order",
        on_submit=S.save_work_order,
    )


def _part_line(n: int) -> rx.Component:
    return rx.grid(
        rx.select.root(
            rx.select.trigger(placeholder=f"Part {n}", width="100%", data_testid=f"field-part_{n}"),
            rx.select.content(
                rx.select.item("No part", value="none"),
                rx.foreach(S.part_options, lambda o: rx.select.item(o.label, value=o.value)),
            ),
            name=f"part_{n}",
        ),
        rx.input(
            name=f"quantity_{n}",
            placeholder="Qty",
            max_length=6,
            inputmode="numeric",
            data_testid=f"field-quantity_{n}",
        ),
        columns="minmax(0, 1fr) 5rem",
        spacing="2",
        width="100%",
    )


def complete_dialog() -> rx.Component:
    return dialog(
        S,
        "complete",
        "Complete the work order",
        rx.text(rx.text.strong(S.dialog_subject)),
        labelled(
            S,
            "Findings and work done",
            "findings",
            text_area(
                "findings",
                "e.g. Pressure sensor recalibrated; passed self-test",
                max_length=1000,
                required=True,
                rows="4",
            ),
        ),
        labelled(
            S,
            "Downtime",
            "downtime",
            text_input("downtime", S.suggested_downtime, 20, required=True),
            hint="How long it could not be used: 90, 1:30 or 1h 30m.",
        ),
        rx.vstack(
            rx.text("Parts used", size="2", weight="medium"),
            rx.cond(
                S.part_options.length() > 0,
                rx.vstack(*[_part_line(n) for n in range(1, PART_LINES + 1)], spacing="2", width="100%"),
                rx.text("No stock at a store you may issue from.", size="1", color_scheme="gray"),
            ),
            rx.text("Issued from that store's stock when you complete.", size="1", color_scheme="gray"),
            field_message(S.field_errors, "parts"),
            spacing="1",
            width="100%",
        ),
        rx.checkbox(
            "Put it back in service",
            name="return_to_service",
            default_checked=True,
            data_testid="field-return_to_service",
        ),
        button="Complete",
        on_submit=S.save_complete,
        color="grass",
        max_width="36rem",
    )


def cancel_dialog() -> rx.Component:
    return dialog(
        S,
        "cancel",
        "Cancel the work order",
        rx.text(
            rx.text.strong(S.dialog_subject),
            ". A planned job is skipped: the plan comes due one interval later.",
        ),
        labelled(S, "Reason", "reason", text_area("reason", "e.g. Opened twice by mistake", required=True)),
        button="Cancel work order",
        on_submit=S.save_cancel,
        color="red",
    )
