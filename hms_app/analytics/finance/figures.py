"""The finance dashboard's Plotly figures, drawn from the figures' small tables."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from hms_app.analytics.finance.common import TOP_SERVICES, _dollars, money
from hms_app.plurals import counted

# Colours: the app's teal for money in, slate for charges, amber for costs, one per bucket.
TEAL, SLATE, AMBER = "#0d9488", "#64748b", "#d97706"
BUCKET_COLORS = ("#0d9488", "#ca8a04", "#ea580c", "#dc2626")
PALETTE = ("#0d9488", "#2563eb", "#7c3aed", "#db2777", "#ea580c", "#ca8a04", "#16a34a", "#0891b2", "#64748b")


LAYOUT = {
    "margin": {"l": 60, "r": 16, "t": 16, "b": 48},
    "height": 320,
    "paper_bgcolor": "rgba(0,0,0,0)",
    "plot_bgcolor": "rgba(0,0,0,0)",
    "hoverlabel": {"namelength": -1},
    "legend": {"orientation": "h", "y": -0.2},
    "clickmode": "event",
}

MONEY_AXIS = {"tickprefix": "$", "tickformat": ",.0f"}


def _layout(figure: go.Figure, **extra) -> go.Figure:
    figure.update_layout(**{**LAYOUT, **extra})
    return figure


def revenue_by_month_figure(frame: pd.DataFrame) -> go.Figure:
    figure = go.Figure(
        go.Bar(
            x=list(frame["month"]),
            y=_dollars(frame["revenue_cents"]),
            text=[money(v) for v in frame["revenue_cents"]],
            textposition="none",
            marker_color=TEAL,
            hovertemplate="%{x}: %{text}<extra></extra>",
            name="Revenue",
        )
    )
    return _layout(figure, xaxis={"type": "category"}, yaxis=MONEY_AXIS)


def _horizontal(
    frame: pd.DataFrame, label: str, value: str, color: str, limit: int | None = None
) -> go.Figure:
    shown = frame if limit is None else frame.head(limit)
    labels, values = list(shown[label]), list(shown[value])
    height = max(220, 40 + 28 * len(labels))
    figure = go.Figure(
        go.Bar(
            y=labels,
            x=[int(v) / 100 for v in values],
            orientation="h",
            text=[money(v) for v in values],
            textposition="none",
            marker_color=color,
            hovertemplate="%{y}: %{text}<extra></extra>",
        )
    )
    return _layout(
        figure,
        height=height,
        margin={"l": 16, "r": 16, "t": 16, "b": 40},
        yaxis={"autorange": "reversed", "automargin": True, "type": "category"},
        xaxis=MONEY_AXIS,
    )


def revenue_by_department_figure(frame: pd.DataFrame) -> go.Figure:
    return _horizontal(frame, "department", "revenue_cents", TEAL)


def revenue_by_service_figure(frame: pd.DataFrame) -> go.Figure:
    """The TOP_SERVICES largest services (the table beside it lists them all)."""
    return _horizontal(frame, "service", "revenue_cents", "#2563eb", limit=TOP_SERVICES)


def payer_mix_figure(frame: pd.DataFrame) -> go.Figure:
    figure = go.Figure(
        go.Pie(
            labels=list(frame["payer"]),
            values=_dollars(frame["revenue_cents"]),
            text=[money(v) for v in frame["revenue_cents"]],
            sort=False,  # slice i is row i: a click's point number finds its payer
            hole=0.45,
            marker={"colors": [PALETTE[i % len(PALETTE)] for i in range(len(frame))]},
            textinfo="percent",
            hovertemplate="%{label}: %{text} (%{percent})<extra></extra>",
        )
    )
    return _layout(figure, legend={"orientation": "v"}, margin={"l": 16, "r": 16, "t": 16, "b": 16})


def _month_bar(frame: pd.DataFrame, column: str, name: str, color: str) -> go.Bar:
    """One series of a grouped month chart: dollars to plot, the exact amount to read on hover."""
    return go.Bar(
        name=name,
        x=list(frame["month"]),
        y=_dollars(frame[column]),
        text=[money(v) for v in frame[column]],
        textposition="none",
        marker_color=color,
        hovertemplate=f"{name} %{{x}}: %{{text}}<extra></extra>",
    )


def charges_vs_collections_figure(frame: pd.DataFrame) -> go.Figure:
    figure = go.Figure(
        [
            _month_bar(frame, "charges_cents", "Charges", SLATE),
            _month_bar(frame, "collections_cents", "Collections", TEAL),
        ]
    )
    return _layout(figure, barmode="group", xaxis={"type": "category"}, yaxis=MONEY_AXIS)


def ar_aging_figure(frame: pd.DataFrame) -> go.Figure:
    figure = go.Figure(
        go.Bar(
            x=list(frame["label"]),
            y=_dollars(frame["balance_cents"]),
            text=[
                f"{money(v)} · {counted(int(n), 'invoice')}"
                for v, n in zip(frame["balance_cents"], frame["invoices"], strict=True)
            ],
            textposition="none",
            marker_color=list(BUCKET_COLORS),
            hovertemplate="%{x}: %{text}<extra></extra>",
        )
    )
    return _layout(figure, xaxis={"type": "category"}, yaxis=MONEY_AXIS)


def expenses_vs_revenue_figure(frame: pd.DataFrame) -> go.Figure:
    figure = go.Figure(
        [
            _month_bar(frame, "revenue_cents", "Revenue", TEAL),
            _month_bar(frame, "expenses_cents", "Expenses", AMBER),
            go.Scatter(
                name="Margin",
                x=list(frame["month"]),
                y=_dollars(frame["margin_cents"]),
                text=[money(v) for v in frame["margin_cents"]],
                mode="lines+markers",
                line={"color": "#7c3aed", "width": 2},
                hovertemplate="Margin %{x}: %{text}<extra></extra>",
            ),
        ]
    )
    return _layout(figure, barmode="group", xaxis={"type": "category"}, yaxis=MONEY_AXIS)


def expenses_by_category_figure(frame: pd.DataFrame) -> go.Figure:
    return _horizontal(frame, "category", "expenses_cents", AMBER)
