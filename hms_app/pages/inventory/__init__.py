"""The inventory screens, one module per screen; importing this package registers their routes."""

from hms_app.pages.inventory import dashboard

__all__ = ["dashboard"]
