"""The equipment screens, one module per screen; importing this package registers their routes:
the register (/equipment), one item (/equipment/<id>) and the maintenance board
(/equipment/board). Drawing only."""

from hms_app.pages.equipment import board, item, register

__all__ = ["board", "item", "register"]
