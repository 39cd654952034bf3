"""The radiology staff's screens, one module per screen; importing this package registers their
routes: the modality work list (/radiology)."""

from hms_app.pages.radiology import worklist

__all__ = ["worklist"]
