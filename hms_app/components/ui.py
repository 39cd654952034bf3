"""Small shared pieces: stat cards, empty states, pagers, section cards."""

from __future__ import annotations

import reflex as rx


def stat_card(
    label, value, hint="", icon: str | rx.Component = "activity", test_id: str = ""
) -> rx.Component:
    return rx.card(
        rx.hstack(
            rx.vstack(
                rx.text(label, size="2", color_scheme="gray"),
                rx.heading(value, size="7", data_testid=test_id),
                rx.text(hint, size="1", color_scheme="gray"),
                spacing="1",
                align="start",
            ),
            rx.spacer(),
            rx.icon(icon, size=28, color=rx.color("accent", 9)) if isinstance(icon, str) else icon,
            width="100%",
            align="start",
        ),
        width="100%",
    )


def empty_state(message: str, icon: str = "inbox") -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.icon(icon, size=32, color=rx.color("gray", 8)),
            rx.text(message, color_scheme="gray", size="2"),
            align="center",
            spacing="2",
        ),
        padding="2.5rem",
        width="100%",
    )


def section(title: str, *children, **props) -> rx.Component:
    return rx.card(
        rx.vstack(rx.heading(title, size="4"), *children, spacing="3", width="100%"), width="100%", **props
    )


def _test_id(test_id: str) -> dict:
    return {"data_testid": test_id} if test_id else {}


def count_text(count, singular: str, plural: str | None = None, shown=None):
    """A count and its noun on a page ("1 patient", "2 patients"); ``shown`` writes the number
    another way (a capped search: "1000+") while ``count`` still chooses the noun's form."""
    number = count.to_string() if shown is None else shown
    return number + rx.cond(count == 1, f" {singular}", f" {plural or singular + 's'}")


def pager(
    page,
    page_count,
    total,
    on_prev,
    on_next,
    noun: str = "rows",
    count_test_id: str = "",
    next_test_id: str = "",
    total_label=None,
) -> rx.Component:
    """Previous / "Page 2 of 5" / Next under a list, with the count of rows ("1 encounter").

    ``total_label`` shows the count in other words where the number alone would mislead (a
    search that stops counting at a cap: "1000+"); ``total`` still chooses the noun's form."""
    return rx.hstack(
        # "1 encounter", "2 encounters": the plural noun loses its final s for exactly one.
        rx.text(
            count_text(total, noun.removesuffix("s"), noun, shown=total_label),
            size="2",
            color_scheme="gray",
            **_test_id(count_test_id),
        ),
        rx.spacer(),
        rx.button(
            rx.icon("chevron-left", size=16),
            "Previous",
            variant="soft",
            size="1",
            disabled=page <= 1,
            on_click=on_prev,
        ),
        rx.text("Page ", page.to_string(), " of ", page_count.to_string(), size="2", white_space="nowrap"),
        rx.button(
            "Next",
            rx.icon("chevron-right", size=16),
            variant="soft",
            size="1",
            disabled=page >= page_count,
            on_click=on_next,
            **_test_id(next_test_id),
        ),
        width="100%",
        align="center",
        spacing="3",
    )


def field(label: str, control: rx.Component, hint: str = "") -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", weight="medium"),
        control,
        rx.cond(hint != "", rx.text(hint, size="1", color_scheme="gray")),
        spacing="1",
        width="100%",
        align="start",
    )


def scroll_box(table: rx.Component, **props) -> rx.Component:
    """Hold a table that may be wider than the screen.

    Zero width with a full minimum: the table (Radix wraps it in a scroll area) scrolls
    sideways inside the page instead of widening the whole page past a tablet's screen.
    """
    return rx.box(table, width="0", min_width="100%", **props)


def skeleton_rows(count: int = 6) -> rx.Component:
    """Grey bars where a table's rows will appear once loaded."""
    return rx.vstack(
        *[rx.skeleton(rx.box(height="2.25rem", width="100%")) for _ in range(count)],
        width="100%",
        spacing="2",
    )


def upload_rejected(too_large: str, wrong_kind: str):
    """``on_drop_rejected`` for ``rx.upload``: one plain sentence, shown in the browser at once,
    instead of react-dropzone's "File is larger than 20971520 bytes" (the server refuses such a
    body too, but only after the user waited for it to be sent)."""

    def show(rejected: rx.Var) -> rx.event.EventSpec:
        first = rejected.to(list)[0].to(dict)["errors"].to(list)[0].to(dict)["code"]
        # No toast id: Sonner updates a toast of the same id with an empty title when the text
        # is computed in the browser, so each refusal gets a toast of its own.
        return rx.toast.error(rx.cond(first == "file-too-large", too_large, wrong_kind))

    return show
