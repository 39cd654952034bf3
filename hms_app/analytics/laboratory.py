"""Laboratory turnaround: the median minutes of each stage of an order's path, computed in SQL.

Definitions (shown on the operations page): for the orders placed in the period and not
cancelled, with the specimen the order was finally done on (a re-collected one after a
rejection), each stage is counted for the orders that reached its end:

* **Order to collection**: order placed -> specimen collected;
* **Collection to receipt**: collected -> scanned in the laboratory;
* **Receipt to result**: received -> first result (entered or from an analyser);
* **Result to verification**: first result -> first verification (release);
* **Order to verification**: the whole path.

The median is the middle value (the mean of the two middle ones for an even count), picked in
SQL by sorting the stage's minutes and reading one or two rows at the middle offset, so that no
table is loaded into Python on either database. Permission is checked by the service that calls
this (``services.laboratory.views.turnaround``).
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import extract, func, select
from sqlmodel import Session

from hms_app.models.laboratory import LabOrder, LabResult, Specimen

STAGES = (
    ("Order to collection", "ordered_at", "collected_at"),
    ("Collection to receipt", "collected_at", "received_at"),
    ("Receipt to result", "received_at", "resulted_at"),
    ("Result to verification", "resulted_at", "verified_at"),
    ("Order to verification", "ordered_at", "verified_at"),
)


def _minutes(dialect: str, later, earlier):
    if dialect == "postgresql":
        return extract("epoch", later - earlier) / 60.0
    return func.round((func.julianday(later) - func.julianday(earlier)) * 86400.0, 3) / 60.0


def _moments(since: datetime, until: datetime):
    """One row per order placed in [since, until): the moment it reached each stage."""
    first = (
        select(
            LabResult.order_id.label("order_id"),
            func.min(LabResult.resulted_at).label("resulted_at"),
            func.min(LabResult.verified_at).label("verified_at"),
        )
        .group_by(LabResult.order_id)
        .subquery()
    )
    return (
        select(
            LabOrder.ordered_at.label("ordered_at"),
            Specimen.collected_at.label("collected_at"),
            Specimen.received_at.label("received_at"),
            first.c.resulted_at,
            first.c.verified_at,
        )
        .select_from(LabOrder)
        .outerjoin(Specimen, Specimen.id == LabOrder.specimen_id)
        .outerjoin(first, first.c.order_id == LabOrder.id)
        .where(LabOrder.ordered_at >= since, LabOrder.ordered_at < until, LabOrder.status != "cancelled")
        .subquery()
    )


def turnaround_frame(session: Session, *, since: datetime, until: datetime) -> pd.DataFrame:
    """Columns: stage, median_minutes (None when no order reached it), count."""
    return stage_medians(session, _moments(since, until), STAGES)


def stage_medians(session: Session, moments, stages) -> pd.DataFrame:
    """For a subquery of one row per order with a moment per column, and (label, start column, end
    column) stages: per stage the median minutes between the two moments over the orders that
    reached both, and how many did. Shared by every department's turnaround (laboratory, imaging)."""
    dialect = session.get_bind().dialect.name
    rows = []
    for label, start, end in stages:
        begin, finish = moments.c[start], moments.c[end]
        minutes = _minutes(dialect, finish, begin).label("minutes")
        reached = (begin.is_not(None), finish.is_not(None))
        count = int(session.execute(select(func.count()).select_from(moments).where(*reached)).scalar_one())
        median = None
        if count:
            middle = [
                float(value)
                for value in session.execute(
                    select(minutes)
                    .where(*reached)
                    .order_by(minutes)
                    .offset((count - 1) // 2)
                    .limit(2 - count % 2)
                ).scalars()
            ]
            median = round(sum(middle) / len(middle), 1)
        rows.append({"stage": label, "median_minutes": median, "count": count})
    return pd.DataFrame(rows, columns=["stage", "median_minutes", "count"])


def turnaround_rows(frame: pd.DataFrame) -> list[list[str]]:
    """[stage, median as shown ("32 min", "—" when no order reached it), orders counted] per stage."""
    return [
        [
            row.stage,
            "—" if pd.isna(row.median_minutes) else f"{row.median_minutes:.0f} min",
            str(int(row.count)),
        ]
        for row in frame.itertuples()
    ]
