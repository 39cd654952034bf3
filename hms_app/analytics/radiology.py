"""Imaging turnaround: the median minutes of each stage of an imaging order's path, computed in SQL
with the laboratory's median (``analytics.laboratory.stage_medians``).

Definitions (shown on the operations page): for the imaging orders placed in the period and not
cancelled, each stage is counted for the orders that reached its end:

* **Order to images**: order placed -> the first images received from the modality;
* **Images to first report**: images received -> the first signature (preliminary, or final when
  there was no preliminary);
* **Images to final report**: images received -> signed final;
* **Order to final report**: the whole path.

Permission is checked by the service that calls this (``services.operations``).
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import func, select
from sqlmodel import Session

from hms_app.analytics.laboratory import stage_medians
from hms_app.models.radiology import ImagingOrder, ImagingReport, ImagingStudy

STAGES = (
    ("Order to images", "ordered_at", "images_at"),
    ("Images to first report", "images_at", "first_report_at"),
    ("Images to final report", "images_at", "final_at"),
    ("Order to final report", "ordered_at", "final_at"),
)


def _moments(since: datetime, until: datetime):
    images = (
        select(ImagingStudy.order_id.label("order_id"), func.min(ImagingStudy.received_at).label("images_at"))
        .where(ImagingStudy.order_id.is_not(None))
        .group_by(ImagingStudy.order_id)
        .subquery()
    )
    return (
        select(
            ImagingOrder.ordered_at.label("ordered_at"),
            images.c.images_at,
            func.coalesce(ImagingReport.preliminary_at, ImagingReport.final_at).label("first_report_at"),
            ImagingReport.final_at.label("final_at"),
        )
        .select_from(ImagingOrder)
        .outerjoin(images, images.c.order_id == ImagingOrder.id)
        .outerjoin(ImagingReport, ImagingReport.order_id == ImagingOrder.id)
        .where(
            ImagingOrder.ordered_at >= since,
            ImagingOrder.ordered_at < until,
            ImagingOrder.status != "cancelled",
        )
        .subquery()
    )


def imaging_turnaround_frame(session: Session, *, since: datetime, until: datetime) -> pd.DataFrame:
    """Columns: stage, median_minutes (None when no order reached it), count."""
    return stage_medians(session, _moments(since, until), STAGES)
