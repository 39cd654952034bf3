"""The pharmacist's screens, one module per screen; importing this package registers their routes:
the queue (/pharmacy), a dispense's label (/pharmacy/dispensed/[dispense_id]/label), the
controlled drug register (/pharmacy/controlled) and the order-check override report
(/pharmacy/overrides)."""

from hms_app.pages.dispensary import controlled, label, overrides, queue

__all__ = ["controlled", "label", "overrides", "queue"]
