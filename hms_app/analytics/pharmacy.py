"""The order-check override report's table, figure and CSV.

The counts come from SQL (``services.pharmacy.overrides.override_rates``, which authorizes and
audits the read); here they become a small table, the horizontal bars of the most overridden
rules' override rates (noisy rules in red) and the CSV a pharmacist takes to the committee.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import pandas as pd
import plotly.graph_objects as go

from hms_app import csv_safe

TOP_RULES = 15  # bars in the figure; the table lists every rule
BAR_COLOR = "#0d9488"  # the app's teal accent
NOISY_COLOR = "#e5484d"
AXIS_COLOR = "#64748b"
GRID_COLOR = "rgba(100, 116, 139, 0.18)"
RULE_CHARS = 40  # a rule's id beside its bar (the hover shows it whole)
COLUMNS = ["rule", "kind", "shown", "overridden", "override_rate_percent", "noisy"]


class RateRow(Protocol):
    """One rule's counts (``services.pharmacy.rows.OverrideRate``)."""

    rule: str
    kind: str
    shown: int
    overridden: int

    @property
    def rate(self) -> float: ...

    @property
    def noisy(self) -> bool: ...


def override_frame(rows: Sequence[RateRow]) -> pd.DataFrame:
    """One row per rule, in the order given: rule, kind, shown, overridden, the rate in percent
    (one decimal) and whether the rule is noisy."""
    return pd.DataFrame(
        [
            {
                "rule": r.rule,
                "kind": r.kind,
                "shown": int(r.shown),
                "overridden": int(r.overridden),
                "override_rate_percent": round(r.rate * 100, 1),
                "noisy": bool(r.noisy),
            }
            for r in rows
        ],
        columns=COLUMNS,
    )


def override_csv(rows: Sequence[RateRow]) -> str:
    """The report's table as CSV (rule ids are text a spreadsheet must not run)."""
    frame = override_frame(rows)
    frame["noisy"] = ["yes" if noisy else "" for noisy in frame["noisy"]]
    return csv_safe.frame_to_csv(frame)


def _short(text: str, limit: int = RULE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def top_rules(rows: Sequence[RateRow], limit: int = TOP_RULES) -> pd.DataFrame:
    """The first ``limit`` rules in the order given: the report lists the most overridden first, so
    the bars are the rules that interrupt prescribers most, not the rare ones at 100 %."""
    return override_frame(rows).head(limit).reset_index(drop=True)


def override_rate_figure(rows: Sequence[RateRow], limit: int = TOP_RULES) -> go.Figure:
    """Horizontal bars of the override rates of the most overridden rules, in the table's order
    (the most overridden on top); noisy ones in red."""
    frame = top_rules(rows, limit)
    figure = go.Figure(
        go.Bar(
            x=list(frame["override_rate_percent"]),
            y=[_short(rule) for rule in frame["rule"]],
            orientation="h",
            marker_color=[NOISY_COLOR if noisy else BAR_COLOR for noisy in frame["noisy"]],
            customdata=frame[["rule", "overridden", "shown"]].to_numpy(),
            hovertemplate=(
                "%{customdata[0]}: %{x:.1f} %% overridden (%{customdata[1]} of %{customdata[2]})<extra></extra>"
            ),
        )
    )
    figure.update_layout(
        template="none",
        height=max(180, 30 * len(frame) + 70),
        margin={"l": 16, "r": 20, "t": 10, "b": 44},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        font={"color": AXIS_COLOR, "size": 12},
        bargap=0.6 if len(frame) <= 2 else 0.25,
        xaxis={
            "title": "Override rate",
            "gridcolor": GRID_COLOR,
            "range": [0, 100],
            "ticksuffix": " %",
        },
        yaxis={"automargin": True, "autorange": "reversed", "type": "category"},
        showlegend=False,
    )
    return figure
