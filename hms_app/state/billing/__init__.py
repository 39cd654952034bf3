"""The billing screens' states, one module per screen: the desk (/billing: accounts to bill,
invoice list), a patient's account (/billing/accounts/[patient_id]), an invoice and its print view
(/billing/invoices/[invoice_id]), the payment and refund dialogs, receipts, the claims worklist,
expenses and the catalogue with payer price lists.

The names below are the ones the portal's bills state shares with the billing desk.
"""

from hms_app.state.billing.common import _text, money, new_key

__all__ = ["_text", "money", "new_key"]
