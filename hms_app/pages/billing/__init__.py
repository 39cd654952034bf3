"""Billing screens, one module per screen: the desk, a patient's account, invoices (with a print
view), receipts, the claims worklist, expenses, and the catalogue with payer price lists.
Importing the package registers their routes."""

from hms_app.pages.billing import (  # noqa: F401
    account,
    catalogue,
    claims,
    desk,
    expenses,
    invoice,
    print_views,
)
