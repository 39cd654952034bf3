"""What the laboratory screens share: the links between them, the badges of flags and priorities,
and the table frame."""

from __future__ import annotations

import reflex as rx

from hms_app.components.access import can
from hms_app.components.ui import scroll_box

WIDE_CELL = ["none", "none", "none", "table-cell"]
TABLET_CELL = ["none", "none", "table-cell"]
LAB_LINKS = (
    ("Worklist", "/lab", "flask-conical", "lab.read"),
    ("Reception", "/lab/reception", "scan-barcode", "lab.work"),
    ("Critical results", "/lab/critical", "siren", "lab.read"),
    ("Catalogue", "/lab/catalogue", "test-tubes", None),
)


def lab_tabs(active: str) -> rx.Component:
    """The links between the laboratory screens, ``active`` (this screen's route) highlighted."""

    def shown(permission: str | None):
        if permission is None:  # the catalogue: for lab.read or lab.catalogue
            return can("lab.read") | can("lab.catalogue")
        return can(permission)

    return rx.flex(
        *[
            rx.cond(
                shown(permission),
                rx.link(
                    rx.button(
                        rx.icon(icon, size=16),
                        label,
                        variant="solid" if route == active else "soft",
                        size="2",
                    ),
                    href=route,
                    data_testid="lab-tab-" + (route.removeprefix("/lab").strip("/") or "worklist"),
                ),
            )
            for label, route, icon, permission in LAB_LINKS
        ],
        spacing="2",
        wrap="wrap",
        width="100%",
    )


def flag_badge(flag, label, size: str = "2") -> rx.Component:
    """LL/HH solid red, L/H/A amber; nothing for a normal result."""
    critical = rx.badge(
        rx.icon("triangle-alert", size=12),
        flag,
        color_scheme="red",
        variant="solid",
        size=size,
        title=label,
        data_testid="flag-" + flag.to(str),
    )
    abnormal = rx.badge(
        flag, color_scheme="amber", variant="soft", size=size, title=label, data_testid="flag-" + flag.to(str)
    )
    return rx.match(
        flag,
        ("LL", critical),
        ("HH", critical),
        ("L", abnormal),
        ("H", abnormal),
        ("A", abnormal),
        rx.fragment(),
    )


def priority_badge(priority, label) -> rx.Component:
    return rx.match(
        priority,
        (
            "stat",
            rx.badge(rx.icon("zap", size=12), label, color_scheme="red", variant="solid", data_testid="stat"),
        ),
        ("urgent", rx.badge(label, color_scheme="orange", variant="soft")),
        rx.badge(label, color_scheme="gray", variant="soft"),
    )


def table(header: list[str], body: rx.Component, test_id: str, wide: tuple[int, ...] = ()) -> rx.Component:
    return scroll_box(
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *[
                        rx.table.column_header_cell(
                            h, display=WIDE_CELL if i in wide else None, white_space="nowrap"
                        )
                        for i, h in enumerate(header)
                    ]
                )
            ),
            rx.table.body(body),
            variant="surface",
            size="2",
            width="100%",
        ),
        data_testid=test_id,
    )


def patient_cell(name, mrn) -> rx.Component:
    return rx.vstack(
        rx.text(name, size="2", weight="medium", white_space="nowrap"),
        rx.text(mrn, size="1", color_scheme="gray"),
        spacing="0",
    )


def error_line(message, test_id: str = "") -> rx.Component:
    return rx.flex(
        rx.icon("circle-alert", size=12, flex_shrink="0", margin_top="0.2em"),
        rx.text(message, size="1"),
        spacing="1",
        color=rx.color("red", 11),
        data_testid=test_id or "row-error",
    )


def field_message(errors, name: str) -> rx.Component:
    """The message of field ``name`` from a dict var of field messages."""
    return rx.cond(errors.contains(name), error_line(errors[name], "error-" + name))


def labelled(label, control: rx.Component, *below: rx.Component, hint: str = "") -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", weight="medium"),
        control,
        rx.text(hint, size="1", color_scheme="gray") if hint else rx.fragment(),
        *below,
        spacing="1",
        width="100%",
        align="start",
    )
