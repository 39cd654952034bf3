"""The inventory screens, one module per screen; importing this package registers their routes:
purchasing (suggested orders and the order list), one purchase order, the suppliers, the stock
counts and one count sheet."""

from hms_app.pages.inventory import count_sheet, counts, order_detail, orders, suppliers

__all__ = ["count_sheet", "counts", "order_detail", "orders", "suppliers"]
