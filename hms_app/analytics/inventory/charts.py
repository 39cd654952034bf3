"""The inventory dashboard's Plotly figures, drawn from the figures' small tables.

Bars and cells are drawn in the order of their table (or of ``consumption_series``), so that the
page can read which row a click landed on from the point's index alone."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from hms_app.analytics.finance.figures import AMBER, MONEY_AXIS, SLATE, TEAL, _layout
from hms_app.analytics.inventory.common import TOP_SLOW, WINDOW_LABELS, WINDOWS, money
from hms_app.plurals import counted

RED, GREY = "#dc2626", "#94a3b8"
# Departments in the consumption chart: neighbours in a stack must not look alike.
DEPARTMENT_COLORS = (
    "#0d9488", "#2563eb", "#d97706", "#db2777", "#7c3aed", "#16a34a", "#dc2626", "#475569", "#a16207", "#0ea5e9",
)  # fmt: skip
NAME_CHARS = 34  # an item's name beside a bar (the hover shows it whole, with its code)


def _short(text: str, limit: int = NAME_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _name(label: str) -> str:
    """An item's name without the code that ``item_label`` puts after it in brackets."""
    return label.rsplit(" (", 1)[0] if label.endswith(")") else label


def _rows_height(count: int) -> int:
    return max(220, 60 + 30 * count)


def _horizontal_layout(figure: go.Figure, count: int, **extra) -> go.Figure:
    extra.setdefault("bargap", 0.6 if count <= 2 else 0.2)  # one store's bar is not a slab
    return _layout(
        figure,
        height=_rows_height(count),
        margin={"l": 16, "r": 16, "t": 16, "b": 40},
        yaxis={"autorange": "reversed", "automargin": True, "type": "category"},
        legend={"orientation": "h", "y": -0.18, "traceorder": "normal"},
        **extra,
    )


def stock_value_figure(frame: pd.DataFrame) -> go.Figure:
    """Each store's stock value, and beside it the expired stock written down to nothing."""
    stores = list(frame["store"])
    figure = go.Figure(
        [
            go.Bar(
                name="Value",
                y=stores,
                x=[int(v) / 100 for v in frame["value_cents"]],
                orientation="h",
                marker_color=TEAL,
                text=[
                    f"{money(v)} · {counted(int(i), 'item')}"
                    for v, i in zip(frame["value_cents"], frame["items"], strict=True)
                ],
                textposition="none",
                hovertemplate="%{y}: %{text}<extra></extra>",
            ),
            go.Bar(
                name="Expired, written down",
                y=stores,
                x=[int(v) / 100 for v in frame["written_down_cents"]],
                orientation="h",
                marker_color=GREY,
                marker_pattern_shape="/",
                text=[money(v) for v in frame["written_down_cents"]],
                textposition="none",
                hovertemplate="%{y}: %{text} expired (valued at nothing)<extra></extra>",
            ),
        ]
    )
    return _horizontal_layout(figure, len(stores), barmode="stack", xaxis=MONEY_AXIS)


def consumption_series(frame: pd.DataFrame, months: list[str]) -> list[tuple[str, str, list[int]]]:
    """One series per department (key, name, cents per month), the largest consumer first."""
    totals: dict[str, int] = {}
    names: dict[str, str] = {}
    cells: dict[tuple[str, str], int] = {}
    for month, key, name, value in zip(
        frame["month"], frame["key"], frame["department"], frame["value_cents"], strict=True
    ):
        totals[key] = totals.get(key, 0) + int(value)
        names[key] = name
        cells[(key, month)] = cells.get((key, month), 0) + int(value)
    keys = sorted(totals, key=lambda k: (-totals[k], names[k], k))
    return [(key, names[key], [cells.get((key, m), 0) for m in months]) for key in keys]


def consumption_figure(frame: pd.DataFrame, months: list[str]) -> go.Figure:
    figure = go.Figure(
        [
            go.Bar(
                name=name,
                x=months,
                y=[v / 100 for v in values],
                text=[money(v) for v in values],
                textposition="none",
                marker_color=DEPARTMENT_COLORS[index % len(DEPARTMENT_COLORS)],
                hovertemplate=f"{name} %{{x}}: %{{text}}<extra></extra>",
            )
            for index, (_key, name, values) in enumerate(consumption_series(frame, months))
        ]
    )
    return _layout(
        figure,
        barmode="stack",
        height=360,
        xaxis={"type": "category", "categoryorder": "array", "categoryarray": months},
        yaxis=MONEY_AXIS,
        legend={"orientation": "h", "y": -0.22, "traceorder": "normal"},
        showlegend=True,  # one department is still named
    )


def expiring_grid(frame: pd.DataFrame) -> tuple[list[str], list[str], list[list[int]], list[list[str]]]:
    """The heatmap's stores (rows, in table order), windows (columns), cents and hover texts."""
    stores: list[str] = []
    keys: list[str] = []
    for key, store in zip(frame["key"], frame["store"], strict=True):
        if key not in keys:
            keys.append(key)
            stores.append(store)
    values = {
        (k, w): (int(v), int(n))
        for k, w, v, n in zip(frame["key"], frame["window"], frame["value_cents"], frame["lots"], strict=True)
    }
    cents = [[values.get((k, w), (0, 0))[0] for w in WINDOWS] for k in keys]
    texts = [[_cell_text(*values.get((k, w), (0, 0))) for w in WINDOWS] for k in keys]
    return keys, stores, cents, texts


