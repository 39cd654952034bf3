"""The pharmacist's screens, one module per screen; importing this package registers their routes:
the queue (/pharmacy), a dispense's label (/pharmacy/dispensed/[dispense_id]/label) and the
controlled drug register (/pharmacy/controlled)."""

from hms_app.pages.dispensary import controlled, label, queue

__all__ = ["controlled", "label", "queue"]
