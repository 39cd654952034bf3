"""The laboratory staff's screens, one module per screen; importing this package registers their
routes: the worklist (/lab), specimen reception (/lab/reception), the critical results board
(/lab/critical), the test catalogue (/lab/catalogue) and one test (/lab/catalogue/[test_id])."""

from hms_app.pages.laboratory import catalogue, critical, reception, test_detail, worklist

__all__ = ["catalogue", "critical", "reception", "test_detail", "worklist"]