def _cell_text(cents: int, lots: int) -> str:
    return f"{money(cents)} · {counted(lots, 'lot')}" if lots else "–"


def expiring_figure(frame: pd.DataFrame) -> go.Figure:
    _keys, stores, cents, texts = expiring_grid(frame)
    labels = [WINDOW_LABELS[w] for w in WINDOWS]
    figure = go.Figure(
        go.Heatmap(
            # Colour by the square root of the value: one costly lot would otherwise leave every
            # other cell the same pale shade. The cell's text and hover give the exact amount.
            z=[[(v / 100) ** 0.5 for v in row] for row in cents],
            x=labels,
            y=stores,
            text=texts,
            texttemplate="%{text}",
            textfont={"size": 11},
            hovertemplate="%{y}, %{x}: %{text}<extra></extra>",
            colorscale=[[0, "#f8fafc"], [0.15, "#fde68a"], [0.5, "#f59e0b"], [1, "#b91c1c"]],
            showscale=False,
            xgap=3,
            ygap=3,
        )
    )
    return _layout(
        figure,
        height=max(240, 70 + 44 * len(stores)),
        margin={"l": 16, "r": 16, "t": 16, "b": 40},
        yaxis={"autorange": "reversed", "automargin": True, "type": "category"},
        xaxis={"side": "top", "type": "category"},
    )


def stock_outs_figure(frame: pd.DataFrame) -> go.Figure:
    stores = list(frame["store"])
    figure = go.Figure(
        [
            go.Bar(
                name="Out of stock",
                y=stores,
                x=[int(v) for v in frame["out"]],
                orientation="h",
                marker_color=RED,
                customdata=[int(n) for n in frame["stocked"]],
                hovertemplate="%{y}: %{x} out of %{customdata} stocked items<extra></extra>",
            ),
            go.Bar(
                name="At or below reorder point",
                y=stores,
                x=[int(v) for v in frame["low"]],
                orientation="h",
                marker_color=AMBER,
                customdata=[int(n) for n in frame["stocked"]],
                hovertemplate="%{y}: %{x} low of %{customdata} stocked items<extra></extra>",
            ),
        ]
    )
    return _horizontal_layout(
        figure,
        len(stores),
        barmode="stack",
        xaxis={
            "title": "items",
            "rangemode": "tozero",
            "dtick": 1 if frame["out"].add(frame["low"]).max() <= 12 else None,
        },
    )


def slow_movers_figure(frame: pd.DataFrame) -> go.Figure:
    """The TOP_SLOW idle stocks worth most (the table beside it lists them all)."""
    shown = frame.head(TOP_SLOW)
    labels = [f"{_short(_name(i))} · {s}" for i, s in zip(shown["item"], shown["store"], strict=True)]
    hover = [
        f"{item} at {store}: {money(v)}, {int(q):,} {u}; last issued {last or 'never'}"
        for item, store, v, q, u, last in zip(
            shown["item"],
            shown["store"],
            shown["value_cents"],
            shown["quantity"],
            shown["unit"],
            shown["last_issue"],
            strict=True,
        )
    ]
    figure = go.Figure(
        go.Bar(
            y=labels,
            x=[int(v) / 100 for v in shown["value_cents"]],
            orientation="h",
            marker_color=SLATE,
            text=hover,
            textposition="none",
            hovertemplate="%{text}<extra></extra>",
        )
    )
    return _horizontal_layout(figure, len(labels), xaxis=MONEY_AXIS)


def lead_times_figure(frame: pd.DataFrame) -> go.Figure:
    """Promised against actual days per supplier; an average more than a day past the promise is
    drawn red. Every trace lists every supplier (None where it has no bar), so a click's point
    number is the supplier's row whichever trace it hit."""
    suppliers = list(frame["supplier"])
    promised = [int(v) for v in frame["promised_days"]]
    actual = [None if v is None or pd.isna(v) else round(float(v), 1) for v in frame["actual_days"]]
    late = [a is not None and a > p + 1 for a, p in zip(actual, promised, strict=True)]
    notes = [
        f"{counted(int(r), 'order')} delivered, {int(n)} late; {int(w)} waiting, {int(o)} overdue"
        for r, n, w, o in zip(
            frame["received"], frame["late"], frame["waiting"], frame["overdue"], strict=True
        )
    ]

    def took(name: str, color: str, keep: bool) -> go.Bar:
        return go.Bar(
            name=name,
            y=suppliers,
            x=[a if is_late == keep else None for a, is_late in zip(actual, late, strict=True)],
            orientation="h",
            marker_color=color,
            offsetgroup="actual",
            text=notes,
            textposition="none",
            hovertemplate="%{y}: %{x} days on average (%{text})<extra></extra>",
        )

    figure = go.Figure(
        [
            go.Bar(
                name="Promised",
                y=suppliers,
                x=promised,
                orientation="h",
                marker_color=GREY,
                offsetgroup="promised",
                hovertemplate="%{y}: promises %{x} days<extra></extra>",
            ),
            took("Took on average", TEAL, False),
            took("Took more than a day longer", RED, True),
        ]
    )
    return _horizontal_layout(
        figure, len(suppliers), barmode="group", bargap=0.25, xaxis={"title": "days", "rangemode": "tozero"}
    )
