"""The inventory screens, one module per screen; importing this package registers their routes."""

from hms_app.pages.inventory import board, catalogue, issue, label, receive, stock

__all__ = ["board", "catalogue", "issue", "label", "receive", "stock"]
