"""The inventory screens, one module per screen; importing this package registers their routes:
stock on hand, receiving, issuing, the catalogue and labels, the live low-stock board, purchasing
(suggested orders and the order list), one purchase order, the suppliers, the stock counts and one
count sheet, and the managers' dashboard (/analytics/inventory)."""

from hms_app.pages.inventory import (
    board,
    catalogue,
    count_sheet,
    counts,
    dashboard,
    issue,
    label,
    order_detail,
    orders,
    receive,
    stock,
    suppliers,
)

__all__ = [
    "board",
    "catalogue",
    "count_sheet",
    "counts",
    "dashboard",
    "issue",
    "label",
    "order_detail",
    "orders",
    "receive",
    "stock",
    "suppliers",
]
