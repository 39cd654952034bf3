"""/pharmacy/dispensed/[dispense_id]/label: a dispense's label, outside the shell, printed at the
size of a dispensing label (70 × 36 mm): patient, drug, directions, quantity, date, lots with their
expiry and the order's reference."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can, no_access
from hms_app.state.dispensary.label import DispenseLabelState as S
from hms_app.state.session import SessionState

HIDE_IN_PRINT = {"@media print": {"display": "none"}}
INK = "#000000"
PRINT_CSS = """
@page { size: 70mm 36mm; margin: 0; }
@media print {
  html, body { margin: 0; padding: 0; background: white; }
  [data-testid=dispense-label] { border: none !important; width: 70mm !important; padding: 2mm !important; }
}
"""


def line(value, size: str = "1", weight: str = "regular", test_id: str = "") -> rx.Component:
    return rx.text(
        value, size=size, weight=weight, color=INK, **({"data_testid": test_id} if test_id else {})
    )


def label_box() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            line(S.patient, "2", "bold", "label-patient"),
            rx.spacer(),
            line(S.mrn),
            width="100%",
        ),
        line(S.product, "2", "bold", "label-product"),
        line(S.sig, "2", test_id="label-sig"),
        rx.cond(S.instructions != "", line(S.instructions)),
        rx.hstack(
            line("Qty " + S.quantity, "1", "bold", "label-quantity"),
            rx.cond(S.owed != "", line("(" + S.owed + ")")),
            rx.spacer(),
            line(S.dispensed),
            width="100%",
        ),
        rx.foreach(S.lots, lambda lot: line(lot)),
        rx.hstack(
            line(S.reference + " · " + S.order_reference, test_id="label-reference"),
            rx.spacer(),
            rx.cond(S.controlled, line("CD", "1", "bold")),
            width="100%",
        ),
        spacing="0",
        width="105mm",
        padding="3mm",
        border="1px dashed #999999",
        data_testid="dispense-label",
    )


def problem() -> rx.Component:
    return rx.box(
        rx.callout(
            rx.vstack(rx.text(S.problem), rx.link("Go to the pharmacy queue", href="/pharmacy"), spacing="1"),
            icon="circle-alert",
            color_scheme="red",
            data_testid="page-problem",
        ),
        padding="1.5rem",
        max_width="40rem",
    )


def sheet() -> rx.Component:
    return rx.vstack(
        rx.flex(
            rx.link(
                rx.button(rx.icon("arrow-left", size=16), "Pharmacy", variant="soft", color_scheme="gray"),
                href="/pharmacy?view=today",
            ),
            rx.button(
                rx.icon("printer", size=16),
                "Print",
                on_click=rx.call_script("window.print()"),
                data_testid="print",
            ),
            spacing="3",
            style=HIDE_IN_PRINT,
        ),
        rx.text(
            "Dispensed by "
            + S.dispensed_by
            + rx.cond(S.witness != "", ", witnessed by " + S.witness, "")
            + " · "
            + S.store,
            size="1",
            color="#555555",
            style=HIDE_IN_PRINT,
        ),
        label_box(),
        spacing="3",
        padding="1.5rem",
        style={"@media print": {"padding": "0"}},
    )


@rx.page(
    route="/pharmacy/dispensed/[dispense_id]/label",
    title="Dispensing label · HMS",
    on_load=[SessionState.refresh_identity, S.load],
)
def dispense_label_page() -> rx.Component:
    return rx.box(
        rx.cond(
            S.problem != "",
            problem(),
            rx.cond(
                S.loaded,
                sheet(),
                rx.cond(
                    (SessionState.user_name != "") & ~can("pharmacy.dispense"),
                    rx.box(
                        no_access("Your role does not print dispensing labels."),
                        padding="1.5rem",
                        max_width="40rem",
                    ),
                    rx.center(rx.spinner(size="3"), padding="4rem"),
                ),
            ),
        ),
        rx.el.style(PRINT_CSS),
        background="white",
        color=INK,
        min_height="100vh",
        class_name="light",
        data_testid="dispense-label-page",
    )
