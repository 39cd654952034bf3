"""Every figure of the inventory dashboard for one choice of filters, and the totals above them."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlmodel import Session

from hms_app.analytics.inventory.common import InventoryFilters
from hms_app.analytics.inventory.flows import consumption_by_department, supplier_lead_times
from hms_app.analytics.inventory.stock import expiring_by_store, slow_movers, stock_outs, stock_value_by_store


@dataclass
class Dashboard:
    """Every figure's small frame for one choice of filters."""

    filters: InventoryFilters
    stock_value: pd.DataFrame
    consumption: pd.DataFrame
    expiring: pd.DataFrame
    outs: pd.DataFrame
    slow: pd.DataFrame
    lead_times: pd.DataFrame

    @property
    def kpis(self) -> dict[str, int]:
        """The totals; each is the sum of a figure's bars or cells, so they reconcile by construction."""
        soon = self.expiring[self.expiring["window"] != "expired"]
        expired = self.expiring[self.expiring["window"] == "expired"]
        return {
            "stock_value_cents": int(self.stock_value["value_cents"].sum()),
            "written_down_cents": int(self.stock_value["written_down_cents"].sum()),
            "consumption_cents": int(self.consumption["value_cents"].sum()),
            "expiring_90_cents": int(soon["value_cents"].sum()),
            "expired_lots": int(expired["lots"].sum()),
            "out": int(self.outs["out"].sum()),
            "low": int(self.outs["low"].sum()),
            "slow_cents": int(self.slow.attrs.get("idle_value_cents", 0)),
            "slow_rows": int(self.slow.attrs.get("idle_rows", 0)),
        }


def load_dashboard(session: Session, *, filters: InventoryFilters) -> Dashboard:
    return Dashboard(
        filters=filters,
        stock_value=stock_value_by_store(session, filters=filters),
        consumption=consumption_by_department(session, filters=filters),
        expiring=expiring_by_store(session, filters=filters),
        outs=stock_outs(session, filters=filters),
        slow=slow_movers(session, filters=filters),
        lead_times=supplier_lead_times(session, filters=filters),
    )
