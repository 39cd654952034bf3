"""Inventory: stock in every store, its immutable ledger, replenishment, counts and equipment.

One module per concern: ``common`` (who may work which store, quantities), ``ledger`` (receipts
and issues, first expiry first out, the balance guard), ``moves`` (transfers, adjustments,
write-offs, returns), ``balances`` (stock on hand and the ledger proof), ``barcodes`` (GS1 scans
and Code 128 labels), ``equipment`` (the equipment register), ``maintenance`` (plans, work orders
and the due-maintenance job), ``maintenance_board`` (the equipment screens' reads), ``suppliers``,
``purchasing`` (suggested orders and a purchase order's life), ``receiving`` (goods receipt against
an order, with its expense), ``order_views`` (reading orders), ``counts`` and ``count_views`` (stock
counts against a frozen snapshot). Callers import from the modules.
"""
