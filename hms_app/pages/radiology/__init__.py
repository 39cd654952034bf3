"""The radiology staff's screens, one module per screen; importing this package registers their
routes: the modality work list (/radiology) and the unmatched images (/radiology/unmatched)."""

from hms_app.pages.radiology import unmatched, worklist

__all__ = ["unmatched", "worklist"]
